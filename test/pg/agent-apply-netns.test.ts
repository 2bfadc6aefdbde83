/**
 * One real `microseg agent` (src/agent/agent.ts, enforcing inside a network namespace host through
 * the netns transport) converging from `apply`: the configuration's enforcer_token is created by
 * apply, the agent registers with the secret file apply wrote, apply publishes the enforcer's
 * ruleset and exits 0 only once the agent reports it applied, and packets between namespaces prove
 * what the agent enforces. Removing the enforcer makes apply publish the decommission, the agent
 * leave zero owned objects, and apply revoke its certificate.
 */
import { promises as fsp } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Pool } from 'pg';
import { Agent } from '../../src/agent/agent';
import { applyCommand } from '../../src/cli/commands/apply';
import { BufferIo } from '../../src/cli/io';
import { ensureControlSchema } from '../../src/control/open';
import { startControlServer, type ControlServer } from '../../src/control/server';
import { ControlStore } from '../../src/control/store';
import { NetnsHost } from '../../src/hosts/netns';
import { providerFor } from '../../providers';
import { ADDR, NODES } from '../netns/fixtures';
import { rootSkipReason, Topology } from '../netns/harness';
import { describeWithPg, startPgCluster, type PgCluster } from '../support/pg-cluster';

const SECRET = 'agent-apply-netns-secret-32-chars-long!!';

describeWithPg(
  'apply converges a real agent in a network namespace (pg backend, mTLS, packets)',
  () => {
    let pg: PgCluster;
    let pool: Pool;
    let store: ControlStore;
    let server: ControlServer;
    let topo: Topology;
    let dir: string;
    const saved = { PG_CONN_STR: process.env.PG_CONN_STR, MICROSEG_CA_KEY: process.env.MICROSEG_CA_KEY };

    const config = (withEnforcer: boolean, port: number) =>
      [
        'microseg {',
        '  backend "pg" {}',
        '}',
        'namespace "/a" {',
        '  default_incoming_action = "reject"',
        '  default_outgoing_action = "allow"',
        '}',
        'enforcer_token "fleet" {',
        '  namespace = "/a"',
        '  roles     = ["enforcer"]',
        '  networks  = ["127.0.0.0/8"]',
        '  quota     = 1',
        '  validity  = "1h"',
        '}',
        ...(withEnforcer
          ? [
              'enforcer "srv" {',
              '  namespace = "/a"',
              '  backend   = "nftables"',
              '  connection {',
              '    type = "agent"',
              '  }',
              '}',
              'processing_unit "srv" {',
              '  namespace = "/a"',
              '  enforcer  = enforcer.srv.name',
              `  addresses = ["${ADDR.srv4}"]`,
              '  tags      = ["app=srv"]',
              '}',
              'external_network "peer" {',
              '  namespace = "/a"',
              `  entries   = ["${ADDR.peer4}/32"]`,
              '  tags      = ["app=peer"]',
              '}',
              'network_policy "peer-to-srv" {',
              '  namespace = "/a"',
              '  subject   = [["app=peer"]]',
              '  object    = [["app=srv"]]',
              `  ports     = ["tcp/${port}"]`,
              '}',
            ]
          : []),
      ].join('\n') + '\n';

    const apply = async (text: string) => {
      await fsp.writeFile(path.join(dir, 'main.hcl'), text);
      const io = new BufferIo();
      const code = await applyCommand(io, dir, { autoApprove: true, waitTimeout: '120s', tokenDir: path.join(dir, 'secrets') });
      return { code, io };
    };
    const owned = async () => {
      const live = await providerFor('nftables').read(new NetnsHost(topo.nsName('srv')));
      return live.chains.length + live.sets.length + live.hooks.filter((h) => h.present).length;
    };

    beforeAll(async () => {
      pg = await startPgCluster();
      process.env.PG_CONN_STR = pg.connStr;
      process.env.MICROSEG_CA_KEY = SECRET;
      pool = new Pool({ connectionString: pg.connStr, max: 6 });
      await ensureControlSchema(pool, 'microseg');
      store = new ControlStore(pool, 'microseg', 'default');
      server = await startControlServer({ store, host: '127.0.0.1', port: 0, secret: SECRET, pollMs: 100 });
      topo = await Topology.create('agpl', NODES);
      await topo.listen('srv', 'tcp', 8000, 4);
      await topo.listen('srv', 'tcp', 7000, 4);
      dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'mseg-agpl-'));
    }, 300_000);
    afterAll(async () => {
      await server?.close();
      await topo?.teardown();
      await pool?.end();
      await pg?.destroy();
      if (dir) await fsp.rm(dir, { recursive: true, force: true });
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }, 120_000);

    it('token from apply → agent registers → apply publishes and exits 0 once applied → packets → decommission leaves nothing and revokes', async () => {
      // 1. The token: apply writes its secret to a 0600 file, which the agent reads.
      const first = await apply(config(false, 8000));
      expect(first.code).toBe(0);
      const secrets = await fsp.readdir(path.join(dir, 'secrets'));
      expect(secrets).toHaveLength(1);
      const tokenFile = path.join(dir, 'secrets', secrets[0]);
      await fsp.writeFile(path.join(dir, 'ca.pem'), await store.bundle());

      const log: string[] = [];
      const stop = new AbortController();
      const agent = new Agent({
        server: server.url,
        caFile: path.join(dir, 'ca.pem'),
        tokenFile,
        certDir: path.join(dir, 'agent', 'identity'),
        stateDir: path.join(dir, 'agent'),
        enforcer: 'srv',
        connection: { type: 'netns', netns: topo.nsName('srv') },
        log: (l) => log.push(l),
        waitS: 2,
        requestTimeoutMs: 5000,
        backoff: { baseMs: 200, capMs: 1000 },
        driftIntervalMs: 1000,
        trustIntervalMs: 1000,
        heartbeatMs: 2000,
      });
      const running = agent.run(stop.signal);
      try {
        // Before any apply for it, the host is open.
        expect(await topo.tcpConnect('other', ADDR.srv4, 8000)).toBe('open');

        // 2. Publish and wait: exit 0 only once the agent has applied and reported.
        const second = await apply(config(true, 8000));
        expect({ code: second.code, err: second.io.stderr }).toEqual({ code: 0, err: expect.any(String) });
        expect(await topo.tcpConnect('peer', ADDR.srv4, 8000)).toBe('open');
        expect(await topo.tcpConnect('peer', ADDR.srv4, 7000)).toBe('refused');
        expect(await topo.tcpConnect('other', ADDR.srv4, 8000)).toBe('refused');

        // 3. A one-policy change reaches the host through the agent.
        const third = await apply(config(true, 7000));
        expect(third.code).toBe(0);
        expect(await topo.tcpConnect('peer', ADDR.srv4, 7000)).toBe('open');
        expect(await topo.tcpConnect('peer', ADDR.srv4, 8000)).toBe('refused');

        // 4. Decommission: the agent removes every owned object and reports clean; apply revokes.
        const fourth = await apply(config(false, 7000));
        expect({ code: fourth.code, out: fourth.io.stdout }).toEqual({ code: 0, out: expect.stringContaining('1 decommissioned') });
        expect(await owned()).toBe(0);
        expect(await topo.tcpConnect('other', ADDR.srv4, 8000)).toBe('open');
        const certs = await pool.query<{ n: string }>(`SELECT count(*) AS n FROM microseg.control_certs WHERE enforcer = 'srv' AND revoked_at IS NULL`);
        expect(certs.rows[0].n).toBe('0');
      } finally {
        stop.abort();
        await running.catch(() => undefined);
        agent.close();
      }
      expect(log.join('\n')).not.toContain((await fsp.readFile(tokenFile, 'utf8')).trim().split('_').slice(2).join('_'));
    }, 600_000);
  },
  rootSkipReason,
);
