/**
 * `microseg trace` and `microseg test` end to end in process: exit codes, the human block and
 * table, and the JSON documents, on the quickstart and on a copy of it with a wrong expectation.
 */
import { evaluateExpectations } from '../../../src/trace/expectations';
import { QUICKSTART, load, run, writeDir } from './helpers';

describe('evaluateExpectations', () => {
  it('passes every expect of the quickstart, attributing each', async () => {
    const { model, rulesets } = await load(QUICKSTART);
    const results = evaluateExpectations(model, rulesets);
    expect(results.length).toBeGreaterThanOrEqual(10);
    expect(results.filter((r) => !r.pass)).toEqual([]);
    const db = results.find((r) => r.name === 'web-never-reaches-db')!;
    expect(db).toMatchObject({ from: 'web', to: 'db', port: 'tcp/5432', expected: 'reject', actual: 'reject', decided_by: 'no-web-to-db' });
    expect(db.source?.policy).toBe('no-web-to-db');
    expect(db.file).toMatch(/expectations\.hcl$/);
    expect(db.line).toBeGreaterThan(0);
  });

  it('reports a connection that cannot be traced as a failure with its diagnostics', async () => {
    const { model, rulesets } = await load(QUICKSTART);
    const bad = { ...model, expects: [{ ...model.expects[0], name: 'typo', to: 'apii' }] };
    const [r] = evaluateExpectations(bad, rulesets);
    expect(r).toMatchObject({ name: 'typo', actual: null, pass: false, decided_by: null });
    expect(r.diagnostics[0]).toMatchObject({ code: 'MSEG9001', summary: 'Unknown to "apii"; did you mean "api"?' });
    // pointed at the expect block
    expect(r.diagnostics[0].file).toMatch(/expectations\.hcl$/);
  });
});

describe('microseg test', () => {
  it('exits 0 with a table when every expectation passes', async () => {
    const r = await run('test', QUICKSTART);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const lines = r.out.split('\n');
    expect(lines[0]).toMatch(/^NAME\s+FROM → TO\s+PORT\s+EXPECTED\s+ACTUAL\s+DECIDED BY\s+RESULT$/);
    expect(r.out).toMatch(/web-never-reaches-db\s+web → db\s+tcp\/5432\s+reject\s+reject\s+no-web-to-db \(egress\)\s+PASS/);
    expect(r.out).toMatch(/web-calls-api\s+web → api\s+tcp\/8080\s+allow\s+allow\s+web-to-api \(egress\) \+ web-to-api \(ingress\)\s+PASS/);
    expect(r.out).toMatch(/ssh-failsafe\s.*failsafe \(egress\) \+ failsafe \(ingress\)\s+PASS/);
    expect(r.out).toMatch(/\n\d+ passed, 0 failed\.\n$/);
  });

  it('exits 1 on a wrong expectation, and the table says why', async () => {
    const dir = writeDir(
      {
        'wrong.hcl': `
expect "web-reaches-db" {
  from    = "web"
  to      = "db"
  port    = "tcp/5432"
  verdict = "allow"
}
`,
      },
      QUICKSTART,
    );
    const r = await run('test', dir);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/web-reaches-db\s+web → db\s+tcp\/5432\s+allow\s+reject\s+no-web-to-db \(egress\)\s+FAIL/);
    expect(r.out).toContain(
      `FAIL web-reaches-db: ${dir}/wrong.hcl:2: expected allow, got reject: egress of web on web-1: rejected by policy "no-web-to-db"; reject beats allow: policy "backend-to-db" also matches`,
    );
    expect(r.out).toMatch(/\n\d+ passed, 1 failed\.\n$/);

    const j = await run('test', dir, '--json');
    expect(j.code).toBe(1);
    const doc = JSON.parse(j.out) as { pass: boolean; failed: number; results: Array<Record<string, unknown>> };
    expect(doc.pass).toBe(false);
    expect(doc.failed).toBe(1);
    const row = doc.results.find((x) => x.name === 'web-reaches-db')!;
    expect(row).toMatchObject({ from: 'web', to: 'db', port: 'tcp/5432', expected: 'allow', actual: 'reject', pass: false, decided_by: 'no-web-to-db' });
    expect(row.source).toMatchObject({ verdict: 'reject', policy: 'no-web-to-db', rule_id: expect.any(String) });
    expect(row.destination).toMatchObject({ reached: false });
  });

  it('exits 1 on an invalid configuration (validation owns unknown expect endpoints)', async () => {
    const dir = writeDir({ 'wrong.hcl': `expect "x" {\n  from = "wbe"\n  to = "db"\n  port = "tcp/1"\n  verdict = "allow"\n}\n` }, QUICKSTART);
    const r = await run('test', dir);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/did you mean "web"/i);
  });

  it('--json passes on the quickstart', async () => {
    const r = await run('test', QUICKSTART, '--json');
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
    const doc = JSON.parse(r.out) as { pass: boolean; failed: number; results: Array<Record<string, unknown>> };
    expect(doc).toMatchObject({ pass: true, failed: 0 });
    for (const x of doc.results) {
      expect(Object.keys(x)).toEqual(expect.arrayContaining(['name', 'from', 'to', 'port', 'expected', 'actual', 'pass', 'source', 'destination']));
    }
  });

  it('says so when there is nothing to test', async () => {
    const dir = writeDir({ 'main.hcl': 'namespace "/x" {}\n' });
    const r = await run('test', dir);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/No expect blocks/);
  });
});

describe('microseg trace', () => {
  it('prints a small block: each side with verdict, policy and rule, then the result; exit 0 on reject', async () => {
    const r = await run('trace', QUICKSTART, '--from', 'web', '--to', 'db', '--port', 'tcp/5432');
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
    expect(r.out).toMatch(/^web \(198\.18\.1\.10\) → db \(198\.18\.3\.10\) tcp\/5432\n/);
    expect(r.out).toMatch(/source egress of web on web-1:\s+reject  by policy no-web-to-db, rule [0-9a-f]{12}\n/);
    expect(r.out).toMatch(/reject beats allow: policy "backend-to-db" also matches/);
    expect(r.out).toMatch(/destination ingress of db on db-1:\s+reject  by policy no-web-to-db, rule [0-9a-f]{12}  \(not reached\)\n/);
    expect(r.out).toMatch(/result: REJECT\n$/);
  });

  it('names the representative address of an external network', async () => {
    const r = await run('trace', QUICKSTART, '--from', 'web', '--to', 'internet', '--port', 'tcp/443');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/note: 0\.0\.0\.0 stands for external network internet: the first address of 0\.0\.0\.0\/1/);
    expect(r.out).toMatch(/destination ingress:\s+untouched\n/);
    expect(r.out).toMatch(/result: ALLOW\n$/);
  });

  it('--json: top-level verdict, each side with verdict, policy and rule', async () => {
    const r = await run('trace', QUICKSTART, '--from', 'web', '--to', 'api', '--port', 'tcp/8101', '--json');
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.out) as Record<string, Record<string, unknown>>;
    expect(Object.keys(doc)[0]).toBe('verdict');
    expect(doc.verdict).toBe('reject');
    expect(doc.source).toMatchObject({ hook: 'output', enforcer: 'web-1', verdict: 'reject', policy: 'default', rule_id: expect.stringMatching(/^[0-9a-f]{12}$/) });
    expect(doc.destination).toMatchObject({ hook: 'input', enforcer: 'api-1', verdict: 'reject', policy: 'default', reached: false });
  });

  it('exits 1 with did you mean on an unknown name, and on a bad port', async () => {
    const r = await run('trace', QUICKSTART, '--from', 'web', '--to', 'dbb', '--port', 'tcp/5432');
    expect(r.code).toBe(1);
    expect(r.out).toBe('');
    expect(r.err).toMatch(/error: Unknown to "dbb"; did you mean "db"\? \[MSEG9001\]/);
    const p = await run('trace', QUICKSTART, '--from', 'web', '--to', 'db', '--port', 'tcp/1:2');
    expect(p.code).toBe(1);
    expect(p.err).toMatch(/Invalid port "tcp\/1:2" \[MSEG9002\]/);
  });

  it('requires --from, --to and --port', async () => {
    const r = await run('trace', QUICKSTART, '--from', 'web', '--to', 'db');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/--port/);
  });
});
