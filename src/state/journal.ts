/**
 * The apply journal, `.microseg/journal.jsonl`: one JSON object per line, appended and fsynced
 * BEFORE a host is touched (`begin`) and after each step. The state file says what was verified;
 * the journal says what may have been touched, which is what a person needs after a `kill -9`.
 */
import { promises as fsp } from 'fs';
import * as path from 'path';
import { atomicWriteFile, fsyncDir } from './fsutil';
import type { JournalEntry, JournalPhase } from './types';

const PHASES: readonly JournalPhase[] = ['begin', 'applied', 'verified', 'failed'];

/**
 * appendJournal durably appends one entry (one line). If a previous writer was killed mid-line,
 * a newline is written first so the torn fragment cannot swallow this entry. One handle does it
 * all (open for append and read, look at the last byte, append, fsync), since `begin` is on the
 * way of every apply; a journal that was empty (just created) also gets its directory fsynced.
 */
export async function appendJournal(file: string, entry: JournalEntry): Promise<void> {
  const fh = await fsp.open(file, 'a+', 0o600);
  let size: number;
  try {
    size = (await fh.stat()).size;
    let lead = '';
    if (size > 0) {
      const buf = Buffer.alloc(1);
      await fh.read(buf, 0, 1, size - 1);
      if (buf[0] !== 0x0a) lead = '\n';
    }
    await fh.appendFile(lead + JSON.stringify(entry) + '\n', 'utf8');
    await fh.sync();
  } finally {
    await fh.close();
  }
  if (size === 0) await fsyncDir(path.dirname(file));
}

/** readJournalFile returns every well-formed entry; lines torn by a crash mid-append are skipped. */
export async function readJournalFile(file: string): Promise<JournalEntry[]> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  return parseJournal(text);
}

/** parseJournal parses journal text, skipping lines that are not complete entries. */
export function parseJournal(text: string): JournalEntry[] {
  const out: JournalEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const e = JSON.parse(line) as JournalEntry;
      if (typeof e.run_id === 'string' && typeof e.enforcer === 'string' && PHASES.includes(e.phase)) out.push(e);
    } catch {
      /* torn line */
    }
  }
  return out;
}

/**
 * unfinishedHosts lists, per run, the enforcers whose last journal entry is `begin` or `applied`:
 * a run that died there may have changed the host without verifying or recording it, so the next
 * plan's read-back of those hosts deserves attention.
 */
export function unfinishedHosts(entries: readonly JournalEntry[]): Array<{ run_id: string; enforcer: string; phase: JournalPhase; ts: string }> {
  const last = new Map<string, JournalEntry>();
  for (const e of entries) last.set(`${e.run_id}\u0000${e.enforcer}`, e);
  return [...last.values()]
    .filter((e) => e.phase === 'begin' || e.phase === 'applied')
    .map((e) => ({ run_id: e.run_id, enforcer: e.enforcer, phase: e.phase, ts: e.ts }));
}

/**
 * interruptedHosts is, per enforcer, its last journal entry when that entry is `begin` or
 * `applied`: the latest run touching that host stopped before verifying it. What plan warns
 * about, and what a rotated journal keeps.
 */
export function interruptedHosts(entries: readonly JournalEntry[]): JournalEntry[] {
  const last = new Map<string, JournalEntry>();
  for (const e of entries) last.set(e.enforcer, e);
  return [...last.values()].filter((e) => e.phase === 'begin' || e.phase === 'applied');
}

/**
 * JOURNAL_MAX_BYTES: past this size the journal is rotated when the next run takes the lock.
 * Every plan reads the journal whole (to warn about interrupted runs); an apply writes about
 * 3 lines (~200 bytes each) per host, so a 100-host fleet applied daily grows it ~20 MB a year.
 */
export const JOURNAL_MAX_BYTES = 4 * 1024 * 1024;

/**
 * rotateJournal, when `file` is larger than `maxBytes`, keeps it whole as `FILE.1` (replacing an
 * older one) and starts `file` again with only what plan still needs from it: each enforcer's
 * last entry when that entry is `begin` or `applied` (an interrupted run, see unfinishedHosts).
 * Only a holder of the state lock may call it (nobody appends meanwhile). Crash-safe: `FILE.1` is
 * a hard link made before `file` is atomically replaced, so at every instant `file` holds either
 * the old journal or the new one. Returns whether it rotated.
 */
export async function rotateJournal(file: string, maxBytes: number = JOURNAL_MAX_BYTES): Promise<boolean> {
  let size: number;
  try {
    size = (await fsp.stat(file)).size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
  if (size <= maxBytes) return false;
  const carried = interruptedHosts(await readJournalFile(file));
  const old = `${file}.1`;
  const temp = `${old}.tmp-${process.pid}`;
  await fsp.rm(temp, { force: true });
  await fsp.link(file, temp);
  await fsp.rename(temp, old);
  await atomicWriteFile(file, carried.map((e) => JSON.stringify(e) + '\n').join(''));
  return true;
}
