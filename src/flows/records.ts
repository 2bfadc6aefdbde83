/**
 * Flow records: the collector's JSON lines (ulogd2 JSON output) resolved against the
 * configuration. Pure.
 *
 * A record's NFLOG prefix (src/compile/names.ts logPrefix) is `mseg:<hash8>:<tag>:<i|o>`: the hash
 * names a policy (policyHash) or a namespace default (defaultHash), the tag the verdict, the last
 * letter the side that logged it. Addresses resolve to the PU holding them, else to the most
 * specific external network admitting them, else stay bare.
 */
import type { Model } from '../model/types';
import { defaultHash, policyHash } from '../compile/names';
import { addressFamily, cidrsContain, entriesToCidrs } from '../model/intervals';
import { policyLabel } from './stats';

/** FlowVerdict: what the logging rule did, or (would-…) what it would have done in observation / audit mode. */
export type FlowVerdict = 'allow' | 'reject' | 'continue' | 'would-allow' | 'would-reject' | 'would-continue';

/** FlowRecord is one logged connection attempt. */
export interface FlowRecord {
  time: string;
  enforcer: string;
  /** The side that logged it: `outgoing` (the client's egress) or `incoming` (the server's ingress). */
  direction: 'incoming' | 'outgoing';
  src: string;
  src_identity?: string;
  dst: string;
  dst_identity?: string;
  protocol: string;
  /** Destination port (tcp/udp), ICMP type otherwise. */
  port?: number;
  verdict: FlowVerdict;
  /** `/ns network_policy.name`, or `default of namespace /ns`. */
  policy: string;
  /** Whether the namespace default (not a policy) logged it. */
  default: boolean;
  /** The kernel's sequence number of the record on this host's collector (gaps are lost records). */
  seq?: number;
}

const TAGS: Record<string, { verdict: FlowVerdict; default: boolean }> = {
  A: { verdict: 'allow', default: false },
  R: { verdict: 'reject', default: false },
  C: { verdict: 'continue', default: false },
  OA: { verdict: 'would-allow', default: false },
  OR: { verdict: 'would-reject', default: false },
  OC: { verdict: 'would-continue', default: false },
  DA: { verdict: 'allow', default: true },
  DR: { verdict: 'reject', default: true },
  ODR: { verdict: 'would-reject', default: true },
};

const PROTOCOLS: Record<number, string> = { 1: 'icmp', 6: 'tcp', 17: 'udp', 58: 'icmpv6', 132: 'sctp' };

/** FlowIndex resolves prefixes and addresses for one configuration. */
export interface FlowIndex {
  policies: Map<string, string>;
  defaults: Map<string, string>;
  pus: Map<string, string>;
  nets: Array<{ name: string; v4: string[]; v6: string[]; prefix: number }>;
}

/** flowIndex builds the lookups of `model` once. */
export function flowIndex(model: Model): FlowIndex {
  const policies = new Map(model.networkPolicies.map((p) => [policyHash(p), policyLabel(p.name, p.namespace)] as const));
  const namespaces = new Set(['/', ...model.namespaces.map((n) => n.name), ...model.processingUnits.map((p) => p.namespace)]);
  const defaults = new Map([...namespaces].map((ns) => [defaultHash(ns), `default of namespace ${ns}`] as const));
  const pus = new Map<string, string>();
  for (const pu of model.processingUnits) for (const a of pu.addresses) pus.set(a.replace(/\/(32|128)$/, ''), pu.name);
  const nets = model.externalNetworks.map((n) => {
    const v4 = entriesToCidrs(n.entries, 4);
    const v6 = entriesToCidrs(n.entries, 6);
    // Most specific first: the narrowest positive entry of the network.
    const prefix = Math.max(0, ...n.entries.filter((e) => !e.exclude).map((e) => Number(e.cidr.split('/')[1] ?? 0)));
    return { name: n.name, v4, v6, prefix };
  });
  nets.sort((a, b) => b.prefix - a.prefix || (a.name < b.name ? -1 : 1));
  return { policies, defaults, pus, nets };
}

/** identityOf names an address: its PU, else an external network admitting it (the most specific), else undefined. */
export function identityOf(ix: FlowIndex, addr: string): string | undefined {
  const pu = ix.pus.get(addr);
  if (pu) return pu;
  const f = addressFamily(addr);
  if (f === undefined) return undefined;
  return ix.nets.find((n) => cidrsContain(f === 4 ? n.v4 : n.v6, addr))?.name;
}

/** parseRecord turns one ulogd JSON line into a FlowRecord, or undefined when it is not a microseg record. */
export function parseRecord(ix: FlowIndex, enforcer: string, line: string): FlowRecord | undefined {
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const m = /^mseg:([0-9a-f]{8}):([A-Z]+):([io])$/.exec(String(j['oob.prefix'] ?? ''));
  if (!m) return undefined;
  const [, hash, tag, dir] = m;
  const t = TAGS[tag];
  if (!t) return undefined;
  const policy = (t.default ? ix.defaults.get(hash) : ix.policies.get(hash)) ?? `unknown ${t.default ? 'default' : 'policy'} ${hash}`;
  const src = String(j.src_ip ?? '');
  const dst = String(j.dest_ip ?? '');
  const protoNum = Number(j['ip.protocol'] ?? j['ip6.nexthdr']);
  const protocol = PROTOCOLS[protoNum] ?? String(protoNum);
  const port = typeof j.dest_port === 'number' ? j.dest_port : typeof j['icmp.type'] === 'number' ? (j['icmp.type'] as number) : typeof j['icmpv6.type'] === 'number' ? (j['icmpv6.type'] as number) : undefined;
  const rec: FlowRecord = {
    time: String(j.timestamp ?? ''),
    enforcer,
    direction: dir === 'i' ? 'incoming' : 'outgoing',
    src,
    dst,
    protocol,
    verdict: t.verdict,
    policy,
    default: t.default,
  };
  const si = identityOf(ix, src);
  const di = identityOf(ix, dst);
  if (si) rec.src_identity = si;
  if (di) rec.dst_identity = di;
  if (port !== undefined) rec.port = port;
  if (typeof j['oob.seq.local'] === 'number') rec.seq = j['oob.seq.local'] as number;
  return rec;
}

/**
 * lostBySequence counts records missing from a host's numbered sequence (the kernel numbers each
 * record of the collector's instance; a gap is a record the kernel could not deliver, ENOBUFS).
 * `seqs` are in file order; a restart of the collector starts again at 0.
 */
export function lostBySequence(seqs: readonly number[]): number {
  let lost = 0;
  for (let i = 1; i < seqs.length; i++) {
    const gap = seqs[i] - seqs[i - 1] - 1;
    if (gap > 0) lost += gap;
  }
  return lost;
}

/** flowLine is the human rendering of a record: `time src(identity) → dst(identity) proto/port verdict policy [enforcer direction]`. */
export function flowLine(r: FlowRecord): string {
  const who = (a: string, id?: string) => (id ? `${a}(${id})` : a);
  const port = r.port !== undefined ? `${r.protocol}/${r.port}` : r.protocol;
  return `${r.time} ${who(r.src, r.src_identity)} → ${who(r.dst, r.dst_identity)} ${port} ${r.verdict} ${r.policy} [${r.enforcer} ${r.direction}]`;
}
