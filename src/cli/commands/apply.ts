/**
 * apply: make the hosts match the configuration (or exactly a saved plan). Plans under the state
 * lock, shows the plan, asks for approval on a terminal (refuses without --auto-approve
 * otherwise), then applies host by host. A saved plan (`apply FILE`) is applied without a prompt,
 * and refused if state or any host changed since it was made. Exit 0 on success or no changes,
 * 1 on any error or failed host.
 */
import { recordApplied } from '../../flows/baseline';
import { collectorDiagnostics, collectorNote, collectorSteps, runCollectorSteps } from '../../flows/lifecycle';
import { promises as fsp } from 'fs';
import * as path from 'path';
import * as readline from 'readline';
import { applyPlan, blockingErrors, type ApplyResult } from '../../apply';
import { ApplyCodes } from '../../plan';
import { makeDiagnostic, type Diagnostic } from '../../diagnostics';
import { hasChanges, readPlanFile, type Plan } from '../../plan';
import { STATE_DIR } from '../../state';
import { withBackend, withControl } from './backend';
import { parseDuration } from '../../compile/activity';
import { AgentCodes } from '../../control/reconcile-codes';
import type { CliDeps, Io } from '../io';
import type { Connector } from '../../../providers';
import { applyView } from '../views/apply';
import { countLine } from '../views/diagnostics';
import type { View } from '../views/view';
import { parseCommon, planLocked, type ReconcileFlags } from './plan';
import { withInterrupts } from '../interrupt';

export interface ApplyFlags extends ReconcileFlags {
  autoApprove?: boolean;
  fullReadBack?: boolean;
  /** Print one JSON document (views/apply.ts applyJson) instead of the plan, progress and summary; needs --auto-approve or a plan file. */
  json?: boolean;
  /** Project directory holding .microseg/ when applying a plan file. */
  dir?: string;
  /** How long to wait for agent enforcers to report a published ruleset applied (duration; default 5m). */
  waitTimeout?: string;
  /** Where new enforcer_token secrets are written (mode 0600); default DIR/.microseg/tokens. */
  tokenDir?: string;
}

/** Ask is how the command asks a yes/no question; the default reads a line from the terminal. */
export type Ask = (question: string) => Promise<string>;

export const terminalAsk: Ask = (question) =>
  new Promise((resolve) => {
    const rl = readline.createInterface({ input: process.stdin, output: process.stdout });
    // A terminal in raw mode turns Ctrl-C into a readline event, not a signal; left alone, the
    // question never settles and the process ends with the lock held. Hand it to the SIGINT
    // handling of the locked section (src/cli/interrupt.ts), which releases the lock.
    rl.on('SIGINT', () => {
      rl.close();
      process.kill(process.pid, 'SIGINT');
    });
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
  const command = opts.destroy ? 'destroy' : 'apply';
  const view = applyView(io, flags.json, command);
  const s = parseCommon(view, flags);
  if (!s) return 1;
  // A JSON run has no terminal to ask on: its stdout is the document.
  if (flags.json && !flags.autoApprove) return view.fail([jsonRefusal(command)]);
  const waitTimeoutMs = parseWaitTimeout(view, flags.waitTimeout);
  if (waitTimeoutMs === undefined) return 1;
  return planLocked(view, dir, s, { operation: command, lock: true, targets: flags.target, destroy: opts.destroy, connect: opts.connect }, async (r, store, it, control) => {
    const plan = r.plan;
    view.diagnostics(r.diagnostics, r.sources);
    view.plan(plan);
    if (blockingErrors(plan).length > 0) return view.refused(`The plan has errors (${countLine(plan.diagnostics)}); nothing was applied.`);
    if (!hasChanges(plan) && !plan.hosts.some((h) => !h.reachable)) {
      await followRules(view, plan, undefined, opts.connect);
      return view.unchanged();
    }
    if (!(await approved(view, flags, opts.ask, opts.destroy))) return 1;
    it.phase('apply');
    const result = await applyPlan(plan, {
      store,
      lockHeld: true,
      signal: it.signal,
      reads: r.reads,
      connect: opts.connect,
      parallelism: s.parallelism,
      fullReadBack: flags.fullReadBack,
      observer: view.observer(),
      control,
      tokenDir: flags.tokenDir ?? path.join(dir, STATE_DIR, 'tokens'),
      waitTimeoutMs,
    });
    await keepBaselines(view, dir, result);
    await followRules(view, plan, result, opts.connect);
    const code = view.finish(result, opts.destroy ? 'Destroy' : 'Apply');
    return it.exitCode ?? code;
  });
}

async function applySavedPlan(io: Io, file: string, flags: ApplyFlags, connect?: Connector): Promise<number> {
  const view = applyView(io, flags.json, 'apply');
  const s = parseCommon(view, flags);
  if (!s) return 1;
  const dir = flags.dir ?? (await projectDirFor(file));
  const waitTimeoutMs = parseWaitTimeout(view, flags.waitTimeout);
  if (waitTimeoutMs === undefined) return 1;
  return withBackend(view, dir, { check: true }, async (opened, settings) => withControl(opened, settings, async (control) => {
    const store = opened.store;
    const plan: Plan = await readPlanFile(file);
    view.diagnostics(plan.diagnostics);
    if (blockingErrors(plan).length > 0) return view.refused('The saved plan has errors; nothing was applied.');
    // applyPlan takes the lock itself; a signal from here on stops new hosts (src/cli/interrupt.ts).
    return withInterrupts(io, 'apply', async (it) => {
      it.phase('apply');
      const result = await applyPlan(plan, {
        store,
        savedPlan: true,
        signal: it.signal,
        connect,
        lockTimeoutMs: s.lockTimeoutMs,
        parallelism: s.parallelism,
        fullReadBack: flags.fullReadBack,
        observer: view.observer(),
        control,
        tokenDir: flags.tokenDir ?? path.join(dir, STATE_DIR, 'tokens'),
        waitTimeoutMs,
      });
      await keepBaselines(view, dir, result);
      await followRules(view, plan, result, connect);
      const code = view.finish(result, 'Apply');
      return it.exitCode ?? code;
    });
  }));
}

/** DEFAULT_WAIT_TIMEOUT_MS is how long apply waits for agents to report a published ruleset applied (`--wait-timeout`). */
export const DEFAULT_WAIT_TIMEOUT_MS = 5 * 60_000;

/** parseWaitTimeout reads --wait-timeout (a duration such as "90s", "5m"); undefined after the view said why. */
function parseWaitTimeout(view: View, text: string | undefined): number | undefined {
  if (text === undefined) return DEFAULT_WAIT_TIMEOUT_MS;
  const ms = parseDuration(text);
  if (ms === undefined) {
    view.fail([makeDiagnostic('error', AgentCodes.badFlag, `Invalid --wait-timeout ${JSON.stringify(text)}`, 'Give a duration such as "90s", "5m" or "1h": how long apply waits for agent enforcers to report the published ruleset applied.')]);
    return undefined;
  }
  return ms;
}

/**
 * keepBaselines records the counters apply saw on each host it changed, for `stats
 * --since-apply`. The hosts are applied and state is written by now: a failure here only costs
 * that view of the counters, so it is a note, not a failed apply.
 */
async function keepBaselines(view: { note(text: string): void }, dir: string, result: ApplyResult): Promise<void> {
  try {
    await recordApplied(dir, result.hosts);
  } catch (e) {
    view.note(`Could not record the rule counters for \`stats --since-apply\`: ${(e as Error).message}`);
  }
}

/**
 * followRules brings each host's flow-log collector where its new rules want it (src/flows/
 * lifecycle.ts): started where there are log rules, removed from decommissioned hosts. Skipped
 * when the firewalls are injected (tests, the fake backend): there are no real hosts to run a
 * daemon on. A collector that fails is a warning, never a failed apply: the rules are in place.
 */
async function followRules(view: View, plan: Plan, result: ApplyResult | undefined, connect?: Connector): Promise<void> {
  if (connect) return;
  const results = await runCollectorSteps(collectorSteps(plan, result?.hosts));
  const warnings = collectorDiagnostics(results);
  if (warnings.length) view.diagnostics(warnings);
  const note = collectorNote(results);
  if (note) view.note(note);
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

async function approved(view: View, flags: ApplyFlags, ask: Ask | undefined, destroy: boolean): Promise<boolean> {
  if (flags.autoApprove) return true;
  const interactive = ask !== undefined || (view.io.isTTY && Boolean(process.stdin.isTTY));
  if (!interactive) {
    view.fail([
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
    view.note(`${destroy ? 'Destroy' : 'Apply'} cancelled.`);
    return false;
  }
  return true;
}

/** jsonRefusal: `--json` without `--auto-approve` has nobody to ask. */
function jsonRefusal(command: 'apply' | 'destroy'): Diagnostic {
  return makeDiagnostic(
    'error',
    ApplyCodes.approvalRequired,
    `${command} --json needs --auto-approve`,
    'A JSON run prints one document on stdout and cannot ask for approval. Review `microseg plan --json` first, then run with --auto-approve, or apply a saved plan file.',
  );
}
