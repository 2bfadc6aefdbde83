/**
 * The pg state backend end to end: a real throwaway PostgreSQL (test/support/pg-cluster.ts), real
 * network namespaces programmed with nftables, real packets. Two work trees A and B with the same
 * configuration stand for two CI runners sharing one database.
 *
 * Nodes (harness.ts conventions): a 198.18.0.71, b 198.18.0.72, c 198.18.0.73. Policy a → b tcp/80.
 * The steps build on each other, in order.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { PgStateStore } from '../../src/state';
import { buildOnce, childEnv, cliArgs } from '../support/build-cli';
import { pgSkipReason, startPgCluster, type PgCluster } from '../support/pg-cluster';
import { Topology, describeAsRoot } from './harness';
import { cli } from './reconcile-suite';

const SCHEMA = 'e2e';
const ADDR: Record<string, string> = { a: '198.18.0.71', b: '198.18.0.72', c: '198.18.0.73' };

/** localFiles: every file under DIR/.microseg with its size and mtime (to prove nothing was written). */
function localFiles(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const d = path.join(dir, '.microseg');
  if (!fs.existsSync(d)) return out;
  for (const f of fs.readdirSync(d)) {
    const st = fs.statSync(path.join(d, f));
    out[f] = `${st.size}:${st.mtimeMs}`;
  }
  return out;
}

function config(topo: Topology, enforcers: string[], ports: string[], backend = `microseg {\n  backend "pg" {\n    schema_name = "${SCHEMA}"\n  }\n}\n`): string {
  const hcl = [backend, 'namespace "/p" {\n  default_incoming_action = "reject"\n  default_outgoing_action = "reject"\n}'];
  for (const n of enforcers) {
    hcl.push(
      `enforcer "${n}" {\n  namespace = "/p"\n  backend = "nftables"\n  connection {\n    type  = "netns"\n    netns = "${topo.nsName(n)}"\n  }\n}`,
      `processing_unit "${n}" {\n  namespace = "/p"\n  enforcer = enforcer.${n}.name\n  addresses = ["${ADDR[n]}"]\n  tags = ["app=${n}"]\n}`,
    );
  }
  hcl.push(`network_policy "a-to-b" {\n  namespace = "/p"\n  subject = [["app=a"]]\n  object = [["app=b"]]\n  ports = [${ports.map((p) => `"${p}"`).join(', ')}]\n}`);
  return hcl.join('\n') + '\n';
}

describeAsRoot(
  'pg state backend on a real kernel and a real PostgreSQL',
  () => {
    let pg: PgCluster;
    let topo: Topology;
    let tmp: string;
    let A: string;
    let B: string;
    const savedEnv = process.env.PG_CONN_STR;
    const write = (dir: string, text: string) => fs.writeFileSync(path.join(dir, 'main.hcl'), text);
    const microsegTable = async (node: string) => (await topo.exec(node, ['nft', 'list', 'table', 'inet', 'microseg'])).code === 0;
    const ruleset = async (node: string) => (await topo.mustExec(node, ['nft', 'list', 'ruleset']));

    beforeAll(async () => {
      pg = await startPgCluster();
      process.env.PG_CONN_STR = pg.connStr;
      tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mseg-pg-e2e-'));
      A = path.join(tmp, 'A');
      B = path.join(tmp, 'B');
      fs.mkdirSync(A);
      fs.mkdirSync(B);
      topo = await Topology.create('pgbe', Object.entries(ADDR).map(([name, v4]) => ({ name, v4, v6: `2001:2::${v4.split('.')[3]}` })));
      await topo.listen('b', 'tcp', 80, 4);
      await topo.listen('b', 'tcp', 81, 4);
      // Foreign rules on c that microseg must never touch.
      await topo.mustExec('c', ['nft', 'add', 'table', 'inet', 'foreign']);
      await topo.mustExec('c', ['nft', 'add', 'chain', 'inet', 'foreign', 'keep', '{ type filter hook input priority 10; policy accept; }']);
      await topo.mustExec('c', ['nft', 'add', 'rule', 'inet', 'foreign', 'keep', 'tcp', 'dport', '9999', 'counter', 'accept']);
    }, 300_000);

    afterAll(async () => {
      if (savedEnv === undefined) delete process.env.PG_CONN_STR;
      else process.env.PG_CONN_STR = savedEnv;
      await topo?.teardown();
      await pg?.destroy();
      if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    });

    it('two work trees: apply from A, plan from B is a no-op; B decommissions c; A then plans a no-op', async () => {
      write(A, config(topo, ['a', 'b', 'c'], ['tcp/80']));
      write(B, config(topo, ['a', 'b', 'c'], ['tcp/80']));
      const applyA = await cli('apply', A, '--auto-approve');
      expect(applyA.err).toBe('');
      expect(applyA.code).toBe(0);
      expect(await topo.tcpConnect('a', ADDR.b, 80)).toBe('open');
      expect(await topo.tcpConnect('c', ADDR.b, 80)).not.toBe('open');
      const planB = await cli('plan', B, '--detailed-exitcode');
      expect(planB.code).toBe(0);
      expect(await microsegTable('c')).toBe(true);

      write(B, config(topo, ['a', 'b'], ['tcp/80']));
      const applyB = await cli('apply', B, '--auto-approve');
      expect(applyB.code).toBe(0);
      expect(await microsegTable('c')).toBe(false);
      expect(await ruleset('c')).toMatch(/table inet foreign[\s\S]*tcp dport 9999 counter/);
      expect(await topo.tcpConnect('a', ADDR.b, 80)).toBe('open');

      write(A, config(topo, ['a', 'b'], ['tcp/80']));
      expect((await cli('plan', A, '--detailed-exitcode')).code).toBe(0);
      // No state, lock or journal file: they are in PostgreSQL. (apply keeps its counter baselines,
      // observations for `stats --since-apply`, in .microseg/counters.json whatever the backend.)
      for (const d of [A, B]) for (const f of ['state.json', 'state.json.backup', 'state.lock', 'journal.jsonl']) expect(fs.existsSync(path.join(d, '.microseg', f))).toBe(false);
      expect(Number(pg.psql(`SELECT count(*) FROM ${SCHEMA}.hosts`))).toBe(2);
    }, 300_000);

    it('concurrent applies from A and B: exactly one runs, the other exits 1 naming the holder', async () => {
      write(A, config(topo, ['a', 'b'], ['tcp/80', 'tcp/81']));
      write(B, config(topo, ['a', 'b'], ['tcp/80', 'tcp/81']));
      const [ra, rb] = await Promise.all([cli('apply', A, '--auto-approve'), cli('apply', B, '--auto-approve')]);
      const codes = [ra.code, rb.code].sort();
      expect(codes).toEqual([0, 1]);
      const loser = ra.code === 1 ? ra : rb;
      expect(loser.err).toMatch(/MSEG8010/);
      expect(loser.err).toMatch(new RegExp(`locked by ${os.userInfo().username}@${os.hostname()}`));
      expect(loser.err).toMatch(/operation "apply"/);
      expect(await topo.tcpConnect('a', ADDR.b, 81)).toBe('open');
      expect((await cli('plan', B, '--detailed-exitcode')).code).toBe(0);
    }, 300_000);

    it('kill -9 of an apply in A: B needs no force-unlock, shows the interrupted run, and converges', async () => {
      const { mainJs } = buildOnce();
      const wrapDir = path.join(tmp, 'wrap');
      fs.mkdirSync(wrapDir, { recursive: true });
      const realNft = (await topo.exec('a', ['sh', '-c', 'command -v nft'])).stdout.trim();
      fs.writeFileSync(
        path.join(wrapDir, 'nft'),
        `#!/bin/sh\nif [ "$1" = "-f" ] && [ "$(ip netns identify)" = "$MSEG_TEST_SLOW_NS" ]; then sleep 60; fi\nexec ${realNft} "$@"\n`,
        { mode: 0o755 },
      );
      write(A, config(topo, ['a', 'b'], ['tcp/80']));
      write(B, config(topo, ['a', 'b'], ['tcp/80']));
      const child = spawn(process.execPath, cliArgs(mainJs, ['apply', A, '--auto-approve', '--parallelism', '1']), {
        detached: true,
        stdio: 'ignore',
        env: childEnv({ PATH: `${wrapDir}:${process.env.PATH}`, MSEG_TEST_SLOW_NS: topo.nsName('b'), PG_CONN_STR: pg.connStr }),
      });
      const exited = new Promise<void>((res) => child.on('exit', () => res()));
      const watcher = new PgStateStore({ connStr: pg.connStr, schema: SCHEMA, workspace: 'default' });
      try {
        const deadline = Date.now() + 120_000;
        for (;;) {
          const j = await watcher.readJournal({ latestPerEnforcer: true });
          if (j.some((e) => e.enforcer === 'b' && e.phase === 'begin')) break;
          if (child.exitCode !== null) throw new Error(`the apply ended (${child.exitCode}) before enforcer b began`);
          if (Date.now() > deadline) throw new Error('enforcer b never began');
          await new Promise((r) => setTimeout(r, 50));
        }
        // The holder is alive: force-unlock refuses it.
        const holderId = pg.psql(`SELECT id FROM ${SCHEMA}.lock_holders`).trim();
        const refused = await cli('force-unlock', holderId, B);
        expect(refused.code).toBe(1);
        expect(refused.err).toMatch(/MSEG8450/);
        await new Promise((r) => setTimeout(r, 300));
        process.kill(-child.pid!, 'SIGKILL');
        await exited;
        // B: no force-unlock. The plan reports the dead holder and the interrupted host.
        let p = await cli('plan', B, '--detailed-exitcode');
        for (let i = 0; i < 50 && p.code === 1 && /MSEG8010/.test(p.err); i++) {
          // The server sees the killed client's socket close at once; under load, allow it a moment.
          await new Promise((r) => setTimeout(r, 200));
          p = await cli('plan', B, '--detailed-exitcode');
        }
        expect(p.code).toBe(2);
        expect(p.err).toContain(holderId);
        expect(p.err).toMatch(/ended without releasing/);
        expect(p.err).toMatch(/MSEG8213/);
        expect(p.err).toMatch(/enforcer "b"/);
        const apply = await cli('apply', B, '--auto-approve');
        expect(apply.code).toBe(0);
        expect(await topo.tcpConnect('a', ADDR.b, 80)).toBe('open');
        expect(await topo.tcpConnect('a', ADDR.b, 81)).not.toBe('open');
        expect((await cli('plan', A, '--detailed-exitcode')).code).toBe(0);
      } finally {
        await watcher.close();
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }, 400_000);

    it('a wrong password or a stopped server: exit 1, no password, no host touched, nothing written locally', async () => {
      write(B, config(topo, ['a', 'b'], ['tcp/80', 'tcp/82']));
      const before = { a: await ruleset('a'), b: await ruleset('b') };
      const localBefore = localFiles(B);
      process.env.PG_CONN_STR = pg.connStrWith({ password: 'WrongPassw0rd' });
      try {
        for (const cmd of [['plan', B], ['apply', B, '--auto-approve']]) {
          const r = await cli(...cmd);
          expect(r.code).toBe(1);
          expect(r.err).toMatch(/MSEG8411/);
          expect(r.err).toMatch(/password authentication failed/);
          expect(r.err + r.out).not.toContain('WrongPassw0rd');
          expect(r.err + r.out).not.toContain(pg.password);
        }
      } finally {
        process.env.PG_CONN_STR = pg.connStr;
      }
      await pg.stop();
      try {
        for (const cmd of [['plan', B], ['apply', B, '--auto-approve']]) {
          const r = await cli(...cmd);
          expect(r.code).toBe(1);
          expect(r.err).toMatch(/MSEG8411/);
          expect(r.err).toMatch(/Is PostgreSQL running/);
          expect(r.err + r.out).not.toContain(pg.password);
        }
      } finally {
        await pg.start();
      }
      expect({ a: await ruleset('a'), b: await ruleset('b') }).toEqual(before);
      expect(localFiles(B)).toEqual(localBefore);
    }, 300_000);

    it('PostgreSQL restarted between plan -out and apply: the saved plan is applied, state whole', async () => {
      const planFile = path.join(tmp, 'restart.plan');
      write(A, config(topo, ['a', 'b'], ['tcp/80', 'tcp/81']));
      const p = await cli('plan', A, '-out', planFile);
      expect(p.code).toBe(0);
      await pg.restart();
      const r = await cli('apply', planFile, '--dir', A);
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
      expect(await topo.tcpConnect('a', ADDR.b, 81)).toBe('open');
      // The same plan again is refused (state moved on), never applied twice.
      const again = await cli('apply', planFile, '--dir', A);
      expect(again.code).toBe(1);
      write(B, config(topo, ['a', 'b'], ['tcp/80', 'tcp/81']));
      expect((await cli('plan', B, '--detailed-exitcode')).code).toBe(0);
    }, 300_000);

    it('workspaces isolate: staging sees none of default\'s state', async () => {
      expect((await cli('workspace', 'new', 'staging', '--dir', B)).code).toBe(0);
      const list = await cli('workspace', 'list', '--dir', B);
      expect(list.out).toBe('  default\n* staging\n');
      const pulled = await cli('state', 'pull', '--dir', B);
      expect(pulled.code).toBe(1);
      const plan = await cli('plan', B, '--detailed-exitcode');
      expect(plan.code).toBe(2); // everything is new to staging
      expect((await cli('workspace', 'select', 'default', '--dir', B)).code).toBe(0);
      expect((await cli('plan', B, '--detailed-exitcode')).code).toBe(0);
      process.env.MICROSEG_WORKSPACE = 'staging';
      try {
        expect((await cli('plan', B, '--detailed-exitcode')).code).toBe(2);
      } finally {
        delete process.env.MICROSEG_WORKSPACE;
      }
      expect((await cli('workspace', 'delete', 'staging', '--dir', B)).code).toBe(0);
      expect((await cli('workspace', 'list', '--dir', B)).out).toBe('* default\n');
      expect(fs.existsSync(path.join(B, '.microseg', 'state.json'))).toBe(false);
    }, 300_000);

    it('local → pg: plan refuses until init -migrate-state; lineage and serial kept; the next plan is a no-op', async () => {
      const C = path.join(tmp, 'C');
      fs.mkdirSync(C);
      const local = config(topo, ['c'], ['tcp/80'], '');
      write(C, local);
      expect((await cli('apply', C, '--auto-approve')).code).toBe(0);
      const before = JSON.parse(fs.readFileSync(path.join(C, '.microseg/state.json'), 'utf8')) as { lineage: string; serial: number };
      write(C, config(topo, ['c'], ['tcp/80'], 'microseg {\n  backend "pg" {\n    schema_name = "migrated"\n  }\n}\n'));
      const refused = await cli('plan', C);
      expect(refused.code).toBe(1);
      expect(refused.err).toMatch(/MSEG8420/);
      expect(refused.err).toMatch(/init -migrate-state/);
      const init = await cli('init', C, '-migrate-state');
      expect(init.err).toBe('');
      expect(init.code).toBe(0);
      expect(fs.existsSync(path.join(C, '.microseg/state.json'))).toBe(false);
      expect(fs.existsSync(path.join(C, '.microseg/state.json.migrated'))).toBe(true);
      const pulled = JSON.parse((await cli('state', 'pull', '--dir', C)).out) as { lineage: string; serial: number };
      expect({ lineage: pulled.lineage, serial: pulled.serial }).toEqual({ lineage: before.lineage, serial: before.serial });
      expect((await cli('plan', C, '--detailed-exitcode')).code).toBe(0);
      expect(fs.existsSync(path.join(C, '.microseg/state.json'))).toBe(false);
      // Back to the local backend without moving the state back: refused, not silently empty.
      write(C, local);
      const back = await cli('plan', C);
      expect(back.code).toBe(1);
      expect(back.err).toMatch(/MSEG8420/);
      // Clean up c for the next run of the suite's neighbours.
      write(C, config(topo, ['c'], ['tcp/80'], 'microseg {\n  backend "pg" {\n    schema_name = "migrated"\n  }\n}\n'));
      expect((await cli('destroy', C, '--auto-approve')).code).toBe(0);
      expect(await ruleset('c')).toMatch(/table inet foreign/);
    }, 300_000);
  },
  pgSkipReason,
);
