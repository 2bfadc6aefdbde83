/**
 * diffObjects: THE comparison of what microseg wants on a host with what the host holds.
 *
 * `want` is Provider.expected(desired), the only projection of the IR into a backend's live shape;
 * `live` is a read of the host. Plan computes one ObjectDiff per host, and everything that needs
 * to know what differs derives from it: the plan's per-host changes and orphans (diff-host.ts),
 * the providers' change planners (Provider.changes), and the objects apply re-reads after a delta
 * (readScopeOf). Apply's verification runs it once more, on the read-back, and wants it empty.
 *
 * Objects are compared by name; a chain's rules by compareRules: by the `microseg:<id>` of each
 * rule, and by what each kernel rule does as the kernel lists it back (LiveChain.rules). Objects a merged
 * read-back shares with `want` (mergePartial) are skipped by identity.
 */
import type { AddressSet, Family, Hook } from '../compile/ir';
import type { ChainDiff, HookChangeReason, HookDiff, LiveChain, LiveHook, LiveRuleset, ObjectDiff, ReadScope, RuleDiff, SetDiff } from '../../providers/types';
import { sortCidrsLenient } from '../../providers/common';

const FAMILIES: readonly Family[] = [4, 6];

/** Claims are the object names state says microseg applied: a live object only state claims is deleted, one nobody claims is an orphan. */
export interface Claims {
  sets: ReadonlySet<string>;
  chains: ReadonlySet<string>;
  /** `<hook>/ipv4|ipv6` */
  hooks: ReadonlySet<string>;
}

export const NO_CLAIMS: Claims = { sets: new Set(), chains: new Set(), hooks: new Set() };

/** diffObjects compares `want` (undefined: decommission, nothing is wanted) with `live`. */
export function diffObjects(want: LiveRuleset | undefined, live: LiveRuleset, claims: Claims = NO_CLAIMS): ObjectDiff {
  return {
    backend: live.backend,
    ...(want ? { want } : {}),
    live,
    sets: diffSets(want, live, claims),
    chains: diffChains(want, live, claims),
    hooks: diffHooks(want, live, claims),
  };
}

/** isEmptyDiff: does the host already hold exactly what is wanted? */
export function isEmptyDiff(d: ObjectDiff): boolean {
  return d.sets.length === 0 && d.chains.length === 0 && d.hooks.length === 0;
}

/**
 * readScopeOf names every set and chain of `diff`, present on either side: exactly the objects a
 * delta derived from it creates, changes or removes, which apply re-reads to verify it. Hooks are
 * not named; a partial read always reads them whole.
 */
export function readScopeOf(diff: ObjectDiff): ReadScope {
  return { chains: diff.chains.map((c) => c.name), sets: diff.sets.map((s) => s.name) };
}

/**
 * problemsOf lists what `diff` (of desired against a read-back) still holds, for apply's
 * verification: empty means verified. nftables orders base chains by priority, not position: a
 * foreign base chain at a lower priority stays ahead of ours whatever we write, so apply cannot
 * change it. That is drift the plan shows (hook not-first), not a failure of an apply.
 */
export function problemsOf(diff: ObjectDiff): string[] {
  return [
    ...diff.sets.map((s) => (s.action === 'delete' ? `orphan set ${s.name}` : `set ${s.name} ${s.action}`)),
    ...diff.chains.map((c) => (c.action === 'delete' ? `orphan chain ${c.name}` : `chain ${c.name} ${c.action}`)),
    ...diff.hooks
      .filter((h) => !(diff.backend === 'nftables' && h.reason === 'not-first'))
      .map((h) => (h.action === 'delete' ? `orphan hook ${hookKey(h.hook, h.family)}` : `hook ${h.hook}/ipv${h.family} ${h.reason}`)),
  ];
}

export function hookKey(hook: Hook, family: Family): string {
  return `${hook}/${family === 4 ? 'ipv4' : 'ipv6'}`;
}

// ---------------------------------------------------------------------------------------------

/**
 * diffByName pairs wanted and live objects by name: a wanted one absent live is `created`, a pair
 * goes to `paired` (undefined: equal), a live one not wanted is `deleted` (claimed or an orphan).
 * Objects a merged read-back shares with the expectation (mergePartial) are equal by identity.
 */
function diffByName<T extends { name: string }, D extends { name: string }>(
  wants: readonly T[],
  lives: readonly T[],
  claimed: ReadonlySet<string>,
  on: { created(w: T): D; paired(w: T, l: T): D | undefined; deleted(l: T, claimed: boolean): D },
): D[] {
  const out: D[] = [];
  const liveByName = new Map(lives.map((x) => [x.name, x] as const));
  const wanted = new Set<string>();
  for (const w of wants) {
    wanted.add(w.name);
    const l = liveByName.get(w.name);
    const d = !l ? on.created(w) : l === w ? undefined : on.paired(w, l);
    if (d) out.push(d);
  }
  for (const l of lives) if (!wanted.has(l.name)) out.push(on.deleted(l, claimed.has(l.name)));
  return out.sort((a, b) => cmp(a.name, b.name));
}

function diffSets(want: LiveRuleset | undefined, live: LiveRuleset, claims: Claims): SetDiff[] {
  return diffByName<AddressSet, SetDiff>(want?.sets ?? [], live.sets, claims.sets, {
    created: (w) => ({ action: 'create', name: w.name, want: w }),
    deleted: (l, claimed) => ({ action: 'delete', name: l.name, live: l, claimed }),
    paired(w, l) {
      if (l.family !== w.family) return { action: 'replace', name: w.name, want: w, live: l, reason: `set ${w.name} changes family from v${l.family} to v${w.family}` };
      // Set comments are kept by nftables only; an expectation without one (iptables) never differs by it.
      if (w.comment !== undefined && w.comment !== l.comment) return { action: 'replace', name: w.name, want: w, live: l, reason: `set ${w.name} changes comment` };
      const have = new Set(l.elements);
      const need = new Set(w.elements);
      const add = w.elements.filter((e) => !have.has(e));
      const del = l.elements.filter((e) => !need.has(e));
      return add.length || del.length ? { action: 'update', name: w.name, want: w, live: l, add: sortCidrsLenient(add), del: sortCidrsLenient(del) } : undefined;
    },
  });
}

function diffChains(want: LiveRuleset | undefined, live: LiveRuleset, claims: Claims): ChainDiff[] {
  return diffByName<LiveChain, ChainDiff>(want?.chains ?? [], live.chains, claims.chains, {
    created: (w) => ({ action: 'create', name: w.name, want: w }),
    deleted: (l, claimed) => ({ action: 'delete', name: l.name, live: l, claimed }),
    paired(w, l) {
      const rules = compareRules(w, l);
      const missingFamilies = familyGap(w, l);
      const hookChanged = (w.hook ?? null) !== (l.hook ?? null);
      const differs = hookChanged || rules.added.length || rules.removed.length || rules.changed.length || rules.reordered || l.foreignRules > 0 || missingFamilies.length > 0;
      return differs ? { action: hookChanged ? 'replace' : 'update', name: w.name, want: w, live: l, rules, hookChanged, foreignRules: l.foreignRules, missingFamilies } : undefined;
    },
  });
}

/**
 * compareRules compares the rules of a wanted and a live chain: by id (added, removed,
 * reordered), then, when both sides carry them, by what each kernel rule does (LiveChain.rules):
 * an id both sides hold whose kernel rules differ is `changed`. Comparing the entries (not only
 * the merged ids) is what sees a family-neutral iptables rule deleted from one family, and a rule
 * whose comment was kept while its verdict was replaced. The same entries in another order (a
 * per-family order the merged ids hide) are `reordered`.
 */
export function compareRules(want: LiveChain, live: LiveChain): RuleDiff {
  const { added, removed } = multisetDiff(want.ruleIds, live.ruleIds);
  let reordered = commonOrderDiffers(want.ruleIds, live.ruleIds);
  const changed: string[] = [];
  if (want.rules && live.rules) {
    const w = entriesById(want.rules);
    const l = entriesById(live.rules);
    const skip = new Set([...added, ...removed]);
    for (const id of new Set(want.ruleIds)) {
      if (skip.has(id) || !l.has(id) || !w.has(id)) continue;
      if (!sameList(w.get(id) ?? [], l.get(id) ?? [])) changed.push(id);
    }
    // The same kernel rules in another order within a family (merged iptables ids can hide it).
    if (!reordered && changed.length === 0 && !sameList(want.rules, live.rules) && sameList([...want.rules].sort(), [...live.rules].sort())) reordered = true;
  }
  return { added, removed, reordered, changed };
}

/** ruleIdOf is the IR rule id of a LiveChain.rules entry (its family prefix and part suffix dropped). */
export function ruleIdOf(entry: string): string {
  const words = entry.split(' ');
  const id = words[0] === 'ipv4' || words[0] === 'ipv6' ? words[1] : words[0];
  return id.replace(/#\d+\/\d+$/, '');
}

/** entriesById groups LiveChain.rules entries by IR rule id, sorted within each id (family order is free). */
function entriesById(rules: readonly string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const e of rules) {
    const id = ruleIdOf(e);
    const list = out.get(id) ?? [];
    list.push(e);
    out.set(id, list);
  }
  for (const list of out.values()) list.sort();
  return out;
}

function diffHooks(want: LiveRuleset | undefined, live: LiveRuleset, claims: Claims): HookDiff[] {
  const out: HookDiff[] = [];
  const liveByKey = new Map(live.hooks.map((h) => [hookKey(h.hook, h.family), h] as const));
  const wanted = new Set<string>();
  for (const w of want?.hooks ?? []) {
    const key = hookKey(w.hook, w.family);
    wanted.add(key);
    const l = liveByKey.get(key);
    const reason = hookProblem(l, w);
    if (reason) out.push({ hook: w.hook, family: w.family, action: reason === 'missing' ? 'create' : 'update', reason, want: w, ...(l ? { live: l } : {}) });
  }
  for (const l of live.hooks) {
    const key = hookKey(l.hook, l.family);
    if (!l.present || wanted.has(key)) continue;
    out.push({ hook: l.hook, family: l.family, action: 'delete', reason: 'not-desired', live: l, claimed: claims.hooks.has(key) });
  }
  return out.sort((a, b) => cmp(a.hook, b.hook) || a.family - b.family);
}

/** hookProblem is what is wrong with a live hook we want, or undefined when it is right. */
function hookProblem(have: LiveHook | undefined, want: LiveHook): HookChangeReason | undefined {
  if (!have || !have.present || have.count === 0) return 'missing';
  if (have.count > 1) return 'duplicated';
  if (!have.first) return 'not-first';
  if (want.targets && have.targets && !sameList(want.targets, have.targets)) return 'wrong-target';
  return undefined;
}

/** familyGap: for iptables chains (which report `families`), the wanted families the live chain is absent from. */
function familyGap(want: LiveChain, live: LiveChain): Family[] {
  if (!live.families) return [];
  return (want.families ?? FAMILIES).filter((f) => !live.families!.includes(f));
}

// ---------------------------------------------------------------------------------------------
// Small pure helpers, shared with drift (diff-host.ts).

/** multisetDiff is a member difference counting duplicates: a rule id present twice but wanted once is removed once. */
export function multisetDiff(want: readonly string[], have: readonly string[]): { added: string[]; removed: string[] } {
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
export function commonOrderDiffers(want: readonly string[], have: readonly string[]): boolean {
  const inHave = new Set(have);
  const inWant = new Set(want);
  const a = [...new Set(want.filter((x) => inHave.has(x)))];
  const b = [...new Set(have.filter((x) => inWant.has(x)))];
  return !sameList(a, b);
}

export function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
