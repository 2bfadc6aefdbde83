/**
 * traceFlow: what the compiled rulesets do with ONE new connection, and why (issue "Policy tests,
 * trace and sandbox"). Pure: it walks the very DesiredRulesets the hosts get with the fake
 * dataplane's packet tracer (src/trace/tracer.ts), so an answer here is an answer about the
 * IR, never a re-implementation of policy semantics that could disagree with compile.
 *
 * Each side is traced on its own (source: sender's host, hook output; destination: receiver's host,
 * hook input), as traceConnection does. The destination is traced even when the source blocks,
 * marked `reached: false`, so a user sees both sides' policies at once. The connection is allowed
 * iff no side rejects or drops it.
 *
 * What the configuration alone cannot say is never guessed (issue 10, found by the randomized
 * trace-vs-kernel test):
 * - Interfaces. A host whose profile has `excluded_interfaces` leaves traffic over them alone, and
 *   which interface a connection between hosts crosses is routing, not policy. Two PUs of one host
 *   talk over `lo` (the kernel's rule); otherwise the query says (`interface`, `iif`, `oif`), or
 *   each end whose host matches interfaces is traced once per excluded pattern and once for any
 *   other interface. Differing outcomes make the verdict `depends`, with every case listed.
 * - External networks. A network is a set of addresses, so it is traced per class of addresses
 *   that the peer hosts' rules treat alike (exact: cut at every set and address bound those rules
 *   match), and differing outcomes make the verdict `depends` too. A network stands for peers
 *   that are not PUs (DESIGN §3): the PU addresses inside it are traced to their own hosts and
 *   listed apart (`pu_addresses`); a network of PU addresses only is traced as those addresses, so
 *   the far side is each PU's host, exactly as the kernel enforces it.
 */
import type { DesiredRuleset, Hook, Rule, RuleOrigin } from '../compile/ir';
import { makeDiagnostic, type Diagnostic } from '../diagnostics';
import {
  addressFamily,
  addressToBigint,
  bigintToAddress,
  cidrsContain,
  cidrToInterval,
  entriesToCidrs,
  intervalsToCidrs,
  intervalToCidrs,
  mergeIntervals,
  type Family,
  type Interval,
} from '../model/intervals';
import { interfaceMatches, interfaceNameProblem, interfaceOfPattern } from '../model/interfaces';
import type { Model, ProcessingUnit } from '../model/types';
import { placementOf, sideHook, sideView, traceHost, type Packet, type TraceResult } from './tracer';
import { puChainName } from '../compile/names';
import { CODES } from './codes';
import {
  endpointAddress,
  endpointFamilies,
  networkPart,
  parseConnectionPort,
  resolveEndpoint,
  type ConnectionPort,
  type Endpoint,
  type EndpointInfo,
  type NetworkPart,
} from './query';

/** FlowQuery is one connection to trace, as a user writes it. */
export interface FlowQuery {
  /** A processing unit or external network name, or an IP address. */
  from: string;
  /** A processing unit or external network name, or an IP address. */
  to: string;
  /** One connection's port: `tcp/5432`, `udp/53`, `icmp/8/0`, `icmp6/128/0`, `gre`. */
  port: string;
  /** The interface the connection crosses on both hosts: it leaves the source's and reaches the destination's by it. */
  interface?: string;
  /** The interface the connection reaches the destination's host by (overrides nothing: not with `interface`). */
  iif?: string;
  /** The interface the connection leaves the source's host by. */
  oif?: string;
}

/** flowQuery takes a FlowQuery's fields from anything that has them (an expect block, CLI options). */
export function flowQuery(x: FlowQuery): FlowQuery {
  return {
    from: x.from,
    to: x.to,
    port: x.port,
    ...(x.interface !== undefined ? { interface: x.interface } : {}),
    ...(x.iif !== undefined ? { iif: x.iif } : {}),
    ...(x.oif !== undefined ? { oif: x.oif } : {}),
  };
}

/** Rulesets are compile's output (an array) or any map from enforcer name to ruleset. */
export type Rulesets = readonly DesiredRuleset[] | ReadonlyMap<string, DesiredRuleset>;

/** LoggedRule is a log rule the packet hit on the way (logs_enabled or observation policies). */
export interface LoggedRule {
  policy: string | null;
  rule_id: string;
  prefix: string;
  /**
   * True when the rule only observes: an observation policy, a reject policy or default of a
   * namespace in audit mode. It logs and never decides.
   */
  observation: boolean;
  /** For an observing rule, what it would have done had it been enforced (flows shows `would-…`). */
  would?: 'allow' | 'reject' | 'continue';
}

/** SideVerdict: what microseg's rules on one host did; `untouched` = no owned rule decided. */
export type SideVerdict = 'allow' | 'reject' | 'untouched';

/**
 * FlowVerdict: `depends` when the connection's fate depends on something a trace cannot know
 * offline (which interface it crosses, or which address of an external network it uses); the
 * trace's `cases` then list every outcome and what it takes.
 */
export type FlowVerdict = 'allow' | 'reject' | 'depends';

/** SideTrace is one host's part of the connection (JSON field names are the CLI's). */
export interface SideTrace {
  /** The hook walked: output/input for a local PU; forward (or input/output toward the host itself) for a forwarded one. */
  hook: Hook;
  /** The enforcer whose ruleset was walked; absent when the endpoint has no enforcer. */
  enforcer?: string;
  /** The processing unit on this side, if the address is one. */
  pu?: string;
  verdict: SideVerdict;
  /** The deciding policy's name, `default` for the namespace default, null for anything else. */
  policy: string | null;
  /** The namespace of the deciding policy or default. */
  namespace?: string;
  /** True when the deciding policy is a fallback policy. */
  fallback?: boolean;
  /** What kind of rule decided (`policy`, `default`, `failsafe`, `established`, ...). */
  origin?: RuleOrigin['kind'];
  /** The deciding rule's id (its `microseg:<id>` comment on the host) and chain. */
  rule_id?: string;
  chain?: string;
  /** For a policy reject: an allow policy that also matches and that the reject beat. */
  beats?: { policy: string; rule_id: string };
  /**
   * False for the destination when the source already blocked the connection: the side is then
   * what its host WOULD do (verdict, policy, logs), shown so both sides' policies are visible.
   */
  reached: boolean;
  logged: LoggedRule[];
  /** One sentence saying why, for humans. */
  reason: string;
}

/** PacketInfo is the traced packet (JSON field names are the CLI's). */
export interface PacketInfo {
  family: Family;
  protocol: string;
  src: string;
  dst: string;
  dport?: number;
  icmp_type?: number;
  icmp_code?: number;
  /** The interface it leaves the source's host by, when known (given, or `lo`). */
  oif?: string;
  /** The interface it reaches the destination's host by, when known. */
  iif?: string;
  /** Both ends are processing units on one host: the kernel carries the packet over `lo`. */
  local?: true;
}

/**
 * InterfaceCondition says which interfaces a case covers on one host: `one_of` these names or
 * patterns (`veth+` is every interface starting with `veth`), or any interface `none_of` them.
 */
export type InterfaceCondition = { one_of: string[] } | { none_of: string[] };

/** AddressClass is a part of an external network whose addresses all meet the same rules. */
export interface AddressClass {
  /** The address traced for the whole class. */
  address: string;
  /** The class's addresses as CIDRs (the first MAX_CIDRS; `more` counts the rest). */
  cidrs: string[];
  more?: number;
  /** How many addresses (a decimal string: IPv6 counts exceed JSON numbers). */
  size: string;
  /** The processing unit holding the class's one address, for a network of PU addresses. */
  pu?: string;
}

/** FlowCase is one fully determined outcome of a connection whose verdict depends. */
export interface FlowCase {
  verdict: 'allow' | 'reject';
  /** Set when `from` is an external network whose addresses do not all meet the same rules. */
  from_addresses?: AddressClass;
  to_addresses?: AddressClass;
  /** Set when the source's host treats interfaces differently (excluded_interfaces). */
  oif?: InterfaceCondition;
  iif?: InterfaceCondition;
  packet: PacketInfo;
  source: SideTrace;
  destination: SideTrace;
}

/**
 * PuAddressTrace: an address of an external network that a processing unit holds. Such addresses
 * are not what the network stands for (peers that are not PUs), so they do not make its verdict;
 * they are traced to their own host and listed, since policies toward the network reach them too.
 */
export interface PuAddressTrace {
  endpoint: 'from' | 'to';
  address: string;
  pu: string;
  enforcer: string;
  verdict: FlowVerdict;
  /** The deciding policy (`default` for the namespace default), or null. */
  decided_by: string | null;
}

/** FlowTrace is the answer of traceFlow. */
export interface FlowTrace {
  verdict: FlowVerdict;
  /** What the verdict depends on, when it is `depends`. */
  depends_on?: Array<'interface' | 'address'>;
  from: EndpointInfo;
  to: EndpointInfo;
  port: string;
  /** The first case: the endpoints' traced addresses, over an interface no profile excludes. */
  packet: PacketInfo;
  source: SideTrace;
  destination: SideTrace;
  /** Every outcome, when the verdict is `depends`. */
  cases?: FlowCase[];
  /** External networks' addresses that processing units hold (at most MAX_PU_ADDRESSES per endpoint). */
  pu_addresses?: PuAddressTrace[];
  /** How many further PU addresses were not traced. */
  pu_addresses_more?: number;
}

export interface FlowResult {
  trace?: FlowTrace;
  diagnostics: Diagnostic[];
}

/** MAX_CIDRS bounds the CIDRs listed per address class. */
export const MAX_CIDRS = 8;
/** MAX_PU_ADDRESSES bounds the PU addresses inside a network that are traced and listed. */
export const MAX_PU_ADDRESSES = 16;

/** TraceOptions tune what a trace computes beyond the verdict. */
export interface TraceOptions {
  /** Trace and list the PU addresses inside an external network (default true; plan --explain needs only verdicts). */
  puAddresses?: boolean;
}

/** traceFlow resolves the query against the model and walks both sides' rulesets. */
export function traceFlow(model: Model, rulesets: Rulesets, query: FlowQuery, opts: TraceOptions = {}): FlowResult {
  const diagnostics: Diagnostic[] = [];
  const src = resolveEndpoint(model, query.from, 'from');
  const dst = resolveEndpoint(model, query.to, 'to');
  diagnostics.push(...src.diagnostics, ...dst.diagnostics);
  const port = parseConnectionPort(query.port);
  if (!port.ok) {
    diagnostics.push(makeDiagnostic('error', CODES.INVALID_PORT, `Invalid port "${query.port}"`, capital(port.message) + '.'));
  }
  const ifaces = interfaceQuery(query, diagnostics);
  if (!src.endpoint || !dst.endpoint || !port.ok || !ifaces) return { diagnostics };
  const family = chooseFamily(src.endpoint, dst.endpoint, port.value);
  if (family === undefined) {
    diagnostics.push(
      makeDiagnostic('error', CODES.NO_COMMON_FAMILY, `${query.from} and ${query.to} have no address family in common for ${port.value.text}`,
        `${query.from} has ${famText(endpointFamilies(src.endpoint))}, ${query.to} has ${famText(endpointFamilies(dst.endpoint))}${port.value.family ? `, and ${port.value.text} is IPv${port.value.family} only` : ''}.`),
    );
    return { diagnostics };
  }
  const trace = traceResolved(model, rulesets, src.endpoint, dst.endpoint, port.value, family, ifaces, opts.puAddresses ?? true);
  if (trace.local && ifaces.given.some((g) => g.name !== 'lo')) {
    const g = ifaces.given.find((x) => x.name !== 'lo')!;
    diagnostics.push(
      makeDiagnostic('warning', CODES.LOCAL_INTERFACE, `${g.attr} ${g.name} does not apply: ${query.from} and ${query.to} are on one host`,
        `The kernel carries traffic between two addresses of one host over lo, whatever the routes say, so the trace uses lo.`),
    );
  }
  return { trace: trace.trace, diagnostics };
}

/** Interfaces is a query's interfaces per end, after checking them. */
interface Interfaces {
  oif?: string;
  iif?: string;
  given: Array<{ attr: string; name: string }>;
}

/** interfaceQuery checks the query's interface names; undefined (with errors pushed) when they are wrong. */
function interfaceQuery(query: FlowQuery, diagnostics: Diagnostic[]): Interfaces | undefined {
  let ok = true;
  const given: Interfaces['given'] = [];
  for (const attr of ['interface', 'iif', 'oif'] as const) {
    const name = query[attr];
    if (name === undefined) continue;
    const problem = interfaceNameProblem(name);
    if (problem !== undefined) {
      ok = false;
      diagnostics.push(makeDiagnostic('error', CODES.INVALID_INTERFACE, `Invalid ${attr} "${name}"`, `${capital(problem)}; a trace names one concrete interface, not a pattern.`));
    } else given.push({ attr, name });
  }
  if (query.interface !== undefined && (query.iif !== undefined || query.oif !== undefined)) {
    ok = false;
    diagnostics.push(
      makeDiagnostic('error', CODES.INTERFACE_CONFLICT, 'interface and iif/oif both given',
        'interface names the interface at both ends (the source host\'s output and the destination host\'s input); iif and oif name one end each. Give interface alone, or iif and/or oif.'),
    );
  }
  if (!ok) return undefined;
  return { oif: query.oif ?? query.interface, iif: query.iif ?? query.interface, given };
}

/** chooseFamily: the port's family (icmp/icmp6) or IPv4 when both sides have it, else IPv6. */
function chooseFamily(a: Endpoint, b: Endpoint, port: ConnectionPort): Family | undefined {
  const fa = endpointFamilies(a);
  const fb = endpointFamilies(b);
  const common = ([4, 6] as Family[]).filter((f) => fa.includes(f) && fb.includes(f) && (port.family === undefined || port.family === f));
  return common[0];
}

/** Choice is one address an endpoint can stand for, with the class of addresses it stands for. */
interface Choice {
  info: EndpointInfo;
  /** For an external network split in classes: the class's intervals (first = the traced address's). */
  intervals?: Interval[];
}

/** Case is one concrete outcome before presentation: which choices and interface conditions. */
interface Case {
  from: number;
  to: number;
  verdict: 'allow' | 'reject';
  oif?: InterfaceCondition;
  iif?: InterfaceCondition;
  packet: PacketInfo;
  source: SideTrace;
  destination: SideTrace;
}

function traceResolved(
  model: Model,
  rulesets: Rulesets,
  a: Endpoint,
  b: Endpoint,
  port: ConnectionPort,
  family: Family,
  ifaces: Interfaces,
  listPuAddresses: boolean,
): { trace: FlowTrace; local: boolean } {
  const fromPart = a.kind === 'external_network' ? networkPart(model, a.network, family) : undefined;
  const toPart = b.kind === 'external_network' ? networkPart(model, b.network, family) : undefined;
  const fromChoices = choices(model, rulesets, a, fromPart, family, 'from', enforcersOf(model, b, toPart, family));
  const toChoices = choices(model, rulesets, b, toPart, family, 'to', enforcersOf(model, a, fromPart, family));
  const all: Case[] = [];
  let local = false;
  fromChoices.forEach((f, fi) =>
    toChoices.forEach((t, ti) => {
      const r = concreteCases(model, rulesets, f.info, t.info, port, family, ifaces);
      local ||= r.local;
      for (const c of r.cases) all.push({ ...c, from: fi, to: ti });
    }),
  );
  const verdicts = new Set(all.map((c) => c.verdict));
  const verdict: FlowVerdict = verdicts.size === 1 ? all[0].verdict : 'depends';
  const first = all[0];
  const trace: FlowTrace = {
    verdict,
    ...(verdict === 'depends' ? { depends_on: dependsOn(all) } : {}),
    from: fromChoices[0].info,
    to: toChoices[0].info,
    port: port.text,
    packet: first.packet,
    source: first.source,
    destination: first.destination,
  };
  if (verdict === 'depends') trace.cases = presentCases(all, fromChoices, toChoices, family);
  const puTraces: PuAddressTrace[] = [];
  let more = 0;
  for (const [endpoint, part, other] of [
    ['from', fromPart, toChoices[0]],
    ['to', toPart, fromChoices[0]],
  ] as const) {
    // A network made only of PU addresses is traced as those addresses: nothing more to list.
    if (!listPuAddresses || !part || part.external.length === 0) continue;
    part.puAddresses.forEach(({ address, pu }, i) => {
      if (i >= MAX_PU_ADDRESSES) {
        more++;
        return;
      }
      const self: EndpointInfo = { name: address, kind: 'address', address, pu: pu.name, enforcer: pu.enforcer };
      const [f, t] = endpoint === 'from' ? [self, other.info] : [other.info, self];
      const cs = concreteCases(model, rulesets, f, t, port, family, ifaces).cases;
      const vs = new Set(cs.map((c) => c.verdict));
      const v: FlowVerdict = vs.size === 1 ? cs[0].verdict : 'depends';
      puTraces.push({ endpoint, address, pu: pu.name, enforcer: pu.enforcer, verdict: v, decided_by: v === 'depends' ? null : decidingPolicy(cs[0]) });
    });
  }
  if (puTraces.length) trace.pu_addresses = puTraces;
  if (more) trace.pu_addresses_more = more;
  return { trace, local };
}

/** enforcersOf: the hosts an endpoint's addresses can be on (whose rules see the other endpoint as a peer). */
function enforcersOf(model: Model, e: Endpoint, part: NetworkPart | undefined, family: Family): string[] {
  switch (e.kind) {
    case 'processing_unit':
      return [e.pu.enforcer];
    case 'address': {
      const pu = e.pu ?? model.processingUnits.find((p) => p.addresses.includes(e.address));
      return pu ? [pu.enforcer] : [];
    }
    case 'external_network':
      return [...new Set((part ?? networkPart(model, e.network, family)).puAddresses.map((p) => p.pu.enforcer))];
  }
}

/**
 * choices lists the addresses an endpoint is traced with. A processing unit or an address is one.
 * An external network is split into classes of addresses that every rule of the peer hosts
 * (`peerHosts`, the hosts that see this endpoint as the peer) treats alike: cut at the bounds of
 * every set and address those rules match the peer against, then grouped by which of them contain
 * the class. One address per class is then exact for the whole class. Its PU addresses are not
 * part of it (see PuAddressTrace), unless it holds nothing else: then each is a choice.
 */
function choices(
  model: Model,
  rulesets: Rulesets,
  e: Endpoint,
  part: NetworkPart | undefined,
  family: Family,
  role: 'from' | 'to',
  peerHosts: string[],
): Choice[] {
  const primary = endpointAddress(model, e, family);
  if (e.kind !== 'external_network' || !part) return [{ info: primary }];
  if (part.external.length === 0) {
    return part.puAddresses.map(({ address, pu }) => ({
      info: { ...primary, address, cidr: `${address}/${family === 4 ? 32 : 128}`, pu: pu.name, enforcer: pu.enforcer, note: primary.note },
      intervals: [{ start: addressToBigint(address, family), end: addressToBigint(address, family) }],
    }));
  }
  // The peer hosts match this endpoint's address as the source on input and the destination on output.
  const field: 'srcSet' | 'dstSet' = role === 'from' ? 'srcSet' : 'dstSet';
  const addrField: 'srcAddr' | 'dstAddr' = role === 'from' ? 'srcAddr' : 'dstAddr';
  const members: Interval[][] = [];
  const cuts = new Set<bigint>();
  for (const enforcer of peerHosts) {
    const rs = getRuleset(rulesets, enforcer);
    if (!rs) continue;
    const setNames = new Set<string>();
    const addrs = new Set<string>();
    for (const c of rs.chains)
      for (const r of c.rules) {
        const sm = r.match[field];
        if (sm) setNames.add(sm.set);
        const a = r.match[addrField];
        if (a !== undefined && addressFamily(a) === family) addrs.add(a);
      }
    for (const set of rs.sets) {
      if (!setNames.has(set.name) || set.family !== family) continue;
      const ivs = set.elements.map((el) => cidrToInterval(el, family));
      members.push(ivs);
    }
    for (const a of addrs) {
      const n = addressToBigint(a, family);
      members.push([{ start: n, end: n }]);
    }
  }
  for (const ivs of members)
    for (const iv of ivs) {
      cuts.add(iv.start);
      cuts.add(iv.end + 1n);
    }
  const sortedCuts = [...cuts].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
  const classes = new Map<string, Interval[]>();
  for (const iv of part.external) {
    let start = iv.start;
    const inner = sortedCuts.filter((c) => c > iv.start && c <= iv.end);
    for (const cut of [...inner, iv.end + 1n]) {
      const piece = { start, end: cut - 1n };
      const key = members.map((ivs) => (ivs.some((m) => m.start <= piece.start && piece.start <= m.end) ? '1' : '0')).join('');
      const list = classes.get(key);
      if (list) list.push(piece);
      else classes.set(key, [piece]);
      start = cut;
    }
  }
  return [...classes.values()].map((intervals, i) => {
    if (i === 0) return { info: primary, intervals };
    const address = bigintToAddress(intervals[0].start, family);
    return { info: { ...primary, address, cidr: intervalToCidrs(intervals[0], family)[0] }, intervals };
  });
}

/** SideOption is one interface a side is traced with, and which interfaces it stands for. */
interface SideOption {
  name?: string;
  pattern?: string;
}

/**
 * concreteCases traces one pair of addresses. Where an end's interface is unknown and its host
 * matches interfaces (excluded_interfaces), that end is traced once per interface pattern and
 * once for "any other interface", and outcomes that are the same are merged.
 */
function concreteCases(
  model: Model,
  rulesets: Rulesets,
  from: EndpointInfo,
  to: EndpointInfo,
  port: ConnectionPort,
  family: Family,
  ifaces: Interfaces,
): { cases: Array<Omit<Case, 'from' | 'to'>>; local: boolean } {
  const srcPu = from.pu !== undefined ? model.processingUnits.find((p) => p.name === from.pu) : undefined;
  const dstPu = to.pu !== undefined ? model.processingUnits.find((p) => p.name === to.pu) : undefined;
  // Two PUs of one host's own stack talk over `lo`; a workload behind the host does not.
  const sameRs = srcPu ? getRuleset(rulesets, srcPu.enforcer) : undefined;
  const local =
    srcPu !== undefined && dstPu !== undefined && srcPu.enforcer === dstPu.enforcer && placementOf(sameRs, srcPu) === 'local' && placementOf(sameRs, dstPu) === 'local';
  const base: Packet = {
    src: from.address,
    dst: to.address,
    protocol: port.protocol,
    ctState: 'new',
    ...(port.dport !== undefined ? { dport: port.dport } : {}),
    ...(port.icmpType !== undefined ? { icmpType: port.icmpType, icmpCode: port.icmpCode } : {}),
  };
  const known = (name: string | undefined): SideOption[] | undefined => (local ? [{ name: 'lo' }] : name !== undefined ? [{ name }] : undefined);
  const srcOpts = known(ifaces.oif) ?? sideOptions(srcPu && getRuleset(rulesets, srcPu.enforcer), 'oif');
  const dstOpts = known(ifaces.iif) ?? sideOptions(dstPu && getRuleset(rulesets, dstPu.enforcer), 'iif');
  const packetInfo: PacketInfo = {
    family,
    protocol: port.protocol,
    src: from.address,
    dst: to.address,
    ...(port.dport !== undefined ? { dport: port.dport } : {}),
    ...(port.icmpType !== undefined ? { icmp_type: port.icmpType, icmp_code: port.icmpCode } : {}),
  };
  const known1 = (opts: SideOption[]) => (opts.length === 1 && opts[0].pattern === undefined ? opts[0].name : undefined);
  const oif = known1(srcOpts);
  const iif = known1(dstOpts);
  const packet: PacketInfo = { ...packetInfo, ...(oif !== undefined ? { oif } : {}), ...(iif !== undefined ? { iif } : {}), ...(local ? { local: true as const } : {}) };
  let srcGroups = groupSide(srcOpts, (o) => traceSide(model, rulesets, 'source', from, srcPu, to.address, { ...base, ...(o.name !== undefined ? { oif: o.name } : {}) }, true));
  let dstGroups = groupSide(dstOpts, (o) => traceSide(model, rulesets, 'destination', to, dstPu, from.address, { ...base, ...(o.name !== undefined ? { iif: o.name } : {}) }, true));
  // An end whose interface changes its own outcome but never the connection's (the other end
  // rejects anyway, or both outcomes let it through) is not a condition worth listing.
  const fate = (s: SideTrace, d: SideTrace) => s.verdict === 'reject' || d.verdict === 'reject';
  const srcMatters = dstGroups.some((d) => new Set(srcGroups.map((s) => fate(s.side, d.side))).size > 1);
  const dstMatters = srcGroups.some((s) => new Set(dstGroups.map((d) => fate(s.side, d.side))).size > 1);
  if (!srcMatters) srcGroups = [{ side: srcGroups[0].side }];
  if (!dstMatters) dstGroups = [{ side: dstGroups[0].side }];
  const cases: Array<Omit<Case, 'from' | 'to'>> = [];
  for (const s of srcGroups)
    for (const d of dstGroups) {
      const reached = s.side.verdict !== 'reject';
      const destination = reached ? d.side : { ...d.side, reached: false };
      cases.push({
        verdict: s.side.verdict === 'reject' || d.side.verdict === 'reject' ? 'reject' : 'allow',
        ...(s.cond ? { oif: s.cond } : {}),
        ...(d.cond ? { iif: d.cond } : {}),
        packet,
        source: s.side,
        destination,
      });
    }
  return { cases, local };
}

/**
 * sideOptions: the interfaces to trace one end with when the query does not say. Only the
 * interface patterns the host's rules match on (`field`) can change the outcome, so an end whose
 * host matches none is traced once without an interface; otherwise once per pattern and once
 * for any other interface. `lo` is left out: traffic between two hosts never crosses it.
 */
function sideOptions(rs: DesiredRuleset | undefined, field: 'iif' | 'oif'): SideOption[] {
  const patterns = new Set<string>();
  for (const c of rs?.chains ?? [])
    for (const r of c.rules) {
      const p = r.match[field];
      if (p !== undefined && p !== 'lo') patterns.add(p);
    }
  return [{}, ...[...patterns].sort().map((pattern) => ({ name: interfaceOfPattern(pattern), pattern }))];
}

/**
 * groupSide traces every option and merges options whose side comes out the same (verdict and
 * deciding rule), so a host excluding eth0 and docker0 gives two outcomes, not three. The group
 * of "any other interface" lists the patterns it is not; a group of patterns, the patterns.
 */
function groupSide(opts: SideOption[], run: (o: SideOption) => SideTrace): Array<{ cond?: InterfaceCondition; side: SideTrace }> {
  const traced = opts.map((o) => ({ o, side: run(o) }));
  if (traced.length === 1) return [{ side: traced[0].side }];
  // Not the reason: it names the interface, and eth0 and docker0 excluded alike are one outcome.
  const key = (s: SideTrace) => `${s.verdict}|${s.chain ?? ''}|${s.rule_id ?? ''}`;
  const groups = new Map<string, { opts: SideOption[]; side: SideTrace }>();
  for (const t of traced) {
    const k = key(t.side);
    const g = groups.get(k);
    if (g) g.opts.push(t.o);
    else groups.set(k, { opts: [t.o], side: t.side });
  }
  if (groups.size === 1) return [{ side: traced[0].side }];
  const otherKey = key(traced[0].side);
  return [...groups.entries()].map(([k, g]) => {
    if (k === otherKey) {
      const none = traced.filter((t) => key(t.side) !== otherKey).map((t) => t.o.pattern!);
      return { cond: { none_of: none }, side: g.side };
    }
    return { cond: { one_of: g.opts.map((o) => o.pattern!) }, side: g.side };
  });
}

/**
 * dependsOn says what the verdict depends on: `interface` when some pair of addresses gets
 * different verdicts over different interfaces, `address` when pairs of addresses differ.
 */
function dependsOn(all: readonly Case[]): Array<'interface' | 'address'> {
  const byPair = new Map<string, Set<string>>();
  for (const c of all) {
    const k = `${c.from}/${c.to}`;
    byPair.set(k, (byPair.get(k) ?? new Set()).add(c.verdict));
  }
  const sets = [...byPair.values()].map((v) => [...v].sort().join(','));
  const out: Array<'interface' | 'address'> = [];
  if ([...byPair.values()].some((v) => v.size > 1)) out.push('interface');
  if (new Set(sets).size > 1) out.push('address');
  return out;
}

/**
 * presentCases merges cases that differ only in the address class but meet the same rules with
 * the same interface conditions, and describes each address class.
 */
function presentCases(all: readonly Case[], fromChoices: readonly Choice[], toChoices: readonly Choice[], family: Family): FlowCase[] {
  const splitFrom = fromChoices.length > 1;
  const splitTo = toChoices.length > 1;
  const sideKey = (s: SideTrace) => `${s.enforcer ?? ''}|${s.verdict}|${s.chain ?? ''}|${s.rule_id ?? ''}`;
  const merged = new Map<string, { c: Case; from: Set<number>; to: Set<number> }>();
  for (const c of all) {
    const k = JSON.stringify([c.verdict, c.oif ?? null, c.iif ?? null, sideKey(c.source), sideKey(c.destination)]);
    const m = merged.get(k);
    if (m) {
      m.from.add(c.from);
      m.to.add(c.to);
    } else merged.set(k, { c, from: new Set([c.from]), to: new Set([c.to]) });
  }
  const cls = (cs: readonly Choice[], idx: Set<number>) => addressClass([...idx].map((i) => cs[i]), family);
  return [...merged.values()].map(({ c, from, to }) => ({
    verdict: c.verdict,
    ...(splitFrom ? { from_addresses: cls(fromChoices, from) } : {}),
    ...(splitTo ? { to_addresses: cls(toChoices, to) } : {}),
    ...(c.oif ? { oif: c.oif } : {}),
    ...(c.iif ? { iif: c.iif } : {}),
    packet: c.packet,
    source: c.source,
    destination: c.destination,
  }));
}

/** addressClass describes the addresses of some choices, traced as the first one's. */
function addressClass(chosen: readonly Choice[], family: Family): AddressClass {
  const intervals = mergeIntervals(chosen.flatMap((c) => c.intervals ?? []));
  const cidrs = intervalsToCidrs(intervals, family);
  const size = intervals.reduce((n, iv) => n + (iv.end - iv.start + 1n), 0n);
  const first = chosen[0].info;
  return {
    address: first.address,
    cidrs: cidrs.slice(0, MAX_CIDRS),
    ...(cidrs.length > MAX_CIDRS ? { more: cidrs.length - MAX_CIDRS } : {}),
    size: size.toString(),
    ...(chosen.length === 1 && first.pu ? { pu: first.pu } : {}),
  };
}

function getRuleset(rulesets: Rulesets, enforcer: string): DesiredRuleset | undefined {
  return isMap(rulesets) ? rulesets.get(enforcer) : rulesets.find((r) => r.enforcer === enforcer);
}

function isMap(r: Rulesets): r is ReadonlyMap<string, DesiredRuleset> {
  return r instanceof Map;
}

const SIDE_KEYS: ReadonlyArray<keyof SideTrace> = [
  'hook', 'enforcer', 'pu', 'verdict', 'policy', 'namespace', 'fallback', 'origin', 'rule_id', 'chain', 'beats', 'reached', 'logged', 'reason',
];

/** traceSide explains one side, with its keys in one stable order for readable JSON. */
function traceSide(...args: Parameters<typeof explainSide>): SideTrace {
  const s = explainSide(...args);
  const out: Record<string, unknown> = {};
  for (const k of SIDE_KEYS) if (s[k] !== undefined) out[k] = s[k];
  return out as unknown as SideTrace;
}

/** explainSide walks one host's hook for the packet and explains the outcome. */
function explainSide(
  model: Model,
  rulesets: Rulesets,
  end: 'source' | 'destination',
  self: EndpointInfo,
  pu: ProcessingUnit | undefined,
  peer: string,
  packet: Packet,
  reached: boolean,
): SideTrace {
  const peerPu = findPuByAddress(model, peer);
  const ownRs = pu ? getRuleset(rulesets, pu.enforcer) : undefined;
  const hook: Hook = pu ? sideHook(ownRs, pu, peerPu, end) : end === 'source' ? 'output' : 'input';
  const base = { hook, reached, logged: [] as LoggedRule[] };
  if (!pu) {
    const reason =
      self.kind === 'external_network'
        ? `external network ${self.name} has no enforcer: microseg enforces only on processing units' hosts`
        : `${self.address} is no processing unit's address, so microseg does not touch this side`;
    return { ...base, verdict: 'untouched', policy: null, reason };
  }
  const rs = ownRs ? sideView(ownRs, puChainName(pu, end === 'source' ? 'o' : 'i')) : undefined;
  if (!rs) {
    return {
      ...base,
      pu: pu.name,
      verdict: 'untouched',
      policy: null,
      reason: `enforcer ${pu.enforcer} of processing unit ${pu.name} has no ruleset (unknown enforcer), so nothing enforces this side`,
    };
  }
  const t = traceHost(rs, packet, hook);
  const logged = t.logged.map((r) => loggedRule(model, r));
  const side = { ...base, enforcer: pu.enforcer, pu: pu.name, logged };
  const observed = logged.filter((l) => l.observation && l.policy !== null).map((l) => `"${l.policy}"${l.would ? ` (would-${l.would})` : ''}`);
  const tail = observed.length ? `; observed by ${observed.join(', ')}: observation only logs` : '';
  if (t.verdict === 'untouched') {
    return { ...side, verdict: 'untouched', policy: null, reason: untouchedReason(model, pu, peer, end === 'destination' ? packet.iif : packet.oif, t) + tail };
  }
  const verdict: SideVerdict = t.verdict === 'accept' ? 'allow' : 'reject';
  const decided = { ...side, verdict, ...(t.origin ? { origin: t.origin.kind } : {}), rule_id: t.rule!.id, chain: t.chain! };
  const origin = t.origin;
  const dir = end === 'source' ? 'outgoing' : 'incoming';
  switch (origin?.kind) {
    case 'policy': {
      const pol = model.networkPolicies.find((p) => p.name === origin.policy && p.namespace === origin.namespace);
      const fallback = pol?.fallback === true;
      let reason = `${verdict === 'allow' ? 'allowed' : 'rejected'} by ${fallback ? 'fallback ' : ''}policy "${origin.policy}"`;
      if (fallback) reason += ' (no non-fallback policy matched)';
      const beats = verdict === 'reject' ? beatenAllow(rs, packet, hook, t) : undefined;
      if (beats) reason += `; reject beats allow: policy "${beats.policy}" also matches`;
      return {
        ...decided,
        policy: origin.policy,
        namespace: origin.namespace,
        ...(fallback ? { fallback } : {}),
        ...(beats ? { beats } : {}),
        reason: reason + tail,
      };
    }
    case 'default':
      return {
        ...decided,
        policy: 'default',
        namespace: origin.namespace,
        reason: `no policy matched: the default ${dir} action of namespace ${origin.namespace} is ${origin.action}${origin.observation ? ', in audit mode (observation_enabled): let through and logged as would-reject' : ''}${tail}`,
      };
    case 'failsafe':
      return { ...decided, policy: null, reason: `failsafe port of enforcer profile "${origin.profile}": open whatever the policies say${tail}` };
    case 'established':
      return { ...decided, policy: null, reason: `established or related traffic is allowed${tail}` };
    case 'host-protection': {
      const from = origin.profile !== undefined ? `enforcer profile "${origin.profile}"` : 'the defaults';
      const what =
        origin.reason === 'loopback'
          ? 'host protection: the host talking to itself over lo is always allowed'
          : `host protection: ${origin.reason === 'failsafe-inbound' ? 'inbound' : 'outbound'} failsafe port of the host (${from}), open whatever the policies say`;
      return { ...decided, policy: null, reason: what + tail };
    }
    default:
      return { ...decided, policy: null, reason: `${t.verdict} by a ${origin?.kind ?? 'microseg'} rule${tail}` };
  }
}

function loggedRule(model: Model, r: Rule): LoggedRule {
  const policy = r.origin?.kind === 'policy' ? r.origin.policy : null;
  const pol = r.origin?.kind === 'policy' ? model.networkPolicies.find((p) => p.name === policy && p.namespace === (r.origin as { namespace: string }).namespace) : undefined;
  const prefix = r.verdict.kind === 'log' ? r.verdict.prefix : '';
  // The prefix's tag says what the rule logs (src/compile/names.ts logPrefix): `O…` observes.
  const tag = /^mseg:[0-9a-f]{8}:([A-Z]+):[io]$/.exec(prefix)?.[1] ?? '';
  const would = WOULD[tag];
  return { policy, rule_id: r.id, prefix, observation: pol?.observationEnabled === true || would !== undefined, ...(would ? { would } : {}) };
}

const WOULD: Record<string, LoggedRule['would']> = { OA: 'allow', OR: 'reject', OC: 'continue', ODR: 'reject' };

/**
 * beatenAllow answers "would an allow have matched without this reject?" by removing the
 * deciding reject rule(s) and tracing again, so the answer comes from the same rules the host has.
 */
function beatenAllow(rs: DesiredRuleset, packet: Packet, hook: Hook, first: TraceResult): { policy: string; rule_id: string } | undefined {
  let current = rs;
  let t = first;
  for (let i = 0; i < 32 && t.verdict === 'reject' && t.origin?.kind === 'policy'; i++) {
    const { chain, rule } = t;
    current = { ...current, chains: current.chains.map((c) => (c.name === chain ? { ...c, rules: c.rules.filter((r) => r.id !== rule!.id) } : c)) };
    t = traceHost(current, packet, hook);
  }
  return t.verdict === 'accept' && t.origin?.kind === 'policy' ? { policy: t.origin.policy, rule_id: t.rule!.id } : undefined;
}

/** untouchedReason says why a PU's own chains let the packet through undecided. */
function untouchedReason(model: Model, pu: ProcessingUnit, peer: string, iface: string | undefined, t: TraceResult): string {
  const enf = model.enforcers.find((e) => e.name === pu.enforcer);
  const profile = enf?.profile !== undefined ? model.enforcerProfiles.find((p) => p.name === enf.profile) : undefined;
  if (profile && t.path.length > 1) {
    const nets = [...entriesToCidrs(profile.excludedNetworks, 4), ...entriesToCidrs(profile.excludedNetworks, 6)];
    if (cidrsContain(nets, peer)) return `${peer} is in an excluded network of enforcer profile "${profile.name}", so microseg does not touch it`;
    const pattern = iface !== undefined ? profile.excludedInterfaces.find((p) => interfaceMatches(p, iface)) : undefined;
    if (pattern !== undefined) {
      const which = pattern === iface ? iface : `${iface} (${pattern})`;
      return `interface ${which} is excluded by enforcer profile "${profile.name}", so microseg does not touch it`;
    }
  }
  return `no microseg rule decided on enforcer ${pu.enforcer}: the host's own rules decide`;
}

/** findPuByAddress: the processing unit holding `addr`, if any. */
function findPuByAddress(model: Model, addr: string): ProcessingUnit | undefined {
  const fam = addressFamily(addr);
  if (fam === undefined) return undefined;
  const n = addressToBigint(addr, fam);
  return model.processingUnits.find((p) => p.addresses.some((a) => addressFamily(a) === fam && addressToBigint(a, fam) === n));
}

function famText(fs: Family[]): string {
  return fs.length ? fs.map((f) => `IPv${f}`).join(' and ') : 'no address';
}

function capital(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/**
 * decidingSide is the side that decided the connection: the first blocking side (source first),
 * else the destination if it allowed (the last gate), else the source if it allowed.
 */
export function decidingSide(t: Pick<FlowTrace, 'source' | 'destination'>): SideTrace | undefined {
  if (t.source.verdict === 'reject') return t.source;
  if (t.destination.verdict === 'reject') return t.destination;
  if (t.destination.verdict === 'allow') return t.destination;
  if (t.source.verdict === 'allow') return t.source;
  return undefined;
}

/** dependsText says in one sentence what a `depends` verdict depends on and every outcome. */
export function dependsText(t: Pick<FlowTrace, 'depends_on' | 'cases'>): string {
  const on = (t.depends_on ?? []).map((d) => (d === 'interface' ? 'the interface it crosses' : 'the address of the external network')).join(' and ');
  return `the verdict depends on ${on || 'more than the query says'}: ${(t.cases ?? []).map(caseText).join('; ')}`;
}

/** caseText is one case for humans: `allow when leaving h1 by eth0`. */
export function caseText(c: FlowCase): string {
  const parts: string[] = [];
  if (c.from_addresses) parts.push(`from ${classText(c.from_addresses)}`);
  if (c.to_addresses) parts.push(`to ${classText(c.to_addresses)}`);
  if (c.oif) parts.push(`leaving ${c.source.enforcer ?? 'the source host'} by ${conditionText(c.oif)}`);
  if (c.iif) parts.push(`reaching ${c.destination.enforcer ?? 'the destination host'} by ${conditionText(c.iif)}`);
  return `${c.verdict} when ${parts.join(' and ')}`;
}

/** conditionText: `eth0 or veth+`, or `any interface but eth0`. */
export function conditionText(c: InterfaceCondition): string {
  return 'one_of' in c ? c.one_of.join(' or ') : `any interface but ${c.none_of.join(', ')}`;
}

function classText(a: AddressClass): string {
  const list = `${a.cidrs.join(', ')}${a.more ? ` and ${a.more} more ranges` : ''}`;
  if (a.pu) return `${a.address} (processing unit ${a.pu})`;
  return a.size === '1' ? list : `${list} (${a.size} addresses)`;
}

/** decidingPolicy is decidingSide's policy (`default` for the namespace default), or null. */
export function decidingPolicy(t: Pick<FlowTrace, 'source' | 'destination'>): string | null {
  return decidingSide(t)?.policy ?? null;
}
