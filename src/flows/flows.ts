/**
 * The I/O edge of `microseg flows` and `microseg collector`: each enforcer's collector through its
 * own transport (src/hosts), its records resolved against the configuration (records.ts), and
 * what was lost on the way counted, never dropped silently:
 * - `rate_limited`: connections a log rule's rate limit kept out of the log, from the counters of
 *   the log rule and of its verdict twin (the rule right after it with the same match), read in
 *   one listing with the rules (providers/counters.ts). Observation rules have no twin, so their
 *   suppressed records are not counted (README says so);
 * - `collector_lost`: records the kernel numbered but the collector never wrote (gaps in
 *   `oob.seq.local`), e.g. its socket buffer overflowed;
 * - `collector_errors`: the collector's own error lines.
 */
import type { DesiredRuleset } from '../compile/ir';
import { canonicalJson } from '../canonical-json';
import { connectionRecord } from '../hosts/connection';
import { hostFor } from '../hosts/factory';
import type { Host } from '../hosts/types';
import type { Enforcer, Model } from '../model/types';
import { refresh } from '../plan/refresh';
import type { Connector } from '../../providers';
import { liveCounters } from '../../providers/counters';
import { collectorStatus, readRecords, startCollector, stopCollector, type CollectorStatus } from './collector';
import { flowIndex, lostBySequence, parseRecord, type FlowRecord } from './records';
import type { HostCounters } from './stats';

export interface HostFlows {
  enforcer: string;
  error?: string;
  collector_running?: boolean;
  records: FlowRecord[];
  /** Undefined when the host's counters could not be read. */
  rate_limited?: number;
  collector_lost: number;
  collector_errors: string[];
  /** Byte offset after the records read (for --follow). */
  next: number;
}

export interface FlowsReport {
  format_version: 1;
  hosts: HostFlows[];
  /** Every host's records, oldest first. */
  records: FlowRecord[];
}

export interface FlowsOptions {
  model: Model;
  rulesets: readonly DesiredRuleset[];
  enforcers?: string[];
  /** Opens a host's transport (default hostFor). */
  openHost?: (e: Enforcer) => Host;
  /** Opens firewalls for the counters (default the real ones). */
  connect?: Connector;
  /** Byte offsets per enforcer to read from (--follow). */
  offsets?: ReadonlyMap<string, number>;
  /** Read the counters too (default true; --follow polls records only). */
  counters?: boolean;
}

/** selectEnforcers: the model's enforcers, or those named (NAME or enforcer.NAME); unknown names are returned apart. */
export function selectEnforcers(model: Model, names: readonly string[] | undefined): { enforcers: Enforcer[]; unknown: string[] } {
  const wanted = (names ?? []).map((n) => n.replace(/^enforcer\./, ''));
  const known = new Set(model.enforcers.map((e) => e.name));
  return {
    enforcers: model.enforcers.filter((e) => wanted.length === 0 || wanted.includes(e.name)),
    unknown: wanted.filter((n) => !known.has(n)),
  };
}

const open = (e: Enforcer): Host => hostFor(connectionRecord(e.connection));

/** rateLimited counts what one host's log rules' limits kept out of the log (module comment). */
export function rateLimited(desired: DesiredRuleset, counters: HostCounters): number {
  let n = 0;
  for (const c of desired.chains) {
    const counts = counters.get(c.name);
    if (!counts) continue;
    c.rules.forEach((r, i) => {
      if (r.verdict.kind !== 'log' || !r.verdict.limit) return;
      // The verdict rules right after the log rule with its match. A reject of every protocol is
      // two rules (compile's TCP reset twin, `{...match, protocol: 'tcp'}`, then the match itself),
      // and a packet crosses exactly one of them, so their counts add up. (Pairing with the next
      // rule alone never matched the namespace default's reject, whose twin comes first.)
      const own = canonicalJson(r.match);
      const tcpTwin = r.match.protocol === undefined ? canonicalJson({ ...r.match, protocol: 'tcp' }) : undefined;
      let decided: number | undefined;
      for (let j = i + 1; j < c.rules.length; j++) {
        const v = c.rules[j];
        if (v.verdict.kind === 'log') break;
        const m = canonicalJson(v.match);
        if (m !== own && m !== tcpTwin) break;
        const p = counts.get(v.id)?.packets;
        if (p === undefined) {
          decided = undefined;
          break;
        }
        decided = (decided ?? 0) + p;
        if (m === own) break;
      }
      const logged = counts.get(r.id)?.packets;
      if (logged !== undefined && decided !== undefined && decided > logged) n += decided - logged;
    });
  }
  return n;
}

/** readFlows reads every selected enforcer's records (and its counters, for the rate-limited count). */
export async function readFlows(opts: FlowsOptions): Promise<FlowsReport> {
  const ix = flowIndex(opts.model);
  const { enforcers } = selectEnforcers(opts.model, opts.enforcers);
  const openHost = opts.openHost ?? open;
  const desired = new Map(opts.rulesets.map((r) => [r.enforcer, r] as const));
  const counters = new Map<string, HostCounters>();
  if (opts.counters !== false) {
    const reads = await refresh(enforcers.map((e) => ({ enforcer: e.name, connection: connectionRecord(e.connection), backend: e.backend })), { connect: opts.connect });
    for (const r of reads) if (r.live) counters.set(r.enforcer, liveCounters(r.live));
  }
  const hosts = await Promise.all(
    enforcers.map(async (e): Promise<HostFlows> => {
      const out: HostFlows = { enforcer: e.name, records: [], collector_lost: 0, collector_errors: [], next: opts.offsets?.get(e.name) ?? 0 };
      try {
        const host = openHost(e);
        out.collector_running = (await collectorStatus(host, e.name)).running;
        const got = await readRecords(host, e.name, out.next);
        out.next = got.next;
        out.collector_errors = got.collectorErrors;
        out.records = got.lines.map((l) => parseRecord(ix, e.name, l)).filter((r): r is FlowRecord => r !== undefined);
        out.collector_lost = lostBySequence(out.records.flatMap((r) => (r.seq !== undefined ? [r.seq] : [])));
        const d = desired.get(e.name);
        const c = counters.get(e.name);
        if (d && c) out.rate_limited = rateLimited(d, c);
      } catch (err) {
        out.error = (err as Error).message;
      }
      return out;
    }),
  );
  const records = hosts.flatMap((h) => h.records).sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
  return { format_version: 1, hosts, records };
}

/** collectorAction starts, stops or checks the collector on each selected enforcer. */
export async function collectorAction(
  model: Model,
  action: 'start' | 'stop' | 'status',
  names: readonly string[] | undefined,
  openHost: (e: Enforcer) => Host = open,
): Promise<Array<{ enforcer: string; status?: CollectorStatus; error?: string }>> {
  const { enforcers } = selectEnforcers(model, names);
  return Promise.all(
    enforcers.map(async (e) => {
      try {
        const host = openHost(e);
        const status = action === 'start' ? await startCollector(host, e.name) : action === 'stop' ? await stopCollector(host, e.name) : await collectorStatus(host, e.name);
        return { enforcer: e.name, status };
      } catch (err) {
        return { enforcer: e.name, error: (err as Error).message };
      }
    }),
  );
}
