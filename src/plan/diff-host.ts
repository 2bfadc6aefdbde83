/**
 * diffHost: the per-host heart of plan. Three inputs, two comparisons:
 *
 *   desired ──(changes)──► live ◄──(drift)── state
 *
 * - Changes are desired vs LIVE, never desired vs state: the kernel is the truth, so applying the
 *   plan also repairs drift, and a lost or stale state cannot hide a difference. They are the
 *   host's ObjectDiff (object-diff.ts, computed once); the HostPlan's lists are a view of it.
 * - Drift is live vs STATE: what changed on the host outside microseg since it last applied.
 * - Orphans are owned-looking live objects that neither desired nor state claims.
 *
 * Everything is compared by name and rule id (Felix rule-hash comments), and the same code serves
 * nftables and iptables.
 */
import type { DesiredRuleset, Family } from '../compile/ir';
import { makeDiagnostic, type Diagnostic } from '../diagnostics';
import type { BackendName, LiveChain, LiveRuleset, ObjectDiff } from '../../providers/types';
import { providerFor } from '../../providers';
import type { StateChain, StateHost, StateSet } from '../state/types';
import { PlanCodes } from './codes';
import { compareRules, diffObjects, hookKey, ruleIdOf, type Claims } from './object-diff';
import type { ChainChange, DriftItem, HookChange, HostAction, HostPlan, OrphanItem, SetChange } from './types';

const FAMILIES: readonly Family[] = [4, 6];

/** DiffHostOptions refines how desired is compared with live. */
export interface DiffHostOptions {
  /** The enforcer's name; needed when `desired` is undefined (decommission), else desired's. */
  enforcer?: string;
  /**
   * Provider.expected(desired) for live's backend, when the caller already has it (plan computes
   * it once per host); otherwise it is computed here. It is the only projection of desired.
   */
  expected?: LiveRuleset;
}

/**
 * hostDiff plans one reachable host: its ObjectDiff and the HostPlan that shows it. `desired`
 * undefined means decommission: every owned object goes. `stateHost` undefined means microseg has
 * no record of the host (new, or state lost).
 */
export function hostDiff(
  desired: DesiredRuleset | undefined,
  live: LiveRuleset,
  stateHost: StateHost | undefined,
  opts: DiffHostOptions = {},
): { plan: HostPlan; diff: ObjectDiff } {
  const want = desired ? (opts.expected ?? providerFor(live.backend).expected(desired)) : undefined;
  const diff = diffObjects(want, live, claimsOf(stateHost));
  return { plan: hostPlanOf(desired?.enforcer ?? opts.enforcer ?? '', desired !== undefined, diff, stateHost), diff };
}

/** diffHost is hostDiff's HostPlan alone (tests, views). */
export function diffHost(desired: DesiredRuleset | undefined, live: LiveRuleset, stateHost: StateHost | undefined, opts: DiffHostOptions = {}): HostPlan {
  return hostDiff(desired, live, stateHost, opts).plan;
}

/** hostPlanOf is the HostPlan view of a host's ObjectDiff, with drift from state and the action apply takes. */
export function hostPlanOf(enforcer: string, desired: boolean, diff: ObjectDiff, stateHost: StateHost | undefined): HostPlan {
  const live = diff.live;
  const sets: SetChange[] = [];
  for (const s of diff.sets) {
    if (s.action === 'create') sets.push({ name: s.name, family: s.want.family, action: 'create', added: [...s.want.elements], removed: [] });
    else if (s.action === 'update') sets.push({ name: s.name, family: s.want.family, action: 'update', added: s.add, removed: s.del });
    else if (s.action === 'replace') sets.push({ name: s.name, family: s.want.family, action: 'replace', added: [...s.want.elements], removed: [...s.live.elements] });
    else if (s.claimed) sets.push({ name: s.name, family: s.live.family, action: 'delete', added: [], removed: [...s.live.elements] });
  }
  const chains: ChainChange[] = [];
  for (const c of diff.chains) {
    if (c.action === 'create') chains.push({ name: c.name, action: 'create', rules_added: [...c.want.ruleIds], rules_removed: [], reordered: false, rules_changed: [], foreign_rules_removed: 0 });
    else if (c.action === 'delete') {
      if (c.claimed) chains.push({ name: c.name, action: 'delete', rules_added: [], rules_removed: [...c.live.ruleIds], reordered: false, rules_changed: [], foreign_rules_removed: c.live.foreignRules });
    } else chains.push({ name: c.name, action: c.action, rules_added: c.rules.added, rules_removed: c.rules.removed, reordered: c.rules.reordered, rules_changed: c.rules.changed, foreign_rules_removed: c.foreignRules });
  }
  const hooks: HookChange[] = diff.hooks
    .filter((h) => h.action !== 'delete' || h.claimed)
    .map((h) => ({ hook: h.hook, family: h.family, action: h.action, reason: h.reason }));
  const orphans: OrphanItem[] = [
    ...diff.chains.flatMap((c): OrphanItem[] => (c.action === 'delete' && !c.claimed ? [{ kind: 'chain', name: c.name }] : [])),
    ...diff.sets.flatMap((s): OrphanItem[] => (s.action === 'delete' && !s.claimed ? [{ kind: 'set', name: s.name }] : [])),
    ...diff.hooks.flatMap((h): OrphanItem[] => (h.action === 'delete' && !h.claimed ? [{ kind: 'hook', name: hookKey(h.hook, h.family) }] : [])),
  ].sort((a, b) => cmp(a.kind, b.kind) || cmp(a.name, b.name));
  const drift = stateHost ? findDrift(stateHost, live, diff.want) : [];

  const changed = sets.length + chains.length + hooks.length + orphans.length > 0;
  const backendChanged = stateHost !== undefined && stateHost.backend !== live.backend;
  let action: HostAction;
  if (!desired) action = changed || stateHost ? 'delete' : 'noop';
  else if (!stateHost) action = 'create';
  else action = changed || drift.length > 0 || backendChanged || stateHost.status !== 'applied' ? 'update' : 'noop';

  const plan: HostPlan = {
    enforcer,
    backend: live.backend,
    action,
    reachable: true,
    live_fingerprint: live.fingerprint,
    sets,
    chains,
    hooks,
    drift,
    orphans,
  };
  if (backendChanged) plan.previous_backend = stateHost!.backend;
  return plan;
}

/**
 * unreachableHost plans a host that could not be read back. A decommissioned host becomes
 * `cleanup-pending` (DESIGN §5: it stays in state until cleanup succeeds) with a warning; a host
 * in the configuration cannot be planned at all, which is an error naming it: nothing about it
 * may be guessed, and the other hosts' plans stand on their own.
 */
export function unreachableHost(
  enforcer: string,
  desired: DesiredRuleset | undefined,
  stateHost: StateHost | undefined,
  reason: string,
  backend?: BackendName,
): { host: HostPlan; diagnostic: Diagnostic } {
  const host: HostPlan = {
    enforcer,
    backend: backend ?? stateHost?.backend ?? 'nftables',
    action: !desired && stateHost ? 'cleanup-pending' : 'noop',
    reachable: false,
    live_fingerprint: '',
    sets: [],
    chains: [],
    hooks: [],
    drift: [],
    orphans: [],
  };
  const diagnostic = desired
    ? makeDiagnostic(
        'error',
        PlanCodes.hostUnreachable,
        `Cannot read the ruleset of enforcer "${enforcer}"`,
        `${reason}\nIts changes are not planned and apply will not touch it; the other hosts are planned as usual. ` +
          'Fix the connection and plan again.',
      )
    : makeDiagnostic(
        'warning',
        PlanCodes.cleanupPending,
        `Enforcer "${enforcer}" was removed from the configuration but cannot be reached to clean it up`,
        `${reason}\nIt stays in state as pending cleanup, and every plan retries until its rules, sets and hooks are removed.`,
      );
  return { host, diagnostic };
}

/** claimsOf is what state says microseg applied: such live objects are deleted when not desired, others are orphans. */
function claimsOf(stateHost: StateHost | undefined): Claims {
  const owned = stateHost?.owned;
  return {
    sets: new Set((owned?.sets ?? []).map((s) => s.name)),
    chains: new Set((owned?.chains ?? []).map((c) => c.name)),
    hooks: new Set((owned?.hooks ?? []).map((h) => hookKey(h.hook, h.family))),
  };
}

// ---------------------------------------------------------------------------------------------
// Drift: live vs what state says was applied.

function findDrift(stateHost: StateHost, live: LiveRuleset, want: LiveRuleset | undefined): DriftItem[] {
  const out: DriftItem[] = [];
  const liveChains = new Map(live.chains.map((c) => [c.name, c] as const));
  const wantChains = new Map((want?.chains ?? []).map((c) => [c.name, c] as const));
  for (const was of stateHost.owned.chains) out.push(...chainDrift(was, liveChains.get(was.name), wantChains.get(was.name)));
  const liveSets = new Map(live.sets.map((s) => [s.name, s] as const));
  for (const was of stateHost.owned.sets) out.push(...setDrift(was, liveSets.get(was.name)));
  const liveHooks = new Map(live.hooks.map((h) => [hookKey(h.hook, h.family), h] as const));
  for (const was of stateHost.owned.hooks) {
    const key = hookKey(was.hook, was.family);
    const have = liveHooks.get(key);
    const object = `hook ${key}`;
    if (!have || !have.present || have.count === 0) out.push({ kind: 'hook-missing', object, detail: `no jump to microseg from the ${was.hook} hook (${familyName(was.family)})` });
    else {
      if (have.count > 1) out.push({ kind: 'hook-duplicated', object, detail: `${have.count} microseg:hook rules` });
      if (!have.first) out.push({ kind: 'hook-not-first', object, detail: 'another rule or base chain runs before microseg at this hook' });
    }
  }
  // Foreign rules in owned chains that state does not record are still drift: no microseg run
  // ever writes a rule without a comment.
  for (const c of live.chains) {
    if (c.foreignRules > 0 && !stateHost.owned.chains.some((w) => w.name === c.name)) {
      out.push(foreignDrift(c));
    }
  }
  return out;
}

/**
 * chainDrift compares a chain state recorded with the live one. Rule bodies come from state; a
 * state written before bodies were recorded borrows them from the expectation (`want`) for the
 * ids both hold, which is sound because a rule id is the hash of its chain, match and verdict:
 * whatever the configuration says now, the rule with that id does one thing.
 */
function chainDrift(was: StateChain, have: LiveChain | undefined, want: LiveChain | undefined): DriftItem[] {
  const object = `chain ${was.name}`;
  if (!have) return [{ kind: 'chain-missing', object, detail: `chain ${was.name} with ${was.ruleIds.length} rule(s) is gone` }];
  const out: DriftItem[] = [];
  const gap = missingFamilies(have);
  if (gap.length) out.push({ kind: 'chain-missing', object, detail: `missing in ${gap.map(familyName).join(' and ')}` });
  if (have.ruleIds.length === 0 && was.ruleIds.length > 0) {
    const ids = was.ruleIds.length > 10 ? `${was.ruleIds.slice(0, 10).join(', ')}, …` : was.ruleIds.join(', ');
    out.push({ kind: 'chain-flushed', object, detail: `all ${was.ruleIds.length} microseg rule(s) are gone: ${ids}` });
  } else {
    // The same comparison as plan's (compareRules), with what state recorded as the wanted side.
    const bodies = was.rules ?? want?.rules;
    const { added, removed, changed, reordered } = compareRules({ name: was.name, ruleIds: was.ruleIds, foreignRules: 0, ...(bodies ? { rules: bodies } : {}) }, have);
    for (const id of removed) out.push({ kind: 'rule-unexpected', object: `rule ${id} in ${object}`, detail: `rule ${id} is present but was not applied by microseg` });
    for (const id of added) out.push({ kind: 'rule-missing', object: `rule ${id} in ${object}`, detail: `rule ${id} was applied and is gone` });
    for (const id of changed) out.push({ kind: 'rule-changed', object: `rule ${id} in ${object}`, detail: ruleChangeDetail(id, bodies ?? [], have.rules ?? []) });
    if (reordered) {
      out.push({ kind: 'rules-reordered', object, detail: `applied order ${was.ruleIds.join(',')}; live order ${have.ruleIds.join(',')}` });
    }
  }
  if (have.foreignRules > 0) out.push(foreignDrift(have));
  return out;
}

/** ruleChangeDetail says what rule `id` did when applied and what it does now, kernel rule by kernel rule. */
function ruleChangeDetail(id: string, was: readonly string[], have: readonly string[]): string {
  const of = (xs: readonly string[]) => xs.filter((e) => ruleIdOf(e) === id);
  const show = (xs: string[]) => (xs.length === 0 ? '(nothing)' : xs.join(' | '));
  return `rule ${id} was applied as ${show(of(was))}; the kernel now holds ${show(of(have))}`;
}

function foreignDrift(c: LiveChain): DriftItem {
  return { kind: 'foreign-rule-in-owned-chain', object: `chain ${c.name}`, detail: `${c.foreignRules} rule(s) without a microseg comment` };
}

function setDrift(was: StateSet, have: { family: Family; elements: string[] } | undefined): DriftItem[] {
  const object = `set ${was.name}`;
  if (!have) return [{ kind: 'set-missing', object, detail: `set ${was.name} with ${was.elements.length} member(s) is gone` }];
  if (have.family !== was.family) return [{ kind: 'set-member-changed', object, detail: `family changed from ${familyName(was.family)} to ${familyName(have.family)}` }];
  const { added, removed } = memberDiff(have.elements, was.elements);
  if (!added.length && !removed.length) return [];
  const parts: string[] = [];
  if (added.length) parts.push(`added outside microseg: ${added.join(', ')}`);
  if (removed.length) parts.push(`removed outside microseg: ${removed.join(', ')}`);
  return [{ kind: 'set-member-changed', object, detail: parts.join('; ') }];
}

// ---------------------------------------------------------------------------------------------
// Small pure helpers.

/** memberDiff: what `want` has that `have` lacks (added) and the reverse (removed), in their orders. */
function memberDiff(want: readonly string[], have: readonly string[]): { added: string[]; removed: string[] } {
  const w = new Set(want);
  const h = new Set(have);
  return { added: want.filter((x) => !h.has(x)), removed: have.filter((x) => !w.has(x)) };
}

/** missingFamilies: for iptables chains (which report `families`), the families the chain is absent from. */
function missingFamilies(have: LiveChain, want?: LiveChain): Family[] {
  if (!have.families) return [];
  const need = want?.families ?? FAMILIES;
  return need.filter((f) => !have.families!.includes(f));
}

function familyName(f: Family): string {
  return f === 4 ? 'ipv4' : 'ipv6';
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
