/**
 * Durable file primitives. The state file is the only record of what microseg owns on hosts, so a
 * crash (kill -9, power loss) at any instant must leave either the old or the new state readable,
 * never a torn one: write a temp file in the same directory, fsync it, rename it over the target
 * (atomic on POSIX within one filesystem), then fsync the directory so the rename itself survives.
 */
import { promises as fsp } from 'fs';
import * as path from 'path';
import { randomUUID } from 'crypto';

/** AtomicWriteOptions tunes atomicWriteFile; `beforeRename` exists for crash-simulation tests. */
export interface AtomicWriteOptions {
  /** File mode of the new file (default 0o600: state and plans are nobody else's business). */
  mode?: number;
  /**
   * When set, the current content of the target (if any) is first kept at this path (a hard link
   * to it, see keepAsBackup; a copy where links are not supported), so the previous version
   * survives a bad write or a bad apply.
   */
  backupPath?: string;
  /** Called after the temp file is durable and before the rename; a throw aborts the write. */
  beforeRename?: (tempPath: string) => void | Promise<void>;
}

/** tempPrefix is the prefix of temp files for `target`; a crash may leave such files behind. */
export function tempPrefix(target: string): string {
  return `.${path.basename(target)}.tmp-`;
}

/** atomicWriteFile replaces `target` with `data` so that readers see the old or the new content. */
export async function atomicWriteFile(target: string, data: string, opts: AtomicWriteOptions = {}): Promise<void> {
  const dir = path.dirname(target);
  const mode = opts.mode ?? 0o600;
  const temp = path.join(dir, `${tempPrefix(target)}${process.pid}-${randomUUID().slice(0, 8)}`);
  const writeTemp = async () => {
    const fh = await fsp.open(temp, 'wx', mode);
    try {
      await fh.writeFile(data, 'utf8');
      await fh.sync();
    } finally {
      await fh.close();
    }
  };
  let renamed = false;
  try {
    // The backup (a link to the current file) and the new content's temp file are independent
    // until the rename, so the link is made while the temp file is written and synced.
    const [backup, written] = await Promise.allSettled([opts.backupPath !== undefined ? keepAsBackup(target, opts.backupPath, mode) : undefined, writeTemp()]);
    if (backup.status === 'rejected') throw backup.reason;
    if (written.status === 'rejected') throw written.reason;
    if (opts.beforeRename) await opts.beforeRename(temp);
    await fsp.rename(temp, target);
    renamed = true;
    await fsyncDir(dir);
  } finally {
    // A failed write must not leave a temp file behind; a killed process cannot run this, which
    // is why readers ignore temp files and writers sweep dead processes' ones (sweepTempFiles).
    if (!renamed) await fsp.rm(temp, { force: true });
  }
}

/**
 * keepAsBackup makes `backupPath` hold the current content of `target` (nothing if it has none).
 * The target is only ever replaced by rename, never written in place, so its current inode is
 * already durable and will never change: a hard link to it is the backup, without copying or
 * fsyncing the data again (a 10,000-rule state is ~300 KB). The link is made under a temp name and
 * renamed over the old backup, so the backup too is always whole. The directory fsync of the
 * write that follows makes both renames durable. Filesystems without hard links get a copy.
 */
async function keepAsBackup(target: string, backupPath: string, mode: number): Promise<void> {
  const temp = path.join(path.dirname(backupPath), `${tempPrefix(backupPath)}${process.pid}-${randomUUID().slice(0, 8)}`);
  try {
    await fsp.link(target, temp);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'EXDEV' && code !== 'EMLINK') throw e;
    let previous: string;
    try {
      previous = await fsp.readFile(target, 'utf8');
    } catch (e2) {
      if ((e2 as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e2;
    }
    await atomicWriteFile(backupPath, previous, { mode });
    return;
  }
  try {
    await fsp.rename(temp, backupPath);
  } catch (e) {
    await fsp.rm(temp, { force: true });
    throw e;
  }
}

/** fsyncDir makes a rename or file creation in `dir` durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await fsp.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * sweepTempFiles removes temp files for `target` left by processes that no longer exist on this
 * machine (a writer killed between write and rename). Files of live processes are left alone.
 */
export async function sweepTempFiles(target: string, isAlive: (pid: number) => boolean): Promise<string[]> {
  const dir = path.dirname(target);
  const prefix = tempPrefix(target);
  const removed: string[] = [];
  for (const name of await fsp.readdir(dir)) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(name.slice(prefix.length).split('-')[0]);
    if (Number.isInteger(pid) && pid > 0 && (pid === process.pid || isAlive(pid))) continue;
    await fsp.rm(path.join(dir, name), { force: true });
    removed.push(name);
  }
  return removed;
}
