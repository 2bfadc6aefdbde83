/**
 * runProcess is the one place microseg starts a process on the machine it runs on. Transports
 * (LocalHost, NetnsHost) build an argv and call it; nothing goes through a shell, so a value from
 * configuration can never be interpolated into a command line.
 */
import { spawn } from 'child_process';
import { constants as osConstants } from 'os';
import type { CommandResult } from './types';

/** DEFAULT_TIMEOUT_MS bounds every command: a wedged `nft` or `iptables-restore` (xtables lock) must not hang a plan. */
export const DEFAULT_TIMEOUT_MS = 30_000;

const BRAND = Symbol.for('microseg.HostCommandError');

/**
 * HostCommandError is thrown when a command did not run to an exit status: it timed out (and was
 * killed) or could not be started for a reason other than "not found". A command that runs and
 * exits non-zero is not an error at this layer: callers inspect `code` and decide.
 */
export class HostCommandError extends Error {
  readonly [BRAND] = true;
  constructor(
    readonly kind: 'timeout' | 'spawn',
    readonly argv: readonly string[],
    message: string,
    readonly partial?: CommandResult,
  ) {
    super(message);
    this.name = 'HostCommandError';
  }

  static isInstance(e: unknown): e is HostCommandError {
    return typeof e === 'object' && e !== null && (e as Record<symbol, unknown>)[BRAND] === true;
  }
}

/** RunOptions are the per-command options every transport supports. */
export interface RunOptions {
  stdin?: string;
  timeoutMs?: number;
}

/**
 * ProcessOptions are runProcess's: RunOptions whose stdin may still be coming. With a promise the
 * process starts at once but reads nothing until it resolves; if it rejects, the process gets an
 * empty stdin (a shell reading its script there runs nothing) and runProcess rejects with that
 * reason once the process has ended. This lets a transport start (spawn, `ip netns exec`, an ssh
 * handshake) while the caller makes something durable that must precede the commands themselves.
 */
export interface ProcessOptions {
  stdin?: string | Promise<string>;
  timeoutMs?: number;
}

/** scriptInput is a script as runProcess stdin, held back until `after` resolves (ScriptOptions.after). */
export function scriptInput(script: string, after?: Promise<unknown>): string | Promise<string> {
  return after ? after.then(() => script) : script;
}

/**
 * runProcess spawns argv[0] with argv[1..], feeds `stdin` (or closes stdin at once), and resolves
 * with the exit status and full output. A missing executable resolves with code 127 like a shell
 * would, so capability probes can treat "no such tool" as data; a timeout kills the process group
 * leader with SIGKILL and rejects, because the command's effect is then unknown.
 */
export function runProcess(argv: readonly string[], opts: ProcessOptions = {}): Promise<CommandResult> {
  if (argv.length === 0) return Promise.reject(new HostCommandError('spawn', argv, 'empty argv'));
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), {
      stdio: ['pipe', 'pipe', 'pipe'],
      // LC_ALL=C: tools' messages (and nft's number formatting) must not depend on the caller's locale.
      env: { ...process.env, LC_ALL: 'C' },
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let settled = false;
    let held: { reason: unknown } | undefined;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    const result = (code: number): CommandResult => ({
      code,
      stdout: Buffer.concat(out).toString('utf8'),
      stderr: Buffer.concat(err).toString('utf8'),
    });
    child.on('error', (e: NodeJS.ErrnoException) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (e.code === 'ENOENT') resolve({ code: 127, stdout: '', stderr: `${argv[0]}: command not found` });
      else reject(new HostCommandError('spawn', argv, `cannot run ${argv[0]}: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (held) {
        reject(held.reason);
        return;
      }
      if (timedOut) {
        reject(new HostCommandError('timeout', argv, `${argv.join(' ')} timed out after ${timeoutMs} ms`, result(-1)));
        return;
      }
      resolve(result(code ?? (signal ? 128 + signalNumber(signal) : -1)));
    });
    // A child that exits before reading stdin makes the write fail with EPIPE; the exit status
    // already tells the story, so the stream error is swallowed.
    child.stdin.on('error', () => undefined);
    const input = opts.stdin;
    if (typeof input === 'object') {
      input.then(
        (text) => child.stdin.end(text),
        (reason: unknown) => {
          held = { reason };
          child.stdin.end('');
        },
      );
    } else child.stdin.end(input ?? '');
  });
}

function signalNumber(signal: NodeJS.Signals): number {
  return osConstants.signals[signal] ?? 0;
}
