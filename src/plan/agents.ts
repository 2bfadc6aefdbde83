/**
 * Planning enforcers reached through their agent (`connection { type = "agent" }`). Plan never
 * contacts such a host: the agent on it pulls what apply publishes and reports what it applied.
 * What plan knows of the host is the control store's: the agent's last report (live fingerprint,
 * drift it found, whether it repaired it, last seen, status) and the document last published.
 *
 * What would change is the one ObjectDiff (object-diff.ts), computed between the new desired
 * ruleset and the last published one, both projected for the host's backend by the provider's
 * own `expected` (the same projection apply verifies against). The agent then plans the published
 * ruleset against its kernel with the same providers, so this diff is what the agent will be
 * asked to change; drift on the host is what the agent reported, not a guess.
 */
import { canonicalJson } from '../canonical-json';
import type { DesiredRuleset } from '../compile/ir';
import type { AgentDesired, AgentReport } from '../control/desired';
import { AgentCodes } from '../control/reconcile-codes';
import type { ReconcileControl } from '../control/reconcile-control';
import { enforcerAddress, makeDiagnostic, withAddress, type Diagnostic } from '../diagnostics';
import type { Backend, Model } from '../model/types';
import type { StateFile, StateHost } from '../state/types';
import { providerFor } from '../../providers';
import { canonicalLive, expectedOf } from '../../providers/common';
import type { BackendName, LiveRuleset } from '../../providers/types';
import { hostDiff } from './diff-host';
import type { AgentHostView, DriftItem, DriftKind, HostPlan } from './types';

/** AgentTarget is one agent enforcer to plan: configured (with its backend) or only in state (decommission). */
export interface AgentTarget {
  enforcer: string;
  backend: Backend;
}

const DRIFT_KINDS = new Set<string>([
  'rule-missing',
  'rule-unexpected',
  'rules-reordered',
  'rule-changed',
  'chain-flushed',
  'chain-missing',
  'hook-missing',
  'hook-not-first',
  'hook-duplicated',
  'set-missing',
  'set-member-changed',
  'foreign-rule-in-owned-chain',
]);

/** publishedDocument reads a published document back as the AgentDesired apply wrote (undefined if it is not one). */
export function publishedDocument(desired: unknown): AgentDesired | undefined {
  if (typeof desired !== 'object' || desired === null) return undefined;
  const d = desired as Partial<AgentDesired>;
  return typeof d.enforcer === 'string' && (d.action === 'apply' || d.action === 'decommission') ? (d as AgentDesired) : undefined;
}

/** reportOf reads a stored report (whatever the agent posted plus the server's cert fields) as an AgentReport, defensively. */
export function reportOf(raw: Record<string, unknown>): Partial<AgentReport> {
  return raw as Partial<AgentReport>;
}

function emptyLive(backend: BackendName): LiveRuleset {
  return canonicalLive({ backend, sets: [], chains: [], hooks: [] });
}

/**
 * planAgentHosts plans every agent target from the control store. `control` undefined (local
 * backend) makes each configured agent enforcer an error at its block: nothing could reach it.
 */
export async function planAgentHosts(
  targets: readonly AgentTarget[],
  desired: { readonly [e: string]: DesiredRuleset },
  state: StateFile | undefined,
  model: Model,
  control: ReconcileControl | undefined,
): Promise<{ hosts: HostPlan[]; diagnostics: Diagnostic[] }> {
  const diagnostics: Diagnostic[] = [];
  const hosts: HostPlan[] = [];
  if (targets.length === 0) return { hosts, diagnostics };
  const pos = new Map(model.enforcers.map((e) => [e.name, e.pos] as const));
  let reports = new Map<string, { report: Partial<AgentReport>; seenAt: string }>();
  let unreadable: string | undefined;
  if (control) {
    try {
      reports = new Map((await control.reports()).map((r) => [r.enforcer, { report: reportOf(r.report), seenAt: r.seenAt }] as const));
    } catch (e) {
      unreadable = (e as Error).message;
    }
  } else unreadable = 'this configuration uses the local state backend, which has no control plane';

  for (const t of targets) {
    const e = t.enforcer;
    const want = desired[e];
    const stateHost = state?.hosts[e];
    if (unreadable !== undefined) {
      const noControl = !control;
      diagnostics.push(
        withAddress(
          makeDiagnostic(
            want ? 'error' : 'warning',
            noControl ? AgentCodes.agentNeedsPg : AgentCodes.controlUnreadable,
            want ? `Enforcer "${e}" is reached through its agent, but ${noControl ? 'there is no control plane' : 'the control store cannot be read'}` : `Enforcer "${e}" was removed, but its agent cannot be told to clean up`,
            noControl
              ? 'An agent enforcer pulls its rules from `microseg server`, which keeps them in the PostgreSQL database of the pg state backend. ' +
                  'Configure microseg { backend "pg" { } } (and PG_CONN_STR), or reach the host over ssh, netns or local. Nothing was changed.'
              : `${unreadable}. Nothing was published.`,
            want ? pos.get(e) : undefined,
          ),
          enforcerAddress(e),
        ),
      );
      hosts.push(blank(e, stateHost?.backend ?? concrete(t.backend) ?? 'nftables', want ? 'noop' : stateHost ? 'cleanup-pending' : 'noop', false));
      continue;
    }
    let published: AgentDesired | undefined;
    let publishedEtag = '';
    let publishedAt: string | undefined;
    try {
      const rs = await control!.ruleset(e);
      if (rs) {
        published = publishedDocument(rs.desired);
        publishedEtag = rs.etag;
        publishedAt = rs.publishedAt;
      }
    } catch (err) {
      diagnostics.push(withAddress(makeDiagnostic('error', AgentCodes.controlUnreadable, `Cannot read what was published for enforcer "${e}"`, (err as Error).message), enforcerAddress(e)));
      hosts.push(blank(e, stateHost?.backend ?? 'nftables', 'noop', false));
      continue;
    }
    const seen = reports.get(e);
    const report = seen?.report;
    const backend: BackendName = concrete(t.backend) ?? report?.backend ?? stateHost?.backend ?? (published?.backend !== 'auto' ? published?.backend : undefined) ?? 'nftables';
    const provider = providerFor(backend);
    const base = published?.action === 'apply' && published.ruleset ? expectedOf(provider, published.ruleset) : emptyLive(backend);
    // State's claims are not passed: "live" here is what was published, not a kernel read, so
    // drift between it and state would be invented; drift is what the agent reported.
    const { plan } = hostDiff(want, base, undefined, { enforcer: e });
    const converged =
      report !== undefined &&
      publishedEtag !== '' &&
      report.etag === publishedEtag &&
      (published?.action === 'decommission' ? report.status === 'clean' : report.status === 'applied');
    const view: AgentHostView = { configured_backend: t.backend, published_etag: publishedEtag, converged };
    if (publishedAt) view.published_at = publishedAt;
    if (published) view.published_action = published.action;
    if (report && seen) {
      view.report = {
        etag: String(report.etag ?? ''),
        status: String(report.status ?? 'unknown'),
        live_fingerprint: String(report.live_fingerprint ?? ''),
        drift: Array.isArray(report.drift) ? report.drift.map((d) => ({ object: String(d.object), kind: String(d.kind) })) : [],
        repaired: report.repaired === true,
        seen_at: seen.seenAt,
      };
      if (report.error) view.report.error = { code: String(report.error.code), message: String(report.error.message) };
      if (report.agent_version) view.report.agent_version = String(report.agent_version);
      if (report.backend) view.report.backend = report.backend;
    }
    const drift: DriftItem[] = (view.report?.drift ?? []).map((d) => ({
      kind: (DRIFT_KINDS.has(d.kind) ? d.kind : 'rule-changed') as DriftKind,
      object: d.object,
      detail: `reported by the agent at ${view.report!.seen_at}${view.report!.repaired ? '; it repaired it' : '; not repaired'}${DRIFT_KINDS.has(d.kind) ? '' : ` (agent's kind: ${d.kind})`}`,
    }));
    let action: HostPlan['action'];
    if (!want) action = stateHost || publishedEtag ? 'delete' : 'noop';
    else if (!stateHost) action = 'create';
    else {
      const same =
        published?.action === 'apply' && published.ruleset !== undefined && canonicalJson(published.ruleset) === canonicalJson(want) && published.backend === t.backend;
      // Re-published when the rules changed, or when the agent has not applied what was published
      // (failed, or a drift it did not repair): a new publication makes it try again.
      const unrepaired = drift.length > 0 && view.report?.repaired !== true;
      action = same && converged && !unrepaired ? 'noop' : 'update';
    }
    const hp: HostPlan = { ...plan, enforcer: e, backend, action, reachable: true, live_fingerprint: view.report?.live_fingerprint ?? '', drift, orphans: [], agent: view };
    delete hp.previous_backend;
    hosts.push(hp);
    if (report?.status === 'failed' && report.etag === publishedEtag) {
      diagnostics.push(
        withAddress(
          makeDiagnostic(
            'warning',
            AgentCodes.agentReportsProblem,
            `The agent of enforcer "${e}" reported that it could not apply what was last published`,
            `${report.error ? `${report.error.code}: ${report.error.message}` : 'No error was given.'} (reported at ${seen!.seenAt}). Apply publishes again.`,
          ),
          enforcerAddress(e),
        ),
      );
    } else if (!report && want && stateHost) {
      diagnostics.push(
        withAddress(
          makeDiagnostic('warning', AgentCodes.agentNeverReported, `The agent of enforcer "${e}" has never reported`, 'What its host holds is unknown: the agent has not registered, or cannot reach the control plane.'),
          enforcerAddress(e),
        ),
      );
    }
  }
  return { hosts, diagnostics };
}

function concrete(b: Backend): BackendName | undefined {
  return b === 'auto' ? undefined : b;
}

function blank(enforcer: string, backend: BackendName, action: HostPlan['action'], reachable: boolean): HostPlan {
  return { enforcer, backend, action, reachable, live_fingerprint: '', sets: [], chains: [], hooks: [], drift: [], orphans: [] };
}

/** isAgentHost: is this planned host reached through its agent? */
export function isAgentHost(connection: { type: string } | undefined): boolean {
  return connection?.type === 'agent';
}

export type { StateHost };
