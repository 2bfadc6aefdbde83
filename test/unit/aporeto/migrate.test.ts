import { migrateAporeto, MigrateCodes, sanitizeLabel } from '../../../src/config/aporeto';
import { expectValidates, importFile } from './helpers';

const FILE = 'import.yaml';

describe('migrateAporeto', () => {
  test('external networks: protocols/ports become service_ports, associatedTags become tags', () => {
    const r = migrateAporeto(
      FILE,
      importFile(`
  externalnetworks:
    - name: dns
      entries: [198.19.53.0/24]
      protocols: [udp, tcp]
      ports: ["53"]
      associatedTags: [kind=dns]
    - name: web
      entries: [0.0.0.0/0]
      protocols: ["6"]
      ports: ["80", "443"]
    - name: ping
      entries: [198.19.1.0/24]
      protocols: [icmp]
`),
    );
    expect(r.diagnostics).toEqual([]);
    expect(r.hcl).toBe(
      [
        '# Converted from the Aporeto import file "import.yaml" (label "test") by microseg migrate.',
        '',
        'external_network "dns" {',
        '  # service_ports converted from the removed protocols = ["udp", "tcp"] and ports = ["53"].',
        '  entries       = ["198.19.53.0/24"]',
        '  service_ports = ["udp/53", "tcp/53"]',
        '  tags          = ["kind=dns"]',
        '}',
        '',
        'external_network "web" {',
        '  # service_ports converted from the removed protocols = ["6"] and ports = ["80", "443"].',
        '  entries       = ["0.0.0.0/0"]',
        '  service_ports = ["tcp/80", "tcp/443"]',
        '}',
        '',
        'external_network "ping" {',
        '  # service_ports converted from the removed protocols = ["icmp"].',
        '  entries       = ["198.19.1.0/24"]',
        '  service_ports = ["icmp"]',
        '}',
        '',
      ].join('\n'),
    );
    expectValidates(r.hcl!);
  });

  describe('servicePorts wins over the deprecated protocols/ports, which never widen it', () => {
    const net = (extra: string): ReturnType<typeof migrateAporeto> =>
      migrateAporeto(FILE, importFile(`
  externalnetworks:
    - name: n
      entries: [198.19.2.0/24]
      servicePorts: [tcp/443]
${extra}`));
    const servicePorts = (hcl: string | undefined): string | undefined => /service_ports = (.*)/.exec(hcl ?? '')?.[1];

    test('the 2019-2020 API defaults next to servicePorts: a note, no warning, one port', () => {
      for (const extra of ['      protocols: [tcp]\n', '      protocols: [tcp]\n      ports: ["1:65535"]\n', '      protocols: ["6"]\n', '      ports: ["1:65535"]\n']) {
        const r = net(extra);
        expect(r.diagnostics).toEqual([]);
        expect(servicePorts(r.hcl)).toBe('["tcp/443"]');
        expect(r.hcl).toMatch(/# servicePorts wins over the deprecated .*, the API's default \(every TCP port\), as on Aporeto enforcers from 3\.12\./);
        expectValidates(r.hcl!);
      }
    });

    test('protocols/ports meaning the same connections: dropped with a note', () => {
      const r = net('      protocols: [TCP]\n      ports: ["443"]\n');
      expect(r.diagnostics).toEqual([]);
      expect(servicePorts(r.hcl)).toBe('["tcp/443"]');
      expect(r.hcl).toContain('# The deprecated protocols = ["TCP"] and ports = ["443"] meant the same as servicePorts and were dropped.');
    });

    test('protocols/ports meaning other connections: servicePorts kept, a warning at protocols says what they meant', () => {
      const r = net('      protocols: [tcp, udp]\n      ports: ["443", "8443"]\n');
      expect(servicePorts(r.hcl)).toBe('["tcp/443"]');
      expect(r.diagnostics).toHaveLength(1);
      expect(r.diagnostics[0]).toMatchObject({ severity: 'warning', code: MigrateCodes.review, line: 8, column: 7 });
      expect(r.diagnostics[0].summary).toBe('externalnetwork "n": servicePorts wins over protocols/ports, which say something else');
      expect(r.diagnostics[0].detail).toContain('meant tcp/443, tcp/8443, udp/443, udp/8443');
      expectValidates(r.hcl!);
    });

    test('protocols/ports that cannot be converted are ignored too, with the warning', () => {
      const r = net('      protocols: [any]\n      ports: ["443"]\n');
      expect(r.hcl).toBeDefined();
      expect(servicePorts(r.hcl)).toBe('["tcp/443"]');
      expect(r.diagnostics.map((d) => d.severity)).toEqual(['warning']);
    });

    test('without servicePorts, protocols/ports are converted as before', () => {
      const r = migrateAporeto(FILE, importFile(`
  externalnetworks:
    - name: n
      entries: [198.19.2.0/24]
      servicePorts: []
      protocols: [udp]
      ports: ["53"]
`));
      expect(servicePorts(r.hcl)).toBe('["udp/53"]');
    });
  });

  test('network policies: enums, booleans, schedules; zero expiration dropped', () => {
    const r = migrateAporeto(
      FILE,
      importFile(`
  networkaccesspolicies:
    - name: p
      description: "Costs $\${5} %{x}"
      subject: [[a=1, b=2], [c=3]]
      object: [[$identity=processingunit]]
      action: REJECT
      applyPolicyMode: IncomingTraffic
      ports: [tcp/80]
      logsEnabled: true
      observationEnabled: false
      disabled: true
      propagate: true
      fallback: true
      negateSubject: true
      negateObject: true
      expirationTime: "2030-01-01T00:00:00Z"
      activeSchedule: "0 8 * * 1-5"
      activeDuration: 9h
      protected: true
    - name: q
      subject: [[a=1]]
      object: [[b=2]]
      expirationTime: "0001-01-01T00:00:00Z"
      activeSchedule: ""
`),
    );
    expect(r.diagnostics).toEqual([]);
    expect(r.hcl).toContain(
      [
        'network_policy "p" {',
        '  description       = "Costs $$${5} %%{x}"',
        '  subject           = [["a=1", "b=2"], ["c=3"]]',
        '  object            = [["$identity=processingunit"]]',
        '  action            = "reject"',
        '  ports             = ["tcp/80"]',
        '  apply_policy_mode = "incoming"',
        '  logs_enabled      = true',
        '  disabled          = true',
        '  propagate         = true',
        '  fallback          = true',
        '  negate_subject    = true',
        '  negate_object     = true',
        '  expiration_time   = "2030-01-01T00:00:00Z"',
        '  active_schedule   = "0 8 * * 1-5"',
        '  active_duration   = "9h"',
        '',
        '  lifecycle {',
        '    prevent_destroy = true',
        '  }',
        '}',
        '',
        'network_policy "q" {',
        '  subject           = [["a=1"]]',
        '  object            = [["b=2"]]',
        '  action            = "allow"',
        '  apply_policy_mode = "bidirectional"',
        '}',
      ].join('\n'),
    );
    expectValidates(r.hcl!);
  });

  test('JSON import files are read too', () => {
    const json = JSON.stringify(
      {
        APIVersion: 1,
        label: 'j',
        data: { externalnetworks: [{ name: 'x', entries: ['10.0.0.0/8'], protocols: [17], ports: ['500:501'] }] },
      },
      null,
      '\t',
    );
    const r = migrateAporeto('import.json', json);
    expect(r.diagnostics).toEqual([]);
    expect(r.hcl).toContain('service_ports = ["udp/500:501"]');
  });

  test('namespaces: relative names resolve against the import namespace; Inherit is left unset with a warning', () => {
    const r = migrateAporeto(
      FILE,
      importFile(`
  namespaces:
    - name: prod
      description: Production
      defaultPUIncomingTrafficAction: Reject
      defaultPUOutgoingTrafficAction: Inherit
  externalnetworks:
    - name: x
      entries: [10.0.0.0/8]
    - name: y
      namespace: prod
      entries: [10.0.0.0/8]
`),
      { namespace: '/acme' },
    );
    expect(r.hcl).toContain(
      [
        'namespace "/acme/prod" {',
        '  description             = "Production"',
        '  default_incoming_action = "reject"',
        '}',
        '',
        'external_network "x" {',
        '  namespace = "/acme"',
        '  entries   = ["10.0.0.0/8"]',
        '}',
        '',
        'external_network "y" {',
        '  namespace = "/acme/prod"',
      ].join('\n'),
    );
    expect(r.diagnostics.map((d) => [d.severity, d.code, d.line])).toEqual([['warning', MigrateCodes.review, 8]]);
  });

  test('a relative namespace name with no import namespace is taken from / with a warning; used namespaces are declared', () => {
    const r = migrateAporeto(
      FILE,
      importFile(`
  namespaces:
    - name: prod
  externalnetworks:
    - name: x
      namespace: /other/team
      entries: [10.0.0.0/8]
`),
    );
    expect(r.diagnostics.map((d) => [d.code, d.summary, d.line])).toEqual([[MigrateCodes.review, 'namespace "prod": relative name taken as "/prod"', 5]]);
    expect(r.hcl!.match(/^namespace "[^"]*"/gm)).toEqual(['namespace "/other"', 'namespace "/other/team"', 'namespace "/prod"']);
    expectValidates(r.hcl!);
  });

  test('names become labels; policy $name terms follow a renamed external network', () => {
    const r = migrateAporeto(
      FILE,
      importFile(`
  externalnetworks:
    - name: Corporate DNS
      entries: [10.0.0.0/8]
    - name: Corporate/DNS
      entries: [10.0.0.0/8]
  networkaccesspolicies:
    - name: "  allow: dns!  "
      subject: [[a=b]]
      object: [[$name=Corporate DNS], [$name!=Corporate/DNS]]
`),
    );
    expect(r.hcl).toContain('external_network "Corporate-DNS" {');
    expect(r.hcl).toContain('external_network "Corporate-DNS-2" {');
    expect(r.hcl).toContain('network_policy "allow-dns" {');
    expect(r.hcl).toContain('object            = [["$name=Corporate-DNS"], ["$name!=Corporate-DNS-2"]]');
    expect(r.diagnostics.map((d) => [d.code, d.summary])).toEqual([
      [MigrateCodes.renamed, 'externalnetwork "Corporate DNS" becomes external_network "Corporate-DNS"'],
      [MigrateCodes.renamed, 'externalnetwork "Corporate/DNS" becomes external_network "Corporate-DNS-2"'],
      [MigrateCodes.renamed, 'networkaccesspolicy "  allow: dns!  " becomes network_policy "allow-dns"'],
    ]);
    expectValidates(r.hcl!);
    expect(sanitizeLabel('web-1_a')).toBe('web-1_a');
  });

  test('a prefix term whose matches a rename would change is an error', () => {
    const r = migrateAporeto(
      FILE,
      importFile(`
  externalnetworks:
    - name: ext net
      entries: [10.0.0.0/8]
  networkaccesspolicies:
    - name: p
      subject: [[a=b]]
      object: [["$name=ext *"]]
`),
    );
    expect(r.hcl).toBeUndefined();
    expect(r.diagnostics.find((d) => d.severity === 'error')).toMatchObject({ code: MigrateCodes.unsupported, line: 10 });
  });

  test('descriptive attributes are dropped with a warning, server fields silently', () => {
    const r = migrateAporeto(
      FILE,
      importFile(`
  externalnetworks:
    - name: x
      ID: 5f0c
      createTime: "2020-01-01T00:00:00Z"
      normalizedTags: [$name=x]
      entries: [10.0.0.0/8]
      annotations: {owner: [netops]}
      metadata: []
`),
    );
    expect(r.hcl).toBeDefined();
    expect(r.diagnostics.map((d) => [d.severity, d.code, d.line, d.column])).toEqual([['warning', MigrateCodes.dropped, 10, 7]]);
  });

  describe('errors name the object and the line, and nothing is output', () => {
    const cases: Array<[string, string, string, number, RegExp]> = [
      [
        'a Go template in a value',
        `
  externalnetworks:
    - name: x
      entries: [10.0.0.0/8]
      ports: ["{{ .Values.port }}"]
`,
        MigrateCodes.template,
        7,
        /^externalnetwork "x": Go template "\{\{ \.Values\.port \}\}" in "ports\.0"$/,
      ],
      [
        'an unquoted Go template (valid YAML!)',
        `
  networkaccesspolicies:
    - name: p
      subject: [[a=b]]
      object: {{ .Values.object }}
`,
        MigrateCodes.template,
        7,
        /^networkaccesspolicy "p": Go template .* in "object"$/,
      ],
      [
        'an unknown kind',
        `
  hostservices:
    - name: ssh
`,
        MigrateCodes.unknownKind,
        4,
        /^migrate cannot convert "hostservices" objects$/,
      ],
      [
        'an unknown attribute',
        `
  externalnetworks:
    - name: x
      entries: [10.0.0.0/8]
      servicePort: [tcp/80]
`,
        MigrateCodes.unknownAttribute,
        7,
        /^externalnetwork "x": unknown attribute "servicePort"$/,
      ],
      [
        'an unknown enum value',
        `
  networkaccesspolicies:
    - name: p
      subject: [[a=b]]
      object: [[c=d]]
      action: Permit
`,
        MigrateCodes.invalidValue,
        8,
        /^networkaccesspolicy "p": unknown action "Permit"$/,
      ],
      [
        'protocols/ports without a faithful conversion',
        `
  externalnetworks:
    - name: x
      entries: [10.0.0.0/8]
      protocols: [tcp]
      ports: ["80-70"]
`,
        MigrateCodes.legacyPorts,
        7,
        /^externalnetwork "x": cannot convert protocols\/ports to service_ports: port "80-70" is a range whose start is after its end/,
      ],
      [
        'observedTrafficAction Apply',
        `
  networkaccesspolicies:
    - name: p
      subject: [[a=b]]
      object: [[c=d]]
      observationEnabled: true
      observedTrafficAction: Apply
`,
        MigrateCodes.unsupported,
        9,
        /^networkaccesspolicy "p": observedTrafficAction "Apply" is not supported$/,
      ],
      [
        'a wrongly typed value',
        `
  networkaccesspolicies:
    - name: p
      subject: app=web
      object: [[c=d]]
`,
        MigrateCodes.invalidValue,
        6,
        /^networkaccesspolicy "p": "subject" must be a list of lists of tags/,
      ],
      [
        'an object without a name',
        `
  externalnetworks:
    - entries: [10.0.0.0/8]
`,
        MigrateCodes.badName,
        5,
        /has no name/,
      ],
    ];
    test.each(cases)('%s', (_what, data, code, line, summary) => {
      const r = migrateAporeto(FILE, importFile(data));
      expect(r.hcl).toBeUndefined();
      const errors = r.diagnostics.filter((d) => d.severity === 'error');
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatchObject({ code, file: FILE, line });
      expect(errors[0].summary).toMatch(summary);
    });
  });

  test('one bad object withholds the whole output, and every problem is reported', () => {
    const r = migrateAporeto(
      FILE,
      importFile(`
  externalnetworks:
    - name: good
      entries: [10.0.0.0/8]
    - name: bad
      entries: [10.0.0.0/8]
      protocols: [bogus]
  networkaccesspolicies:
    - name: also-bad
      subject: [[a=b]]
      object: [[c=d]]
      applyPolicyMode: Sideways
`),
    );
    expect(r.hcl).toBeUndefined();
    expect(r.diagnostics.map((d) => [d.code, d.line])).toEqual([
      [MigrateCodes.legacyPorts, 9],
      [MigrateCodes.invalidValue, 14],
    ]);
  });

  test('syntax errors and files that are not import files', () => {
    expect(migrateAporeto(FILE, 'data: [unclosed\n').diagnostics[0]).toMatchObject({ code: MigrateCodes.syntax, file: FILE });
    expect(migrateAporeto(FILE, '- just\n- a list\n').diagnostics[0]).toMatchObject({ code: MigrateCodes.notImportFile });
    const t = migrateAporeto(FILE, 'data:\n  {{ range .Values.nets }}\n  - x\n');
    expect(t.diagnostics[0]).toMatchObject({ code: MigrateCodes.template, line: 2, column: 3 });
  });

  test('output is deterministic', () => {
    const text = importFile(`
  externalnetworks:
    - name: a b
      entries: [10.0.0.0/8]
`);
    expect(migrateAporeto(FILE, text)).toEqual(migrateAporeto(FILE, text));
  });
});
