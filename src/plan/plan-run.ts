/**
 * planRun: load + validate + compile the configuration, refresh every host, and assemble the Plan
 * (src/plan/index.ts describes the recipe). The configuration is checked completely before any
 * host is contacted: an invalid or uncompilable configuration touches nothing.
 *
 * Hosts planned = enforcers in the configuration ∪ hosts in state. A host only in state is being
 * decommissioned; if it cannot be reached it is `cleanup-pending`, which every plan shows again
 * until a cleanup succeeds.
 */
import * as path from 'path';
import { compile } from '../compile';
import type { DesiredRuleset } from '../compile/ir';
import { enforcerAddress, makeDiagnostic, withAddress, type Diagnostic } from '../diagnostics';
import type { Model, Resource } from '../model/types';
import { runPipeline } from '../pipeline';
import type { ProgressSink } from '../progress';
import { connectionRecord, type Connection } from '../hosts/connection';
import { mapLimit } from '../hosts/pool';
import { interruptedHosts, type StateFile, type StateStore } from '../state';
import { providerFor as providerOfBackend, type Connector } from '../../providers';
import { expectedOf } from '../../providers/common';
import type { LiveRuleset, Provider } from '../../providers/types';
import { evaluateExpectations, explainChanges, type ExpectationResult, type VerdictFlip } from '../trace';
import { hostDiff, unreachableHost } from './diff-host';
import { managementLockout } from './lockout';
import { makePlan } from './plan';
import { AdoptCodes } from './adopt-codes';
import { ApplyCodes } from './reconciler-codes';
import { DEFAULT_PARALLELISM, missingCapabilities, refresh, type HostRead, type RefreshTarget } from './refresh';
import { modelResources } from './resources';
import { ownsAnything, planTransactions } from './transactions';
import { bridgeProblems, placeFromFacts } from './placement';
import type { BlockReason, HostPlan, Plan, TokenPlan } from './types';
import type { ReconcileControl } from '../control/reconcile-control';
import { AgentCodes } from '../control/reconcile-codes';
import { planTokens } from '../control/token-plan';
import { planAgentHosts } from './agents';

export interface PlanRunOptions {
  store: StateStore;
  vars?: Record<string, string>;
  varFiles?: string[];
  parallelism?: number;
  /** Limit the plan to these enforcers (`NAME` or `enforcer.NAME`). Resource changes are then not planned. */
  targets?: string[];
  /** Plan the removal of everything: every host in configuration or state is decommissioned. */
  destroy?: boolean;
  now?: Date;
  /** How hosts are opened (default: the real transports and providers). */
  connect?: Connector;
  env?: NodeJS.ProcessEnv;
  /** Also list the connections whose verdict this plan flips, against the last applied model. */
  explain?: boolean;
  /** Told as files are parsed and hosts are read (src/progress.ts). */
  progress?: ProgressSink;
  /**
   * The control store of the pg backend (undefined with the local backend): `enforcer_token`
   * resources are planned against its tokens, and agent enforcers against its reports.
   */
  control?: ReconcileControl;
}

/** PlanRunResult: `plan` is absent when the configuration failed (then no host was contacted). */
export interface PlanRunResult {
  plan?: Plan;
  /** Configuration diagnostics (load, validate, compile) and plan-time ones, for rendering. */
  diagnostics: Diagnostic[];
  sources: ReadonlyMap<string, string>;
  /** What refresh read, by enforcer: apply reuses the opened hosts (under the same lock). */
  reads: Map<string, HostRead>;
  state: StateFile | undefined;
  model?: Model;
}

/**
 * LoadedConfig is a configuration that passed every check that needs no host and no state (load,
 * validate, compile, policy expectations): what planning under the lock starts from.
 */
export interface LoadedConfig {
  readonly dir: string;
  readonly model: Model;
  readonly rulesets: readonly DesiredRuleset[];
  /** The configuration's own diagnostics (warnings; host-scoped errors travel in the rulesets). */
  readonly diagnostics: Diagnostic[];
  readonly sources: ReadonlyMap<string, string>;
  /** The instant it was compiled at; planning judges schedules at the same one. */
  readonly now: Date;
}

/** ConfigLoadOptions are the options of the configuration stage (no store, no host). */
export type ConfigLoadOptions = Pick<PlanRunOptions, 'vars' | 'varFiles' | 'env' | 'destroy' | 'now' | 'progress'>;

/**
 * loadForPlan runs the configuration stage of a plan: load + validate + compile, and the policy
 * expectations (not for destroy). It touches neither state nor hosts, so the commands run it
 * before they take the state lock: a bad configuration fails without ever holding the lock (nor
 * making another run wait for it). `failed` is the result to render when it does not pass.
 */
export async function loadForPlan(dir: string, opts: ConfigLoadOptions): Promise<{ config: LoadedConfig; failed?: undefined } | { config?: undefined; failed: PlanRunResult }> {
  const now = opts.now ?? new Date();
  const p = await runPipeline(dir, { vars: opts.vars, varFiles: opts.varFiles, env: opts.env, compile: true, now, progress: opts.progress });
  const empty = { reads: new Map<string, HostRead>(), state: undefined, sources: p.sources };
  if (!p.model || !p.compiled) {
    return { failed: { ...empty, diagnostics: [...p.diagnostics, invalidConfig('The configuration is invalid')] } };
  }
  const { model, compiled } = p;
  // Errors that belong to one host's ruleset (an old enforcer, a duplicate address on it) fail
  // that host only (planModel marks it blocked); the others are planned and applied as usual.
  const perHost = new Set(compiled.rulesets.flatMap((r) => r.diagnostics));
  const configDiagnostics = p.diagnostics.filter((d) => !perHost.has(d));
  if (configDiagnostics.some((d) => d.severity === 'error')) {
    return { failed: { ...empty, model, diagnostics: [...p.diagnostics, invalidConfig('The configuration does not compile')] } };
  }
  if (!opts.destroy) {
    // Policy tests gate the plan like compile errors do: a change that breaks an expectation
    // never reaches a host.
    const failing = expectationFailures(evaluateExpectations(model, compiled.rulesets));
    if (failing.length > 0) {
      return { failed: { ...empty, model, diagnostics: [...configDiagnostics, ...failing, invalidConfig('Policy expectations fail')] } };
    }
  }
  return { config: { dir, model, rulesets: compiled.rulesets, diagnostics: configDiagnostics, sources: p.sources, now } };
}

/** planLoaded is planRun after loadForPlan: state, refresh, diff, transactions (under the lock when the caller holds it). */
export async function planLoaded(config: LoadedConfig, opts: PlanRunOptions): Promise<PlanRunResult & { plan: Plan }> {
  const { model, rulesets, now } = config;
  const state = await opts.store.load();
  const result = await planModel(model, rulesets, state, { ...opts, now });
  if (!opts.destroy) result.plan.model = model;
  result.plan.source = {
    dir: path.resolve(config.dir),
    vars: { ...(opts.vars ?? {}) },
    var_files: (opts.varFiles ?? []).map((f) => path.resolve(f)),
    targets: [...(opts.targets ?? [])],
    destroy: opts.destroy === true,
  };
  if (opts.explain) result.plan.explain = explainAgainstState(state, model, rulesets, now);
  // Host-level compile diagnostics are carried by makePlan (from each desired ruleset).
  return { ...result, model, sources: config.sources, diagnostics: [...config.diagnostics, ...result.plan.diagnostics] };
}

/** planRun plans `dir` against state and the live hosts: loadForPlan, then planLoaded. */
export async function planRun(dir: string, opts: PlanRunOptions): Promise<PlanRunResult> {
  const loaded = await loadForPlan(dir, opts);
  if (loaded.failed) return loaded.failed;
  return planLoaded(loaded.config, opts);
}

/** planModel is planRun after the configuration stage: refresh + diff + transactions + makePlan. */
export async function planModel(
  model: Model,
  rulesets: readonly DesiredRuleset[],
  state: StateFile | undefined,
  opts: PlanRunOptions,
): Promise<{ plan: Plan; reads: Map<string, HostRead>; state: StateFile | undefined; diagnostics: Diagnostic[] }> {
  const diagnostics: Diagnostic[] = [];
  const desired: { [e: string]: DesiredRuleset } = {};
  if (!opts.destroy) for (const r of rulesets) desired[r.enforcer] = r;

  // The hosts: configuration ∪ state, optionally narrowed by --target.
  const targets = new Map<string, RefreshTarget>();
  for (const e of model.enforcers) {
    targets.set(e.name, { enforcer: e.name, connection: connectionRecord(e.connection), backend: e.backend, stateBackend: state?.hosts[e.name]?.backend });
  }
  for (const [name, h] of Object.entries(state?.hosts ?? {})) {
    if (!targets.has(name)) targets.set(name, { enforcer: name, connection: h.connection, backend: h.backend, stateBackend: h.backend });
  }
  let chosen = [...targets.values()];
  const resources: readonly Resource[] = opts.destroy ? [] : modelResources(model);
  const targeted = opts.targets !== undefined && opts.targets.length > 0;
  if (opts.targets && opts.targets.length > 0) {
    const wanted = new Set<string>();
    for (const t of opts.targets) {
      const name = t.startsWith('enforcer.') ? t.slice('enforcer.'.length) : t;
      if (!targets.has(name)) {
        diagnostics.push(
          makeDiagnostic('error', ApplyCodes.unknownTarget, `--target ${t} names no enforcer in the configuration or state`, `Known: ${[...targets.keys()].sort().join(', ') || '(none)'}.`),
        );
      } else wanted.add(name);
    }
    chosen = chosen.filter((t) => wanted.has(t.enforcer));
    for (const name of Object.keys(desired)) if (!wanted.has(name)) delete desired[name];
  }

  // Agent enforcers are never contacted: their agents pull and report (src/plan/agents.ts).
  const agentTargets = chosen.filter((t) => t.connection.type === 'agent');
  chosen = chosen.filter((t) => t.connection.type !== 'agent');
  // Probing is deferred: capabilities only matter for hosts apply will write to, and a no-op plan
  // over a large fleet should cost one read per host (bench/noop-plan.ts).
  const reads = await refresh(chosen, { parallelism: opts.parallelism, connect: opts.connect, probe: false, progress: opts.progress });
  const byName = new Map(reads.map((r) => [r.enforcer, r] as const));
  if (!opts.destroy) {
    // The hosts' own addresses came with their rules (one round trip): they decide placement.
    const facts = new Map(reads.filter((r) => r.live && desired[r.enforcer]).map((r) => [r.enforcer, r.live!.facts] as const));
    const placed = placeFromFacts(model, desired, facts, { now: opts.now ?? new Date() });
    Object.assign(desired, placed.desired);
    diagnostics.push(...placed.diagnostics);
  }
  const hosts: HostPlan[] = [];
  const toProbe: Array<{ read: HostRead; want: DesiredRuleset; hp: HostPlan }> = [];
  const connections: { [e: string]: Connection } = {};
  for (const read of reads) {
    const e = read.enforcer;
    connections[e] = read.connection;
    const want = desired[e];
    const stateHost = state?.hosts[e];
    if (!read.reachable || !read.live || !read.backend) {
      const why = read.error ?? 'the host could not be read';
      const u = unreachableHost(e, want, stateHost, read.failedOnHost ? `Reading it failed: ${why}` : why, read.backend);
      hosts.push(u.host);
      diagnostics.push(u.diagnostic);
      continue;
    }
    if (want && !stateHost && ownsAnything(read.live)) diagnostics.push(stateElsewhere(e, read.live, opts.store.description));
    const provider = providerOf(read);
    const blocks: BlockReason[] = (want?.diagnostics ?? []).filter((d) => d.severity === 'error').map((d) => ({ code: d.code, enforcer: e, summary: d.summary }));
    const blockWith = (d: Diagnostic) => {
      const addressed = withAddress(d, enforcerAddress(e));
      diagnostics.push(addressed);
      blocks.push({ code: d.code, enforcer: e, summary: d.summary });
    };
    if (want) {
      const unseen = bridgeProblems(model, want, read.live.facts);
      if (unseen.length > 0) {
        blockWith(
          makeDiagnostic(
            'error',
            ApplyCodes.bridgeUnfiltered,
            `Enforcer "${e}" cannot enforce its bridged processing units: ${unseen.map((u) => `${u.pu} (${u.address} on ${u.bridge})`).join(', ')}`,
            `${[...new Set(unseen.map((u) => u.why))].join('; ')}, so traffic switched between ports of that bridge never reaches the forward hook where microseg enforces it. ` +
              'microseg never changes a sysctl itself: load br_netfilter and set net.bridge.bridge-nf-call-iptables=1 (and -ip6tables=1 for IPv6) on the host, as Docker does, then plan again. The host was not touched.',
          ),
        );
      }
    }
    let expected: LiveRuleset | undefined;
    if (want) {
      try {
        expected = expectedOf(provider, want);
      } catch (err) {
        blockWith(makeDiagnostic('error', ApplyCodes.renderFailed, `The rules of enforcer "${e}" cannot be written for ${read.backend}`, (err as Error).message));
      }
    }
    const lockout = want ? managementLockout(read.connection, want) : undefined;
    if (lockout) {
      blockWith(
        makeDiagnostic(
          'error',
          ApplyCodes.managementLockout,
          `Applying enforcer "${e}" would lock microseg out of it`,
          `${lockout.address} is an address of one of its processing units, and chain ${lockout.chain} rejects new tcp/${lockout.port} ` +
            'connections from every source, so the next ssh session would be refused. Allow your ssh clients with a network_policy ' +
            `into that processing unit on tcp/${lockout.port}, add failsafe = ["tcp/${lockout.port}"] to the enforcer's enforcer_profile, ` +
            'or manage the host through an address no processing unit uses. The host was not touched.',
        ),
      );
    }
    let hp: HostPlan;
    if (want && !expected) {
      // Nothing to compare with: the host is planned as it is and left alone.
      hp = unreachableHost(e, want, stateHost, '', read.backend).host;
      hp.reachable = true;
      hp.live_fingerprint = read.live.fingerprint;
    } else {
      const { plan, diff } = hostDiff(want, read.live, stateHost, { enforcer: e, expected });
      hp = plan;
      if (blocks.length === 0 && hp.action !== 'noop') {
        try {
          Object.assign(hp, planTransactions(provider, want, diff, e));
        } catch (err) {
          blockWith(makeDiagnostic('error', ApplyCodes.renderFailed, `The rules of enforcer "${e}" cannot be written for ${read.backend}`, (err as Error).message));
        }
      }
    }
    if (read.previous) {
      hp.previous_fingerprint = read.previous.live.fingerprint;
      if (blocks.length === 0) hp.transactions = [...(hp.transactions ?? []), ...providerOfBackend(read.previous.backend).cleanup(read.previous.live, e)];
    }
    if (want?.placements && want.placements.length > 0) hp.placements = want.placements;
    if (want?.hostProtection) hp.host_protection = want.hostProtection;
    if (blocks.length > 0) block(hp, blocks);
    hosts.push(hp);
    if (want && hp.action !== 'noop' && !hp.blocked_by) toProbe.push({ read, want, hp });
  }
  const agents = await planAgentHosts(agentTargets, desired, state, model, opts.control);
  hosts.push(...agents.hosts);
  diagnostics.push(...agents.diagnostics);
  for (const t of agentTargets) connections[t.enforcer] = t.connection;
  await mapLimit(toProbe, opts.parallelism ?? DEFAULT_PARALLELISM, async ({ read, want, hp }) => {
    const e = read.enforcer;
    try {
      read.capabilities = await read.firewall!.probe();
    } catch (err) {
      // Gone between read and probe: plan it as unreachable, like a failed read.
      const u = unreachableHost(e, want, state?.hosts[e], (err as Error).message, read.backend);
      hosts[hosts.indexOf(hp)] = u.host;
      diagnostics.push(u.diagnostic);
      read.reachable = false;
      return;
    }
    const missing = missingCapabilities(want, read.capabilities);
    if (missing.length > 0) {
      const d = withAddress(
        makeDiagnostic(
          'error',
          ApplyCodes.missingCapability,
          `Enforcer "${e}" (${read.firewall!.description}) lacks what its rules need: ${missing.join(', ')}`,
          `Backend ${read.backend}. Install or enable them, or choose another backend; microseg never drops or widens a rule to fit a host.`,
        ),
        enforcerAddress(e),
      );
      diagnostics.push(d);
      block(hp, [{ code: d.code, enforcer: e, summary: d.summary }]);
    }
  });

  // A killed apply leaves a journal `begin` without `verified`: say so (the plan shows what is left).
  const journal = await opts.store.readJournal({ latestPerEnforcer: true }).catch(() => []);
  for (const u of interruptedHosts(journal)) {
    if (!byName.has(u.enforcer)) continue;
    diagnostics.push(
      withAddress(
        makeDiagnostic(
          'warning',
          ApplyCodes.unfinishedRun,
          `The last apply of enforcer "${u.enforcer}" (run ${u.run_id}) stopped after "${u.phase}" at ${u.ts}`,
          'That run was interrupted before it verified the host. The host was read back just now, so this plan shows exactly what is left to do.',
        ),
        enforcerAddress(u.enforcer),
      ),
    );
  }

  const tokens = targeted ? undefined : await tokenPlans(model, state, opts, diagnostics);
  const plan = makePlan({ state, resources, desired, hosts, connections, diagnostics, now: opts.now });
  // A targeted plan changes hosts only; resource records are left for a full plan to settle
  // (apply records exactly the resource changes a plan lists).
  if (targeted) plan.resource_changes = [];
  if (tokens !== undefined) plan.tokens = tokens;
  return { plan, reads: byName, state, diagnostics };
}

/**
 * tokenPlans plans the enforcer_token resources against the control store's live tokens. Tokens
 * live in the pg backend's database: with the local backend a configured token is an error at
 * its block (nothing could make it real), while a token removed from the configuration has
 * nothing to revoke there.
 */
async function tokenPlans(model: Model, state: StateFile | undefined, opts: PlanRunOptions, diagnostics: Diagnostic[]): Promise<TokenPlan[] | undefined> {
  const wanted = opts.destroy ? [] : model.enforcerTokens;
  const inConfig = new Set(wanted.map((t) => t.address));
  const removed = (state?.resources ?? []).filter((r) => r.type === 'enforcer_token' && !inConfig.has(r.address)).map((r) => r.address);
  if (!opts.control) {
    for (const t of wanted) {
      diagnostics.push(
        makeDiagnostic(
          'error',
          AgentCodes.tokenNeedsPg,
          `${t.address} needs the pg state backend`,
          'An enforcer_token is a registration token of the control plane, which keeps its tokens in the PostgreSQL database of the pg backend. ' +
            `This configuration uses the local backend (${opts.store.description}), where apply could not make it real. ` +
            'Configure microseg { backend "pg" { } } (and PG_CONN_STR), or remove the block. Nothing was changed.',
          t.pos,
        ),
      );
    }
    return wanted.length > 0 || removed.length > 0 ? [] : undefined;
  }
  if (wanted.length === 0 && removed.length === 0) return undefined;
  try {
    return planTokens(wanted, removed, await opts.control.tokens());
  } catch (e) {
    diagnostics.push(makeDiagnostic('error', AgentCodes.controlUnreadable, 'Cannot read the registration tokens of the control store', (e as Error).message));
    return [];
  }
}

/**
 * expectationFailures turns every failing `expect` block into an error at the block (plan and
 * apply stop on them; `test --format sarif` reports them as findings).
 */
export function expectationFailures(results: readonly ExpectationResult[]): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const r of results) {
    if (r.pass) continue;
    const got = r.actual === null ? 'could not be traced' : `got ${r.actual}${r.decided_by ? ` (decided by ${r.decided_by === 'default' ? 'the namespace default' : `policy ${r.decided_by}`})` : ''}`;
    const why = r.diagnostics.map((d) => d.summary).join('; ');
    out.push({
      ...makeDiagnostic(
        'error',
        ApplyCodes.expectationFailed,
        `Expectation "${r.name}" fails: ${r.from} → ${r.to} ${r.port} expected ${r.expected}, ${got}`,
        `${why ? `${why}. ` : ''}Fix the policies or the expectation; \`microseg test\` and \`microseg trace\` show the deciding rules.`,
      ),
      ...(r.file ? { file: r.file, line: r.line, ...(r.column ? { column: r.column } : {}) } : {}),
    });
  }
  return out;
}

/**
 * explainAgainstState compares the verdicts of the model last fully applied (kept in state) with
 * the configuration's, both compiled at the same instant so schedules cannot masquerade as
 * changes. Undefined when nothing was applied yet: there is nothing to compare with.
 */
function explainAgainstState(state: StateFile | undefined, model: Model, rulesets: readonly DesiredRuleset[], now: Date): VerdictFlip[] | undefined {
  const before = state?.applied_model;
  if (!before) return undefined;
  return explainChanges(before, compile(before, { now }).rulesets, model, rulesets);
}

/**
 * stateElsewhere warns that a configured host holds microseg objects the state has no record of.
 * With a state that did apply them, the host would be recorded; so either this is the wrong
 * state (another backend, workspace or directory, as on a CI runner with local state), or the
 * record was removed. Planned as usual meanwhile: what matches the configuration is left alone,
 * the rest are orphans apply removes, which is right only if this state is the right one.
 */
function stateElsewhere(e: string, live: LiveRuleset, where: string): Diagnostic {
  return withAddress(
    makeDiagnostic(
      'warning',
      AdoptCodes.stateElsewhere,
      `Enforcer "${e}" already holds microseg objects, but the state has no record of it`,
      `Found on the host: ${ownedCounts(live)}. The state in use (${where}) did not put them there, so the state that did may be ` +
        'elsewhere: check the backend and workspace this run uses. If this is the right state, adopt the host with ' +
        `\`microseg import ${e}\`, and the next plan shows only the real difference.`,
    ),
    enforcerAddress(e),
  );
}

/** ownedCounts says briefly what a host holds of microseg's (a large host has thousands of objects). */
export function ownedCounts(live: LiveRuleset): string {
  const n = (k: number, what: string) => `${k} ${what}${k === 1 ? '' : 's'}`;
  return `${n(live.chains.length, 'chain')}, ${n(live.sets.length, 'set')}, ${n(live.hooks.filter((h) => h.present).length, 'hook')} (${live.backend})`;
}

/** block marks a host apply must leave untouched this run (HostPlan.blocked_by); it is sent nothing. */
function block(hp: HostPlan, reasons: readonly BlockReason[]): void {
  hp.blocked_by = [...(hp.blocked_by ?? []), ...reasons];
  delete hp.transactions;
  delete hp.read_scope;
}

function providerOf(read: HostRead): Provider {
  return providerOfBackend(read.backend!);
}

function invalidConfig(summary: string): Diagnostic {
  return makeDiagnostic('error', ApplyCodes.invalidConfig, `${summary}; no host was contacted`, 'Fix the errors above and run the command again.');
}
