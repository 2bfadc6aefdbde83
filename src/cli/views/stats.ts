/**
 * Views of `microseg stats`: per host, each policy's allowed / rejected connections by direction,
 * the namespace defaults' counts, then the fleet's dead policies. Human and JSON render the same
 * StatsReport (src/flows/stats.ts).
 */
import type { StatsReport } from '../../flows/stats';
import type { Io } from '../io';
import { plural, styleFor } from './style';

export function statsJson(r: StatsReport): Record<string, unknown> {
  return { ...r };
}

export function renderStatsHuman(io: Io, r: StatsReport): void {
  const st = styleFor(io);
  const since = r.since_apply ? 'since the last apply' : 'since the rules were created';
  for (const h of r.hosts) {
    io.out(st.bold(`enforcer ${h.enforcer}${h.backend ? ` (${h.backend})` : ''}`) + '\n');
    if (h.error) {
      io.out(`  ${st.red('not read')}: ${h.error}\n\n`);
      continue;
    }
    const rows: string[][] = [['policy', 'direction', 'allowed', 'rejected', 'would allow', 'would reject']];
    for (const p of h.policies) {
      rows.push([p.policy + (p.uncounted ? ` (${plural(p.uncounted, 'rule')} uncounted)` : ''), p.direction, String(p.allowed), String(p.rejected), String(p.would_allow), String(p.would_reject)]);
    }
    for (const d of h.defaults) {
      const n = String(d.connections) + (d.uncounted ? ' (uncounted)' : '');
      if (d.observation) rows.push([`default of namespace ${d.namespace} (audit)`, d.direction, '0', '0', '-', n]);
      else rows.push([`default of namespace ${d.namespace}`, d.direction, d.action === 'allow' ? n : '0', d.action === 'reject' ? n : '0', '-', '-']);
    }
    for (const line of table(rows)) io.out(`  ${line}\n`);
    if (h.missing_rules > 0) io.out(`  ${st.yellow(`${plural(h.missing_rules, 'wanted rule')} not on the host (see microseg plan); not counted`)}\n`);
    io.out('\n');
  }
  io.out(`Connections are counted ${since}; a connection between two enforced hosts counts on both.\n`);
  if (r.dead.length > 0) io.out(st.yellow(`Dead policies (matched no connection on any host): ${r.dead.join(', ')}`) + '\n');
  else io.out('Dead policies: none.\n');
  if (r.without_rules.length > 0) io.out(`Policies with no rule on any host: ${r.without_rules.join(', ')}\n`);
}

/** table pads columns: the first left-aligned, the numbers right-aligned. */
function table(rows: string[][]): string[] {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd());
}
