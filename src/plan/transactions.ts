/**
 * planTransactions: what apply will send to one host, decided at plan time from the host's
 * ObjectDiff (so a saved plan carries it, `show` prints it, and an agent could receive it).
 *
 * - Decommission: the provider's cleanup of everything the host holds.
 * - A host that owns nothing: the conntrack warm-up, then the full sync (a delta from nothing
 *   names every object too, one edit line at a time).
 * - Otherwise the provider's minimal transactions for the diff, unless the provider says only a
 *   full sync is safe, or the full sync is smaller than the delta (a fresh table, most of it
 *   changed: one edit line per rule instead of one table block gains nothing and costs the kernel
 *   more). Both leave the host in the same state.
 *
 * A delta also fixes the read-back scope: the objects of the diff, which apply re-reads to verify it.
 */
import type { DesiredRuleset } from '../compile/ir';
import type { Transaction } from '../../providers/transaction';
import type { ChangePlan, LiveRuleset, ObjectDiff, Provider, ReadScope, ScriptStep } from '../../providers/types';
import { expectedOf } from '../../providers/common';
import { diffObjects, readScopeOf } from './object-diff';

/** PlannedTransactions are the apply-driving fields planTransactions sets on a HostPlan. */
export interface PlannedTransactions {
  transactions: Transaction[];
  read_scope?: ReadScope;
}

/** planTransactions plans one reachable host's transactions (`desired` undefined: decommission). */
export function planTransactions(provider: Provider, desired: DesiredRuleset | undefined, diff: ObjectDiff, enforcer: string): PlannedTransactions {
  const live = diff.live;
  if (!desired) return { transactions: provider.cleanup(live, enforcer) };
  if (!ownsAnything(live)) {
    // A host where microseg owns nothing may not track connections yet: start tracking in a
    // transaction of its own first, so sessions already open survive the ruleset (Provider.conntrackWarmup).
    return { transactions: [...provider.conntrackWarmup(desired), ...provider.fullSync(desired, live, 'microseg owns nothing on the host yet')] };
  }
  const change = provider.changes(desired, diff);
  if (change.kind === 'full') return { transactions: provider.fullSync(desired, live, change.reason) };
  const delta = change.transactions;
  if (delta.length === 0) return { transactions: [], read_scope: readScopeOf(diff) };
  // Serialising the full sync only to learn that it is bigger costs as much as the delta itself at
  // 10,000 rules; a full script names every rule id in a `microseg:<id>` comment, so a delta
  // smaller than that alone is smaller than the full script.
  const deltaBytes = bytesOf(provider, delta);
  if (deltaBytes >= fullBytesLowerBound(desired)) {
    const full = provider.fullSync(desired, live, 'the full sync is smaller than the delta');
    if (bytesOf(provider, full) < deltaBytes) return { transactions: full };
  }
  return { transactions: delta, read_scope: readScopeOf(diff) };
}

/** ownsAnything: does a read-back hold any owned set, chain or hook? */
export function ownsAnything(live: LiveRuleset): boolean {
  return live.sets.length > 0 || live.chains.length > 0 || live.hooks.some((h) => h.present);
}

/** describeOwned lists owned objects briefly (for error messages). */
export function describeOwned(live: LiveRuleset): string {
  const parts = [
    ...live.chains.map((c) => `chain ${c.name}`),
    ...live.sets.map((s) => `set ${s.name}`),
    ...live.hooks.filter((h) => h.present).map((h) => `hook ${h.hook}/ipv${h.family}`),
  ];
  return parts.join(', ') || 'nothing';
}

/** bytesOf is what `txs` weigh serialised (the stdin each tool reads). */
export function bytesOf(provider: Provider, txs: readonly Transaction[]): number {
  return txs.reduce((n, tx) => n + Buffer.byteLength(provider.serialize(tx).stdin), 0);
}

/** fullBytesLowerBound: every provider's full script carries `"microseg:<id>"` for each rule at least once. */
function fullBytesLowerBound(desired: DesiredRuleset): number {
  let n = 0;
  for (const c of desired.chains) for (const r of c.rules) n += r.id.length + '"microseg:"'.length;
  return n;
}

/**
 * changesFor is Provider.changes for `desired` over `live` with the host's ObjectDiff computed
 * here (tests and benchmarks; plan computes the diff once and reuses it).
 */
export function changesFor(provider: Provider, desired: DesiredRuleset, live: LiveRuleset): ChangePlan {
  return provider.changes(desired, diffObjects(expectedOf(provider, desired), live));
}

/** scriptsOf serialises `txs` with their provider, in order (what the tools would read). */
export function scriptsOf(provider: Provider, txs: readonly Transaction[]): ScriptStep[] {
  return txs.map((tx) => provider.serialize(tx));
}
