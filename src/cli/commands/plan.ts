/**
 * plan: refresh every enforcer host, diff against the configuration and state, and show what
 * apply would do. Exit 0 = no changes (or changes without --detailed-exitcode), 1 = error,
 * 2 = changes present with --detailed-exitcode.
 *
 * Also the shared wiring of the reconciler commands (apply, drift, destroy, state, ...): flag
 * parsing, the state lock, and turning thrown diagnostics into exit code 1.
 */
import { terminalProgress } from '../views/progress';
import { parseLockTimeout } from '../../apply';
import { ApplyCodes, DEFAULT_PARALLELISM, loadForPlan, planLoaded, type Plan, type PlanRunResult } from '../../plan';
import { makeDiagnostic, type Diagnostic } from '../../diagnostics';
import { hasChanges, hasDrift, hasErrors, writePlanFile } from '../../plan';
import type { LockInfo, StateStore } from '../../state';
import { withBackend, withControl } from './backend';
import type { ReconcileControl } from '../../control/reconcile-control';
import { processIo, type CliDeps, type Io } from '../io';
import { countLine } from '../views/diagnostics';
import { configFailure, planJson, renderPlanHuman } from '../views/plan';
import { viewFor, type View } from '../views/view';
import { parseVarFlags, type VarOptions } from './common';
import { withInterrupts, type Interrupts } from '../interrupt';

/** ReconcileFlags are the options shared by plan, apply, drift and destroy. */
export interface ReconcileFlags extends VarOptions {
  parallelism?: string;
  lockTimeout?: string;
  /** commander's `--no-lock` */
  lock?: boolean;
  target?: string[];
}

export interface CommonSettings {
  parallelism: number;
  lockTimeoutMs: number;
  vars: Record<string, string>;
  varFiles: string[];
}

/** parseCommon validates the shared flags; undefined (after the view said why) when one is bad. */
export function parseCommon(view: View, f: ReconcileFlags): CommonSettings | undefined {
  const bad: Diagnostic[] = [];
  const parallelism = f.parallelism === undefined ? DEFAULT_PARALLELISM : Number(f.parallelism);
  if (!Number.isInteger(parallelism) || parallelism < 1) {
    bad.push(makeDiagnostic('error', ApplyCodes.badFlag, `Invalid --parallelism "${f.parallelism}"`, 'Give a whole number of hosts, at least 1 (default 10).'));
  }
  const lockTimeoutMs = f.lockTimeout === undefined ? 0 : parseLockTimeout(f.lockTimeout);
  if (lockTimeoutMs === undefined) {
    bad.push(makeDiagnostic('error', ApplyCodes.badFlag, `Invalid --lock-timeout "${f.lockTimeout}"`, 'Write a duration such as 0s, 500ms, 30s or 2m.'));
  }
  const { vars, diagnostics } = parseVarFlags(f.var);
  bad.push(...diagnostics);
  if (bad.length) {
    view.fail(bad);
    return undefined;
  }
  return { parallelism, lockTimeoutMs: lockTimeoutMs ?? 0, vars, varFiles: f.varFile ?? [] };
}

/** failWith renders a thrown error as diagnostics and returns exit code 1 (never a stack trace for known errors). */
export function failWith(io: Io, e: unknown, json = false): number {
  return viewFor(io, json).thrown(e);
}

/**
 * withLock runs `fn` holding the state lock (unless `use` is false), always releasing it, also on
 * SIGINT/SIGTERM (src/cli/interrupt.ts): `fn` starts in the `read` phase, where a signal releases
 * the lock and exits at once, and switches its Interrupts to `apply` around host changes. `note`
 * hears about a previous holder that ended without releasing (pg: killed; its session's lock went
 * with it, its holder record did not).
 */
export async function withLock<T>(
  store: StateStore,
  operation: string,
  timeoutMs: number,
  use: boolean,
  fn: (it: Interrupts) => Promise<T>,
  note?: (text: string) => void,
): Promise<T> {
  return withInterrupts(processIo, operation, async (it) => {
    let lock: LockInfo | undefined;
    if (use) lock = await store.acquireLock({ operation, timeoutMs });
    if (lock?.interrupted && note) {
      const p = lock.interrupted;
      note(
        `The previous holder of this workspace's lock ended without releasing it: ${p.who} (pid ${p.pid} on ${p.hostname}, "${p.operation}", since ${p.created}${p.ci_job_url ? `, ${p.ci_job_url}` : ''}), lock ID ${p.id}. ` +
          'Its database session is gone, so the lock was taken over; any host it left unverified is reported below from the journal.',
      );
    }
    try {
      return await fn(it);
    } finally {
      if (lock) await store.unlock(lock);
    }
  });
}

export interface PlanFlags extends ReconcileFlags {
  out?: string;
  detailedExitcode?: boolean;
  json?: boolean;
  refreshOnly?: boolean;
  explain?: boolean;
}

/** PlannedRun is a configuration planned under the lock (plan and drift show it; apply applies it). */
export type PlannedRun = PlanRunResult & { plan: Plan };

/**
 * planLocked is the planning part that plan, drift and apply share: the configuration is loaded,
 * validated, compiled and its expectations checked with no lock held (bad input never takes the
 * lock, nor keeps another run waiting), then the backend is opened and the hosts are read and
 * planned holding the lock (unless `lock` is false), and `then` runs still holding it. Returns
 * `then`'s exit code, or 1 after the view said why.
 */
export async function planLocked(
  view: View,
  dir: string,
  s: CommonSettings,
  opts: { operation: string; lock: boolean; targets?: string[]; explain?: boolean; destroy?: boolean; connect?: CliDeps['connect'] },
  then: (r: PlannedRun, store: StateStore, it: Interrupts, control: ReconcileControl | undefined) => Promise<number>,
): Promise<number> {
  const progress = terminalProgress(view.io, view.json);
  let loaded: Awaited<ReturnType<typeof loadForPlan>>;
  try {
    loaded = await loadForPlan(dir, { vars: s.vars, varFiles: s.varFiles, destroy: opts.destroy, progress: progress.report });
  } finally {
    progress.clear();
  }
  if (loaded.failed) return configFailure(view, loaded.failed);
  const config = loaded.config;
  return withBackend(view, dir, { check: true }, (opened, settings) =>
    withControl(opened, settings, (control) => withLock(
      opened.store,
      opts.operation,
      s.lockTimeoutMs,
      opts.lock,
      async (it) => {
        let r: PlannedRun;
        try {
          r = await planLoaded(config, { store: opened.store, vars: s.vars, varFiles: s.varFiles, parallelism: s.parallelism, targets: opts.targets, explain: opts.explain, destroy: opts.destroy, connect: opts.connect, progress: progress.report, control });
        } finally {
          progress.clear();
        }
        return then(r, opened.store, it, control);
      },
      (t) => {
        progress.clear();
        view.note(t);
      },
    )),
  );
}

export async function planCommand(io: Io, dir: string, flags: PlanFlags, deps: CliDeps = {}): Promise<number> {
  const view = viewFor(io, flags.json);
  const s = parseCommon(view, flags);
  if (!s) return 1;
  if (flags.refreshOnly && flags.out) {
    return view.fail([makeDiagnostic('error', ApplyCodes.badFlag, '-out cannot be combined with --refresh-only', 'A refresh-only plan shows drift; it has nothing for apply to execute.')]);
  }
  return planLocked(view, dir, s, { operation: 'plan', lock: flags.lock !== false, targets: flags.target, explain: flags.explain, connect: deps.connect }, async (r) => {
    const plan = r.plan;
    view.diagnostics(r.diagnostics, r.sources);
    view.result(
      (out) => renderPlanHuman(out, plan, { refreshOnly: flags.refreshOnly, explain: flags.explain }),
      () => planJson(plan),
    );
    if (hasErrors(plan)) {
      view.note(`The plan has errors: ${countLine(plan.diagnostics)}.${flags.out ? ` ${flags.out} was not written.` : ''}`);
      return 1;
    }
    if (flags.out) {
      await writePlanFile(flags.out, plan);
      view.say(`Saved the plan to ${flags.out}. Apply exactly this plan with \`microseg apply ${flags.out}\`.`);
    }
    const changed = flags.refreshOnly ? hasDrift(plan) : hasChanges(plan);
    return flags.detailedExitcode && changed ? 2 : 0;
  });
}
