/**
 * addrToBig / bigToAddr read and print plain dotted-quad IPv4 without ipaddr (a fleet-wide read
 * parses every set member). They must agree with ipaddr exactly, and leave every other form to it.
 */
import * as ipaddr from 'ipaddr.js';
import { addrToBig, bigToAddr, normaliseCidr, sortCidrs } from '../../../providers/common';

function viaIpaddr(addr: string): bigint {
  let v = 0n;
  for (const b of ipaddr.parse(addr).toByteArray()) v = (v << 8n) | BigInt(b);
  return v;
}

describe('IPv4 fast path', () => {
  it('agrees with ipaddr on edge and pseudo-random addresses, both ways', () => {
    const values = [0, 1, 255, 256, 0x7fffffff, 0x80000000, 0xc6120001, 0xfffffffe, 0xffffffff];
    let x = 12345;
    for (let i = 0; i < 2000; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      values.push(x);
    }
    for (const v of values) {
      const text = ipaddr.fromByteArray([v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255]).toString();
      expect(addrToBig(text)).toEqual({ family: 4, value: viaIpaddr(text) });
      expect(bigToAddr(4, BigInt(v))).toBe(text);
    }
  });

  it('leaves forms it does not read plainly to ipaddr (same result or the same refusal)', () => {
    for (const odd of ['010.0.0.1', '0x0a.0.0.1', '::ffff:10.0.0.1', '2001:db8::1', '256.0.0.1', '1.2.3', '1.2.3.4.5', '01.2.3.4', '']) {
      let want: bigint | 'throws';
      try {
        want = viaIpaddr(odd);
      } catch {
        want = 'throws';
      }
      if (want === 'throws') expect(() => addrToBig(odd)).toThrow();
      else expect(addrToBig(odd).value).toBe(want);
    }
  });

  it('normaliseCidr and sortCidrs keep their results', () => {
    expect(normaliseCidr('198.18.7.9/16')).toBe('198.18.0.0/16');
    expect(normaliseCidr('10.0.0.1')).toBe('10.0.0.1/32');
    expect(normaliseCidr('255.255.255.255/1')).toBe('128.0.0.0/1');
    expect(sortCidrs(['10.0.0.0/16', '10.0.0.0/8', '9.255.255.255/32', '2001:db8::/32', '0.0.0.0/1'])).toEqual([
      '0.0.0.0/1',
      '9.255.255.255/32',
      '10.0.0.0/8',
      '10.0.0.0/16',
      '2001:db8::/32',
    ]);
  });
});
