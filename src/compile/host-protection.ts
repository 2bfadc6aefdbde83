/**
 * Host protection (enforcer `host_protection = true` + one `processing_unit { type = "host" }`):
 * policies apply to the host's own addresses, on its own stack's input and output, like any local
 * processing unit — plus rules that keep the host usable whatever the policies say. Pure.
 *
 * What stays working, in the host PU's chains right after established/related:
 *
 * - Loopback. Traffic the host sends itself through `lo` (to its own address, say 198.18.0.1 →
 *   198.18.0.1) is dispatched to the host PU's chains because it carries a PU address; `iif lo`
 *   (ingress) and `oif lo` (egress) accept it. 127.0.0.0/8 and ::1 are never dispatched at all.
 * - The host's own local DNS resolver (systemd-resolved on 127.0.0.53, dnsmasq/unbound on
 *   127.0.0.1:53; the seed's issue #738). Queries to it cross `lo` from 127.0.0.1 and are never
 *   dispatched; but a resolver that forwards upstream sends its own queries from the host's
 *   address to the upstream server's port 53, through the host PU's egress chain, where a
 *   default reject would leave every lookup on the host unanswered. The outbound failsafe ports
 *   (default udp/53, tcp/53) let them out; replies are established traffic.
 * - Failsafe ports, as Calico's FailsafeInboundHostPorts / FailsafeOutboundHostPorts: inbound to
 *   the host (default tcp/22 so an operator is never locked out, udp/68 for DHCP replies) and
 *   outbound from it (default udp/53 and tcp/53 for DNS, udp/67 for DHCP renewals). An enforcer's
 *   profile sets them with `host_failsafe_inbound` / `host_failsafe_outbound`; `[]` is none.
 *   Unlike Calico, the defaults carry no Kubernetes, BGP or etcd ports: microseg knows nothing of
 *   them, and a profile can add them.
 */
import type { EnforcerProfile, ProcessingUnit, ServicePort } from '../model/types';
import { parseServicePortList } from '../model/service-ports';
import type { Match, RuleOrigin, Verdict } from './ir';
import { specFromServicePorts, specToFragments } from './ports';

/** The failsafe ports a protected host gets when its profile does not say. */
export const HOST_FAILSAFE_DEFAULTS = {
  inbound: ['tcp/22', 'udp/68'],
  outbound: ['udp/53', 'tcp/53', 'udp/67'],
} as const;

const parsedDefaults = {
  inbound: parseServicePortList(HOST_FAILSAFE_DEFAULTS.inbound).ports,
  outbound: parseServicePortList(HOST_FAILSAFE_DEFAULTS.outbound).ports,
};

/**
 * HostProtectionInfo is what plan shows for a protected host (UI only, not a kernel object): the
 * host PU, its addresses, and what stays open whatever the policies say.
 */
export interface HostProtectionInfo {
  pu: string;
  namespace: string;
  addresses: string[];
  failsafe_inbound: string[];
  failsafe_outbound: string[];
  /** Where the failsafe lists come from: the profile's attributes or the defaults. */
  failsafe_source: { inbound: 'profile' | 'default'; outbound: 'profile' | 'default' };
}

/** hostFailsafe: the failsafe ports of a protected host in one direction (profile's, else the defaults). */
export function hostFailsafe(profile: EnforcerProfile | undefined, dir: 'inbound' | 'outbound'): { ports: ServicePort[]; source: 'profile' | 'default' } {
  const own = dir === 'inbound' ? profile?.hostFailsafeInbound : profile?.hostFailsafeOutbound;
  return own !== undefined ? { ports: own, source: 'profile' } : { ports: parsedDefaults[dir], source: 'default' };
}

export function hostProtectionInfo(pu: ProcessingUnit, profile: EnforcerProfile | undefined): HostProtectionInfo {
  const inbound = hostFailsafe(profile, 'inbound');
  const outbound = hostFailsafe(profile, 'outbound');
  return {
    pu: pu.name,
    namespace: pu.namespace,
    addresses: [...pu.addresses],
    failsafe_inbound: inbound.ports.map((p) => p.text),
    failsafe_outbound: outbound.ports.map((p) => p.text),
    failsafe_source: { inbound: inbound.source, outbound: outbound.source },
  };
}

interface Draft {
  match: Match;
  verdict: Verdict;
  origin: RuleOrigin;
}

const ACCEPT: Verdict = { kind: 'accept' };

/** loopbackDrafts: the host talking to itself through `lo` is accepted (ingress: iif lo, egress: oif lo). */
export function loopbackDrafts(dir: 'i' | 'o'): Draft[] {
  return [{ match: dir === 'i' ? { iif: 'lo' } : { oif: 'lo' }, verdict: ACCEPT, origin: { kind: 'host-protection', reason: 'loopback' } }];
}

/** failsafeDrafts: the host's failsafe ports of one direction (ingress: inbound, egress: outbound), accepted. */
export function failsafeDrafts(profile: EnforcerProfile | undefined, dir: 'i' | 'o'): Draft[] {
  const which = dir === 'i' ? 'inbound' : 'outbound';
  const { ports, source } = hostFailsafe(profile, which);
  // An empty list means "none", not "any" (which [] means for policies).
  if (ports.length === 0) return [];
  const origin: RuleOrigin = {
    kind: 'host-protection',
    reason: dir === 'i' ? 'failsafe-inbound' : 'failsafe-outbound',
    ...(source === 'profile' && profile ? { profile: profile.name } : {}),
  };
  return specToFragments(specFromServicePorts(ports)).map((frag) => ({ match: { ...frag }, verdict: ACCEPT, origin }));
}
