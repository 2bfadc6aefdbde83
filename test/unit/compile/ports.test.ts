import { intersectSpecs, isEmptySpec, specFromServicePorts, specText, specToFragments } from '../../../src/compile/ports';
import { parseDuration } from '../../../src/compile/activity';
import { sps } from './builders';

const spec = (...t: string[]) => specFromServicePorts(sps(...t));
const inter = (a: string[], b: string[]) => specText(intersectSpecs(spec(...a), spec(...b)));

describe('port specs', () => {
  it('normalises: empty and any are any; ranges merge; icmp types absorb codes', () => {
    expect(specText(spec())).toBe('any');
    expect(specText(spec('tcp/80', 'any'))).toBe('any');
    expect(specText(spec('tcp/81', 'tcp/80', 'tcp/82:90', 'tcp/100'))).toBe('tcp/80:90,tcp/100');
    expect(specText(spec('icmp/3/1', 'icmp/3', 'icmp/3/0:2,5'))).toBe('icmp/3');
    expect(specText(spec('icmp/3/4', 'icmp/3/0:2'))).toBe('icmp/3/0:2,4');
    expect(specText(spec('icmp/3/4', 'icmp'))).toBe('icmp');
    expect(specText(spec('GRE', 'esp', 'gre'))).toBe('esp,gre');
  });
  it('intersects exactly', () => {
    expect(inter([], ['udp/53'])).toBe('udp/53');
    expect(inter(['tcp/1:100'], ['tcp/50:200', 'udp/53'])).toBe('tcp/50:100');
    expect(inter(['tcp/80'], ['udp/80'])).toBe('none');
    expect(isEmptySpec(intersectSpecs(spec('tcp/80'), spec('udp/80')))).toBe(true);
    expect(inter(['icmp'], ['icmp/3/1:3'])).toBe('icmp/3/1:3');
    expect(inter(['icmp/3/0:2'], ['icmp/3/2:9', 'icmp/8'])).toBe('icmp/3/2');
    expect(inter(['icmp/3'], ['icmp6/3'])).toBe('none');
    expect(inter(['gre', 'tcp/22'], ['gre', 'esp'])).toBe('gre');
  });
  it('fragments are per protocol and family-filtered', () => {
    const s = spec('tcp/80', 'tcp/443', 'udp/53', 'icmp/8', 'icmp6', 'gre');
    expect(specToFragments(s)).toEqual([
      { protocol: 'tcp', dports: [{ from: 80, to: 80 }, { from: 443, to: 443 }] },
      { protocol: 'udp', dports: [{ from: 53, to: 53 }] },
      { family: 4, protocol: 'icmp', icmpType: 8 },
      { family: 6, protocol: 'icmpv6' },
      { protocol: 'gre' },
    ]);
    expect(specToFragments(s, 6).map((f) => f.protocol)).toEqual(['tcp', 'udp', 'icmpv6', 'gre']);
    expect(specToFragments(spec())).toEqual([{}]);
  });
});

describe('parseDuration', () => {
  it.each<[string, number | undefined]>([
    ['30m', 1_800_000],
    ['1h30m', 5_400_000],
    ['1.5h', 5_400_000],
    ['2d', 172_800_000],
    ['500ms', 500],
    ['soon', undefined],
    ['0s', undefined],
    ['', undefined],
  ])('%s', (t, want) => expect(parseDuration(t)).toBe(want));
});
