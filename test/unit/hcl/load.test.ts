import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadHclDir } from '../../../src/config/hcl';
import { brief } from './helpers';

describe('loadHclDir', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mseg-hcl-'));
    fs.writeFileSync(path.join(dir, 'b.hcl'), 'variable "n" {\n  type = number\n}\nenforcer "e" {\n  n = var.n\n  m = var.m\n}\n');
    fs.writeFileSync(path.join(dir, 'a.hcl.json'), '{"variable": {"m": {"type": "list(string)"}}}');
    fs.writeFileSync(path.join(dir, 'ignored.txt'), 'not hcl');
    fs.writeFileSync(path.join(dir, 'vals.hcl'), '');
    fs.writeFileSync(path.join(dir, '..', `${path.basename(dir)}.tfvars`), 'n = 4\n');
  });
  afterAll(() => {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(path.join(dir, '..', `${path.basename(dir)}.tfvars`), { force: true });
  });

  test('reads *.hcl and *.hcl.json in sorted order with positions relative to the given dir', () => {
    const cfg = loadHclDir(dir, {
      varFiles: [path.join(dir, '..', `${path.basename(dir)}.tfvars`)],
      env: { MICROSEG_VAR_m: '["x"]', MICROSEG_VAR_n: '1' },
    });
    expect(cfg.diagnostics).toEqual([]);
    expect([...cfg.sources.keys()]).toEqual([path.join(dir, 'a.hcl.json'), path.join(dir, 'b.hcl'), path.join(dir, 'vals.hcl')]);
    expect(cfg.resources[0].body).toEqual({ n: 4, m: ['x'] });
    expect(cfg.resources[0].pos.file).toBe(path.join(dir, 'b.hcl'));
  });

  test('missing directory and var file are diagnostics', () => {
    const cfg = loadHclDir(path.join(dir, 'nope'), { varFiles: ['/nonexistent/x.tfvars'] });
    expect(brief(cfg.diagnostics).slice(0, 2)).toEqual([
      `-:- MSEG2090 Cannot read configuration directory "${path.join(dir, 'nope')}"`,
      '-:- MSEG2090 Cannot read var file "/nonexistent/x.tfvars"',
    ]);
  });
});
