/**
 * drift: read-only. Reads every enforcer and compares it with what microseg last applied (state).
 * Exit 0 = no drift, 2 = drift (or orphans) present, 1 = error (invalid configuration, a host
 * that could not be read, lock held).
 */
import { terminalProgress } from '../views/progress';
import { planRun, type PlanRunResult } from '../../plan';
import { hasDrift, hasErrors } from '../../plan';
import { withBackend } from './backend';
import type { CliDeps, Io } from '../io';
import { driftJson, renderDriftHuman } from '../views/drift';
import { parseCommon, withLock, type ReconcileFlags } from './plan';
import { configFailure } from '../views/plan';
import { viewFor } from '../views/view';

export async function driftCommand(io: Io, dir: string, flags: ReconcileFlags & { json?: boolean }, deps: CliDeps = {}): Promise<number> {
  const view = viewFor(io, flags.json);
  const s = parseCommon(view, flags);
  if (!s) return 1;
  const progress = terminalProgress(io, flags.json);
  return withBackend(view, dir, { check: true }, async ({ store }) => {
    let r: PlanRunResult;
    try {
      r = await withLock(
        store,
        'drift',
        s.lockTimeoutMs,
        flags.lock !== false,
        () => planRun(dir, { store, vars: s.vars, varFiles: s.varFiles, parallelism: s.parallelism, targets: flags.target, connect: deps.connect, progress: progress.report }),
        (t) => {
          progress.clear();
          view.note(t);
        },
      );
    } finally {
      progress.clear();
    }
    if (!r.plan) return configFailure(view, r);
    const plan = r.plan;
    // Drift is about hosts: configuration warnings belong to `validate` and `plan`.
    view.diagnostics(r.diagnostics.filter((d) => d.severity === 'error' || d.code.startsWith('MSEG8')), r.sources);
    view.result((out) => renderDriftHuman(out, plan), () => driftJson(plan));
    if (hasErrors(plan)) return 1;
    return hasDrift(plan) ? 2 : 0;
  });
}
