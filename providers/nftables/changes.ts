/**
 * Incremental rendering for nftables: the smallest `nft -f` transaction that turns the live table
 * inet microseg into `expected(desired)` (Provider.renderChanges).
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
import type { LiveChain, LiveRuleset } from '../types';
import { IR_NAME, checkName, checkText, diffOwned, ruleEdits, sameIds } from '../common';
import { NFT_FAMILY, NFT_TABLE, nftName } from './names';
import { ruleHandlesOf } from './read';
import { renderRule } from './render';

/** NftChanges is the outcome of planning an incremental nft transaction. */
export type NftChanges =
  | { kind: 'none' }
  | { kind: 'incremental'; script: string }
  | { kind: 'full'; reason: string };

const MAX_COMMENT = 128;
const T = `${NFT_FAMILY} ${NFT_TABLE}`;

/**
 * planNftChanges compares `want` (NftablesProvider.expected(desired)) with `live` and returns the
 * incremental script, nothing, or why only a full replace is safe.
 */
export function planNftChanges(desired: DesiredRuleset, want: LiveRuleset, live: LiveRuleset): NftChanges {
  if (live.backend !== 'nftables') return { kind: 'full', reason: `live state was read from ${live.backend}, not nftables` };
  for (const s of live.sets) if (!IR_NAME.test(s.name)) return { kind: 'full', reason: `set ${s.name} in our table was not written by microseg` };
  for (const c of live.chains) if (!IR_NAME.test(c.name)) return { kind: 'full', reason: `chain ${c.name} in our table was not written by microseg` };
  const liveChains = new Map(live.chains.map((c) => [c.name, c] as const));
  for (const w of want.chains) {
    const l = liveChains.get(w.name);
    if (l && l.hook !== w.hook) return { kind: 'full', reason: `chain ${w.name} changes hook from ${l.hook ?? 'none'} to ${w.hook ?? 'none'}` };
  }
  const d = diffOwned(want, live, sameChain);
  if (d.recreateSets.length > 0) return { kind: 'full', reason: d.recreateSets.map((r) => r.reason).join('; ') };

  const sets = new Map(desired.sets.map((s) => [s.name, s] as const));
  const chains = new Map(desired.chains.map((c) => [c.name, c] as const));
  const lines: string[] = [];
  if (live.sets.length === 0 && live.chains.length === 0) lines.push(`add table ${T}`);
  for (const w of d.newSets) lines.push(addSet(sets.get(w.name)!));
  for (const c of d.changedSets) {
    const name = nftName(c.want.name);
    if (c.add.length + c.del.length > c.want.elements.length) {
      // Refill: smaller than the delta, and atomic all the same (one batch).
      lines.push(`flush set ${T} ${name}`);
      if (c.want.elements.length > 0) lines.push(`add element ${T} ${name} { ${c.want.elements.join(', ')} }`);
    } else {
      if (c.del.length > 0) lines.push(`delete element ${T} ${name} { ${c.del.join(', ')} }`);
      if (c.add.length > 0) lines.push(`add element ${T} ${name} { ${c.add.join(', ')} }`);
    }
  }
  // A changed chain whose rule handles this process read is edited (deletions by handle, appends)
  // when no rule has to enter in the middle; otherwise (and for new chains) it is written whole.
  const edited: string[] = [];
  const editLines: { deletes: string[]; inserts: string[] } = { deletes: [], inserts: [] };
  for (const name of d.changedChains) {
    const ops = editChain(chains.get(name)!, liveChains.get(name)!, sets);
    if (!ops) continue;
    edited.push(name);
    editLines.deletes.push(...ops.deletes);
    editLines.inserts.push(...ops.inserts);
  }
  // Rules go in desired chain order (dispatch chains first), whichever list a chain came from.
  const whole = desired.chains.filter((c) => d.newChains.includes(c.name) || (d.changedChains.includes(c.name) && !edited.includes(c.name)));
  for (const name of d.newChains) lines.push(addChain(chains.get(name)!));
  const flushed = new Set<string>();
  for (const name of [...whole.filter((c) => !d.newChains.includes(c.name)).map((c) => c.name), ...d.orphanChains.map((c) => c.name)]) {
    if (flushed.has(name)) continue; // never flush the same chain twice in one transaction
    flushed.add(name);
    lines.push(`flush chain ${T} ${nftName(name)}`);
  }
  lines.push(...editLines.deletes);
  for (const c of whole) for (const r of c.rules) lines.push(`add rule ${T} ${nftName(c.name)} ${renderRule(r, sets)}`);
  lines.push(...editLines.inserts);
  for (const c of d.orphanChains) lines.push(`delete chain ${T} ${nftName(c.name)}`);
  for (const s of d.orphanSets) lines.push(`delete set ${T} ${nftName(s.name)}`);
  if (lines.length === 0) return { kind: 'none' };
  const what = [
    count(d.newSets.length, 'new set'),
    count(d.changedSets.length, 'changed set'),
    count(d.orphanSets.length, 'removed set'),
    count(d.newChains.length, 'new chain'),
    count(edited.length, 'edited chain'),
    count(d.changedChains.length - edited.length, 'rewritten chain'),
    count(d.orphanChains.length, 'removed chain'),
  ].filter((x) => x !== '');
  const head = `# microseg changes for enforcer ${sanitize(desired.enforcer)}: ${what.join(', ')}; everything else in table ${T} is left as it is`;
  return { kind: 'incremental', script: [head, ...lines].join('\n') + '\n' };
}

/**
 * editChain turns live chain `l` into `want` with deletions by handle and appends only, or returns
 * undefined when the chain must be rewritten whole instead: no handles were read, the chain holds
 * hand-added rules or repeated ids, a wanted rule has to enter before a rule that stays (that
 * would need `insert rule ... position H`, which is slow on a big table: see the module comment),
 * or the edit would name as many rules as the chain holds. Handles are unique for the table's
 * lifetime, so a stale plan cannot hit a different rule of the same table: the batch fails instead
 * and changes nothing (a table deleted and recreated in between restarts handles; apply re-reads
 * first).
 */
function editChain(want: Chain, l: LiveChain, sets: ReadonlyMap<string, AddressSet>): { deletes: string[]; inserts: string[] } | undefined {
  const handles = ruleHandlesOf(l);
  if (!handles || handles.length !== l.ruleIds.length || l.foreignRules !== 0) return undefined;
  const wantIds = want.rules.map((r) => r.id);
  const e = ruleEdits(l.ruleIds, wantIds);
  if (!e || e.deletes + e.inserts >= wantIds.length) return undefined;
  // Appends only: every entering rule comes after the last rule that stays.
  const lastKept = e.keepTo.lastIndexOf(true);
  for (let j = 0; j < lastKept; j++) if (!e.keepTo[j]) return undefined;
  const chain = `${T} ${nftName(want.name)}`;
  const deletes = l.ruleIds.flatMap((_, i) => (e.keepFrom[i] ? [] : [`delete rule ${chain} handle ${handles[i]}`]));
  const inserts = want.rules.slice(lastKept + 1).map((r) => `add rule ${chain} ${renderRule(r, sets)}`);
  return { deletes, inserts };
}

/** sameChain: same rule ids in the same order and no hand-added rules (hooks were checked before). */
function sameChain(w: LiveChain, l: LiveChain): boolean {
  return sameIds(w.ruleIds, l.ruleIds) && w.foreignRules === l.foreignRules;
}

function addSet(s: AddressSet): string {
  checkName('set', s.name);
  const parts = [`type ${s.family === 4 ? 'ipv4_addr' : 'ipv6_addr'};`, 'flags interval;'];
  if (s.comment !== undefined) {
    checkText(`comment of set ${s.name}`, s.comment, MAX_COMMENT);
    parts.push(`comment "${s.comment}";`);
  }
  // nft refuses `elements = { }`: an empty set is only declared.
  if (s.elements.length > 0) parts.push(`elements = { ${s.elements.join(', ')} };`);
  return `add set ${T} ${nftName(s.name)} { ${parts.join(' ')} }`;
}

function addChain(c: Chain): string {
  checkName('chain', c.name);
  const parts: string[] = [];
  if (c.comment !== undefined) {
    checkText(`comment of chain ${c.name}`, c.comment, MAX_COMMENT);
    parts.push(`comment "${c.comment}";`);
  }
  // Same base-chain shape as the full render: microseg never drops by policy.
  if (c.hook) parts.push(`type filter hook ${c.hook} priority filter; policy accept;`);
  return parts.length ? `add chain ${T} ${nftName(c.name)} { ${parts.join(' ')} }` : `add chain ${T} ${nftName(c.name)}`;
}

function count(n: number, what: string): string {
  return n === 0 ? '' : `${n} ${what}${n === 1 ? '' : 's'}`;
}

/** sanitize keeps a text printable and on one line, for `#` comments in scripts. */
export function sanitize(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, '?');
}
