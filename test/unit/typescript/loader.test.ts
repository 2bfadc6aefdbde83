import * as path from 'path';
import { loadTypeScriptDir } from '../../../src/config/typescript/loader';

const fixture = (name: string): string => path.join('test', 'unit', 'typescript', 'fixtures', name);

describe('loadTypeScriptDir', () => {
  test('positions point at the user\'s `new X(...)` line and at each literal attribute', async () => {
    const dir = fixture('positions');
    const cfg = await loadTypeScriptDir(dir);
    expect(cfg.diagnostics).toEqual([]);
    const file = path.join(dir, 'main.ts');
    const host = cfg.resources.find((r) => r.address === 'enforcer.h1')!;
    // Column 24 is `new` even though jiti stripped the `: Enforcer` annotation before it.
    expect(host.pos).toEqual({ file, line: 4, column: 24 });
    const pu = cfg.resources.find((r) => r.address === 'processing_unit.web')!;
    expect(pu.pos).toEqual({ file, line: 6, column: 28 });
    expect(pu.positions['']).toEqual(pu.pos);
    expect(pu.positions['enforcer']).toEqual({ file, line: 7, column: 3 });
    expect(pu.positions['addresses.0']).toEqual({ file, line: 8, column: 15 });
    expect(pu.positions['tags.1']).toEqual({ file, line: 11, column: 5 });
    expect(pu.body).toEqual({ enforcer: 'h1', addresses: ['198.18.1.10'], tags: ['app=web', 'env=prod'] });
    expect(cfg.sources.get(file)).toContain('new ProcessingUnit(app, "web"');
  });

  test('an exception thrown by main.ts is a diagnostic at the throwing line', async () => {
    const dir = fixture('thrown');
    const cfg = await loadTypeScriptDir(dir);
    expect(cfg.resources).toEqual([]);
    expect(cfg.diagnostics).toHaveLength(1);
    expect(cfg.diagnostics[0]).toMatchObject({
      severity: 'error',
      code: 'MSEG4003',
      summary: 'Error: no enforcer for web',
      file: path.join(dir, 'main.ts'),
      line: 8,
      column: 17,
    });
    expect(cfg.sources.has(path.join(dir, 'main.ts'))).toBe(true);
  });

  test('an exception in a helper module the user imports points at that module', async () => {
    const dir = fixture('helper-throw');
    const cfg = await loadTypeScriptDir(dir);
    expect(cfg.diagnostics).toHaveLength(1);
    expect(cfg.diagnostics[0]).toMatchObject({
      code: 'MSEG4003',
      summary: 'RangeError: port 70000 is out of range',
      file: path.join(dir, 'lib.ts'),
      line: 3,
    });
    expect(cfg.sources.has(path.join(dir, 'lib.ts'))).toBe(true);
  });

  test('a type error is reported at file:line:column and the program is not run', async () => {
    const dir = fixture('type-error');
    const cfg = await loadTypeScriptDir(dir);
    expect(cfg.resources).toEqual([]);
    expect(cfg.diagnostics).toHaveLength(1);
    const d = cfg.diagnostics[0];
    expect(d).toMatchObject({ severity: 'error', code: 'MSEG4001', file: path.join(dir, 'main.ts'), line: 8, column: 3 });
    expect(d.summary).toContain('"alow"');
    expect(d.summary).toContain("Did you mean");
    expect(d.detail).toMatch(/TypeScript error TS\d+/);
  });

  test('with type checking off, the same program runs and validation is left to judge it', async () => {
    const cfg = await loadTypeScriptDir(fixture('type-error'), { typeCheck: false });
    expect(cfg.diagnostics).toEqual([]);
    expect(cfg.resources[0].body.action).toBe('alow');
  });

  test('a default export that is not an App is refused with a hint', async () => {
    const dir = fixture('not-an-app');
    const cfg = await loadTypeScriptDir(dir);
    expect(cfg.diagnostics).toHaveLength(1);
    expect(cfg.diagnostics[0]).toMatchObject({ code: 'MSEG4004', file: path.join(dir, 'main.ts'), line: 1 });
    expect(cfg.diagnostics[0].detail).toContain('export default app');
  });

  test('"microseg" in the program is the loader\'s own module; an App from another copy is refused', async () => {
    // Every other test here passes only because `app instanceof App` holds for the program's App.
    const dir = fixture('other-copy');
    const cfg = await loadTypeScriptDir(dir, { typeCheck: false });
    expect(cfg.diagnostics.map((d) => [d.code, d.file])).toEqual([['MSEG4005', path.join(dir, 'main.ts')]]);
  });

  test('a missing main.ts is a diagnostic, not an exception', async () => {
    const cfg = await loadTypeScriptDir(fixture('does-not-exist'));
    expect(cfg.diagnostics.map((d) => d.code)).toEqual(['MSEG4002']);
  });

  test('an async factory default export, with resources inside the user\'s own constructs', async () => {
    const dir = fixture('factory');
    const cfg = await loadTypeScriptDir(dir);
    expect(cfg.diagnostics).toEqual([]);
    expect(cfg.resources.map((r) => r.address)).toEqual([
      'enforcer.web-1',
      'processing_unit.web',
      'enforcer.db-1',
      'processing_unit.db',
    ]);
    const pu = cfg.resources[1];
    expect(pu.body).toEqual({ enforcer: 'web-1', addresses: ['198.18.1.10'], tags: ['app=web'] });
    // Declared inside the Tier constructor: that is the user's line.
    expect(pu.pos).toMatchObject({ file: path.join(dir, 'main.ts'), line: 8 });
    expect(pu.positions['addresses.0']).toMatchObject({ line: 8 });
  });

  test('loading twice re-evaluates the program (no stale module cache)', async () => {
    const a = await loadTypeScriptDir(fixture('positions'), { typeCheck: false });
    const b = await loadTypeScriptDir(fixture('positions'), { typeCheck: false });
    expect(b.resources).toEqual(a.resources);
    expect(b.diagnostics).toEqual([]);
  });
});
