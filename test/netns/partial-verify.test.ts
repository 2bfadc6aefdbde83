/**
 * Real-kernel tests of the partial read-back that verifies an incremental apply (src/apply
 * apply.ts readBackTouched; Provider.readPartial on nftables). A delta transaction is verified by
 * re-reading only the chains and sets it touched plus the hooks, laid over the plan's full read;
 * these tests prove on the kernel that
 *  - the state apply records from that merged view (fingerprint and owned objects) is exactly
 *    what a full read right after the apply gives;
 *  - a full sync (first apply) re-reads only its hooks and owned chain names (the table itself was
 *    committed whole), with the same recorded state; with fullReadBack it is read back whole;
 *  - the documented blind spot: a foreign edit to an untouched chain between the plan's read and
 *    the apply is not seen by the partial verify, and is drift the next plan reports and repairs.
 * Addresses: reconcile-suite.ts (web 198.18.0.11, api 198.18.0.12, db 198.18.0.13).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { applyPlan } from '../../src/apply';
import { planRun } from '../../src/plan';
import { LocalStateStore } from '../../src/state';
import { NftablesProvider } from '../../providers/nftables';
import { applyCapturing, expectStateIsFullRead as expectStateIsFullReadOn } from './partial-verify-helpers';
import { Topology, describeAsRoot } from './harness';
import { BASE, NODES, configHcl, type ConfigSpec } from './reconcile-suite';

const HOSTS = ['api', 'db', 'web']; // sorted, as plans list hosts

describeAsRoot('real kernel: nftables apply verified by a partial read-back', () => {
  let topo: Topology;
  let dir: string;
  const store = () => new LocalStateStore(dir);
  const provider = new NftablesProvider();
  const write = (s: ConfigSpec) => fs.writeFileSync(path.join(dir, 'main.hcl'), configHcl(topo, 'nftables', s));

  const apply = () => applyCapturing(dir);
  const expectStateIsFullRead = () => expectStateIsFullReadOn(dir, topo, provider, HOSTS);

  beforeAll(async () => {
    topo = await Topology.create('pv', NODES.filter((n) => HOSTS.includes(n.name)));
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mseg-partial-'));
    await topo.listen('api', 'tcp', 8000, 4);
    await topo.listen('api', 'tcp', 8001, 4);
    await topo.listen('db', 'tcp', 5432, 4);
  });

  afterAll(async () => {
    await topo?.teardown();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('the first apply (a full sync) reads back its hooks and owned chain names, and records what a full read gives', async () => {
    write({ ...BASE, hosts: HOSTS });
    const { verified } = await apply();
    expect([...verified.keys()].sort()).toEqual(HOSTS);
    for (const [e, detail] of verified) expect([e, detail]).toEqual([e, expect.stringMatching(/partial read-back: the hooks and owned chain names after a full sync/)]);
    await expectStateIsFullRead();
    expect(await topo.tcpConnect('web', '198.18.0.12', 8000)).toBe('open');
  });

  it('with fullReadBack a full sync is read back whole, and records the same state', async () => {
    for (const e of HOSTS) await topo.host(e).run(['nft', 'delete', 'table', 'inet', 'microseg']);
    const { verified } = await applyCapturing(dir, { fullReadBack: true });
    expect([...verified.keys()].sort()).toEqual(HOSTS);
    for (const [e, detail] of verified) expect([e, detail]).toEqual([e, expect.not.stringMatching(/partial/)]);
    await expectStateIsFullRead();
    expect(await topo.tcpConnect('web', '198.18.0.12', 8000)).toBe('open');
  });

  it('a delta is verified by a partial read-back, and records the fingerprint and owned objects a full read gives', async () => {
    write({ ...BASE, hosts: HOSTS, apiPorts: 'tcp/8001' });
    const { sent, verified } = await apply();
    const touched = [...sent.keys()].sort();
    expect(touched.length).toBeGreaterThan(0);
    for (const e of touched) {
      expect(sent.get(e)).not.toMatch(/^delete table/m); // a delta, not the full replace
      expect(verified.get(e)).toMatch(/partial read-back: \d+ chain\(s\), \d+ set\(s\) and the hooks/);
    }
    await expectStateIsFullRead();
    expect(await topo.tcpConnect('web', '198.18.0.12', 8001)).toBe('open');
    expect(await topo.tcpConnect('web', '198.18.0.12', 8000)).toBe('refused');
    // Nothing left to do: the recorded state and the hosts agree.
    const again = await planRun(dir, { store: store() });
    expect(again.plan!.hosts.map((h) => [h.enforcer, h.action, h.drift.length]).sort()).toEqual(HOSTS.map((e) => [e, 'noop', 0]));
  });

  it('a foreign edit to an untouched chain between plan and apply is not seen by the partial verify; the next plan reports and repairs it', async () => {
    write({ ...BASE, hosts: HOSTS });
    const r = await planRun(dir, { store: store() });
    const api = r.plan!.hosts.find((h) => h.enforcer === 'api')!;
    expect(api.action).toBe('update');
    // After the plan's read, someone appends a rule to api's dispatch chain `in`, which this
    // delta does not touch (the port change lives in api's PU chain).
    await topo.mustExec('api', ['nft', 'add', 'rule', 'inet', 'microseg', 'mseg-in', 'ip', 'saddr', '198.19.255.7', 'accept']);
    const result = await applyPlan(r.plan!, { store: store(), reads: r.reads });
    expect(result.hosts.find((h) => h.enforcer === 'api')!.status).toBe('applied');
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
    expect(await topo.mustExec('api', ['nft', 'list', 'chain', 'inet', 'microseg', 'mseg-in'])).not.toMatch(/198\.19\.255\.7/);
    await expectStateIsFullRead();
    const last = await planRun(dir, { store: store() });
    expect(last.plan!.hosts.map((h) => h.action)).toEqual(HOSTS.map(() => 'noop'));
  });
});
