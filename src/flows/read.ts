/**
 * The I/O edge of `microseg stats`: read every enforcer's owned rules with their counters (the
 * same listing plan reads, through refresh and the Firewall seam), then tally them (stats.ts).
 * Read-only: nothing is written to a host, and the state lock is not taken.
 */
import type { DesiredRuleset } from '../compile/ir';
import { connectionRecord } from '../hosts/connection';
import type { Model } from '../model/types';
import { refresh, DEFAULT_PARALLELISM } from '../plan/refresh';
import type { StateFile } from '../state';
import type { Connector } from '../../providers';
import { liveCounters } from '../../providers/counters';
import { policyLabel, summarize, tallyHost, type HostCounters, type HostStats, type StatsReport } from './stats';

export interface ReadStatsOptions {
  model: Model;
  rulesets: readonly DesiredRuleset[];
  state?: StateFile;
  /** Only these enforcers (NAME or enforcer.NAME). */
  targets?: string[];
  parallelism?: number;
  connect?: Connector;
  /** Counts at each host's last apply (`--since-apply`), by enforcer. */
  baselines?: ReadonlyMap<string, HostCounters>;
}

/** readStats reads every enforcer of the model (or `targets`) and returns the stats document. */
export async function readStats(opts: ReadStatsOptions): Promise<StatsReport> {
  const wanted = new Set((opts.targets ?? []).map((t) => t.replace(/^enforcer\./, '')));
  const enforcers = opts.model.enforcers.filter((e) => wanted.size === 0 || wanted.has(e.name));
  const reads = await refresh(
    enforcers.map((e) => ({ enforcer: e.name, connection: connectionRecord(e.connection), backend: e.backend, stateBackend: opts.state?.hosts[e.name]?.backend })),
    { parallelism: opts.parallelism ?? DEFAULT_PARALLELISM, connect: opts.connect },
  );
  const desired = new Map(opts.rulesets.map((r) => [r.enforcer, r] as const));
  const hosts: HostStats[] = reads.map((r) => {
    const d = desired.get(r.enforcer);
    if (!r.live || !d) return { enforcer: r.enforcer, ...(r.backend ? { backend: r.backend } : {}), error: r.error ?? 'not read', policies: [], defaults: [], missing_rules: 0 };
    const baseline = opts.baselines?.get(r.enforcer);
    return { enforcer: r.enforcer, backend: r.backend, ...tallyHost(d, r.live, liveCounters(r.live), baseline) };
  });
  const labels = opts.model.networkPolicies.map((p) => policyLabel(p.name, p.namespace));
  return summarize(hosts, labels, opts.baselines !== undefined);
}
