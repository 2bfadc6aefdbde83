/**
 * Model builders for compile and fake tests. They build validated-model objects directly, so these
 * tests depend on neither the HCL front end nor validation.
 *
 * Address conventions (one place, PRACTICES 15):
 *   PUs on enforcer h1: 198.18.1.0/24 and 2001:db8:1::/64; on h2: 198.18.2.0/24, 2001:db8:2::/64
 *   PUs of unknown hosts / strangers: 198.19.0.0/16
 *   external networks: 203.0.113.0/24 (v4), 2001:db8:ff::/48 (v6), 8.8.8.8 as "the internet"
 */
import type {
  CidrEntry,
  Enforcer,
  EnforcerProfile,
  ExternalNetwork,
  Model,
  Namespace,
  NetworkPolicy,
  ProcessingUnit,
  ServicePort,
  TagExpression,
  TagTerm,
} from '../../../src/model/types';

const lifecycle = { preventDestroy: false };

/** term parses one written tag term. */
export function term(text: string): TagTerm {
  const neq = text.indexOf('!=');
  if (neq >= 0) {
    const key = text.slice(0, neq);
    const value = text.slice(neq + 2);
    return value === '*' ? { key, op: 'absent', text } : { key, op: 'neq', value, text };
  }
  const i = text.indexOf('=');
  const key = text.slice(0, i);
  const value = text.slice(i + 1);
  if (value === '*') return { key, op: 'present', text };
  if (value.endsWith('*')) return { key, op: 'prefix', value: value.slice(0, -1), text };
  return { key, op: 'eq', value, text };
}

/** expr builds `[[a, b], [c]]` from `['a', 'b'], ['c']`, or a one-term expression from a string. */
export function expr(...clauses: Array<string | string[]>): TagExpression {
  return clauses.map((c) => (typeof c === 'string' ? [term(c)] : c.map(term)));
}

/** sp parses one service port in the DESIGN §4 grammar (tests only; validation owns the real parser). */
export function sp(text: string): ServicePort {
  const t = text.toLowerCase();
  if (t === 'any') return { kind: 'any', text: 'any' };
  const [proto, a, b] = t.split('/');
  const range = (s: string) => {
    const [x, y] = s.split(':').map(Number);
    return { from: x, to: y ?? x };
  };
  if (proto === 'tcp' || proto === 'udp') return { kind: 'l4', protocol: proto, ports: range(a), text: t };
  if (proto === 'icmp' || proto === 'icmp6') {
    const p: ServicePort = { kind: 'icmp', protocol: proto, text: t };
    if (a !== undefined) p.type = Number(a);
    if (b !== undefined) p.codes = b.split(',').map(range);
    return p;
  }
  return { kind: 'proto', protocol: proto, text: t };
}
export const sps = (...t: string[]): ServicePort[] => t.map(sp);

/** cidr parses an entry (`10.0.0.0/8` or `!10.1.0.0/16`). */
export function cidr(text: string): CidrEntry {
  const exclude = text.startsWith('!');
  const c = exclude ? text.slice(1) : text;
  return { cidr: c, family: c.includes(':') ? 6 : 4, exclude, text };
}

export function namespace(name: string, opts: Partial<Namespace> = {}): Namespace {
  return {
    kind: 'namespace',
    name,
    address: `namespace.${name}`,
    namespace: name,
    lifecycle,
    defaultIncomingAction: 'reject',
    defaultOutgoingAction: 'reject',
    ...opts,
  };
}

export function enforcer(name: string, opts: Partial<Enforcer> = {}): Enforcer {
  return {
    kind: 'enforcer',
    name,
    address: `enforcer.${name}`,
    namespace: '/',
    lifecycle,
    connection: { type: 'local' },
    backend: 'auto',
    version: '3.14.0',
    tags: [],
    ebpf: false,
    hostProtection: false,
    ...opts,
  };
}

export function profile(name: string, opts: Partial<EnforcerProfile> = {}): EnforcerProfile {
  return {
    kind: 'enforcer_profile',
    name,
    address: `enforcer_profile.${name}`,
    namespace: '/',
    lifecycle,
    excludedNetworks: [],
    excludedInterfaces: [],
    failsafe: [],
    ...opts,
  };
}

export function pu(
  name: string,
  enf: string,
  addresses: string[],
  tags: string[] = [],
  opts: Partial<ProcessingUnit> = {},
): ProcessingUnit {
  const ns = opts.namespace ?? '/';
  return {
    kind: 'processing_unit',
    name,
    address: `processing_unit.${name}`,
    namespace: ns,
    lifecycle,
    enforcer: enf,
    addresses,
    type: 'workload',
    tags,
    identity: [...tags, '$identity=processingunit', `$name=${name}`, `$namespace=${ns}`, `$enforcer=${enf}`].sort(),
    ...opts,
  };
}

export function extnet(
  name: string,
  entries: string[],
  servicePorts: string[] = [],
  tags: string[] = [],
  opts: Partial<ExternalNetwork> = {},
): ExternalNetwork {
  return {
    kind: 'external_network',
    name,
    address: `external_network.${name}`,
    namespace: '/',
    lifecycle,
    entries: entries.map(cidr),
    servicePorts: servicePorts.map(sp),
    tags,
    identity: [...tags, '$identity=externalnetwork', `$name=${name}`].sort(),
    ...opts,
  };
}

export function policy(
  name: string,
  subject: TagExpression,
  object: TagExpression,
  opts: Partial<NetworkPolicy> = {},
): NetworkPolicy {
  return {
    kind: 'network_policy',
    name,
    address: `network_policy.${name}`,
    namespace: '/',
    lifecycle,
    subject,
    object,
    action: 'allow',
    ports: [],
    applyPolicyMode: 'bidirectional',
    logsEnabled: false,
    observationEnabled: false,
    disabled: false,
    propagate: false,
    fallback: false,
    negateSubject: false,
    negateObject: false,
    timezone: 'UTC',
    ...opts,
  };
}

/** model assembles a Model, sorting each list by name as validation does. */
export function model(parts: Partial<Omit<Model, 'outputs'>>): Model {
  const byName = <T extends { name: string }>(xs: T[] | undefined): T[] =>
    [...(xs ?? [])].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return {
    namespaces: byName(parts.namespaces),
    enforcers: byName(parts.enforcers),
    enforcerProfiles: byName(parts.enforcerProfiles),
    processingUnits: byName(parts.processingUnits),
    externalNetworks: byName(parts.externalNetworks),
    networkPolicies: byName(parts.networkPolicies),
    enforcerTokens: [],
    expects: [],
    outputs: {},
  };
}

/** NOW is the fixed compile instant of every test: Wednesday 2025-01-15 12:00:00 UTC. */
export const NOW = new Date('2025-01-15T12:00:00Z');
