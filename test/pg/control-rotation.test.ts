/**
 * `ca rotate` while agents run, over real mTLS on loopback with two replicas on one throwaway
 * PostgreSQL: the servers stage, promote and retire on their own as the agents catch up, every
 * agent renews from the new CA, and no agent request is ever refused along the way.
 */
import { Pool } from 'pg';
import { createCsr, generateKeys, privateKeyPem } from '../../src/control/ca';
import { controlRequest } from '../../src/control/client';
import { ensureControlSchema } from '../../src/control/open';
import { startControlServer, type ControlServer } from '../../src/control/server';
import { ControlStore } from '../../src/control/store';
import { newToken } from '../../src/control/tokens';
import { describeWithPg, startPgCluster, type PgCluster } from '../support/pg-cluster';

const SECRET = 'rotation-test-secret-of-32-characters!!';

interface SimAgent {
  name: string;
  cert: string;
  key: string;
  caId: string;
  bundle: string;
  renewals: number;
}

describeWithPg('CA rotation while agents run', () => {
  let pg: PgCluster;
  let pool: Pool;
  const servers: ControlServer[] = [];

  beforeAll(async () => {
    pg = await startPgCluster();
    pool = new Pool({ connectionString: pg.connStr, max: 10 });
    await ensureControlSchema(pool, 'microseg');
  }, 180_000);
  afterAll(async () => {
    for (const s of servers) await s.close();
    await pool?.end();
    await pg?.destroy();
  });

  it('stages, promotes and retires as the agents catch up; all renew; no request refused', async () => {
    const store = new ControlStore(pool, 'microseg', 'default');
    for (let i = 0; i < 2; i++) {
      servers.push(await startControlServer({ store: new ControlStore(pool, 'microseg', 'default'), host: '127.0.0.1', port: 0, secret: SECRET, pollMs: 100, caCheckMs: 200 }));
    }
    const { record, token } = newToken({ name: 'rot', validity: '1h' }, new Date());
    await store.addToken(record);
    const firstBundle = await store.bundle();
    const agents: SimAgent[] = [];
    for (const name of ['h1', 'h2', 'h3']) {
      const keys = await generateKeys();
      const r = await controlRequest({ url: servers[0].url, ca: firstBundle, method: 'POST', path: '/v1/register', body: { token, enforcer: name, csr: await createCsr(name, keys) } });
      expect(r.status).toBe(200);
      agents.push({ name, cert: r.body.cert as string, key: await privateKeyPem(keys.privateKey), caId: r.body.ca_id as string, bundle: r.body.bundle as string, renewals: 0 });
      await store.publish(name, { rules: [name] }, new Date());
    }
    const oldCa = agents[0].caId;

    const failures: string[] = [];
    let polls = 0;
    // One sync round of an agent: refresh the bundle, pull, report what it trusts, renew if its CA no longer signs.
    const round = async (a: SimAgent, i: number) => {
      const srv = servers[i % servers.length];
      try {
        const ca = await controlRequest({ url: srv.url, ca: a.bundle, method: 'GET', path: '/v1/ca', timeoutMs: 20_000 });
        a.bundle = ca.body.bundle as string;
        const cas = ca.body.cas as Array<{ id: string; role: string }>;
        const rs = await controlRequest({ url: srv.url, ca: a.bundle, cert: a.cert, key: a.key, method: 'GET', path: '/v1/ruleset', timeoutMs: 20_000 });
        if (rs.status !== 200) failures.push(`${a.name} ruleset ${rs.status} ${JSON.stringify(rs.body)}`);
        const rep = await controlRequest({ url: srv.url, ca: a.bundle, cert: a.cert, key: a.key, method: 'POST', path: '/v1/report', body: { status: 'applied', trusts: cas.map((c) => c.id) }, timeoutMs: 20_000 });
        if (rep.status !== 200) failures.push(`${a.name} report ${rep.status}`);
        const signing = cas.find((c) => c.role === 'signing')!.id;
        if (signing !== a.caId) {
          const keys = await generateKeys();
          const n = await controlRequest({ url: srv.url, ca: a.bundle, cert: a.cert, key: a.key, method: 'POST', path: '/v1/renew', body: { csr: await createCsr(a.name, keys) }, timeoutMs: 20_000 });
          if (n.status !== 200) failures.push(`${a.name} renew ${n.status} ${JSON.stringify(n.body)}`);
          else {
            a.cert = n.body.cert as string;
            a.key = await privateKeyPem(keys.privateKey);
            a.caId = n.body.ca_id as string;
            a.renewals++;
          }
        }
        polls++;
      } catch (e) {
        failures.push(`${a.name}: ${(e as Error).message}`);
      }
    };

    await Promise.all(agents.map((a, i) => round(a, i)));
    await store.rotate(new Date(), SECRET);
    // Bounded: at most 300 rounds per agent (the steps need a few CA checks of 200 ms each).
    let done = false;
    for (let k = 0; k < 300 && !done; k++) {
      await Promise.all(agents.map((a, i) => round(a, i + k)));
      const roles = (await store.cas()).map((c) => c.role).sort();
      done = roles.join(',') === 'retired,signing' && agents.every((a) => a.caId !== oldCa);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(failures).toEqual([]);
    expect(done).toBe(true);
    const cas = await store.cas();
    expect(cas.find((c) => c.id === oldCa)?.role).toBe('retired');
    expect(agents.map((a) => a.renewals)).toEqual([1, 1, 1]);
    // the agents' certificates, all from the new CA, keep working after the old CA is gone
    for (const a of agents) await round(a, 0);
    expect(failures).toEqual([]);
    expect(polls).toBeGreaterThan(6);
  }, 300_000);
});
