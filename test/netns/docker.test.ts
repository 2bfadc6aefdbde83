/**
 * Living beside Docker (issue #12 item 3), for each backend, on a real kernel: the enforcer host
 * namespace has a bridge `docker0` with two "containers" behind it and an uplink to a remote host
 * (forward-topology.ts), and Docker 25's iptables ruleset for that host is replayed into it with
 * iptables-restore (test/fixtures/docker/docker25-iptables.rules: FORWARD policy DROP, DOCKER,
 * DOCKER-USER, DOCKER-ISOLATION-STAGE-1/2, nat MASQUERADE and two published ports, `-p 8080:80`
 * to web and `-p 8081:80` to db). The legacy backend replays it with iptables-legacy-restore, the
 * other two with iptables-nft-restore (Debian's default `iptables`).
 *
 * Proven with TCP, UDP and ICMP: microseg decides first for PU traffic (it refuses what Docker's
 * icc and outgoing ACCEPTs would let through), Docker's rules are byte-identical after apply and
 * after destroy (iptables-save without counters, microseg's lines left out), a published port
 * works where policy allows its container port and is refused where it does not, a Docker restart
 * re-inserting its FORWARD rules at the top is drift plan reports and apply repairs (iptables; on
 * nftables microseg's own base chain is out of Docker's reach), destroy leaves nothing owned.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { providerFor } from '../../providers';
import type { BackendName } from '../../providers/types';
import { describeAsRoot, legacySkipReason } from './harness';
import { ForwardTopology, FWD, type FwdNode } from './forward-topology';
import { cli } from './reconcile-suite';

const FIXTURE = path.join(__dirname, '..', 'fixtures', 'docker', 'docker25-iptables.rules');
const OWNED = /microseg|MSEG-|mseg-/;

/** The fixture's rules per table, comments left out: what iptables-save must print for Docker. */
function fixtureTables(): Record<'filter' | 'nat', string> {
  const out: Record<string, string[]> = {};
  let cur = '';
  for (const line of fs.readFileSync(FIXTURE, 'utf8').split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    if (line.startsWith('*')) cur = line.slice(1);
    (out[cur] ??= []).push(line);
  }
  return { filter: out.filter.join('\n'), nat: out.nat.join('\n') };
}

/** FORWARD's rules as dockerd wrote them, in order (the fixture's `-A FORWARD` lines). */
const DOCKER_FORWARD = fixtureTables()
  .filter.split('\n')
  .filter((l) => l.startsWith('-A FORWARD '))
  .map((l) => l.slice('-A FORWARD '.length).split(' '));

function config(t: ForwardTopology, backend: BackendName, publishWeb: boolean): string {
  const pu = (name: string, addr: string, tag: string) =>
    `processing_unit "${name}" {\n  namespace = "/d"\n  enforcer  = enforcer.gw.name\n  addresses = ["${addr}"]\n  tags      = ["${tag}"]\n  placement = "forwarded"\n}`;
  const pol = (name: string, subject: string, object: string, ports: string) =>
    `network_policy "${name}" {\n  namespace = "/d"\n  subject = [["${subject}"]]\n  object = [["${object}"]]\n  ports = ${ports}\n}`;
  const all = '["tcp/80", "udp/5353", "icmp/8"]';
  return [
    'namespace "/d" {\n  default_incoming_action = "reject"\n  default_outgoing_action = "reject"\n}',
    `enforcer "gw" {\n  namespace = "/d"\n  backend = "${backend}"\n  connection {\n    type = "netns"\n    netns = "${t.ns('gw')}"\n  }\n}`,
    pu('web', FWD.c1, 'app=web'),
    pu('db', FWD.c2, 'app=db'),
    'external_network "remote" {\n  namespace = "/d"\n  entries = ["198.18.42.2/32"]\n  tags = ["net=remote"]\n}',
    pol('web-to-db', 'app=web', 'app=db', all),
    pol('web-to-remote', 'app=web', 'net=remote', all),
    // The published port: Docker's DNAT (nat PREROUTING, before the forward hook) has already
    // rewritten host:8080 to web:80 when microseg sees the packet, so policy names the container's port.
    ...(publishWeb ? [pol('remote-to-web', 'net=remote', 'app=web', '["tcp/80"]')] : []),
  ].join('\n\n') + '\n';
}

type Probe = { name: string; from: FwdNode; to: string; tcp: number; udp?: number; icmp?: boolean };
const PROBES: Probe[] = [
  { name: 'web→db (same bridge)', from: 'c1', to: FWD.c2, tcp: 80, udp: 5353, icmp: true },
  { name: 'db→web (same bridge)', from: 'c2', to: FWD.c1, tcp: 80, udp: 5353, icmp: true },
  { name: 'web→remote (masqueraded)', from: 'c1', to: FWD.rem, tcp: 80, udp: 5353, icmp: true },
  { name: 'db→remote (masqueraded)', from: 'c2', to: FWD.rem, tcp: 80, udp: 5353, icmp: true },
  { name: 'remote→host:8080 (published web:80)', from: 'rem', to: FWD.gwUplink, tcp: 8080 },
  { name: 'remote→host:8081 (published db:80)', from: 'rem', to: FWD.gwUplink, tcp: 8081 },
];

for (const [backend, tag] of [
  ['nftables', 'dknft'],
  ['iptables-nft', 'dkxnf'],
  ['iptables-legacy', 'dkleg'],
] as const) {
  const flavour = backend === 'iptables-legacy' ? 'legacy' : 'nft';
  describeAsRoot(
    `beside a replayed Docker ruleset: ${backend} (Docker's rules through iptables-${flavour})`,
    () => {
      let t: ForwardTopology;
      let dir: string;

      /** Docker's rules as iptables-save prints them, counters zeroed, microseg's lines left out. */
      const dockerRules = async (): Promise<Record<'filter' | 'nat', string>> => {
        const save = async (table: string) => {
          const r = await t.exec('gw', [`iptables-${flavour}-save`, '-t', table]);
          if (r.code !== 0) throw new Error(`iptables-${flavour}-save -t ${table}: ${r.stderr}`);
          return r.stdout
            .split('\n')
            .filter((l) => l.trim() !== '' && !l.startsWith('#') && !OWNED.test(l))
            .map((l) => l.replace(/\[\d+:\d+\]$/, '[0:0]'))
            .join('\n');
        };
        return { filter: await save('filter'), nat: await save('nat') };
      };
      const forwardRules = async (): Promise<string[]> =>
        (await t.exec('gw', [`iptables-${flavour}`, ...(flavour === 'legacy' ? ['--modprobe=/bin/false'] : []), '-S', 'FORWARD'])).stdout
          .split('\n')
          .filter((l) => l.startsWith('-A FORWARD'));
      const probe = async (p: Probe) => {
        const out: Record<string, unknown> = { name: p.name, tcp: await t.tcp(p.from, p.to, p.tcp) };
        if (p.udp !== undefined) out.udp = await t.udp(p.from, p.to, p.udp);
        if (p.icmp) out.icmp = await t.ping(p.from, p.to);
        return out;
      };
      const expectProbes = async (verdicts: Record<string, boolean>) => {
        const got = [];
        const want = [];
        for (const p of PROBES) {
          got.push(await probe(p));
          const ok = verdicts[p.name];
          want.push({
            name: p.name,
            tcp: ok ? 'open' : 'refused',
            ...(p.udp !== undefined ? { udp: ok } : {}),
            ...(p.icmp ? { icmp: ok } : {}),
          });
        }
        expect(got).toEqual(want);
      };
      /** dockerd restarting: each of its FORWARD rules deleted and inserted again at the top. */
      const restartDocker = async () => {
        const bin = [`iptables-${flavour}`, ...(flavour === 'legacy' ? ['--modprobe=/bin/false'] : [])];
        for (const spec of DOCKER_FORWARD) {
          const r = await t.exec('gw', [...bin, '-D', 'FORWARD', ...spec]);
          if (r.code !== 0) throw new Error(`-D FORWARD ${spec.join(' ')}: ${r.stderr}`);
        }
        for (const spec of [...DOCKER_FORWARD].reverse()) {
          const r = await t.exec('gw', [...bin, '-I', 'FORWARD', ...spec]);
          if (r.code !== 0) throw new Error(`-I FORWARD ${spec.join(' ')}: ${r.stderr}`);
        }
      };
      const ALL_OPEN = Object.fromEntries(PROBES.map((p) => [p.name, true]));
      const POLICY = {
        'web→db (same bridge)': true,
        'db→web (same bridge)': false,
        'web→remote (masqueraded)': true,
        'db→remote (masqueraded)': false,
        'remote→host:8080 (published web:80)': true,
        'remote→host:8081 (published db:80)': false,
      };

      beforeAll(async () => {
        t = await ForwardTopology.create(tag, { bridge: 'docker0' });
        dir = fs.mkdtempSync(path.join(os.tmpdir(), `mseg-docker-${tag}-`));
        // What a Docker host has: bridged traffic through iptables (dockerd writes this switch when
        // it needs it, icc=false; hosts running Docker and Kubernetes have it on).
        const sys = await t.exec('gw', ['sysctl', '-q', '-w', 'net.bridge.bridge-nf-call-iptables=1']);
        if (sys.code !== 0) throw new Error(`bridge-nf-call-iptables: ${sys.stderr}`);
        const r = await t.exec('gw', [`iptables-${flavour}-restore`], { stdin: fs.readFileSync(FIXTURE, 'utf8') });
        if (r.code !== 0) throw new Error(`replaying the Docker ruleset: ${r.stderr}`);
        for (const n of ['c1', 'c2', 'rem'] as const) {
          await t.listen(n, 'tcp', 80);
          await t.listen(n, 'udp', 5353);
        }
      }, 120_000);

      afterAll(async () => {
        await t?.teardown();
        if (dir) fs.rmSync(dir, { recursive: true, force: true });
      }, 120_000);

      it('the replay is the fixture, rule for rule, and Docker alone forwards every probe', async () => {
        expect(await dockerRules()).toEqual(fixtureTables());
        await expectProbes(ALL_OPEN);
      }, 300_000);

      it('apply: microseg decides first for PU traffic, published ports follow policy, Docker\'s rules are byte-identical', async () => {
        const before = await dockerRules();
        fs.writeFileSync(path.join(dir, 'main.hcl'), config(t, backend, true));
        const a = await cli('apply', dir, '--auto-approve');
        expect({ code: a.code, err: a.err }).toEqual({ code: 0, err: '' });
        // db→web and db→remote are ACCEPTed by Docker (icc, outgoing): refused only if microseg comes first.
        await expectProbes(POLICY);
        expect(await dockerRules()).toEqual(before);
        if (backend !== 'nftables') {
          expect((await forwardRules())[0]).toMatch(/^-A FORWARD -m comment --comment "?microseg:hook"? -j MSEG-fwd$/);
        } else {
          // Docker's tables are iptables-nft's; microseg's forward base chain is its own table's.
          expect(await forwardRules()).toEqual(DOCKER_FORWARD.map((s) => `-A FORWARD ${s.join(' ')}`));
          const own = await t.exec('gw', ['nft', 'list', 'chain', 'inet', 'microseg', 'mseg-fwd']);
          expect(own.stdout).toMatch(/type filter hook forward priority filter; policy accept;/);
        }
      }, 600_000);

      it('a published port whose container port no policy allows is refused; allowing it opens it', async () => {
        fs.writeFileSync(path.join(dir, 'main.hcl'), config(t, backend, false));
        expect((await cli('apply', dir, '--auto-approve')).code).toBe(0);
        expect(await t.tcp('rem', FWD.gwUplink, 8080)).toBe('refused');
        fs.writeFileSync(path.join(dir, 'main.hcl'), config(t, backend, true));
        expect((await cli('apply', dir, '--auto-approve')).code).toBe(0);
        expect(await t.tcp('rem', FWD.gwUplink, 8080)).toBe('open');
      }, 600_000);

      it('a Docker restart re-inserting its FORWARD rules at the top: drift plan reports and apply repairs', async () => {
        const before = await dockerRules();
        await restartDocker();
        const plan = await cli('plan', dir, '--json', '--detailed-exitcode');
        const gw = JSON.parse(plan.out).hosts.find((h: { enforcer: string }) => h.enforcer === 'gw');
        if (backend === 'nftables') {
          // Docker reorders its own tables only; microseg's base chain still sees every forwarded packet.
          expect({ code: plan.code, hooks: gw.hooks }).toEqual({ code: 0, hooks: [] });
          await expectProbes(POLICY);
          return;
        }
        expect(plan.code).toBe(2);
        expect(gw.hooks).toEqual([expect.objectContaining({ hook: 'forward', family: 4, action: 'update', reason: 'not-first' })]);
        const human = await cli('plan', dir);
        expect(human.out).toMatch(/forward/);
        // Until the repair Docker's ACCEPTs come first and decide: the window a restart opens.
        expect(await t.tcp('c2', FWD.c1, 80)).toBe('open');
        const a = await cli('apply', dir, '--auto-approve');
        expect({ code: a.code, err: a.err }).toEqual({ code: 0, err: '' });
        expect((await forwardRules())[0]).toMatch(/microseg:hook/);
        expect(await dockerRules()).toEqual(before);
        await expectProbes(POLICY);
        const again = await cli('plan', dir, '--json', '--detailed-exitcode');
        expect(again.code).toBe(0);
      }, 600_000);

      it('destroy leaves nothing owned, forward hook included; Docker\'s rules and forwarding are as before', async () => {
        const d = await cli('destroy', dir, '--auto-approve');
        expect({ code: d.code, err: d.err }).toEqual({ code: 0, err: '' });
        const live = await providerFor(backend).read(t.host('gw'));
        expect({ sets: live.sets, chains: live.chains, hooks: live.hooks.filter((h) => h.present) }).toEqual({ sets: [], chains: [], hooks: [] });
        const text = [
          (await t.exec('gw', ['nft', 'list', 'ruleset'])).stdout,
          (await t.exec('gw', [`iptables-${flavour}-save`])).stdout,
          (await t.exec('gw', [`ip6tables-${flavour}-save`])).stdout,
          (await t.exec('gw', ['ipset', 'list', '-n'])).stdout,
        ].join('\n');
        expect(text).not.toMatch(OWNED);
        expect(await dockerRules()).toEqual(fixtureTables());
        await expectProbes(ALL_OPEN);
      }, 600_000);
    },
    backend === 'iptables-legacy' ? legacySkipReason : undefined,
  );
}
