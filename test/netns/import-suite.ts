/**
 * State elsewhere, and `microseg import` (issue 11 item 6), run on real kernels (import-*.test.ts)
 * and on the in-memory firewall (test/unit/fake/import-fake.test.ts) through the CLI in process.
 *
 * The story is a CI runner's: directory A applies the configuration and keeps its state; directory
 * B is a fresh checkout of the same configuration with no state. B's plan must say that the hosts
 * already hold microseg objects its state knows nothing about (MSEG8250, naming each host), import
 * adopts them one by one, and once every host is adopted B's plan is a no-op
 * (`--detailed-exitcode` exit 0) and its apply changes nothing on any host: the same packets pass.
 *
 * Addresses: the reconcile suite's (reconcile-suite.ts), web 198.18.0.11, api 198.18.0.12,
 * db 198.18.0.13, on one bridge.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { CliDeps } from '../../src/cli/io';
import { LocalStateStore, withHost } from '../../src/state';
import type { Plan } from '../../src/plan';
import type { BackendName } from '../../providers/types';
import { BASE, NODES, cliWith, configHcl, netnsEnv, type ReconcileEnv } from './reconcile-suite';

const HOSTS = ['web', 'api', 'db'];

export function defineImportSuite(backend: BackendName, tag: string, env: ReconcileEnv = netnsEnv(backend)): void {
  const deps: CliDeps = env.connect ? { connect: env.connect } : {};
  const cli = (...args: string[]) => cliWith(deps, ...args);
  const planJson = async (dir: string): Promise<{ code: number; plan: Plan }> => {
    const r = await cli('plan', dir, '--json', '--detailed-exitcode');
    return { code: r.code, plan: JSON.parse(r.out) as Plan };
  };
  const elsewhere = (plan: Plan) =>
    plan.diagnostics
      .filter((d) => d.code === 'MSEG8250')
      .map((d) => d.address)
      .sort();

  env.describe(`state elsewhere and import${env.connect ? ' on the in-memory firewall' : ' on a real kernel'}: ${backend}`, () => {
    let root: string;
    let a: string;
    let b: string;
    const nodes = NODES.filter((n) => HOSTS.includes(n.name));

    /** The packets the configuration decides, as seen from outside. */
    const connectivity = async () => ({
      webToApi: await env.tcpConnect('web', '198.18.0.12', 8000),
      apiToDb: await env.tcpConnect('api', '198.18.0.13', 5432),
      webToDb: await env.tcpConnect('web', '198.18.0.13', 5432),
      dbToApi: await env.tcpConnect('db', '198.18.0.12', 8000),
    });
    const ENFORCED = { webToApi: 'open', apiToDb: 'open', webToDb: 'refused', dbToApi: 'refused' };

    beforeAll(async () => {
      await env.create(tag, nodes);
      root = fs.mkdtempSync(path.join(os.tmpdir(), `mseg-import-${tag}-`));
      a = path.join(root, 'a');
      b = path.join(root, 'b');
      fs.mkdirSync(a);
      fs.mkdirSync(b);
      await env.listen('api', 'tcp', 8000, 4);
      await env.listen('db', 'tcp', 5432, 4);
    });

    afterAll(async () => {
      await env.teardown();
      if (root) fs.rmSync(root, { recursive: true, force: true });
    });

    it('directory A applies the configuration; its own plan knows every host and does not warn', async () => {
      fs.writeFileSync(path.join(a, 'main.hcl'), configHcl(env, backend, { ...BASE, hosts: HOSTS }));
      const applied = await cli('apply', a, '--auto-approve');
      expect(applied.err).not.toMatch(/MSEG8250/);
      expect(applied.code).toBe(0);
      expect(await connectivity()).toEqual(ENFORCED);
      const { code, plan } = await planJson(a);
      expect(code).toBe(0);
      expect(elsewhere(plan)).toEqual([]);
    });

    it('in A, an object on a known host that nothing claims is an orphan, not MSEG8250; a forgotten host record is MSEG8250', async () => {
      fs.writeFileSync(path.join(a, 'main.hcl'), configHcl(env, backend, { ...BASE, hosts: HOSTS, extraPolicy: true }));
      expect((await cli('apply', a, '--auto-approve')).code).toBe(0);
      fs.writeFileSync(path.join(a, 'main.hcl'), configHcl(env, backend, { ...BASE, hosts: HOSTS }));
      // The extra policy's set on web, dropped from web's record: the host is known, the set unclaimed.
      const gone = (await planJson(a)).plan.hosts.find((h) => h.enforcer === 'web')!.sets.filter((x) => x.action === 'delete').map((x) => x.name);
      expect(gone.length).toBeGreaterThan(0);
      const store = new LocalStateStore(a);
      const st = (await store.load())!;
      const web = st.hosts.web;
      await store.save(withHost(st, 'web', { ...web, owned: { ...web.owned, sets: web.owned.sets.filter((x) => !gone.includes(x.name)) } }));
      const orphaned = (await planJson(a)).plan;
      expect(orphaned.hosts.find((h) => h.enforcer === 'web')!.orphans).toEqual(gone.map((name) => ({ kind: 'set', name })));
      expect(elsewhere(orphaned)).toEqual([]);
      // Without web's record at all, the same host is one the state does not know.
      expect((await cli('state', 'rm', 'host.web', '--dir', a)).code).toBe(0);
      const forgotten = (await planJson(a)).plan;
      expect(elsewhere(forgotten)).toEqual(['enforcer.web']);
      // Adopted again, it is compared like any known host: apply removes what the configuration lost.
      const imported = await cli('import', 'web', a, '--json');
      expect(imported.code).toBe(0);
      expect(JSON.parse(imported.out).imported).toMatchObject({ host_action: 'update', resources_recorded: false });
      expect((await cli('apply', a, '--auto-approve')).code).toBe(0);
      expect((await planJson(a)).code).toBe(0);
      expect(await connectivity()).toEqual(ENFORCED);
    });

    it('a copy of the configuration in B, with no state, warns that every host holds objects its state does not know', async () => {
      fs.copyFileSync(path.join(a, 'main.hcl'), path.join(b, 'main.hcl'));
      const human = await cli('plan', b, '--detailed-exitcode');
      expect(human.code).toBe(2);
      for (const h of HOSTS) expect(human.err).toContain(`Enforcer "${h}" already holds microseg objects, but the state has no record of it`);
      expect(human.err).toContain('microseg import web');
      const { code, plan } = await planJson(b);
      expect(code).toBe(2);
      expect(elsewhere(plan)).toEqual(HOSTS.map((h) => `enforcer.${h}`).sort());
      expect(plan.diagnostics.find((d) => d.code === 'MSEG8250')!.severity).toBe('warning');
      // Not orphans: the host holds exactly what the configuration wants.
      for (const h of plan.hosts) expect(h.orphans).toEqual([]);
      expect(fs.existsSync(path.join(b, '.microseg', 'state.json'))).toBe(false);
    });

    it('import adopts one host: it is no longer warned about, and resources wait until every host is adopted', async () => {
      const r = await cli('import', 'web', b, '--json');
      expect(r.code).toBe(0);
      const doc = JSON.parse(r.out) as { imported: { resources_recorded: boolean; hosts_not_in_sync: string[]; host_action: string } };
      expect(doc.imported.host_action).toBe('noop');
      expect(doc.imported.resources_recorded).toBe(false);
      expect(doc.imported.hosts_not_in_sync).toEqual(['api', 'db']);
      const state = await new LocalStateStore(b).load();
      expect(Object.keys(state!.hosts)).toEqual(['web']);
      expect(state!.resources).toEqual([]);
      const { code, plan } = await planJson(b);
      expect(code).toBe(2);
      expect(elsewhere(plan)).toEqual(['enforcer.api', 'enforcer.db']);
      expect(plan.hosts.find((h) => h.enforcer === 'web')!.action).toBe('noop');
    });

    it('once every host is imported, the plan in B is a no-op and apply from B changes nothing', async () => {
      const fpBefore = (await planJson(a)).plan.hosts.map((h) => [h.enforcer, h.live_fingerprint]);
      expect((await cli('import', 'enforcer.api', b)).code).toBe(0);
      const last = await cli('import', 'db', b);
      expect(last.code).toBe(0);
      expect(last.out).toMatch(/resources were recorded as applied/);
      const { code, plan } = await planJson(b);
      expect(elsewhere(plan)).toEqual([]);
      expect(plan.resource_changes.filter((c) => c.action !== 'noop')).toEqual([]);
      expect(code).toBe(0);
      const applied = await cli('apply', b, '--auto-approve');
      expect(applied.code).toBe(0);
      expect((await planJson(b)).plan.hosts.map((h) => [h.enforcer, h.live_fingerprint])).toEqual(fpBefore);
      expect(await connectivity()).toEqual(ENFORCED);
      // A's plan is still a no-op too: B adopted the hosts without touching them.
      expect((await planJson(a)).code).toBe(0);
    });

    it('import refuses a host already recorded, an enforcer the configuration lacks, and a host holding nothing', async () => {
      const again = await cli('import', 'web', b);
      expect(again.code).toBe(1);
      expect(again.err).toMatch(/MSEG8253/);
      const unknown = await cli('import', 'nope', b);
      expect(unknown.code).toBe(1);
      expect(unknown.err).toMatch(/MSEG8251/);
      expect(unknown.err).toMatch(/Declared: api, db, web/);
      // Break-glass cleanup empties db; a third directory's import of it has nothing to adopt.
      expect((await cli('cleanup', '--enforcer', 'db', '--dir', b)).code).toBe(0);
      const c = path.join(root, 'c');
      fs.mkdirSync(c);
      fs.copyFileSync(path.join(a, 'main.hcl'), path.join(c, 'main.hcl'));
      const empty = await cli('import', 'db', c);
      expect(empty.code).toBe(1);
      expect(empty.err).toMatch(/MSEG8252/);
      expect(fs.existsSync(path.join(c, '.microseg', 'state.json'))).toBe(false);
    });
  });
}
