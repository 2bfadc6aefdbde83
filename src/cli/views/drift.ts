/**
 * Views of drift (`microseg drift`): per host, what changed on the kernel outside microseg since
 * it last applied, grouped as missing (we put it there, it is gone), unexpected (there, not ours
 * to have) and changed (there, but different). Human and JSON come from driftReport's data.
 */
import type { DriftItem, DriftKind, HostPlan, Plan } from '../../plan/types';
import type { Io } from '../io';
import { diagnosticsJson } from './diagnostics';
import { plural, styleFor } from './style';

/** DRIFT_FORMAT_VERSION versions the `drift --json` document. */
export const DRIFT_FORMAT_VERSION = '1';

const GROUP: Record<DriftKind, 'missing' | 'unexpected' | 'changed'> = {
  'rule-missing': 'missing',
  'chain-missing': 'missing',
  'chain-flushed': 'missing',
  'hook-missing': 'missing',
  'set-missing': 'missing',
  'rule-unexpected': 'unexpected',
  'foreign-rule-in-owned-chain': 'unexpected',
  'hook-duplicated': 'unexpected',
  'rules-reordered': 'changed',
  'rule-changed': 'changed',
  'hook-not-first': 'changed',
  'set-member-changed': 'changed',
};

export interface HostDrift {
  enforcer: string;
  backend: string;
  reachable: boolean;
  drifted: boolean;
  missing: DriftItem[];
  unexpected: DriftItem[];
  changed: DriftItem[];
}

/** driftReport groups each host's drift; orphans count as unexpected. */
export function driftReport(plan: Plan): HostDrift[] {
  return plan.hosts.map((h: HostPlan) => {
    const r: HostDrift = { enforcer: h.enforcer, backend: h.backend, reachable: h.reachable, drifted: false, missing: [], unexpected: [], changed: [] };
    for (const d of h.drift) r[GROUP[d.kind]].push(d);
    for (const o of h.orphans) r.unexpected.push({ kind: 'rule-unexpected', object: `${o.kind} ${o.name}`, detail: 'orphan: has our prefix but neither configuration nor state claims it' });
    r.drifted = r.missing.length + r.unexpected.length + r.changed.length > 0;
    return r;
  });
}

export function driftJson(plan: Plan): string {
  const hosts = driftReport(plan);
  return (
    JSON.stringify(
      { format_version: DRIFT_FORMAT_VERSION, drift: hosts.some((h) => h.drifted), hosts, diagnostics: diagnosticsJson(plan.diagnostics) },
      null,
      2,
    ) + '\n'
  );
}

export function renderDriftHuman(io: Io, plan: Plan): void {
  const st = styleFor(io);
  const hosts = driftReport(plan);
  const lines: string[] = [];
  for (const h of hosts) {
    if (!h.reachable) {
      lines.push(`${st.red('?')} enforcer ${h.enforcer}: unreachable, drift unknown`);
      continue;
    }
    if (!h.drifted) continue;
    lines.push(st.bold(`enforcer ${h.enforcer} (${h.backend})`));
    for (const [label, items] of [['missing', h.missing], ['unexpected', h.unexpected], ['changed', h.changed]] as const) {
      for (const d of items) lines.push(`  ${st.yellow(label.padEnd(10))} ${d.object} ${st.dim(`— ${d.detail}`)}`);
    }
  }
  const n = hosts.filter((h) => h.drifted).length;
  lines.push(n === 0 ? 'No drift.' : `Drift on ${plural(n, 'host')}; \`microseg apply\` restores the configured rules.`);
  io.out(lines.join('\n') + '\n');
}
