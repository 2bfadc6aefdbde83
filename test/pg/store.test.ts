/**
 * PgStateStore against a real throwaway PostgreSQL: migrations race-safe on first use, state round
 * trip, lineage/serial refusals, per-host row writes, the session advisory lock with its holder
 * row, force-unlock of a dead holder vs a live one, journal, workspaces isolated, no password in
 * any error.
 */
import { spawn } from 'child_process';
import * as path from 'path';
import { Client } from 'pg';
import { DiagnosticsError, type Diagnostic } from '../../src/diagnostics';
import { newState, withHost, PgStateStore, MIGRATIONS, type StateFile, type StateHost } from '../../src/state';
import { buildOnce, childEnv } from '../support/build-cli';
import { describeWithPg, startPgCluster, type PgCluster } from '../support/pg-cluster';

async function diagnosticsOf(p: Promise<unknown>): Promise<Diagnostic[]> {
  try {
    await p;
  } catch (e) {
    if (DiagnosticsError.isInstance(e)) return e.diagnostics;
    throw e;
  }
  throw new Error('expected a DiagnosticsError');
}

function host(i: number, fingerprint = `fp-${i}`): StateHost {
  return {
    backend: 'nftables',
    connection: { type: 'netns', netns: `ns-${i}` },
    owned: { sets: [{ name: `s${i}`, family: 4, elements: ['198.18.0.1'] }], chains: [{ name: 'in', hook: 'input', ruleIds: ['r1', 'r2'] }], hooks: [{ hook: 'input', family: 4 }] },
    fingerprint,
    status: 'applied',
    updated_at: '2026-01-01T00:00:00.000Z',
  };
}

function fleet(n: number): StateFile {
  let s = newState();
  for (let i = 0; i < n; i++) s = withHost(s, `e${String(i).padStart(4, '0')}`, host(i));
  return s;
}

describeWithPg('PgStateStore (real PostgreSQL)', () => {
  let pg: PgCluster;
  const stores: PgStateStore[] = [];
  const open = (workspace = 'default', schema = 'microseg', connStr?: string): PgStateStore => {
    const s = new PgStateStore({ connStr: connStr ?? pg.connStr, schema, workspace });
    stores.push(s);
    return s;
  };
  beforeAll(async () => {
    pg = await startPgCluster();
    buildOnce();
  }, 300_000);
  afterEach(async () => {
    for (const s of stores.splice(0)) await s.close();
  });
  afterAll(async () => {
    await pg?.destroy();
  });

  it('migrates once when eight runners start at once on an empty database', async () => {
    const runners = Array.from({ length: 8 }, () => open('default', 'race'));
    const results = await Promise.all(runners.map((r) => r.load()));
    expect(results).toEqual(Array(8).fill(undefined));
    expect(pg.psql('SELECT version FROM race.schema_migrations ORDER BY version').trim().split('\n').map(Number)).toEqual(MIGRATIONS.map((m) => m.version));
    expect(pg.psql("SELECT name FROM race.workspaces").trim()).toBe('default');
  }, 120_000);

  it('round-trips state and writes only the rows that changed', async () => {
    const a = open('default', 'rows');
    const s0 = fleet(50);
    const saved = await a.save(s0);
    expect(saved.serial).toBe(1);
    const b = open('default', 'rows');
    const loaded = (await b.load())!;
    expect(loaded).toEqual(saved);
    const before = { ...b.stats };
    const next = await b.save(withHost(loaded, 'e0007', host(7, 'changed')));
    expect(next.serial).toBe(2);
    // one host row + the workspace row
    expect(b.stats.rows - before.rows).toBe(2);
    expect(Number(pg.psql("SELECT count(*) FROM rows.hosts WHERE record->>'fingerprint' = 'changed'"))).toBe(1);
    // a's serial is stale now: refused, nothing written
    const d = await diagnosticsOf(a.save(withHost(saved, 'e0001', host(1, 'lost'))));
    expect(d[0].code).toBe('MSEG8005');
    const other = await diagnosticsOf(b.save({ ...newState(), serial: 2 }));
    expect(other[0].code).toBe('MSEG8004');
    expect((await open('default', 'rows').load())!.hosts.e0007.fingerprint).toBe('changed');
  }, 60_000);

  it('lock: a second holder is refused naming the first; the first one unlocking lets it in', async () => {
    const a = open('default', 'locks');
    const b = open('default', 'locks');
    const la = await a.acquireLock({ operation: 'apply', timeoutMs: 0 });
    const d = await diagnosticsOf(b.acquireLock({ operation: 'plan', timeoutMs: 300, retryMs: 50 }));
    expect(d[0].code).toBe('MSEG8010');
    expect(d[0].summary).toContain(la.who);
    expect(d[0].detail).toContain(la.id);
    expect(d[0].detail).toContain('operation "apply"');
    const refused = await diagnosticsOf(b.forceUnlock(la.id));
    expect(refused[0].code).toBe('MSEG8450');
    await a.unlock(la);
    const lb = await b.acquireLock({ operation: 'plan', timeoutMs: 0 });
    expect(lb.interrupted).toBeUndefined();
    await b.unlock(lb);
  }, 60_000);

  it('a holder killed with -9 releases the lock; the next run is told, force-unlock clears a dead record', async () => {
    const storeModule = path.join(buildOnce().root, 'src/state/pg/store.js');
    const script = `
      const { PgStateStore } = require(${JSON.stringify(storeModule)});
      const s = new PgStateStore({ connStr: process.env.CS, schema: 'kill', workspace: 'default', env: { GITHUB_SERVER_URL: 'https://github.com', GITHUB_REPOSITORY: 'o/r', GITHUB_RUN_ID: '77' } });
      s.acquireLock({ operation: 'apply', timeoutMs: 0 }).then((l) => { console.log(l.id); setInterval(() => {}, 1000); });`;
    const child = spawn(process.execPath, ['-e', script], { env: childEnv({ CS: pg.connStr }), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (b) => (out += b));
    child.stderr.on('data', (b) => (err += b));
    try {
      for (let i = 0; i < 600 && !out.includes('\n'); i++) await new Promise((r) => setTimeout(r, 100));
      const id = out.trim();
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
      const b = open('default', 'kill');
      const d = await diagnosticsOf(b.acquireLock({ operation: 'plan', timeoutMs: 0 }));
      expect(d[0].detail).toContain('CI job: https://github.com/o/r/actions/runs/77');
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      // The server notices the closed socket at once; allow it a moment under load.
      let lock;
      for (let i = 0; i < 100 && !lock; i++) lock = await b.acquireLock({ operation: 'plan', timeoutMs: 0 }).catch(() => new Promise((r) => setTimeout(r, 100)).then(() => undefined));
      expect(lock!.interrupted?.id).toBe(id);
      await b.unlock(lock!);
    } finally {
      child.kill('SIGKILL');
      if (!out) console.error(err);
    }
  }, 120_000);

  it('force-unlock clears the record of a holder whose session is gone', async () => {
    const c = new Client({ connectionString: pg.connStr });
    await c.connect();
    const a = open('default', 'force');
    await a.load();
    await c.query(`INSERT INTO force.lock_holders VALUES ('default', 'dead-id', 'x@y', 'apply', 1, 'y', now(), NULL, 999999)`);
    await c.end();
    const b = open('default', 'force');
    expect((await diagnosticsOf(b.forceUnlock('other-id')))[0].code).toBe('MSEG8012');
    await b.forceUnlock('dead-id');
    expect(pg.psql('SELECT count(*) FROM force.lock_holders').trim()).toBe('0');
  }, 60_000);

  it('workspaces isolate state, lock and journal', async () => {
    const prod = open('default', 'ws');
    await prod.load();
    expect(await prod.createWorkspace('staging')).toBe(true);
    expect(await prod.createWorkspace('staging')).toBe(false);
    const staging = open('staging', 'ws');
    await prod.save(fleet(2));
    expect(await staging.load()).toBeUndefined();
    const lp = await prod.acquireLock({ operation: 'apply', timeoutMs: 0 });
    const ls = await staging.acquireLock({ operation: 'apply', timeoutMs: 0 });
    await prod.journal({ ts: new Date().toISOString(), run_id: 'r1', enforcer: 'e0000', phase: 'begin' });
    expect(await staging.readJournal()).toEqual([]);
    expect((await prod.readJournal({ latestPerEnforcer: true })).map((e) => e.phase)).toEqual(['begin']);
    await prod.unlock(lp);
    await staging.unlock(ls);
    expect(await prod.listWorkspaces()).toEqual(['default', 'staging']);
    expect((await diagnosticsOf(open('nope', 'ws').load()))[0].code).toBe('MSEG8430');
  }, 60_000);

  it('a wrong password or a stopped server: a clear error without the password', async () => {
    const wrong = open('default', 'microseg', pg.connStrWith({ password: 'S3cr3t-wrong' }));
    const d = await diagnosticsOf(wrong.load());
    expect(d[0].code).toBe('MSEG8411');
    expect(JSON.stringify(d)).not.toContain('S3cr3t-wrong');
    expect(JSON.stringify(d)).not.toContain(pg.password);
    expect(d[0].detail).toContain('***');
    const refused = open('default', 'microseg', pg.connStrWith({ port: 1 }));
    const d2 = await diagnosticsOf(refused.load());
    expect(d2[0].code).toBe('MSEG8411');
    expect(JSON.stringify(d2)).not.toContain(pg.password);
  }, 60_000);
});
