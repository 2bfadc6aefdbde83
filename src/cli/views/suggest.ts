/** View of `microseg suggest`: what was suggested, which flows it covers, and what was left out and why. */
import type { LeftOutFlow, Suggestion } from '../../flows/suggest';
import type { Io } from '../io';

const expr = (e: string[][]) => e.map((c) => c.join(' AND ')).join(' OR ');

function leftOutLine(f: LeftOutFlow): string {
  const who = (a: string, id?: string) => (id ? `${a}(${id})` : a);
  const port = f.port !== undefined ? `${f.protocol}/${f.port}` : f.protocol;
  return `  ${who(f.src, f.src_identity)} → ${who(f.dst, f.dst_identity)} ${port} [${f.verdicts.join(', ')}; ${f.records} record${f.records === 1 ? '' : 's'}]: ${f.reason}\n`;
}

export interface SuggestOutcome {
  suggestion: Suggestion;
  /** The file written, if any. */
  file?: string;
  /** The expectations checked against the configuration with the file added (observation off). */
  verified?: { expects: number; passed: number };
}

export function renderSuggestHuman(io: Io, o: SuggestOutcome): void {
  const s = o.suggestion;
  const r = s.records;
  io.out(`${r.read} record${r.read === 1 ? '' : 's'} read${r.before_since ? `, ${r.before_since} before --since left out` : ''}; ${s.flows.length} distinct flow${s.flows.length === 1 ? '' : 's'} to cover.\n`);
  for (const p of s.policies) {
    io.out(`+ network_policy ${p.name} (${p.namespace}${p.propagate ? ' and below' : ''}): ${expr(p.subject)} → ${expr(p.object)} ${p.ports.join(', ')}${p.apply_policy_mode !== 'bidirectional' ? ` ${p.apply_policy_mode}` : ''}; ${p.flows} flow${p.flows === 1 ? '' : 's'}${p.from_rejected ? '; includes flows the default rejected' : ''}\n`);
    if (p.widened.subject.length) io.out(`    subject also covers, unobserved: ${p.widened.subject.join(', ')}\n`);
    if (p.widened.object.length) io.out(`    object also covers, unobserved: ${p.widened.object.join(', ')}\n`);
  }
  const existing = s.flows.filter((f) => f.covered_by.kind === 'existing');
  if (existing.length) io.out(`${existing.length} flow${existing.length === 1 ? ' is' : 's are'} already allowed by the configuration (expect blocks only).\n`);
  io.out(`${s.expects.length} expect block${s.expects.length === 1 ? '' : 's'}, one per observed flow.\n`);
  if (s.unsuggestable.length) {
    io.out(`Unsuggestable (${s.unsuggestable.length}):\n`);
    for (const f of s.unsuggestable) io.out(leftOutLine(f));
  }
  if (s.skipped.length) {
    io.out(`Not suggested (${s.skipped.length}):\n`);
    for (const f of s.skipped) io.out(leftOutLine(f));
  }
  if (o.verified) io.out(`Verified: the configuration with the suggestion validates, and ${o.verified.passed}/${o.verified.expects} expectations pass with audit mode off.\n`);
  if (o.file) io.out(`Wrote ${o.file}. Review it, keep it in the configuration directory, turn observation_enabled off and run \`microseg test\` and \`microseg plan\`.\n`);
}
