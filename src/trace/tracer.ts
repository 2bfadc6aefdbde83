/**
 * Packet tracer over the IR (PRACTICES 15): walks a DesiredRuleset's chains for one packet the
 * way the kernel walks nftables/iptables chains, so tests can assert allow/deny behaviour of
 * compiled rulesets without a kernel. See providers/fake/SPEC.md ("Packets") for the exact
 * semantics modelled. A fake is for speed, never for proof: every behaviour claimed about real hosts also has a netns test.
 */
import { addressFamily, addressToBigint, cidrToInterval, type Interval } from '../model/intervals';
import { interfaceMatches } from '../model/interfaces';
import type { ProcessingUnit } from '../model/types';
import type { AddressSet, DesiredRuleset, Family, Hook, Match, Rule, RuleOrigin } from '../compile/ir';
import { puChainName } from '../compile/names';

/** Packet is the first packet of a connection (or a later one, with `ctState`). */
export interface Packet {
  src: string;
  dst: string;
  /** `tcp`, `udp`, `icmp`, `icmpv6` (alias `icmp6`), or another protocol name. */
  protocol: string;
  dport?: number;
  icmpType?: number;
  icmpCode?: number;
  /** Conntrack state; default `new`. */
  ctState?: 'new' | 'established' | 'related' | 'invalid';
  iif?: string;
  oif?: string;
}

/** TraceVerdict: what our rules did; `untouched` = no owned rule decided (the packet goes on). */
export type TraceVerdict = 'accept' | 'reject' | 'drop' | 'untouched';

export interface TraceResult {
  verdict: TraceVerdict;
  /** The rule that decided (absent for `untouched`). */
  rule?: Rule;
  /** The chain holding that rule. */
  chain?: string;
  origin?: RuleOrigin;
  /** Non-terminal log rules hit on the way, in order. */
  logged: Rule[];
  /** Chains entered, in order (for debugging failing tests). */
  path: string[];
}

/** MAX_JUMP_DEPTH mirrors the kernel refusing deep/looping jump graphs. */
export const MAX_JUMP_DEPTH = 16;

function normProto(p: string): string {
  const l = p.toLowerCase();
  return l === 'icmp6' || l === 'ipv6-icmp' ? 'icmpv6' : l;
}

function inRanges(n: number | undefined, rs: ReadonlyArray<{ from: number; to: number }>): boolean {
  return n !== undefined && rs.some((r) => r.from <= n && n <= r.to);
}

/** Compiled view of a ruleset for repeated lookups. */
class Index {
  readonly sets = new Map<string, { set: AddressSet; ivs: Interval[] }>();
  readonly chains: Map<string, DesiredRuleset['chains'][number]>;
  constructor(readonly rs: DesiredRuleset) {
    for (const s of rs.sets) this.sets.set(s.name, { set: s, ivs: s.elements.map((e) => cidrToInterval(e, s.family)) });
    this.chains = new Map(rs.chains.map((c) => [c.name, c]));
  }
}

function addrEq(a: string, b: string, family: Family): boolean {
  return addressFamily(b) === family && addressToBigint(a, family) === addressToBigint(b, family);
}

/** matches evaluates one rule's Match against a packet (see SPEC.md "Matches"). */
function matches(ix: Index, m: Match, p: Packet, family: Family): boolean {
  const proto = normProto(p.protocol);
  if (m.family !== undefined && m.family !== family) return false;
  // An interface match never matches a packet whose interface is unknown (undefined).
  if (m.iif !== undefined && (p.iif === undefined || !interfaceMatches(m.iif, p.iif))) return false;
  if (m.oif !== undefined && (p.oif === undefined || !interfaceMatches(m.oif, p.oif))) return false;
  if (m.ctState !== undefined && !m.ctState.includes(p.ctState ?? 'new')) return false;
  for (const [sm, addr] of [
    [m.srcSet, p.src],
    [m.dstSet, p.dst],
  ] as const) {
    if (!sm) continue;
    const entry = ix.sets.get(sm.set);
    if (!entry) throw new Error(`rule references unknown set ${sm.set}`);
    // `ip saddr != @s` (and ip6tables vs iptables) only ever sees packets of the set's family.
    if (entry.set.family !== family) return false;
    const n = addressToBigint(addr, family);
    const inside = entry.ivs.some((iv) => iv.start <= n && n <= iv.end);
    if (inside === !!sm.negate) return false;
  }
  if (m.srcAddr !== undefined && !addrEq(p.src, m.srcAddr, family)) return false;
  if (m.dstAddr !== undefined && !addrEq(p.dst, m.dstAddr, family)) return false;
  if (m.protocol !== undefined) {
    const rp = normProto(m.protocol);
    if (rp !== proto) return false;
    if (rp === 'icmp' && family !== 4) return false;
    if (rp === 'icmpv6' && family !== 6) return false;
  }
  if (m.dports !== undefined) {
    if (proto !== 'tcp' && proto !== 'udp') return false;
    if (!inRanges(p.dport, m.dports)) return false;
  }
  if (m.icmpType !== undefined) {
    if (proto !== 'icmp' && proto !== 'icmpv6') return false;
    if (p.icmpType !== m.icmpType) return false;
    if (m.icmpCodes !== undefined && !inRanges(p.icmpCode, m.icmpCodes)) return false;
  }
  return true;
}

/**
 * traceHost runs a packet through the chains hooked at `hook` (in ruleset order), following
 * jumps, returns and the implicit return at the end of a regular chain. The first accept, reject
 * or drop decides; log rules record and continue. Falling off a base chain is `untouched`.
 */
export function traceHost(ruleset: DesiredRuleset, packet: Packet, hook: Hook): TraceResult {
  const family = addressFamily(packet.src);
  if (family === undefined || addressFamily(packet.dst) !== family) {
    throw new Error(`packet ${packet.src} → ${packet.dst} is not a valid single-family address pair`);
  }
  const ix = new Index(ruleset);
  const logged: Rule[] = [];
  const path: string[] = [];
  let passed: TraceResult | undefined;
  const run = (chainName: string, depth: number): TraceResult | undefined => {
    if (depth > MAX_JUMP_DEPTH) throw new Error(`jump depth over ${MAX_JUMP_DEPTH} at ${chainName}`);
    const chain = ix.chains.get(chainName);
    if (!chain) throw new Error(`jump to unknown chain ${chainName}`);
    path.push(chainName);
    for (const rule of chain.rules) {
      if (!matches(ix, rule.match, packet, family)) continue;
      const v = rule.verdict;
      switch (v.kind) {
        case 'log':
          logged.push(rule);
          break;
        case 'return':
          // A forwarded PU's chain says "pass" with a return (src/compile/compile.ts): it decided
          // (the first such decision is the trace's accept), and the dispatch chain goes on.
          if (!passed && rule.origin && PASS_ORIGINS.has(rule.origin.kind)) passed = { verdict: 'accept', rule, chain: chainName, origin: rule.origin, logged, path };
          return undefined;
        case 'jump': {
          const r = run(v.chain, depth + 1);
          if (r) return r;
          break;
        }
        case 'accept':
        case 'reject':
        case 'drop':
          return { verdict: v.kind, rule, chain: chainName, origin: rule.origin, logged, path };
        default: {
          const never: never = v;
          throw new Error(`unknown verdict ${JSON.stringify(never)}`);
        }
      }
    }
    return undefined;
  };
  let accepted: TraceResult | undefined;
  for (const base of ruleset.chains.filter((c) => c.hook === hook)) {
    const r = run(base.name, 0);
    // nft: accept ends this base chain only; a later base chain of the same hook still runs.
    if (r && r.verdict !== 'accept') return r;
    if (r && !accepted) accepted = r;
  }
  return accepted ?? passed ?? { verdict: 'untouched', logged, path };
}

/** PASS_ORIGINS: the rule origins whose `return` is a forwarded PU's accept (excluded networks and interfaces return as untouched). */
const PASS_ORIGINS = new Set<RuleOrigin['kind']>(['policy', 'default', 'established', 'failsafe', 'neighbor-discovery']);

/**
 * sideView is `rs` seen from one end of a connection: the hooked chains keep only the dispatch
 * rules into `chain` (that PU's egress or ingress). On one hook a packet may be dispatched to both
 * ends (two workloads behind one host on `fwd`, or the host and a workload on `in`/`out`); each
 * side is then explained by its own chain, and the connection by both.
 */
export function sideView(rs: DesiredRuleset, chain: string): DesiredRuleset {
  return {
    ...rs,
    chains: rs.chains.map((c) =>
      c.hook === undefined ? c : { ...c, rules: c.rules.filter((r) => r.origin?.kind !== 'dispatch' || (r.verdict.kind === 'jump' && r.verdict.chain === chain)) },
    ),
  };
}

/** placementOf: a PU's placement in its host's ruleset (`local` when the ruleset does not say). */
export function placementOf(rs: DesiredRuleset | undefined, pu: ProcessingUnit): 'local' | 'forwarded' {
  return rs?.placements?.find((p) => p.pu === pu.name && p.namespace === pu.namespace)?.placement ?? 'local';
}

/**
 * sideHook is the hook a connection crosses on `pu`'s host: a local PU sends on output and
 * receives on input; a forwarded PU (a workload behind the host) crosses forward, except toward
 * or from a local PU of the same host, whose own stack is the other end (input / output).
 */
export function sideHook(rs: DesiredRuleset | undefined, pu: ProcessingUnit, peer: ProcessingUnit | undefined, side: 'source' | 'destination'): Hook {
  if (placementOf(rs, pu) === 'local') return side === 'source' ? 'output' : 'input';
  if (peer && peer.enforcer === pu.enforcer && placementOf(rs, peer) === 'local') return side === 'source' ? 'input' : 'output';
  return 'forward';
}

/** Connection is a NEW connection from `src` to `dst`. */
export interface Connection {
  src: string;
  dst: string;
  protocol: string;
  dport?: number;
  icmpType?: number;
  icmpCode?: number;
}

export interface HostSide {
  enforcer: string;
  pu: string;
  trace: TraceResult;
}

export interface ConnectionTrace {
  /** The sender's host, output hook; absent if `src` is no PU on an enforcer with a ruleset. */
  source?: HostSide;
  /** The receiver's host, input hook; absent if `dst` is no PU, or the source side blocked it. */
  destination?: HostSide;
  /** The first blocking verdict (source first), else `accept` if a side accepted, else `untouched`. */
  verdict: TraceVerdict;
  /** True unless a side rejected or dropped. */
  allowed: boolean;
}

function findPu(pus: readonly ProcessingUnit[], addr: string): ProcessingUnit | undefined {
  const fam = addressFamily(addr);
  if (fam === undefined) return undefined;
  return pus.find((pu) => pu.addresses.some((a) => addrEq(addr, a, fam)));
}

/**
 * traceConnection follows a NEW connection through the sender PU's host (output) and, if it gets
 * through, the receiver PU's host (input). PUs on the same host use `lo` as iif/oif, as the
 * kernel does for local traffic. `rulesets` is keyed by enforcer name.
 */
export function traceConnection(
  rulesets: ReadonlyMap<string, DesiredRuleset> | Readonly<Record<string, DesiredRuleset>>,
  model: { processingUnits: readonly ProcessingUnit[] },
  conn: Connection,
): ConnectionTrace {
  const get = (e: string): DesiredRuleset | undefined =>
    rulesets instanceof Map ? rulesets.get(e) : (rulesets as Record<string, DesiredRuleset>)[e];
  const srcPu = findPu(model.processingUnits, conn.src);
  const dstPu = findPu(model.processingUnits, conn.dst);
  const srcHook = srcPu ? sideHook(get(srcPu.enforcer), srcPu, dstPu, 'source') : 'output';
  const dstHook = dstPu ? sideHook(get(dstPu.enforcer), dstPu, srcPu, 'destination') : 'input';
  const local = srcPu !== undefined && dstPu !== undefined && srcPu.enforcer === dstPu.enforcer && srcHook === 'output' && dstHook === 'input';
  const packet: Packet = { ...conn, ctState: 'new', ...(local ? { iif: 'lo', oif: 'lo' } : {}) };
  const out: ConnectionTrace = { verdict: 'untouched', allowed: true };
  const blocked = (t: TraceResult): boolean => t.verdict === 'reject' || t.verdict === 'drop';
  const srcRs = srcPu ? get(srcPu.enforcer) : undefined;
  if (srcPu && srcRs) {
    out.source = { enforcer: srcPu.enforcer, pu: srcPu.name, trace: traceHost(sideView(srcRs, puChainName(srcPu, 'o')), packet, srcHook) };
    if (blocked(out.source.trace)) return { ...out, verdict: out.source.trace.verdict, allowed: false };
  }
  const dstRs = dstPu ? get(dstPu.enforcer) : undefined;
  if (dstPu && dstRs) {
    out.destination = { enforcer: dstPu.enforcer, pu: dstPu.name, trace: traceHost(sideView(dstRs, puChainName(dstPu, 'i')), packet, dstHook) };
    if (blocked(out.destination.trace)) return { ...out, verdict: out.destination.trace.verdict, allowed: false };
  }
  const any = [out.source?.trace.verdict, out.destination?.trace.verdict].includes('accept');
  return { ...out, verdict: any ? 'accept' : 'untouched', allowed: true };
}
