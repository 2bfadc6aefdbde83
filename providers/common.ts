/**
 * Helpers shared by the real dataplane providers (nftables, iptables): address/CIDR arithmetic
 * for reading sets back, rule-family inference, canonical LiveRuleset ordering and fingerprint,
 * name checks, partial-read merging and rule-edit planning shared by both change planners.
 *
 * Everything here is pure.
 */
import { createHash } from 'crypto';
import * as ipaddr from 'ipaddr.js';
import type { AddressSet, DesiredRuleset, Family, Rule } from '../src/compile/ir';
import type { LiveRuleset, PartialLive, Provider, ReadScope } from './types';
import { canonicalJson } from '../src/canonical-json';

const BRAND = Symbol.for('microseg.ProviderError');

/**
 * ProviderError is a failure to render IR for a backend (source `tool`: the IR asks for something
 * this backend cannot express exactly) or a failed step on a host (source `kernel`). Rendering
 * never widens or drops a rule to get past a limit; it fails instead.
 */
export class ProviderError extends Error {
  readonly [BRAND] = true;
  constructor(
    message: string,
    readonly source: 'tool' | 'kernel',
    readonly detail?: { step?: number; argv?: readonly string[]; stderr?: string; stdin?: string },
  ) {
    super(message);
    this.name = 'ProviderError';
  }

  static isInstance(e: unknown): e is ProviderError {
    return typeof e === 'object' && e !== null && (e as Record<symbol, unknown>)[BRAND] === true;
  }
}

/** IR_NAME is the IR's logical name shape (ir.ts): lowercase, digits, '-', at most 23 characters. */
export const IR_NAME = /^[a-z0-9][a-z0-9-]{0,22}$/;

/** RULE_ID is what providers accept as a rule id: it is written verbatim into a comment, so no quotes or spaces. */
export const RULE_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** checkName throws unless `name` is a valid IR name (so prefixed kernel names stay under their caps). */
export function checkName(kind: 'set' | 'chain', name: string): void {
  if (!IR_NAME.test(name)) {
    throw new ProviderError(`${kind} name ${JSON.stringify(name)} is not an IR name ([a-z0-9-], at most 23 characters)`, 'tool');
  }
}

/** checkRuleId throws unless `id` can be written into a `microseg:<id>` comment unquoted. */
export function checkRuleId(id: string): void {
  if (!RULE_ID.test(id)) throw new ProviderError(`rule id ${JSON.stringify(id)} must match ${RULE_ID}`, 'tool');
}

/** checkElement throws unless `e`, a member of set `set`, is a CIDR in canonical form (what the IR holds and reads return). */
export function checkElement(set: string, e: string): void {
  let canonical: string;
  try {
    canonical = normaliseCidr(e);
  } catch {
    throw new ProviderError(`set ${set}: element ${JSON.stringify(e)} is not a CIDR`, 'tool');
  }
  if (canonical !== e) throw new ProviderError(`set ${set}: element ${e} is not canonical (${canonical})`, 'tool');
}

/** checkText throws unless `text` is safe inside a double-quoted string of nft and iptables-restore. */
export function checkText(what: string, text: string, maxLen: number): void {
  if (text.length > maxLen || /["\\\n\r\t]/.test(text) || /[^\x20-\x7e]/.test(text)) {
    throw new ProviderError(`${what} ${JSON.stringify(text)} must be printable ASCII without quotes or backslashes, at most ${maxLen} characters`, 'tool');
  }
}

// ---------------------------------------------------------------------------------------------
// Addresses

/** addrFamily returns 4 or 6 for a literal address or CIDR, or throws. */
export function addrFamily(addrOrCidr: string): Family {
  const a = addrOrCidr.split('/')[0];
  if (!ipaddr.isValid(a)) throw new ProviderError(`invalid address ${JSON.stringify(addrOrCidr)}`, 'tool');
  return ipaddr.parse(a).kind() === 'ipv4' ? 4 : 6;
}

const BITS: Record<Family, number> = { 4: 32, 6: 128 };

/**
 * V4_PLAIN is dotted-quad IPv4 exactly as the kernel tools print it (decimal, no leading zeros).
 * Such text means the same to ipaddr.parse, so addrToBig and bigToAddr handle it without ipaddr:
 * a read of a host parses every set member, and ipaddr was most of that time on a fleet-wide plan.
 * Anything else (IPv6, or IPv4 forms ipaddr reads differently, like `010.0.0.1` as octal) still
 * goes through ipaddr.
 */
const V4_PLAIN = /^(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})$/;

function plainV4(addr: string): number | undefined {
  const m = V4_PLAIN.exec(addr);
  if (!m) return undefined;
  let v = 0;
  for (let i = 1; i <= 4; i++) {
    const o = Number(m[i]);
    if (o > 255) return undefined;
    v = v * 256 + o;
  }
  return v;
}

/** addrToBig parses an address literal to its integer value. */
export function addrToBig(addr: string): { family: Family; value: bigint } {
  const v4 = plainV4(addr);
  if (v4 !== undefined) return { family: 4, value: BigInt(v4) };
  const ip = ipaddr.parse(addr);
  let v = 0n;
  for (const b of ip.toByteArray()) v = (v << 8n) | BigInt(b);
  return { family: ip.kind() === 'ipv4' ? 4 : 6, value: v };
}

/** bigToAddr formats an integer as an address of `family` (IPv6 in RFC 5952 form, as the IR uses). */
export function bigToAddr(family: Family, value: bigint): string {
  if (family === 4 && value >= 0n && value <= 0xffffffffn) {
    const v = Number(value);
    return `${Math.floor(v / 0x1000000)}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
  }
  const n = BITS[family] / 8;
  const bytes: number[] = [];
  for (let i = n - 1; i >= 0; i--) bytes.push(Number((value >> BigInt(i * 8)) & 0xffn));
  const ip = ipaddr.fromByteArray(bytes);
  return ip.kind() === 'ipv6' ? (ip as ipaddr.IPv6).toRFC5952String() : ip.toString();
}

/** normaliseCidr turns `a.b.c.d`, `a.b.c.d/n` or an IPv6 form into canonical `addr/len` with host bits cleared. */
export function normaliseCidr(text: string): string {
  const [addr, lenText] = text.split('/');
  const { family, value } = addrToBig(addr);
  const len = lenText === undefined ? BITS[family] : Number(lenText);
  if (!Number.isInteger(len) || len < 0 || len > BITS[family]) throw new ProviderError(`invalid prefix length in ${text}`, 'tool');
  const hostBits = BigInt(BITS[family] - len);
  return `${bigToAddr(family, (value >> hostBits) << hostBits)}/${len}`;
}

/**
 * rangeToCidrs splits the inclusive address range [first, last] into the minimal list of CIDRs,
 * ascending. nft prints an interval-set element as a range when it is not a single prefix (and
 * may print adjacent prefixes merged as one range on some versions), so read-back converts every
 * range back to the CIDRs the IR holds.
 */
export function rangeToCidrs(first: string, last: string): string[] {
  const a = addrToBig(first);
  const b = addrToBig(last);
  if (a.family !== b.family || a.value > b.value) throw new ProviderError(`invalid range ${first}-${last}`, 'kernel');
  const bits = BITS[a.family];
  const out: string[] = [];
  let lo = a.value;
  while (lo <= b.value) {
    // Largest block aligned at lo that does not run past the end of the range.
    let size = 0;
    while (size < bits && ((lo >> BigInt(size)) & 1n) === 0n && lo + (1n << BigInt(size + 1)) - 1n <= b.value) size++;
    out.push(`${bigToAddr(a.family, lo)}/${bits - size}`);
    lo += 1n << BigInt(size);
  }
  return out;
}

/** sortCidrs orders canonical CIDRs by address, then prefix length, as the IR does. */
export function sortCidrs(cidrs: readonly string[]): string[] {
  // Each member is parsed once, not once per comparison.
  const keyed = cidrs.map((c) => {
    const [a, l] = c.split('/');
    return { c, v: addrToBig(a).value, l: Number(l) };
  });
  keyed.sort((a, b) => (a.v < b.v ? -1 : a.v > b.v ? 1 : a.l - b.l));
  return keyed.map((k) => k.c);
}

// ---------------------------------------------------------------------------------------------
// Rules

/**
 * ruleFamily returns the single family a rule applies to (from `family`, its sets, addresses or
 * ICMP protocol), or undefined when it applies to both. Conflicting hints are an IR bug: we refuse
 * to render rather than silently pick one.
 */
export function ruleFamily(rule: Rule, sets: ReadonlyMap<string, AddressSet>): Family | undefined {
  const m = rule.match;
  const hints: Array<[string, Family]> = [];
  if (m.family) hints.push(['family', m.family]);
  for (const [what, sm] of [['srcSet', m.srcSet], ['dstSet', m.dstSet]] as const) {
    if (!sm) continue;
    const s = sets.get(sm.set);
    if (!s) throw new ProviderError(`rule ${rule.id} references unknown set ${sm.set}`, 'tool');
    hints.push([what, s.family]);
  }
  if (m.srcAddr) hints.push(['srcAddr', addrFamily(m.srcAddr)]);
  if (m.dstAddr) hints.push(['dstAddr', addrFamily(m.dstAddr)]);
  if (m.protocol === 'icmp') hints.push(['protocol', 4]);
  if (m.protocol === 'icmpv6') hints.push(['protocol', 6]);
  const fams = new Set(hints.map((h) => h[1]));
  if (fams.size > 1) {
    throw new ProviderError(`rule ${rule.id} mixes IPv4 and IPv6 (${hints.map(([w, f]) => `${w}: v${f}`).join(', ')})`, 'tool');
  }
  return hints[0]?.[1];
}

// ---------------------------------------------------------------------------------------------
// LiveRuleset

/**
 * canonicalLive sorts a LiveRuleset (sets and chains by name, set elements by address, hooks by
 * hook then family) and recomputes its fingerprint, so a live read and a provider's expectation of
 * the same state compare equal with plain deep equality.
 */
export function canonicalLive(live: Omit<LiveRuleset, 'fingerprint'>): LiveRuleset {
  return canonicalOrder(live, true);
}

/**
 * canonicalOrder is canonicalLive; `sortElements` false skips re-sorting set members, for sets
 * that already come from a canonical LiveRuleset (sorting parses every member: at thousands of
 * members that is most of the cost).
 */
function canonicalOrder(live: Omit<LiveRuleset, 'fingerprint'>, sortElements: boolean): LiveRuleset {
  // Without re-sorting, a set object is kept as it is (never copied): a merged view then shares
  // its untouched objects with the full read or expectation it came from, which lets diffHost
  // skip them by identity.
  const sets = (sortElements ? live.sets.map((s) => ({ ...s, elements: sortCidrs(s.elements) })) : [...live.sets]).sort((a, b) => cmp(a.name, b.name));
  const chains = [...live.chains].sort((a, b) => cmp(a.name, b.name));
  const hooks = [...live.hooks].sort((a, b) => cmp(a.hook, b.hook) || a.family - b.family);
  const body = { backend: live.backend, sets, chains, hooks };
  return { ...body, fingerprint: fingerprintOf(body) };
}

/**
 * mergePartial lays a partial read over `base`, a full read of the same host: the objects of
 * `scope` and every hook come from `part`; every other set and chain is taken from `base`
 * unchanged. Returns undefined when the two cannot be combined honestly — another backend, or
 * (when the provider listed them) an owned chain outside the scope that appeared or vanished since
 * `base`, or (iptables, `chainFamilies`) appeared or vanished in one family — so the caller reads
 * the host whole instead. A provider that cannot list its chains cheaply gives neither list, and
 * then a chain created or deleted outside the scope is not seen here (the next plan's full read
 * reports it). The result is canonical (canonicalLive), so
 * its fingerprint is the one a full read of the same kernel state gives.
 */
export function mergePartial(base: LiveRuleset, scope: ReadScope, part: PartialLive): LiveRuleset | undefined {
  if (part.backend !== base.backend) return undefined;
  const inChains = new Set(scope.chains);
  const inSets = new Set(scope.sets);
  if (part.chains.some((c) => !inChains.has(c.name)) || part.sets.some((s) => !inSets.has(s.name))) return undefined;
  const chains = [...base.chains.filter((c) => !inChains.has(c.name)), ...part.chains];
  const sets = [...base.sets.filter((s) => !inSets.has(s.name)), ...part.sets];
  if (part.chainNames) {
    const now = new Set(part.chainNames);
    if (now.size !== chains.length || chains.some((c) => !now.has(c.name))) return undefined;
  }
  if (part.chainFamilies) {
    const fams = part.chainFamilies;
    const same = (a: ReadonlyArray<4 | 6> | undefined, b: ReadonlyArray<4 | 6> | undefined) =>
      a !== undefined && b !== undefined && a.length === b.length && [...a].sort().every((f, i) => f === [...b].sort()[i]);
    if (Object.keys(fams).length !== chains.length || chains.some((c) => !same(c.families, fams[c.name]))) return undefined;
  }
  // Every set here comes from a canonical read (base, or the provider's parse of the partial
  // read), so its members are already in canonical order.
  return canonicalOrder({ backend: base.backend, sets, chains, hooks: part.hooks }, false);
}

/** fingerprintOf hashes the canonical owned state (PRACTICES 12: refuse stale saved plans). */
export function fingerprintOf(body: unknown): string {
  return createHash('sha256').update(canonicalJson(body)).digest('hex').slice(0, 16);
}


function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

// ---------------------------------------------------------------------------------------------
// Incremental changes

/** sortCidrsLenient is sortCidrs that keeps unparsable members (e.g. ipset `!cidr` nomatch markers) last, in input order. */
export function sortCidrsLenient(cidrs: readonly string[]): string[] {
  const ok = cidrs.filter((c) => /^[0-9a-fA-F:.]+\/\d+$/.test(c));
  const odd = cidrs.filter((c) => !/^[0-9a-fA-F:.]+\/\d+$/.test(c));
  return [...sortCidrs(ok), ...odd];
}

/**
 * RuleEdits says which rules of a live chain stay (`keepFrom`, by live index) and which wanted
 * rules are already there (`keepTo`, by wanted index); everything else is deleted or inserted.
 */
export interface RuleEdits {
  keepFrom: boolean[];
  keepTo: boolean[];
  deletes: number;
  inserts: number;
}

/**
 * ruleEdits finds the fewest deletions and insertions that turn the id list `from` into `to`: the
 * kept rules are a longest common subsequence, found as the longest increasing run of `to`
 * positions over `from` (O(n log n); exact because ids are unique). Returns undefined when either
 * list repeats an id, since positions would then be ambiguous (callers rewrite the chain whole).
 */
export function ruleEdits(from: readonly string[], to: readonly string[]): RuleEdits | undefined {
  const toIndex = new Map<string, number>();
  for (let j = 0; j < to.length; j++) {
    if (toIndex.has(to[j])) return undefined;
    toIndex.set(to[j], j);
  }
  if (new Set(from).size !== from.length) return undefined;
  // Patience-style LIS over (from index i, to index j) pairs, j strictly increasing.
  const pairs: Array<[number, number]> = [];
  for (let i = 0; i < from.length; i++) {
    const j = toIndex.get(from[i]);
    if (j !== undefined) pairs.push([i, j]);
  }
  const tails: number[] = []; // tails[k]: index into pairs of the smallest tail of a run of length k+1
  const prev: number[] = new Array(pairs.length).fill(-1);
  for (let p = 0; p < pairs.length; p++) {
    const j = pairs[p][1];
    let lo = 0;
    let hi = tails.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (pairs[tails[mid]][1] < j) lo = mid + 1;
      else hi = mid;
    }
    if (lo > 0) prev[p] = tails[lo - 1];
    tails[lo] = p;
  }
  const keepFrom = new Array<boolean>(from.length).fill(false);
  const keepTo = new Array<boolean>(to.length).fill(false);
  for (let p = tails.length ? tails[tails.length - 1] : -1; p >= 0; p = prev[p]) {
    keepFrom[pairs[p][0]] = true;
    keepTo[pairs[p][1]] = true;
  }
  const kept = tails.length;
  return { keepFrom, keepTo, deletes: from.length - kept, inserts: to.length - kept };
}

/**
 * expectedOf is `provider.expected(desired)`, computed once per desired ruleset and backend.
 * Plan and apply's verification both need it for the same host in one run, and at 10,000 rules
 * each computation costs 5–15 ms (iptables validates every rule spec). Keyed by the
 * DesiredRuleset object, which is never mutated after compile. The result is frozen (shallowly,
 * down to each chain's rule-id list) so a caller that tried to edit the shared copy would throw
 * instead of corrupting the next caller's expectation. A throw is not cached.
 */
export function expectedOf(provider: Provider, desired: DesiredRuleset): LiveRuleset {
  let byBackend = EXPECTED_MEMO.get(desired);
  if (!byBackend) EXPECTED_MEMO.set(desired, (byBackend = new Map()));
  let want = byBackend.get(provider.backend);
  if (!want) byBackend.set(provider.backend, (want = freezeLive(provider.expected(desired))));
  return want;
}

const EXPECTED_MEMO = new WeakMap<DesiredRuleset, Map<string, LiveRuleset>>();

function freezeLive(live: LiveRuleset): LiveRuleset {
  for (const s of live.sets) Object.freeze(Object.freeze(s).elements);
  for (const c of live.chains) {
    Object.freeze(Object.freeze(c).ruleIds);
    if (c.families) Object.freeze(c.families);
  }
  for (const h of live.hooks) if (Object.freeze(h).targets) Object.freeze(h.targets);
  Object.freeze(live.sets);
  Object.freeze(live.chains);
  Object.freeze(live.hooks);
  return Object.freeze(live);
}

/**
 * conntrackWarmupChain names the IR chain a provider's renderConntrackWarmup puts its conntrack
 * rule in: the first hooked chain, which the full sync then replaces. Undefined when the ruleset
 * has no hooked chain or no rule that uses conntrack (nothing would need tracking).
 */
export function conntrackWarmupChain(desired: DesiredRuleset): string | undefined {
  const anchor = desired.chains.find((c) => c.hook);
  if (!anchor || !desired.chains.some((c) => c.rules.some((r) => r.match.ctState?.length))) return undefined;
  return anchor.name;
}
