/**
 * State elsewhere with the pg backend (issue 11 item 6), on real namespaces and a throwaway
 * PostgreSQL: A applies in the default workspace; B, a copy of the configuration, plans in another
 * workspace (the CI mistake of a wrong MICROSEG_WORKSPACE) and is warned, with MSEG8250 naming each
 * host and the workspace it looked in, never the password. In the right workspace the same plan is
 * a no-op; `import` adopts the hosts into the other workspace, after which its plan is a no-op too,
 * and nothing was written to a local state file.
 *
 * Addresses: the reconcile suite's (reconcile-suite.ts), web 198.18.0.11, api 198.18.0.12,
 * db 198.18.0.13, on one bridge.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Plan } from '../../src/plan';
import { describeWithPg, startPgCluster, type PgCluster } from '../support/pg-cluster';
import { rootSkipReason } from './harness';
import { BASE, NODES, cliWith, configHcl, netnsEnv } from './reconcile-suite';

const HOSTS = ['web', 'api', 'db'];
const PG_BLOCK = 'microseg {\n  backend "pg" {}\n}\n';

describeWithPg(
  'state elsewhere with the pg backend: a wrong workspace is warned about, import adopts (real PostgreSQL, real kernel)',
  () => {
    const env = netnsEnv('nftables');
    const saved = { ...process.env };
    let pg: PgCluster;
    let root: string;
    let a: string;
    let b: string;

    const cli = async (workspace: string | undefined, ...args: string[]) => {
      process.env = { ...saved, PG_CONN_STR: pg.connStr };
      if (workspace) process.env.MICROSEG_WORKSPACE = workspace;
      else delete process.env.MICROSEG_WORKSPACE;
      try {
        return await cliWith({}, ...args);
      } finally {
        process.env = { ...saved };
      }
    };
    const plan = async (workspace: string | undefined, dir: string) => {
      const r = await cli(workspace, 'plan', dir, '--json', '--detailed-exitcode');
      return { code: r.code, plan: JSON.parse(r.out) as Plan, raw: r.out + r.err };
    };

    beforeAll(async () => {
      pg = await startPgCluster();
      await env.create('imppg', NODES.filter((n) => HOSTS.includes(n.name)));
      root = fs.mkdtempSync(path.join(os.tmpdir(), 'mseg-import-pg-'));
      a = path.join(root, 'a');
      b = path.join(root, 'b');
      fs.mkdirSync(a);
      fs.mkdirSync(b);
      await env.listen('api', 'tcp', 8000, 4);
    }, 300_000);

    afterAll(async () => {
      process.env = { ...saved };
      await env.teardown();
      await pg?.destroy();
      if (root) fs.rmSync(root, { recursive: true, force: true });
    });

    it('A applies in the default workspace', async () => {
      fs.writeFileSync(path.join(a, 'main.hcl'), configHcl(env, 'nftables', { ...BASE, hosts: HOSTS }) + PG_BLOCK);
      const r = await cli(undefined, 'apply', a, '--auto-approve');
      expect(r.err).not.toMatch(/MSEG8250|error/);
      expect(r.code).toBe(0);
      expect(await env.tcpConnect('web', '198.18.0.12', 8000)).toBe('open');
      expect(await env.tcpConnect('db', '198.18.0.12', 8000)).toBe('refused');
    });

    it('B in another workspace is warned that every host holds objects its state does not know, naming the workspace', async () => {
      fs.copyFileSync(path.join(a, 'main.hcl'), path.join(b, 'main.hcl'));
      expect((await cli(undefined, 'workspace', 'new', 'staging', '--dir', b)).code).toBe(0);
      const { code, plan: p, raw } = await plan('staging', b);
      expect(code).toBe(2);
      const warned = p.diagnostics.filter((d) => d.code === 'MSEG8250');
      expect(warned.map((d) => d.address).sort()).toEqual(HOSTS.map((h) => `enforcer.${h}`).sort());
      for (const d of warned) {
        expect(d.severity).toBe('warning');
        expect(d.detail).toContain('workspace "staging"');
      }
      expect(raw).not.toContain(pg.password);
    });

    it('in the workspace that applied them, the same copy plans a no-op', async () => {
      const { code, plan: p } = await plan('default', b);
      expect(p.diagnostics.filter((d) => d.code === 'MSEG8250')).toEqual([]);
      expect(code).toBe(0);
    });

    it('import adopts the hosts into the other workspace; its plan is then a no-op and no local state was written', async () => {
      for (const h of HOSTS) {
        const r = await cli('staging', 'import', h, b);
        // The hosts not imported yet are still warned about; the one just adopted is not.
        expect(r.err).not.toContain(`Enforcer "${h}" already holds`);
        expect(r.code).toBe(0);
        expect(r.out).toContain('workspace "staging"');
      }
      const { code, plan: p } = await plan('staging', b);
      expect(p.diagnostics.filter((d) => d.code === 'MSEG8250')).toEqual([]);
      expect(code).toBe(0);
      expect(fs.existsSync(path.join(b, '.microseg', 'state.json'))).toBe(false);
      expect(await env.tcpConnect('web', '198.18.0.12', 8000)).toBe('open');
      expect(await env.tcpConnect('db', '198.18.0.12', 8000)).toBe('refused');
    });
  },
  rootSkipReason,
);
