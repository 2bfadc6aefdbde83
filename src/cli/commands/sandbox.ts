/**
 * sandbox up|down and test --live: wiring and views. The work happens in src/sandbox (plan the
 * topology, build/remove it, send probes); this file loads the configuration, calls it and renders
 * the data. Exit codes: 0 success, 1 error (invalid configuration, not root, a build failure, a
 * live test that failed or disagreed with the offline trace).
 */
import * as path from 'path';
import type { Diagnostic } from '../../diagnostics';
import {
  CODES,
  notRootReason,
  planSandbox,
  readRecord,
  recordPath,
  runLiveTests,
  sandboxDown,
  sandboxHealth,
  sandboxUp,
  type DownResult,
  type LiveCheck,
  type LiveReport,
  type SandboxRecord,
  type UpResult,
} from '../../sandbox';
import type { Io } from '../io';
import { countLine, diagnosticsJson } from '../views/diagnostics';
import { viewFor, type View } from '../views/view';
import { DiagnosticsError, enforcerAddress, makeDiagnostic, withAddress } from '../../diagnostics';
import { loadConfiguration, type VarOptions } from './common';
import { loadCompiled } from './trace';

export interface SandboxCmdOptions extends VarOptions {
  json?: boolean;
}

function rel(p: string): string {
  const r = path.relative(process.cwd(), p);
  return r === '' ? '.' : r.startsWith('..') ? p : r;
}

/** refuseNotRoot fails the run (through `view`) when the sandbox cannot be built by this process. */
function refuseNotRoot(view: View): boolean {
  const reason = notRootReason();
  if (!reason) return false;
  view.fail([makeDiagnostic('error', CODES.NOT_ROOT, reason)]);
  return true;
}

// ---------------------------------------------------------------------------------------------
// sandbox up

export async function sandboxUpCommand(io: Io, dir: string, opts: SandboxCmdOptions): Promise<number> {
  const view = viewFor(io, opts.json);
  if (refuseNotRoot(view)) return 1;
  const p = await loadConfiguration(view, dir, opts);
  if (!p) return 1;
  const planned = planSandbox(p.model!);
  if (!planned.plan) return view.fail(planned.diagnostics, `Cannot build a sandbox for ${dir}: ${countLine(planned.diagnostics)}.`, p.sources);
  view.diagnostics(planned.diagnostics, p.sources);
  let result: UpResult;
  try {
    result = await sandboxUp(dir, planned.plan);
  } catch (e) {
    const code = DiagnosticsError.isInstance(e) ? e.diagnostics[0]?.code : undefined;
    const failed = view.thrown(e);
    if (code !== CODES.FOREIGN_NETNS && code !== CODES.NOT_ROOT) view.note('Everything the sandbox had created was removed again.');
    return failed;
  }
  view.result(
    (out) => renderUp(out, dir, result),
    () => ({ status: result.status, reasons: result.reasons, record_file: result.recordFile, milliseconds: result.milliseconds, diagnostics: [], sandbox: result.record }),
  );
  return 0;
}

function renderUp(io: Io, dir: string, r: UpResult): void {
  const rec = r.record;
  if (r.status === 'unchanged') {
    io.out(`The sandbox for ${dir} is already up and healthy (since ${rec.createdAt}); nothing to do.\n`);
    return;
  }
  for (const why of r.reasons) io.out(`Rebuilding: ${why}.\n`);
  io.out(`Sandbox for ${dir} ${r.status} in ${(r.milliseconds / 1000).toFixed(1)} s (record: ${rel(r.recordFile)})\n\n`);
  renderTopology(io, rec);
  io.out('\nNo firewall rules are applied yet: every workload reaches every other. Next: microseg plan ' + dir + '\n');
}

function renderTopology(io: Io, rec: SandboxRecord): void {
  const plan = rec.plan;
  const rows: string[][] = [['HOST', 'NETNS', 'ADDRESSES']];
  for (const h of plan.hosts) {
    rows.push([h.enforcer, h.netns, h.addresses.map((a) => `${a.address}/${a.prefixLen} (${a.pu})`).join(', ') || '-']);
  }
  if (plan.external) {
    rows.push(['(external)', plan.external.netns, plan.external.addresses.map((a) => `${a.address} (${a.networks.join(', ') || 'named by an expect'})`).join(', ')]);
  }
  rows.push(['(bridge)', plan.bridge.netns, `${plan.bridge.device}, one veth per namespace`]);
  const w = [0, 1].map((i) => Math.max(...rows.map((row) => row[i].length)));
  for (const row of rows) io.out(`  ${row[0].padEnd(w[0])}  ${row[1].padEnd(w[1])}  ${row[2]}\n`);
  for (const a of plan.external?.addresses ?? []) if (a.note) io.out(`  note: ${a.address}: ${a.note}\n`);
  io.out(`  listeners: ${rec.listeners.length} (${plan.ports.join(' ') || 'no tcp/udp ports in the expectations'}) on every address, answering "microseg-sandbox <name> <port>"\n`);
}

// ---------------------------------------------------------------------------------------------
// sandbox status

/**
 * sandboxStatusCommand: is the sandbox for `dir` up, and is everything it recorded still there
 * (namespaces, listeners alive in their namespaces)? Read-only. Exit 0 up and healthy, 2 absent
 * or unhealthy (the problems are listed; `sandbox up` repairs, `sandbox down` removes), 1 error.
 */
export async function sandboxStatusCommand(io: Io, dir: string, opts: SandboxCmdOptions): Promise<number> {
  const view = viewFor(io, opts.json);
  if (refuseNotRoot(view)) return 1;
  let record: SandboxRecord | undefined;
  try {
    record = await readRecord(dir);
  } catch (e) {
    return view.fail([unreadableRecord(dir, e)]);
  }
  const health = record ? await sandboxHealth(record) : undefined;
  const status = !record ? 'absent' : health!.healthy ? 'up' : 'unhealthy';
  view.result(
    (out) => {
      if (!record) out.out(`No sandbox for ${dir} (no ${rel(recordPath(dir))}). Create one with: microseg sandbox up ${dir}\n`);
      else if (status === 'up') {
        out.out(`The sandbox for ${dir} is up and healthy (since ${record.createdAt}).\n\n`);
        renderTopology(out, record);
      } else {
        out.out(`The sandbox for ${dir} is unhealthy:\n`);
        for (const p of health!.problems) out.out(`  - ${p}\n`);
        out.out(`Repair it with \`microseg sandbox up ${dir}\`, or remove it with \`microseg sandbox down ${dir}\`.\n`);
      }
    },
    () => ({ status, problems: health?.problems ?? [], record_file: recordPath(dir), sandbox: record ?? null }),
  );
  return status === 'up' ? 0 : 2;
}

/** unreadableRecord is the diagnostic of a sandbox record that cannot be read. */
function unreadableRecord(dir: string, e: unknown): Diagnostic {
  return makeDiagnostic(
    'error',
    CODES.NO_SANDBOX,
    `The sandbox record of ${dir} cannot be read`,
    `${(e as Error).message}. Run \`microseg sandbox down ${dir}\` to remove what is left, then \`sandbox up\`.`,
  );
}

// ---------------------------------------------------------------------------------------------
// sandbox down

export async function sandboxDownCommand(io: Io, dir: string, opts: SandboxCmdOptions): Promise<number> {
  const view = viewFor(io, opts.json);
  if (refuseNotRoot(view)) return 1;
  // The configuration only helps when the record is lost (it names the enforcers' namespaces);
  // a broken or missing configuration must never prevent tearing the sandbox down, so its
  // diagnostics are not reported here.
  let configNamespaces: string[] = [];
  try {
    const p = await loadConfiguration(viewFor({ out: () => undefined, err: () => undefined, isTTY: false }, false), dir, opts);
    configNamespaces = (p?.model?.enforcers ?? []).flatMap((e) => (e.connection.type === 'netns' ? [e.connection.netns] : []));
  } catch {
    /* no usable configuration */
  }
  let result: DownResult;
  try {
    result = await sandboxDown(dir, { configNamespaces });
  } catch (e) {
    return view.thrown(e);
  }
  view.result(
    (out) => {
      if (result.removed.length === 0) out.out(`No sandbox for ${dir} is up; nothing to remove.\n`);
      else {
        out.out(
          `Sandbox for ${dir} removed${result.hadRecord ? '' : ' (no record: found by name and ownership marker)'}: ` +
            `${result.removed.length} network namespace${result.removed.length > 1 ? 's' : ''} (${result.removed.join(', ')}), ${result.killed} listener process${result.killed === 1 ? '' : 'es'}.\n`,
        );
      }
      for (const k of result.kept) out.out(`Left ${k.netns} alone: ${k.reason}.\n`);
    },
    () => ({ had_record: result.hadRecord, removed: result.removed, kept: result.kept, killed: result.killed }),
  );
  return 0;
}

// ---------------------------------------------------------------------------------------------
// test --live

export async function liveTestCommand(io: Io, dir: string, opts: SandboxCmdOptions): Promise<number> {
  const view = viewFor(io, opts.json);
  if (refuseNotRoot(view)) return 1;
  const loaded = await loadCompiled(view, dir, opts);
  if (!loaded) return 1;
  let record: SandboxRecord | undefined;
  try {
    record = await readRecord(dir);
  } catch (e) {
    return view.fail([unreadableRecord(dir, e)]);
  }
  if (!record || record.status !== 'up') {
    return view.fail([
      makeDiagnostic(
        'error',
        CODES.NO_SANDBOX,
        `No sandbox is up for ${dir}`,
        `${rel(recordPath(dir))} ${record ? 'says a build did not finish' : 'does not exist'}: run \`microseg sandbox up ${dir}\` first.`,
      ),
    ]);
  }
  if (loaded.model.expects.length === 0) {
    view.result((out) => out.out(`No expect blocks in ${dir}: nothing to test.\n`), () => ({ pass: true, agree: true, results: [], hosts: [], bugs: [] }));
    return 0;
  }
  const report = await runLiveTests(loaded.model, loaded.compiled.rulesets, record);
  view.diagnostics(hostSyncDiagnostics(report));
  view.result((out) => renderLiveHuman(out, report), () => liveJson(report));
  return report.pass ? 0 : 1;
}

/** liveJson is the `test --live --json` document. */
export function liveJson(r: LiveReport): string {
  const checked = r.results.filter((x) => x.checkable);
  return (
    JSON.stringify(
      {
        pass: r.pass,
        agree: r.bugs.length === 0,
        checked: checked.length,
        not_checkable: r.results.length - checked.length,
        failed: r.results.filter((x) => !x.pass).length,
        bugs: r.bugs,
        hosts: r.hosts,
        results: r.results,
      },
      null,
      2,
    ) + '\n'
  );
}

function resultCell(c: LiveCheck): string {
  if (!c.checkable) return c.pass ? 'SKIP' : 'FAIL';
  if (c.agree === false) return 'BUG';
  return c.pass ? 'PASS' : 'FAIL';
}

function kernelCell(c: LiveCheck): string {
  if (!c.checkable) return 'not checkable live';
  const p = c.packet!;
  const what = c.outcome === 'connected' || c.outcome === 'answered' ? `${c.outcome}` : c.outcome;
  return `${what} (${p.src} → ${p.dst})`;
}

/** hostSyncDiagnostics: a warning per sandbox host that does not hold the compiled rules (its live results may be about other rules). */
export function hostSyncDiagnostics(r: LiveReport): Diagnostic[] {
  return r.hosts
    .filter((h) => h.in_sync !== true)
    .map((h) =>
      withAddress(
        makeDiagnostic('warning', CODES.HOST_NOT_IN_SYNC, `Host ${h.enforcer} (netns ${h.netns}) ${h.in_sync === false ? 'does not hold the compiled rules' : 'could not be read'}`, h.detail || undefined),
        enforcerAddress(h.enforcer),
      ),
    );
}

/** renderLiveHuman: the allowed/blocked table, then BUG, FAIL and SKIP lines and a summary. */
export function renderLiveHuman(io: Io, r: LiveReport): void {
  const header = ['NAME', 'FROM → TO', 'PORT', 'EXPECTED', 'OFFLINE', 'LIVE', 'KERNEL', 'RESULT'];
  const rows = r.results.map((c) => [
    c.name,
    `${c.from} → ${c.to}`,
    c.port,
    c.expected,
    c.offline ?? 'error',
    c.live ? (c.live === 'allow' ? 'ALLOWED' : 'BLOCKED') : '-',
    kernelCell(c),
    resultCell(c),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ') + '\n';
  io.out(line(header));
  for (const row of rows) io.out(line(row));
  const extra: string[] = [];
  for (const b of r.bugs) extra.push(`BUG ${b}`);
  for (const c of r.results) {
    if (c.checkable && c.agree !== false && !c.pass) extra.push(`FAIL ${c.name}: expected ${c.expected}, the kernel says ${c.live ?? 'nothing'} (${c.outcome}${c.detail ? `: ${c.detail}` : ''})`);
    if (!c.checkable) extra.push(`${c.pass ? 'SKIP' : 'FAIL'} ${c.name}: ${c.detail}${c.offline ? ` (offline: ${c.offline}, expected ${c.expected})` : ''}`);
  }
  for (const c of r.results) if (c.note) extra.push(`note ${c.name}: ${c.note}`);
  if (extra.length) io.out('\n' + extra.join('\n') + '\n');
  const checked = r.results.filter((c) => c.checkable);
  const passed = checked.filter((c) => c.pass).length;
  const skipped = r.results.length - checked.length;
  io.out(
    `\n${checked.length} checked live: ${passed} passed, ${checked.length - passed} failed, ${r.bugs.length} disagree${r.bugs.length === 1 ? 's' : ''} with the offline trace` +
      `${skipped ? `; ${skipped} not checkable live` : ''}.\n`,
  );
}
