/**
 * LocalStateStore is the default state backend: files under `DIR/.microseg/`.
 *
 *   state.json          the state (atomic temp + fsync + rename + dir fsync)
 *   state.json.backup   the previous state (a hard link to the file each save replaces)
 *   state.lock          the lock (O_EXCL), holding LockInfo
 *   journal.jsonl       the apply journal (append + fsync; rotated to journal.jsonl.1 past 4 MiB)
 */
import { promises as fsp, type BigIntStats } from 'fs';
import * as path from 'path';
import { DiagnosticsError, makeDiagnostic } from '../diagnostics';
import { PACKAGE_VERSION } from '../version';
import { StateCodes } from './codes';
import { atomicWriteFile, sweepTempFiles, type AtomicWriteOptions } from './fsutil';
import { appendJournal, readJournalFile, rotateJournal } from './journal';
import { acquireLock, forceUnlock, isProcessAlive, releaseLock } from './lock';
import { parseStateText, stateFileText } from './schema';
import { STATE_VERSION, type JournalEntry, type LockInfo, type LockOptions, type StateFile, type StateStore } from './types';

/** STATE_DIR is the directory, relative to the project directory, that holds microseg's state. */
export const STATE_DIR = '.microseg';

/** LocalStateStoreOptions: test seams only. */
export interface LocalStateStoreOptions {
  /** Passed to atomicWriteFile on save; lets tests simulate a crash between write and rename. */
  beforeRename?: AtomicWriteOptions['beforeRename'];
  /** The journal size past which taking the lock rotates it (default JOURNAL_MAX_BYTES). */
  journalMaxBytes?: number;
  /** The state directory (backend "local" { path = ... }), default `DIR/.microseg`. */
  stateDir?: string;
}

/** LocalStateStore keeps state, lock and journal in `DIR/.microseg/`. */
export class LocalStateStore implements StateStore {
  readonly stateDir: string;
  readonly statePath: string;
  readonly backupPath: string;
  readonly lockPath: string;
  readonly journalPath: string;
  /** Tail of the in-process save queue: two saves never interleave their check and write. */
  private saving: Promise<unknown> = Promise.resolve();
  /**
   * The state file as this store last read or wrote it: its identity (inode, size, change and
   * modification times in ns) and the lineage and serial it held. A save whose target still has
   * that identity checks lineage and serial against these instead of parsing and validating the
   * whole file again (~3–5 ms at 10,000 rules, twice per apply). Any other writer replaces the file
   * by rename (a new inode) or edits it in place (new times), and then the file is read again.
   */
  private seen?: { identity: string; lineage: string; serial: number };

  constructor(
    readonly dir: string,
    private readonly opts: LocalStateStoreOptions = {},
  ) {
    this.stateDir = opts.stateDir ?? path.join(dir, STATE_DIR);
    this.statePath = path.join(this.stateDir, 'state.json');
    this.backupPath = `${this.statePath}.backup`;
    this.lockPath = path.join(this.stateDir, 'state.lock');
    this.journalPath = path.join(this.stateDir, 'journal.jsonl');
  }

  get description(): string {
    return this.statePath;
  }

  async load(): Promise<StateFile | undefined> {
    let text: string;
    let identity: string | undefined;
    try {
      const fh = await fsp.open(this.statePath, 'r');
      try {
        identity = identityOf(await fh.stat({ bigint: true }));
        text = await fh.readFile('utf8');
      } finally {
        await fh.close();
      }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw ioError(`read ${this.statePath}`, e);
    }
    const state = parseStateText(text, this.statePath);
    this.seen = { identity, lineage: state.lineage, serial: state.serial };
    return state;
  }

  /** stored is the lineage and serial of the state file now: from `seen` when it is unchanged, else read. */
  private async stored(): Promise<{ lineage: string; serial: number } | undefined> {
    let identity: string;
    try {
      identity = identityOf(await fsp.stat(this.statePath, { bigint: true }));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw ioError(`read ${this.statePath}`, e);
    }
    if (this.seen && this.seen.identity === identity) return this.seen;
    return this.load();
  }

  /**
   * save writes `state` with serial + 1. It refuses a state of another lineage (MSEG8004) or one
   * whose serial is not the stored one (MSEG8005): either would silently discard what another run
   * recorded about hosts it changed. Concurrent saves in one process are queued, so of two saves
   * derived from the same serial exactly one wins and the other is refused, never lost.
   */
  save(state: StateFile): Promise<StateFile> {
    const run = this.saving.then(
      () => this.saveNow(state),
      () => this.saveNow(state),
    );
    this.saving = run.catch(() => undefined);
    return run;
  }

  private async saveNow(state: StateFile): Promise<StateFile> {
    await this.ensureDir();
    const current = await this.stored();
    if (current) {
      if (current.lineage !== state.lineage) {
        throw new DiagnosticsError(
          [
            makeDiagnostic(
              'error',
              StateCodes.lineageMismatch,
              `Refusing to overwrite state of another lineage`,
              `${this.statePath} has lineage ${current.lineage}; the state being saved has lineage ${state.lineage}. ` +
                'They are different states (another project, or a state re-created from scratch).',
            ),
          ],
          'tool',
        );
      }
      if (current.serial !== state.serial) {
        throw new DiagnosticsError(
          [
            makeDiagnostic(
              'error',
              StateCodes.serialConflict,
              `State changed since it was loaded`,
              `${this.statePath} is at serial ${current.serial}, but this run loaded serial ${state.serial}. ` +
                'Another run wrote it in between (was the lock bypassed?). Nothing was written; plan again.',
            ),
          ],
          'tool',
        );
      }
    }
    const next: StateFile = {
      ...state,
      version: STATE_VERSION,
      serial: state.serial + 1,
      microseg_version: PACKAGE_VERSION,
      resources: [...state.resources].sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0)),
    };
    try {
      // Dead writers' temp files are swept while this one writes (the sweep skips this process's).
      const done = await Promise.allSettled([
        atomicWriteFile(this.statePath, stateFileText(next), {
          backupPath: this.backupPath,
          beforeRename: this.opts.beforeRename,
        }),
        sweepTempFiles(this.statePath, isProcessAlive),
        sweepTempFiles(this.backupPath, isProcessAlive),
      ]);
      // Only the write decides the outcome: once the new state is in place, a sweep that failed
      // leaves a dead writer's temp file, which readers ignore and the next save sweeps again.
      if (done[0].status === 'rejected') throw done[0].reason;
      this.seen = { identity: identityOf(await fsp.stat(this.statePath, { bigint: true })), lineage: next.lineage, serial: next.serial };
    } catch (e) {
      this.seen = undefined;
      throw ioError(`write ${this.statePath}`, e);
    }
    return next;
  }

  /** acquireLock takes the lock, then (as its holder, while nobody appends) rotates a journal grown too large. */
  async acquireLock(opts: LockOptions): Promise<LockInfo> {
    const lock = await this.inDir(() => acquireLock(this.lockPath, opts));
    try {
      await rotateJournal(this.journalPath, this.opts.journalMaxBytes);
    } catch (e) {
      await releaseLock(this.lockPath, lock).catch(() => undefined);
      throw ioError(`rotate ${this.journalPath}`, e);
    }
    return lock;
  }

  async unlock(lock: LockInfo): Promise<void> {
    await releaseLock(this.lockPath, lock);
  }

  async forceUnlock(id: string): Promise<void> {
    await forceUnlock(this.lockPath, id);
  }

  async journal(entry: JournalEntry): Promise<void> {
    try {
      await this.inDir(() => appendJournal(this.journalPath, entry));
    } catch (e) {
      throw new DiagnosticsError(
        [
          makeDiagnostic(
            'error',
            StateCodes.journal,
            `Cannot write the apply journal ${this.journalPath}`,
            `${(e as Error).message}. No host is touched without a journal entry first.`,
          ),
        ],
        'tool',
      );
    }
  }

  async readJournal(): Promise<JournalEntry[]> {
    return readJournalFile(this.journalPath);
  }

  /** replace writes `state` as it is (serial kept), keeping the previous file as the backup. */
  async replace(state: StateFile): Promise<void> {
    await this.ensureDir();
    try {
      await atomicWriteFile(this.statePath, stateFileText(state), { backupPath: this.backupPath });
      this.seen = { identity: identityOf(await fsp.stat(this.statePath, { bigint: true })), lineage: state.lineage, serial: state.serial };
    } catch (e) {
      this.seen = undefined;
      throw ioError(`write ${this.statePath}`, e);
    }
  }

  async close(): Promise<void> {
    /* files only: nothing held open between calls */
  }

  private async ensureDir(): Promise<void> {
    await fsp.mkdir(this.stateDir, { recursive: true, mode: 0o700 });
  }

  /**
   * inDir runs `fn`, which creates a file in the state directory, creating the directory first
   * only when `fn` finds it missing: the lock and the journal are on the way of every apply, and
   * the directory nearly always exists.
   */
  private async inDir<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      await this.ensureDir();
      return fn();
    }
  }
}

function ioError(what: string, e: unknown): DiagnosticsError {
  if (DiagnosticsError.isInstance(e)) return e;
  return new DiagnosticsError(
    [makeDiagnostic('error', StateCodes.io, `Cannot ${what}`, (e as Error)?.message ?? String(e))],
    'tool',
  );
}

function identityOf(st: BigIntStats): string {
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
}
