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
import { applyPlan, blockingErrors, type ApplyResult } from '../../apply';
import { ApplyCodes, planRun, type PlanRunResult } from '../../plan';
import { DiagnosticsError, makeDiagnostic, type Diagnostic } from '../../diagnostics';
import { hasChanges, readPlanFile, type Plan } from '../../plan';
import { LocalStateStore, STATE_DIR } from '../../state';
import type { CliDeps, Io } from '../io';
import type { Connector } from '../../../providers';
import { applyJson, applyProgress, renderApplySummary } from '../views/apply';
import { countLine, renderDiagnosticsHuman } from '../views/diagnostics';
import { renderPlanHuman } from '../views/plan';
import { failWith, parseCommon, reportConfigFailure, withLock, type ReconcileFlags } from './plan';

export interface ApplyFlags extends ReconcileFlags {
  autoApprove?: boolean;
  fullReadBack?: boolean;
  /** Print one JSON document (views/apply.ts applyJson) instead of the plan, progress and summary; needs --auto-approve or a plan file. */
  json?: boolean;
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

export async function applyCommand(io: Io, target: string, flags: ApplyFlags, ask?: Ask, deps: CliDeps = {}): Promise<number> {
  const isFile = await fsp
    .stat(target)
    .then((st) => st.isFile())
    .catch(() => false);
  return isFile ? applySavedPlan(io, target, flags, deps.connect) : reconcileDir(io, target, flags, { destroy: false, ask, connect: deps.connect });
}

/** reconcileDir is `apply DIR` and `destroy DIR`: plan under the lock, approve, apply. */
export async function reconcileDir(io: Io, dir: string, flags: ApplyFlags, opts: { destroy: boolean; ask?: Ask; connect?: Connector }): Promise<number> {
  const s = parseCommon(io, flags);
  if (!s) return 1;
  const store = new LocalStateStore(dir);
  const verb = opts.destroy ? 'Destroy' : 'Apply';
  const command = opts.destroy ? 'destroy' : 'apply';
  // A JSON run has no terminal to ask on: its stdout is the document.
  if (flags.json && !flags.autoApprove) return jsonRefusal(io, command);
  try {
    return await withLock(store, opts.destroy ? 'destroy' : 'apply', s.lockTimeoutMs, true, async () => {
      const r: PlanRunResult = await planRun(dir, {
        store,
        vars: s.vars,
        varFiles: s.varFiles,
        parallelism: s.parallelism,
        targets: flags.target,
        destroy: opts.destroy,
        connect: opts.connect,
      });
      if (!r.plan) return reportConfigFailure(io, r, flags.json ?? false);
      const plan = r.plan;
      if (!flags.json) {
        renderDiagnosticsHuman(io, r.diagnostics, r.sources);
        renderPlanHuman(io, plan);
      }
      if (blockingErrors(plan).length > 0) {
        if (flags.json) io.out(applyJson(command, undefined, r.diagnostics, { ok: false }));
        else io.err(`The plan has errors (${countLine(plan.diagnostics)}); nothing was applied.\n`);
        return 1;
      }
      if (!hasChanges(plan) && !plan.hosts.some((h) => !h.reachable)) {
        if (flags.json) io.out(applyJson(command, undefined, r.diagnostics));
        return 0;
      }
      if (!(await approved(io, flags, opts.ask, opts.destroy))) return 1;
      const result = await applyPlan(plan, {
        store,
        lockHeld: true,
        reads: r.reads,
        connect: opts.connect,
        parallelism: s.parallelism,
        fullReadBack: flags.fullReadBack,
        observer: flags.json ? undefined : applyProgress(io),
      });
      return finish(io, result, verb, flags.json ? r.diagnostics : undefined);
    });
  } catch (e) {
    return failWith(io, e, flags.json);
  }
}

async function applySavedPlan(io: Io, file: string, flags: ApplyFlags, connect?: Connector): Promise<number> {
  const s = parseCommon(io, flags);
  if (!s) return 1;
  const dir = flags.dir ?? (await projectDirFor(file));
  const store = new LocalStateStore(dir);
  let plan: Plan;
  try {
    plan = await readPlanFile(file);
    if (blockingErrors(plan).length > 0) {
      if (flags.json) {
        io.out(applyJson('apply', undefined, plan.diagnostics, { ok: false }));
        return 1;
      }
      renderDiagnosticsHuman(io, plan.diagnostics);
      io.err(`The saved plan has errors; nothing was applied.\n`);
      return 1;
    }
    const result = await applyPlan(plan, {
      store,
      savedPlan: true,
      connect,
      lockTimeoutMs: s.lockTimeoutMs,
      parallelism: s.parallelism,
      fullReadBack: flags.fullReadBack,
      observer: flags.json ? undefined : applyProgress(io),
    });
    return finish(io, result, 'Apply', flags.json ? plan.diagnostics : undefined);
  } catch (e) {
    return failWith(io, e, flags.json);
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

/** finish prints the outcome: the JSON document when `jsonPlanDiagnostics` is given, else the human summary. */
function finish(io: Io, result: ApplyResult, verb: string, jsonPlanDiagnostics?: readonly Diagnostic[]): number {
  if (jsonPlanDiagnostics) io.out(applyJson(verb === 'Destroy' ? 'destroy' : 'apply', result, jsonPlanDiagnostics));
  else {
    renderDiagnosticsHuman(io, result.diagnostics);
    renderApplySummary(io, result, verb);
  }
  return result.ok ? 0 : 1;
}

/** jsonRefusal: `--json` without `--auto-approve` has nobody to ask; say so as any JSON failure is said. */
function jsonRefusal(io: Io, command: 'apply' | 'destroy'): number {
  const d = makeDiagnostic(
    'error',
    ApplyCodes.approvalRequired,
    `${command} --json needs --auto-approve`,
    'A JSON run prints one document on stdout and cannot ask for approval. Review `microseg plan --json` first, then run with --auto-approve, or apply a saved plan file.',
  );
  return failWith(io, new DiagnosticsError([d], 'user'), true);
}
