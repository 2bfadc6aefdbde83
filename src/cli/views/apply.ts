/**
 * Views of an apply run: progress lines as hosts finish, and a summary. Rendered from
 * ApplyResult / HostOutcome data only.
 */
import type { ApplyObserver, ApplyResult, HostOutcome } from '../../apply';
import type { CleanupReport } from '../../apply';
import type { Diagnostic } from '../../diagnostics';
import type { Io } from '../io';
import type { Plan } from '../../plan/types';
import { renderPlanHuman } from './plan';
import { viewFor, type View } from './view';
import { providerFor } from '../../../providers';
import { diagnosticsJson } from './diagnostics';
import { plural, styleFor } from './style';
import { terminalProgress, type TerminalProgress } from './progress';

/**
 * applyProgress is an ApplyObserver that prints one line per host event, and on a terminal keeps
 * a count of hosts done on stderr (erased around each printed line, so the two never mix).
 */
export function applyProgress(io: Io, progress: TerminalProgress = terminalProgress(io, true)): ApplyObserver {
  const st = styleFor(io);
  let total = 0;
  let done = 0;
  const print = (line: string, item?: string) => {
    progress.clear();
    if (line) io.out(line);
    if (done < total) progress.report({ phase: 'apply', done, total, item });
  };
  return {
    hostsPlanned: (es) => {
      total = es.length;
      print('');
    },
    hostStart: (e, action) => print(`${st.bold(e)}: ${action === 'delete' ? 'decommissioning' : action === 'create' ? 'programming' : 'updating'}…\n`, e),
    hostDone: (o: HostOutcome) => {
      done++;
      print(o.action === 'noop' && o.status === 'unchanged' ? '' : `${st.bold(o.enforcer)}: ${outcomeText(o, st)}\n`, o.enforcer);
    },
  };
}

function outcomeText(o: HostOutcome, st: ReturnType<typeof styleFor>): string {
  switch (o.status) {
    case 'applied':
      return st.green(`applied and verified (fingerprint ${o.fingerprint})`);
    case 'removed':
      return st.green('decommissioned: nothing owned is left');
    case 'pending-cleanup':
      return st.yellow(`cleanup pending${o.error ? `: ${o.error}` : ''}`);
    case 'failed':
      return st.red(`FAILED: ${o.error ?? 'unknown error'}`);
    case 'not-started':
      return st.yellow(`not applied: ${o.error ?? 'interrupted before it started'}`);
    default:
      return 'unchanged';
  }
}

/** APPLY_FORMAT_VERSION versions the `apply --json` / `destroy --json` document. */
export const APPLY_FORMAT_VERSION = '1';

/**
 * applyJson is the `apply --json` / `destroy --json` document, from the same ApplyResult the human
 * view prints: per host what was done and how it ended, and every diagnostic (the plan's and the
 * run's). `result` undefined means nothing was applied: the plan had nothing to do, or (`ok`
 * false) it had errors. Per host the transactions (`steps`) and bytes sent, not the scripts
 * themselves (they can be megabytes; `microseg show PLANFILE` and `microseg rules` print them).
 */
export function applyJson(
  command: 'apply' | 'destroy',
  result: ApplyResult | undefined,
  planDiagnostics: readonly Diagnostic[],
  opts: { ok?: boolean } = {},
): string {
  const doc = {
    format_version: APPLY_FORMAT_VERSION,
    command,
    ok: opts.ok ?? (result ? result.ok : true),
    interrupted: result?.interrupted ?? false,
    changes: result !== undefined,
    run_id: result?.runId ?? null,
    hosts: (result?.hosts ?? []).map((h) => ({
      enforcer: h.enforcer,
      action: h.action,
      status: h.status,
      fingerprint: h.fingerprint ?? null,
      error: h.error ?? null,
      steps: h.transactions.length,
      bytes: h.transactions.reduce((n, tx) => n + Buffer.byteLength(providerFor(tx.backend).serialize(tx).stdin), 0),
    })),
    // Token outcomes name the file a new secret went to, never the secret (src/apply/tokens.ts).
    tokens: (result?.tokens ?? []).map((t) => ({ address: t.address, action: t.action, status: t.status, id: t.id ?? null, secret_file: t.secret_file ?? null, error: t.error ?? null })),
    diagnostics: diagnosticsJson([...planDiagnostics, ...(result?.diagnostics ?? [])]),
  };
  return JSON.stringify(doc, null, 2) + '\n';
}

/** renderApplySummary writes the closing line of an apply or destroy. */
export function renderApplySummary(io: Io, r: ApplyResult, verb = 'Apply'): void {
  const st = styleFor(io);
  const count = (s: HostOutcome['status']) => r.hosts.filter((h) => h.status === s).length;
  const parts = [`${count('applied')} applied`, `${count('removed')} decommissioned`, `${count('failed')} failed`];
  if (count('pending-cleanup')) parts.push(`${count('pending-cleanup')} pending cleanup`);
  if (count('not-started')) parts.push(`${count('not-started')} not started`);
  for (const t of r.tokens ?? []) {
    if (t.status === 'created') io.out(`${st.green('+')} ${t.address}: token ${t.id} created; its secret was written to ${t.secret_file} (mode 0600) and is shown nowhere else\n`);
    else if (t.status === 'updated') io.out(`${st.yellow('~')} ${t.address}: token ${t.id} updated\n`);
    else if (t.status === 'revoked') io.out(`${st.red('-')} ${t.address}: token ${t.id} revoked\n`);
    else if (t.status === 'failed') io.out(`${st.red('!')} ${t.address}: ${t.action} failed: ${t.error}\n`);
  }
  const line = `${verb} ${r.ok ? 'complete' : r.interrupted ? 'interrupted' : 'failed'}! Hosts: ${parts.join(', ')}.`;
  io.out((r.ok ? st.green(line) : st.red(line)) + '\n');
  if (r.interrupted) io.out(interruptedAccount(r) + '\n');
}

/**
 * interruptedAccount names, after an interrupted run, the hosts that were applied and those that
 * were not (and why), so nobody has to read the journal to know where the fleet stands.
 */
export function interruptedAccount(r: ApplyResult): string {
  const names = (pred: (h: HostOutcome) => boolean) => r.hosts.filter(pred).map((h) => h.enforcer);
  const done = names((h) => h.status === 'applied' || h.status === 'removed');
  const failed = r.hosts.filter((h) => h.status === 'failed').map((h) => `${h.enforcer} (${h.error ?? 'failed'})`);
  const notStarted = names((h) => h.status === 'not-started');
  return [
    `Interrupted. Applied and verified: ${done.join(', ') || 'none'}.`,
    ...(failed.length ? [`Not applied: ${failed.join('; ')}.`] : []),
    `Not started: ${notStarted.join(', ') || 'none'}.`,
    'State and journal record exactly this; `microseg plan` shows what remains.',
  ].join('\n');
}

/** renderCleanupReport writes what break-glass cleanup found and removed per backend. */
export function renderCleanupReport(io: Io, r: CleanupReport): void {
  const st = styleFor(io);
  const lines = [st.bold(`cleanup of ${r.host}`)];
  for (const b of r.backends) {
    if (!b.available) lines.push(`  ${b.backend}: skipped (${b.note})`);
    else if (b.error) lines.push(`  ${b.backend}: ${st.red(`FAILED: ${b.error}`)}`);
    else if (b.found) lines.push(`  ${b.backend}: removed ${b.found}; ${st.green('nothing owned is left')}`);
    else lines.push(`  ${b.backend}: nothing owned`);
  }
  lines.push(r.ok ? `Cleanup complete: no microseg object is left on ${r.host}.` : `Cleanup failed on ${r.host}.`);
  io.out(lines.join('\n') + '\n');
}

export { plural };

/**
 * ApplyView is how `apply` and `destroy` report, chosen once per run: the plan, progress lines and
 * a summary for people; one versioned document (applyJson) for `--json`.
 */
export interface ApplyView extends View {
  /** plan shows what will be done (JSON: nothing; the document lists the outcomes). */
  plan(plan: Plan): void;
  /** observer prints progress as hosts finish (JSON: none). */
  observer(): ApplyObserver | undefined;
  /** refused ends a run whose plan has errors: nothing was applied. Returns 1. */
  refused(closing: string): number;
  /** unchanged ends a run that had nothing to do. Returns 0. */
  unchanged(): number;
  /** finish reports the run's result. Returns 0 when every host ended well, else 1. */
  finish(result: ApplyResult, verb: 'Apply' | 'Destroy'): number;
}

export function applyView(io: Io, json: boolean | undefined, command: 'apply' | 'destroy'): ApplyView {
  const base = viewFor(io, json);
  const doc = (result: ApplyResult | undefined, ok?: boolean) => () => applyJson(command, result, base.reported, ok === undefined ? {} : { ok });
  return Object.assign(base, {
    plan: (plan: Plan) => {
      if (!base.json) renderPlanHuman(io, plan);
    },
    observer: () => (base.json ? undefined : applyProgress(io, terminalProgress(io, base.json))),
    refused(closing: string): number {
      base.note(closing);
      if (base.json) base.result(() => undefined, doc(undefined, false));
      return 1;
    },
    unchanged(): number {
      if (base.json) base.result(() => undefined, doc(undefined));
      return 0;
    },
    finish(result: ApplyResult, verb: 'Apply' | 'Destroy'): number {
      base.diagnostics(result.diagnostics);
      base.result(() => renderApplySummary(io, result, verb), doc(result));
      return result.ok ? 0 : 1;
    },
  });
}
