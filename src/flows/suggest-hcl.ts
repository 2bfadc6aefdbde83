/**
 * renderSuggestionHcl: a suggestion as an HCL file of `network_policy` and `expect` blocks, in the
 * syntax of examples/quickstart (the HCL front end reads it back; test/unit/flows/suggest.test.ts
 * proves the round trip). Pure and deterministic: the same suggestion gives the same bytes.
 */
import type { Suggestion } from './suggest';

/** hclString quotes a string for HCL: escapes, and `${` / `%{` made literal so tags are never templates. */
export function hclString(s: string): string {
  const body = s
    .replace(/\\/g, '\\\\')
    .replace(/"/g, '\\"')
    .replace(/\n/g, '\\n')
    .replace(/\r/g, '\\r')
    .replace(/\t/g, '\\t')
    .replace(/\$\{/g, '$${')
    .replace(/%\{/g, '%%{');
  return `"${body}"`;
}

const list = (xs: readonly string[]) => `[${xs.map(hclString).join(', ')}]`;
const expr = (e: readonly (readonly string[])[]) => `[${e.map((c) => list(c)).join(', ')}]`;

/** renderSuggestionHcl renders the policies, then one expect per observed flow. `source` says where the flows came from (a comment). */
export function renderSuggestionHcl(s: Suggestion, source: string): string {
  const out: string[] = [
    '# Suggested by `microseg suggest` from observed flows (' + source.replace(/\n/g, ' ') + ').',
    '# Review before applying: each policy allows exactly the identities x ports observed, generalised',
    '# to every workload that carries the same tags. The expect blocks pin each observed flow, so',
    '# `microseg test` proves the policies cover them.',
    '',
  ];
  for (const p of s.policies) {
    out.push(`network_policy ${hclString(p.name)} {`);
    out.push(`  namespace   = ${hclString(p.namespace)}`);
    out.push(`  description = ${hclString(`Suggested from ${p.flows} observed flow${p.flows === 1 ? '' : 's'}.`)}`);
    if (p.from_rejected) out.push('  # Some of these flows were REJECTED by the namespace default when observed (--include-rejected).');
    if (p.widened.subject.length) out.push(`  # subject also covers, unobserved: ${p.widened.subject.join(', ')}`);
    if (p.widened.object.length) out.push(`  # object also covers, unobserved: ${p.widened.object.join(', ')}`);
    out.push(`  subject     = ${expr(p.subject)}`);
    out.push(`  object      = ${expr(p.object)}`);
    out.push(`  ports       = ${list(p.ports)}`);
    if (p.apply_policy_mode !== 'bidirectional') out.push(`  apply_policy_mode = ${hclString(p.apply_policy_mode)}`);
    if (p.propagate) out.push('  propagate   = true');
    out.push('}', '');
  }
  const flowsByExpect = new Map(s.expects.map((e, i) => [e.name, s.flows[i]] as const));
  for (const e of s.expects) {
    const f = flowsByExpect.get(e.name);
    out.push(`expect ${hclString(e.name)} {`);
    if (f) {
      const by = f.covered_by.kind === 'existing' ? `already allowed by ${f.covered_by.decided_by}` : `allowed by ${f.covered_by.policy}`;
      out.push(`  # seen ${f.records} time${f.records === 1 ? '' : 's'} (${f.verdicts.join(', ')}) ${f.first_seen} .. ${f.last_seen}; ${by}`);
    }
    out.push(`  from    = ${hclString(e.from)}`);
    out.push(`  to      = ${hclString(e.to)}`);
    out.push(`  port    = ${hclString(e.port)}`);
    out.push(`  verdict = ${hclString(e.verdict)}`);
    out.push('}', '');
  }
  return out.join('\n');
}
