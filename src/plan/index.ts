/**
 * Plan: what would change, as data (DESIGN §6, PRACTICES 10–12), and the planning that computes it.
 *
 * planRun (plan-run.ts) is the recipe; everything here but refresh and the plan-file functions is
 * pure:
 *
 *   pipeline      = runPipeline(dir)                       // load → validate → compile (src/pipeline.ts)
 *   state         = await store.load()
 *   for every enforcer in config ∪ state.hosts, in parallel (refresh.ts, through a Connector):
 *     live        = await firewall.read()                  // or unreachableHost(...) on failure
 *     want        = expectedOf(provider, desired[e])       // the only projection of desired
 *     diff        = diffObjects(want, live, claims(state)) // THE comparison, once per host
 *     hostPlan    = hostPlanOf(diff, state)                // the UI lists, drift, orphans, action
 *     hostPlan.transactions, .read_scope = planTransactions(provider, desired, diff)
 *   plan          = makePlan(...)                          // views render it; -out writes it
 *
 * How apply uses it (src/apply). The order is what makes a `kill -9` or a failing host safe:
 *
 *   1. take the lock (the CLI holds it from planning on), load state; a saved plan is refused
 *      unless its state lineage/serial and every host's fingerprint are unchanged (checkPlanFresh),
 *      and unless its transactions validate (planfile.ts).
 *   2. per host (hosts in parallel with a bound, each strictly sequential): journal `begin` →
 *      run the host's transactions (one round trip) → read back what they touched → verify
 *      (diffObjects of desired against the read-back is empty) → record the host in state →
 *      journal `verified`; on failure journal `failed` and keep the previous record as failed.
 *   3. after all hosts: record resource changes and the applied model in one state write.
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
export { writePlanFile, readPlanFile, parsePlanText, checkPlanFresh, checkPlanIntegrity } from './planfile';
export { ApplyCodes } from './reconciler-codes';
export { refresh, missingCapabilities, DEFAULT_PARALLELISM, type HostRead, type RefreshTarget, type RefreshOptions } from './refresh';
export { planRun, loadForPlan, planLoaded, planModel, ownedCounts, expectationFailures, type PlanRunOptions, type PlanRunResult, type LoadedConfig, type ConfigLoadOptions } from './plan-run';
export { AdoptCodes } from './adopt-codes';
