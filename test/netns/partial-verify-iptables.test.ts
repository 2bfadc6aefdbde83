/**
 * Real-kernel tests of the partial read-back that verifies an incremental apply on iptables
 * (src/apply/apply.ts readBackTouched; IptablesProvider.readPartial: `iptables -S` per touched chain
 * and per builtin chain in both families, `ipset save NAME` per touched set, and on iptables-nft
 * `nft -j list chains`), for iptables-nft and iptables-legacy. They prove on the kernel that
 *  - a delta is verified partially, and the first apply (a full sync) re-reads only the hooks
 *    and owned chain names (the journal says so); the state apply records from either
 *    view (fingerprint and owned objects) is exactly what a full read right after gives;
 *  - packets follow the new rules;
 *  - a foreign edit to an untouched chain between the plan's read and the apply is not seen by the
 *    partial verify, and is drift the next plan reports and repairs;
 *  - an owned chain created outside the scope between plan and apply: iptables-nft lists chain
 *    names cheaply, so apply reads the host whole and refuses the result; iptables-legacy cannot,
 *    so the apply succeeds and the next plan shows the chain as an orphan and removes it.
 * Addresses: reconcile-suite.ts (web 198.18.0.11, api 198.18.0.12, db 198.18.0.13).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { applyPlan } from '../../src/apply';
import { planRun } from '../../src/plan';
import { LocalStateStore } from '../../src/state';
import type { BackendName } from '../../providers/types';
import { IptablesProvider } from '../../providers/iptables';
import { applyCapturing, expectStateIsFullRead as expectStateIsFullReadOn } from './partial-verify-helpers';
import { Topology, describeAsRoot, legacySkipReason } from './harness';
import { BASE, NODES, configHcl, type ConfigSpec } from './reconcile-suite';

const HOSTS = ['api', 'db', 'web']; // sorted, as plans list hosts

function defineSuite(backend: BackendName, tag: string): void {
  const variant = backend === 'iptables-legacy' ? 'legacy' : 'nft';
  describeAsRoot(
    `real kernel: ${backend} apply verified by a partial read-back`,
    () => {
      let topo: Topology;
      let dir: string;
      const store = () => new LocalStateStore(dir);
      const provider = new IptablesProvider(variant);
      const write = (s: ConfigSpec) => fs.writeFileSync(path.join(dir, 'main.hcl'), configHcl(topo, backend, s));
      const ipt = (node: string, ...args: string[]) => topo.mustExec(node, [...provider.tools.cmd(4), '-w', '5', ...args]);

      const apply = () => applyCapturing(dir);
      const expectStateIsFullRead = () => expectStateIsFullReadOn(dir, topo, provider, HOSTS);

      beforeAll(async () => {
        topo = await Topology.create(tag, NODES.filter((n) => HOSTS.includes(n.name)));
        dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mseg-partial-ipt-'));
        await topo.listen('api', 'tcp', 8000, 4);
        await topo.listen('api', 'tcp', 8001, 4);
        await topo.listen('db', 'tcp', 5432, 4);
      });

      afterAll(async () => {
        await topo?.teardown();
        if (dir) fs.rmSync(dir, { recursive: true, force: true });
      });

      it('the first apply (a full sync) reads back its hooks and owned chains, and records what a full read gives', async () => {
        write({ ...BASE, hosts: HOSTS });
        const { verified } = await apply();
        expect([...verified.keys()].sort()).toEqual(HOSTS);
        // A host that owns nothing gets the full sync; its restores commit whole, so only the hooks
        // (and on iptables-nft the owned chain names) are read again.
        for (const [e, detail] of verified) expect([e, detail]).toEqual([e, expect.stringMatching(/partial read-back: the hooks( and owned chain names)? after a full sync/)]);
        await expectStateIsFullRead();
        expect(await topo.tcpConnect('web', '198.18.0.12', 8000)).toBe('open');
        expect(await topo.tcpConnect('web', '198.18.0.13', 5432)).toBe('refused');
      });

      it('a delta is verified by a partial read-back, and records the fingerprint and owned objects a full read gives', async () => {
        write({ ...BASE, hosts: HOSTS, apiPorts: 'tcp/8001' });
        const { sent, kinds, verified } = await apply();
        const touched = [...sent.keys()].sort();
        expect(touched.length).toBeGreaterThan(0);
        for (const e of touched) {
          expect(new Set(kinds.get(e))).toEqual(new Set(['delta'])); // a delta, not the full sync
          expect(verified.get(e)).toMatch(/partial read-back: \d+ chain\(s\), \d+ set\(s\) and the hooks/);
        }
        await expectStateIsFullRead();
        expect(await topo.tcpConnect('web', '198.18.0.12', 8001)).toBe('open');
        expect(await topo.tcpConnect('web', '198.18.0.12', 8000)).toBe('refused');
        const again = await planRun(dir, { store: store() });
        expect(again.plan!.hosts.map((h) => [h.enforcer, h.action, h.drift.length]).sort()).toEqual(HOSTS.map((e) => [e, 'noop', 0]));
      });

      it('a foreign edit to an untouched chain between plan and apply is not seen by the partial verify; the next plan reports and repairs it', async () => {
        write({ ...BASE, hosts: HOSTS });
        const r = await planRun(dir, { store: store() });
        expect(r.plan!.hosts.find((h) => h.enforcer === 'api')!.action).toBe('update');
        // After the plan's read, someone appends a rule to api's dispatch chain `in`, which this
        // delta does not touch (the port change lives in api's PU chain).
        await ipt('api', '-A', 'MSEG-in', '-s', '198.19.255.7/32', '-j', 'ACCEPT');
        const since = (await store().readJournal()).length;
        const result = await applyPlan(r.plan!, { store: store(), reads: r.reads });
        expect(result.hosts.find((h) => h.enforcer === 'api')!.status).toBe('applied');
        const journal = (await store().readJournal()).slice(since);
        expect(journal.find((j) => j.enforcer === 'api' && j.phase === 'verified')!.detail).toMatch(/partial read-back/);
        // State records what the partial verify saw; the host now differs from it.
        const full = await provider.read(topo.host('api'));
        expect((await store().load())!.hosts.api.fingerprint).not.toBe(full.fingerprint);
        // The next plan reads the host whole and reports the hand-added rule as drift ...
        const next = await planRun(dir, { store: store() });
        const host = next.plan!.hosts.find((h) => h.enforcer === 'api')!;
        expect(host.action).toBe('update');
        expect(host.drift.length + host.chains.length).toBeGreaterThan(0);
        // ... and its apply repairs it.
        await applyPlan(next.plan!, { store: store(), reads: next.reads });
        expect(await ipt('api', '-S', 'MSEG-in')).not.toMatch(/198\.19\.255\.7/);
        await expectStateIsFullRead();
        const last = await planRun(dir, { store: store() });
        expect(last.plan!.hosts.map((h) => h.action)).toEqual(HOSTS.map(() => 'noop'));
        expect(await topo.tcpConnect('web', '198.18.0.12', 8000)).toBe('open');
      });

      it(`an owned chain created outside the scope between plan and apply is ${variant === 'nft' ? 'caught by the chain list (whole read, apply refused)' : 'not seen by the partial verify (no cheap chain list); the next plan removes it'}`, async () => {
        write({ ...BASE, hosts: HOSTS, apiPorts: 'tcp/8001' });
        const r = await planRun(dir, { store: store() });
        await ipt('api', '-N', 'MSEG-stray');
        const since = (await store().readJournal()).length;
        const result = await applyPlan(r.plan!, { store: store(), reads: r.reads });
        const api = result.hosts.find((h) => h.enforcer === 'api')!;
        const journal = (await store().readJournal()).slice(since).filter((j) => j.enforcer === 'api');
        if (variant === 'nft') {
          expect(api.status).toBe('failed');
          expect(api.error).toMatch(/orphan chain stray/);
        } else {
          expect(api.status).toBe('applied');
          expect(journal.find((j) => j.phase === 'verified')!.detail).toMatch(/partial read-back/);
        }
        const next = await planRun(dir, { store: store() });
        expect(next.plan!.hosts.find((h) => h.enforcer === 'api')!.action).toBe('update');
        await applyPlan(next.plan!, { store: store(), reads: next.reads });
        expect(await ipt('api', '-S')).not.toMatch(/MSEG-stray/);
        await expectStateIsFullRead();
        expect(await topo.tcpConnect('web', '198.18.0.12', 8001)).toBe('open');
      });
    },
    backend === 'iptables-legacy' ? legacySkipReason : undefined,
  );
}

defineSuite('iptables-nft', 'pvin');
defineSuite('iptables-legacy', 'pvil');
