/**
 * The reconciler against a real control plane: `apply` with the pg backend makes enforcer_token
 * resources real in the control store, and publishes to enforcers reached through their agent
 * (`connection { type = "agent" }`), waiting for them to report. The agent here is simulated by a
 * small in-test client (src/control/client.ts) holding a real mTLS certificate it obtained by
 * registering with the token apply created, against a real `startControlServer` on loopback.
 * The apply and plan commands run in-process (their exit codes are the CLI's); a `local` enforcer
 * on the in-memory firewall is applied in the same runs, so mixed configurations are covered.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Pool } from 'pg';
import { createCsr, generateKeys, privateKeyPem } from '../../src/control/ca';
import { controlRequest } from '../../src/control/client';
import { AGENT_REPORT_FORMAT, type AgentDesired } from '../../src/control/desired';
import { ensureControlSchema } from '../../src/control/open';
import { startControlServer, type ControlServer } from '../../src/control/server';
import { ControlStore } from '../../src/control/store';
import { applyCommand } from '../../src/cli/commands/apply';
import { planCommand } from '../../src/cli/commands/plan';
import { driftCommand } from '../../src/cli/commands/drift';
import { BufferIo } from '../../src/cli/io';
import { PgStateStore } from '../../src/state/pg/store';
import { providerFor } from '../../providers';
import { expectedOf } from '../../providers/common';
import { FakeFirewall } from '../../providers/fake';
import { describeWithPg, startPgCluster, type PgCluster } from '../support/pg-cluster';

const SECRET = 'agent-reconcile-test-secret-32-chars-long!';

/** SimAgent: what `microseg agent` does over the wire, minus the kernel. */
class SimAgent {
  cert = '';
  key = '';
  constructor(
    readonly url: () => string,
    readonly ca: () => string,
    readonly enforcer: string,
  ) {}

  async register(token: string): Promise<{ status: number; body: Record<string, unknown> }> {
    const keys = await generateKeys();
    const r = await controlRequest({ url: this.url(), ca: this.ca(), method: 'POST', path: '/v1/register', body: { token, enforcer: this.enforcer, csr: await createCsr(this.enforcer, keys) } });
    if (r.status === 200) {
      this.cert = r.body.cert as string;
      this.key = await privateKeyPem(keys.privateKey);
    }
    return r;
  }

  pull(etag?: string) {
    return controlRequest({ url: this.url(), ca: this.ca(), cert: this.cert, key: this.key, method: 'GET', path: '/v1/ruleset', etag });
  }

  report(etag: string, doc: AgentDesired | undefined, status: string, extra: Record<string, unknown> = {}) {
    const live = doc?.ruleset ? expectedOf(providerFor('nftables'), doc.ruleset).fingerprint : '';
    return controlRequest({
      url: this.url(),
      ca: this.ca(),
      cert: this.cert,
      key: this.key,
      method: 'POST',
      path: '/v1/report',
      body: {
        format: AGENT_REPORT_FORMAT,
        enforcer: this.enforcer,
        etag,
        lineage: doc?.lineage ?? '',
        serial: doc?.serial ?? 0,
        status,
        backend: 'nftables',
        live_fingerprint: live,
        drift: [],
        repaired: false,
        agent_version: 'sim',
        at: new Date().toISOString(),
        ...extra,
      },
    });
  }

  /** converge: wait for a publication other than `known`, then report it as `decide` says. */
  async converge(known: string | undefined, decide: (doc: AgentDesired) => { status: string; extra?: Record<string, unknown> }, timeoutMs = 60_000): Promise<{ etag: string; doc: AgentDesired }> {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      const r = await this.pull(known);
      if (r.status === 200 && r.etag && r.etag !== known) {
        const doc = r.body.desired as AgentDesired;
        const d = decide(doc);
        await this.report(r.etag, doc, d.status, d.extra);
        return { etag: r.etag, doc };
      }
      await new Promise((res) => setTimeout(res, 100));
    }
    throw new Error(`${this.enforcer}: nothing new was published within ${timeoutMs} ms`);
  }
}

describeWithPg('apply with agent enforcers and enforcer tokens (pg backend, real mTLS server)', () => {
  let pg: PgCluster;
  let pool: Pool;
  let server: ControlServer;
  let store: ControlStore;
  let ca: string;
  let dir: string;
  let tokenDir: string;
  const fake = new FakeFirewall();
  const savedEnv = { PG_CONN_STR: process.env.PG_CONN_STR, MICROSEG_CA_KEY: process.env.MICROSEG_CA_KEY };

  const config = (opts: { agents: string[]; policyPort: string; token?: { networks: string[]; quota: number } }) =>
    [
      'microseg {',
      '  backend "pg" {}',
      '}',
      'namespace "/t" {}',
      'enforcer "l1" {',
      '  namespace = "/t"',
      '  backend   = "nftables"',
      '  connection { type = "local" }',
      '}',
      'processing_unit "l1" {',
      '  namespace = "/t"',
      '  enforcer  = enforcer.l1.name',
      '  addresses = ["198.18.7.1"]',
      '  tags      = ["app=local"]',
      '}',
      ...opts.agents.flatMap((a, i) => [
        `enforcer "${a}" {`,
        '  namespace = "/t"',
        '  connection {',
        '    type = "agent"',
        '  }',
        '}',
        `processing_unit "${a}" {`,
        '  namespace = "/t"',
        `  enforcer  = enforcer.${a}.name`,
        `  addresses = ["198.18.7.${10 + i}"]`,
        '  tags      = ["app=agent"]',
        '}',
      ]),
      'network_policy "to-agents" {',
      '  namespace = "/t"',
      '  subject   = [["app=local"]]',
      '  object    = [["app=agent"]]',
      `  ports     = ["${opts.policyPort}"]`,
      '}',
      ...(opts.token
        ? [
            'enforcer_token "fleet" {',
            '  namespace = "/t"',
            '  roles     = ["enforcer"]',
            `  networks  = [${opts.token.networks.map((n) => JSON.stringify(n)).join(', ')}]`,
            `  quota     = ${opts.token.quota}`,
            '  validity  = "2h"',
            '}',
          ]
        : []),
    ].join('\n') + '\n';

  const write = (text: string) => fs.writeFileSync(path.join(dir, 'main.hcl'), text);
  const apply = async (wait = '60s') => {
    const io = new BufferIo();
    const code = await applyCommand(io, dir, { autoApprove: true, waitTimeout: wait, tokenDir }, undefined, { connect: fake.connect });
    return { code, io };
  };
  const agent = (name: string) =>
    new SimAgent(
      () => server.url,
      () => ca,
      name,
    );
  const tokenFiles = () => (fs.existsSync(tokenDir) ? fs.readdirSync(tokenDir).map((f) => path.join(tokenDir, f)) : []);
  const state = async () => {
    const s = new PgStateStore({ connStr: pg.connStr, schema: 'microseg', workspace: 'default' });
    try {
      return await s.load();
    } finally {
      await s.close();
    }
  };

  beforeAll(async () => {
    pg = await startPgCluster();
    process.env.PG_CONN_STR = pg.connStr;
    process.env.MICROSEG_CA_KEY = SECRET;
    pool = new Pool({ connectionString: pg.connStr, max: 6 });
    await ensureControlSchema(pool, 'microseg');
    store = new ControlStore(pool, 'microseg', 'default');
    server = await startControlServer({ store, host: '127.0.0.1', port: 0, secret: SECRET, pollMs: 100 });
    ca = await store.bundle();
    fake.addHost('local', { detect: 'nftables', addresses: ['198.18.7.1'] });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mseg-agentplane-'));
    tokenDir = path.join(dir, 'secrets');
  }, 180_000);
  afterAll(async () => {
    await server?.close();
    await pool?.end();
    await pg?.destroy();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
    for (const [k, v] of Object.entries(savedEnv)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  const a1 = agent('a1');
  const a2 = agent('a2');
  let a1Etag: string | undefined;
  let tokenText = '';
  let tokenId = '';

  it('creates the token on apply, writes its secret only to a 0600 file, and an agent registers with it', async () => {
    write(config({ agents: [], policyPort: 'tcp/80', token: { networks: ['127.0.0.0/8'], quota: 2 } }));
    const planIo = new BufferIo();
    expect(await planCommand(planIo, dir, { json: true }, { connect: fake.connect })).toBe(0);
    const plan = JSON.parse(planIo.stdout);
    expect(plan.tokens).toEqual([expect.objectContaining({ address: 'enforcer_token.fleet', action: 'create' })]);

    const { code, io } = await apply();
    expect({ code, err: io.stderr }).toEqual({ code: 0, err: expect.any(String) });
    const files = tokenFiles();
    expect(files).toHaveLength(1);
    expect(fs.statSync(files[0]).mode & 0o777).toBe(0o600);
    tokenText = fs.readFileSync(files[0], 'utf8').trim();
    tokenId = /^mseg_([A-Za-z0-9-]{16})_/.exec(tokenText)![1];
    expect(io.stdout).toContain(files[0]);
    // The secret is in the file and nowhere else: not in output, state or the plan.
    const secret = tokenText.split('_').slice(2).join('_');
    expect(io.stdout + io.stderr + planIo.stdout).not.toContain(secret);
    expect(JSON.stringify(await state())).not.toContain(secret);
    const rows = await pool.query<{ t: string }>(`SELECT string_agg(record::text, '') AS t FROM microseg.control_tokens`);
    expect(rows.rows[0].t).not.toContain(secret);

    // A second apply changes nothing and makes no second token.
    const again = await apply();
    expect(again.code).toBe(0);
    expect(tokenFiles()).toHaveLength(1);

    expect((await a1.register(tokenText)).status).toBe(200);
  }, 120_000);

  it('publishes to the agent enforcer and exits 0 once it reports the new etag applied (mixed with a local host)', async () => {
    write(config({ agents: ['a1'], policyPort: 'tcp/80', token: { networks: ['127.0.0.0/8'], quota: 2 } }));
    const planIo = new BufferIo();
    expect(await planCommand(planIo, dir, {}, { connect: fake.connect })).toBe(0);
    expect(planIo.stdout).toMatch(/enforcer a1 .*will be published to its agent/);
    expect(planIo.stdout).toContain('agent: has never reported');

    const running = apply();
    const got = await a1.converge(undefined, () => ({ status: 'applied' }));
    const { code, io } = await running;
    expect({ code, out: io.stdout }).toEqual({ code: 0, out: expect.stringContaining('Apply complete') });
    a1Etag = got.etag;
    expect(got.doc).toEqual(expect.objectContaining({ enforcer: 'a1', action: 'apply', workspace: 'default' }));
    expect(got.doc.ruleset?.enforcer).toBe('a1');
    const s = await state();
    expect(s?.hosts.a1).toEqual(expect.objectContaining({ status: 'applied', connection: { type: 'agent' }, published: expect.objectContaining({ etag: got.etag }) }));
    expect(s?.hosts.l1?.status).toBe('applied');
    expect(fake.host('local').owned().length).toBeGreaterThan(0);

    // plan now shows what the agent reported, and no change
    const after = new BufferIo();
    expect(await planCommand(after, dir, { json: true, detailedExitcode: true }, { connect: fake.connect })).toBe(0);
    const host = JSON.parse(after.stdout).hosts.find((h: { enforcer: string }) => h.enforcer === 'a1');
    expect(host).toEqual(expect.objectContaining({ action: 'noop', agent: expect.objectContaining({ converged: true, published_etag: got.etag, report: expect.objectContaining({ status: 'applied' }) }) }));
  }, 120_000);

  it('a policy change shows as a rule change against the last published ruleset; the agent not answering in time fails the run, naming it', async () => {
    write(config({ agents: ['a1'], policyPort: 'tcp/81', token: { networks: ['127.0.0.0/8'], quota: 2 } }));
    const planIo = new BufferIo();
    expect(await planCommand(planIo, dir, { json: true }, { connect: fake.connect })).toBe(0);
    const host = JSON.parse(planIo.stdout).hosts.find((h: { enforcer: string }) => h.enforcer === 'a1');
    expect(host.action).toBe('update');
    expect(host.chains.some((c: { rules_added: string[]; rules_removed: string[] }) => c.rules_added.length > 0 && c.rules_removed.length > 0)).toBe(true);

    const { code, io } = await apply('2s');
    expect(code).toBe(1);
    expect(io.stderr).toContain('MSEG9874');
    expect(io.stderr).toContain('"a1"');
    const s = await state();
    expect(s?.hosts.a1.status).toBe('published');
    expect(s?.hosts.a1.published?.etag).not.toBe(a1Etag);
    // drift and plan keep saying it has not converged
    const p = new BufferIo();
    await planCommand(p, dir, {}, { connect: fake.connect });
    expect(p.stdout).toContain('not converged');
    a1Etag = s?.hosts.a1.published?.etag;
  }, 120_000);

  it('a failed report fails the run with the agent\'s error', async () => {
    const running = apply();
    await a1.converge(a1Etag, () => ({ status: 'failed', extra: { error: { code: 'MSEG9850', message: 'nft: Could not process rule: No such file or directory' } } }));
    const { code, io } = await running;
    expect(code).toBe(1);
    expect(io.stderr).toContain('MSEG9873');
    expect(io.stderr).toContain('nft: Could not process rule');
    expect((await state())?.hosts.a1).toEqual(expect.objectContaining({ status: 'failed', last_error: expect.stringContaining('MSEG9850') }));
    // drift reports what the agent reports
    const d = new BufferIo();
    expect(await driftCommand(d, dir, { json: true }, { connect: fake.connect })).toBe(0);
  }, 120_000);

  it('reports drift the agent found; the next apply converges', async () => {
    const cur = await store.ruleset('a1');
    await a1.report(cur!.etag, cur!.desired as AgentDesired, 'applied', { drift: [{ object: 'chain pu-x', kind: 'chain-flushed' }], repaired: false });
    const d = new BufferIo();
    expect(await driftCommand(d, dir, {}, { connect: fake.connect })).toBe(2);
    expect(d.stdout).toContain('chain pu-x');
    const running = apply();
    await a1.converge(cur!.etag, () => ({ status: 'applied' }));
    expect((await running).code).toBe(0);
  }, 120_000);

  it('token changes are updates in place; registration follows the new terms', async () => {
    write(config({ agents: ['a1'], policyPort: 'tcp/81', token: { networks: ['198.18.0.0/15'], quota: 2 } }));
    const planIo = new BufferIo();
    await planCommand(planIo, dir, { json: true }, { connect: fake.connect });
    expect(JSON.parse(planIo.stdout).tokens).toEqual([expect.objectContaining({ action: 'update', id: tokenId, changed: ['networks'] })]);
    const { code } = await apply();
    expect(code).toBe(0);
    expect(tokenFiles()).toHaveLength(1);
    const r = await a2.register(tokenText);
    expect([r.status, r.body.reason]).toEqual([403, 'outside-networks']);
  }, 120_000);

  it('removing the agent enforcer publishes decommission, waits for clean, revokes its certificate and drops it', async () => {
    write(config({ agents: [], policyPort: 'tcp/81', token: { networks: ['198.18.0.0/15'], quota: 2 } }));
    const known = (await store.ruleset('a1'))!.etag;
    const running = apply();
    const got = await a1.converge(known, (doc) => ({ status: doc.action === 'decommission' ? 'clean' : 'failed' }));
    expect(got.doc.action).toBe('decommission');
    const { code, io } = await running;
    expect({ code, out: io.stdout }).toEqual({ code: 0, out: expect.stringContaining('1 decommissioned') });
    expect((await state())?.hosts.a1).toBeUndefined();
    const refused = await a1.pull();
    expect([refused.status, refused.body.code]).toEqual([401, 'MSEG9832']);
  }, 120_000);

  it('removing the token block revokes it; registration with it is refused', async () => {
    write(config({ agents: [], policyPort: 'tcp/81' }));
    const { code, io } = await apply();
    expect(code).toBe(0);
    expect(io.stdout).toContain(`token ${tokenId} revoked`);
    const r = await agent('a3').register(tokenText);
    expect([r.status, r.body.reason]).toEqual([403, 'revoked']);
  }, 120_000);
});
