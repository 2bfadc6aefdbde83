/**
 * Applying enforcers reached through their agent (`connection { type = "agent" }`): publish each
 * host's AgentDesired (src/control/desired.ts) in the control store, then wait until every agent
 * reports the new etag applied (or, for a decommission, clean), at most `waitTimeoutMs`.
 *
 * State says what was published, never more than an agent reported: right after publishing, a
 * host is recorded `published` with the etag; only the agent's `applied` report for that etag
 * makes it `applied` (with the fingerprint the agent read back). A `failed` report or no report
 * in time fails the run, naming the host and the agent's error; the host stays `published`
 * (pending) or `failed` in state, and the next plan shows it again. A decommission is published,
 * waited for until the agent reports its host clean, and only then are the enforcer's
 * certificates revoked and its record dropped: an agent that never confirmed keeps its
 * certificate (so it can still receive the decommission) and stays `pending-cleanup`.
 */
import { AGENT_DESIRED_FORMAT, type AgentDesired } from '../control/desired';
import { AgentCodes } from '../control/reconcile-codes';
import type { ReconcileControl } from '../control/reconcile-control';
import { enforcerAddress, makeDiagnostic, withAddress, type Diagnostic } from '../diagnostics';
import { reportOf } from '../plan/agents';
import type { HostPlan, Plan } from '../plan/types';
import { ownedFromLive, withHost, withoutHost, type StateFile, type StateHost } from '../state';
import { providerFor } from '../../providers';
import { expectedOf } from '../../providers/common';
import type { HostOutcome } from './apply';

/** How often the control store's reports are read while waiting (one query for all agents). */
const POLL_MS = 500;

export interface AgentApplyContext {
  control: ReconcileControl | undefined;
  lineage(): string;
  serial(): number;
  stateHost(e: string): StateHost | undefined;
  record(update: (s: StateFile) => StateFile): Promise<void>;
  waitTimeoutMs: number;
  diagnostics: Diagnostic[];
  signal?: AbortSignal;
  now?: () => Date;
}

interface Waiting {
  hp: HostPlan;
  etag: string;
  action: 'apply' | 'decommission';
  out: HostOutcome;
}

export async function applyAgentHosts(hosts: readonly HostPlan[], plan: Plan, ctx: AgentApplyContext): Promise<HostOutcome[]> {
  const now = ctx.now ?? (() => new Date());
  const iso = () => now().toISOString();
  const outcomes: HostOutcome[] = [];
  const waiting: Waiting[] = [];
  for (const hp of hosts) {
    const e = hp.enforcer;
    const out: HostOutcome = { enforcer: e, action: hp.action, status: 'unchanged', transactions: [] };
    outcomes.push(out);
    if (!hp.reachable || (hp.blocked_by ?? []).length > 0) {
      out.status = 'failed';
      out.error = `enforcer "${e}" was not published: ${(hp.blocked_by ?? []).map((b) => b.summary).join('; ') || 'the control store could not be read at plan time'}`;
      continue;
    }
    if (hp.action === 'noop') continue;
    if (!ctx.control) {
      out.status = 'failed';
      out.error = 'no control store (agent enforcers need the pg backend)';
      continue;
    }
    if (ctx.signal?.aborted) {
      out.status = 'not-started';
      out.error = 'interrupted before it was published';
      continue;
    }
    const decommission = hp.action === 'delete';
    const desired = plan.desired[e];
    if (!decommission && !desired) {
      out.status = 'failed';
      out.error = `the plan has no desired ruleset for enforcer "${e}"`;
      continue;
    }
    const at = iso();
    const doc: AgentDesired = {
      format: AGENT_DESIRED_FORMAT,
      enforcer: e,
      workspace: ctx.control.workspace,
      lineage: ctx.lineage(),
      serial: ctx.serial(),
      action: decommission ? 'decommission' : 'apply',
      backend: hp.agent?.configured_backend ?? hp.backend,
      ...(decommission ? {} : { ruleset: desired }),
      published_at: at,
    };
    let etag: string;
    try {
      etag = await ctx.control.publish(e, doc, now());
    } catch (err) {
      out.status = 'failed';
      out.error = `publishing failed: ${(err as Error).message}`;
      ctx.diagnostics.push(withAddress(makeDiagnostic('error', AgentCodes.publishFailed, `Publishing enforcer "${e}" failed`, `${(err as Error).message}\nNothing changed for its agent; the next apply retries.`), enforcerAddress(e)));
      continue;
    }
    const prev = ctx.stateHost(e);
    const published = { etag, action: doc.action, published_at: at };
    await ctx.record((s) =>
      withHost(s, e, {
        backend: prev?.backend ?? hp.backend,
        connection: { type: 'agent' },
        owned: prev?.owned ?? { sets: [], chains: [], hooks: [] },
        fingerprint: prev?.fingerprint ?? '',
        status: decommission ? 'pending-cleanup' : 'published',
        published,
        updated_at: at,
      }),
    );
    waiting.push({ hp, etag, action: doc.action, out });
  }

  const deadline = Date.now() + ctx.waitTimeoutMs;
  const open = new Set(waiting);
  while (open.size > 0) {
    let reports: Map<string, { report: ReturnType<typeof reportOf>; seenAt: string }>;
    try {
      reports = new Map((await ctx.control!.reports()).map((r) => [r.enforcer, { report: reportOf(r.report), seenAt: r.seenAt }] as const));
    } catch {
      reports = new Map(); // a lost query is retried on the next poll, within the same deadline
    }
    for (const w of [...open]) {
      const r = reports.get(w.hp.enforcer)?.report;
      if (!r || r.etag !== w.etag) continue;
      if (w.action === 'apply' && r.status === 'applied') {
        open.delete(w);
        await settleApplied(w, plan, ctx, String(r.live_fingerprint ?? ''), iso());
      } else if (w.action === 'decommission' && r.status === 'clean') {
        open.delete(w);
        await settleClean(w, ctx, now);
      } else if (r.status === 'failed') {
        open.delete(w);
        const why = r.error ? `${r.error.code}: ${r.error.message}` : 'the agent gave no error';
        w.out.status = 'failed';
        w.out.error = `the agent reported failure: ${why}`;
        ctx.diagnostics.push(
          withAddress(
            makeDiagnostic(
              'error',
              AgentCodes.agentFailed,
              `The agent of enforcer "${w.hp.enforcer}" could not ${w.action === 'apply' ? 'apply' : 'clean up'} the published ruleset`,
              `${why}\nIt keeps its previous rules (fail static); state records what was published. The next apply publishes again.`,
            ),
            enforcerAddress(w.hp.enforcer),
          ),
        );
        const prev = ctx.stateHost(w.hp.enforcer);
        if (prev) await ctx.record((s) => withHost(s, w.hp.enforcer, { ...prev, status: w.action === 'apply' ? 'failed' : 'pending-cleanup', last_error: w.out.error, updated_at: iso() }));
      }
    }
    if (open.size === 0) break;
    if (Date.now() >= deadline || ctx.signal?.aborted) break;
    await new Promise((r) => setTimeout(r, Math.min(POLL_MS, Math.max(0, deadline - Date.now()))));
  }
  for (const w of open) {
    const e = w.hp.enforcer;
    const seen = (await ctx.control!.reports().catch(() => [])).find((r) => r.enforcer === e);
    const last = seen ? reportOf(seen.report) : undefined;
    const lastSaid = last
      ? `Its last report (at ${seen!.seenAt}) is about ${last.etag === w.etag ? 'this publication' : `etag ${last.etag || '(none)'}`}, status ${last.status}${last.error ? `: ${last.error.code} ${last.error.message}` : ''}.`
      : 'It has never reported.';
    const waited = ctx.signal?.aborted ? 'the run was interrupted while waiting' : `no report within --wait-timeout (${Math.round(ctx.waitTimeoutMs / 1000)} s)`;
    w.out.status = w.action === 'apply' ? 'failed' : 'pending-cleanup';
    w.out.error = `${w.action === 'apply' ? 'not reported applied' : 'not reported clean'}: ${waited}. ${lastSaid}`;
    ctx.diagnostics.push(
      withAddress(
        makeDiagnostic(
          'error',
          w.action === 'apply' ? AgentCodes.agentTimedOut : AgentCodes.agentCleanupPending,
          w.action === 'apply' ? `Enforcer "${e}" did not report the published ruleset applied` : `Enforcer "${e}" did not report its decommission clean`,
          `${waited}. ${lastSaid}\n` +
            (w.action === 'apply'
              ? `State records it as published (etag ${w.etag}), not applied; the agent may still converge, and the next plan shows what it reports.`
              : `It stays in state as pending cleanup with its certificate valid, so its agent can still receive the decommission; the next apply waits again.`),
        ),
        enforcerAddress(e),
      ),
    );
    const prev = ctx.stateHost(e);
    if (prev) await ctx.record((s) => withHost(s, e, { ...prev, last_error: w.out.error, updated_at: iso() }));
  }
  return outcomes;
}

async function settleApplied(w: Waiting, plan: Plan, ctx: AgentApplyContext, fingerprint: string, at: string): Promise<void> {
  const e = w.hp.enforcer;
  const prev = ctx.stateHost(e);
  // What the agent verified is the provider's projection of the published ruleset (it verifies
  // with the same providers as apply), so that is what state claims it owns.
  const owned = ownedFromLive(expectedOf(providerFor(w.hp.backend), plan.desired[e]));
  await ctx.record((s) =>
    withHost(s, e, {
      backend: w.hp.backend,
      connection: { type: 'agent' },
      owned,
      fingerprint,
      status: 'applied',
      ...(prev?.published ? { published: prev.published } : {}),
      updated_at: at,
    }),
  );
  w.out.status = 'applied';
  w.out.fingerprint = fingerprint;
}

async function settleClean(w: Waiting, ctx: AgentApplyContext, now: () => Date): Promise<void> {
  const e = w.hp.enforcer;
  try {
    await ctx.control!.revokeEnforcer(e, 'decommissioned', now());
  } catch (err) {
    w.out.status = 'failed';
    w.out.error = `the agent reported clean, but revoking its certificate failed: ${(err as Error).message}`;
    ctx.diagnostics.push(withAddress(makeDiagnostic('error', AgentCodes.publishFailed, `Revoking the certificate of enforcer "${e}" failed`, `${w.out.error}\nIt stays in state; the next apply retries.`), enforcerAddress(e)));
    return;
  }
  await ctx.record((s) => withoutHost(s, e));
  w.out.status = 'removed';
}
