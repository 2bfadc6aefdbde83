import fc from 'fast-check';
import {
  addressToBigint,
  cidrToInterval,
  cidrsContain,
  entriesToCidrs,
  mergeCidrs,
  type Family,
} from '../../../src/model/intervals';
import type { CidrEntry } from '../../../src/model/types';

const entry = (text: string): CidrEntry => {
  const exclude = text.startsWith('!');
  const cidr = exclude ? text.slice(1) : text;
  return { cidr, family: cidr.includes(':') ? 6 : 4, exclude, text };
};
const entries = (...t: string[]): CidrEntry[] => t.map(entry);

/** lpmOracle is the definition: the longest entry containing the address decides; exclusion wins a tie. */
function lpmOracle(es: CidrEntry[], addr: bigint, family: Family): boolean {
  let best = -1;
  let include = false;
  for (const e of es) {
    if (e.family !== family) continue;
    const iv = cidrToInterval(e.cidr, family);
    if (addr < iv.start || addr > iv.end) continue;
    const len = Number(e.cidr.split('/')[1]);
    if (len > best) {
      best = len;
      include = !e.exclude;
    } else if (len === best && e.exclude) {
      include = false;
    }
  }
  return include;
}

const inSet = (cidrs: string[], n: bigint, family: Family): boolean =>
  cidrs.some((c) => {
    const iv = cidrToInterval(c, family);
    return iv.start <= n && n <= iv.end;
  });

/** checkCanonical: sorted, disjoint, non-adjacent siblings merged, never /0. */
function checkCanonical(cidrs: string[], family: Family): void {
  const ivs = cidrs.map((c) => ({ c, ...cidrToInterval(c, family), len: Number(c.split('/')[1]) }));
  for (const iv of ivs) expect(iv.len).toBeGreaterThan(0);
  for (let i = 1; i < ivs.length; i++) {
    const a = ivs[i - 1];
    const b = ivs[i];
    expect(a.end < b.start).toBe(true);
    // Two adjacent equal-size blocks forming an aligned parent must have been merged (except the /1 pair).
    const size = a.end - a.start + 1n;
    const sibling = a.len === b.len && a.end + 1n === b.start && a.start % (size * 2n) === 0n;
    if (sibling) expect(a.len).toBe(1);
  }
}

describe('entriesToCidrs', () => {
  it('longest prefix decides (the DESIGN example)', () => {
    const es = entries('0.0.0.0/0', '!10.0.0.0/8', '10.1.0.0/16');
    const got = entriesToCidrs(es, 4);
    expect(cidrsContain(got, '10.1.2.3')).toBe(true);
    expect(cidrsContain(got, '10.2.3.4')).toBe(false);
    expect(cidrsContain(got, '8.8.8.8')).toBe(true);
    expect(got).toEqual([
      '0.0.0.0/5',
      '8.0.0.0/7',
      '10.1.0.0/16',
      '11.0.0.0/8',
      '12.0.0.0/6',
      '16.0.0.0/4',
      '32.0.0.0/3',
      '64.0.0.0/2',
      '128.0.0.0/1',
    ]);
    checkCanonical(got, 4);
  });
  it('carries /0 as two /1s', () => {
    expect(entriesToCidrs(entries('0.0.0.0/0'), 4)).toEqual(['0.0.0.0/1', '128.0.0.0/1']);
    expect(entriesToCidrs(entries('::/0'), 6)).toEqual(['::/1', '8000::/1']);
  });
  it('selects one family', () => {
    const es = entries('10.0.0.0/8', '2001:db8::/32', '!2001:db8:1::/48');
    expect(entriesToCidrs(es, 4)).toEqual(['10.0.0.0/8']);
    expect(entriesToCidrs(es, 6)).toEqual(['2001:db8::/48', '2001:db8:2::/47', '2001:db8:4::/46', '2001:db8:8::/45',
      '2001:db8:10::/44', '2001:db8:20::/43', '2001:db8:40::/42', '2001:db8:80::/41', '2001:db8:100::/40',
      '2001:db8:200::/39', '2001:db8:400::/38', '2001:db8:800::/37', '2001:db8:1000::/36', '2001:db8:2000::/35',
      '2001:db8:4000::/34', '2001:db8:8000::/33']);
  });
  it('merges adjacent entries and exclusions of the same cidr win', () => {
    expect(entriesToCidrs(entries('10.0.0.0/9', '10.128.0.0/9'), 4)).toEqual(['10.0.0.0/8']);
    expect(entriesToCidrs(entries('10.0.0.0/8', '!10.0.0.0/8'), 4)).toEqual([]);
    expect(entriesToCidrs(entries('10.0.0.0/8', '!10.0.0.0/9'), 4)).toEqual(['10.128.0.0/9']);
    expect(entriesToCidrs(entries('!10.0.0.0/8'), 4)).toEqual([]);
  });
  it('nested re-inclusion inside an exclusion inside an entry', () => {
    const got = entriesToCidrs(entries('10.0.0.0/8', '!10.0.0.0/16', '10.0.1.0/24', '!10.0.1.128/25'), 4);
    expect(cidrsContain(got, '10.0.1.5')).toBe(true);
    expect(cidrsContain(got, '10.0.1.200')).toBe(false);
    expect(cidrsContain(got, '10.0.2.1')).toBe(false);
    expect(cidrsContain(got, '10.1.0.0')).toBe(true);
    expect(cidrsContain(got, '10.255.255.255')).toBe(true);
    checkCanonical(got, 4);
  });

  // Entries drawn from a small corner of the space so that they nest and collide often.
  const addr4 = fc
    .tuple(fc.constantFrom(0, 10, 127, 128, 255), fc.integer({ min: 0, max: 0xffff }))
    .map(([hi, lo]) => (BigInt(hi) << 24n) | BigInt(lo));
  const fmt4 = (n: bigint): string => [24n, 16n, 8n, 0n].map((s) => Number((n >> s) & 0xffn)).join('.');
  const entry4 = fc
    .tuple(addr4, fc.integer({ min: 0, max: 32 }), fc.boolean())
    .map(([a, len, ex]): CidrEntry => {
      const iv = cidrToInterval(`${fmt4(a)}/${len}`, 4);
      const cidr = `${fmt4(iv.start)}/${len}`;
      return { cidr, family: 4, exclude: ex, text: (ex ? '!' : '') + cidr };
    });

  it('agrees with a brute longest-prefix-match oracle (IPv4)', () => {
    fc.assert(
      fc.property(fc.array(entry4, { maxLength: 12 }), fc.array(addr4, { maxLength: 30 }), (es, probes) => {
        const got = entriesToCidrs(es, 4);
        checkCanonical(got, 4);
        // Probe random addresses and every entry boundary ±1.
        const edges = es.flatMap((e) => {
          const iv = cidrToInterval(e.cidr, 4);
          return [iv.start - 1n, iv.start, iv.end, iv.end + 1n].filter((n) => n >= 0n && n < 1n << 32n);
        });
        for (const n of [...probes, ...edges]) expect(inSet(got, n, 4)).toBe(lpmOracle(es, n, 4));
      }),
      { numRuns: 300 },
    );
  });

  const addr6 = fc
    .tuple(fc.constantFrom(0n, 0x20010db8n, 0xffffffffn), fc.bigInt({ min: 0n, max: 0xffffn }))
    .map(([hi, lo]) => (hi << 96n) | lo);
  const entry6 = fc.tuple(addr6, fc.integer({ min: 0, max: 128 }), fc.boolean()).map(([a, len, ex]): CidrEntry => {
    const size = 1n << BigInt(128 - len);
    const start = (a / size) * size;
    const hex = start.toString(16).padStart(32, '0').match(/.{4}/g)!.join(':');
    const iv = cidrToInterval(`${hex}/${len}`, 6);
    const norm = mergeCidrs([`${hex}/128`], 6)[0].split('/')[0];
    expect(iv.start).toBe(start);
    return { cidr: `${norm}/${len}`, family: 6, exclude: ex, text: '' };
  });
  it('agrees with a brute longest-prefix-match oracle (IPv6)', () => {
    fc.assert(
      fc.property(fc.array(entry6, { maxLength: 10 }), fc.array(addr6, { maxLength: 20 }), (es, probes) => {
        const got = entriesToCidrs(es, 6);
        checkCanonical(got, 6);
        const edges = es.flatMap((e) => {
          const iv = cidrToInterval(e.cidr, 6);
          return [iv.start - 1n, iv.start, iv.end, iv.end + 1n].filter((n) => n >= 0n && n < 1n << 128n);
        });
        for (const n of [...probes, ...edges]) expect(inSet(got, n, 6)).toBe(lpmOracle(es, n, 6));
      }),
      { numRuns: 200 },
    );
  });
});

describe('mergeCidrs', () => {
  it('unions addresses and CIDRs canonically', () => {
    expect(mergeCidrs(['10.0.0.1', '10.0.0.0', '10.0.0.2/31', '192.168.1.7/24', '2001:db8::1'], 4)).toEqual([
      '10.0.0.0/30',
      '192.168.1.0/24',
    ]);
    expect(mergeCidrs(['2001:db8::1', '10.0.0.1', '2001:db8::'], 6)).toEqual(['2001:db8::/127']);
    expect(mergeCidrs(['0.0.0.0/1', '128.0.0.0/1'], 4)).toEqual(['0.0.0.0/1', '128.0.0.0/1']);
    expect(mergeCidrs([], 4)).toEqual([]);
  });
  it('throws on garbage', () => {
    expect(() => mergeCidrs(['nope'], 4)).toThrow(/not an address/);
  });
  it('membership equals the union of inputs', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 0xfff }), fc.integer({ min: 20, max: 32 })), { maxLength: 15 }),
        fc.array(fc.integer({ min: 0, max: 0xfff }), { maxLength: 20 }),
        (items, probes) => {
          const cidrs = items.map(([a, l]) => `10.0.${a >> 8}.${a & 0xff}/${l}`);
          const got = mergeCidrs(cidrs, 4);
          checkCanonical(got, 4);
          for (const p of probes) {
            const addr = `10.0.${p >> 8}.${p & 0xff}`;
            const n = addressToBigint(addr, 4);
            expect(inSet(got, n, 4)).toBe(cidrs.some((c) => inSet([c], n, 4)));
          }
        },
      ),
    );
  });
});
