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
  SandboxError,
  type DownResult,
  type LiveCheck,
  type LiveReport,
  type SandboxRecord,
  type UpResult,
} from '../../sandbox';
import type { Io } from '../io';
import { countLine, diagnosticsJson, renderDiagnosticsHuman } from '../views/diagnostics';
import { loadAndValidate, type VarOptions } from './common';
import { loadCompiled } from './trace';

export interface SandboxCmdOptions extends VarOptions {
  json?: boolean;
}

function rel(p: string): string {
  const r = path.relative(process.cwd(), p);
  return r === '' ? '.' : r.startsWith('..') ? p : r;
}

function refuseNotRoot(io: Io): boolean {
  const reason = notRootReason();
  if (!reason) return false;
  io.err(`error: ${reason} [${CODES.NOT_ROOT}]\n`);
  return true;
}

// ---------------------------------------------------------------------------------------------
// sandbox up

export async function sandboxUpCommand(io: Io, dir: string, opts: SandboxCmdOptions): Promise<number> {
  if (refuseNotRoot(io)) return 1;
  const { model, diagnostics, raw } = await loadAndValidate(dir, opts);
  if (!model || diagnostics.some((d) => d.severity === 'error')) {
    renderDiagnosticsHuman(io, diagnostics, raw.sources);
    io.err(`The configuration is invalid: ${countLine(diagnostics)}.\n`);
    return 1;
  }
  const planned = planSandbox(model);
  const all: Diagnostic[] = [...diagnostics, ...planned.diagnostics];
  if (!planned.plan) {
    renderDiagnosticsHuman(io, all, raw.sources);
    io.err(`Cannot build a sandbox for ${dir}: ${countLine(planned.diagnostics)}.\n`);
    return 1;
  }
  if (!opts.json) renderDiagnosticsHuman(io, all, raw.sources);
  let result: UpResult;
  try {
    result = await sandboxUp(dir, planned.plan);
  } catch (e) {
    if (e instanceof SandboxError) {
      io.err(`error: ${e.message} [${e.code}]\n`);
      if (e.code !== CODES.FOREIGN_NETNS && e.code !== CODES.NOT_ROOT) io.err('Everything the sandbox had created was removed again.\n');
      return 1;
    }
    throw e;
  }
  if (opts.json) {
    io.out(
      JSON.stringify(
        { status: result.status, reasons: result.reasons, record_file: result.recordFile, milliseconds: result.milliseconds, diagnostics: diagnosticsJson(all), sandbox: result.record },
        null,
        2,
      ) + '\n',
    );
  } else {
    renderUp(io, dir, result);
  }
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
  if (refuseNotRoot(io)) return 1;
  let record: SandboxRecord | undefined;
  try {
    record = await readRecord(dir);
  } catch (e) {
    io.err(`error: ${(e as Error).message}. Run \`microseg sandbox down ${dir}\` to remove what is left, then \`sandbox up\`.\n`);
    return 1;
  }
  const health = record ? await sandboxHealth(record) : undefined;
  const status = !record ? 'absent' : health!.healthy ? 'up' : 'unhealthy';
  if (opts.json) {
    io.out(JSON.stringify({ status, problems: health?.problems ?? [], record_file: recordPath(dir), sandbox: record ?? null }, null, 2) + '\n');
    return status === 'up' ? 0 : 2;
  }
  if (!record) {
    io.out(`No sandbox for ${dir} (no ${rel(recordPath(dir))}). Create one with: microseg sandbox up ${dir}\n`);
    return 2;
  }
  if (status === 'up') {
    io.out(`The sandbox for ${dir} is up and healthy (since ${record.createdAt}).\n\n`);
    renderTopology(io, record);
    return 0;
  }
  io.out(`The sandbox for ${dir} is unhealthy:\n`);
  for (const p of health!.problems) io.out(`  - ${p}\n`);
  io.out(`Repair it with \`microseg sandbox up ${dir}\`, or remove it with \`microseg sandbox down ${dir}\`.\n`);
  return 2;
}

// ---------------------------------------------------------------------------------------------
// sandbox down

export async function sandboxDownCommand(io: Io, dir: string, opts: SandboxCmdOptions): Promise<number> {
  if (refuseNotRoot(io)) return 1;
  // The configuration only helps when the record is lost (it names the enforcers' namespaces);
  // a broken or missing configuration must never prevent tearing the sandbox down.
  let configNamespaces: string[] = [];
  try {
    const { model } = await loadAndValidate(dir, opts);
    configNamespaces = (model?.enforcers ?? []).flatMap((e) => (e.connection.type === 'netns' ? [e.connection.netns] : []));
  } catch {
    /* no usable configuration */
  }
  let result: DownResult;
  try {
    result = await sandboxDown(dir, { configNamespaces });
  } catch (e) {
    if (e instanceof SandboxError) {
      io.err(`error: ${e.message} [${e.code}]\n`);
      return 1;
    }
    throw e;
  }
  if (opts.json) {
    io.out(JSON.stringify({ had_record: result.hadRecord, removed: result.removed, kept: result.kept, killed: result.killed }, null, 2) + '\n');
    return 0;
  }
  if (result.removed.length === 0) {
    io.out(`No sandbox for ${dir} is up; nothing to remove.\n`);
  } else {
    io.out(
      `Sandbox for ${dir} removed${result.hadRecord ? '' : ' (no record: found by name and ownership marker)'}: ` +
        `${result.removed.length} network namespace${result.removed.length > 1 ? 's' : ''} (${result.removed.join(', ')}), ${result.killed} listener process${result.killed === 1 ? '' : 'es'}.\n`,
    );
  }
  for (const k of result.kept) io.out(`Left ${k.netns} alone: ${k.reason}.\n`);
  return 0;
}

// ---------------------------------------------------------------------------------------------
// test --live

export async function liveTestCommand(io: Io, dir: string, opts: SandboxCmdOptions): Promise<number> {
  if (refuseNotRoot(io)) return 1;
  const loaded = await loadCompiled(io, dir, opts);
  if (!loaded) return 1;
  let record: SandboxRecord | undefined;
  try {
    record = await readRecord(dir);
  } catch (e) {
    io.err(`error: ${(e as Error).message} [${CODES.NO_SANDBOX}]\n`);
    return 1;
  }
  if (!record || record.status !== 'up') {
    io.err(
      `error: no sandbox is up for ${dir} (${rel(recordPath(dir))} ${record ? 'says a build did not finish' : 'does not exist'}): run \`microseg sandbox up ${dir}\` first [${CODES.NO_SANDBOX}]\n`,
    );
    return 1;
  }
  if (loaded.model.expects.length === 0) {
    if (opts.json) io.out(JSON.stringify({ pass: true, agree: true, results: [], hosts: [], bugs: [] }, null, 2) + '\n');
    else io.out(`No expect blocks in ${dir}: nothing to test.\n`);
    return 0;
  }
  const report = await runLiveTests(loaded.model, loaded.compiled.rulesets, record);
  if (opts.json) io.out(liveJson(report));
  else renderLiveHuman(io, report);
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

/** renderLiveHuman: the allowed/blocked table, then BUG, FAIL and SKIP lines and a summary. */
export function renderLiveHuman(io: Io, r: LiveReport): void {
  for (const h of r.hosts) {
    if (h.in_sync === true) continue;
    io.out(`warning: host ${h.enforcer} (netns ${h.netns}) ${h.in_sync === false ? 'does not hold the compiled rules' : 'could not be read'}: ${h.detail ?? ''}\n`);
  }
  if (r.hosts.some((h) => h.in_sync !== true)) io.out('\n');
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
