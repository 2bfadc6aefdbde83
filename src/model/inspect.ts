/**
 * `microseg inspect --json`: the normalised model as a stable, versioned JSON document. The HCL
 * and TypeScript front ends must print byte-identical documents for the same configuration, so
 * everything here is canonical: resources sorted by type then name (code-unit order, never
 * locale), attribute keys in a fixed order per type, grammar values in their canonical text
 * (`tcp/80`, `!10.1.0.0/16`, `app=web`), optional attributes present as null, no positions or
 * addresses (they differ between front ends), and output objects with sorted keys.
 */
import type { Connection, Lifecycle, Model, Resource, ServicePort, TagExpression, CidrEntry } from './types';
import { DEFAULT_CONNECT_TIMEOUT_S } from '../hosts/connection';
import { allResources } from './resources';

/** INSPECT_FORMAT_VERSION changes whenever the document's shape changes incompatibly. */
export const INSPECT_FORMAT_VERSION = '1';

type Json = string | number | boolean | null | Json[] | { [k: string]: Json };

/** InspectResource is one element of the document's `resources`. */
export interface InspectResource {
  type: string;
  name: string;
  namespace: string;
  attributes: { [k: string]: Json };
}

/** InspectDocument is the whole `inspect --json` document. */
export interface InspectDocument {
  format_version: string;
  resources: InspectResource[];
  outputs: { [k: string]: Json };
}

const texts = (l: ReadonlyArray<ServicePort | CidrEntry>): string[] => l.map((x) => x.text);
const expr = (e: TagExpression): string[][] => e.map((c) => c.map((t) => t.text));
const opt = <T extends Json>(v: T | undefined): T | null => (v === undefined ? null : v);
const lifecycle = (l: Lifecycle): Json => ({ prevent_destroy: l.preventDestroy });

function connection(c: Connection): Json {
  switch (c.type) {
    case 'local':
      return { type: 'local' };
    case 'agent':
      return { type: 'agent' };
    case 'netns':
      return { type: 'netns', netns: c.netns };
    case 'ssh':
      return {
        type: 'ssh',
        host: c.host,
        user: c.user,
        port: c.port,
        private_key_file: opt(c.privateKeyFile),
        known_hosts_file: opt(c.knownHostsFile),
        strict_host_key_checking: c.strictHostKeyChecking,
        connect_timeout: c.connectTimeoutS ?? DEFAULT_CONNECT_TIMEOUT_S,
      };
    default: {
      const never: never = c;
      throw new Error(`unknown connection ${JSON.stringify(never)}`);
    }
  }
}

/** attributes renders one resource's attributes in the fixed snake_case order of its type. */
export function attributes(r: Resource): { [k: string]: Json } {
  switch (r.kind) {
    case 'namespace':
      return {
        description: opt(r.description),
        default_incoming_action: r.defaultIncomingAction,
        default_outgoing_action: r.defaultOutgoingAction,
        logs_enabled: r.logsEnabled,
        observation_enabled: r.observationEnabled,
        lifecycle: lifecycle(r.lifecycle),
      };
    case 'enforcer':
      return {
        connection: connection(r.connection),
        backend: r.backend,
        version: r.version,
        tags: r.tags,
        ebpf: r.ebpf,
        host_protection: r.hostProtection,
        profile: opt(r.profile),
        lifecycle: lifecycle(r.lifecycle),
      };
    case 'enforcer_profile':
      return {
        excluded_networks: texts(r.excludedNetworks),
        excluded_interfaces: r.excludedInterfaces,
        failsafe: texts(r.failsafe),
        ...(r.hostFailsafeInbound ? { host_failsafe_inbound: texts(r.hostFailsafeInbound) } : {}),
        ...(r.hostFailsafeOutbound ? { host_failsafe_outbound: texts(r.hostFailsafeOutbound) } : {}),
        lifecycle: lifecycle(r.lifecycle),
      };
    case 'processing_unit':
      return {
        enforcer: r.enforcer,
        type: r.type,
        addresses: r.addresses,
        tags: r.tags,
        identity: r.identity,
        lifecycle: lifecycle(r.lifecycle),
      };
    case 'external_network':
      return {
        entries: texts(r.entries),
        service_ports: texts(r.servicePorts),
        tags: r.tags,
        identity: r.identity,
        lifecycle: lifecycle(r.lifecycle),
      };
    case 'network_policy':
      return {
        description: opt(r.description),
        subject: expr(r.subject),
        object: expr(r.object),
        negate_subject: r.negateSubject,
        negate_object: r.negateObject,
        action: r.action,
        ports: texts(r.ports),
        apply_policy_mode: r.applyPolicyMode,
        logs_enabled: r.logsEnabled,
        observation_enabled: r.observationEnabled,
        disabled: r.disabled,
        propagate: r.propagate,
        fallback: r.fallback,
        expiration_time: opt(r.expirationTime),
        active_schedule: opt(r.activeSchedule),
        active_duration: opt(r.activeDuration),
        timezone: r.timezone,
        lifecycle: lifecycle(r.lifecycle),
      };
    case 'enforcer_token':
      return {
        roles: r.roles,
        networks: texts(r.networks),
        quota: r.quota,
        validity: r.validity,
        lifecycle: lifecycle(r.lifecycle),
      };
    case 'expect':
      return {
        from: r.from,
        to: r.to,
        port: r.port,
        verdict: r.verdict,
        interface: opt(r.interface),
        iif: opt(r.iif),
        oif: opt(r.oif),
        lifecycle: lifecycle(r.lifecycle),
      };
    default: {
      const never: never = r;
      throw new Error(`unknown resource ${JSON.stringify(never)}`);
    }
  }
}

/** sortKeys makes plain values canonical: object keys in code-unit order, recursively. */
function sortKeys(v: unknown): Json {
  if (v === null || v === undefined) return null;
  if (Array.isArray(v)) return v.map(sortKeys);
  if (typeof v === 'object') {
    const out: { [k: string]: Json } = {};
    for (const k of Object.keys(v as object).sort()) out[k] = sortKeys((v as Record<string, unknown>)[k]);
    return out;
  }
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
  return String(v);
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** inspectDocument builds the document as data (for callers that post-process it). */
export function inspectDocument(model: Model): InspectDocument {
  const all = allResources(model);
  const resources = all
    .map((r) => ({ type: r.kind as string, name: r.name, namespace: r.namespace, attributes: attributes(r) }))
    .sort((a, b) => cmp(a.type, b.type) || cmp(a.name, b.name));
  return { format_version: INSPECT_FORMAT_VERSION, resources, outputs: sortKeys(model.outputs) as { [k: string]: Json } };
}

/**
 * inspectJson renders the model as pretty JSON (two-space indent, trailing newline). Equal models
 * give equal bytes, whichever front end produced them.
 */
export function inspectJson(model: Model): string {
  return JSON.stringify(inspectDocument(model), null, 2) + '\n';
}
