/**
 * The control plane server over real HTTPS with mutual TLS on loopback, two replicas on one
 * throwaway PostgreSQL: registration with refusals and their reasons, each agent sees only its own
 * ruleset, ETag and long-poll, revoked and foreign certificates refused, and no secret in the log.
 */
import { Pool } from 'pg';
import { createCa, createCsr, generateKeys, issueClientCertificate, privateKeyPem } from '../../src/control/ca';
import { controlRequest } from '../../src/control/client';
import { ensureControlSchema } from '../../src/control/open';
import { startControlServer, type ControlServer } from '../../src/control/server';
import { ControlStore } from '../../src/control/store';
import { newToken, parseToken } from '../../src/control/tokens';
import { describeWithPg, startPgCluster, type PgCluster } from '../support/pg-cluster';

const SECRET = 'server-test-secret-of-at-least-32-chars!';

describeWithPg('control plane server (mTLS, two replicas, PostgreSQL)', () => {
  let pg: PgCluster;
  let pool: Pool;
  let a: ControlServer;
  let b: ControlServer;
  let store: ControlStore;
  let ca: string;
  const log: string[] = [];

  beforeAll(async () => {
    pg = await startPgCluster();
    pool = new Pool({ connectionString: pg.connStr, max: 8 });
    await ensureControlSchema(pool, 'microseg');
    store = new ControlStore(pool, 'microseg', 'default');
    // Two replicas on one database: any request may land on either.
    a = await startControlServer({ store: new ControlStore(pool, 'microseg', 'default'), host: '127.0.0.1', port: 0, secret: SECRET, pollMs: 100, log: (l) => log.push(l) });
    b = await startControlServer({ store: new ControlStore(pool, 'microseg', 'default'), host: '127.0.0.1', port: 0, secret: SECRET, pollMs: 100, log: (l) => log.push(l) });
    ca = (await controlRequest({ url: a.url, ca: await store.bundle(), method: 'GET', path: '/v1/ca' })).body.bundle as string;
  }, 180_000);
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await pool?.end();
    await pg?.destroy();
  });

  async function register(server: ControlServer, token: string, enforcer: string) {
    const keys = await generateKeys();
    const r = await controlRequest({ url: server.url, ca, method: 'POST', path: '/v1/register', body: { token, enforcer, csr: await createCsr(enforcer, keys) } });
    return { ...r, key: await privateKeyPem(keys.privateKey), cert: r.body.cert as string };
  }

  it('answers health and readiness without a certificate, and refuses everything else without one', async () => {
    expect((await controlRequest({ url: a.url, ca, method: 'GET', path: '/healthz' })).status).toBe(200);
    expect((await controlRequest({ url: b.url, ca, method: 'GET', path: '/readyz' })).status).toBe(200);
    const r = await controlRequest({ url: a.url, ca, method: 'GET', path: '/v1/ruleset' });
    expect(r.status).toBe(401);
    expect(r.body.code).toBe('MSEG9831');
  });

  it('registers on one replica and serves on the other; each agent gets only its own ruleset, with ETag and long-poll', async () => {
    const { record, token } = newToken({ name: 'fleet', validity: '1h', networks: ['127.0.0.0/8'], quota: 2 }, new Date());
    await store.addToken(record);
    const web = await register(a, token, 'web-1');
    expect(web.status).toBe(200);
    const db = await register(b, token, 'db-1');
    expect(db.status).toBe(200);
    const third = await register(a, token, 'cache-1');
    expect([third.status, third.body.code, third.body.reason]).toEqual([403, 'MSEG9814', 'over-quota']);
    const replay = await register(b, token, 'web-1');
    expect(replay.body.reason).toBe('replay');

    await store.publish('web-1', { rules: ['web'] }, new Date());
    await store.publish('db-1', { rules: ['db'] }, new Date());
    const asWeb = (server: ControlServer, path: string, etag?: string) => controlRequest({ url: server.url, ca, cert: web.cert, key: web.key, method: 'GET', path, etag });
    const got = await asWeb(b, '/v1/ruleset');
    expect(got.status).toBe(200);
    expect(got.body).toEqual(expect.objectContaining({ enforcer: 'web-1', desired: { rules: ['web'] } }));
    // there is no way to ask for another enforcer's: the certificate decides
    expect((await asWeb(a, '/v1/ruleset?enforcer=db-1')).body.desired).toEqual({ rules: ['web'] });
    expect((await asWeb(a, '/v1/ruleset', got.etag)).status).toBe(304);
    // a long-poll returns as soon as a publish lands (through the database, from the other replica's point of view)
    const waiting = asWeb(a, '/v1/ruleset?wait=30', got.etag);
    await new Promise((r) => setTimeout(r, 300));
    await store.publish('web-1', { rules: ['web', 'v2'] }, new Date());
    const changed = await waiting;
    expect(changed.status).toBe(200);
    expect(changed.body.desired).toEqual({ rules: ['web', 'v2'] });

    const rep = await controlRequest({ url: b.url, ca, cert: web.cert, key: web.key, method: 'POST', path: '/v1/report', body: { etag: changed.etag, status: 'applied', fingerprint: 'abc' } });
    expect(rep.status).toBe(200);
    expect((await store.reports()).find((r) => r.enforcer === 'web-1')?.report).toEqual(expect.objectContaining({ etag: changed.etag, status: 'applied', fingerprint: 'abc' }));

    // decommission: the certificate stops working on every replica at once
    await store.revokeEnforcer('db-1', 'decommissioned', new Date());
    for (const s of [a, b]) {
      const r = await controlRequest({ url: s.url, ca, cert: db.cert, key: db.key, method: 'GET', path: '/v1/ruleset' });
      expect([r.status, r.body.code]).toEqual([401, 'MSEG9832']);
    }
  });

  it('refuses tokens outside their networks or expired, and certificates from another CA', async () => {
    const far = newToken({ name: 'far', validity: '1h', networks: ['198.18.0.0/15'] }, new Date());
    await store.addToken(far.record);
    const r = await register(a, far.token, 'x-1');
    expect([r.status, r.body.reason]).toEqual([403, 'outside-networks']);
    const old = newToken({ name: 'old', validity: '1s' }, new Date(Date.now() - 10_000));
    await store.addToken(old.record);
    expect((await register(a, old.token, 'x-2')).body.reason).toBe('expired');

    const foreignCa = [await createCa({ secret: SECRET, now: new Date() })];
    const keys = await generateKeys();
    const foreign = await issueClientCertificate({ cas: foreignCa, secret: SECRET, csrPem: await createCsr('web-1', keys), enforcer: 'web-1', now: new Date(), validityMs: 3_600_000 });
    const f = await controlRequest({ url: a.url, ca, cert: foreign.certPem, key: await privateKeyPem(keys.privateKey), method: 'GET', path: '/v1/ruleset' });
    expect(f.status).toBe(401);

    const logText = log.join('\n');
    for (const t of [far.token, old.token]) expect(logText).not.toContain(parseToken(t)!.secret);
    expect(logText).toContain('refused: MSEG9815 outside-networks');
  });

  it('renews over the client certificate, from the signing CA', async () => {
    const { record, token } = newToken({ name: 'renew', validity: '1h' }, new Date());
    await store.addToken(record);
    const r = await register(a, token, 'renew-1');
    const keys = await generateKeys();
    const n = await controlRequest({ url: b.url, ca, cert: r.cert, key: r.key, method: 'POST', path: '/v1/renew', body: { csr: await createCsr('ignored-name', keys) } });
    expect(n.status).toBe(200);
    const ok = await controlRequest({ url: a.url, ca, cert: n.body.cert as string, key: await privateKeyPem(keys.privateKey), method: 'POST', path: '/v1/report', body: { status: 'applied' } });
    expect(ok.status).toBe(200);
    // the renewed certificate is bound to the enforcer that asked, whatever the request said
    expect((await store.reports()).map((x) => x.enforcer)).toContain('renew-1');
    expect((await store.reports()).map((x) => x.enforcer)).not.toContain('ignored-name');
  });
});
