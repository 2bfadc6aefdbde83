/**
 * Host facts: what plan needs to know about an enforcer host besides the rules microseg owns
 * there, read by every provider's `read` in the SAME transport round trip as those rules (one
 * `ip netns exec` / ssh session), so placement costs no extra round trip.
 *
 * - the host's own addresses (`ip -j -d addr show`): a PU address the host holds is enforced on
 *   input/output, any other on the forward path (src/compile/placement.ts);
 * - its Linux bridges and their subnets, and the br_netfilter switches
 *   `net.bridge.bridge-nf-call-iptables` / `-ip6tables`: traffic between two ports of one bridge
 *   is switched, not routed, and reaches the IPv4/IPv6 forward hook (where microseg's `fwd` chain
 *   sits, on every backend: nftables inet base chains and iptables FORWARD alike) only when
 *   br_netfilter is present and those switches are 1. microseg reads them and never writes them.
 */
import type { CommandResult } from '../src/hosts/types';
import type { HostFacts } from './types';

/** HOST_FACT_ARGVS are the listings a provider appends to its read (in this order). */
export const HOST_FACT_ARGVS: readonly (readonly string[])[] = [
  ['ip', '-j', '-d', 'addr', 'show'],
  ['cat', '/proc/sys/net/bridge/bridge-nf-call-iptables'],
  ['cat', '/proc/sys/net/bridge/bridge-nf-call-ip6tables'],
];

interface IpAddrEntry {
  ifname?: string;
  linkinfo?: { info_kind?: string };
  addr_info?: Array<{ family?: string; local?: string; prefixlen?: number }>;
}

/**
 * parseHostFacts reads HOST_FACT_ARGVS' results. Undefined when the addresses could not be read
 * (no `ip`, or output that is not its JSON): placement then treats the host as unknown, which plan
 * reports, rather than guessing. A missing /proc/sys/net/bridge means br_netfilter is absent.
 */
export function parseHostFacts(results: readonly CommandResult[]): HostFacts | undefined {
  const [addr, v4, v6] = results;
  if (!addr || addr.code !== 0) return undefined;
  let doc: unknown;
  try {
    doc = JSON.parse(addr.stdout);
  } catch {
    return undefined;
  }
  if (!Array.isArray(doc)) return undefined;
  const addresses: string[] = [];
  const bridges: HostFacts['bridges'] = [];
  for (const e of doc as IpAddrEntry[]) {
    const mine: string[] = [];
    for (const a of e.addr_info ?? []) {
      if ((a.family !== 'inet' && a.family !== 'inet6') || typeof a.local !== 'string') continue;
      addresses.push(a.local);
      if (typeof a.prefixlen === 'number') mine.push(`${a.local}/${a.prefixlen}`);
    }
    if (e.linkinfo?.info_kind === 'bridge' && typeof e.ifname === 'string') bridges.push({ name: e.ifname, subnets: mine });
  }
  const sw = (r: CommandResult | undefined): boolean | undefined => (r && r.code === 0 ? r.stdout.trim() === '1' : undefined);
  const brNetfilter = v4 !== undefined && v4.code === 0;
  return {
    addresses: [...new Set(addresses)].sort(),
    bridges: bridges.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
    bridgeNetfilter: brNetfilter ? { ipv4: sw(v4) === true, ipv6: sw(v6) === true } : undefined,
  };
}
