/**
 * applyPlan: execute a Plan host by host (DESIGN §5–6; the recipe is in src/plan/index.ts).
 *
 * Per host, strictly in this order, so that a `kill -9` or a failing host is safe at every instant:
 *
 *   journal `begin` → run the host's planned Transactions (HostPlan.transactions: one atomic
 *   change per table, all in one transport round trip) → read back what they touched (readBack;
 *   after a full sync in that same round trip; whole with fullReadBack) → verify (the ObjectDiff of desired against the read-back is empty) → journal
 *   `verified` → save THIS host in state.
 *
 * Apply decides from data only: the transactions' kinds (full or delta) and backends, the plan's
 * read scope, the read-back's ObjectDiff. It never renders anything itself and never looks at
 * script text.
 *
 * A failing host is journalled `failed` and recorded with status `failed` + `last_error`, keeping
 * its previous owned objects (the state says what was verified, nothing more); the other hosts
 * carry on. Decommissioned hosts are cleaned up, read back, proven empty and dropped from state;
 * an unreachable one stays as `pending-cleanup`. State writes are serialised through one queue.
 *
 * Core code: returns data, never prints. The caller holds or lets this take the state lock.
 */
import { baselineAfterApply } from '../flows/baseline';
import type { HostCounters } from '../flows/stats';
import { randomUUID } from 'crypto';
import { enforcerAddress, makeDiagnostic, withAddress, type Diagnostic, DiagnosticsError } from '../diagnostics';
import type { DesiredRuleset } from '../compile/ir';
import { checkPlanFresh, checkPlanIntegrity, loadForPlan, planLoaded, describeOwned, diffObjects, ownsAnything, PlanCodes, problemsOf, type HostPlan, type LoadedConfig, type Plan } from '../plan';
import {
  newState,
  ownedFromLive,
  withHost,
  withoutHost,
  type LockInfo,
  type StateFile,
  type StateHost,
  type StateResource,
  type StateStore,
} from '../state';
import { kernelConnector, providerFor, type Connector, type Firewall, type FirewallHost } from '../../providers';
import { expectedOf, mergePartial } from '../../providers/common';
import type { Transaction } from '../../providers/transaction';
import type { BackendName, LiveRuleset, PartialLive, ReadScope } from '../../providers/types';
import { ApplyCodes } from '../plan/reconciler-codes';
import { isUnreachable } from '../hosts/factory';
import { mapLimit } from '../hosts/pool';
import { DEFAULT_PARALLELISM, refresh, type HostRead } from '../plan/refresh';
import type { ReconcileControl } from '../control/reconcile-control';
import { AgentCodes } from '../control/reconcile-codes';
import { applyTokens, type TokenOutcome } from './tokens';
import { applyAgentHosts } from './agents';

/** HostOutcome is what happened to one host. */
export type HostOutcomeStatus = 'applied' | 'removed' | 'unchanged' | 'failed' | 'pending-cleanup' | 'not-started';

export interface HostOutcome {
  enforcer: string;
  action: HostPlan['action'];
  status: HostOutcomeStatus;
  /** The transactions sent to the host, in order (tests, debugging, `apply --json` counts). */
  transactions: Transaction[];
  /** Fingerprint read back after a verified apply. */
  fingerprint?: string;
  /** The rule counters as they stood when the apply verified the host (`stats --since-apply`, src/flows/baseline.ts). */
  counters?: HostCounters;
  error?: string;
}

export interface ApplyResult {
  ok: boolean;
  runId: string;
  hosts: HostOutcome[];
  diagnostics: Diagnostic[];
  /** The state after the run (undefined if nothing was ever written). */
  state?: StateFile;
  /** What happened to each enforcer_token resource (its secret never appears here, only the file it was written to). */
  tokens?: TokenOutcome[];
  /**
   * Set when `signal` aborted the run: hosts not yet started are `not-started`, and each host in
   * flight ended as its transaction did (read back when the transaction's own outcome was lost).
   */
  interrupted?: boolean;
}

/** ApplyObserver receives progress events (views print them; tests capture transactions). */
export interface ApplyObserver {
  /** The hosts this run will go through, before the first starts (for a progress count). */
  hostsPlanned?(enforcers: readonly string[]): void;
  hostStart?(enforcer: string, action: HostPlan['action']): void;
  transaction?(enforcer: string, txs: readonly Transaction[]): void;
  hostDone?(outcome: HostOutcome): void;
}

export interface ApplyOptions {
  store: StateStore;
  parallelism?: number;
  /** Reads made under the lock this run holds (planRun's): their opened hosts are reused. */
  reads?: ReadonlyMap<string, HostRead>;
  /**
   * A saved plan (`apply FILE`): before touching anything, re-read every reachable host and refuse
   * the plan if the state or any host's live fingerprint changed since (checkPlanFresh).
   */
  savedPlan?: boolean;
  /** The caller already holds the state lock; otherwise applyPlan takes it (`lockTimeoutMs`, default 0). */
  lockHeld?: boolean;
  lockTimeoutMs?: number;
  /** How hosts are opened (default: the real transports and providers). */
  connect?: Connector;
  /**
   * Read every host back whole after its transactions instead of only what they touched
   * (`apply --full-read-back`; see readBack for what the partial read-back leaves to the next plan).
   */
  fullReadBack?: boolean;
  observer?: ApplyObserver;
  /**
   * Stop starting hosts once this aborts (SIGINT/SIGTERM, src/cli/interrupt.ts). A host in flight
   * is not cut short: its transaction commits or not as a whole, and apply records which.
   */
  signal?: AbortSignal;
  /** Test seam: called after `begin` is journalled and before the host is touched. */
  beforeHost?(enforcer: string): Promise<void>;
  /** The pg backend's control store: tokens and agent enforcers (src/control/reconcile-control.ts). */
  control?: ReconcileControl;
  /** Where new token secrets are written (mode 0600; see src/apply/tokens.ts). Default `.microseg/tokens`. */
  tokenDir?: string;
  /** How long to wait for agent enforcers to report the published ruleset applied (or clean); default 5 min. */
  waitTimeoutMs?: number;
}

/** applyPlan executes `plan`. Throws DiagnosticsError only for run-wide refusals (lock, stale plan). */
export async function applyPlan(plan: Plan, opts: ApplyOptions): Promise<ApplyResult> {
  const store = opts.store;
  // A saved plan's configuration is loaded and checked before the lock: one that no longer loads
  // is refused without ever holding the lock.
  const source = opts.savedPlan ? await loadSavedSource(plan) : undefined;
  let lock: LockInfo | undefined;
  if (!opts.lockHeld) lock = await store.acquireLock({ operation: 'apply', timeoutMs: opts.lockTimeoutMs ?? 0 });
  try {
    return await applyLocked(plan, opts, source);
  } finally {
    if (lock) await store.unlock(lock);
  }
}

/**
 * loadSavedSource loads the configuration a saved plan records (no state, no host): apply plans
 * it again under the lock to check the saved plan (applyLocked). Throws, refusing the plan, when
 * the plan records none or it no longer loads.
 */
async function loadSavedSource(plan: Plan): Promise<LoadedConfig> {
  const source = plan.source;
  if (!source) {
    throw new DiagnosticsError(
      [makeDiagnostic('error', PlanCodes.planNoSource, 'Saved plan does not say which configuration it was made from', 'Its integrity cannot be checked, so it is refused and no host was changed. Run `microseg plan -out` again with this microseg.')],
      'user',
    );
  }
  const loaded = await loadForPlan(source.dir, { vars: source.vars, varFiles: source.var_files, destroy: source.destroy });
  if (loaded.failed) {
    const errors = loaded.failed.diagnostics.filter((d) => d.severity === 'error');
    throw new DiagnosticsError(
      [
        makeDiagnostic(
          'error',
          PlanCodes.planSourceInvalid,
          `The configuration the saved plan was made from (${source.dir}) does not plan now`,
          `${errors.map((d) => `- ${d.code} ${d.summary}${d.file ? ` (${d.file}:${d.line}:${d.column})` : ''}`).join('\n')}\nThe plan cannot be checked against it, so it is refused and no host was changed.`,
        ),
      ],
      'user',
    );
  }
  return loaded.config;
}

async function applyLocked(plan: Plan, opts: ApplyOptions, sourceConfig?: LoadedConfig): Promise<ApplyResult> {
  const { store } = opts;
  const runId = randomUUID();
  const connect = opts.connect ?? kernelConnector();
  const parallelism = opts.parallelism ?? DEFAULT_PARALLELISM;

  const blocking = blockingErrors(plan);
  if (blocking.length > 0) {
    throw new DiagnosticsError(
      [makeDiagnostic('error', ApplyCodes.planHasErrors, 'The plan has errors and cannot be applied', blocking.map((d) => `- ${d.summary}`).join('\n'))],
      'user',
    );
  }

  let state: StateFile | undefined = await store.load();
  let reads = opts.reads ?? new Map<string, HostRead>();
  if (opts.savedPlan && sourceConfig && plan.source) {
    // A saved plan is planned again from the configuration it records (which also reads every
    // host once): apply runs it only when that gives the same transactions and desired rulesets,
    // so a plan file edited by hand cannot reach a host (checkPlanIntegrity).
    const source = plan.source;
    const again = await planLoaded(sourceConfig, { store, vars: source.vars, varFiles: source.var_files, targets: source.targets, destroy: source.destroy, parallelism, connect, control: opts.control });
    const fresh = [...again.reads.values()];
    const fps = new Map<string, string>();
    const previous = new Map<string, string>();
    for (const r of fresh) {
      if (r.reachable && r.live) fps.set(r.enforcer, r.live.fingerprint);
      if (r.previous) previous.set(r.enforcer, r.previous.live.fingerprint);
    }
    // Agent enforcers are not read: what their agents report now stands for their live fingerprint.
    for (const h of again.plan.hosts) if (h.agent) fps.set(h.enforcer, h.live_fingerprint);
    const stale = checkPlanFresh(plan, state, fps, previous);
    if (stale.length > 0) throw new DiagnosticsError(stale, 'user');
    const tampered = checkPlanIntegrity(plan, again.plan);
    if (tampered.length > 0) throw new DiagnosticsError(tampered, 'user');
    reads = new Map(fresh.map((r) => [r.enforcer, r] as const));
  }

  // State writes: one queue, each derived from the last one written.
  let current: StateFile = state ?? newState();
  let saveChain: Promise<unknown> = Promise.resolve();
  const record = (update: (s: StateFile) => StateFile): Promise<void> => {
    const next = saveChain.then(async () => {
      current = await store.save(update(current));
      state = current;
    });
    saveChain = next.catch(() => undefined);
    return next;
  };

  const diagnostics: Diagnostic[] = [];
  // Tokens first: they do not depend on any host, and an agent being installed may be waiting for one.
  let tokens: TokenOutcome[] | undefined;
  if (plan.tokens && plan.tokens.some((t) => t.action !== 'noop')) {
    if (!opts.control) {
      diagnostics.push(makeDiagnostic('error', AgentCodes.tokenNeedsPg, 'The plan changes enforcer tokens, but this backend has no control store', 'Tokens live in the pg backend\'s database; nothing was changed.'));
      tokens = plan.tokens.map((t) => ({ address: t.address, action: t.action, status: 'failed', error: 'no control store' }));
    } else {
      const r = await applyTokens(plan.tokens, opts.control, { tokenDir: opts.tokenDir ?? '.microseg/tokens' });
      tokens = r.outcomes;
      diagnostics.push(...r.diagnostics);
    }
  } else if (plan.tokens) tokens = plan.tokens.map((t) => ({ address: t.address, action: t.action, status: 'unchanged', ...(t.id ? { id: t.id } : {}) }));
  const tokensOk = !(tokens ?? []).some((t) => t.status === 'failed');
  opts.observer?.hostsPlanned?.(plan.hosts.map((h) => h.enforcer));
  // Agent enforcers are published to and waited for together, beside the hosts apply programs
  // itself, so a mixed configuration is one run (src/apply/agents.ts).
  const isAgent = (hp: HostPlan) => plan.connections[hp.enforcer]?.type === 'agent';
  const agentRun = applyAgentHosts(plan.hosts.filter(isAgent), plan, {
    control: opts.control,
    lineage: () => current.lineage,
    serial: () => current.serial,
    stateHost: (e) => current.hosts[e],
    record,
    waitTimeoutMs: opts.waitTimeoutMs ?? 5 * 60_000,
    diagnostics,
    signal: opts.signal,
  }).then((os) => {
    for (const o of os) opts.observer?.hostDone?.(o);
    return os;
  });
  const direct = await mapLimit(plan.hosts.filter((hp) => !isAgent(hp)), parallelism, async (hp): Promise<HostOutcome> => {
    if (opts.signal?.aborted) return { enforcer: hp.enforcer, action: hp.action, status: hp.action === 'noop' ? 'unchanged' : 'not-started', transactions: [] };
    const outcome = await applyHost(hp, plan, {
      store,
      runId,
      connect,
      read: reads.get(hp.enforcer),
      stateHost: () => current.hosts[hp.enforcer],
      record,
      observer: opts.observer,
      beforeHost: opts.beforeHost,
      fullReadBack: opts.fullReadBack ?? false,
      diagnostics,
      signal: opts.signal,
    });
    opts.observer?.hostDone?.(outcome);
    return outcome;
  });
  const byName = new Map([...direct, ...(await agentRun)].map((o) => [o.enforcer, o] as const));
  const outcomes = plan.hosts.map((hp) => byName.get(hp.enforcer)!);
  await saveChain;

  const interrupted = opts.signal?.aborted === true;
  const ok = !interrupted && tokensOk && outcomes.every((o) => o.status !== 'failed' && o.status !== 'not-started') && !outcomes.some((o) => o.status === 'pending-cleanup' && o.action !== 'cleanup-pending');
  // Resource records follow the plan's resource changes once every host is done: a partial run
  // leaves them, so the next plan still lists the configuration changes not yet fully applied.
  // The model of a fully applied run is what `plan --explain` compares with next time; a destroy
  // (no model) clears it. Written only when it changed, so a no-op apply keeps the serial. Both
  // go in one state write.
  const resourcesChanged = ok && plan.resource_changes.some((c) => c.action !== 'noop');
  const modelChanged = ok && JSON.stringify(current.applied_model ?? null) !== JSON.stringify(plan.model ?? null);
  if (resourcesChanged || modelChanged) {
    await record((s) => {
      const { applied_model: _old, ...rest } = s;
      const next = resourcesChanged ? { ...rest, resources: applyResourceChanges(s.resources, plan) } : rest;
      const model = modelChanged ? plan.model : s.applied_model;
      return model ? { ...next, applied_model: model } : next;
    });
  }
  return { ok, runId, hosts: outcomes, diagnostics, state, ...(tokens ? { tokens } : {}), ...(interrupted ? { interrupted } : {}) };
}

function applyResourceChanges(before: readonly StateResource[], plan: Plan): StateResource[] {
  const out = new Map(before.map((r) => [r.address, r] as const));
  for (const c of plan.resource_changes) {
    if (c.action === 'delete') out.delete(c.address);
    else if (c.after) out.set(c.address, c.after);
  }
  return [...out.values()];
}

interface HostContext {
  store: StateStore;
  runId: string;
  connect: Connector;
  read?: HostRead;
  stateHost(): StateHost | undefined;
  record(update: (s: StateFile) => StateFile): Promise<void>;
  observer?: ApplyObserver;
  beforeHost?(enforcer: string): Promise<void>;
  fullReadBack: boolean;
  diagnostics: Diagnostic[];
  signal?: AbortSignal;
}

async function applyHost(hp: HostPlan, plan: Plan, ctx: HostContext): Promise<HostOutcome> {
  const e = hp.enforcer;
  const out: HostOutcome = { enforcer: e, action: hp.action, status: 'unchanged', transactions: [] };
  const desired = plan.desired[e];
  const connection = plan.connections[e];
  const now = () => new Date().toISOString();

  // Planned as unreachable: nothing can be done now; say so in state.
  if (!hp.reachable) {
    const prev = ctx.stateHost();
    if (hp.action === 'cleanup-pending') {
      out.status = 'pending-cleanup';
      if (prev && prev.status !== 'pending-cleanup') await ctx.record((s) => withHost(s, e, { ...prev, status: 'pending-cleanup', updated_at: now() }));
      return out;
    }
    out.status = 'failed';
    out.error = `enforcer "${e}" could not be read at plan time; it was not touched`;
    if (prev) await ctx.record((s) => withHost(s, e, { ...prev, status: 'failed', last_error: out.error, updated_at: now() }));
    return out;
  }
  // Blocked at plan time: its previous rules stay exactly as they are; say why in state.
  if (hp.blocked_by && hp.blocked_by.length > 0) {
    out.status = 'failed';
    out.error = `enforcer "${e}" was not touched: ${hp.blocked_by.map((b) => b.summary).join('; ')}`;
    const prev = ctx.stateHost();
    if (prev) await ctx.record((s) => withHost(s, e, { ...prev, status: 'failed', last_error: out.error, updated_at: now() }));
    return out;
  }
  if (hp.action === 'noop') return out;

  ctx.observer?.hostStart?.(e, hp.action);
  const journal = (phase: 'begin' | 'applied' | 'verified' | 'failed', detail?: string) =>
    ctx.store.journal({ ts: now(), run_id: ctx.runId, enforcer: e, phase, ...(detail !== undefined ? { detail } : {}) });

  // Nothing reaches the host before `begin` is durable, but its fsync need not hold everything
  // else up: the transactions are handed to the transport at once with `touch` as their gate, so
  // the transport starts (a process, `ip netns exec`, an ssh session) while the entry is synced.
  // An interruption before the gate opens abandons the host with nothing sent.
  const begun = journal('begin', `${hp.action} ${hp.backend} from fingerprint ${hp.live_fingerprint || '(none)'}`);
  const touch = begun.then(() => {
    if (ctx.signal?.aborted) throw new NotTouched();
  });
  touch.catch(() => undefined); // awaited on every path below; this only keeps an early throw from leaving it unhandled
  let firewallForSettle: Firewall | undefined;
  let wantForSettle: LiveRuleset | undefined;
  try {
    if (ctx.beforeHost) {
      await touch;
      await ctx.beforeHost(e);
      if (ctx.signal?.aborted) throw new NotTouched();
    }
    if (!hp.transactions) throw new Error(`the plan carries no transactions for enforcer "${e}"; run \`microseg plan\` again`);
    const host: FirewallHost = ctx.read?.host ?? ctx.connect(connection);
    const firewall = host.firewall(hp.backend);
    firewallForSettle = firewall;
    const mine = hp.transactions.filter((t) => t.backend === hp.backend);
    const theirs = hp.transactions.filter((t) => t.backend !== hp.backend);
    const previous = theirs.length > 0 || hp.previous_backend ? host.firewall(hp.previous_backend ?? theirs[0].backend) : undefined;
    const send = async (fw: Firewall, txs: Transaction[]) => {
      if (txs.length === 0) return;
      ctx.observer?.transaction?.(e, txs);
      out.transactions.push(...txs);
      await fw.run(txs, { after: touch });
    };

    if (hp.action === 'delete') {
      await touch;
      await send(firewall, mine);
      await provenEmpty(firewall);
      if (previous) {
        await send(previous, theirs);
        await provenEmpty(previous);
      }
      await settled([journal('verified', 'nothing owned is left'), ctx.record((s) => withoutHost(s, e))]);
      out.status = 'removed';
      return out;
    }

    if (!desired) throw new Error(`the plan has no desired ruleset for enforcer "${e}"`);
    const want = expectedOf(providerFor(hp.backend), desired);
    wantForSettle = want;
    let back: { live: LiveRuleset; partial?: string };
    if (previous) {
      // A backend switch: the old backend is cleaned up (and proven empty) before the new one is
      // read back, since both may share the kernel's ipsets and hooks.
      await touch;
      await send(firewall, mine);
      await send(previous, theirs);
      await provenEmpty(previous);
      back = await readBack(firewall, want, mine, hp, ctx.fullReadBack);
    } else {
      back = await sendAndReadBack(firewall, want, mine, hp, ctx.fullReadBack, touch, (txs) => {
        ctx.observer?.transaction?.(e, txs);
        out.transactions.push(...txs);
      });
      await touch; // already settled when anything was sent; with nothing to send, `verified` must still follow `begin`
    }
    const problems = problemsOf(diffObjects(want, back.live));
    if (problems.length > 0) {
      throw new VerifyError(`read-back of enforcer "${e}" does not match the desired ruleset: ${problems.join('; ')}`);
    }
    const live = back.live;
    // The journal entry and the state record are independent writes (each durable on its own),
    // so they go at once: either one lost to a crash only makes the next plan read the host and
    // say so, which it does anyway.
    await settled([
      journal('verified', `${plural(out.transactions.length, 'transaction')}; fingerprint ${live.fingerprint}${back.partial ? ` (partial read-back: ${back.partial})` : ''}`),
      ctx.record((s) =>
        withHost(s, e, { backend: hp.backend, connection, owned: ownedFromLive(live), fingerprint: live.fingerprint, status: 'applied', updated_at: now() }),
      ),
    ]);
    out.status = 'applied';
    out.fingerprint = live.fingerprint;
    out.counters = baselineAfterApply(mine.some((t) => t.kind === 'full'), ctx.read?.live, live);
    return out;
  } catch (err) {
    // A `begin` that could not be written stops the run, as it always did (nothing was sent: the
    // gate never opened); every later journal entry must follow it in the file.
    const unbegun = await begun.then(
      () => undefined,
      (e2: unknown) => e2,
    );
    if (unbegun !== undefined) throw unbegun;
    if (err instanceof NotTouched) {
      out.transactions = [];
      out.status = 'not-started';
      out.error = 'interrupted before anything was sent; the host was not touched';
      await journal('failed', out.error).catch(() => undefined);
      return out;
    }
    // The run was interrupted while this host was in flight and its transaction's own outcome
    // was lost (Ctrl-C reaches the whole process group, so `nft -f` or `iptables-restore` may
    // have been killed before or after the kernel committed): read the host back to know.
    await new Promise((r) => setImmediate(r)); // let a signal that killed the child be handled first
    // A backend switch is left to the ordinary failure record: state must keep naming the old
    // backend so the next plan still cleans it up.
    if (ctx.signal?.aborted && firewallForSettle && !hp.previous_backend && !isUnreachable(err)) {
      const settled = await settleInterrupted(firewallForSettle, hp, wantForSettle).catch(() => undefined);
      if (settled) {
        if (settled.applied) {
          await Promise.allSettled([
            journal('verified', `interrupted, but read back whole: the transactions had committed; fingerprint ${settled.live.fingerprint}`),
            hp.action === 'delete'
              ? ctx.record((s) => withoutHost(s, e))
              : ctx.record((s) =>
                  withHost(s, e, { backend: hp.backend, connection, owned: ownedFromLive(settled.live), fingerprint: settled.live.fingerprint, status: 'applied', updated_at: now() }),
                ),
          ]);
          out.status = hp.action === 'delete' ? 'removed' : 'applied';
          out.fingerprint = settled.live.fingerprint;
          return out;
        }
        // Not (wholly) applied: state records what the host really holds, so the next plan shows
        // the remaining work as changes, not as drift.
        const msg = `interrupted while in flight; read back whole: not applied (${settled.what})`;
        out.status = 'failed';
        out.error = msg;
        await journal('failed', msg).catch(() => undefined);
        const owned = ownedFromLive(settled.live);
        const holdsAnything = owned.sets.length + owned.chains.length + owned.hooks.length > 0;
        const prev = ctx.stateHost();
        if (prev || holdsAnything) {
          await ctx.record((s) =>
            withHost(s, e, {
              backend: hp.backend,
              connection: prev?.connection ?? connection,
              owned,
              fingerprint: settled.live.fingerprint,
              status: 'failed',
              last_error: msg,
              updated_at: now(),
            }),
          );
        }
        return out;
      }
    }
    const msg = (err as Error)?.message ?? String(err);
    out.error = msg;
    await journal('failed', msg).catch(() => undefined);
    const prev = ctx.stateHost();
    const unreachable = isUnreachable(err);
    if (hp.action === 'delete') {
      out.status = unreachable ? 'pending-cleanup' : 'failed';
      ctx.diagnostics.push(
        withAddress(
          makeDiagnostic(
            unreachable ? 'warning' : 'error',
            unreachable ? ApplyCodes.unreachable : ApplyCodes.cleanupFailed,
            `Decommissioning enforcer "${e}" did not complete`,
            `${msg}\nIt stays in state as ${unreachable ? 'pending cleanup' : 'failed'}; the next plan retries.`,
          ),
          enforcerAddress(e),
        ),
      );
      if (prev) {
        await ctx.record((s) => withHost(s, e, { ...prev, status: unreachable ? 'pending-cleanup' : 'failed', last_error: msg, updated_at: now() }));
      }
      return out;
    }
    out.status = 'failed';
    ctx.diagnostics.push(
      withAddress(
        makeDiagnostic(
          'error',
          unreachable ? ApplyCodes.unreachable : err instanceof VerifyError ? ApplyCodes.verifyFailed : ApplyCodes.applyFailed,
          `Applying enforcer "${e}" failed`,
          `${msg}\nState keeps its previous record with status failed; the other hosts are unaffected. The next plan shows what remains.`,
        ),
        enforcerAddress(e),
      ),
    );
    const base: StateHost = prev ?? {
      backend: hp.backend,
      connection,
      owned: { sets: [], chains: [], hooks: [] },
      fingerprint: '',
      status: 'failed',
      updated_at: now(),
    };
    await ctx.record((s) => withHost(s, e, { ...base, status: 'failed', last_error: msg, updated_at: now() }));
    return out;
  }
}

class VerifyError extends Error {}

/** NotTouched: the run was interrupted after a host's `begin` and before anything was sent to it. */
class NotTouched extends Error {}

/**
 * settleInterrupted reads an interrupted host back whole and says whether the host holds what
 * the plan wanted (for a decommission: nothing owned).
 */
async function settleInterrupted(fw: Firewall, hp: HostPlan, want: LiveRuleset | undefined): Promise<{ applied: boolean; live: LiveRuleset; what: string }> {
  const live = await fw.read();
  if (hp.action === 'delete') {
    const applied = !ownsAnything(live);
    return { applied, live, what: applied ? 'nothing owned is left' : `it still holds ${describeOwned(live)}` };
  }
  if (!want) return { applied: false, live, what: 'nothing was sent' };
  const problems = problemsOf(diffObjects(want, live));
  if (problems.length > 0) return { applied: false, live, what: problems.slice(0, 3).join('; ') };
  return { applied: true, live, what: 'matches the plan' };
}

/** settled waits for every promise and then throws the first failure, so no write is left running behind an error. */
async function settled(ps: readonly Promise<unknown>[]): Promise<void> {
  const rs = await Promise.allSettled(ps);
  const bad = rs.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (bad) throw bad.reason;
}

function plural(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? '' : 's'}`;
}

/** provenEmpty reads `fw` back and throws unless microseg owns nothing there (decommission, backend switch). */
async function provenEmpty(fw: Firewall): Promise<void> {
  const after = await fw.read();
  if (ownsAnything(after)) {
    throw new Error(`after cleanup, ${fw.backend} still holds owned objects on ${fw.description}: ${describeOwned(after)}`);
  }
}

/** Plan errors that belong to one host, which the plan then marks blocked (see HostPlan.blocked_by). */
const HOST_SCOPED_CODES = new Set<string>([ApplyCodes.missingCapability, ApplyCodes.renderFailed, ApplyCodes.managementLockout]);

/**
 * blockingErrors lists the plan errors that stop a whole apply. Apply works around the others by
 * skipping one host and failing the run: an unreachable configured host, and a host the plan
 * blocked (its rules do not compile for it, it lacks a match they need, or they would lock
 * microseg out), matched by code and address. Any other error means the plan cannot be trusted as
 * a whole.
 */
export function blockingErrors(plan: Plan): Diagnostic[] {
  const blocked = new Set(plan.hosts.flatMap((h) => (h.blocked_by ?? []).map((b) => `${b.code} ${enforcerAddress(b.enforcer)}`)));
  return plan.diagnostics.filter(
    (d) => d.severity === 'error' && d.code !== PlanCodes.hostUnreachable && !HOST_SCOPED_CODES.has(d.code) && !blocked.has(`${d.code} ${d.address}`),
  );
}

/**
 * readBack verifies the host's transactions by re-reading only what they touched, instead of the
 * whole host: on nftables `nft -j list table` of 10,000 rules takes ~300 ms (more than loading
 * them), `list chain` of one ~10–20 ms (bench/README.md items 1 and 2).
 *
 * Deltas (every transaction of kind `delta`): the objects they may have changed are the plan's
 * read scope, the objects of the host's ObjectDiff (planned from a full read taken under the state
 * lock this run holds, or re-checked by fingerprint for a saved plan). They, and every hook, are
 * read again (Firewall.readPartial) and laid over `want` (mergePartial): outside the scope the
 * plan's read and `want` hold equal objects, by the diff's definition.
 *
 * A full sync (any transaction of kind `full`): every owned object was rewritten by transactions
 * the kernel commits whole or not at all (nftables: one `nft -f` that deletes and recreates table
 * inet microseg; iptables: one `iptables-restore` per family whose chain headers flush each owned
 * chain, after `ipset restore` swapped every owned set for a filled twin), and they all exited 0,
 * so each owned object holds exactly what was sent: expected(desired). What no such transaction
 * vouches for is read again: the hooks (their place among foreign rules and base chains, which a
 * foreign writer can change at any moment) and, where the provider lists them cheaply, the owned
 * chain names (nothing left over or missing). This is how kube-proxy and Felix treat a successful
 * restore; reading 10,000 rules back would only re-prove the kernel's atomic commit, at more than
 * the cost of the load.
 *
 * Either view then goes through the same comparison a full read does (diffObjects), and is what
 * state records: its fingerprint is canonical, equal to a full read's of the same kernel state
 * (proved against a full read in test/netns/partial-verify.test.ts).
 *
 * What a partial verify cannot see: a foreign edit to an owned object the transactions did not
 * rewrite, made between the plan's read and the transactions (delta), or right after the commit
 * (either). Such an edit is drift, not a failure of this apply: the recorded fingerprint then
 * differs from the host's, so the next plan reads the host whole, reports the drift and repairs
 * it, exactly as it would had the edit come a second after a full read-back. microseg never holds
 * a kernel lock against foreign edits, so a full read-back narrows that window without closing
 * it; `apply --full-read-back` reads the host whole anyway, as does a delta on a backend switch
 * and a delta whose plan carries no read scope. The host is also read whole when the provider
 * declines the scope or the partial read contradicts `want` outside it (an owned chain appeared
 * or vanished).
 */
async function sendAndReadBack(
  fw: Firewall,
  want: LiveRuleset,
  sent: Transaction[],
  hp: HostPlan,
  fullReadBack: boolean,
  after: Promise<unknown>,
  onSend: (txs: Transaction[]) => void,
): Promise<{ live: LiveRuleset; partial?: string }> {
  const full = sent.some((t) => t.kind === 'full');
  if (sent.length > 0) onSend(sent);
  // A full sync's re-read (hooks and owned chain names) runs in the transactions' own round trip.
  if (full && !fullReadBack) {
    const scope: ReadScope = { chains: [], sets: [] };
    const part = await fw.runAndReadPartial(sent, scope, { after });
    const live = part ? mergePartial(want, scope, part) : undefined;
    if (live) return { live, partial: partialWhat(true, scope, part!) };
    return { live: await fw.read() };
  }
  if (sent.length > 0) await fw.run(sent, { after });
  return readBack(fw, want, sent, hp, fullReadBack);
}

async function readBack(fw: Firewall, want: LiveRuleset, sent: readonly Transaction[], hp: HostPlan, fullReadBack: boolean): Promise<{ live: LiveRuleset; partial?: string }> {
  const full = sent.some((t) => t.kind === 'full');
  const whole = fullReadBack || (!full && (hp.previous_backend !== undefined || hp.read_scope === undefined));
  if (!whole) {
    const scope: ReadScope = full ? { chains: [], sets: [] } : hp.read_scope!;
    const part = await fw.readPartial(scope);
    const live = part ? mergePartial(want, scope, part) : undefined;
    if (live) return { live, partial: partialWhat(full, scope, part!) };
  }
  return { live: await fw.read() };
}

function partialWhat(full: boolean, scope: ReadScope, part: PartialLive): string {
  return full
    ? `the hooks${part.chainNames || part.chainFamilies ? ' and owned chain names' : ''} after a full sync committed whole`
    : `${scope.chains.length} chain(s), ${scope.sets.length} set(s) and the hooks`;
}

export type { BackendName, DesiredRuleset };
