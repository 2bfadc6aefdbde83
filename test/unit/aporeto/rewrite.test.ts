import { MigrateCodes, rewriteLegacyHcl } from '../../../src/config/aporeto';
import { evaluateHcl, parseHcl } from '../../../src/config/hcl';
import { validateConfig } from '../../../src/model/validate';

const FILE = 'legacy.hcl';
const lines = (...l: string[]): string => `${l.join('\n')}\n`;

describe('rewriteLegacyHcl', () => {
  test('protocols + ports become service_ports in place; aligned `=` stays aligned when it fits', () => {
    const text = lines(
      '# top comment',
      'external_network "dns" {',
      '  entries       = ["198.19.53.0/24"] # resolvers',
      '  protocols     = ["udp", "tcp"]',
      '  ports         = ["53"]',
      '  tags          = ["kind=dns"]',
      '}',
    );
    const r = rewriteLegacyHcl(FILE, text);
    expect(r.diagnostics).toEqual([]);
    expect(r.changed).toBe(true);
    expect(r.text).toBe(
      lines(
        '# top comment',
        'external_network "dns" {',
        '  entries       = ["198.19.53.0/24"] # resolvers',
        '  service_ports = ["udp/53", "tcp/53"]',
        '  tags          = ["kind=dns"]',
        '}',
      ),
    );
  });

  test('ports before protocols, a trailing comment, no alignment, CRLF-free multi-line values', () => {
    const text = lines(
      'external_network "web" {',
      '  ports = [',
      '    "80",',
      '    "443",',
      '  ]',
      '  /* keep me */',
      '  protocols = [6] # tcp',
      '  entries = ["0.0.0.0/0"]',
      '}',
    );
    const r = rewriteLegacyHcl(FILE, text);
    expect(r.diagnostics).toEqual([]);
    expect(r.text).toBe(
      lines(
        'external_network "web" {',
        '  service_ports = ["tcp/80", "tcp/443"]',
        '  /* keep me */',
        '  # tcp',
        '  entries = ["0.0.0.0/0"]',
        '}',
      ),
    );
  });

  test('an existing service_ports wins: kept as written, the removed attributes dropped with a warning saying what they meant', () => {
    const text = lines(
      'external_network "vpn" {',
      '  entries       = ["198.19.200.1/32"]',
      '  service_ports = ["udp/500", "TCP/22"]',
      '  protocols     = ["gre", "udp", "tcp"]',
      '  ports         = ["500", "22"]',
      '}',
    );
    const r = rewriteLegacyHcl(FILE, text);
    expect(r.text).toBe(lines('external_network "vpn" {', '  entries       = ["198.19.200.1/32"]', '  service_ports = ["udp/500", "TCP/22"]', '}'));
    expect(r.diagnostics).toHaveLength(1);
    expect(r.diagnostics[0]).toMatchObject({ severity: 'warning', code: MigrateCodes.review, line: 4, column: 3 });
    expect(r.diagnostics[0].detail).toMatch(/^protocols = \["gre", "udp", "tcp"\] and ports = \["500", "22"\] meant tcp\/22, tcp\/500, udp\/22, udp\/500, gre\. /);
  });

  test('service_ports = ["tcp/443"] next to protocols = ["tcp"] stays one port (never every TCP port)', () => {
    const r = rewriteLegacyHcl(FILE, lines('external_network "w" {', '  entries       = ["198.51.100.0/24"]', '  service_ports = ["tcp/443"]', '  protocols     = ["tcp"]', '}'));
    expect(r.text).toBe(lines('external_network "w" {', '  entries       = ["198.51.100.0/24"]', '  service_ports = ["tcp/443"]', '}'));
    expect(r.diagnostics.map((d) => d.severity)).toEqual(['warning']);
    expect(r.diagnostics[0].detail).toMatch(/meant every TCP port/);
  });

  test('removed attributes that say what service_ports says go silently; an empty service_ports takes the conversion', () => {
    const same = rewriteLegacyHcl(FILE, lines('external_network "s" {', '  service_ports = ["tcp/22"]', '  protocols     = ["tcp"]', '  ports         = ["22"]', '}'));
    expect(same).toMatchObject({ changed: true, diagnostics: [], text: lines('external_network "s" {', '  service_ports = ["tcp/22"]', '}') });
    const empty = rewriteLegacyHcl(FILE, lines('external_network "e" {', '  service_ports = []', '  protocols     = ["udp"]', '  ports         = ["53"]', '}'));
    expect(empty).toMatchObject({ diagnostics: [], text: lines('external_network "e" {', '  service_ports = ["udp/53"]', '}') });
  });

  test('only protocols, or only ports, use the legacy defaults (ports 1:65535, protocol tcp)', () => {
    const a = rewriteLegacyHcl(FILE, lines('external_network "a" {', '  entries = ["10.0.0.0/8"]', '  protocols = ["icmp", "tcp"]', '}'));
    expect(a.text).toContain('  service_ports = ["icmp", "tcp/1:65535"]\n');
    const b = rewriteLegacyHcl(FILE, lines('external_network "b" {', '  entries = ["10.0.0.0/8"]', '  ports = ["22"]', '}'));
    expect(b.text).toContain('  service_ports = ["tcp/22"]\n');
  });

  test('other blocks, strings with braces and interpolations, and policies\' ports are untouched', () => {
    const text = lines(
      'locals { x = "a}b" }',
      'network_policy "p" {',
      '  subject = [["a=b"]]',
      '  object  = [["c=d"]]',
      '  ports   = ["tcp/80"]',
      '}',
      'external_network "e" {',
      '  entries   = ["10.0.0.0/8"]',
      '  protocols = ["tcp"]',
      '  ports     = ["8${"0"}"]',
      '}',
    );
    const r = rewriteLegacyHcl(FILE, text);
    // `"8${"0"}"` is a template, not a literal: reported, nothing rewritten.
    expect(r.changed).toBe(false);
    expect(r.text).toBe(text);
    expect(r.diagnostics).toMatchObject([{ code: MigrateCodes.notLiteral, line: 10, column: 3 }]);
  });

  test('a file without legacy attributes is unchanged and says nothing', () => {
    const text = lines('external_network "e" {', '  entries = ["10.0.0.0/8"]', '}');
    expect(rewriteLegacyHcl(FILE, text)).toEqual({ text, changed: false, diagnostics: [] });
  });

  test('protocols computed from a variable are an error with the block and line', () => {
    const text = lines('external_network "e" {', '  entries   = ["10.0.0.0/8"]', '  protocols = var.protos', '  ports     = ["53"]', '}');
    const r = rewriteLegacyHcl(FILE, text);
    expect(r.changed).toBe(false);
    expect(r.text).toBe(text);
    expect(r.diagnostics).toMatchObject([
      { severity: 'error', code: MigrateCodes.notLiteral, file: FILE, line: 3, column: 3, summary: 'external_network "e": "protocols" is not a literal list, so it cannot be rewritten automatically' },
    ]);
  });

  test('unconvertible values are an error; syntax errors are passed through', () => {
    const bad = rewriteLegacyHcl(FILE, lines('external_network "e" {', '  entries = ["10.0.0.0/8"]', '  protocols = ["bogus"]', '}'));
    expect(bad.diagnostics).toMatchObject([{ code: MigrateCodes.legacyPorts, line: 3 }]);
    expect(bad.changed).toBe(false);
    const broken = rewriteLegacyHcl(FILE, 'external_network "e" {\n  protocols = [\n');
    expect(broken.changed).toBe(false);
    expect(broken.diagnostics.length).toBeGreaterThan(0);
  });

  test('comments inside a removed value are reported, since they go with it', () => {
    const r = rewriteLegacyHcl(FILE, lines('external_network "e" {', '  entries = ["10.0.0.0/8"]', '  ports = [', '    "443", # https', '  ]', '}'));
    expect(r.text).toContain('service_ports = ["tcp/443"]');
    expect(r.diagnostics).toMatchObject([{ severity: 'warning', code: MigrateCodes.review, line: 3 }]);
  });

  test('the rewritten file parses, validates, and a second rewrite changes nothing', () => {
    const text = lines(
      'external_network "dns" {',
      '  entries   = ["198.19.53.0/24"]',
      '  protocols = ["udp", "tcp"]',
      '  ports     = ["53"]',
      '}',
    );
    const before = validateConfig(evaluateHcl([{ name: FILE, text }], {}));
    expect(before.diagnostics.some((d) => d.severity === 'error')).toBe(true);
    const r = rewriteLegacyHcl(FILE, text);
    expect(parseHcl(FILE, r.text).diagnostics).toEqual([]);
    const after = validateConfig(evaluateHcl([{ name: FILE, text: r.text }], {}));
    expect(after.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect(rewriteLegacyHcl(FILE, r.text)).toEqual({ text: r.text, changed: false, diagnostics: [] });
  });
});
