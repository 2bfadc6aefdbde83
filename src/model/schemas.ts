/**
 * zod v4 schemas of each resource body (HCL spelling, snake_case): the attribute names, their
 * JSON types and their defaults. Grammar inside strings (service ports, tag terms, CIDRs, cron,
 * ...) is checked afterwards by the dedicated parsers in src/model, which give better messages
 * than a regex in a schema could. Schemas are strict: an unknown key is an issue that validation
 * turns into an "unknown attribute, did you mean" diagnostic.
 */
import { z } from 'zod';
import type { ResourceType } from '../config/types';
import { NETNS_NAME } from '../hosts/connection';

/** present accepts any value but requires the attribute to be written (its grammar is checked later). */
const present = z.custom<unknown>((v) => v !== undefined);
const strings = z.array(z.string());
const bool = z.boolean().default(false);

/** lifecycle { prevent_destroy } is accepted on every resource, as in Terraform. */
export const LifecycleSchema = z.strictObject({ prevent_destroy: z.boolean().default(false) });

/** Attributes every resource accepts. */
const common = {
  namespace: z.string().optional(),
  lifecycle: LifecycleSchema.optional(),
};


/** ConnectionSchema is how microseg reaches an enforcer host (src/hosts transports). */
export const ConnectionSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('local') }),
  z.strictObject({
    type: z.literal('netns'),
    // A file name under /run/netns that `ip` cannot mistake for an option (src/hosts/netns.ts).
    netns: z.string().regex(NETNS_NAME, 'must be a network namespace name: letters, digits, "_", "." and "-", not starting with "-"'),
  }),
  z.strictObject({
    type: z.literal('ssh'),
    host: z.string().min(1),
    user: z.string().min(1),
    port: z.number().int().min(1).max(65535).default(22),
    private_key_file: z.string().min(1).optional(),
    known_hosts_file: z.string().min(1).optional(),
    strict_host_key_checking: z.boolean().default(true),
    // Seconds, or a duration string ("30s", "1m"); checked and converted in validate.ts.
    connect_timeout: z.union([z.number(), z.string()]).optional(),
  }),
  // The host runs `microseg agent` and pulls its rules from the control plane (pg backend).
  z.strictObject({ type: z.literal('agent') }),
]);

export const NamespaceSchema = z.strictObject({
  ...common,
  description: z.string().optional(),
  default_incoming_action: z.enum(['reject', 'allow']).default('reject'),
  default_outgoing_action: z.enum(['reject', 'allow']).default('reject'),
  logs_enabled: bool,
  observation_enabled: bool,
});

export const EnforcerSchema = z.strictObject({
  ...common,
  connection: ConnectionSchema,
  backend: z.enum(['auto', 'nftables', 'iptables-nft', 'iptables-legacy']).default('auto'),
  version: z.string().optional(),
  tags: z.unknown().optional(),
  ebpf: bool,
  host_protection: bool,
  profile: z.string().optional(),
});

export const EnforcerProfileSchema = z.strictObject({
  ...common,
  excluded_networks: strings.default([]),
  excluded_interfaces: strings.default([]),
  failsafe: strings.default([]),
  host_failsafe_inbound: strings.optional(),
  host_failsafe_outbound: strings.optional(),
});

export const ProcessingUnitSchema = z.strictObject({
  ...common,
  enforcer: z.string(),
  addresses: strings.default([]),
  tags: z.unknown().optional(),
  type: z.enum(['workload', 'host']).default('workload'),
  placement: z.enum(['local', 'forwarded']).optional(),
});

export const ExternalNetworkSchema = z.strictObject({
  ...common,
  entries: strings.min(1),
  service_ports: strings.default([]),
  tags: z.unknown().optional(),
});

export const NetworkPolicySchema = z.strictObject({
  ...common,
  description: z.string().optional(),
  subject: present,
  object: present,
  action: z.enum(['allow', 'reject', 'continue']).default('allow'),
  ports: strings.default([]),
  apply_policy_mode: z.enum(['incoming', 'outgoing', 'bidirectional']).default('bidirectional'),
  logs_enabled: bool,
  observation_enabled: bool,
  disabled: bool,
  propagate: bool,
  fallback: bool,
  negate_subject: bool,
  negate_object: bool,
  expiration_time: z.string().optional(),
  active_schedule: z.string().optional(),
  active_duration: z.string().optional(),
  timezone: z.string().default('UTC'),
});

export const EnforcerTokenSchema = z.strictObject({
  ...common,
  roles: strings.min(1),
  networks: strings.default([]),
  quota: z.number().int().min(0).default(0),
  validity: z.string().default('24h'),
});

export const ExpectSchema = z.strictObject({
  ...common,
  from: z.string().min(1),
  to: z.string().min(1),
  port: z.string(),
  verdict: z.enum(['allow', 'reject']),
  interface: z.string().optional(),
  iif: z.string().optional(),
  oif: z.string().optional(),
});

/** SCHEMAS maps each resource type to its body schema. */
export const SCHEMAS = {
  namespace: NamespaceSchema,
  enforcer: EnforcerSchema,
  enforcer_profile: EnforcerProfileSchema,
  processing_unit: ProcessingUnitSchema,
  external_network: ExternalNetworkSchema,
  network_policy: NetworkPolicySchema,
  enforcer_token: EnforcerTokenSchema,
  expect: ExpectSchema,
} as const satisfies Record<ResourceType, z.ZodType>;

export type Bodies = { [K in keyof typeof SCHEMAS]: z.output<(typeof SCHEMAS)[K]> };

/**
 * EXAMPLES shows one valid way to write an attribute (HCL), appended to "missing" and "wrong
 * type" diagnostics so the fix is visible where the problem is reported. Keys are the attribute
 * name, or `<resource type>.<attribute>` where one name means different things.
 */
export const EXAMPLES: Readonly<Record<string, string>> = {
  namespace: 'namespace = "/acme/prod"',
  lifecycle: 'lifecycle { prevent_destroy = true }',
  prevent_destroy: 'prevent_destroy = true',
  description: 'description = "why this exists"',
  default_incoming_action: 'default_incoming_action = "reject"',
  default_outgoing_action: 'default_outgoing_action = "reject"',
  connection: 'connection { type = "ssh"  host = "10.0.0.5"  user = "root" }',
  type: 'type = "local"',
  netns: 'netns = "web-1"',
  host: 'host = "10.0.0.5"',
  user: 'user = "root"',
  port: 'port = 22',
  private_key_file: 'private_key_file = "~/.ssh/id_ed25519"',
  known_hosts_file: 'known_hosts_file = "~/.ssh/known_hosts"',
  connect_timeout: 'connect_timeout = "30s"',
  strict_host_key_checking: 'strict_host_key_checking = true',
  backend: 'backend = "auto"',
  version: 'version = "3.14.0"',
  tags: 'tags = ["app=web", "env=prod"]',
  ebpf: 'ebpf = false',
  host_protection: 'host_protection = true',
  profile: 'profile = "default"',
  excluded_networks: 'excluded_networks = ["10.0.0.0/8", "!10.1.0.0/16"]',
  excluded_interfaces: 'excluded_interfaces = ["docker0"]',
  failsafe: 'failsafe = ["tcp/22"]',
  host_failsafe_inbound: 'host_failsafe_inbound = ["tcp/22"]',
  host_failsafe_outbound: 'host_failsafe_outbound = ["udp/53", "tcp/53"]',
  enforcer: 'enforcer = "web-1"',
  addresses: 'addresses = ["10.0.0.5"]',
  entries: 'entries = ["0.0.0.0/0", "!10.0.0.0/8"]',
  service_ports: 'service_ports = ["tcp/443", "udp/53"]',
  subject: 'subject = [["app=web"]]',
  object: 'object = [["app=db", "env=prod"]]',
  action: 'action = "allow"',
  ports: 'ports = ["tcp/5432"]',
  apply_policy_mode: 'apply_policy_mode = "bidirectional"',
  logs_enabled: 'logs_enabled = true',
  observation_enabled: 'observation_enabled = true',
  disabled: 'disabled = true',
  propagate: 'propagate = true',
  fallback: 'fallback = true',
  negate_subject: 'negate_subject = true',
  negate_object: 'negate_object = true',
  expiration_time: 'expiration_time = "2030-01-01T00:00:00Z"',
  active_schedule: 'active_schedule = "0 9 * * 1-5"',
  active_duration: 'active_duration = "8h"',
  timezone: 'timezone = "Europe/Paris"',
  roles: 'roles = ["enforcer"]',
  networks: 'networks = ["10.0.0.0/8"]',
  quota: 'quota = 10',
  validity: 'validity = "24h"',
  from: 'from = "web"',
  to: 'to = "db"',
  verdict: 'verdict = "allow"',
  interface: 'interface = "eth0"',
  iif: 'iif = "eth0"',
  oif: 'oif = "eth0"',
  'processing_unit.type': 'type = "host"',
  placement: 'placement = "forwarded"',
  'expect.port': 'port = "tcp/443"',
};
