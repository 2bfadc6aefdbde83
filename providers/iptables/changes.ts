/**
 * Incremental rendering for iptables + ipset (Provider.renderChanges): only what differs between
 * the live host and `expected(desired)`, in the same step order as the full render (render.ts):
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
 * Chains: a chain differs when its merged (IPv4+IPv6) rule ids, hand-added rules or families
 * differ from `expected()`. Then, per family, it is EDITED when the live read carried the kernel
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
import type { LiveChain, LiveRuleset } from '../types';
import { ProviderError, checkName, diffOwned, ruleEdits, ruleFamily, sameIds, type SetDelta } from '../common';
import { BUILTIN, HOOK_COMMENT, TEMP_SUFFIX, chainName, setName } from './names';
import { kernelIdsOf } from './read';
import { ipsetCreateOptions, ipsetElement, ipsetRefill, renderRuleSpecs } from './render';

/** DEFAULT_MAXELEM is ipset's default maxelem; a bigger set must be recreated with its own. */
const DEFAULT_MAXELEM = 65536;

/** IptablesChanges is the outcome of planning an incremental iptables/ipset change. */
export type IptablesChanges =
  | { kind: 'none' }
  | {
      kind: 'incremental';
      /** Step (a), or '' when no set is created or patched. */
      ipsetBefore: string;
      /** Steps (b) and (c), or '' for a family with nothing to do. */
      tables: Record<Family, string>;
      /** Step (d), or ''. */
      ipsetAfter: string;
    }
  | { kind: 'full'; reason: string };

/** planIptablesChanges compares `want` (IptablesProvider.expected(desired)) with `live`. */
export function planIptablesChanges(desired: DesiredRuleset, want: LiveRuleset, live: LiveRuleset): IptablesChanges {
  if (live.backend !== want.backend) return { kind: 'full', reason: `live state was read from ${live.backend}, not ${want.backend}` };
  for (const s of live.sets) {
    if (s.name.includes(':')) return { kind: 'full', reason: `owned-looking set ${s.name} has a type microseg never creates` };
  }
  const d = diffOwned(want, live, sameChain);
  if (d.recreateSets.length > 0) return { kind: 'full', reason: d.recreateSets.map((r) => r.reason).join('; ') };

  // (a) sets
  const before: string[] = [];
  for (const s of d.newSets) {
    checkName('set', s.name);
    before.push(`create ${setName(s.name)} ${ipsetCreateOptions(s)}`);
    for (const e of s.elements) before.push(`add ${setName(s.name)} ${ipsetElement(s, e)}`);
  }
  const refilled = new Set<string>();
  for (const c of d.changedSets) {
    if (useSwap(c)) {
      refilled.add(c.want.name);
      before.push(...ipsetRefill(c.want));
      continue;
    }
    for (const e of c.del) before.push(`del ${setName(c.want.name)} ${e}`);
    for (const e of c.add) before.push(`add ${setName(c.want.name)} ${ipsetElement(c.want, e)}`);
  }

  // (b)/(c) tables
  const sets = new Map(desired.sets.map((s) => [s.name, s] as const));
  const rewrite = desired.chains.filter((c) => d.newChains.includes(c.name) || d.changedChains.includes(c.name));
  const liveChains = new Map(live.chains.map((c) => [c.name, c] as const));
  const tables = { 4: '', 6: '' } as Record<Family, string>;
  for (const family of [4, 6] as const) {
    const decl: string[] = [];
    const hookDeletes: string[] = [];
    const appends: string[] = [];
    const hookInserts: string[] = [];
    const removes: string[] = [];
    const ruleDeletes: string[] = [];
    const ruleInserts: string[] = [];
    const whole: Chain[] = [];
    for (const c of rewrite) {
      checkName('chain', c.name);
      const l = liveChains.get(c.name);
      const ops = l && d.changedChains.includes(c.name) ? editChain(c, l, family, sets) : undefined;
      if (ops === undefined) {
        whole.push(c);
        decl.push(`:${chainName(c.name)} - [0:0]`);
      } else {
        ruleDeletes.push(...ops.deletes);
        ruleInserts.push(...ops.inserts);
      }
    }
    const stale = d.orphanChains.filter((c) => !c.families || c.families.includes(family)).map((c) => c.name);
    // Flushing orphans first drops their references to each other, so -X cannot fail on
    // "chain is referenced" from within our own chains.
    for (const n of stale) decl.push(`:${chainName(n)} - [0:0]`);

    const wantHooks = new Map<Hook, string>();
    for (const c of desired.chains) {
      if (!c.hook) continue;
      if (wantHooks.has(c.hook)) throw new ProviderError(`two dispatch chains for hook ${c.hook}: ${wantHooks.get(c.hook)} and ${c.name}`, 'tool');
      wantHooks.set(c.hook, c.name);
    }
    const liveHooks = live.hooks.filter((h) => h.family === family && h.present);
    for (const hook of [...new Set<Hook>([...wantHooks.keys(), ...liveHooks.map((h) => h.hook)])].sort()) {
      const wanted = wantHooks.get(hook);
      const lh = liveHooks.find((h) => h.hook === hook);
      const targets = lh?.targets ?? [];
      if (wanted !== undefined && lh && lh.first && lh.count === 1 && targets.length === 1 && targets[0] === wanted) continue;
      for (const t of targets) hookDeletes.push(`-D ${hookRule(BUILTIN[hook], t)}`);
      if (wanted !== undefined) hookInserts.push(`-I ${BUILTIN[hook]} 1 -m comment --comment "${HOOK_COMMENT}" -j ${chainName(wanted)}`);
    }

    for (const c of whole) {
      for (const r of c.rules) {
        const fam = ruleFamily(r, sets);
        if (fam !== undefined && fam !== family) continue;
        for (const spec of renderRuleSpecs(r, family, sets)) appends.push(`-A ${chainName(c.name)} ${spec}`);
      }
    }
    for (const n of stale) removes.push(`-X ${chainName(n)}`);
    const body = [...decl, ...hookDeletes, ...ruleDeletes, ...appends, ...ruleInserts, ...hookInserts, ...removes];
    if (body.length > 0) tables[family] = ['*filter', ...body, 'COMMIT', ''].join('\n');
  }

  // (d) orphan sets; a leftover temp set of a set refilled in (a) is already destroyed there.
  const after = d.orphanSets
    .filter((s) => !(s.name.endsWith(TEMP_SUFFIX) && refilled.has(s.name.slice(0, -TEMP_SUFFIX.length))))
    .map((s) => `destroy ${setName(s.name)}`);

  if (before.length === 0 && after.length === 0 && tables[4] === '' && tables[6] === '') return { kind: 'none' };
  return {
    kind: 'incremental',
    ipsetBefore: before.length ? before.join('\n') + '\n' : '',
    tables,
    ipsetAfter: after.length ? after.join('\n') + '\n' : '',
  };
}

/**
 * editChain returns the `-D CHAIN n` / `-I CHAIN n spec` lines that turn live chain `l` into
 * `want` in one family: [] when that family already holds exactly the wanted kernel rules, or
 * undefined when the chain must be rewritten whole there (positions not read, chain missing in
 * this family, hand-added rules, repeated ids, or an edit no shorter than the rewrite).
 *
 * Rule numbers are computed for the restore's own sequence: deletions run from the highest
 * number down (each leaves the lower numbers valid), then insertions in ascending final position
 * (every rule before position n is already in its final place when rule n is inserted).
 * Positions come from the read this plan was made from; iptables has no handle to make a stale
 * position fail, so callers must re-read right before applying (apply does, by fingerprint).
 */
function editChain(want: Chain, l: LiveChain, family: Family, sets: ReadonlyMap<string, AddressSet>): { deletes: string[]; inserts: string[] } | undefined {
  const kernel = kernelIdsOf(l)?.[family];
  if (!kernel || !(l.families ?? []).includes(family)) return undefined;
  const entries: Array<{ id: string; spec: string }> = [];
  for (const r of want.rules) {
    const fam = ruleFamily(r, sets);
    if (fam !== undefined && fam !== family) continue;
    const specs = renderRuleSpecs(r, family, sets);
    specs.forEach((spec, i) => entries.push({ id: specs.length === 1 ? r.id : `${r.id}#${i + 1}/${specs.length}`, spec }));
  }
  const e = ruleEdits(kernel, entries.map((x) => x.id));
  if (!e) return undefined;
  if (e.deletes + e.inserts === 0) return { deletes: [], inserts: [] };
  if (e.deletes + e.inserts >= entries.length) return undefined;
  const name = chainName(want.name);
  const deletes: string[] = [];
  for (let i = kernel.length - 1; i >= 0; i--) if (!e.keepFrom[i]) deletes.push(`-D ${name} ${i + 1}`);
  const inserts: string[] = [];
  entries.forEach((x, j) => {
    if (!e.keepTo[j]) inserts.push(`-I ${name} ${j + 1} ${x.spec}`);
  });
  return { deletes, inserts };
}

/** sameChain: same merged rule ids, no hand-added rules, present in both families. */
function sameChain(w: LiveChain, l: LiveChain): boolean {
  return sameIds(w.ruleIds, l.ruleIds) && w.foreignRules === l.foreignRules && sameIds((w.families ?? []).map(String), (l.families ?? []).map(String));
}

function useSwap(c: SetDelta): boolean {
  return (
    c.add.length + c.del.length >= c.want.elements.length ||
    c.want.elements.length > DEFAULT_MAXELEM ||
    c.live.elements.some((e) => e.startsWith('!'))
  );
}

/**
 * hookRule is the exact spec of a hook jump (render.ts hookSpec) for a read-back target: an owned
 * chain, or `iptables:<target>` when our hook jumps somewhere microseg does not own (read.ts), in
 * which case the raw target is what the kernel holds.
 */
function hookRule(builtin: string, target: string): string {
  const jump = target.startsWith('iptables:') ? target.slice('iptables:'.length) : chainName(target);
  return `${builtin} -m comment --comment "${HOOK_COMMENT}" -j ${jump}`;
}
