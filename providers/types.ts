/**
 * The provider contract: a firewall dataplane that can render the IR into the exact script fed to
 * the kernel, read back what microseg owns on a live host, and remove it all.
 *
 * Providers are pure where they can be: render* functions return scripts (data); only probe/read/
 * run touch a host, through a Host transport. A provider never touches objects it does not own
 * (DESIGN §5): foreign chains, rules and sets are neither read into the result nor modified.
 */
import type { AddressSet, DesiredRuleset, Hook } from '../src/compile/ir';
import type { Host } from '../src/hosts/types';

export type BackendName = 'nftables' | 'iptables-nft' | 'iptables-legacy';

/** Capabilities are probed once per host and decide what can be rendered there. */
export interface Capabilities {
  backend: BackendName;
  /** Tool version strings as reported, e.g. `nftables v1.0.6`. */
  versions: Record<string, string>;
  /** Whether rule comments are supported (nft ≥ 0.9.x; iptables comment match). */
  comments: boolean;
  /** Missing matches/modules that make some rules impossible on this host (e.g. `ipset`, `set match`). */
  missing: string[];
}

/** LiveChain is an owned chain as read back: its rule ids in order (from the microseg:<id> comments). */
export interface LiveChain {
  name: string;
  hook?: Hook;
  ruleIds: string[];
  /** Rules in an owned chain without a microseg comment (someone added them by hand). */
  foreignRules: number;
  /**
   * iptables only: the families (iptables = 4, ip6tables = 6) the chain exists in. Every owned
   * chain exists in both; a chain found in only one is drift. Absent for nftables (inet chains).
   */
  families?: Array<4 | 6>;
}

/** LiveHook says whether our jump from a builtin chain exists and is the first rule there. */
export interface LiveHook {
  hook: Hook;
  family: 4 | 6;
  present: boolean;
  first: boolean;
  /** iptables: number of `microseg:hook` rules found (more than 1 is drift). */
  count: number;
  /**
   * The owned chains (IR names) the hook jumps to, one per hook rule in rule order. iptables needs
   * them to delete an old hook by exact rule spec; for nftables it is the base chain itself.
   */
  targets?: string[];
}

/**
 * LiveRuleset is what a provider reads back from a host: only owned objects (by name prefix or
 * table), in the IR's logical names, so plan can compare it with a DesiredRuleset.
 */
export interface LiveRuleset {
  backend: BackendName;
  sets: AddressSet[];
  chains: LiveChain[];
  hooks: LiveHook[];
  /** Stable hash of the canonical owned state, for refusing stale saved plans. */
  fingerprint: string;
}

/** ReadScope names owned objects, by IR name, whose live state a partial read re-reads. */
export interface ReadScope {
  chains: string[];
  sets: string[];
}

/**
 * PartialLive is what Provider.readPartial returns: the current state of the objects named by a
 * ReadScope (those that do not exist now are simply absent) and of every hook, read whole.
 * mergePartial (common.ts) lays it over an earlier full read to form the current LiveRuleset.
 */
export interface PartialLive {
  backend: BackendName;
  /** The scope's chains that exist now, as `read` would return them. */
  chains: LiveChain[];
  /** The scope's sets that exist now, as `read` would return them (members in canonical order). */
  sets: AddressSet[];
  /** Every hook, as `read` would return them (hooks are always read whole). */
  hooks: LiveHook[];
  /**
   * IR names of every owned chain that exists now, when the provider can list them cheaply
   * (nftables: `nft -j list chains`). mergePartial refuses a view in which an out-of-scope chain
   * appeared or vanished since the earlier read, so apply falls back to a full read then.
   */
  chainNames?: string[];
  /**
   * iptables: for each name of `chainNames`, the families (4, 6) the chain exists in now, when the
   * provider can list them cheaply (iptables-nft: `nft -j list chains`). mergePartial also refuses
   * a view in which an owned chain's families differ from the merged chain's `families` (an
   * out-of-scope chain created or deleted in one family only).
   */
  chainFamilies?: Record<string, Array<4 | 6>>;
}

/** Script is one step fed to one tool on the host, in order; e.g. `ipset restore` then `iptables-restore --noflush`. */
export interface ScriptStep {
  argv: string[];
  stdin: string;
}

/** Provider is one firewall dataplane. */
export interface Provider {
  readonly backend: BackendName;
  probe(host: Host): Promise<Capabilities>;
  /** The steps that replace everything owned on the host with `desired` (full sync). */
  renderFull(desired: DesiredRuleset, live?: LiveRuleset): ScriptStep[];
  /** The steps that remove every owned object from the host, given what was read back. */
  renderCleanup(live: LiveRuleset): ScriptStep[];
  /**
   * The steps that make the kernel start tracking connections in the host's network namespace
   * without changing any verdict: one rule using conntrack in an owned chain that nothing jumps
   * to, which the full sync then replaces. Apply sends them, as a transaction of their own, before
   * the first full sync on a host where microseg owns nothing. Why: conntrack hooks are
   * registered per namespace only once a rule needs them, so on a host where nothing used
   * conntrack yet, connections already open (the ssh session carrying the apply, an operator's
   * shell) are picked up mid-stream when the ruleset lands; a packet of theirs going the "wrong"
   * way first counts as `ct state new`, misses `established`, and meets the default reject, which
   * cut apply's own session (test/netns/ssh.test.ts). After the warm-up, the next session starts
   * tracked from its SYN. [] when `desired` needs no conntrack. Optional.
   */
  renderConntrackWarmup?(desired: DesiredRuleset): ScriptStep[];
  read(host: Host): Promise<LiveRuleset>;
  /**
   * What `read` returns on a host where `renderFull(desired)` was applied and nothing else
   * changed: the projection of the IR into this backend's live shape (e.g. iptables splits rules
   * per family and drops set comments). Plan compares live reads with this, and the real-kernel
   * tests assert `read(host)` deep-equals it, fingerprint included.
   */
  expected?(desired: DesiredRuleset): LiveRuleset;
  /**
   * The minimal steps that turn `live` into `expected(desired)`: only the sets whose members
   * differ (as element deltas), the chains whose rule-id list differs (rewritten whole), new and
   * orphan objects (in dependency order: sets before the rules that use them, rules and hooks
   * before chains, chains before sets) and hook repairs. Unchanged sets and chains do not appear.
   * Returns [] when `live` already equals `expected(desired)`. When `live` holds something that
   * cannot be patched safely (e.g. a set that changed family), it returns renderFull's steps with
   * a `# renderChanges: full replace, because ...` comment first. Optional: callers fall back to
   * renderFull when a provider lacks it. `live` must be a fresh read of the host.
   */
  renderChanges?(desired: DesiredRuleset, live: LiveRuleset): ScriptStep[];
  /**
   * readPartial re-reads only the objects named by `scope`, plus every hook, for verifying an
   * incremental transaction without the cost of a full read (on nftables a 10,000-rule
   * `list table` takes ~300 ms; `list chain` ~10–20 ms). Returns undefined when the scope cannot
   * be read more cheaply or more safely than by `read` (too many objects, names the provider
   * cannot address): the caller reads the host whole then. Optional: callers fall back to `read`.
   * Only meaningful together with a full read taken moments before (see src/apply/apply.ts).
   */
  readPartial?(host: Host, scope: ReadScope): Promise<PartialLive | undefined>;
  /** The same script renderFull feeds to the kernel, as text for humans (`microseg rules`). */
  renderRules?(desired: DesiredRuleset, live?: LiveRuleset): string;
}
