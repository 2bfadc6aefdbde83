/**
 * The microseg { backend … } settings block: HCL and TypeScript spellings, validation with
 * positions (all problems at once), literal-only values, and the store each backend opens.
 */
import * as fs from 'fs';
import * as path from 'path';
import { App } from '../../../src';
import { evaluateHcl } from '../../../src/config/hcl';
import { readSettings } from '../../../src/config/read-settings';
import { DiagnosticsError } from '../../../src/diagnostics';
import { checkStateLocation, LocalStateStore, maskConnStr, openStateStore, PgStateStore, redact } from '../../../src/state';
import { tempProject } from './helpers';

const hcl = (text: string) => evaluateHcl([{ name: 'main.hcl', text }], { vars: {}, varFiles: [], env: {} });

describe('settings block', () => {
  it('HCL: backend "pg" with defaults, schema_name and conn_str', () => {
    expect(hcl('microseg {\n  backend "pg" {}\n}\n').settings).toEqual({ backend: { type: 'pg', schemaName: 'microseg', pos: { file: 'main.hcl', line: 2, column: 11 } } });
    const s = hcl('microseg {\n  backend "pg" {\n    schema_name = "prod_state"\n    conn_str = "postgres://u:p@h/db"\n  }\n}\n').settings!;
    expect(s.backend).toMatchObject({ type: 'pg', schemaName: 'prod_state', connStr: 'postgres://u:p@h/db' });
  });

  it('HCL: no block is the local backend; backend "local" takes a path', () => {
    expect(hcl('').settings).toEqual({ backend: { type: 'local' } });
    expect(hcl('microseg {\n  backend "local" { path = "st" }\n}\n').settings!.backend).toMatchObject({ type: 'local', path: 'st' });
  });

  it('HCL: every problem is reported with its position, and no settings result', () => {
    const cfg = hcl(
      ['microseg {', '  backend "pgsql" {}', '  backend "pg" {', '    schema = "x"', '    schema_name = var.s', '  }', '}', 'microseg {}', ''].join('\n'),
    );
    expect(cfg.settings).toBeUndefined();
    const ds = cfg.diagnostics.filter((d) => d.code.startsWith('MSEG840')).map((d) => `${d.code} ${d.line}:${d.column} ${d.summary}`);
    expect(ds).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^MSEG8403 8:1 Duplicate microseg block/),
        expect.stringMatching(/^MSEG8403 3:11 Duplicate backend block/),
        expect.stringMatching(/^MSEG8401 2:11 Unknown backend "pgsql"/),
      ]),
    );
    const one = hcl(['microseg {', '  backend "pg" {', '    schema = "x"', '    schema_name = var.s', '  }', '}', ''].join('\n'));
    expect(one.diagnostics.map((d) => `${d.code} ${d.line}:${d.column}`)).toEqual(expect.arrayContaining(['MSEG8400 3:5', 'MSEG8402 4:5']));
    expect(one.diagnostics.find((d) => d.code === 'MSEG8400')!.detail).toContain('schema_name');
    expect(hcl('microseg {\n  backend "pg" { schema_name = "Bad-Name" }\n}\n').diagnostics.map((d) => d.code)).toContain('MSEG8404');
  });

  it('TypeScript: new App({ backend: { pg: { schemaName } } })', () => {
    const app = new App({ backend: { pg: { schemaName: 'ts_state' } } });
    expect(app.synth().settings!.backend).toMatchObject({ type: 'pg', schemaName: 'ts_state' });
    expect(new App().synth().settings).toEqual({ backend: { type: 'local' } });
    const bad = new App({ backend: { pg: { schemaName: 'x', conn: 'y' } as never } }).synth();
    expect(bad.settings).toBeUndefined();
    expect(bad.diagnostics.map((d) => d.code)).toEqual(['MSEG8400']);
    expect(bad.diagnostics[0].file).toBeDefined();
  });

  it('readSettings parses only, and reports syntax errors that may hide the block', async () => {
    const p = tempProject();
    try {
      fs.writeFileSync(path.join(p.dir, 'a.hcl'), 'namespace "/x" {}\n');
      fs.writeFileSync(path.join(p.dir, 'b.hcl'), 'microseg {\n  backend "pg" { schema_name = "s" }\n}\n');
      expect((await readSettings(p.dir)).settings!.backend).toMatchObject({ type: 'pg', schemaName: 's' });
      fs.writeFileSync(path.join(p.dir, 'b.hcl'), 'microseg {\n  backend "pg" { schema_name = \n');
      const r = await readSettings(p.dir);
      expect(r.settings).toBeUndefined();
      expect(r.diagnostics.length).toBeGreaterThan(0);
    } finally {
      p.cleanup();
    }
  });
});

describe('opening the configured store', () => {
  it('local by default; pg needs a connection string (PG_CONN_STR or conn_str)', async () => {
    const p = tempProject();
    try {
      expect((await openStateStore(p.dir, { backend: { type: 'local' } }, { env: {} })).store).toBeInstanceOf(LocalStateStore);
      const e = await openStateStore(p.dir, { backend: { type: 'pg', schemaName: 'microseg' } }, { env: {} }).catch((x) => x);
      expect(DiagnosticsError.isInstance(e) && e.diagnostics[0].code).toBe('MSEG8410');
      const o = await openStateStore(p.dir, { backend: { type: 'pg', schemaName: 'microseg' } }, { env: { PG_CONN_STR: 'postgres://u:pw@h/db', MICROSEG_WORKSPACE: 'staging' } });
      expect(o.store).toBeInstanceOf(PgStateStore);
      expect(o.workspace).toBe('staging');
      expect(o.store.description).not.toContain('pw');
      const ws = await openStateStore(p.dir, { backend: { type: 'local' } }, { env: { MICROSEG_WORKSPACE: 'staging' } }).catch((x) => x);
      expect(DiagnosticsError.isInstance(ws) && ws.diagnostics[0].code).toBe('MSEG8434');
    } finally {
      p.cleanup();
    }
  });

  it('refuses pg while a local state file exists, and local once it was migrated away', async () => {
    const p = tempProject();
    try {
      fs.mkdirSync(path.join(p.dir, '.microseg'));
      fs.writeFileSync(path.join(p.dir, '.microseg/state.json'), '{}');
      const e = await checkStateLocation(p.dir, { backend: { type: 'pg', schemaName: 'microseg' } }).catch((x) => x);
      expect(DiagnosticsError.isInstance(e) && e.diagnostics[0].code).toBe('MSEG8420');
      expect(e.diagnostics[0].detail).toContain('microseg init -migrate-state');
      await checkStateLocation(p.dir, { backend: { type: 'local' } });
      fs.renameSync(path.join(p.dir, '.microseg/state.json'), path.join(p.dir, '.microseg/state.json.migrated'));
      await checkStateLocation(p.dir, { backend: { type: 'pg', schemaName: 'microseg' } });
      const l = await checkStateLocation(p.dir, { backend: { type: 'local' } }).catch((x) => x);
      expect(DiagnosticsError.isInstance(l) && l.diagnostics[0].code).toBe('MSEG8420');
    } finally {
      p.cleanup();
    }
  });

  it('masks passwords in connection strings and error text', () => {
    expect(maskConnStr('postgres://ci:s3cr%40t@db:5432/x')).toBe('postgres://ci:***@db:5432/x');
    expect(maskConnStr("host=db password='a b' user=ci")).toBe('host=db password=*** user=ci');
    expect(redact('failed for s3cr@t and s3cr%40t', 'postgres://ci:s3cr%40t@db/x')).toBe('failed for *** and ***');
  });
});
