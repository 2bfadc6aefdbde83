/**
 * readInputFile is how every front end reads a file the user pointed microseg at (HCL and
 * `.hcl.json` files, var files, `main.ts`, Aporeto import files): only regular files, never more
 * than a size limit, and never blocking.
 *
 * A FIFO named `a.hcl` used to hang `validate` forever (a blocking open waits for a writer),
 * `/dev/zero` behind a `*.hcl` symlink read until memory ran out, and a directory named `a.hcl`
 * was silently skipped, so a directory holding only it was "valid". The file is therefore opened
 * with O_NONBLOCK (which returns at once for a FIFO and changes nothing for a regular file) and
 * checked with fstat on the open descriptor, so what is checked is what is read: no window
 * between a stat and the open for the name to be swapped. Symbolic links to regular files are
 * followed, as users keep shared policy files in one place and link them in.
 */
import * as fs from 'fs';
import type { Diagnostic, SourcePos } from '../diagnostics';

/** Diagnostic codes of reading input files, shared by every front end. */
export const READ_CODES = {
  /** The name is a directory, FIFO, socket or device, or a link to one. */
  notRegular: 'MSEG0005',
  /** The file is larger than the limit (MICROSEG_MAX_FILE_BYTES). */
  tooLarge: 'MSEG0006',
  /** The limit given in MICROSEG_MAX_FILE_BYTES is not a size. */
  badLimit: 'MSEG0007',
} as const;

/** LIMIT_ENV names the environment variable that raises (or lowers) the per-file size limit. */
export const LIMIT_ENV = 'MICROSEG_MAX_FILE_BYTES';

/**
 * DEFAULT_MAX_FILE_BYTES is 16 MiB: about 80,000 policies in one HCL file, several times the
 * largest configuration and Aporeto export seen, and small enough that a wrong file (a disk
 * image, a log) is refused before it is parsed.
 */
export const DEFAULT_MAX_FILE_BYTES = 16 * 1024 * 1024;

/** ReadResult is the file's text, or one diagnostic saying why it was not read. */
export type ReadResult = { text: string } | { diagnostic: Diagnostic };

/** ReadOptions say what the file is (for messages) and which limit applies. */
export interface ReadOptions {
  /** What the file is, for the summary: "configuration file", "var file", "import file". */
  what: string;
  /** How to split the content if it is too large (one sentence). */
  splitHint: string;
  /** What to do about a name that is not a regular file (one sentence). */
  notRegularHint: string;
  /** The error code for a file that cannot be opened at all (front ends keep their own). */
  readErrorCode: string;
  /** Limit in bytes; default from `env[LIMIT_ENV]` or DEFAULT_MAX_FILE_BYTES. */
  maxBytes?: number;
  env?: NodeJS.ProcessEnv;
}

/**
 * maxFileBytes reads the limit from the environment: a whole number of bytes, optionally with a
 * K, M or G suffix (powers of 1024). An unusable value is an error rather than silently ignored.
 */
export function maxFileBytes(env: NodeJS.ProcessEnv = process.env): number | { diagnostic: Diagnostic } {
  const raw = env[LIMIT_ENV];
  if (raw === undefined || raw.trim() === '') return DEFAULT_MAX_FILE_BYTES;
  const m = /^\s*(\d+)\s*([kmg])?(?:i?b)?\s*$/i.exec(raw);
  const n = m ? Number(m[1]) * 1024 ** ' kmg'.indexOf((m[2] ?? ' ').toLowerCase()) : NaN;
  if (!m || !Number.isSafeInteger(n) || n <= 0) {
    return {
      diagnostic: {
        severity: 'error',
        code: READ_CODES.badLimit,
        summary: `Invalid ${LIMIT_ENV} ${JSON.stringify(raw)}`,
        detail: `${LIMIT_ENV} is the largest input file microseg reads, in bytes with an optional K, M or G suffix, for example ${LIMIT_ENV}=64M.`,
      },
    };
  }
  return n;
}

/** formatBytes renders a size for messages: "16 MiB", "1.5 KiB", "300 bytes". */
export function formatBytes(n: number): string {
  for (const [unit, size] of [
    ['GiB', 1024 ** 3],
    ['MiB', 1024 ** 2],
    ['KiB', 1024],
  ] as const) {
    if (n >= size) {
      const v = n / size;
      return `${Number.isInteger(v) ? v : v.toFixed(1)} ${unit}`;
    }
  }
  return `${n} bytes`;
}

function kindOf(st: fs.Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  return 'not a regular file';
}

/** readInputFile reads `file` (a path as the user wrote it) under the rules of the module comment. */
export function readInputFile(file: string, opts: ReadOptions): ReadResult {
  const at: Partial<SourcePos> = { file };
  const limit = opts.maxBytes ?? maxFileBytes(opts.env);
  if (typeof limit !== 'number') return limit;
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch (e) {
    return { diagnostic: { severity: 'error', code: opts.readErrorCode, summary: `Cannot read ${opts.what} "${file}"`, detail: (e as Error).message, ...at } };
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) {
      const link = isSymlink(file) ? ' (through a symbolic link)' : '';
      return {
        diagnostic: {
          severity: 'error',
          code: READ_CODES.notRegular,
          summary: `${capital(opts.what)} "${file}" is ${kindOf(st)}${link}`,
          detail: `microseg reads only regular files (or symbolic links to them). ${opts.notRegularHint}`,
          ...at,
        },
      };
    }
    const tooLarge = (size: number): ReadResult => ({
      diagnostic: {
        severity: 'error',
        code: READ_CODES.tooLarge,
        summary: `${capital(opts.what)} "${file}" is larger than ${formatBytes(limit)}${size > limit ? ` (${formatBytes(size)})` : ''}`,
        detail: `microseg reads input files of at most ${formatBytes(limit)}. ${opts.splitHint} Or raise the limit for this run with the environment variable ${LIMIT_ENV}, for example ${LIMIT_ENV}=${Math.ceil((Math.max(size, limit) * 2) / 1024 ** 2)}M.`,
        ...at,
      },
    });
    if (st.size > limit) return tooLarge(st.size);
    // Read to end of file rather than trusting st.size: a file may grow while it is read, and
    // never past the limit.
    const chunks: Buffer[] = [];
    let total = 0;
    const buf = Buffer.allocUnsafe(Math.min(limit + 1, Math.max(st.size + 1, 64 * 1024)));
    for (;;) {
      const n = fs.readSync(fd, buf, 0, Math.min(buf.length, limit + 1 - total), null);
      if (n === 0) break;
      chunks.push(Buffer.from(buf.subarray(0, n)));
      total += n;
      if (total > limit) return tooLarge(total);
    }
    return { text: Buffer.concat(chunks, total).toString('utf8') };
  } catch (e) {
    return { diagnostic: { severity: 'error', code: opts.readErrorCode, summary: `Cannot read ${opts.what} "${file}"`, detail: (e as Error).message, ...at } };
  } finally {
    fs.closeSync(fd);
  }
}

function isSymlink(file: string): boolean {
  try {
    return fs.lstatSync(file).isSymbolicLink();
  } catch {
    return false;
  }
}

function capital(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
