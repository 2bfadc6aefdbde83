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
import type { ChildProcess } from 'child_process';
import { compile } from '../src/compile';
import type { DesiredRuleset } from '../src/compile/ir';
import type { NetnsHost } from '../src/hosts/netns';
import { KernelFirewall, providerFor } from '../providers';
import type { BackendName } from '../providers/types';
import { configsOf, loopSizes, measureRotating, runClient, setSizeTarget, startServer, statsOf, type ConnectStats, type LoopSizes } from './connect-loop';
import { BENCH_NOW, modelOf, peerAddresses, peerSetHcl } from './host-ruleset';
import { createNs, destroyNs, killChild, link, mustRun, wipe } from './netns';
import { defaultLog, newResult, rootSkipReason, writeResult, type BenchOptions, type Result } from './util';

const CLIENT = '198.18.100.1';
const SERVER = '198.18.100.2';
const PORT = 8080;

export type Firewall = 'none' | 'microseg-nftables' | 'microseg-iptables-nft' | 'naive-iptables-nft';

export interface PacketRow extends ConnectStats {
  firewall: Firewall;
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
  opts: BenchOptions & Partial<LoopSizes> & { firewalls?: Firewall[] },
): Promise<Result<PacketRow>> {
  const result = newResult<PacketRow>('packet-cost', 'Per-packet cost: set-based rules vs one rule per peer', opts, METHOD);
  const skip = rootSkipReason();
  if (skip) {
    result.notes.push(`not run: ${skip}`);
    return result;
  }
  const { identities, runs, connects } = loopSizes(opts);
  const firewalls = opts.firewalls ?? (['none', 'microseg-nftables', 'microseg-iptables-nft', 'naive-iptables-nft'] as Firewall[]);
  const cli = await createNs('pcli');
  const srv = await createNs('psrv');
  let server: ChildProcess | undefined;
  const configs = configsOf(firewalls, identities);
  let got;
  try {
    await link(cli, CLIENT, srv, SERVER);
    // Client side: ephemeral ports are reset, not left in TIME_WAIT; widen the range anyway.
    await mustRun(cli, ['sysctl', '-q', '-w', 'net.ipv4.ip_local_port_range=10000 65000']);
    server = await startServer(srv, SERVER, PORT);
    got = await measureRotating(configs, runs, (c) => install(srv, c.fw, c.ids), () => runClient(cli, SERVER, PORT, connects), opts.log, 'packet');
  } finally {
    killChild(server?.pid);
    await wipe(srv).catch(() => undefined);
    await destroyNs(cli, srv);
  }
  for (const c of configs) result.rows.push({ firewall: c.fw, ...statsOf(got, c, identities[0], connects) });
  for (const fw of ['microseg-nftables', 'microseg-iptables-nft'] as Firewall[]) {
    const row = result.rows.find((x) => x.firewall === fw && x.identities === identities[identities.length - 1]);
    const target = row && setSizeTarget(fw, row, identities[0]);
    if (target) result.targets.push(target);
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
