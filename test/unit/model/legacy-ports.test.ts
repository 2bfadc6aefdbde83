import { convertLegacyPorts } from '../../../src/model/legacy-ports';

describe('convertLegacyPorts', () => {
  const ok: Array<[Array<string | number> | undefined, string[] | undefined, string[]]> = [
    [['tcp', 'udp'], ['53'], ['tcp/53', 'udp/53']],
    [['TCP'], ['80', '443'], ['tcp/80', 'tcp/443']],
    [[6, 17], ['53'], ['tcp/53', 'udp/53']],
    [['6', '17', '1'], ['53'], ['tcp/53', 'udp/53', 'icmp']],
    [[58], ['1'], ['icmp6']],
    [['icmp', 'gre', 'esp'], ['80'], ['icmp', 'gre', 'esp']],
    [[47], undefined, ['gre']],
    [['tcp'], undefined, ['tcp/1:65535']],
    [undefined, ['22'], ['tcp/22']],
    [undefined, undefined, ['tcp/1:65535']],
    [[], [], ['tcp/1:65535']],
    [['tcp'], ['8000-8100', '9000:9100'], ['tcp/8000:8100', 'tcp/9000:9100']],
    [['tcp'], ['1:65535'], ['tcp/1:65535']],
    [['tcp'], ['80:80'], ['tcp/80']],
    [['tcp'], ['80', '80-80', '80'], ['tcp/80']],
    [['tcp', 6, 'udp', 'tcp'], ['53'], ['tcp/53', 'udp/53']],
    [['udp', 'tcp'], ['53', '1000:2000'], ['udp/53', 'udp/1000:2000', 'tcp/53', 'tcp/1000:2000']],
    [['any'], undefined, ['any']],
    [['ipv6-icmp'], undefined, ['icmp6']],
  ];
  it.each(ok)('%j x %j', (protocols, ports, want) => {
    expect(convertLegacyPorts(protocols, ports)).toEqual({ servicePorts: want });
  });

  const bad: Array<[Array<string | number> | undefined, string[] | undefined, RegExp]> = [
    [['{{ .proto }}'], ['80'], /template/],
    [['tcp'], ['{{ .port }}'], /template/],
    [['tcp'], ['http'], /is not a port or range/],
    [['tcp'], ['70000'], /out of range/],
    [['tcp'], ['90:80'], /start is after its end/],
    [['nope'], ['80'], /not a known protocol/],
    [[999], ['80'], /not a known protocol number/],
    [['any'], ['80'], /no service-port equivalent/],
  ];
  it.each(bad)('%j x %j is an error', (protocols, ports, re) => {
    const r = convertLegacyPorts(protocols, ports);
    expect('error' in r && r.error).toMatch(re);
  });
});
