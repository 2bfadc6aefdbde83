/**
 * diffHost: the per-host heart of plan. Three inputs, two comparisons:
 *
 *   desired ──(changes)──► live ◄──(drift)── state
 *
 * - Changes are desired vs LIVE, never desired vs state: the kernel is the truth, so applying the
 *   plan also repairs drift, and a lost or stale state cannot hide a difference.
 * - Drift is live vs STATE: what changed on the host outside microseg since it last applied.
 * - Orphans are owned-looking live objects that neither desired nor state claims.
 *
 * Everything is compared by name and rule id only (Felix rule-hash comments): rule bodies are
 * never parsed, and the same code serves nftables and iptables.
 */
import type { DesiredRuleset, Family, Hook } from '../compile/ir';
import { makeDiagnostic, type Diagnostic } from '../diagnostics';
import type { BackendName, LiveChain, LiveHook, LiveRuleset } from '../../providers/types';
import type { StateChain, StateHost, StateSet } from '../state/types';
import { PlanCodes } from './codes';
import type { ChainChange, DriftItem, HookChange, HostAction, HostPlan, OrphanItem, SetChange } from './types';

const FAMILIES: readonly Family[] = [4, 6];

/** DiffHostOptions refines how desired is compared with live. */
export interface DiffHostOptions {
  /** The enforcer's name; needed when `desired` is undefined (decommission), else desired's. */
  enforcer?: string;
  /**
   * The provider's projection of `desired` into its live shape (Provider.expected): what `read`
   * returns once `desired` is applied. When absent, projectDesired's backend-neutral projection
   * is used (rule ids in order, one hook per hooked chain and family).
   */
  expected?: LiveRuleset;
}

/**
 * projectDesired is the backend-neutral live shape of `desired`: each chain's rule ids in order,
 * sets without their UI comment, and for every hooked chain one hook per family (nft's inet base
 * chain serves both; iptables installs one jump in iptables and one in ip6tables).
 */
export function projectDesired(desired: DesiredRuleset, backend: BackendName): LiveRuleset {
  return {
    backend,
    sets: desired.sets.map((s) => ({ name: s.name, family: s.family, elements: [...s.elements] })),
    chains: desired.chains.map((c) => ({ name: c.name, ...(c.hook ? { hook: c.hook } : {}), ruleIds: c.rules.map((r) => r.id), foreignRules: 0 })),
    hooks: desired.chains
      .filter((c) => c.hook !== undefined)
      .flatMap((c) => FAMILIES.map((family) => ({ hook: c.hook!, family, present: true, first: true, count: 1, targets: [c.name] }))),
    fingerprint: '',
  };
}

/**
 * diffHost plans one reachable host. `desired` undefined means decommission: every owned object
 * goes. `stateHost` undefined means microseg has no record of the host (new, or state lost).
 */
export function diffHost(
  desired: DesiredRuleset | undefined,
  live: LiveRuleset,
  stateHost: StateHost | undefined,
  opts: DiffHostOptions = {},
): HostPlan {
  const target = desired ? (opts.expected ?? projectDesired(desired, live.backend)) : undefined;
  const claimed = claimedNames(target, stateHost);

  const sets = diffSets(target, live, claimed.sets);
  const chains = diffChains(target, live, claimed.chains);
  const hooks = diffHooks(target, live, claimed.hooks);
  const orphans = findOrphans(live, claimed);
  const drift = stateHost ? findDrift(stateHost, live) : [];

  const changed = sets.length + chains.length + hooks.length + orphans.length > 0;
  const backendChanged = stateHost !== undefined && stateHost.backend !== live.backend;
  let action: HostAction;
  if (!desired) action = changed || stateHost ? 'delete' : 'noop';
  else if (!stateHost) action = 'create';
  else action = changed || drift.length > 0 || backendChanged || stateHost.status !== 'applied' ? 'update' : 'noop';

  const plan: HostPlan = {
    enforcer: desired?.enforcer ?? opts.enforcer ?? '',
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

// ---------------------------------------------------------------------------------------------
// Claims: what desired or state says is ours. Anything else we find is an orphan.

interface Claims {
  sets: Set<string>;
  chains: Set<string>;
  hooks: Set<string>;
}

function claimedNames(target: LiveRuleset | undefined, stateHost: StateHost | undefined): Claims {
  const c: Claims = { sets: new Set(), chains: new Set(), hooks: new Set() };
  for (const s of [...(target?.sets ?? []), ...(stateHost?.owned.sets ?? [])]) c.sets.add(s.name);
  for (const ch of [...(target?.chains ?? []), ...(stateHost?.owned.chains ?? [])]) c.chains.add(ch.name);
  for (const h of target?.hooks ?? []) c.hooks.add(hookKey(h.hook, h.family));
  for (const h of stateHost?.owned.hooks ?? []) c.hooks.add(hookKey(h.hook, h.family));
  return c;
}

// ---------------------------------------------------------------------------------------------
// Changes: target (projected desired) vs live. Live objects that only state claims are deleted;
// live objects nobody claims are reported as orphans instead (apply removes both).

function diffSets(target: LiveRuleset | undefined, live: LiveRuleset, claimed: Set<string>): SetChange[] {
  const out: SetChange[] = [];
  const liveByName = new Map(live.sets.map((s) => [s.name, s] as const));
  const wanted = new Set<string>();
  for (const want of target?.sets ?? []) {
    wanted.add(want.name);
    const have = liveByName.get(want.name);
    if (!have) {
      out.push({ name: want.name, family: want.family, action: 'create', added: [...want.elements], removed: [] });
      continue;
    }
    // The same object on both sides (a merged read-back reuses the expectation's untouched
    // objects, see mergePartial): nothing can differ.
    if (have === want) continue;
    const { added, removed } = memberDiff(want.elements, have.elements);
    if (have.family !== want.family) out.push({ name: want.name, family: want.family, action: 'replace', added: [...want.elements], removed: [...have.elements] });
    else if (added.length || removed.length) out.push({ name: want.name, family: want.family, action: 'update', added, removed });
  }
  for (const have of live.sets) {
    if (wanted.has(have.name) || !claimed.has(have.name)) continue;
    out.push({ name: have.name, family: have.family, action: 'delete', added: [], removed: [...have.elements] });
  }
  return out.sort((a, b) => cmp(a.name, b.name));
}

function diffChains(target: LiveRuleset | undefined, live: LiveRuleset, claimed: Set<string>): ChainChange[] {
  const out: ChainChange[] = [];
  const liveByName = new Map(live.chains.map((c) => [c.name, c] as const));
  const wanted = new Set<string>();
  for (const want of target?.chains ?? []) {
    wanted.add(want.name);
    const have = liveByName.get(want.name);
    if (!have) {
      out.push({ name: want.name, action: 'create', rules_added: [...want.ruleIds], rules_removed: [], reordered: false, foreign_rules_removed: 0 });
      continue;
    }
    if (have === want) continue;
    const { added, removed } = multisetDiff(want.ruleIds, have.ruleIds);
    const reordered = commonOrderDiffers(want.ruleIds, have.ruleIds);
    const familyGap = missingFamilies(have, want).length > 0;
    const hookChanged = (want.hook ?? null) !== (have.hook ?? null);
    if (hookChanged || added.length || removed.length || reordered || have.foreignRules > 0 || familyGap) {
      out.push({
        name: want.name,
        action: hookChanged ? 'replace' : 'update',
        rules_added: added,
        rules_removed: removed,
        reordered,
        foreign_rules_removed: have.foreignRules,
      });
    }
  }
  for (const have of live.chains) {
    if (wanted.has(have.name) || !claimed.has(have.name)) continue;
    out.push({ name: have.name, action: 'delete', rules_added: [], rules_removed: [...have.ruleIds], reordered: false, foreign_rules_removed: have.foreignRules });
  }
  return out.sort((a, b) => cmp(a.name, b.name));
}

function diffHooks(target: LiveRuleset | undefined, live: LiveRuleset, claimed: Set<string>): HookChange[] {
  const out: HookChange[] = [];
  const liveByKey = new Map(live.hooks.map((h) => [hookKey(h.hook, h.family), h] as const));
  const wanted = new Set<string>();
  for (const want of target?.hooks ?? []) {
    const key = hookKey(want.hook, want.family);
    wanted.add(key);
    const have = liveByKey.get(key);
    const reason = hookProblem(have, want);
    if (reason) out.push({ hook: want.hook, family: want.family, action: reason === 'missing' ? 'create' : 'update', reason });
  }
  for (const have of live.hooks) {
    const key = hookKey(have.hook, have.family);
    if (!have.present || wanted.has(key) || !claimed.has(key)) continue;
    out.push({ hook: have.hook, family: have.family, action: 'delete', reason: 'not-desired' });
  }
  return out.sort((a, b) => cmp(a.hook, b.hook) || a.family - b.family);
}

/** hookProblem is what is wrong with a live hook we want, or undefined when it is right. */
function hookProblem(have: LiveHook | undefined, want: LiveHook): HookChange['reason'] | undefined {
  if (!have || !have.present || have.count === 0) return 'missing';
  if (have.count > 1) return 'duplicated';
  if (!have.first) return 'not-first';
  if (want.targets && have.targets && !sameList(want.targets, have.targets)) return 'wrong-target';
  return undefined;
}

function findOrphans(live: LiveRuleset, claimed: Claims): OrphanItem[] {
  const out: OrphanItem[] = [];
  for (const c of live.chains) if (!claimed.chains.has(c.name)) out.push({ kind: 'chain', name: c.name });
  for (const s of live.sets) if (!claimed.sets.has(s.name)) out.push({ kind: 'set', name: s.name });
  for (const h of live.hooks) {
    if (h.present && !claimed.hooks.has(hookKey(h.hook, h.family))) out.push({ kind: 'hook', name: hookKey(h.hook, h.family) });
  }
  return out.sort((a, b) => cmp(a.kind, b.kind) || cmp(a.name, b.name));
}

// ---------------------------------------------------------------------------------------------
// Drift: live vs what state says was applied.

function findDrift(stateHost: StateHost, live: LiveRuleset): DriftItem[] {
  const out: DriftItem[] = [];
  const liveChains = new Map(live.chains.map((c) => [c.name, c] as const));
  for (const was of stateHost.owned.chains) out.push(...chainDrift(was, liveChains.get(was.name)));
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

function chainDrift(was: StateChain, have: LiveChain | undefined): DriftItem[] {
  const object = `chain ${was.name}`;
  if (!have) return [{ kind: 'chain-missing', object, detail: `chain ${was.name} with ${was.ruleIds.length} rule(s) is gone` }];
  const out: DriftItem[] = [];
  const gap = missingFamilies(have);
  if (gap.length) out.push({ kind: 'chain-missing', object, detail: `missing in ${gap.map(familyName).join(' and ')}` });
  if (have.ruleIds.length === 0 && was.ruleIds.length > 0) {
    out.push({ kind: 'chain-flushed', object, detail: `all ${was.ruleIds.length} microseg rule(s) are gone` });
  } else {
    const { added, removed } = multisetDiff(was.ruleIds, have.ruleIds);
    for (const id of removed) out.push({ kind: 'rule-unexpected', object: `rule ${id} in ${object}`, detail: `rule ${id} is present but was not applied by microseg` });
    for (const id of added) out.push({ kind: 'rule-missing', object: `rule ${id} in ${object}`, detail: `rule ${id} was applied and is gone` });
    if (commonOrderDiffers(was.ruleIds, have.ruleIds)) {
      out.push({ kind: 'rules-reordered', object, detail: `applied order ${was.ruleIds.join(',')}; live order ${have.ruleIds.join(',')}` });
    }
  }
  if (have.foreignRules > 0) out.push(foreignDrift(have));
  return out;
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

/** multisetDiff is memberDiff counting duplicates: a rule id present twice but wanted once is removed once. */
function multisetDiff(want: readonly string[], have: readonly string[]): { added: string[]; removed: string[] } {
  const left = new Map<string, number>();
  for (const id of have) left.set(id, (left.get(id) ?? 0) + 1);
  const added: string[] = [];
  for (const id of want) {
    const n = left.get(id) ?? 0;
    if (n > 0) left.set(id, n - 1);
    else added.push(id);
  }
  const removed: string[] = [];
  const need = new Map<string, number>();
  for (const id of want) need.set(id, (need.get(id) ?? 0) + 1);
  for (const id of have) {
    const n = need.get(id) ?? 0;
    if (n > 0) need.set(id, n - 1);
    else removed.push(id);
  }
  return { added, removed };
}

/** commonOrderDiffers: do the ids both lists contain appear in a different relative order? */
function commonOrderDiffers(want: readonly string[], have: readonly string[]): boolean {
  const inHave = new Set(have);
  const inWant = new Set(want);
  const a = dedupe(want.filter((x) => inHave.has(x)));
  const b = dedupe(have.filter((x) => inWant.has(x)));
  return !sameList(a, b);
}

/** missingFamilies: for iptables chains (which report `families`), the families the chain is absent from. */
function missingFamilies(have: LiveChain, want?: LiveChain): Family[] {
  if (!have.families) return [];
  const need = want?.families ?? FAMILIES;
  return need.filter((f) => !have.families!.includes(f));
}

function dedupe(xs: readonly string[]): string[] {
  return [...new Set(xs)];
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function hookKey(hook: Hook, family: Family): string {
  return `${hook}/${familyName(family)}`;
}

function familyName(f: Family): string {
  return f === 4 ? 'ipv4' : 'ipv6';
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
