/**
 * Reading table inet microseg back from `nft -j list table inet microseg` into a LiveRuleset.
 *
 * Only the table's own objects are read. Rule ids come only from `microseg:<id>` comments. Rule
 * bodies are read into a normal form (body.ts) only to compare them with what the IR renders:
 * the id names a rule, the body says what it does, and a hand-replaced body under our comment is
 * drift. The form folds the spellings nft versions vary in; anything else is a difference.
 * Set elements are normalised to canonical CIDRs, since nft prints a single address without
 * `/32`, a prefix as {prefix:{addr,len}} and any interval that is not one prefix as a range.
 */
import type { AddressSet, Hook } from '../../src/compile/ir';
import type { LiveChain, LiveHook, LiveRuleset } from '../types';
import { ProviderError, canonicalLive, normaliseCidr, rangeToCidrs } from '../common';
import { NFT_FAMILY, NFT_TABLE, irNameOf } from './names';
import { COMMENT_PREFIX } from './render';
import { addCount, recordCounters, type RuleCount } from '../counters';
import { bodyOfExpr } from './body';

type Json = Record<string, unknown>;

/** TABLE_ABSENT matches nft's message when the table does not exist (exit status 1). */
export const TABLE_ABSENT = /No such file or directory/;

/**
 * RULE_HANDLES remembers, for each LiveChain a read produced, the kernel handle of each of its
 * rules (parallel to `ruleIds`). It is deliberately not a field: handles are no part of the owned
 * state (expected() cannot know them, fingerprints and plan comparisons must ignore them), they
 * only let renderChanges delete and position single rules. A chain that went through a copy (a
 * plan file, structuredClone) has none, and renderChanges then rewrites it whole.
 */
const RULE_HANDLES = new WeakMap<LiveChain, readonly number[]>();

/** ruleHandlesOf returns the kernel handles of a live chain's rules, when this process read them. */
export function ruleHandlesOf(chain: LiveChain): readonly number[] | undefined {
  return RULE_HANDLES.get(chain);
}

/** emptyLive is the LiveRuleset of a host where microseg owns nothing. */
export function emptyLive(): LiveRuleset {
  return canonicalLive({ backend: 'nftables', sets: [], chains: [], hooks: [] });
}

/**
 * BaseChainInfo is one base chain anywhere in the ruleset (from `nft -j list chains`), used to
 * decide whether our base chain runs first at its hook.
 */
export interface BaseChainInfo {
  family: string;
  table: string;
  hook: string;
  prio: number;
  /** `filter`, `nat` or `route`; absent in older listings, taken as `filter`. */
  type?: string;
}

/**
 * parseNftTable turns the JSON of our table into a LiveRuleset. `allBaseChains` (optional) lets
 * `first` say whether a foreign base chain at the same hook runs before ours (lower priority in
 * the ip, ip6 or inet family): such a chain could drop or accept-and-skip nothing, but it can drop
 * traffic before microseg sees it, which plan shows as drift.
 */
export function parseNftTable(json: string, allBaseChains: readonly BaseChainInfo[] = []): LiveRuleset {
  let doc: { nftables?: Json[] };
  try {
    doc = JSON.parse(json) as { nftables?: Json[] };
  } catch (e) {
    throw new ProviderError(`cannot parse nft -j output: ${(e as Error).message}`, 'kernel');
  }
  const sets: AddressSet[] = [];
  const chains = new Map<string, LiveChain & { prio?: number }>();
  const handles = new Map<string, number[] | undefined>();
  const counts = new Map<string, Map<string, RuleCount>>();
  const order: string[] = [];
  for (const item of doc.nftables ?? []) {
    if (item.set) {
      const s = item.set as Json;
      if (s.table !== NFT_TABLE || s.family !== NFT_FAMILY) continue;
      sets.push(parseSet(s));
    } else if (item.chain) {
      const c = item.chain as Json;
      if (c.table !== NFT_TABLE || c.family !== NFT_FAMILY) continue;
      const name = irNameOf(String(c.name));
      const lc: LiveChain & { prio?: number } = { name, ruleIds: [], foreignRules: 0, rules: [] };
      if (typeof c.hook === 'string' && isHook(c.hook)) {
        lc.hook = c.hook;
        lc.prio = typeof c.prio === 'number' ? c.prio : 0;
      }
      chains.set(String(c.name), lc);
      handles.set(lc.name, []);
      order.push(String(c.name));
    } else if (item.rule) {
      const r = item.rule as Json;
      if (r.table !== NFT_TABLE || r.family !== NFT_FAMILY) continue;
      const c = chains.get(String(r.chain));
      if (!c) continue;
      const comment = typeof r.comment === 'string' ? r.comment : '';
      if (comment.startsWith(COMMENT_PREFIX)) {
        const id = comment.slice(COMMENT_PREFIX.length);
        c.ruleIds.push(id);
        const n = counterOf(r.expr);
        if (n) {
          const m = counts.get(c.name) ?? new Map<string, RuleCount>();
          counts.set(c.name, m);
          addCount(m, id, n);
        }
        c.rules!.push(`${id} ${bodyOfExpr(r.expr)}`);
        const h = handles.get(c.name);
        if (h && typeof r.handle === 'number') h.push(r.handle);
        else handles.set(c.name, undefined); // no handle in the JSON: positions unknown
      } else c.foreignRules++;
    }
  }
  const hooks = hooksOf([...chains.values()], allBaseChains);
  const liveChains = [...chains.values()].map(({ prio: _prio, ...c }) => {
    const h = handles.get(c.name);
    if (h && h.length === c.ruleIds.length) RULE_HANDLES.set(c, h);
    recordCounters(c, counts.get(c.name) ?? new Map());
    return c;
  });
  return canonicalLive({ backend: 'nftables', sets, chains: liveChains, hooks });
}

/**
 * hooksOf reports the hooks of our base chains (`ours`: IR name, hook, priority), each once per
 * family — an inet base chain sees both, reported like iptables' per-family jumps — with `first`
 * false when a foreign base chain (ip, ip6 or inet) at the same hook has a lower priority.
 */
function hooksOf(ours: ReadonlyArray<{ name: string; hook?: Hook; prio?: number }>, allBaseChains: readonly BaseChainInfo[]): LiveHook[] {
  const hooks: LiveHook[] = [];
  for (const c of ours) {
    if (!c.hook) continue;
    const ourPrio = c.prio ?? 0;
    // A nat chain is not "before us": it rewrites addresses of a connection's first packet and
    // does not filter (iptables refuses DROP in its nat table). Every host where Docker or
    // kube-proxy uses iptables-nft has `ip nat` OUTPUT at priority -100 (dstnat), which would
    // otherwise be drift that no apply can repair (test/netns/docker.test.ts). Docker's DNAT at
    // prerouting -100 is what lets forward-path rules see the container's address.
    const earlier = allBaseChains.some(
      (b) => b.hook === c.hook && b.prio < ourPrio && b.type !== 'nat' && b.table !== NFT_TABLE && ['ip', 'ip6', 'inet'].includes(b.family),
    );
    for (const family of [4, 6] as const) hooks.push({ hook: c.hook, family, present: true, first: !earlier, count: 1, targets: [c.name] });
  }
  return hooks;
}

/**
 * OwnChainList is what `nft -j list chains` says about table inet microseg, for a partial read:
 * the IR name of every chain in it (with the hook and priority of base chains), the hooks that
 * follow from them, and every base chain of the ruleset. It costs a few milliseconds where
 * `list table` of 10,000 rules costs ~300 ms, because no rule is listed.
 */
export interface OwnChainList {
  names: string[];
  hooks: LiveHook[];
  baseChains: BaseChainInfo[];
}

/** parseChainList reads `nft -j list chains` (every chain of every table, no rules). */
export function parseChainList(json: string): OwnChainList {
  let doc: { nftables?: Json[] };
  try {
    doc = JSON.parse(json) as { nftables?: Json[] };
  } catch (e) {
    throw new ProviderError(`cannot parse nft -j list chains output: ${(e as Error).message}`, 'kernel');
  }
  const ours: Array<{ name: string; hook?: Hook; prio?: number }> = [];
  for (const item of doc.nftables ?? []) {
    const c = item.chain as Json | undefined;
    if (!c || c.table !== NFT_TABLE || c.family !== NFT_FAMILY) continue;
    const own: { name: string; hook?: Hook; prio?: number } = { name: irNameOf(String(c.name)) };
    if (typeof c.hook === 'string' && isHook(c.hook)) {
      own.hook = c.hook;
      own.prio = typeof c.prio === 'number' ? c.prio : 0;
    }
    ours.push(own);
  }
  const baseChains = parseBaseChains(json);
  return { names: ours.map((c) => c.name), hooks: hooksOf(ours, baseChains), baseChains };
}

/** counterOf finds the anonymous `counter` statement of a rule's JSON expression list (nft prints its packets and bytes). */
function counterOf(expr: unknown): RuleCount | undefined {
  if (!Array.isArray(expr)) return undefined;
  for (const e of expr) {
    const c = (e as Json | null)?.counter as Json | undefined;
    if (c && typeof c.packets === 'number' && typeof c.bytes === 'number') return { packets: c.packets, bytes: c.bytes };
  }
  return undefined;
}

function isHook(h: string): h is Hook {
  return h === 'input' || h === 'output' || h === 'forward';
}

function parseSet(s: Json): AddressSet {
  const family = s.type === 'ipv4_addr' ? 4 : s.type === 'ipv6_addr' ? 6 : undefined;
  const name = irNameOf(String(s.name));
  if (family === undefined) {
    // Not a set microseg would write; report it under a name plan can never match, as an orphan.
    return { name: `${name}:${String(s.type)}`, family: 4, elements: [] };
  }
  const elements: string[] = [];
  for (const raw of (s.elem as unknown[] | undefined) ?? []) elements.push(...parseElem(raw));
  const out: AddressSet = { name, family, elements };
  if (typeof s.comment === 'string') out.comment = s.comment;
  return out;
}

/** parseElem normalises one JSON set element to CIDRs. */
export function parseElem(raw: unknown): string[] {
  if (typeof raw === 'string') return [normaliseCidr(raw)];
  if (raw && typeof raw === 'object') {
    const o = raw as Json;
    // Elements with per-element options (timeout, comment) are wrapped: {elem: {val: ...}}.
    if (o.elem) return parseElem((o.elem as Json).val);
    if (o.prefix) {
      const p = o.prefix as Json;
      return [normaliseCidr(`${String(p.addr)}/${Number(p.len)}`)];
    }
    if (Array.isArray(o.range)) return rangeToCidrs(String(o.range[0]), String(o.range[1]));
  }
  throw new ProviderError(`unexpected nft set element ${JSON.stringify(raw)}`, 'kernel');
}

/** parseBaseChains extracts every base chain from `nft -j list chains`. */
export function parseBaseChains(json: string): BaseChainInfo[] {
  let doc: { nftables?: Json[] };
  try {
    doc = JSON.parse(json) as { nftables?: Json[] };
  } catch {
    return [];
  }
  const out: BaseChainInfo[] = [];
  for (const item of doc.nftables ?? []) {
    const c = item.chain as Json | undefined;
    if (!c || typeof c.hook !== 'string') continue;
    out.push({
      family: String(c.family),
      table: String(c.table),
      hook: c.hook,
      prio: typeof c.prio === 'number' ? c.prio : 0,
      ...(typeof c.type === 'string' ? { type: c.type } : {}),
    });
  }
  return out;
}
