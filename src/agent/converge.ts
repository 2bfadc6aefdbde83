/**
 * converge: make this host hold what a validated AgentDesired says, with the reconciler's own
 * code (DESIGN §8 agents). The agent is `plan` + `apply` for one enforcer whose desired ruleset
 * came from the control plane instead of a compile:
 *
 *   refresh (backend detection or the published backend, one read of the kernel)
 *   → hostDiff (desired vs live; drift = live vs the agent's own state record)
 *   → planTransactions (the same delta/full choice) → probe + missingCapabilities
 *   → makePlan → applyPlan (journal, one round trip, read-back, verify, state record)
 *
 * The agent keeps a state of its own (a LocalStateStore in its state directory) holding this one
 * host: what it last verified there. That is what drift is measured against, what a killed agent's
 * journal is checked against, and what decommission cleans up, exactly as for `apply`.
 *
 * Core code: returns data; the loop decides what to log and report.
 */
import type { DesiredRuleset } from '../compile/ir';
import type { AgentDesired } from '../control/desired';
import type { Diagnostic } from '../diagnostics';
import type { Connection } from '../hosts/connection';
import { applyPlan } from '../apply/apply';
import { hostDiff, makePlan, missingCapabilities, ownsAnything, planTransactions, refresh, type HostPlan } from '../plan';
import type { LocalStateStore } from '../state';
import { providerFor, type Connector } from '../../providers';
import { expectedOf } from '../../providers/common';
import type { BackendName, LiveRuleset } from '../../providers/types';
import { AgentCodes } from './codes';

export interface ConvergeOptions {
  /** How the agent reaches its own kernel: `local` in production, a namespace in tests. */
  connection: Connection;
  /** The agent's own state (one host). */
  store: LocalStateStore;
  connect?: Connector;
  /** How long to wait for the state lock (another agent process on the same state dir). */
  lockTimeoutMs?: number;
}

export interface ConvergeResult {
  /** `applied`: the host holds the ruleset; `clean`: it holds nothing of microseg's; `failed`: see error. */
  status: 'applied' | 'clean' | 'failed';
  backend?: BackendName;
  /** The fingerprint of what the host holds after this run ('' when it could not be read). */
  live_fingerprint: string;
  /** Drift found against the agent's record (as plan describes it), and orphans it removed. */
  drift: Array<{ object: string; kind: string }>;
  /** Whether transactions were sent (false: the host already matched). */
  changed: boolean;
  /** Whether the drift listed was repaired (the host was brought back to the desired ruleset). */
  repaired: boolean;
  transactions: number;
  error?: { code: string; message: string };
  /** Everything plan/apply said (warnings included), for the log. */
  diagnostics: Diagnostic[];
}

/** converge plans and applies `doc` on the agent's host. Never throws for the host's sake. */
export async function converge(doc: AgentDesired, opts: ConvergeOptions): Promise<ConvergeResult> {
  const store = opts.store;
  const lock = await store.acquireLock({ operation: 'agent converge', timeoutMs: opts.lockTimeoutMs ?? 60_000 });
  try {
    return await convergeLocked(doc, opts);
  } finally {
    await store.unlock(lock);
  }
}

async function convergeLocked(doc: AgentDesired, opts: ConvergeOptions): Promise<ConvergeResult> {
  const e = doc.enforcer;
  const state = await opts.store.load();
  const stateHost = state?.hosts[e];
  const want: DesiredRuleset | undefined = doc.action === 'apply' ? doc.ruleset : undefined;
  const fail = (code: string, message: string, extra: Partial<ConvergeResult> = {}): ConvergeResult => ({
    status: 'failed',
    live_fingerprint: '',
    drift: [],
    changed: false,
    repaired: false,
    transactions: 0,
    diagnostics: [],
    ...extra,
    error: { code, message },
  });

  const [read] = await refresh([{ enforcer: e, connection: opts.connection, backend: doc.backend, stateBackend: stateHost?.backend }], { connect: opts.connect, probe: false });
  if (!read.reachable || !read.live || !read.backend || !read.firewall) {
    return fail(AgentCodes.applyFailed, `cannot read this host's ${read.backend ?? 'firewall'} ruleset: ${read.error ?? 'unknown error'}`, { backend: read.backend });
  }
  const provider = providerFor(read.backend);
  let expected: LiveRuleset | undefined;
  if (want) {
    try {
      expected = expectedOf(provider, want);
    } catch (err) {
      return fail(AgentCodes.hostBlocked, `the ruleset cannot be written for ${read.backend}: ${(err as Error).message}`, { backend: read.backend, live_fingerprint: read.live.fingerprint });
    }
  }
  const { plan: hp, diff } = hostDiff(want, read.live, stateHost, { enforcer: e, expected });
  const drift = [...hp.drift.map((d) => ({ object: d.object, kind: d.kind })), ...hp.orphans.map((o) => ({ object: `${o.kind} ${o.name}`, kind: 'orphan' }))];
  const base = { backend: read.backend, live_fingerprint: read.live.fingerprint, drift };

  if (hp.action !== 'noop') {
    try {
      Object.assign(hp, planTransactions(provider, want, diff, e));
    } catch (err) {
      return fail(AgentCodes.hostBlocked, `the ruleset cannot be written for ${read.backend}: ${(err as Error).message}`, base);
    }
  }
  if (read.previous) {
    // A backend switch: the old backend is cleaned up in the same apply, as planModel does.
    hp.previous_fingerprint = read.previous.live.fingerprint;
    hp.transactions = [...(hp.transactions ?? []), ...providerFor(read.previous.backend).cleanup(read.previous.live, e)];
  }
  if (want && hp.action !== 'noop') {
    const caps = await read.firewall.probe().catch((err: Error) => err);
    if (caps instanceof Error) return fail(AgentCodes.applyFailed, `probing this host failed: ${caps.message}`, base);
    const missing = missingCapabilities(want, caps);
    if (missing.length > 0) {
      return fail(AgentCodes.hostBlocked, `this host lacks what its rules need: ${missing.join(', ')} (backend ${read.backend}); nothing was changed`, base);
    }
  }
  if (hp.action === 'noop') return settledResult(doc, hp, read.live, base);

  const plan = makePlan({ state, resources: [], desired: want ? { [e]: want } : {}, hosts: [hp], connections: { [e]: opts.connection } });
  const result = await applyPlan(plan, { store: opts.store, lockHeld: true, reads: new Map([[e, read]]), connect: opts.connect });
  const out = result.hosts[0];
  const transactions = out?.transactions.length ?? 0;
  if (!out || out.status === 'failed' || out.status === 'not-started' || out.status === 'pending-cleanup') {
    const why = out?.error ?? result.diagnostics.map((d) => d.summary).join('; ');
    return fail(AgentCodes.applyFailed, why || 'apply failed', { ...base, transactions, changed: transactions > 0, diagnostics: result.diagnostics });
  }
  return {
    status: doc.action === 'decommission' ? 'clean' : 'applied',
    backend: read.backend,
    live_fingerprint: out.status === 'removed' ? '' : (out.fingerprint ?? read.live.fingerprint),
    drift,
    changed: transactions > 0,
    repaired: drift.length > 0,
    transactions,
    diagnostics: [...plan.diagnostics, ...result.diagnostics],
  };
}

/** settledResult: the host already holds what `doc` asks (a no-op plan). */
function settledResult(doc: AgentDesired, hp: HostPlan, live: LiveRuleset, base: { backend: BackendName; live_fingerprint: string; drift: ConvergeResult['drift'] }): ConvergeResult {
  const clean = doc.action === 'decommission' && !ownsAnything(live);
  return {
    ...base,
    status: doc.action === 'decommission' ? (clean ? 'clean' : 'failed') : 'applied',
    changed: false,
    repaired: false,
    transactions: 0,
    diagnostics: [],
    ...(doc.action === 'decommission' && !clean ? { error: { code: AgentCodes.applyFailed, message: `decommission planned nothing but the host still holds objects (${hp.enforcer})` } } : {}),
  };
}
