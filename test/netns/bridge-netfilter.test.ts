/**
 * MSEG8260 on a real kernel (issue #12 item 2): bridged PUs behind a host whose namespace has
 * `net.bridge.bridge-nf-call-iptables` off would be switched past the forward hook, i.e. silently
 * unenforced. plan must report that host blocked, apply must leave it untouched and never write the
 * sysctl; once an operator turns it on, apply proceeds and the bridged pair is enforced.
 * On this kernel (6.x) the switches are per network namespace (brnf_net): a new namespace starts
 * with 1 and writing 0 in it leaves the root namespace's value alone, which the test checks.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { providerFor } from '../../providers';
import type { BackendName } from '../../providers/types';
import { describeAsRoot, legacySkipReason } from './harness';
import { ForwardTopology, FWD } from './forward-topology';
import { cli } from './reconcile-suite';

const SWITCHES = ['net.bridge.bridge-nf-call-iptables', 'net.bridge.bridge-nf-call-ip6tables'];

function config(t: ForwardTopology, backend: BackendName): string {
  const pu = (name: string, addr: string, tag: string) =>
    `processing_unit "${name}" {\n  namespace = "/b"\n  enforcer  = enforcer.gw.name\n  addresses = ["${addr}"]\n  tags      = ["${tag}"]\n}`;
  return [
    'namespace "/b" {\n  default_incoming_action = "reject"\n  default_outgoing_action = "reject"\n}',
    `enforcer "gw" {\n  namespace = "/b"\n  backend = "${backend}"\n  connection {\n    type = "netns"\n    netns = "${t.ns('gw')}"\n  }\n}`,
    pu('c1', FWD.c1, 'app=web'),
    pu('c2', FWD.c2, 'app=db'),
    'network_policy "web-to-db" {\n  namespace = "/b"\n  subject = [["app=web"]]\n  object = [["app=db"]]\n  ports = ["tcp/8080"]\n}',
  ].join('\n\n') + '\n';
}

for (const [backend, tag] of [
  ['nftables', 'bnnft'],
  ['iptables-nft', 'bnxnf'],
  ['iptables-legacy', 'bnleg'],
] as const) {
  describeAsRoot(
    `bridged PUs with bridge-nf-call off are blocked (MSEG8260): ${backend}`,
    () => {
      let t: ForwardTopology;
      let dir: string;
      const sysctl = async (value?: 0 | 1): Promise<string[]> => {
        if (value !== undefined) {
          for (const s of SWITCHES) {
            const r = await t.exec('gw', ['sysctl', '-q', '-w', `${s}=${value}`]);
            if (r.code !== 0) throw new Error(`${s}: ${r.stderr}`);
          }
        }
        const out: string[] = [];
        for (const s of SWITCHES) out.push((await t.exec('gw', ['sysctl', '-n', s])).stdout.trim());
        return out;
      };
      const rootValue = () => fs.readFileSync('/proc/sys/net/bridge/bridge-nf-call-iptables', 'utf8').trim();

      beforeAll(async () => {
        t = await ForwardTopology.create(tag);
        dir = fs.mkdtempSync(path.join(os.tmpdir(), `mseg-brnf-${tag}-`));
        fs.writeFileSync(path.join(dir, 'main.hcl'), config(t, backend));
        await t.listen('c1', 'tcp', 8080);
        await t.listen('c2', 'tcp', 8080);
      }, 120_000);

      afterAll(async () => {
        await t?.teardown();
        if (dir) fs.rmSync(dir, { recursive: true, force: true });
      }, 120_000);

      it('switches off in the host namespace only: plan and apply block the host, nothing changes, the sysctl stays 0', async () => {
        const root = rootValue();
        expect(await sysctl(0)).toEqual(['0', '0']);
        expect(rootValue()).toBe(root); // per network namespace on this kernel
        const plan = await cli('plan', dir, '--json');
        expect(plan.code).toBe(1);
        const doc = JSON.parse(plan.out);
        const gw = doc.hosts.find((h: { enforcer: string }) => h.enforcer === 'gw');
        expect(gw.blocked_by.map((b: { code: string }) => b.code)).toEqual(['MSEG8260']);
        expect(JSON.stringify(doc.diagnostics)).toMatch(/bridge-nf-call-iptables is 0/);
        const a = await cli('apply', dir, '--auto-approve');
        expect(a.code).toBe(1);
        expect(a.err).toMatch(/MSEG8260/);
        const live = await providerFor(backend).read(t.host('gw'));
        expect({ sets: live.sets, chains: live.chains, hooks: live.hooks.filter((h) => h.present) }).toEqual({ sets: [], chains: [], hooks: [] });
        expect(await sysctl()).toEqual(['0', '0']);
        // Why it must block: the bridge switches c2→c1 past netfilter, so no rule could refuse it.
        expect(await t.tcp('c2', FWD.c1, 8080)).toBe('open');
      }, 300_000);

      it('turned on by the operator, apply proceeds and the bridged pair is enforced; destroy leaves nothing', async () => {
        expect(await sysctl(1)).toEqual(['1', '1']);
        const a = await cli('apply', dir, '--auto-approve');
        expect({ code: a.code, err: a.err }).toEqual({ code: 0, err: '' });
        expect(await t.tcp('c1', FWD.c2, 8080)).toBe('open');
        expect(await t.tcp('c2', FWD.c1, 8080)).toBe('refused');
        const d = await cli('destroy', dir, '--auto-approve');
        expect(d.code).toBe(0);
        const live = await providerFor(backend).read(t.host('gw'));
        expect({ sets: live.sets, chains: live.chains, hooks: live.hooks.filter((h) => h.present) }).toEqual({ sets: [], chains: [], hooks: [] });
      }, 300_000);
    },
    backend === 'iptables-legacy' ? legacySkipReason : undefined,
  );
}
