/**
 * Flow logs in operation, on real kernels (nftables and iptables-nft):
 * - apply starts the collector (ulogd2) on every host whose rules log, apply without log rules
 *   stops it, decommission and destroy remove it: no ulogd process in the host's namespace, no
 *   file left;
 * - a policy in observation mode (observation_enabled on one policy) lets through what it would
 *   reject and `flows` names it would-reject; `stats` counts it as would_reject;
 * - a bounded flood of rejected SYNs from an unenforced host, with allowed connections during
 *   it: every allowed connection's records are kept (each log rule has its own rate budget), the
 *   flood's records stay within the limit (≤ rate × the flood's duration + burst), and what the
 *   limit left out is counted exactly (logged + rate-limited = the reject rule's counter = SYNs
 *   sent) and shown by `flows` (JSON and human);
 * - `flows --follow` as a real child process: new records arrive while it runs, and SIGINT /
 *   SIGTERM end it with exit 0.
 *
 * Addresses (harness.ts conventions): web 198.18.0.21 (client), api 198.18.0.22 (listens on
 * tcp/8000 and tcp/8003), x 198.18.0.23 (no enforcer: the flood's source). The collectors write
 * under a temporary MICROSEG_COLLECTOR_DIR.
 */
import { execFile, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { BackendName } from '../../providers/types';
import type { FlowsReport } from '../../src/flows/flows';
import type { FlowRecord } from '../../src/flows/records';
import type { StatsReport } from '../../src/flows/stats';
import { LOG_LIMIT } from '../../src/compile/names';
import { buildOnce, childEnv, cliArgs } from '../support/build-cli';
import { cli } from './reconcile-suite';
import { Topology, describeAsRoot } from './harness';

const NODES = [
  { name: 'web', v4: '198.18.0.21', v6: '2001:2::21' },
  { name: 'api', v4: '198.18.0.22', v6: '2001:2::22' },
  { name: 'x', v4: '198.18.0.23', v6: '2001:2::23' },
];
const API = '198.18.0.22';

interface Shape {
  /** Namespace and policy logs, and the observation policy; false leaves no log rule at all. */
  logs: boolean;
  /** The web enforcer (and its PU) is in the configuration. */
  web: boolean;
}

function config(topo: Topology, backend: BackendName, s: Shape): string {
  const out: string[] = ['namespace "/t" {', `  logs_enabled = ${s.logs}`, '}'];
  const nodes = [...(s.web ? [{ name: 'web', v4: '198.18.0.21', tag: 'app=web' }] : []), { name: 'api', v4: API, tag: 'app=api' }];
  for (const n of nodes) {
    out.push(
      `enforcer "${topo.prefix}-${n.name}" {`, '  namespace = "/t"', `  backend = "${backend}"`, '  connection {', '    type = "netns"', `    netns = "${topo.nsName(n.name)}"`, '  }', '}',
      `processing_unit "${n.name}" {`, '  namespace = "/t"', `  enforcer = "${topo.prefix}-${n.name}"`, `  addresses = ["${n.v4}"]`, `  tags = ["${n.tag}"]`, '}',
    );
  }
  // The web PU stays described as an external network when its enforcer is gone, so the
  // policies keep a subject.
  if (!s.web) out.push('external_network "web" {', '  namespace = "/t"', '  entries = ["198.18.0.21/32"]', '  tags = ["app=web"]', '}');
  out.push(
    'network_policy "web-api" {', '  namespace = "/t"', '  subject = [["app=web"]]', '  object = [["app=api"]]', '  ports = ["tcp/8000", "tcp/8003"]', `  logs_enabled = ${s.logs}`, '}',
  );
  if (s.logs) {
    // Someone plans to forbid 8003 and watches first: the policy only logs would-reject.
    out.push(
      'network_policy "no-8003" {', '  namespace = "/t"', '  subject = [["app=web"]]', '  object = [["app=api"]]', '  ports = ["tcp/8003"]', '  action = "reject"', '  observation_enabled = true', '}',
    );
  }
  return out.join('\n') + '\n';
}

/** ulogdPids: the ulogd processes running inside a network namespace. */
async function ulogdPids(topo: Topology, node: string): Promise<number[]> {
  const pids = await new Promise<string>((res) => execFile('ip', ['netns', 'pids', topo.nsName(node)], (_e, stdout) => res(String(stdout))));
  return pids
    .split('\n')
    .map((l) => Number(l.trim()))
    .filter((p) => Number.isInteger(p) && p > 0)
    .filter((p) => {
      try {
        return fs.readFileSync(`/proc/${p}/comm`, 'utf8').trim() === 'ulogd';
      } catch {
        return false;
      }
    });
}

function defineOpsSuite(backend: BackendName, tag: string, followSignal: 'SIGINT' | 'SIGTERM'): void {
  describeAsRoot(`flows in operation on ${backend} (real kernel)`, () => {
    let topo: Topology;
    let dir: string;
    let collectorDir: string;
    const savedEnv = process.env.MICROSEG_COLLECTOR_DIR;
    const web = () => `${topo.prefix}-web`;
    const api = () => `${topo.prefix}-api`;

    beforeAll(async () => {
      topo = await Topology.create(tag, NODES);
      dir = fs.mkdtempSync(path.join(os.tmpdir(), `mseg-flowsops-${tag}-`));
      collectorDir = fs.mkdtempSync(path.join(os.tmpdir(), `mseg-collector-${tag}-`));
      process.env.MICROSEG_COLLECTOR_DIR = collectorDir;
      for (const port of [8000, 8003]) await topo.listen('api', 'tcp', port, 4);
    }, 120_000);

    afterAll(async () => {
      // The daemons live in the namespaces: stop them before the namespaces go, whatever the
      // tests left (destroy normally did).
      if (dir && fs.existsSync(path.join(dir, 'main.hcl'))) {
        fs.writeFileSync(path.join(dir, 'main.hcl'), config(topo, backend, { logs: true, web: true }));
        await cli('collector', 'stop', dir).catch(() => undefined);
      }
      await topo?.teardown();
      if (savedEnv === undefined) delete process.env.MICROSEG_COLLECTOR_DIR;
      else process.env.MICROSEG_COLLECTOR_DIR = savedEnv;
      for (const d of [dir, collectorDir]) if (d) fs.rmSync(d, { recursive: true, force: true });
    }, 120_000);

    const write = (s: Shape) => fs.writeFileSync(path.join(dir, 'main.hcl'), config(topo, backend, s));
    const flows = async (): Promise<FlowsReport> => {
      // Records reach the file asynchronously (netlink → ulogd → file): give them a moment.
      await new Promise((res) => setTimeout(res, 1500));
      const r = await cli('flows', dir, '--json');
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
      return JSON.parse(r.out) as FlowsReport;
    };
    const stats = async (): Promise<StatsReport> => {
      const r = await cli('stats', dir, '--json');
      expect(r.code).toBe(0);
      return JSON.parse(r.out) as StatsReport;
    };
    const pick = (recs: readonly FlowRecord[], enforcer: string, verdict: string, policy: string, port: number) =>
      recs.filter((x) => x.enforcer === enforcer && x.verdict === verdict && x.policy === policy && x.port === port);

    it('apply starts the collector where rules log; a policy in observation mode lets through what it would reject and flows names it would-reject', async () => {
      write({ logs: true, web: true });
      const a = await cli('apply', dir, '--auto-approve');
      expect(a.code).toBe(0);
      expect(a.err).toMatch(/Flow-log collector \(ulogd2\): running on /);
      const st = await cli('collector', 'status', dir, '--json');
      const rows = (JSON.parse(st.out) as { hosts: Array<{ enforcer: string; status: { running: boolean } }> }).hosts;
      expect(rows.map((r) => [r.enforcer, r.status.running]).sort()).toEqual([[api(), true], [web(), true]]);
      for (const n of ['web', 'api']) expect(await ulogdPids(topo, n)).toHaveLength(1);

      // Without the observation policy's reject this connection is allowed: it passes.
      expect(await topo.tcpConnect('web', API, 8003)).toBe('open');
      expect(await topo.tcpConnect('web', API, 8000)).toBe('open');
      const r = await flows();
      for (const e of [web(), api()]) {
        expect(pick(r.records, e, 'would-reject', '/t network_policy.no-8003', 8003)).toHaveLength(1);
        expect(pick(r.records, e, 'allow', '/t network_policy.web-api', 8003)).toHaveLength(1);
        expect(pick(r.records, e, 'allow', '/t network_policy.web-api', 8000)).toHaveLength(1);
      }
      expect(r.records.filter((x) => x.verdict === 'reject')).toEqual([]);
      const human = await cli('flows', dir);
      expect(human.out).toMatch(/198\.18\.0\.21\(web\) → 198\.18\.0\.22\(api\) tcp\/8003 would-reject \/t network_policy\.no-8003/);

      const s = await stats();
      const row = (e: string, dir: string) => s.hosts.find((h) => h.enforcer === e)!.policies.find((p) => p.name === 'no-8003' && p.direction === dir);
      expect(row(web(), 'outgoing')).toMatchObject({ would_reject: 1, rejected: 0 });
      expect(row(api(), 'incoming')).toMatchObject({ would_reject: 1, rejected: 0 });
    }, 300_000);

    it('a bounded flood of rejected SYNs keeps every allowed record, logs within the limit and counts what the limit left out', async () => {
      const before = await flows();
      const statsBefore = await stats();
      const defaultIn = (s: StatsReport) => s.hosts.find((h) => h.enforcer === api())!.defaults.find((d) => d.direction === 'incoming')!.connections;
      const SENT = 3000;
      const ALLOWED = 6;
      const t0 = Date.now();
      // hping3: SYNs to a port no policy allows (the api's default reject), one every 200 µs,
      // each from the next source port, so each is a new connection for conntrack.
      const flood = topo.exec('x', ['hping3', '-q', '-n', '-S', '-p', '8002', '-i', 'u200', '-c', String(SENT), API], { timeoutMs: 120_000 });
      const allowed: string[] = [];
      for (let i = 0; i < ALLOWED; i++) allowed.push(await topo.tcpConnect('web', API, 8000));
      const f = await flood;
      const seconds = (Date.now() - t0) / 1000;
      expect(allowed).toEqual(Array(ALLOWED).fill('open'));
      const sent = Number(/(\d+) packets transmitted/.exec(f.stdout + f.stderr)?.[1]);
      expect(sent).toBe(SENT);

      const after = await flows();
      const fresh = after.records.slice(before.records.length);
      // Every allowed connection is recorded on both sides, flood or not.
      expect(pick(fresh, web(), 'allow', '/t network_policy.web-api', 8000)).toHaveLength(ALLOWED);
      expect(pick(fresh, api(), 'allow', '/t network_policy.web-api', 8000)).toHaveLength(ALLOWED);
      const logged = pick(fresh, api(), 'reject', 'default of namespace /t', 8002).filter((x) => x.src === '198.18.0.23').length;
      // The limit: the burst at once, then the rate. `seconds` spans more than the flood did, so
      // this bound is loose in time but holds whatever the machine's load.
      expect(logged).toBeGreaterThanOrEqual(Math.min(SENT, LOG_LIMIT.burst));
      expect(logged).toBeLessThanOrEqual(LOG_LIMIT.burst + Math.ceil(LOG_LIMIT.perSecond * seconds));
      expect(logged).toBeLessThan(SENT);

      // Every SYN met the reject rule (its counter); what was not logged is counted as left out.
      const rejected = defaultIn(await stats()) - defaultIn(statsBefore);
      expect(rejected).toBe(SENT);
      const h = after.hosts.find((x) => x.enforcer === api())!;
      const leftOutBefore = before.hosts.find((x) => x.enforcer === api())!.rate_limited!;
      expect(h.rate_limited! - leftOutBefore).toBe(SENT - logged);
      expect(h).toMatchObject({ collector_running: true, collector_lost: 0, collector_errors: [] });
      expect(after.hosts.find((x) => x.enforcer === web())).toMatchObject({ rate_limited: 0, collector_lost: 0 });
      const human = await cli('flows', dir);
      expect(human.out).toContain(`enforcer ${api()}: ${after.hosts.find((x) => x.enforcer === api())!.records.length} records; ${h.rate_limited} left out by the log rate limit; 0 lost by the collector`);
    }, 300_000);

    it(`flows --follow prints new records as they arrive and ends cleanly on ${followSignal}`, async () => {
      const { mainJs } = buildOnce();
      expect(await topo.tcpConnect('web', API, 8000)).toBe('open');
      const known = (await flows()).records.length;
      const child = spawn(process.execPath, cliArgs(mainJs, ['flows', dir, '--follow', '--json']), { env: childEnv({ MICROSEG_COLLECTOR_DIR: collectorDir }), stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => child.once('exit', (code, signal) => res({ code, signal })));
      const lines = () => out.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as FlowRecord);
      const waitFor = async (n: number) => {
        for (let i = 0; i < 600 && lines().length < n && child.exitCode === null; i++) await new Promise((res) => setTimeout(res, 100));
        return lines();
      };
      try {
        // First what is already there (the read before following) ...
        expect(await waitFor(known)).toHaveLength(known);
        // ... then what happens while it follows.
        expect(await topo.tcpConnect('web', API, 8003)).toBe('open');
        expect(await topo.tcpConnect('web', API, 8000)).toBe('open');
        const got = (await waitFor(known + 6)).slice(known);
        expect(got).toHaveLength(6);
        for (const e of [web(), api()]) {
          expect(pick(got, e, 'would-reject', '/t network_policy.no-8003', 8003)).toHaveLength(1);
          expect(pick(got, e, 'allow', '/t network_policy.web-api', 8003)).toHaveLength(1);
          expect(pick(got, e, 'allow', '/t network_policy.web-api', 8000)).toHaveLength(1);
        }
        child.kill(followSignal);
        expect(await exited).toEqual({ code: 0, signal: null });
        expect(err).toBe('');
      } finally {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }
    }, 600_000);

    it('apply without log rules stops the collector; decommission and destroy remove it and leave no ulogd or file behind', async () => {
      write({ logs: false, web: true });
      const a = await cli('apply', dir, '--auto-approve');
      expect(a.code).toBe(0);
      expect(a.err).toMatch(/stopped on .*(no log rules; records kept)/);
      for (const n of ['web', 'api']) expect(await ulogdPids(topo, n)).toEqual([]);
      // The records stay readable.
      expect((await flows()).records.length).toBeGreaterThan(0);

      write({ logs: true, web: true });
      expect((await cli('apply', dir, '--auto-approve')).code).toBe(0);
      for (const n of ['web', 'api']) expect(await ulogdPids(topo, n)).toHaveLength(1);

      // Decommission web: its enforcer leaves the configuration.
      write({ logs: true, web: false });
      const d = await cli('apply', dir, '--auto-approve');
      expect(d.code).toBe(0);
      expect(d.err).toMatch(new RegExp(`removed from ${web()}`));
      expect(await ulogdPids(topo, 'web')).toEqual([]);
      expect(await ulogdPids(topo, 'api')).toHaveLength(1);
      expect(fs.readdirSync(collectorDir).filter((f) => f.startsWith(`${web()}-`))).toEqual([]);
      expect(fs.readdirSync(collectorDir)).toHaveLength(1);

      const x = await cli('destroy', dir, '--auto-approve');
      expect(x.code).toBe(0);
      expect(x.err).toMatch(new RegExp(`removed from ${api()}`));
      for (const n of ['web', 'api']) expect(await ulogdPids(topo, n)).toEqual([]);
      // Nothing of microseg's: the collector root itself is gone once empty.
      expect(fs.existsSync(collectorDir)).toBe(false);
    }, 300_000);
  });
}

defineOpsSuite('nftables', 'fon', 'SIGINT');
defineOpsSuite('iptables-nft', 'foi', 'SIGTERM');
