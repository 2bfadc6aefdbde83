import type { DesiredRuleset, Rule } from '../../../src/compile/ir';
import { FakeFirewall, checkRuleset } from '../../../providers/fake/firewall';
import { traceConnection, traceHost } from '../../../src/trace/tracer';
import { ProviderError } from '../../../providers/common';

/** Address conventions: local PU 198.18.1.10 / 2001:db8:1::10; peers 198.19.0.0/16 and 2001:db8:9::/48. */
const rule = (id: string, match: Rule['match'], verdict: Rule['verdict']): Rule => ({ id, match, verdict });

function handmade(): DesiredRuleset {
  return {
    enforcer: 'h1',
    sets: [
      { name: 'peers-4', family: 4, elements: ['198.19.0.0/16'] },
      { name: 'peers-6', family: 6, elements: ['2001:db8:9::/48'] },
    ],
    chains: [
      {
        name: 'in',
        hook: 'input',
        rules: [
          rule('d1', { family: 4, dstAddr: '198.18.1.10' }, { kind: 'jump', chain: 'pu' }),
          rule('d2', { family: 6, dstAddr: '2001:db8:1::10' }, { kind: 'jump', chain: 'pu' }),
        ],
      },
      {
        name: 'pu',
        rules: [
          rule('est', { ctState: ['established', 'related'] }, { kind: 'accept' }),
          rule('ret', { iif: 'eth9' }, { kind: 'return' }),
          rule('log', { family: 4, srcSet: { set: 'peers-4' } }, { kind: 'log', group: 42, prefix: 'mseg:x:A' }),
          rule('tcp', { family: 4, srcSet: { set: 'peers-4' }, protocol: 'tcp', dports: [{ from: 80, to: 80 }, { from: 8000, to: 8100 }] }, { kind: 'accept' }),
          rule('icmp', { family: 4, protocol: 'icmp', icmpType: 3, icmpCodes: [{ from: 0, to: 4 }, { from: 13, to: 13 }] }, { kind: 'accept' }),
          rule('neg6', { family: 6, srcSet: { set: 'peers-6', negate: true } }, { kind: 'drop' }),
          rule('icmp6', { family: 6, protocol: 'icmpv6' }, { kind: 'accept' }),
          rule('def', {}, { kind: 'reject' }),
        ],
      },
    ],
    diagnostics: [],
  };
}

describe('traceHost', () => {
  const rs = handmade();
  const v4 = (src: string, o: object = {}) => traceHost(rs, { src, dst: '198.18.1.10', protocol: 'tcp', dport: 80, ...o }, 'input');

  it('jumps, matches sets and logs without stopping', () => {
    const t = v4('198.19.1.1');
    expect(t.verdict).toBe('accept');
    expect(t.rule?.id).toBe('tcp');
    expect(t.chain).toBe('pu');
    expect(t.logged.map((r) => r.id)).toEqual(['log']);
    expect(t.path).toEqual(['in', 'pu']);
  });
  it('port range boundaries are inclusive', () => {
    expect([7999, 8000, 8100, 8101, 79, 81].map((dport) => v4('198.19.1.1', { dport }).rule?.id)).toEqual([
      'def', 'tcp', 'tcp', 'def', 'def', 'def',
    ]);
    expect(v4('198.19.1.1', { protocol: 'udp' }).rule?.id).toBe('def');
  });
  it('icmp type and code ranges', () => {
    const icmp = (icmpType: number, icmpCode: number) => v4('203.0.113.1', { protocol: 'icmp', dport: undefined, icmpType, icmpCode }).rule?.id;
    expect([icmp(3, 0), icmp(3, 4), icmp(3, 5), icmp(3, 13), icmp(8, 0)]).toEqual(['icmp', 'icmp', 'def', 'icmp', 'def']);
  });
  it('ct state established is accepted first; return resumes in the caller and ends untouched', () => {
    expect(v4('203.0.113.1', { ctState: 'established' }).rule?.id).toBe('est');
    const t = v4('203.0.113.1', { iif: 'eth9' });
    expect(t.verdict).toBe('untouched');
    expect(t.rule).toBeUndefined();
  });
  it('an interface pattern ending in + matches by prefix, and a packet without an interface matches no interface rule', () => {
    const wild: DesiredRuleset = { ...rs, chains: rs.chains.map((c) => (c.name === 'pu' ? { ...c, rules: c.rules.map((r) => (r.id === 'ret' ? { ...r, match: { iif: 'veth+' } } : r)) } : c)) };
    const via = (iif?: string) => traceHost(wild, { src: '203.0.113.1', dst: '198.18.1.10', protocol: 'tcp', dport: 80, ...(iif ? { iif } : {}) }, 'input').verdict;
    expect([via('veth0'), via('veth'), via('vethabc'), via('vet'), via('eth0'), via()]).toEqual(['untouched', 'untouched', 'untouched', 'reject', 'reject', 'reject']);
  });
  it('negated sets only see packets of their family', () => {
    const v6 = (src: string, protocol = 'tcp') => traceHost(rs, { src, dst: '2001:db8:1::10', protocol, dport: 80 }, 'input');
    expect(v6('2001:db8:9::1').rule?.id).toBe('def');
    expect(v6('2001:db8:7::1').verdict).toBe('drop');
    // The v4 packet from outside peers-6 is NOT dropped by the negated v6 rule.
    expect(v4('203.0.113.1').rule?.id).toBe('def');
    expect(v6('2001:db8:9::1', 'icmp6').rule?.id).toBe('icmp6');
  });
  it('traffic to a non-dispatched address or another hook is untouched', () => {
    expect(traceHost(rs, { src: '198.19.1.1', dst: '198.18.1.99', protocol: 'tcp', dport: 80 }, 'input').verdict).toBe('untouched');
    expect(traceHost(rs, { src: '198.18.1.10', dst: '198.19.1.1', protocol: 'tcp', dport: 80 }, 'output').verdict).toBe('untouched');
  });
  it('refuses mixed-family packets', () => {
    expect(() => traceHost(rs, { src: '198.19.1.1', dst: '2001:db8:1::10', protocol: 'tcp' }, 'input')).toThrow(/single-family/);
  });
});

describe('traceConnection', () => {
  const pus = [
    { name: 'a', enforcer: 'h1', addresses: ['198.18.1.10'] },
    { name: 'b', enforcer: 'h2', addresses: ['198.18.2.10'] },
  ] as never[];
  const acceptAll = (enforcer: string, hook: 'input' | 'output', verdict: 'accept' | 'reject'): DesiredRuleset => ({
    enforcer,
    sets: [],
    chains: [{ name: 'c', hook, rules: [rule('r', {}, { kind: verdict })] }],
    diagnostics: [],
  });
  it('source blocking stops the connection before the destination', () => {
    const t = traceConnection({ h1: acceptAll('h1', 'output', 'reject'), h2: acceptAll('h2', 'input', 'accept') }, { processingUnits: pus }, { src: '198.18.1.10', dst: '198.18.2.10', protocol: 'tcp', dport: 1 });
    expect([t.verdict, t.allowed, t.destination]).toEqual(['reject', false, undefined]);
  });
  it('both sides run; non-PU sides are absent', () => {
    let t = traceConnection(new Map([['h1', acceptAll('h1', 'output', 'accept')], ['h2', acceptAll('h2', 'input', 'reject')]]), { processingUnits: pus }, { src: '198.18.1.10', dst: '198.18.2.10', protocol: 'tcp', dport: 1 });
    expect([t.source?.trace.verdict, t.destination?.trace.verdict, t.verdict]).toEqual(['accept', 'reject', 'reject']);
    t = traceConnection({}, { processingUnits: pus }, { src: '198.19.0.1', dst: '198.19.0.2', protocol: 'tcp', dport: 1 });
    expect([t.source, t.destination, t.verdict, t.allowed]).toEqual([undefined, undefined, 'untouched', true]);
  });
});

describe('FakeFirewall', () => {
  it('applies atomically, reads back canonically and cleans up', () => {
    const fw = new FakeFirewall();
    fw.apply('h1', handmade());
    const live = fw.read('h1');
    expect(live.backend).toBe('nftables');
    expect(live.chains).toEqual([
      { name: 'in', hook: 'input', ruleIds: ['d1', 'd2'], foreignRules: 0 },
      { name: 'pu', ruleIds: ['est', 'ret', 'log', 'tcp', 'icmp', 'neg6', 'icmp6', 'def'], foreignRules: 0 },
    ]);
    expect(live.hooks).toEqual([
      { hook: 'input', family: 4, present: true, first: true, count: 1, targets: ['in'] },
      { hook: 'input', family: 6, present: true, first: true, count: 1, targets: ['in'] },
    ]);
    expect(live.fingerprint).toMatch(/^[0-9a-f]{16}$/);
    expect(fw.read('h1')).toEqual(live);
    expect(fw.trace('h1', { src: '198.19.1.1', dst: '198.18.1.10', protocol: 'tcp', dport: 80 }, 'input').verdict).toBe('accept');

    const bad = handmade();
    bad.chains[1].rules.push(rule('x', { srcSet: { set: 'nope' } }, { kind: 'accept' }));
    expect(() => fw.apply('h1', bad)).toThrow(/missing set nope/);
    expect(fw.read('h1')).toEqual(live);

    fw.injectFault('h1');
    expect(() => fw.apply('h1', { ...handmade(), sets: [] })).toThrow(ProviderError);
    expect(fw.read('h1')).toEqual(live);
    expect(fw.transactions).toHaveLength(1);

    fw.cleanup('h1');
    expect(fw.read('h1')).toEqual(expect.objectContaining({ sets: [], chains: [], hooks: [] }));
    expect(fw.hosts()).toEqual([]);
  });

  it('iptables backends report chain families', () => {
    const fw = new FakeFirewall({ backend: 'iptables-nft' });
    fw.apply('h1', handmade());
    expect(fw.read('h1').chains[0].families).toEqual([4, 6]);
  });

  const refuse: Array<[string, (r: DesiredRuleset) => void, RegExp]> = [
    ['jump loop', (r) => r.chains[1].rules.unshift(rule('loop', {}, { kind: 'jump', chain: 'pu' })), /jump loop/],
    ['jump to base chain', (r) => r.chains[1].rules.unshift(rule('j', {}, { kind: 'jump', chain: 'in' })), /base chain/],
    ['missing chain', (r) => r.chains[0].rules.push(rule('j', {}, { kind: 'jump', chain: 'zz' })), /missing chain/],
    ['/0 element', (r) => (r.sets[0].elements = ['0.0.0.0/0']), /\/0/],
    ['overlap', (r) => (r.sets[0].elements = ['198.19.0.0/16', '198.19.1.0/24']), /overlaps/],
    ['wrong family element', (r) => (r.sets[0].elements = ['2001:db8::/32']), /not an IPv4/],
    ['mixed family', (r) => r.chains[1].rules.push(rule('m', { family: 6, srcSet: { set: 'peers-4' } }, { kind: 'accept' })), /mixes/],
    ['dports without protocol', (r) => r.chains[1].rules.push(rule('m', { dports: [{ from: 1, to: 2 }] }, { kind: 'accept' })), /dports/],
    ['codes without type', (r) => r.chains[1].rules.push(rule('m', { protocol: 'icmp', icmpCodes: [{ from: 1, to: 2 }] }, { kind: 'accept' })), /icmpCodes/],
    ['duplicate id', (r) => r.chains[1].rules.push(rule('def', { iif: 'x' }, { kind: 'accept' })), /used twice/],
    ['long prefix', (r) => r.chains[1].rules.push(rule('l', {}, { kind: 'log', group: 42, prefix: 'x'.repeat(30) })), /prefix/],
    ['bad name', (r) => (r.chains[1].name = 'PU_Chain'), /IR name|missing chain/],
  ];
  it.each(refuse)('refuses %s', (_what, edit, re) => {
    const r = handmade();
    edit(r);
    expect(() => checkRuleset(r)).toThrow(re);
  });
});
