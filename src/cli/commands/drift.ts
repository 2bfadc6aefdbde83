/**
 * drift: read-only. Reads every enforcer and compares it with what microseg last applied (state).
 * Exit 0 = no drift, 2 = drift (or orphans) present, 1 = error (invalid configuration, a host
 * that could not be read, lock held).
 */
import { hasDrift, hasErrors } from '../../plan';
import type { CliDeps, Io } from '../io';
import { driftJson, renderDriftHuman } from '../views/drift';
import { parseCommon, planLocked, type ReconcileFlags } from './plan';
import { viewFor } from '../views/view';

export async function driftCommand(io: Io, dir: string, flags: ReconcileFlags & { json?: boolean }, deps: CliDeps = {}): Promise<number> {
  const view = viewFor(io, flags.json);
  const s = parseCommon(view, flags);
  if (!s) return 1;
  return planLocked(view, dir, s, { operation: 'drift', lock: flags.lock !== false, targets: flags.target, connect: deps.connect }, async (r) => {
    const plan = r.plan;
    // Drift is about hosts: configuration warnings belong to `validate` and `plan`.
    view.diagnostics(r.diagnostics.filter((d) => d.severity === 'error' || d.code.startsWith('MSEG8')), r.sources);
    view.result((out) => renderDriftHuman(out, plan), () => driftJson(plan));
    if (hasErrors(plan)) return 1;
    return hasDrift(plan) ? 2 : 0;
  });
}
