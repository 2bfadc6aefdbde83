/**
 * The state file and the state-store contract (DESIGN §6). State records what microseg last
 * applied, per enforcer host, so that plan can tell drift (live changed behind microseg's back)
 * from change (config changed), and so that a decommissioned or unreachable host can still be
 * cleaned up after its configuration block is gone.
 *
 * JSON field names are snake_case because the file is read by people and other tools (Terraform's
 * state is too); `ruleIds` keeps the provider contract's spelling (providers/types.ts LiveChain),
 * but state does not import the providers (test/unit/layering.test.ts).
 * A host's `connection` is the one in-memory Connection shape (src/hosts/connection.ts) here and
 * snake_case (ConnectionRecord) in the file: schema.ts converts at that edge.
 */
import type { Family, Hook } from '../compile/ir';
import type { BackendName } from '../model/types';
import type { Model } from '../model/types';
import type { Connection } from '../hosts/connection';

/** STATE_VERSION is the state format this microseg writes and the newest it reads. */
export const STATE_VERSION = 1;

/**
 * StateFile is `.microseg/state.json`. `serial` increases by one on every write; `lineage` is
 * fixed when the state is first created, so a saved plan or a copy of another project's state can
 * be told apart from a newer version of this one (Terraform's lineage + serial).
 */
export interface StateFile {
  version: typeof STATE_VERSION;
  serial: number;
  /** A UUID chosen when the state was created; never changes afterwards. */
  lineage: string;
  /** The microseg version that wrote this file (for the "written by a newer microseg" message). */
  microseg_version: string;
  /** Configuration resources as last applied, sorted by address. */
  resources: StateResource[];
  /** Per enforcer host (by enforcer name): what microseg owns there. */
  hosts: { [enforcer: string]: StateHost };
  /**
   * The validated model of the last apply that succeeded on every host; `plan --explain` compiles
   * it to show which connections a change flips. Informational: plan never diffs against it.
   */
  applied_model?: Model;
}

/**
 * StateResource is one configuration resource as last applied. Only a digest of its attributes is
 * kept: the per-host rulesets are the real record, and a digest is enough to say "changed".
 */
export interface StateResource {
  /** Terraform-style address, e.g. `network_policy.web-db`. */
  address: string;
  /** Resource type, e.g. `network_policy`. */
  type: string;
  name: string;
  namespace: string;
  /** sha256 of the canonical JSON of the resource's attributes (source positions excluded). */
  attributes_digest: string;
}

/**
 * HostStatus: `pending-cleanup` is a decommissioned host that could not be reached yet (DESIGN §5),
 * or an agent enforcer whose decommission was published but not reported clean. `published` is
 * an agent enforcer whose desired ruleset was published but not (yet) reported applied: state
 * says what was published, never that it was applied.
 */
export type HostStatus = 'applied' | 'failed' | 'pending-cleanup' | 'published';

/** AgentPublication is what apply last published for an agent enforcer (`connection { type = "agent" }`). */
export interface AgentPublication {
  etag: string;
  action: 'apply' | 'decommission';
  published_at: string;
}

/**
 * ConnectionRecord is a Connection as the state file spells it (snake_case), kept so that a host
 * whose configuration block was removed can still be cleaned up. Only schema.ts reads and writes
 * it; everything else uses Connection.
 */
export type ConnectionRecord =
  | { type: 'local' }
  | { type: 'agent' }
  | { type: 'netns'; netns: string }
  | {
      type: 'ssh';
      host: string;
      user: string;
      port: number;
      private_key_file?: string;
      known_hosts_file?: string;
      strict_host_key_checking: boolean;
      /** Seconds; absent in state written before connect_timeout existed (then the default applies). */
      connect_timeout?: number;
    };

/** StateSet is an owned set as read back after the last successful apply. */
export interface StateSet {
  name: string;
  family: Family;
  elements: string[];
}

/** StateChain is an owned chain as read back after the last successful apply: its rule ids in order. */
export interface StateChain {
  name: string;
  hook?: Hook;
  ruleIds: string[];
  /**
   * What each kernel rule did when read back (providers' LiveChain.rules), for drift to see a rule
   * replaced under the same comment. Absent in state written before bodies were read.
   */
  rules?: string[];
}

/** StateHook is one `microseg:hook` jump (or nft base chain) microseg installed. */
export interface StateHook {
  hook: Hook;
  family: Family;
}

/** StateOwned is every object microseg owns on one host, in the IR's logical names. */
export interface StateOwned {
  sets: StateSet[];
  chains: StateChain[];
  hooks: StateHook[];
}

/** StateHost is microseg's record of one enforcer host. */
export interface StateHost {
  backend: BackendName;
  /** How to reach the host (ConnectionRecord in the file). */
  connection: Connection;
  /**
   * What was verified on the host after the last successful apply. After a failed apply it is
   * still the previous verified ruleset, because a failed transaction leaves the host on it.
   */
  owned: StateOwned;
  /** LiveRuleset.fingerprint read back after the last successful apply. */
  fingerprint: string;
  status: HostStatus;
  /** The error of the last failed apply or cleanup (UI only). */
  last_error?: string;
  /** Agent enforcers: the document last published for it (the agent reports against its etag). */
  published?: AgentPublication;
  /** RFC 3339 time of the last change to this record. */
  updated_at: string;
}

/** LockInfo is the content of `.microseg/state.lock`: who holds it, so a blocked run can say so. */
export interface LockInfo {
  /** A UUID; `microseg force-unlock ID` must quote it, so a lock is never removed by mistake. */
  id: string;
  /** `user@host` of the holder. */
  who: string;
  /** What the holder is doing, e.g. `apply`. */
  operation: string;
  pid: number;
  hostname: string;
  /** RFC 3339 time the lock was taken. */
  created: string;
  /**
   * Linux only: the holder's start time (field 22 of /proc/PID/stat, clock ticks since boot) and
   * the kernel's boot id, so a pid that a reboot or wrap-around gave to another process is not
   * mistaken for the holder (see isHolderAlive). Absent in locks written elsewhere or earlier.
   */
  pid_start?: string;
  boot_id?: string;
  /** The CI job running the holder, when the environment names one (GitHub Actions, GitLab CI, ...). */
  ci_job_url?: string;
  /**
   * Set on a lock just taken when the previous holder's record was still there: that run ended
   * without releasing (killed), and its journal entries say what it left unverified. pg only.
   */
  interrupted?: LockInfo;
}

/** LockOptions: how to wait for a lock held by someone else. */
export interface LockOptions {
  operation: string;
  /** How long to keep retrying while another live process holds the lock; 0 = try once. */
  timeoutMs: number;
  /** Delay between attempts (default 250 ms). */
  retryMs?: number;
}

/** JournalPhase: `begin` is written before a host is touched, so a killed run leaves evidence. */
export type JournalPhase = 'begin' | 'applied' | 'verified' | 'failed';

/** JournalEntry is one line of `.microseg/journal.jsonl`. */
export interface JournalEntry {
  /** RFC 3339 time. */
  ts: string;
  /** The apply run this entry belongs to (one UUID per run). */
  run_id: string;
  enforcer: string;
  phase: JournalPhase;
  /** Free text for people (UI only): fingerprint, error message, ... */
  detail?: string;
}

/**
 * StateStore is the state backend contract the executor programs against, so a remote backend can
 * come later without touching plan/apply. All methods throw DiagnosticsError on failure.
 */
export interface StateStore {
  /** Human-readable location, e.g. the state file path. */
  readonly description: string;
  /** The current state, or undefined when there is none yet. */
  load(): Promise<StateFile | undefined>;
  /**
   * Persist `state`, which must have been derived from the state currently stored (same lineage
   * and serial, or a fresh state when none is stored). Returns what was written (serial + 1).
   */
  save(state: StateFile): Promise<StateFile>;
  /** Take the lock, waiting up to `timeoutMs` for a live holder; never steals a stale one. */
  acquireLock(opts: LockOptions): Promise<LockInfo>;
  /** Release a lock this run holds (no-op if it is already gone; refuses another holder's lock). */
  unlock(lock: LockInfo): Promise<void>;
  /** Break-glass: remove the lock whose id is `id`, and only that one. */
  forceUnlock(id: string): Promise<void>;
  /** Durably append one journal entry before returning. */
  journal(entry: JournalEntry): Promise<void>;
  /**
   * Every journal entry, oldest first; a torn last line (killed mid-write) is skipped. With
   * `latestPerEnforcer` a backend may return only each enforcer's last entry (all that plan's
   * "interrupted run" check needs; the pg journal is a table that grows with every apply).
   */
  readJournal(opts?: { latestPerEnforcer?: boolean }): Promise<JournalEntry[]>;
  /**
   * Store exactly `state`, serial included (init -migrate-state, state push): the caller holds
   * the lock and has checked lineage and serial against what is stored.
   */
  replace(state: StateFile): Promise<void>;
  /** Release connections (the pg backend holds one for its session lock); idempotent. */
  close(): Promise<void>;
}
