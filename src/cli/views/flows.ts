/** Views of `microseg flows` and `microseg collector`: human lines and JSON from the same data (src/flows). */
import type { Diagnostic } from '../../diagnostics';
import type { CollectorStatus } from '../../flows/collector';
import type { FlowsReport } from '../../flows/flows';
import { flowLine, type FlowRecord } from '../../flows/records';
import type { Io } from '../io';
import { renderDiagnosticsHuman } from './diagnostics';

export function renderFlowsHuman(io: Io, r: FlowsReport, opts: { summary: boolean } = { summary: true }): void {
  for (const rec of r.records) io.out(flowLine(rec) + '\n');
  if (!opts.summary) return;
  for (const h of r.hosts) {
    if (h.error) {
      io.out(`enforcer ${h.enforcer}: not read: ${h.error}\n`);
      continue;
    }
    const parts = [`${h.records.length} records`];
    if (!h.collector_running) parts.push('collector not running (microseg collector start)');
    parts.push(`${h.rate_limited ?? 'unknown'} left out by the log rate limit`);
    parts.push(`${h.collector_lost} lost by the collector`);
    if (h.collector_errors.length) parts.push(`${h.collector_errors.length} collector errors (first: ${h.collector_errors[0]})`);
    io.out(`enforcer ${h.enforcer}: ${parts.join('; ')}\n`);
  }
}

export function renderCollectorHuman(io: Io, rows: Array<{ enforcer: string; status?: CollectorStatus; error?: string }>): void {
  for (const r of rows) {
    if (r.error) io.out(`enforcer ${r.enforcer}: ${r.error}\n`);
    else io.out(`enforcer ${r.enforcer}: collector ${r.status!.running ? `running (pid ${r.status!.pid})` : 'stopped'}; records in ${r.status!.paths.records}\n`);
  }
}

/**
 * FlowsFollowView prints a `flows --follow` run as records arrive, chosen once per run: flow
 * lines, or one JSON object per record and line (what `suggest --from-flows` reads back). Either
 * way stdout holds records only, so a host that cannot be read is a diagnostic on stderr.
 */
export interface FlowsFollowView {
  records(recs: readonly FlowRecord[]): void;
  diagnostics(ds: readonly Diagnostic[]): void;
}

export function flowsFollowView(io: Io, json: boolean | undefined): FlowsFollowView {
  return {
    records: json ? (recs) => recs.forEach((r) => io.out(JSON.stringify(r) + '\n')) : (recs) => recs.forEach((r) => io.out(flowLine(r) + '\n')),
    diagnostics: (ds) => renderDiagnosticsHuman(io, ds),
  };
}
