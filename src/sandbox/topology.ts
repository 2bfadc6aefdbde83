/**
 * The sandbox's shape, decided from the model alone (pure, no I/O): which network namespaces,
 * which addresses on which veth, which external addresses, which listeners.
 *
 * Layout (one L2 segment, nothing in the root namespace):
 *
 *   <prefix>-br   a namespace holding bridge `br0`; every other namespace has an `eth0` whose
 *                 veth peer (`sbx<N>`) is a port of br0.
 *   <netns>       one per enforcer whose connection is `netns`, named as in the configuration;
 *                 its PUs' addresses on eth0: IPv4 as /15 of 198.18.0.0/15, IPv6 as /48 of
 *                 2001:2::/48, so every PU is on-link for every other PU.
 *   <prefix>-ext  the "outside world": one representative address (/32, /128) for each external
 *                 network an `expect` names (and each bare address an `expect` names that no PU
 *                 owns), plus on-link routes back to the PU ranges. Enforcer namespaces get a host
 *                 route to each representative address over eth0.
 *
 * A representative address is the one `microseg trace` uses (the first address of the network's
 * first admitted CIDR) when a host can use it; when it cannot (0.0.0.0 for `0.0.0.0/0`, loopback,
 * link-local, multicast, the sandbox subnet's network/broadcast address, a PU's address) it is the
 * first documentation address the network admits (203.0.113.1, 198.51.100.1, 192.0.2.1,
 * 2001:db8::1), else the first usable address of its admitted ranges. Live tests trace the very
 * address they send to, so the offline and live verdicts always concern the same packet.
 *
 * PU addresses must lie in 198.18.0.0/15 or 2001:2::/48 (the benchmarking ranges): the sandbox
 * never assigns an address that could shadow a real network, even inside its own namespaces.
 */
import { createHash } from 'crypto';
import { makeDiagnostic, type Diagnostic } from '../diagnostics';
import {
  addressFamily,
  addressToBigint,
  bigintToAddress,
  cidrToInterval,
  entriesToIntervals,
  type Family,
  type Interval,
} from '../model/intervals';
import type { ExternalNetwork, Model } from '../model/types';
import { endpointAddress, networkPart, parseConnectionPort, resolveEndpoint } from '../trace/query';
import { CODES } from './codes';

/** DEFAULT_PREFIX names the sandbox's own namespaces: `mseg-sbx-br` and `mseg-sbx-ext`. */
export const DEFAULT_PREFIX = 'mseg-sbx';
/** MARKER is the interface alias (ifalias) on every interface the sandbox creates: proof of ownership. */
export const MARKER = 'microseg-sandbox';
export const SANDBOX_V4 = '198.18.0.0/15';
export const SANDBOX_V6 = '2001:2::/48';
const PREFIX_LEN: Record<Family, number> = { 4: 15, 6: 48 };
const RANGE: Record<Family, string> = { 4: SANDBOX_V4, 6: SANDBOX_V6 };

export interface SandboxOptions {
  /** Prefix of the bridge and external namespaces (default `mseg-sbx`). */
  prefix?: string;
}

export interface HostAddress {
  address: string;
  family: Family;
  /** Prefix length on eth0: 15 (IPv4) or 48 (IPv6). */
  prefixLen: number;
  pu: string;
}

/** SandboxHost is one enforcer's namespace. */
export interface SandboxHost {
  enforcer: string;
  netns: string;
  /** The veth peer's name in the bridge namespace. */
  bridgePort: string;
  addresses: HostAddress[];
}

/** ExternalAddress is one address in the external namespace. */
export interface ExternalAddress {
  address: string;
  family: Family;
  /** The external networks this address stands for (empty for a bare address an expect names). */
  networks: string[];
  /** Why this address (e.g. the trace's 0.0.0.0 is not usable by a host). */
  note?: string;
}

export interface ListenerSpec {
  netns: string;
  address: string;
  family: Family;
  protocol: 'tcp' | 'udp';
  port: number;
  /** The line the listener answers with: `microseg-sandbox <owner> <proto>/<port>`. */
  banner: string;
}

export interface SandboxPlan {
  prefix: string;
  bridge: { netns: string; device: 'br0' };
  hosts: SandboxHost[];
  external?: { netns: string; bridgePort: string; addresses: ExternalAddress[] };
  /** Every `proto/port` an expect names, each listened on by every PU address and external address. */
  ports: string[];
  listeners: ListenerSpec[];
  /** Stable digest of everything above: an unchanged configuration gives an unchanged sandbox. */
  digest: string;
}

/** allNamespaces lists the plan's namespaces, the bridge's first (created first, deleted last). */
export function allNamespaces(plan: SandboxPlan): string[] {
  return [plan.bridge.netns, ...plan.hosts.map((h) => h.netns), ...(plan.external ? [plan.external.netns] : [])];
}

/** planSandbox decides the sandbox for a model; errors leave `plan` undefined. */
export function planSandbox(model: Model, opts: SandboxOptions = {}): { plan?: SandboxPlan; diagnostics: Diagnostic[] } {
  const prefix = opts.prefix ?? DEFAULT_PREFIX;
  const diagnostics: Diagnostic[] = [];
  const bridgeNs = `${prefix}-br`;
  const extNs = `${prefix}-ext`;
  const reserved = new Set([bridgeNs, extNs]);

  // Enforcer namespaces.
  const hosts: SandboxHost[] = [];
  const byNetns = new Map<string, string>();
  for (const e of model.enforcers) {
    if (e.connection.type !== 'netns') {
      diagnostics.push(
        makeDiagnostic('warning', CODES.ENFORCER_NOT_NETNS, `Enforcer "${e.name}" is reached over ${e.connection.type}, not a network namespace: it is not part of the sandbox`,
          'Its processing units get no sandbox address; live tests that involve them are reported as not checkable.', e.pos),
      );
      continue;
    }
    const ns = e.connection.netns;
    if (reserved.has(ns) || byNetns.has(ns)) {
      diagnostics.push(
        makeDiagnostic('error', CODES.NETNS_CONFLICT, `Enforcer "${e.name}" uses network namespace "${ns}", which ${reserved.has(ns) ? 'the sandbox reserves for itself' : `enforcer "${byNetns.get(ns)}" uses too`}`,
          `Each enforcer needs its own namespace; the sandbox's own are ${bridgeNs} and ${extNs}.`, e.pos),
      );
      continue;
    }
    byNetns.set(ns, e.name);
    hosts.push({ enforcer: e.name, netns: ns, bridgePort: '', addresses: [] });
  }
  const hostOf = new Map(hosts.map((h) => [h.enforcer, h]));
  const puAddresses = new Set<string>();
  for (const pu of model.processingUnits) {
    const host = hostOf.get(pu.enforcer);
    for (const a of pu.addresses) puAddresses.add(a);
    if (!host) continue;
    for (const address of pu.addresses) {
      const family = addressFamily(address)!;
      if (!inRange(address, family, RANGE[family])) {
        diagnostics.push(
          makeDiagnostic('error', CODES.ADDRESS_OUTSIDE_SANDBOX, `Processing unit "${pu.name}" has address ${address}, outside the sandbox range ${RANGE[family]}`,
            'The sandbox only assigns addresses from 198.18.0.0/15 and 2001:2::/48 (benchmarking ranges), so it can never shadow a real network. Use such addresses for sandboxed examples.', pu.pos),
        );
        continue;
      }
      host.addresses.push({ address, family, prefixLen: PREFIX_LEN[family], pu: pu.name });
    }
  }
  const families = new Set<Family>(hosts.flatMap((h) => h.addresses.map((a) => a.family)));

  // Ports and external endpoints the expectations name.
  const ports = new Map<string, { protocol: 'tcp' | 'udp'; port: number }>();
  const external = new Map<string, ExternalAddress>(); // by address
  const netWanted = new Map<string, ExternalNetwork>();
  const bareWanted = new Map<string, Family>();
  for (const x of model.expects) {
    const p = parseConnectionPort(x.port);
    if (p.ok && (p.value.protocol === 'tcp' || p.value.protocol === 'udp') && p.value.dport !== undefined) {
      ports.set(`${p.value.protocol}/${p.value.dport}`, { protocol: p.value.protocol, port: p.value.dport });
    }
    for (const [written, attr] of [[x.from, 'from'], [x.to, 'to']] as const) {
      const { endpoint } = resolveEndpoint(model, written, attr);
      if (endpoint?.kind === 'external_network') netWanted.set(endpoint.network.name, endpoint.network);
      else if (endpoint?.kind === 'address' && !endpoint.pu) bareWanted.set(endpoint.address, endpoint.family);
    }
  }
  const taken = new Set(puAddresses);
  for (const [address, family] of [...bareWanted].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (!families.has(family)) continue;
    if (!usable(address, family, taken)) {
      diagnostics.push(makeDiagnostic('warning', CODES.NO_REPRESENTATIVE, `Address ${address} named by an expect cannot be given to a sandbox host`,
        'Loopback, link-local, multicast and unspecified addresses, and the sandbox subnets\' own network and broadcast addresses, are refused; such expectations are not checkable live.'));
      continue;
    }
    external.set(address, { address, family, networks: [] });
    taken.add(address);
  }
  for (const net of [...netWanted.values()].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    for (const family of [4, 6] as Family[]) {
      if (!families.has(family)) continue;
      const ivs = entriesToIntervals(net.entries, family);
      if (ivs.length === 0) continue;
      // A network of processing units' addresses only is traced to those PUs, which the sandbox
      // already holds on their hosts: nothing stands in for it.
      if (networkPart(model, net, family).external.length === 0) continue;
      const rep = representative(model, net, family, ivs, taken);
      if (!rep) {
        diagnostics.push(makeDiagnostic('warning', CODES.NO_REPRESENTATIVE, `External network "${net.name}" admits no IPv${family} address a sandbox host can use`,
          'Expectations toward it are not checkable live.', net.pos));
        continue;
      }
      const existing = external.get(rep.address);
      if (existing) existing.networks.push(net.name);
      else external.set(rep.address, { address: rep.address, family, networks: [net.name], ...(rep.note ? { note: rep.note } : {}) });
      taken.add(rep.address);
    }
  }
  if (diagnostics.some((d) => d.severity === 'error')) return { diagnostics };

  hosts.forEach((h, i) => {
    h.bridgePort = `sbx${i}`;
  });
  const extAddresses = [...external.values()];
  const ext = extAddresses.length > 0 ? { netns: extNs, bridgePort: `sbx${hosts.length}`, addresses: extAddresses } : undefined;

  const portList = [...ports.values()].sort((a, b) => (a.protocol !== b.protocol ? (a.protocol < b.protocol ? -1 : 1) : a.port - b.port));
  const listeners: ListenerSpec[] = [];
  const listenOn = (netns: string, address: string, family: Family, owner: string) => {
    for (const p of portList) {
      listeners.push({ netns, address, family, protocol: p.protocol, port: p.port, banner: banner(owner, `${p.protocol}/${p.port}`) });
    }
  };
  for (const h of hosts) for (const a of h.addresses) listenOn(h.netns, a.address, a.family, a.pu);
  if (ext) for (const a of ext.addresses) listenOn(ext.netns, a.address, a.family, a.networks.join('+') || a.address);

  const body = {
    prefix,
    bridge: { netns: bridgeNs, device: 'br0' as const },
    hosts,
    ...(ext ? { external: ext } : {}),
    ports: portList.map((p) => `${p.protocol}/${p.port}`),
    listeners,
  };
  const digest = createHash('sha256').update(JSON.stringify(body)).digest('hex').slice(0, 16);
  return { plan: { ...body, digest }, diagnostics };
}

/** banner is the listener's answer; only characters socat's EXEC address passes through verbatim. */
function banner(owner: string, port: string): string {
  return `${MARKER} ${owner.replace(/[^A-Za-z0-9._+=-]/g, '_')} ${port}`;
}

function inRange(address: string, family: Family, cidr: string): boolean {
  const iv = cidrToInterval(cidr, family);
  const n = addressToBigint(address, family);
  return iv.start <= n && n <= iv.end;
}

/** Ranges no sandbox host can use as its own unicast address (family-specific). */
const UNUSABLE: Record<Family, string[]> = {
  4: ['0.0.0.0/8', '127.0.0.0/8', '169.254.0.0/16', '224.0.0.0/3', '198.18.0.0/32', '198.19.255.255/32'],
  6: ['::/127', '::ffff:0:0/96', 'fe80::/10', 'ff00::/8', '2001:2::/128'],
};
const DOC: Record<Family, string[]> = { 4: ['203.0.113.1', '198.51.100.1', '192.0.2.1'], 6: ['2001:db8::1'] };

function unusableInterval(n: bigint, family: Family): Interval | undefined {
  for (const c of UNUSABLE[family]) {
    const iv = cidrToInterval(c, family);
    if (iv.start <= n && n <= iv.end) return iv;
  }
  return undefined;
}

/** usable says whether a host can hold `address` and other hosts can send to it. */
export function usable(address: string, family: Family, taken: ReadonlySet<string> = new Set()): boolean {
  return !taken.has(address) && unusableInterval(addressToBigint(address, family), family) === undefined;
}

/** representative picks the address standing for `net` in `family` (see the module comment). */
export function representative(
  model: Model,
  net: ExternalNetwork,
  family: Family,
  ivs: readonly Interval[] = entriesToIntervals(net.entries, family),
  taken: ReadonlySet<string> = new Set(),
): { address: string; note?: string } | undefined {
  const traced = endpointAddress(model, { kind: 'external_network', written: net.name, network: net }, family).address;
  if (usable(traced, family, taken)) return { address: traced };
  const admitted = (a: string) => {
    const n = addressToBigint(a, family);
    return ivs.some((iv) => iv.start <= n && n <= iv.end);
  };
  const why = `the trace's representative ${traced} cannot be a host's address`;
  for (const d of DOC[family]) {
    if (admitted(d) && usable(d, family, taken)) return { address: d, note: `${why}; ${d} is a documentation address the network admits` };
  }
  for (const iv of ivs) {
    let n = iv.start;
    for (let guard = 0; n <= iv.end && guard < 10_000; guard++) {
      const bad = unusableInterval(n, family);
      if (bad) {
        n = bad.end + 1n;
        continue;
      }
      const a = bigintToAddress(n, family);
      if (!taken.has(a)) return { address: a, note: `${why}; ${a} is the first usable address the network admits` };
      n += 1n;
    }
  }
  return undefined;
}
