import { evaluateHcl } from '../../../src/config/hcl';
import { parseAddress, parseCidrEntry, parseCidrList } from '../../../src/model/cidr';
import { validateConfig } from '../../../src/model/validate';

describe('parseCidrEntry: valid forms', () => {
  const valid: Array<[string, unknown]> = [
    ['10.0.0.0/8', { cidr: '10.0.0.0/8', family: 4, exclude: false, text: '10.0.0.0/8' }],
    ['10.1.2.3/8', { cidr: '10.0.0.0/8', family: 4, exclude: false, text: '10.0.0.0/8' }],
    ['0.0.0.0/0', { cidr: '0.0.0.0/0', family: 4, exclude: false, text: '0.0.0.0/0' }],
    ['192.168.1.7/32', { cidr: '192.168.1.7/32', family: 4, exclude: false, text: '192.168.1.7/32' }],
    ['10.1.2.3/23', { cidr: '10.1.2.0/23', family: 4, exclude: false, text: '10.1.2.0/23' }],
    ['!10.1.0.0/16', { cidr: '10.1.0.0/16', family: 4, exclude: true, text: '!10.1.0.0/16' }],
    ['::/0', { cidr: '::/0', family: 6, exclude: false, text: '::/0' }],
    ['2001:DB8:0:0:1::1/64', { cidr: '2001:db8::/64', family: 6, exclude: false, text: '2001:db8::/64' }],
    ['2001:db8:0000:0000:0000:0000:0000:0001/128', { cidr: '2001:db8::1/128', family: 6, exclude: false, text: '2001:db8::1/128' }],
    ['!fd00::/8', { cidr: 'fd00::/8', family: 6, exclude: true, text: '!fd00::/8' }],
    // A bare address is a host prefix, written back with its mask.
    ['198.51.100.7', { cidr: '198.51.100.7/32', family: 4, exclude: false, text: '198.51.100.7/32' }],
    ['224.0.0.18', { cidr: '224.0.0.18/32', family: 4, exclude: false, text: '224.0.0.18/32' }],
    ['!10.0.0.1', { cidr: '10.0.0.1/32', family: 4, exclude: true, text: '!10.0.0.1/32' }],
    ['2001:DB8:0::1', { cidr: '2001:db8::1/128', family: 6, exclude: false, text: '2001:db8::1/128' }],
    ['ff02::12', { cidr: 'ff02::12/128', family: 6, exclude: false, text: 'ff02::12/128' }],
  ];
  it.each(valid)('%j', (text, want) => {
    expect(parseCidrEntry(text)).toEqual({ ok: true, value: want });
  });
});

const DNS = (q: string): string =>
  `${q} is a DNS name: entries are addresses, because the kernel matches addresses and a name's addresses change without microseg knowing; list the networks the name stands for (for example a provider's published ranges) as CIDRs`;

describe('parseCidrEntry: invalid forms', () => {
  const invalid: Array<[string, string]> = [
    ['10.0.0.0/33', '"10.0.0.0/33" has mask "/33": an IPv4 mask is 0 to 32, for example "10.0.0.0/24"'],
    ['::/129', '"::/129" has mask "/129": an IPv6 mask is 0 to 128, for example "::/64"'],
    ['10.0.0.0/', '"10.0.0.0/" has mask "/": an IPv4 mask is 0 to 32, for example "10.0.0.0/24"'],
    ['10.0.0.0/255.0.0.0', '"10.0.0.0/255.0.0.0" has mask "/255.0.0.0": an IPv4 mask is 0 to 32, for example "10.0.0.0/24"'],
    ['10.0.0/8', '"10.0.0/8" has "10.0.0", which is not an IPv4 or IPv6 address: write a CIDR such as "10.0.0.0/8" or "2001:db8::/32"'],
    ['010.0.0.0/8', '"010.0.0.0/8" has "010.0.0.0", which is not an IPv4 or IPv6 address: write a CIDR such as "10.0.0.0/8" or "2001:db8::/32"'],
    ['300.0.0.0/8', '"300.0.0.0/8" has "300.0.0.0", which is not an IPv4 or IPv6 address: write a CIDR such as "10.0.0.0/8" or "2001:db8::/32"'],
    ['fe80::1%eth0/64', '"fe80::1%eth0/64" has "fe80::1%eth0", which is not an IPv4 or IPv6 address: write a CIDR such as "10.0.0.0/8" or "2001:db8::/32"'],
    ['example.com', DNS('"example.com"')],
    ['*.githubusercontent.com', DNS('"*.githubusercontent.com"')],
    ['!github.com', DNS('"!github.com"')],
    ['localhost', '"localhost" is not a CIDR: write an IPv4 or IPv6 network with a mask, such as "10.0.0.0/8" or "2001:db8::/32", or one address such as "192.0.2.7"'],
    ['10.0.0', '"10.0.0" is not a CIDR: write an IPv4 or IPv6 network with a mask, such as "10.0.0.0/8" or "2001:db8::/32", or one address such as "192.0.2.7"'],
    ['!10.0.0', '"!10.0.0" is not a CIDR: write an IPv4 or IPv6 network with a mask, such as "10.0.0.0/8" or "2001:db8::/32", or one address such as "192.0.2.7", after the "!"'],
    ['', '"" is not a CIDR: write an IPv4 or IPv6 network with a mask, such as "10.0.0.0/8" or "2001:db8::/32", or one address such as "192.0.2.7"'],
    [' 10.0.0.0/8', '" 10.0.0.0/8" contains a space: write a CIDR without spaces, such as "10.0.0.0/8"'],
  ];
  it.each(invalid)('%j', (text, message) => {
    expect(parseCidrEntry(text)).toEqual({ ok: false, message });
  });
});

describe('parseCidrList', () => {
  const texts = (l: string[]): string[] => parseCidrList(l).entries.map((e) => e.text);
  it('accepts the DESIGN §4 longest-prefix example', () => {
    expect(parseCidrList(['0.0.0.0/0', '!10.0.0.0/8', '10.1.0.0/16'])).toMatchObject({ problems: [] });
  });
  it('keeps written order, normalised', () => {
    expect(texts(['10.1.2.3/16', '2001:db8::1/32'])).toEqual(['10.1.0.0/16', '2001:db8::/32']);
  });
  it('accepts nested exclusions and v6', () => {
    expect(parseCidrList(['10.0.0.0/8', '!10.1.0.0/16', '!10.2.0.0/16', '::/0', '!fd00::/8']).problems).toEqual([]);
  });
  it('accepts an exclusion listed before its entry', () => {
    expect(parseCidrList(['!10.1.0.0/16', '10.0.0.0/8']).problems).toEqual([]);
  });
  const bad: Array<[string, string[], Array<{ index: number; message: string }>]> = [
    [
      'duplicate after normalisation',
      ['10.0.0.0/8', '10.1.2.3/8'],
      [{ index: 1, message: '"10.1.2.3/8" duplicates entry 1, "10.0.0.0/8" ("10.0.0.0/8" normalised): remove one of them' }],
    ],
    [
      'a bare address and its host prefix',
      ['198.51.100.7/32', '198.51.100.7'],
      [{ index: 1, message: '"198.51.100.7" duplicates entry 1, "198.51.100.7/32" ("198.51.100.7/32" normalised): remove one of them' }],
    ],
    ['exact duplicate', ['10.0.0.0/8', '10.0.0.0/8'], [{ index: 1, message: '"10.0.0.0/8" duplicates entry 1, "10.0.0.0/8": remove one of them' }]],
    [
      'v6 duplicate',
      ['2001:db8::/32', '2001:DB8:0::/32'],
      [{ index: 1, message: '"2001:DB8:0::/32" duplicates entry 1, "2001:db8::/32" ("2001:db8::/32" normalised): remove one of them' }],
    ],
    [
      'include and exclude',
      ['10.0.0.0/8', '!10.0.0.0/8'],
      [{ index: 1, message: '"!10.0.0.0/8" excludes 10.0.0.0/8, which entry 1 includes: an address cannot be both in and out; remove one of them' }],
    ],
    [
      'exclusion outside',
      ['10.0.0.0/8', '!192.168.0.0/16'],
      [
        {
          index: 1,
          message:
            '"!192.168.0.0/16" is not inside any entry of this list: an exclusion removes part of a broader entry, for example ["10.0.0.0/8", "!10.1.0.0/16"]; add the broader entry or remove the exclusion',
        },
      ],
    ],
    ['exclusion broader than entry', ['10.1.0.0/16', '!10.0.0.0/8'], [{ index: 1, message: expect.stringContaining('is not inside any entry') }]],
    ['exclusion only', ['!10.0.0.0/8'], [{ index: 0, message: expect.stringContaining('is not inside any entry') }]],
    ['exclusion inside only another exclusion', ['10.0.0.0/8', '!10.1.0.0/16', '!10.1.2.0/24'], []],
    ['family mismatch', ['0.0.0.0/0', '!fd00::/8'], [{ index: 1, message: expect.stringContaining('is not inside any entry') }]],
    [
      'all problems reported',
      ['bad', '10.0.0.0/8', '10.0.0.0/8', '!1.0.0.0/8'],
      [
        { index: 0, message: expect.stringContaining('is not a CIDR') },
        { index: 2, message: expect.stringContaining('duplicates entry 2') },
        { index: 3, message: expect.stringContaining('is not inside any entry') },
      ],
    ],
  ];
  it.each(bad)('%s', (_n, list, problems) => {
    expect(parseCidrList(list).problems).toEqual(problems);
  });
  it('rejects exclusions where the list does not take them', () => {
    expect(parseCidrList(['10.0.0.0/8', '!10.1.0.0/16'], false).problems).toEqual([
      { index: 1, message: '"!10.1.0.0/16" is an exclusion, which this list does not accept: write "10.1.0.0/16" or remove it' },
    ]);
  });
  it('checks containment of a long list of exclusions (its growth is bench/cidr-containment.ts, not timed here)', () => {
    const list: string[] = [];
    for (let i = 0; i < 5000; i++) list.push(`10.${i >> 8}.${i & 255}.0/24`, `!10.${i >> 8}.${i & 255}.128/25`);
    expect(parseCidrList(list).problems).toEqual([]);
    // The last exclusion is still checked against its own positive entry, not just the first few.
    const bad = [...list, '!11.0.0.0/24'];
    expect(parseCidrList(bad).problems.map((p) => p.index)).toEqual([10000]);
  });
});

describe('parseAddress', () => {
  const ok: Array<[string, string, 4 | 6]> = [
    ['10.0.0.5', '10.0.0.5', 4],
    ['10.0.0.5/32', '10.0.0.5', 4],
    ['2001:DB8:0::5', '2001:db8::5', 6],
    ['2001:db8::5/128', '2001:db8::5', 6],
  ];
  it.each(ok)('%j', (text, address, family) => {
    expect(parseAddress(text)).toEqual({ ok: true, value: { address, family } });
  });
  const bad: Array<[string, string]> = [
    ['10.0.0.0/24', '"10.0.0.0/24" is a network, not one address: a processing unit address is a single IP such as "10.0.0.0"; put networks in an external_network'],
    ['2001:db8::/64', '"2001:db8::/64" is a network, not one address: a processing unit address is a single IP such as "2001:db8::"; put networks in an external_network'],
    ['web-1', '"web-1" is not an IP address: write one IPv4 or IPv6 address, such as "10.0.0.5" or "2001:db8::5"'],
    ['10.0.0', '"10.0.0" is not an IP address: write one IPv4 or IPv6 address, such as "10.0.0.5" or "2001:db8::5"'],
  ];
  it.each(bad)('%j', (text, message) => {
    expect(parseAddress(text)).toEqual({ ok: false, message });
  });
});

describe('entries written in HCL', () => {
  it('a bare address validates as its host prefix, and a DNS name is an error at its element', () => {
    const hcl = (entries: string): ReturnType<typeof validateConfig> =>
      validateConfig(evaluateHcl([{ name: 'n.hcl', text: `external_network "n" {\n  entries = ${entries}\n}\n` }], {}));
    const ok = hcl('["198.51.100.7", "224.0.0.18", "2001:db8::7", "0.0.0.0/0", "!10.0.0.1"]');
    expect(ok.diagnostics).toEqual([]);
    expect(ok.model!.externalNetworks[0].entries.map((e) => e.text)).toEqual([
      '198.51.100.7/32',
      '224.0.0.18/32',
      '2001:db8::7/128',
      '0.0.0.0/0',
      '!10.0.0.1/32',
    ]);
    const bad = hcl('["198.51.100.7", "github.com"]');
    expect(bad.diagnostics.map((d) => [d.code, d.summary, d.line, d.column])).toEqual([
      ['MSEG3030', 'Invalid CIDR "github.com"', 2, 30],
    ]);
    expect(bad.diagnostics[0].detail).toMatch(/is a DNS name/);
  });
});
