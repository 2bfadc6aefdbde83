/**
 * Placement at plan time: the host facts each provider read in the same round trip as the rules
 * (LiveRuleset.facts) decide where each unpinned PU is enforced (src/compile/placement.ts), and
 * tell whether the forward path can see a bridged workload's traffic at all.
 *
 * Why bridged traffic relies on br_netfilter (net.bridge.bridge-nf-call-iptables/-ip6tables) and
 * not on an nftables `bridge` table: with br_netfilter, frames switched between two ports of one
 * bridge traverse the IPv4/IPv6 FORWARD hook, so the SAME `fwd` chain, per-PU chains, sets and
 * conntrack state serve routed and bridged workloads on all three backends (iptables has no
 * bridge-level equivalent with ipset and conntrack; ebtables has neither). Docker, Kubernetes
 * CNIs and libvirt hosts already run with it on. A bridge table would be a second ruleset shape,
 * nftables only. microseg reads the switches and never writes them: a host whose bridged PUs the
 * forward hook cannot see is blocked with MSEG8260 (fix the host, then plan again), never
 * programmed as if it were enforced.
 */
import { compile, type CompileOptions } from '../compile';
import type { DesiredRuleset } from '../compile/ir';
import { placePu, type PuPlacement } from '../compile/placement';
import { enforcerAddress, makeDiagnostic, withAddress, type Diagnostic } from '../diagnostics';
import { addressFamily, cidrsContain } from '../model/intervals';
import type { Model } from '../model/types';
import type { HostFacts } from '../../providers/types';
import { ApplyCodes } from './reconciler-codes';

/**
 * placeFromFacts returns the rulesets compiled with the hosts' addresses when they change any
 * placement (or raise a placement error) against `desired` (compiled without them); otherwise
 * `desired` itself, so a fleet of local-only hosts costs no second compile.
 */
export function placeFromFacts(
  model: Model,
  desired: { readonly [enforcer: string]: DesiredRuleset },
  facts: ReadonlyMap<string, HostFacts | undefined>,
  opts: Omit<CompileOptions, 'hostAddresses'>,
): { desired: { [enforcer: string]: DesiredRuleset }; diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  const hostAddresses = new Map<string, readonly string[]>();
  const placed = new Map<string, PuPlacement[]>();
  let changed = false;
  for (const [e, f] of facts) {
    const want = desired[e];
    if (!want) continue;
    if (!f) {
      if (model.processingUnits.some((p) => p.enforcer === e && p.type !== 'host' && p.placement === undefined)) {
        diagnostics.push(
          withAddress(
            makeDiagnostic('warning', ApplyCodes.hostFactsUnread, `The addresses of enforcer "${e}" could not be read: its unpinned processing units are taken as local`,
              '`ip -j -d addr show` failed or printed no JSON on the host. Install iproute2 there, or pin placement = "local" / "forwarded" on its processing units.'),
            enforcerAddress(e),
          ),
        );
      }
      continue;
    }
    hostAddresses.set(e, f.addresses);
    const before = new Map((want.placements ?? []).map((p) => [`${p.namespace}|${p.pu}`, p.placement] as const));
    const now: PuPlacement[] = [];
    for (const pu of model.processingUnits) {
      if (pu.enforcer !== e) continue;
      const r = placePu(pu, f.addresses, `enforcer.${e}`);
      now.push(r.placement);
      if (r.diagnostics.length > 0 || before.get(`${pu.namespace}|${pu.name}`) !== r.placement.placement) changed = true;
    }
    placed.set(e, now);
  }
  const out: { [enforcer: string]: DesiredRuleset } = { ...desired };
  if (!changed) {
    // Same rules; only what decided the placements is new (the host, not an assumption).
    for (const [e, ps] of placed) {
      const byKey = new Map(ps.map((p) => [`${p.namespace}|${p.pu}`, p] as const));
      out[e] = { ...out[e], placements: (out[e].placements ?? []).map((p) => byKey.get(`${p.namespace}|${p.pu}`) ?? p) };
    }
    return { desired: out, diagnostics };
  }
  const again = compile(model, { ...opts, hostAddresses });
  for (const r of again.rulesets) if (out[r.enforcer] && hostAddresses.has(r.enforcer)) out[r.enforcer] = r;
  return { desired: out, diagnostics };
}

/**
 * bridgeProblems: the forwarded PU addresses of `want` inside a subnet of one of the host's
 * bridges whose family br_netfilter does not pass to the forward hook. Empty when fine.
 */
export function bridgeProblems(model: Model, want: DesiredRuleset, facts: HostFacts | undefined): Array<{ pu: string; address: string; bridge: string; why: string }> {
  if (!facts || facts.bridges.length === 0) return [];
  const forwarded = new Set((want.placements ?? []).filter((p) => p.placement === 'forwarded').map((p) => `${p.namespace}|${p.pu}`));
  const out: Array<{ pu: string; address: string; bridge: string; why: string }> = [];
  for (const pu of model.processingUnits) {
    if (pu.enforcer !== want.enforcer || !forwarded.has(`${pu.namespace}|${pu.name}`)) continue;
    for (const a of pu.addresses) {
      const bridge = facts.bridges.find((b) => cidrsContain(b.subnets, a));
      if (!bridge) continue;
      const fam = addressFamily(a);
      const sysctl = fam === 6 ? 'net.bridge.bridge-nf-call-ip6tables' : 'net.bridge.bridge-nf-call-iptables';
      if (!facts.bridgeNetfilter) out.push({ pu: pu.address, address: a, bridge: bridge.name, why: 'br_netfilter is not loaded (no /proc/sys/net/bridge)' });
      else if (!(fam === 6 ? facts.bridgeNetfilter.ipv6 : facts.bridgeNetfilter.ipv4)) out.push({ pu: pu.address, address: a, bridge: bridge.name, why: `${sysctl} is 0` });
    }
  }
  return out;
}
