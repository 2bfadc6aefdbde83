/**
 * Rendering a DesiredRuleset for iptables + ipset, as ordered steps (PRACTICES 9: dependency
 * order in code):
 *
 *   (a) `ipset restore`: create sets, refill each atomically (temp set + swap + destroy temp);
 *   (b) `iptables-restore --noflush`, table filter: rewrite owned chains, (re)insert hooks first,
 *       delete owned chains no longer desired;
 *   (c) the same with `ip6tables-restore`;
 *   (d) `ipset restore`: destroy sets no longer desired, now that no rule references them.
 *
 * Each iptables-restore input is one atomic commit of table filter. `--noflush` keeps every
 * foreign chain and rule as it is; declaring `:MSEG-x - [0:0]` creates the owned chain or, if it
 * exists, flushes it (both iptables-nft and iptables-legacy, tested on 1.8.9), which is how owned
 * chains are rewritten in full without listing or deleting their old rules one by one.
 *
 * Rule expansion: iptables cannot express some IR rules as one rule without widening them. A
 * multiport match takes at most 15 ports (a range counts 2), and `--icmp-type` takes one code. Such
 * an IR rule becomes n > 1 consecutive kernel rules whose comments are `microseg:<id>#<k>/<n>`
 * (k = 1..n, in rendering order), so every kernel rule still has a unique id, read-back can fold
 * the complete run back into `<id>` and a partial run shows up as drift.
 */
import type { AddressSet, DesiredRuleset, Family, Hook, Rule, Verdict } from '../../src/compile/ir';
import type { PortRange } from '../../src/model/types';
import { OTHER_PROTOCOLS } from '../../src/model/protocols';
import type { LiveRuleset } from '../types';
import { ProviderError, checkName, checkRuleId, checkText, ruleFamily } from '../common';
import { BUILTIN, HOOK_COMMENT, chainName, setName, tempSetName } from './names';

export const COMMENT_PREFIX = 'microseg:';

/** MULTIPORT_SLOTS is xt_multiport's XT_MULTI_PORTS: 15 ports per rule, a range using two. */
export const MULTIPORT_SLOTS = 15;
/** The NFLOG target truncates prefixes longer than 64 bytes (incl. NUL), so we refuse them. */
const MAX_NFLOG_PREFIX = 63;
/** Above this many elements a set needs an explicit maxelem (ipset's default is 65536). */
const DEFAULT_MAXELEM = 65536;

/** hookSpec is the exact rule spec of a hook jump; `-D` of an old hook repeats it verbatim. */
export function hookSpec(builtin: string, target: string): string {
  return `${builtin} -m comment --comment "${HOOK_COMMENT}" -j ${chainName(target)}`;
}

/** renderIpsetFill is step (a): create each desired set (if new) and replace its members atomically. */
export function renderIpsetFill(desired: DesiredRuleset, live?: LiveRuleset): string {
  const liveSets = new Map((live?.sets ?? []).map((s) => [s.name, s] as const));
  const out: string[] = [];
  for (const s of desired.sets) {
    checkName('set', s.name);
    const l = liveSets.get(s.name);
    if (l && l.family !== s.family) {
      // swap needs equal type and family, and the old set cannot be destroyed while rules
      // reference it; rather than rename around it, refuse (compile keeps names family-specific).
      throw new ProviderError(`set ${s.name} changes family from v${l.family} to v${s.family}; run cleanup first`, 'tool');
    }
    if (!l) out.push(`create ${setName(s.name)} ${ipsetCreateOptions(s)}`);
    out.push(...ipsetRefill(s));
  }
  return out.length ? out.join('\n') + '\n' : '';
}

/** ipsetCreateOptions is the type and options every owned set is created with (maxelem raised past ipset's default when needed). */
export function ipsetCreateOptions(s: AddressSet): string {
  return `hash:net family ${s.family === 4 ? 'inet' : 'inet6'}${s.elements.length > DEFAULT_MAXELEM ? ` maxelem ${s.elements.length}` : ''}`;
}

/** ipsetElement checks one member for `add`/`del`: hash:net refuses a /0. */
export function ipsetElement(s: AddressSet, e: string): string {
  if (/\/0$/.test(e)) throw new ProviderError(`set ${s.name}: ipset hash:net cannot hold ${e}; the IR splits /0 into two /1`, 'tool');
  return e;
}

/**
 * ipsetRefill replaces the members of existing set `s` atomically: fill a temp set, `swap` it
 * with the live one (one kernel operation: rules see the old or the new members, never a mix),
 * destroy the temp set.
 */
export function ipsetRefill(s: AddressSet): string[] {
  // `-exist` (given on the command line) makes create of a leftover temp set a no-op; flush it
  // so nothing from an interrupted earlier run survives into the swap.
  const out = [`create ${tempSetName(s.name)} ${ipsetCreateOptions(s)}`, `flush ${tempSetName(s.name)}`];
  for (const e of s.elements) out.push(`add ${tempSetName(s.name)} ${ipsetElement(s, e)}`);
  out.push(`swap ${tempSetName(s.name)} ${setName(s.name)}`, `destroy ${tempSetName(s.name)}`);
  return out;
}

/** renderIpsetDestroy is step (d): destroy owned sets (live) that `keep` does not contain. */
export function renderIpsetDestroy(live: LiveRuleset | undefined, keep: ReadonlySet<string>): string {
  const out = (live?.sets ?? []).filter((s) => !keep.has(s.name)).map((s) => `destroy ${setName(s.name)}`);
  return out.length ? out.join('\n') + '\n' : '';
}

/**
 * renderTable is steps (b)/(c): the `iptables-restore --noflush` input for one family that makes
 * the owned part of table filter equal `desired` (null: remove everything owned, for cleanup).
 */
export function renderTable(desired: DesiredRuleset | null, family: Family, live?: LiveRuleset): string {
  const sets = new Map((desired?.sets ?? []).map((s) => [s.name, s] as const));
  const wantChains = desired?.chains ?? [];
  const wantNames = new Set(wantChains.map((c) => c.name));
  const stale = (live?.chains ?? [])
    .filter((c) => !wantNames.has(c.name) && (!c.families || c.families.includes(family)))
    .map((c) => c.name);

  const decl: string[] = [];
  const hookDeletes: string[] = [];
  const appends: string[] = [];
  const hookInserts: string[] = [];

  for (const c of wantChains) {
    checkName('chain', c.name);
    decl.push(`:${chainName(c.name)} - [0:0]`);
  }
  // Flushing stale chains first drops their references to each other, so -X below cannot fail
  // on "chain is referenced" from within our own chains.
  for (const n of stale) decl.push(`:${chainName(n)} - [0:0]`);

  const wantHooks = new Map<Hook, string>();
  for (const c of wantChains) {
    if (!c.hook) continue;
    if (wantHooks.has(c.hook)) throw new ProviderError(`two dispatch chains for hook ${c.hook}: ${wantHooks.get(c.hook)} and ${c.name}`, 'tool');
    wantHooks.set(c.hook, c.name);
  }
  const liveHooks = (live?.hooks ?? []).filter((h) => h.family === family && h.present);
  const hooks = new Set<Hook>([...wantHooks.keys(), ...liveHooks.map((h) => h.hook)]);
  for (const hook of [...hooks].sort()) {
    const want = wantHooks.get(hook);
    const lh = liveHooks.find((h) => h.hook === hook);
    const targets = lh?.targets ?? [];
    const keep = want !== undefined && lh !== undefined && lh.first && lh.count === 1 && targets.length === 1 && targets[0] === want;
    if (keep) continue;
    // Delete exactly the hooks read back (by full rule spec, so only our own jump can match), then
    // insert one at position 1: the hook is first again even if foreign rules were put above it.
    for (const t of targets) hookDeletes.push(`-D ${hookSpec(BUILTIN[hook], t)}`);
    if (want !== undefined) hookInserts.push(`-I ${hookSpec(BUILTIN[hook], want).replace(/^(\S+)/, '$1 1')}`);
  }

  for (const c of wantChains) {
    for (const r of c.rules) {
      const fam = ruleFamily(r, sets);
      if (fam !== undefined && fam !== family) continue;
      for (const spec of renderRuleSpecs(r, family, sets)) appends.push(`-A ${chainName(c.name)} ${spec}`);
    }
  }
  const deletes = stale.map((n) => `-X ${chainName(n)}`);
  return ['*filter', ...decl, ...hookDeletes, ...appends, ...hookInserts, ...deletes, 'COMMIT', ''].join('\n');
}

/**
 * renderRuleSpecs renders one IR rule for one family as one or more rule specs (after `-A CHAIN`).
 * A run renders each rule up to three times (expected() validates it at plan time, then
 * renderChanges or renderFull, then expected() is reused by verify), about 10 ms apiece at 10,000
 * rules, so the specs are kept per rule object and family. A compiled Rule is never mutated and
 * belongs to one DesiredRuleset, whose `sets` are the ones it was validated against; a rule that
 * fails to render throws every time (failures are not kept).
 */
export function renderRuleSpecs(rule: Rule, family: Family, sets: ReadonlyMap<string, AddressSet>): readonly string[] {
  const memo = SPEC_MEMO.get(rule);
  const hit = memo?.[family];
  if (hit) return hit;
  const specs = Object.freeze(renderRuleSpecsOnce(rule, family, sets));
  if (memo) memo[family] = specs;
  else SPEC_MEMO.set(rule, { [family]: specs });
  return specs;
}

const SPEC_MEMO = new WeakMap<Rule, Partial<Record<Family, readonly string[]>>>();

function renderRuleSpecsOnce(rule: Rule, family: Family, sets: ReadonlyMap<string, AddressSet>): string[] {
  checkRuleId(rule.id);
  const m = rule.match;
  const head: string[] = [];
  if (m.iif !== undefined) {
    checkText('interface', m.iif, 15);
    head.push(`-i ${m.iif}`);
  }
  if (m.oif !== undefined) {
    checkText('interface', m.oif, 15);
    head.push(`-o ${m.oif}`);
  }
  if (m.srcAddr) head.push(`-s ${m.srcAddr}`);
  if (m.dstAddr) head.push(`-d ${m.dstAddr}`);
  const p = m.protocol;
  if (m.dports && m.dports.length > 0 && p !== 'tcp' && p !== 'udp') {
    throw new ProviderError(`rule ${rule.id}: destination ports need protocol tcp or udp, not ${p ?? 'any'}`, 'tool');
  }
  if (m.icmpType !== undefined && p !== 'icmp' && p !== 'icmpv6') throw new ProviderError(`rule ${rule.id}: an ICMP type needs protocol icmp or icmpv6`, 'tool');
  if (m.icmpCodes && m.icmpCodes.length > 0 && m.icmpType === undefined) throw new ProviderError(`rule ${rule.id}: ICMP codes need an ICMP type`, 'tool');
  if (p !== undefined) head.push(`-p ${protoArg(p, rule)}`);
  for (const [sm, dir] of [[m.srcSet, 'src'], [m.dstSet, 'dst']] as const) {
    if (!sm) continue;
    checkName('set', sm.set);
    if (!sets.has(sm.set)) throw new ProviderError(`rule ${rule.id} references unknown set ${sm.set}`, 'tool');
    head.push(`-m set ${sm.negate ? '! ' : ''}--match-set ${setName(sm.set)} ${dir}`);
  }
  if (m.ctState && m.ctState.length > 0) head.push(`-m conntrack --ctstate ${m.ctState.map((s) => s.toUpperCase()).join(',')}`);

  // The variants: one per multiport chunk or per ICMP code; a plain rule has exactly one, empty.
  let variants: string[] = [''];
  if ((p === 'tcp' || p === 'udp') && m.dports && m.dports.length > 0) variants = portVariants(p, m.dports, rule);
  if ((p === 'icmp' || p === 'icmpv6') && m.icmpType !== undefined) variants = icmpVariants(p, m.icmpType, m.icmpCodes, rule);

  const tail = renderTarget(rule.verdict, family, p);
  return variants.map((v, i) => {
    const id = variants.length === 1 ? rule.id : `${rule.id}#${i + 1}/${variants.length}`;
    return [...head, ...(v ? [v] : []), `-m comment --comment "${COMMENT_PREFIX}${id}"`, tail].join(' ');
  });
}

function protoArg(p: string, rule: Rule): string {
  if (p === 'tcp' || p === 'udp' || p === 'icmp') return p;
  if (p === 'icmpv6') return 'ipv6-icmp';
  const num = /^\d+$/.test(p) ? Number(p) : OTHER_PROTOCOLS[p];
  if (num === undefined || num > 255) throw new ProviderError(`rule ${rule.id}: unknown protocol ${p}`, 'tool');
  // By number: a host's /etc/protocols may lack the name.
  return String(num);
}

/** portVariants splits dport ranges into chunks of at most 15 multiport slots. */
export function portVariants(p: 'tcp' | 'udp', ranges: readonly PortRange[], rule: Rule): string[] {
  for (const r of ranges) {
    if (!Number.isInteger(r.from) || !Number.isInteger(r.to) || r.from < 0 || r.to > 65535 || r.from > r.to) {
      throw new ProviderError(`rule ${rule.id}: invalid port range ${r.from}:${r.to}`, 'tool');
    }
  }
  if (ranges.length === 1) return [`-m ${p} --dport ${portText(ranges[0])}`];
  const chunks: PortRange[][] = [];
  let cur: PortRange[] = [];
  let used = 0;
  for (const r of ranges) {
    const cost = r.from === r.to ? 1 : 2;
    if (used + cost > MULTIPORT_SLOTS) {
      chunks.push(cur);
      cur = [];
      used = 0;
    }
    cur.push(r);
    used += cost;
  }
  chunks.push(cur);
  return chunks.map((c) => (c.length === 1 ? `-m ${p} --dport ${portText(c[0])}` : `-m multiport --dports ${c.map(portText).join(',')}`));
}

function portText(r: PortRange): string {
  return r.from === r.to ? String(r.from) : `${r.from}:${r.to}`;
}

/**
 * icmpVariants: `--icmp-type T/C` takes one code, so a code list expands to one rule per code.
 * Codes covering 0–255 entirely are the same set as "any code", written as the bare type.
 */
export function icmpVariants(p: 'icmp' | 'icmpv6', type: number, codes: readonly PortRange[] | undefined, rule: Rule): string[] {
  const byte = (n: number) => {
    if (!Number.isInteger(n) || n < 0 || n > 255) throw new ProviderError(`rule ${rule.id}: ICMP type/code ${n} out of range`, 'tool');
  };
  byte(type);
  const opt = p === 'icmp' ? '-m icmp --icmp-type' : '-m icmp6 --icmpv6-type';
  if (!codes || codes.length === 0) return [`${opt} ${type}`];
  const all = new Set<number>();
  for (const r of codes) {
    byte(r.from);
    byte(r.to);
    for (let c = r.from; c <= r.to; c++) all.add(c);
  }
  if (all.size === 256) return [`${opt} ${type}`];
  return [...all].sort((a, b) => a - b).map((c) => `${opt} ${type}/${c}`);
}

/** renderTarget: REJECT answers tcp with a reset (like a closed port) and anything else with port unreachable. */
function renderTarget(v: Verdict, family: Family, p: string | undefined): string {
  switch (v.kind) {
    case 'accept':
      return '-j ACCEPT';
    case 'drop':
      return '-j DROP';
    case 'return':
      return '-j RETURN';
    case 'reject':
      if (p === 'tcp') return '-j REJECT --reject-with tcp-reset';
      return family === 4 ? '-j REJECT --reject-with icmp-port-unreachable' : '-j REJECT --reject-with icmp6-port-unreachable';
    case 'jump':
      checkName('chain', v.chain);
      return `-j ${chainName(v.chain)}`;
    case 'log':
      checkText('log prefix', v.prefix, MAX_NFLOG_PREFIX);
      if (!Number.isInteger(v.group) || v.group < 0 || v.group > 65535) throw new ProviderError(`log group ${v.group} out of range`, 'tool');
      return `-j NFLOG --nflog-group ${v.group} --nflog-prefix "${v.prefix}"`;
    default: {
      const never: never = v;
      throw new ProviderError(`unknown verdict ${JSON.stringify(never)}`, 'tool');
    }
  }
}
