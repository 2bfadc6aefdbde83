import { parseServicePort, parseServicePortList } from '../../../src/model/service-ports';

describe('parseServicePort: valid forms (DESIGN §4)', () => {
  const valid: Array<[string, unknown]> = [
    ['any', { kind: 'any', text: 'any' }],
    ['ANY', { kind: 'any', text: 'any' }],
    ['tcp/80', { kind: 'l4', protocol: 'tcp', ports: { from: 80, to: 80 }, text: 'tcp/80' }],
    ['TCP/443', { kind: 'l4', protocol: 'tcp', ports: { from: 443, to: 443 }, text: 'tcp/443' }],
    ['udp/53', { kind: 'l4', protocol: 'udp', ports: { from: 53, to: 53 }, text: 'udp/53' }],
    ['tcp/0', { kind: 'l4', protocol: 'tcp', ports: { from: 0, to: 0 }, text: 'tcp/0' }],
    ['tcp/65535', { kind: 'l4', protocol: 'tcp', ports: { from: 65535, to: 65535 }, text: 'tcp/65535' }],
    ['tcp/8000:8100', { kind: 'l4', protocol: 'tcp', ports: { from: 8000, to: 8100 }, text: 'tcp/8000:8100' }],
    ['udp/1:65535', { kind: 'l4', protocol: 'udp', ports: { from: 1, to: 65535 }, text: 'udp/1:65535' }],
    ['tcp/0080', { kind: 'l4', protocol: 'tcp', ports: { from: 80, to: 80 }, text: 'tcp/80' }],
    [' tcp/22 ', { kind: 'l4', protocol: 'tcp', ports: { from: 22, to: 22 }, text: 'tcp/22' }],
    ['icmp', { kind: 'icmp', protocol: 'icmp', text: 'icmp' }],
    ['ICMP/8', { kind: 'icmp', protocol: 'icmp', type: 8, text: 'icmp/8' }],
    ['icmp/0', { kind: 'icmp', protocol: 'icmp', type: 0, text: 'icmp/0' }],
    ['icmp/255', { kind: 'icmp', protocol: 'icmp', type: 255, text: 'icmp/255' }],
    ['icmp/8/0', { kind: 'icmp', protocol: 'icmp', type: 8, codes: [{ from: 0, to: 0 }], text: 'icmp/8/0' }],
    [
      'icmp/3/0:4,13',
      { kind: 'icmp', protocol: 'icmp', type: 3, codes: [{ from: 0, to: 4 }, { from: 13, to: 13 }], text: 'icmp/3/0:4,13' },
    ],
    [
      'icmp/3/0,1,5:7,255',
      {
        kind: 'icmp',
        protocol: 'icmp',
        type: 3,
        codes: [{ from: 0, to: 0 }, { from: 1, to: 1 }, { from: 5, to: 7 }, { from: 255, to: 255 }],
        text: 'icmp/3/0,1,5:7,255',
      },
    ],
    ['icmp6', { kind: 'icmp', protocol: 'icmp6', text: 'icmp6' }],
    ['icmp6/128', { kind: 'icmp', protocol: 'icmp6', type: 128, text: 'icmp6/128' }],
    ['ICMP6/1/0:4', { kind: 'icmp', protocol: 'icmp6', type: 1, codes: [{ from: 0, to: 4 }], text: 'icmp6/1/0:4' }],
    ['gre', { kind: 'proto', protocol: 'gre', text: 'gre' }],
    ['ESP', { kind: 'proto', protocol: 'esp', text: 'esp' }],
    ['ah', { kind: 'proto', protocol: 'ah', text: 'ah' }],
    ['sctp', { kind: 'proto', protocol: 'sctp', text: 'sctp' }],
    ['ospf', { kind: 'proto', protocol: 'ospf', text: 'ospf' }],
    ['vrrp', { kind: 'proto', protocol: 'vrrp', text: 'vrrp' }],
    ['igmp', { kind: 'proto', protocol: 'igmp', text: 'igmp' }],
  ];
  it.each(valid)('%j', (text, want) => {
    expect(parseServicePort(text)).toEqual({ ok: true, value: want });
  });
});

const TCP = 'a tcp service port is tcp/N or tcp/A:B, for example "tcp/80" or "tcp/8000:8100"';
const UDP = 'a udp service port is udp/N or udp/A:B, for example "udp/53" or "udp/8000:8100"';
const ICMP = 'an icmp service port is icmp, icmp/TYPE or icmp/TYPE/CODES, for example "icmp", "icmp/8" or "icmp/3/0:4,13"';
const ICMP6 =
  'an icmp6 service port is icmp6, icmp6/TYPE or icmp6/TYPE/CODES, for example "icmp6", "icmp6/128" or "icmp6/1/0:4"';
const EX = '"any", "tcp/443", "udp/53", "tcp/8000:8100", "icmp/8", "icmp6/128" or "gre"';

describe('parseServicePort: invalid forms say what is wrong and show a valid form', () => {
  const invalid: Array<[string, string]> = [
    ['', `empty service port: write one of ${EX}`],
    ['tcp', `"tcp" has no port: ${TCP}`],
    ['tcp/', `"tcp/" has no port: ${TCP}`],
    ['udp', `"udp" has no port: ${UDP}`],
    ['tcp/80/90', `"tcp/80/90" has more than one "/": ${TCP}`],
    ['tcp/90:80', `"tcp/90:80" is a range whose start is above its end; write "tcp/80:90": ${TCP}`],
    ['tcp/80:80', `"tcp/80:80" is a range whose ends are equal; write the single port "tcp/80": ${TCP}`],
    ['tcp/70000', `"tcp/70000" has port 70000, outside 0-65535: ${TCP}`],
    ['udp/1:65536', `"udp/1:65536" has port 65536, outside 0-65535: ${UDP}`],
    ['tcp/80-90', `"tcp/80-90" writes a range with "-"; write it with ":", as "tcp/80:90": ${TCP}`],
    ['tcp/80,443', `"tcp/80,443" lists several ports; write one service port per port or range: ${TCP}`],
    ['tcp/http', `"tcp/http" has "http" where a port is expected: ${TCP}`],
    ['tcp/-1', `"tcp/-1" has "-1" where a port is expected: ${TCP}`],
    ['tcp/ 80', `"tcp/ 80" contains a space: write it without spaces, for example "tcp/80"`],
    ['icmp/2,3', `"icmp/2,3" lists more than one type; write one service port per ICMP type: ${ICMP}`],
    ['icmp/2:3', `"icmp/2:3" lists more than one type; write one service port per ICMP type: ${ICMP}`],
    ['icmp/256', `"icmp/256" has type 256, outside 0-255: ${ICMP}`],
    ['icmp/', `"icmp/" has an empty type: ${ICMP}`],
    ['icmp/x', `"icmp/x" has "x" where an ICMP type number is expected: ${ICMP}`],
    ['icmp/3/', `"icmp/3/" has an empty code list: ${ICMP}`],
    ['icmp/3/256', `"icmp/3/256" has code 256, outside 0-255: ${ICMP}`],
    ['icmp/3/4:0', `"icmp/3/4:0" has code range 4:0 whose start is above its end; write 0:4: ${ICMP}`],
    ['icmp/3/4:4', `"icmp/3/4:4" has code range 4:4 whose ends are equal; write the single code 4: ${ICMP}`],
    ['icmp/3/5,1', `"icmp/3/5,1" has codes out of order or overlapping at "1"; list codes ascending without overlap: ${ICMP}`],
    ['icmp/3/0:4,3', `"icmp/3/0:4,3" has codes out of order or overlapping at "3"; list codes ascending without overlap: ${ICMP}`],
    ['icmp/3/1,1', `"icmp/3/1,1" has codes out of order or overlapping at "1"; list codes ascending without overlap: ${ICMP}`],
    ['icmp/3/a', `"icmp/3/a" has "a" where an ICMP code or code range C1:C2 is expected: ${ICMP}`],
    ['icmp/3/0/1', `"icmp/3/0/1" has more than two "/": ${ICMP}`],
    ['icmp6/2,3', `"icmp6/2,3" lists more than one type; write one service port per ICMP type: ${ICMP6}`],
    ['icmp6/300', `"icmp6/300" has type 300, outside 0-255: ${ICMP6}`],
    ['6/80', `"6/80" uses protocol number 6: protocol numbers are not accepted; write the protocol name "tcp", for example "tcp/80"`],
    ['17', `"17" uses protocol number 17: protocol numbers are not accepted; write the protocol name "udp"`],
    ['47', `"47" uses protocol number 47: protocol numbers are not accepted; write the protocol name "gre"`],
    ['250', `"250" uses protocol number 250: protocol numbers are not accepted; write a protocol name such as ${EX}`],
    ['gre/1', `"gre/1": protocol gre has no ports: write "gre" alone`],
    ['any/80', `"any/80": "any" takes no ports: write "any" alone, or a protocol with ports such as "tcp/80"`],
    ['/80', `"/80" has no protocol: write one of ${EX}`],
    ['udpp/53', `"udpp/53" names unknown protocol "udpp" (did you mean "udp"?): write one of ${EX}`],
    ['http', `"http" names unknown protocol "http": write one of ${EX}`],
    ['ipv6-icmp/128', `"ipv6-icmp/128": protocol ipv6-icmp is written "icmp6" in microseg, for example "icmp6/128"`],
  ];
  it.each(invalid)('%j', (text, message) => {
    expect(parseServicePort(text)).toEqual({ ok: false, message });
  });
});

describe('parseServicePortList', () => {
  it('accepts an empty list (means any)', () => {
    expect(parseServicePortList([])).toEqual({ ports: [], problems: [] });
  });
  it('keeps order and canonical text', () => {
    const r = parseServicePortList(['UDP/53', 'tcp/53', 'icmp']);
    expect(r.problems).toEqual([]);
    expect(r.ports.map((p) => p.text)).toEqual(['udp/53', 'tcp/53', 'icmp']);
  });
  it('accepts "any" alone', () => {
    expect(parseServicePortList(['any']).problems).toEqual([]);
  });
  it('rejects "any" with other entries, at the "any" entry', () => {
    expect(parseServicePortList(['tcp/80', 'any']).problems).toEqual([
      {
        index: 1,
        message:
          '"any" must be the only service port, since it already allows every protocol and port: remove "any" or the other entries',
      },
    ]);
  });
  it('rejects canonical duplicates at the second, naming the first', () => {
    expect(parseServicePortList(['tcp/80', 'udp/53', 'TCP/80']).problems).toEqual([
      { index: 2, message: '"TCP/80" repeats "tcp/80" (entry 1): remove one of them' },
    ]);
  });
  it('reports every problem, in list order', () => {
    const r = parseServicePortList(['tcp', 'tcp/80', 'tcp/80', '6']);
    expect(r.problems.map((p) => p.index)).toEqual([0, 2, 3]);
    expect(r.ports.map((p) => p.text)).toEqual(['tcp/80']);
  });
});
