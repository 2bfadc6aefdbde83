/**
 * The TypeScript front end's resource classes (DESIGN §3): one `constructs` Construct per HCL
 * resource block, whose props are the camelCase of the block's attributes.
 *
 * Props are typed as precisely as the model allows (string unions for enums, discriminated
 * connection types), so a typo in a user's program is a compile error at the line they wrote,
 * not a validation error later. Values the type system cannot check (tag expressions, CIDRs,
 * service ports) are still checked by the shared validation, which sees exactly what HCL would
 * have produced (see synth.ts).
 *
 * This module and everything it imports must stay free of Node APIs: user programs are
 * type-checked against it without @types/node.
 */
import { Construct } from 'constructs';
import type { ResourceType } from '../types';
import type { SourcePos } from '../../diagnostics';
import { captureUserPos } from './callsite';

/** The marker `App` and loader use to recognise resources even across module copies. */
export const RESOURCE_BRAND = Symbol.for('microseg.Resource');
/** The marker of an App (see RESOURCE_BRAND). */
export const APP_BRAND = Symbol.for('microseg.App');

/** Default action of a namespace for traffic no policy matched. */
export type DefaultAction = 'allow' | 'reject';
/** Verdict of a network policy. */
export type PolicyAction = 'allow' | 'reject' | 'continue';
/** On which side a policy is enforced: the object's host, the subject's host, or both. */
export type ApplyPolicyMode = 'incoming' | 'outgoing' | 'bidirectional';
/** Firewall dataplane of an enforcer host. */
export type Backend = 'auto' | 'nftables' | 'iptables-nft' | 'iptables-legacy';
/** `[[a, b], [c]]` = (a AND b) OR c, each term `key=value`, `key=pre*`, `key!=value`, ... */
export type TagExpression = readonly (readonly string[])[];

/** Settings every resource accepts. */
export interface CommonProps {
  /** Namespace the resource lives in (default `/`); a Namespace object stands for its name. */
  readonly namespace?: string | Namespace;
  /** Terraform's lifecycle block. */
  readonly lifecycle?: { readonly preventDestroy?: boolean };
}

/** How microseg reaches an enforcer host. */
export type ConnectionProps =
  | { readonly type: 'local' }
  /** The host runs `microseg agent` and pulls its rules from the control plane (needs the pg backend). */
  | { readonly type: 'agent' }
  | { readonly type: 'netns'; readonly netns: string }
  | {
      readonly type: 'ssh';
      readonly host: string;
      readonly user: string;
      readonly port?: number;
      readonly privateKeyFile?: string;
      readonly knownHostsFile?: string;
      readonly strictHostKeyChecking?: boolean;
      /** Seconds (a number) or a duration such as "30s" or "1m" that ssh waits to connect; default 10. */
      readonly connectTimeout?: number | string;
    };

export interface NamespaceProps extends CommonProps {
  readonly description?: string;
  readonly defaultIncomingAction?: DefaultAction;
  readonly defaultOutgoingAction?: DefaultAction;
  readonly logsEnabled?: boolean;
  readonly observationEnabled?: boolean;
}

export interface EnforcerProps extends CommonProps {
  readonly connection: ConnectionProps;
  readonly backend?: Backend;
  /** Semver of the enforcer software on the host, e.g. "3.11.0" for a fleet migrating from Aporeto. */
  readonly version?: string;
  readonly tags?: readonly string[];
  /** Beta opt-in; the plan warns about it. */
  readonly ebpf?: boolean;
  readonly hostProtection?: boolean;
  readonly profile?: string | EnforcerProfile;
}

export interface EnforcerProfileProps extends CommonProps {
  /** CIDRs (and `!CIDR` exclusions) whose traffic microseg never touches. */
  readonly excludedNetworks?: readonly string[];
  readonly excludedInterfaces?: readonly string[];
  /** Service ports that stay open whatever the policies say, e.g. ["tcp/22"]. */
  readonly failsafe?: readonly string[];
  /** Host protection: ports open inbound to the host whatever the policies say; default ["tcp/22", "udp/68"], [] for none. */
  readonly hostFailsafeInbound?: readonly string[];
  /** Host protection: ports open outbound from the host whatever the policies say; default ["udp/53", "tcp/53", "udp/67"], [] for none. */
  readonly hostFailsafeOutbound?: readonly string[];
}

export interface ProcessingUnitProps extends CommonProps {
  readonly enforcer: string | Enforcer;
  readonly addresses: readonly string[];
  readonly type?: 'workload' | 'host';
  /** Pin where the PU is enforced: `local` (input/output) or `forwarded` (forward path); unpinned, the host's addresses decide. */
  readonly placement?: 'local' | 'forwarded';
  readonly tags?: readonly string[];
}

export interface ExternalNetworkProps extends CommonProps {
  /** CIDRs, and `!CIDR` exclusions inside them. */
  readonly entries: readonly string[];
  /** Service ports such as "tcp/443", "udp/53", "icmp/8/0"; empty means any. */
  readonly servicePorts?: readonly string[];
  readonly tags?: readonly string[];
}

export interface NetworkPolicyProps extends CommonProps {
  readonly description?: string;
  readonly subject: TagExpression;
  readonly object: TagExpression;
  readonly action?: PolicyAction;
  /** Service ports such as "tcp/8000:8100"; empty means any. */
  readonly ports?: readonly string[];
  readonly applyPolicyMode?: ApplyPolicyMode;
  readonly logsEnabled?: boolean;
  readonly observationEnabled?: boolean;
  readonly disabled?: boolean;
  readonly propagate?: boolean;
  readonly fallback?: boolean;
  readonly negateSubject?: boolean;
  readonly negateObject?: boolean;
  /** RFC 3339 instant (a Date is written as its ISO string). */
  readonly expirationTime?: string | Date;
  /** Cron expression, evaluated in `timezone`. */
  readonly activeSchedule?: string;
  /** How long the policy stays active after each schedule tick, e.g. "1h". */
  readonly activeDuration?: string;
  /** IANA zone of `activeSchedule`; default UTC. */
  readonly timezone?: string;
}

export interface EnforcerTokenProps extends CommonProps {
  readonly roles: readonly string[];
  readonly networks?: readonly string[];
  readonly quota?: number;
  /** Duration such as "24h". */
  readonly validity?: string;
}

export interface ExpectProps extends CommonProps {
  readonly from: string | ProcessingUnit | ExternalNetwork;
  readonly to: string | ProcessingUnit | ExternalNetwork;
  /** One service port, e.g. "tcp/5432". */
  readonly port: string;
  readonly verdict: 'allow' | 'reject';
  /** The interface the connection crosses on both enforcer hosts, e.g. "eth0" (see `iif`, `oif`). */
  readonly interface?: string;
  /** The interface the connection reaches the destination's host by. */
  readonly iif?: string;
  /** The interface the connection leaves the source's host by. */
  readonly oif?: string;
}

/**
 * Resource is one declared resource: the construct's place in the tree is for the user's own
 * grouping, while `name` is the resource's global name (the HCL block label), unique per type.
 */
export abstract class Resource<P extends object = object> extends Construct {
  /** The HCL block type, e.g. `processing_unit`. */
  readonly resourceType: ResourceType;
  /** The resource's name (the HCL block label). */
  readonly name: string;
  /** Terraform-style address used in plans, e.g. `processing_unit.web`. */
  readonly address: string;
  /** The props as given, for reading back (e.g. `web.props.addresses`). */
  readonly props: Readonly<P>;
  /** Where the user wrote `new X(...)`, when that is known. */
  readonly declaredAt: SourcePos | undefined;

  protected constructor(scope: Construct, type: ResourceType, name: string, props: P) {
    super(scope, constructId(scope, type, name));
    this.resourceType = type;
    this.name = name;
    this.address = `${type}.${name}`;
    this.props = props;
    this.declaredAt = captureUserPos();
    Object.defineProperty(this, RESOURCE_BRAND, { value: true });
  }

  override toString(): string {
    return this.address;
  }
}

/**
 * constructId checks the name is free for this type in the whole App (names are global, not
 * per subtree) and returns the construct id. Types prefix ids so that `enforcer "web"` and
 * `processing_unit "web"` can coexist as siblings, as they can in HCL.
 */
function constructId(scope: Construct, type: ResourceType, name: string): string {
  if (typeof name !== 'string' || name === '') {
    throw new Error(`A ${type} needs a non-empty name as its second argument`);
  }
  const root = scope.node.root as Construct & { [APP_BRAND]?: { claim(type: string, name: string): void } };
  const registry = root[APP_BRAND];
  if (!registry) {
    throw new Error(`${type} "${name}" must be created inside an App (new App()), not a free-standing construct tree`);
  }
  registry.claim(type, name);
  return `${type}.${name}`;
}

/** Hierarchical scope, e.g. `new Namespace(app, "/acme/prod", { namespace: "/acme" })`. */
export class Namespace extends Resource<NamespaceProps> {
  constructor(scope: Construct, name: string, props: NamespaceProps = {}) {
    super(scope, 'namespace', name, props);
  }
}

/** A host whose kernel microseg programs. */
export class Enforcer extends Resource<EnforcerProps> {
  constructor(scope: Construct, name: string, props: EnforcerProps) {
    super(scope, 'enforcer', name, props);
  }
}

/** Host settings shared by enforcers. */
export class EnforcerProfile extends Resource<EnforcerProfileProps> {
  constructor(scope: Construct, name: string, props: EnforcerProfileProps = {}) {
    super(scope, 'enforcer_profile', name, props);
  }
}

/** A workload with an identity (its tags). */
export class ProcessingUnit extends Resource<ProcessingUnitProps> {
  constructor(scope: Construct, name: string, props: ProcessingUnitProps) {
    super(scope, 'processing_unit', name, props);
  }
}

/** Traffic peers that are not processing units. */
export class ExternalNetwork extends Resource<ExternalNetworkProps> {
  constructor(scope: Construct, name: string, props: ExternalNetworkProps) {
    super(scope, 'external_network', name, props);
  }
}

/** Who may connect to whom. */
export class NetworkPolicy extends Resource<NetworkPolicyProps> {
  constructor(scope: Construct, name: string, props: NetworkPolicyProps) {
    super(scope, 'network_policy', name, props);
  }
}

/** Restricted enforcer registration token (validated only, for now). */
export class EnforcerToken extends Resource<EnforcerTokenProps> {
  constructor(scope: Construct, name: string, props: EnforcerTokenProps) {
    super(scope, 'enforcer_token', name, props);
  }
}

/** A policy test: `from` → `to` on `port` should meet `verdict`. */
export class Expect extends Resource<ExpectProps> {
  constructor(scope: Construct, name: string, props: ExpectProps) {
    super(scope, 'expect', name, props);
  }
}

/** isResource recognises a Resource, also one made by another copy of this module. */
export function isResource(x: unknown): x is Resource {
  return typeof x === 'object' && x !== null && (x as Record<symbol, unknown>)[RESOURCE_BRAND] === true;
}
