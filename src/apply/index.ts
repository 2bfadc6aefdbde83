/**
 * The executor (DESIGN §5–6): apply a Plan host by host, decommission, break-glass cleanup.
 * Planning (refresh, planRun) lives in src/plan; transports and the host factory in src/hosts.
 * Core code: returns data and diagnostics; the CLI's views print.
 */
export {
  applyPlan,
  blockingErrors,
  type ApplyOptions,
  type ApplyResult,
  type ApplyObserver,
  type HostOutcome,
  type HostOutcomeStatus,
} from './apply';
export { cleanupHost, type CleanupReport, type BackendCleanup } from './cleanup';
export { parseDuration as parseLockTimeout } from './duration';
export { importHost, type ImportResult } from './import';
