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
  /** The same script renderFull feeds to the kernel, as text for humans (`microseg rules`). */
  renderRules?(desired: DesiredRuleset, live?: LiveRuleset): string;
}
