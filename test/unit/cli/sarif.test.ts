/**
 * `validate --format sarif` and `test --format sarif`: every log is checked against the SARIF
 * 2.1.0 JSON schema (the OASIS schema, 2.1.0-rtm.5, as Microsoft's SARIF SDK ships it in
 * @microsoft/jest-sarif; only the file is used, validated with ajv's draft-04 build),
 * and against the diagnostics the JSON view reports for the same run: one result per diagnostic,
 * rule id = diagnostic code, region = its line and column.
 */
import Ajv from 'ajv-draft-04';
import addFormats from 'ajv-formats';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type * as Sarif from 'sarif';
import { BufferIo } from '../../../src/cli/io';
import { main } from '../../../src/cli/main';
import { sarifLog } from '../../../src/cli/views/sarif';

// The schema's `language` pattern is not valid with the `u` flag ajv 8 uses by default
// (`[a-zA-Z]{2}]?`): compile its patterns without it, as the draft-04 validators it was written for did.
const ajv = new Ajv({ strict: false, allErrors: true, unicodeRegExp: false });
addFormats(ajv);
// eslint-disable-next-line @typescript-eslint/no-require-imports
const validateSchema = ajv.compile(require('@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json'));

const QUICKSTART = path.join(__dirname, '../../../examples/quickstart');

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = new BufferIo();
  const code = await main(['node', 'microseg', ...args], io);
  return { code, out: io.stdout, err: io.stderr };
}

interface JsonDiagnostic {
  severity: string;
  code: string;
  file: string | null;
  line: number | null;
  column: number | null;
}

/** The structure SARIF 2.1.0 requires and code scanning relies on, spelled out beside the schema. */
function expectWellFormed(log: Sarif.Log): void {
  const valid = validateSchema(log);
  expect(validateSchema.errors ?? []).toEqual([]);
  expect(valid).toBe(true);
  expect(log.version).toBe('2.1.0');
  expect(log.$schema).toBe('https://json.schemastore.org/sarif-2.1.0.json');
  expect(log.runs).toHaveLength(1);
  const run = log.runs[0];
  expect(run.tool.driver.name).toBe('microseg');
  const ids = (run.tool.driver.rules ?? []).map((r) => r.id);
  expect(new Set(ids).size).toBe(ids.length);
  for (const r of run.results ?? []) {
    expect(r.ruleId).toMatch(/^MSEG\d{4}$/);
    expect(ids[r.ruleIndex!]).toBe(r.ruleId);
    expect(r.message.text!.length).toBeGreaterThan(0);
    expect(['error', 'warning']).toContain(r.level);
  }
}

describe('--format sarif', () => {
  let dir: string;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mseg-sarif-'));
    for (const f of fs.readdirSync(QUICKSTART)) fs.copyFileSync(path.join(QUICKSTART, f), path.join(dir, f));
  });

  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('validate: an invalid configuration gives one result per diagnostic, at its file, line and column', async () => {
    fs.appendFileSync(
      path.join(dir, 'policies.hcl'),
      ['', 'network_policy "broken" {', '  namespace = "/acme"', '  subject   = [["app=web"]]', '  object    = [["app=api"]]', '  ports     = ["tcp/80/90", "udp/x"]', '}', ''].join('\n'),
    );
    const sarif = await cli('validate', dir, '--format', 'sarif');
    const json = await cli('validate', dir, '--json');
    expect(sarif.code).toBe(1);
    expect(json.code).toBe(1);
    expect(sarif.err).toBe('');
    const log = JSON.parse(sarif.out) as Sarif.Log;
    expectWellFormed(log);
    const ds = (JSON.parse(json.out) as { diagnostics: JsonDiagnostic[] }).diagnostics;
    expect(ds.length).toBeGreaterThanOrEqual(2);
    const results = log.runs[0].results!;
    expect(results.map((r) => r.ruleId)).toEqual(ds.map((d) => d.code));
    results.forEach((r, i) => {
      const loc = r.locations![0].physicalLocation!;
      expect(loc.artifactLocation!.uri).toBe(`file://${path.resolve(ds[i].file!)}`);
      expect(loc.region).toEqual({ startLine: ds[i].line, startColumn: ds[i].column });
      expect(r.level).toBe(ds[i].severity);
    });
    const bad = results.find((r) => r.message.text!.includes('tcp/80/90'))!;
    const lines = fs.readFileSync(path.join(dir, 'policies.hcl'), 'utf8').split('\n');
    const region = bad.locations![0].physicalLocation!.region!;
    expect(lines[region.startLine! - 1].slice(region.startColumn! - 1)).toMatch(/^"tcp\/80\/90"/);
  });

  it('validate: a valid configuration is a log with no results, exit 0', async () => {
    const r = await cli('validate', dir, '--format', 'sarif');
    expect(r.code).toBe(0);
    const log = JSON.parse(r.out) as Sarif.Log;
    expectWellFormed(log);
    expect(log.runs[0].results).toEqual([]);
  });

  it('test: a failing expectation is an MSEG8215 result at its expect block; passing ones are not results', async () => {
    fs.appendFileSync(path.join(dir, 'expectations.hcl'), ['', 'expect "wrong-on-purpose" {', '  from    = "web"', '  to      = "api"', '  port    = "tcp/8101"', '  verdict = "allow"', '}', ''].join('\n'));
    const r = await cli('test', dir, '--format', 'sarif');
    expect(r.code).toBe(1);
    const log = JSON.parse(r.out) as Sarif.Log;
    expectWellFormed(log);
    const results = log.runs[0].results!;
    expect(results).toHaveLength(1);
    expect(results[0].ruleId).toBe('MSEG8215');
    expect(results[0].level).toBe('error');
    expect(results[0].message.text).toMatch(/Expectation "wrong-on-purpose" fails/);
    const region = results[0].locations![0].physicalLocation!.region!;
    const lines = fs.readFileSync(path.join(dir, 'expectations.hcl'), 'utf8').split('\n');
    expect(lines[region.startLine! - 1]).toContain('expect "wrong-on-purpose"');
    expect(region.startColumn).toBeGreaterThanOrEqual(1);

    const passing = await cli('test', path.join(__dirname, '../../../examples/quickstart'), '--format', 'sarif');
    expect(passing.code).toBe(0);
    const ok = JSON.parse(passing.out) as Sarif.Log;
    expectWellFormed(ok);
    expect(ok.runs[0].results).toEqual([]);
  });

  it('paths inside the directory microseg runs in are relative to SRCROOT, as code scanning needs', () => {
    const cwd = path.join(os.tmpdir(), 'repo');
    const log = sarifLog(
      [
        { severity: 'error', code: 'MSEG3010', summary: 'Invalid service port', detail: 'why', file: path.join(cwd, 'infra', 'my policies.hcl'), line: 24, column: 14 },
        { severity: 'warning', code: 'MSEG8250', summary: 'state elsewhere', address: 'enforcer.web' },
        { severity: 'error', code: 'MSEG3010', summary: 'Invalid service port', file: 'infra/b.hcl', line: 2 },
      ],
      cwd,
    );
    expectWellFormed(log);
    const run = log.runs[0];
    expect(run.originalUriBaseIds!.SRCROOT.uri).toBe(`file://${cwd}/`);
    // Sorted like every view: diagnostics without a file first, then by file and position.
    expect(run.tool.driver.rules!.map((r) => r.id)).toEqual(['MSEG8250', 'MSEG3010']);
    const [c, a, b] = run.results!;
    expect(a.locations![0].physicalLocation!.artifactLocation).toEqual({ uri: 'infra/my%20policies.hcl', uriBaseId: 'SRCROOT' });
    expect(a.locations![0].physicalLocation!.region).toEqual({ startLine: 24, startColumn: 14 });
    expect(a.message.text).toBe('Invalid service port\nwhy');
    expect(b.locations![0].physicalLocation!.artifactLocation).toEqual({ uri: 'infra/b.hcl', uriBaseId: 'SRCROOT' });
    expect(b.locations![0].physicalLocation!.region).toEqual({ startLine: 2 });
    expect(b.ruleIndex).toBe(1);
    expect(c.locations).toEqual([{ logicalLocations: [{ fullyQualifiedName: 'enforcer.web' }] }]);
  });

  it('the schema check is not vacuous: a log with a wrong level or no message fails it', () => {
    const log = sarifLog([{ severity: 'error', code: 'MSEG3010', summary: 's', file: 'a.hcl', line: 1, column: 1 }], '/');
    expect(validateSchema(log)).toBe(true);
    const wrong = JSON.parse(JSON.stringify(log)) as Sarif.Log;
    (wrong.runs[0].results![0] as { level: string }).level = 'fatal';
    expect(validateSchema(wrong)).toBe(false);
    delete (wrong.runs[0].results![0] as { message?: unknown }).message;
    (wrong.runs[0].results![0] as { level: string }).level = 'error';
    expect(validateSchema(wrong)).toBe(false);
    expect(validateSchema({ ...log, version: '2.0.0' })).toBe(false);
  });

  it('--live cannot be combined with --format sarif', async () => {
    const r = await cli('test', dir, '--live', '--format', 'sarif');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/MSEG8214/);
  });
});
