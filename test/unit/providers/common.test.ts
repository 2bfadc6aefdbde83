import fc from 'fast-check';
import { addrToBig, normaliseCidr, rangeToCidrs, ruleFamily, sortCidrs, ProviderError, bigToAddr } from '../../../providers/common';
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
