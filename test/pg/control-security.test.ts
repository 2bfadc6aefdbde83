/**
 * The issue's security list, each proved against `microseg server` as the command runs it (real
 * HTTPS with mutual TLS on loopback, real PostgreSQL): what test/pg/control-server.test.ts and
 * control-store.test.ts do not already prove.
 *
 *  - a certificate reaches its own enforcer only: it cannot report for another enforcer, renew as
 *    another, or pull another's delta by naming that enforcer's etag;
 *  - refused certificates: revoked (also for renewal, which would otherwise outlive the
 *    revocation), signed by the right CA key but never issued by this workspace, from another CA,
 *    and from a CA retired by rotation;
 *  - tokens: revoked through the server (quota, expiry, networks and replay are in control-server);
 *  - no secret — token secret, MICROSEG_CA_KEY, the CA private key, an agent's private key, the
 *    connection string's password — in the server's log, in any table of the schema, or in the
 *    output of the token and ca commands (the token's secret only in `token create`'s stdout).
 */
import { Pool } from 'pg';
import { createCa, createCsr, generateKeys, issueClientCertificate, privateKeyPem, unseal } from '../../src/control/ca';
import { controlRequest } from '../../src/control/client';
import { ControlStore } from '../../src/control/store';
import { parseToken } from '../../src/control/tokens';
import { serverCommand } from '../../src/cli/commands/server';
import { main } from '../../src/cli/main';
import { BufferIo } from '../../src/cli/io';
import { describeWithPg, freePort, startPgCluster, type PgCluster } from '../support/pg-cluster';

const CA_KEY = 'security-test-ca-key-of-at-least-32-characters';

/** The base64 body of a PEM, as one line: a secret is found however it is wrapped or framed. */
function pemBody(pem: string): string {
  return pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
}

describeWithPg('control plane security (microseg server, mTLS, PostgreSQL)', () => {
  let pg: PgCluster;
  let pool: Pool;
  let store: ControlStore;
  const saved = { ...process.env };
  const serverIo = new BufferIo();
  let stop!: () => void;
  let running: Promise<number>;
  let url: string;
  let ca: string;
  /** Every CLI output of this file, for the secret grep at the end. */
  const outputs: string[] = [];
  /** Every secret this file made or used, with the name the failure message gives it. */
  const secrets: Array<{ what: string; value: string }> = [];
  /** `token create` stdout: the one place a token's secret belongs (the grep's positive control). */
  const created: string[] = [];

  async function cli(args: string[]) {
    const io = new BufferIo();
    const code = await main(['node', 'microseg', ...args], io);
    return { code, out: io.stdout, err: io.stderr };
  }

  async function createToken(name: string, extra: string[] = []): Promise<string> {
    const r = await cli(['token', 'create', name, '--validity', '1h', ...extra]);
    expect(r.code).toBe(0);
    outputs.push(r.err); // stderr describes the token and must not carry its secret
    const token = r.out.trim();
    created.push(r.out);
    secrets.push({ what: `token ${name}'s secret`, value: parseToken(token)!.secret });
    return token;
  }

  async function register(token: string, enforcer: string) {
    const keys = await generateKeys();
    const key = await privateKeyPem(keys.privateKey);
    secrets.push({ what: `${enforcer}'s private key`, value: pemBody(key) });
    const r = await controlRequest({ url, ca, method: 'POST', path: '/v1/register', body: { token, enforcer, csr: await createCsr(enforcer, keys) } });
    return { ...r, key, cert: r.body.cert as string };
  }

  const as = (who: { cert: string; key: string }, method: 'GET' | 'POST', path: string, body?: unknown, extra: { etag?: string; aim?: string } = {}) =>
    controlRequest({ url, ca, cert: who.cert, key: who.key, method, path, body, ...extra });

  beforeAll(async () => {
    pg = await startPgCluster();
    process.env = { ...saved, PG_CONN_STR: pg.connStr, MICROSEG_CA_KEY: CA_KEY };
    secrets.push({ what: 'MICROSEG_CA_KEY', value: CA_KEY }, { what: 'the connection string password', value: pg.password });
    const port = await freePort();
    const stopped = new Promise<void>((r) => (stop = r));
    running = serverCommand(serverIo, { listen: `127.0.0.1:${port}` }, stopped);
    for (let i = 0; i < 600 && !serverIo.stderr.includes('listening'); i++) await new Promise((r) => setTimeout(r, 100));
    expect(serverIo.stderr).toContain('listening');
    url = `https://127.0.0.1:${port}`;
    pool = new Pool({ connectionString: pg.connStr, max: 4 });
    store = new ControlStore(pool, 'microseg', 'default');
    ca = await store.bundle();
  }, 180_000);

  afterAll(async () => {
    stop?.();
    if (running) await running;
    await pool?.end();
    process.env = saved;
    await pg?.destroy();
  });

  it('lets a certificate act for its own enforcer only: no report, renewal or delta for another', async () => {
    const token = await createToken('own', ['--quota', '2']);
    const web = await register(token, 'web-1');
    const db = await register(token, 'db-1');
    expect([web.status, db.status]).toEqual([200, 200]);
    const dbEtag1 = await store.publish('db-1', { rules: ['db', 'secret-of-db'] }, new Date());
    await store.publish('db-1', { rules: ['db', 'secret-of-db', 'v2'] }, new Date());
    await store.publish('web-1', { rules: ['web'] }, new Date());

    // web reports for db: refused with a reason, db's report untouched
    const ok = await as(db, 'POST', '/v1/report', { enforcer: 'db-1', etag: 'x', status: 'applied' });
    expect(ok.status).toBe(200);
    const forged = await as(web, 'POST', '/v1/report', { enforcer: 'db-1', etag: 'forged', status: 'failed' });
    expect([forged.status, forged.body.code]).toEqual([403, 'MSEG9900']);
    expect((await store.reports()).find((r) => r.enforcer === 'db-1')?.report).toEqual(expect.objectContaining({ status: 'applied', etag: 'x' }));
    // a report without a name is filed under the certificate's enforcer, with the name set to it
    expect((await as(web, 'POST', '/v1/report', { status: 'applied' })).status).toBe(200);
    expect((await store.reports()).find((r) => r.enforcer === 'web-1')?.report.enforcer).toBe('web-1');

    // web names db's previous etag and asks for a delta: it gets its own document, never db's patch
    const d = await as(web, 'GET', '/v1/ruleset', undefined, { etag: dbEtag1, aim: 'json-patch' });
    expect(d.status).toBe(200);
    expect(d.body.desired).toEqual({ rules: ['web'] });
    expect(JSON.stringify(d.body)).not.toContain('secret-of-db');

    // web renews with a CSR naming db: the certificate is web's
    const keys = await generateKeys();
    const n = await as(web, 'POST', '/v1/renew', { csr: await createCsr('db-1', keys) });
    expect(n.status).toBe(200);
    const renewed = { cert: n.body.cert as string, key: await privateKeyPem(keys.privateKey) };
    secrets.push({ what: 'web-1 renewed private key', value: pemBody(renewed.key) });
    expect((await as(renewed, 'GET', '/v1/ruleset')).body.desired).toEqual({ rules: ['web'] });
  });

  it('refuses revoked certificates (for renewal too), never-issued ones, other CAs\' and a retired CA\'s', async () => {
    const token = await createToken('certs', ['--quota', '3']);
    const gone = await register(token, 'gone-1');
    const stays = await register(token, 'stays-1');
    expect([gone.status, stays.status]).toEqual([200, 200]);
    await store.publish('gone-1', { rules: [] }, new Date());
    await store.publish('stays-1', { rules: ['stays'] }, new Date());
    expect((await as(gone, 'GET', '/v1/ruleset')).status).toBe(200);

    await store.revokeEnforcer('gone-1', 'decommissioned', new Date());
    const certRows = () => pg.psql(`SELECT count(*) FROM microseg.control_certs WHERE enforcer = 'gone-1'`).trim();
    const before = certRows();
    const keys = await generateKeys();
    const renew = await as(gone, 'POST', '/v1/renew', { csr: await createCsr('gone-1', keys) });
    expect([renew.status, renew.body.code]).toEqual([401, 'MSEG9832']);
    expect(certRows()).toBe(before);
    const report = await as(gone, 'POST', '/v1/report', { status: 'applied' });
    expect([report.status, report.body.code]).toEqual([401, 'MSEG9832']);

    // signed with this database's CA key but never recorded: not one this workspace issued
    const cas = await store.cas();
    const k2 = await generateKeys();
    const unrecorded = await issueClientCertificate({ cas, secret: CA_KEY, csrPem: await createCsr('stays-1', k2), enforcer: 'stays-1', now: new Date(), validityMs: 3_600_000 });
    const u = await as({ cert: unrecorded.certPem, key: await privateKeyPem(k2.privateKey) }, 'GET', '/v1/ruleset');
    expect([u.status, u.body.code]).toEqual([401, 'MSEG9832']);

    // another CA (same enforcer name, same secret even): refused by TLS verification
    const foreign = [await createCa({ secret: CA_KEY, now: new Date() })];
    const k3 = await generateKeys();
    const f = await issueClientCertificate({ cas: foreign, secret: CA_KEY, csrPem: await createCsr('stays-1', k3), enforcer: 'stays-1', now: new Date(), validityMs: 3_600_000 });
    const fr = await as({ cert: f.certPem, key: await privateKeyPem(k3.privateKey) }, 'GET', '/v1/ruleset');
    expect([fr.status, fr.body.code]).toEqual([401, 'MSEG9831']);
    expect(String(fr.body.error)).toMatch(/not trusted/);

    // rotation forced through while stays-1 never renewed: its certificate dies with the old CA
    const oldCa = stays.body.ca_id as string;
    await store.rotate(new Date(), CA_KEY);
    expect((await store.advanceRotation(new Date(), true)).step).toBe('promote');
    expect((await store.advanceRotation(new Date(), true)).step).toBe('retire');
    expect((await store.cas()).find((c) => c.id === oldCa)?.role).toBe('retired');
    // At once (the rotation step notifies every replica, which drops its CAs), before this replica reloaded its TLS context ...
    const atOnce = await as(stays, 'GET', '/v1/ruleset');
    expect([atOnce.status, atOnce.body.code]).toEqual([401, 'MSEG9831']);
    // ... and after: its CA check (every 10 s) notices the retirement and reloads; bounded wait.
    for (let i = 0; i < 300 && !serverIo.stderr.includes('CAs changed'); i++) await new Promise((res) => setTimeout(res, 100));
    expect(serverIo.stderr).toContain('CAs changed: TLS certificate and trust bundle reloaded');
    ca = await store.bundle();
    const after = await as(stays, 'GET', '/v1/ruleset');
    expect([after.status, after.body.code]).toEqual([401, 'MSEG9831']);
    expect(String(after.body.error)).toMatch(/not trusted/);
  }, 120_000);

  it('refuses a revoked token through the server, with its reason', async () => {
    const token = await createToken('revoked-token');
    const rv = await cli(['token', 'revoke', 'revoked-token']);
    expect(rv.code).toBe(0);
    outputs.push(rv.out, rv.err);
    const r = await register(token, 'late-1');
    expect([r.status, r.body.code, r.body.reason]).toEqual([403, 'MSEG9813', 'revoked']);
    // a wrong secret with a real id: the same words as an unknown token, and the secret tried is not logged
    const id = parseToken(token)!.id;
    const guessed = `mseg_${id}_${'A'.repeat(43)}`;
    const g = await register(guessed, 'late-2');
    expect([g.status, g.body.code, g.body.reason]).toEqual([403, 'MSEG9811', 'bad-secret']);
    expect(g.body.error).toBe('the token is unknown or its secret does not match');
    expect(serverIo.stderr).not.toContain('A'.repeat(43));
  });

  it('keeps every secret out of the server log, every table and the commands\' output', async () => {
    // the CA private keys, unsealed here only to know what to look for
    for (const c of await store.cas()) {
      secrets.push({ what: `CA ${c.id.slice(0, 12)} private key`, value: unseal(c.key, CA_KEY, c.id).toString('base64') });
    }
    for (const args of [['token', 'list'], ['token', 'list', '--json'], ['ca', 'status'], ['ca', 'status', '--json'], ['ca', 'bundle']]) {
      const r = await cli(args);
      expect(r.code).toBe(0);
      outputs.push(r.out, r.err);
    }
    const tables = pg.psql(`SELECT string_agg(table_name, ' ') FROM information_schema.tables WHERE table_schema = 'microseg'`).trim().split(/\s+/);
    expect(tables).toEqual(expect.arrayContaining(['control_cas', 'control_tokens', 'control_certs', 'control_rulesets', 'control_reports', 'control_agent_trust']));
    const dump = tables.map((t) => pg.psql(`SELECT coalesce(string_agg(row_to_json(x)::text, E'\\n'), '') FROM microseg.${t} x`)).join('\n');
    expect(dump).toContain('web-1'); // the dump is real
    const log = serverIo.stdout + serverIo.stderr;
    expect(log).toContain('registered web-1');
    const places: Array<[string, string]> = [
      ['server log', log],
      ['database', dump],
      ['command output', outputs.join('\n')],
    ];
    const leaks: string[] = [];
    const probeOf = (v: string) => (v.length > 48 ? v.slice(8, 48) : v);
    // the probe finds a secret where it is meant to be: each token in its `token create` output
    for (const s of secrets.filter((x) => x.what.startsWith('token '))) expect(created.join('\n')).toContain(probeOf(s.value));
    expect(secrets.length).toBeGreaterThan(8);
    for (const s of secrets) {
      for (const [where, text] of places) {
        // a secret is found whole, or by a long enough piece of it (a wrapped PEM, a truncated echo)
        if (text.includes(probeOf(s.value))) leaks.push(`${s.what} in the ${where}`);
      }
    }
    expect(leaks).toEqual([]);
  });
});
