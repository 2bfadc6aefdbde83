/**
 * The control plane under load, over real mTLS on loopback and a throwaway PostgreSQL:
 *
 *  - round trips: once a replica knows the CAs and a certificate, a poll from an agent holding the
 *    etag the replica read last takes no pool connection, a report and a woken long-poll one
 *    each (they took four and three: CAs, certificate status, etag, document or delta; CAs,
 *    status, report, trust);
 *  - a pool whose queue is long turns new requests away with 503 + Retry-After (MSEG9838), and a
 *    request that gets no connection in time is 503 + Retry-After too (MSEG9839), never a 500;
 *    the agent waits at least the Retry-After (jittered), not its shorter backoff;
 *  - the replica's caches are dropped by NOTIFY: a revocation refuses the certificate at once on
 *    every replica (a waiting long-poll too), a rotation step changes the trusted CAs at once, and
 *    a lost LISTEN connection empties them. The cache's own expiry and the CA check are set to ten
 *    minutes here, so only a notification (or the reconnect) can explain a refusal.
 */
import { promises as fsp } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Pool, type PoolClient } from 'pg';
import { Agent } from '../../src/agent/agent';
import { createCsr, generateKeys, privateKeyPem } from '../../src/control/ca';
import { controlRequest } from '../../src/control/client';
import { ensureControlSchema } from '../../src/control/open';
import { startControlServer, type ControlServer } from '../../src/control/server';
import { ControlStore } from '../../src/control/store';
import { newToken } from '../../src/control/tokens';
import { describeWithPg, startPgCluster, type PgCluster } from '../support/pg-cluster';

const SECRET = 'load-test-secret-of-at-least-32-chars!!!';
const TEN_MINUTES = 600_000;

describeWithPg('control plane under load: round trips, 503 + Retry-After, caches dropped by NOTIFY', () => {
  let pg: PgCluster;
  let pool: Pool;
  let store: ControlStore;
  const closers: Array<() => Promise<void>> = [];
  let tmp: string;

  /** A replica on a pool of its own (`max` connections, one of them its LISTEN). */
  async function replica(opts: { max?: number; connectTimeoutMs?: number; maxQueue?: number } = {}) {
    const p = new Pool({ connectionString: pg.connStr, max: opts.max ?? 6, connectionTimeoutMillis: opts.connectTimeoutMs ?? 10_000 });
    p.on('error', () => undefined);
    const log: string[] = [];
    const listening = listeners();
    const s = await startControlServer({
      store: new ControlStore(p, 'microseg', 'default'),
      host: '127.0.0.1',
      port: 0,
      secret: SECRET,
      pollMs: TEN_MINUTES,
      caCheckMs: TEN_MINUTES,
      certCacheMs: TEN_MINUTES,
      maxQueue: opts.maxQueue,
      log: (l) => log.push(l),
    });
    closers.push(async () => {
      await s.close();
      await p.end();
    });
    // Its LISTEN holds one of its connections from here on.
    await until('the replica listening', async () => listeners() > listening);
    return { server: s, pool: p, log };
  }

  async function register(s: ControlServer, enforcer: string) {
    const { record, token } = newToken({ name: `t-${enforcer}`, validity: '1h' }, new Date());
    await store.addToken(record);
    const keys = await generateKeys();
    const r = await controlRequest({ url: s.url, ca: await store.bundle(), method: 'POST', path: '/v1/register', body: { token, enforcer, csr: await createCsr(enforcer, keys) } });
    expect(r.status).toBe(200);
    return { cert: r.body.cert as string, key: await privateKeyPem(keys.privateKey) };
  }

  /** until retries `fn` (bounded) until it returns true: a notification arrives when it arrives. */
  async function until(what: string, fn: () => Promise<boolean>, tries = 100): Promise<void> {
    for (let i = 0; i < tries; i++) {
      if (await fn()) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`timed out waiting for ${what}`);
  }

  const listeners = () => Number(pg.psql(`SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'LISTEN %'`).trim());

  beforeAll(async () => {
    pg = await startPgCluster();
    pool = new Pool({ connectionString: pg.connStr, max: 4 });
    await ensureControlSchema(pool, 'microseg');
    store = new ControlStore(pool, 'microseg', 'default');
    await store.ensureCa(new Date(), SECRET);
    tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'mseg-load-'));
  }, 180_000);
  afterAll(async () => {
    for (const c of closers.reverse()) await c().catch(() => undefined);
    await pool?.end();
    await pg?.destroy();
    if (tmp) await fsp.rm(tmp, { recursive: true, force: true });
  });

  it('answers a poll holding the etag it read last with no query, a report with one, a woken long-poll with one', async () => {
    const { server, pool: p } = await replica();
    const web = await register(server, 'rt-1');
    const ca = await store.bundle();
    const etag = await store.publish('rt-1', { rules: ['a'] }, new Date());
    const as = (method: 'GET' | 'POST', p2: string, extra: { etag?: string; body?: unknown } = {}) => controlRequest({ url: server.url, ca, ...web, method, path: p2, ...extra });
    expect((await as('GET', '/v1/ruleset')).status).toBe(200);
    let acquired = 0;
    p.on('acquire', () => acquired++);
    const counted = async <T>(f: () => Promise<T>): Promise<[T, number]> => {
      acquired = 0;
      const v = await f();
      return [v, acquired];
    };
    const [unchanged, n1] = await counted(() => as('GET', '/v1/ruleset', { etag }));
    expect([unchanged.status, n1]).toEqual([304, 0]);
    const [report, n2] = await counted(() => as('POST', '/v1/report', { body: { etag, status: 'applied', trusts: ['x'] } }));
    expect([report.status, n2]).toEqual([200, 1]);
    // the one statement filed both the report and the trust
    expect((await store.reports()).find((r) => r.enforcer === 'rt-1')?.report).toEqual(expect.objectContaining({ etag, status: 'applied' }));
    expect((await store.agentTrust()).find((t) => t.enforcer === 'rt-1')?.trusts).toEqual(['x']);
    // a long-poll woken by a publish: parked without a query, one read when woken; waiting holds no connection
    const waiting = counted(() => as('GET', '/v1/ruleset?wait=30', { etag }));
    await new Promise((r) => setTimeout(r, 500));
    expect(p.totalCount - p.idleCount).toBe(1); // the LISTEN connection only
    const etag2 = await store.publish('rt-1', { rules: ['a', 'b'] }, new Date());
    const [woken, n3] = await waiting;
    expect([woken.status, woken.body.desired, n3]).toEqual([200, { rules: ['a', 'b'] }, 1]);
    // a publish nobody waits for drops the remembered etag too: the old one is answered with the new document
    expect((await as('GET', '/v1/ruleset', { etag: etag2 })).status).toBe(304);
    await store.publish('rt-1', { rules: ['c'] }, new Date());
    await until('the publish noticed', async () => (await as('GET', '/v1/ruleset', { etag: etag2 })).status === 200);
    expect((await as('GET', '/v1/ruleset', { etag: etag2 })).body.desired).toEqual({ rules: ['c'] });
  }, 120_000);

  it('turns new requests away with 503 + Retry-After while the pool queue is long, and says 503 (not 500) when no connection comes in time', async () => {
    // two connections: the LISTEN and one the test takes; one queued query is the most it admits
    const { server, pool: p, log } = await replica({ max: 2, connectTimeoutMs: 3000, maxQueue: 1 });
    const web = await register(server, 'busy-1');
    const ca = await store.bundle();
    const etag = await store.publish('busy-1', { rules: [] }, new Date());
    const poll = () => controlRequest({ url: server.url, ca, ...web, method: 'GET', path: '/v1/ruleset', etag });
    // a report always writes (a poll for the etag this replica read last would not query)
    const report = () => controlRequest({ url: server.url, ca, ...web, method: 'POST', path: '/v1/report', body: { etag, status: 'applied' } });
    expect((await poll()).status).toBe(304);
    expect((await report()).status).toBe(200);
    const held: PoolClient = await p.connect();
    try {
      const queued = report();
      await until('a queued query', async () => p.waitingCount >= 1);
      const busy = await poll();
      expect([busy.status, busy.body.code]).toEqual([503, 'MSEG9838']);
      expect(busy.retryAfterMs).toBeGreaterThanOrEqual(1000);
      const late = await queued;
      expect([late.status, late.body.code]).toEqual([503, 'MSEG9839']);
      expect(late.retryAfterMs).toBeGreaterThanOrEqual(2000);
      expect(log.join('\n')).toMatch(/database unavailable, answering 503 with Retry-After/);
      expect(log.join('\n')).not.toMatch(/internal error/);
    } finally {
      held.release();
    }
    expect((await report()).status).toBe(200);
  }, 120_000);

  it('makes an agent wait the Retry-After of a 503, not its shorter backoff, then register', async () => {
    const { server, pool: p } = await replica({ max: 2, connectTimeoutMs: 2000, maxQueue: 100 });
    const { record, token } = newToken({ name: 'patient', validity: '1h' }, new Date());
    await store.addToken(record);
    const dir = await fsp.mkdtemp(path.join(tmp, 'agent-'));
    await fsp.writeFile(path.join(dir, 'ca.pem'), await store.bundle());
    await fsp.writeFile(path.join(dir, 'token'), token, { mode: 0o600 });
    const lines: string[] = [];
    const agent = new Agent({
      server: server.url,
      caFile: path.join(dir, 'ca.pem'),
      tokenFile: path.join(dir, 'token'),
      certDir: path.join(dir, 'identity'),
      stateDir: path.join(dir, 'state'),
      enforcer: 'patient-1',
      log: (l) => lines.push(l),
      waitS: 1,
      requestTimeoutMs: 10_000,
      // far shorter than any Retry-After the server gives
      backoff: { baseMs: 50, capMs: 100 },
    });
    const abort = new AbortController();
    const held = await p.connect();
    let running: Promise<number> | undefined;
    try {
      running = agent.run(abort.signal);
      await until('the agent told to come back later', async () => lines.some((l) => /MSEG9847 .*503 MSEG9839/.test(l)), 200);
    } finally {
      held.release();
    }
    try {
      const told = lines.find((l) => /503 MSEG9839/.test(l))!;
      const asked = Number(/asks to retry after (\d+) s/.exec(told)?.[1]);
      const waited = Number(/retry 1 in ([\d.]+) s/.exec(told)?.[1]);
      expect(asked).toBeGreaterThanOrEqual(2);
      // never sooner than asked, at most half as much again (jitter)
      expect(waited).toBeGreaterThanOrEqual(asked);
      expect(waited).toBeLessThanOrEqual(asked * 1.5 + 0.1);
      await until('the registration after the wait', async () => lines.some((l) => l.startsWith('registered as patient-1')), 300);
    } finally {
      abort.abort();
      await running;
    }
  }, 120_000);

  it('refuses a revoked certificate at once on every replica, a waiting long-poll included, although both cached it as live', async () => {
    const a = await replica();
    const b = await replica();
    const gone = await register(a.server, 'gone-1');
    const ca = await store.bundle();
    const etag = await store.publish('gone-1', { rules: ['x'] }, new Date());
    const poll = (s: ControlServer, p2 = '/v1/ruleset') => controlRequest({ url: s.url, ca, ...gone, method: 'GET', path: p2, etag, timeoutMs: 60_000 });
    for (const s of [a.server, b.server]) expect((await poll(s)).status).toBe(304); // cached: live
    const waiting = poll(b.server, '/v1/ruleset?wait=40');
    await new Promise((r) => setTimeout(r, 300));
    await store.revokeEnforcer('gone-1', 'decommissioned', new Date());
    for (const s of [a.server, b.server]) await until('the revocation refused', async () => (await poll(s)).status === 401, 50);
    const r = await poll(a.server);
    expect([r.status, r.body.code]).toEqual([401, 'MSEG9832']);
    // the waiting long-poll is woken by a publish and answers the refusal, not the document
    await store.publish('gone-1', { rules: ['x', 'y'] }, new Date());
    const w = await waiting;
    expect([w.status, w.body.code]).toEqual([401, 'MSEG9832']);
    expect(JSON.stringify(w.body)).not.toContain('"y"');
  }, 120_000);

  it('empties its caches when LISTEN is lost, and trusts a staged CA and stops trusting a retired one at once (the rotation step notifies)', async () => {
    const { server, log } = await replica();
    const ca0 = await store.bundle();
    // A revocation while the LISTEN connection is down is not heard; the reconnect empties the
    // caches, so the next request reads the certificate's row.
    const fresh = await register(server, 'gap-1');
    await store.publish('gap-1', { rules: [] }, new Date());
    const pollFresh = () => controlRequest({ url: server.url, ca: ca0, ...fresh, method: 'GET', path: '/v1/ruleset' });
    expect((await pollFresh()).status).toBe(200); // cached: live
    const listening = listeners();
    pg.psql(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN %'`);
    await store.revokeEnforcer('gap-1', 'decommissioned', new Date());
    await until('the LISTEN reconnected', async () => listeners() >= listening && log.some((l) => /LISTEN connection lost/.test(l)));
    await until('the revocation refused after the reconnect', async () => (await pollFresh()).status === 401);

    const old = await register(server, 'rot-1');
    const poll = () => controlRequest({ url: server.url, ca: ca0, ...old, method: 'GET', path: '/v1/ruleset' });
    await store.publish('rot-1', { rules: [] }, new Date());
    expect((await poll()).status).toBe(200);
    const roles = async () => ((await controlRequest({ url: server.url, ca: ca0, method: 'GET', path: '/v1/ca' })).body.cas as Array<{ role: string }>).map((c) => c.role).sort();
    expect(await roles()).toEqual(['signing']);
    await store.rotate(new Date(), SECRET);
    await until('the staged CA in the bundle', async () => JSON.stringify(await roles()) === JSON.stringify(['signing', 'staged']));
    expect((await store.advanceRotation(new Date(), true)).step).toBe('promote');
    expect((await store.advanceRotation(new Date(), true)).step).toBe('retire');
    // the TLS context still trusts the old CA (its reload waits for the ten-minute check): the
    // refusal is the request's own check against the CAs the notification made it re-read
    await until('the retired CA refused', async () => (await poll()).status === 401);
    const r = await poll();
    expect([r.status, r.body.code]).toEqual([401, 'MSEG9831']);
    expect(String(r.body.error)).toMatch(/unknown-ca/);
  }, 120_000);
});
