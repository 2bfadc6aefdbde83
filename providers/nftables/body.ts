/**
 * The normal form of what an nftables rule does (LiveChain.rules), built from two sides that must
 * agree: the `expr` array `nft -j list` gives back for a kernel rule (bodyOfExpr), and the IR rule
 * the renderer writes (bodyOfRule). Plan compares the two, so a rule whose `microseg:<id>` comment
 * was kept while its match or verdict was replaced (`nft replace rule ... accept comment ...`) is
 * drift, not "no changes".
 *
 * The form is a list of statements, `; `-joined, with the spellings nft varies between listings
 * folded to one: protocols, ICMP types and codes as numbers (nft prints names back for what the
 * renderer writes as numbers), sets of values sorted, addresses as canonical CIDRs. Left out on
 * both sides: the comment (it is the id), `counter` statements and their values (they never change
 * what a rule does, so they are never drift), and `meta nfproto` matches, because nft drops them from a listing wherever a
 * later expression implies the family (`meta nfproto ipv6 icmpv6 type 128` lists back as
 * `icmpv6 type echo-request`, and even `meta nfproto ipv4 meta l4proto tcp reject with tcp reset`
 * lists back without it on nft 1.0.6), so whether they show depends on the nft version, not on the
 * rule. What nft lists that microseg never writes is kept as its JSON, which never equals a body
 * built from the IR: an unknown statement is always a difference.
 */
import type { Family, Rule } from '../../src/compile/ir';
import type { PortRange } from '../../src/model/types';
import { OTHER_PROTOCOLS } from '../../src/model/protocols';
import { normaliseCidr } from '../common';
import { nftName } from './names';

type Json = Record<string, unknown>;

/** PROTO_NUMBERS: the protocol names nft lists (`meta l4proto gre`), with their numbers. */
const PROTO_NUMBERS: Readonly<Record<string, number>> = { ...OTHER_PROTOCOLS, icmp: 1, tcp: 6, udp: 17, 'ipv6-icmp': 58, icmpv6: 58 };

/** ICMP type and code names nft prints (src/proto.c of nftables), with their numbers. */
const ICMP_TYPES: Readonly<Record<string, number>> = {
  'echo-reply': 0, 'destination-unreachable': 3, 'source-quench': 4, redirect: 5, 'echo-request': 8, 'router-advertisement': 9,
  'router-solicitation': 10, 'time-exceeded': 11, 'parameter-problem': 12, 'timestamp-request': 13, 'timestamp-reply': 14,
  'info-request': 15, 'info-reply': 16, 'address-mask-request': 17, 'address-mask-reply': 18,
};
const ICMPV6_TYPES: Readonly<Record<string, number>> = {
  'destination-unreachable': 1, 'packet-too-big': 2, 'time-exceeded': 3, 'parameter-problem': 4, 'echo-request': 128,
  'echo-reply': 129, 'mld-listener-query': 130, 'mld-listener-report': 131, 'mld-listener-done': 132, 'mld-listener-reduction': 132,
  'nd-router-solicit': 133, 'nd-router-advert': 134, 'nd-neighbor-solicit': 135, 'nd-neighbor-advert': 136, 'nd-redirect': 137,
  'router-renumbering': 138, 'ind-neighbor-solicit': 141, 'ind-neighbor-advert': 142, 'mld2-listener-report': 143,
};
const ICMP_CODES: Readonly<Record<string, number>> = {
  'net-unreachable': 0, 'host-unreachable': 1, 'prot-unreachable': 2, 'port-unreachable': 3, 'frag-needed': 4,
  'net-prohibited': 9, 'host-prohibited': 10, 'admin-prohibited': 13,
};
const ICMPV6_CODES: Readonly<Record<string, number>> = {
  'no-route': 0, 'admin-prohibited': 1, 'addr-unreachable': 3, 'port-unreachable': 4, 'policy-fail': 5, 'reject-route': 6,
};

/** bodyOfExpr is the normal form of a listed rule's `expr` array (see the module comment). */
export function bodyOfExpr(expr: unknown): string {
  if (!Array.isArray(expr)) return `?${JSON.stringify(expr)}`;
  const out: string[] = [];
  for (const st of expr as unknown[]) {
    const s = statementOf(st);
    if (s) out.push(s);
  }
  return out.join('; ');
}

function statementOf(st: unknown): string | undefined {
  if (!st || typeof st !== 'object') return `?${JSON.stringify(st)}`;
  const o = st as Json;
  const keys = Object.keys(o);
  if (keys.length !== 1) return `?${JSON.stringify(st)}`;
  const k = keys[0];
  const v = o[k];
  switch (k) {
    case 'accept':
    case 'drop':
    case 'return':
      return v === null ? k : `?${JSON.stringify(st)}`;
    case 'jump':
      return `jump ${String((v as Json)?.target)}`;
    case 'counter':
      // Counters never change what a rule does; their values (and whether a rule counts) are not drift.
      return '';
    case 'reject': {
      const r = (v ?? {}) as Json;
      if (r.type === 'tcp reset') return 'reject tcp-reset';
      // The inet family's default (`reject`) lists back as icmp/icmpv6/icmpx port-unreachable,
      // depending on what the rule's other expressions imply.
      if (v === null || (['icmp', 'icmpv6', 'icmpx'].includes(String(r.type)) && r.expr === 'port-unreachable')) return 'reject';
      return `?${JSON.stringify(st)}`;
    }
    case 'limit': {
      // A log rule's rate limit (flows): `limit rate R/second burst B packets` lists back as
      // {rate, burst, per} (a `unit` only for byte limits, which microseg never writes).
      const l = (v ?? {}) as Json;
      if (l.unit !== undefined && l.unit !== 'packets') return `?${JSON.stringify(st)}`;
      if (l.inv) return `?${JSON.stringify(st)}`;
      return `limit rate=${String(l.rate)}/${String(l.per)} burst=${String(l.burst ?? 5)}`;
    }
    case 'log': {
      const l = (v ?? {}) as Json;
      return `log ${Object.keys(l).sort().map((x) => `${x}=${String(l[x])}`).join(' ')}`;
    }
    case 'match':
      return matchOf(v as Json) ?? `?${JSON.stringify(st)}`;
    default:
      return `?${JSON.stringify(st)}`;
  }
}

/** matchOf is one `match` statement in normal form; '' drops it (meta nfproto); undefined: not one microseg writes. */
function matchOf(m: Json): string | undefined {
  const op = String(m.op);
  const left = m.left as Json | undefined;
  const right = m.right;
  if (!left || typeof left !== 'object') return undefined;
  if (left.meta) {
    const key = String((left.meta as Json).key);
    if (key === 'nfproto') return '';
    if (key === 'l4proto') return `l4proto ${op} ${values(right, (x) => protoNumber(x))}`;
    if (key === 'iifname' || key === 'oifname') return `${key} ${op} ${String(right)}`;
    return undefined;
  }
  if (left.ct) {
    if ((left.ct as Json).key !== 'state') return undefined;
    // nft lists `ct state x` with op "in" (a bitmask test) and some versions "=="; same meaning.
    return `ct state ${values(right, (x) => String(x))}`;
  }
  if (left.payload) {
    const p = left.payload as Json;
    const proto = String(p.protocol);
    const field = String(p.field);
    if ((proto === 'ip' || proto === 'ip6') && (field === 'saddr' || field === 'daddr')) {
      const r = typeof right === 'string' && right.startsWith('@') ? right : addrOf(right);
      return r === undefined ? undefined : `${proto} ${field} ${op} ${r}`;
    }
    if ((proto === 'tcp' || proto === 'udp') && field === 'dport') return `${proto} dport ${op} ${values(right, Number)}`;
    if (proto === 'icmp' || proto === 'icmpv6') {
      const names = field === 'type' ? (proto === 'icmp' ? ICMP_TYPES : ICMPV6_TYPES) : proto === 'icmp' ? ICMP_CODES : ICMPV6_CODES;
      if (field !== 'type' && field !== 'code') return undefined;
      return `${proto} ${field} ${op} ${values(right, (x) => (typeof x === 'string' && x in names ? names[x] : x))}`;
    }
  }
  return undefined;
}

function protoNumber(x: unknown): unknown {
  return typeof x === 'string' && x in PROTO_NUMBERS ? PROTO_NUMBERS[x] : x;
}

/** values renders a match's right side (one value, a range, a list or an anonymous set) as sorted `a,b-c`. */
function values(right: unknown, conv: (x: unknown) => unknown): string {
  const items = Array.isArray(right) ? right : right && typeof right === 'object' && Array.isArray((right as Json).set) ? ((right as Json).set as unknown[]) : [right];
  return items
    .map((it) => {
      if (it && typeof it === 'object' && Array.isArray((it as Json).range)) {
        const [a, b] = (it as Json).range as unknown[];
        return `${String(conv(a))}-${String(conv(b))}`;
      }
      return String(conv(it));
    })
    .sort(byValue)
    .join(',');
}

function byValue(a: string, b: string): number {
  const na = Number.parseInt(a, 10);
  const nb = Number.parseInt(b, 10);
  if (!Number.isNaN(na) && !Number.isNaN(nb) && na !== nb) return na - nb;
  return a < b ? -1 : a > b ? 1 : 0;
}

function addrOf(right: unknown): string | undefined {
  try {
    if (typeof right === 'string') return normaliseCidr(right);
    const p = (right as Json | undefined)?.prefix as Json | undefined;
    if (p) return normaliseCidr(`${String(p.addr)}/${Number(p.len)}`);
  } catch {
    return undefined;
  }
  return undefined;
}

/**
 * bodyOfRule is the normal form of IR rule `rule` of family `fam` (its own, or undefined for
 * both), statement for statement what render.ts writes, as nft lists it back.
 */
export function bodyOfRule(rule: Rule, fam: Family | undefined): string {
  const m = rule.match;
  const out: string[] = [];
  const ip = fam === 6 ? 'ip6' : 'ip';
  const iface = (p: string) => (p.endsWith('+') ? `${p.slice(0, -1)}*` : p);
  if (m.iif !== undefined) out.push(`iifname == ${iface(m.iif)}`);
  if (m.oif !== undefined) out.push(`oifname == ${iface(m.oif)}`);
  if (m.ctState && m.ctState.length > 0) out.push(`ct state ${[...m.ctState].sort().join(',')}`);
  if (m.srcSet) out.push(`${ip} saddr ${m.srcSet.negate ? '!=' : '=='} @${nftName(m.srcSet.set)}`);
  if (m.dstSet) out.push(`${ip} daddr ${m.dstSet.negate ? '!=' : '=='} @${nftName(m.dstSet.set)}`);
  if (m.srcAddr) out.push(`${ip} saddr == ${normaliseCidr(m.srcAddr)}`);
  if (m.dstAddr) out.push(`${ip} daddr == ${normaliseCidr(m.dstAddr)}`);
  const p = m.protocol;
  if (p === 'tcp' || p === 'udp') {
    out.push(m.dports && m.dports.length > 0 ? `${p} dport == ${ranges(m.dports)}` : `l4proto == ${PROTO_NUMBERS[p]}`);
  } else if (p === 'icmp' || p === 'icmpv6') {
    if (m.icmpType === undefined) out.push(`l4proto == ${PROTO_NUMBERS[p]}`);
    else {
      out.push(`${p} type == ${m.icmpType}`);
      if (m.icmpCodes && m.icmpCodes.length > 0) out.push(`${p} code == ${ranges(m.icmpCodes)}`);
    }
  } else if (p !== undefined) out.push(`l4proto == ${/^\d+$/.test(p) ? Number(p) : (OTHER_PROTOCOLS[p] ?? p)}`);
  const v = rule.verdict;
  switch (v.kind) {
    case 'reject':
      out.push(p === 'tcp' ? 'reject tcp-reset' : 'reject');
      break;
    case 'jump':
      out.push(`jump ${nftName(v.chain)}`);
      break;
    case 'log':
      if (v.limit) out.push(`limit rate=${v.limit.perSecond}/second burst=${v.limit.burst}`);
      out.push(`log group=${v.group} prefix=${v.prefix}`);
      break;
    default:
      out.push(v.kind);
  }
  return out.join('; ');
}

function ranges(rs: readonly PortRange[]): string {
  return rs
    .map((r) => (r.from === r.to ? String(r.from) : `${r.from}-${r.to}`))
    .sort(byValue)
    .join(',');
}

/**
 * listedExpr is the `expr` array nft 1.0.6 lists in JSON for IR rule `rule` of family `fam` as
 * render.ts writes it: implied `meta nfproto` dropped, `ct state` with op "in", several values as
 * {set}, a range as {range}. The fake firewall lists its rules with it and the byte benchmark
 * simulates a read with it; the real-kernel suites check the reader against nft itself.
 */
export function listedExpr(rule: Rule, fam: Family | undefined): unknown[] {
  const m = rule.match;
  const out: unknown[] = [];
  const match = (left: unknown, right: unknown, op = '==') => out.push({ match: { op, left, right } });
  const ip = fam === 6 ? 'ip6' : 'ip';
  const value = (rs: readonly PortRange[]) => {
    const items = rs.map((x) => (x.from === x.to ? x.from : { range: [x.from, x.to] }));
    return items.length === 1 ? items[0] : { set: items };
  };
  const addr = (a: string) => {
    const [host, len] = a.split('/');
    return len === undefined || Number(len) === (a.includes(':') ? 128 : 32) ? host : { prefix: { addr: host, len: Number(len) } };
  };
  const iface = (x: string) => (x.endsWith('+') ? `${x.slice(0, -1)}*` : x);
  if (m.iif !== undefined) match({ meta: { key: 'iifname' } }, iface(m.iif));
  if (m.oif !== undefined) match({ meta: { key: 'oifname' } }, iface(m.oif));
  if (m.ctState?.length) match({ ct: { key: 'state' } }, m.ctState.length === 1 ? m.ctState[0] : [...m.ctState], 'in');
  if (m.srcSet) match({ payload: { protocol: ip, field: 'saddr' } }, `@${nftName(m.srcSet.set)}`, m.srcSet.negate ? '!=' : '==');
  if (m.dstSet) match({ payload: { protocol: ip, field: 'daddr' } }, `@${nftName(m.dstSet.set)}`, m.dstSet.negate ? '!=' : '==');
  if (m.srcAddr) match({ payload: { protocol: ip, field: 'saddr' } }, addr(m.srcAddr));
  if (m.dstAddr) match({ payload: { protocol: ip, field: 'daddr' } }, addr(m.dstAddr));
  const p = m.protocol;
  if ((p === 'tcp' || p === 'udp') && m.dports?.length) match({ payload: { protocol: p, field: 'dport' } }, value(m.dports));
  else if ((p === 'icmp' || p === 'icmpv6') && m.icmpType !== undefined) {
    match({ payload: { protocol: p, field: 'type' } }, m.icmpType);
    if (m.icmpCodes?.length) match({ payload: { protocol: p, field: 'code' } }, value(m.icmpCodes));
  } else if (p !== undefined) match({ meta: { key: 'l4proto' } }, p === 'icmpv6' ? 'ipv6-icmp' : p);
  const v = rule.verdict;
  if (v.kind === 'jump') out.push({ jump: { target: nftName(v.chain) } });
  else if (v.kind === 'log') {
    if (v.limit) out.push({ limit: { rate: v.limit.perSecond, burst: v.limit.burst, per: 'second' } });
    out.push({ log: { prefix: v.prefix, group: v.group } });
  }
  else if (v.kind === 'reject') out.push({ reject: p === 'tcp' ? { type: 'tcp reset' } : null });
  else out.push({ [v.kind]: null });
  return out;
}
