/**
 * policyOracle: DESIGN §4's policy semantics evaluated straight from the model, for one new
 * connection, without compile, the IR or the packet tracer. It is the third leg of the
 * randomized differential (bench/trace-differential.ts): trace and the kernel both follow the
 * compiled rules, so they can agree and still both be wrong about the configuration; the oracle
 * says what the configuration means, written from the design document rather than from the
 * compiler, so a compile bug shows up as "kernel ≠ semantics".
 *
 * Per side (the sender's host for egress, the receiver's for ingress; only a processing unit's
 * address has one), in the documented order: a peer in the profile's excluded networks or an
 * interface it excludes is untouched; a failsafe port is allowed; then the policies that apply to
 * this PU in this direction and whose peer side holds the other address: a matching reject beats
 * a matching allow, observation and `continue` policies carry no verdict, fallback policies decide
 * only where no other allow or reject matched; else the PU's own namespace default. A connection
 * is allowed unless a side rejects it.
 *
 * Where DESIGN is silent the compiler's documented reading is used, and said here: a negated
 * peer side matches every address outside what the expression selects (also addresses of nothing
 * known); the ports toward an external network (egress, not negated) are the policy's ports ∩ the
 * network's service_ports, and from one (ingress) the policy's ports alone; a `continue` policy
 * that matches does not stop fallback policies.
 */
import { interfaceMatches } from '../src/model/interfaces';
import { addressFamily, addressToBigint, entriesToIntervals, type Family } from '../src/model/intervals';
import { matchesExpression } from '../src/model/tag-match';
import type { ExternalNetwork, Model, NetworkPolicy, ProcessingUnit, ServicePort } from '../src/model/types';

/** OracleConnection is one new connection: addresses, port, and the interfaces it crosses. */
export interface OracleConnection {
  src: string;
  dst: string;
  protocol: 'tcp' | 'udp' | 'icmp' | 'icmpv6';
  dport?: number;
  icmpType?: number;
  icmpCode?: number;
  /** The interface it leaves the sender's host by, and reaches the receiver's by (`lo` on one host). */
  oif: string;
  iif: string;
}

export type OracleSide = 'allow' | 'reject' | 'untouched';

/** policyOracle returns the connection's verdict and each side's. */
export function policyOracle(model: Model, c: OracleConnection, activeAt: Date): { verdict: 'allow' | 'reject'; source: OracleSide; destination: OracleSide } {
  const family = addressFamily(c.src)!;
  const owner = (a: string) => model.processingUnits.find((p) => p.addresses.some((x) => addressFamily(x) === family && addressToBigint(x, family) === addressToBigint(a, family)));
  const srcPu = owner(c.src);
  const dstPu = owner(c.dst);
  const source = srcPu ? side(model, srcPu, 'o', c.dst, c.oif, c, family, activeAt) : 'untouched';
  const destination = dstPu ? side(model, dstPu, 'i', c.src, c.iif, c, family, activeAt) : 'untouched';
  return { verdict: source === 'reject' || destination === 'reject' ? 'reject' : 'allow', source, destination };
}

function side(model: Model, pu: ProcessingUnit, dir: 'i' | 'o', peer: string, iface: string, c: OracleConnection, family: Family, at: Date): OracleSide {
  if (!model.enforcers.some((e) => e.name === pu.enforcer)) return 'untouched';
  const enf = model.enforcers.find((e) => e.name === pu.enforcer)!;
  const profile = enf.profile !== undefined ? model.enforcerProfiles.find((p) => p.name === enf.profile) : undefined;
  const n = addressToBigint(peer, family);
  const inside = (ivs: ReturnType<typeof entriesToIntervals>) => ivs.some((iv) => iv.start <= n && n <= iv.end);
  if (profile) {
    if (inside(entriesToIntervals(profile.excludedNetworks, family))) return 'untouched';
    if (profile.excludedInterfaces.some((p) => interfaceMatches(p, iface))) return 'untouched';
    if (profile.failsafe.some((sp) => portIn(sp, c))) return 'allow';
  }
  const seen = { main: { allow: false, reject: false }, fallback: { allow: false, reject: false } };
  for (const pol of model.networkPolicies) {
    if (!active(pol, at)) continue;
    if (dir === 'i' && pol.applyPolicyMode === 'outgoing') continue;
    if (dir === 'o' && pol.applyPolicyMode === 'incoming') continue;
    if (!localApplies(pol, pu, dir)) continue;
    if (!peerMatches(model, pol, dir, peer, family, c)) continue;
    if (pol.observationEnabled || pol.action === 'continue') continue;
    seen[pol.fallback ? 'fallback' : 'main'][pol.action] = true;
  }
  for (const tier of [seen.main, seen.fallback]) {
    if (tier.reject) return 'reject';
    if (tier.allow) return 'allow';
  }
  const ns = model.namespaces.find((x) => x.name === pu.namespace);
  const action = dir === 'i' ? ns?.defaultIncomingAction ?? 'reject' : ns?.defaultOutgoingAction ?? 'reject';
  return action === 'allow' ? 'allow' : 'reject';
}

/** inScope: a policy sees its own namespace, and the ones below when it propagates. */
function inScope(ns: string, pol: NetworkPolicy): boolean {
  if (ns === pol.namespace) return true;
  if (!pol.propagate) return false;
  return pol.namespace === '/' ? ns.startsWith('/') : ns.startsWith(`${pol.namespace}/`);
}

/** localApplies: the PU is on the policy's local side (object for ingress, subject for egress), negation applied within scope. */
function localApplies(pol: NetworkPolicy, pu: ProcessingUnit, dir: 'i' | 'o'): boolean {
  if (!inScope(pu.namespace, pol)) return false;
  const selected = matchesExpression(pu.identity, dir === 'i' ? pol.object : pol.subject);
  return selected !== (dir === 'i' ? pol.negateObject : pol.negateSubject);
}

/** peerMatches: the other address is on the policy's peer side, on a port the policy (and a network's service_ports) allows. */
function peerMatches(model: Model, pol: NetworkPolicy, dir: 'i' | 'o', peer: string, family: Family, c: OracleConnection): boolean {
  const expr = dir === 'i' ? pol.subject : pol.object;
  const negated = dir === 'i' ? pol.negateSubject : pol.negateObject;
  const n = addressToBigint(peer, family);
  const pus = model.processingUnits.filter((p) => inScope(p.namespace, pol) && matchesExpression(p.identity, expr));
  const nets = model.externalNetworks.filter((x) => inScope(x.namespace, pol) && matchesExpression(x.identity, expr));
  const isPu = pus.some((p) => p.addresses.some((a) => addressFamily(a) === family && addressToBigint(a, family) === n));
  const inNets = nets.filter((x) => entriesToIntervals(x.entries, family).some((iv) => iv.start <= n && n <= iv.end));
  const policyPorts = (sp: readonly ServicePort[]) => sp.length === 0 || sp.some((p) => portIn(p, c));
  if (negated) return !isPu && inNets.length === 0 && policyPorts(pol.ports);
  if (!policyPorts(pol.ports)) return false;
  if (isPu) return true;
  // Toward a network, it must also offer the port; from one, the policy's ports alone.
  return inNets.some((x: ExternalNetwork) => dir === 'i' || policyPorts(x.servicePorts));
}

/** portIn: the connection is on service port `sp` (`icmp` alone is every ICMP type). */
function portIn(sp: ServicePort, c: OracleConnection): boolean {
  switch (sp.kind) {
    case 'any':
      return true;
    case 'l4':
      return sp.protocol === c.protocol && c.dport !== undefined && sp.ports.from <= c.dport && c.dport <= sp.ports.to;
    case 'icmp':
      if ((sp.protocol === 'icmp' ? 'icmp' : 'icmpv6') !== c.protocol) return false;
      if (sp.type === undefined) return true;
      if (sp.type !== c.icmpType) return false;
      return sp.codes === undefined || sp.codes.some((r) => r.from <= (c.icmpCode ?? 0) && (c.icmpCode ?? 0) <= r.to);
    case 'proto':
      return sp.protocol === c.protocol;
  }
}

/** active: not disabled, not expired (schedules are not generated by the differential). */
function active(pol: NetworkPolicy, at: Date): boolean {
  if (pol.disabled) return false;
  if (pol.expirationTime !== undefined && new Date(pol.expirationTime).getTime() <= at.getTime()) return false;
  return true;
}
