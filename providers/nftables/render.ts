/**
 * Serialising nftables Transactions (providers/transaction.ts) into `nft -f` input: the one place
 * an nft transaction becomes text.
 *
 * A full transaction that replaces the table (ops `add table`, `delete table`, `add table`, then
 * sets, chains and rules) is written as `add table` + `delete table` + the whole new table in
 * block syntax: nft applies a whole file as one netlink batch (one kernel transaction), so the host
 * goes from the old table to the new one with no window where neither or half exists; the leading
 * `add table` makes `delete table` valid when the table does not exist yet (nft 1.0.6 has no
 * `destroy`, which arrived in 1.0.8 / kernel 6.3). Every other transaction is one command line per
 * op, in op order, which is kernel dependency order (see changes.ts): still one batch.
 */
import type { AddressSet, DesiredRuleset, Family, Match, Rule, Verdict } from '../../src/compile/ir';
import type { PortRange } from '../../src/model/types';
import { OTHER_PROTOCOLS } from '../../src/model/protocols';
import { TxBuilder, type Op, type TableName, type Transaction, type TxObject } from '../transaction';
import { ProviderError, checkElement, checkName, checkRuleId, checkText, ruleFamily } from '../common';
import { NFT_FAMILY, NFT_TABLE, nftName } from './names';

/** COMMENT_PREFIX marks every rule microseg writes; read-back takes rule ids only from it. */
export const COMMENT_PREFIX = 'microseg:';

/** nft limits: NFT_USERDATA_MAXLEN is 256 bytes for comments; log prefixes are capped at 127 by nft. */
export const MAX_COMMENT = 128;
const MAX_LOG_PREFIX = 127;

const T = `${NFT_FAMILY} ${NFT_TABLE}`;
const TABLE: TableName = 'inet microseg';

/** nftScript is the `nft -f` input of `tx` (see the module comment for the two forms). */
export function nftScript(tx: Transaction): string {
  if (tx.kind === 'full' && replacesTable(tx.ops)) return blockScript(tx);
  const lines = tx.ops.map(opLine);
  if (tx.kind === 'delta') lines.unshift(`# microseg changes for enforcer ${sanitize(tx.enforcer)}: ${sanitize(tx.reason)}; everything else in table ${T} is left as it is`);
  return lines.join('\n') + '\n';
}

/** replacesTable: add, delete, add the table, then only sets, chains and rules in block order. */
function replacesTable(ops: readonly Op[]): boolean {
  if (ops.length < 3) return false;
  const [a, d, b] = ops;
  if (!(a[0] === 'add' && a[1].type === 'table' && d[0] === 'delete' && d[1].type === 'table' && b[0] === 'add' && b[1].type === 'table')) return false;
  let chain: string | undefined;
  let chainsStarted = false;
  for (const [verb, o] of ops.slice(3)) {
    if (verb !== 'add') return false;
    if (o.type === 'set' && !chainsStarted) continue;
    if (o.type === 'chain') {
      chainsStarted = true;
      chain = o.name;
      continue;
    }
    if (o.type === 'rule' && o.chain === chain && o.rule) continue;
    return false;
  }
  return true;
}

function blockScript(tx: Transaction): string {
  const blocks: string[][] = [];
  let current: string[] | undefined;
  for (const [, o] of tx.ops.slice(3)) {
    if (o.type === 'set') blocks.push(setBlock(o));
    else if (o.type === 'chain') {
      if (current) blocks.push([...current, '\t}']);
      current = chainHead(o);
    } else if (o.type === 'rule') current!.push(`\t\t${ruleText(o.rule!, o.family)}`);
  }
  if (current) blocks.push([...current, '\t}']);
  const lines: string[] = [
    `# microseg ruleset for enforcer ${sanitize(tx.enforcer)}: replaces table ${T} atomically`,
    `add table ${T}`,
    `delete table ${T}`,
    `table ${T} {`,
    blocks.map((b) => b.join('\n')).join('\n\n'),
    '}',
  ];
  return lines.filter((l) => l !== '').join('\n') + '\n';
}

function setBlock(s: Extract<TxObject, { type: 'set' }>): string[] {
  const out = [`\tset ${nftName(s.name)} {`, `\t\ttype ${s.family === 4 ? 'ipv4_addr' : 'ipv6_addr'}`, '\t\tflags interval'];
  if (s.comment !== undefined) out.push(`\t\tcomment "${s.comment}"`);
  // nft refuses `elements = { }`; an empty set is just declared. IR elements are disjoint, which
  // matters: nft rejects overlapping interval elements with "conflicting intervals specified".
  const elements = s.elements ?? [];
  if (elements.length > 0) {
    out.push(`\t\telements = {`);
    elements.forEach((e, i) => out.push(`\t\t\t${e}${i < elements.length - 1 ? ',' : ''}`));
    out.push('\t\t}');
  }
  out.push('\t}');
  return out;
}

function chainHead(c: Extract<TxObject, { type: 'chain' }>): string[] {
  const out = [`\tchain ${nftName(c.name)} {`];
  if (c.comment !== undefined) out.push(`\t\tcomment "${c.comment}"`);
  // A base chain never drops by policy: everything we do not explicitly decide is left to the
  // host's other rules, exactly like an iptables jump that falls off the end of our chain.
  if (c.hook) out.push(`\t\ttype filter hook ${c.hook} priority filter; policy accept;`);
  return out;
}

/**
 * nftInterface spells an interface pattern for nft: the IR's (and iptables') `veth+` prefix
 * wildcard is `veth*` in nft, where `"veth+"` would name one interface literally called `veth+`
 * and an excluded `veth+` would exclude nothing.
 */
function nftInterface(pattern: string): string {
  return pattern.endsWith('+') ? `${pattern.slice(0, -1)}*` : pattern;
}

/** opLine is one op as an nft command. */
function opLine([verb, o]: Op): string {
  switch (o.type) {
    case 'table':
      return `${verb} table ${T}`;
    case 'set':
      if (verb !== 'add') return `${verb} set ${T} ${nftName(o.name)}`;
      return `add set ${T} ${nftName(o.name)} { ${setAttributes(o).join(' ')} }`;
    case 'element':
      return `${verb} element ${T} ${nftName(o.set)} { ${o.elements.join(', ')} }`;
    case 'chain': {
      if (verb !== 'add') return `${verb} chain ${T} ${nftName(o.name)}`;
      const parts: string[] = [];
      if (o.comment !== undefined) parts.push(`comment "${o.comment}";`);
      // Same base-chain shape as the block form: microseg never drops by policy.
      if (o.hook) parts.push(`type filter hook ${o.hook} priority filter; policy accept;`);
      return parts.length ? `add chain ${T} ${nftName(o.name)} { ${parts.join(' ')} }` : `add chain ${T} ${nftName(o.name)}`;
    }
    case 'rule':
      if (verb === 'delete') return `delete rule ${T} ${nftName(o.chain)} handle ${o.handle}`;
      return `add rule ${T} ${nftName(o.chain)} ${ruleText(o.rule!, o.family)}`;
    case 'hook':
      throw new ProviderError('nftables has no hook objects: a base chain is its own hook', 'tool');
  }
}

function setAttributes(s: Extract<TxObject, { type: 'set' }>): string[] {
  const parts = [`type ${s.family === 4 ? 'ipv4_addr' : 'ipv6_addr'};`, 'flags interval;'];
  if (s.comment !== undefined) parts.push(`comment "${s.comment}";`);
  // nft refuses `elements = { }`: an empty set is only declared.
  if (s.elements && s.elements.length > 0) parts.push(`elements = { ${s.elements.join(', ')} };`);
  return parts;
}

/**
 * checkNftOp validates one op of table inet microseg as it is queued (TxBuilder) and when a
 * transaction from a plan file is validated: the verb is one nft has for the object, names are IR
 * names, texts are safe inside double quotes, elements are CIDRs of the set's family, rules render.
 */
export function checkNftOp(table: TableName, [verb, o]: Op): void {
  if (table !== TABLE) throw new ProviderError(`nftables transactions change table ${TABLE}, not ${table}`, 'tool');
  const bad = () => new ProviderError(`nftables has no "${verb} ${o.type}" in a transaction`, 'tool');
  switch (o.type) {
    case 'table':
      if (verb !== 'add' && verb !== 'delete') throw bad();
      return;
    case 'set':
      if (verb !== 'add' && verb !== 'flush' && verb !== 'delete') throw bad();
      checkName('set', o.name);
      if (verb === 'add') {
        if (o.family !== 4 && o.family !== 6) throw new ProviderError(`set ${o.name} needs family 4 or 6`, 'tool');
        if (o.comment !== undefined) checkText(`comment of set ${o.name}`, o.comment, MAX_COMMENT);
        for (const e of o.elements ?? []) checkElement(o.name, e);
      }
      return;
    case 'element':
      if (verb !== 'add' && verb !== 'delete') throw bad();
      checkName('set', o.set);
      if (o.elements.length === 0) throw new ProviderError(`${verb} element ${o.set} names no element`, 'tool');
      for (const e of o.elements) checkElement(o.set, e);
      return;
    case 'chain':
      if (verb !== 'add' && verb !== 'flush' && verb !== 'delete') throw bad();
      checkName('chain', o.name);
      if (o.comment !== undefined) checkText(`comment of chain ${o.name}`, o.comment, MAX_COMMENT);
      if (o.hook !== undefined && !['input', 'output', 'forward'].includes(o.hook)) throw new ProviderError(`chain ${o.name}: unknown hook ${String(o.hook)}`, 'tool');
      return;
    case 'rule':
      checkName('chain', o.chain);
      if (verb === 'delete') {
        if (!Number.isInteger(o.handle) || o.handle! < 1) throw new ProviderError(`delete rule in chain ${o.chain} needs a kernel handle`, 'tool');
        return;
      }
      if (verb !== 'add' || !o.rule) throw bad();
      if ((o.rule.match.srcSet || o.rule.match.dstSet) && o.family === undefined) {
        throw new ProviderError(`rule ${o.rule.id} references a set but carries no family`, 'tool');
      }
      ruleText(o.rule, o.family);
      return;
    case 'hook':
      throw bad();
  }
}


/**
 * renderNftScript returns the complete `nft -f` input that replaces table inet microseg with
 * `desired` (the full sync's script; `microseg rules` prints it).
 */
export function renderNftScript(desired: DesiredRuleset): string {
  return nftScript(fullSyncTransaction(desired, 'render'));
}

/**
 * fullSyncTransaction is the transaction that replaces table inet microseg with `desired`: add,
 * delete and add the table, then every set (with its members) and every chain with its rules.
 */
export function fullSyncTransaction(desired: DesiredRuleset, reason: string): Transaction {
  const sets = new Map(desired.sets.map((s) => [s.name, s] as const));
  const tx = newNftTx(desired.enforcer, 'full', reason);
  tx.add('add', { type: 'table' }).add('delete', { type: 'table' }).add('add', { type: 'table' });
  for (const s of desired.sets) tx.add('add', setObject(s));
  for (const c of desired.chains) {
    tx.add('add', { type: 'chain', name: c.name, ...(c.hook ? { hook: c.hook } : {}), ...(c.comment !== undefined ? { comment: c.comment } : {}) });
    for (const r of c.rules) tx.add('add', ruleObject(c.name, r, sets));
  }
  return tx.build();
}

/** setObject is the `add set` object of an IR set (members and comment included). */
export function setObject(s: AddressSet): Extract<TxObject, { type: 'set' }> {
  return { type: 'set', name: s.name, family: s.family, ...(s.comment !== undefined ? { comment: s.comment } : {}), elements: [...s.elements] };
}

/** ruleObject is the `add rule` object of an IR rule of `chain`, with the rule's family resolved against the ruleset's sets. */
export function ruleObject(chain: string, r: Rule, sets: ReadonlyMap<string, AddressSet>): Extract<TxObject, { type: 'rule' }> {
  const family = ruleFamily(r, sets);
  return { type: 'rule', chain, rule: r, ...(family !== undefined ? { family } : {}) };
}

/** newNftTx starts a transaction of table inet microseg. */
export function newNftTx(enforcer: string, kind: Transaction['kind'], reason: string): TxBuilder {
  return new TxBuilder({ backend: 'nftables', enforcer, table: TABLE, kind, reason }, checkNftOp);
}

/**
 * renderRule renders one IR rule as an nft rule statement (without the `add rule` prefix), with
 * its family resolved against `sets` (tests and `microseg rules` call it directly).
 */
export function renderRule(rule: Rule, sets: ReadonlyMap<string, AddressSet>): string {
  return ruleText(rule, ruleFamily(rule, sets));
}

/**
 * ruleText renders one IR rule of family `fam` (its own, or undefined for both). A run renders each
 * rule when its transaction is built (validation) and again when it is serialised, so the text is
 * kept per rule object: a compiled Rule is never mutated.
 */
function ruleText(rule: Rule, fam: Family | undefined): string {
  const hit = TEXT_MEMO.get(rule);
  if (hit && hit.fam === fam) return hit.text;
  const text = ruleTextOnce(rule, fam);
  TEXT_MEMO.set(rule, { fam, text });
  return text;
}

const TEXT_MEMO = new WeakMap<Rule, { fam: Family | undefined; text: string }>();

function ruleTextOnce(rule: Rule, fam: Family | undefined): string {
  checkRuleId(rule.id);
  const m = rule.match;
  const parts: string[] = [];
  const ip = (f: 4 | 6) => (f === 4 ? 'ip' : 'ip6');
  // A family-specific rule without an address expression needs an explicit family check in an
  // inet table (an address or set expression already implies it).
  const hasAddrExpr = !!(m.srcSet || m.dstSet || m.srcAddr || m.dstAddr);
  if (fam && !hasAddrExpr) parts.push(`meta nfproto ${fam === 4 ? 'ipv4' : 'ipv6'}`);
  if (m.iif !== undefined) {
    checkText('interface', m.iif, 15);
    parts.push(`iifname "${nftInterface(m.iif)}"`);
  }
  if (m.oif !== undefined) {
    checkText('interface', m.oif, 15);
    parts.push(`oifname "${nftInterface(m.oif)}"`);
  }
  if (m.ctState && m.ctState.length > 0) {
    parts.push(m.ctState.length === 1 ? `ct state ${m.ctState[0]}` : `ct state { ${m.ctState.join(', ')} }`);
  }
  if (m.srcSet) checkName('set', m.srcSet.set);
  if (m.dstSet) checkName('set', m.dstSet.set);
  if (m.srcSet) parts.push(`${ip(fam!)} saddr ${m.srcSet.negate ? '!= ' : ''}@${nftName(m.srcSet.set)}`);
  if (m.dstSet) parts.push(`${ip(fam!)} daddr ${m.dstSet.negate ? '!= ' : ''}@${nftName(m.dstSet.set)}`);
  if (m.srcAddr) parts.push(`${ip(fam!)} saddr ${m.srcAddr}`);
  if (m.dstAddr) parts.push(`${ip(fam!)} daddr ${m.dstAddr}`);
  parts.push(...renderProtocol(rule, m));
  // Every rule counts what it matched (`microseg stats`). The counter is kernel state, not part
  // of the rule's identity: read-back keeps it out of LiveRuleset (providers/counters.ts).
  // The limit goes before the counter, so a log rule counts the records it sent: the verdict
  // rule's count minus it is what the limit suppressed.
  if (rule.verdict.kind === 'log' && rule.verdict.limit) parts.push(limitText(rule.verdict.limit, rule));
  parts.push('counter');
  parts.push(renderVerdict(rule.verdict, m));
  parts.push(`comment "${COMMENT_PREFIX}${rule.id}"`);
  return parts.join(' ');
}

function renderProtocol(rule: Rule, m: Match): string[] {
  const p = m.protocol;
  if (m.dports && m.dports.length > 0 && p !== 'tcp' && p !== 'udp') {
    throw new ProviderError(`rule ${rule.id}: destination ports need protocol tcp or udp, not ${p ?? 'any'}`, 'tool');
  }
  if (m.icmpType !== undefined && p !== 'icmp' && p !== 'icmpv6') {
    throw new ProviderError(`rule ${rule.id}: an ICMP type needs protocol icmp or icmpv6`, 'tool');
  }
  if (m.icmpCodes && m.icmpCodes.length > 0 && m.icmpType === undefined) {
    throw new ProviderError(`rule ${rule.id}: ICMP codes need an ICMP type`, 'tool');
  }
  if (p === undefined) return [];
  if (p === 'tcp' || p === 'udp') {
    if (!m.dports || m.dports.length === 0) return [`meta l4proto ${p}`];
    return [`${p} dport ${valueSet(m.dports, 65535, rule)}`];
  }
  if (p === 'icmp' || p === 'icmpv6') {
    // Numbers, not names: nft prints names back but accepts numbers everywhere, and a number means
    // the same on every nft version. `icmp type` in an inet table adds its own l4proto dependency.
    if (m.icmpType === undefined) return [`meta l4proto ${p === 'icmp' ? 1 : 58}`];
    checkByte(m.icmpType, rule);
    const out = [`${p} type ${m.icmpType}`];
    if (m.icmpCodes && m.icmpCodes.length > 0) out.push(`${p} code ${valueSet(m.icmpCodes, 255, rule)}`);
    return out;
  }
  const num = /^\d+$/.test(p) ? Number(p) : OTHER_PROTOCOLS[p];
  if (num === undefined || num > 255) throw new ProviderError(`rule ${rule.id}: unknown protocol ${p}`, 'tool');
  // By number: a host's /etc/protocols may lack the name (minimal container images do).
  return [`meta l4proto ${num}`];
}

/** limitText is a log rule's rate limit (packets per second, burst in packets). */
function limitText(l: { perSecond: number; burst: number }, rule: Rule): string {
  if (!Number.isInteger(l.perSecond) || l.perSecond < 1 || !Number.isInteger(l.burst) || l.burst < 1) {
    throw new ProviderError(`rule ${rule.id}: invalid log limit ${l.perSecond}/second burst ${l.burst}`, 'tool');
  }
  return `limit rate ${l.perSecond}/second burst ${l.burst} packets`;
}

function checkByte(n: number, rule: Rule): void {
  if (!Number.isInteger(n) || n < 0 || n > 255) throw new ProviderError(`rule ${rule.id}: ICMP type/code ${n} out of range`, 'tool');
}

/** valueSet renders port or code ranges as `80`, `8000-8100` or an anonymous set `{ 80, 8000-8100 }`. */
function valueSet(ranges: readonly PortRange[], max: number, rule: Rule): string {
  const items = ranges.map((r) => {
    if (!Number.isInteger(r.from) || !Number.isInteger(r.to) || r.from < 0 || r.to > max || r.from > r.to) {
      throw new ProviderError(`rule ${rule.id}: invalid range ${r.from}:${r.to}`, 'tool');
    }
    return r.from === r.to ? String(r.from) : `${r.from}-${r.to}`;
  });
  return items.length === 1 ? items[0] : `{ ${items.join(', ')} }`;
}

/**
 * renderVerdict: `reject` on a tcp rule answers with a TCP reset (what a closed port does, so
 * clients fail fast with ECONNREFUSED); any other reject uses nft's default for the inet family,
 * ICMP(v6) port unreachable, matching iptables' REJECT defaults so both backends behave alike.
 */
function renderVerdict(v: Verdict, m: Match): string {
  switch (v.kind) {
    case 'accept':
      return 'accept';
    case 'drop':
      return 'drop';
    case 'return':
      return 'return';
    case 'reject':
      return m.protocol === 'tcp' ? 'reject with tcp reset' : 'reject';
    case 'jump':
      checkName('chain', v.chain);
      return `jump ${nftName(v.chain)}`;
    case 'log':
      checkText('log prefix', v.prefix, MAX_LOG_PREFIX);
      if (!Number.isInteger(v.group) || v.group < 0 || v.group > 65535) throw new ProviderError(`log group ${v.group} out of range`, 'tool');
      return `log prefix "${v.prefix}" group ${v.group}`;
    default: {
      const never: never = v;
      throw new ProviderError(`unknown verdict ${JSON.stringify(never)}`, 'tool');
    }
  }
}

/** sanitize keeps a text printable and on one line, for `#` comments in scripts. */
export function sanitize(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, '?');
}
