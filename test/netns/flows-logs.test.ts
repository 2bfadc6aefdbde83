/**
 * Flow logs on real kernels: log rules (logs_enabled policies and namespace) reach ulogd2 running
 * inside each enforcer's network namespace, and `microseg flows` shows every connection with its
 * identities, verdict and deciding policy; in audit mode (namespace observation_enabled) traffic a
 * policy or the default would reject passes and is shown as would-reject naming it. Run for
 * nftables and iptables-nft.
 *
 * Addresses (harness.ts conventions): web 198.18.0.11 (client), api 198.18.0.12 (listens on
 * tcp/8000, 8001, 8002). The collectors write under a temporary MICROSEG_COLLECTOR_DIR.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { BackendName } from '../../providers/types';
import type { FlowsReport } from '../../src/flows/flows';
import type { StatsReport } from '../../src/flows/stats';
import { cli } from './reconcile-suite';
import { Topology, describeAsRoot } from './harness';

const NODES = [
  { name: 'web', v4: '198.18.0.11', v6: '2001:2::11' },
  { name: 'api', v4: '198.18.0.12', v6: '2001:2::12' },
];

function config(topo: Topology, backend: BackendName, audit: boolean): string {
  const out: string[] = ['namespace "/t" {', '  logs_enabled = true', `  observation_enabled = ${audit}`, '}'];
  const tags: Record<string, string> = { web: 'app=web', api: 'app=api' };
  for (const n of NODES) {
    out.push(
      `enforcer "${topo.prefix}-${n.name}" {`, '  namespace = "/t"', `  backend = "${backend}"`, '  connection {', '    type = "netns"', `    netns = "${topo.nsName(n.name)}"`, '  }', '}',
      `processing_unit "${n.name}" {`, '  namespace = "/t"', `  enforcer = "${topo.prefix}-${n.name}"`, `  addresses = ["${n.v4}"]`, `  tags = ["${tags[n.name]}"]`, '}',
    );
  }
  out.push(
    'network_policy "web-api" {', '  namespace = "/t"', '  subject = [["app=web"]]', '  object = [["app=api"]]', '  ports = ["tcp/8000"]', '  logs_enabled = true', '}',
    'network_policy "no-8001" {', '  namespace = "/t"', '  subject = [["app=web"]]', '  object = [["app=api"]]', '  ports = ["tcp/8001"]', '  action = "reject"', '  logs_enabled = true', '}',
  );
  return out.join('\n') + '\n';
}

function defineFlowsSuite(backend: BackendName, tag: string): void {
  describeAsRoot(`flows on ${backend} (real kernel)`, () => {
    let topo: Topology;
    let dir: string;
    let collectorDir: string;
    const savedEnv = process.env.MICROSEG_COLLECTOR_DIR;

    beforeAll(async () => {
      topo = await Topology.create(tag, NODES);
      dir = fs.mkdtempSync(path.join(os.tmpdir(), `mseg-flows-${tag}-`));
      collectorDir = fs.mkdtempSync(path.join(os.tmpdir(), `mseg-collector-${tag}-`));
      process.env.MICROSEG_COLLECTOR_DIR = collectorDir;
      for (const port of [8000, 8001, 8002]) await topo.listen('api', 'tcp', port, 4);
    }, 120_000);

    afterAll(async () => {
      // The daemons live in the namespaces: stop them before the namespaces go.
      if (dir) await cli('collector', 'stop', dir).catch(() => undefined);
      await topo?.teardown();
      if (savedEnv === undefined) delete process.env.MICROSEG_COLLECTOR_DIR;
      else process.env.MICROSEG_COLLECTOR_DIR = savedEnv;
      for (const d of [dir, collectorDir]) if (d) fs.rmSync(d, { recursive: true, force: true });
    }, 120_000);

    const flows = async (): Promise<FlowsReport> => {
      // Records reach the file asynchronously (netlink → ulogd → file): give them a moment.
      await new Promise((res) => setTimeout(res, 1000));
      const r = await cli('flows', dir, '--json');
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
      return JSON.parse(r.out) as FlowsReport;
    };
    const connect = async (port: number, n: number, want: string) => {
      for (let i = 0; i < n; i++) expect(await topo.tcpConnect('web', '198.18.0.12', port)).toBe(want);
    };
    const count = (r: FlowsReport, enforcer: string, verdict: string, policy: string, port: number) =>
      r.records.filter((x) => x.enforcer === `${topo.prefix}-${enforcer}` && x.verdict === verdict && x.policy === policy && x.port === port).length;

    it('shows each connection with identities, verdict and deciding policy; as many records as stats counts; nothing lost', async () => {
      fs.writeFileSync(path.join(dir, 'main.hcl'), config(topo, backend, false));
      expect((await cli('apply', dir, '--auto-approve')).code).toBe(0);
      const started = await cli('collector', 'start', dir);
      expect(started.out).toMatch(/collector running/);
      expect(started.code).toBe(0);

      await connect(8000, 2, 'open');
      await connect(8001, 1, 'refused');
      await connect(8002, 3, 'refused');
      const r = await flows();

      expect(count(r, 'web', 'allow', '/t network_policy.web-api', 8000)).toBe(2);
      expect(count(r, 'api', 'allow', '/t network_policy.web-api', 8000)).toBe(2);
      expect(count(r, 'web', 'reject', '/t network_policy.no-8001', 8001)).toBe(1);
      expect(count(r, 'web', 'reject', 'default of namespace /t', 8002)).toBe(3);
      expect(r.records).toHaveLength(8);
      const allowed = r.records.find((x) => x.verdict === 'allow' && x.direction === 'outgoing')!;
      expect(allowed).toMatchObject({ src: '198.18.0.11', src_identity: 'web', dst: '198.18.0.12', dst_identity: 'api', protocol: 'tcp' });
      for (const h of r.hosts) expect(h).toMatchObject({ collector_running: true, rate_limited: 0, collector_lost: 0, collector_errors: [] });
      // The kernel numbers every record (seq_local), so a lost one would show as a gap.
      expect(r.records.every((x) => typeof x.seq === 'number')).toBe(true);

      // The same connections, counted by the rules.
      const s = JSON.parse((await cli('stats', dir, '--json')).out) as StatsReport;
      const web = s.hosts.find((h) => h.enforcer === `${topo.prefix}-web`)!;
      expect(web.policies.find((p) => p.name === 'web-api')).toMatchObject({ allowed: 2 });
      expect(web.policies.find((p) => p.name === 'no-8001')).toMatchObject({ rejected: 1 });
      expect(web.defaults.find((d) => d.direction === 'outgoing')).toMatchObject({ connections: 3 });

      const human = await cli('flows', dir);
      expect(human.out).toMatch(/198\.18\.0\.11\(web\) → 198\.18\.0\.12\(api\) tcp\/8001 reject \/t network_policy\.no-8001/);
    }, 300_000);

    it('audit mode lets through what a policy or the default would reject, and flows names it would-reject', async () => {
      fs.writeFileSync(path.join(dir, 'main.hcl'), config(topo, backend, true));
      expect((await cli('apply', dir, '--auto-approve')).code).toBe(0);
      const before = (await flows()).records.length;
      await connect(8001, 1, 'open');
      await connect(8002, 1, 'open');
      await connect(8000, 1, 'open');
      const r = await flows();
      const fresh = { ...r, records: r.records.slice(before) };
      expect(count(fresh, 'web', 'would-reject', '/t network_policy.no-8001', 8001)).toBe(1);
      expect(count(fresh, 'api', 'would-reject', '/t network_policy.no-8001', 8001)).toBe(1);
      expect(count(fresh, 'web', 'would-reject', 'default of namespace /t', 8002)).toBe(1);
      expect(count(fresh, 'api', 'would-reject', 'default of namespace /t', 8002)).toBe(1);
      expect(count(fresh, 'web', 'allow', '/t network_policy.web-api', 8000)).toBe(1);
      expect(fresh.records.filter((x) => x.verdict === 'reject')).toEqual([]);
    }, 300_000);
  });
}

defineFlowsSuite('nftables', 'fln');
defineFlowsSuite('iptables-nft', 'fli');
