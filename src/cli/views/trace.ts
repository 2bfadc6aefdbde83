/**
 * Views of traces and policy tests: a short readable block or table for humans, and the same
 * data as JSON. Both render the data src/trace returns; nothing is recomputed here.
 */
import type { ExpectationResult } from '../../trace/expectations';
import { CODES } from '../../trace/codes';
import { caseText, type FlowTrace, type SideTrace } from '../../trace/trace';
import type { Io } from '../io';
import { diagnosticsJson } from './diagnostics';

/** sideLabel names one side for humans: `egress of web on web-1`. */
function sideLabel(s: SideTrace): string {
  const dir = s.hook === 'output' ? 'egress' : 'ingress';
  return s.pu ? `${dir} of ${s.pu}${s.enforcer ? ` on ${s.enforcer}` : ''}` : dir;
}

/** decision is `reject  by policy no-web-to-db, rule da56034eabaa`. */
function decision(s: SideTrace): string {
  const by =
    s.policy === null && s.origin && s.origin !== 'policy'
      ? `by a ${s.origin} rule`
      : s.policy === 'default'
      ? `by the namespace default${s.namespace ? ` of ${s.namespace}` : ''}`
      : s.policy !== null
        ? `by policy ${s.policy}`
        : '';
  const rule = s.rule_id ? `rule ${s.rule_id}` : '';
  return [s.verdict, [by, rule].filter(Boolean).join(', ')].filter(Boolean).join('  ');
}

/** renderTraceHuman writes the small block `microseg trace` prints. */
export function renderTraceHuman(io: Io, t: FlowTrace): void {
  const ep = (e: FlowTrace['from']) => (e.name === e.address ? e.address : `${e.name} (${e.address})`);
  const via = t.packet.local
    ? ' via lo (same host)'
    : [t.packet.oif !== undefined ? ` leaving by ${t.packet.oif}` : '', t.packet.iif !== undefined ? ` reaching by ${t.packet.iif}` : ''].join('');
  io.out(`${ep(t.from)} → ${ep(t.to)} ${t.port}${via}\n`);
  for (const e of [t.from, t.to]) if (e.note && e.kind === 'external_network') io.out(`  note: ${e.note}\n`);
  if (t.verdict === 'depends') io.out(`  first case: ${caseText(t.cases![0])}\n`);
  const rows: Array<[string, SideTrace]> = [
    ['source', t.source],
    ['destination', t.destination],
  ];
  const labels = rows.map(([k, s]) => `${k} ${sideLabel(s)}:`);
  const width = Math.max(...labels.map((l) => l.length));
  rows.forEach(([, s], i) => {
    io.out(`  ${labels[i].padEnd(width)}  ${decision(s)}${s.reached ? '' : '  (not reached)'}\n`);
    io.out(`  ${''.padEnd(width)}  ${s.reason}\n`);
  });
  if (t.verdict === 'depends') {
    const on = (t.depends_on ?? []).map((d) => (d === 'interface' ? 'THE INTERFACE' : 'THE ADDRESS')).join(' AND ');
    io.out(`  result: DEPENDS ON ${on}\n`);
    for (const c of t.cases ?? []) io.out(`    ${caseText(c)}\n`);
    const hints = [
      t.depends_on?.includes('interface') ? 'say which interface with --interface NAME (or --oif / --iif for one end)' : '',
      t.depends_on?.includes('address') ? 'trace one address of the network instead of its name' : '',
    ].filter(Boolean);
    io.out(`  ${hints.join('; ')}\n`);
  } else {
    io.out(`  result: ${t.verdict.toUpperCase()}\n`);
  }
  if (t.pu_addresses?.length) {
    const net = t.pu_addresses[0].endpoint === 'from' ? t.from.name : t.to.name;
    const items = t.pu_addresses.map((p) => `${p.address} (${p.pu} on ${p.enforcer}): ${p.verdict}${p.decided_by ? ` by ${p.decided_by === 'default' ? 'the namespace default' : `policy ${p.decided_by}`}` : ''}`);
    io.out(`  note: ${net} also holds processing units' addresses, decided by their own hosts and not part of the result: ${items.join('; ')}${t.pu_addresses_more ? `; and ${t.pu_addresses_more} more` : ''}\n`);
  }
}

/** traceJson is the `--json` document: the FlowTrace itself, `verdict` first. */
export function traceJson(t: FlowTrace): string {
  return JSON.stringify(t, null, 2) + '\n';
}

/** decidedBy is the table's "decided by" cell: the deciding side's policy and direction. */
export function decidedBy(r: ExpectationResult): string {
  const sides = [r.source, r.destination].filter((s): s is SideTrace => s !== undefined);
  const name = (s: SideTrace) => `${s.policy ?? s.origin ?? s.verdict} (${s.hook === 'output' ? 'egress' : 'ingress'})`;
  if (r.actual === 'depends') return '-';
  if (r.actual === 'reject') {
    const s = sides.find((x) => x.verdict === 'reject');
    return s ? name(s) : '-';
  }
  const allowed = sides.filter((s) => s.verdict === 'allow');
  return allowed.length ? allowed.map(name).join(' + ') : r.actual === null ? '-' : 'untouched';
}

/** whyFailed says in one line why an expectation failed, from the deciding side's reason. */
export function whyFailed(r: ExpectationResult): string {
  const where = r.file ? `${r.file}${r.line ? `:${r.line}` : ''}: ` : '';
  if (r.actual === null) return `${where}cannot trace: ${r.diagnostics.map((d) => d.summary).join('; ')}`;
  if (r.actual === 'depends') {
    const d = r.diagnostics.find((x) => x.code === CODES.VERDICT_DEPENDS);
    return `${where}expected ${r.expected}, but ${d ? `${d.summary.charAt(0).toLowerCase()}${d.summary.slice(1)}. ${d.detail}` : 'the verdict depends on more than the expect says'}`;
  }
  const sides = [r.source, r.destination].filter((s): s is SideTrace => s !== undefined && s.reached);
  const deciding = r.actual === 'reject' ? sides.filter((s) => s.verdict === 'reject') : sides;
  const because = deciding.map((s) => `${sideLabel(s)}: ${s.reason}`).join('; ');
  return `${where}expected ${r.expected}, got ${r.actual}: ${because}`;
}

/** renderExpectationsHuman writes the `microseg test` table, then why each failure failed. */
export function renderExpectationsHuman(io: Io, results: readonly ExpectationResult[]): void {
  const header = ['NAME', 'FROM → TO', 'PORT', 'EXPECTED', 'ACTUAL', 'DECIDED BY', 'RESULT'];
  const rows = results.map((r) => [r.name, `${r.from} → ${r.to}`, r.port, r.expected, r.actual ?? 'error', decidedBy(r), r.pass ? 'PASS' : 'FAIL']);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ') + '\n';
  io.out(line(header));
  for (const row of rows) io.out(line(row));
  const failed = results.filter((r) => !r.pass);
  if (failed.length) {
    io.out('\n');
    for (const r of failed) io.out(`FAIL ${r.name}: ${whyFailed(r)}\n`);
  }
  io.out(`\n${results.length - failed.length} passed, ${failed.length} failed.\n`);
}

/** expectationsJson is the `--json` document of `microseg test`. */
export function expectationsJson(results: readonly ExpectationResult[]): string {
  const failed = results.filter((r) => !r.pass).length;
  const rows = results.map((r) => ({ ...r, diagnostics: diagnosticsJson(r.diagnostics) }));
  return JSON.stringify({ pass: failed === 0, passed: results.length - failed, failed, results: rows }, null, 2) + '\n';
}
