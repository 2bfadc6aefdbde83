/**
 * FakeFirewall: an in-memory stand-in for the owned part of many hosts' firewalls (PRACTICES 14).
 * It refuses what a kernel would refuse (dangling jumps and set references, jump loops, bad
 * names, /0 set elements, mixed-family rules, ...), applies each host's ruleset atomically on a
 * copy (nothing changes when a check fails or a fault is injected), reads back a LiveRuleset in
 * the providers' canonical form, and traces packets with the real walk semantics (tracer.ts).
 * SPEC.md states what it models and what it does not.
 */
import { ProviderError, canonicalLive, checkName, checkRuleId } from '../common';
import { cidrFamily, cidrToInterval } from '../../src/model/intervals';
import type { DesiredRuleset, Family, Hook, Rule } from '../../src/compile/ir';
import type { BackendName, LiveRuleset } from '../types';
import { traceHost, type Packet, type TraceResult } from '../../src/trace/tracer';

/** MAX_LOG_PREFIX is the strictest prefix limit of the real backends (iptables LOG: 29). */
export const MAX_LOG_PREFIX = 29;

const deepCopy = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

export interface FakeFirewallOptions {
  /** Backend reported by read(); iptables backends also report per-family chains. */
  backend?: BackendName;
}

/** FakeFirewall holds one ruleset per host name. */
export class FakeFirewall {
  readonly backend: BackendName;
  private readonly hostsState = new Map<string, DesiredRuleset>();
  private readonly faults = new Map<string, Error>();
  /** Every successful apply, in order (host and a copy of the ruleset), for assertions. */
  readonly transactions: Array<{ host: string; ruleset: DesiredRuleset }> = [];

  constructor(opts: FakeFirewallOptions = {}) {
    this.backend = opts.backend ?? 'nftables';
  }

  /** hosts lists the hosts holding owned state, sorted. */
  hosts(): string[] {
    return [...this.hostsState.keys()].sort();
  }

  /** injectFault makes the next apply or cleanup on `host` fail with `err`, changing nothing. */
  injectFault(host: string, err: Error = new ProviderError(`injected fault on ${host}`, 'kernel')): void {
    this.faults.set(host, err);
  }

  /**
   * apply replaces everything owned on `host` with `ruleset`, atomically: the ruleset is checked
   * on a copy and committed only if every check passes (like `nft -f` / `iptables-restore`).
   * Throws ProviderError (source `kernel`) on refusal.
   */
  apply(host: string, ruleset: DesiredRuleset): void {
    this.takeFault(host);
    const copy = deepCopy(ruleset);
    checkRuleset(copy);
    this.hostsState.set(host, copy);
    this.transactions.push({ host, ruleset: deepCopy(copy) });
  }

  /** cleanup removes every owned object from `host` (hooks, chains, sets). */
  cleanup(host: string): void {
    this.takeFault(host);
    this.hostsState.delete(host);
  }

  /** ruleset returns a copy of what is on `host` (undefined if nothing is owned there). */
  ruleset(host: string): DesiredRuleset | undefined {
    const r = this.hostsState.get(host);
    return r ? deepCopy(r) : undefined;
  }

  /** tamper edits a host's live state in place, bypassing checks, to simulate drift in tests. */
  tamper(host: string, edit: (r: DesiredRuleset) => void): void {
    const r = this.hostsState.get(host) ?? { enforcer: host, sets: [], chains: [], diagnostics: [] };
    edit(r);
    this.hostsState.set(host, r);
  }

  /** read returns the owned state of `host` as a provider would read it back. */
  read(host: string): LiveRuleset {
    const r = this.hostsState.get(host);
    const families: Family[] = [4, 6];
    const ipt = this.backend !== 'nftables';
    if (!r) return canonicalLive({ backend: this.backend, sets: [], chains: [], hooks: [] });
    return canonicalLive({
      backend: this.backend,
      sets: deepCopy(r.sets),
      chains: r.chains.map((c) => ({
        name: c.name,
        ...(c.hook ? { hook: c.hook } : {}),
        ruleIds: c.rules.map((x) => x.id),
        foreignRules: 0,
        ...(ipt ? { families } : {}),
      })),
      hooks: r.chains
        .filter((c): c is typeof c & { hook: Hook } => c.hook !== undefined)
        .flatMap((c) => families.map((family) => ({ hook: c.hook, family, present: true, first: true, count: 1, targets: [c.name] }))),
    });
  }

  /** trace runs a packet through `host`'s current ruleset (untouched if nothing is owned there). */
  trace(host: string, packet: Packet, hook: Hook): TraceResult {
    const r = this.hostsState.get(host);
    if (!r) return { verdict: 'untouched', logged: [], path: [] };
    return traceHost(r, packet, hook);
  }

  private takeFault(host: string): void {
    const f = this.faults.get(host);
    if (f) {
      this.faults.delete(host);
      throw f;
    }
  }
}

const refuse = (msg: string): never => {
  throw new ProviderError(msg, 'kernel');
};

/** checkRuleset enforces what the kernel and tools enforce (SPEC.md "Refusals"). */
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
  // Jump graph must be acyclic (the kernel refuses loops).
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string): void => {
    if (state.get(name) === 'done') return;
    if (state.get(name) === 'visiting') refuse(`jump loop through chain ${name}`);
    state.set(name, 'visiting');
    for (const rule of chains.get(name)!.rules) if (rule.verdict.kind === 'jump') visit(rule.verdict.chain);
    state.set(name, 'done');
  };
  for (const c of r.chains) visit(c.name);
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
