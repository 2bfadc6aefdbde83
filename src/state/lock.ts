/**
 * The state lock: one file created with O_EXCL, holding who took it. Creation with O_EXCL is
 * atomic on local filesystems, so two runs can never both believe they hold it.
 *
 * A lock whose holder process is gone is reported as STALE and never taken over silently: the
 * holder may have died mid-apply, and a person should look at the journal before running again
 * (Terraform never steals locks either; `force-unlock ID` is the deliberate way out).
 */
import { promises as fsp, readFileSync, rmSync } from 'fs';
import * as path from 'path';
import * as os from 'os';
import { randomUUID } from 'crypto';
import { DiagnosticsError, makeDiagnostic } from '../diagnostics';
import { StateCodes } from './codes';
import type { LockInfo, LockOptions } from './types';

/**
 * isProcessAlive says whether `pid` exists on this machine. A zombie (killed, not yet reaped by
 * its parent) counts as dead: it will never release anything.
 */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    // EPERM: it exists but belongs to another user.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 3, after the parenthesised command name (which may itself contain spaces or parens).
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return true; // no /proc (not Linux): kill(0) is all we know
  }
}

/** processStart is field 22 of /proc/PID/stat (start time in clock ticks since boot), or undefined off Linux / for a gone pid. */
export function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name (which may itself hold spaces or parens): field 3 is first.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const start = fields[22 - 3];
    return start && /^\d+$/.test(start) ? start : undefined;
  } catch {
    return undefined;
  }
}

/** bootId is this boot's random id (/proc/sys/kernel/random/boot_id), or undefined off Linux. */
export function bootId(): string | undefined {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * isHolderAlive says whether the process that wrote `info` (on this machine) still runs. A pid
 * alone is not enough: after a reboot, or once pids wrap around, the same number belongs to
 * another process, and a lock would then look held forever. When the lock recorded them, the
 * boot id must still be this boot's and the pid's start time the holder's.
 */
export function isHolderAlive(info: Pick<LockInfo, 'pid' | 'pid_start' | 'boot_id'>): boolean {
  const boot = bootId();
  if (info.boot_id && boot && info.boot_id !== boot) return false;
  if (!isProcessAlive(info.pid)) return false;
  if (info.pid_start) {
    const start = processStart(info.pid);
    if (start !== undefined && start !== info.pid_start) return false;
  }
  return true;
}

/** currentWho is `user@host` for the lock record. */
export function currentWho(): string {
  let user = process.env.USER ?? '';
  try {
    user = os.userInfo().username;
  } catch {
    /* no passwd entry (containers): fall back to $USER */
  }
  return `${user || 'unknown'}@${os.hostname()}`;
}

/** newLockInfo describes a lock this process is about to take. */
export function newLockInfo(operation: string, now: Date = new Date()): LockInfo {
  return {
    id: randomUUID(),
    who: currentWho(),
    operation,
    pid: process.pid,
    hostname: os.hostname(),
    created: now.toISOString(),
    ...optional('pid_start', processStart(process.pid)),
    ...optional('boot_id', bootId()),
  };
}

function optional<K extends string>(key: K, value: string | undefined): Partial<Record<K, string>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, string>);
}

/** LockProbe is what the lock file says about its holder, and whether the holder is alive. */
type LockProbe = { kind: 'absent' } | { kind: 'held'; info: LockInfo; stale: boolean } | { kind: 'unreadable'; text: string };

/** readLock reads the lock file, if any, and judges staleness (only possible on the same hostname). */
export async function readLock(lockPath: string): Promise<LockProbe> {
  let text: string;
  try {
    text = await fsp.readFile(lockPath, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'absent' };
    throw e;
  }
  let info: LockInfo;
  try {
    info = JSON.parse(text) as LockInfo;
    if (typeof info.id !== 'string' || typeof info.pid !== 'number') throw new Error('not a lock record');
  } catch {
    // Either being written right now by its creator, or damaged: callers retry, then report.
    return { kind: 'unreadable', text };
  }
  const stale = info.hostname === os.hostname() && !isHolderAlive(info);
  return { kind: 'held', info, stale };
}

/**
 * acquireLock creates `lockPath` exclusively, retrying while a live holder has it, until
 * `timeoutMs`. Throws DiagnosticsError naming the holder (MSEG8010), or at once for a stale lock
 * (MSEG8011), which waiting cannot fix.
 */
export async function acquireLock(lockPath: string, opts: LockOptions): Promise<LockInfo> {
  const deadline = Date.now() + Math.max(0, opts.timeoutMs);
  const retryMs = opts.retryMs ?? 250;
  for (;;) {
    const info = newLockInfo(opts.operation);
    let fh: fsp.FileHandle | undefined;
    try {
      fh = await fsp.open(lockPath, 'wx', 0o644);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    if (fh) {
      // Known before its record is written: a forced exit in between still removes the file we created.
      held.set(path.resolve(lockPath), info);
      // Not fsynced: O_EXCL is what excludes other runs, and it holds in the page cache every
      // process on this machine sees. Durability would only matter across a crash, after which
      // the holder is dead anyway: a lock that did not survive is what a recovery wants, one that
      // did is stale (boot id) and needs force-unlock. Two fsyncs cost 2-5 ms of every apply.
      try {
        await fh.writeFile(JSON.stringify(info, null, 2) + '\n', 'utf8');
      } finally {
        await fh.close();
      }
      return info;
    }
    const probe = await readLock(lockPath);
    if (probe.kind === 'absent') continue; // released between our open and read: try again now
    if (probe.kind === 'held' && probe.stale) throw staleLockError(lockPath, probe.info);
    if (Date.now() >= deadline) {
      throw probe.kind === 'held' ? lockedError(lockPath, probe.info, opts) : unreadableLockError(lockPath, probe.text);
    }
    await new Promise((r) => setTimeout(r, Math.min(retryMs, Math.max(1, deadline - Date.now()))));
  }
}

/**
 * releaseLock removes the lock if (and only if) it is still `lock`. A lock that is already gone is
 * not an error (someone force-unlocked it; there is nothing left to release); another's is.
 */
export async function releaseLock(lockPath: string, lock: LockInfo): Promise<void> {
  if (held.get(path.resolve(lockPath))?.id === lock.id) held.delete(path.resolve(lockPath));
  const probe = await readLock(lockPath);
  if (probe.kind === 'absent') return;
  if (probe.kind === 'held' && probe.info.id === lock.id) {
    await fsp.rm(lockPath, { force: true });
    return;
  }
  throw new DiagnosticsError(
    [
      makeDiagnostic(
        'error',
        StateCodes.unlockIdMismatch,
        `State lock ${lockPath} is no longer ours`,
        `This run took lock ${lock.id}, but the lock file now ${probe.kind === 'held' ? `is ${probe.info.id}, held by ${describeHolder(probe.info)}` : 'is unreadable'}. It was left in place.`,
      ),
    ],
    'tool',
  );
}

/**
 * held: the locks this process took and has not released, by absolute path. A process that must
 * exit at once (a second SIGINT, see src/cli/interrupt.ts) cannot wait for its `finally` blocks,
 * and a lock left behind by a live person's Ctrl-C is exactly the stale lock nobody should have
 * to force-unlock.
 */
const held = new Map<string, LockInfo>();

/**
 * releaseHeldLocksSync removes, synchronously, every lock this process still holds, for a
 * forced exit. A lock file whose record names another holder is left alone (someone
 * force-unlocked ours and took theirs); one still empty or torn is ours, created with O_EXCL an
 * instant ago. Returns the paths removed.
 */
export function releaseHeldLocksSync(): string[] {
  const removed: string[] = [];
  for (const [file, info] of held) {
    held.delete(file);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue; // already gone
    }
    let id: unknown;
    try {
      id = (JSON.parse(text) as { id?: unknown }).id;
    } catch {
      id = info.id;
    }
    if (id !== info.id) continue;
    try {
      rmSync(file, { force: true });
      removed.push(file);
    } catch {
      /* nothing more can be done on the way out */
    }
  }
  return removed;
}

/** forceUnlock removes the lock only when its id is `id`: the id proves the person saw this holder. */
export async function forceUnlock(lockPath: string, id: string): Promise<LockInfo> {
  const probe = await readLock(lockPath);
  if (probe.kind === 'absent') {
    throw new DiagnosticsError(
      [makeDiagnostic('error', StateCodes.notLocked, `State is not locked`, `There is no lock file at ${lockPath}; nothing was removed.`)],
      'user',
    );
  }
  if (probe.kind === 'unreadable') {
    throw unreadableLockError(lockPath, probe.text);
  }
  if (probe.info.id !== id) {
    throw new DiagnosticsError(
      [
        makeDiagnostic(
          'error',
          StateCodes.unlockIdMismatch,
          `Lock ID "${id}" does not match the current lock`,
          `The state is locked with ID ${probe.info.id} by ${describeHolder(probe.info)}. Nothing was removed; ` +
            `if that holder is really gone, run \`microseg force-unlock ${probe.info.id}\`.`,
        ),
      ],
      'user',
    );
  }
  await fsp.rm(lockPath, { force: true });
  return probe.info;
}

/** describeHolder is the one-line account of a lock holder used in every lock message. */
export function describeHolder(info: LockInfo): string {
  return `${info.who} (pid ${info.pid} on ${info.hostname}, operation "${info.operation}", since ${info.created})`;
}

function lockedError(lockPath: string, info: LockInfo, opts: LockOptions): DiagnosticsError {
  return new DiagnosticsError(
    [
      makeDiagnostic(
        'error',
        StateCodes.locked,
        `State is locked by ${info.who}`,
        `Lock ID: ${info.id}\nHeld by: ${describeHolder(info)}\nLock file: ${lockPath}\n` +
          `Waited ${opts.timeoutMs} ms. Wait for that run to finish, or raise the lock timeout.`,
      ),
    ],
    'user',
  );
}

function staleLockError(lockPath: string, info: LockInfo): DiagnosticsError {
  return new DiagnosticsError(
    [
      makeDiagnostic(
        'error',
        StateCodes.staleLock,
        `State lock is STALE: its holder, pid ${info.pid} on ${info.hostname}, no longer exists`,
        `Lock ID: ${info.id}\nHeld by: ${describeHolder(info)}\nLock file: ${lockPath}\n` +
          'That run ended without releasing the lock and may have been interrupted mid-apply: read ' +
          '.microseg/journal.jsonl for hosts it began but did not verify, then run ' +
          `\`microseg force-unlock ${info.id}\` and plan again.`,
      ),
    ],
    'user',
  );
}

function unreadableLockError(lockPath: string, text: string): DiagnosticsError {
  return new DiagnosticsError(
    [
      makeDiagnostic(
        'error',
        StateCodes.locked,
        `State is locked, but the lock file is unreadable`,
        `${lockPath} contains ${JSON.stringify(text.slice(0, 200))}. If no microseg run is active, remove the file by hand.`,
      ),
    ],
    'user',
  );
}
