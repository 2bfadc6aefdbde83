/**
 * managementLockout: would applying `desired` cut microseg off from the host it manages?
 *
 * microseg reaches an ssh enforcer at `connection.host:port`. When that address is one of the
 * enforcer's own processing units, the PU's ingress chain decides new connections to it, the next
 * apply's own ssh sessions included. If that chain rejects a new tcp/port connection from every
 * source, the apply that installs it locks microseg (and probably the operator) out of the host:
 * the transaction's own session survives, every later one is refused. Felix avoids this with
 * failsafe ports; here `enforcer_profile.failsafe` does the same, and this check refuses a plan
 * that has neither it nor a policy letting anyone in.
 *
 * The client's address is unknown (NAT, bastions, CI runners), so the check is deliberately
 * lenient: a rule that could accept some source (a policy with a peer set, an excluded network,
 * an excluded interface) counts as a way in. It fires only when every source is refused, which
 * is certain to lock microseg out. A host named by DNS name is not checked (which address it
 * resolves to is the host's business).
 *
 * Pure: a walk over the compiled ruleset, emulating a TCP SYN (conntrack state new) from an
 * unknown remote source to the management address and port.
 */
import * as ipaddr from 'ipaddr.js';
import type { Chain, DesiredRuleset, Rule } from '../compile/ir';
import { cidrToInterval, familyBits, mergeIntervals } from '../model/intervals';
import type { Connection } from '../hosts/connection';

/** Lockout is what the check found: the management address, its port and the chain that refuses it. */
export interface Lockout {
  address: string;
  port: number;
  chain: string;
}

type Walk = 'reachable' | 'rejected' | 'fallthrough';

export function managementLockout(connection: Connection, desired: DesiredRuleset): Lockout | undefined {
  if (connection.type !== 'ssh' || !ipaddr.isValid(connection.host)) return undefined;
  const parsed = ipaddr.process(connection.host);
  const address = parsed.toString();
  const family = parsed.kind() === 'ipv4' ? 4 : 6;
  const port = connection.port;
  const chains = new Map(desired.chains.map((c) => [c.name, c] as const));
  const everyone = new Set(desired.sets.filter((set) => set.family === family && coversAll(set.elements, family)).map((set) => set.name));
  const input = desired.chains.find((c) => c.hook === 'input');
  if (!input) return undefined;
  const refusedBy: string[] = [];
  const walk = (chain: Chain, depth: number): Walk => {
    for (const r of chain.rules) {
      if (!mayMatch(r, address, family, port)) continue;
      // A peer set holding the whole address space (an external network of 0.0.0.0/0) is no
      // constraint; negated, it matches nobody.
      if (r.match.srcSet && everyone.has(r.match.srcSet.set) && r.match.srcSet.negate) continue;
      const constrained = hasSourceConstraint(r, everyone);
      switch (r.verdict.kind) {
        case 'log':
          continue;
        case 'accept':
        case 'return':
          return 'reachable';
        case 'jump': {
          const target = chains.get(r.verdict.chain);
          if (!target || depth > 8) return 'reachable'; // not ours to judge: assume a way in
          const inner = walk(target, depth + 1);
          if (inner === 'reachable') return 'reachable';
          if (inner === 'rejected' && !constrained) return 'rejected';
          continue;
        }
        case 'reject':
        case 'drop':
          if (constrained) continue;
          refusedBy.push(chain.name);
          return 'rejected';
      }
    }
    return 'fallthrough';
  };
  // Falling off the hooked chain meets its policy, accept.
  return walk(input, 0) === 'rejected' ? { address, port, chain: refusedBy[0] ?? input.name } : undefined;
}

/** mayMatch: could `r` match a new TCP connection from some remote source to address:port? */
function mayMatch(r: Rule, address: string, family: 4 | 6, port: number): boolean {
  const m = r.match;
  if (m.family !== undefined && m.family !== family) return false;
  if (m.ctState && !m.ctState.includes('new')) return false;
  if (m.iif === 'lo') return false; // the client is remote
  if (m.dstAddr !== undefined && sameAddress(m.dstAddr) !== address) return false;
  if (m.protocol !== undefined && m.protocol !== 'tcp') return false;
  if (m.icmpType !== undefined) return false;
  if (m.dports && !m.dports.some((p) => p.from <= port && port <= p.to)) return false;
  return true;
}

/** hasSourceConstraint: does `r` match only some sources (or some interfaces, or some destinations in a set)? */
function hasSourceConstraint(r: Rule, everyone: ReadonlySet<string>): boolean {
  const m = r.match;
  const someSources = m.srcSet !== undefined && !(everyone.has(m.srcSet.set) && !m.srcSet.negate);
  return someSources || m.srcAddr !== undefined || m.iif !== undefined || m.dstSet !== undefined;
}

/** coversAll: do these CIDRs (a compiled set's members) hold every address of the family? */
function coversAll(cidrs: readonly string[], family: 4 | 6): boolean {
  const merged = mergeIntervals(cidrs.map((c) => cidrToInterval(c, family)));
  return merged.length === 1 && merged[0].start === 0n && merged[0].end === (1n << BigInt(familyBits(family))) - 1n;
}

function sameAddress(text: string): string {
  const bare = text.replace(/\/(32|128)$/, '');
  return ipaddr.isValid(bare) ? ipaddr.process(bare).toString() : text;
}
