/**
 * FakeFirewall: an in-memory double of many hosts' firewalls that implements the Host seam
 * (providers/firewall.ts: Connector → FirewallHost → Firewall), PRACTICES 14. SPEC.md states what
 * it models and what it does not.
 *
 * Writes: it consumes the same Transactions apply sends a real host (typed ops, never script
 * text), with the kernel's semantics per table — `nft -f` and each `iptables-restore` commit
 * atomically on a copy, `ipset restore` runs line by line — and refuses what a kernel or its tools
 * refuse (missing objects, dangling set and jump references, jump loops, overlapping interval
 * elements, a set or chain still in use, a rule number out of range, a hook rule that is not
 * there). Why Transactions and not the commands: answering `nft -f` and `iptables-restore` would
 * mean parsing their script grammar again, a second copy of what the serialisers know (which the
 * golden files and the real-kernel suites pin); and Transactions are what an agent on a host will
 * execute, so the fake exercises that contract.
 *
 * Reads: it answers the listing commands the providers' readers run (`nft -j list …`,
 * `iptables-save`, `iptables -S CHAIN`, `ipset save`) from its state, so the real parsers,
 * partial reads and merging run on top of it, rule handles and kernel rule order included.
 *
 * Packets: `trace` walks a host's current kernel state (every backend's owned and foreign chains
 * at a hook, with the IR tracer src/trace/tracer.ts), so tests can check which connections get
 * through. A fake is for speed, never for proof (DESIGN §7).
 */
import type { AddressSet, Chain, DesiredRuleset, Family, Hook, Rule } from '../../src/compile/ir';
import type { Connection } from '../../src/hosts/connection';
import { HostUnreachableError } from '../../src/hosts/factory';
import type { CommandResult, Host } from '../../src/hosts/types';
import { cidrFamily, cidrToInterval } from '../../src/model/intervals';
import { traceHost, type Packet, type TraceVerdict } from '../../src/trace/tracer';
import { ProviderError, checkName, checkRuleId } from '../common';
import type { Connector, Firewall, FirewallHost, SendOptions } from '../firewall';
import { renderRuleSpecs } from '../iptables/render';
import { listedExpr } from '../nftables/body';
import { providerFor } from '../registry';
import type { Op, Transaction, TxObject } from '../transaction';
import type { BackendName, Capabilities, LiveRuleset, PartialLive, ReadScope } from '../types';

const BACKENDS: readonly BackendName[] = ['nftables', 'iptables-nft', 'iptables-legacy'];
const BUILTINS: Record<Hook, string> = { input: 'INPUT', output: 'OUTPUT', forward: 'FORWARD' };
const HOOK_COMMENT = 'microseg:hook';

/** MAX_LOG_PREFIX is the strictest prefix limit of the real backends (iptables LOG: 29). */
export const MAX_LOG_PREFIX = 29;

const clone = <T>(v: T): T => structuredClone(v);
const refuse = (msg: string): never => {
  throw new ProviderError(msg, 'kernel');
};

// ---------------------------------------------------------------------------------------------
// Kernel state of one host

/** A rule as the fake kernel holds it: its comment (owned rules carry `microseg:<id>`) and its meaning for the tracer. */
interface KRule {
  handle: number;
  comment?: string;
  /** What the rule does, in IR terms (jumps name IR chains; foreign rules too). */
  rule: Rule;
  /** iptables: the rule spec after `-A CHAIN` as iptables-save prints it. */
  spec?: string;
}

interface NftSet {
  family: Family;
  comment?: string;
  elements: string[];
}

interface NftChain {
  hook?: Hook;
  comment?: string;
  rules: KRule[];
}

/** The owned table inet microseg (keys are IR names). */
interface NftTable {
  sets: Map<string, NftSet>;
  chains: Map<string, NftChain>;
}

/** A foreign nftables base chain (another table's), for hook order and packet walks. */
export interface ForeignBaseChain {
  family: 'ip' | 'ip6' | 'inet';
  table: string;
  name: string;
  hook: Hook;
  prio: number;
  rules: Rule[];
}

/** One family's table filter of one iptables variant: builtin chains and owned chains (IR names), each a rule list. */
interface XtTable {
  builtin: Record<string, KRule[]>;
  chains: Map<string, KRule[]>;
}

interface IpSet {
  family: Family;
  type: string;
  elements: string[];
}

interface Kernel {
  nft?: NftTable;
  foreignBase: ForeignBaseChain[];
  xt: Record<'nft' | 'legacy', Record<Family, XtTable>>;
  /** ipset sets by kernel name (shared by both iptables variants, as in the kernel). */
  ipsets: Map<string, IpSet>;
  nextHandle: number;
}

function emptyXt(): XtTable {
  return { builtin: { INPUT: [], OUTPUT: [], FORWARD: [] }, chains: new Map() };
}

function emptyKernel(): Kernel {
  return { foreignBase: [], xt: { nft: { 4: emptyXt(), 6: emptyXt() }, legacy: { 4: emptyXt(), 6: emptyXt() } }, ipsets: new Map(), nextHandle: 1 };
}

export interface FakeHostOptions {
  /** What `backend = "auto"` detects (default nftables). */
  detect?: BackendName;
  /** Backends whose tools exist on the host (default all three). */
  available?: BackendName[];
  /** What each backend's probe reports missing (default nothing). */
  missing?: Partial<Record<BackendName, string[]>>;
  /**
   * The host's own addresses, as `ip -j -d addr show` lists them (providers/host-facts.ts).
   * Unset: `ip` is not modelled (exit 127), so plan cannot place PUs from the host and says so.
   */
  addresses?: string[];
  /** Linux bridges (name and own subnets) the host has, for the bridged-PU check. */
  bridges?: Array<{ name: string; subnets: string[] }>;
  /** net.bridge.bridge-nf-call-iptables / -ip6tables; unset: /proc/sys/net/bridge is absent. */
  bridgeNetfilter?: { ipv4: boolean; ipv6: boolean };
}

/** FakeHost is one host's firewall state, and the tamper API tests use to make drift. */
export class FakeHost {
  kernel: Kernel = emptyKernel();
  removed = false;
  private fault: Error | undefined;

  constructor(
    readonly name: string,
    readonly options: FakeHostOptions = {},
  ) {}

  get description(): string {
    return `fake ${this.name}`;
  }

  /** injectFault makes the next transaction on this host fail with `err`, changing nothing. */
  injectFault(err: Error = new ProviderError(`injected fault on ${this.name}`, 'kernel')): void {
    this.fault = err;
  }

  /** apply runs one transaction with the kernel's semantics (see the module comment). */
  apply(tx: Transaction): void {
    this.reachable();
    if (this.fault) {
      const f = this.fault;
      this.fault = undefined;
      throw f;
    }
    if (!this.available(tx.backend)) refuse(`${tx.backend} is not installed on ${this.name}`);
    if (tx.table === 'inet microseg') {
      const next = clone(this.kernel);
      for (const op of tx.ops) nftOp(next, op);
      if (next.nft) nftRefs(next.nft);
      checkJumps(nftRulesets(next));
      this.kernel = next;
    } else if (tx.table === 'ipset') {
      // ipset restore runs each line as its own command: what ran before a failure stays.
      for (const op of tx.ops) ipsetOp(this.kernel, op);
    } else {
      const family: Family = tx.table === 'ip filter' ? 4 : 6;
      const variant = tx.backend === 'iptables-legacy' ? 'legacy' : 'nft';
      const next = clone(this.kernel);
      for (const op of tx.ops) xtOp(next, variant, family, op);
      checkJumps([xtRuleset(next, variant, family)]);
      this.kernel = next;
    }
  }

  available(backend: BackendName): boolean {
    return (this.options.available ?? BACKENDS).includes(backend);
  }

  reachable(): void {
    if (this.removed) throw new HostUnreachableError(this.description, `${this.description} is unreachable: the host was removed`);
  }

  // ---- tamper API: changes made outside microseg (drift) -------------------------------------

  /** nftDeleteRule removes the owned rule `id` from chain `chain` of table inet microseg. */
  nftDeleteRule(chain: string, id: string): void {
    const c = this.kernel.nft?.chains.get(chain) ?? refuse(`no chain ${chain}`);
    c.rules = c.rules.filter((r) => r.comment !== `microseg:${id}`);
  }

  /**
   * setVerdict replaces the verdict of owned rule `id` in chain `chain`, keeping its comment and
   * match, as `nft replace rule ... handle H <match> <verdict> comment "microseg:<id>"` or
   * `iptables -R CHAIN n <spec> -j <target>` would: on nftables, or on one family of an iptables
   * variant (every part of a split rule).
   */
  setVerdict(where: 'nftables' | { variant: 'nft' | 'legacy'; family: Family }, chain: string, id: string, verdict: Rule['verdict']): void {
    const mine = (r: KRule) => r.comment === `microseg:${id}` || (r.comment ?? '').startsWith(`microseg:${id}#`);
    if (where === 'nftables') {
      const c = this.kernel.nft?.chains.get(chain) ?? refuse(`no chain ${chain}`);
      const hits = c.rules.filter(mine);
      if (hits.length === 0) refuse(`no rule ${id} in ${chain}`);
      for (const r of hits) r.rule = { ...r.rule, verdict: clone(verdict) };
      return;
    }
    const hits = this.xtList(where.variant, where.family, chain).filter(mine);
    if (hits.length === 0) refuse(`no rule ${id} in ${chain}`);
    const target = verdict.kind === 'accept' ? 'ACCEPT' : verdict.kind === 'drop' ? 'DROP' : verdict.kind === 'return' ? 'RETURN' : refuse(`setVerdict: ${verdict.kind} is not modelled`);
    for (const r of hits) {
      r.rule = { ...r.rule, verdict: clone(verdict) };
      r.spec = r.spec!.replace(/ -j .*$/, ` -j ${target}`);
    }
  }

  /** nftRuleIds lists the comment ids of an owned chain's rules, in order. */
  nftRuleIds(chain: string): string[] {
    const c = this.kernel.nft?.chains.get(chain) ?? refuse(`no chain ${chain}`);
    return c.rules.flatMap((r) => (r.comment?.startsWith('microseg:') ? [r.comment.slice('microseg:'.length)] : []));
  }

  /** nftVerdict is the verdict of owned rule `id` of chain `chain`. */
  nftVerdict(chain: string, id: string): Rule['verdict'] {
    const c = this.kernel.nft?.chains.get(chain) ?? refuse(`no chain ${chain}`);
    return clone((c.rules.find((r) => r.comment === `microseg:${id}`) ?? refuse(`no rule ${id} in ${chain}`)).rule.verdict);
  }

  /** nftInsertRule puts a rule without a comment (an admin's) first in an owned chain. */
  nftInsertRule(chain: string, rule: Rule): void {
    const c = this.kernel.nft?.chains.get(chain) ?? refuse(`no chain ${chain}`);
    c.rules.unshift({ handle: this.kernel.nextHandle++, rule });
  }

  /** nftFlushChain empties an owned chain. */
  nftFlushChain(chain: string): void {
    (this.kernel.nft?.chains.get(chain) ?? refuse(`no chain ${chain}`)).rules = [];
  }

  /** addForeignBaseChain adds another table's base chain at `hook` (lower prio runs first). */
  addForeignBaseChain(c: ForeignBaseChain): void {
    this.kernel.foreignBase.push(clone(c));
  }

  /** xtInsertRule inserts a foreign rule (spec text, meaning `rule`) at 1-based `position` of a chain (builtin name or owned IR name). */
  xtInsertRule(variant: 'nft' | 'legacy', family: Family, chain: string, position: number, spec: string, rule: Rule): void {
    const list = this.xtList(variant, family, chain);
    list.splice(position - 1, 0, { handle: this.kernel.nextHandle++, spec, rule, ...commentOfSpec(spec) });
  }

  /** xtDeleteRule deletes rule number `position` (1-based) of a chain. */
  xtDeleteRule(variant: 'nft' | 'legacy', family: Family, chain: string, position: number): void {
    const list = this.xtList(variant, family, chain);
    if (position < 1 || position > list.length) refuse(`no rule ${position} in ${chain}`);
    list.splice(position - 1, 1);
  }

  /** xtFlushChain empties a chain (`iptables -F`). */
  xtFlushChain(variant: 'nft' | 'legacy', family: Family, chain: string): void {
    this.xtList(variant, family, chain).length = 0;
  }

  /** xtRules lists a chain's rules as `iptables -S` prints them (without the -N/-P line). */
  xtRules(variant: 'nft' | 'legacy', family: Family, chain: string): string[] {
    const name = BUILTINS[chain.toLowerCase() as Hook] ? chain : `MSEG-${chain}`;
    return this.xtList(variant, family, chain).map((r) => `-A ${name} ${r.spec}`);
  }

  /** createForeignIpset makes an ipset microseg does not own. */
  createForeignIpset(name: string, type = 'hash:ip', family: Family = 4): void {
    this.kernel.ipsets.set(name, { family, type, elements: [] });
  }

  private xtList(variant: 'nft' | 'legacy', family: Family, chain: string): KRule[] {
    const t = this.kernel.xt[variant][family];
    return t.builtin[chain] ?? t.chains.get(chain) ?? refuse(`no chain ${chain}`);
  }

  // ---- views for tests ---------------------------------------------------------------------

  /** owned lists everything on the host that looks like microseg's, in every backend (empty: nothing left). */
  owned(): string[] {
    const out: string[] = [];
    const k = this.kernel;
    if (k.nft) {
      out.push('table inet microseg');
      for (const n of k.nft.sets.keys()) out.push(`nft set ${n}`);
      for (const [n, c] of k.nft.chains) out.push(`nft chain ${n} (${c.rules.length} rules)`);
    }
    for (const variant of ['nft', 'legacy'] as const) {
      for (const f of [4, 6] as const) {
        const t = k.xt[variant][f];
        for (const [n, rules] of t.chains) out.push(`${variant} v${f} chain MSEG-${n} (${rules.length} rules)`);
        for (const [b, rules] of Object.entries(t.builtin)) for (const r of rules) if (r.comment === HOOK_COMMENT) out.push(`${variant} v${f} ${b} hook ${r.spec}`);
      }
    }
    for (const n of k.ipsets.keys()) if (n.startsWith('mseg-')) out.push(`ipset ${n}`);
    return out.sort();
  }

  /** foreign is a canonical text of everything on the host that is not microseg's. */
  foreign(): string {
    const k = this.kernel;
    const out: string[] = k.foreignBase.map((c) => `nft ${c.family} ${c.table} ${c.name} ${c.hook} ${c.prio} ${JSON.stringify(c.rules)}`);
    for (const variant of ['nft', 'legacy'] as const) {
      for (const f of [4, 6] as const) {
        for (const [b, rules] of Object.entries(k.xt[variant][f].builtin)) for (const r of rules) if (r.comment !== HOOK_COMMENT) out.push(`${variant} v${f} ${b} ${r.spec}`);
      }
    }
    for (const [n, s] of k.ipsets) if (!n.startsWith('mseg-')) out.push(`ipset ${n} ${s.type} ${s.elements.join(',')}`);
    return out.join('\n');
  }

  /** holdsMember: does any owned set (nft or ipset) hold `cidr`? */
  holdsMember(cidr: string): boolean {
    const k = this.kernel;
    if ([...(k.nft?.sets.values() ?? [])].some((s) => s.elements.includes(cidr))) return true;
    return [...k.ipsets.entries()].some(([n, s]) => n.startsWith('mseg-') && s.elements.includes(cidr));
  }

  /**
   * trace walks a new packet through every backend's chains at `hook`: nftables base chains (owned
   * and foreign, by priority) and, for the packet's family, both iptables variants' builtin chain.
   * The packet must pass all of them, as in the kernel: the first reject or drop decides.
   */
  trace(packet: Packet, hook: Hook): TraceVerdict {
    const family: Family = packet.src.includes(':') ? 6 : 4;
    let verdict: TraceVerdict = 'untouched';
    const rulesets = [nftTraceRuleset(this.kernel), xtRuleset(this.kernel, 'nft', family), xtRuleset(this.kernel, 'legacy', family)];
    for (const rs of rulesets) {
      const v = traceHost(rs, packet, hook).verdict;
      if (v === 'reject' || v === 'drop') return v;
      if (v === 'accept') verdict = 'accept';
    }
    return verdict;
  }
}

// ---------------------------------------------------------------------------------------------
// nftables ops

function nftOp(k: Kernel, [verb, o]: Op): void {
  if (o.type === 'table') {
    if (verb === 'add') k.nft ??= { sets: new Map(), chains: new Map() };
    else if (!k.nft) refuse('delete table inet microseg: No such file or directory');
    else k.nft = undefined;
    return;
  }
  const t = k.nft ?? refuse(`${verb} ${o.type}: table inet microseg: No such file or directory`);
  switch (o.type) {
    case 'set': {
      const s = t.sets.get(o.name);
      if (verb === 'add') {
        if (s && s.family !== o.family) refuse(`set ${o.name} exists with another type: File exists`);
        const set = s ?? { family: o.family!, ...(o.comment !== undefined ? { comment: o.comment } : {}), elements: [] };
        t.sets.set(o.name, set);
        addElements(o.name, set, o.elements ?? []);
      } else if (!s) refuse(`${verb} set ${o.name}: No such file or directory`);
      else if (verb === 'flush') s.elements = [];
      else {
        if (nftUses(t, (r) => r.match.srcSet?.set === o.name || r.match.dstSet?.set === o.name)) refuse(`delete set ${o.name}: Device or resource busy`);
        t.sets.delete(o.name);
      }
      return;
    }
    case 'element': {
      const s = t.sets.get(o.set) ?? refuse(`${verb} element ${o.set}: No such file or directory`);
      if (verb === 'add') addElements(o.set, s, o.elements);
      else {
        for (const e of o.elements) if (!s.elements.includes(e)) refuse(`delete element ${e} from ${o.set}: No such file or directory`);
        s.elements = s.elements.filter((e) => !o.elements.includes(e));
      }
      return;
    }
    case 'chain': {
      const c = t.chains.get(o.name);
      if (verb === 'add') {
        if (c && (c.hook ?? null) !== (o.hook ?? null)) refuse(`chain ${o.name} exists with another hook: Device or resource busy`);
        if (!c) t.chains.set(o.name, { ...(o.hook ? { hook: o.hook } : {}), ...(o.comment !== undefined ? { comment: o.comment } : {}), rules: [] });
      } else if (!c) refuse(`${verb} chain ${o.name}: No such file or directory`);
      else if (verb === 'flush') c.rules = [];
      else {
        if (c.rules.length > 0) refuse(`delete chain ${o.name}: Device or resource busy (not empty)`);
        if (nftUses(t, (r) => r.verdict.kind === 'jump' && r.verdict.chain === o.name)) refuse(`delete chain ${o.name}: Device or resource busy (jumped to)`);
        t.chains.delete(o.name);
      }
      return;
    }
    case 'rule': {
      const c = t.chains.get(o.chain) ?? refuse(`${verb} rule: chain ${o.chain}: No such file or directory`);
      if (verb === 'delete') {
        if (!c.rules.some((r) => r.handle === o.handle)) refuse(`delete rule handle ${o.handle}: No such file or directory`);
        c.rules = c.rules.filter((r) => r.handle !== o.handle);
        return;
      }
      const r = o.rule!;
      checkRuleId(r.id);
      // Set and jump references are checked when the batch commits (nftRefs): a table block
      // declares its chains before their rules, so a rule may name a chain defined further down.
      c.rules.push({ handle: k.nextHandle++, comment: `microseg:${r.id}`, rule: clone(r) });
      return;
    }
    case 'hook':
      refuse('nftables has no hook objects');
  }
}

/** nftRefs refuses a table whose rules name a missing set (or one of another family) or jump to a missing or base chain. */
function nftRefs(t: NftTable): void {
  for (const c of t.chains.values()) {
    for (const { rule: r } of c.rules) {
      const fams = new Set<Family>();
      for (const sm of [r.match.srcSet, r.match.dstSet]) {
        if (!sm) continue;
        fams.add((t.sets.get(sm.set) ?? refuse(`rule ${r.id}: set ${sm.set} does not exist`)).family);
      }
      if (fams.size > 1) refuse(`rule ${r.id}: sets of both families`);
      if (r.verdict.kind === 'jump') {
        const target = t.chains.get(r.verdict.chain) ?? refuse(`rule ${r.id}: jump to missing chain ${r.verdict.chain}`);
        if (target.hook) refuse(`rule ${r.id}: jump to base chain ${r.verdict.chain}`);
      }
    }
  }
}

function nftUses(t: NftTable, test: (r: Rule) => boolean): boolean {
  return [...t.chains.values()].some((c) => c.rules.some((r) => test(r.rule)));
}

/** addElements adds canonical CIDRs to an interval set; an element overlapping a different one is nft's "conflicting intervals". */
function addElements(set: string, s: { family: Family; elements: string[] }, elements: readonly string[]): void {
  for (const e of elements) {
    if (cidrFamily(e) !== s.family || !e.includes('/')) refuse(`set ${set}: element ${e} is not an IPv${s.family} CIDR`);
    if (s.elements.includes(e)) continue;
    const iv = cidrToInterval(e, s.family);
    for (const x of s.elements) {
      const other = cidrToInterval(x, s.family);
      if (iv.start <= other.end && other.start <= iv.end) refuse(`set ${set}: element ${e} overlaps ${x} (conflicting intervals specified)`);
    }
    s.elements.push(e);
  }
  s.elements.sort((a, b) => {
    const x = cidrToInterval(a, s.family).start;
    const y = cidrToInterval(b, s.family).start;
    return x < y ? -1 : x > y ? 1 : 0;
  });
}

// ---------------------------------------------------------------------------------------------
// iptables ops (one family's table filter of one variant)

function xtOp(k: Kernel, variant: 'nft' | 'legacy', family: Family, [verb, o]: Op): void {
  const t = k.xt[variant][family];
  const chainOf = (name: string) => t.chains.get(name) ?? refuse(`chain MSEG-${name}: No chain/target/match by that name`);
  switch (o.type) {
    case 'chain':
      if (verb === 'add') {
        t.chains.set(o.name, []); // `:CHAIN - [0:0]` creates it, or flushes it
        return;
      }
      if (chainOf(o.name).length > 0) refuse(`-X MSEG-${o.name}: Directory not empty`);
      if (xtJumpsTo(t, o.name)) refuse(`-X MSEG-${o.name}: Too many links (still referenced)`);
      t.chains.delete(o.name);
      return;
    case 'rule': {
      const list = chainOf(o.chain);
      if (verb === 'delete') {
        if (o.index! < 1 || o.index! > list.length) refuse(`-D MSEG-${o.chain} ${o.index}: Index of deletion too big`);
        list.splice(o.index! - 1, 1);
        return;
      }
      const r = o.rule!;
      for (const sm of [r.match.srcSet, r.match.dstSet]) {
        if (sm && !k.ipsets.has(`mseg-${sm.set}`)) refuse(`rule ${r.id}: Set mseg-${sm.set} doesn't exist`);
      }
      if (r.verdict.kind === 'jump') chainOf(r.verdict.chain);
      const specs = renderRuleSpecs(r, family);
      const entry = (i: number): KRule => ({ handle: k.nextHandle++, spec: specs[i], rule: clone(r), ...commentOfSpec(specs[i]) });
      if (verb === 'insert') {
        if (o.index! < 1 || o.index! > list.length + 1) refuse(`-I MSEG-${o.chain} ${o.index}: Index of insertion too big`);
        list.splice(o.index! - 1, 0, entry(o.part ?? 0));
      } else specs.forEach((_, i) => list.push(entry(i)));
      return;
    }
    case 'hook': {
      const builtin = t.builtin[BUILTINS[o.hook]];
      const jump = o.target.startsWith('iptables:') ? o.target.slice('iptables:'.length) : `MSEG-${o.target}`;
      const spec = `-m comment --comment "${HOOK_COMMENT}" -j ${jump}`;
      if (verb === 'insert') {
        chainOf(o.target);
        builtin.unshift({ handle: k.nextHandle++, spec, comment: HOOK_COMMENT, rule: { id: 'hook', match: {}, verdict: { kind: 'jump', chain: o.target } } });
        return;
      }
      const i = builtin.findIndex((r) => r.spec === spec);
      if (i < 0) refuse(`-D ${BUILTINS[o.hook]} ${spec}: Bad rule (does a matching rule exist in that chain?)`);
      builtin.splice(i, 1);
      return;
    }
    default:
      refuse(`table filter has no ${o.type} objects`);
  }
}

function xtJumpsTo(t: XtTable, name: string): boolean {
  return [...Object.values(t.builtin), ...t.chains.values()].some((rules) => rules.some((r) => r.rule.verdict.kind === 'jump' && r.rule.verdict.chain === name));
}

function commentOfSpec(spec: string): { comment?: string } {
  const m = /--comment\s+"([^"]*)"/.exec(spec);
  return m ? { comment: m[1] } : {};
}

// ---------------------------------------------------------------------------------------------
// ipset ops (line by line, with `-exist`)

function ipsetOp(k: Kernel, [verb, o]: Op): void {
  if (o.type === 'element') {
    const name = `mseg-${o.set}${o.temp ? '.t' : ''}`;
    const s = k.ipsets.get(name) ?? refuse(`${verb} ${name}: The set with the given name does not exist`);
    for (const e of o.elements) {
      if (verb === 'add') {
        if (e.endsWith('/0')) refuse(`add ${name} ${e}: hash:net cannot hold a /0`);
        if (cidrFamily(e) !== s.family) refuse(`add ${name} ${e}: wrong family`);
        if (!s.elements.includes(e)) s.elements.push(e);
      } else s.elements = s.elements.filter((x) => x !== e);
    }
    return;
  }
  if (o.type !== 'set') return refuse(`table ipset has no ${o.type} objects`);
  const name = o.temp ? `mseg-${o.name}.t` : `mseg-${o.name}`;
  const s = k.ipsets.get(name);
  switch (verb) {
    case 'create':
      if (s && (s.type !== 'hash:net' || s.family !== o.family)) refuse(`create ${name}: Set cannot be created: set with the same name already exists`);
      if (!s) k.ipsets.set(name, { family: o.family!, type: 'hash:net', elements: [] });
      return;
    case 'flush':
      (s ?? refuse(`flush ${name}: The set with the given name does not exist`)).elements = [];
      return;
    case 'swap': {
      const tmp = k.ipsets.get(`mseg-${o.name}.t`) ?? refuse(`swap: mseg-${o.name}.t does not exist`);
      const live = k.ipsets.get(`mseg-${o.name}`) ?? refuse(`swap: mseg-${o.name} does not exist`);
      if (tmp.family !== live.family || tmp.type !== live.type) refuse(`swap ${name}: The sets cannot be swapped: their type does not match`);
      k.ipsets.set(`mseg-${o.name}.t`, live);
      k.ipsets.set(`mseg-${o.name}`, tmp);
      return;
    }
    case 'destroy': {
      if (!s) refuse(`destroy ${name}: The set with the given name does not exist`);
      const ir = name.slice('mseg-'.length);
      const used = (['nft', 'legacy'] as const).some((v) =>
        ([4, 6] as const).some((f) => [...k.xt[v][f].chains.values()].some((rules) => rules.some((r) => r.rule.match.srcSet?.set === ir || r.rule.match.dstSet?.set === ir))),
      );
      if (used) refuse(`destroy ${name}: Set cannot be destroyed: it is in use by a kernel component`);
      k.ipsets.delete(name);
      return;
    }
    default:
      refuse(`ipset has no "${verb} set"`);
  }
}

// ---------------------------------------------------------------------------------------------
// The kernel state as IR rulesets (jump checks, packet walks)

function nftRulesets(k: Kernel): DesiredRuleset[] {
  return k.nft ? [nftTraceRuleset(k)] : [];
}

/** nftTraceRuleset: owned table inet microseg plus foreign base chains, base chains by priority (ours: 0, filter). */
function nftTraceRuleset(k: Kernel): DesiredRuleset {
  const t = k.nft;
  const sets: AddressSet[] = [...(t?.sets ?? new Map<string, NftSet>()).entries()].map(([name, s]) => ({ name, family: s.family, elements: [...s.elements] }));
  const owned: Array<Chain & { prio: number }> = [...(t?.chains ?? new Map<string, NftChain>()).entries()].map(([name, c]) => ({
    name,
    ...(c.hook ? { hook: c.hook } : {}),
    rules: c.rules.map((r) => r.rule),
    prio: 0,
  }));
  const foreign = k.foreignBase.map((c) => ({ name: `foreign:${c.table}:${c.name}`, hook: c.hook, rules: c.rules, prio: c.prio }));
  const hooked = [...owned, ...foreign].filter((c) => c.hook).sort((a, b) => a.prio - b.prio);
  const chains = [...hooked, ...owned.filter((c) => !c.hook)].map(({ prio: _p, ...c }) => c);
  return { enforcer: 'fake', sets, chains, diagnostics: [] };
}

function xtRuleset(k: Kernel, variant: 'nft' | 'legacy', family: Family): DesiredRuleset {
  const t = k.xt[variant][family];
  const sets: AddressSet[] = [...k.ipsets.entries()]
    .filter(([n, s]) => n.startsWith('mseg-') && !n.endsWith('.t') && s.family === family)
    .map(([n, s]) => ({ name: n.slice('mseg-'.length), family: s.family, elements: [...s.elements] }));
  const chains: Chain[] = [
    ...Object.entries(BUILTINS).map(([hook, b]) => ({ name: `builtin:${b}`, hook: hook as Hook, rules: t.builtin[b].map((r) => r.rule) })),
    ...[...t.chains.entries()].map(([name, rules]) => ({ name, rules: rules.map((r) => r.rule) })),
  ];
  return { enforcer: 'fake', sets, chains, diagnostics: [] };
}

/** checkJumps refuses a state whose jumps form a loop (the kernel refuses loops). */
function checkJumps(rulesets: readonly DesiredRuleset[]): void {
  for (const rs of rulesets) {
    const chains = new Map(rs.chains.map((c) => [c.name, c]));
    const state = new Map<string, 'visiting' | 'done'>();
    const visit = (name: string): void => {
      if (state.get(name) === 'done' || !chains.has(name)) return;
      if (state.get(name) === 'visiting') refuse(`jump loop through chain ${name}`);
      state.set(name, 'visiting');
      for (const rule of chains.get(name)!.rules) if (rule.verdict.kind === 'jump') visit(rule.verdict.chain);
      state.set(name, 'done');
    };
    for (const c of rs.chains) visit(c.name);
  }
}

// ---------------------------------------------------------------------------------------------
// Answering the providers' listing commands

/** ReadHost answers the read-only commands of the providers' readers from a FakeHost's state. */
class ReadHost implements Host {
  constructor(private readonly h: FakeHost) {}

  get description(): string {
    return this.h.description;
  }

  async run(argv: readonly string[]): Promise<CommandResult> {
    this.h.reachable();
    const a = argv.filter((x) => x !== '--modprobe=/bin/false');
    const k = this.h.kernel;
    const ok = (stdout: string): CommandResult => ({ code: 0, stdout, stderr: '' });
    const fail = (stderr: string, code = 1): CommandResult => ({ code, stdout: '', stderr });
    const tool = a[0] ?? '';
    if (tool === 'nft') {
      if (!this.h.available('nftables') && !this.h.available('iptables-nft')) return fail('nft: command not found', 127);
      if (a[1] === '-j' && a[2] === 'list') {
        if (a[3] === 'chains') return ok(JSON.stringify({ nftables: nftChainList(k, this.h) }));
        if (a[4] !== 'inet' || a[5] !== 'microseg') return fail('Error: No such file or directory');
        if (!k.nft) return fail('Error: No such file or directory; did you mean table ‘microseg’ in family inet?');
        if (a[3] === 'table') return ok(JSON.stringify({ nftables: nftItems(k.nft) }));
        const name = (a[6] ?? '').replace(/^mseg-/, '');
        if (a[3] === 'chain' && k.nft.chains.has(name)) return ok(JSON.stringify({ nftables: nftItems(k.nft, { chain: name }) }));
        if (a[3] === 'set' && k.nft.sets.has(name)) return ok(JSON.stringify({ nftables: nftItems(k.nft, { set: name }) }));
        return fail('Error: No such file or directory');
      }
    }
    const save = /^(ip6?)tables-(nft|legacy)-save$/.exec(tool);
    if (save) {
      const variant = save[2] as 'nft' | 'legacy';
      if (!this.h.available(variant === 'nft' ? 'iptables-nft' : 'iptables-legacy')) return fail(`${tool}: command not found`, 127);
      return ok(xtSave(k.xt[variant][save[1] === 'ip' ? 4 : 6], a.includes('-c')));
    }
    const cmd = /^(ip6?)tables-(nft|legacy)$/.exec(tool);
    if (cmd && a.includes('-S')) {
      const variant = cmd[2] as 'nft' | 'legacy';
      if (!this.h.available(variant === 'nft' ? 'iptables-nft' : 'iptables-legacy')) return fail(`${tool}: command not found`, 127);
      const t = k.xt[variant][cmd[1] === 'ip' ? 4 : 6];
      const chain = a[a.indexOf('-S') + 1];
      if (t.builtin[chain]) return ok([`-P ${chain} ACCEPT`, ...t.builtin[chain].map((r) => `-A ${chain} ${r.spec}`)].join('\n') + '\n');
      const rules = chain?.startsWith('MSEG-') ? t.chains.get(chain.slice(5)) : undefined;
      if (!rules) return fail(`${tool} v1.8.9 (${variant === 'nft' ? 'nf_tables' : 'legacy'}): chain \`${chain}' in table \`filter' is incompatible, use 'nft' tool.\nNo chain/target/match by that name.`);
      return ok([`-N ${chain}`, ...rules.map((r) => `-A ${chain} ${r.spec}`)].join('\n') + '\n');
    }
    if (tool === 'ip' && a.join(' ') === 'ip -j -d addr show' && this.h.options.addresses) {
      const o = this.h.options;
      const entry = (ifname: string, addrs: string[], kind?: string) => ({
        ifname,
        ...(kind ? { linkinfo: { info_kind: kind } } : {}),
        addr_info: addrs.map((x) => {
          const [local, len] = x.split('/');
          return { family: local.includes(':') ? 'inet6' : 'inet', local, prefixlen: Number(len ?? (local.includes(':') ? 128 : 32)) };
        }),
      });
      return ok(JSON.stringify([entry('eth0', o.addresses!), ...(o.bridges ?? []).map((b) => entry(b.name, b.subnets, 'bridge'))]));
    }
    if (tool === 'cat' && a.length === 2 && a[1].startsWith('/proc/sys/net/bridge/')) {
      const sw = this.h.options.bridgeNetfilter;
      if (!sw) return fail(`cat: ${a[1]}: No such file or directory`);
      return ok(`${(a[1].endsWith('ip6tables') ? sw.ipv6 : sw.ipv4) ? 1 : 0}\n`);
    }
    if (tool === 'ipset' && a[1] === 'save') {
      if (!this.h.available('iptables-nft') && !this.h.available('iptables-legacy')) return fail('ipset: command not found', 127);
      const names = a[2] !== undefined ? [a[2]] : [...k.ipsets.keys()];
      if (a[2] !== undefined && !k.ipsets.has(a[2])) return fail('ipset v7.17: The set with the given name does not exist');
      return ok(names.map((n) => ipsetSave(n, k.ipsets.get(n)!)).join(''));
    }
    return fail(`fake host ${this.h.name}: ${argv.join(' ')} is not modelled`, 127);
  }
}

function nftItems(t: NftTable, only: { chain?: string; set?: string } = {}): unknown[] {
  const T = { family: 'inet', table: 'microseg' };
  const items: unknown[] = [{ table: { family: 'inet', name: 'microseg', handle: 1 } }];
  for (const [name, s] of t.sets) {
    if (only.chain !== undefined || (only.set !== undefined && only.set !== name)) continue;
    items.push({
      set: {
        ...T,
        name: `mseg-${name}`,
        type: s.family === 4 ? 'ipv4_addr' : 'ipv6_addr',
        flags: ['interval'],
        ...(s.comment !== undefined ? { comment: s.comment } : {}),
        ...(s.elements.length ? { elem: s.elements.map((e) => ({ prefix: { addr: e.split('/')[0], len: Number(e.split('/')[1]) } })) } : {}),
      },
    });
  }
  for (const [name, c] of t.chains) {
    if (only.set !== undefined || (only.chain !== undefined && only.chain !== name)) continue;
    items.push({ chain: { ...T, name: `mseg-${name}`, handle: 2, ...(c.hook ? { type: 'filter', hook: c.hook, prio: 0, policy: 'accept' } : {}) } });
    for (const r of c.rules) items.push({ rule: { ...T, chain: `mseg-${name}`, handle: r.handle, ...(r.comment ? { comment: r.comment } : {}), expr: r.comment ? [{ counter: { packets: 0, bytes: 0 } }, ...nftExpr(r.rule, t)] : nftExpr(r.rule, t) } });
  }
  return items;
}

/** nftExpr is the `expr` nft lists for a rule of the fake's table (body.ts listedExpr, with the rule's family from its sets). */
function nftExpr(r: Rule, t: NftTable): unknown[] {
  const m = r.match;
  const setFam = (n?: string) => (n ? t.sets.get(n)?.family : undefined);
  const addrFam = (a?: string) => (a ? (a.includes(':') ? 6 : 4) : undefined);
  return listedExpr(r, m.family ?? setFam(m.srcSet?.set) ?? setFam(m.dstSet?.set) ?? addrFam(m.srcAddr) ?? addrFam(m.dstAddr) ?? (m.protocol === 'icmpv6' ? 6 : undefined));
}

function nftChainList(k: Kernel, h: FakeHost): unknown[] {
  const out: unknown[] = [];
  if (k.nft && h.available('nftables')) {
    for (const [name, c] of k.nft.chains) out.push({ chain: { family: 'inet', table: 'microseg', name: `mseg-${name}`, handle: 2, ...(c.hook ? { type: 'filter', hook: c.hook, prio: 0 } : {}) } });
  }
  for (const c of k.foreignBase) out.push({ chain: { family: c.family, table: c.table, name: c.name, handle: 2, type: 'filter', hook: c.hook, prio: c.prio } });
  // iptables-nft keeps table filter in nf_tables, where nft lists its chains.
  for (const f of [4, 6] as const) {
    const t = k.xt.nft[f];
    for (const b of Object.keys(t.builtin)) out.push({ chain: { family: f === 4 ? 'ip' : 'ip6', table: 'filter', name: b, handle: 1, type: 'filter', hook: b.toLowerCase(), prio: 0 } });
    for (const name of t.chains.keys()) out.push({ chain: { family: f === 4 ? 'ip' : 'ip6', table: 'filter', name: `MSEG-${name}`, handle: 3 } });
  }
  return out;
}

/** xtSave is iptables-save of one table; with `counters` (`-c`) every rule is prefixed `[0:0]`, as nothing passes packets here. */
function xtSave(t: XtTable, counters = false): string {
  const c = counters ? '[0:0] ' : '';
  const lines = ['*filter', ':INPUT ACCEPT [0:0]', ':FORWARD ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]'];
  for (const name of t.chains.keys()) lines.push(`:MSEG-${name} - [0:0]`);
  for (const [b, rules] of Object.entries(t.builtin)) for (const r of rules) lines.push(`${c}-A ${b} ${r.spec}`);
  for (const [name, rules] of t.chains) for (const r of rules) lines.push(`${c}-A MSEG-${name} ${r.spec}`);
  lines.push('COMMIT', '');
  return lines.join('\n');
}

function ipsetSave(name: string, s: IpSet): string {
  const lines = [`create ${name} ${s.type} family ${s.family === 4 ? 'inet' : 'inet6'} hashsize 1024 maxelem 65536 bucketsize 12`];
  for (const e of s.elements) lines.push(`add ${name} ${e.replace(/\/(32|128)$/, '')}`);
  return lines.join('\n') + '\n';
}

// ---------------------------------------------------------------------------------------------
// The seam

/** FakeFirewall is the fake world: hosts by name, and a Connector that opens them. */
export class FakeFirewall {
  private readonly hostsByName = new Map<string, FakeHost>();
  /** Every transaction a host accepted, in order, for assertions. */
  readonly transactions: Array<{ host: string; tx: Transaction }> = [];

  /** addHost creates (or replaces) host `name`, empty. */
  addHost(name: string, options: FakeHostOptions = {}): FakeHost {
    const h = new FakeHost(name, options);
    this.hostsByName.set(name, h);
    return h;
  }

  host(name: string): FakeHost {
    return this.hostsByName.get(name) ?? refuse(`no fake host ${name}`);
  }

  /** removeHost makes `name` unreachable, like a deleted network namespace (every later command fails). */
  removeHost(name: string): void {
    this.host(name).removed = true;
  }

  /**
   * connect opens the host a connection names: a netns by its namespace name, ssh by host,
   * `local` as host `local`. A name with no host is unreachable, like a missing namespace.
   */
  readonly connect: Connector = (connection: Connection): FirewallHost => {
    const name = connection.type === 'netns' ? connection.netns : connection.type === 'ssh' ? connection.host : 'local';
    const h = this.hostsByName.get(name) ?? Object.assign(new FakeHost(name), { removed: true });
    const world = this;
    return {
      description: h.description,
      async detect() {
        h.reachable();
        return { backend: h.options.detect ?? 'nftables', skipped: [] };
      },
      firewall(backend: BackendName): Firewall {
        return new FakeHostFirewall(world, h, backend);
      },
    };
  };

  record(host: string, tx: Transaction): void {
    this.transactions.push({ host, tx: clone(tx) });
  }
}

/** FakeHostFirewall is one backend of one fake host, behind the Firewall seam. */
class FakeHostFirewall implements Firewall {
  private readonly reader: ReadHost;

  constructor(
    private readonly world: FakeFirewall,
    private readonly h: FakeHost,
    readonly backend: BackendName,
  ) {
    this.reader = new ReadHost(h);
  }

  get description(): string {
    return this.h.description;
  }

  async probe(): Promise<Capabilities> {
    this.h.reachable();
    return { backend: this.backend, versions: { fake: '1' }, comments: true, missing: [...(this.h.options.missing?.[this.backend] ?? [])] };
  }

  read(): Promise<LiveRuleset> {
    return providerFor(this.backend).read(this.reader);
  }

  readPartial(scope: ReadScope): Promise<PartialLive | undefined> {
    return providerFor(this.backend).readPartial(this.reader, scope);
  }

  async run(txs: readonly Transaction[], opts: SendOptions = {}): Promise<void> {
    await opts.after;
    for (let i = 0; i < txs.length; i++) {
      const tx = txs[i];
      // What a real host gets is the serialised script; the fake insists it could be serialised.
      providerFor(this.backend).validate(tx);
      try {
        this.h.apply(tx);
      } catch (e) {
        if (HostUnreachableError.isInstance(e)) throw e;
        throw new ProviderError(`transaction ${i + 1}/${txs.length} (${tx.table}) failed on ${this.h.description}: ${(e as Error).message}`, 'kernel');
      }
      this.world.record(this.h.name, tx);
    }
  }

  async runAndReadPartial(txs: readonly Transaction[], scope: ReadScope, opts: SendOptions = {}): Promise<PartialLive | undefined> {
    await this.run(txs, opts);
    return this.readPartial(scope);
  }

  async unavailable(): Promise<string | undefined> {
    this.h.reachable();
    return this.h.available(this.backend) ? undefined : `${this.backend} not installed (fake)`;
  }
}

/** checkRuleset enforces what the kernel and tools enforce of a whole IR ruleset (SPEC.md "Refusals"); compile tests use it. */
export function checkRuleset(r: DesiredRuleset): void {
  const sets = new Map<string, Family>();
  for (const s of r.sets) {
    checkName('set', s.name);
    if (sets.has(s.name)) refuse(`set ${s.name} defined twice`);
    sets.set(s.name, s.family);
    let prevEnd = -1n;
    for (const e of s.elements) {
      if (cidrFamily(e) !== s.family || !e.includes('/')) refuse(`set ${s.name}: element ${e} is not an IPv${s.family} CIDR`);
      if (e.endsWith('/0')) refuse(`set ${s.name}: /0 element ${e} (ipset hash:net refuses it)`);
      const iv = cidrToInterval(e, s.family);
      if (iv.start <= prevEnd) refuse(`set ${s.name}: element ${e} overlaps or is out of order (interval conflict)`);
      prevEnd = iv.end;
    }
  }
  const chains = new Map(r.chains.map((c) => [c.name, c]));
  if (chains.size !== r.chains.length) refuse('a chain is defined twice');
  for (const c of r.chains) {
    checkName('chain', c.name);
    const ids = new Set<string>();
    for (const rule of c.rules) {
      checkRuleId(rule.id);
      if (ids.has(rule.id)) refuse(`chain ${c.name}: rule id ${rule.id} used twice`);
      ids.add(rule.id);
      checkRule(rule, c.name, sets, chains);
    }
  }
  checkJumps([r]);
}

function checkRule(rule: Rule, chain: string, sets: Map<string, Family>, chains: Map<string, DesiredRuleset['chains'][number]>): void {
  const m = rule.match;
  const fams = new Set<Family>();
  if (m.family) fams.add(m.family);
  for (const sm of [m.srcSet, m.dstSet]) {
    if (!sm) continue;
    const f = sets.get(sm.set);
    if (f === undefined) refuse(`chain ${chain}: rule ${rule.id} references missing set ${sm.set}`);
    else fams.add(f);
  }
  for (const a of [m.srcAddr, m.dstAddr]) {
    if (a === undefined) continue;
    const f = cidrFamily(a);
    if (f === undefined || a.includes('/')) refuse(`chain ${chain}: rule ${rule.id} has bad address ${a}`);
    else fams.add(f);
  }
  if (m.protocol === 'icmp') fams.add(4);
  if (m.protocol === 'icmpv6') fams.add(6);
  if (fams.size > 1) refuse(`chain ${chain}: rule ${rule.id} mixes IPv4 and IPv6`);
  if (m.dports && m.protocol !== 'tcp' && m.protocol !== 'udp') refuse(`chain ${chain}: rule ${rule.id} has dports without tcp/udp`);
  for (const d of m.dports ?? []) if (!(d.from >= 0 && d.from <= d.to && d.to <= 65535)) refuse(`chain ${chain}: rule ${rule.id} bad port range`);
  if (m.icmpType !== undefined && m.protocol !== 'icmp' && m.protocol !== 'icmpv6') refuse(`chain ${chain}: rule ${rule.id} has icmpType without icmp`);
  if (m.icmpCodes !== undefined && m.icmpType === undefined) refuse(`chain ${chain}: rule ${rule.id} has icmpCodes without icmpType`);
  const v = rule.verdict;
  if (v.kind === 'jump') {
    const target = chains.get(v.chain);
    if (!target) refuse(`chain ${chain}: rule ${rule.id} jumps to missing chain ${v.chain}`);
    else if (target.hook) refuse(`chain ${chain}: rule ${rule.id} jumps to base chain ${v.chain}`);
  }
  if (v.kind === 'log' && (v.prefix.length > MAX_LOG_PREFIX || !/^[\x21-\x7e]*$/.test(v.prefix))) {
    refuse(`chain ${chain}: rule ${rule.id} log prefix ${JSON.stringify(v.prefix)} too long or not printable`);
  }
}

export type { TxObject };
