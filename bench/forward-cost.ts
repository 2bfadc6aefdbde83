/**
 * Item 8 — per-packet cost on the forward path (issue #12): TCP connection rate and latency
 * between two workloads behind an enforcer host, through microseg's forward-path rules at 10 and
 * 10,000 identities, beside the unprotected forward path, in the same run.
 *
 * Topology: namespaces `cli` (198.18.102.2) and `srv` (198.18.103.2), each joined by a veth pair
 * to the router `gw` (198.18.102.1 / 198.18.103.1, ip_forward on), each routing through it. The
 * enforcer is `gw`: the client and the server are workloads behind it (both pinned
 * `placement = "forwarded"`, bench/host-ruleset.ts peerSetHcl), so their traffic meets microseg in
 * the forward hook only: the `fwd` chain jumps to the client's egress chain (the server as peer),
 * then to the server's ingress chain (a peer set of 10 or 10,000 clients: the real one plus
 * distinct 198.19.0.0/16 addresses never on a wire). Connect loop as in item 5
 * (bench/connect-loop.ts); only a connection's SYN meets the policy rules, the rest is accepted
 * as established.
 *
 * Firewalls on `gw`: none (the unprotected forward path, the reference); conntrack-only (one
 * forward base chain accepting established traffic: the price of connection tracking alone, which
 * every stateful firewall pays and `none` does not); microseg's compiled ruleset through nftables,
 * iptables-nft + ipset, and iptables-legacy + ipset (when the kernel has the legacy tables). `gw` is rebuilt (new namespace, new veths) before every measurement, so no
 * configuration inherits another's tables: a legacy table, once made in a namespace, keeps its
 * hooks until the namespace goes, and would tax every later configuration, `none` included.
 * Every configuration is measured in every run, in rotating order; figures are medians over runs,
 * ratios are per run, then the median.
 *
 * Usage: node dist/bench/forward-cost.js [--full]
 */
import type { ChildProcess } from 'child_process';
import { compile } from '../src/compile';
import type { DesiredRuleset } from '../src/compile/ir';
import type { NetnsHost } from '../src/hosts/netns';
import { KernelFirewall, providerFor } from '../providers';
import type { BackendName } from '../providers/types';
import { configsOf, loopSizes, measureRotating, runClient, startServer, statsOf, type ConnectStats, type LoopSizes } from './connect-loop';
import { BENCH_NOW, modelOf, peerSetHcl } from './host-ruleset';
import { createNs, destroyNs, killChild, link, mustRun } from './netns';
import { defaultLog, newResult, rootSkipReason, writeResult, type BenchOptions, type Result } from './util';

const CLIENT = '198.18.102.2';
const GW_CLI = '198.18.102.1';
const SERVER = '198.18.103.2';
const GW_SRV = '198.18.103.1';
const PORT = 8080;
/** A listening port no policy allows. */
const OTHER_PORT = 8081;

export type ForwardFirewall = 'none' | 'conntrack-only' | 'microseg-nftables' | 'microseg-iptables-nft' | 'microseg-iptables-legacy';

/** Firewalls that refuse nothing: the probe of a port no policy allows gets through them. */
const OPEN: ReadonlySet<ForwardFirewall> = new Set(['none', 'conntrack-only']);

/**
 * CONNTRACK_ONLY: the least a stateful firewall does on the forward path, one base chain whose only
 * rule accepts established traffic. Its hook turns connection tracking on in the namespace, which
 * `none` does without, so microseg's cost splits into tracking (this) and its own rules (the rest).
 */
const CONNTRACK_ONLY = 'table inet bench {\n  chain tracked {\n    type filter hook forward priority 0; policy accept;\n    ct state established,related accept\n  }\n}\n';

const BACKEND: Record<Exclude<ForwardFirewall, 'none' | 'conntrack-only'>, BackendName> = {
  'microseg-nftables': 'nftables',
  'microseg-iptables-nft': 'iptables-nft',
  'microseg-iptables-legacy': 'iptables-legacy',
};

export interface ForwardRow extends ConnectStats {
  firewall: ForwardFirewall;
}

const compiled = new Map<number, DesiredRuleset>();

/** routerRuleset is the compiled ruleset of enforcer `gw` for a peer set of `identities` (compiled once). */
export function routerRuleset(identities: number): DesiredRuleset {
  let rs = compiled.get(identities);
  if (!rs) {
    const model = modelOf(peerSetHcl(identities, SERVER, CLIENT, PORT, { forwarded: true }));
    rs = compile(model, { now: BENCH_NOW }).rulesets.find((r) => r.enforcer === 'gw')!;
    if (!rs.chains.some((c) => c.hook === 'forward')) throw new Error('the compiled router ruleset has no forward chain');
    if (!rs.sets.some((s) => s.elements.length === identities)) throw new Error(`the compiled router ruleset has no set of ${identities} peers`);
    compiled.set(identities, rs);
  }
  return rs;
}

/** The three namespaces; `gw` is replaced by rebuildRouter. */
interface Path {
  cli: NetnsHost;
  srv: NetnsHost;
  gw?: NetnsHost;
}

/** rebuildRouter deletes the router (if any) with its veths and makes a fresh one routing cli ↔ srv. */
async function rebuildRouter(p: Path): Promise<NetnsHost> {
  if (p.gw) {
    // Delete the pairs first: a namespace's devices go asynchronously after `ip netns del`, and the
    // new pairs reuse the names on the cli and srv side.
    for (const h of [p.cli, p.srv]) await mustRun(h, ['ip', 'link', 'del', 'eth0']);
    await destroyNs(p.gw);
  }
  const gw = await createNs('fgw');
  p.gw = gw;
  await mustRun(gw, ['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);
  await link(p.cli, CLIENT, gw, GW_CLI, { b: 'to-cli' });
  await link(p.srv, SERVER, gw, GW_SRV, { b: 'to-srv' });
  await mustRun(p.cli, ['ip', 'route', 'add', 'default', 'via', GW_CLI]);
  await mustRun(p.srv, ['ip', 'route', 'add', 'default', 'via', GW_SRV]);
  return gw;
}

async function install(p: Path, fw: ForwardFirewall, identities: number): Promise<void> {
  const gw = await rebuildRouter(p);
  if (fw === 'conntrack-only') await mustRun(gw, ['nft', '-f', '-'], CONNTRACK_ONLY);
  else if (fw !== 'none') {
    const provider = providerFor(BACKEND[fw]);
    await new KernelFirewall(provider, gw).run(provider.fullSync(routerRuleset(identities), undefined, 'bench'));
  }
  // Proof that the rules are in the path (not timed): a port the policy does not allow has a
  // listener too, reachable through the bare router and refused through microseg's rules.
  const r = await p.cli.run(['nc', '-n', '-z', '-w', '2', SERVER, String(OTHER_PORT)], { timeoutMs: 10_000 });
  if ((r.code === 0) !== OPEN.has(fw)) throw new Error(`${fw}: tcp/${OTHER_PORT} through gw was ${r.code === 0 ? 'open' : 'not open'}; the rules are not where they should be`);
}

/** legacyUsable: the legacy tables exist in this kernel (built in or loaded); never loads a module. */
async function legacyUsable(h: NetnsHost): Promise<boolean> {
  return (await h.run(['iptables-legacy', '--modprobe=/bin/false', '-t', 'filter', '-S'])).code === 0;
}

const METHOD =
  'Three namespaces: cli and srv, each joined by a veth pair to the router gw (ip_forward on), the enforcer host. Client and server are workloads behind gw (placement "forwarded"), so their traffic meets microseg in the forward hook only: the client\'s egress chain, then the server\'s ingress chain with its peer set. ' +
  'Connect loop as in item 5 (Node listener in srv that accepts and closes, Node client in cli making N sequential connects, reset after the handshake, 50 warm-up connects not counted). ' +
  'Firewalls on gw: none (the unprotected forward path); conntrack-only (one forward base chain with only ct state established,related accept: connection tracking alone); microseg via nftables, iptables-nft + ipset, iptables-legacy + ipset. gw is rebuilt before every measurement. ' +
  'Peer sets of 10 and 10,000 identities. All configurations measured in each run in rotating order; rates/latencies are medians over runs; ratios are per run, then the median.';

export async function runForwardCost(
  opts: BenchOptions & Partial<LoopSizes> & { firewalls?: ForwardFirewall[] },
): Promise<Result<ForwardRow>> {
  const result = newResult<ForwardRow>('forward-cost', 'Per-packet cost on the forward path: workloads behind the host', opts, METHOD);
  const skip = rootSkipReason();
  if (skip) {
    result.notes.push(`not run: ${skip}`);
    return result;
  }
  const { identities, runs, connects } = loopSizes(opts);
  let firewalls = opts.firewalls ?? (['none', 'conntrack-only', 'microseg-nftables', 'microseg-iptables-nft', 'microseg-iptables-legacy'] as ForwardFirewall[]);
  const p: Path = { cli: await createNs('fcli'), srv: await createNs('fsrv') };
  const servers: ChildProcess[] = [];
  let got;
  try {
    await rebuildRouter(p);
    if (firewalls.includes('microseg-iptables-legacy') && !(await legacyUsable(p.gw!))) {
      firewalls = firewalls.filter((f) => f !== 'microseg-iptables-legacy');
      result.notes.push('iptables-legacy not measured: this kernel has no legacy tables (the benchmark never loads modules)');
    }
    await mustRun(p.cli, ['sysctl', '-q', '-w', 'net.ipv4.ip_local_port_range=10000 65000']);
    servers.push(await startServer(p.srv, SERVER, PORT), await startServer(p.srv, SERVER, OTHER_PORT));
    const configs = configsOf(firewalls, identities, [...OPEN]);
    got = await measureRotating(configs, runs, (c) => install(p, c.fw, c.ids), () => runClient(p.cli, SERVER, PORT, connects), opts.log, 'forward');
    for (const c of configs) result.rows.push({ firewall: c.fw, ...statsOf(got, c, identities[0], connects) });
  } finally {
    for (const s of servers) killChild(s.pid);
    await destroyNs(...[p.cli, p.srv, ...(p.gw ? [p.gw] : [])]);
  }
  return result;
}

if (require.main === module) {
  const quick = !process.argv.includes('--full');
  runForwardCost({ quick, log: defaultLog })
    .then((r) => defaultLog(`wrote ${writeResult(r)}`))
    .catch((e) => {
      console.error(e);
      process.exitCode = 1;
    });
}
