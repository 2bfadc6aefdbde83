/**
 * Counter baselines for `microseg stats --since-apply`: each host's rule counters as they stood
 * when apply last changed it, kept in `DIR/.microseg/counters.json` beside the state (a separate
 * file, because counters are observations, not desired or applied state, and a large fleet's
 * would bloat every state write).
 *
 * What apply records (baselineAfterApply), rule by rule:
 * - a full sync rewrote every owned chain (nftables: the table is recreated; iptables: each
 *   restore's chain header flushes the chain), so every counter restarted at zero: baseline zero;
 * - otherwise the counters read back right after the transactions, for the chains the read-back
 *   listed with counters (nftables' partial read lists whole chains);
 * - otherwise the counters of the plan's read moments before (chains the delta did not touch keep
 *   counting through it, and iptables' partial read-back lists no counters); a rule the delta
 *   created starts at zero.
 * A counter found below its baseline was recreated since and counts from zero (stats.ts).
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { LiveRuleset } from '../../providers/types';
import { countersOf, liveCounters, type RuleCount } from '../../providers/counters';
import { atomicWriteFile, STATE_DIR } from '../state';
import type { HostCounters } from './stats';

export const BASELINE_FILE = 'counters.json';

/** baselineAfterApply: the counters to subtract for a host just applied (see the module comment). */
export function baselineAfterApply(fullSync: boolean, before: LiveRuleset | undefined, after: LiveRuleset): HostCounters {
  const out = new Map<string, ReadonlyMap<string, RuleCount>>();
  if (fullSync) return out;
  const earlier = before ? liveCounters(before) : new Map<string, ReadonlyMap<string, RuleCount>>();
  for (const c of after.chains) {
    const read = countersOf(c) ?? earlier.get(c.name);
    if (!read) continue;
    const ids = new Set(c.ruleIds);
    out.set(c.name, new Map([...read].filter(([id]) => ids.has(id))));
  }
  return out;
}

interface BaselineDoc {
  format_version: 1;
  hosts: Record<string, { at: string; chains: Record<string, Record<string, [number, number]>> }>;
}

function fileOf(dir: string): string {
  return path.join(dir, STATE_DIR, BASELINE_FILE);
}

/** readBaselines reads every host's baseline; hosts never applied since counters were kept have none (stats counts them from zero). */
export async function readBaselines(dir: string): Promise<Map<string, HostCounters>> {
  const doc = await readDoc(dir);
  const out = new Map<string, HostCounters>();
  for (const [host, h] of Object.entries(doc.hosts)) {
    out.set(host, new Map(Object.entries(h.chains).map(([chain, ids]) => [chain, new Map(Object.entries(ids).map(([id, [packets, bytes]]) => [id, { packets, bytes }]))])));
  }
  return out;
}

async function readDoc(dir: string): Promise<BaselineDoc> {
  let text: string;
  try {
    text = await fs.readFile(fileOf(dir), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { format_version: 1, hosts: {} };
    throw e;
  }
  const doc = JSON.parse(text) as BaselineDoc;
  if (doc?.format_version !== 1 || typeof doc.hosts !== 'object') throw new Error(`${fileOf(dir)} is not a microseg counters file (format_version 1)`);
  return doc;
}

/**
 * writeBaselines records the baselines of the hosts an apply changed (`set`) and forgets the
 * hosts it removed (`drop`); every other host keeps its baseline. Written atomically.
 */
export async function writeBaselines(dir: string, set: ReadonlyMap<string, HostCounters>, drop: readonly string[], at: Date = new Date()): Promise<void> {
  if (set.size === 0 && drop.length === 0) return;
  const doc = await readDoc(dir);
  for (const h of drop) delete doc.hosts[h];
  for (const [host, counters] of set) {
    const chains: Record<string, Record<string, [number, number]>> = {};
    for (const [chain, ids] of counters) chains[chain] = Object.fromEntries([...ids].map(([id, c]) => [id, [c.packets, c.bytes] as [number, number]]));
    doc.hosts[host] = { at: at.toISOString(), chains };
  }
  await fs.mkdir(path.dirname(fileOf(dir)), { recursive: true });
  await atomicWriteFile(fileOf(dir), JSON.stringify(doc, null, 1) + '\n');
}

/** recordApplied writes the baselines of an apply's outcomes: applied hosts get theirs, removed hosts lose theirs. */
export async function recordApplied(dir: string, hosts: ReadonlyArray<{ enforcer: string; status: string; counters?: HostCounters }>): Promise<void> {
  const set = new Map<string, HostCounters>();
  for (const h of hosts) if (h.status === 'applied' && h.counters) set.set(h.enforcer, h.counters);
  await writeBaselines(dir, set, hosts.filter((h) => h.status === 'removed').map((h) => h.enforcer));
}
