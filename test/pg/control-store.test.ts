/**
 * The control plane's records on a real (throwaway) PostgreSQL: one CA however many replicas
 * start at once, a token's quota held across replicas registering concurrently, refusals with
 * their reasons, revocation, rotation progress, and no secret in any table.
 */
import { Pool } from 'pg';
import { createCsr, generateKeys, signingCa } from '../../src/control/ca';
import { ensureControlSchema } from '../../src/control/open';
import { ControlStore } from '../../src/control/store';
import { newToken, parseToken } from '../../src/control/tokens';
import { describeWithPg, startPgCluster, type PgCluster } from '../support/pg-cluster';

const SECRET = 'pg-test-secret-of-at-least-32-characters';
const HOUR = 3_600_000;

describeWithPg('control store on PostgreSQL', () => {
  let pg: PgCluster;
  const pools: Pool[] = [];
  const replica = (workspace = 'default') => {
    const pool = new Pool({ connectionString: pg.connStr, max: 4 });
    pools.push(pool);
    return new ControlStore(pool, 'microseg', workspace);
  };
  const csr = async (name: string) => createCsr(name, await generateKeys());

  beforeAll(async () => {
    pg = await startPgCluster();
    const setup = new Pool({ connectionString: pg.connStr, max: 1 });
    await ensureControlSchema(setup, 'microseg');
    await setup.end();
    pg.psql(`INSERT INTO microseg.workspaces (name) VALUES ('staging'), ('rot')`);
  }, 180_000);
  afterAll(async () => {
    await Promise.all(pools.map((p) => p.end()));
    await pg?.destroy();
  });

  it('creates exactly one CA when replicas start at once, and keeps it afterwards', async () => {
    const now = new Date();
    const results = await Promise.all([replica(), replica(), replica()].map((s) => s.ensureCa(now, SECRET)));
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(new Set(results.map((r) => r.cas[0].id)).size).toBe(1);
    expect((await replica().ensureCa(now, SECRET)).created).toBe(false);
  });

  it('holds a quota of 2 across replicas registering at once; replay, networks and expiry refused with reasons', async () => {
    const now = new Date();
    const { record, token } = newToken({ name: 'ci', validity: '1h', networks: ['198.18.0.0/24'], quota: 2 }, now);
    await replica().addToken(record);
    const outcomes = await Promise.all(
      ['a', 'b', 'c'].map(async (e) => replica().register({ token, enforcer: e, address: '198.18.0.9', csrPem: await csr(e), now, validityMs: HOUR, secret: SECRET })),
    );
    expect(outcomes.filter((o) => o.ok)).toHaveLength(2);
    expect(outcomes.filter((o) => !o.ok).map((o) => (o.ok ? '' : o.reason))).toEqual(['over-quota']);
    const s = replica();
    const winner = ['a', 'b', 'c'][outcomes.findIndex((o) => o.ok)];
    const replay = await s.register({ token, enforcer: winner, address: '198.18.0.9', csrPem: await csr('x'), now, validityMs: HOUR, secret: SECRET });
    expect(replay.ok ? 'ok' : replay.reason).toBe('replay');

    const narrow = newToken({ name: 'lab', validity: '1h', networks: ['198.19.5.0/24'] }, now);
    await s.addToken(narrow.record);
    const outside = await s.register({ token: narrow.token, enforcer: 'd', address: '198.18.0.9', csrPem: await csr('d'), now, validityMs: HOUR, secret: SECRET });
    expect(outside.ok ? 'ok' : `${outside.code} ${outside.reason}`).toBe('MSEG9815 outside-networks');
    const late = await s.register({ token: narrow.token, enforcer: 'd', address: '198.19.5.1', csrPem: await csr('d'), now: new Date(now.getTime() + 2 * HOUR), validityMs: HOUR, secret: SECRET });
    expect(late.ok ? 'ok' : late.reason).toBe('expired');
    expect(await s.revokeTokens('lab', now)).toBe(1);
    const revoked = await s.register({ token: narrow.token, enforcer: 'd', address: '198.19.5.1', csrPem: await csr('d'), now, validityMs: HOUR, secret: SECRET });
    expect(revoked.ok ? 'ok' : revoked.reason).toBe('revoked');
    // a refusal takes nothing: the token's count is what the two successes made it
    expect((await s.tokens()).find((t) => t.id === record.id)).toEqual(expect.objectContaining({ used: 2 }));
  });

  it('revokes an enforcer\'s certificates; tokens and certificates of one workspace are not another\'s', async () => {
    const now = new Date();
    const s = replica();
    const { record, token } = newToken({ name: 'rev', validity: '1h' }, now);
    await s.addToken(record);
    const r = await s.register({ token, enforcer: 'gone', address: '127.0.0.1', csrPem: await csr('gone'), now, validityMs: HOUR, secret: SECRET });
    if (!r.ok) throw new Error(r.message);
    expect(await s.certStatus(r.cert.serial, 'gone')).toBe('ok');
    expect(await s.certStatus(r.cert.serial, 'other')).toBe('unknown');
    expect(await replica('staging').certStatus(r.cert.serial, 'gone')).toBe('unknown');
    const other = await replica('staging').register({ token, enforcer: 'x', address: '127.0.0.1', csrPem: await csr('x'), now, validityMs: HOUR, secret: SECRET });
    expect(other.ok ? 'ok' : other.reason).toBe('unknown');
    expect(await s.revokeEnforcer('gone', 'decommissioned', now)).toEqual([r.cert.serial]);
    expect(await s.certStatus(r.cert.serial, 'gone')).toBe('revoked');
  });

  it('rotates: promotes once every agent trusts the new CA, retires once every agent renewed', async () => {
    const now = new Date();
    const s = replica('rot');
    const { record, token } = newToken({ name: 'rot', validity: '1h' }, now);
    await s.addToken(record);
    const before = await s.cas();
    const oldId = signingCa(before).id;
    for (const e of ['r1', 'r2']) {
      const r = await s.register({ token, enforcer: e, address: '127.0.0.1', csrPem: await csr(e), now, validityMs: HOUR, secret: SECRET });
      if (!r.ok) throw new Error(r.message);
      await s.reportTrust(e, [oldId], now);
    }
    const staged = (await s.rotate(now, SECRET)).find((c) => c.role === 'staged')!;
    await expect(s.rotate(now, SECRET)).rejects.toThrow(/already under way/);
    expect((await s.bundle()).match(/BEGIN CERTIFICATE/g)!.length).toBeGreaterThanOrEqual(2);
    // agents of other workspaces count too: the CA is the database's
    const wait = await s.advanceRotation(now);
    expect(wait).toEqual(expect.objectContaining({ step: 'wait', phase: 'staged' }));
    for (const e of ['r1', 'r2']) await s.reportTrust(e, [oldId, staged.id], now);
    // the other workspaces' agents (from the tests above) never report: force past them
    const promoted = await s.advanceRotation(now, true);
    expect(promoted.step).toBe('promote');
    expect(signingCa(await s.cas()).id).toBe(staged.id);
    const renewed = await s.renew({ enforcer: 'r1', csrPem: await csr('r1'), now, validityMs: HOUR, secret: SECRET });
    expect(renewed.cert.caId).toBe(staged.id);
    const waiting = await s.advanceRotation(now);
    expect(waiting).toEqual(expect.objectContaining({ step: 'wait', phase: 'previous' }));
    expect(waiting.step === 'wait' ? waiting.waitingFor : []).toContain('r2');
    await s.renew({ enforcer: 'r2', csrPem: await csr('r2'), now, validityMs: HOUR, secret: SECRET });
    expect((await s.advanceRotation(now, true)).step).toBe('retire');
    expect((await s.cas()).find((c) => c.id === oldId)!.role).toBe('retired');
  });

  it('keeps no token secret and no private key in any table', async () => {
    const now = new Date();
    const s = replica();
    const { record, token } = newToken({ name: 'secret-check', validity: '1h' }, now);
    await s.addToken(record);
    const dump = pg.psql(
      `SELECT string_agg(t::text, E'\\n') FROM (SELECT row_to_json(x)::text AS t FROM microseg.control_tokens x UNION ALL SELECT row_to_json(y)::text FROM microseg.control_cas y UNION ALL SELECT row_to_json(z)::text FROM microseg.control_certs z) u`,
    );
    expect(dump).toContain(record.id);
    expect(dump).not.toContain(parseToken(token)!.secret);
    expect(dump).not.toMatch(/PRIVATE KEY/);
  });
});
