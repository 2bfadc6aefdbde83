/**
 * applyPlan: execute a Plan host by host (DESIGN §5–6; the recipe is in src/plan/index.ts).
 *
 * Per host, strictly in this order, so that a `kill -9` or a failing host is safe at every instant:
 *
 *   journal `begin` → render (the provider's minimal `renderChanges` when it has one, else the
 *   full sync) → run the steps (one atomic transaction per table) → journal `applied` → read back
 *   what the transaction touched (readBackTouched; whole with fullReadBack) → verify (diffHost against
 *   desired is empty) → journal `verified` → save THIS host in state.
 *
 * A failing host is journalled `failed` and recorded with status `failed` + `last_error`, keeping
 * its previous owned objects (the state says what was verified, nothing more); the other hosts
 * carry on. Decommissioned hosts are cleaned up, read back, proven empty and dropped from state;
 * an unreachable one stays as `pending-cleanup`. State writes are serialised through one queue.
 *
 * Core code: returns data, never prints. The caller holds or lets this take the state lock.
 */
import { randomUUID } from 'crypto';
import { makeDiagnostic, type Diagnostic, DiagnosticsError } from '../diagnostics';
import type { DesiredRuleset } from '../compile/ir';
import { checkPlanFresh, diffHost, PlanCodes, type HostPlan, type Plan } from '../plan';
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
import { providerFor, runSteps } from '../../providers';
import { expectedOf, mergePartial, readScopeOf } from '../../providers/common';
import type { BackendName, LiveRuleset, Provider, ScriptStep } from '../../providers/types';
import type { Host } from '../hosts/types';
import { ApplyCodes } from '../plan/reconciler-codes';
import { hostFor, isUnreachable, type HostFactory } from '../hosts/factory';
import { mapLimit } from '../hosts/pool';
import { DEFAULT_PARALLELISM, refresh, type HostRead } from '../plan/refresh';

/** HostOutcome is what happened to one host. */
export type HostOutcomeStatus = 'applied' | 'removed' | 'unchanged' | 'failed' | 'pending-cleanup';

export interface HostOutcome {
  enforcer: string;
  action: HostPlan['action'];
  status: HostOutcomeStatus;
  /** The steps sent to the host (every transaction, in order), for tests and debugging. */
  steps: ScriptStep[];
  /** Fingerprint read back after a verified apply. */
  fingerprint?: string;
  error?: string;
}

export interface ApplyResult {
  ok: boolean;
  runId: string;
  hosts: HostOutcome[];
  diagnostics: Diagnostic[];
  /** The state after the run (undefined if nothing was ever written). */
  state?: StateFile;
}

/** ApplyObserver receives progress events (views print them; tests capture transactions). */
export interface ApplyObserver {
  hostStart?(enforcer: string, action: HostPlan['action']): void;
  transaction?(enforcer: string, steps: readonly ScriptStep[]): void;
  hostDone?(outcome: HostOutcome): void;
}

export interface ApplyOptions {
  store: StateStore;
  parallelism?: number;
  /** Reads made under the lock this run holds (planRun's), reused instead of reading again. */
  reads?: ReadonlyMap<string, HostRead>;
  /**
   * A saved plan (`apply FILE`): before touching anything, re-read every reachable host and refuse
   * the plan if the state or any host's live fingerprint changed since (checkPlanFresh).
   */
  savedPlan?: boolean;
  /** The caller already holds the state lock; otherwise applyPlan takes it (`lockTimeoutMs`, default 0). */
  lockHeld?: boolean;
  lockTimeoutMs?: number;
  hostFactory?: HostFactory;
  /**
   * Read every host back whole after its transaction instead of only what the transaction touched
   * (`apply --full-read-back`; see readBackTouched for what the partial read-back leaves to the next plan).
   */
  fullReadBack?: boolean;
  observer?: ApplyObserver;
  /** Test seam: called after `begin` is journalled and before the host is touched. */
  beforeHost?(enforcer: string): Promise<void>;
}

/** applyPlan executes `plan`. Throws DiagnosticsError only for run-wide refusals (lock, stale plan). */
export async function applyPlan(plan: Plan, opts: ApplyOptions): Promise<ApplyResult> {
  const store = opts.store;
  let lock: LockInfo | undefined;
  if (!opts.lockHeld) lock = await store.acquireLock({ operation: 'apply', timeoutMs: opts.lockTimeoutMs ?? 0 });
  try {
    return await applyLocked(plan, opts);
  } finally {
    if (lock) await store.unlock(lock);
  }
}

async function applyLocked(plan: Plan, opts: ApplyOptions): Promise<ApplyResult> {
  const { store } = opts;
  const runId = randomUUID();
  const factory = opts.hostFactory ?? hostFor;
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
  if (opts.savedPlan) {
    const fresh = await refresh(
      plan.hosts.filter((h) => h.reachable).map((h) => ({ enforcer: h.enforcer, connection: plan.connections[h.enforcer], backend: h.backend, stateBackend: h.backend })),
      { parallelism, hostFactory: factory, probe: false },
    );
    const fps = new Map<string, string>();
    for (const r of fresh) if (r.reachable && r.live) fps.set(r.enforcer, r.live.fingerprint);
    const stale = checkPlanFresh(plan, state, fps);
    if (stale.length > 0) throw new DiagnosticsError(stale, 'user');
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
  const outcomes = await mapLimit(plan.hosts, parallelism, async (hp): Promise<HostOutcome> => {
    const outcome = await applyHost(hp, plan, {
      store,
      runId,
      factory,
      read: reads.get(hp.enforcer),
      stateHost: () => current.hosts[hp.enforcer],
      record,
      observer: opts.observer,
      beforeHost: opts.beforeHost,
      fullReadBack: opts.fullReadBack ?? false,
      diagnostics,
    });
    opts.observer?.hostDone?.(outcome);
    return outcome;
  });
  await saveChain;

  const ok = outcomes.every((o) => o.status !== 'failed') && !outcomes.some((o) => o.status === 'pending-cleanup' && o.action !== 'cleanup-pending');
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
  return { ok, runId, hosts: outcomes, diagnostics, state };
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
  factory: HostFactory;
  read?: HostRead;
  stateHost(): StateHost | undefined;
  record(update: (s: StateFile) => StateFile): Promise<void>;
  observer?: ApplyObserver;
  beforeHost?(enforcer: string): Promise<void>;
  fullReadBack: boolean;
  diagnostics: Diagnostic[];
}

async function applyHost(hp: HostPlan, plan: Plan, ctx: HostContext): Promise<HostOutcome> {
  const e = hp.enforcer;
  const out: HostOutcome = { enforcer: e, action: hp.action, status: 'unchanged', steps: [] };
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
    out.error = `enforcer "${e}" was not touched: ${hp.blocked_by.join('; ')}`;
    const prev = ctx.stateHost();
    if (prev) await ctx.record((s) => withHost(s, e, { ...prev, status: 'failed', last_error: out.error, updated_at: now() }));
    return out;
  }
  if (hp.action === 'noop') return out;

  ctx.observer?.hostStart?.(e, hp.action);
  const journal = (phase: 'begin' | 'applied' | 'verified' | 'failed', detail?: string) =>
    ctx.store.journal({ ts: now(), run_id: ctx.runId, enforcer: e, phase, ...(detail !== undefined ? { detail } : {}) });

  await journal('begin', `${hp.action} ${hp.backend} from fingerprint ${hp.live_fingerprint || '(none)'}`);
  const host = ctx.read?.host ?? ctx.factory(connection);
  const provider = ctx.read?.provider ?? providerFor(hp.backend);
  try {
    await ctx.beforeHost?.(e);
    // Reuse the read made under this lock only if it is still the one the plan was made from.
    let live: LiveRuleset =
      ctx.read?.live && ctx.read.live.fingerprint === hp.live_fingerprint && ctx.read.backend === hp.backend ? ctx.read.live : await provider.read(host);

    if (hp.action === 'delete') {
      await cleanupWith(provider, host, live, out, ctx, e);
      if (hp.previous_backend) await cleanupWith(providerFor(hp.previous_backend), host, undefined, out, ctx, e);
      await journal('verified', 'nothing owned is left');
      await ctx.record((s) => withoutHost(s, e));
      out.status = 'removed';
      return out;
    }

    if (!desired) throw new Error(`the plan has no desired ruleset for enforcer "${e}"`);
    const before = live;
    const { steps, delta } = renderTransaction(provider, desired, live);
    // A host where microseg owns nothing may not track connections yet: start tracking in a
    // transaction of its own first, so sessions already open survive the ruleset (Provider.renderConntrackWarmup).
    if (!delta && !ownsAnything(before) && provider.renderConntrackWarmup) await send(host, provider.renderConntrackWarmup(desired), out, ctx, e);
    await send(host, steps, out, ctx, e);
    await journal('applied', `${steps.length} step(s)`);
    if (hp.previous_backend) await cleanupWith(providerFor(hp.previous_backend), host, undefined, out, ctx, e);
    // Read back what the transaction touched (readBackTouched); the whole host when asked to, on
    // a backend switch after a delta, or when the provider cannot read partially.
    const want = expectedOf(provider, desired);
    const partial =
      want && !ctx.fullReadBack && !(delta && hp.previous_backend) ? await readBackTouched(provider, host, want, delta ? before : undefined) : undefined;
    live = partial?.live ?? (await provider.read(host));
    const problems = verify(desired, live, provider, want);
    if (problems.length > 0) {
      throw new VerifyError(`read-back of enforcer "${e}" does not match the desired ruleset: ${problems.join('; ')}`);
    }
    await journal('verified', `fingerprint ${live.fingerprint}${partial ? ` (partial read-back: ${partial.what})` : ''}`);
    await ctx.record((s) =>
      withHost(s, e, { backend: hp.backend, connection, owned: ownedFromLive(live), fingerprint: live.fingerprint, status: 'applied', updated_at: now() }),
    );
    out.status = 'applied';
    out.fingerprint = live.fingerprint;
    return out;
  } catch (err) {
    const msg = (err as Error)?.message ?? String(err);
    out.error = msg;
    await journal('failed', msg).catch(() => undefined);
    const prev = ctx.stateHost();
    const unreachable = isUnreachable(err);
    if (hp.action === 'delete') {
      out.status = unreachable ? 'pending-cleanup' : 'failed';
      ctx.diagnostics.push(
        makeDiagnostic(
          unreachable ? 'warning' : 'error',
          unreachable ? ApplyCodes.unreachable : ApplyCodes.cleanupFailed,
          `Decommissioning enforcer "${e}" did not complete`,
          `${msg}\nIt stays in state as ${unreachable ? 'pending cleanup' : 'failed'}; the next plan retries.`,
        ),
      );
      if (prev) {
        await ctx.record((s) => withHost(s, e, { ...prev, status: unreachable ? 'pending-cleanup' : 'failed', last_error: msg, updated_at: now() }));
      }
      return out;
    }
    out.status = 'failed';
    ctx.diagnostics.push(
      makeDiagnostic(
        'error',
        unreachable ? ApplyCodes.unreachable : err instanceof VerifyError ? ApplyCodes.verifyFailed : ApplyCodes.applyFailed,
        `Applying enforcer "${e}" failed`,
        `${msg}\nState keeps its previous record with status failed; the other hosts are unaffected. The next plan shows what remains.`,
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

/** Plan errors that belong to one host, which the plan then marks blocked (see HostPlan.blocked_by). */
const HOST_SCOPED_CODES = new Set<string>([ApplyCodes.missingCapability, ApplyCodes.renderFailed, ApplyCodes.managementLockout]);

/**
 * blockingErrors lists the plan errors that stop a whole apply. Apply works around the others by
 * skipping one host and failing the run: an unreachable configured host, and a host the plan
 * blocked (its rules do not compile for it, or it lacks a match they need). Any other error means
 * the plan cannot be trusted as a whole.
 */
export function blockingErrors(plan: Plan): Diagnostic[] {
  const blocked = new Set(plan.hosts.flatMap((h) => h.blocked_by ?? []));
  return plan.diagnostics.filter(
    (d) => d.severity === 'error' && d.code !== PlanCodes.hostUnreachable && !HOST_SCOPED_CODES.has(d.code) && !blocked.has(d.summary),
  );
}

/**
 * renderFor uses the provider's minimal transaction when it offers one, else the full sync. A
 * delta that is larger than the full replacement (a fresh host, or most of the table changed:
 * one edit line per rule instead of one table block) gains nothing and costs the kernel more
 * work, so the full sync is sent then; both leave the host in the same state.
 */
export function renderFor(provider: Provider, desired: DesiredRuleset, live: LiveRuleset): ScriptStep[] {
  return renderTransaction(provider, desired, live).steps;
}

/**
 * renderTransaction is renderFor that also says whether the steps are a delta: renderChanges'
 * minimal transaction, which names only objects that differ between `live` and
 * expected(desired). Not a delta: the full sync, and renderChanges' own fallback to a full
 * replace (its steps begin with FULL_REPLACE_MARK). Only a delta may be verified partially.
 */
export function renderTransaction(provider: Provider, desired: DesiredRuleset, live: LiveRuleset): { steps: ScriptStep[]; delta: boolean } {
  // A host that owns nothing gets the full script: a delta from nothing names every object too,
  // one edit line at a time.
  if (typeof provider.renderChanges !== 'function' || !ownsAnything(live)) return { steps: provider.renderFull(desired, live), delta: false };
  const changes = provider.renderChanges(desired, live);
  if (changes.length === 0) return { steps: changes, delta: true };
  // Rendering the full sync only to learn that it is bigger costs as much as the delta itself at
  // 10,000 rules (~15 ms); a full script names every rule id in a `microseg:<id>` comment, so
  // when the delta is smaller than that alone, it is smaller than the full script.
  if (scriptBytes(changes) < fullBytesLowerBound(desired)) return { steps: changes, delta: !changes.some((s) => s.stdin.startsWith(FULL_REPLACE_MARK)) };
  const full = provider.renderFull(desired, live);
  if (scriptBytes(full) < scriptBytes(changes)) return { steps: full, delta: false };
  return { steps: changes, delta: !changes.some((s) => s.stdin.startsWith(FULL_REPLACE_MARK)) };
}

/** FULL_REPLACE_MARK begins the steps of a renderChanges that fell back to the full replace (both providers). */
const FULL_REPLACE_MARK = '# renderChanges: full replace';

/**
 * readBackTouched verifies a transaction by re-reading only what it touched, instead of the whole
 * host: on nftables `nft -j list table` of 10,000 rules takes ~300 ms (more than loading them),
 * `list chain` of one ~10–20 ms (bench/README.md items 1 and 2).
 *
 * A delta (`before` given): `before` is the full read it was rendered from, taken under the state
 * lock this run holds (the plan's read, reused only when its fingerprint is the plan's, or
 * apply's own re-read). The objects the delta may have changed are exactly those whose state
 * differs between `before` and expected(desired) (readScopeOf); they, and every hook, are read
 * again (Provider.readPartial) and laid over the rest, which is the same in `before` and in
 * `want` (mergePartial).
 *
 * A full sync (`before` undefined): every owned object was rewritten by transactions the kernel
 * commits whole or not at all (nftables: one `nft -f` that deletes and recreates table inet
 * microseg; iptables: one `iptables-restore` per family whose chain headers flush each owned
 * chain, after `ipset restore` swapped every owned set for a filled twin), and they all exited
 * 0, so each owned object holds exactly what was sent: expected(desired). What no such
 * transaction vouches for is read again: the hooks (their place among foreign rules and base
 * chains, which a foreign writer can change at any moment) and, where the provider lists them
 * cheaply, the owned chain names (nothing left over or missing). The view is `want` with those
 * laid over it. This is how kube-proxy and Felix treat a successful restore; reading 10,000
 * rules back would only re-prove the kernel's atomic commit, at more than the cost of the load.
 *
 * Either view then goes through the same verify() a full read does, and is what state records:
 * its fingerprint is canonical, equal to a full read's of the same kernel state (proved against
 * a full read in test/netns/partial-verify.test.ts).
 *
 * What a partial verify cannot see: a foreign edit to an owned object the transaction did not
 * rewrite, made between the plan's read and this transaction (delta), or right after the commit
 * (either). Such an edit is drift, not a failure of this apply: the recorded fingerprint then
 * differs from the host's, so the next plan reads the host whole, reports the drift and repairs
 * it, exactly as it would had the edit come a second after a full read-back. microseg never holds
 * a kernel lock against foreign edits, so a full read-back narrows that window without closing
 * it; `apply --full-read-back` reads the host whole anyway.
 *
 * `want` is expected(desired). Returns undefined (the caller reads the host whole) when the
 * provider has no readPartial, declines the scope, or the partial read contradicts the base
 * outside the scope (an owned chain appeared or vanished).
 */
async function readBackTouched(
  provider: Provider,
  host: Host,
  want: LiveRuleset,
  before: LiveRuleset | undefined,
): Promise<{ live: LiveRuleset; what: string } | undefined> {
  if (typeof provider.readPartial !== 'function') return undefined;
  // Outside the scope `before` and `want` hold equal objects (that is what readScopeOf means), so
  // the view is laid over `want`: the same content, and verify skips those objects by identity.
  const base = want;
  const scope = before ? readScopeOf(want, before) : { chains: [], sets: [] };
  const part = await provider.readPartial(host, scope);
  if (!part) return undefined;
  const live = mergePartial(base, scope, part);
  if (!live) return undefined;
  return {
    live,
    what: before
      ? `${scope.chains.length} chain(s), ${scope.sets.length} set(s) and the hooks`
      : `the hooks${part.chainNames || part.chainFamilies ? ' and owned chain names' : ''} after a full sync committed whole`,
  };
}

/** fullBytesLowerBound: every provider's full script carries `"microseg:<id>"` for each rule at least once. */
function fullBytesLowerBound(desired: DesiredRuleset): number {
  let n = 0;
  for (const c of desired.chains) for (const r of c.rules) n += r.id.length + '"microseg:"'.length;
  return n;
}

function scriptBytes(steps: readonly ScriptStep[]): number {
  return steps.reduce((n, s) => n + Buffer.byteLength(s.stdin), 0);
}

async function send(host: Host, steps: readonly ScriptStep[], out: HostOutcome, ctx: HostContext, e: string): Promise<void> {
  if (steps.length === 0) return;
  ctx.observer?.transaction?.(e, steps);
  out.steps.push(...steps);
  await runSteps(host, steps);
}

/**
 * cleanupWith removes everything `provider` owns on `host`, then reads back and proves nothing
 * owned is left. A host where nothing is owned gets no transaction at all (an empty
 * iptables-restore would create table filter on a host that never had it).
 */
async function cleanupWith(provider: Provider, host: Host, live: LiveRuleset | undefined, out: HostOutcome, ctx: HostContext, e: string): Promise<void> {
  const before = live ?? (await provider.read(host));
  if (ownsAnything(before)) await send(host, cleanupSteps(provider, before), out, ctx, e);
  const after = await provider.read(host);
  if (ownsAnything(after)) {
    throw new Error(`after cleanup, ${provider.backend} still holds owned objects on ${host.description}: ${describeOwned(after)}`);
  }
}

/**
 * cleanupSteps is provider.renderCleanup(live), minus the iptables-restore steps when no owned
 * chain or hook exists: those would be empty transactions that still create table filter on a host
 * (iptables-nft) where it may never have existed. ipset sets are shared by both iptables variants,
 * so a host can hold our sets with no chains in the variant being cleaned.
 */
export function cleanupSteps(provider: Provider, live: LiveRuleset): ScriptStep[] {
  const steps = provider.renderCleanup(live);
  const tablesOwned = live.chains.length > 0 || live.hooks.some((h) => h.present);
  return tablesOwned ? steps : steps.filter((s) => !/^ip6?tables-.*restore$/.test(s.argv[0] ?? ''));
}

/** ownsAnything: does a read-back hold any owned set, chain or hook? */
export function ownsAnything(live: LiveRuleset): boolean {
  return live.sets.length > 0 || live.chains.length > 0 || live.hooks.some((h) => h.present);
}

/** describeOwned lists owned objects briefly (for error messages). */
export function describeOwned(live: LiveRuleset): string {
  const parts = [
    ...live.chains.map((c) => `chain ${c.name}`),
    ...live.sets.map((s) => `set ${s.name}`),
    ...live.hooks.filter((h) => h.present).map((h) => `hook ${h.hook}/ipv${h.family}`),
  ];
  return parts.join(', ') || 'nothing';
}

/**
 * verify lists what still differs between `desired` and a read-back (empty = verified). `want`
 * is provider.expected(desired) when the caller already computed it.
 */
export function verify(desired: DesiredRuleset, live: LiveRuleset, provider: Provider, want?: LiveRuleset): string[] {
  const d = diffHost(desired, live, undefined, { expected: want ?? expectedOf(provider, desired) });
  return [
    ...d.sets.map((s) => `set ${s.name} ${s.action}`),
    ...d.chains.map((c) => `chain ${c.name} ${c.action}`),
    // nftables orders base chains by priority, not position: a foreign base chain at a lower
    // priority stays ahead of ours whatever we write, so apply cannot change it. It is drift the
    // plan shows (hook-not-first), not a failure of this apply.
    ...d.hooks.filter((h) => !(provider.backend === 'nftables' && h.reason === 'not-first')).map((h) => `hook ${h.hook}/ipv${h.family} ${h.reason}`),
    ...d.orphans.map((o) => `orphan ${o.kind} ${o.name}`),
  ];
}

export type { BackendName };
