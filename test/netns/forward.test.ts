/**
 * Forwarded workloads on a real kernel (issue #12 "Done when"), for each backend: containers on a
 * Linux bridge, a routed workload and a remote host behind one enforcer host (forward-topology.ts).
 * microseg programs the host through the CLI (plan/apply/destroy); real TCP, UDP and ICMP probes
 * decide every listed pair both ways, over IPv4 and IPv6 (every node is dual-stack), the offline
 * trace (compiled without the host) must agree with every probe, the host's own addresses must place the workloads exactly as pinned, and
 * destroy must leave nothing owned, forward hook included.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { runPipeline } from '../../src/pipeline';
import { traceFlow } from '../../src/trace';
import { providerFor } from '../../providers';
import type { BackendName } from '../../providers/types';
import { describeAsRoot, legacySkipReason } from './harness';
import { ForwardTopology, FWD, FWD6, type FwdNode } from './forward-topology';
import { cli } from './reconcile-suite';

const PORTS = '["tcp/8080", "udp/5353", "icmp/8", "icmp6/128"]';

function config(t: ForwardTopology, backend: BackendName, pinned: boolean): string {
  const pu = (name: 'gw' | 'c1' | 'c2' | 'r1', tag: string, forwarded: boolean) =>
    [
      `processing_unit "${name}" {`,
      '  namespace = "/f"',
      '  enforcer  = enforcer.gw.name',
      `  addresses = ["${name === 'gw' ? FWD.gwBridge : FWD[name]}", "${name === 'gw' ? FWD6.gwBridge : FWD6[name]}"]`,
      `  tags      = ["${tag}"]`,
      ...(pinned ? [`  placement = "${forwarded ? 'forwarded' : 'local'}"`] : []),
      '}',
    ].join('\n');
  const pol = (name: string, subject: string, object: string) =>
    `network_policy "${name}" {\n  namespace = "/f"\n  subject = [["${subject}"]]\n  object = [["${object}"]]\n  ports = ${PORTS}\n}`;
  return [
    'namespace "/f" {\n  default_incoming_action = "reject"\n  default_outgoing_action = "reject"\n}',
    `enforcer "gw" {\n  namespace = "/f"\n  backend = "${backend}"\n  connection {\n    type = "netns"\n    netns = "${t.ns('gw')}"\n  }\n}`,
    pu('gw', 'role=gw', false),
    pu('c1', 'app=web', true),
    pu('c2', 'app=db', true),
    pu('r1', 'app=batch', true),
    `external_network "remote" {\n  namespace = "/f"\n  entries = ["${FWD.rem}/32", "${FWD6.rem}/128"]\n  tags = ["net=remote"]\n}`,
    pol('web-to-db', 'app=web', 'app=db'),
    pol('web-to-remote', 'app=web', 'net=remote'),
    pol('remote-to-db', 'net=remote', 'app=db'),
    pol('batch-to-db', 'app=batch', 'app=db'),
    pol('gw-to-web', 'role=gw', 'app=web'),
  ].join('\n\n') + '\n';
}

/** FLOWS: every pair of the issue, both ways where it names both, with the verdict the policies give. */
const FLOWS: Array<{ from: FwdNode; to: FwdNode; trace: [string, string]; allow: boolean }> = [
  { from: 'c1', to: 'c2', trace: ['c1', 'c2'], allow: true }, // same bridge
  { from: 'c2', to: 'c1', trace: ['c2', 'c1'], allow: false },
  { from: 'c1', to: 'rem', trace: ['c1', 'remote'], allow: true }, // container → remote host
  { from: 'c2', to: 'rem', trace: ['c2', 'remote'], allow: false },
  { from: 'rem', to: 'c2', trace: ['remote', 'c2'], allow: true }, // remote host → container
  { from: 'rem', to: 'c1', trace: ['remote', 'c1'], allow: false },
  { from: 'r1', to: 'c2', trace: ['r1', 'c2'], allow: true }, // routed workload ↔ container
  { from: 'c2', to: 'r1', trace: ['c2', 'r1'], allow: false },
  { from: 'c1', to: 'r1', trace: ['c1', 'r1'], allow: false },
  { from: 'gw', to: 'c1', trace: ['gw', 'c1'], allow: true }, // host ↔ container
  { from: 'c1', to: 'gw', trace: ['c1', 'gw'], allow: false },
  { from: 'gw', to: 'c2', trace: ['gw', 'c2'], allow: false },
];

const ADDR: Record<4 | 6, Record<FwdNode, string>> = {
  4: { gw: FWD.gwBridge, c1: FWD.c1, c2: FWD.c2, r1: FWD.r1, rem: FWD.rem },
  6: { gw: FWD6.gwBridge, c1: FWD6.c1, c2: FWD6.c2, r1: FWD6.r1, rem: FWD6.rem },
};

for (const [backend, tag] of [
  ['nftables', 'fwnft'],
  ['iptables-nft', 'fwxnf'],
  ['iptables-legacy', 'fwleg'],
] as const) {
  describeAsRoot(
    `forwarded workloads on a real kernel: ${backend}`,
    () => {
      let t: ForwardTopology;
      let dir: string;

      beforeAll(async () => {
        t = await ForwardTopology.create(tag, { ipv6: true });
        dir = fs.mkdtempSync(path.join(os.tmpdir(), `mseg-fwd-${tag}-`));
        for (const n of ['gw', 'c1', 'c2', 'r1', 'rem'] as const) {
          for (const fam of [4, 6] as const) {
            await t.listen(n, 'tcp', 8080, fam);
            await t.listen(n, 'udp', 5353, fam);
          }
        }
      }, 120_000);

      afterAll(async () => {
        await t?.teardown();
        if (dir) fs.rmSync(dir, { recursive: true, force: true });
      }, 120_000);

      it('before microseg every probe gets through (the topology forwards everything)', async () => {
        for (const f of FLOWS) {
          for (const fam of [4, 6] as const) {
            const name = `${f.from}→${f.to} IPv${fam}`;
            expect({ name, tcp: await t.tcp(f.from, ADDR[fam][f.to], 8080) }).toEqual({ name, tcp: 'open' });
          }
        }
      }, 300_000);

      it('apply enforces every pair on the forward path; TCP, UDP and ICMP agree with the offline trace', async () => {
        fs.writeFileSync(path.join(dir, 'main.hcl'), config(t, backend, true));
        const a = await cli('apply', dir, '--auto-approve');
        expect({ code: a.code, err: a.err }).toEqual({ code: 0, err: '' });

        // Offline: compiled without the host, as `microseg trace` does.
        const p = await runPipeline(dir, { compile: true });
        expect(p.stage).toBe('done');
        const got: string[] = [];
        const want: string[] = [];
        for (const f of FLOWS) {
          for (const fam of [4, 6] as const) {
            const name = `${f.from}→${f.to} IPv${fam}`;
            const [from, to] = [ADDR[fam][f.from], ADDR[fam][f.to]];
            const tcp = await t.tcp(f.from, to, 8080);
            const udp = await t.udp(f.from, to, 5353);
            const icmp = await t.ping(f.from, to);
            got.push(`${name} tcp=${tcp} udp=${udp} icmp=${icmp}`);
            want.push(`${name} tcp=${f.allow ? 'open' : 'refused'} udp=${f.allow} icmp=${f.allow}`);
            // IPv4 traces name the endpoints (PUs, the external network); IPv6 traces give the addresses.
            const ends = fam === 4 ? { from: f.trace[0], to: f.trace[1] } : { from, to };
            for (const port of ['tcp/8080', 'udp/5353', fam === 4 ? 'icmp/8/0' : 'icmp6/128/0']) {
              const r = traceFlow(p.model!, p.compiled!.rulesets, { ...ends, port });
              expect({ name, port, verdict: r.trace?.verdict }).toEqual({ name, port, verdict: f.allow ? 'allow' : 'reject' });
            }
          }
        }
        expect(got).toEqual(want);

        // Two containers on one bridge: the trace names the forward-path rule that decided.
        const same = traceFlow(p.model!, p.compiled!.rulesets, { from: 'c2', to: 'c1', port: 'tcp/8080' }).trace!;
        expect(same.source).toMatchObject({ hook: 'forward', verdict: 'reject', policy: 'default' });
        const ok = traceFlow(p.model!, p.compiled!.rulesets, { from: 'c1', to: 'c2', port: 'tcp/8080' }).trace!;
        expect(ok.destination).toMatchObject({ hook: 'forward', verdict: 'allow', policy: 'web-to-db' });
        const fwd = p.compiled!.rulesets[0].chains.find((c) => c.name === 'fwd')!;
        expect(fwd.rules.some((r) => r.verdict.kind === 'jump' && r.verdict.chain === ok.destination.chain)).toBe(true);
      }, 600_000);

      it('the host\'s own addresses place the workloads as the pins do: unpinned, the plan has no changes', async () => {
        fs.writeFileSync(path.join(dir, 'main.hcl'), config(t, backend, false));
        const r = await cli('plan', dir, '--json');
        expect(r.code).toBe(0);
        const plan = JSON.parse(r.out);
        const gw = plan.hosts.find((h: { enforcer: string }) => h.enforcer === 'gw');
        // Only the resources' recorded attributes change (the pins are gone); the host's rules do not.
        expect({ action: gw.action, chains: gw.chains, sets: gw.sets, hooks: gw.hooks }).toEqual({ action: 'noop', chains: [], sets: [], hooks: [] });
        expect(gw.placements).toEqual([
          { pu: 'c1', namespace: '/f', placement: 'forwarded', source: 'host' },
          { pu: 'c2', namespace: '/f', placement: 'forwarded', source: 'host' },
          { pu: 'gw', namespace: '/f', placement: 'local', source: 'host' },
          { pu: 'r1', namespace: '/f', placement: 'forwarded', source: 'host' },
        ]);
        const human = await cli('plan', dir);
        expect(human.code).toBe(0);
        expect(human.out).toMatch(/c1\s+forwarded\s+\(forward path; from the host's addresses\)/);
      }, 300_000);

      it('a PU pinned local whose address the host lacks is a plan error for that host; apply keeps its rules', async () => {
        fs.writeFileSync(path.join(dir, 'main.hcl'), config(t, backend, true).replace('placement = "forwarded"', 'placement = "local"'));
        const plan = await cli('plan', dir);
        expect(plan.code).toBe(1);
        expect(plan.err).toMatch(/MSEG6020/);
        const before = await providerFor(backend).read(t.host('gw'));
        const r = await cli('apply', dir, '--auto-approve');
        expect(r.code).toBe(1);
        expect(r.err).toMatch(/MSEG6020/);
        const after = await providerFor(backend).read(t.host('gw'));
        expect(after.fingerprint).toBe(before.fingerprint);
        expect(await t.tcp('c2', FWD.c1, 8080)).toBe('refused');
      }, 300_000);

      /** expectNothingOwned: no owned set, chain or hook on gw, in any listing, and forwarding works as before. */
      const expectNothingOwned = async () => {
        const live = await providerFor(backend).read(t.host('gw'));
        expect({ sets: live.sets, chains: live.chains, hooks: live.hooks.filter((h) => h.present) }).toEqual({ sets: [], chains: [], hooks: [] });
        const text = [
          (await t.exec('gw', ['nft', 'list', 'ruleset'])).stdout,
          (await t.exec('gw', [backend === 'iptables-legacy' ? 'iptables-legacy-save' : 'iptables-nft-save'])).stdout,
          (await t.exec('gw', ['ipset', 'list', '-n'])).stdout,
        ].join('\n');
        expect(text).not.toMatch(/microseg|MSEG-|mseg-/);
        expect(await t.tcp('c2', FWD.c1, 8080)).toBe('open');
      };

      it('decommission (the enforcer leaves the configuration) leaves nothing owned, the forward hook included', async () => {
        fs.writeFileSync(path.join(dir, 'main.hcl'), 'namespace "/f" {}\n');
        const a = await cli('apply', dir, '--auto-approve');
        expect({ code: a.code, err: a.err }).toEqual({ code: 0, err: '' });
        expect(a.out).toMatch(/gw: decommissioned: nothing owned is left/);
        await expectNothingOwned();
      }, 300_000);

      it('destroy leaves nothing owned, the forward hook included, and forwarding works as before', async () => {
        fs.writeFileSync(path.join(dir, 'main.hcl'), config(t, backend, true));
        const a = await cli('apply', dir, '--auto-approve');
        expect({ code: a.code, err: a.err }).toEqual({ code: 0, err: '' });
        expect(await t.tcp('c2', FWD.c1, 8080)).toBe('refused');
        const d = await cli('destroy', dir, '--auto-approve');
        expect({ code: d.code, err: d.err }).toEqual({ code: 0, err: '' });
        await expectNothingOwned();
      }, 300_000);
    },
    backend === 'iptables-legacy' ? legacySkipReason : undefined,
  );
}
