/**
 * Namespace scoping (DESIGN §3 "hierarchical scope"). A policy sees the PUs and external networks
 * of its own namespace, plus those of every descendant namespace when `propagate` is true — the
 * Aporeto rule that lets a parent namespace govern its children. Nothing is visible upward or
 * sideways: a policy in `/acme/prod` never selects a PU in `/acme` or `/acme/dev`.
 */
import type { Namespace, DefaultAction } from '../model/types';

/** isWithin says whether namespace `ns` is `scope` or (when `descendants`) below it. */
export function isWithin(ns: string, scope: string, descendants: boolean): boolean {
  if (ns === scope) return true;
  if (!descendants) return false;
  if (scope === '/') return ns.startsWith('/');
  return ns.startsWith(scope.endsWith('/') ? scope : `${scope}/`);
}

/**
 * namespaceDefaults returns a namespace's default actions. A namespace the model does not
 * declare (the implicit root `/`, or a PU's namespace with no block) has reject defaults: the
 * safe choice, and DESIGN's "then the namespace default (reject)". Defaults are not inherited
 * from a parent namespace: each namespace block says its own.
 */
export function namespaceDefaults(
  namespaces: readonly Namespace[],
  ns: string,
): { incoming: DefaultAction; outgoing: DefaultAction; logsEnabled: boolean; observationEnabled: boolean } {
  const n = namespaces.find((x) => x.name === ns);
  return {
    incoming: n?.defaultIncomingAction ?? 'reject',
    outgoing: n?.defaultOutgoingAction ?? 'reject',
    logsEnabled: n?.logsEnabled ?? false,
    observationEnabled: n?.observationEnabled ?? false,
  };
}
