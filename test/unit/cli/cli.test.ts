/**
 * End-to-end tests of the CLI in process: real example directories in, exit codes and rendered
 * output checked. Views are exercised in both renderings (human and --json) from the same data.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { BufferIo } from '../../../src/cli/io';
import { main } from '../../../src/cli/main';

const repo = path.resolve(__dirname, '../../..');
const quickstart = path.join(repo, 'examples/quickstart');
const invalid = path.join(repo, 'test/fixtures/invalid');

async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = new BufferIo();
  const code = await main(['node', 'microseg', ...args], io);
  return { code, out: io.stdout, err: io.stderr };
}

describe('microseg validate', () => {
  it('accepts the quickstart with exit 0', async () => {
    const r = await run('validate', quickstart);
    expect(r.err).not.toMatch(/error:/);
    expect(r.out).toMatch(/Success! The configuration is valid/);
    expect(r.code).toBe(0);
  });

  it('reports every problem of an invalid configuration at once, with positions, and exits 1', async () => {
    const r = await run('validate', invalid, '--json');
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.out) as { valid: boolean; diagnostics: Array<Record<string, unknown>> };
    expect(doc.valid).toBe(false);
    const errors = doc.diagnostics.filter((d) => d.severity === 'error');
    const file = path.join(invalid, 'main.hcl');
    const at = (line: number) => errors.find((d) => d.file === file && d.line === line);
    // removed attribute: error at the `protocols` line that prints the converted service_ports
    expect(at(17)?.detail).toEqual(expect.stringContaining('service_ports = ["udp/53", "tcp/53"]'));
    // bad service port
    expect(at(24)?.summary).toEqual(expect.stringContaining('tcp/80/90'));
    // unknown attribute with a hint
    expect(String(at(30)?.summary) + String(at(30)?.detail)).toMatch(/did you mean "action"/i);
    for (const d of doc.diagnostics) {
      expect(Object.keys(d).sort()).toEqual(['address', 'code', 'column', 'detail', 'file', 'line', 'severity', 'summary']);
    }
  });

  it('renders human diagnostics like a compiler, with the source line and a caret', async () => {
    const r = await run('validate', invalid);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(new RegExp(`${path.join(invalid, 'main.hcl').replace(/[/.]/g, '\\$&')}:24:\\d+: error: `));
    expect(r.err).toMatch(/\n\s+24 \|\s+ports\s+= \["tcp\/80\/90"\]\n\s+\|\s+\^/);
    expect(r.err).toMatch(/The configuration is invalid: \d+ errors?/);
  });

  it('reports a missing directory as an error, not a crash', async () => {
    const r = await run('validate', path.join(os.tmpdir(), 'microseg-does-not-exist'));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/Cannot read configuration directory/);
  });

  it('takes --var to override a variable, and rejects a value its validation refuses', async () => {
    const ok = await run('validate', quickstart, '--var', 'env=staging');
    expect(ok.code).toBe(0);
    const bad = await run('validate', quickstart, '--var', 'env=qa', '--json');
    expect(bad.code).toBe(1);
    expect(bad.out).toMatch(/env must be/);
  });
});

describe('microseg inspect', () => {
  it('prints the canonical model with implicit identity tags', async () => {
    const r = await run('inspect', quickstart, '--json');
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.out) as { resources: Array<{ type: string; name: string; attributes: Record<string, unknown> }> };
    const web = doc.resources.find((x) => x.type === 'processing_unit' && x.name === 'web');
    expect(web?.attributes.identity).toEqual(
      expect.arrayContaining(['$identity=processingunit', '$name=web', '$namespace=/acme/prod', '$enforcer=web-1', 'app=web']),
    );
  });

  it('prints byte-identical JSON for the HCL and TypeScript versions of the quickstart', async () => {
    const hcl = await run('inspect', quickstart, '--json');
    const ts = await run('inspect', path.join(repo, 'examples/typescript'), '--json');
    expect(ts.err).toBe('');
    expect(ts.code).toBe(0);
    expect(ts.out).toBe(hcl.out);
  });
});

describe('microseg migrate', () => {
  it('converts the Aporeto import example to HCL that validates', async () => {
    const r = await run('migrate', path.join(repo, 'examples/aporeto-import/import.yaml'));
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/service_ports/);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'microseg-migrate-'));
    try {
      fs.writeFileSync(path.join(dir, 'migrated.hcl'), r.out);
      const v = await run('validate', dir, '--json');
      const doc = JSON.parse(v.out) as { valid: boolean; diagnostics: unknown[] };
      expect(doc.diagnostics.filter((d) => (d as { severity: string }).severity === 'error')).toEqual([]);
      expect(v.code).toBe(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rewrites legacy HCL in place with --write, and writes nothing when any file has an error', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'microseg-migrate-'));
    try {
      const legacy = path.join(dir, 'net.hcl');
      fs.writeFileSync(legacy, 'external_network "dns" {\n  entries   = ["198.19.53.0/24"]\n  protocols = ["udp", "tcp"]\n  ports     = ["53"]\n}\n');
      const broken = path.join(dir, 'broken.yaml');
      fs.writeFileSync(broken, 'APIVersion: 0\nlabel: x\ndata:\n  externalnetworks:\n    - name: "{{ .Values.name }}"\n      entries: ["10.0.0.0/8"]\n');
      const before = fs.readFileSync(legacy, 'utf8');
      const failed = await run('migrate', legacy, broken, '--write');
      expect(failed.code).toBe(1);
      expect(failed.err).toMatch(/Nothing was written/);
      expect(fs.readFileSync(legacy, 'utf8')).toBe(before);

      const diff = await run('migrate', legacy);
      expect(diff.code).toBe(0);
      expect(diff.out).toMatch(/^\+\s*service_ports\s*=\s*\["udp\/53", "tcp\/53"\]/m);
      expect(fs.readFileSync(legacy, 'utf8')).toBe(before);

      const wrote = await run('migrate', legacy, '--write');
      expect(wrote.code).toBe(0);
      const after = fs.readFileSync(legacy, 'utf8');
      expect(after).toMatch(/service_ports\s*=\s*\["udp\/53", "tcp\/53"\]/);
      expect(after).not.toMatch(/protocols|^\s*ports\s*=/m);
      fs.rmSync(broken);
      expect((await run('validate', dir)).code).toBe(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('microseg --help', () => {
  it('documents the exit codes', async () => {
    const r = await run('--help');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/Exit codes:[\s\S]*2\s+changes or drift present/);
  });
});
