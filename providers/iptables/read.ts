/**
 * Reading what microseg owns in iptables/ipset: `iptables-save -t filter`, `ip6tables-save -t
 * filter` and `ipset save`. Only `MSEG-` chains, `mseg-` sets and `microseg:hook` jumps are read;
 * rule ids come only from `microseg:<id>` comments (never from rule bodies, PRACTICES 7). The one
 * body we look at is the `-j` target of our own hook rule, whose shape we fully control, because
 * an old hook can only be deleted by its exact spec.
 */
import type { AddressSet, Family, Hook } from '../../src/compile/ir';
import type { BackendName, LiveChain, LiveHook, LiveRuleset } from '../types';
import { ProviderError, canonicalLive, normaliseCidr } from '../common';
import { BUILTIN, CHAIN_PREFIX, HOOK_COMMENT, SET_PREFIX } from './names';
import { COMMENT_PREFIX } from './render';
import { addCount, recordCounters, type RuleCount } from '../counters';
import { OTHER_PROTOCOLS } from '../../src/model/protocols';

/** SavedTable is the owned part of one family's table filter. */
export interface SavedTable {
  /**
   * Owned chains (IR names) with the comment ids of their rules, in order, the normal form of each
   * of those rules (iptBody, parallel to `ids`), and uncommented rule counts; `counts` holds the
   * rules' counters when the text carried them (`iptables-save -c`).
   */
  chains: Map<string, SavedChain>;
  hooks: LiveHook[];
}

/** SavedChain is one owned chain of one family as iptables-save lists it. */
export interface SavedChain {
  ids: string[];
  bodies: string[];
  foreign: number;
  counts?: Map<string, RuleCount>;
}

const HOOKS: Array<[Hook, string]> = Object.entries(BUILTIN) as Array<[Hook, string]>;
/** `iptables-save -c` prefixes every rule with `[packets:bytes] `. */
const COUNTER_RE = /^\[(\d+):(\d+)\]\s+/;
const COMMENT_RE = /(?:^|\s)--comment\s+(?:"((?:[^"\\]|\\.)*)"|(\S+))/;

/** commentOf extracts the value of a rule's comment match from an iptables-save line. */
export function commentOf(line: string): string | undefined {
  const m = COMMENT_RE.exec(line);
  return m ? (m[1] ?? m[2]) : undefined;
}

/**
 * iptBody is the normal form of one rule spec (what follows `-A CHAIN`), as iptables-save lists
 * it and as renderRuleSpecs writes it: its words, quotes removed, without the comment match and
 * without counters (`-c P B` or a leading `[P:B]`; counter values are never drift), addresses as
 * canonical CIDRs, conntrack states sorted, protocols by number, a target's options sorted. The renderer
 * writes matches in the order and spelling iptables-save prints them back (the real-kernel suites
 * check read-back equals expected()), so one function normalises both sides.
 */
export function iptBody(spec: string): string {
  const words = splitWords(spec);
  const out: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    if (i === 0 && /^\[\d+:\d+\]$/.test(w)) continue;
    if (w === '-c' || w === '--set-counters') {
      i += 2;
      continue;
    }
    if (w === '-m' && words[i + 1] === 'comment' && words[i + 2] === '--comment') {
      i += 3;
      continue;
    }
    if (w === '--comment') {
      i += 1;
      continue;
    }
    out.push(w);
    // iptables-save prints addresses with their mask (`198.18.0.10/32`) where the renderer may
    // write a bare host, and conntrack states in the kernel's bit order: fold both to one spelling.
    const next = words[i + 1];
    if (next === undefined) continue;
    if (w === '-s' || w === '-d') {
      out.push(cidrOrSelf(next));
      i++;
    } else if (w === '--ctstate') {
      out.push(next.split(',').sort().join(','));
      i++;
    } else if (w === '-p') {
      // The renderer writes rarer protocols by number; iptables-save names them from /etc/protocols.
      out.push(next in OTHER_PROTOCOLS ? String(OTHER_PROTOCOLS[next]) : next);
      i++;
    } else if (w === '-j') {
      // A target's options come back in the target's own order (NFLOG: prefix before group).
      out.push(next, ...targetOptions(words.slice(i + 2)));
      break;
    }
  }
  return out.map((w) => (/[\s"]/.test(w) || w === '' ? JSON.stringify(w) : w)).join(' ');
}

/** targetOptions sorts a target's `--option value` pairs by option (values are one word each, after quote removal). */
function targetOptions(words: readonly string[]): string[] {
  const pairs: string[][] = [];
  for (let i = 0; i < words.length; i++) {
    if (words[i].startsWith('--') && i + 1 < words.length && !words[i + 1].startsWith('--')) pairs.push([words[i], words[++i]]);
    else pairs.push([words[i]]);
  }
  return pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).flat();
}

function cidrOrSelf(x: string): string {
  try {
    return normaliseCidr(x);
  } catch {
    return x;
  }
}

/** splitWords splits a rule spec into words as a shell would (double quotes, backslash escapes inside them). */
function splitWords(spec: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  let quoted = false;
  for (let i = 0; i < spec.length; i++) {
    const ch = spec[i];
    if (quoted) {
      if (ch === '\\' && i + 1 < spec.length) cur += spec[++i];
      else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"') {
      quoted = true;
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += ch;
      inWord = true;
    }
  }
  if (inWord) out.push(cur);
  return out;
}

/** parseSave parses `iptables-save -t filter` output of one family. */
export function parseSave(text: string, family: Family): SavedTable {
  const chains = new Map<string, SavedChain>();
  const builtinPos = new Map<string, number>();
  const hookInfo = new Map<Hook, { first: boolean; targets: string[] }>();
  let inFilter = false;
  for (const raw of text.split('\n')) {
    let line = raw.trim();
    // The counters are read, then cut off: nothing after this point sees them, so no comparison
    // of rules can differ by traffic (providers/counters.ts).
    const counter = COUNTER_RE.exec(line);
    if (counter) line = line.slice(counter[0].length);
    if (line.startsWith('*')) {
      inFilter = line === '*filter';
      continue;
    }
    // '#' lines include iptables-nft-save's "# Warning: iptables-legacy tables present" when both
    // subsystems hold rules in one namespace; they are never part of the table.
    if (!inFilter || line === '' || line.startsWith('#') || line === 'COMMIT') continue;
    if (line.startsWith(':')) {
      const name = line.slice(1).split(/\s+/)[0];
      if (name.startsWith(CHAIN_PREFIX)) chains.set(name.slice(CHAIN_PREFIX.length), chains.get(name.slice(CHAIN_PREFIX.length)) ?? { ids: [], bodies: [], foreign: 0 });
      continue;
    }
    const m = /^-A\s+(\S+)\s*(.*)$/.exec(line);
    if (!m) continue;
    const [, chain, rest] = m;
    const comment = commentOf(rest);
    if (chain.startsWith(CHAIN_PREFIX)) {
      const c = chains.get(chain.slice(CHAIN_PREFIX.length)) ?? { ids: [], bodies: [], foreign: 0 };
      chains.set(chain.slice(CHAIN_PREFIX.length), c);
      if (comment?.startsWith(COMMENT_PREFIX) && comment !== HOOK_COMMENT) {
        const id = comment.slice(COMMENT_PREFIX.length);
        c.ids.push(id);
        if (counter) {
          c.counts ??= new Map();
          addCount(c.counts, id, { packets: Number(counter[1]), bytes: Number(counter[2]) });
        }
        c.bodies.push(iptBody(rest));
      } else c.foreign++;
      continue;
    }
    const hook = HOOKS.find(([, b]) => b === chain)?.[0];
    if (!hook) continue;
    const pos = (builtinPos.get(chain) ?? 0) + 1;
    builtinPos.set(chain, pos);
    if (comment !== HOOK_COMMENT) continue;
    const target = /(?:^|\s)-j\s+(\S+)/.exec(rest)?.[1] ?? '';
    const h = hookInfo.get(hook) ?? { first: pos === 1, targets: [] };
    h.targets.push(target.startsWith(CHAIN_PREFIX) ? target.slice(CHAIN_PREFIX.length) : `iptables:${target}`);
    hookInfo.set(hook, h);
  }
  const hooks: LiveHook[] = [...hookInfo.entries()].map(([hook, h]) => ({
    hook,
    family,
    present: true,
    first: h.first,
    count: h.targets.length,
    targets: h.targets,
  }));
  return { chains, hooks };
}

/**
 * parseListRules parses the concatenated output of `iptables -S CHAIN` commands of one family
 * (each prints `-P BUILTIN POLICY` or `-N CHAIN`, then the chain's `-A` lines with the same rule
 * spec iptables-save prints) by turning it into iptables-save text of table filter — `-N CHAIN`
 * becomes `:CHAIN - [0:0]`, `-P` lines are dropped — and handing that to parseSave, so a partial
 * read and a full read share one parser. Only the chains listed appear in the result; hooks are
 * exact for every builtin chain whose listing is included.
 */
export function parseListRules(text: string, family: Family): SavedTable {
  const lines = ['*filter'];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const n = /^-N\s+(\S+)$/.exec(line);
    if (n) lines.push(`:${n[1]} - [0:0]`);
    else if (line.startsWith('-A ')) lines.push(line);
  }
  lines.push('COMMIT');
  return parseSave(lines.join('\n'), family);
}

/**
 * parseNftChainNames reads `nft -j list chains` on an iptables-nft host: the families (ip = 4,
 * ip6 = 6) each owned chain (IR name) of table filter exists in. iptables-nft keeps table filter
 * as nftables tables `ip filter` and `ip6 filter`, so this is the chain list iptables-nft-save
 * would print, without any rule (a few milliseconds where `iptables-nft -S` of 10,000 rules takes
 * ~90 ms). Undefined when the text is not nft's JSON.
 */
export function parseNftChainNames(json: string): Map<string, Array<4 | 6>> | undefined {
  let doc: { nftables?: Array<Record<string, unknown>> };
  try {
    doc = JSON.parse(json) as typeof doc;
  } catch {
    return undefined;
  }
  if (!doc || !Array.isArray(doc.nftables)) return undefined;
  const out = new Map<string, Array<4 | 6>>();
  for (const item of doc.nftables) {
    const c = item.chain as Record<string, unknown> | undefined;
    if (!c || c.table !== 'filter' || typeof c.name !== 'string' || !c.name.startsWith(CHAIN_PREFIX)) continue;
    const f = c.family === 'ip' ? 4 : c.family === 'ip6' ? 6 : undefined;
    if (f === undefined) continue;
    const name = c.name.slice(CHAIN_PREFIX.length);
    const fams = out.get(name) ?? [];
    if (!fams.includes(f)) fams.push(f);
    out.set(name, fams.sort());
  }
  return out;
}

/** parseIpsetSave parses `ipset save` output, keeping only `mseg-` sets. */
export function parseIpsetSave(text: string): AddressSet[] {
  const sets = new Map<string, AddressSet>();
  for (const raw of text.split('\n')) {
    const parts = raw.trim().split(/\s+/);
    if (parts.length < 2 || !parts[1].startsWith(SET_PREFIX)) continue;
    const name = parts[1].slice(SET_PREFIX.length);
    if (parts[0] === 'create') {
      const fi = parts.indexOf('family');
      const family: Family = fi > 0 && parts[fi + 1] === 'inet6' ? 6 : 4;
      // An owned name with a type microseg never creates is reported under a name plan cannot
      // match, so it shows as an orphan rather than as a set with wrong members.
      sets.set(name, { name: parts[2] === 'hash:net' ? name : `${name}:${parts[2]}`, family, elements: [] });
    } else if (parts[0] === 'add') {
      const s = sets.get(name);
      if (!s) throw new ProviderError(`ipset save: element for undeclared set ${parts[1]}`, 'kernel');
      // hash:net prints a host entry without its /32 (or /128); normalise to the IR's CIDR form.
      // A `nomatch` flag is never written by microseg (IR sets are exact intervals); such an
      // element is kept with a marker so plan sees it as a difference.
      s.elements.push(parts.includes('nomatch') ? `!${normaliseCidr(parts[2])}` : normaliseCidr(parts[2]));
    }
  }
  return [...sets.values()];
}

/**
 * collapseParts folds complete runs `<id>#1/n … <id>#n/n` (see render.ts) back into `<id>`;
 * incomplete or out-of-order runs stay as part ids, which never equal an IR id (drift).
 */
export function collapseParts(ids: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < ids.length; ) {
    const m = /^(.*)#1\/(\d+)$/.exec(ids[i]);
    if (m) {
      const [, base, nText] = m;
      const n = Number(nText);
      let ok = i + n <= ids.length;
      for (let k = 2; ok && k <= n; k++) ok = ids[i + k - 1] === `${base}#${k}/${n}`;
      if (ok) {
        out.push(base);
        i += n;
        continue;
      }
    }
    out.push(ids[i]);
    i++;
  }
  return out;
}

/**
 * mergeFamilies rebuilds one rule order from a chain's IPv4 and IPv6 rule ids. A family-neutral
 * IR rule sits in both lists (the anchors); single-family rules sit in one. Between anchors, IPv4
 * rules come first, then IPv6: rules of different families never see the same packet, so this
 * canonical order is equivalent to the IR's, and `expected()` uses the same merge so that live
 * and desired compare equal. Order drift of anchors is kept visible (ids are emitted as found).
 */
export function mergeFamilies(v4: readonly string[], v6: readonly string[]): string[] {
  const in4 = new Set(v4);
  const in6 = new Set(v6);
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < v4.length || j < v6.length) {
    if (i < v4.length && !in6.has(v4[i])) out.push(v4[i++]);
    else if (j < v6.length && !in4.has(v6[j])) out.push(v6[j++]);
    else if (i < v4.length && j < v6.length && v4[i] === v6[j]) {
      out.push(v4[i++]);
      j++;
    } else if (i < v4.length) out.push(v4[i++]);
    else out.push(v6[j++]);
  }
  return out;
}

/**
 * KERNEL_IDS remembers, for each LiveChain a read produced, the comment ids of its kernel rules in
 * each family, in kernel order (split parts `<id>#k/n` not folded), so rule k of the list is rule
 * number k+1 of the chain. Only families whose chain holds no uncommented rule are recorded. Not a
 * field: positions are no part of the owned state (expected() cannot know them; fingerprints and
 * plan must ignore them); they only let renderChanges delete and insert single rules. A copied
 * LiveRuleset (plan file, structuredClone) has none, and renderChanges rewrites such chains whole.
 */
const KERNEL_IDS = new WeakMap<LiveChain, Partial<Record<Family, readonly string[]>>>();

/** kernelIdsOf returns a live chain's per-family kernel rule ids, when this process read them. */
export function kernelIdsOf(chain: LiveChain): Partial<Record<Family, readonly string[]>> | undefined {
  return KERNEL_IDS.get(chain);
}

/** ruleEntries are LiveChain.rules entries of one family's chain: `ipv4|ipv6 <id> <body>`. */
export function ruleEntries(family: Family, c: { ids: readonly string[]; bodies: readonly string[] } | undefined): string[] {
  return (c?.ids ?? []).map((id, i) => `ipv${family} ${id} ${c!.bodies[i]}`);
}

/** buildLive combines both families' tables and the sets into one canonical LiveRuleset. */
export function buildLive(backend: BackendName, t4: SavedTable, t6: SavedTable, sets: AddressSet[]): LiveRuleset {
  const hooks = [...t4.hooks, ...t6.hooks];
  const names = new Set([...t4.chains.keys(), ...t6.chains.keys()]);
  const chains: LiveChain[] = [...names].map((name) => {
    const c4 = t4.chains.get(name);
    const c6 = t6.chains.get(name);
    const families: Array<4 | 6> = [];
    if (c4) families.push(4);
    if (c6) families.push(6);
    const lc: LiveChain = {
      name,
      ruleIds: mergeFamilies(collapseParts(c4?.ids ?? []), collapseParts(c6?.ids ?? [])),
      foreignRules: (c4?.foreign ?? 0) + (c6?.foreign ?? 0),
      families,
      rules: [...ruleEntries(4, c4), ...ruleEntries(6, c6)],
    };
    const hook = hooks.find((h) => h.targets?.includes(name))?.hook;
    if (hook) lc.hook = hook;
    const kernel: Partial<Record<Family, readonly string[]>> = {};
    if (c4 && c4.foreign === 0) kernel[4] = [...c4.ids];
    if (c6 && c6.foreign === 0) kernel[6] = [...c6.ids];
    KERNEL_IDS.set(lc, kernel);
    if (c4?.counts || c6?.counts) {
      // A family-neutral IR rule is one kernel rule per family: its count is their sum.
      const counts = new Map<string, RuleCount>();
      for (const c of [c4, c6]) for (const [id, n] of c?.counts ?? []) addCount(counts, id, n);
      recordCounters(lc, counts);
    }
    return lc;
  });
  return canonicalLive({ backend, sets, chains, hooks });
}
