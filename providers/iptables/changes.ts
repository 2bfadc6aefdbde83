/**
 * Incremental transactions for iptables + ipset (Provider.changes, from the host's ObjectDiff):
 * only what differs between the live host and `expected(desired)`, in the same step order as the
 * full sync (render.ts):
 *
 *   (a) `ipset -exist restore`: create new sets with their members; patch changed sets;
 *   (b) `iptables-restore --noflush`: `:MSEG-x - [0:0]` for new, rewritten and orphan chains of
 *       this family (creates, or flushes an existing chain), hook deletes by exact spec, `-D` of
 *       rules leaving edited chains, `-A` of rewritten chains' rules, `-I` of rules entering edited
 *       chains, hook inserts at position 1, `-X` of orphans;
 *   (c) the same for ip6tables;
 *   (d) `ipset -exist restore`: destroy orphan sets, after no rule references them.
 * A step with nothing to do is left out, and so is every unchanged chain and set: an undeclared
 * chain is not touched by `--noflush`, so its rules, counters and position stay as they are.
 *
 * Chains: a chain is rewritten or edited when its merged (IPv4+IPv6) rule ids, hand-added rules or
 * families differ from `expected()` (a chain whose only difference is its missing hook is left
 * alone: the hook is repaired on its own). Then, per family, it is EDITED when the live read carried the kernel
 * rule order (read.ts kernelIdsOf) and the edit is shorter than the chain: `-D CHAIN n` for
 * leaving rules, `-I CHAIN n spec` for entering ones, nothing in a family that already matches;
 * otherwise it is rewritten whole in that family (`:CHAIN` flushes or creates it, then `-A`).
 *
 * Sets — the atomicity trade-off: ipset has no transactions. `ipset restore` runs each line as its
 * own kernel command, so small changes are sent as `del` lines, then `add` lines: between two lines
 * a packet can see a membership that is neither the old nor the new one, but it only ever differs
 * in members that are changing anyway (members in both old and new are never touched). Deletes go
 * first so a removed member loses access before a new one gains it. When the delta is at least as
 * long as the new member list, the set is refilled via temp set + `swap` instead (atomic, and no
 * bigger); so is a set holding `nomatch` members (never written by microseg) or one that needs a
 * larger maxelem than ipset's default.
 *
 * Hooks (per family): kept only when present, first, single and jumping to the wanted chain;
 * otherwise every `microseg:hook` rule read back is deleted by its exact spec (so nothing foreign
 * can match) and one is inserted at position 1.
 *
 * Falls back to the full replace (render.ts) when a set changes family (swap needs equal types;
 * the full render then refuses with "run cleanup first") or when an owned-looking set has a type
 * microseg never creates.
 */
import type { AddressSet, Chain, DesiredRuleset, Family, Hook } from '../../src/compile/ir';
import type { BackendName, ChainDiff, ChangePlan, LiveChain, ObjectDiff, SetDiff } from '../types';
import type { Transaction } from '../transaction';
import { checkName, ruleEdits, ruleFamily } from '../common';
import { TEMP_SUFFIX } from './names';
import { kernelIdsOf } from './read';
import { DEFAULT_MAXELEM, TABLE_OF, maxelemOf, newIptTx, refillOps, renderRuleSpecs, wantedHooks } from './render';

/** planIptablesChanges turns the host's ObjectDiff into the incremental transactions, none, or says why only a full sync is safe. */
export function planIptablesChanges(backend: BackendName, desired: DesiredRuleset, diff: ObjectDiff): ChangePlan {
  const live = diff.live;
  if (live.backend !== backend) return { kind: 'full', reason: `live state was read from ${live.backend}, not ${backend}` };
  for (const s of live.sets) {
    if (s.name.includes(':')) return { kind: 'full', reason: `owned-looking set ${s.name} has a type microseg never creates` };
  }
  const recreate = diff.sets.flatMap((s) => (s.action === 'replace' ? [s.reason] : []));
  if (recreate.length > 0) return { kind: 'full', reason: recreate.join('; ') };
  const reason = 'only what differs';
  const out: Transaction[] = [];

  // (a) sets
  const before = newIptTx(backend, desired.enforcer, 'ipset', 'delta', reason);
  const refilled = new Set<string>();
  for (const s of diff.sets) {
    if (s.action !== 'create') continue;
    checkName('set', s.name);
    const maxelem = maxelemOf(s.want);
    before.add('create', { type: 'set', name: s.name, family: s.want.family, ...(maxelem !== undefined ? { maxelem } : {}) });
    if (s.want.elements.length > 0) before.add('add', { type: 'element', set: s.name, elements: [...s.want.elements] });
  }
  for (const s of diff.sets) {
    if (s.action === 'update') {
      if (useSwap(s)) {
        refilled.add(s.name);
        refillOps(before, s.want);
        continue;
      }
      if (s.del.length > 0) before.add('delete', { type: 'element', set: s.name, elements: s.del });
      if (s.add.length > 0) before.add('add', { type: 'element', set: s.name, elements: s.add });
    }
  }
  if (before.length > 0) out.push(before.build());

  // (b)/(c) tables
  const sets = new Map(desired.sets.map((s) => [s.name, s] as const));
  const changed = new Map(diff.chains.flatMap((c) => (c.action !== 'delete' && rewrites(c) ? [[c.name, c] as const] : [])));
  const rewrite = desired.chains.filter((c) => changed.has(c.name));
  const orphans = diff.chains.flatMap((c) => (c.action === 'delete' ? [c.live] : []));
  const wantHooks = wantedHooks(desired.chains);
  for (const family of [4, 6] as const) {
    const tx = newIptTx(backend, desired.enforcer, TABLE_OF[family], 'delta', reason);
    const whole: Chain[] = [];
    const edits: Array<{ chain: string; ops: EditOps }> = [];
    for (const c of rewrite) {
      const d = changed.get(c.name)!;
      // A rule whose body differs under the same id cannot be fixed by edits chosen by id: rewrite the chain.
      const ops = d.action !== 'create' && d.rules.changed.length === 0 ? editChain(c, d.live, family, sets) : undefined;
      if (ops === undefined) {
        whole.push(c);
        tx.add('add', { type: 'chain', name: c.name });
      } else edits.push({ chain: c.name, ops });
    }
    const stale = orphans.filter((c) => !c.families || c.families.includes(family)).map((c) => c.name);
    // Flushing orphans first drops their references to each other, so -X cannot fail on
    // "chain is referenced" from within our own chains.
    for (const n of stale) tx.add('add', { type: 'chain', name: n });

    const inserts: Hook[] = [];
    const liveHooks = live.hooks.filter((h) => h.family === family && h.present);
    for (const hook of [...new Set<Hook>([...wantHooks.keys(), ...liveHooks.map((h) => h.hook)])].sort()) {
      const wanted = wantHooks.get(hook);
      const lh = liveHooks.find((h) => h.hook === hook);
      const targets = lh?.targets ?? [];
      if (wanted !== undefined && lh && lh.first && lh.count === 1 && targets.length === 1 && targets[0] === wanted) continue;
      for (const t of targets) tx.add('delete', { type: 'hook', hook, target: t });
      if (wanted !== undefined) inserts.push(hook);
    }
    for (const e of edits) for (const index of e.ops.deletes) tx.add('delete', { type: 'rule', chain: e.chain, index });
    for (const c of whole) {
      for (const r of c.rules) {
        const fam = ruleFamily(r, sets);
        if (fam !== undefined && fam !== family) continue;
        renderRuleSpecs(r, family, sets);
        tx.add('add', { type: 'rule', chain: c.name, rule: r });
      }
    }
    for (const e of edits) for (const x of e.ops.inserts) tx.add('insert', { type: 'rule', chain: e.chain, rule: x.rule, part: x.part, index: x.index });
    for (const hook of inserts) tx.add('insert', { type: 'hook', hook, target: wantHooks.get(hook)! });
    for (const n of stale) tx.add('delete', { type: 'chain', name: n });
    if (tx.length > 0) out.push(tx.build());
  }

  // (d) orphan sets; a leftover temp set of a set refilled in (a) is already destroyed there.
  const after = newIptTx(backend, desired.enforcer, 'ipset', 'delta', reason);
  for (const s of diff.sets) {
    if (s.action !== 'delete') continue;
    if (s.name.endsWith(TEMP_SUFFIX) && refilled.has(s.name.slice(0, -TEMP_SUFFIX.length))) continue;
    after.add('destroy', { type: 'set', name: s.name });
  }
  if (after.length > 0) out.push(after.build());
  return { kind: 'delta', transactions: out };
}

/** rewrites: does a chain's difference need its rules written (not only a hook repaired)? */
function rewrites(c: ChainDiff): boolean {
  if (c.action === 'create') return true;
  if (c.action === 'delete') return false;
  return c.rules.added.length > 0 || c.rules.removed.length > 0 || c.rules.changed.length > 0 || c.rules.reordered || c.foreignRules > 0 || c.missingFamilies.length > 0;
}

interface EditOps {
  /** Rule numbers to delete, highest first. */
  deletes: number[];
  /** Kernel rules to insert, in ascending final position. */
  inserts: Array<{ rule: Chain['rules'][number]; part: number; index: number }>;
}

/**
 * editChain returns the `-D CHAIN n` / `-I CHAIN n spec` ops that turn live chain `l` into `want`
 * in one family: none when that family already holds exactly the wanted kernel rules, or
 * undefined when the chain must be rewritten whole there (positions not read, chain missing in
 * this family, hand-added rules, repeated ids, or an edit no shorter than the rewrite).
 *
 * Rule numbers are computed for the restore's own sequence: deletions run from the highest
 * number down (each leaves the lower numbers valid), then insertions in ascending final position
 * (every rule before position n is already in its final place when rule n is inserted).
 * Positions come from the read this plan was made from; iptables has no handle to make a stale
 * position fail, so apply refuses a saved plan whose host changed since (by fingerprint).
 */
function editChain(want: Chain, l: LiveChain, family: Family, sets: ReadonlyMap<string, AddressSet>): EditOps | undefined {
  const kernel = kernelIdsOf(l)?.[family];
  if (!kernel || !(l.families ?? []).includes(family)) return undefined;
  const entries: Array<{ id: string; rule: Chain['rules'][number]; part: number }> = [];
  for (const r of want.rules) {
    const fam = ruleFamily(r, sets);
    if (fam !== undefined && fam !== family) continue;
    const specs = renderRuleSpecs(r, family, sets);
    specs.forEach((_, i) => entries.push({ id: specs.length === 1 ? r.id : `${r.id}#${i + 1}/${specs.length}`, rule: r, part: i }));
  }
  const e = ruleEdits(kernel, entries.map((x) => x.id));
  if (!e) return undefined;
  if (e.deletes + e.inserts === 0) return { deletes: [], inserts: [] };
  if (e.deletes + e.inserts >= entries.length) return undefined;
  const deletes: number[] = [];
  for (let i = kernel.length - 1; i >= 0; i--) if (!e.keepFrom[i]) deletes.push(i + 1);
  const inserts: EditOps['inserts'] = [];
  entries.forEach((x, j) => {
    if (!e.keepTo[j]) inserts.push({ rule: x.rule, part: x.part, index: j + 1 });
  });
  return { deletes, inserts };
}

function useSwap(c: Extract<SetDiff, { action: 'update' }>): boolean {
  return c.add.length + c.del.length >= c.want.elements.length || c.want.elements.length > DEFAULT_MAXELEM || c.live.elements.some((e) => e.startsWith('!'));
}
