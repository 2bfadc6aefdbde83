/**
 * readFlowRecords: the records of a `--from-flows FILE`, checked, with the position of each bad
 * one. Pure (the text comes in). Accepted: the document `microseg flows --json` prints
 * (`{"format_version": 1, "hosts": [...], "records": [...]}`), a bare array of records, or the
 * record-per-line output of `microseg flows --follow --json`.
 */
import { makeDiagnostic, type Diagnostic, type SourcePos } from '../diagnostics';
import { jsonPlain, readJsonNodes, type JsonNode } from '../config/hcl/json';
import type { FlowRecord, FlowVerdict } from './records';
import { SuggestCodes } from './suggest';

const VERDICTS: readonly FlowVerdict[] = ['allow', 'reject', 'continue', 'would-allow', 'would-reject', 'would-continue'];
/** Problems reported per file before the rest are summed up, so a wrong file does not flood the terminal. */
const MAX_PROBLEMS = 20;

const SHAPE = 'Pass the output of `microseg flows --json` saved to a file (or its --follow --json lines).';

/** checkRecord: the record, or what is wrong with it. */
function checkRecord(v: unknown): { record?: FlowRecord; problem?: string } {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { problem: 'a flow record is a JSON object' };
  const o = v as Record<string, unknown>;
  const missing = ['src', 'dst', 'protocol', 'verdict'].filter((k) => typeof o[k] !== 'string' || o[k] === '');
  if (missing.length) return { problem: `the record has no ${missing.map((k) => `"${k}"`).join(', ')} string` };
  if (!VERDICTS.includes(o.verdict as FlowVerdict)) return { problem: `"verdict" is ${JSON.stringify(o.verdict)}; one of ${VERDICTS.join(', ')} was expected` };
  if (o.port !== undefined && (typeof o.port !== 'number' || !Number.isInteger(o.port) || o.port < 0 || o.port > 65535)) return { problem: `"port" is ${JSON.stringify(o.port)}; a number 0–65535 was expected` };
  if (o.default !== undefined && typeof o.default !== 'boolean') return { problem: '"default" must be true or false' };
  if (o.time !== undefined && typeof o.time !== 'string') return { problem: '"time" must be a string' };
  const record: FlowRecord = {
    time: (o.time as string | undefined) ?? '',
    enforcer: typeof o.enforcer === 'string' ? o.enforcer : '',
    direction: o.direction === 'incoming' ? 'incoming' : 'outgoing',
    src: o.src as string,
    dst: o.dst as string,
    protocol: o.protocol as string,
    verdict: o.verdict as FlowVerdict,
    policy: typeof o.policy === 'string' ? o.policy : '',
    default: o.default === true,
  };
  if (typeof o.port === 'number') record.port = o.port;
  return { record };
}

/** readFlowRecords parses `text` (named `file` in positions). */
export function readFlowRecords(file: string, text: string): { records: FlowRecord[]; diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  const records: FlowRecord[] = [];
  const bad = (problem: string, pos: SourcePos) => {
    if (diagnostics.length < MAX_PROBLEMS) diagnostics.push(makeDiagnostic('error', SuggestCodes.badRecord, `Not a flow record: ${problem}`, SHAPE, pos));
    else if (diagnostics.length === MAX_PROBLEMS) diagnostics.push(makeDiagnostic('error', SuggestCodes.badRecord, 'More records are malformed; fix the ones above first', SHAPE, { file, line: pos.line, column: pos.column }));
  };
  const take = (n: JsonNode) => {
    const got = checkRecord(jsonPlain(n));
    if (got.record) records.push(got.record);
    else bad(got.problem!, n.pos);
  };
  if (text.trim() === '') return { records, diagnostics: [makeDiagnostic('error', SuggestCodes.emptyInput, `${file} is empty`, SHAPE, { file, line: 1, column: 1 })] };

  const whole = readJsonNodes(file, text);
  if (whole.node) {
    const n = whole.node;
    if (n.kind === 'arr') n.items.forEach(take);
    else if (n.kind === 'obj') {
      const recs = n.props.find((p) => p.key === 'records');
      const diags = n.props.find((p) => p.key === 'diagnostics');
      if (recs && recs.value.kind === 'arr') recs.value.items.forEach(take);
      else if (recs) bad('"records" must be an array', recs.value.pos);
      else if (diags) {
        diagnostics.push(makeDiagnostic('error', SuggestCodes.badRecord, `${file} holds the diagnostics of a failed run, not flow records`, `The run that wrote it failed; fix what it reports and save \`microseg flows --json\` again.`, n.pos));
      } else take(n);
    } else bad('the file must hold the flows document, an array of records or one record per line', n.pos);
    return { records, diagnostics };
  }

  // Not one JSON value: one record per line (`flows --follow --json`), if the first line is one.
  const lines = text.split('\n');
  const firstIdx = lines.findIndex((l) => l.trim() !== '');
  const first = readJsonNodes(file, lines[firstIdx]);
  if (!first.node || first.node.kind !== 'obj') {
    return { records, diagnostics: [makeDiagnostic('error', SuggestCodes.badJson, `Invalid JSON: ${whole.error!.message}`, SHAPE, whole.error!.pos)] };
  }
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    const r = readJsonNodes(file, line);
    if (!r.node) {
      if (diagnostics.length < MAX_PROBLEMS) diagnostics.push(makeDiagnostic('error', SuggestCodes.badJson, `Invalid JSON: ${r.error!.message}`, SHAPE, { file, line: i + 1, column: r.error!.pos.column }));
      return;
    }
    const got = checkRecord(jsonPlain(r.node));
    if (got.record) records.push(got.record);
    else bad(got.problem!, { file, line: i + 1, column: r.node.pos.column });
  });
  return { records, diagnostics };
}
