/**
 * `microseg agent` against a real control plane (HTTPS + mTLS on 127.0.0.1, PostgreSQL) and a real
 * kernel: the agent enforces inside a network namespace host (the netns transport the netns suites
 * use), and packets between namespaces prove what it applied.
 *
 *   - register with a token (key generated on the host, cert dir 0700 / key 0600, token never
 *     logged), --once converges and exits 0; `agent status` exits 0; refusals exit 1 with reasons
 *   - a refused document leaves the host untouched and is reported failed (status exit 1)
 *   - the loop: a new publish converges; drift is repaired; the server stopped → rules kept,
 *     status says unreachable; server back → converges on what was published meanwhile;
 *     decommission → the host holds zero owned objects and the agent reports `clean`
 */
import { promises as fsp } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Pool } from 'pg';
import { Agent } from '../../src/agent/agent';
import { readStatus } from '../../src/agent/status';
import { agentStatusCommand } from '../../src/cli/commands/agent';
import { BufferIo } from '../../src/cli/io';
import { main } from '../../src/cli/main';
import { AGENT_DESIRED_FORMAT, type AgentDesired } from '../../src/control/desired';
import type { DesiredRuleset } from '../../src/compile/ir';
import { ensureControlSchema } from '../../src/control/open';
import { startControlServer, type ControlServer } from '../../src/control/server';
import { ControlStore } from '../../src/control/store';
import { newToken, parseToken } from '../../src/control/tokens';
import { providerFor } from '../../providers';
import { NetnsHost } from '../../src/hosts/netns';
import { ADDR, NODES, changedFixture, webFixture } from '../netns/fixtures';
import { rootSkipReason, Topology } from '../netns/harness';
import { describeWithPg, startPgCluster, type PgCluster } from '../support/pg-cluster';

const SECRET = 'agent-test-secret-of-at-least-32-chars!!';

function doc(ruleset: DesiredRuleset | undefined, serial: number): AgentDesired {
  return {
    format: AGENT_DESIRED_FORMAT,
    enforcer: 'srv',
    workspace: 'default',
    lineage: 'agent-test',
    serial,
    action: ruleset ? 'apply' : 'decommission',
    backend: 'nftables',
    ...(ruleset ? { ruleset } : {}),
    published_at: new Date().toISOString(),
  };
}

/** until polls `fn` (bounded) until it returns a truthy value. */
async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 120_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describeWithPg(
  'microseg agent (real control plane, PostgreSQL, netns host, packets)',
  () => {
    let pg: PgCluster;
    let pool: Pool;
    let store: ControlStore;
    let server: ControlServer;
    let topo: Topology;
    let dir: string;
    let caFile: string;
    const serverLog: string[] = [];
    const start = (port = 0) =>
      startControlServer({ store: new ControlStore(pool, 'microseg', 'default'), host: '127.0.0.1', port, secret: SECRET, pollMs: 100, caCheckMs: 1000, log: (l) => serverLog.push(l) });

    beforeAll(async () => {
      pg = await startPgCluster();
      pool = new Pool({ connectionString: pg.connStr, max: 8 });
      await ensureControlSchema(pool, 'microseg');
      store = new ControlStore(pool, 'microseg', 'default');
      server = await start();
      topo = await Topology.create('agent', NODES);
      await topo.listen('srv', 'tcp', 8000, 4);
      await topo.listen('srv', 'tcp', 7000, 4);
      dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'mseg-agent-'));
      caFile = path.join(dir, 'ca.pem');
      await fsp.writeFile(caFile, await store.bundle());
    }, 300_000);
    afterAll(async () => {
      await server?.close();
      await topo?.teardown();
      await pool?.end();
      await pg?.destroy();
      if (dir) await fsp.rm(dir, { recursive: true, force: true });
    }, 120_000);

    async function tokenFile(name: string, opts: { quota?: number; validity?: string; networks?: string[]; issuedAt?: Date } = {}) {
      const { record, token } = newToken({ name, validity: opts.validity ?? '1h', networks: opts.networks ?? ['127.0.0.0/8'], quota: opts.quota ?? 1 }, opts.issuedAt ?? new Date());
      await store.addToken(record);
      const file = path.join(dir, `${name}.token`);
      await fsp.writeFile(file, token + '\n', { mode: 0o600 });
      return { file, token };
    }

    function agentFor(stateDir: string, log: string[], extra: Partial<ConstructorParameters<typeof Agent>[0]> = {}) {
      return new Agent({
        server: server.url,
        caFile,
        certDir: path.join(stateDir, 'identity'),
        stateDir,
        enforcer: 'srv',
        connection: { type: 'netns', netns: topo.nsName('srv') },
        log: (l) => log.push(l),
        waitS: 2,
        requestTimeoutMs: 5000,
        backoff: { baseMs: 200, capMs: 1000 },
        driftIntervalMs: 1000,
        trustIntervalMs: 1000,
        heartbeatMs: 2000,
        ...extra,
      });
    }

    const owned = async () => {
      const live = await providerFor('nftables').read(new NetnsHost(topo.nsName('srv')));
      return live.chains.length + live.sets.length + live.hooks.filter((h) => h.present).length;
    };
    const statusExit = async (stateDir: string) => {
      const io = new BufferIo();
      const code = await agentStatusCommand(io, { stateDir, json: true });
      return { code, doc: JSON.parse(io.stdout) as { verdict: string; reasons: Array<{ code?: string; message: string }> } };
    };

    it('refuses to register with an expired token, a token for another network, or none; exits 1 with the server\'s reason', async () => {
      const stateDir = path.join(dir, 'refused');
      const expired = await tokenFile('expired', { validity: '1s', issuedAt: new Date(Date.now() - 60_000) });
      const far = await tokenFile('far', { networks: ['198.19.0.0/16'] });
      for (const [t, reason] of [
        [expired, 'expired'],
        [far, 'outside-networks'],
      ] as const) {
        const log: string[] = [];
        expect(await agentFor(stateDir, log, { tokenFile: t.file }).once()).toBe(1);
        expect(log.join('\n')).toMatch(new RegExp(`MSEG9845 registration of srv refused .*${reason}`));
        expect(log.join('\n')).not.toContain(parseToken(t.token)!.secret);
      }
      const log: string[] = [];
      expect(await agentFor(stateDir, log).once()).toBe(1);
      expect(log.join('\n')).toMatch(/MSEG9851 .*no --token-file/);
      expect((await statusExit(stateDir)).code).toBe(1);
      expect(await owned()).toBe(0);
    });

    it('registers, converges once on the published ruleset (packets prove it), and reports it', async () => {
      const stateDir = path.join(dir, 'srv');
      const { file, token } = await tokenFile('srv-token');
      const etag = await store.publish('srv', doc(webFixture(), 1), new Date());
      const log: string[] = [];
      expect(await agentFor(stateDir, log, { tokenFile: file }).once()).toBe(0);

      // the key stays on the host, private; the token appears nowhere
      expect((await fsp.stat(path.join(stateDir, 'identity'))).mode & 0o777).toBe(0o700);
      expect((await fsp.stat(path.join(stateDir, 'identity', 'key.pem'))).mode & 0o777).toBe(0o600);
      const secret = parseToken(token)!.secret;
      for (const f of await fsp.readdir(stateDir, { recursive: true })) {
        const p = path.join(stateDir, f);
        if ((await fsp.stat(p)).isFile()) expect(await fsp.readFile(p, 'utf8')).not.toContain(secret);
      }
      expect([...log, ...serverLog].join('\n')).not.toContain(secret);
      expect(log.join('\n')).toMatch(/is not read again/);

      // packets: peer may reach tcp/8000, other may not (webFixture)
      expect(await topo.tcpConnect('peer', ADDR.srv4, 8000)).toBe('open');
      expect(await topo.tcpConnect('other', ADDR.srv4, 8000)).toBe('refused');

      const rep = (await store.reports()).find((r) => r.enforcer === 'srv')!.report;
      expect(rep).toEqual(expect.objectContaining({ etag, status: 'applied', enforcer: 'srv', backend: 'nftables' }));
      expect(rep.live_fingerprint).toMatch(/^[0-9a-f]{8,}/);
      expect((await statusExit(stateDir)).code).toBe(0);

      // a second --once with the certificate only (no token) is a no-op and still converged
      const again: string[] = [];
      expect(await agentFor(stateDir, again).once()).toBe(0);
      expect(again.join('\n')).toMatch(/0 transaction\(s\)/);
    });

    it('runs as `microseg agent --once` from the command line (the same agent, flags wired)', async () => {
      const stateDir = path.join(dir, 'srv');
      const io = new BufferIo();
      const code = await main(['node', 'microseg', 'agent', '--once', '--server', server.url, '--ca-file', caFile, '--state-dir', stateDir, '--enforcer', 'srv', '--netns', topo.nsName('srv'), '--timeout', '20'], io);
      expect([code, io.stderr]).toEqual([0, expect.stringMatching(/is still the published document; the host holds it \(0 transaction\(s\)/)]);
      const status = new BufferIo();
      expect(await main(['node', 'microseg', 'agent', 'status', '--state-dir', stateDir], status)).toBe(0);
      expect(status.stdout).toMatch(/agent srv: healthy/);
      // bad flags are diagnostics, not a crash
      const bad = new BufferIo();
      expect(await main(['node', 'microseg', 'agent', '--once', '--server', 'http://x', '--state-dir', stateDir], bad)).toBe(1);
      expect(bad.stderr).toMatch(/--server must be https.*MSEG9859/);
      expect(bad.stderr).toMatch(/--ca-file FILE is required.*MSEG9859/);
    });

    it('refuses a document that is not typed data, keeps the rules, reports failed; status exits 1', async () => {
      const stateDir = path.join(dir, 'srv');
      const bad = { ...doc(webFixture(), 2), script: 'nft flush ruleset' };
      const etag = await store.publish('srv', bad, new Date());
      const log: string[] = [];
      expect(await agentFor(stateDir, log).once()).toBe(1);
      expect(log.join('\n')).toMatch(/MSEG9840 Published document refused at \$: Unrecognized key.*script/);
      expect(await topo.tcpConnect('peer', ADDR.srv4, 8000)).toBe('open');
      expect(await topo.tcpConnect('other', ADDR.srv4, 8000)).toBe('refused');
      const rep = (await store.reports()).find((r) => r.enforcer === 'srv')!.report;
      expect(rep).toEqual(expect.objectContaining({ etag, status: 'failed', error: expect.objectContaining({ code: 'MSEG9840' }) }));
      const st = await statusExit(stateDir);
      expect(st.code).toBe(1);
      expect(st.doc.reasons[0].code).toBe('MSEG9840');
    });

    it('loops: converges on publishes, repairs drift, keeps the rules while the server is gone, converges on what was published meanwhile, decommissions', async () => {
      const stateDir = path.join(dir, 'srv');
      const log: string[] = [];
      const stop = new AbortController();
      const agent = agentFor(stateDir, log);
      const running = agent.run(stop.signal);
      try {
        const status = async () => {
          const r = await readStatus(stateDir);
          return r.ok ? r.status : undefined;
        };
        // a new publish (the policy change of changedFixture: port 7000 is no longer open to the world)
        const e3 = await store.publish('srv', doc(webFixture(), 3), new Date());
        await until('etag 3 applied', async () => (await status())?.applied_etag === e3 && (await status())?.phase === 'converged');
        expect(await topo.tcpConnect('peer', ADDR.srv4, 7000)).toBe('open');
        const e4 = await store.publish('srv', doc(changedFixture(), 4), new Date());
        await until('etag 4 applied', async () => (await status())?.applied_etag === e4);
        // a one-policy change arrives as a delta against the document held, hashed to its etag
        expect(log.join('\n')).toMatch(new RegExp(`pulled etag ${e4} \\(a delta, \\d+ bytes\\)`));
        expect(await topo.tcpConnect('peer', ADDR.srv4, 7000)).toBe('refused');
        expect((await statusExit(stateDir)).code).toBe(0);

        // drift: someone flushes the PU chain; the agent repairs it and reports the drift
        await topo.mustExec('srv', ['nft', 'flush', 'chain', 'inet', 'microseg', 'mseg-pu-web-in']);
        await until('drift repaired', async () => (await store.reports()).find((r) => r.enforcer === 'srv' && (r.report.drift as unknown[]).length > 0 && r.report.repaired === true));
        expect(await topo.tcpConnect('other', ADDR.srv4, 8000)).toBe('refused');
        expect(log.join('\n')).toMatch(/drift on this host: chain-flushed chain pu-web-in/);

        // the server goes away: rules stay, the agent says it is retrying
        const port = server.port;
        await server.close();
        await until('unreachable noticed', async () => (await status())?.server_state === 'unreachable');
        expect(log.join('\n')).toMatch(/MSEG9846 .*keeping the last good rules \(etag [0-9a-f]+\) untouched; retry \d+ in/);
        expect(await topo.tcpConnect('peer', ADDR.srv4, 8000)).toBe('open');
        expect(await topo.tcpConnect('other', ADDR.srv4, 8000)).toBe('refused');
        // within the grace it is healthy; past it, an error (rules still kept)
        expect((await statusExit(stateDir)).code).toBe(0);
        const io = new BufferIo();
        expect(await agentStatusCommand(io, { stateDir, unreachableGrace: '0' }, new Date(Date.now() + 1000))).toBe(1);
        expect(io.stdout).toMatch(/server has been unreachable since .*keeps enforcing etag/);

        // published while the server was down (through the database), picked up when it is back
        const e5 = await store.publish('srv', doc(webFixture(), 5), new Date());
        await new Promise((r) => setTimeout(r, 2000));
        expect(await topo.tcpConnect('peer', ADDR.srv4, 7000)).toBe('refused');
        server = await start(port);
        await until('etag 5 applied after the outage', async () => (await status())?.applied_etag === e5);
        expect(log.join('\n')).toMatch(/reachable again/);
        expect(await topo.tcpConnect('peer', ADDR.srv4, 7000)).toBe('open');

        // CA rotation while the agent runs: it trusts the staged CA, reports it, renews from the
        // new CA once that signs, and the old CA retires; packets never stop being enforced
        const oldCa = (await status())!.cert!.ca_id;
        await store.rotate(new Date(), SECRET);
        await until(
          'the old CA retired and the agent renewed from the new one',
          async () => {
            const cas = await store.cas();
            const st = await status();
            return cas.some((c) => c.id === oldCa && c.role === 'retired') && st?.cert && st.cert.ca_id !== oldCa && cas.find((c) => c.role === 'signing')?.id === st.cert.ca_id;
          },
          180_000,
        );
        expect(log.join('\n')).toMatch(/trust bundle updated: now trusting 2 CA\(s\)/);
        expect(log.join('\n')).toMatch(/renewed the certificate \(the server signs with a new CA\)/);
        expect(await topo.tcpConnect('peer', ADDR.srv4, 8000)).toBe('open');
        expect(await topo.tcpConnect('other', ADDR.srv4, 8000)).toBe('refused');
        // still talking to the server with the renewed certificate
        const e5b = await store.publish('srv', doc(webFixture(), 55), new Date());
        await until('a publish after the rotation applied', async () => (await status())?.applied_etag === e5b);

        // decommission: everything owned goes, the agent reports clean
        const e6 = await store.publish('srv', doc(undefined, 6), new Date());
        await until('clean reported', async () => (await store.reports()).find((r) => r.enforcer === 'srv' && r.report.etag === e6 && r.report.status === 'clean'));
        expect(await owned()).toBe(0);
        expect(await topo.tcpConnect('other', ADDR.srv4, 8000)).toBe('open');
        expect((await status())?.phase).toBe('decommissioned');
        expect((await statusExit(stateDir)).code).toBe(0);
      } catch (e) {
        // the agent's log says why (it is the only witness of the loop's decisions)
        throw new Error(`${(e as Error).message}\nagent log:\n${log.join('\n')}`);
      } finally {
        stop.abort();
      }
      expect(await running).toBe(0);
    }, 600_000);

    it('renews its certificate at two thirds of its lifetime, without a gap in talking to the server', async () => {
      // A replica issuing 9 s certificates: the agent renews at ~6 s, again and again.
      const short = await startControlServer({ store: new ControlStore(pool, 'microseg', 'default'), host: '127.0.0.1', port: 0, secret: SECRET, pollMs: 100, certValidityMs: 9000, log: () => undefined });
      // the loop test rotated the CA: a new host starts from the current bundle
      const bundleFile = path.join(dir, 'ca-now.pem');
      await fsp.writeFile(bundleFile, await store.bundle());
      const stateDir = path.join(dir, 'short');
      const log: string[] = [];
      const { file } = await tokenFile('short-token');
      await store.publish('short-1', { ...doc(undefined, 1), enforcer: 'short-1' }, new Date());
      const stop = new AbortController();
      const agent = agentFor(stateDir, log, { server: short.url, caFile: bundleFile, tokenFile: file, enforcer: 'short-1', connection: { type: 'netns', netns: topo.nsName('other') } });
      const running = agent.run(stop.signal);
      try {
        const serials = new Set<string>();
        await until('two renewals', async () => {
          const r = await readStatus(stateDir);
          if (r.ok && r.status.cert) serials.add(r.status.cert.serial);
          return serials.size >= 3;
        });
        expect(log.join('\n')).toMatch(/renewed the certificate \(two thirds of its life passed\)/);
        const r = await readStatus(stateDir);
        expect(r.ok && r.status.phase).toBe('decommissioned');
        expect(r.ok && r.status.server_state).toBe('reachable');
      } catch (e) {
        throw new Error(`${(e as Error).message}\nagent log:\n${log.join('\n')}`);
      } finally {
        stop.abort();
        await running;
        await short.close();
      }
    }, 300_000);
  },
  rootSkipReason,
);
