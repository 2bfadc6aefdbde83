/**
 * iptables + ipset transactions: the full sync's, the cleanup's, and the one place each of them
 * becomes `iptables-restore` / `ipset restore` text (restoreScript, ipsetScript). A full sync is
 * ordered transactions (PRACTICES 9: dependency order in code):
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
import type { BackendName, LiveRuleset } from '../types';
import { TxBuilder, type Op, type TableName, type Transaction, type TxObject } from '../transaction';
import { ProviderError, checkElement, checkName, checkRuleId, checkText, ruleFamily } from '../common';
import { BUILTIN, HOOK_COMMENT, TEMP_SUFFIX, chainName, setName, tempSetName } from './names';

export const COMMENT_PREFIX = 'microseg:';

/** MULTIPORT_SLOTS is xt_multiport's XT_MULTI_PORTS: 15 ports per rule, a range using two. */
export const MULTIPORT_SLOTS = 15;
/** The NFLOG target truncates prefixes longer than 64 bytes (incl. NUL), so we refuse them. */
const MAX_NFLOG_PREFIX = 63;
/** DEFAULT_MAXELEM is ipset's default maxelem; a bigger set is created (or recreated) with its own. */
export const DEFAULT_MAXELEM = 65536;

/** TABLE_OF is the transaction table of each family's table filter. */
export const TABLE_OF: Record<Family, TableName> = { 4: 'ip filter', 6: 'ip6 filter' };

// ---------------------------------------------------------------------------------------------
// Serialising

/** restoreScript is the `iptables-restore --noflush` input of a transaction of table ip/ip6 filter. */
export function restoreScript(tx: Transaction): string {
  const family = familyOfTable(tx.table);
  const lines = tx.ops.map((op) => restoreLine(op, family));
  return ['*filter', ...lines.flat(), 'COMMIT', ''].join('\n');
}

function restoreLine([verb, o]: Op, family: Family): string[] {
  switch (o.type) {
    case 'chain':
      // `:CHAIN - [0:0]` creates the chain, or flushes it when it exists (both iptables-nft and
      // iptables-legacy with --noflush, tested on 1.8.9).
      return [verb === 'add' ? `:${chainName(o.name)} - [0:0]` : `-X ${chainName(o.name)}`];
    case 'rule': {
      const name = chainName(o.chain);
      if (verb === 'delete') return [`-D ${name} ${o.index}`];
      const specs = renderRuleSpecs(o.rule!, family);
      if (verb === 'insert') return [`-I ${name} ${o.index} ${specs[o.part ?? 0]}`];
      return specs.map((spec) => `-A ${name} ${spec}`);
    }
    case 'hook':
      return [verb === 'insert' ? `-I ${BUILTIN[o.hook]} 1 ${hookTail(o.target)}` : `-D ${BUILTIN[o.hook]} ${hookTail(o.target)}`];
    default:
      throw new ProviderError(`table filter has no ${o.type} objects`, 'tool');
  }
}

/**
 * hookTail is the exact spec of a hook jump after its builtin chain: to an owned chain (IR name),
 * or to `iptables:<target>`, a chain microseg does not own that one of our hooks jumps to (read.ts),
 * whose raw name is what the kernel holds. `-D` of an old hook repeats it verbatim.
 */
function hookTail(target: string): string {
  const jump = target.startsWith('iptables:') ? target.slice('iptables:'.length) : chainName(target);
  return `-m comment --comment "${HOOK_COMMENT}" -j ${jump}`;
}

/** hookSpec is the exact rule spec of a hook jump to owned chain `target` from `builtin`. */
export function hookSpec(builtin: string, target: string): string {
  return `${builtin} ${hookTail(target)}`;
}

/** ipsetScript is the `ipset -exist restore` input of a transaction of table ipset. */
export function ipsetScript(tx: Transaction): string {
  const lines = tx.ops.flatMap(([verb, o]): string[] => {
    if (o.type === 'element') {
      const name = o.temp ? tempSetName(o.set) : setName(o.set);
      return o.elements.map((e) => `${verb === 'add' ? 'add' : 'del'} ${name} ${e}`);
    }
    if (o.type !== 'set') throw new ProviderError(`table ipset has no ${o.type} objects`, 'tool');
    const name = o.temp ? tempSetName(o.name) : setName(o.name);
    switch (verb) {
      case 'create':
        return [`create ${name} ${ipsetCreateOptions(o.family!, o.maxelem)}`];
      case 'swap':
        return [`swap ${tempSetName(o.name)} ${setName(o.name)}`];
      default:
        return [`${verb} ${name}`];
    }
  });
  return lines.length ? lines.join('\n') + '\n' : '';
}

/** ipsetCreateOptions is the type and options every owned set is created with (maxelem raised past ipset's default when needed). */
export function ipsetCreateOptions(family: Family, maxelem?: number): string {
  return `hash:net family ${family === 4 ? 'inet' : 'inet6'}${maxelem !== undefined ? ` maxelem ${maxelem}` : ''}`;
}

function familyOfTable(table: TableName): Family {
  if (table === 'ip filter') return 4;
  if (table === 'ip6 filter') return 6;
  throw new ProviderError(`${table} is not a table filter`, 'tool');
}

/**
 * checkIptablesOp validates one op as it is queued (TxBuilder) and when a transaction from a plan
 * file is validated: verbs iptables-restore or ipset restore have for the object, names microseg
 * writes, members hash:net accepts, rules that render for the table's family.
 */
export function checkIptablesOp(table: TableName, [verb, o]: Op): void {
  const bad = () => new ProviderError(`${table} has no "${verb} ${o.type}" in a transaction`, 'tool');
  if (table === 'ipset') {
    if (o.type === 'element') {
      if (verb !== 'add' && verb !== 'delete') throw bad();
      checkName('set', o.set);
      for (const e of o.elements) if (verb === 'add') ipsetElement(o.set, e);
      return;
    }
    if (o.type !== 'set') throw bad();
    if (verb === 'destroy' && !o.temp) {
      // A live name may be one microseg never writes (a leftover temp twin, a set of another type).
      if (!/^[a-z0-9][a-z0-9-]{0,22}(\.t|:[a-z:]+)?$/.test(o.name)) throw new ProviderError(`cannot destroy set ${JSON.stringify(o.name)}`, 'tool');
      return;
    }
    if (!['create', 'flush', 'destroy', 'swap'].includes(verb)) throw bad();
    checkName('set', o.name);
    if (verb === 'create') {
      if (o.family !== 4 && o.family !== 6) throw new ProviderError(`set ${o.name} needs family 4 or 6`, 'tool');
      if (o.maxelem !== undefined && (!Number.isInteger(o.maxelem) || o.maxelem < 1)) throw new ProviderError(`set ${o.name}: bad maxelem ${o.maxelem}`, 'tool');
    }
    return;
  }
  const family = familyOfTable(table);
  switch (o.type) {
    case 'chain':
      if (verb !== 'add' && verb !== 'delete') throw bad();
      // Owned chains read back under names microseg never writes still have to be removable.
      if (!/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,22}$/.test(o.name)) throw new ProviderError(`chain name ${JSON.stringify(o.name)} cannot be written`, 'tool');
      return;
    case 'rule':
      checkName('chain', o.chain);
      if (verb === 'delete') {
        if (!Number.isInteger(o.index) || o.index! < 1) throw new ProviderError(`delete rule in chain ${o.chain} needs a rule number`, 'tool');
        return;
      }
      if ((verb !== 'add' && verb !== 'insert') || !o.rule) throw bad();
      {
        const specs = renderRuleSpecs(o.rule, family);
        if (verb === 'insert') {
          if (!Number.isInteger(o.index) || o.index! < 1) throw new ProviderError(`insert rule in chain ${o.chain} needs a rule number`, 'tool');
          if (!Number.isInteger(o.part ?? 0) || (o.part ?? 0) < 0 || (o.part ?? 0) >= specs.length) throw new ProviderError(`rule ${o.rule.id} has no part ${o.part}`, 'tool');
        }
      }
      return;
    case 'hook':
      if (verb !== 'insert' && verb !== 'delete') throw bad();
      if (!(o.hook in BUILTIN)) throw new ProviderError(`unknown hook ${String(o.hook)}`, 'tool');
      if (verb === 'insert') checkName('chain', o.target);
      else if (!o.target.startsWith('iptables:')) checkName('chain', o.target);
      else checkText('hook target', o.target, 40);
      return;
    default:
      throw bad();
  }
}

/** ipsetElement checks one member for `add`: hash:net refuses a /0, and it must be a canonical CIDR. */
export function ipsetElement(set: string, e: string): string {
  if (/\/0$/.test(e)) throw new ProviderError(`set ${set}: ipset hash:net cannot hold ${e}; the IR splits /0 into two /1`, 'tool');
  checkElement(set, e);
  return e;
}

// ---------------------------------------------------------------------------------------------
// Planning the full sync and the cleanup

/** newIptTx starts a transaction of `table` for an iptables backend. */
export function newIptTx(backend: BackendName, enforcer: string, table: TableName, kind: Transaction['kind'], reason: string): TxBuilder {
  return new TxBuilder({ backend, enforcer, table, kind, reason }, checkIptablesOp);
}

/** maxelemOf is the maxelem a set of `s`'s size needs, or undefined for ipset's default. */
export function maxelemOf(s: AddressSet): number | undefined {
  return s.elements.length > DEFAULT_MAXELEM ? s.elements.length : undefined;
}

/**
 * refillOps replaces the members of existing set `s` atomically: fill its temp twin, `swap` it
 * with the live one (one kernel operation: rules see the old or the new members, never a mix),
 * destroy the twin. `-exist` makes create of a leftover twin a no-op; flushing it keeps nothing of
 * an interrupted earlier run in the swap.
 */
export function refillOps(tx: TxBuilder, s: AddressSet): void {
  const maxelem = maxelemOf(s);
  tx.add('create', { type: 'set', name: s.name, temp: true, family: s.family, ...(maxelem !== undefined ? { maxelem } : {}) });
  tx.add('flush', { type: 'set', name: s.name, temp: true });
  if (s.elements.length > 0) tx.add('add', { type: 'element', set: s.name, temp: true, elements: [...s.elements] });
  tx.add('swap', { type: 'set', name: s.name });
  tx.add('destroy', { type: 'set', name: s.name, temp: true });
}

/** fullSyncTransactions are steps (a)–(d) above for `desired` over `live` (a read of the host, if any). */
export function fullSyncTransactions(backend: BackendName, desired: DesiredRuleset, live: LiveRuleset | undefined, reason: string): Transaction[] {
  const out: Transaction[] = [];
  const fill = ipsetFill(backend, desired, live, reason);
  if (fill.length > 0) out.push(fill.build());
  out.push(tableTransaction(backend, desired, 4, live, reason), tableTransaction(backend, desired, 6, live, reason));
  const destroy = ipsetDestroy(backend, desired.enforcer, live, new Set(desired.sets.map((s) => s.name)), reason);
  if (destroy.length > 0) out.push(destroy.build());
  return out;
}

/** ipsetFill is step (a): create each desired set (if new) and replace its members atomically. */
function ipsetFill(backend: BackendName, desired: DesiredRuleset, live: LiveRuleset | undefined, reason: string): TxBuilder {
  const liveSets = new Map((live?.sets ?? []).map((s) => [s.name, s] as const));
  const tx = newIptTx(backend, desired.enforcer, 'ipset', 'full', reason);
  for (const s of desired.sets) {
    const l = liveSets.get(s.name);
    if (l && l.family !== s.family) {
      // swap needs equal type and family, and the old set cannot be destroyed while rules
      // reference it; rather than rename around it, refuse (compile keeps names family-specific).
      throw new ProviderError(`set ${s.name} changes family from v${l.family} to v${s.family}; run cleanup first`, 'tool');
    }
    const maxelem = maxelemOf(s);
    if (!l) tx.add('create', { type: 'set', name: s.name, family: s.family, ...(maxelem !== undefined ? { maxelem } : {}) });
    refillOps(tx, s);
  }
  return tx;
}

/** ipsetDestroy is step (d): destroy owned sets (live) that `keep` does not contain. */
function ipsetDestroy(backend: BackendName, enforcer: string, live: LiveRuleset | undefined, keep: ReadonlySet<string>, reason: string): TxBuilder {
  const tx = newIptTx(backend, enforcer, 'ipset', 'full', reason);
  for (const s of live?.sets ?? []) if (!keep.has(s.name)) tx.add('destroy', { type: 'set', name: s.name });
  return tx;
}

/**
 * tableTransaction is steps (b)/(c): the transaction of one family's table filter that makes the
 * owned part of it equal `desired` (null: remove everything owned, for cleanup).
 */
export function tableTransaction(backend: BackendName, desired: DesiredRuleset | null, family: Family, live: LiveRuleset | undefined, reason: string, enforcer = desired?.enforcer ?? ''): Transaction {
  const sets = new Map((desired?.sets ?? []).map((s) => [s.name, s] as const));
  const wantChains = desired?.chains ?? [];
  const wantNames = new Set(wantChains.map((c) => c.name));
  const stale = (live?.chains ?? [])
    .filter((c) => !wantNames.has(c.name) && (!c.families || c.families.includes(family)))
    .map((c) => c.name);
  const tx = newIptTx(backend, enforcer, TABLE_OF[family], 'full', reason);

  for (const c of wantChains) tx.add('add', { type: 'chain', name: c.name });
  // Flushing stale chains first drops their references to each other, so -X below cannot fail
  // on "chain is referenced" from within our own chains.
  for (const n of stale) tx.add('add', { type: 'chain', name: n });

  const wantHooks = wantedHooks(wantChains);
  const liveHooks = (live?.hooks ?? []).filter((h) => h.family === family && h.present);
  const inserts: Hook[] = [];
  for (const hook of [...new Set<Hook>([...wantHooks.keys(), ...liveHooks.map((h) => h.hook)])].sort()) {
    const want = wantHooks.get(hook);
    const lh = liveHooks.find((h) => h.hook === hook);
    const targets = lh?.targets ?? [];
    if (want !== undefined && lh !== undefined && lh.first && lh.count === 1 && targets.length === 1 && targets[0] === want) continue;
    // Delete exactly the hooks read back (by full rule spec, so only our own jump can match), then
    // insert one at position 1: the hook is first again even if foreign rules were put above it.
    for (const t of targets) tx.add('delete', { type: 'hook', hook, target: t });
    if (want !== undefined) inserts.push(hook);
  }
  for (const c of wantChains) {
    for (const r of c.rules) {
      const fam = ruleFamily(r, sets);
      if (fam !== undefined && fam !== family) continue;
      renderRuleSpecs(r, family, sets);
      tx.add('add', { type: 'rule', chain: c.name, rule: r });
    }
  }
  for (const hook of inserts) tx.add('insert', { type: 'hook', hook, target: wantHooks.get(hook)! });
  for (const n of stale) tx.add('delete', { type: 'chain', name: n });
  return tx.build();
}

/** wantedHooks maps each hook to the dispatch chain that takes it (two for one hook is refused). */
export function wantedHooks(chains: DesiredRuleset['chains']): Map<Hook, string> {
  const want = new Map<Hook, string>();
  for (const c of chains) {
    if (!c.hook) continue;
    if (want.has(c.hook)) throw new ProviderError(`two dispatch chains for hook ${c.hook}: ${want.get(c.hook)} and ${c.name}`, 'tool');
    want.set(c.hook, c.name);
  }
  return want;
}

/** cleanupTransactions remove every owned object of `live` (hooks, then chains, then sets); [] when it owns nothing. */
export function cleanupTransactions(backend: BackendName, enforcer: string, live: LiveRuleset): Transaction[] {
  const reason = 'remove every owned chain, hook and set';
  const out: Transaction[] = [];
  // An iptables-restore with nothing to do would still create table filter on a host (iptables-nft)
  // where it may never have existed: the table transactions are sent only when a chain or hook is owned.
  // ipset sets are shared by both iptables variants, so a host can hold our sets with no chains here.
  if (live.chains.length > 0 || live.hooks.some((h) => h.present)) {
    out.push(tableTransaction(backend, null, 4, live, reason, enforcer), tableTransaction(backend, null, 6, live, reason, enforcer));
  }
  const destroy = ipsetDestroy(backend, enforcer, live, new Set(), reason);
  if (destroy.length > 0) out.push(destroy.build());
  return out;
}

/** renderTable is the `iptables-restore --noflush` text of tableTransaction (tests, simulated reads). */
export function renderTable(desired: DesiredRuleset | null, family: Family, live?: LiveRuleset): string {
  return restoreScript(tableTransaction('iptables-nft', desired, family, live, 'render'));
}

/** temp names are never IR names: `.t` cannot occur in one (names.ts). */
export const isTempName = (name: string): boolean => name.endsWith(TEMP_SUFFIX);

/**
 * renderRuleSpecs renders one IR rule for one family as one or more rule specs (after `-A CHAIN`).
 * A run needs each rule's specs several times (expected() validates it at plan time, the
 * transaction validates its ops as they are queued, serialising writes them), about 10 ms apiece
 * at 10,000 rules, so the specs are kept per rule object and family. A compiled Rule is never mutated and
 * belongs to one DesiredRuleset, whose `sets` are the ones it was validated against; a rule that
 * fails to render throws every time (failures are not kept).
 */
export function renderRuleSpecs(rule: Rule, family: Family, sets?: ReadonlyMap<string, AddressSet>): readonly string[] {
  const memo = SPEC_MEMO.get(rule);
  const hit = memo?.[family];
  if (hit) return hit;
  const specs = Object.freeze(renderRuleSpecsOnce(rule, family, sets));
  if (memo) memo[family] = specs;
  else SPEC_MEMO.set(rule, { [family]: specs });
  return specs;
}

const SPEC_MEMO = new WeakMap<Rule, Partial<Record<Family, readonly string[]>>>();

function renderRuleSpecsOnce(rule: Rule, family: Family, sets: ReadonlyMap<string, AddressSet> | undefined): string[] {
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
    if (sets && !sets.has(sm.set)) throw new ProviderError(`rule ${rule.id} references unknown set ${sm.set}`, 'tool');
    head.push(`-m set ${sm.negate ? '! ' : ''}--match-set ${setName(sm.set)} ${dir}`);
  }
  if (m.ctState && m.ctState.length > 0) head.push(`-m conntrack --ctstate ${m.ctState.map((s) => s.toUpperCase()).join(',')}`);

  // The variants: one per multiport chunk or per ICMP code; a plain rule has exactly one, empty.
  let variants: string[] = [''];
  if ((p === 'tcp' || p === 'udp') && m.dports && m.dports.length > 0) variants = portVariants(p, m.dports, rule);
  if ((p === 'icmp' || p === 'icmpv6') && m.icmpType !== undefined) variants = icmpVariants(p, m.icmpType, m.icmpCodes, rule);

  const tail = renderTarget(rule.verdict, family, p);
  // A log rule's rate limit is a match: the rule's counter then counts the records it sent.
  const lim = rule.verdict.kind === 'log' && rule.verdict.limit ? [limitMatch(rule.verdict.limit, rule)] : [];
  return variants.map((v, i) => {
    const id = variants.length === 1 ? rule.id : `${rule.id}#${i + 1}/${variants.length}`;
    return [...head, ...(v ? [v] : []), ...lim, `-m comment --comment "${COMMENT_PREFIX}${id}"`, tail].join(' ');
  });
}

/** limitMatch is a log rule's rate limit (`-m limit`, per rule; burst in packets). */
function limitMatch(l: { perSecond: number; burst: number }, rule: Rule): string {
  if (!Number.isInteger(l.perSecond) || l.perSecond < 1 || !Number.isInteger(l.burst) || l.burst < 1 || l.burst > 10000) {
    throw new ProviderError(`rule ${rule.id}: invalid log limit ${l.perSecond}/second burst ${l.burst}`, 'tool');
  }
  return `-m limit --limit ${l.perSecond}/sec --limit-burst ${l.burst}`;
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
