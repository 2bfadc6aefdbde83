/**
 * Hand-built IR fixtures for the real-kernel and golden tests (they do not depend on compile).
 *
 * The enforcer host `srv` runs one PU, `web`, at 198.18.0.10 / 2001:2::10. `peer`
 * (198.18.0.20 / 2001:2::20) is in the peer sets; `other` (198.18.0.40 / 2001:2::40) is not, and
 * sits inside the excluded part 198.18.0.32/27 of the "world" set. See harness.ts for addressing.
 */
import type { AddressSet, Chain, DesiredRuleset, Rule } from '../../src/compile/ir';
import { addrToBig, bigToAddr, rangeToCidrs } from '../../providers/common';

export const ADDR = {
  srv4: '198.18.0.10',
  peer4: '198.18.0.20',
  other4: '198.18.0.40',
  srv6: '2001:2::10',
  peer6: '2001:2::20',
  other6: '2001:2::40',
} as const;

export const NODES = [
  { name: 'srv', v4: ADDR.srv4, v6: ADDR.srv6 },
  { name: 'peer', v4: ADDR.peer4, v6: ADDR.peer6 },
  { name: 'other', v4: ADDR.other4, v6: ADDR.other6 },
];

/** EXCLUDED is cut out of the world set; `other` lives in it. */
export const EXCLUDED = '198.18.0.32/27';

/** minusCidr returns the disjoint CIDRs of `whole` (one CIDR) without `hole` (inside it). */
export function minusCidr(whole: string, hole: string): string[] {
  const span = (c: string) => {
    const [a, l] = c.split('/');
    const { family, value } = addrToBig(a);
    const bits = family === 4 ? 32 : 128;
    const size = 1n << BigInt(bits - Number(l));
    return { family, lo: value, hi: value + size - 1n };
  };
  const w = span(whole);
  const h = span(hole);
  if (h.hi < w.lo || h.lo > w.hi) return [whole];
  const out: string[] = [];
  if (h.lo > w.lo) out.push(...rangeToCidrs(bigToAddr(w.family, w.lo), bigToAddr(w.family, h.lo - 1n)));
  if (h.hi < w.hi) out.push(...rangeToCidrs(bigToAddr(w.family, h.hi + 1n), bigToAddr(w.family, w.hi)));
  return out;
}

/** WORLD_V4 is "0.0.0.0/0 except 198.18.0.32/27", carried as 0.0.0.0/1 + 128.0.0.0/1 minus the hole. */
export const WORLD_V4 = ['0.0.0.0/1', ...minusCidr('128.0.0.0/1', EXCLUDED)];

const acc = { kind: 'accept' } as const;
const rej = { kind: 'reject' } as const;
const web = { kind: 'policy', policy: 'web', namespace: '/test' } as const;

/** MULTI_PORTS: 17 single ports, past iptables' 15-port multiport limit (forces a split). */
export const MULTI_PORTS = Array.from({ length: 17 }, (_, i) => 20001 + i);

/** webFixture is the full DesiredRuleset for enforcer `srv` (see the file comment). */
export function webFixture(): DesiredRuleset {
  const sets: AddressSet[] = [
    { name: 'peers-v4', family: 4, elements: [`${ADDR.peer4}/32`], comment: 'pus matching role=client' },
    { name: 'peers-v6', family: 6, elements: [`${ADDR.peer6}/128`], comment: 'pus matching role=client' },
    { name: 'world-v4', family: 4, elements: WORLD_V4, comment: 'extnet world' },
  ];
  const inRules: Rule[] = [
    { id: 'in-lo', match: { iif: 'lo' }, verdict: acc, origin: { kind: 'loopback' } },
    { id: 'in-est', match: { ctState: ['established', 'related'] }, verdict: acc, origin: { kind: 'established' } },
    { id: 'in-web4', match: { dstAddr: ADDR.srv4 }, verdict: { kind: 'jump', chain: 'pu-web-in' }, origin: { kind: 'dispatch', pu: 'web' } },
    { id: 'in-web6', match: { dstAddr: ADDR.srv6 }, verdict: { kind: 'jump', chain: 'pu-web-in' }, origin: { kind: 'dispatch', pu: 'web' } },
  ];
  const outRules: Rule[] = [
    { id: 'out-lo', match: { oif: 'lo' }, verdict: acc, origin: { kind: 'loopback' } },
    { id: 'out-est', match: { ctState: ['established', 'related'] }, verdict: acc, origin: { kind: 'established' } },
    { id: 'out-web4', match: { srcAddr: ADDR.srv4 }, verdict: { kind: 'jump', chain: 'pu-web-out' }, origin: { kind: 'dispatch', pu: 'web' } },
    { id: 'out-web6', match: { srcAddr: ADDR.srv6 }, verdict: { kind: 'jump', chain: 'pu-web-out' }, origin: { kind: 'dispatch', pu: 'web' } },
  ];
  // IPv6 neighbour discovery is not tracked by conntrack, so it never matches `established`;
  // without these, a default reject breaks IPv6 reachability of the PU itself.
  const ndp = (prefix: string): Rule[] => [
    { id: `${prefix}-nd-ns`, match: { protocol: 'icmpv6', icmpType: 135 }, verdict: acc },
    { id: `${prefix}-nd-na`, match: { protocol: 'icmpv6', icmpType: 136 }, verdict: acc },
  ];
  const peers4 = { set: 'peers-v4' };
  const webIn: Rule[] = [
    ...ndp('w'),
    { id: 'w-ping', match: { srcSet: peers4, protocol: 'icmp', icmpType: 8, icmpCodes: [{ from: 0, to: 0 }] }, verdict: acc, origin: web },
    { id: 'w-ping6', match: { srcSet: { set: 'peers-v6' }, protocol: 'icmpv6', icmpType: 128 }, verdict: acc, origin: web },
    { id: 'w-unreach', match: { srcSet: peers4, protocol: 'icmp', icmpType: 3, icmpCodes: [{ from: 0, to: 4 }, { from: 13, to: 13 }] }, verdict: acc, origin: web },
    { id: 'w-rej9000', match: { srcSet: peers4, protocol: 'tcp', dports: [{ from: 9000, to: 9000 }] }, verdict: rej, origin: web },
    { id: 'w-acc9000', match: { srcSet: peers4, protocol: 'tcp', dports: [{ from: 9000, to: 9000 }] }, verdict: acc, origin: web },
    { id: 'w-range', match: { srcSet: peers4, protocol: 'tcp', dports: [{ from: 8000, to: 8100 }] }, verdict: acc, origin: web },
    { id: 'w-multi', match: { srcSet: peers4, protocol: 'tcp', dports: MULTI_PORTS.map((p) => ({ from: p, to: p })) }, verdict: acc, origin: web },
    { id: 'w-world', match: { srcSet: { set: 'world-v4' }, protocol: 'tcp', dports: [{ from: 7000, to: 7000 }] }, verdict: acc, origin: web },
    { id: 'w-log-udp', match: { srcSet: peers4, protocol: 'udp', dports: [{ from: 5353, to: 5353 }] }, verdict: { kind: 'log', group: 7, prefix: 'microseg web udp ' }, origin: web },
    { id: 'w-udp', match: { srcSet: peers4, protocol: 'udp', dports: [{ from: 5353, to: 5353 }] }, verdict: acc, origin: web },
    { id: 'w-v6tcp', match: { srcSet: { set: 'peers-v6' }, protocol: 'tcp', dports: [{ from: 8080, to: 8080 }] }, verdict: acc, origin: web },
    { id: 'w-gre', match: { srcSet: peers4, protocol: 'gre' }, verdict: acc, origin: web },
    { id: 'w-default', match: {}, verdict: rej, origin: { kind: 'default', namespace: '/test', action: 'reject' } },
  ];
  const webOut: Rule[] = [
    ...ndp('o'),
    { id: 'o-peer', match: { dstSet: peers4, protocol: 'tcp', dports: [{ from: 8443, to: 8443 }] }, verdict: acc, origin: web },
    { id: 'o-default', match: {}, verdict: rej, origin: { kind: 'default', namespace: '/test', action: 'reject' } },
  ];
  const chains: Chain[] = [
    { name: 'in', hook: 'input', rules: inRules },
    { name: 'out', hook: 'output', rules: outRules },
    { name: 'pu-web-in', rules: webIn, comment: 'incoming traffic of PU web' },
    { name: 'pu-web-out', rules: webOut, comment: 'outgoing traffic of PU web' },
  ];
  return { enforcer: 'srv', sets, chains, diagnostics: [] };
}

/**
 * changedFixture is webFixture after a policy change: the world set and the port-7000 rule are
 * gone, and so is the outgoing PU chain (output dispatch now rejects directly). Applying it over
 * webFixture exercises stale chain and stale set removal.
 */
export function changedFixture(): DesiredRuleset {
  const d = webFixture();
  d.sets = d.sets.filter((s) => s.name !== 'world-v4');
  d.chains = d.chains.filter((c) => c.name !== 'pu-web-out');
  const web = d.chains.find((c) => c.name === 'pu-web-in')!;
  web.rules = web.rules.filter((r) => r.id !== 'w-world');
  const out = d.chains.find((c) => c.name === 'out')!;
  out.rules = out.rules.filter((r) => !r.id.startsWith('out-web')).concat([
    { id: 'out-web4-rej', match: { srcAddr: ADDR.srv4, protocol: 'tcp', dports: [{ from: 8443, to: 8443 }] }, verdict: { kind: 'reject' } },
  ]);
  return d;
}
