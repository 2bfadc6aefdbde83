/**
 * The throwaway PostgreSQL harness itself: a cluster starts, answers over TCP with its password
 * and refuses a wrong one, survives a restart with its data, and leaves nothing behind.
 */
import * as fs from 'fs';
import { Client } from 'pg';
import { describeWithPg, startPgCluster, type PgCluster } from '../support/pg-cluster';

describeWithPg('throwaway PostgreSQL cluster', () => {
  let pg: PgCluster;
  beforeAll(async () => {
    pg = await startPgCluster();
  }, 180_000);
  afterAll(async () => {
    await pg?.destroy();
  });

  it('accepts the password over TCP, keeps data across a restart, refuses a wrong password', async () => {
    const c = new Client({ connectionString: pg.connStr });
    await c.connect();
    await c.query('CREATE TABLE t (x int)');
    await c.query('INSERT INTO t VALUES (42)');
    await c.end();
    await pg.restart();
    const c2 = new Client({ connectionString: pg.connStr });
    await c2.connect();
    expect((await c2.query('SELECT x FROM t')).rows).toEqual([{ x: 42 }]);
    await c2.end();
    expect(pg.psql('SELECT count(*) FROM t').trim()).toBe('1');
    const bad = new Client({ connectionString: pg.connStrWith({ password: 'wrong' }) });
    await expect(bad.connect()).rejects.toThrow(/password authentication failed/);
  }, 180_000);

  it('two clusters are independent and destroy removes the directory', async () => {
    const other = await startPgCluster();
    try {
      expect(other.port).not.toBe(pg.port);
      expect(other.dir).not.toBe(pg.dir);
    } finally {
      await other.destroy();
    }
    expect(fs.existsSync(other.dir)).toBe(false);
  }, 180_000);
});
