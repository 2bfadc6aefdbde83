/**
 * traceFlow: what the compiled rulesets do with ONE new connection, and why (issue "Policy tests,
 * trace and sandbox"). Pure: it walks the very DesiredRulesets the hosts get with the fake
 * dataplane's packet tracer (providers/fake/tracer.ts), so an answer here is an answer about the
 * IR, never a re-implementation of policy semantics that could disagree with compile.
 *
 * Each side is traced on its own (source: sender's host, hook output; destination: receiver's host,
 * hook input), as traceConnection does, with `lo` as the interface when both PUs share a host. The
 * destination is traced even when the source blocks, marked `reached: false`, so a user sees both
 * sides' policies at once. The connection is allowed iff no side rejects or drops it.
 */
import type { DesiredRuleset, Hook, Rule, RuleOrigin } from '../compile/ir';
import { makeDiagnostic, type Diagnostic } from '../diagnostics';
import { cidrsContain, entriesToCidrs, type Family } from '../model/intervals';
import type { Model, ProcessingUnit } from '../model/types';
import { traceHost, type Packet, type TraceResult } from '../../providers/fake/tracer';
import { CODES } from './codes';
import {
  endpointAddress,
  endpointFamilies,
  parseConnectionPort,
  resolveEndpoint,
  type ConnectionPort,
  type Endpoint,
  type EndpointInfo,
} from './query';

/** FlowQuery is one connection to trace, as a user writes it. */
export interface FlowQuery {
  /** A processing unit or external network name, or an IP address. */
  from: string;
  /** A processing unit or external network name, or an IP address. */
  to: string;
  /** One connection's port: `tcp/5432`, `udp/53`, `icmp/8/0`, `icmp6/128/0`, `gre`. */
  port: string;
}

/** Rulesets are compile's output (an array) or any map from enforcer name to ruleset. */
export type Rulesets = readonly DesiredRuleset[] | ReadonlyMap<string, DesiredRuleset>;

/** LoggedRule is a log rule the packet hit on the way (logs_enabled or observation policies). */
export interface LoggedRule {
  policy: string | null;
  rule_id: string;
  prefix: string;
  /** True when the policy is observation-only: it logs and never decides. */
  observation: boolean;
}

/** SideVerdict: what microseg's rules on one host did; `untouched` = no owned rule decided. */
export type SideVerdict = 'allow' | 'reject' | 'untouched';

/** SideTrace is one host's part of the connection (JSON field names are the CLI's). */
export interface SideTrace {
  hook: 'output' | 'input';
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

/** FlowTrace is the answer of traceFlow. */
export interface FlowTrace {
  verdict: 'allow' | 'reject';
  from: EndpointInfo;
  to: EndpointInfo;
  port: string;
  packet: {
    family: Family;
    protocol: string;
    src: string;
    dst: string;
    dport?: number;
    icmp_type?: number;
    icmp_code?: number;
    /** Set when both PUs share a host: local traffic crosses `lo`. */
    interface?: 'lo';
  };
  source: SideTrace;
  destination: SideTrace;
}

export interface FlowResult {
  trace?: FlowTrace;
  diagnostics: Diagnostic[];
}

/** traceFlow resolves the query against the model and walks both sides' rulesets. */
export function traceFlow(model: Model, rulesets: Rulesets, query: FlowQuery): FlowResult {
  const diagnostics: Diagnostic[] = [];
  const src = resolveEndpoint(model, query.from, 'from');
  const dst = resolveEndpoint(model, query.to, 'to');
  diagnostics.push(...src.diagnostics, ...dst.diagnostics);
  const port = parseConnectionPort(query.port);
  if (!port.ok) {
    diagnostics.push(makeDiagnostic('error', CODES.INVALID_PORT, `Invalid port "${query.port}"`, capital(port.message) + '.'));
  }
  if (!src.endpoint || !dst.endpoint || !port.ok) return { diagnostics };
  const family = chooseFamily(src.endpoint, dst.endpoint, port.value);
  if (family === undefined) {
    diagnostics.push(
      makeDiagnostic('error', CODES.NO_COMMON_FAMILY, `${query.from} and ${query.to} have no address family in common for ${port.value.text}`,
        `${query.from} has ${famText(endpointFamilies(src.endpoint))}, ${query.to} has ${famText(endpointFamilies(dst.endpoint))}${port.value.family ? `, and ${port.value.text} is IPv${port.value.family} only` : ''}.`),
    );
    return { diagnostics };
  }
  return { trace: traceResolved(model, rulesets, src.endpoint, dst.endpoint, port.value, family), diagnostics };
}

/** chooseFamily: the port's family (icmp/icmp6) or IPv4 when both sides have it, else IPv6. */
function chooseFamily(a: Endpoint, b: Endpoint, port: ConnectionPort): Family | undefined {
  const fa = endpointFamilies(a);
  const fb = endpointFamilies(b);
  const common = ([4, 6] as Family[]).filter((f) => fa.includes(f) && fb.includes(f) && (port.family === undefined || port.family === f));
  return common[0];
}

function traceResolved(model: Model, rulesets: Rulesets, a: Endpoint, b: Endpoint, port: ConnectionPort, family: Family): FlowTrace {
  const from = endpointAddress(model, a, family);
  const to = endpointAddress(model, b, family);
  const srcPu = from.pu !== undefined ? model.processingUnits.find((p) => p.name === from.pu) : undefined;
  const dstPu = to.pu !== undefined ? model.processingUnits.find((p) => p.name === to.pu) : undefined;
  const local = srcPu !== undefined && dstPu !== undefined && srcPu.enforcer === dstPu.enforcer;
  const packet: Packet = {
    src: from.address,
    dst: to.address,
    protocol: port.protocol,
    ctState: 'new',
    ...(port.dport !== undefined ? { dport: port.dport } : {}),
    ...(port.icmpType !== undefined ? { icmpType: port.icmpType, icmpCode: port.icmpCode } : {}),
    ...(local ? { iif: 'lo', oif: 'lo' } : {}),
  };
  const source = traceSide(model, rulesets, 'output', from, srcPu, to.address, packet, true);
  const destination = traceSide(model, rulesets, 'input', to, dstPu, from.address, packet, source.verdict !== 'reject');
  const verdict = source.verdict === 'reject' || destination.verdict === 'reject' ? 'reject' : 'allow';
  return {
    verdict,
    from,
    to,
    port: port.text,
    packet: {
      family,
      protocol: port.protocol,
      src: from.address,
      dst: to.address,
      ...(port.dport !== undefined ? { dport: port.dport } : {}),
      ...(port.icmpType !== undefined ? { icmp_type: port.icmpType, icmp_code: port.icmpCode } : {}),
      ...(local ? { interface: 'lo' as const } : {}),
    },
    source,
    destination,
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
  hook: 'output' | 'input',
  self: EndpointInfo,
  pu: ProcessingUnit | undefined,
  peer: string,
  packet: Packet,
  reached: boolean,
): SideTrace {
  const base = { hook, reached, logged: [] as LoggedRule[] };
  if (!pu) {
    const reason =
      self.kind === 'external_network'
        ? `external network ${self.name} has no enforcer: microseg enforces only on processing units' hosts`
        : `${self.address} is no processing unit's address, so microseg does not touch this side`;
    return { ...base, verdict: 'untouched', policy: null, reason };
  }
  const rs = getRuleset(rulesets, pu.enforcer);
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
  const observed = logged.filter((l) => l.observation && l.policy !== null).map((l) => `"${l.policy}"`);
  const tail = observed.length ? `; observed by ${observed.join(', ')} (observation only logs)` : '';
  if (t.verdict === 'untouched') {
    return { ...side, verdict: 'untouched', policy: null, reason: untouchedReason(model, pu, peer, t) + tail };
  }
  const verdict: SideVerdict = t.verdict === 'accept' ? 'allow' : 'reject';
  const decided = { ...side, verdict, ...(t.origin ? { origin: t.origin.kind } : {}), rule_id: t.rule!.id, chain: t.chain! };
  const origin = t.origin;
  const dir = hook === 'output' ? 'outgoing' : 'incoming';
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
        reason: `no policy matched: the default ${dir} action of namespace ${origin.namespace} is ${origin.action}${tail}`,
      };
    case 'failsafe':
      return { ...decided, policy: null, reason: `failsafe port of enforcer profile "${origin.profile}": open whatever the policies say${tail}` };
    case 'established':
      return { ...decided, policy: null, reason: `established or related traffic is allowed${tail}` };
    default:
      return { ...decided, policy: null, reason: `${t.verdict} by a ${origin?.kind ?? 'microseg'} rule${tail}` };
  }
}

function loggedRule(model: Model, r: Rule): LoggedRule {
  const policy = r.origin?.kind === 'policy' ? r.origin.policy : null;
  const pol = r.origin?.kind === 'policy' ? model.networkPolicies.find((p) => p.name === policy && p.namespace === (r.origin as { namespace: string }).namespace) : undefined;
  return { policy, rule_id: r.id, prefix: r.verdict.kind === 'log' ? r.verdict.prefix : '', observation: pol?.observationEnabled === true };
}

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
function untouchedReason(model: Model, pu: ProcessingUnit, peer: string, t: TraceResult): string {
  const enf = model.enforcers.find((e) => e.name === pu.enforcer);
  const profile = enf?.profile !== undefined ? model.enforcerProfiles.find((p) => p.name === enf.profile) : undefined;
  if (profile && t.path.length > 1) {
    const nets = [...entriesToCidrs(profile.excludedNetworks, 4), ...entriesToCidrs(profile.excludedNetworks, 6)];
    if (cidrsContain(nets, peer)) return `${peer} is in an excluded network of enforcer profile "${profile.name}", so microseg does not touch it`;
    return `the interface is excluded by enforcer profile "${profile.name}", so microseg does not touch it`;
  }
  return `no microseg rule decided on enforcer ${pu.enforcer}: the host's own rules decide`;
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
export function decidingSide(t: FlowTrace): SideTrace | undefined {
  if (t.source.verdict === 'reject') return t.source;
  if (t.destination.verdict === 'reject') return t.destination;
  if (t.destination.verdict === 'allow') return t.destination;
  if (t.source.verdict === 'allow') return t.source;
  return undefined;
}

/** decidingPolicy is decidingSide's policy (`default` for the namespace default), or null. */
export function decidingPolicy(t: FlowTrace): string | null {
  return decidingSide(t)?.policy ?? null;
}
