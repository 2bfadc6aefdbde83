/** Assembling a Plan from its parts, and the questions CLI exit codes ask of one. */
import type { DesiredRuleset } from '../compile/ir';
import { enforcerAddress, makeDiagnostic, withAddress, type Diagnostic } from '../diagnostics';
import type { Resource } from '../model/types';
import type { Connection } from '../hosts/connection';
import type { StateFile } from '../state/types';
import { PACKAGE_VERSION } from '../version';
import { PlanCodes } from './codes';
import { diffResources } from './resources';
import { PLAN_FORMAT_VERSION, type HostPlan, type Plan } from './types';

/** MakePlanInput is everything plan gathered: state, configuration, desired rulesets and per-host diffs. */
export interface MakePlanInput {
  /** The state the plan was made from (undefined: no state yet). */
  state: StateFile | undefined;
  /** The configuration's resources (modelResources(model)). */
  resources: readonly Resource[];
  /** Desired ruleset per enforcer in the configuration. */
  desired: { readonly [enforcer: string]: DesiredRuleset };
  /** One HostPlan per enforcer in the configuration or in state (diffHost / unreachableHost). */
  hosts: readonly HostPlan[];
  /** How to reach each host in `hosts` (connectionRecord of config, or state's for removed ones). */
  connections: { readonly [enforcer: string]: Connection };
  /** Diagnostics found while refreshing (unreachable hosts, ...). */
  diagnostics?: readonly Diagnostic[];
  now?: Date;
}

/**
 * makePlan assembles a Plan: resource changes from state, hosts sorted by name, and diagnostics =
 * the given ones, each desired ruleset's compile diagnostics, and prevent_destroy violations.
 */
export function makePlan(input: MakePlanInput): Plan {
  const resource_changes = diffResources(input.resources, input.state?.resources ?? []);
  const diagnostics: Diagnostic[] = [...(input.diagnostics ?? [])];
  for (const name of Object.keys(input.desired).sort()) diagnostics.push(...input.desired[name].diagnostics.map((d) => withAddress(d, enforcerAddress(name))));
  const byAddress = new Map(input.resources.map((r) => [r.address, r] as const));
  for (const c of resource_changes) {
    const r = byAddress.get(c.address);
    if (c.action === 'replace' && r?.lifecycle.preventDestroy) {
      const d = makeDiagnostic(
        'error',
        PlanCodes.preventDestroy,
        `${c.address} has lifecycle.prevent_destroy set but this plan would replace it`,
        `Its namespace changed from ${c.before?.namespace} to ${c.after?.namespace}, which makes it a different object. ` +
          'Remove prevent_destroy to allow it, or keep the namespace.',
        r.pos,
      );
      diagnostics.push(d);
    }
  }
  return {
    format_version: PLAN_FORMAT_VERSION,
    microseg_version: PACKAGE_VERSION,
    created_at: (input.now ?? new Date()).toISOString(),
    lineage: input.state?.lineage ?? '',
    serial: input.state?.serial ?? 0,
    resource_changes,
    hosts: [...input.hosts].sort((a, b) => (a.enforcer < b.enforcer ? -1 : a.enforcer > b.enforcer ? 1 : 0)),
    desired: { ...input.desired },
    connections: { ...input.connections },
    diagnostics,
  };
}

/** hasChanges: would apply change anything (resources, hosts, drift repair, orphan removal, pending cleanup)? */
export function hasChanges(plan: Plan): boolean {
  return (
    plan.resource_changes.some((c) => c.action !== 'noop') ||
    (plan.tokens ?? []).some((t) => t.action !== 'noop') ||
    plan.hosts.some((h) => h.action !== 'noop' || h.drift.length > 0 || h.orphans.length > 0)
  );
}

/** hasDrift: did any host change outside microseg (drift items), or hold leftovers nobody claims (orphans)? */
export function hasDrift(plan: Plan): boolean {
  return plan.hosts.some((h) => h.drift.length > 0 || h.orphans.length > 0);
}

/** hasErrors: does the plan carry an error diagnostic (apply must not run it)? */
export function hasErrors(plan: Plan): boolean {
  return plan.diagnostics.some((d) => d.severity === 'error');
}
