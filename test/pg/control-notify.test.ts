/**
 * Long-polls woken by LISTEN/NOTIFY on every replica, and deltas, over real mTLS on loopback with
 * two replicas on one throwaway PostgreSQL.
 *
 * The replicas' safety re-read (pollMs) is set to ten minutes and the long-polls to 50 s: a
 * long-poll that answers 200 with the new etag was woken by the publish's notification, not by a
 * re-read or its deadline (which would answer 304).
 */
import { Pool } from 'pg';
import { createCsr, generateKeys, privateKeyPem } from '../../src/control/ca';
import { controlRequest, pullRuleset, type HeldRuleset } from '../../src/control/client';
import { documentEtag } from '../../src/control/delta';
import { ensureControlSchema } from '../../src/control/open';
import { startControlServer, type ControlServer } from '../../src/control/server';
import { ControlStore } from '../../src/control/store';
import { newToken } from '../../src/control/tokens';
import { describeWithPg, startPgCluster, type PgCluster } from '../support/pg-cluster';

const SECRET = 'notify-test-secret-of-at-least-32-chars!';
const TEN_MINUTES = 600_000;

/** A ruleset-shaped document with `n` chains of 20 rules each; `policy` changes one rule of chain 3. */
function doc(n: number, policy = 'tcp/22') {
  return {
    enforcer: 'web-1',
    chains: Array.from({ length: n }, (_, c) => ({
      name: `pu-${String(c).padStart(3, '0')}`,
      rules: Array.from({ length: 20 }, (_, r) => ({ id: `r${c}-${r}`, match: { proto: 'tcp', ports: c === 3 && r === 7 ? policy : `tcp/${1000 + r}` }, verdict: 'accept' })),
    })),
  };
}

describeWithPg('long-poll wake-ups through LISTEN/NOTIFY, and deltas', () => {
  let pg: PgCluster;
  let pool: Pool;
  let store: ControlStore;
  const servers: ControlServer[] = [];
  const logs: string[] = [];
  let ca: string;
  let web: { cert: string; key: string };

  beforeAll(async () => {
    pg = await startPgCluster();
    pool = new Pool({ connectionString: pg.connStr, max: 8 });
    await ensureControlSchema(pool, 'microseg');
    store = new ControlStore(pool, 'microseg', 'default');
    for (let i = 0; i < 2; i++) {
      const p = new Pool({ connectionString: pg.connStr, max: 6 });
      p.on('error', () => undefined);
      const s = await startControlServer({ store: new ControlStore(p, 'microseg', 'default'), host: '127.0.0.1', port: 0, secret: SECRET, pollMs: TEN_MINUTES, log: (l) => logs.push(`[${i}] ${l}`) });
      servers.push({ ...s, close: async () => (await s.close(), await p.end()) });
    }
    ca = await store.bundle();
    const { record, token } = newToken({ name: 'n', validity: '1h' }, new Date());
    await store.addToken(record);
    const keys = await generateKeys();
    const r = await controlRequest({ url: servers[0].url, ca, method: 'POST', path: '/v1/register', body: { token, enforcer: 'web-1', csr: await createCsr('web-1', keys) } });
    expect(r.status).toBe(200);
    web = { cert: r.body.cert as string, key: await privateKeyPem(keys.privateKey) };
  }, 180_000);
  afterAll(async () => {
    for (const s of servers) await s.close();
    await pool?.end();
    await pg?.destroy();
  });

  const listeners = () => Number(pg.psql(`SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'LISTEN %'`).trim());
  const longPoll = (s: ControlServer, etag: string) => controlRequest({ url: s.url, ca, ...web, method: 'GET', path: '/v1/ruleset?wait=50', etag, timeoutMs: 90_000 });

  async function untilListening(n: number) {
    for (let i = 0; i < 300 && listeners() < n; i++) await new Promise((r) => setTimeout(r, 100));
    expect(listeners()).toBe(n);
  }

  it('wakes the long-polls of both replicas when their enforcer\'s ruleset is published (not on another enforcer\'s)', async () => {
    await untilListening(2);
    const e1 = await store.publish('web-1', doc(5), new Date());
    const waits = servers.map((s) => longPoll(s, e1));
    // another enforcer's publish does not answer web-1's long-polls
    await new Promise((r) => setTimeout(r, 500));
    await store.publish('db-1', { other: true }, new Date());
    await new Promise((r) => setTimeout(r, 500));
    const e2 = await store.publish('web-1', doc(5, 'tcp/2222'), new Date());
    const got = await Promise.all(waits);
    expect(got.map((g) => [g.status, g.etag])).toEqual([
      [200, e2],
      [200, e2],
    ]);
  }, 120_000);

  it('reconnects its LISTEN after the connection is killed, and a publish wakes the long-polls again', async () => {
    await untilListening(2);
    const before = await store.etag('web-1');
    pg.psql(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN %'`);
    await untilListening(2);
    expect(logs.join('\n')).toMatch(/LISTEN connection lost/);
    const waits = servers.map((s) => longPoll(s, before!));
    await new Promise((r) => setTimeout(r, 500));
    const e3 = await store.publish('web-1', doc(5, 'tcp/3333'), new Date());
    expect((await Promise.all(waits)).map((g) => [g.status, g.etag])).toEqual([
      [200, e3],
      [200, e3],
    ]);
  }, 120_000);

  it('sends a delta to an agent holding the previous document, the full document otherwise', async () => {
    const r = { url: servers[1].url, ca, ...web };
    const d1 = doc(40);
    await store.publish('web-1', d1, new Date());
    const first = await pullRuleset(r, undefined);
    expect(first).toEqual(expect.objectContaining({ status: 'changed', via: 'full', etag: documentEtag(d1) }));
    if (first.status !== 'changed') throw new Error('unreachable');
    const held: HeldRuleset = { etag: first.etag, desired: first.desired };
    expect(await pullRuleset(r, held)).toEqual(expect.objectContaining({ status: 'unchanged' }));
    // a long-poll with a delta: woken by the publish, answered with the patch
    const waiting = pullRuleset(r, held, { waitS: 50 });
    await new Promise((res) => setTimeout(res, 300));
    const d2 = doc(40, 'tcp/4444');
    await store.publish('web-1', d2, new Date());
    const delta = await waiting;
    expect(delta).toEqual(expect.objectContaining({ status: 'changed', via: 'delta', etag: documentEtag(d2) }));
    if (delta.status !== 'changed') throw new Error('unreachable');
    expect(delta.desired).toEqual(d2);
    // the patch is a small part of the document
    const full = await pullRuleset(r, undefined);
    expect(delta.bytes * 10).toBeLessThan(full.bytes);
    // the same document published again changes nothing: the delta from d1 is still served
    await store.publish('web-1', d2, new Date());
    expect(await pullRuleset(r, held)).toEqual(expect.objectContaining({ via: 'delta', etag: documentEtag(d2) }));

    // two publishes behind: no patch from there, the full document
    const d3 = doc(40, 'tcp/5555');
    await store.publish('web-1', d3, new Date());
    const behind = await pullRuleset(r, held);
    expect(behind).toEqual(expect.objectContaining({ status: 'changed', via: 'full', etag: documentEtag(d3) }));
    expect(behind.status === 'changed' && behind.deltaRefused).toBeFalsy();

    // a patch that does not produce the published document is refused and the full one pulled
    const held3: HeldRuleset = { etag: documentEtag(d3), desired: d3 };
    await store.publish('web-1', doc(40, 'tcp/6666'), new Date());
    pg.psql(`UPDATE microseg.control_rulesets SET prev_patch = '[{"op":"replace","path":"/enforcer","value":"db-1"}]' WHERE enforcer = 'web-1'`);
    const tampered = await pullRuleset(r, held3);
    expect(tampered).toEqual(expect.objectContaining({ status: 'changed', via: 'full', etag: documentEtag(doc(40, 'tcp/6666')) }));
    expect(tampered.status === 'changed' ? tampered.deltaRefused : '').toMatch(/hashes to/);
    expect(tampered.status === 'changed' ? tampered.desired : undefined).toEqual(doc(40, 'tcp/6666'));
  }, 120_000);
});
