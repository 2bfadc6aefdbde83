/**
 * Randomized differential of `microseg trace` against the kernel (issue 10): random configurations
 * × random connections, each connection traced offline and sent as real packets through the
 * sandbox (src/sandbox: one network namespace per enforcer on one bridge, the outside world in
 * its own namespace, listeners on every port), on one backend at a time. Any connection where the
 * kernel and the offline trace of that very packet disagree is a bug in trace, compile or a
 * provider. The suite runs a few configurations per backend
 * (test/netns/trace-differential.test.ts); `node dist/bench/trace-differential.js` runs a
 * campaign of thousands of connections and prints the numbers.
 *
 * Everything is seeded: configuration k of seed s is always the same text, so a disagreement is
 * reproduced by its seed alone (`--seed S --configs 1`). Sizes are bounded (2–3 enforcers, 2–6
 * processing units, 1–3 external networks, 2–7 policies) so one configuration builds in seconds.
 *
 * Addresses: processing units from 198.18.1.0/24–198.18.3.0/24 (and 2001:2::/48), external
 * networks from the documentation ranges 203.0.113.0/24 and 198.51.100.0/24 (and 2001:db8::/32),
 * or around processing units' own addresses, which is where trace used to go wrong. Packets are
 * only ever sent inside namespaces the sandbox creates; the root namespace is never touched.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadAndValidate } from '../src/cli/commands/common';
import { compile } from '../src/compile';
import type { DesiredRuleset } from '../src/compile/ir';
import { interfaceMatches, interfaceOfPattern } from '../src/model/interfaces';
import { addressFamily, bigintToAddress, cidrToInterval } from '../src/model/intervals';
import { NetnsHost } from '../src/hosts/netns';
import { matchesExpression } from '../src/model/tag-match';
import { parseTagExpression } from '../src/model/tags';
import type { Model } from '../src/model/types';
import { planSandbox, runLiveTests, sandboxDown, sandboxUp, type LiveCheck, type SandboxRecord } from '../src/sandbox';
import { SANDBOX_INTERFACE } from '../src/sandbox/live';
import { flowQuery, traceFlow, type AddressClass, type FlowCase, type InterfaceCondition } from '../src/trace/trace';
import { policyOracle, type OracleConnection } from './policy-oracle';
import { KernelFirewall, providerFor, type BackendName } from '../providers';
import { killAndDeleteNetnsSync } from './netns';

/** Rng is a small seeded generator (mulberry32): the same seed, the same configurations. */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  /** next is uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)];
  }
  /** some picks a random subset (possibly empty), in the list's order. */
  some<T>(xs: readonly T[], p = 0.5): T[] {
    return xs.filter(() => this.chance(p));
  }
}

/** Flow is one connection to check: an `expect` without a verdict that matters. */
export interface Flow {
  from: string;
  to: string;
  port: string;
  interface?: string;
}

/** GeneratedConfig is one random configuration: HCL text, and the flows to check against it. */
export interface GeneratedConfig {
  seed: number;
  hcl: string;
  flows: Flow[];
  /** Enforcer network namespaces, for cleanup if the process dies. */
  netns: string[];
}

const PORTS = ['tcp/80', 'tcp/443', 'udp/53', 'tcp/8080', 'tcp/8050', 'icmp/8/0'];
/** ONE_CONNECTION: a connection each policy port admits, for flows aimed at a policy. */
const ONE_CONNECTION: Record<string, string> = {
  'tcp/80': 'tcp/80',
  'tcp/443': 'tcp/443',
  'udp/53': 'udp/53',
  'tcp/8000:8100': 'tcp/8050',
  'icmp/8/0': 'icmp/8/0',
  icmp: 'icmp/8/0',
  'udp/1:100': 'udp/53',
};
const POLICY_PORTS = ['tcp/80', 'tcp/443', 'udp/53', 'tcp/8000:8100', 'icmp/8/0', 'icmp', 'udp/1:100'];
const INTERFACES = ['eth0', 'eth+', 'e+', 'lo', 'docker0', 'veth+'];

/**
 * generateConfig writes configuration `seed`: enforcers in netns `<nsPrefix>-h<i>` on `backend`,
 * processing units with tags and addresses, external networks (some holding PU addresses),
 * profiles (excluded interfaces and networks, failsafe ports), policies of every kind, and
 * `flows` connections between them.
 */
export function generateConfig(seed: number, nsPrefix: string, backend: BackendName, flows: number): GeneratedConfig {
  const r = new Rng(seed);
  const out: string[] = [];
  const q = (s: string) => JSON.stringify(s);
  const list = (xs: readonly string[]) => `[${xs.map(q).join(', ')}]`;
  out.push(`namespace "/t" {\n  default_incoming_action = ${q(r.chance(0.25) ? 'allow' : 'reject')}\n  default_outgoing_action = ${q(r.chance(0.25) ? 'allow' : 'reject')}\n}`);
  out.push(`namespace "/t/c" {\n  default_incoming_action = ${q(r.chance(0.25) ? 'allow' : 'reject')}\n  default_outgoing_action = ${q(r.chance(0.25) ? 'allow' : 'reject')}\n}`);

  // Profiles: the interfaces and networks a host leaves alone, and ports always open.
  const profiles: string[] = [];
  for (let i = 0; i < r.int(0, 2); i++) {
    const name = `p${i}`;
    profiles.push(name);
    const ifaces = r.some(INTERFACES, 0.3);
    const nets = r.some(['203.0.113.0/26', '198.51.100.0/25', '198.18.3.0/24', '198.18.2.8/29'], 0.2);
    const failsafe = r.some(['tcp/8080', 'udp/53'], 0.2);
    out.push(`enforcer_profile ${q(name)} {\n  namespace = "/t"\n  excluded_interfaces = ${list(ifaces)}\n  excluded_networks = ${list(nets)}\n  failsafe = ${list(failsafe)}\n}`);
  }

  const hosts = r.int(2, 3);
  const netns: string[] = [];
  for (let h = 1; h <= hosts; h++) {
    const profile = profiles.length && r.chance(0.7) ? `\n  profile = ${q(r.pick(profiles))}` : '';
    netns.push(`${nsPrefix}-h${h}`);
    out.push(`enforcer "h${h}" {\n  namespace = "/t"\n  backend = ${q(backend)}${profile}\n  connection {\n    type  = "netns"\n    netns = ${q(`${nsPrefix}-h${h}`)}\n  }\n}`);
  }

  // Processing units: unique addresses spread over three /24s so networks can hold some of them.
  const pus: Array<{ name: string; v4: string[]; v6: string[]; ns: string; identity: string[] }> = [];
  const used = new Set<string>();
  const n = r.int(2, 6);
  for (let i = 0; i < n; i++) {
    let v4 = '';
    do v4 = `198.18.${r.int(1, 3)}.${r.int(1, 12)}`;
    while (used.has(v4));
    used.add(v4);
    // Some PUs are IPv6 only (never the first, which networks are built around), some dual-stack.
    const v6only = i > 0 && r.chance(0.12);
    const v6 = v6only || r.chance(0.25) ? [`2001:2::${(i + 1).toString(16)}`] : [];
    if (v6only) v4 = '';
    const name = `pu${i}`;
    const puNs = r.chance(0.25) ? '/t/c' : '/t';
    const tags = [`app=${r.pick(['a', 'b', 'a', 'b', 'c'])}`, ...(r.chance(0.5) ? [`env=${r.pick(['prod', 'dev'])}`] : []), ...(r.chance(0.3) ? ['tier=front'] : [])];
    const enforcer = `h${r.int(1, hosts)}`;
    pus.push({ name, v4: v4 ? [v4] : [], v6, ns: puNs, identity: [...tags, '$identity=processingunit', `$name=${name}`, `$namespace=${puNs}`, `$enforcer=${enforcer}`] });
    out.push(`processing_unit ${q(name)} {\n  namespace = ${q(puNs)}\n  enforcer = ${q(enforcer)}\n  addresses = ${list([...v4 ? [v4] : [], ...v6])}\n  tags = ${list(tags)}\n}`);
  }

  // External networks: documentation ranges, ranges around PU addresses, and a PU's own address.
  const nets: string[] = [];
  const netIdentity = new Map<string, string[]>();
  const netFamilies = new Map<string, Set<number>>();
  const entryChoices = (): string[] => {
    const pu = r.pick(pus.filter((p) => p.v4.length > 0));
    const v6pu = pus.find((p) => p.v6.length > 0 && r.chance(0.5));
    if (v6pu && r.chance(0.25)) return r.pick([[`${v6pu.v6[0]}/128`], ['2001:db8::/32'], ['::/0', '!2001:2::/48'], ['2001:2::/120', '203.0.113.0/24']]);
    const around = pu.v4[0].split('.').slice(0, 3).join('.');
    return r.pick([
      [`${pu.v4[0]}/32`],
      [`${around}.0/24`],
      [`${around}.0/28`, '203.0.113.0/24'],
      ['203.0.113.0/24'],
      ['203.0.113.0/24', '!203.0.113.128/25'],
      ['198.51.100.0/24'],
      ['0.0.0.0/0', '!198.18.0.0/15'],
      ['0.0.0.0/0'],
      ['203.0.113.64/26', '2001:db8::/32'],
    ]);
  };
  for (let i = 0; i < r.int(1, 3); i++) {
    const name = `x${i}`;
    nets.push(name);
    const sp = r.chance(0.5) ? r.some(['tcp/80', 'tcp/443', 'udp/53', 'icmp', 'tcp/8000:8100'], 0.5) : [];
    const zone = `zone=${r.pick(['out', 'dmz'])}`;
    netIdentity.set(name, [zone, '$identity=externalnetwork', `$name=${name}`]);
    const entries = entryChoices();
    netFamilies.set(name, new Set(entries.filter((e) => !e.startsWith('!')).map((e) => (e.includes(':') ? 6 : 4))));
    out.push(`external_network ${q(name)} {\n  namespace = ${q(r.chance(0.2) ? '/t/c' : '/t')}\n  entries = ${list(entries)}\n  service_ports = ${list(sp)}\n  tags = ${list([zone])}\n}`);
  }

  // Policies.
  const puSelector = () =>
    r.pick<string[]>([
      ['app=a'], ['app=b'], ['app=c'], ['env=prod'], ['env!=prod'], ['tier=*'], ['app=a', 'env=prod'],
      [`$name=${r.pick(pus).name}`], ['$identity=processingunit'], ['$namespace=/t/c'], ['env!=*'],
    ]);
  const netSelector = () => r.pick<string[]>([[`$name=${r.pick(nets)}`], [`$name=${r.pick(nets)}`], ['zone=out'], ['zone=*'], ['$identity=externalnetwork']]);
  // Networks are on one side of about half the policies: where external networks meet PUs is
  // where trace went wrong, and where service_ports narrow the policy's ports.
  const selectors = () => (r.chance(0.4) ? netSelector() : puSelector());
  const policies: Array<{ subject: string[]; object: string[]; ports: string[] }> = [];
  for (let i = 0; i < r.int(3, 8); i++) {
    const pol = { subject: selectors(), object: selectors(), ports: r.chance(0.45) ? [] : r.some(POLICY_PORTS, 0.35) };
    policies.push(pol);
    const attrs = [
      `  namespace = "/t"`,
      `  subject = ${list(pol.subject)}`,
      `  object = ${list(pol.object)}`,
      `  action = ${q(r.pick(['allow', 'allow', 'reject', 'reject', 'continue']))}`,
      `  ports = ${list(pol.ports)}`,
      `  apply_policy_mode = ${q(r.pick(['bidirectional', 'incoming', 'outgoing']))}`,
      ...(r.chance(0.3) ? ['  propagate = true'] : []),
      ...(r.chance(0.3) ? ['  fallback = true'] : []),
      ...(r.chance(0.1) ? ['  observation_enabled = true'] : []),
      ...(r.chance(0.1) ? ['  logs_enabled = true'] : []),
      ...(r.chance(0.08) ? ['  negate_object = true'] : []),
      ...(r.chance(0.08) ? ['  negate_subject = true'] : []),
      ...(r.chance(0.05) ? ['  disabled = true'] : []),
      ...(r.chance(0.05) ? ['  expiration_time = "2001-01-01T00:00:00Z"'] : []),
    ];
    out.push(`network_policy "pol${i}" {\n${attrs.join('\n')}\n}`);
  }

  // Flows: between PUs (by name or address), networks and outsiders, some over a named interface.
  const addressOf = (p: (typeof pus)[number]) => p.v4[0] ?? p.v6[0];
  const endpoints = [...pus.map((p) => p.name), ...nets, ...pus.map(addressOf), '198.51.100.77', '203.0.113.9', '2001:db8::99'];
  const families = (e: string): Set<number> => {
    const pu = pus.find((p) => p.name === e);
    if (pu) return new Set([...(pu.v4.length ? [4] : []), ...(pu.v6.length ? [6] : [])]);
    return netFamilies.get(e) ?? new Set([e.includes(':') ? 6 : 4]);
  };
  const fl: Flow[] = [];
  // Endpoints a selector picks (ignoring scope and negation: a directed flow only needs to be
  // likely to meet the policy, and rules meet where policies overlap).
  const members = (sel: string[]): string[] => {
    const expr = parseTagExpression(sel).expr!;
    return [
      ...pus.filter((p) => matchesExpression(p.identity, expr)).map((p) => (r.chance(0.3) ? addressOf(p) : p.name)),
      ...nets.filter((x) => matchesExpression(netIdentity.get(x)!, expr)),
    ];
  };
  for (let guard = 0; fl.length < flows && guard < flows * 20; guard++) {
    // Most flows are aimed at a policy (its subject, its object, one of its ports), so policies
    // overlap on them; the others are random, half of them with a network on one end.
    const pol = r.chance(0.6) ? r.pick(policies) : undefined;
    const towardSubject = pol ? members(pol.subject) : [];
    const towardObject = pol ? members(pol.object) : [];
    const from = towardSubject.length ? r.pick(towardSubject) : r.chance(0.25) ? r.pick(nets) : r.pick(endpoints);
    const to = towardObject.length ? r.pick(towardObject) : r.chance(0.3) ? r.pick(nets) : r.pick(endpoints);
    if (from === to) continue;
    const isPu = (e: string) => pus.some((p) => p.name === e || addressOf(p) === e);
    // Between two outsiders no enforcer is involved: nothing to learn.
    if (!isPu(from) && !isPu(to) && !nets.includes(from) && !nets.includes(to)) continue;
    const v6 = pus.filter((p) => p.v6.length > 0);
    const port = v6.length && r.chance(0.08) ? 'icmp6/128/0' : pol?.ports.length ? ONE_CONNECTION[r.pick(pol.ports)] : r.pick(PORTS);
    const pair = port.startsWith('icmp6') ? { from: r.pick(v6).name, to: r.pick(v6).name } : { from, to };
    if (pair.from === pair.to) continue;
    // Both ends (and an ICMP port) need an address family in common, or there is no packet.
    const portFamily = port.startsWith('icmp6') ? 6 : port.startsWith('icmp') ? 4 : undefined;
    const common = [...families(pair.from)].filter((f) => families(pair.to).has(f) && (portFamily === undefined || f === portFamily));
    if (common.length === 0) continue;
    fl.push({ ...pair, port, ...(r.chance(0.15) ? { interface: 'eth0' } : {}) });
  }
  return { seed, hcl: `${out.join('\n\n')}\n\n${expectBlocks(fl)}`, flows: fl, netns };
}

/** expectBlocks writes flows as `expect "f<i>"` blocks in namespace /t (their verdict is not what is checked). */
export function expectBlocks(flows: readonly Flow[]): string {
  const q = (s: string) => JSON.stringify(s);
  return flows
    .map((f, i) => `expect "f${i}" {\n  namespace = "/t"\n  from = ${q(f.from)}\n  to = ${q(f.to)}\n  port = ${q(f.port)}\n${f.interface ? `  interface = ${q(f.interface)}\n` : ''}  verdict = "allow"\n}\n`)
    .join('\n');
}

/**
 * Disagreement is one connection where the kernel differs from the offline trace of the same
 * packet (`trace`: a bug in trace or a provider) or from the policy semantics (`semantics`: the
 * kernel enforces something the configuration does not say, a bug in compile or a provider).
 */
export interface Disagreement {
  kind: 'trace' | 'semantics';
  seed: number;
  backend: BackendName;
  flow: string;
  offline: string | null;
  semantics: string;
  live: string | null;
  outcome: string;
  packet: string;
  detail: string;
}

/** ConfigOutcome is what one configuration gave on one backend. */
export interface ConfigOutcome {
  seed: number;
  backend: BackendName;
  flows: number;
  checked: number;
  /** Flows the sandbox cannot send (ICMP non-echo, another interface), with why. */
  unchecked: Array<{ flow: string; why: string }>;
  disagreements: Disagreement[];
  /** Hosts whose read-back did not match the compiled rules (the apply itself is then wrong). */
  outOfSync: string[];
  /** Flows whose offline verdict was `depends` by name (checked over the sandbox's interfaces). */
  depends: number;
  /** Every flow's live check, in flow order. */
  results: LiveCheck[];
  allowed: number;
  rejected: number;
  ms: number;
}

/** The namespaces of the sandbox being built or used, removed by an exit hook if the process dies first. */
const LIVE_NETNS = new Set<string>();
process.once('exit', () => killAndDeleteNetnsSync(LIVE_NETNS));

/**
 * runConfig builds configuration `seed` as a sandbox, applies its compiled rules with `backend`,
 * sends every flow, and removes the sandbox whatever happens. It throws only when the
 * configuration itself is invalid (a generator bug) or the sandbox cannot be built.
 */
export async function runConfig(seed: number, backend: BackendName, flows: number, tag: string): Promise<ConfigOutcome> {
  const prefix = `mst${process.pid}-${tag}`;
  return runGenerated(generateConfig(seed, prefix, backend, flows), backend, prefix);
}

/**
 * runGenerated is runConfig for a configuration already written (a hand-written scenario too):
 * its enforcers must be netns `<prefix>-h<i>` on `backend`, and its flows `expect "f<i>"` blocks.
 */
export async function runGenerated(gen: GeneratedConfig, backend: BackendName, prefix: string): Promise<ConfigOutcome> {
  const started = Date.now();
  const seed = gen.seed;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mseg-diff-'));
  fs.writeFileSync(path.join(dir, 'main.hcl'), gen.hcl);
  try {
    const { model, diagnostics } = await loadAndValidate(dir, {});
    const errors = diagnostics.filter((d) => d.severity === 'error');
    if (!model || errors.length) throw new Error(`seed ${seed}: generated an invalid configuration: ${JSON.stringify(errors)}\n${gen.hcl}`);
    const now = new Date();
    const compiled = compile(model, { now });
    const cerr = compiled.diagnostics.filter((d) => d.severity === 'error');
    if (cerr.length) throw new Error(`seed ${seed}: compile errors: ${JSON.stringify(cerr)}`);
    const planned = planSandbox(model, { prefix: `${prefix}-s` });
    if (!planned.plan) throw new Error(`seed ${seed}: no sandbox: ${JSON.stringify(planned.diagnostics)}`);
    for (const n of [...gen.netns, planned.plan.bridge.netns, `${prefix}-s-ext`]) LIVE_NETNS.add(n);
    try {
      const up = await sandboxUp(dir, planned.plan);
      await applyAll(model, compiled.rulesets, up.record, backend);
      const report = await runLiveTests(model, compiled.rulesets, up.record, { backends: [backend], concurrency: 4 });
      const outOfSync = report.hosts.filter((h) => h.in_sync !== true).map((h) => `${h.enforcer}: ${h.detail ?? 'out of sync'}`);
      return summarise(seed, backend, gen, model, now, report.results, outOfSync, Date.now() - started);
    } finally {
      await sandboxDown(dir, { prefix: `${prefix}-s`, configNamespaces: gen.netns }).catch(() => undefined);
      for (const n of [...gen.netns, planned.plan.bridge.netns, `${prefix}-s-ext`]) LIVE_NETNS.delete(n);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** applyAll programs every enforcer namespace with its compiled ruleset (one atomic transaction each). */
async function applyAll(model: Model, rulesets: readonly DesiredRuleset[], record: SandboxRecord, backend: BackendName): Promise<void> {
  const provider = providerFor(backend);
  for (const h of record.plan.hosts) {
    const rs = rulesets.find((x) => x.enforcer === h.enforcer);
    if (!rs || !model.enforcers.some((e) => e.name === h.enforcer)) continue;
    const host = new NetnsHost(h.netns);
    await new KernelFirewall(provider, host).run(provider.fullSync(rs, await provider.read(host), 'differential'));
  }
}

function summarise(seed: number, backend: BackendName, gen: GeneratedConfig, model: Model, now: Date, results: LiveCheck[], outOfSync: string[], ms: number): ConfigOutcome {
  const flowText = (r: LiveCheck) => {
    const f = gen.flows[Number(r.name.slice(1))];
    return `${r.name}: ${f.from} → ${f.to} ${f.port}${f.interface ? ` interface ${f.interface}` : ''}`;
  };
  const checked = results.filter((r) => r.checkable && r.packet);
  const disagreements: Disagreement[] = [];
  for (const r of checked) {
    const p = r.packet!;
    // The sandbox joins hosts by eth0; two addresses of one namespace talk over lo.
    const iface = p.src_netns === p.dst_netns ? 'lo' : SANDBOX_INTERFACE;
    const semantics = policyOracle(
      model,
      { src: p.src, dst: p.dst, protocol: p.protocol as OracleConnection['protocol'], dport: p.dport, icmpType: p.icmp_type, icmpCode: p.icmp_code, oif: iface, iif: iface },
      now,
    ).verdict;
    const base = {
      seed,
      backend,
      flow: flowText(r),
      offline: r.offline,
      semantics,
      live: r.live,
      outcome: r.outcome,
      packet: `${p.protocol}${p.dport !== undefined ? `/${p.dport}` : ''} ${p.src} (${p.src_netns}) → ${p.dst} (${p.dst_netns})`,
      detail: [r.detail, r.note].filter(Boolean).join('; '),
    };
    if (r.agree === false) disagreements.push({ kind: 'trace', ...base });
    if (r.live !== semantics) disagreements.push({ kind: 'semantics', ...base });
  }
  return {
    seed,
    backend,
    flows: results.length,
    checked: checked.length,
    unchecked: results.filter((r) => !r.checkable).map((r) => ({ flow: flowText(r), why: r.detail })),
    disagreements,
    outOfSync,
    depends: results.filter((r) => r.note?.includes('the verdict depends')).length,
    results,
    allowed: checked.filter((r) => r.live === 'allow').length,
    rejected: checked.filter((r) => r.live === 'reject').length,
    ms,
  };
}

/**
 * checkOffline is the differential without a kernel, so it can run over many configurations in a
 * unit test: every flow of configuration `seed` is traced by name (no interface, networks by
 * name), and every outcome the trace claims is checked against the policy semantics for every
 * interface and address it claims it for: each case's interface condition with an interface of
 * each pattern it names (or one matching none of them), an end without a condition with every
 * kind of interface its host could meet, and each case's address class by its first and last
 * address. Returns one line per claim the semantics contradict.
 */
export async function checkOffline(seed: number, flows: number): Promise<{ flows: number; claims: number; problems: string[] }> {
  const gen = generateConfig(seed, 'off', 'nftables', flows);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mseg-diff-'));
  fs.writeFileSync(path.join(dir, 'main.hcl'), gen.hcl);
  try {
    const { model, diagnostics } = await loadAndValidate(dir, {});
    if (!model || diagnostics.some((d) => d.severity === 'error')) throw new Error(`seed ${seed}: invalid configuration: ${JSON.stringify(diagnostics)}`);
    const now = new Date();
    const { rulesets } = compile(model, { now });
    const problems: string[] = [];
    let claims = 0;
    const patternsOf = (enforcer: string | undefined): string[] => {
      const enf = model.enforcers.find((e) => e.name === enforcer);
      return model.enforcerProfiles.find((p) => p.name === enf?.profile)?.excludedInterfaces ?? [];
    };
    // Interfaces an end is claimed for: a condition's, or (no condition) every kind its host treats apart.
    const interfaces = (cond: InterfaceCondition | undefined, known: string | undefined, enforcer: string | undefined): string[] => {
      if (known !== undefined) return [known];
      const none = 'zz9'; // matches no generated pattern
      if (!cond) return [none, SANDBOX_INTERFACE, ...patternsOf(enforcer).filter((p) => p !== 'lo').map(interfaceOfPattern)];
      if ('one_of' in cond) return cond.one_of.map(interfaceOfPattern);
      return [none, ...(cond.none_of.some((p) => interfaceMatches(p, SANDBOX_INTERFACE)) ? [] : [SANDBOX_INTERFACE])];
    };
    for (const f of gen.flows) {
      const { trace: t, diagnostics: td } = traceFlow(model, rulesets, flowQuery(f));
      if (!t) {
        problems.push(`seed ${seed} ${f.from} → ${f.to} ${f.port}: cannot trace: ${td.map((d) => d.summary).join('; ')}`);
        continue;
      }
      const cases: FlowCase[] = t.cases ?? [{ verdict: t.verdict as 'allow' | 'reject', packet: t.packet, source: t.source, destination: t.destination }];
      for (const c of cases) {
        const ends = (cls: AddressClass | undefined, traced: string): string[] => {
          if (!cls) return [traced];
          const family = addressFamily(traced)!;
          const last = cidrToInterval(cls.cidrs[cls.cidrs.length - 1], family).end;
          return [...new Set([traced, bigintToAddress(last, family)])];
        };
        for (const src of ends(c.from_addresses, c.packet.src))
          for (const dst of ends(c.to_addresses, c.packet.dst))
            for (const oif of interfaces(c.oif, c.packet.oif, c.source.enforcer))
              for (const iif of interfaces(c.iif, c.packet.iif, c.destination.enforcer)) {
                claims++;
                const p = c.packet;
                const o = policyOracle(model, { src, dst, protocol: p.protocol as OracleConnection['protocol'], dport: p.dport, icmpType: p.icmp_type, icmpCode: p.icmp_code, oif, iif }, now);
                if (o.verdict !== c.verdict) {
                  problems.push(
                    `seed ${seed} ${f.from} → ${f.to} ${f.port}${f.interface ? ` interface ${f.interface}` : ''}: trace says ${c.verdict} for ${src} → ${dst} leaving by ${oif}, reaching by ${iif}; the semantics say ${o.verdict} (source ${o.source}, destination ${o.destination})`,
                  );
                }
              }
      }
    }
    return { flows: gen.flows.length, claims, problems };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** legacyUnusable says why iptables-legacy cannot run here (no ip_tables: microseg never modprobes), or undefined. */
export function legacyUnusable(): string | undefined {
  return fs.existsSync('/proc/net/ip_tables_names') ? undefined : 'ip_tables is not loaded (/proc/net/ip_tables_names missing) and microseg never runs modprobe';
}

/** checkOfflineMany is checkOffline over configurations seed0, seed0 + 1, …, with the totals. */
export async function checkOfflineMany(seed0: number, configs: number, flows: number): Promise<{ flows: number; claims: number; problems: string[] }> {
  const out = { flows: 0, claims: 0, problems: [] as string[] };
  for (let k = 0; k < configs; k++) {
    const r = await checkOffline(seed0 + k, flows);
    out.flows += r.flows;
    out.claims += r.claims;
    out.problems.push(...r.problems);
  }
  return out;
}

/** offlineCampaign: checkOffline over many configurations (no kernel, no root); prints totals and problems. */
async function offlineCampaign(seed0: number, configs: number, flows: number): Promise<number> {
  const t0 = Date.now();
  const { flows: total, claims, problems } = await checkOfflineMany(seed0, configs, flows);
  for (const p of problems.slice(0, 50)) process.stdout.write(`  PROBLEM ${p}\n`);
  process.stdout.write(
    `offline: seed ${seed0}, ${configs} configurations, ${total} flows, ${claims} claims of trace checked against the semantics, ${problems.length} contradicted, ${((Date.now() - t0) / 1000).toFixed(0)} s\n`,
  );
  return problems.length === 0 ? 0 : 1;
}

/**
 * main: the campaign. `--offline` checks trace against the semantics only (no kernel, no root). `--configs N` configurations per backend (default 60), `--flows M` per
 * configuration (default 30), `--seed S` the first seed (default: random; configuration k uses
 * S + k), `--backends a,b`. Prints one line per configuration, every disagreement, and totals.
 */
async function main(argv: string[]): Promise<number> {
  const arg = (name: string, def: string) => {
    const i = argv.indexOf(name);
    return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : def;
  };
  const configs = Number(arg('--configs', '60'));
  const flows = Number(arg('--flows', '30'));
  const seed0 = Number(arg('--seed', String(Math.floor(Math.random() * 1e9))));
  const backends = arg('--backends', 'nftables,iptables-nft,iptables-legacy').split(',') as BackendName[];
  if (argv.includes('--offline')) return offlineCampaign(seed0, configs, flows);
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    process.stderr.write('the differential campaign builds network namespaces: run it as root\n');
    return 1;
  }
  process.stdout.write(`trace differential: seed ${seed0}, ${configs} configurations × ${flows} flows per backend (${backends.join(', ')})\n`);
  const all: ConfigOutcome[] = [];
  const t0 = Date.now();
  for (const backend of backends) {
    const skip = backend === 'iptables-legacy' ? legacyUnusable() : undefined;
    if (skip) {
      process.stdout.write(`${backend}: skipped: ${skip}\n`);
      continue;
    }
    for (let k = 0; k < configs; k++) {
      const seed = seed0 + k;
      try {
        const o = await runConfig(seed, backend, flows, `c${k % 4}`);
        all.push(o);
        process.stdout.write(
          `${backend} seed ${seed}: ${o.checked}/${o.flows} checked, ${o.allowed} allowed, ${o.rejected} rejected, ${o.depends} depend by name, ${o.disagreements.length} disagree${o.outOfSync.length ? `, OUT OF SYNC ${o.outOfSync.join('; ')}` : ''} (${(o.ms / 1000).toFixed(1)} s)\n`,
        );
        for (const d of o.disagreements) {
          process.stdout.write(`  DISAGREE (${d.kind}) ${d.flow}: trace ${d.offline}, semantics ${d.semantics}, kernel ${d.live} (${d.outcome}) ${d.packet} ${d.detail}\n`);
        }
      } catch (e) {
        process.stdout.write(`${backend} seed ${seed}: ERROR ${(e as Error).message}\n`);
        return 1;
      }
    }
  }
  const sum = (f: (o: ConfigOutcome) => number) => all.reduce((n, o) => n + f(o), 0);
  const reasons = new Map<string, number>();
  for (const o of all) for (const u of o.unchecked) reasons.set(u.why.replace(/[0-9a-f:.]+\/?\d*/g, '…'), (reasons.get(u.why.replace(/[0-9a-f:.]+\/?\d*/g, '…')) ?? 0) + 1);
  process.stdout.write(
    `\ntotal: ${all.length} configurations, ${sum((o) => o.flows)} flows, ${sum((o) => o.checked)} checked against the kernel ` +
      `(${sum((o) => o.allowed)} allowed, ${sum((o) => o.rejected)} rejected), ${sum((o) => o.depends)} whose named trace depends, ` +
      `${sum((o) => o.disagreements.length)} disagreements, ${all.filter((o) => o.outOfSync.length).length} configurations out of sync, ` +
      `${((Date.now() - t0) / 1000).toFixed(0)} s\n`,
  );
  for (const [why, count] of [...reasons].sort((a, b) => b[1] - a[1])) process.stdout.write(`  not checkable ×${count}: ${why}\n`);
  return sum((o) => o.disagreements.length) === 0 && all.every((o) => o.outOfSync.length === 0) ? 0 : 1;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      process.stderr.write(`${(e as Error).stack}\n`);
      process.exit(1);
    },
  );
}
