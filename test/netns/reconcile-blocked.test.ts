/**
 * DESIGN §4: an enforcer older than 3.12 cannot enforce external networks that use service_ports,
 * so the plan fails FOR THAT ENFORCER (naming policy and network) instead of silently dropping the
 * rule, while the other hosts are planned and applied as usual. Real hosts (nftables namespaces).
 * Addresses: web 198.18.0.11 (enforcer "web", current), legacy 198.18.0.12 (enforcer "old", 3.11).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { LocalStateStore } from '../../src/state';
import { cli } from './reconcile-suite';
import { Topology, describeAsRoot } from './harness';

const NODES = [
  { name: 'web', v4: '198.18.0.11', v6: '2001:2::11' },
  { name: 'old', v4: '198.18.0.12', v6: '2001:2::12' },
];

function config(topo: Topology, oldVersion: string): string {
  const host = (name: string, version: string, addr: string) =>
    `enforcer "${name}" {\n  backend = "nftables"\n  version = "${version}"\n  connection {\n    type  = "netns"\n    netns = "${topo.nsName(name)}"\n  }\n}\n` +
    `processing_unit "${name}" {\n  enforcer  = enforcer.${name}.name\n  addresses = ["${addr}"]\n  tags      = ["app=${name}"]\n}\n`;
  return [
    host('web', '3.14.0', '198.18.0.11'),
    host('old', oldVersion, '198.18.0.12'),
    'external_network "dns" {\n  entries       = ["198.19.53.0/24"]\n  service_ports = ["udp/53"]\n}\n',
    'network_policy "dns-out" {\n  subject           = [["$identity=processingunit"]]\n  object            = [["$name=dns"]]\n  apply_policy_mode = "outgoing"\n}\n',
    'network_policy "web-to-old" {\n  subject = [["app=web"]]\n  object  = [["app=old"]]\n  ports   = ["tcp/8000"]\n}\n',
  ].join('\n');
}

describeAsRoot('an enforcer that cannot enforce its rules fails alone', () => {
  let topo: Topology;
  let dir: string;
  const ours = async (node: string) => (await topo.mustExec(node, ['nft', 'list', 'ruleset'])).includes('table inet microseg');

  beforeAll(async () => {
    topo = await Topology.create('rblk', NODES);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mseg-blocked-'));
  });

  afterAll(async () => {
    await topo?.teardown();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('plan names the enforcer, policy and network, and fails (exit 1) while planning the other host', async () => {
    fs.writeFileSync(path.join(dir, 'main.hcl'), config(topo, '3.11.0'));
    const p = await cli('plan', dir);
    expect(p.code).toBe(1);
    expect(p.err).toMatch(/Enforcer old \(version 3\.11\.0\) cannot enforce network_policy\.dns-out toward external_network\.dns, which uses service_ports/);
    expect(p.out).toMatch(/\+ enforcer web \(nftables\) will be programmed/);
    expect(p.out).toMatch(/! enforcer old \(nftables\): will NOT be applied \(keeps its current rules\)/);
    const json = JSON.parse((await cli('plan', dir, '--json')).out);
    expect(json.hosts.find((h: { enforcer: string }) => h.enforcer === 'old').blocked_by).toEqual([{ code: 'MSEG6001', enforcer: 'old', summary: expect.stringMatching(/3\.11\.0/) }]);
    expect(json.hosts.find((h: { enforcer: string }) => h.enforcer === 'web').blocked_by).toBeUndefined();
  });

  it('apply programs the current host, leaves the old one untouched, says why, and exits 1', async () => {
    const a = await cli('apply', dir, '--auto-approve');
    expect(a.code).toBe(1);
    expect(a.out + a.err).toMatch(/enforcer "old" was not touched: Enforcer old \(version 3\.11\.0\) cannot enforce/);
    expect(await ours('web')).toBe(true);
    expect(await ours('old')).toBe(false);
    const state = await new LocalStateStore(dir).load();
    expect(state?.hosts.web.status).toBe('applied');
    expect(state?.hosts.old).toBeUndefined(); // never applied, so nothing of it is recorded as owned
  });

  it('once the enforcer is upgraded, the next apply programs it and the plan converges', async () => {
    fs.writeFileSync(path.join(dir, 'main.hcl'), config(topo, '3.12.0'));
    const a = await cli('apply', dir, '--auto-approve');
    expect(a.err).not.toMatch(/error:/);
    expect(a.code).toBe(0);
    expect(await ours('old')).toBe(true);
    const p = await cli('plan', dir, '--detailed-exitcode');
    expect(p.code).toBe(0);
  });
});
