/**
 * `microseg server --listen ADDR:PORT` as the command runs it: it opens PG_CONN_STR, creates the
 * CA on first start, serves health over mutual-TLS-capable HTTPS on loopback, and exits 0 when
 * told to stop; a malformed --listen is a coded diagnostic.
 */
import { BufferIo } from '../../src/cli/io';
import { serverCommand } from '../../src/cli/commands/server';
import { controlRequest } from '../../src/control/client';
import { describeWithPg, freePort, startPgCluster, type PgCluster } from '../support/pg-cluster';

describeWithPg('microseg server command', () => {
  let pg: PgCluster;
  const saved = { ...process.env };
  beforeAll(async () => {
    pg = await startPgCluster();
  }, 180_000);
  afterAll(async () => {
    process.env = saved;
    await pg?.destroy();
  });

  it('starts, answers /healthz and /v1/ca on its address, stops with exit 0, never printing the connection string', async () => {
    process.env = { ...saved, PG_CONN_STR: pg.connStr, MICROSEG_CA_KEY: 'server-cli-secret-of-at-least-32-chars!' };
    const port = await freePort();
    const io = new BufferIo();
    let stop!: () => void;
    const stopped = new Promise<void>((r) => (stop = r));
    const running = serverCommand(io, { listen: `127.0.0.1:${port}` }, stopped);
    try {
      let bundle: string;
      for (let i = 0; i < 300 && !io.stderr.includes('listening'); i++) await new Promise((r) => setTimeout(r, 100));
      expect(io.stderr).toContain(`listening on https://127.0.0.1:${port}`);
      // The bundle is public; fetch it once without verifying, then verify everything with it.
      const first = await import('https').then(
        (https) =>
          new Promise<string>((resolve, reject) => {
            https
              .get({ host: '127.0.0.1', port, path: '/v1/ca', rejectUnauthorized: false }, (res) => {
                let d = '';
                res.on('data', (c) => (d += c));
                res.on('end', () => resolve(d));
              })
              .on('error', reject);
          }),
      );
      bundle = (JSON.parse(first) as { bundle: string }).bundle;
      const h = await controlRequest({ url: `https://127.0.0.1:${port}`, ca: bundle, method: 'GET', path: '/healthz' });
      expect(h.status).toBe(200);
    } finally {
      stop();
    }
    expect(await running).toBe(0);
    expect(io.stdout + io.stderr).not.toContain(pg.password);
  });

  it('refuses a malformed --listen with a coded diagnostic', async () => {
    const io = new BufferIo();
    expect(await serverCommand(io, { listen: 'localhost' }, Promise.resolve())).toBe(1);
    expect(io.stderr).toContain('MSEG9837');
  });
});
