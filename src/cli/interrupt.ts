/**
 * SIGINT and SIGTERM while a command holds the state lock.
 *
 * Node's default for both is to die on the spot, which skips every `finally`: the lock stays
 * behind (STALE, needing force-unlock) and the host in flight is recorded nowhere. So while a
 * command holds the lock it handles them itself, by phase:
 *
 * - `read` (locking, loading state, refreshing, planning, asking for approval): nothing has been
 *   changed on any host, so the first signal releases the lock and exits at once.
 * - `apply` (host transactions running): the first signal stops new hosts from starting
 *   (`signal` aborts; applyPlan checks it before each host) and lets each host in flight end
 *   as one transaction does, committed or not, which apply reads back to know. Journal and state
 *   are written for what each host really holds, the lock is released, and the command exits
 *   130 (SIGINT) or 143 (SIGTERM) with what was and was not applied. A second signal exits at
 *   once, still releasing the lock; the journal then shows the hosts begun and not verified,
 *   which the next plan reads back and reports (MSEG8213).
 *
 * Handlers are installed only around the locked section and removed after it, so a process that
 * embeds the CLI (tests run `main` in process) keeps its own handling the rest of the time.
 */
import { releaseHeldLocksSync } from '../state';
import type { Io } from './io';

export type InterruptSignal = 'SIGINT' | 'SIGTERM';

/** exitCodeOf is the shell's convention for a process ended by a signal: 128 + its number. */
export function exitCodeOf(sig: InterruptSignal): number {
  return sig === 'SIGINT' ? 130 : 143;
}

/** Interrupts is the state of one locked section: which signal came, and which phase it is in. */
export class Interrupts {
  private readonly controller = new AbortController();
  private phaseNow: 'read' | 'apply' = 'read';
  /** The first signal received, if any. */
  received?: InterruptSignal;
  /** What to say the command was doing, for the messages. */
  constructor(
    private readonly io: Io,
    private readonly command: string,
    /** How to exit at once; a seam for unit tests (default process.exit). */
    private readonly exit: (code: number) => void = (code) => process.exit(code),
  ) {}

  /** signal aborts at the first signal received in the `apply` phase. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** exitCode is 130/143 once a signal came, else undefined. */
  get exitCode(): number | undefined {
    return this.received ? exitCodeOf(this.received) : undefined;
  }

  /** phase says whether hosts are being changed now (`apply`) or only read (`read`). */
  phase(p: 'read' | 'apply'): void {
    this.phaseNow = p;
  }

  /** handle is the signal handler. */
  handle(sig: InterruptSignal): void {
    if (this.received === undefined && this.phaseNow === 'apply') {
      this.received = sig;
      this.io.err(
        `\nmicroseg ${this.command}: received ${sig}. Finishing the host(s) in flight and starting no new ones; ` +
          'state and journal will say exactly what was applied. Send it again to exit at once (the state lock is released either way).\n',
      );
      this.controller.abort();
      return;
    }
    const first = this.received === undefined;
    this.received ??= sig;
    const released = releaseHeldLocksSync();
    const lockNote = released.length > 0 ? ' The state lock was released.' : '';
    this.io.err(
      first
        ? `\nmicroseg ${this.command}: received ${sig} before any host was changed; nothing was applied.${lockNote}\n`
        : `\nmicroseg ${this.command}: received ${sig} again; exiting now.${lockNote} A host in flight may not be recorded: ` +
            'the journal (.microseg/journal.jsonl) lists hosts begun and not verified, and the next plan reads them back and shows what remains.\n',
    );
    this.exit(exitCodeOf(sig));
  }
}

/**
 * withInterrupts runs `fn` with SIGINT and SIGTERM handled as the module comment says, and
 * removes the handlers afterwards. A command that applied returns `it.exitCode ?? code`.
 */
export async function withInterrupts<T>(io: Io, command: string, fn: (it: Interrupts) => Promise<T>): Promise<T> {
  const it = new Interrupts(io, command);
  const onInt = () => it.handle('SIGINT');
  const onTerm = () => it.handle('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  try {
    return await fn(it);
  } finally {
    process.removeListener('SIGINT', onInt);
    process.removeListener('SIGTERM', onTerm);
  }
}
