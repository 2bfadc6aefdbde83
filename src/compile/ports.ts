/**
 * Port specs: a canonical, set-like form of a service-port list (DESIGN §4 "Service ports"),
 * with exact intersection (policy `ports` ∩ external network `service_ports`) and conversion to
 * IR match fragments. Nothing is ever widened: ICMP types and code ranges stay exact, icmp is
 * IPv4-only and icmp6 IPv6-only.
 */
import type { PortRange, ServicePort } from '../model/types';
import type { Family, Match } from './ir';

/** IcmpSpec: `all` = every type; otherwise the listed types, each with code ranges or every code. */
export interface IcmpSpec {
  all: boolean;
  types: Array<{ type: number; codes?: PortRange[] }>;
}

/** PortSpec is a normalised service-port list; `any` means no constraint at all. */
export interface PortSpec {
  any: boolean;
  tcp: PortRange[];
  udp: PortRange[];
  icmp: IcmpSpec;
  icmp6: IcmpSpec;
  protos: string[];
}

const noIcmp = (): IcmpSpec => ({ all: false, types: [] });

/** ANY_SPEC is the spec of an empty list or `any`. */
export const ANY_SPEC: PortSpec = Object.freeze({
  any: true,
  tcp: [],
  udp: [],
  icmp: noIcmp(),
  icmp6: noIcmp(),
  protos: [],
}) as PortSpec;

/** mergeRanges sorts and unions inclusive ranges, joining overlapping and adjacent ones. */
export function mergeRanges(rs: readonly PortRange[]): PortRange[] {
  const sorted = [...rs].sort((a, b) => a.from - b.from || a.to - b.to);
  const out: PortRange[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.from <= last.to + 1) last.to = Math.max(last.to, r.to);
    else out.push({ from: r.from, to: r.to });
  }
  return out;
}

/** intersectRanges intersects two unions of ranges. */
export function intersectRanges(a: readonly PortRange[], b: readonly PortRange[]): PortRange[] {
  const out: PortRange[] = [];
  for (const x of mergeRanges(a))
    for (const y of mergeRanges(b)) {
      const from = Math.max(x.from, y.from);
      const to = Math.min(x.to, y.to);
      if (from <= to) out.push({ from, to });
    }
  return mergeRanges(out);
}

function normIcmp(s: IcmpSpec): IcmpSpec {
  if (s.all) return { all: true, types: [] };
  const byType = new Map<number, PortRange[] | undefined>();
  for (const t of s.types) {
    if (byType.has(t.type) && byType.get(t.type) === undefined) continue;
    if (t.codes === undefined) byType.set(t.type, undefined);
    else byType.set(t.type, [...(byType.get(t.type) ?? []), ...t.codes]);
  }
  return {
    all: false,
    types: [...byType.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([type, codes]) => (codes === undefined ? { type } : { type, codes: mergeRanges(codes) })),
  };
}

/** specFromServicePorts normalises a list; empty or containing `any` means ANY_SPEC. */
export function specFromServicePorts(list: readonly ServicePort[]): PortSpec {
  if (list.length === 0 || list.some((p) => p.kind === 'any')) return ANY_SPEC;
  const spec: PortSpec = { any: false, tcp: [], udp: [], icmp: noIcmp(), icmp6: noIcmp(), protos: [] };
  for (const p of list) {
    switch (p.kind) {
      case 'any':
        break;
      case 'l4':
        spec[p.protocol].push(p.ports);
        break;
      case 'icmp': {
        const target = spec[p.protocol];
        if (p.type === undefined) target.all = true;
        else target.types.push(p.codes === undefined ? { type: p.type } : { type: p.type, codes: p.codes });
        break;
      }
      case 'proto':
        spec.protos.push(p.protocol.toLowerCase());
        break;
      default: {
        const never: never = p;
        throw new Error(`unknown service port ${JSON.stringify(never)}`);
      }
    }
  }
  return {
    any: false,
    tcp: mergeRanges(spec.tcp),
    udp: mergeRanges(spec.udp),
    icmp: normIcmp(spec.icmp),
    icmp6: normIcmp(spec.icmp6),
    protos: [...new Set(spec.protos)].sort(),
  };
}

function intersectIcmp(a: IcmpSpec, b: IcmpSpec): IcmpSpec {
  if (a.all) return b;
  if (b.all) return a;
  const types: IcmpSpec['types'] = [];
  for (const x of a.types) {
    const y = b.types.find((t) => t.type === x.type);
    if (!y) continue;
    if (x.codes === undefined) types.push(y);
    else if (y.codes === undefined) types.push(x);
    else {
      const codes = intersectRanges(x.codes, y.codes);
      if (codes.length > 0) types.push({ type: x.type, codes });
    }
  }
  return { all: false, types };
}

/** intersectSpecs is the exact intersection of two specs (a connection allowed by both). */
export function intersectSpecs(a: PortSpec, b: PortSpec): PortSpec {
  if (a.any) return b;
  if (b.any) return a;
  return {
    any: false,
    tcp: intersectRanges(a.tcp, b.tcp),
    udp: intersectRanges(a.udp, b.udp),
    icmp: intersectIcmp(a.icmp, b.icmp),
    icmp6: intersectIcmp(a.icmp6, b.icmp6),
    protos: a.protos.filter((p) => b.protos.includes(p)),
  };
}

/** isEmptySpec says whether a spec admits no connection at all. */
export function isEmptySpec(s: PortSpec): boolean {
  return (
    !s.any &&
    s.tcp.length === 0 &&
    s.udp.length === 0 &&
    !s.icmp.all &&
    s.icmp.types.length === 0 &&
    !s.icmp6.all &&
    s.icmp6.types.length === 0 &&
    s.protos.length === 0
  );
}

/** specKey is a canonical string of a spec, for grouping and hashing. */
export function specKey(s: PortSpec): string {
  return specText(s);
}

const rangeText = (r: PortRange): string => (r.from === r.to ? `${r.from}` : `${r.from}:${r.to}`);

function icmpText(proto: string, s: IcmpSpec): string[] {
  if (s.all) return [proto];
  return s.types.map((t) => (t.codes ? `${proto}/${t.type}/${t.codes.map(rangeText).join(',')}` : `${proto}/${t.type}`));
}

/** specText renders a spec in service-port grammar, e.g. `tcp/80,tcp/443` or `any` (for messages). */
export function specText(s: PortSpec): string {
  if (s.any) return 'any';
  const parts = [
    ...s.tcp.map((r) => `tcp/${rangeText(r)}`),
    ...s.udp.map((r) => `udp/${rangeText(r)}`),
    ...icmpText('icmp', s.icmp),
    ...icmpText('icmp6', s.icmp6),
    ...s.protos,
  ];
  return parts.length === 0 ? 'none' : parts.join(',');
}

/** MatchFragment is the protocol part of a Match; `family` is set for icmp (4) and icmpv6 (6). */
export type MatchFragment = Pick<Match, 'family' | 'protocol' | 'dports' | 'icmpType' | 'icmpCodes'>;

/**
 * specToFragments lists the protocol matches a spec needs, one rule each: all tcp ranges in one
 * `dports` list, likewise udp, one per ICMP type (or one for all of ICMP), one per other protocol.
 * ANY_SPEC is one empty fragment. `family` restricts to fragments usable with that family's
 * addresses (icmp needs 4, icmpv6 needs 6); undefined keeps all.
 */
export function specToFragments(s: PortSpec, family?: Family): MatchFragment[] {
  if (s.any) return [{}];
  const out: MatchFragment[] = [];
  if (s.tcp.length > 0) out.push({ protocol: 'tcp', dports: s.tcp });
  if (s.udp.length > 0) out.push({ protocol: 'udp', dports: s.udp });
  const icmp = (spec: IcmpSpec, protocol: 'icmp' | 'icmpv6', fam: Family): void => {
    if (spec.all) out.push({ family: fam, protocol });
    else
      for (const t of spec.types)
        out.push(t.codes ? { family: fam, protocol, icmpType: t.type, icmpCodes: t.codes } : { family: fam, protocol, icmpType: t.type });
  };
  icmp(s.icmp, 'icmp', 4);
  icmp(s.icmp6, 'icmpv6', 6);
  for (const p of s.protos) out.push({ protocol: p });
  return family === undefined ? out : out.filter((f) => f.family === undefined || f.family === family);
}
