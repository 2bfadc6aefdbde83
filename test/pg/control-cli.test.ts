/**
 * `microseg token` and `microseg ca` against a real (throwaway) PostgreSQL: the token secret is
 * printed once and nowhere else, refusals are diagnostics with codes, the connection string's
 * password never appears in output.
 */
import { main } from '../../src/cli/main';
import { BufferIo } from '../../src/cli/io';
import { describeWithPg, startPgCluster, type PgCluster } from '../support/pg-cluster';

const CA_KEY = 'cli-test-secret-of-at-least-32-characters';

describeWithPg('token and ca commands', () => {
  let pg: PgCluster;
  const saved = { ...process.env };
  beforeAll(async () => {
    pg = await startPgCluster();
  }, 180_000);
  afterAll(async () => {
    process.env = saved;
    await pg?.destroy();
  });
  async function run(args: string[], env: Record<string, string | undefined> = {}) {
    process.env = { ...saved, PG_CONN_STR: pg.connStr, MICROSEG_CA_KEY: CA_KEY, ...env };
    for (const [k, v] of Object.entries(env)) if (v === undefined) delete process.env[k];
    const io = new BufferIo();
    const code = await main(['node', 'microseg', ...args], io);
    return { code, out: io.stdout, err: io.stderr };
  }

  it('creates a token, prints it once on stdout, lists and revokes it without its secret', async () => {
    const c = await run(['token', 'create', 'ci', '--networks', '198.18.0.0/24,198.19.0.7', '--quota', '2', '--validity', '1h']);
    expect(c).toEqual(expect.objectContaining({ code: 0 }));
    expect(c.out).toMatch(/^mseg_[A-Za-z0-9-]{16}_[A-Za-z0-9_-]{43}\n$/);
    expect(c.err).toContain('quota 2, from 198.18.0.0/24, 198.19.0.7/32');
    const token = c.out.trim();
    const secret = token.split('_').slice(2).join('_');
    const l = await run(['token', 'list', '--json']);
    expect(l.code).toBe(0);
    const doc = JSON.parse(l.out) as { tokens: Array<{ name: string; quota: number; used: number }> };
    expect(doc.tokens).toEqual([expect.objectContaining({ name: 'ci', quota: 2, used: 0 })]);
    expect(l.out).not.toContain(secret);
    expect((await run(['token', 'revoke', 'ci'])).code).toBe(0);
    expect((await run(['token', 'list'])).out).toMatch(/ci {2}revoked/);
    const again = await run(['token', 'revoke', 'ci']);
    expect(again.code).toBe(1);
    expect(again.err).toContain('MSEG9818');
  });

  it('refuses bad token options with a coded diagnostic and creates nothing', async () => {
    const r = await run(['token', 'create', 'bad', '--networks', '10.0.0.0/33', '--validity', '1h']);
    expect(r.code).toBe(1);
    expect(r.err).toContain('MSEG9817');
    expect((await run(['token', 'list'])).out).not.toContain('bad');
  });

  it('creates the CA on first rotate, stages a new one on the next, promotes and retires with --advance', async () => {
    expect((await run(['ca', 'status'])).out).toContain('No CA yet');
    expect((await run(['ca', 'rotate'])).out).toContain('Created the first CA');
    const staged = await run(['ca', 'rotate']);
    expect(staged.out).toContain('staged');
    expect((await run(['ca', 'rotate'])).err).toContain('MSEG9804');
    expect((await run(['ca', 'bundle'])).out.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
    // no agent holds a certificate yet: nothing to wait for
    expect((await run(['ca', 'rotate', '--advance'])).out).toContain('now signs');
    expect((await run(['ca', 'rotate', '--advance'])).out).toContain('retired');
    const st = JSON.parse((await run(['ca', 'status', '--json'])).out) as { cas: Array<{ role: string }> };
    expect(st.cas.map((c) => c.role).sort()).toEqual(['retired', 'signing']);
    expect((await run(['ca', 'bundle'])).out.match(/BEGIN CERTIFICATE/g)).toHaveLength(1);
  });

  it('says what is missing (PG_CONN_STR, MICROSEG_CA_KEY) and never prints the password', async () => {
    const none = await run(['token', 'list'], { PG_CONN_STR: undefined });
    expect(none.code).toBe(1);
    expect(none.err).toContain('MSEG9820');
    const key = await run(['ca', 'rotate'], { MICROSEG_CA_KEY: undefined });
    expect(key.code).toBe(1);
    expect(key.err).toContain('MSEG9800');
    const wrong = pg.connStrWith({ password: 'not-the-password-4711' });
    const bad = await run(['token', 'list'], { PG_CONN_STR: wrong });
    expect(bad.code).toBe(1);
    expect(bad.err).toContain('MSEG9822');
    expect(bad.out + bad.err).not.toContain('not-the-password-4711');
    expect(bad.out + bad.err).not.toContain(pg.password);
  });
});
