/**
 * The collector's lifecycle follows the rules (DESIGN §5: nothing left behind on decommission).
 * After apply, a host whose ruleset has log rules gets its collector started (idempotent), a host
 * applied without log rules gets it stopped (records kept for `flows`), and a decommissioned or
 * destroyed host gets it stopped and its directory deleted. `collectorSteps` decides (pure), from
 * the plan and what apply did; `runCollectorSteps` does it through each host's transport.
 *
 * A collector that cannot start (ulogd2 missing, the host unreachable over its transport) does
 * not fail the apply: the rules are in place and the kernel drops NFLOG records nobody reads. It
 * is a warning saying why and how to start it.
 */
import type { DesiredRuleset } from '../compile/ir';
import { makeDiagnostic, type Diagnostic } from '../diagnostics';
import { connectionRecord, type Connection } from '../hosts/connection';
import { hostFor } from '../hosts/factory';
import type { Host } from '../hosts/types';
import type { Plan } from '../plan/types';
import { removeCollector, startCollector, stopCollector } from './collector';

/** Diagnostic codes (flowsops range MSEG9770–9799). */
export const LifecycleCodes = { notStarted: 'MSEG9770', notStopped: 'MSEG9771' } as const;

/** What the collector of one host should become: running, stopped (records kept), or removed. */
export type CollectorWant = 'run' | 'stop' | 'remove';

export interface CollectorStep {
  enforcer: string;
  want: CollectorWant;
  connection: Connection;
}

export interface CollectorStepResult {
  enforcer: string;
  want: CollectorWant;
  ok: boolean;
  /** Did the step change anything (a collector started, stopped or removed), so it is worth telling? */
  changed?: boolean;
  error?: string;
}

/** hasLogRules: does the ruleset send anything to NFLOG (logs_enabled, observation, audit)? */
export function hasLogRules(desired: DesiredRuleset | undefined): boolean {
  return Boolean(desired?.chains.some((c) => c.rules.some((r) => r.verdict.kind === 'log')));
}

/**
 * collectorSteps: per planned host, what its collector should become. `outcomes` are apply's
 * host outcomes; undefined when the plan had nothing to apply, then only hosts with log rules are
 * looked at (a collector stopped by hand comes back with the next apply). Hosts that failed, were
 * not reached or not started, and agent enforcers, are left alone.
 */
export function collectorSteps(plan: Plan, outcomes?: ReadonlyArray<{ enforcer: string; status: string }>): CollectorStep[] {
  const status = new Map((outcomes ?? []).map((o) => [o.enforcer, o.status] as const));
  const steps: CollectorStep[] = [];
  for (const h of plan.hosts) {
    const connection = plan.connections[h.enforcer];
    // An agent enforcer is never connected to: its agent, not apply, runs what runs on it.
    if (!connection || connection.type === 'agent' || !h.reachable) continue;
    const logs = hasLogRules(plan.desired[h.enforcer]);
    const st = outcomes ? status.get(h.enforcer) : h.action === 'noop' ? 'unchanged' : undefined;
    let want: CollectorWant | undefined;
    if (st === 'removed') want = 'remove';
    else if (st === 'applied') want = logs ? 'run' : 'stop';
    else if (st === 'unchanged' && logs) want = 'run';
    if (want) steps.push({ enforcer: h.enforcer, want, connection });
  }
  return steps;
}

const open = (c: Connection): Host => hostFor(connectionRecord(c));

/** runCollectorSteps carries the steps out, every host at once; a host's failure is its result's error. */
export async function runCollectorSteps(steps: readonly CollectorStep[], openHost: (c: Connection) => Host = open): Promise<CollectorStepResult[]> {
  return Promise.all(
    steps.map(async (s): Promise<CollectorStepResult> => {
      try {
        const host = openHost(s.connection);
        // `changed` lets the note tell what changed, not what every apply asks for: an apply with
        // no log rules on a host where no collector ever ran says nothing about collectors.
        const { changed } = s.want === 'run' ? await startCollector(host, s.enforcer) : s.want === 'stop' ? await stopCollector(host, s.enforcer) : await removeCollector(host, s.enforcer);
        return { enforcer: s.enforcer, want: s.want, ok: true, changed };
      } catch (e) {
        return { enforcer: s.enforcer, want: s.want, ok: false, error: (e as Error).message };
      }
    }),
  );
}

/** collectorDiagnostics: a warning per host whose collector could not be brought where the rules want it. */
export function collectorDiagnostics(results: readonly CollectorStepResult[]): Diagnostic[] {
  return results
    .filter((r) => !r.ok)
    .map((r) =>
      r.want === 'run'
        ? makeDiagnostic(
            'warning',
            LifecycleCodes.notStarted,
            `The flow-log collector did not start on enforcer ${r.enforcer}`,
            `${r.error}. The rules are applied; their log records go to NFLOG group 42 and are dropped by the kernel until a collector reads them. Fix the cause, then run \`microseg collector start DIR --enforcer ${r.enforcer}\`.`,
          )
        : makeDiagnostic(
            'warning',
            LifecycleCodes.notStopped,
            `The flow-log collector could not be ${r.want === 'remove' ? 'removed' : 'stopped'} on enforcer ${r.enforcer}`,
            `${r.error}. Stop ulogd2 there by hand (its pid file and configuration are under ${process.env.MICROSEG_COLLECTOR_DIR || '/var/lib/microseg/flows'}).`,
          ),
    );
}

/** collectorNote: what changed, for people (one line), or undefined when nothing did. */
export function collectorNote(results: readonly CollectorStepResult[]): string | undefined {
  const by = (w: CollectorWant) => results.filter((r) => r.ok && r.changed && r.want === w).map((r) => r.enforcer);
  const parts: string[] = [];
  if (by('run').length) parts.push(`running on ${by('run').join(', ')}`);
  if (by('stop').length) parts.push(`stopped on ${by('stop').join(', ')} (no log rules; records kept)`);
  if (by('remove').length) parts.push(`removed from ${by('remove').join(', ')}`);
  return parts.length ? `Flow-log collector (ulogd2): ${parts.join('; ')}.` : undefined;
}
