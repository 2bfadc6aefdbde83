/**
 * Planning nftables transactions: the smallest `nft -f` transaction that turns the live table inet
 * microseg into `expected(desired)` (Provider.changes, from the host's ObjectDiff), the full sync,
 * the cleanup and the conntrack warm-up. render.ts serialises them.
 *
 * The whole script is still ONE `nft -f` batch, so the kernel applies it atomically exactly like a
 * full replace; it only names less. Kernel dependency order is kept inside the batch anyway,
 * because nft validates commands in file order (PRACTICES 9):
 *
 *   1. `add table` (only when live holds nothing: the table may not exist);
 *   2. new sets, with their elements (sets before the rules that use them);
 *   3. element deltas of changed sets: `delete element` first, then `add element`, so a member
 *      that is replaced by an overlapping prefix (10.0.0.0/24 → 10.0.0.0/23) does not trip nft's
 *      "interval overlaps" check — tested on nft 1.0.6 / kernel 6.x. When the delta is larger than
 *      the new set, `flush set` + all members is sent instead (smaller, and equally atomic);
 *   4. `add chain` for new chains (declared before any rule jumps to them);
 *   5. `flush chain` for chains rewritten whole and for orphan chains — each chain at most once
 *      per transaction (kube-proxy's rule: never flush the same chain twice in one batch);
 *   6. `delete rule ... handle H` for rules leaving an edited chain;
 *   7. `add rule` for every rule of new chains and chains rewritten whole, in order;
 *   8. `add rule` (an append, no position) for rules entering an edited chain at its end;
 *   9. `delete chain` for orphans (now empty and, being undesired, unreferenced by wanted rules);
 *  10. `delete set` for orphan sets (every rule that used them was flushed above).
 *
 * A changed chain is EDITED (only its leaving and entering rules are named, the rest keep their
 * handles and counters) when the live read carried rule handles (read.ts ruleHandlesOf) and the
 * edit is only deletions and/or appends at the end of the chain; any rule that must enter in the
 * middle makes the chain REWRITTEN whole (flush + add). The reason is measured, not aesthetic: on
 * nft 1.0.6, with table inet microseg holding 10,000 rules (chains of ~200), one
 * `insert rule ... position H` (or `add`/`replace` with a position or handle anchor) costs
 * 100–160 ms, because nft loads the rule cache of the whole table to resolve the anchor, while
 * `delete rule ... handle H` costs ~20 ms, a plain `add rule` ~0–15 ms and `flush chain` +
 * re-adding its ~200 rules ~30–35 ms (scratch measurements in a netns, 5 runs, medians; see
 * bench/README.md item 2). Bytes stay small: one rewritten 200-rule chain is ~16 KB, about 2% of
 * a 10,000-rule full apply (~880 KB). A chain is also rewritten when the edit would name as many
 * rules as the chain holds, or when the read carried no handles.
 *
 * Unchanged sets and chains never appear, so their rule handles and counters survive.
 *
 * What is not patched in place, and why (the full replace handles these, in one batch too):
 * - a set whose family or comment changed: nft cannot retype or re-comment a set, and deleting it
 *   needs every rule that references it gone first;
 * - a chain whose hook changed (regular ↔ base chain, or another hook): nft cannot change a chain's
 *   hook in place;
 * - objects in our table whose names microseg never writes (`nft:<name>`, `<set>:<type>` from
 *   read.ts): they are addressed by kernel name only by the full replace, which deletes the table.
 * A hook reported `first: false` (a foreign base chain with a lower priority at the same hook) is
 * not repairable by us — our priority is fixed — so it is not compared; plan reports it as drift.
 */
import type { AddressSet, Chain, DesiredRuleset } from '../../src/compile/ir';
import type { ChangePlan, LiveChain, LiveRuleset, ObjectDiff } from '../types';
import type { Transaction } from '../transaction';
import { IR_NAME, conntrackWarmupChain, ruleEdits } from '../common';
import { ruleHandlesOf } from './read';
import { newNftTx, ruleObject, setObject } from './render';

/**
 * planNftChanges turns the host's ObjectDiff into the incremental transaction, nothing ([]), or
 * says why only a full replace is safe.
 */
export function planNftChanges(desired: DesiredRuleset, diff: ObjectDiff): ChangePlan {
  const live = diff.live;
  if (live.backend !== 'nftables') return { kind: 'full', reason: `live state was read from ${live.backend}, not nftables` };
  for (const s of live.sets) if (!IR_NAME.test(s.name)) return { kind: 'full', reason: `set ${s.name} in our table was not written by microseg` };
  for (const c of live.chains) if (!IR_NAME.test(c.name)) return { kind: 'full', reason: `chain ${c.name} in our table was not written by microseg` };
  for (const c of diff.chains) {
    if (c.action === 'replace') return { kind: 'full', reason: `chain ${c.name} changes hook from ${c.live.hook ?? 'none'} to ${c.want.hook ?? 'none'}` };
  }
  const recreate = diff.sets.flatMap((s) => (s.action === 'replace' ? [s.reason] : []));
  if (recreate.length > 0) return { kind: 'full', reason: recreate.join('; ') };

  const sets = new Map(desired.sets.map((s) => [s.name, s] as const));
  const chains = new Map(desired.chains.map((c) => [c.name, c] as const));
  const newSets = diff.sets.flatMap((s) => (s.action === 'create' ? [s] : []));
  const changedSets = diff.sets.flatMap((s) => (s.action === 'update' ? [s] : []));
  const orphanSets = diff.sets.flatMap((s) => (s.action === 'delete' ? [s] : []));
  const newChains = diff.chains.flatMap((c) => (c.action === 'create' ? [c.name] : []));
  const changedChains = diff.chains.flatMap((c) => (c.action === 'update' ? [c] : []));
  const orphanChains = diff.chains.flatMap((c) => (c.action === 'delete' ? [c.live] : []));

  const tx = newNftTx(desired.enforcer, 'delta', '');
  if (live.sets.length === 0 && live.chains.length === 0) tx.add('add', { type: 'table' });
  for (const w of newSets) tx.add('add', setObject(sets.get(w.name)!));
  for (const c of changedSets) {
    if (c.add.length + c.del.length > c.want.elements.length) {
      // Refill: smaller than the delta, and atomic all the same (one batch).
      tx.add('flush', { type: 'set', name: c.name });
      if (c.want.elements.length > 0) tx.add('add', { type: 'element', set: c.name, elements: [...c.want.elements] });
    } else {
      if (c.del.length > 0) tx.add('delete', { type: 'element', set: c.name, elements: c.del });
      if (c.add.length > 0) tx.add('add', { type: 'element', set: c.name, elements: c.add });
    }
  }
  // A changed chain whose rule handles this process read is edited (deletions by handle, appends)
  // when no rule has to enter in the middle; otherwise (and for new chains) it is written whole.
  const edited = new Map<string, { deletes: number[]; appends: Chain['rules'] }>();
  for (const c of changedChains) {
    // A rule whose body differs under the same id cannot be fixed by edits chosen by id: the chain is rewritten whole.
    const e = c.rules.changed.length > 0 ? undefined : editChain(chains.get(c.name)!, c.live);
    if (e) edited.set(c.name, e);
  }
  const changedNames = new Set(changedChains.map((c) => c.name));
  const newNames = new Set(newChains);
  // Rules go in desired chain order (dispatch chains first), whichever list a chain came from.
  const whole = desired.chains.filter((c) => newNames.has(c.name) || (changedNames.has(c.name) && !edited.has(c.name)));
  for (const name of newChains) {
    const c = chains.get(name)!;
    tx.add('add', { type: 'chain', name, ...(c.hook ? { hook: c.hook } : {}), ...(c.comment !== undefined ? { comment: c.comment } : {}) });
  }
  const flushed = new Set<string>();
  for (const name of [...whole.filter((c) => !newNames.has(c.name)).map((c) => c.name), ...orphanChains.map((c) => c.name)]) {
    if (flushed.has(name)) continue; // never flush the same chain twice in one transaction
    flushed.add(name);
    tx.add('flush', { type: 'chain', name });
  }
  for (const [name, e] of edited) for (const handle of e.deletes) tx.add('delete', { type: 'rule', chain: name, handle });
  for (const c of whole) for (const r of c.rules) tx.add('add', ruleObject(c.name, r, sets));
  for (const [name, e] of edited) for (const r of e.appends) tx.add('add', ruleObject(name, r, sets));
  for (const c of orphanChains) tx.add('delete', { type: 'chain', name: c.name });
  for (const s of orphanSets) tx.add('delete', { type: 'set', name: s.name });
  if (tx.length === 0) return { kind: 'delta', transactions: [] };
  const what = [
    count(newSets.length, 'new set'),
    count(changedSets.length, 'changed set'),
    count(orphanSets.length, 'removed set'),
    count(newChains.length, 'new chain'),
    count(edited.size, 'edited chain'),
    count(changedChains.length - edited.size, 'rewritten chain'),
    count(orphanChains.length, 'removed chain'),
  ].filter((x) => x !== '');
  return { kind: 'delta', transactions: [{ ...tx.build(), reason: what.join(', ') }] };
}

/**
 * editChain turns live chain `l` into `want` with deletions by handle and appends only, or returns
 * undefined when the chain must be rewritten whole instead: no handles were read, the chain holds
 * hand-added rules or repeated ids, a wanted rule has to enter before a rule that stays (that
 * would need `insert rule ... position H`, which is slow on a big table: see the module comment),
 * or the edit would name as many rules as the chain holds. Handles are unique for the table's
 * lifetime, so a stale plan cannot hit a different rule of the same table: the batch fails instead
 * and changes nothing (a table deleted and recreated in between restarts handles; apply refuses a
 * saved plan whose host changed, by fingerprint).
 */
function editChain(want: Chain, l: LiveChain): { deletes: number[]; appends: Chain['rules'] } | undefined {
  const handles = ruleHandlesOf(l);
  if (!handles || handles.length !== l.ruleIds.length || l.foreignRules !== 0) return undefined;
  const wantIds = want.rules.map((r) => r.id);
  const e = ruleEdits(l.ruleIds, wantIds);
  if (!e || e.deletes + e.inserts >= wantIds.length) return undefined;
  // Appends only: every entering rule comes after the last rule that stays.
  const lastKept = e.keepTo.lastIndexOf(true);
  for (let j = 0; j < lastKept; j++) if (!e.keepTo[j]) return undefined;
  return { deletes: l.ruleIds.flatMap((_, i) => (e.keepFrom[i] ? [] : [handles[i]])), appends: want.rules.slice(lastKept + 1) };
}

/** nftCleanup removes everything microseg owns in nftables: the table, whole ([] when it owns nothing). */
export function nftCleanup(enforcer: string, live: LiveRuleset): Transaction[] {
  if (live.sets.length === 0 && live.chains.length === 0) return [];
  // `add` first so the delete succeeds (idempotently) even if the table went away meanwhile.
  return [newNftTx(enforcer, 'full', 'remove table inet microseg').add('add', { type: 'table' }).add('delete', { type: 'table' }).build()];
}

/** WARMUP_RULE is the one conntrack rule of the warm-up transaction (Provider.conntrackWarmup). */
export const WARMUP_RULE = { id: 'conntrack-warmup', match: { ctState: ['established', 'related'] }, verdict: { kind: 'accept' } } as const;

/** nftWarmup: the first hooked chain, created unhooked, holding one `ct state` rule (see Provider.conntrackWarmup). */
export function nftWarmup(desired: DesiredRuleset): Transaction[] {
  const anchor = conntrackWarmupChain(desired);
  if (anchor === undefined) return [];
  const rule = { id: WARMUP_RULE.id, match: { ctState: [...WARMUP_RULE.match.ctState] }, verdict: { ...WARMUP_RULE.verdict } };
  const tx = newNftTx(desired.enforcer, 'delta', 'start connection tracking before the first ruleset (nothing jumps here; the full sync replaces the table)')
    .add('add', { type: 'table' })
    .add('add', { type: 'chain', name: anchor })
    .add('add', ruleObject(anchor, rule, new Map<string, AddressSet>()))
    .build();
  return [{ ...tx, separate: true }];
}

function count(n: number, what: string): string {
  return n === 0 ? '' : `${n} ${what}${n === 1 ? '' : 's'}`;
}
