/**
 * Rule bodies: the normal forms both providers read back (what the kernel lists) and build from
 * the IR (expected()), and compareRules' use of them. The real-kernel proof that both sides agree
 * for every rule shape is test/netns/compiled.test.ts (read-back equals expected()); the property
 * that any single rule deleted or altered is drift is test/netns/rule-property.test.ts.
 */
import type { Rule } from '../../../src/compile/ir';
import { compareRules } from '../../../src/plan/object-diff';
import type { LiveChain } from '../../../providers/types';
import { bodyOfExpr, bodyOfRule } from '../../../providers/nftables/body';
import { iptBody } from '../../../providers/iptables/read';

const chain = (ruleIds: string[], rules?: string[]): LiveChain => ({ name: 'c', ruleIds, foreignRules: 0, ...(rules ? { rules } : {}) });

describe('compareRules with bodies', () => {
  it('an id kept with another verdict is changed (ids alone say nothing)', () => {
    const want = chain(['a', 'b'], ['a ct state established,related; accept', 'b reject']);
    const live = chain(['a', 'b'], ['a ct state established,related; accept', 'b accept']);
    expect(compareRules(want, live)).toEqual({ added: [], removed: [], reordered: false, changed: ['b'] });
    expect(compareRules(chain(['a', 'b']), chain(['a', 'b']))).toEqual({ added: [], removed: [], reordered: false, changed: [] });
  });

  it('iptables: a family-neutral rule gone from one family is changed although the merged ids are equal', () => {
    const want = chain(['est', 'rej'], ['ipv4 est -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT', 'ipv4 rej -j REJECT', 'ipv6 est -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT', 'ipv6 rej -j REJECT']);
    const live = chain(['est', 'rej'], ['ipv4 rej -j REJECT', 'ipv6 est -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT', 'ipv6 rej -j REJECT']);
    expect(compareRules(want, live).changed).toEqual(['est']);
  });

  it('the same kernel rules in another order within one family are reordered', () => {
    const want = chain(['x', 'y'], ['ipv4 x -j ACCEPT', 'ipv4 y -j DROP', 'ipv6 x -j ACCEPT', 'ipv6 y -j DROP']);
    const live = chain(['x', 'y'], ['ipv4 y -j DROP', 'ipv4 x -j ACCEPT', 'ipv6 x -j ACCEPT', 'ipv6 y -j DROP']);
    expect(compareRules(want, live)).toEqual({ added: [], removed: [], reordered: true, changed: [] });
  });

  it('ids only one side knows the body of are not compared (an old state, an expectation of other rules)', () => {
    expect(compareRules(chain(['a', 'b'], ['a accept']), chain(['a', 'b'], ['a accept', 'b drop'])).changed).toEqual([]);
  });
});

describe('iptBody', () => {
  it('drops the comment and counters, unquotes, and folds address masks and conntrack state order', () => {
    const saved = '[12:3456] -s 198.18.0.10/32 -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment "microseg:abc" -j NFLOG --nflog-prefix "a b" --nflog-group 3';
    const rendered = '-s 198.18.0.10 -m conntrack --ctstate ESTABLISHED,RELATED -m comment --comment "microseg:abc" -j NFLOG --nflog-prefix "a b" --nflog-group 3';
    expect(iptBody(saved)).toBe('-s 198.18.0.10/32 -m conntrack --ctstate ESTABLISHED,RELATED -j NFLOG --nflog-group 3 --nflog-prefix "a b"');
    // iptables-save names rarer protocols and prints NFLOG's prefix first; the renderer writes a number and the group first.
    expect(iptBody('-p gre -j NFLOG --nflog-prefix "x " --nflog-group 7')).toBe(iptBody('-p 47 -j NFLOG --nflog-group 7 --nflog-prefix "x "'));
    expect(iptBody(rendered)).toBe(iptBody(saved));
    expect(iptBody('-c 5 300 -p tcp -m comment --comment "microseg:x" -j ACCEPT')).toBe('-p tcp -j ACCEPT');
    expect(iptBody('-p tcp -j ACCEPT')).not.toBe(iptBody('-p tcp -j REJECT --reject-with tcp-reset'));
  });
});

describe('nftables bodies: nft 1.0.6 JSON listings against the IR', () => {
  const r = (match: Rule['match'], verdict: Rule['verdict']): Rule => ({ id: 'x', match, verdict });
  // Each `expr` below is what `nft -j list chain` printed on this kernel for the rule render.ts
  // writes from the IR next to it (names for numbers, implied dependencies dropped).
  const cases: Array<[string, Rule, 4 | 6 | undefined, unknown[]]> = [
    ['icmp any type, v6-only rule: nfproto dropped, l4proto named', r({ family: 6, protocol: 'icmp' }, { kind: 'accept' }), 6, [
      { match: { op: '==', left: { meta: { key: 'nfproto' } }, right: 'ipv6' } }, { match: { op: '==', left: { meta: { key: 'l4proto' } }, right: 'icmp' } }, { accept: null }]],
    ['icmp type and codes by name', r({ srcAddr: '10.0.0.0/8', protocol: 'icmp', icmpType: 8, icmpCodes: [{ from: 0, to: 0 }, { from: 3, to: 5 }] }, { kind: 'drop' }), 4, [
      { match: { op: '==', left: { payload: { protocol: 'ip', field: 'saddr' } }, right: { prefix: { addr: '10.0.0.0', len: 8 } } } },
      { match: { op: '==', left: { payload: { protocol: 'icmp', field: 'type' } }, right: 'echo-request' } },
      { match: { op: '==', left: { payload: { protocol: 'icmp', field: 'code' } }, right: { set: ['net-unreachable', { range: ['port-unreachable', 5] }] } } },
      { drop: null }]],
    ['negated set, port set, log', r({ dstSet: { set: 'p-x', negate: true }, protocol: 'tcp', dports: [{ from: 80, to: 80 }, { from: 8000, to: 8100 }] }, { kind: 'log', prefix: 'hi there', group: 3 }), 6, [
      { match: { op: '!=', left: { payload: { protocol: 'ip6', field: 'daddr' } }, right: '@mseg-p-x' } },
      { match: { op: '==', left: { payload: { protocol: 'tcp', field: 'dport' } }, right: { set: [80, { range: [8000, 8100] }] } } },
      { log: { prefix: 'hi there', group: 3 } }]],
    // As flows renders log rules (rate-limited): before this case the limit listed back as an
    // unknown statement, so every logged rule read as changed right after apply.
    ['rate-limited log (counter, limit, log)', r({ dstSet: { set: 'p-y', negate: false }, protocol: 'tcp', dports: [{ from: 5432, to: 5432 }] }, { kind: 'log', prefix: 'mseg:caf2246d:R:o', group: 42, limit: { perSecond: 50, burst: 100 } }), 4, [
      { match: { op: '==', left: { payload: { protocol: 'ip', field: 'daddr' } }, right: '@mseg-p-y' } },
      { match: { op: '==', left: { payload: { protocol: 'tcp', field: 'dport' } }, right: 5432 } },
      { counter: { packets: 0, bytes: 0 } }, { limit: { rate: 50, burst: 100, per: 'second' } }, { log: { prefix: 'mseg:caf2246d:R:o', group: 42 } }]],
    ['interfaces and another protocol by number', r({ iif: 'eth+', oif: 'lo', protocol: 'gre' }, { kind: 'return' }), undefined, [
      { match: { op: '==', left: { meta: { key: 'iifname' } }, right: 'eth*' } }, { match: { op: '==', left: { meta: { key: 'oifname' } }, right: 'lo' } },
      { match: { op: '==', left: { meta: { key: 'l4proto' } }, right: 'gre' } }, { return: null }]],
    ['ct state with a counter (values are not drift)', r({ ctState: ['established'] }, { kind: 'accept' }), undefined, [
      { match: { op: 'in', left: { ct: { key: 'state' } }, right: 'established' } }, { counter: { packets: 7, bytes: 900 } }, { accept: null }]],
    ['reject inferred as icmpv6 port-unreachable', r({ family: 6, protocol: 'icmpv6', icmpType: 128 }, { kind: 'reject' }), 6, [
      { match: { op: '==', left: { payload: { protocol: 'icmpv6', field: 'type' } }, right: 'echo-request' } }, { reject: { type: 'icmpv6', expr: 'port-unreachable' } }]],
    ['tcp reset, nfproto dropped by nft', r({ family: 4, protocol: 'tcp' }, { kind: 'reject' }), 4, [
      { match: { op: '==', left: { meta: { key: 'l4proto' } }, right: 'tcp' } }, { reject: { type: 'tcp reset' } }]],
    ['address and jump', r({ srcAddr: '2001:db8::1', protocol: 'udp', dports: [{ from: 53, to: 53 }] }, { kind: 'jump', chain: 'j' }), 6, [
      { match: { op: '==', left: { payload: { protocol: 'ip6', field: 'saddr' } }, right: '2001:db8::1' } },
      { match: { op: '==', left: { payload: { protocol: 'udp', field: 'dport' } }, right: 53 } }, { jump: { target: 'mseg-j' } }]],
  ];
  it.each(cases)('%s', (_name, rule, fam, expr) => {
    expect(bodyOfExpr(expr)).toBe(bodyOfRule(rule, fam));
  });

  it('another verdict or an unknown statement never equals the IR body', () => {
    const rule = r({ protocol: 'tcp' }, { kind: 'reject' });
    expect(bodyOfExpr([{ match: { op: '==', left: { meta: { key: 'l4proto' } }, right: 'tcp' } }, { accept: null }])).not.toBe(bodyOfRule(rule, undefined));
    expect(bodyOfExpr([{ match: { op: '==', left: { meta: { key: 'l4proto' } }, right: 'tcp' } }, { xt: { type: 'target', name: 'X' } }, { reject: { type: 'tcp reset' } }])).not.toBe(bodyOfRule(rule, undefined));
    // Another rate is another rule.
    const logged = r({ protocol: 'tcp' }, { kind: 'log', prefix: 'p', group: 42, limit: { perSecond: 50, burst: 100 } });
    expect(bodyOfExpr([{ match: { op: '==', left: { meta: { key: 'l4proto' } }, right: 'tcp' } }, { limit: { rate: 5000, burst: 100, per: 'second' } }, { log: { prefix: 'p', group: 42 } }])).not.toBe(bodyOfRule(logged, undefined));
  });
});
