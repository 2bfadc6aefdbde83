/**
 * The reconciler (DESIGN §5–6): refresh hosts, plan, apply, decommission, break-glass cleanup.
 * Core code: returns data and diagnostics; the CLI's views print.
 */
export { ApplyCodes } from './codes';
export { hostFor, describeConnection, GuardedHost, HostUnreachableError, UnavailableHost, isUnreachable, type HostFactory } from './hosts';
export { mapLimit } from './pool';
export { refresh, missingCapabilities, DEFAULT_PARALLELISM, type HostRead, type RefreshTarget, type RefreshOptions } from './refresh';
export { planRun, planModel, loadModel, type PlanRunOptions, type PlanRunResult } from './plan-run';
export {
  applyPlan,
  blockingErrors,
  renderFor,
  verify,
  ownsAnything,
  describeOwned,
  type ApplyOptions,
  type ApplyResult,
  type ApplyObserver,
  type HostOutcome,
  type HostOutcomeStatus,
} from './apply';
export { cleanupHost, type CleanupReport, type BackendCleanup } from './cleanup';
export { parseDuration as parseLockTimeout } from './duration';
