import { NftablesProvider, parseBaseChains, parseElem, parseNftTable, renderRule } from '../../../providers/nftables';
import type { AddressSet, Rule } from '../../../src/compile/ir';
import type { CommandResult, Host } from '../../../src/hosts/types';
import { webFixture } from '../../netns/fixtures';

const T = { family: 'inet', table: 'microseg' };
const doc = {
  nftables: [
    { metainfo: { version: '1.0.6', json_schema_version: 1 } },
    { table: { family: 'inet', name: 'microseg', handle: 1 } },
    {
      set: {
        ...T,
        name: 'mseg-peers',
        type: 'ipv4_addr',
        flags: ['interval'],
        comment: 'c',
        elem: ['1.2.3.4', { prefix: { addr: '10.0.0.0', len: 8 } }, { range: ['11.0.0.0', '11.0.0.5'] }, { elem: { val: '9.9.9.9', comment: 'x' } }],
      },
    },
    { set: { ...T, name: 'mseg-v6', type: 'ipv6_addr', flags: ['interval'], elem: [{ prefix: { addr: '2001:2::', len: 48 } }, '2001:3::1'] } },
    { chain: { ...T, name: 'mseg-in', handle: 2, type: 'filter', hook: 'input', prio: 0, policy: 'accept' } },
    { chain: { ...T, name: 'handmade', handle: 3 } },
    {
      rule: {
        ...T,
        chain: 'mseg-in',
        handle: 4,
        comment: 'microseg:r1',
        expr: [{ match: { op: 'in', left: { ct: { key: 'state' } }, right: ['related', 'established'] } }, { counter: { packets: 5, bytes: 300 } }, { accept: null }],
      },
    },
    { rule: { ...T, chain: 'mseg-in', handle: 5, expr: [{ accept: null }] } },
    { rule: { ...T, chain: 'mseg-in', handle: 6, comment: 'microseg:r2', expr: [{ match: { op: '==', left: { meta: { key: 'l4proto' } }, right: 'tcp' } }, { reject: { type: 'tcp reset' } }] } },
    { rule: { family: 'ip', table: 'other', chain: 'x', handle: 7, comment: 'microseg:zzz', expr: [] } },
  ],
};

describe('nftables read-back', () => {
  it('maps names back, takes ids from comments only and normalises elements to sorted CIDRs', () => {
    const live = parseNftTable(JSON.stringify(doc));
    expect(live.sets).toEqual([
      { name: 'peers', family: 4, comment: 'c', elements: ['1.2.3.4/32', '9.9.9.9/32', '10.0.0.0/8', '11.0.0.0/30', '11.0.0.4/31'] },
      { name: 'v6', family: 6, elements: ['2001:2::/48', '2001:3::1/128'] },
    ]);
    expect(live.chains).toEqual([
      // Bodies in normal form: counters left out, ct states sorted, protocols as numbers.
      { name: 'in', hook: 'input', ruleIds: ['r1', 'r2'], foreignRules: 1, rules: ['r1 ct state established,related; accept', 'r2 l4proto == 6; reject tcp-reset'] },
      // A chain someone added to our table by hand is reported under a name no IR name can equal.
      { name: 'nft:handmade', ruleIds: [], foreignRules: 0, rules: [] },
    ]);
    expect(live.hooks).toEqual([
      { hook: 'input', family: 4, present: true, first: true, count: 1, targets: ['in'] },
      { hook: 'input', family: 6, present: true, first: true, count: 1, targets: ['in'] },
    ]);
    expect(live.fingerprint).toMatch(/^[0-9a-f]{16}$/);
  });

  it('reports the hook as not first when a foreign base chain at the same hook runs earlier', () => {
    const live = parseNftTable(JSON.stringify(doc), [{ family: 'ip', table: 'fw', hook: 'input', prio: -10 }]);
    expect(live.hooks.every((h) => !h.first)).toBe(true);
  });

  it('a nat base chain earlier at the same hook (iptables-nft\'s `ip nat` OUTPUT at -100, Docker\'s DNAT) does not push ours down', () => {
    const chains = parseBaseChains(
      JSON.stringify({
        nftables: [
          { chain: { family: 'ip', table: 'nat', name: 'OUTPUT', handle: 1, type: 'nat', hook: 'input', prio: -100, policy: 'accept' } },
          { chain: { family: 'ip', table: 'nat', name: 'PREROUTING', handle: 2, type: 'nat', hook: 'prerouting', prio: -100, policy: 'accept' } },
        ],
      }),
    );
    expect(chains[0]).toEqual({ family: 'ip', table: 'nat', hook: 'input', prio: -100, type: 'nat' });
    expect(parseNftTable(JSON.stringify(doc), chains).hooks.every((h) => h.first)).toBe(true);
    // A filter chain at the same priority still does: it can drop before microseg decides.
    const filter = parseNftTable(JSON.stringify(doc), [{ ...chains[0], type: 'filter' }]);
    expect(filter.hooks.every((h) => !h.first)).toBe(true);
  });

  it('treats an absent table as an empty ruleset, not an error', async () => {
    const host: Host = {
      description: 'fake',
      run: async (): Promise<CommandResult> => ({ code: 1, stdout: '', stderr: 'Error: No such file or directory\nlist table inet microseg' }),
    };
    const live = await new NftablesProvider().read(host);
    expect(live).toMatchObject({ backend: 'nftables', sets: [], chains: [], hooks: [] });
  });

  it('rejects unknown element shapes loudly', () => {
    expect(() => parseElem({ concat: ['a', 'b'] })).toThrow(/unexpected nft set element/);
  });
});

describe('nftables rendering', () => {
  const sets = new Map<string, AddressSet>([['s4', { name: 's4', family: 4, elements: [] }]]);
  const r = (match: Rule['match'], verdict: Rule['verdict'] = { kind: 'accept' }, id = 'x1'): Rule => ({ id, match, verdict });
  it.each<[Rule, string]>([
    [r({ protocol: 'tcp', dports: [{ from: 80, to: 80 }, { from: 8000, to: 8100 }] }), 'tcp dport { 80, 8000-8100 } counter accept comment "microseg:x1"'],
    [r({ protocol: 'icmp', icmpType: 3, icmpCodes: [{ from: 0, to: 4 }, { from: 13, to: 13 }] }), 'meta nfproto ipv4 icmp type 3 icmp code { 0-4, 13 } counter accept comment "microseg:x1"'],
    [r({ srcSet: { set: 's4', negate: true }, protocol: 'tcp' }, { kind: 'reject' }), 'ip saddr != @mseg-s4 meta l4proto tcp counter reject with tcp reset comment "microseg:x1"'],
    [r({ protocol: 'udp' }, { kind: 'reject' }), 'meta l4proto udp counter reject comment "microseg:x1"'],
    [r({ ctState: ['new'], protocol: 'sctp' }, { kind: 'log', group: 3, prefix: 'p: ' }), 'ct state new meta l4proto 132 counter log prefix "p: " group 3 comment "microseg:x1"'],
    [r({ iif: 'eth0' }, { kind: 'return' }), 'iifname "eth0" counter return comment "microseg:x1"'],
    // excluded_interfaces' `veth+` (iptables' wildcard) is `veth*` in nft, where "veth+" names one literal interface.
    [r({ iif: 'veth+' }, { kind: 'return' }), 'iifname "veth*" counter return comment "microseg:x1"'],
    [r({ oif: 'tun+' }, { kind: 'return' }), 'oifname "tun*" counter return comment "microseg:x1"'],
  ])('%j', (rule, want) => expect(renderRule(rule, sets)).toBe(want));

  it.each<[Rule, RegExp]>([
    [r({ protocol: 'icmp', dports: [{ from: 1, to: 1 }] }), /need protocol tcp or udp/],
    [r({ protocol: 'tcp' }, { kind: 'accept' }, 'bad id'), /rule id/],
    [r({}, { kind: 'log', group: 1, prefix: 'a"b' }), /printable ASCII without quotes/],
    [r({ protocol: 'nonsense' }), /unknown protocol/],
  ])('refuses %j', (rule, msg) => expect(() => renderRule(rule, sets)).toThrow(msg));

  it('expected() mirrors the IR one-to-one', () => {
    const d = webFixture();
    const e = new NftablesProvider().expected(d);
    for (const c of d.chains) expect(e.chains.find((x) => x.name === c.name)!.ruleIds).toEqual(c.rules.map((x) => x.id));
  });
});
