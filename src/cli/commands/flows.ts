/**
 * flows: the connections the log rules recorded (policy and namespace-default logs, observation
 * and audit would-be verdicts), resolved to identities and policies; collector: start, stop or
 * check the per-host NFLOG collector (ulogd2) they come from. Read-only on the firewall.
 * Exit 0, or 1 when the configuration is invalid or a host could not be read.
 */
import { collectorAction, readFlows, selectEnforcers, type FlowsReport } from '../../flows/flows';
import { enforcerAddress, makeDiagnostic, withAddress } from '../../diagnostics';
import type { CliDeps, Io } from '../io';
import { flowsFollowView, renderCollectorHuman, renderFlowsHuman } from '../views/flows';
import { viewFor } from '../views/view';
import { loadCompiled } from './trace';
import type { VarOptions } from './common';

export interface FlowsFlags extends VarOptions {
  enforcer?: string[];
  follow?: boolean;
  json?: boolean;
  interval?: string;
}

/** FLOWS_CODES: flows helper range MSEG9700–9799. */
export const FlowsCodes = { unknownEnforcer: 'MSEG9700', hostFailed: 'MSEG9701', badFlag: 'MSEG9702' } as const;

export async function flowsCommand(io: Io, dir: string, flags: FlowsFlags, deps: CliDeps = {}, stop?: AbortSignal): Promise<number> {
  const view = viewFor(io, flags.json);
  const loaded = await loadCompiled(view, dir, flags);
  if (!loaded) return 1;
  const { unknown } = selectEnforcers(loaded.model, flags.enforcer);
  if (unknown.length) return view.fail(unknown.map((n) => makeDiagnostic('error', FlowsCodes.unknownEnforcer, `No enforcer "${n}" in the configuration`, 'Name an enforcer block of this configuration.')));
  const base = { model: loaded.model, rulesets: loaded.compiled.rulesets, enforcers: flags.enforcer, connect: deps.connect };
  const first = await readFlows(base);
  const failed = first.hosts.filter((h) => h.error);
  if (!flags.follow) {
    view.result((out) => renderFlowsHuman(out, first), () => ({ ...first }));
    return failed.length ? 1 : 0;
  }
  // --follow: print what is there, then poll each host from where it left off (records only:
  // one small `tail -c` per host and interval) until interrupted.
  const intervalMs = Number(flags.interval ?? 1000);
  const follow = flowsFollowView(io, flags.json);
  // A host that cannot be read is said once when it fails and is tried again every interval.
  const down = new Set<string>();
  const report = (r: FlowsReport) => {
    follow.records(r.records);
    const fresh = r.hosts.filter((h) => h.error && !down.has(h.enforcer));
    for (const h of r.hosts) if (h.error) down.add(h.enforcer); else down.delete(h.enforcer);
    if (fresh.length) follow.diagnostics(fresh.map((h) => withAddress(makeDiagnostic('warning', FlowsCodes.hostFailed, `Cannot read the flows of enforcer ${h.enforcer}`, `${h.error}\nIt is tried again every ${intervalMs} ms.`), enforcerAddress(h.enforcer))));
  };
  report(first);
  const offsets = new Map(first.hosts.map((h) => [h.enforcer, h.next] as const));
  const signal = stop ?? abortOnSignals();
  while (!signal.aborted) {
    await sleep(intervalMs, signal);
    if (signal.aborted) break;
    const next = await readFlows({ ...base, offsets, counters: false });
    for (const h of next.hosts) if (!h.error) offsets.set(h.enforcer, h.next);
    report(next);
  }
  return 0;
}

/** sleep waits `ms`, or less when `signal` aborts (so an interrupt ends --follow at once). */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((res) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      res();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * abortOnSignals: SIGINT (Ctrl-C) and SIGTERM (a supervisor, `timeout`) end --follow cleanly,
 * exit 0, after the records already read are printed. --follow holds no lock and changes
 * nothing, so there is nothing to undo.
 */
function abortOnSignals(): AbortSignal {
  const c = new AbortController();
  const stop = () => {
    process.removeListener('SIGINT', stop);
    process.removeListener('SIGTERM', stop);
    c.abort();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  return c.signal;
}

export async function collectorCommand(io: Io, action: 'start' | 'stop' | 'status', dir: string, flags: FlowsFlags): Promise<number> {
  const view = viewFor(io, flags.json);
  const loaded = await loadCompiled(view, dir, flags);
  if (!loaded) return 1;
  const { unknown } = selectEnforcers(loaded.model, flags.enforcer);
  if (unknown.length) return view.fail(unknown.map((n) => makeDiagnostic('error', FlowsCodes.unknownEnforcer, `No enforcer "${n}" in the configuration`, 'Name an enforcer block of this configuration.')));
  const rows = await collectorAction(loaded.model, action, flags.enforcer);
  view.result((out) => renderCollectorHuman(out, rows), () => ({ format_version: 1, hosts: rows }));
  return rows.some((r) => r.error) ? 1 : 0;
}
