/**
 * The connect loop of the per-packet benchmarks (items 5 and 8): a Node listener that accepts and
 * closes, a Node client making N sequential connects (each reset right after the handshake, so no
 * TIME_WAIT builds up; the first WARMUP connects are not counted), every configuration measured
 * in every run in rotating order, and the statistics both items publish: medians over runs, and
 * per-run ratios (against the smallest identity count of the same firewall, and against no
 * firewall) whose median is the published value.
 */
import { spawn, type ChildProcess } from 'child_process';
import type { NetnsHost } from '../src/hosts/netns';
import { mustRun, trackChild } from './netns';
import { median, round, type BenchOptions, type Target } from './util';

export const WARMUP = 50;

export interface ClientOut {
  n: number;
  totalMs: number;
  /** Handshake latencies of the counted connects, µs. */
  lat: number[];
}

/** CLIENT_JS connects `n` times in sequence and prints {n,totalMs,lat[]} (µs). */
const CLIENT_JS = `
const net = require('net');
const [host, port, n, warm] = process.argv.slice(1).map((x, i) => i === 0 ? x : Number(x));
const lat = [];
let i = 0, t0 = 0;
function one() {
  if (i === warm) t0 = process.hrtime.bigint();
  if (i >= n + warm) {
    process.stdout.write(JSON.stringify({ n, totalMs: Number(process.hrtime.bigint() - t0) / 1e6, lat }));
    return;
  }
  const s0 = process.hrtime.bigint();
  const s = net.connect({ host, port });
  s.setTimeout(3000, () => { console.error('connect timeout at ' + i); process.exit(2); });
  s.on('error', (e) => { console.error('connect error at ' + i + ': ' + e.message); process.exit(3); });
  s.on('connect', () => {
    if (i >= warm) lat.push(Number(process.hrtime.bigint() - s0) / 1e3);
    i++;
    s.resetAndDestroy();
    setImmediate(one);
  });
}
one();
`;

/** SERVER_JS accepts and closes every connection; prints "ready" when bound. */
const SERVER_JS = `
const net = require('net');
const srv = net.createServer((s) => { s.on('error', () => {}); s.destroy(); });
srv.listen(Number(process.argv[2]), process.argv[1], () => console.log('ready'));
`;

/** startServer starts the listener on addr:port inside `h` (killed on exit: trackChild). */
export async function startServer(h: NetnsHost, addr: string, port: number): Promise<ChildProcess> {
  // `ip netns exec` execs node in place, so the child's pid is the listener's.
  const child = spawn('ip', ['netns', 'exec', h.name, process.execPath, '-e', SERVER_JS, addr, String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  trackChild(child.pid);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('server did not start')), 10_000);
    child.stdout!.on('data', (b: Buffer) => {
      if (b.toString().includes('ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on('exit', (c) => reject(new Error(`server exited ${c}`)));
  });
  return child;
}

/** runClient runs the connect loop inside `h` against addr:port. */
export async function runClient(h: NetnsHost, addr: string, port: number, connects: number): Promise<ClientOut> {
  const out = await mustRun(h, [process.execPath, '-e', CLIENT_JS, addr, String(port), String(connects), String(WARMUP)]);
  return JSON.parse(out) as ClientOut;
}

export const rateOf = (o: ClientOut): number => (o.n * 1000) / o.totalMs;
export const latencyOf = (o: ClientOut): number => median(o.lat);

/** What a caller (the smoke test) may shrink. */
export interface LoopSizes {
  identities: number[];
  runs: number;
  connects: number;
}

/** loopSizes: 10 and 10,000 identities; 5 runs of 10,000 connects (quick) or 9 of 30,000 (--full). */
export function loopSizes(opts: BenchOptions & Partial<LoopSizes>): LoopSizes {
  return {
    identities: opts.identities ?? [10, 10000],
    runs: opts.runs ?? (opts.quick ? 5 : 9),
    connects: opts.connects ?? (opts.quick ? 10000 : 30000),
  };
}

/** A configuration: a firewall at a peer-set size (`none` is measured at the smallest size only). */
export interface Config<F extends string> {
  fw: F;
  ids: number;
}

export const configKey = <F extends string>(c: Config<F>): string => `${c.fw}|${c.ids}`;

/** configsOf lists every firewall at every size; those in `sizeless` (no peer set: `none`) once. */
export function configsOf<F extends string>(firewalls: readonly F[], identities: readonly number[], sizeless: readonly string[] = ['none']): Array<Config<F>> {
  const out: Array<Config<F>> = [];
  for (const fw of firewalls) for (const ids of sizeless.includes(fw) ? [identities[0]] : identities) out.push({ fw, ids });
  return out;
}

/**
 * measureRotating runs every configuration once per run, starting one later each run (so no
 * configuration always follows the same one), installing it before its connect loop.
 */
export async function measureRotating<F extends string>(
  configs: ReadonlyArray<Config<F>>,
  runs: number,
  install: (c: Config<F>) => Promise<void>,
  measure: () => Promise<ClientOut>,
  log: (line: string) => void,
  label: string,
): Promise<Map<string, ClientOut[]>> {
  const got = new Map<string, ClientOut[]>(configs.map((c) => [configKey(c), []]));
  for (let r = 0; r < runs; r++) {
    const order = configs.map((_, i) => configs[(i + r) % configs.length]);
    for (const c of order) {
      await install(c);
      const o = await measure();
      got.get(configKey(c))!.push(o);
      log(`${label} ${c.fw} ${c.ids} ids run ${r + 1}: ${rateOf(o).toFixed(0)} conn/s, median ${latencyOf(o).toFixed(0)} µs`);
    }
  }
  return got;
}

/** The statistics of one configuration, as both items publish them. */
export interface ConnectStats {
  identities: number;
  runs: number;
  connects: number;
  ratePerS: number;
  latencyUs: number;
  p99Us: number;
  /** median over runs of rate(identities) / rate(smallest size) for the same firewall (1 = no cost of set size). */
  rateVs10: number | null;
  latencyVs10: number | null;
  /** median over runs of rate / rate of `none` in the same run. */
  rateVsNone: number;
  /** median over runs of median latency / that of `none` in the same run. */
  latencyVsNone: number;
}

/** statsOf summarises one configuration against its smallest size and `none`, run by run. */
export function statsOf<F extends string>(got: ReadonlyMap<string, ClientOut[]>, c: Config<F>, smallest: number, connects: number): ConnectStats {
  const os = got.get(configKey(c))!;
  const base = got.get(configKey({ fw: c.fw, ids: smallest }))!;
  const none = got.get(configKey({ fw: 'none', ids: smallest }));
  const sorted = os.flatMap((o) => o.lat).sort((a, b) => a - b);
  // A firewall measured at one size only (no peer set) has no size ratio.
  const sized = [...got.keys()].filter((k) => k.startsWith(`${c.fw}|`)).length > 1;
  return {
    identities: c.ids,
    runs: os.length,
    connects,
    ratePerS: round(median(os.map(rateOf)), 0),
    latencyUs: round(median(os.map(latencyOf)), 1),
    p99Us: round(sorted[Math.floor(sorted.length * 0.99)] ?? NaN, 1),
    rateVs10: !sized ? null : round(median(os.map((o, i) => rateOf(o) / rateOf(base[i]))), 3),
    latencyVs10: !sized ? null : round(median(os.map((o, i) => latencyOf(o) / latencyOf(base[i]))), 3),
    rateVsNone: none ? round(median(os.map((o, i) => rateOf(o) / rateOf(none[i]))), 3) : NaN,
    latencyVsNone: none ? round(median(os.map((o, i) => latencyOf(o) / latencyOf(none[i]))), 3) : NaN,
  };
}

/** setSizeTarget judges a firewall's largest size against its smallest: rate and latency within 10%. */
export function setSizeTarget(what: string, row: ConnectStats, smallest: number): Target | undefined {
  if (row.rateVs10 === null || row.latencyVs10 === null) return undefined;
  const worst = Math.max(Math.abs(1 - row.rateVs10), Math.abs(1 - row.latencyVs10));
  return {
    what: `${what}: connection rate and latency, ${row.identities.toLocaleString('en-US')} vs ${smallest} identities`,
    measured: round(worst, 3),
    limit: 'within 10%',
    met: worst <= 0.1,
    note: `rate ${row.rateVs10}x, latency ${row.latencyVs10}x of the ${smallest}-identity run`,
  };
}
