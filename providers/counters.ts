/**
 * Rule counters as read back with the rules: how many packets (and bytes) each owned rule matched.
 *
 * Counters are kernel state that changes with every packet, so they are deliberately no part of a
 * LiveRuleset: not a field (fingerprints, plan comparisons and the `read(host)` deep-equality of
 * the real-kernel tests must not see them), but a side table keyed by the LiveChain a read
 * produced, like the rule handles (nftables/read.ts) and kernel ids (iptables/read.ts). Whatever
 * compares rules (src/plan/object-diff.ts compareRules) therefore never sees a counter, and
 * traffic cannot make a plan non-empty.
 *
 * They come from the same listing as the rules (`nft -j list table` prints each rule's `counter`
 * statement; `iptables-save -c` prefixes each rule with `[packets:bytes]`), so reading them costs
 * no extra round trip. An IR rule that became several kernel rules (iptables: one per family and
 * per multiport chunk `<id>#k/n`) counts the sum of its kernel rules; a packet matches at most one
 * of them, since they differ by family or by disjoint ports.
 */
import type { LiveChain, LiveRuleset } from './types';

/** RuleCount is what one owned rule (by IR id) matched since the kernel created it. */
export interface RuleCount {
  packets: number;
  bytes: number;
}

const COUNTERS = new WeakMap<LiveChain, ReadonlyMap<string, RuleCount>>();

/**
 * recordCounters remembers `counts` (kernel rule id → count, parts `<id>#k/n` folded to `<id>`)
 * for `chain`. A rule without a counter (nftables rules written by a microseg before counters)
 * is simply absent.
 */
export function recordCounters(chain: LiveChain, counts: ReadonlyMap<string, RuleCount>): void {
  COUNTERS.set(chain, counts);
}

/** countersOf is what a read in this process learned about `chain`'s counters (undefined: not read with counters). */
export function countersOf(chain: LiveChain): ReadonlyMap<string, RuleCount> | undefined {
  return COUNTERS.get(chain);
}

/** addCount adds `c` to the count of `id` in `into` (the part suffix `#k/n` removed). */
export function addCount(into: Map<string, RuleCount>, id: string, c: RuleCount): void {
  const key = id.replace(/#\d+\/\d+$/, '');
  const prev = into.get(key);
  into.set(key, prev ? { packets: prev.packets + c.packets, bytes: prev.bytes + c.bytes } : { ...c });
}

/** LiveCounters are the counters of a whole read: chain name → rule id → count. */
export type LiveCounters = Map<string, ReadonlyMap<string, RuleCount>>;

/** liveCounters collects the counters a read recorded for each chain of `live` (chains read without counters are absent). */
export function liveCounters(live: LiveRuleset): LiveCounters {
  const out: LiveCounters = new Map();
  for (const c of live.chains) {
    const m = COUNTERS.get(c);
    if (m) out.set(c.name, m);
  }
  return out;
}
