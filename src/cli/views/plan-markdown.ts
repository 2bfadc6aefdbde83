/**
 * The Markdown view of a saved plan (`microseg show PLANFILE --format markdown`), for a pull
 * request comment or a CI job summary. Like the human view it reads nothing but the Plan document
 * (`--json`), and it reuses the human view's lines for each host (plan.ts), so the three cannot
 * disagree: only the framing differs (a summary first, tables, one collapsible section per host).
 *
 * Review comments have a size limit (GitHub: 65,536 characters), and a plan for a large fleet is
 * longer than anyone reads in a comment: each host's section is cut at MAX_HOST_LINES and the
 * whole document at MAX_CHARS, saying so and pointing at `microseg show PLANFILE` for the rest.
 * The transactions are counted, not printed, for the same reason (`show` prints them).
 */
import type { Diagnostic } from '../../diagnostics';
import { hasChanges, hasErrors } from '../../plan/plan';
import type { HostPlan, Plan } from '../../plan/types';
import { hostHeader, hostLines, hostProtectionLines, placementLines, planSummary, RESOURCE_SYMBOL } from './plan';
import { PLAIN, plural } from './style';

/** MAX_HOST_LINES is how many change lines of one host the comment shows. */
export const MAX_HOST_LINES = 200;
/** MAX_CHARS keeps the document inside a GitHub comment (65,536) with room for a caller's header. */
export const MAX_CHARS = 60_000;

/** renderPlanMarkdown renders `plan` as GitHub-flavoured Markdown; `file` names the plan file in the hints. */
export function renderPlanMarkdown(plan: Plan, file = 'PLANFILE'): string {
  const out: string[] = [];
  const changed = hasChanges(plan);
  const errors = hasErrors(plan);
  const headline = errors ? 'has errors: apply will refuse it' : changed ? 'changes' : 'no changes';
  out.push(`## microseg plan: ${headline}`, '');
  out.push(`**${md(planSummary(plan))}**`, '');
  out.push(`<sub>Made ${plan.created_at} by microseg ${plan.microseg_version} from state serial ${plan.serial}.</sub>`, '');

  if (plan.diagnostics.length > 0) {
    out.push(`### Diagnostics (${countOf(plan.diagnostics)})`, '', '| severity | code | where | summary |', '|---|---|---|---|');
    for (const d of [...plan.diagnostics].sort(bySeverity)) out.push(`| ${d.severity === 'error' ? '❌ error' : '⚠️ warning'} | \`${d.code}\` | ${cell(where(d))} | ${cell(d.summary)} |`);
    out.push('');
  }

  const rc = plan.resource_changes.filter((c) => c.action !== 'noop');
  if (rc.length > 0) {
    out.push(`### Resource changes (${rc.length})`, '', '| | address | action |', '|---|---|---|');
    for (const c of rc) {
      const ns = c.action === 'replace' ? ` (namespace ${c.before?.namespace} → ${c.after?.namespace})` : '';
      out.push(`| \`${RESOURCE_SYMBOL[c.action]}\` | \`${c.address}\` | ${c.action}${cell(ns)} |`);
    }
    out.push('');
  }

  const shown = plan.hosts.filter((h) => !quiet(h));
  const unchanged = plan.hosts.length - shown.length;
  if (plan.hosts.length > 0) {
    out.push(`### Hosts (${plan.hosts.length}${unchanged ? `, ${unchanged} unchanged` : ''})`, '');
    if (shown.length > 0) {
      out.push('| enforcer | backend | action | chains | sets | hooks | drift | orphans | transactions |', '|---|---|---|---|---|---|---|---|---|');
      for (const h of shown) {
        const backend = h.previous_backend ? `${h.backend} (was ${h.previous_backend})` : h.backend;
        out.push(
          `| \`${h.enforcer}\` | ${backend} | ${actionCell(h)} | ${h.chains.length} | ${h.sets.length} | ${h.hooks.length} | ${h.drift.length} | ${h.orphans.length} | ${(h.transactions ?? []).length} |`,
        );
      }
      out.push('');
      for (const h of shown) {
        const lines = [...hostProtectionLines(h, PLAIN), ...placementLines(h, PLAIN), ...hostLines(h, PLAIN)];
        out.push(`<details><summary>${html(hostHeader(h, PLAIN, false).trim())}</summary>`, '');
        if (lines.length > 0) {
          const kept = lines.slice(0, MAX_HOST_LINES);
          out.push('```diff', ...kept.map(diffLine));
          if (lines.length > kept.length) out.push(`# … ${lines.length - kept.length} more lines: microseg show ${file}`);
          out.push('```');
        } else out.push('Nothing to change on this host.');
        out.push('', '</details>', '');
      }
    }
  }

  const txs = plan.hosts.reduce((n, h) => n + (h.transactions ?? []).length, 0);
  const txHosts = plan.hosts.filter((h) => (h.transactions ?? []).length > 0).length;
  out.push(
    txs === 0
      ? 'Apply will send nothing to any host.'
      : `Apply will run ${plural(txs, 'transaction')} on ${plural(txHosts, 'host')}, exactly as saved: \`microseg show ${file}\` prints them.`,
  );
  return limit(out.join('\n') + '\n', file);
}

/** A host with nothing to say is counted, not listed (as in the human view). */
function quiet(h: HostPlan): boolean {
  return h.reachable && !(h.blocked_by ?? []).length && h.action === 'noop' && hostLines(h, PLAIN).length === 0;
}

function actionCell(h: HostPlan): string {
  if ((h.blocked_by ?? []).length > 0) return '❌ blocked';
  if (!h.reachable) return h.action === 'cleanup-pending' ? '⚠️ unreachable, cleanup pending' : '❌ unreachable';
  return { create: '`+` program', update: '`~` update', delete: '`-` decommission', noop: 'drift/orphans only', 'cleanup-pending': 'cleanup pending' }[h.action];
}

/**
 * diffLine makes a human line readable in a ```diff block, where the first column decides the
 * colour: additions `+`, removals `-`, the rest (updates, drift, headings) a space, shifted by one.
 */
function diffLine(l: string): string {
  const t = l.trimStart();
  const indent = l.slice(0, l.length - t.length);
  if (t.startsWith('+')) return `+${indent}${t.slice(1)}`;
  if (t.startsWith('-/+')) return ` ${l}`;
  if (t.startsWith('-')) return `-${indent}${t.slice(1)}`;
  return ` ${l}`;
}

function where(d: Diagnostic): string {
  const pos = d.file ? `${d.file}${d.line ? `:${d.line}${d.column ? `:${d.column}` : ''}` : ''}` : '';
  return [d.address, pos].filter(Boolean).join(' ') || '—';
}

function countOf(ds: readonly Diagnostic[]): string {
  const e = ds.filter((d) => d.severity === 'error').length;
  return `${plural(e, 'error')}, ${plural(ds.length - e, 'warning')}`;
}

function bySeverity(a: Diagnostic, b: Diagnostic): number {
  return a.severity === b.severity ? 0 : a.severity === 'error' ? -1 : 1;
}

/** cell escapes text for a table cell: one line, no column breaks, no HTML. */
function cell(s: string): string {
  return html(s).replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');
}

/** md escapes the characters that would start emphasis or code in running text. */
function md(s: string): string {
  return html(s).replace(/([\\`*_[\]])/g, '\\$1');
}

function html(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function limit(doc: string, file: string): string {
  if (doc.length <= MAX_CHARS) return doc;
  const cut = doc.lastIndexOf('\n', MAX_CHARS - 200);
  const head = doc.slice(0, cut);
  const openCode = (head.match(/^```/gm) ?? []).length % 2 === 1;
  const openDetails = (head.match(/<details>/g) ?? []).length > (head.match(/<\/details>/g) ?? []).length;
  return `${head}\n${openCode ? '```\n' : ''}${openDetails ? '\n</details>\n' : ''}\n**The plan is longer than a comment holds; the rest was cut.** \`microseg show ${file}\` prints all of it.\n`;
}
