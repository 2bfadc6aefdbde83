import type { DesiredRuleset, Rule } from '../../../src/compile/ir';
import { FakeFirewall, FakeHost, checkRuleset } from '../../../providers/fake/firewall';
import { providerFor } from '../../../providers';
import { newNftTx } from '../../../providers/nftables/render';
import { newIptTx } from '../../../providers/iptables/render';
import { HostUnreachableError } from '../../../src/hosts';
import { changesFor } from '../../../src/plan';
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

describe('FakeFirewall behind the Host seam', () => {
  const BACKENDS = ['nftables', 'iptables-nft', 'iptables-legacy'] as const;
  const conn = { type: 'netns' as const, netns: 'h1' };

  function world(): { fake: FakeFirewall; host: FakeHost } {
    const fake = new FakeFirewall();
    return { fake, host: fake.addHost('h1') };
  }

  it.each(BACKENDS)('%s: a full sync reads back exactly as Provider.expected says (fingerprint included), through the real parsers', async (backend) => {
    const { fake } = world();
    const p = providerFor(backend);
    const fw = fake.connect(conn).firewall(backend);
    await fw.run(p.fullSync(handmade(), await fw.read(), 'test'));
    expect(await fw.read()).toEqual(p.expected(handmade()));
    expect(fake.transactions.map((t) => t.tx.table)).toEqual(backend === 'nftables' ? ['inet microseg'] : ['ipset', 'ip filter', 'ip6 filter']);
  });

  it.each(BACKENDS)('%s: a delta planned from a read reaches the new expectation, and cleanup leaves nothing owned', async (backend) => {
    const { fake, host } = world();
    const p = providerFor(backend);
    const fw = fake.connect(conn).firewall(backend);
    await fw.run(p.fullSync(handmade(), undefined, 'test'));
    const next = handmade();
    next.sets[0].elements = ['198.19.0.0/16', '203.0.113.0/24'];
    next.chains[1].rules = next.chains[1].rules.filter((r) => r.id !== 'icmp');
    const change = changesFor(p, next, await fw.read());
    expect(change.kind).toBe('delta');
    if (change.kind === 'delta') await fw.run(change.transactions);
    expect(await fw.read()).toEqual(p.expected(next));
    await fw.run(p.cleanup(await fw.read(), 'h1'));
    expect(host.owned()).toEqual([]);
  });

  it('a refused transaction changes nothing (one nft batch), and neither does an injected fault', async () => {
    const { fake, host } = world();
    const p = providerFor('nftables');
    const fw = fake.connect(conn).firewall('nftables');
    await fw.run(p.fullSync(handmade(), undefined, 'test'));
    const before = await fw.read();
    const bad = newNftTx('h1', 'delta', 'test')
      .add('add', { type: 'chain', name: 'extra' })
      .add('add', { type: 'rule', chain: 'extra', family: 4, rule: rule('x', { srcSet: { set: 'nope' } }, { kind: 'accept' }) })
      .build();
    await expect(fw.run([bad])).rejects.toThrow(/set nope does not exist/);
    expect(await fw.read()).toEqual(before);
    host.injectFault();
    await expect(fw.run(p.cleanup(before, 'h1'))).rejects.toThrow(ProviderError);
    expect(await fw.read()).toEqual(before);
    // What the kernel refuses: a set still in use, a chain still jumped to.
    const busy = newNftTx('h1', 'delta', 'test').add('delete', { type: 'set', name: 'peers-4' }).build();
    await expect(fw.run([busy])).rejects.toThrow(/busy/);
    const jumped = newNftTx('h1', 'delta', 'test').add('flush', { type: 'chain', name: 'pu' }).add('delete', { type: 'chain', name: 'pu' }).build();
    await expect(fw.run([jumped])).rejects.toThrow(/jumped to/);
    expect(await fw.read()).toEqual(before);
  });

  it('ipset restore is not one commit: lines before a failure stay applied', async () => {
    const { fake, host } = world();
    const p = providerFor('iptables-nft');
    const fw = fake.connect(conn).firewall('iptables-nft');
    await fw.run(p.fullSync(handmade(), undefined, 'test'));
    const tx = newIptTx('iptables-nft', 'h1', 'ipset', 'delta', 'test')
      .add('add', { type: 'element', set: 'peers-4', elements: ['203.0.113.0/24'] })
      .add('destroy', { type: 'set', name: 'peers-4' })
      .build();
    await expect(fw.run([tx])).rejects.toThrow(/in use by a kernel component/);
    expect(host.holdsMember('203.0.113.0/24')).toBe(true);
  });

  it('traces packets through what the host holds, foreign rules included', async () => {
    const { fake, host } = world();
    const p = providerFor('nftables');
    await fake.connect(conn).firewall('nftables').run(p.fullSync(handmade(), undefined, 'test'));
    expect(host.trace({ src: '198.19.1.1', dst: '198.18.1.10', protocol: 'tcp', dport: 80 }, 'input')).toBe('accept');
    expect(host.trace({ src: '203.0.113.1', dst: '198.18.1.10', protocol: 'tcp', dport: 80 }, 'input')).toBe('reject');
    // A foreign base chain that drops first wins, as in the kernel.
    host.addForeignBaseChain({ family: 'inet', table: 'other', name: 'c', hook: 'input', prio: -10, rules: [rule('drop', {}, { kind: 'drop' })] });
    expect(host.trace({ src: '198.19.1.1', dst: '198.18.1.10', protocol: 'tcp', dport: 80 }, 'input')).toBe('drop');
    const live = await fake.connect(conn).firewall('nftables').read();
    expect(live.hooks.every((h) => !h.first)).toBe(true);
  });

  it('a removed host, or a connection naming no host, is unreachable, not empty', async () => {
    const { fake } = world();
    fake.removeHost('h1');
    await expect(fake.connect(conn).firewall('nftables').read()).rejects.toThrow(HostUnreachableError);
    await expect(fake.connect({ type: 'netns', netns: 'nobody' }).detect()).rejects.toThrow(/unreachable/);
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
