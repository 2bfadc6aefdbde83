/**
 * stats: which policy decided how many connections, per host, from the kernel's rule counters.
 *
 * Every compiled rule carries an id (its `microseg:<id>` comment) and, in the IR, the policy or
 * reserved reason it enforces (RuleOrigin). The providers read each rule's counter in the same
 * listing as the rules (providers/counters.ts), so joining a host's counters with its desired
 * ruleset by chain and rule id says how many packets each policy's rules matched. Policy and
 * default rules sit after `ct state established,related accept`, so the packets they see are the
 * first packets of connections (conntrack `new`): a TCP handshake is one SYN, whether accepted or
 * refused with a reset, so the counts are connections. (A packet conntrack calls `invalid` — a
 * stray segment of a connection it has forgotten — also reaches them; on a healthy host they are
 * rare.)
 *
 * `tallyHost` and `summarize` are pure; `readStats` is the I/O edge (hosts through refresh).
 */
import type { Chain, DesiredRuleset, Rule } from '../compile/ir';
import type { RuleCount } from '../../providers/counters';

/** Direction of a PU chain: `incoming` (ingress chain, object side) or `outgoing` (egress chain, subject side). */
export type Direction = 'incoming' | 'outgoing';

/** PolicyCount is what one policy's rules counted on one host in one direction. */
export interface PolicyCount {
  /** `network_policy.<name>` or `network_policy.<name>` in a namespace other than `/` (`/ns network_policy.<name>`). */
  policy: string;
  name: string;
  namespace: string;
  direction: Direction;
  /** Connections the policy's `accept` rules let through. */
  allowed: number;
  /** Connections the policy's `reject` rules refused. */
  rejected: number;
  /** Observation (audit) rules: connections the policy would have allowed / rejected had it been enforced. */
  would_allow: number;
  would_reject: number;
  /** Rules of the policy on this host in this direction, and how many of them carried no readable counter. */
  rules: number;
  uncounted: number;
}

/** DefaultCount is the namespace default's count on one host: connections no policy decided. */
export interface DefaultCount {
  namespace: string;
  direction: Direction;
  action: 'allow' | 'reject';
  /** The namespace is in audit mode: a `reject` default let these connections through (would-reject). */
  observation?: boolean;
  connections: number;
  uncounted: number;
}

/** HostStats is one enforcer host's counts, or why it could not be read. */
export interface HostStats {
  enforcer: string;
  backend?: string;
  error?: string;
  policies: PolicyCount[];
  defaults: DefaultCount[];
  /** Wanted rules the host does not hold (drift: `microseg plan` shows it); they counted nothing. */
  missing_rules: number;
}

/** PolicyTotal is one policy across the fleet, per direction (a connection between two hosts counts on each side). */
export interface PolicyTotal {
  policy: string;
  incoming: { allowed: number; rejected: number; would_allow: number; would_reject: number };
  outgoing: { allowed: number; rejected: number; would_allow: number; would_reject: number };
  /** True when every rule of the policy on every readable host counted zero and all of them carried counters. */
  dead: boolean;
  /** Hosts where the policy has rules. */
  hosts: number;
}

/** StatsReport is the `microseg stats` document (human output renders the same data). */
export interface StatsReport {
  format_version: 1;
  /** True when counts are since each host's last apply (baselines subtracted), not since the rules were created. */
  since_apply: boolean;
  hosts: HostStats[];
  policies: PolicyTotal[];
  /** Policies in force whose rules counted nothing anywhere (`dead`). */
  dead: string[];
  /** Policies in the configuration that compile to no rule on any host (nothing to count). */
  without_rules: string[];
}

/** Counters of one host: chain name → rule id → count (providers/counters.ts liveCounters). */
export type HostCounters = ReadonlyMap<string, ReadonlyMap<string, RuleCount>>;

/** directionOf: PU chains are named `pu-<slug>-<i|o>-<hash6>` (src/compile/names.ts puChainName). */
export function directionOf(chain: Chain): Direction | undefined {
  const m = /-([io])-[0-9a-f]{6}$/.exec(chain.name);
  if (!m || chain.hook) return undefined;
  return m[1] === 'i' ? 'incoming' : 'outgoing';
}

/** policyLabel names a policy the way diagnostics do: its address, prefixed by its namespace outside `/`. */
export function policyLabel(name: string, namespace: string): string {
  return namespace === '/' ? `network_policy.${name}` : `${namespace} network_policy.${name}`;
}

/**
 * tallyHost joins one host's desired rules with its counters. `baseline` (counts at the last
 * apply) is subtracted rule by rule; a counter below its baseline was recreated since, and counts
 * from zero.
 */
export function tallyHost(
  desired: DesiredRuleset,
  live: { chains: ReadonlyArray<{ name: string; ruleIds: readonly string[] }> },
  counters: HostCounters,
  baseline?: HostCounters,
): Omit<HostStats, 'enforcer' | 'backend' | 'error'> {
  const held = new Map(live.chains.map((c) => [c.name, new Set(c.ruleIds)] as const));
  const policies = new Map<string, PolicyCount>();
  const defaults = new Map<string, DefaultCount>();
  let missing = 0;
  for (const chain of desired.chains) {
    const direction = directionOf(chain);
    if (!direction) continue;
    const counts = counters.get(chain.name);
    const base = baseline?.get(chain.name);
    for (const rule of chain.rules) {
      const o = rule.origin;
      if (!o || (o.kind !== 'policy' && o.kind !== 'default')) continue;
      if (!held.get(chain.name)?.has(rule.id)) {
        // Not on the host (drift, or never applied): it counted nothing, and plan says why.
        missing++;
        continue;
      }
      // A rule the host holds without a counter (written before rules carried counters) is `uncounted`.
      const c = counts?.get(rule.id);
      const n = c ? Math.max(0, c.packets - since(base?.get(rule.id), c)) : 0;
      if (o.kind === 'default') {
        // The default's log rule (logs_enabled, audit) sees the same packets as its verdict rule.
        if (rule.verdict.kind === 'log') continue;
        const key = `${o.namespace}\u0000${direction}`;
        const d = defaults.get(key) ?? { namespace: o.namespace, direction, action: o.action, ...(o.observation ? { observation: true } : {}), connections: 0, uncounted: 0 };
        defaults.set(key, d);
        d.connections += n;
        if (!c) d.uncounted++;
        continue;
      }
      const key = `${o.namespace}\u0000${o.policy}\u0000${direction}`;
      const p =
        policies.get(key) ??
        { policy: policyLabel(o.policy, o.namespace), name: o.policy, namespace: o.namespace, direction, allowed: 0, rejected: 0, would_allow: 0, would_reject: 0, rules: 0, uncounted: 0 };
      policies.set(key, p);
      p.rules++;
      if (!c) p.uncounted++;
      addVerdict(p, rule, n);
    }
  }
  return {
    policies: [...policies.values()].sort((a, b) => cmp(a.policy, b.policy) || cmp(a.direction, b.direction)),
    defaults: [...defaults.values()].sort((a, b) => cmp(a.namespace, b.namespace) || cmp(a.direction, b.direction)),
    missing_rules: missing,
  };
}

/** since: the baseline to subtract, or 0 when the rule was recreated after it (its counter is below the baseline). */
function since(base: RuleCount | undefined, now: RuleCount): number {
  if (!base || base.packets > now.packets) return 0;
  return base.packets;
}

/**
 * addVerdict files `n` under what the rule does: `accept` allowed, `reject` rejected; a log rule
 * of an observation policy (prefix tag `OA`/`OR`, src/compile/names.ts logPrefix) would-allow or
 * would-reject. The log rule of a `logs_enabled` policy precedes its verdict rule and sees the
 * same packets, so it is not counted again.
 */
function addVerdict(p: PolicyCount, rule: Rule, n: number): void {
  const v = rule.verdict;
  if (v.kind === 'accept') p.allowed += n;
  else if (v.kind === 'reject' || v.kind === 'drop') p.rejected += n;
  else if (v.kind === 'log') {
    // `mseg:<hash8>:<tag>:<i|o>`: the tag is the third field (the last is the side).
    const tag = v.prefix.split(':')[2];
    if (tag === 'OA') p.would_allow += n;
    else if (tag === 'OR') p.would_reject += n;
  }
}

/** summarize builds the fleet view: per policy per direction totals, dead policies, policies without rules. */
export function summarize(hosts: HostStats[], policyLabels: readonly string[], sinceApply: boolean): StatsReport {
  const totals = new Map<string, PolicyTotal>();
  const zero = () => ({ allowed: 0, rejected: 0, would_allow: 0, would_reject: 0 });
  const counted = new Map<string, boolean>();
  for (const h of hosts) {
    if (h.error) continue;
    const seen = new Set<string>();
    for (const p of h.policies) {
      const t = totals.get(p.policy) ?? { policy: p.policy, incoming: zero(), outgoing: zero(), dead: false, hosts: 0 };
      totals.set(p.policy, t);
      if (!seen.has(p.policy)) t.hosts++;
      seen.add(p.policy);
      const d = t[p.direction];
      d.allowed += p.allowed;
      d.rejected += p.rejected;
      d.would_allow += p.would_allow;
      d.would_reject += p.would_reject;
      counted.set(p.policy, (counted.get(p.policy) ?? true) && p.uncounted === 0);
    }
  }
  const dead: string[] = [];
  for (const t of totals.values()) {
    const sum = [t.incoming, t.outgoing].reduce((s, d) => s + d.allowed + d.rejected + d.would_allow + d.would_reject, 0);
    t.dead = sum === 0 && counted.get(t.policy) === true;
    if (t.dead) dead.push(t.policy);
  }
  const withRules = new Set(totals.keys());
  return {
    format_version: 1,
    since_apply: sinceApply,
    hosts,
    policies: [...totals.values()].sort((a, b) => cmp(a.policy, b.policy)),
    dead: dead.sort(cmp),
    without_rules: policyLabels.filter((l) => !withRules.has(l)).sort(cmp),
  };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
