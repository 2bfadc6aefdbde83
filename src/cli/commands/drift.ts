/**
 * drift: read-only. Reads every enforcer and compares it with what microseg last applied (state).
 * Exit 0 = no drift, 2 = drift (or orphans) present, 1 = error (invalid configuration, a host
 * that could not be read, lock held).
 */
import { planRun, type PlanRunResult } from '../../plan';
import { hasDrift, hasErrors } from '../../plan';
import { LocalStateStore } from '../../state';
import type { CliDeps, Io } from '../io';
import { renderDiagnosticsHuman } from '../views/diagnostics';
import { driftJson, renderDriftHuman } from '../views/drift';
import { failWith, parseCommon, reportConfigFailure, withLock, type ReconcileFlags } from './plan';

export async function driftCommand(io: Io, dir: string, flags: ReconcileFlags & { json?: boolean }, deps: CliDeps = {}): Promise<number> {
  const s = parseCommon(io, flags);
  if (!s) return 1;
  const store = new LocalStateStore(dir);
  let r: PlanRunResult;
  try {
    r = await withLock(store, 'drift', s.lockTimeoutMs, flags.lock !== false, () =>
      planRun(dir, { store, vars: s.vars, varFiles: s.varFiles, parallelism: s.parallelism, targets: flags.target, connect: deps.connect }),
    );
  } catch (e) {
    return failWith(io, e, flags.json);
  }
  if (!r.plan) return reportConfigFailure(io, r, flags.json ?? false);
  if (flags.json) io.out(driftJson(r.plan));
  else {
    renderDiagnosticsHuman(io, r.diagnostics.filter((d) => d.severity === 'error' || d.code.startsWith('MSEG8')), r.sources);
    renderDriftHuman(io, r.plan);
  }
  if (hasErrors(r.plan)) return 1;
  return hasDrift(r.plan) ? 2 : 0;
}
