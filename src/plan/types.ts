/**
 * Plan data (DESIGN §6, PRACTICES 10). A Plan is what `plan` computed and what `apply` executes;
 * it contains no prose and no colours: views (human, `--json`) render it.
 *
 * Which fields drive apply (Terraform's plans/action.go distinction): apply consults ONLY
 * `format_version`, `microseg_version`, `lineage`, `serial`, `desired`, `connections`, `source`, and per host
 * `enforcer`, `backend`, `previous_backend`, `action`, `reachable`, `live_fingerprint`,
 * `previous_fingerprint`, `blocked_by`, `transactions` and `read_scope`.
 * Every other field describes the change for people and CI checks and is UI only: apply runs the
 * host's transactions (typed data, computed from the host's one ObjectDiff) and verifies against
 * `desired`, so a view may not be able to change what apply does by editing the per-object lists.
 */
import type { Diagnostic } from '../diagnostics';
import type { DesiredRuleset, Family, Hook } from '../compile/ir';
import type { HostProtectionInfo } from '../compile/host-protection';
import type { PuPlacement } from '../compile/placement';
import type { BackendName, HookChangeReason, ReadScope } from '../../providers/types';
import type { Transaction } from '../../providers/transaction';
import type { Connection } from '../hosts/connection';
import type { StateResource } from '../state/types';
import type { Model } from '../model/types';
import type { VerdictFlip } from '../trace/explain';

/**
 * PLAN_FORMAT_VERSION is the version of the plan JSON (`--json` and plan files share it). 2: hosts
 * carry the Transactions apply runs and the read-back scope; connections use the one Connection
 * shape (camelCase, like the IR and the model inside the same document).
 */
export const PLAN_FORMAT_VERSION = '2';

/** ResourceAction is what happens to a configuration resource. */
export type ResourceAction = 'create' | 'update' | 'delete' | 'replace' | 'noop';

/**
 * ResourceChange is one configuration resource's change, by address. `before`/`after` are state
 * records (address, type, name, namespace, attributes digest); the per-host ruleset changes are
 * where the real effect is described. UI only.
 */
export interface ResourceChange {
  address: string;
  /** Resource type, e.g. `network_policy`. */
  type: string;
  /**
   * `replace` when the namespace changed: the resource's identity (`$namespace`) changed, so it
   * is a different object to every policy that selected it.
   */
  action: ResourceAction;
  before?: StateResource;
  after?: StateResource;
}

/**
 * HostAction is what apply does to one enforcer host:
 * - `create`  the host is not in state yet: apply its desired ruleset and record it.
 * - `update`  apply its desired ruleset (also to fix drift or a previous failure), re-record it.
 * - `delete`  decommission: remove every owned object, verify none is left, drop it from state.
 * - `noop`    nothing to do (also: unreachable host in the configuration, see HostPlan.reachable).
 * - `cleanup-pending`  decommissioned but unreachable: stays in state as pending cleanup.
 */
export type HostAction = 'create' | 'update' | 'delete' | 'noop' | 'cleanup-pending';

/** ObjectAction is what happens to one set or chain on a host; unchanged objects are not listed. */
export type ObjectAction = 'create' | 'update' | 'delete' | 'replace';

/** HostPlan is one enforcer host's planned change, drift and orphans. */
export interface HostPlan {
  enforcer: string;
  /** The backend apply uses: what was read back, or the state's when the host was unreachable. */
  backend: BackendName;
  /**
   * Set when state recorded another backend than the one read now (e.g. iptables → nftables):
   * apply must clean that backend's objects up as well. Apply-driving.
   */
  previous_backend?: BackendName;
  action: HostAction;
  /** False when the host could not be read back; then every list below is empty. */
  reachable: boolean;
  /** LiveRuleset.fingerprint read at plan time ('' when unreachable); apply refuses a plan whose host changed since. */
  live_fingerprint: string;
  /** Set changes, sorted by name (UI only). */
  sets: SetChange[];
  /** Chain changes, sorted by name (UI only). */
  chains: ChainChange[];
  /** Hook changes, sorted by hook then family (UI only). */
  hooks: HookChange[];
  /** How live differs from what state says was applied: changes made outside microseg (UI only). */
  drift: DriftItem[];
  /** Owned-looking objects that neither the configuration nor state claims; apply removes them (UI only). */
  orphans: OrphanItem[];
  /**
   * Why apply must leave this host alone although it was read (apply-driving): its rules do not
   * compile for it (e.g. an enforcer older than 3.12 given service_ports), it lacks a match they
   * need, or they would lock microseg out. The host keeps its previous rules, the other hosts go
   * on, and the run fails (DESIGN §4: the plan fails for that enforcer; nothing is silently
   * widened or dropped). Each reason is also an error diagnostic with the same code and address.
   */
  blocked_by?: BlockReason[];
  /**
   * previous_backend's live fingerprint when planned (apply-driving): a saved plan is refused once
   * it changed, since the transactions that clean that backend up were planned from it.
   */
  previous_fingerprint?: string;
  /**
   * Every transaction apply runs on this host, in order (apply-driving): for create and update the
   * conntrack warm-up (a first sync only), then the full sync or the delta of the host's
   * ObjectDiff; for delete the cleanup; then, on a backend switch, the cleanup of previous_backend.
   * `microseg show PLANFILE` prints exactly these. Absent (or empty) when there is nothing to send.
   */
  transactions?: Transaction[];
  /**
   * The sets and chains a delta changes (from the host's ObjectDiff), which apply re-reads to
   * verify it (apply-driving). Absent when nothing is sent as a delta.
   */
  read_scope?: ReadScope;
  /**
   * Where each processing unit of the host is enforced (UI only): `local` (input/output) or
   * `forwarded` (forward path), and what decided it (src/compile/placement.ts).
   */
  placements?: PuPlacement[];
  /**
   * The host's own protection (UI only): its type = "host" processing unit, the addresses whose
   * input/output its policies decide, and the failsafe ports that stay open whatever they say
   * (src/compile/host-protection.ts). Absent on hosts without host_protection.
   */
  host_protection?: HostProtectionInfo;
  /** Set for enforcers reached through their agent (`connection { type = "agent" }`), UI only. */
  agent?: AgentHostView;
}

/**
 * BlockReason is one reason apply must leave a host alone: a stable code (the diagnostic's), the
 * enforcer it concerns, and the diagnostic's summary for people.
 */
export interface BlockReason {
  code: string;
  enforcer: string;
  summary: string;
}

/**
 * SetChange is one address set's change. For `create` every element is in `added`; for `delete`
 * every live element is in `removed`; `replace` is a family change (a set's type is immutable).
 */
export interface SetChange {
  name: string;
  family: Family;
  action: ObjectAction;
  added: string[];
  removed: string[];
}

/**
 * ChainChange is one owned chain's change, by rule id (rule bodies are identified by their
 * `microseg:<id>` hash, never parsed). `replace` is a hook change (an nft base chain's hook is
 * immutable).
 */
export interface ChainChange {
  name: string;
  action: ObjectAction;
  /** Rule ids to add, in desired order. */
  rules_added: string[];
  /** Rule ids to remove (a duplicated id appears once per extra copy). */
  rules_removed: string[];
  /** The rules both sides have are in a different order. */
  reordered: boolean;
  /** Rule ids both sides have whose match or verdict differs (as the kernel lists them back), rewritten. */
  rules_changed: string[];
  /** Rules without a microseg comment in this owned chain, which the rewrite removes. */
  foreign_rules_removed: number;
}

export type { HookChangeReason };

/** HookChange is one base-hook jump (per family) to install, fix or remove. */
export interface HookChange {
  hook: Hook;
  family: Family;
  action: 'create' | 'update' | 'delete';
  reason: HookChangeReason;
}

/**
 * DriftKind is a kind of change made outside microseg, found by comparing live with state:
 * - `rule-missing` / `rule-unexpected`  a rule id state recorded is gone / one it did not record is there
 * - `rules-reordered`      the recorded rules are all there but in another order
 * - `rule-changed`         a recorded rule id is there but does something else (match or verdict
 *                          replaced under the same comment, or on iptables gone from one family)
 * - `chain-flushed`        a chain state recorded with rules is empty (`iptables -F` by hand)
 * - `chain-missing`        a recorded chain is gone (or, for iptables, gone from one family)
 * - `hook-missing` / `hook-not-first` / `hook-duplicated`  our jump from a base chain
 * - `set-missing` / `set-member-changed`  a recorded set is gone / its members differ
 * - `foreign-rule-in-owned-chain`  someone added a rule without a microseg comment to our chain
 */
export type DriftKind =
  | 'rule-missing'
  | 'rule-unexpected'
  | 'rules-reordered'
  | 'rule-changed'
  | 'chain-flushed'
  | 'chain-missing'
  | 'hook-missing'
  | 'hook-not-first'
  | 'hook-duplicated'
  | 'set-missing'
  | 'set-member-changed'
  | 'foreign-rule-in-owned-chain';

/** DriftItem is one drift finding. */
export interface DriftItem {
  kind: DriftKind;
  /** The object, written `<type> <name>`: `chain pu-web`, `set ext-dns`, `hook input/ipv6`, `rule a1b2 in chain pu-web`. */
  object: string;
  /** Specifics for people (ids, members, counts). UI only. */
  detail: string;
}

/** OrphanItem is an object with our prefix that nothing claims (a leftover of an old install or a lost state). */
export interface OrphanItem {
  kind: 'chain' | 'set' | 'table' | 'hook';
  /** IR name for sets and chains; `<hook>/ipv4|ipv6` for hooks. */
  name: string;
}

/**
 * TokenPlan is what apply does to one `enforcer_token` resource in the control store (pg backend):
 * tokens are found by name (the resource address) among the workspace's live tokens, so an apply
 * that failed half-way and a re-run never create two. `create` makes a token and writes its secret,
 * once, to a file of mode 0600 (never to state, plan, log or stdout); `update` changes the terms
 * of the live token in place (same id and secret); `revoke` revokes every live token of a removed
 * resource. Apply-driving: apply runs these actions, re-reading the store for the ids.
 */
export interface TokenPlan {
  address: string;
  action: 'create' | 'update' | 'revoke' | 'noop';
  /** The live token's id (update, revoke, noop). */
  id?: string;
  /** For update: which terms change (`networks`, `quota`, `roles`, `validity`, `namespace`). */
  changed?: string[];
  /** The terms (absent for revoke). */
  terms?: { namespace: string; roles: string[]; networks: string[]; quota: number; validity: string };
}

/**
 * AgentHostView is what the control store says about an enforcer reached through its agent
 * (UI only): its last report and what was last published for it. Plan never contacts such a host;
 * the agent pulls and reports.
 */
export interface AgentHostView {
  /** The enforcer's configured backend, as published (`auto` lets the agent detect it). */
  configured_backend: import('../model/types').Backend;
  /** Etag of the document last published for it ('' if none). */
  published_etag: string;
  published_at?: string;
  /** `apply` or `decommission`: what the last published document asked. */
  published_action?: 'apply' | 'decommission';
  /** The agent's last report; absent when it never reported. */
  report?: {
    etag: string;
    status: string;
    live_fingerprint: string;
    drift: Array<{ object: string; kind: string }>;
    repaired: boolean;
    error?: { code: string; message: string };
    seen_at: string;
    agent_version?: string;
    backend?: BackendName;
  };
  /** Whether the last report is about the last published document and says it is applied (or clean). */
  converged: boolean;
}

/** Plan is the whole planned run. */
export interface Plan {
  format_version: typeof PLAN_FORMAT_VERSION;
  /** The microseg that made the plan; apply refuses a plan from another version. */
  microseg_version: string;
  /** RFC 3339 (UI only). */
  created_at: string;
  /** Lineage of the state the plan was made from ('' when there was no state). */
  lineage: string;
  /** Serial of the state the plan was made from (0 when there was no state). */
  serial: number;
  /** Sorted by address (UI only). */
  resource_changes: ResourceChange[];
  /** Sorted by enforcer. */
  hosts: HostPlan[];
  /** The full desired ruleset per enforcer in the configuration: exactly what apply renders. */
  desired: { [enforcer: string]: DesiredRuleset };
  /** How to reach each planned host (no secrets), including decommissioned ones from state. */
  connections: { [enforcer: string]: Connection };
  /** Everything found while planning (also each desired ruleset's compile diagnostics). */
  diagnostics: Diagnostic[];
  /**
   * The validated configuration the plan was made from (absent for destroy). Apply records it in
   * state as `applied_model` so a later `plan --explain` can tell which connections flip. Never
   * consulted to decide what apply does: `desired` is.
   */
  model?: Model;
  /** With `plan --explain`: connections whose verdict this plan flips (UI only). */
  explain?: VerdictFlip[];
  /**
   * How the plan was made: the configuration directory (absolute), input variables, variable
   * files, targets and destroy. Apply-driving for a saved plan: `apply FILE` plans again from it
   * and refuses the file unless what apply would run is identical (planfile.ts checkPlanIntegrity),
   * so a hand-edited plan file cannot change what reaches a host.
   */
  source?: PlanSource;
  /** The enforcer_token resources' actions on the control store (pg backend), sorted by address. */
  tokens?: TokenPlan[];
}

/** PlanSource is what a plan was computed from, for recomputing it (Plan.source). */
export interface PlanSource {
  dir: string;
  vars: Record<string, string>;
  var_files: string[];
  targets: string[];
  destroy: boolean;
}
