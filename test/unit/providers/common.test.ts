import fc from 'fast-check';
import { addrToBig, normaliseCidr, rangeToCidrs, ruleFamily, sortCidrs, ProviderError, bigToAddr, mergePartial } from '../../../providers/common';
import { diffObjects, readScopeOf as scopeOfDiff } from '../../../src/plan';
import type { LiveRuleset as Live } from '../../../providers/types';

/** readScopeOf is the read-back scope of the ObjectDiff of `want` over `live`, as plan computes it. */
const readScopeOf = (want: Live, live: Live) => scopeOfDiff(diffObjects(want, live));

import { providerFor } from '../../../providers';
import { changedFixture, webFixture } from '../../netns/fixtures';
import type { AddressSet, Rule } from '../../../src/compile/ir';

describe('CIDR helpers', () => {
  it.each([
    ['10.0.0.0', '10.0.0.255', ['10.0.0.0/24']],
    ['11.0.0.0', '11.0.0.5', ['11.0.0.0/30', '11.0.0.4/31']],
    ['0.0.0.0', '255.255.255.255', ['0.0.0.0/0']],
    ['198.18.0.1', '198.18.0.1', ['198.18.0.1/32']],
    ['10.0.0.1', '10.0.0.6', ['10.0.0.1/32', '10.0.0.2/31', '10.0.0.4/31', '10.0.0.6/32']],
    ['2001:2::', '2001:2::ffff', ['2001:2::/112']],
    ['::', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', ['::/0']],
  ])('rangeToCidrs(%s, %s)', (a, b, want) => {
    expect(rangeToCidrs(a, b)).toEqual(want);
  });

  it('rangeToCidrs covers exactly the range with aligned, ascending blocks', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.integer({ min: 0, max: 5000 }), (lo, len) => {
        const hi = Math.min(2 ** 32 - 1, lo + len);
        const cidrs = rangeToCidrs(bigToAddr(4, BigInt(lo)), bigToAddr(4, BigInt(hi)));
        let next = BigInt(lo);
        for (const c of cidrs) {
          const [a, l] = c.split('/');
          const v = addrToBig(a).value;
          const size = 1n << BigInt(32 - Number(l));
          expect(v).toBe(next);
          expect(v % size).toBe(0n);
          next = v + size;
        }
        expect(next).toBe(BigInt(hi) + 1n);
      }),
    );
  });

  it.each([
    ['1.2.3.4', '1.2.3.4/32'],
    ['10.1.2.3/8', '10.0.0.0/8'],
    ['2001:0002:0000::0001', '2001:2::1/128'],
    ['2001:2::ff/120', '2001:2::/120'],
  ])('normaliseCidr(%s) = %s', (a, want) => expect(normaliseCidr(a)).toBe(want));

  it('sortCidrs orders numerically, not as strings', () => {
    expect(sortCidrs(['10.0.0.0/8', '9.0.0.0/8', '128.0.0.0/1', '0.0.0.0/1'])).toEqual(['0.0.0.0/1', '9.0.0.0/8', '10.0.0.0/8', '128.0.0.0/1']);
  });
});

describe('ruleFamily', () => {
  const sets = new Map<string, AddressSet>([
    ['a4', { name: 'a4', family: 4, elements: [] }],
    ['a6', { name: 'a6', family: 6, elements: [] }],
  ]);
  const rule = (match: Rule['match']): Rule => ({ id: 'r', match, verdict: { kind: 'accept' } });
  it('infers the family from sets, addresses and ICMP, or none', () => {
    expect(ruleFamily(rule({ srcSet: { set: 'a4' } }), sets)).toBe(4);
    expect(ruleFamily(rule({ dstAddr: '2001:2::1' }), sets)).toBe(6);
    expect(ruleFamily(rule({ protocol: 'icmpv6' }), sets)).toBe(6);
    expect(ruleFamily(rule({ protocol: 'tcp' }), sets)).toBeUndefined();
  });
  it('refuses a rule that mixes families or names an unknown set', () => {
    expect(() => ruleFamily(rule({ srcSet: { set: 'a4' }, dstAddr: '2001:2::1' }), sets)).toThrow(ProviderError);
    expect(() => ruleFamily(rule({ srcSet: { set: 'a4' }, protocol: 'icmpv6' }), sets)).toThrow(/mixes IPv4 and IPv6/);
    expect(() => ruleFamily(rule({ srcSet: { set: 'nope' } }), sets)).toThrow(/unknown set nope/);
  });
});

describe('partial read-back helpers (readScopeOf, mergePartial)', () => {
  // expected() is what a full read returns after webFixture / changedFixture (test/netns/fixtures.ts).
  const p = providerFor('nftables');

  it('readScopeOf names exactly the sets and chains that differ, on either side', () => {
    expect(readScopeOf(p.expected!(changedFixture()), p.expected!(webFixture()))).toEqual({ chains: ['out', 'pu-web-in', 'pu-web-out'], sets: ['world-v4'] });
    expect(readScopeOf(p.expected!(webFixture()), p.expected!(webFixture()))).toEqual({ chains: [], sets: [] });
  });

  it('mergePartial over the old read, with the scope read fresh, gives what a full read of the new state gives (fingerprint included)', () => {
    const before = p.expected!(webFixture());
    const after = p.expected!(changedFixture());
    const scope = readScopeOf(after, before);
    const part = {
      backend: after.backend,
      chains: after.chains.filter((c) => scope.chains.includes(c.name)),
      sets: after.sets.filter((s) => scope.sets.includes(s.name)),
      hooks: after.hooks,
      chainNames: after.chains.map((c) => c.name),
    };
    expect(mergePartial(before, scope, part)).toEqual(after);
    // Without the chain listing the merge still works; with a listing that contradicts it (an
    // out-of-scope chain vanished, or one appeared), it refuses so apply reads the host whole.
    expect(mergePartial(before, scope, { ...part, chainNames: undefined })).toEqual(after);
    expect(mergePartial(before, scope, { ...part, chainNames: part.chainNames.filter((n) => n !== 'in') })).toBeUndefined();
    expect(mergePartial(before, scope, { ...part, chainNames: [...part.chainNames, 'stray'] })).toBeUndefined();
    // A partial read that returns an object outside the scope, or another backend, is refused.
    expect(mergePartial(before, { chains: [], sets: [] }, part)).toBeUndefined();
    expect(mergePartial(before, scope, { ...part, backend: 'iptables-nft' })).toBeUndefined();
  });

  it('mergePartial with chainFamilies (iptables) refuses a view where a chain exists in other families than the merged chain says', () => {
    const ipt = providerFor('iptables-nft');
    const before = ipt.expected!(webFixture());
    const after = ipt.expected!(changedFixture());
    const scope = readScopeOf(after, before);
    const fams = Object.fromEntries(after.chains.map((c) => [c.name, [4, 6] as Array<4 | 6>]));
    const part = {
      backend: after.backend,
      chains: after.chains.filter((c) => scope.chains.includes(c.name)),
      sets: after.sets.filter((s) => scope.sets.includes(s.name)),
      hooks: after.hooks,
      chainNames: Object.keys(fams),
      chainFamilies: fams,
    };
    expect(mergePartial(before, scope, part)).toEqual(after);
    // `in` is out of scope; it vanished from ip6tables only since the full read.
    expect(scope.chains).not.toContain('in');
    expect(mergePartial(before, scope, { ...part, chainFamilies: { ...fams, in: [4] } })).toBeUndefined();
    // A scoped chain read in one family while the list says both (it changed in between): refused too.
    const [first, ...rest] = part.chains;
    expect(mergePartial(before, scope, { ...part, chains: [{ ...first, families: [6] }, ...rest] })).toBeUndefined();
    expect(mergePartial(before, scope, { ...part, chainFamilies: { ...fams, stray: [4] } })).toBeUndefined();
  });
});
