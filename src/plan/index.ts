/**
 * Plan: what would change, as data (DESIGN §6, PRACTICES 10–12).
 *
 * How plan is built (the CLI wires this; nothing here does I/O except the plan-file functions):
 *
 *   state   = await store.load()
 *   desired = compile(model)                               // per enforcer, pure
 *   for every enforcer in config ∪ state.hosts, in parallel:
 *     live  = await provider.read(host)                    // or unreachableHost(...) on failure
 *     host  = diffHost(desired[e], live, state?.hosts[e], { enforcer: e, expected: provider.expected?.(desired[e]) })
 *   plan    = makePlan({ state, resources: modelResources(model), desired, hosts, connections })
 *   views render `plan`; `-out FILE` → writePlanFile(FILE, plan)
 *
 * How apply is meant to use it (src/apply, next). The order below is what makes a `kill -9` or a
 * failing host safe at every instant:
 *
 *   1. lock = await store.acquireLock({ operation: 'apply', timeoutMs })   // never steals a stale lock
 *      state = await store.load()
 *   2. For a saved plan: re-read every reachable host's fingerprint, then
 *      checkPlanFresh(plan, state, fingerprints) must be []; otherwise refuse ("Saved plan is stale").
 *      Refuse a plan with error diagnostics (hasErrors).
 *   3. run_id = randomUUID(). For each host whose action is not `noop` (hosts in parallel with a
 *      small bound; each host strictly sequential):
 *      a. await store.journal({ phase: 'begin', ... })     // BEFORE touching the host
 *      b. one atomic transaction per table: provider.renderFull(plan.desired[e], live) for
 *         create/update, provider.renderCleanup(live) for delete (and for previous_backend);
 *         run it; journal 'applied'
 *      c. read back: live2 = await provider.read(host); verify diffHost(desired, live2, undefined,
 *         { expected }) has no sets/chains/hooks changes and no orphans (for delete: live2 owns
 *         nothing at all). A mismatch is a failure of that host.
 *      d. journal 'verified' (or 'failed' with the error), then record THIS host at once:
 *         state = await store.save(withHost(state, e, { owned: ownedFromLive(live2),
 *         fingerprint: live2.fingerprint, status: 'applied', ... })) — or withoutHost after a
 *         verified decommission. On failure keep the previous `owned` (the transaction was atomic,
 *         so the host is still on it) with status 'failed' and last_error; an unreachable
 *         decommissioned host gets status 'pending-cleanup'. Saves are serialised (one writer).
 *   4. After all hosts: save resources (resourceRecord of each) once; unlock in a finally.
 *
 * Because changes are computed desired-vs-live (never desired-vs-state), the next plan after a
 * partial failure shows exactly what remains, and plan(apply(plan)) is empty.
 */
export * from './types';
export { PlanCodes } from './codes';
export { diffHost, hostDiff, hostPlanOf, unreachableHost, type DiffHostOptions } from './diff-host';
export { diffObjects, readScopeOf, problemsOf, isEmptyDiff, compareRules, NO_CLAIMS, type Claims } from './object-diff';
export { planTransactions, ownsAnything, describeOwned, bytesOf, changesFor, scriptsOf, type PlannedTransactions } from './transactions';
export { diffResources, modelResources, resourceRecord, attributesDigest } from './resources';
export { makePlan, hasChanges, hasDrift, hasErrors, type MakePlanInput } from './plan';
export { writePlanFile, readPlanFile, parsePlanText, checkPlanFresh } from './planfile';
export { ApplyCodes } from './reconciler-codes';
export { refresh, missingCapabilities, DEFAULT_PARALLELISM, type HostRead, type RefreshTarget, type RefreshOptions } from './refresh';
export { planRun, planModel, type PlanRunOptions, type PlanRunResult } from './plan-run';
