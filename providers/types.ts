/**
 * The provider contract: a firewall dataplane that plans typed Transactions from the IR, serialises
 * them into the exact script fed to the kernel, reads back what microseg owns on a live host, and
 * plans removing it all.
 *
 * Providers are pure where they can be: planning (expected, fullSync, changes, cleanup,
 * conntrackWarmup) and serialisation return data; only probe, read, readPartial and unavailable
 * touch a host, through a Host transport. A provider never touches objects it does not own
 * (DESIGN §5): foreign chains, rules and sets are neither read into the result nor modified.
 *
 * The seam between the reconciler and a host is Firewall (firewall.ts): apply hands it
 * Transactions, never script text, and decides what to do from their data.
 */
import type { AddressSet, DesiredRuleset, Family, Hook } from '../src/compile/ir';
import type { CommandResult, Host } from '../src/hosts/types';
import type { Transaction } from './transaction';

import type { BackendName } from '../src/model/types';

export type { BackendName };

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
  /**
   * What each owned kernel rule does, in kernel order, one entry per kernel rule: `<id> <body>`
   * (iptables: `ipv4|ipv6 <id> <body>`, IPv4 rules first; a split rule's parts keep their
   * `<id>#k/n`). The body is the rule's match and verdict in the provider's normal form, read from
   * what the kernel lists back (comment and counter values left out) and, for expected(), built
   * from the IR to the same form. A rule whose comment was kept while its match or verdict was
   * replaced by hand differs here and nowhere else. Absent: the reader did not carry bodies (an
   * old plan or state file), and rules compare by id alone.
   */
  rules?: string[];
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
  /**
   * What a full read also learned about the host (providers/host-facts.ts), not owned state: not
   * in the fingerprint, absent from expectations and partial reads, and absent when unreadable.
   */
  facts?: HostFacts;
}

/** HostFacts: the host's own addresses and its bridges' filtering (providers/host-facts.ts). */
export interface HostFacts {
  /** Every address on every interface, both families, as `ip` prints them. */
  addresses: string[];
  /** Linux bridges and their own subnets (`addr/prefix`), sorted by name. */
  bridges: Array<{ name: string; subnets: string[] }>;
  /**
   * br_netfilter's net.bridge.bridge-nf-call-iptables / -ip6tables; undefined when
   * /proc/sys/net/bridge is absent (br_netfilter not loaded: bridged traffic skips every IP hook).
   */
  bridgeNetfilter?: { ipv4: boolean; ipv6: boolean };
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

/**
 * PartialRead is a partial read split in two: the listing commands to run on the host, and the
 * parser of their results (in order; `where` names the host in errors), which returns undefined
 * when the host is better read whole. KernelFirewall runs the listings in the same round trip as
 * a transaction when that saves one.
 */
export interface PartialRead {
  argvs: string[][];
  parse(results: readonly CommandResult[], where: string): PartialLive | undefined;
}

/** ScriptStep is one transaction serialised for its tool: argv run on the host with `stdin` fed to it. */
export interface ScriptStep {
  argv: string[];
  stdin: string;
}

// ---------------------------------------------------------------------------------------------
// ObjectDiff: the one comparison of desired (projected by Provider.expected) with live.

/**
 * SetDiff is one owned set whose live state differs from the wanted one:
 * - `create`  wanted, absent live;
 * - `update`  same family and comment, different members (`add` / `del`, canonical order);
 * - `replace` family or comment changed: a set's type and comment cannot be changed in place;
 * - `delete`  live, not wanted; `claimed` says whether state recorded it (false: an orphan).
 */
export type SetDiff =
  | { action: 'create'; name: string; want: AddressSet }
  | { action: 'update'; name: string; want: AddressSet; live: AddressSet; add: string[]; del: string[] }
  | { action: 'replace'; name: string; want: AddressSet; live: AddressSet; reason: string }
  | { action: 'delete'; name: string; live: AddressSet; claimed: boolean };

/**
 * RuleDiff compares the rules of one chain. Rules are compared by their `microseg:<id>` today
 * (the id is the hash of chain, match and verdict); comparing rule bodies as well slots in here,
 * in src/plan/object-diff.ts compareRules, without changing any consumer.
 */
export interface RuleDiff {
  /** Wanted rules the live chain lacks, in wanted order. */
  added: string[];
  /** Live rules that are not wanted (a repeated id once per extra copy). */
  removed: string[];
  /** The rules both sides hold are in another order. */
  reordered: boolean;
  /**
   * Rule ids both sides hold whose kernel rules differ (LiveChain.rules): another match or
   * verdict under the same comment, or (iptables) a rule gone from one family only. Empty when
   * either side carries no bodies.
   */
  changed: string[];
}

/**
 * ChainDiff is one owned chain whose live state differs from the wanted one:
 * - `create`  wanted, absent live;
 * - `update`  its rules, hand-added rules or (iptables) families differ, or its hook moved;
 * - `replace` like update, but its hook changed (an nft base chain's hook is immutable);
 * - `delete`  live, not wanted; `claimed` false means nothing claims it (an orphan).
 */
export type ChainDiff =
  | { action: 'create'; name: string; want: LiveChain }
  | {
      action: 'update' | 'replace';
      name: string;
      want: LiveChain;
      live: LiveChain;
      rules: RuleDiff;
      /** The chain's hook differs (nft: a base chain of another hook; iptables: the jump is gone or elsewhere). */
      hookChanged: boolean;
      /** Rules without a microseg comment in the live chain. */
      foreignRules: number;
      /** iptables: families the live chain is missing from. */
      missingFamilies: Family[];
    }
  | { action: 'delete'; name: string; live: LiveChain; claimed: boolean };

/** HookChangeReason says why a hook changes. */
export type HookChangeReason = 'missing' | 'not-first' | 'duplicated' | 'wrong-target' | 'not-desired';

/** HookDiff is one hook (per family) to install, fix or remove; `claimed` false on a removal means an orphan. */
export interface HookDiff {
  hook: Hook;
  family: Family;
  action: 'create' | 'update' | 'delete';
  reason: HookChangeReason;
  want?: LiveHook;
  live?: LiveHook;
  claimed?: boolean;
}

/**
 * ObjectDiff is what differs between `want` (Provider.expected(desired); undefined when the host is
 * decommissioned) and `live` (a read of the host), object by object. It is computed once per host
 * (src/plan/object-diff.ts); the plan's per-host changes, both providers' change planners and the
 * read-back scope of apply all derive from it. Unchanged objects do not appear.
 */
export interface ObjectDiff {
  backend: BackendName;
  want?: LiveRuleset;
  live: LiveRuleset;
  /** Sorted by name. */
  sets: SetDiff[];
  /** Sorted by name. */
  chains: ChainDiff[];
  /** Sorted by hook, then family. */
  hooks: HookDiff[];
}

/** ChangePlan is what a provider's change planner returns: the minimal transactions, or why only a full sync is safe. */
export type ChangePlan = { kind: 'delta'; transactions: Transaction[] } | { kind: 'full'; reason: string };

// ---------------------------------------------------------------------------------------------

/** Provider is one firewall dataplane. */
export interface Provider {
  readonly backend: BackendName;
  probe(host: Host): Promise<Capabilities>;
  read(host: Host): Promise<LiveRuleset>;
  /**
   * readPartial re-reads only the objects named by `scope`, plus every hook, for verifying a
   * transaction without the cost of a full read (on nftables a 10,000-rule `list table` takes
   * ~300 ms; `list chain` ~10–20 ms). Returns undefined when the scope cannot be read more cheaply
   * or more safely than by `read` (too many objects, names the provider cannot address): the
   * caller reads the host whole then. Only meaningful together with a full read taken moments
   * before (see src/apply/apply.ts).
   */
  readPartial(host: Host, scope: ReadScope): Promise<PartialLive | undefined>;
  /** partialRead is readPartial as commands and a parser (undefined where readPartial would be). */
  partialRead(scope: ReadScope): PartialRead | undefined;
  /**
   * unavailable says why this backend's tools cannot be used on `host` (break-glass cleanup skips
   * it then), or undefined when they can. Never loads a kernel module.
   */
  unavailable(host: Host): Promise<string | undefined>;
  /**
   * What `read` returns on a host where fullSync(desired) was applied and nothing else changed:
   * the only projection of the IR into this backend's live shape (e.g. iptables splits rules per
   * family and drops set comments). Plan compares live reads with this, and the real-kernel tests
   * assert `read(host)` deep-equals it, fingerprint included. Throws ProviderError where the IR
   * cannot be written for this backend, exactly where fullSync would.
   */
  expected(desired: DesiredRuleset): LiveRuleset;
  /**
   * The transactions that replace everything owned on the host with `desired` (full sync), in
   * order, each atomic on its own (kind `full`). `live` (a read of the host) lets them remove
   * owned objects `desired` no longer has; `reason` says why a full sync was chosen.
   */
  fullSync(desired: DesiredRuleset, live: LiveRuleset | undefined, reason: string): Transaction[];
  /**
   * The minimal transactions (kind `delta`) that turn `diff.live` into `diff.want`: only the sets
   * and chains of `diff`, in dependency order (sets before the rules that use them, rules and hooks
   * before chains, chains before sets), and hook repairs; [] when `diff` is empty. `kind: 'full'`
   * with a reason when the difference cannot be patched safely (e.g. a set that changed family).
   * `diff` must come from a fresh read of the host.
   */
  changes(desired: DesiredRuleset, diff: ObjectDiff): ChangePlan;
  /** The transactions that remove every owned object in `live` from the host ([] when it owns nothing). */
  cleanup(live: LiveRuleset, enforcer: string): Transaction[];
  /**
   * The transactions that make the kernel start tracking connections in the host's network
   * namespace without changing any verdict: one rule using conntrack in an owned chain that
   * nothing jumps to, which the full sync then replaces. Plan puts them, as transactions of their
   * own marked `separate` (over ssh committed in a session of their own), before the first full sync on a host where microseg owns nothing. Why: conntrack hooks
   * are registered per namespace only once a rule needs them, so on a host where nothing used
   * conntrack yet, connections already open (the ssh session carrying the apply, an operator's
   * shell) are picked up mid-stream when the ruleset lands; a packet of theirs going the "wrong"
   * way first counts as `ct state new`, misses `established`, and meets the default reject, which
   * cut apply's own session (test/netns/ssh.test.ts). After the warm-up, the next session starts
   * tracked from its SYN. [] when `desired` needs no conntrack.
   */
  conntrackWarmup(desired: DesiredRuleset): Transaction[];
  /** serialize is the one place a transaction of this backend becomes the script its tool reads. */
  serialize(tx: Transaction): ScriptStep;
  /**
   * validate throws ProviderError when `tx` is not a transaction this provider could have built
   * (unknown verb or object for its table, a name or rule it cannot write). Transactions read
   * from a plan file go through it before they are serialised.
   */
  validate(tx: Transaction): void;
}
