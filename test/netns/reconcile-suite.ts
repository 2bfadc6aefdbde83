/**
 * The reconciler's shared suite (plan, apply, drift, decommission), run once per backend against
 * real kernels (reconcile-<backend>.test.ts: enforcers are network namespaces this suite creates,
 * packets are real) and against the in-memory firewall without root (test/unit/fake/
 * reconcile-fake.test.ts: the same steps through the same CLI and API, with the fake behind the
 * Host seam). Every step goes through the CLI in process (`main` with a BufferIo) or through
 * src/apply's API where a test needs to see inside a run (transactions sent, a host vanishing
 * mid-run). What differs between a kernel and the fake — how to program drift by hand, what
 * "owned" and "foreign" look like, how packets are sent — is a ReconcileEnv.
 *
 * Addresses (harness.ts conventions, 198.18.0.0/24 on one bridge):
 *   web 198.18.0.11 (+ 198.18.0.21 after the edit), api 198.18.0.12, db 198.18.0.13,
 *   tmp1 198.18.0.31, tmp2 198.18.0.32 (two extra enforcers: one decommissioned, one whose
 *   namespace is deleted in the middle of an apply).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { applyPlan, type HostOutcome } from '../../src/apply';
import { planRun } from '../../src/plan';
import { BufferIo, type CliDeps } from '../../src/cli/io';
import { runProcess } from '../../src/hosts/exec';
import { main } from '../../src/cli/main';
import { applyCommand } from '../../src/cli/commands/apply';
import { LocalStateStore } from '../../src/state';
import type { Plan } from '../../src/plan';
import type { BackendName } from '../../providers/types';
import { providerFor, type Connector, type Transaction } from '../../providers';
import { Topology, describeAsRoot, legacySkipReason, type NodeSpec, type TcpResult } from './harness';

export const NODES = [
  { name: 'web', v4: '198.18.0.11', v6: '2001:2::11' },
  { name: 'api', v4: '198.18.0.12', v6: '2001:2::12' },
  { name: 'db', v4: '198.18.0.13', v6: '2001:2::13' },
  { name: 'tmp1', v4: '198.18.0.31', v6: '2001:2::31' },
  { name: 'tmp2', v4: '198.18.0.32', v6: '2001:2::32' },
];

/** ConfigSpec varies the configuration between steps. */
export interface ConfigSpec {
  apiPorts: string;
  webAddrs: string[];
  hosts: string[];
  extraPolicy?: boolean;
  invalid?: boolean;
}

export const BASE: ConfigSpec = { apiPorts: 'tcp/8000', webAddrs: ['198.18.0.11'], hosts: ['web', 'api', 'db', 'tmp1', 'tmp2'] };

/** configHcl renders the suite's configuration for `topo` on `backend`. */
export function configHcl(topo: { nsName(node: string): string }, backend: BackendName, spec: ConfigSpec): string {
  const pus: Record<string, { addrs: string[]; tags: string[] }> = {
    web: { addrs: spec.webAddrs, tags: ['app=web', 'env=prod'] },
    api: { addrs: ['198.18.0.12'], tags: ['app=api', 'env=prod'] },
    db: { addrs: ['198.18.0.13'], tags: ['app=db', 'env=prod'] },
    tmp1: { addrs: ['198.18.0.31'], tags: ['app=tmp', 'env=prod'] },
    tmp2: { addrs: ['198.18.0.32'], tags: ['app=tmp', 'env=prod'] },
  };
  const q = (xs: string[]) => `[${xs.map((x) => JSON.stringify(x)).join(', ')}]`;
  const out: string[] = [
    'namespace "/t" {',
    '  default_incoming_action = "reject"',
    '  default_outgoing_action = "reject"',
    '}',
  ];
  for (const h of spec.hosts) {
    out.push(
      `enforcer "${h}" {`,
      '  namespace = "/t"',
      `  backend   = "${backend}"`,
      '  connection {',
      '    type  = "netns"',
      `    netns = "${topo.nsName(h)}"`,
      '  }',
      '}',
      `processing_unit "${h}" {`,
      '  namespace = "/t"',
      `  enforcer  = enforcer.${h}.name`,
      `  addresses = ${q(pus[h].addrs)}`,
      `  tags      = ${q(pus[h].tags)}`,
      '}',
    );
  }
  out.push(
    'network_policy "web-to-api" {',
    '  namespace = "/t"',
    '  subject   = [["app=web"]]',
    '  object    = [["app=api"]]',
    `  ports     = ["${spec.apiPorts}"]`,
    '}',
    'network_policy "to-db" {',
    '  namespace = "/t"',
    '  subject   = [["env=prod"]]',
    '  object    = [["app=db"]]',
    '  ports     = ["tcp/5432"]',
    '}',
    'network_policy "no-web-to-db" {',
    '  namespace = "/t"',
    '  subject   = [["app=web"]]',
    '  object    = [["app=db"]]',
    '  action    = "reject"',
    '  ports     = ["tcp/5432"]',
    '}',
    'network_policy "tmp-ping" {',
    '  namespace = "/t"',
    '  subject   = [["app=tmp"]]',
    '  object    = [["app=tmp"]]',
    '  ports     = ["icmp/8/0"]',
    '}',
  );
  if (spec.extraPolicy) {
    out.push('network_policy "extra" {', '  namespace = "/t"', '  subject = [["env=prod"]]', '  object = [["env=prod"]]', '  ports = ["tcp/9999"]', '}');
  }
  if (spec.invalid) out.push('network_policy "broken" {', '  namespace = "/t"', '  subject = [["app=web"]]', '  object = [["app=api"]]', '  ports = ["tcp/80/90"]', '}');
  return out.join('\n') + '\n';
}

export interface CliResult {
  code: number;
  out: string;
  err: string;
}

/** cli runs the microseg CLI in process (against real hosts unless `deps` says otherwise). */
export async function cli(...args: string[]): Promise<CliResult> {
  return cliWith({}, ...args);
}

/** cliWith runs the microseg CLI in process with `deps` (a test double's Connector). */
export async function cliWith(deps: CliDeps, ...args: string[]): Promise<CliResult> {
  const io = new BufferIo();
  const code = await main(['node', 'microseg', ...args], io, deps);
  return { code, out: io.stdout, err: io.stderr };
}

/**
 * ReconcileEnv is where the suite's enforcers live: network namespaces on this kernel, or hosts of
 * the in-memory firewall. Chain names are IR names; the env maps them to its kernel's.
 */
export interface ReconcileEnv {
  /** describe, or describe.skip with a visible reason where the env cannot run. */
  describe(name: string, fn: () => void): void;
  create(tag: string, nodes: NodeSpec[]): Promise<void>;
  teardown(): Promise<void>;
  /** The namespace name of `node`, which its enforcer's `connection { netns = ... }` names. */
  nsName(node: string): string;
  /** How the CLI and API open hosts; undefined: the real transports. */
  connect?: Connector;
  listen(node: string, proto: 'tcp', port: number, family: 4 | 6): Promise<void>;
  tcpConnect(from: string, addr: string, port: number): Promise<TcpResult>;
  ping(from: string, addr: string, timeoutS?: number): Promise<boolean>;
  /** Everything on `node` that looks like microseg's, across every backend (empty: nothing left). */
  ownedOn(node: string): Promise<string[]>;
  /** A canonical text of everything on `node` that is not microseg's (counters ignored). */
  foreignOn(node: string): Promise<string>;
  /** addForeign installs an admin's rules (and, on iptables, an ipset) microseg must never touch. */
  addForeign(node: string): Promise<void>;
  /** Does an owned set on `node` hold `cidr`? */
  holdsMember(node: string, cidr: string): Promise<boolean>;
  /** Insert an ACCEPT without a microseg comment first into owned chain `chain` (IPv4 on iptables). */
  insertForeignAccept(node: string, chain: string): Promise<void>;
  /** Put an ACCEPT ahead of microseg: iptables first in INPUT (IPv4), nftables first in our input chain. */
  acceptAheadOfMicroseg(node: string): Promise<void>;
  /** Delete owned rule `id` from chain `chain` (IPv4 on iptables). */
  deleteRule(node: string, chain: string, id: string): Promise<void>;
  /** Flush owned chain `chain` (both families on iptables). */
  flushChain(node: string, chain: string): Promise<void>;
  /** iptables: `iptables -S INPUT` (IPv4) lines. */
  inputRules(node: string): Promise<string[]>;
  /** Make `node` disappear, like `ip netns del`. */
  removeHost(node: string): Promise<void>;
  /** Every owned kernel rule on `node`: IR chain name, comment id (`<id>` or `<id>#k/n`), and on iptables its family. */
  ownedRules(node: string): Promise<OwnedKernelRule[]>;
  /**
   * tamperRule changes one owned kernel rule by hand: `delete` removes it, `verdict` replaces its
   * verdict (accept becomes drop, anything else accept) keeping its match and comment, as
   * `nft replace rule ... handle H` or `iptables -R CHAIN n` would.
   */
  tamperRule(node: string, rule: OwnedKernelRule, how: 'delete' | 'verdict'): Promise<void>;
}

/** OwnedKernelRule is one kernel rule microseg wrote (ReconcileEnv.ownedRules). */
export interface OwnedKernelRule {
  chain: string;
  id: string;
  family?: 4 | 6;
}

const OWNED = /MSEG-|mseg-|microseg/;

/** netnsEnv is a ReconcileEnv of network namespaces on this kernel, programmed for `backend`. */
export function netnsEnv(backend: BackendName): ReconcileEnv {
  const variants = ['nft', ...(legacySkipReason() === undefined ? ['legacy'] : [])];
  const iptables = backend !== 'nftables';
  const variant = backend === 'iptables-legacy' ? 'legacy' : 'nft';
  const x = variant === 'legacy' ? ['--modprobe=/bin/false'] : [];
  const kname = (ir: string) => (iptables ? `MSEG-${ir}` : `mseg-${ir}`);
  let topo: Topology;
  const ipt = (node: string, fam: 4 | 6, args: string[]) => topo.mustExec(node, [`${fam === 4 ? 'iptables' : 'ip6tables'}-${variant}`, ...x, ...args]);
  return {
    describe: (name, fn) => describeAsRoot(name, fn, backend === 'iptables-legacy' ? legacySkipReason : undefined),
    create: async (tag, nodes) => {
      topo = await Topology.create(tag, nodes);
    },
    teardown: async () => topo?.teardown(),
    nsName: (node) => topo.nsName(node),
    listen: (node, proto, port, family) => topo.listen(node, proto, port, family),
    tcpConnect: (from, addr, port) => topo.tcpConnect(from, addr, port),
    ping: (from, addr, timeoutS) => topo.ping(from, addr, timeoutS),
    async ownedOn(node) {
      const texts: string[] = [await topo.mustExec(node, ['nft', 'list', 'ruleset']), await topo.mustExec(node, ['ipset', 'list', '-n'])];
      for (const v of variants) {
        for (const bin of ['iptables', 'ip6tables']) texts.push(await topo.mustExec(node, [`${bin}-${v}-save`, ...(v === 'legacy' ? ['--modprobe=/bin/false'] : [])]));
      }
      return texts.flatMap((t) => t.split('\n')).filter((l) => OWNED.test(l));
    },
    async foreignOn(node) {
      const parts: string[] = [];
      const tables = (await topo.mustExec(node, ['nft', 'list', 'tables'])).split('\n').filter((l) => l.startsWith('table ') && l.trim() !== 'table inet microseg');
      if (!iptables) for (const t of tables) parts.push(await topo.mustExec(node, ['nft', 'list', ...t.trim().split(/\s+/)]));
      if (iptables) {
        for (const bin of ['iptables', 'ip6tables']) parts.push(await topo.mustExec(node, [`${bin}-${variant}-save`, ...x]));
        parts.push(await topo.mustExec(node, ['ipset', 'list', '-n']));
      }
      return parts
        .join('\n')
        .split('\n')
        .filter((l) => !l.startsWith('#') && !OWNED.test(l))
        .map((l) => l.replace(/\[\d+:\d+\]/, '[0:0]'))
        .join('\n');
    },
    async addForeign(node) {
      if (iptables) {
        await ipt(node, 4, ['-A', 'INPUT', '-s', '198.19.255.1/32', '-m', 'comment', '--comment', 'admin rule', '-j', 'ACCEPT']);
        await ipt(node, 6, ['-A', 'INPUT', '-s', '2001:2:0:ffff::1/128', '-j', 'ACCEPT']);
        await topo.mustExec(node, ['ipset', 'create', `foreign-${node}`, 'hash:ip']);
      } else {
        await topo.mustExec(node, ['nft', '-f', '-'], 'table inet foreign {\n  chain c {\n    type filter hook input priority 10; policy accept;\n    ip saddr 198.19.255.1 accept\n  }\n}\n');
      }
    },
    async holdsMember(node, cidr) {
      const text = await topo.mustExec(node, iptables ? ['ipset', 'save'] : ['nft', 'list', 'table', 'inet', 'microseg']);
      return text.includes(cidr.replace(/\/(32|128)$/, ''));
    },
    async insertForeignAccept(node, chain) {
      if (iptables) await ipt(node, 4, ['-I', kname(chain), '1', '-j', 'ACCEPT']);
      else await topo.mustExec(node, ['nft', 'insert', 'rule', 'inet', 'microseg', kname(chain), 'accept']);
    },
    async acceptAheadOfMicroseg(node) {
      if (iptables) await ipt(node, 4, ['-I', 'INPUT', '1', '-j', 'ACCEPT']);
      else await topo.mustExec(node, ['nft', 'insert', 'rule', 'inet', 'microseg', 'mseg-in', 'accept']);
    },
    async deleteRule(node, chain, id) {
      if (iptables) {
        const lines = (await ipt(node, 4, ['-S', kname(chain)])).split('\n').filter((l) => l.startsWith('-A '));
        const n = lines.findIndex((l) => l.includes(`"microseg:${id}"`));
        if (n < 0) throw new Error(`rule ${id} not in ${kname(chain)}`);
        await ipt(node, 4, ['-D', kname(chain), String(n + 1)]);
      } else {
        const listing = await topo.mustExec(node, ['nft', '-a', 'list', 'chain', 'inet', 'microseg', kname(chain)]);
        const handle = new RegExp(`microseg:${id}" # handle (\\d+)`).exec(listing)![1];
        await topo.mustExec(node, ['nft', 'delete', 'rule', 'inet', 'microseg', kname(chain), 'handle', handle]);
      }
    },
    async flushChain(node, chain) {
      if (iptables) {
        await ipt(node, 4, ['-F', kname(chain)]);
        await ipt(node, 6, ['-F', kname(chain)]);
      } else await topo.mustExec(node, ['nft', 'flush', 'chain', 'inet', 'microseg', kname(chain)]);
    },
    inputRules: async (node) => (await ipt(node, 4, ['-S', 'INPUT'])).split('\n').filter(Boolean),
    removeHost: async (node) => void (await runProcess(['ip', 'netns', 'del', topo.nsName(node)])),
    async ownedRules(node) {
      const out: OwnedKernelRule[] = [];
      if (iptables) {
        for (const fam of [4, 6] as const) {
          for (const l of (await ipt(node, fam, ['-S'])).split('\n')) {
            const m = /^-A MSEG-(\S+) .*--comment "?microseg:([^"\s]+)"?/.exec(l);
            if (m) out.push({ chain: m[1], id: m[2], family: fam });
          }
        }
      } else {
        let chain = '';
        for (const l of (await topo.mustExec(node, ['nft', 'list', 'table', 'inet', 'microseg'])).split('\n')) {
          const c = /^\s*chain mseg-(\S+) \{/.exec(l);
          if (c) chain = c[1];
          const m = /comment "microseg:([^"]+)"\s*$/.exec(l);
          if (m && chain) out.push({ chain, id: m[1] });
        }
      }
      return out;
    },
    async tamperRule(node, r, how) {
      if (iptables) {
        const fam = r.family ?? 4;
        const lines = (await ipt(node, fam, ['-S', kname(r.chain)])).split('\n').filter((l) => l.startsWith('-A '));
        const n = lines.findIndex((l) => l.includes(`"microseg:${r.id}"`));
        if (n < 0) throw new Error(`rule ${r.id} not in ${kname(r.chain)} (ipv${fam})`);
        if (how === 'delete') return void (await ipt(node, fam, ['-D', kname(r.chain), String(n + 1)]));
        const spec = lines[n].replace(/^-A \S+ /, '');
        const target = / -j ACCEPT$/.test(spec) ? 'DROP' : 'ACCEPT';
        // The spec as iptables -S prints it is shell-quoted (the comment): let sh split it.
        const bin = `${fam === 4 ? 'iptables' : 'ip6tables'}-${variant}`;
        await topo.mustExec(node, ['sh', '-c', `${bin} ${x.join(' ')} -R ${kname(r.chain)} ${n + 1} ${spec.replace(/ -j .*$/, ` -j ${target}`)}`]);
        return;
      }
      const listing = await topo.mustExec(node, ['nft', '-a', 'list', 'chain', 'inet', 'microseg', kname(r.chain)]);
      const line = listing.split('\n').find((l) => l.includes(`comment "microseg:${r.id}"`));
      if (!line) throw new Error(`rule ${r.id} not in ${kname(r.chain)}`);
      const handle = /# handle (\d+)/.exec(line)![1];
      if (how === 'delete') return void (await topo.mustExec(node, ['nft', 'delete', 'rule', 'inet', 'microseg', kname(r.chain), 'handle', handle]));
      const stmt = line.replace(/\s*comment "microseg:[^"]+".*$/, '').trim();
      const verdict = /(?:^|\s)(accept|drop|return|reject(?: with .*)?|jump \S+)$/.exec(stmt);
      if (!verdict) throw new Error(`no verdict found in: ${line}`);
      const body = `${stmt.slice(0, stmt.length - verdict[1].length).trim()} ${verdict[1] === 'accept' ? 'drop' : 'accept'}`.trim();
      await topo.mustExec(node, ['nft', 'replace', 'rule', 'inet', 'microseg', kname(r.chain), 'handle', handle, ...body.split(' '), 'comment', `"microseg:${r.id}"`]);
    },
  };
}

/** sentText serialises transactions as their tools would read them (for "does it name chain X" checks). */
export function sentText(txs: readonly Transaction[]): string {
  return txs.map((tx) => providerFor(tx.backend).serialize(tx).stdin).join('\n');
}

export function defineReconcileSuite(backend: BackendName, tag: string, env: ReconcileEnv = netnsEnv(backend)): void {
  const iptables = backend !== 'nftables';
  const kname = (ir: string) => (iptables ? `MSEG-${ir}` : `mseg-${ir}`);
  const deps: CliDeps = env.connect ? { connect: env.connect } : {};
  const cli = (...args: string[]) => cliWith(deps, ...args);

  env.describe(
    `reconcile${env.connect ? ' on the in-memory firewall' : ' on a real kernel'}: ${backend}`,
    () => {
      let dir: string;
      let spec: ConfigSpec;
      const store = () => new LocalStateStore(dir);

      const write = (s: ConfigSpec) => {
        spec = s;
        fs.writeFileSync(path.join(dir, 'main.hcl'), configHcl(env, backend, s));
      };
      const ownedOn = (node: string) => env.ownedOn(node);

      beforeAll(async () => {
        await env.create(tag, NODES);
        dir = fs.mkdtempSync(path.join(os.tmpdir(), `mseg-reconcile-${tag}-`));
        await env.listen('api', 'tcp', 8000, 4);
        await env.listen('api', 'tcp', 8001, 4);
        await env.listen('db', 'tcp', 5432, 4);
      });

      afterAll(async () => {
        await env.teardown();
        if (dir) fs.rmSync(dir, { recursive: true, force: true });
      });

      it('an invalid configuration makes plan and apply exit 1 and touches no host', async () => {
        const before = await Promise.all(NODES.map((n) => env.foreignOn(n.name)));
        write({ ...BASE, invalid: true });
        const p = await cli('plan', dir);
        expect(p.code).toBe(1);
        expect(p.err).toMatch(/tcp\/80\/90/);
        expect(p.err).toMatch(/No host was contacted/);
        const a = await cli('apply', dir, '--auto-approve');
        expect(a.code).toBe(1);
        const after = await Promise.all(NODES.map((n) => env.foreignOn(n.name)));
        expect(after).toEqual(before);
        for (const n of NODES) expect(await ownedOn(n.name)).toEqual([]);
        expect(await store().load()).toBeUndefined();
      });

      it('apply programs every host; an immediate second plan has no changes (exit 0 with --detailed-exitcode)', async () => {
        write(BASE);
        const first = await cli('plan', dir, '--detailed-exitcode');
        expect(first.code).toBe(2);
        expect(first.out).toMatch(/\+ enforcer web/);
        const noApproval = await cli('apply', dir);
        expect(noApproval.code).toBe(1);
        expect(noApproval.err).toMatch(/needs approval/);
        const io = new BufferIo();
        expect(await applyCommand(io, dir, {}, async () => 'no', deps)).toBe(1);
        expect(io.stderr).toMatch(/Apply cancelled/);
        expect(await store().load()).toBeUndefined();
        const a = await cli('apply', dir, '--auto-approve');
        expect(a.err).toBe('');
        expect(a.code).toBe(0);
        expect(a.out).toMatch(/Apply complete! Hosts: 5 applied/);
        const again = await cli('plan', dir, '--detailed-exitcode');
        expect(again.out).toMatch(/No changes/);
        expect(again.code).toBe(0);
        const state = await store().load();
        expect(Object.values(state!.hosts).map((h) => h.status)).toEqual(['applied', 'applied', 'applied', 'applied', 'applied']);
      });

      it('real packets follow the policies', async () => {
        expect(await env.tcpConnect('web', '198.18.0.12', 8000)).toBe('open');
        expect(await env.tcpConnect('db', '198.18.0.12', 8000)).toBe('refused');
        expect(await env.tcpConnect('api', '198.18.0.13', 5432)).toBe('open');
        expect(await env.tcpConnect('web', '198.18.0.13', 5432)).toBe('refused');
        expect(await env.ping('tmp1', '198.18.0.32')).toBe(true);
        expect(await env.ping('web', '198.18.0.12', 1)).toBe(false);
      });

      /** applyCapturing applies a fresh plan through the API and returns the transactions sent per host. */
      async function applyCapturing(): Promise<Map<string, string>> {
        const sent = new Map<string, string>();
        const r = await planRun(dir, { store: store(), connect: env.connect });
        const result = await applyPlan(r.plan!, {
          store: store(),
          reads: r.reads,
          connect: env.connect,
          observer: { transaction: (e, txs) => sent.set(e, `${sent.get(e) ?? ''}${sentText(txs)}`) },
        });
        expect(result.hosts.filter((h) => h.status === 'failed')).toEqual([]);
        return sent;
      }

      /** mentions: does a transaction name the kernel object of this chain? */
      const mentions = (text: string, chain: string) => new RegExp(`${kname(chain)}(?![\\w-])`).test(text);

      async function planJson(): Promise<Plan> {
        const p = await cli('plan', dir, '--json', '--detailed-exitcode');
        expect(p.code).toBe(2);
        return JSON.parse(p.out) as Plan;
      }

      it('a new PU address changes only set members (and dispatch), and the transactions touch no unrelated chain', async () => {
        write({ ...BASE, webAddrs: ['198.18.0.11', '198.18.0.21'] });
        const plan = await planJson();
        const host = (e: string) => plan.hosts.find((h) => h.enforcer === e)!;
        expect(plan.resource_changes.filter((c) => c.action !== 'noop').map((c) => `${c.action} ${c.address}`)).toEqual(['update processing_unit.web']);
        for (const e of ['api', 'db']) {
          expect(host(e).chains).toEqual([]);
          expect(host(e).hooks).toEqual([]);
          expect(host(e).sets.length).toBeGreaterThan(0);
          for (const s of host(e).sets) expect([s.action, s.added, s.removed]).toEqual(['update', ['198.18.0.21/32'], []]);
        }
        expect(host('web').chains.map((c) => [c.name, c.action, c.rules_added.length, c.rules_removed.length])).toEqual([
          ['in', 'update', 1, 0],
          ['out', 'update', 1, 0],
        ]);
        expect(host('tmp1').action).toBe('noop');
        expect(host('tmp2').action).toBe('noop');
        const human = await cli('plan', dir);
        expect(human.out).toMatch(/~ set \S+ \(\+1 -0 members\)\n\s+\+ 198\.18\.0\.21\/32/);

        const state = (await store().load())!;
        const sent = await applyCapturing();
        expect([...sent.keys()].sort()).toEqual(['api', 'db', 'web']);
        for (const e of ['api', 'db']) {
          const text = sent.get(e)!;
          expect(text).toMatch(/198\.18\.0\.21/);
          for (const c of state.hosts[e].owned.chains) expect({ e, chain: c.name, sent: mentions(text, c.name) }).toEqual({ e, chain: c.name, sent: false });
        }
        expect((await cli('plan', dir, '--detailed-exitcode')).code).toBe(0);
      });

      it('editing one policy plans exactly its rules and sets on the hosts it governs, and sends nothing unrelated', async () => {
        write({ ...spec, apiPorts: 'tcp/8001' });
        const plan = await planJson();
        const host = (e: string) => plan.hosts.find((h) => h.enforcer === e)!;
        expect(plan.resource_changes.filter((c) => c.action !== 'noop').map((c) => `${c.action} ${c.address}`)).toEqual(['update network_policy.web-to-api']);
        expect(plan.hosts.filter((h) => h.action !== 'noop').map((h) => h.enforcer)).toEqual(['api', 'web']);
        const api = host('api');
        expect(api.chains.map((c) => [c.name.slice(0, 8), c.action, c.rules_added.length, c.rules_removed.length, c.reordered])).toEqual([['pu-api-i', 'update', 1, 1, false]]);
        // The peer set's name is keyed by the policy's ports, so it is replaced with the same members.
        const members = ['198.18.0.11/32', '198.18.0.21/32'];
        expect(api.sets.map((s) => [s.action, s.added, s.removed]).sort()).toEqual([
          ['create', members, []],
          ['delete', [], members],
        ]);
        const web = host('web');
        expect(web.chains.map((c) => [c.name.slice(0, 8), c.action, c.rules_added.length, c.rules_removed.length])).toEqual([['pu-web-o', 'update', 1, 1]]);

        const state = (await store().load())!;
        const sent = await applyCapturing();
        expect([...sent.keys()].sort()).toEqual(['api', 'web']);
        for (const e of ['api', 'web']) {
          const changed = new Set(host(e).chains.map((c) => c.name));
          const text = sent.get(e)!;
          for (const c of state.hosts[e].owned.chains) {
            if (changed.has(c.name)) continue;
            expect({ e, chain: c.name, sent: mentions(text, c.name) }).toEqual({ e, chain: c.name, sent: false });
          }
        }
        expect((await cli('plan', dir, '--detailed-exitcode')).code).toBe(0);
        expect(await env.tcpConnect('web', '198.18.0.12', 8001)).toBe('open');
        expect(await env.tcpConnect('web', '198.18.0.12', 8000)).toBe('refused');
      });

      it('a saved plan is applied exactly, and refused once a host or the state changed since', async () => {
        write({ ...spec, webAddrs: ['198.18.0.11'] });
        const file = path.join(dir, 'change.tfplan');
        const p = await cli('plan', dir, '-out', file, '--detailed-exitcode');
        expect(p.code).toBe(2);
        expect(p.out).toMatch(/Saved the plan to/);
        const shown = await cli('show', file);
        expect(shown.code).toBe(0);
        expect(shown.out).toMatch(/~ enforcer api \(.*\) will be updated/);
        expect(JSON.parse((await cli('show', file, '--json')).out)).toEqual(JSON.parse(fs.readFileSync(file, 'utf8')));
        // show prints exactly what apply will run: every planned transaction, serialised.
        const saved = JSON.parse(fs.readFileSync(file, 'utf8')) as Plan;
        const planned = saved.hosts.flatMap((h) => h.transactions ?? []);
        expect(planned.length).toBeGreaterThan(0);
        for (const tx of planned) expect(shown.out).toContain(providerFor(tx.backend).serialize(tx).stdin.trimEnd());
        const serial = (await store().load())!.serial;

        // Someone changes api by hand: the plan no longer describes that host, so it is refused whole.
        await env.insertForeignAccept('api', 'in');
        const stale = await cli('apply', file);
        expect(stale.code).toBe(1);
        expect(stale.err).toMatch(/Saved plan is stale \[MSEG8112\]/);
        expect(stale.err).toMatch(/enforcer "api" changed on the host/);
        expect((await store().load())!.serial).toBe(serial);
        expect(await env.holdsMember('db', '198.18.0.21/32')).toBe(true);

        // A fresh plan is applied exactly (without a prompt: the saved plan is the approval) ...
        expect((await cli('plan', dir, '-out', file)).code).toBe(0);
        // ... but not a copy edited by hand so every reject accepts (desired rulesets and
        // transactions alike): apply plans again from the configuration, refuses, touches no host.
        const forged = JSON.parse(fs.readFileSync(file, 'utf8')) as Plan;
        let edits = 0;
        const accept = (r: { verdict: { kind: string } } | undefined) => {
          if (r?.verdict.kind === 'reject') {
            r.verdict = { kind: 'accept' };
            edits++;
          }
        };
        for (const d of Object.values(forged.desired)) for (const c of d.chains) for (const r of c.rules) accept(r);
        for (const h of forged.hosts) for (const tx of h.transactions ?? []) for (const [, o] of tx.ops) accept((o as { rule?: { verdict: { kind: string } } }).rule);
        expect(edits).toBeGreaterThan(0);
        const forgedFile = path.join(path.dirname(file), 'forged.plan');
        fs.writeFileSync(forgedFile, JSON.stringify(forged));
        // Counter values move with any packet (IPv6 neighbour discovery); the rules must not.
        const owned = async () => (await Promise.all(NODES.map((n) => ownedOn(n.name)))).map((ls) => ls.map((l) => l.replace(/counter packets \d+ bytes \d+/, 'counter')));
        const hostsBefore = await owned();
        const serialBefore = (await store().load())!.serial;
        const refused = await cli('apply', forgedFile);
        expect(refused.code).toBe(1);
        expect(refused.err).toMatch(/Saved plan does not match its configuration \[MSEG8130\]/);
        expect(refused.err).toMatch(/Nothing was applied and no host was changed/);
        expect(await owned()).toEqual(hostsBefore);
        expect((await store().load())!.serial).toBe(serialBefore);
        expect(await env.tcpConnect('web', '198.18.0.13', 5432)).toBe('refused');
        const ok = await cli('apply', file);
        expect(ok.err).toBe('');
        expect(ok.code).toBe(0);
        expect(await env.holdsMember('db', '198.18.0.21/32')).toBe(false);
        expect((await cli('plan', dir, '--detailed-exitcode')).code).toBe(0);
        // ... and only once: the state moved on.
        const twice = await cli('apply', file);
        expect(twice.code).toBe(1);
        expect(twice.err).toMatch(/the state changed: serial/);
      });

      it('drift (a deleted rule, a foreign ACCEPT ahead of us, a flushed chain) exits 2 naming it; apply repairs it', async () => {
        const state = (await store().load())!;
        const chainOf = (e: string, prefix: string) => state.hosts[e].owned.chains.find((c) => c.name.startsWith(prefix))!;
        // 1. api: delete the web → api port rule (second rule of its ingress chain, after established).
        const apiIn = chainOf('api', 'pu-api-i');
        const deletedId = apiIn.ruleIds[1];
        await env.deleteRule('api', apiIn.name, deletedId);
        // 2. web: a foreign ACCEPT ahead of microseg's dispatch.
        await env.acceptAheadOfMicroseg('web');
        // 3. db: flush its ingress chain.
        const dbIn = chainOf('db', 'pu-db-i');
        await env.flushChain('db', dbIn.name);

        const d = await cli('drift', dir, '--json');
        expect(d.code).toBe(2);
        const doc = JSON.parse(d.out) as { drift: boolean; hosts: Array<{ enforcer: string; missing: Array<{ kind: string; object: string }>; unexpected: Array<{ kind: string; object: string }>; changed: Array<{ kind: string; object: string }> }> };
        expect(doc.drift).toBe(true);
        const h = (e: string) => doc.hosts.find((x) => x.enforcer === e)!;
        expect(h('api').missing).toEqual([expect.objectContaining({ kind: 'rule-missing', object: `rule ${deletedId} in chain ${apiIn.name}` })]);
        if (iptables) expect(h('web').changed).toEqual([expect.objectContaining({ kind: 'hook-not-first', object: 'hook input/ipv4' })]);
        else expect(h('web').unexpected).toEqual([expect.objectContaining({ kind: 'foreign-rule-in-owned-chain', object: 'chain in' })]);
        expect(h('db').missing).toEqual([expect.objectContaining({ kind: 'chain-flushed', object: `chain ${dbIn.name}` })]);
        for (const e of ['tmp1', 'tmp2']) expect([...h(e).missing, ...h(e).unexpected, ...h(e).changed]).toEqual([]);
        const human = await cli('drift', dir);
        expect(human.code).toBe(2);
        expect(human.out).toMatch(/Drift on 3 hosts/);

        // --json has nobody to ask: without --auto-approve it refuses, touching nothing.
        const refused = await cli('apply', dir, '--json');
        expect(refused.code).toBe(1);
        expect(JSON.parse(refused.out).diagnostics[0]).toMatchObject({ severity: 'error', summary: 'apply --json needs --auto-approve' });
        expect((await cli('drift', dir)).code).toBe(2);

        // The repair is read back whole (--full-read-back), and the journal says so per host; its
        // outcome is printed as one JSON document.
        const since = (await store().readJournal()).length;
        const a = await cli('apply', dir, '--auto-approve', '--full-read-back', '--json');
        expect(a.code).toBe(0);
        const applied = JSON.parse(a.out) as { format_version: string; command: string; ok: boolean; changes: boolean; run_id: string; hosts: Array<{ enforcer: string; status: string; fingerprint: string | null; steps: number; bytes: number }> };
        expect(applied).toMatchObject({ format_version: '1', command: 'apply', ok: true, changes: true, run_id: expect.stringMatching(/^[0-9a-f-]{36}$/) });
        const repaired = applied.hosts.filter((h) => h.status === 'applied');
        expect(repaired.map((h) => h.enforcer).sort()).toEqual(['api', 'db', 'web']);
        for (const h of repaired) {
          expect(h.fingerprint).toBe((await store().load())!.hosts[h.enforcer].fingerprint);
          expect(h.steps).toBeGreaterThan(0);
          expect(h.bytes).toBeGreaterThan(0);
        }
        const verified = (await store().readJournal()).slice(since).filter((j) => j.phase === 'verified');
        expect(verified.map((j) => j.enforcer).sort()).toEqual(['api', 'db', 'web']);
        for (const j of verified) expect([j.enforcer, j.detail]).toEqual([j.enforcer, expect.not.stringMatching(/partial/)]);
        const again = JSON.parse((await cli('apply', dir, '--auto-approve', '--json')).out);
        expect(again).toMatchObject({ ok: true, changes: false, run_id: null, hosts: [] });
        expect((await cli('drift', dir)).code).toBe(0);
        expect((await cli('plan', dir, '--detailed-exitcode')).code).toBe(0);
        if (iptables) {
          // The foreign ACCEPT is still there, just no longer ahead of us.
          expect(await env.inputRules('web')).toEqual(['-P INPUT ACCEPT', '-A INPUT -m comment --comment "microseg:hook" -j MSEG-in', '-A INPUT -j ACCEPT']);
        }
        expect(await env.tcpConnect('web', '198.18.0.12', 8001)).toBe('open');
        expect(await env.tcpConnect('web', '198.18.0.13', 5432)).toBe('refused');
      });

      it('removing an enforcer leaves zero owned objects on it and its foreign rules unchanged', async () => {
        await env.addForeign('tmp1');
        const foreignBefore = await env.foreignOn('tmp1');
        expect((await ownedOn('tmp1')).length).toBeGreaterThan(0);
        write({ ...spec, hosts: ['web', 'api', 'db', 'tmp2'] });
        const p = await cli('plan', dir);
        expect(p.out).toMatch(/- enforcer tmp1 .* will be decommissioned/);
        const a = await cli('apply', dir, '--auto-approve');
        expect(a.code).toBe(0);
        expect(a.out).toMatch(/tmp1: decommissioned: nothing owned is left/);
        expect(await ownedOn('tmp1')).toEqual([]);
        expect(await env.foreignOn('tmp1')).toEqual(foreignBefore);
        expect((await store().load())!.hosts.tmp1).toBeUndefined();
        expect((await cli('plan', dir, '--detailed-exitcode')).code).toBe(0);
      });

      it('a host whose namespace is deleted mid-run does not stop the others, and state records it', async () => {
        const before = (await store().load())!.hosts.tmp2;
        write({ ...spec, extraPolicy: true });
        const r = await planRun(dir, { store: store(), connect: env.connect });
        expect(r.plan!.hosts.filter((h) => h.action === 'update').map((h) => h.enforcer)).toEqual(['api', 'db', 'tmp2', 'web']);
        const result = await applyPlan(r.plan!, {
          store: store(),
          reads: r.reads,
          connect: env.connect,
          parallelism: 2,
          beforeHost: async (e) => {
            if (e === 'tmp2') await env.removeHost('tmp2');
          },
        });
        expect(result.ok).toBe(false);
        const by = (e: string) => result.hosts.find((h: HostOutcome) => h.enforcer === e)!;
        expect(by('tmp2')).toMatchObject({ status: 'failed' });
        expect(by('tmp2').error).toMatch(/unreachable|Cannot open network namespace/);
        for (const e of ['api', 'db', 'web']) expect(by(e).status).toBe('applied');
        const state = (await store().load())!;
        expect(state.hosts.tmp2).toMatchObject({ status: 'failed', owned: before.owned, fingerprint: before.fingerprint });
        expect(state.hosts.tmp2.last_error).toMatch(/unreachable/);
        for (const e of ['api', 'db', 'web']) expect(state.hosts[e].status).toBe('applied');
        const journal = await store().readJournal();
        expect(journal.filter((j) => j.run_id === result.runId && j.enforcer === 'tmp2').map((j) => j.phase)).toEqual(['begin', 'failed']);

        // Still in the configuration: plan cannot plan it (exit 1) but plans the others.
        const p = await cli('plan', dir);
        expect(p.code).toBe(1);
        expect(p.err).toMatch(/Cannot read the ruleset of enforcer "tmp2"/);
        // Removed from the configuration: pending cleanup, shown by every plan, kept in state.
        write({ ...spec, hosts: ['web', 'api', 'db'] });
        const p2 = await cli('plan', dir);
        expect(p2.code).toBe(0);
        expect(p2.out).toMatch(/enforcer tmp2 .*cleanup pending/);
        const a = await cli('apply', dir, '--auto-approve');
        expect(a.code).toBe(0);
        expect((await store().load())!.hosts.tmp2.status).toBe('pending-cleanup');
        expect((await cli('plan', dir)).out).toMatch(/enforcer tmp2 .*cleanup pending/);
        const rm = await cli('state', 'rm', 'host.tmp2', '--dir', dir);
        expect(rm.code).toBe(0);
        expect((await store().load())!.hosts.tmp2).toBeUndefined();
      });

      it('break-glass cleanup works with no state at all; destroy decommissions the rest', async () => {
        fs.rmSync(path.join(dir, '.microseg'), { recursive: true, force: true });
        expect((await ownedOn('web')).length).toBeGreaterThan(0);
        const c = await cli('cleanup', '--netns', env.nsName('web'));
        expect(c.code).toBe(0);
        expect(c.out).toMatch(/nothing owned is left|no microseg object is left/);
        expect(await ownedOn('web')).toEqual([]);
        // With the state gone, destroy still finds api's and db's objects (as orphans) and removes them.
        const d = await cli('destroy', dir, '--auto-approve', '--json');
        expect(d.code).toBe(0);
        const doc = JSON.parse(d.out) as { command: string; ok: boolean; hosts: Array<{ enforcer: string; action: string; status: string }> };
        expect(doc).toMatchObject({ command: 'destroy', ok: true });
        for (const e of ['api', 'db']) expect(doc.hosts.find((h) => h.enforcer === e)).toMatchObject({ action: 'delete', status: 'removed' });
        for (const n of ['web', 'api', 'db']) expect(await ownedOn(n)).toEqual([]);
        expect(await env.tcpConnect('web', '198.18.0.13', 5432)).toBe('open');
      });
    },
  );
}
