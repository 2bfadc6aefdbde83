/**
 * The backend-neutral intermediate representation (IR) compile produces for each enforcer host.
 *
 * A DesiredRuleset is the FULL state microseg wants on one host (kube-proxy style: always the full
 * desired state; partial application is the planner's concern). Providers render it to
 * `nft -f` or `ipset restore` + `iptables-restore --noflush`, and read it back from a kernel into
 * the same shape, so plan can diff desired against live with plain data equality.
 *
 * Naming: IR names are logical, lowercase `[a-z0-9-]`, at most 23 characters, deterministic
 * (readable part + hash suffix when truncated). Providers prefix them (`MSEG-` for iptables
 * chains → ≤ 28 chars; `mseg-` for ipsets → ≤ 28 ≤ 31 chars; nft keeps them inside table
 * `inet microseg`). Sets are single-family because both ipset and nft sets are typed.
 */
import type { Diagnostic } from '../diagnostics';
import type { PortRange } from '../model/types';
import type { HostProtectionInfo } from './host-protection';
import type { PuPlacement } from './placement';

export type Family = 4 | 6;

/**
 * AddressSet is a named set of addresses of one family. `elements` are canonical CIDRs, disjoint,
 * sorted by address, and never `/0`: ipset hash:net refuses a /0 element, so `0.0.0.0/0` is
 * always carried as `0.0.0.0/1` + `128.0.0.0/1` (and `::/0` as `::/1` + `8000::/1`), which nft
 * interval sets accept too; both backends then hold byte-for-byte the same members.
 */
export interface AddressSet {
  name: string;
  family: Family;
  elements: string[];
  /** What the set stands for (UI only): e.g. `extnet internet`, `pus matching app=web`. */
  comment?: string;
}

/** SetMatch tests the packet's source or destination address against a set. */
export interface SetMatch {
  set: string;
  negate?: boolean;
}

/**
 * Match is a conjunction of conditions; an absent field does not constrain. Every rule is
 * single-family when it references a set or an address (the set's family), or when `protocol` is
 * `icmp` (4) / `icmpv6` (6); otherwise it applies to both families.
 */
export interface Match {
  family?: Family;
  /** Input interface, e.g. `lo` for loopback. */
  iif?: string;
  /** Output interface. */
  oif?: string;
  /** Conntrack states, e.g. ['established', 'related']. */
  ctState?: Array<'established' | 'related' | 'new' | 'invalid'>;
  srcSet?: SetMatch;
  dstSet?: SetMatch;
  /** Exact source/destination addresses (single host addresses), used for per-PU dispatch. */
  srcAddr?: string;
  dstAddr?: string;
  /** `tcp`, `udp`, `icmp`, `icmpv6`, or another IP protocol name (`gre`, `esp`, `sctp`, ...). */
  protocol?: string;
  /** Destination ports, tcp/udp only; any of the ranges matches. Providers split past iptables' 15-port multiport limit. */
  dports?: PortRange[];
  /** ICMP/ICMPv6 type; with `icmpCodes`, any of the code ranges matches. Never widened. */
  icmpType?: number;
  icmpCodes?: PortRange[];
}

/** Verdict: terminal (`accept`, `reject`, `drop`, `return`, `jump`) or non-terminal (`log`). */
export type Verdict =
  | { kind: 'accept' }
  | { kind: 'reject' }
  | { kind: 'drop' }
  | { kind: 'return' }
  | { kind: 'jump'; chain: string }
  | { kind: 'log'; group: number; prefix: string; limit?: LogLimit };

/**
 * LogLimit rate-limits a log rule (per rule, in packets per second with a burst), so a flood of
 * connections cannot flood the host's log path; the rule's verdict twin still decides every
 * packet. Records the limit suppresses are counted (`microseg flows`: the verdict rule's counter
 * minus the log rule's).
 */
export interface LogLimit {
  perSecond: number;
  burst: number;
}

/**
 * Rule is one firewall rule. `id` is a short stable hash of (chain, match, verdict) that providers
 * write as the `microseg:<id>` comment and read back, so ownership and drift are decided by id
 * without parsing rule bodies (Felix rule-hash comments).
 */
export interface Rule {
  id: string;
  match: Match;
  verdict: Verdict;
  /** The policy this rule enforces (for trace attribution), or a reserved reason. UI only. */
  origin?: RuleOrigin;
}

/** RuleOrigin explains why a rule exists; the tracer reports it as "which rule and which policy". */
export type RuleOrigin =
  | { kind: 'policy'; policy: string; namespace: string }
  /** `observation`: the namespace is in audit mode, so a default `reject` only logs and accepts. */
  | { kind: 'default'; namespace: string; action: 'allow' | 'reject'; observation?: boolean }
  | { kind: 'established' }
  | { kind: 'neighbor-discovery' }
  | { kind: 'loopback' }
  | { kind: 'excluded-network'; profile: string }
  /** Traffic through an interface listed in the profile's `excluded_interfaces` (added by compile). */
  | { kind: 'excluded-interface'; profile: string }
  | { kind: 'failsafe'; profile: string }
  /**
   * A rule host protection adds to the host PU's chains (src/compile/host-protection.ts):
   * loopback, or a failsafe port of the host (the profile's `host_failsafe_*`, else the defaults).
   */
  | { kind: 'host-protection'; reason: 'loopback' | 'failsafe-inbound' | 'failsafe-outbound'; profile?: string }
  | { kind: 'dispatch'; pu: string };

/** Hook names the base hook a dispatch chain is attached to (nft base chain / iptables builtin chain). */
export type Hook = 'input' | 'output' | 'forward';

/**
 * Chain is an owned chain. Chains with `hook` are dispatch chains jumped to from the builtin chain
 * (iptables: one `microseg:hook` jump inserted first in INPUT/OUTPUT/FORWARD of table filter;
 * nft: a base chain of that hook in table `inet microseg`, priority filter).
 */
export interface Chain {
  name: string;
  hook?: Hook;
  rules: Rule[];
  comment?: string;
}

/** DesiredRuleset is everything microseg wants on one enforcer host. */
export interface DesiredRuleset {
  enforcer: string;
  /** Sorted by name. Every set referenced by a rule is here, and only those. */
  sets: AddressSet[];
  /** Dispatch (hooked) chains first in hook order, then PU chains sorted by name. */
  chains: Chain[];
  /** Warnings and errors found while compiling this host (ineffective rules, old enforcer, ...). */
  diagnostics: Diagnostic[];
  /**
   * Where each of the host's PUs is enforced (src/compile/placement.ts), sorted like its PU
   * chains. Absent on a host without PUs. Not a kernel object: plan shows it, trace follows it.
   */
  placements?: PuPlacement[];
  /** The host's own protection (enforcer host_protection, its type = "host" PU). Not a kernel object: plan shows it. */
  hostProtection?: HostProtectionInfo;
}
