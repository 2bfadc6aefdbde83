/**
 * The sandbox on a real kernel: `sandbox up` builds the quickstart's hosts as network namespaces
 * (PUs reach each other and every listener answers before any policy), up and down are idempotent
 * (also after a crash that lost the record), a namespace that is not ours is never touched, and,
 * after `apply`, every quickstart expectation sent as real packets agrees with the offline trace,
 * on nftables and on iptables-nft.
 *
 * The quickstart is copied to a temp directory with its enforcer namespaces renamed
 * `mst<pid>-q-*` and the sandbox's own namespaces prefixed `mst<pid>-sbx`, so concurrent test
 * files and a running `npm run demo` never collide. Everything is removed in afterAll, and by a
 * synchronous exit hook if jest kills the worker first.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadAndValidate } from '../../src/cli/commands/common';
import { BufferIo } from '../../src/cli/io';
import { main } from '../../src/cli/main';
import { compile } from '../../src/compile';
import { runProcess } from '../../src/hosts/exec';
import {
  listNetns,
  planSandbox,
  readRecord,
  recordPath,
  runLiveTests,
  sandboxDown,
  sandboxUp,
  type LiveReport,
  type SandboxPlan,
} from '../../src/sandbox';
import { deleteNetnsOnExit, describeAsRoot } from './harness';

const QUICKSTART = path.resolve(__dirname, '../../examples/quickstart');
const NS = `mst${process.pid}-q`;
const PREFIX = `mst${process.pid}-sbx`;
const ENFORCER_NS = ['api-1', 'db-1', 'web-1'].map((e) => `${NS}-${e}`);
const ALL_NS = [...ENFORCER_NS, `${PREFIX}-ext`, `${PREFIX}-br`];
const V6NS = `mst${process.pid}-v6`;
const V6PREFIX = `mst${process.pid}-sb6`;
const V6_ALL_NS = [`${V6NS}-h1`, `${V6NS}-h2`, `${V6PREFIX}-ext`, `${V6PREFIX}-br`];

// Last resort if afterAll does not run: kill what runs in our namespaces and delete them.
deleteNetnsOnExit([...ALL_NS, ...V6_ALL_NS]);

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = new BufferIo();
  const code = await main(['node', 'microseg', ...args], io);
  return { code, out: io.stdout, err: io.stderr };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** rootNetwork: the root namespace's links and routes, which the sandbox must never change. */
async function rootNetwork(): Promise<string> {
  const parts = await Promise.all([
    runProcess(['ip', '-o', 'link', 'show']),
    runProcess(['ip', '-4', 'route', 'show', 'table', 'all']),
    runProcess(['ip', '-6', 'route', 'show', 'table', 'all']),
    runProcess(['ip', '-o', 'addr', 'show']),
  ]);
  return parts.map((p) => p.stdout).join('\n---\n');
}

describeAsRoot('sandbox on a real kernel', () => {
  let dir: string;
  let plan: SandboxPlan;

  async function loaded() {
    const { model, diagnostics } = await loadAndValidate(dir, {});
    if (!model) throw new Error(`invalid copy: ${JSON.stringify(diagnostics)}`);
    return { model, compiled: compile(model, { now: new Date() }) };
  }

  async function live(): Promise<LiveReport> {
    const { model, compiled } = await loaded();
    const record = await readRecord(dir);
    if (!record) throw new Error('no sandbox record');
    return runLiveTests(model, compiled.rulesets, record);
  }

  /** expectAgreement: every expectation was checked live (except ICMP non-echo) and agrees with the offline trace. */
  function expectAgreement(report: LiveReport): void {
    const rows = report.results.map((r) => [r.name, r.offline, r.live, r.outcome, r.checkable ? (r.agree ? 'agree' : 'DISAGREE') : 'skip']);
    expect(report.bugs).toEqual([]);
    for (const r of report.results) {
      if (r.checkable) expect([r.name, r.live]).toEqual([r.name, r.offline]);
      expect([r.name, r.pass]).toEqual([r.name, true]);
    }
    // Only the echo-reply expectation cannot be sent as a new connection.
    expect(report.results.filter((r) => !r.checkable).map((r) => r.name)).toEqual(['no-unsolicited-echo-reply']);
    expect(rows.length).toBe(13);
    expect(report.pass).toBe(true);
  }

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mseg-sbx-netns-'));
    // The quickstart logs, so apply starts a flow-log collector in each enforcer namespace: its
    // files go under this run's directory, not the machine's /var/lib/microseg/flows.
    process.env.MICROSEG_COLLECTOR_DIR = path.join(dir, '.collector');
    for (const f of fs.readdirSync(QUICKSTART)) {
      if (!f.endsWith('.hcl')) continue;
      const text = fs.readFileSync(path.join(QUICKSTART, f), 'utf8').replace(/netns = "mseg-/g, `netns = "${NS}-`);
      fs.writeFileSync(path.join(dir, f), text);
    }
    const { model } = await loaded();
    const planned = planSandbox(model, { prefix: PREFIX });
    if (!planned.plan) throw new Error(JSON.stringify(planned.diagnostics));
    plan = planned.plan;
  });

  afterAll(async () => {
    await sandboxDown(dir, { prefix: PREFIX, configNamespaces: ENFORCER_NS }).catch(() => undefined);
    for (const ns of ALL_NS) await runProcess(['ip', 'netns', 'del', ns]).catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
    delete process.env.MICROSEG_COLLECTOR_DIR;
  });

  it('refuses to build over a namespace it did not create, and leaves that namespace alone', async () => {
    await runProcess(['ip', 'netns', 'add', ENFORCER_NS[2]]);
    try {
      await expect(sandboxUp(dir, plan)).rejects.toMatchObject({ diagnostics: [expect.objectContaining({ code: 'MSEG9511', summary: expect.stringContaining(`${ENFORCER_NS[2]}: it was not created by microseg sandbox`) })] });
      expect((await listNetns()).has(ENFORCER_NS[2])).toBe(true);
      // Nothing of ours is left behind by the refused build.
      const present = await listNetns();
      expect(ALL_NS.filter((n) => n !== ENFORCER_NS[2] && present.has(n))).toEqual([]);
      const down = await sandboxDown(dir, { prefix: PREFIX, configNamespaces: ENFORCER_NS });
      expect(down.kept).toEqual([{ netns: ENFORCER_NS[2], reason: 'it was not created by microseg sandbox' }]);
      expect((await listNetns()).has(ENFORCER_NS[2])).toBe(true);
    } finally {
      await runProcess(['ip', 'netns', 'del', ENFORCER_NS[2]]);
    }
  });

  it('up builds every namespace without touching the root namespace; up again changes nothing', async () => {
    const before = await rootNetwork();
    const first = await sandboxUp(dir, plan);
    expect(first.status).toBe('created');
    expect(first.record.status).toBe('up');
    const present = await listNetns();
    expect(ALL_NS.filter((n) => !present.has(n))).toEqual([]);
    expect(first.record.listeners).toHaveLength(40);
    expect(first.record.listeners.every((l) => l.pid !== undefined && alive(l.pid))).toBe(true);
    expect(await rootNetwork()).toBe(before);

    const second = await sandboxUp(dir, plan);
    expect(second.status).toBe('unchanged');
    expect(second.record.listeners.map((l) => l.pid)).toEqual(first.record.listeners.map((l) => l.pid));

    // status: up and healthy (exit 0).
    const up = await cli('sandbox', 'status', '--json', dir);
    expect(up.code).toBe(0);
    expect(JSON.parse(up.out)).toMatchObject({ status: 'up', problems: [] });
    expect((await cli('sandbox', 'status', dir)).out).toContain('is up and healthy');
  });

  it('without policies every PU reaches every other and every external stand-in, and the listeners answer', async () => {
    const report = await live();
    const checked = report.results.filter((r) => r.checkable);
    expect(checked).toHaveLength(12);
    for (const r of checked) {
      expect([r.name, r.live]).toEqual([r.name, 'allow']);
      if (r.outcome === 'connected' || r.outcome === 'answered') {
        // The banner names the destination and the port: the packet reached the intended listener.
        expect([r.name, r.detail]).toEqual([r.name, expect.stringMatching(new RegExp(`^microseg-sandbox \\S+ ${r.port}$`))]);
      }
    }
    // The rules are not applied, so the disagreements are reported, and blamed on the hosts.
    expect(report.hosts.every((h) => h.in_sync === false)).toBe(true);
    expect(report.bugs.length).toBeGreaterThan(0);
    expect(report.bugs.every((b) => /does not hold the compiled rules/.test(b))).toBe(true);
  });

  it('after apply on nftables, every expectation sent live agrees with the offline trace', async () => {
    const applied = await cli('apply', '--auto-approve', dir);
    expect([applied.code, applied.err]).toEqual([0, expect.any(String)]);
    const report = await live();
    expect(report.hosts.map((h) => [h.enforcer, h.in_sync, h.backend])).toEqual([
      ['api-1', true, 'nftables'],
      ['db-1', true, 'nftables'],
      ['web-1', true, 'nftables'],
    ]);
    expectAgreement(report);
    // The CLI says the same, as JSON, with exit 0.
    const r = await cli('test', '--live', '--json', dir);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ pass: true, agree: true, checked: 12, not_checkable: 1, failed: 0, bugs: [] });
  });

  it('after destroy and apply on iptables-nft, every expectation sent live agrees with the offline trace', async () => {
    expect((await cli('destroy', '--auto-approve', dir)).code).toBe(0);
    const hosts = path.join(dir, 'hosts.hcl');
    fs.writeFileSync(hosts, fs.readFileSync(hosts, 'utf8').replace(/^(enforcer "[^"]+" \{\n)/gm, '$1  backend   = "iptables-nft"\n'));
    const applied = await cli('apply', '--auto-approve', dir);
    expect(applied.code).toBe(0);
    // Really iptables: MSEG- chains and microseg comments in iptables-nft, no nft table of ours.
    const save = await runProcess(['ip', 'netns', 'exec', ENFORCER_NS[2], 'iptables-nft-save', '-t', 'filter']);
    expect(save.stdout).toMatch(/^:MSEG-/m);
    const nft = await runProcess(['ip', 'netns', 'exec', ENFORCER_NS[2], 'nft', 'list', 'table', 'inet', 'microseg']);
    expect(nft.code).not.toBe(0);
    const report = await live();
    expect(report.hosts.map((h) => [h.enforcer, h.in_sync, h.backend])).toEqual([
      ['api-1', true, 'iptables-nft'],
      ['db-1', true, 'iptables-nft'],
      ['web-1', true, 'iptables-nft'],
    ]);
    expectAgreement(report);
  });

  it('status names a dead listener; down removes everything, and down again finds nothing', async () => {
    const record = (await readRecord(dir))!;
    const pids = record.listeners.map((l) => l.pid!);
    // status: unhealthy once a listener dies (exit 2, naming it); the live tests are done by now.
    const victim = record.listeners[0];
    process.kill(victim.pid!, 'SIGKILL');
    for (let i = 0; i < 100 && alive(victim.pid!); i++) await new Promise((r) => setTimeout(r, 20));
    const sick = await cli('sandbox', 'status', '--json', dir);
    expect(sick.code).toBe(2);
    expect(JSON.parse(sick.out)).toMatchObject({ status: 'unhealthy', problems: [`listener ${victim.protocol}/${victim.port} on ${victim.address} (${victim.netns}) is not running`] });
    expect((await cli('sandbox', 'status', dir)).out).toContain('is unhealthy');

    // The iptables-nft apply before logs (the quickstart does): collectors ran in the enforcers.
    const collectorRoot = path.join(dir, '.collector');
    expect(fs.readdirSync(collectorRoot).length).toBeGreaterThan(0);
    const first = await sandboxDown(dir, { prefix: PREFIX });
    expect(first.hadRecord).toBe(true);
    // Their files go with the sandbox.
    expect(fs.existsSync(collectorRoot)).toBe(false);
    expect([...first.removed].sort()).toEqual([...ALL_NS].sort());
    expect(fs.existsSync(recordPath(dir))).toBe(false);
    const present = await listNetns();
    expect(ALL_NS.filter((n) => present.has(n))).toEqual([]);
    expect(pids.filter(alive)).toEqual([]);
    const second = await sandboxDown(dir, { prefix: PREFIX });
    expect(second).toEqual({ hadRecord: false, removed: [], kept: [], killed: 0 });
    const absent = await cli('sandbox', 'status', dir);
    expect(absent.code).toBe(2);
    expect(absent.out).toContain('No sandbox for');
  });

  it('down after a crash that lost the record still removes exactly the sandbox, by name and marker', async () => {
    const up = await sandboxUp(dir, plan);
    expect(up.status).toBe('created');
    const pids = up.record.listeners.map((l) => l.pid!);
    fs.unlinkSync(recordPath(dir)); // the crash
    const down = await sandboxDown(dir, { prefix: PREFIX, configNamespaces: ENFORCER_NS });
    expect(down.hadRecord).toBe(false);
    expect([...down.removed].sort()).toEqual([...ALL_NS].sort());
    expect(down.killed).toBeGreaterThanOrEqual(40);
    await new Promise((r) => setTimeout(r, 100));
    expect(pids.filter(alive)).toEqual([]);
    const present = await listNetns();
    expect(ALL_NS.filter((n) => present.has(n))).toEqual([]);
  });

  it('up after a crash mid-build (record says creating) cleans the leftovers and rebuilds', async () => {
    const up = await sandboxUp(dir, plan);
    const rec = (await readRecord(dir))!;
    fs.writeFileSync(recordPath(dir), JSON.stringify({ ...rec, status: 'creating' }));
    const again = await sandboxUp(dir, plan);
    expect(again.status).toBe('recreated');
    expect(again.reasons.join('; ')).toMatch(/did not finish/);
    expect(up.record.listeners.map((l) => l.pid!).filter(alive)).toEqual([]);
    expect((await sandboxDown(dir, { prefix: PREFIX })).removed).toHaveLength(5);
  });

  it('refuses a sandbox of another directory by name, and down of a deleted directory still finds it by marker', async () => {
    const other = fs.mkdtempSync(path.join(os.tmpdir(), 'mseg-sbx-other-'));
    try {
      for (const f of fs.readdirSync(dir)) if (f.endsWith('.hcl')) fs.copyFileSync(path.join(dir, f), path.join(other, f));
      await sandboxUp(other, plan);
      await expect(sandboxUp(dir, plan)).rejects.toMatchObject({
        diagnostics: [
          expect.objectContaining({
            code: 'MSEG9511',
            summary: expect.stringContaining(`it belongs to the sandbox of ${other} (remove it with \`microseg sandbox down ${other}\`)`),
          }),
        ],
      });
      fs.rmSync(other, { recursive: true, force: true }); // record and configuration gone
      const down = await sandboxDown(other, { prefix: PREFIX });
      expect(down.hadRecord).toBe(false);
      expect([...down.removed].sort()).toEqual([...ALL_NS].sort());
    } finally {
      await sandboxDown(other, { prefix: PREFIX }).catch(() => undefined);
      fs.rmSync(other, { recursive: true, force: true });
    }
  });
});

/** IPv6 end to end (NDP over the bridge, /48 on-link, ICMPv6 echo), and an external network as the source. */
const V6_CONFIG = `namespace "/t" {
  default_incoming_action = "reject"
  default_outgoing_action = "reject"
}
enforcer "h1" {
  namespace = "/t"
  connection {
    type  = "netns"
    netns = "${V6NS}-h1"
  }
}
enforcer "h2" {
  namespace = "/t"
  connection {
    type  = "netns"
    netns = "${V6NS}-h2"
  }
}
processing_unit "a" {
  namespace = "/t"
  enforcer  = "h1"
  addresses = ["2001:2::a"]
  tags      = ["app=a"]
}
processing_unit "b" {
  namespace = "/t"
  enforcer  = "h2"
  addresses = ["2001:2::b", "198.18.2.2"]
  tags      = ["app=b"]
}
external_network "world" {
  namespace = "/t"
  entries = ["::/0", "!2001:2::/48"]
}
network_policy "a-b" {
  namespace = "/t"
  subject = "app=a"
  object = "app=b"
  ports = ["tcp/80", "icmp6/128/0", "udp/53"]
}
network_policy "a-world" {
  namespace = "/t"
  subject = "app=a"
  object = "$name=world"
  ports = ["tcp/443"]
  apply_policy_mode = "outgoing"
}
expect "a-b-80" {
  from = "a"
  to = "b"
  port = "tcp/80"
  verdict = "allow"
}
expect "a-b-81" {
  from = "a"
  to = "b"
  port = "tcp/81"
  verdict = "reject"
}
expect "a-b-ping" {
  from = "a"
  to = "b"
  port = "icmp6/128/0"
  verdict = "allow"
}
expect "b-a-ping" {
  from = "b"
  to = "a"
  port = "icmp6/128/0"
  verdict = "reject"
}
expect "a-b-dns" {
  from = "a"
  to = "b"
  port = "udp/53"
  verdict = "allow"
}
expect "b-a-dns" {
  from = "b"
  to = "a"
  port = "udp/53"
  verdict = "reject"
}
expect "a-world" {
  from = "a"
  to = "world"
  port = "tcp/443"
  verdict = "allow"
}
expect "a-world-80" {
  from = "a"
  to = "world"
  port = "tcp/80"
  verdict = "reject"
}
expect "world-a" {
  from = "world"
  to = "a"
  port = "tcp/443"
  verdict = "reject"
}
`;

describeAsRoot('sandbox on a real kernel: IPv6 and an external source', () => {
  let dir: string;

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mseg-sbx-v6-'));
    fs.writeFileSync(path.join(dir, 'main.hcl'), V6_CONFIG);
  });

  afterAll(async () => {
    await sandboxDown(dir, { prefix: V6PREFIX, configNamespaces: V6_ALL_NS.slice(0, 2) }).catch(() => undefined);
    for (const ns of V6_ALL_NS) await runProcess(['ip', 'netns', 'del', ns]).catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('agrees with the offline trace on every expectation after apply (nftables)', async () => {
    const { model, diagnostics } = await loadAndValidate(dir, {});
    if (!model) throw new Error(JSON.stringify(diagnostics));
    const planned = planSandbox(model, { prefix: V6PREFIX });
    expect(planned.plan!.external!.addresses.map((a) => a.address)).toEqual(['2001:db8::1']);
    await sandboxUp(dir, planned.plan!);
    expect((await cli('apply', '--auto-approve', dir)).code).toBe(0);
    const record = (await readRecord(dir))!;
    const report = await runLiveTests(model, compile(model, { now: new Date() }).rulesets, record);
    expect(report.bugs).toEqual([]);
    expect(report.results.map((r) => [r.name, r.packet?.family, r.checkable, r.live, r.offline, r.pass])).toEqual([
      ['a-b-80', 6, true, 'allow', 'allow', true],
      ['a-b-81', 6, true, 'reject', 'reject', true],
      ['a-b-dns', 6, true, 'allow', 'allow', true],
      ['a-b-ping', 6, true, 'allow', 'allow', true],
      ['a-world', 6, true, 'allow', 'allow', true],
      ['a-world-80', 6, true, 'reject', 'reject', true],
      ['b-a-dns', 6, true, 'reject', 'reject', true],
      ['b-a-ping', 6, true, 'reject', 'reject', true],
      ['world-a', 6, true, 'reject', 'reject', true],
    ]);
    expect(report.results.find((r) => r.name === 'world-a')!.packet).toMatchObject({ src: '2001:db8::1', src_netns: `${V6PREFIX}-ext` });
    expect((await sandboxDown(dir, { prefix: V6PREFIX })).removed).toHaveLength(4);
  });
});
