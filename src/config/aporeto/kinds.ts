/**
 * The kinds an Aporeto import file can hold under `data`, keyed by their plural (the `data` key),
 * and what migrate does with each:
 *
 * - converted: policy that microseg expresses (namespaces, external networks, network access
 *   policies, network rule set policies);
 * - skipped: kinds real exports carry that write no firewall rule microseg would have to
 *   reproduce (automation, control-plane access, enforcer settings, reporting). Each kind is
 *   skipped with one warning that says what it did and what microseg does instead, so a file of
 *   policies exported together with its automations still converts;
 * - refused: kinds that restrict traffic in ways microseg cannot (layer 7 services, host
 *   services). Dropping them would widen access, so they are errors;
 * - anything else is unknown, and an error: migrate will not guess at a firewall rule.
 *
 * The singular names are Aporeto's REST names; the top-level `identities` list of an export uses
 * them (`externalnetwork`), and sometimes the plurals.
 */

/** Converted kinds: plural (the `data` key) → singular. */
export const CONVERTED_KINDS = {
  namespaces: 'namespace',
  externalnetworks: 'externalnetwork',
  networkaccesspolicies: 'networkaccesspolicy',
  networkrulesetpolicies: 'networkrulesetpolicy',
} as const;

export type ConvertedPlural = keyof typeof CONVERTED_KINDS;
export type Kind = (typeof CONVERTED_KINDS)[ConvertedPlural];

/** A kind migrate does not convert: its singular name and why (shown to the user). */
export interface OtherKind {
  singular: string;
  why: string;
}

const AUTOMATION =
  'automate the Aporeto control plane (they create or change objects through its API when something happens) and write no firewall rule themselves. Export and migrate the objects they created; rebuild the workflow in your CI or scheduler if you still need it.';
const CONTROL_PLANE =
  'control access to the Aporeto control plane (who may call its API, sign in, or hold credentials). microseg has no control plane: access to microseg is access to the configuration repository and to the enforcer hosts.';
const ENFORCER_SETTINGS =
  'configure enforcers, not traffic between workloads. Declare microseg enforcer_profile blocks by hand (excluded_networks, excluded_interfaces, failsafe) and reference them from each enforcer. Until you do, traffic these profiles exempted (excludedNetworks, excludedInterfaces, ignoreExpression) is enforced like any other, which refuses more, never less.';
const TRUST =
  "declare trust for Aporeto's cryptographic identity handshake. microseg identifies workloads by their declared addresses, so there is nothing to trust.";
const NAMESPACE_MAPPING =
  'placed enforcers and processing units into namespaces by their tags when they registered. In microseg each processing_unit names its namespace.';
const INFRASTRUCTURE =
  "model cloud security groups for Aporeto's flow visualisation only; Aporeto did not enforce them, and microseg does not either.";
const NOT_NETWORK =
  'govern file access, auditing, system calls or logins on hosts, not network connections, which is all microseg enforces. Keep them in a tool that enforces them.';
const MONITORING = 'are monitoring state and queries, not policy.';

/** Kinds skipped with one warning each (see the module comment). */
export const SKIPPED_KINDS: Readonly<Record<string, OtherKind>> = {
  recipes: { singular: 'recipe', why: AUTOMATION },
  automations: { singular: 'automation', why: AUTOMATION },
  automationtemplates: { singular: 'automationtemplate', why: AUTOMATION },
  automationconditions: { singular: 'automationcondition', why: AUTOMATION },
  automationactions: { singular: 'automationaction', why: AUTOMATION },
  hookpolicies: { singular: 'hookpolicy', why: AUTOMATION },
  apiauthorizationpolicies: { singular: 'apiauthorizationpolicy', why: CONTROL_PLANE },
  appcredentials: { singular: 'appcredential', why: CONTROL_PLANE },
  oidcproviders: { singular: 'oidcprovider', why: CONTROL_PLANE },
  ldapproviders: { singular: 'ldapprovider', why: CONTROL_PLANE },
  samlproviders: { singular: 'samlprovider', why: CONTROL_PLANE },
  pccproviders: { singular: 'pccprovider', why: CONTROL_PLANE },
  tokenscopepolicies: { singular: 'tokenscopepolicy', why: CONTROL_PLANE },
  quotapolicies: { singular: 'quotapolicy', why: CONTROL_PLANE },
  enforcerprofiles: { singular: 'enforcerprofile', why: ENFORCER_SETTINGS },
  enforcerprofilemappingpolicies: { singular: 'enforcerprofilemappingpolicy', why: ENFORCER_SETTINGS },
  trustedcas: { singular: 'trustedca', why: TRUST },
  trustednamespaces: { singular: 'trustednamespace', why: TRUST },
  namespacemappingpolicies: { singular: 'namespacemappingpolicy', why: NAMESPACE_MAPPING },
  infrastructurepolicies: { singular: 'infrastructurepolicy', why: INFRASTRUCTURE },
  fileaccesspolicies: { singular: 'fileaccesspolicy', why: NOT_NETWORK },
  filepaths: { singular: 'filepath', why: NOT_NETWORK },
  auditprofiles: { singular: 'auditprofile', why: NOT_NETWORK },
  auditprofilemappingpolicies: { singular: 'auditprofilemappingpolicy', why: NOT_NETWORK },
  isolationprofiles: { singular: 'isolationprofile', why: NOT_NETWORK },
  processingunitpolicies: { singular: 'processingunitpolicy', why: NOT_NETWORK },
  useraccesspolicies: { singular: 'useraccesspolicy', why: NOT_NETWORK },
  sshauthorizationpolicies: { singular: 'sshauthorizationpolicy', why: NOT_NETWORK },
  alarms: { singular: 'alarm', why: MONITORING },
  reportsqueries: { singular: 'reportsquery', why: MONITORING },
  statsqueries: { singular: 'statsquery', why: MONITORING },
};

const LAYER7 =
  'describe layer 7 API services and the policies on their APIs. microseg enforces layers 3 and 4 only, so the API restrictions would be lost. Express the connections these services need as network policies on their ports, keep API authorization in the services or a proxy, then remove these objects from the file.';
const HOST_SERVICES =
  'made ports of an enforcer host separate services with policies of their own. Declare a processing_unit with type = "host" for the host (and host_protection = true on its enforcer) and network policies on those ports, then remove these objects from the file.';

/** Kinds that are errors with a specific reason (see the module comment). */
export const REFUSED_KINDS: Readonly<Record<string, OtherKind>> = {
  services: { singular: 'service', why: LAYER7 },
  servicedependencypolicies: { singular: 'servicedependencypolicy', why: LAYER7 },
  servicedependencies: { singular: 'servicedependency', why: LAYER7 },
  httpresourcespecs: { singular: 'httpresourcespec', why: LAYER7 },
  hostservices: { singular: 'hostservice', why: HOST_SERVICES },
  hostservicemappingpolicies: { singular: 'hostservicemappingpolicy', why: HOST_SERVICES },
};

/** pluralOfIdentity maps an `identities` entry (singular or plural, any case) to its `data` key. */
export function pluralOfIdentity(name: string): string | undefined {
  const n = name.toLowerCase();
  for (const [plural, singular] of Object.entries(CONVERTED_KINDS)) if (n === plural || n === singular) return plural;
  for (const table of [SKIPPED_KINDS, REFUSED_KINDS]) {
    for (const [plural, k] of Object.entries(table)) if (n === plural || n === k.singular) return plural;
  }
  return undefined;
}
