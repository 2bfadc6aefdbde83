/**
 * suggest on real kernels (issue 14's done-when): a namespace in audit mode with no allow policy
 * and its collectors running; bounded traffic between namespaces; `flows --json` → `suggest` →
 * the file added, audit mode off, `test` passes, `apply`; then real packets prove every observed
 * flow is allowed and unobserved ones are still refused. The same suggestion is also made from the
 * collectors read live (`--enforcer`). Run for nftables and iptables-nft.
 *
 * Addresses (harness.ts conventions): web 198.18.0.11 (client), api 198.18.0.12 (tcp/8000-8002),
 * db 198.18.0.13 (tcp/5432). The collectors write under a temporary MICROSEG_COLLECTOR_DIR.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { BackendName } from '../../providers/types';
import type { FlowsReport } from '../../src/flows/flows';
import type { Suggestion } from '../../src/flows/suggest';
import { cli } from './reconcile-suite';
import { Topology, describeAsRoot } from './harness';

const NODES = [
  { name: 'web', v4: '198.18.0.11', v6: '2001:2::11' },
  { name: 'api', v4: '198.18.0.12', v6: '2001:2::12' },
  { name: 'db', v4: '198.18.0.13', v6: '2001:2::13' },
];
const TAGS: Record<string, string[]> = { web: ['app=web', 'env=t'], api: ['app=api', 'env=t'], db: ['app=db', 'env=t'] };

function config(topo: Topology, backend: BackendName, audit: boolean): string {
  const out: string[] = ['namespace "/t" {', '  logs_enabled = true', `  observation_enabled = ${audit}`, '}'];
  for (const n of NODES) {
    out.push(
      `enforcer "${topo.prefix}-${n.name}" {`, '  namespace = "/t"', `  backend = "${backend}"`, '  connection {', '    type = "netns"', `    netns = "${topo.nsName(n.name)}"`, '  }', '}',
      `processing_unit "${n.name}" {`, '  namespace = "/t"', `  enforcer = "${topo.prefix}-${n.name}"`, `  addresses = ["${n.v4}"]`, `  tags = [${TAGS[n.name].map((t) => `"${t}"`).join(', ')}]`, '}',
    );
  }
  return out.join('\n') + '\n';
}

function defineSuggestSuite(backend: BackendName, tag: string): void {
  describeAsRoot(`suggest on ${backend} (real kernel)`, () => {
    let topo: Topology;
    let dir: string;
    let work: string;
    let collectorDir: string;
    const savedEnv = process.env.MICROSEG_COLLECTOR_DIR;

    beforeAll(async () => {
      topo = await Topology.create(tag, NODES);
      dir = fs.mkdtempSync(path.join(os.tmpdir(), `mseg-suggest-${tag}-`));
      work = fs.mkdtempSync(path.join(os.tmpdir(), `mseg-suggest-work-${tag}-`));
      collectorDir = fs.mkdtempSync(path.join(os.tmpdir(), `mseg-collector-${tag}-`));
      process.env.MICROSEG_COLLECTOR_DIR = collectorDir;
      for (const port of [8000, 8001, 8002]) await topo.listen('api', 'tcp', port, 4);
      await topo.listen('db', 'tcp', 5432, 4);
    }, 120_000);

    afterAll(async () => {
      // The collectors and rules live in the namespaces: stop and remove them before the namespaces go.
      if (dir) {
        await cli('collector', 'stop', dir).catch(() => undefined);
        await cli('destroy', dir, '--auto-approve').catch(() => undefined);
      }
      await topo?.teardown();
      if (savedEnv === undefined) delete process.env.MICROSEG_COLLECTOR_DIR;
      else process.env.MICROSEG_COLLECTOR_DIR = savedEnv;
      for (const d of [dir, work, collectorDir]) if (d) fs.rmSync(d, { recursive: true, force: true });
    }, 180_000);

    it('turns the audit-mode flows of a configuration without policies into policies whose apply allows exactly the observed flows', async () => {
      const connect = async (from: string, addr: string, port: number, n: number, want: string) => {
        for (let i = 0; i < n; i++) expect([from, addr, port, await topo.tcpConnect(from, addr, port)]).toEqual([from, addr, port, want]);
      };
      // Audit mode, no policy: the namespace default would reject everything, and lets it through.
      fs.writeFileSync(path.join(dir, 'main.hcl'), config(topo, backend, true));
      const applied = await cli('apply', dir, '--auto-approve');
      // Audit mode logs, so apply starts each enforcer's collector and says so (nothing else).
      expect(applied.err).toMatch(/^Flow-log collector \(ulogd2\): running on [^\n]+\.\n$/);
      expect(applied.code).toBe(0);
      expect((await cli('collector', 'start', dir)).code).toBe(0);

      // Bounded traffic: 2 + 1 connections web → api, 2 api → db, one echo request web → api.
      await connect('web', '198.18.0.12', 8000, 2, 'open');
      await connect('web', '198.18.0.12', 8001, 1, 'open');
      await connect('api', '198.18.0.13', 5432, 2, 'open');
      expect(await topo.ping('web', '198.18.0.12')).toBe(true);

      // Records reach the files asynchronously (netlink → ulogd → file).
      await new Promise((res) => setTimeout(res, 1500));
      const flows = await cli('flows', dir, '--json');
      expect(flows.code).toBe(0);
      const report = JSON.parse(flows.out) as FlowsReport;
      expect(report.records.filter((r) => r.verdict === 'would-reject').length).toBeGreaterThanOrEqual(2 * 6);
      const flowsFile = path.join(work, 'flows.json');
      fs.writeFileSync(flowsFile, flows.out);

      const s = await cli('suggest', dir, '--from-flows', flowsFile, '--json');
      expect(s.err).toBe('');
      expect(s.code).toBe(0);
      const doc = JSON.parse(s.out) as Suggestion & { file: string; verified: { expects: number; passed: number } };
      expect(doc.unsuggestable).toEqual([]);
      expect(doc.skipped).toEqual([]);
      // Tag-based and merged: web → api on both ports in one policy (8000:8001), api → db, and the echo request.
      expect(doc.policies.map((p) => [p.name, p.subject, p.object, p.ports])).toEqual([
        ['allow-api-t-to-db-t', [['app=api', 'env=t']], [['app=db', 'env=t']], ['tcp/5432']],
        ['allow-web-t-to-api-t', [['app=web', 'env=t']], [['app=api', 'env=t']], ['tcp/8000:8001', 'icmp/8']],
      ]);
      expect(doc.expects.map((e) => `${e.from} ${e.to} ${e.port}`).sort()).toEqual(['api db tcp/5432', 'web api icmp/8', 'web api tcp/8000', 'web api tcp/8001']);
      expect(doc.verified).toEqual({ expects: 4, passed: 4 });
      const file = path.join(dir, 'suggested.mseg.hcl');
      expect(doc.file).toBe(file);
      expect(fs.readFileSync(file, 'utf8')).not.toMatch(/198\.18\./);

      // The same suggestion from the collectors read live.
      const live = await cli('suggest', dir, '--enforcer', `${topo.prefix}-web`, '--enforcer', `${topo.prefix}-api`, '--enforcer', `${topo.prefix}-db`, '--out', path.join(work, 'live.mseg.hcl'));
      expect(live.code).toBe(0);
      const body = (f: string) => fs.readFileSync(f, 'utf8').split('\n').slice(1).join('\n');
      // The first file is now part of the configuration, so every flow is already allowed: only expectations.
      expect(body(path.join(work, 'live.mseg.hcl'))).not.toContain('network_policy');
      expect(live.out).toMatch(/4 flows are already allowed by the configuration/);

      // Enforce: audit mode off, the suggestion in the configuration.
      fs.writeFileSync(path.join(dir, 'main.hcl'), config(topo, backend, false));
      const t = await cli('test', dir);
      expect(t.out).not.toMatch(/FAIL/);
      expect(t.code).toBe(0);
      const enforced = await cli('apply', dir, '--auto-approve');
      expect(enforced.err).toBe('');
      expect(enforced.code).toBe(0);

      // Every observed flow is allowed by real packets...
      await connect('web', '198.18.0.12', 8000, 1, 'open');
      await connect('web', '198.18.0.12', 8001, 1, 'open');
      await connect('api', '198.18.0.13', 5432, 1, 'open');
      expect(await topo.ping('web', '198.18.0.12')).toBe(true);
      // ...and unobserved ones are still refused: another port, another pair, the reverse direction.
      await connect('web', '198.18.0.12', 8002, 1, 'refused');
      await connect('web', '198.18.0.13', 5432, 1, 'refused');
      await connect('db', '198.18.0.12', 8000, 1, 'refused');
      expect(await topo.ping('api', '198.18.0.13')).toBe(false);
    }, 600_000);
  });
}

defineSuggestSuite('nftables', 'sgn');
defineSuggestSuite('iptables-nft', 'sgi');
