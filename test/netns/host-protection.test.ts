/**
 * Host protection on a real kernel (issue 12 item 4), for each backend. One protected host
 * (`enforcer { host_protection = true }` + `processing_unit { type = "host" }`) and one remote
 * namespace on the harness bridge. microseg programs the host through the CLI; real packets decide:
 *
 * - policies on the host's own addresses (IPv4 and IPv6) allow and refuse TCP, UDP and ICMP from
 *   the remote as declared, both directions;
 * - loopback keeps working (the host to its own address and to 127.0.0.1), though the default
 *   rejects everything;
 * - a real resolver in the host's namespace (dnsmasq on 127.0.0.53 and 127.0.0.1:53, no cache,
 *   forwarding to a dnsmasq upstream on the remote) answers dig with a default-reject policy
 *   (the seed's issue #738), and stops answering when the outbound failsafe is emptied (the
 *   control that proves the host's egress is really enforced and the failsafe is what lets the
 *   resolver's upstream queries out);
 * - the inbound failsafe port (tcp/22 by default) stays reachable under a policy that rejects it,
 *   and follows the profile's host_failsafe_inbound when that is set;
 * - drift on a host-protection rule is seen and repaired; destroy leaves zero owned objects.
 *
 * - the offline trace agrees with every probe and names the failsafe where it decides.
 *
 * Addresses: host 198.18.0.21 / 2001:2::21, remote 198.18.0.22 / 2001:2::22 (harness.ts conventions).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { providerFor } from '../../providers';
import { nftName } from '../../providers/nftables/names';
import { runPipeline } from '../../src/pipeline';
import { traceFlow } from '../../src/trace';
import type { BackendName } from '../../providers/types';
import { describeAsRoot, legacySkipReason, Topology } from './harness';
import { cli } from './reconcile-suite';

const HOST = '198.18.0.21';
const REMOTE = '198.18.0.22';
const HOST6 = '2001:2::21';
const REMOTE6 = '2001:2::22';
const NODES = [
  { name: 'host', v4: HOST, v6: HOST6 },
  { name: 'remote', v4: REMOTE, v6: REMOTE6 },
];
const PROBE_NAME = 'probe.mseg.test';
const PROBE_ANSWER = '198.18.7.7';

interface Opts {
  /** host_failsafe_inbound / _outbound of the host's profile; undefined = no profile (defaults). */
  inbound?: string[];
  outbound?: string[];
}

function config(t: Topology, backend: BackendName, o: Opts = {}): string {
  const list = (l: string[]) => `[${l.map((x) => `"${x}"`).join(', ')}]`;
  const profile = o.inbound !== undefined || o.outbound !== undefined;
  const pol = (name: string, subject: string, object: string, ports: string, mode: string, action = 'allow') =>
    `network_policy "${name}" {\n  namespace = "/h"\n  subject = [["${subject}"]]\n  object = [["${object}"]]\n  ports = ${ports}\n  apply_policy_mode = "${mode}"\n  action = "${action}"\n}`;
  return [
    'namespace "/h" {\n  default_incoming_action = "reject"\n  default_outgoing_action = "reject"\n}',
    ...(profile
      ? [
          `enforcer_profile "hp" {\n  namespace = "/h"\n${o.inbound !== undefined ? `  host_failsafe_inbound = ${list(o.inbound)}\n` : ''}${o.outbound !== undefined ? `  host_failsafe_outbound = ${list(o.outbound)}\n` : ''}}`,
        ]
      : []),
    `enforcer "host" {\n  namespace = "/h"\n  backend = "${backend}"\n  host_protection = true\n${profile ? '  profile = "hp"\n' : ''}  connection {\n    type = "netns"\n    netns = "${t.nsName('host')}"\n  }\n}`,
    `processing_unit "host" {\n  namespace = "/h"\n  type = "host"\n  enforcer = enforcer.host.name\n  addresses = ["${HOST}", "${HOST6}"]\n  tags = ["role=host"]\n}`,
    `external_network "admins" {\n  namespace = "/h"\n  entries = ["${REMOTE}/32", "${REMOTE6}/128"]\n  tags = ["net=admin"]\n}`,
    pol('admins-in', 'net=admin', 'role=host', '["tcp/8080", "udp/9053", "icmp/8", "icmp6/128"]', 'incoming'),
    // Rejects what the inbound failsafe keeps open: the failsafe must win.
    pol('no-ssh', 'net=admin', 'role=host', '["tcp/22"]', 'incoming', 'reject'),
    pol('host-out', 'role=host', 'net=admin', '["tcp/7070"]', 'outgoing'),
  ].join('\n\n') + '\n';
}

for (const [backend, tag] of [
  ['nftables', 'hpnft'],
  ['iptables-nft', 'hpxnf'],
  ['iptables-legacy', 'hpleg'],
] as const) {
  describeAsRoot(
    `host protection on a real kernel: ${backend}`,
    () => {
      let t: Topology;
      let dir: string;
      const write = (o?: Opts) => fs.writeFileSync(path.join(dir, 'main.hcl'), config(t, backend, o));
      const apply = async () => {
        const r = await cli('apply', dir, '--auto-approve');
        expect({ code: r.code, err: r.err }).toEqual({ code: 0, err: '' });
      };
      const dig = async (server: string): Promise<string> => {
        const r = await t.exec('host', ['dig', '+short', '+time=2', '+tries=1', `@${server}`, PROBE_NAME, 'A'], { timeoutMs: 15_000 });
        return r.stdout.trim();
      };

      beforeAll(async () => {
        t = await Topology.create(tag, NODES);
        dir = fs.mkdtempSync(path.join(os.tmpdir(), `mseg-${tag}-`));
        // Listeners: on the host, allowed (8080, 9053), default-rejected (8081, 9054), the failsafe
        // (22, rejected by policy no-ssh) and a custom failsafe port (2222); on the remote, the
        // host's allowed (7070) and default-rejected (7071) destinations.
        for (const f of [4, 6] as const) {
          for (const p of [8080, 8081, 22, 2222]) await t.listen('host', 'tcp', p, f);
          for (const p of [9053, 9054]) await t.listen('host', 'udp', p, f);
          for (const p of [7070, 7071]) await t.listen('remote', 'tcp', p, f);
        }
        // The upstream DNS server on the remote, and the host's own caching-disabled forwarder on
        // 127.0.0.53 and 127.0.0.1 (what systemd-resolved / a local dnsmasq are), both real dnsmasq.
        const common = ['dnsmasq', '--keep-in-foreground', '--no-resolv', '--no-hosts', '--bind-interfaces', '--user=root', '--pid-file', '--log-facility=-'];
        t.daemon('remote', [...common, `--listen-address=${REMOTE}`, `--address=/${PROBE_NAME}/${PROBE_ANSWER}`]);
        t.daemon('host', [...common, '--listen-address=127.0.0.53', '--listen-address=127.0.0.1', '--except-interface=eth0', `--server=${REMOTE}`, '--cache-size=0']);
        for (let i = 0; i < 100 && (await dig('127.0.0.53')) !== PROBE_ANSWER; i++) await new Promise((r) => setTimeout(r, 100));
        // Without microseg everything answers: the probes below are about microseg's rules.
        expect(await dig('127.0.0.53')).toBe(PROBE_ANSWER);
        expect(await t.tcpConnect('remote', HOST, 8081)).toBe('open');
      }, 120_000);

      afterAll(async () => {
        if (dir) {
          await cli('destroy', dir, '--auto-approve').catch(() => undefined);
          fs.rmSync(dir, { recursive: true, force: true });
        }
        await t?.teardown();
      }, 120_000);

      it('plan shows the host protection; policies on the host address decide TCP, UDP and ICMP both ways', async () => {
        write();
        const plan = await cli('plan', dir);
        expect(plan.out).toMatch(/host protection:/);
        expect(plan.out).toMatch(new RegExp(`host host \\(/h\\) on ${HOST.replace(/\./g, '\\.')}`));
        expect(plan.out).toMatch(/failsafe inbound tcp\/22, udp\/68 \(default\); outbound udp\/53, tcp\/53, udp\/67 \(default\)/);
        const json = JSON.parse((await cli('plan', dir, '--json')).out) as { hosts: Array<{ host_protection?: unknown }> };
        expect(json.hosts[0].host_protection).toMatchObject({ pu: 'host', addresses: [HOST, HOST6], failsafe_inbound: ['tcp/22', 'udp/68'] });
        await apply();

        // Remote → host, as declared.
        expect(await t.tcpConnect('remote', HOST, 8080)).toBe('open');
        expect(await t.tcpConnect('remote', HOST, 8081)).toBe('refused');
        expect(await t.udpExchange('remote', HOST, 9053, 'allowed')).toBe('allowed');
        expect(await t.udpExchange('remote', HOST, 9054, 'refused')).toBeNull();
        expect(await t.ping('remote', HOST)).toBe(true);
        // Host → remote: only tcp/7070 is allowed outgoing; ICMP out is default-rejected.
        expect(await t.tcpConnect('host', REMOTE, 7070)).toBe('open');
        expect(await t.tcpConnect('host', REMOTE, 7071)).toBe('refused');
        expect(await t.ping('host', REMOTE)).toBe(false);

        // The same over IPv6 (neighbour discovery passes before any policy).
        expect(await t.tcpConnect('remote', HOST6, 8080)).toBe('open');
        expect(await t.tcpConnect('remote', HOST6, 8081)).toBe('refused');
        expect(await t.udpExchange('remote', HOST6, 9053, 'allowed6')).toBe('allowed6');
        expect(await t.udpExchange('remote', HOST6, 9054, 'refused6')).toBeNull();
        expect(await t.ping('remote', HOST6)).toBe(true);
        expect(await t.tcpConnect('remote', HOST6, 22)).toBe('open');
        expect(await t.tcpConnect('host', REMOTE6, 7070)).toBe('open');
        expect(await t.tcpConnect('host', REMOTE6, 7071)).toBe('refused');
      }, 300_000);

      it('the offline trace agrees with every probe, naming the failsafe where it decides', async () => {
        const p = await runPipeline(dir, { compile: true });
        expect(p.stage).toBe('done');
        const verdict = (from: string, to: string, port: string) => traceFlow(p.model!, p.compiled!.rulesets, { from, to, port }).trace?.verdict;
        const probes: Array<[string, string, string, boolean]> = [
          ['admins', 'host', 'tcp/8080', (await t.tcpConnect('remote', HOST, 8080)) === 'open'],
          ['admins', 'host', 'tcp/8081', (await t.tcpConnect('remote', HOST, 8081)) === 'open'],
          ['admins', 'host', 'tcp/22', (await t.tcpConnect('remote', HOST, 22)) === 'open'],
          ['admins', 'host', 'udp/9053', (await t.udpExchange('remote', HOST, 9053)) !== null],
          ['admins', 'host', 'udp/9054', (await t.udpExchange('remote', HOST, 9054)) !== null],
          ['admins', 'host', 'icmp/8/0', await t.ping('remote', HOST)],
          ['host', 'admins', 'tcp/7070', (await t.tcpConnect('host', REMOTE, 7070)) === 'open'],
          ['host', 'admins', 'tcp/7071', (await t.tcpConnect('host', REMOTE, 7071)) === 'open'],
          ['host', 'admins', 'icmp/8/0', await t.ping('host', REMOTE)],
        ];
        expect(probes.map(([f, to, port]) => `${f}→${to} ${port} ${verdict(f, to, port)}`)).toEqual(
          probes.map(([f, to, port, open]) => `${f}→${to} ${port} ${open ? 'allow' : 'reject'}`),
        );
        const ssh = traceFlow(p.model!, p.compiled!.rulesets, { from: 'admins', to: 'host', port: 'tcp/22' }).trace!;
        expect(ssh.destination).toMatchObject({ verdict: 'allow', origin: 'host-protection' });
        const dns = traceFlow(p.model!, p.compiled!.rulesets, { from: 'host', to: 'admins', port: 'udp/53' }).trace!;
        expect(dns.source).toMatchObject({ verdict: 'allow', origin: 'host-protection' });
      }, 300_000);

      it('loopback keeps working: the host reaches itself on its own address and on 127.0.0.1', async () => {
        expect(await t.tcpConnect('host', HOST, 8081)).toBe('open');
        expect(await t.tcpConnect('host', '127.0.0.1', 8081)).toBe('open');
        expect(await t.udpExchange('host', HOST, 9054, 'self')).toBe('self');
        expect(await t.ping('host', HOST)).toBe(true);
        expect(await t.ping('host', '127.0.0.1')).toBe(true);
        expect(await t.tcpConnect('host', HOST6, 8081)).toBe('open');
        expect(await t.tcpConnect('host', '::1', 8081)).toBe('open');
      }, 120_000);

      it('the local resolver on 127.0.0.53 and 127.0.0.1:53 answers through its upstream under default reject', async () => {
        expect(await dig('127.0.0.53')).toBe(PROBE_ANSWER);
        expect(await dig('127.0.0.1')).toBe(PROBE_ANSWER);
        // The host itself may not query the remote directly on any other port: DNS works because
        // of the outbound failsafe udp/53, not because egress is open.
        expect(await t.tcpConnect('host', REMOTE, 7071)).toBe('refused');
      }, 120_000);

      it('without the outbound failsafe the resolver cannot reach its upstream (control)', async () => {
        write({ outbound: [] });
        await apply();
        expect(await dig('127.0.0.53')).toBe('');
        // Loopback itself is still fine: dnsmasq answers, just without an upstream.
        const r = await t.exec('host', ['dig', '+time=3', '+tries=1', '@127.0.0.53', PROBE_NAME, 'A'], { timeoutMs: 15_000 });
        expect(r.stdout).toMatch(/status: (SERVFAIL|REFUSED)|connection timed out/);
        write();
        await apply();
        expect(await dig('127.0.0.53')).toBe(PROBE_ANSWER);
      }, 300_000);

      it('the failsafe port stays reachable under a policy that rejects it, and follows host_failsafe_inbound', async () => {
        expect(await t.tcpConnect('remote', HOST, 22)).toBe('open');
        expect(await t.tcpConnect('remote', HOST, 2222)).toBe('refused');
        write({ inbound: ['tcp/2222'] });
        await apply();
        expect(await t.tcpConnect('remote', HOST, 22)).toBe('refused');
        expect(await t.tcpConnect('remote', HOST, 2222)).toBe('open');
        write();
        await apply();
        expect(await t.tcpConnect('remote', HOST, 22)).toBe('open');
      }, 300_000);

      it('a host-protection rule removed behind microseg\'s back is drift, and apply puts it back', async () => {
        // The rule that accepts the host's loopback traffic in its ingress chain, from the compiled ruleset.
        write();
        await apply();
        const p = await runPipeline(dir, { compile: true });
        expect(p.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
        const rs = p.compiled!.rulesets.find((r) => r.enforcer === 'host')!;
        const ingress = rs.chains.find((c) => c.rules.some((r) => r.origin?.kind === 'host-protection' && r.match.iif === 'lo'))!;
        const loRule = ingress.rules.find((r) => r.origin?.kind === 'host-protection' && r.match.iif === 'lo')!;
        const kernelChain = (await providerFor(backend).read(t.host('host'))).chains.find((c) => c.ruleIds.includes(loRule.id))!.name;
        await deleteRule(t, backend, kernelChain, loRule.id);
        expect(await t.tcpConnect('host', HOST, 8081)).toBe('refused');
        const drift = await cli('drift', dir);
        expect(drift.code).toBe(2);
        expect(drift.out).toContain(loRule.id);
        await apply();
        expect(await t.tcpConnect('host', HOST, 8081)).toBe('open');
        expect((await cli('drift', dir)).code).toBe(0);
      }, 300_000);

      it('destroy leaves zero owned objects and the host as it was', async () => {
        const d = await cli('destroy', dir, '--auto-approve');
        expect({ code: d.code, err: d.err }).toEqual({ code: 0, err: '' });
        const live = await providerFor(backend).read(t.host('host'));
        expect({ sets: live.sets, chains: live.chains, hooks: live.hooks.filter((h) => h.present) }).toEqual({ sets: [], chains: [], hooks: [] });
        const text = [
          (await t.exec('host', ['nft', 'list', 'ruleset'])).stdout,
          (await t.exec('host', [backend === 'iptables-legacy' ? 'iptables-legacy-save' : 'iptables-nft-save'])).stdout,
          (await t.exec('host', ['ipset', 'list', '-n'])).stdout,
        ].join('\n');
        expect(text).not.toMatch(/microseg|MSEG-|mseg-/);
        expect(await t.tcpConnect('remote', HOST, 8081)).toBe('open');
        expect(await t.tcpConnect('host', REMOTE, 7071)).toBe('open');
        expect(await dig('127.0.0.53')).toBe(PROBE_ANSWER);
      }, 300_000);
    },
    backend === 'iptables-legacy' ? legacySkipReason : undefined,
  );
}

/** deleteRule removes one owned rule by its id (comment) with the backend's own tool, as an admin would. */
async function deleteRule(t: Topology, backend: BackendName, chain: string, id: string): Promise<void> {
  if (backend === 'nftables') {
    const listing = await t.mustExec('host', ['nft', '-a', 'list', 'chain', 'inet', 'microseg', nftName(chain)]);
    const line = listing.split('\n').find((l) => l.includes(id));
    const handle = /# handle (\d+)/.exec(line ?? '')?.[1];
    if (!handle) throw new Error(`rule ${id} not in ${listing}`);
    await t.mustExec('host', ['nft', 'delete', 'rule', 'inet', 'microseg', nftName(chain), 'handle', handle]);
    return;
  }
  const save = backend === 'iptables-legacy' ? 'iptables-legacy-save' : 'iptables-nft-save';
  const bin = backend === 'iptables-legacy' ? 'iptables-legacy' : 'iptables-nft';
  const line = (await t.mustExec('host', [save, '-t', 'filter'])).split('\n').find((l) => l.startsWith('-A ') && l.includes(id));
  if (!line) throw new Error(`rule ${id} not found`);
  // `-A CHAIN spec` → `-D CHAIN spec`; the comment is quoted in the save output.
  const argv = line.replace(/^-A /, '-D ').match(/"[^"]*"|\S+/g)!.map((a) => a.replace(/^"(.*)"$/, '$1'));
  await t.mustExec('host', [bin, '-t', 'filter', ...argv]);
}
