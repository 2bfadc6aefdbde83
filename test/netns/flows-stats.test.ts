/**
 * `microseg stats` on real kernels: counters are read with the rules, count connections exactly
 * (one SYN per TCP handshake, accepted or refused with a reset), map back to the policy and the
 * namespace default that decided them, and traffic never makes a plan non-empty (counters are no
 * part of what plan compares). Run for nftables, iptables-nft and iptables-legacy (where the kernel
 * has the legacy tables).
 *
 * Addresses (harness.ts conventions): web 198.18.0.11 (client), api 198.18.0.12 (server, listens
 * on tcp/8000, 8001, 8002), db 198.18.0.13. Namespaces are `mst<pid>-<tag>-<node>`.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { BackendName } from '../../providers/types';
import type { StatsReport } from '../../src/flows/stats';
import { cli } from './reconcile-suite';
import { Topology, describeAsRoot, legacySkipReason } from './harness';

const NODES = [
  { name: 'web', v4: '198.18.0.11', v6: '2001:2::11' },
  { name: 'api', v4: '198.18.0.12', v6: '2001:2::12' },
  { name: 'db', v4: '198.18.0.13', v6: '2001:2::13' },
];

function config(topo: Topology, backend: BackendName, extra = false): string {
  const out: string[] = ['namespace "/t" {', '  default_incoming_action = "reject"', '  default_outgoing_action = "reject"', '}'];
  const tags: Record<string, string> = { web: 'app=web', api: 'app=api', db: 'app=db' };
  for (const n of NODES) {
    out.push(
      `enforcer "${n.name}" {`, '  namespace = "/t"', `  backend = "${backend}"`, '  connection {', '    type = "netns"', `    netns = "${topo.nsName(n.name)}"`, '  }', '}',
      `processing_unit "${n.name}" {`, '  namespace = "/t"', `  enforcer = enforcer.${n.name}.name`, `  addresses = ["${n.v4}"]`, `  tags = ["${tags[n.name]}"]`, '}',
    );
  }
  const policy = (name: string, subject: string, object: string, ports: string, action = 'allow') =>
    out.push(`network_policy "${name}" {`, '  namespace = "/t"', `  subject = [["${subject}"]]`, `  object = [["${object}"]]`, `  ports = ["${ports}"]`, `  action = "${action}"`, '}');
  policy('web-api', 'app=web', 'app=api', 'tcp/8000');
  policy('no-8001', 'app=web', 'app=api', 'tcp/8001', 'reject');
  policy('never-used', 'app=db', 'app=api', 'tcp/9999');
  if (extra) policy('db-web', 'app=db', 'app=web', 'tcp/7000');
  return out.join('\n') + '\n';
}

function policyOf(r: StatsReport, host: string, policy: string, direction: string) {
  const h = r.hosts.find((x) => x.enforcer === host)!;
  return h.policies.find((p) => p.name === policy && p.direction === direction);
}

function defaultOf(r: StatsReport, host: string, direction: string) {
  return r.hosts.find((x) => x.enforcer === host)!.defaults.find((d) => d.direction === direction)!;
}

function defineStatsSuite(backend: BackendName, tag: string): void {
  describeAsRoot(`stats on ${backend} (real kernel)`, () => {
    let topo: Topology;
    let dir: string;

    beforeAll(async () => {
      topo = await Topology.create(tag, NODES);
      dir = fs.mkdtempSync(path.join(os.tmpdir(), `mseg-stats-${tag}-`));
      for (const port of [8000, 8001, 8002]) await topo.listen('api', 'tcp', port, 4);
    }, 120_000);

    afterAll(async () => {
      await topo?.teardown();
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    }, 120_000);

    const stats = async (...extra: string[]): Promise<StatsReport> => {
      const r = await cli('stats', dir, '--json', ...extra);
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
      return JSON.parse(r.out) as StatsReport;
    };

    const connect = async (port: number, n: number, want: string) => {
      for (let i = 0; i < n; i++) expect(await topo.tcpConnect('web', '198.18.0.12', port)).toBe(want);
    };

    it('counts each connection once, under the policy or default that decided it, and traffic leaves plan a no-op', async () => {
      fs.writeFileSync(path.join(dir, 'main.hcl'), config(topo, backend));
      const applied = await cli('apply', dir, '--auto-approve');
      expect(applied.code).toBe(0);

      await connect(8000, 3, 'open'); // web-api: allowed on web's egress and api's ingress
      await connect(8001, 2, 'refused'); // no-8001: rejected on web's egress (never reaches api)
      await connect(8002, 4, 'refused'); // no policy: web's namespace default (outgoing) rejects

      const r = await stats();
      expect(r.since_apply).toBe(false);
      expect(policyOf(r, 'web', 'web-api', 'outgoing')).toMatchObject({ allowed: 3, rejected: 0, uncounted: 0 });
      expect(policyOf(r, 'api', 'web-api', 'incoming')).toMatchObject({ allowed: 3, rejected: 0, uncounted: 0 });
      expect(policyOf(r, 'web', 'no-8001', 'outgoing')).toMatchObject({ allowed: 0, rejected: 2 });
      expect(policyOf(r, 'api', 'no-8001', 'incoming')).toMatchObject({ allowed: 0, rejected: 0 });
      expect(defaultOf(r, 'web', 'outgoing')).toMatchObject({ namespace: '/t', action: 'reject', connections: 4, uncounted: 0 });
      expect(defaultOf(r, 'api', 'incoming')).toMatchObject({ connections: 0 });
      expect(r.dead).toEqual(['/t network_policy.never-used']);
      expect(r.policies.find((p) => p.policy === '/t network_policy.web-api')).toMatchObject({ incoming: { allowed: 3 }, outgoing: { allowed: 3 }, dead: false });

      // Counters changed on every host; what plan compares did not.
      const plan = await cli('plan', dir, '--detailed-exitcode');
      expect(plan.out).toContain('No changes');
      expect(plan.code).toBe(0);
      const drift = await cli('drift', dir);
      expect(drift.code).toBe(0);

      // The human view renders the same numbers.
      const human = await cli('stats', dir);
      expect(human.code).toBe(0);
      expect(human.out).toMatch(/\/t network_policy\.web-api\s+outgoing\s+3\s+0/);
      expect(human.out).toContain('Dead policies (matched no connection on any host): /t network_policy.never-used');
    }, 300_000);

    it('--since-apply counts from the last apply that changed each host: zero after a full sync and after a delta, then each new connection', async () => {
      // The first apply was a full sync on every host: its baseline is zero, so both views agree.
      const before = await stats('--since-apply');
      expect(before.since_apply).toBe(true);
      expect(policyOf(before, 'web', 'web-api', 'outgoing')).toMatchObject({ allowed: 3 });

      // A delta on web (a new policy toward it): untouched rules keep counting in the kernel.
      fs.writeFileSync(path.join(dir, 'main.hcl'), config(topo, backend, true));
      expect((await cli('apply', dir, '--auto-approve')).code).toBe(0);
      const all = await stats();
      expect(policyOf(all, 'web', 'web-api', 'outgoing')).toMatchObject({ allowed: 3 });
      const since = await stats('--since-apply');
      expect(policyOf(since, 'web', 'web-api', 'outgoing')).toMatchObject({ allowed: 0 });
      expect(defaultOf(since, 'web', 'outgoing')).toMatchObject({ connections: 0 });

      await connect(8000, 1, 'open');
      await connect(8002, 2, 'refused');
      const after = await stats('--since-apply');
      expect(policyOf(after, 'web', 'web-api', 'outgoing')).toMatchObject({ allowed: 1 });
      // api was not changed by the second apply: it still counts from the first (per host, since
      // the last apply that changed it).
      expect(policyOf(after, 'api', 'web-api', 'incoming')).toMatchObject({ allowed: 4 });
      expect(defaultOf(after, 'web', 'outgoing')).toMatchObject({ connections: 2 });
      const total = await stats();
      expect(policyOf(total, 'web', 'web-api', 'outgoing')).toMatchObject({ allowed: 4 });
      expect(defaultOf(total, 'web', 'outgoing')).toMatchObject({ connections: 6 });
      expect((await cli('plan', dir, '--detailed-exitcode')).code).toBe(0);
    }, 300_000);
  }, backend === 'iptables-legacy' ? legacySkipReason : undefined);
}

defineStatsSuite('nftables', 'stn');
defineStatsSuite('iptables-nft', 'sti');
defineStatsSuite('iptables-legacy', 'stl');
