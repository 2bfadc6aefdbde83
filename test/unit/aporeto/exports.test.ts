/**
 * migrate on what real `apoctl api export` files hold beyond the policy kinds of 2019: network
 * rule set policies (2021), the top-level `identities` list, automation and control-plane kinds
 * exported alongside, bare addresses and DNS names as entries, and Aporeto's automatic tags.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadAndValidate } from '../../../src/cli/commands/common';
import { compile } from '../../../src/compile';
import { migrateAporeto, MigrateCodes } from '../../../src/config/aporeto';
import { expectValidates, importFile } from './helpers';
import type { Diagnostic } from '../../../src/diagnostics';
import { evaluateExpectations } from '../../../src/trace/expectations';
import { SHOP_EXPECTATIONS, shopConfig } from '../../fixtures/aporeto/shop';

const FILE = 'export.yaml';

const exportFile = (data: string, tail = ''): string => importFile(data, { tail, apiVersion: 0 });


const brief = (ds: Diagnostic[]): Array<[string, string, number | undefined, number | undefined]> =>
  ds.map((d) => [d.severity, d.code, d.line, d.column]);

/** block returns one rendered block of the output, by type and label. */
function block(hcl: string | undefined, type: string, label: string): string | undefined {
  const m = new RegExp(`^${type} "${label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}" \\{\\n[\\s\\S]*?^\\}\\n`, 'm').exec(hcl ?? '');
  return m?.[0];
}

describe('network rule set policies', () => {
  test('each rule becomes one policy: incoming rules decide on the subject, from the rule object; outgoing rules toward it', () => {
    const r = migrateAporeto(
      FILE,
      exportFile(`
  networkrulesetpolicies:
    - name: api
      description: The API tier
      namespace: /acme/prod
      subject: [[app=api]]
      incomingRules:
        - action: Allow
          object: [[app=web]]
          protocolPorts: [tcp/8080]
          logsDisabled: true
      outgoingRules:
        - action: Reject
          name: no-db-admin
          object: [[app=db]]
          protocolPorts: [TCP/5433]
          observationEnabled: true
        - action: Allow
          object: [[app=db], [app=cache]]
          protocolPorts: [tcp/5432, tcp/6379]
      disabled: true
      propagate: true
      fallback: true
      protected: true
`),
    );
    expect(r.diagnostics).toEqual([]);
    expect(block(r.hcl, 'network_policy', 'api-in')).toBe(
      [
        'network_policy "api-in" {',
        '  # From networkrulesetpolicy "api", incoming rule 1 of 1.',
        '  namespace         = "/acme/prod"',
        '  description       = "The API tier"',
        '  subject           = [["app=web"]]',
        '  object            = [["app=api"]]',
        '  action            = "allow"',
        '  ports             = ["tcp/8080"]',
        '  apply_policy_mode = "incoming"',
        '  disabled          = true',
        '  propagate         = true',
        '  fallback          = true',
        '',
        '  lifecycle {',
        '    prevent_destroy = true',
        '  }',
        '}',
        '',
      ].join('\n'),
    );
    expect(block(r.hcl, 'network_policy', 'api-out-no-db-admin')).toContain(
      [
        '  # From networkrulesetpolicy "api", outgoing rule "no-db-admin".',
        '  namespace           = "/acme/prod"',
        '  description         = "The API tier"',
        '  subject             = [["app=api"]]',
        '  object              = [["app=db"]]',
        '  action              = "reject"',
        '  ports               = ["tcp/5433"]',
        '  apply_policy_mode   = "outgoing"',
        '  logs_enabled        = true',
        '  observation_enabled = true',
      ].join('\n'),
    );
    expect(block(r.hcl, 'network_policy', 'api-out-2')).toContain('  object            = [["app=db"], ["app=cache"]]\n');
    expect(block(r.hcl, 'network_policy', 'api-out-2')).toContain('  ports             = ["tcp/5432", "tcp/6379"]\n');
    expectValidates(r.hcl!);
  });

  test('migrated rule sets decide every connection of the shop as Aporeto did (offline trace)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mseg-shop-'));
    try {
      shopConfig(dir, 'mseg-shop');
      const { model, diagnostics } = await loadAndValidate(dir, {});
      expect(diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
      const results = evaluateExpectations(model!, compile(model!, { now: new Date() }).rulesets);
      expect(results.map((x) => [x.name, x.pass]).sort()).toEqual(SHOP_EXPECTATIONS.map(([name]) => [name, true]).sort());
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('server-resolved networks of a rule are dropped; networks written by hand, Continue and unknown rule attributes are errors', () => {
    const ok = migrateAporeto(
      FILE,
      exportFile(`
  networkrulesetpolicies:
    - name: r
      subject: [[app=a]]
      outgoingRules:
        - object: [[ext=x]]
          networks: [{ID: 60c7a1f2e4b0a1b2c3d4e5f6, entries: [198.51.100.0/24], namespace: /acme}]
`),
    );
    expect(ok.diagnostics).toEqual([]);
    expect(block(ok.hcl, 'network_policy', 'r-out')).toContain('  action            = "allow"\n');

    const bad = migrateAporeto(
      FILE,
      exportFile(`
  networkrulesetpolicies:
    - name: r
      subject: [[app=a]]
      outgoingRules:
        - action: Continue
          object: [[ext=x]]
        - object: [[ext=x]]
          networks: [198.51.100.0/24]
        - object: [[ext=x]]
          protocolPort: [tcp/80]
`),
    );
    expect(bad.hcl).toBeUndefined();
    expect(bad.diagnostics.map((d) => [d.code, d.line, d.summary])).toEqual([
      [MigrateCodes.invalidValue, 8, 'networkrulesetpolicy "r", outgoing rule 1: unknown action "Continue"'],
      [MigrateCodes.unsupported, 11, 'networkrulesetpolicy "r", outgoing rule 2: "networks" written by hand is not supported'],
      [MigrateCodes.unknownAttribute, 13, 'networkrulesetpolicy "r", outgoing rule 3: unknown attribute "protocolPort"'],
    ]);
    expect(bad.diagnostics[2].detail).toMatch(/^Did you mean "protocolPorts"\?/);
  });

  test('a rule set without rules is skipped with a warning', () => {
    const r = migrateAporeto(FILE, exportFile('  networkrulesetpolicies:\n    - name: empty\n      subject: [[app=a]]\n'));
    expect(brief(r.diagnostics)).toEqual([['warning', MigrateCodes.dropped, 5, 7]]);
    expect(r.hcl).not.toContain('network_policy');
  });

  test('toward a network of the file, a reject narrowed by its servicePorts is an error, an allow a warning; other namespaces do not count', () => {
    const net = `
  externalnetworks:
    - name: web
      namespace: /a
      associatedTags: [ext=web]
      entries: [0.0.0.0/0]
      servicePorts: [tcp/443]
    - name: elsewhere
      namespace: /b
      associatedTags: [ext=web]
      entries: [0.0.0.0/0]
      servicePorts: [tcp/80]
`;
    const rule = (action: string, ports: string): string => `
  networkrulesetpolicies:
    - name: out
      namespace: /a
      subject: [[app=a]]
      outgoingRules:
        - action: ${action}
          object: [[ext=web]]
          protocolPorts: [${ports}]
`;
    const reject = migrateAporeto(FILE, exportFile(net + rule('Reject', 'tcp/22, tcp/443')));
    expect(reject.hcl).toBeUndefined();
    // At the rule's ports: what microseg would narrow.
    expect(brief(reject.diagnostics)).toEqual([['error', MigrateCodes.unsupported, 23, 26]]);
    expect(reject.diagnostics[0].summary).toBe('networkrulesetpolicy "out": this reject toward externalnetwork "web" would let traffic through in microseg');
    expect(reject.diagnostics[0].detail).toContain('Aporeto rejected tcp/22, tcp/443 toward the network');

    const allow = migrateAporeto(FILE, exportFile(net + rule('Allow', 'tcp/22, tcp/443')));
    expect(brief(allow.diagnostics)).toEqual([['warning', MigrateCodes.review, 23, 26]]);
    expectValidates(allow.hcl!);

    // Within the network's ports, and incoming rules (microseg narrows only egress): nothing to say.
    expect(migrateAporeto(FILE, exportFile(net + rule('Reject', 'tcp/443'))).diagnostics).toEqual([]);
    const incoming = rule('Reject', 'tcp/22').replace('outgoingRules', 'incomingRules');
    expect(migrateAporeto(FILE, exportFile(net + incoming)).diagnostics).toEqual([]);
  });
});

describe('kinds that write no firewall rule', () => {
  test('are skipped with one warning per kind, templates inside them ignored, and named in the output header', () => {
    const r = migrateAporeto(
      FILE,
      exportFile(`
  recipes:
    - name: one
      template: "{{ .Values.x }}"
    - name: two
  automations:
    - name: nightly
      actions: ["function then(api) {}"]
  externalnetworks:
    - name: x
      entries: [10.0.0.0/8]
  hostservices: []
  services: []
  madeupkinds: []
`),
    );
    expect(brief(r.diagnostics)).toEqual([
      ['warning', MigrateCodes.skippedKind, 4, 3],
      ['warning', MigrateCodes.skippedKind, 8, 3],
    ]);
    expect(r.diagnostics[0].summary).toBe('Skipped 2 recipe objects ("recipes")');
    expect(r.diagnostics[1].detail).toMatch(/^These objects automate the Aporeto control plane/);
    expect(r.hcl).toContain('# Skipped, because they write no firewall rule: 2 recipes, 1 automation.\n');
    expect(r.hcl).toContain('external_network "x"');
  });

  test('layer 7 services and host services that hold objects are errors with the reason; unknown kinds still are', () => {
    const r = migrateAporeto(FILE, exportFile('  services:\n    - name: api\n  hostservices:\n    - name: ssh\n  widgets:\n    - name: w\n'));
    expect(r.hcl).toBeUndefined();
    expect(r.diagnostics.map((d) => [d.code, d.line, d.detail?.slice(0, 40)])).toEqual([
      [MigrateCodes.unknownKind, 4, 'These objects describe layer 7 API servi'],
      [MigrateCodes.unknownKind, 6, 'These objects made ports of an enforcer '],
      [MigrateCodes.unknownKind, 8, 'Supported kinds under data: namespaces, '],
    ]);
  });
});

describe('the identities list of an export', () => {
  test('is accepted, singular or plural, and checked against data', () => {
    const data = `
  externalnetworks:
    - name: x
      entries: [10.0.0.0/8]
  networkaccesspolicies: []
  recipes:
    - name: r
`;
    const quiet = migrateAporeto(FILE, exportFile(data, 'identities:\n  - externalnetwork\n  - networkaccesspolicies\n  - Recipe\n'));
    expect(brief(quiet.diagnostics)).toEqual([['warning', MigrateCodes.skippedKind, 8, 3]]);
    expect(quiet.hcl).toBeDefined();

    const off = migrateAporeto(FILE, exportFile(data, 'identities:\n  - networkaccesspolicy\n  - namespace\n  - gizmo\n'));
    expect(off.hcl).toBeDefined();
    expect(off.diagnostics.map((d) => [d.code, d.line, d.summary])).toEqual([
      [MigrateCodes.identities, 4, 'data holds externalnetworks, which "identities" does not list'],
      [MigrateCodes.skippedKind, 8, 'Skipped 1 recipe object ("recipes")'],
      [MigrateCodes.identities, 8, 'data holds recipes, which "identities" does not list'],
      [MigrateCodes.identities, 12, '"identities" lists "namespace", but data has no "namespaces"'],
      [MigrateCodes.identities, 13, '"identities" lists "gizmo", which is not an Aporeto kind migrate knows'],
    ]);
  });

  test('that is not a list of names is an error', () => {
    const r = migrateAporeto(FILE, exportFile('  externalnetworks: []\n', 'identities: externalnetwork\n'));
    expect(r.hcl).toBeUndefined();
    expect(brief(r.diagnostics)).toEqual([['error', MigrateCodes.invalidValue, 5, 13]]);
  });
});

describe('external network entries and other objects', () => {
  test('bare addresses become host prefixes; the output validates', () => {
    const r = migrateAporeto(FILE, exportFile('  externalnetworks:\n    - name: hosts\n      entries: [198.51.100.7, 224.0.0.18, "2001:DB8::7", "!10.0.0.1", 10.0.0.0/8]\n'));
    expect(r.diagnostics).toEqual([]);
    expect(r.hcl).toContain('  entries = ["198.51.100.7/32", "224.0.0.18/32", "2001:db8::7/128", "!10.0.0.1/32", "10.0.0.0/8"]\n');
    expectValidates(r.hcl!);
  });

  test('DNS names stop the object, naming it, the names and the choices, at the first name', () => {
    const r = migrateAporeto(
      FILE,
      exportFile(`
  externalnetworks:
    - name: GitHub
      entries:
        - 140.82.112.0/20
        - github.com
        - '*.githubusercontent.com'
    - name: fine
      entries: [10.0.0.0/8]
`),
    );
    expect(r.hcl).toBeUndefined();
    expect(brief(r.diagnostics)).toEqual([['error', MigrateCodes.dnsEntry, 8, 11]]);
    expect(r.diagnostics[0].summary).toBe('externalnetwork "GitHub": entries "github.com", "*.githubusercontent.com" are DNS names');
    expect(r.diagnostics[0].detail).toMatch(/replace each name by the networks it stands for/);
    expect(r.diagnostics[0].detail).toMatch(/remove the name/);
    expect(r.diagnostics[0].detail).toMatch(/write them by hand/);
  });

  test('every value the validator would refuse is reported at its line in the import file', () => {
    const r = migrateAporeto(
      FILE,
      exportFile(`
  externalnetworks:
    - name: n
      entries: [10.0.0.0/8, 10.1.2.3/8, "!192.168.0.0/16"]
      servicePorts: [tcp/80/90]
      associatedTags: [$name=n]
  networkaccesspolicies:
    - name: p
      subject: [[$image=nginx]]
      object: [[app=]]
      ports: [tcp, any]
`),
    );
    expect(r.hcl).toBeUndefined();
    expect(r.diagnostics.map((d) => [d.code, d.line, d.summary])).toEqual([
      [MigrateCodes.invalidValue, 6, 'externalnetwork "n": invalid entry "10.1.2.3/8"'],
      [MigrateCodes.invalidValue, 6, 'externalnetwork "n": invalid entry "!192.168.0.0/16"'],
      [MigrateCodes.invalidValue, 7, 'externalnetwork "n": invalid service port "tcp/80/90" in "servicePorts"'],
      [MigrateCodes.invalidValue, 8, 'externalnetwork "n": invalid tag "$name=n"'],
      [MigrateCodes.invalidValue, 11, 'networkaccesspolicy "p": term "$image=nginx" cannot be converted'],
      [MigrateCodes.invalidValue, 12, 'networkaccesspolicy "p": term "app=" cannot be converted'],
      [MigrateCodes.invalidValue, 13, 'networkaccesspolicy "p": invalid service port "tcp" in "ports"'],
      [MigrateCodes.invalidValue, 13, 'networkaccesspolicy "p": invalid service port "any" in "ports"'],
    ]);
    expect(r.diagnostics[4].detail).toMatch(/Aporeto set tags such as \$image/);
  });

  test('a network with no entries is left out with a warning; an empty list item too', () => {
    const r = migrateAporeto(FILE, exportFile('  externalnetworks:\n    - annotations:\n    - name: nothing\n      associatedTags: [ext=none]\n    - name: also\n      entries: []\n'));
    expect(brief(r.diagnostics)).toEqual([
      ['warning', MigrateCodes.emptyObject, 5, 7],
      ['warning', MigrateCodes.dropped, 6, 13],
      ['warning', MigrateCodes.dropped, 9, 16],
    ]);
    expect(r.hcl).not.toContain('external_network');
  });

  test('settings microseg cannot reproduce are errors: encryption, cloud-synchronised networks, archived networks', () => {
    const r = migrateAporeto(
      FILE,
      exportFile(`
  externalnetworks:
    - name: sg
      entries: [10.0.0.0/8]
      type: SecurityGroup
    - name: old
      entries: [10.0.0.0/8]
      archived: true
  networkaccesspolicies:
    - name: p
      subject: [[a=b]]
      object: [[c=d]]
      encryptionEnabled: true
`),
    );
    expect(r.hcl).toBeUndefined();
    expect(r.diagnostics.map((d) => [d.code, d.line, d.summary])).toEqual([
      [MigrateCodes.unsupported, 7, 'externalnetwork "sg": type "SecurityGroup" is not supported'],
      [MigrateCodes.unsupported, 10, 'externalnetwork "old" is archived'],
      [MigrateCodes.unsupported, 15, 'networkaccesspolicy "p": encryptionEnabled is not supported'],
    ]);
  });

  test('tags Aporeto set automatically are named once per file', () => {
    const r = migrateAporeto(FILE, exportFile('  networkaccesspolicies:\n    - name: p\n      subject: [["@org:tenant=1", app=a]]\n      object: [["@app:k8s:namespace=db", "@org:tenant=1"]]\n'));
    expect(brief(r.diagnostics)).toEqual([['warning', MigrateCodes.review, 6, 18]]);
    expect(r.diagnostics[0].summary).toBe('Policies match 2 tag keys that Aporeto set automatically: @app:k8s:namespace, @org:tenant');
    expectValidates(r.hcl!);
  });
});

describe('file-level problems keep file, line and column', () => {
  test('a duplicate key, and several documents in one file', () => {
    const dup = migrateAporeto(FILE, 'APIVersion: 0\ndata:\n  externalnetworks: []\nlabel: a\nlabel: b\n');
    expect(brief(dup.diagnostics)).toEqual([['error', MigrateCodes.syntax, 5, 1]]);
    const multi = migrateAporeto(FILE, 'APIVersion: 0\ndata: {}\n---\nAPIVersion: 0\ndata: {}\n');
    expect(brief(multi.diagnostics)).toEqual([['error', MigrateCodes.syntax, 3, 1]]);
    expect(multi.diagnostics[0].summary).toMatch(/several YAML documents/);
  });
});
