/**
 * planRun: load + validate + compile the configuration, refresh every host, and assemble the Plan
 * (src/plan/index.ts describes the recipe). The configuration is checked completely before any
 * host is contacted: an invalid or uncompilable configuration touches nothing.
 *
 * Hosts planned = enforcers in the configuration ∪ hosts in state. A host only in state is being
 * decommissioned; if it cannot be reached it is `cleanup-pending`, which every plan shows again
 * until a cleanup succeeds.
 */
import { compile } from '../compile';
import type { DesiredRuleset } from '../compile/ir';
import { loadConfig } from '../config/load';
import { makeDiagnostic, type Diagnostic } from '../diagnostics';
import { validateConfig } from '../model/validate';
import type { Model, Resource } from '../model/types';
import { diffHost, unreachableHost } from './diff-host';
import { makePlan } from './plan';
import { modelResources } from './resources';
import type { HostPlan, Plan } from './types';
import { managementLockout } from './lockout';
import { connectionRecord, type Connection } from '../hosts/connection';
import { interruptedHosts, type StateFile, type StateStore } from '../state';
import type { LiveRuleset } from '../../providers/types';
import { expectedOf } from '../../providers/common';
import { evaluateExpectations, explainChanges, type VerdictFlip } from '../trace';
import { ApplyCodes } from './reconciler-codes';
import type { HostFactory } from '../hosts/factory';
import { DEFAULT_PARALLELISM, missingCapabilities, refresh, type HostRead, type RefreshTarget } from './refresh';
import { mapLimit } from '../hosts/pool';

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
  hostFactory?: HostFactory;
  env?: NodeJS.ProcessEnv;
  /** Also list the connections whose verdict this plan flips, against the last applied model. */
  explain?: boolean;
}

/** PlanRunResult: `plan` is absent when the configuration failed (then no host was contacted). */
export interface PlanRunResult {
  plan?: Plan;
  /** Configuration diagnostics (load, validate, compile) and plan-time ones, for rendering. */
  diagnostics: Diagnostic[];
  sources: ReadonlyMap<string, string>;
  /** What refresh read, by enforcer: apply reuses it (under the same lock) instead of reading twice. */
  reads: Map<string, HostRead>;
  state: StateFile | undefined;
  model?: Model;
}

/** loadModel loads and validates a configuration directory; errors mean `model` is undefined. */
export async function loadModel(
  dir: string,
  opts: { vars?: Record<string, string>; varFiles?: string[]; env?: NodeJS.ProcessEnv },
): Promise<{ model?: Model; diagnostics: Diagnostic[]; sources: ReadonlyMap<string, string> }> {
  const raw = await loadConfig(dir, { vars: opts.vars ?? {}, varFiles: opts.varFiles ?? [], env: opts.env ?? process.env });
  // Validated even after front-end errors, so every problem is reported in one run (validateConfig).
  const { model, diagnostics } = validateConfig(raw);
  const all = [...raw.diagnostics, ...diagnostics];
  return { model: all.some((d) => d.severity === 'error') ? undefined : model, diagnostics: all, sources: raw.sources };
}

/** planRun plans `dir` against state and the live hosts. */
export async function planRun(dir: string, opts: PlanRunOptions): Promise<PlanRunResult> {
  const loaded = await loadModel(dir, opts);
  const empty = { reads: new Map<string, HostRead>(), state: undefined, sources: loaded.sources };
  if (!loaded.model) {
    return { ...empty, diagnostics: [...loaded.diagnostics, invalidConfig('The configuration is invalid')] };
  }
  const model = loaded.model;
  const compiled = compile(model, { now: opts.now ?? new Date() });
  // Errors that belong to one host's ruleset (an old enforcer, a duplicate address on it) fail
  // that host only (planModel marks it blocked); the others are planned and applied as usual.
  const hostScoped = new Set(compiled.rulesets.flatMap((r) => r.diagnostics));
  const compileErrors = compiled.diagnostics.filter((d) => d.severity === 'error' && !hostScoped.has(d));
  if (compileErrors.length > 0) {
    return { ...empty, model, diagnostics: [...loaded.diagnostics, ...compiled.diagnostics, invalidConfig('The configuration does not compile')] };
  }
  if (!opts.destroy) {
    // Policy tests gate the plan like compile errors do: a change that breaks an expectation
    // never reaches a host.
    const failing = expectationFailures(model, compiled.rulesets);
    if (failing.length > 0) {
      return { ...empty, model, diagnostics: [...loaded.diagnostics, ...failing, invalidConfig('Policy expectations fail')] };
    }
  }
  const state = await opts.store.load();
  const result = await planModel(model, compiled.rulesets, state, opts);
  if (!opts.destroy) result.plan.model = model;
  if (opts.explain) result.plan.explain = explainAgainstState(state, model, compiled.rulesets, opts.now ?? new Date());
  // Host-level compile diagnostics are carried by makePlan (from each desired ruleset).
  const perHost = new Set(compiled.rulesets.flatMap((r) => r.diagnostics));
  const modelWide = compiled.diagnostics.filter((d) => !perHost.has(d));
  return {
    ...result,
    model,
    sources: loaded.sources,
    diagnostics: [...loaded.diagnostics, ...modelWide, ...(result.plan?.diagnostics ?? [])],
  };
}

/** planModel is planRun after the configuration stage: refresh + diff + makePlan. */
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

  // Probing is deferred: capabilities only matter for hosts apply will write to, and a no-op plan
  // over a large fleet should cost one read per host (bench/noop-plan.ts).
  const reads = await refresh(chosen, { parallelism: opts.parallelism, hostFactory: opts.hostFactory, probe: false });
  const byName = new Map(reads.map((r) => [r.enforcer, r] as const));
  const hosts: HostPlan[] = [];
  const toProbe: Array<{ read: HostRead; want: DesiredRuleset }> = [];
  const connections: { [e: string]: Connection } = {};
  for (const read of reads) {
    const e = read.enforcer;
    connections[e] = read.connection;
    const want = desired[e];
    const stateHost = state?.hosts[e];
    if (!read.reachable || !read.live || !read.provider) {
      const why = read.error ?? 'the host could not be read';
      const u = unreachableHost(e, want, stateHost, read.failedOnHost ? `Reading it failed: ${why}` : why, read.backend);
      hosts.push(u.host);
      diagnostics.push(u.diagnostic);
      continue;
    }
    let expected: LiveRuleset | undefined;
    const reasons = (want?.diagnostics ?? []).filter((d) => d.severity === 'error').map((d) => d.summary);
    if (want) {
      try {
        expected = expectedOf(read.provider, want);
      } catch (err) {
        reasons.push(`its rules cannot be written for ${read.backend}: ${(err as Error).message}`);
        diagnostics.push(
          makeDiagnostic('error', ApplyCodes.renderFailed, `The rules of enforcer "${e}" cannot be written for ${read.backend}`, (err as Error).message),
        );
      }
    }
    const lockout = want ? managementLockout(read.connection, want) : undefined;
    if (lockout) {
      const why = `its rules would refuse every new ssh connection to ${lockout.address} port ${lockout.port}, the address microseg manages it through`;
      reasons.push(why);
      diagnostics.push(
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
    const hp = diffHost(want, read.live, stateHost, { enforcer: e, expected });
    if (reasons.length > 0) block(hp, reasons);
    hosts.push(hp);
    if (want && hp.action !== 'noop' && !hp.blocked_by) toProbe.push({ read, want });
  }
  await mapLimit(toProbe, opts.parallelism ?? DEFAULT_PARALLELISM, async ({ read, want }) => {
    const e = read.enforcer;
    try {
      read.capabilities = await read.provider!.probe(read.host);
    } catch (err) {
      // Gone between read and probe: plan it as unreachable, like a failed read.
      const u = unreachableHost(e, want, state?.hosts[e], (err as Error).message, read.backend);
      hosts[hosts.findIndex((h) => h.enforcer === e)] = u.host;
      diagnostics.push(u.diagnostic);
      read.reachable = false;
      return;
    }
    const missing = missingCapabilities(want, read.capabilities);
    if (missing.length > 0) {
      block(hosts.find((h) => h.enforcer === e)!, [`the host lacks ${missing.join(', ')}`]);
      diagnostics.push(
        makeDiagnostic(
          'error',
          ApplyCodes.missingCapability,
          `Enforcer "${e}" (${read.host.description}) lacks what its rules need: ${missing.join(', ')}`,
          `Backend ${read.backend}. Install or enable them, or choose another backend; microseg never drops or widens a rule to fit a host.`,
        ),
      );
    }
  });

  // A killed apply leaves a journal `begin` without `verified`: say so (the plan shows what is left).
  const journal = await opts.store.readJournal().catch(() => []);
  for (const u of interruptedHosts(journal)) {
    if (!byName.has(u.enforcer)) continue;
    diagnostics.push(
      makeDiagnostic(
        'warning',
        ApplyCodes.unfinishedRun,
        `The last apply of enforcer "${u.enforcer}" (run ${u.run_id}) stopped after "${u.phase}" at ${u.ts}`,
        'That run was interrupted before it verified the host. The host was read back just now, so this plan shows exactly what is left to do.',
      ),
    );
  }

  const plan = makePlan({ state, resources, desired, hosts, connections, diagnostics, now: opts.now });
  // A targeted plan changes hosts only; resource records are left for a full plan to settle
  // (apply records exactly the resource changes a plan lists).
  if (targeted) plan.resource_changes = [];
  return { plan, reads: byName, state, diagnostics };
}

/** expectationFailures turns every failing `expect` block into an error at the block. */
function expectationFailures(model: Model, rulesets: readonly DesiredRuleset[]): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const r of evaluateExpectations(model, rulesets)) {
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
      ...(r.file ? { file: r.file, line: r.line } : {}),
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

/** block marks a host apply must leave untouched this run (HostPlan.blocked_by). */
function block(hp: HostPlan, reasons: string[]): void {
  hp.blocked_by = [...(hp.blocked_by ?? []), ...reasons];
}

function invalidConfig(summary: string): Diagnostic {
  return makeDiagnostic('error', ApplyCodes.invalidConfig, `${summary}; no host was contacted`, 'Fix the errors above and run the command again.');
}
