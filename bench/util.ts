/**
 * Shared helpers of the benchmark harness: timing, medians, ratios, machine description and the
 * results files (bench/results/<item>.json) that bench/report.ts turns into README tables.
 *
 * Every figure the benchmarks publish is a ratio of two things measured in the same run, with the
 * two sides interleaved run by run, because the machine is shared and noisy: absolute times are
 * recorded too, but only ratios are comparable between runs.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

/** median of a non-empty list (the lower middle for even lengths, so it is always a measured value). */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)];
}

/** quantile q in [0,1] by nearest rank. */
export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}

/** nowMs is a monotonic clock in milliseconds. */
export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** timeMs runs fn and returns its result with the elapsed wall time. */
export async function timeMs<T>(fn: () => Promise<T> | T): Promise<{ ms: number; value: T }> {
  const t0 = nowMs();
  const value = await fn();
  return { ms: nowMs() - t0, value };
}

/** Options shared by every benchmark module. */
export interface BenchOptions {
  /** Quick mode: the small sizes and fewer runs (`npm run bench`); false with `--full`. */
  quick: boolean;
  /** Progress lines go here (stderr by default); results never do. */
  log: (line: string) => void;
}

export const defaultLog = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

/** Target is one target of the issue and whether this run met it. */
export interface Target {
  what: string;
  /** The measured value the target is judged on, in the target's unit (e.g. a ratio). */
  measured: number | null;
  limit: string;
  met: boolean | null;
  /** Why it is met / not met / not measurable, in a sentence. */
  note: string;
}

/** Result is what each benchmark module writes to bench/results/<name>.json. */
export interface Result<Row> {
  name: string;
  title: string;
  quick: boolean;
  date: string;
  machine: Machine;
  /** How it was measured (one paragraph; the README quotes it). */
  method: string;
  rows: Row[];
  targets: Target[];
  notes: string[];
}

export interface Machine {
  nproc: number;
  cpuModel: string;
  memoryGiB: number;
  kernel: string;
  node: string;
  tools: Record<string, string>;
  loadAvg: number[];
}

function firstLine(argv: string[]): string {
  try {
    return execFileSync(argv[0], argv.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim().split('\n')[0];
  } catch {
    return 'unavailable';
  }
}

/** machine describes the machine the numbers were taken on. */
export function machine(): Machine {
  return {
    nproc: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    tools: {
      nft: firstLine(['nft', '--version']),
      iptables: firstLine(['iptables', '--version']),
      'iptables-legacy': firstLine(['iptables-legacy', '--version']),
      ipset: firstLine(['ipset', '--version']),
      iproute2: firstLine(['ip', '-V']),
      typescript: readVersion('typescript'),
    },
    loadAvg: os.loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

function readVersion(pkg: string): string {
  try {
    return (JSON.parse(fs.readFileSync(require.resolve(`${pkg}/package.json`), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** REPO is the repository root (this file runs from dist/bench/ or, under ts-jest, from bench/). */
export const REPO = findRepo(__dirname);

function findRepo(dir: string): string {
  let d = dir;
  for (let i = 0; i < 5; i++) {
    if (fs.existsSync(path.join(d, 'package.json')) && fs.existsSync(path.join(d, 'bench'))) return d;
    d = path.dirname(d);
  }
  return process.cwd();
}

export const RESULTS_DIR = path.join(REPO, 'bench', 'results');

/** writeResult saves one module's result as bench/results/<name>.json (or under `dir`). */
export function writeResult<Row>(result: Result<Row>, dir = RESULTS_DIR): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${result.name}.json`);
  fs.writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  return file;
}

/** readResult loads bench/results/<name>.json, or undefined when that item has not been run. */
export function readResult<Row>(name: string, dir = RESULTS_DIR): Result<Row> | undefined {
  const file = path.join(dir, `${name}.json`);
  if (!fs.existsSync(file)) return undefined;
  return JSON.parse(fs.readFileSync(file, 'utf8')) as Result<Row>;
}

/** newResult fills the common fields. */
export function newResult<Row>(name: string, title: string, opts: BenchOptions, method: string): Result<Row> {
  return { name, title, quick: opts.quick, date: new Date().toISOString(), machine: machine(), method, rows: [], targets: [], notes: [] };
}

/** round to n significant decimals for JSON/tables. */
export function round(x: number, digits = 3): number {
  if (!Number.isFinite(x)) return x;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** isRoot: the kernel benchmarks need root to create network namespaces. */
export function rootSkipReason(): string | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'needs root (network namespaces)';
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' });
  } catch {
    return 'needs iproute2 `ip netns`';
  }
  return undefined;
}

/** bytesOf is the number of bytes a step list feeds to the kernel's tools (their stdin, UTF-8). */
export function bytesOf(steps: ReadonlyArray<{ stdin: string }>): number {
  return steps.reduce((n, s) => n + Buffer.byteLength(s.stdin, 'utf8'), 0);
}

/**
 * logSlope is the growth exponent between two sizes: log(ms1/ms0) / log(size1/size0), rounded
 * (1.0 linear, 2.0 quadratic). The growth benchmarks judge neighbouring sizes by it.
 */
export function logSlope(size0: number, ms0: number, size1: number, ms1: number): number {
  return round(Math.log(ms1 / ms0) / Math.log(size1 / size0), 2);
}

/**
 * linearGrowthTarget judges rows that carry the slope from their previous size: met when the
 * largest slope is at most 1.5; `step` names a row in the note (followed by its slope).
 */
export function linearGrowthTarget<R extends { slope: number | null }>(what: string, rows: readonly R[], step: (r: R) => string, notePrefix = ''): Target {
  const slopes = rows.flatMap((r) => (r.slope === null ? [] : [r.slope]));
  const worst = Math.max(0, ...slopes);
  return {
    what,
    measured: rows.length > 1 ? worst : null,
    limit: '≤ 1.5 (1.0 linear, 2.0 quadratic)',
    met: rows.length > 1 ? worst <= 1.5 : null,
    note: `${notePrefix}${rows
      .filter((r) => r.slope !== null)
      .map((r) => `${step(r)} ${r.slope}`)
      .join(', ')}`,
  };
}

/** argOf is the value after `--NAME` on the command line of a standalone benchmark, or `fallback`. */
export function argOf(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}
