/**
 * Item 5 — per-packet cost: TCP connection rate and latency between two namespaces when the
 * allowing policy's peer set holds 10 vs 10,000 identities.
 *
 * Topology: namespaces `cli` (198.18.100.1) and `srv` (198.18.100.2) joined by a veth pair. A
 * Node listener in `srv` accepts and closes; a Node client in `cli` makes `connects` sequential
 * TCP connections (bounded loop), each reset right after the handshake (no TIME_WAIT build-up),
 * and reports the loop's rate and the median / p99 handshake latency (first 50 connects are
 * warm-up and not counted). Only the SYN of each connection meets the policy rules: everything
 * else is accepted as established by the first rule, as in every configuration below.
 *
 * Firewalls on `srv`, for identities = 10 and 10,000 (the real client plus distinct addresses of
 * 198.19.0.0/16 that never appear on a wire):
 *   none          no rules at all (the reference);
 *   microseg nft  microseg's compiled ruleset (bench/host-ruleset.ts peerSetHcl) via nftables:
 *                 one rule matching an interval set of peers;
 *   microseg ipt  the same via iptables-nft + ipset;
 *   naive         what a hand-written script does: INPUT gets `ct established accept`, then one
 *                 `-s PEER -d SERVER -p tcp --dport P -j ACCEPT` rule per peer address with the real
 *                 client LAST (a newly added peer appended; the worst case), then REJECT.
 * All configurations are measured in every run, in rotating order; figures are medians over runs,
 * and the ratios 10,000 / 10 identities are per run, then the median. Target: microseg's rate and
 * latency within 10% between 10 and 10,000 identities.
 *
 * Usage: node dist/bench/packet-cost.js [--full]
 */
import { spawn, type ChildProcess } from 'child_process';
import { compile } from '../src/compile';
import type { DesiredRuleset } from '../src/compile/ir';
import type { NetnsHost } from '../src/hosts/netns';
import { KernelFirewall, providerFor } from '../providers';
import type { BackendName } from '../providers/types';
import { BENCH_NOW, modelOf, peerAddresses, peerSetHcl } from './host-ruleset';
import { createNs, destroyNs, killChild, link, mustRun, trackChild, wipe } from './netns';
import { defaultLog, median, newResult, round, rootSkipReason, writeResult, type BenchOptions, type Result } from './util';

const CLIENT = '198.18.100.1';
const SERVER = '198.18.100.2';
const PORT = 8080;
const WARMUP = 50;

export type Firewall = 'none' | 'microseg-nftables' | 'microseg-iptables-nft' | 'naive-iptables-nft';

export interface PacketRow {
  firewall: Firewall;
  identities: number;
  /** Rules a SYN from the real client traverses before its accept (approximate for microseg: chain position). */
  runs: number;
  connects: number;
  ratePerS: number;
  latencyUs: number;
  p99Us: number;
  /** median over runs of rate(identities) / rate(10 identities) for the same firewall (1 = no cost of set size). */
  rateVs10: number | null;
  latencyVs10: number | null;
  /** median over runs of rate / rate of `none` in the same run. */
  rateVsNone: number;
}

interface ClientOut {
  n: number;
  totalMs: number;
  lat: number[];
}

/** CLIENT_JS connects `n` times in sequence and prints {n,totalMs,lat[]} (µs). Runs inside `cli`. */
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

async function startServer(srv: NetnsHost): Promise<ChildProcess> {
  // `ip netns exec` execs node in place, so the child's pid is the listener's.
  const child = spawn('ip', ['netns', 'exec', srv.name, process.execPath, '-e', SERVER_JS, SERVER, String(PORT)], { stdio: ['ignore', 'pipe', 'pipe'] });
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

async function runClient(cli: NetnsHost, connects: number): Promise<ClientOut> {
  const out = await mustRun(cli, [process.execPath, '-e', CLIENT_JS, SERVER, String(PORT), String(connects), String(WARMUP)]);
  return JSON.parse(out) as ClientOut;
}

/** naiveScript is the hand-written iptables-restore input: one ACCEPT per peer, the real client last. */
export function naiveScript(identities: number): string {
  const peers = peerAddresses(identities, CLIENT);
  const ordered = [...peers.slice(1), peers[0]];
  const lines = ['*filter', '-A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT'];
  for (const p of ordered) lines.push(`-A INPUT -s ${p}/32 -d ${SERVER}/32 -p tcp -m tcp --dport ${PORT} -j ACCEPT`);
  lines.push(`-A INPUT -d ${SERVER}/32 -j REJECT`);
  lines.push('COMMIT', '');
  return lines.join('\n');
}

async function install(srv: NetnsHost, fw: Firewall, identities: number): Promise<void> {
  await wipe(srv);
  if (fw === 'none') return;
  if (fw === 'naive-iptables-nft') {
    await mustRun(srv, ['iptables-nft-restore', '--noflush'], naiveScript(identities));
    return;
  }
  const backend: BackendName = fw === 'microseg-nftables' ? 'nftables' : 'iptables-nft';
  const provider = providerFor(backend);
  await new KernelFirewall(provider, srv).run(provider.fullSync(serverRuleset(identities), undefined, 'bench'));
}

const compiled = new Map<number, DesiredRuleset>();

/** serverRuleset is the compiled ruleset of enforcer `srv` for a peer set of `identities` (compiled once). */
export function serverRuleset(identities: number): DesiredRuleset {
  let rs = compiled.get(identities);
  if (!rs) {
    const model = modelOf(peerSetHcl(identities, SERVER, CLIENT, PORT));
    rs = compile(model, { now: BENCH_NOW }).rulesets.find((r) => r.enforcer === 'srv')!;
    if (!rs.sets.some((s) => s.elements.length === identities)) throw new Error(`the compiled ruleset has no set of ${identities} peers`);
    compiled.set(identities, rs);
  }
  return rs;
}

const METHOD =
  'Two namespaces joined by a veth pair; a Node listener in srv accepts and closes; a Node client in cli makes N sequential connects (reset after the handshake, 50 warm-up connects not counted). ' +
  'Firewalls on srv: none; microseg nftables and iptables-nft (one rule matching the peer set); naive iptables-nft (one ACCEPT per peer address, the real client last, after a ct established accept). ' +
  'Peer sets of 10 and 10,000 identities. All configurations measured in each run in rotating order; rates/latencies are medians over runs; ratios are per run, then the median.';

export async function runPacketCost(
  opts: BenchOptions & { identities?: number[]; runs?: number; connects?: number; firewalls?: Firewall[] },
): Promise<Result<PacketRow>> {
  const result = newResult<PacketRow>('packet-cost', 'Per-packet cost: set-based rules vs one rule per peer', opts, METHOD);
  const skip = rootSkipReason();
  if (skip) {
    result.notes.push(`not run: ${skip}`);
    return result;
  }
  const identities = opts.identities ?? [10, 10000];
  const runs = opts.runs ?? (opts.quick ? 5 : 9);
  const connects = opts.connects ?? (opts.quick ? 10000 : 30000);
  const firewalls = opts.firewalls ?? (['none', 'microseg-nftables', 'microseg-iptables-nft', 'naive-iptables-nft'] as Firewall[]);
  const cli = await createNs('pcli');
  const srv = await createNs('psrv');
  let server: ChildProcess | undefined;
  const configs: Array<{ fw: Firewall; ids: number }> = [];
  for (const fw of firewalls) for (const ids of fw === 'none' ? [identities[0]] : identities) configs.push({ fw, ids });
  const key = (c: { fw: Firewall; ids: number }) => `${c.fw}|${c.ids}`;
  const got = new Map<string, ClientOut[]>(configs.map((c) => [key(c), []]));
  try {
    await link(cli, CLIENT, srv, SERVER);
    // Client side: ephemeral ports are reset, not left in TIME_WAIT; widen the range anyway.
    await mustRun(cli, ['sysctl', '-q', '-w', 'net.ipv4.ip_local_port_range=10000 65000']);
    server = await startServer(srv);
    for (let r = 0; r < runs; r++) {
      const order = configs.map((_, i) => configs[(i + r) % configs.length]);
      for (const c of order) {
        await install(srv, c.fw, c.ids);
        const o = await runClient(cli, connects);
        got.get(key(c))!.push(o);
        opts.log(`packet ${c.fw} ${c.ids} ids run ${r + 1}: ${((o.n * 1000) / o.totalMs).toFixed(0)} conn/s, median ${median(o.lat).toFixed(0)} µs`);
      }
    }
  } finally {
    killChild(server?.pid);
    await wipe(srv).catch(() => undefined);
    await destroyNs(cli, srv);
  }
  const rate = (o: ClientOut) => (o.n * 1000) / o.totalMs;
  const lat = (o: ClientOut) => median(o.lat);
  const none = got.get(key({ fw: 'none', ids: identities[0] }));
  for (const c of configs) {
    const os = got.get(key(c))!;
    const base = got.get(key({ fw: c.fw, ids: identities[0] }))!;
    const sorted = os.flatMap((o) => o.lat).sort((a, b) => a - b);
    result.rows.push({
      firewall: c.fw,
      identities: c.ids,
      runs: os.length,
      connects,
      ratePerS: round(median(os.map(rate)), 0),
      latencyUs: round(median(os.map(lat)), 1),
      p99Us: round(sorted[Math.floor(sorted.length * 0.99)] ?? NaN, 1),
      rateVs10: c.fw === 'none' ? null : round(median(os.map((o, i) => rate(o) / rate(base[i]))), 3),
      latencyVs10: c.fw === 'none' ? null : round(median(os.map((o, i) => lat(o) / lat(base[i]))), 3),
      rateVsNone: none ? round(median(os.map((o, i) => rate(o) / rate(none[i]))), 3) : NaN,
    });
  }
  for (const fw of ['microseg-nftables', 'microseg-iptables-nft'] as Firewall[]) {
    const row = result.rows.find((x) => x.firewall === fw && x.identities === identities[identities.length - 1]);
    if (!row || row.rateVs10 === null || row.latencyVs10 === null) continue;
    const worst = Math.max(Math.abs(1 - row.rateVs10), Math.abs(1 - row.latencyVs10));
    result.targets.push({
      what: `${fw}: connection rate and latency, ${row.identities.toLocaleString('en-US')} vs ${identities[0]} identities`,
      measured: round(worst, 3),
      limit: 'within 10%',
      met: worst <= 0.1,
      note: `rate ${row.rateVs10}x, latency ${row.latencyVs10}x of the ${identities[0]}-identity run`,
    });
  }
  return result;
}

if (require.main === module) {
  const quick = !process.argv.includes('--full');
  runPacketCost({ quick, log: defaultLog })
    .then((r) => defaultLog(`wrote ${writeResult(r)}`))
    .catch((e) => {
      console.error(e);
      process.exitCode = 1;
    });
}
