/**
 * plan --explain and the policy-test gate, on real hosts (nftables): after an apply, a plan lists
 * exactly the connections whose verdict a change flips, computed against the model state recorded
 * at that apply; and a failing `expect` block stops plan and apply before any host is touched.
 * Addresses as in reconcile-suite.ts (web 198.18.0.11, api .12, db .13).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { LocalStateStore } from '../../src/state';
import { BASE, NODES, cli, configHcl, type ConfigSpec } from './reconcile-suite';
import { Topology, describeAsRoot } from './harness';

const HOSTS = ['web', 'api', 'db'];
const EXPECT_WEB_API_8000 = 'expect "web-reaches-api" {\n  from    = "web"\n  to      = "api"\n  port    = "tcp/8000"\n  verdict = "allow"\n}\n';

describeAsRoot('plan --explain and expectations on a real kernel', () => {
  let topo: Topology;
  let dir: string;
  const write = (spec: ConfigSpec, extra = '') =>
    fs.writeFileSync(path.join(dir, 'main.hcl'), configHcl(topo, 'nftables', spec) + extra);
  const rulesets = () => Promise.all(HOSTS.map((h) => topo.mustExec(h, ['nft', 'list', 'ruleset'])));

  beforeAll(async () => {
    topo = await Topology.create('rexp', NODES.filter((n) => HOSTS.includes(n.name)));
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mseg-explain-'));
  });

  afterAll(async () => {
    await topo?.teardown();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('before any apply, --explain says there is nothing to compare with', async () => {
    write({ ...BASE, hosts: HOSTS }, EXPECT_WEB_API_8000);
    const p = await cli('plan', dir, '--explain');
    expect(p.code).toBe(0);
    expect(p.out).toMatch(/nothing was fully applied yet/);
  });

  it('apply records the model; an unchanged configuration explains no flips', async () => {
    const a = await cli('apply', dir, '--auto-approve');
    expect(a.err).not.toMatch(/error:/); // tmp-ping matches nothing with 3 hosts: warnings only
    expect(a.code).toBe(0);
    const state = await new LocalStateStore(dir).load();
    expect(state?.applied_model?.networkPolicies.map((p) => p.name)).toEqual(['no-web-to-db', 'tmp-ping', 'to-db', 'web-to-api']);
    const p = await cli('plan', dir, '--explain', '--json');
    expect(p.code).toBe(0);
    expect(JSON.parse(p.out).explain).toEqual([]);
  });

  it('a changed port range lists exactly the flipped connections, attributed to policies', async () => {
    write({ ...BASE, hosts: HOSTS, apiPorts: 'tcp/8001' });
    const p = await cli('plan', dir, '--explain', '--json');
    expect(p.code).toBe(0);
    const flips = JSON.parse(p.out).explain as Array<Record<string, unknown>>;
    expect(flips).toEqual([
      { from: 'web', to: 'api', port: 'tcp/8000', before: 'allow', after: 'reject', policy_before: 'web-to-api', policy_after: 'default' },
      { from: 'web', to: 'api', port: 'tcp/8001', before: 'reject', after: 'allow', policy_before: 'default', policy_after: 'web-to-api' },
    ]);
    const human = await cli('plan', dir, '--explain');
    expect(human.out).toMatch(/Connections whose verdict changes \(2\):\n\s+web → api tcp\/8000: allow → reject \(policy web-to-api → namespace default\)/);
  });

  it('a failing expectation stops plan and apply before any host is contacted', async () => {
    write({ ...BASE, hosts: HOSTS, apiPorts: 'tcp/8001' }, EXPECT_WEB_API_8000);
    const before = await rulesets();
    const serial = (await new LocalStateStore(dir).load())?.serial;
    const p = await cli('plan', dir);
    expect(p.code).toBe(1);
    expect(p.err).toMatch(/error: Expectation "web-reaches-api" fails: web → api tcp\/8000 expected allow, got reject \(decided by the namespace default\)/);
    expect(p.err).toMatch(/No host was contacted/);
    const a = await cli('apply', dir, '--auto-approve');
    expect(a.code).toBe(1);
    expect(await rulesets()).toEqual(before);
    expect((await new LocalStateStore(dir).load())?.serial).toBe(serial);
  });
});
