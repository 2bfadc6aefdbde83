/**
 * The user's main.ts runs isolated (src/config/typescript/program.ts): process.exit, a default
 * export that never settles, and an endless loop each become a diagnostic at the file instead of
 * ending (exit 0, silently) or hanging microseg. Before the worker, the first of these ended the
 * jest process running this file. Every configuration lives in a temp directory outside the
 * repository, as a user's would, which is also where process.env must type-check.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadTypeScriptDir } from '../../../src/config/typescript/loader';
import { BufferIo } from '../../../src/cli/io';
import { main } from '../../../src/cli/main';

const HEADER = `import { App, Namespace, Enforcer, ProcessingUnit } from "microseg";\n`;
const APP = `const app = new App();
new Namespace(app, "/t", { defaultIncomingAction: "reject", defaultOutgoingAction: "reject" });
const h = new Enforcer(app, "h1", { namespace: "/t", backend: "nftables", connection: { type: "local" } });
new ProcessingUnit(app, "web", { namespace: "/t", enforcer: h.name, addresses: [ADDR], tags: ["app=web"] });
`;

describe('a TypeScript configuration runs isolated', () => {
  let tmp: string;
  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mseg-ts-iso-'));
  });
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  function project(name: string, body: string): string {
    const dir = path.join(tmp, name);
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'main.ts'), HEADER + body);
    return dir;
  }

  it('process.exit(0) is an error at its line, and microseg carries on', async () => {
    const dir = project('exit', `const ADDR = "198.18.1.10";\n${APP}if (ADDR) process.exit(0);\nexport default app;\n`);
    const cfg = await loadTypeScriptDir(dir, { timeoutMs: 600_000 });
    expect(cfg.resources).toEqual([]);
    expect(cfg.diagnostics).toHaveLength(1);
    expect(cfg.diagnostics[0]).toMatchObject({ severity: 'error', code: 'MSEG0030', file: path.join(dir, 'main.ts'), line: 7 });
    expect(cfg.diagnostics[0].summary).toMatch(/exit code 0/);
    // Through the CLI: validate says invalid, exit 1 (it used to be 0 with no output).
    const io = new BufferIo();
    expect(await main(['node', 'microseg', 'validate', dir], io)).toBe(1);
    expect(io.stderr).toMatch(/MSEG0030/);
  }, 600_000);

  it('a default export that never settles is an error, not a silent exit', async () => {
    const dir = project('never', `const ADDR = "198.18.1.10";\n${APP}export default () => new Promise<App>(() => undefined);\n`);
    const cfg = await loadTypeScriptDir(dir, { timeoutMs: 600_000 });
    expect(cfg.diagnostics.map((d) => d.code)).toEqual(['MSEG0032']);
    expect(cfg.diagnostics[0].file).toBe(path.join(dir, 'main.ts'));
  }, 600_000);

  it('an endless loop is stopped at the time limit and reported', async () => {
    const dir = project('loop', `const ADDR = "198.18.1.10";\n${APP}for (;;) { /* spin */ }\n`);
    const cfg = await loadTypeScriptDir(dir, { timeoutMs: 5_000 });
    expect(cfg.diagnostics.map((d) => d.code)).toEqual(['MSEG0031']);
    expect(cfg.diagnostics[0].detail).toMatch(/MICROSEG_TS_TIMEOUT/);
  }, 600_000);

  it('an endless loop under plan --detailed-exitcode: exit 1 and no lock left', async () => {
    const dir = project('loop-plan', `const ADDR = "198.18.1.10";\n${APP}while (ADDR) { /* spin */ }\nexport default app;\n`);
    const io = new BufferIo();
    const before = process.env.MICROSEG_TS_TIMEOUT;
    process.env.MICROSEG_TS_TIMEOUT = '5s';
    try {
      expect(await main(['node', 'microseg', 'plan', dir, '--detailed-exitcode'], io)).toBe(1);
    } finally {
      if (before === undefined) delete process.env.MICROSEG_TS_TIMEOUT;
      else process.env.MICROSEG_TS_TIMEOUT = before;
    }
    expect(io.stderr).toMatch(/MSEG0031/);
    expect(fs.existsSync(path.join(dir, '.microseg', 'state.lock'))).toBe(false);
  }, 600_000);

  it('process.env type-checks and works in a directory with no node_modules', async () => {
    const dir = project('env', `const ADDR: string = process.env.MSEG_TEST_WEB_ADDR ?? "198.18.1.99";\n${APP}export default app;\n`);
    expect(fs.existsSync(path.join(tmp, 'node_modules'))).toBe(false);
    process.env.MSEG_TEST_WEB_ADDR = '198.18.1.42';
    try {
      const cfg = await loadTypeScriptDir(dir, { timeoutMs: 600_000 });
      expect(cfg.diagnostics).toEqual([]);
      expect(cfg.resources.find((r) => r.address === 'processing_unit.web')?.body.addresses).toEqual(['198.18.1.42']);
    } finally {
      delete process.env.MSEG_TEST_WEB_ADDR;
    }
  }, 600_000);
});
