/**
 * The validated, normalised model (DESIGN §3–4). Produced by src/model/validate.ts from a
 * RawConfig, consumed by compile. Everything here is plain data: no positions except `pos` for
 * diagnostics that later stages (compile) report, and no I/O.
 *
 * Attribute names are the camelCase of the HCL attributes; `inspect` prints them back in
 * snake_case.
 */
import type { SourcePos } from '../diagnostics';
import type { Connection } from '../hosts/connection';

export type PolicyAction = 'allow' | 'reject' | 'continue';
export type DefaultAction = 'allow' | 'reject';
export type ApplyPolicyMode = 'incoming' | 'outgoing' | 'bidirectional';
export type Backend = 'auto' | BackendName;

/** BackendName is a firewall dataplane microseg programs (providers/), as configuration, plans and state name it. */
export type BackendName = 'nftables' | 'iptables-nft' | 'iptables-legacy';

/** The implicit identity tag keys (DESIGN §4). */
export const ID_KEYS = {
  identity: '$identity',
  name: '$name',
  namespace: '$namespace',
  enforcer: '$enforcer',
} as const;

/**
 * TagTerm is one term of a tag expression.
 * - `eq`      key=value
 * - `prefix`  key=pre*        (value holds the prefix without `*`)
 * - `present` key=*
 * - `neq`     key!=value      (key present with another value; a PU without the key does NOT match)
 * - `absent`  key!=*
 * `text` is the canonical written form.
 */
export interface TagTerm {
  key: string;
  op: 'eq' | 'prefix' | 'present' | 'neq' | 'absent';
  value?: string;
  text: string;
}
/** A clause is an AND of terms; an expression is an OR of clauses: `[[a, b], [c]]` = (a∧b)∨c. */
export type TagClause = TagTerm[];
export type TagExpression = TagClause[];

/** PortRange is an inclusive range; a single port has from === to. */
export interface PortRange {
  from: number;
  to: number;
}

/**
 * ServicePort is one parsed service-port entry. `text` is its canonical lower-case form
 * (`tcp/80`, `tcp/8000:8100`, `icmp/8/0`, `icmp/3/0:4,13`, `gre`, `any`).
 */
export type ServicePort =
  | { kind: 'any'; text: 'any' }
  | { kind: 'l4'; protocol: 'tcp' | 'udp'; ports: PortRange; text: string }
  | { kind: 'icmp'; protocol: 'icmp' | 'icmp6'; type?: number; codes?: PortRange[]; text: string }
  | { kind: 'proto'; protocol: string; text: string };

/**
 * CidrEntry is one external-network entry or excluded network: a normalised CIDR (host bits
 * cleared, IPv6 compressed), and whether it was written with `!` (an exclusion).
 */
export interface CidrEntry {
  cidr: string;
  family: 4 | 6;
  exclude: boolean;
  text: string;
}

export interface Lifecycle {
  preventDestroy: boolean;
}

interface ResourceBase {
  name: string;
  /** Terraform-style address, e.g. `processing_unit.web`. */
  address: string;
  namespace: string;
  lifecycle: Lifecycle;
  pos?: SourcePos;
}

export interface Namespace extends ResourceBase {
  kind: 'namespace';
  description?: string;
  defaultIncomingAction: DefaultAction;
  defaultOutgoingAction: DefaultAction;
  /** Log the default's decisions (NFLOG / nft log group, rate-limited): traffic no policy decided. */
  logsEnabled: boolean;
  /**
   * Audit mode: on the PUs of this namespace nothing is rejected; what a reject policy or the
   * default reject would refuse is logged as `would-reject` and let through.
   */
  observationEnabled: boolean;
}

/** Connection is how microseg reaches an enforcer host: one shape everywhere (src/hosts/connection.ts). */
export type { Connection } from '../hosts/connection';

export interface Enforcer extends ResourceBase {
  kind: 'enforcer';
  connection: Connection;
  backend: Backend;
  /** Semver of the enforcer software; defaults to ENFORCER_CAPABILITY_VERSION (src/version.ts), not the package release. */
  version: string;
  tags: string[];
  ebpf: boolean;
  hostProtection: boolean;
  profile?: string;
}

export interface EnforcerProfile extends ResourceBase {
  kind: 'enforcer_profile';
  excludedNetworks: CidrEntry[];
  excludedInterfaces: string[];
  /** Ports that stay open whatever the policies say (e.g. tcp/22), so a bad policy cannot lock admins out. */
  failsafe: ServicePort[];
  /**
   * Host protection only (src/compile/host-protection.ts): ports of the host's own stack that stay
   * open whatever the policies say, inbound to and outbound from its `type = "host"` processing
   * unit. Undefined = the defaults (HOST_FAILSAFE_DEFAULTS); `[]` = none.
   */
  hostFailsafeInbound?: ServicePort[];
  hostFailsafeOutbound?: ServicePort[];
}

export interface ProcessingUnit extends ResourceBase {
  kind: 'processing_unit';
  enforcer: string;
  /** Normalised single addresses (no mask), IPv4 and IPv6. */
  addresses: string[];
  type: 'workload' | 'host';
  /**
   * Where the PU's traffic is enforced, when the configuration pins it: `local` (the host's own
   * stack, input/output) or `forwarded` (a workload behind the host: forward path). Unpinned, the
   * enforcer host's own addresses decide at plan time (src/compile/placement.ts).
   */
  placement?: 'local' | 'forwarded';
  tags: string[];
  /** tags plus the implicit `$identity=processingunit`, `$name`, `$namespace`, `$enforcer`; sorted. */
  identity: string[];
}

export interface ExternalNetwork extends ResourceBase {
  kind: 'external_network';
  entries: CidrEntry[];
  /** Empty means any. */
  servicePorts: ServicePort[];
  tags: string[];
  /** tags plus the implicit `$identity=externalnetwork`, `$name`; sorted. */
  identity: string[];
}

export interface NetworkPolicy extends ResourceBase {
  kind: 'network_policy';
  description?: string;
  subject: TagExpression;
  object: TagExpression;
  action: PolicyAction;
  /** Empty means any. */
  ports: ServicePort[];
  applyPolicyMode: ApplyPolicyMode;
  logsEnabled: boolean;
  observationEnabled: boolean;
  disabled: boolean;
  propagate: boolean;
  fallback: boolean;
  negateSubject: boolean;
  negateObject: boolean;
  /** RFC 3339 instant after which the policy does nothing. */
  expirationTime?: string;
  /** Cron expression of when the policy becomes active, evaluated in `timezone`. */
  activeSchedule?: string;
  /** How long the policy stays active after each schedule tick (e.g. `1h`, `30m`). */
  activeDuration?: string;
  /** IANA zone for `activeSchedule`; default UTC, never the machine's local zone. */
  timezone: string;
}

export interface EnforcerToken extends ResourceBase {
  kind: 'enforcer_token';
  roles: string[];
  networks: CidrEntry[];
  quota: number;
  /** Duration such as `24h`. */
  validity: string;
}

/** Expect is a policy test (issue 5): `from` → `to` on `port` should meet `verdict`. */
export interface Expect extends ResourceBase {
  kind: 'expect';
  from: string;
  to: string;
  port: string;
  verdict: 'allow' | 'reject';
  /**
   * The interface the connection crosses on both enforcer hosts (leaving the source's, reaching
   * the destination's); `iif`/`oif` name one end each. Only `excluded_interfaces` make it matter;
   * local traffic always crosses `lo`.
   */
  interface?: string;
  /** The interface the connection reaches the destination's host by. */
  iif?: string;
  /** The interface the connection leaves the source's host by. */
  oif?: string;
}

export type Resource =
  | Namespace
  | Enforcer
  | EnforcerProfile
  | ProcessingUnit
  | ExternalNetwork
  | NetworkPolicy
  | EnforcerToken
  | Expect;

/** Model is a whole validated configuration; each list is sorted by name. */
export interface Model {
  namespaces: Namespace[];
  enforcers: Enforcer[];
  enforcerProfiles: EnforcerProfile[];
  processingUnits: ProcessingUnit[];
  externalNetworks: ExternalNetwork[];
  networkPolicies: NetworkPolicy[];
  enforcerTokens: EnforcerToken[];
  expects: Expect[];
  outputs: { [name: string]: unknown };
}

/** The namespace resources live in when they do not say; it always exists, with reject defaults. */
export const ROOT_NAMESPACE = '/';
