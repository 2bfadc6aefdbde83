/**
 * apply: make the hosts match the configuration (or exactly a saved plan). Plans under the state
 * lock, shows the plan, asks for approval on a terminal (refuses without --auto-approve
 * otherwise), then applies host by host. A saved plan (`apply FILE`) is applied without a prompt,
 * and refused if state or any host changed since it was made. Exit 0 on success or no changes,
 * 1 on any error or failed host.
 */
import { promises as fsp } from 'fs';
import * as path from 'path';
import * as readline from 'readline';
import { ApplyCodes, applyPlan, blockingErrors, planRun, type ApplyResult, type PlanRunResult } from '../../apply';
import { makeDiagnostic } from '../../diagnostics';
import { hasChanges, readPlanFile, type Plan } from '../../plan';
import { LocalStateStore, STATE_DIR } from '../../state';
import type { Io } from '../io';
import { applyProgress, renderApplySummary } from '../views/apply';
import { countLine, renderDiagnosticsHuman } from '../views/diagnostics';
import { renderPlanHuman } from '../views/plan';
import { failWith, parseCommon, reportConfigFailure, withLock, type ReconcileFlags } from './plan';

export interface ApplyFlags extends ReconcileFlags {
  autoApprove?: boolean;
  fullReadBack?: boolean;
  /** Project directory holding .microseg/ when applying a plan file. */
  dir?: string;
}

/** Ask is how the command asks a yes/no question; the default reads a line from the terminal. */
export type Ask = (question: string) => Promise<string>;

export const terminalAsk: Ask = (question) =>
  new Promise((resolve) => {
    const rl = readline.createInterface({ input: process.stdin, output: process.stdout });
    rl.question(question, (answer) => {
      rl.close();
      resolve(answer);
    });
  });

export async function applyCommand(io: Io, target: string, flags: ApplyFlags, ask?: Ask): Promise<number> {
  const isFile = await fsp
    .stat(target)
    .then((st) => st.isFile())
    .catch(() => false);
  return isFile ? applySavedPlan(io, target, flags) : reconcileDir(io, target, flags, { destroy: false, ask });
}

/** reconcileDir is `apply DIR` and `destroy DIR`: plan under the lock, approve, apply. */
export async function reconcileDir(io: Io, dir: string, flags: ApplyFlags, opts: { destroy: boolean; ask?: Ask }): Promise<number> {
  const s = parseCommon(io, flags);
  if (!s) return 1;
  const store = new LocalStateStore(dir);
  const verb = opts.destroy ? 'Destroy' : 'Apply';
  try {
    return await withLock(store, opts.destroy ? 'destroy' : 'apply', s.lockTimeoutMs, true, async () => {
      const r: PlanRunResult = await planRun(dir, {
        store,
        vars: s.vars,
        varFiles: s.varFiles,
        parallelism: s.parallelism,
        targets: flags.target,
        destroy: opts.destroy,
      });
      if (!r.plan) return reportConfigFailure(io, r, false);
      const plan = r.plan;
      renderDiagnosticsHuman(io, r.diagnostics, r.sources);
      renderPlanHuman(io, plan);
      if (blockingErrors(plan).length > 0) {
        io.err(`The plan has errors (${countLine(plan.diagnostics)}); nothing was applied.\n`);
        return 1;
      }
      if (!hasChanges(plan) && !plan.hosts.some((h) => !h.reachable)) return 0;
      if (!(await approved(io, flags, opts.ask, opts.destroy))) return 1;
      const result = await applyPlan(plan, { store, lockHeld: true, reads: r.reads, parallelism: s.parallelism, fullReadBack: flags.fullReadBack, observer: applyProgress(io) });
      return finish(io, result, verb);
    });
  } catch (e) {
    return failWith(io, e);
  }
}

async function applySavedPlan(io: Io, file: string, flags: ApplyFlags): Promise<number> {
  const s = parseCommon(io, flags);
  if (!s) return 1;
  const dir = flags.dir ?? (await projectDirFor(file));
  const store = new LocalStateStore(dir);
  let plan: Plan;
  try {
    plan = await readPlanFile(file);
    if (blockingErrors(plan).length > 0) {
      renderDiagnosticsHuman(io, plan.diagnostics);
      io.err(`The saved plan has errors; nothing was applied.\n`);
      return 1;
    }
    const result = await applyPlan(plan, { store, savedPlan: true, lockTimeoutMs: s.lockTimeoutMs, parallelism: s.parallelism, fullReadBack: flags.fullReadBack, observer: applyProgress(io) });
    return finish(io, result, 'Apply');
  } catch (e) {
    return failWith(io, e);
  }
}

/** projectDirFor: a plan file's state lives beside it when there is a .microseg there, else in the working directory. */
async function projectDirFor(file: string): Promise<string> {
  const beside = path.dirname(path.resolve(file));
  const ok = await fsp
    .stat(path.join(beside, STATE_DIR))
    .then((st) => st.isDirectory())
    .catch(() => false);
  return ok ? beside : '.';
}

async function approved(io: Io, flags: ApplyFlags, ask: Ask | undefined, destroy: boolean): Promise<boolean> {
  if (flags.autoApprove) return true;
  const interactive = ask !== undefined || (io.isTTY && Boolean(process.stdin.isTTY));
  if (!interactive) {
    renderDiagnosticsHuman(io, [
      makeDiagnostic(
        'error',
        ApplyCodes.approvalRequired,
        `${destroy ? 'destroy' : 'apply'} needs approval`,
        'There is no terminal to ask on. Review the plan above and run again with --auto-approve, or save it with `plan -out FILE` and apply that file.',
      ),
    ]);
    return false;
  }
  const answer = await (ask ?? terminalAsk)(`\nDo you want to ${destroy ? 'DESTROY every microseg rule on these hosts' : 'perform these actions'}? Only 'yes' will be accepted: `);
  if (answer.trim() !== 'yes') {
    io.err(`${destroy ? 'Destroy' : 'Apply'} cancelled.\n`);
    return false;
  }
  return true;
}

function finish(io: Io, result: ApplyResult, verb: string): number {
  renderDiagnosticsHuman(io, result.diagnostics);
  renderApplySummary(io, result, verb);
  return result.ok ? 0 : 1;
}
