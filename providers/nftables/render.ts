/**
 * Rendering a DesiredRuleset to one `nft -f` script that atomically replaces table inet microseg.
 *
 * The script is `add table` + `delete table` + the full new table: nft applies a whole file as one
 * netlink batch (one kernel transaction), so the host goes from the old table to the new one with
 * no window where neither or half exists; the leading `add table` makes `delete table` valid when
 * the table does not exist yet (nft 1.0.6 has no `destroy`, which arrived in 1.0.8 / kernel 6.3).
 */
import type { AddressSet, Chain, DesiredRuleset, Match, Rule, Verdict } from '../../src/compile/ir';
import type { PortRange } from '../../src/model/types';
import { OTHER_PROTOCOLS } from '../../src/model/protocols';
import { ProviderError, checkName, checkRuleId, checkText, ruleFamily } from '../common';
import { NFT_FAMILY, NFT_TABLE, nftName } from './names';

/** COMMENT_PREFIX marks every rule microseg writes; read-back takes rule ids only from it. */
export const COMMENT_PREFIX = 'microseg:';

/** nft limits: NFT_USERDATA_MAXLEN is 256 bytes for comments; log prefixes are capped at 127 by nft. */
const MAX_COMMENT = 128;
const MAX_LOG_PREFIX = 127;

/** renderNftScript returns the complete `nft -f` input for `desired`. */
export function renderNftScript(desired: DesiredRuleset): string {
  const sets = new Map(desired.sets.map((s) => [s.name, s] as const));
  const lines: string[] = [
    `# microseg ruleset for enforcer ${sanitizeComment(desired.enforcer)}: replaces table ${NFT_FAMILY} ${NFT_TABLE} atomically`,
    `add table ${NFT_FAMILY} ${NFT_TABLE}`,
    `delete table ${NFT_FAMILY} ${NFT_TABLE}`,
    `table ${NFT_FAMILY} ${NFT_TABLE} {`,
  ];
  const blocks: string[][] = [];
  for (const s of desired.sets) blocks.push(renderSet(s));
  for (const c of desired.chains) blocks.push(renderChain(c, sets));
  lines.push(blocks.map((b) => b.join('\n')).join('\n\n'));
  lines.push('}');
  return lines.filter((l) => l !== '').join('\n') + '\n';
}

/** renderNftCleanup removes everything microseg owns in nftables: the table, whole. */
export function renderNftCleanup(): string {
  // `add` first so the delete succeeds (idempotently) when the table is already gone.
  return `add table ${NFT_FAMILY} ${NFT_TABLE}\ndelete table ${NFT_FAMILY} ${NFT_TABLE}\n`;
}

function renderSet(s: AddressSet): string[] {
  checkName('set', s.name);
  const out = [`\tset ${nftName(s.name)} {`, `\t\ttype ${s.family === 4 ? 'ipv4_addr' : 'ipv6_addr'}`, '\t\tflags interval'];
  if (s.comment !== undefined) {
    checkText(`comment of set ${s.name}`, s.comment, MAX_COMMENT);
    out.push(`\t\tcomment "${s.comment}"`);
  }
  // nft refuses `elements = { }`; an empty set is just declared. IR elements are disjoint, which
  // matters: nft rejects overlapping interval elements with "conflicting intervals specified".
  if (s.elements.length > 0) {
    out.push(`\t\telements = {`);
    s.elements.forEach((e, i) => out.push(`\t\t\t${e}${i < s.elements.length - 1 ? ',' : ''}`));
    out.push('\t\t}');
  }
  out.push('\t}');
  return out;
}

function renderChain(c: Chain, sets: ReadonlyMap<string, AddressSet>): string[] {
  checkName('chain', c.name);
  const out = [`\tchain ${nftName(c.name)} {`];
  if (c.comment !== undefined) {
    checkText(`comment of chain ${c.name}`, c.comment, MAX_COMMENT);
    out.push(`\t\tcomment "${c.comment}"`);
  }
  // A base chain never drops by policy: everything we do not explicitly decide is left to the
  // host's other rules, exactly like an iptables jump that falls off the end of our chain.
  if (c.hook) out.push(`\t\ttype filter hook ${c.hook} priority filter; policy accept;`);
  for (const r of c.rules) out.push(`\t\t${renderRule(r, sets)}`);
  out.push('\t}');
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

/** renderRule renders one IR rule as an nft rule statement (without the `add rule` prefix). */
export function renderRule(rule: Rule, sets: ReadonlyMap<string, AddressSet>): string {
  checkRuleId(rule.id);
  const fam = ruleFamily(rule, sets);
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
  if (m.srcSet) parts.push(`${ip(sets.get(m.srcSet.set)!.family)} saddr ${m.srcSet.negate ? '!= ' : ''}@${nftName(m.srcSet.set)}`);
  if (m.dstSet) parts.push(`${ip(sets.get(m.dstSet.set)!.family)} daddr ${m.dstSet.negate ? '!= ' : ''}@${nftName(m.dstSet.set)}`);
  if (m.srcAddr) parts.push(`${ip(fam!)} saddr ${m.srcAddr}`);
  if (m.dstAddr) parts.push(`${ip(fam!)} daddr ${m.dstAddr}`);
  parts.push(...renderProtocol(rule, m));
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

function sanitizeComment(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, '?');
}
