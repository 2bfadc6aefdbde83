/**
 * Diagnostic codes of model validation (MSEG3xxx). They are stable: tests, docs and users' CI
 * filters refer to them, so a code is never reused for a different problem. 30xx are shapes and
 * names, 301x service ports, 302x tags, 303x addresses, 304x removed attributes, 305x references,
 * 306x time and version strings, 307x other lists, 308x warnings.
 */
export const CODES = {
  /** A resource block type that microseg does not know (with "did you mean"). */
  unknownResourceType: 'MSEG3001',
  /** An attribute or nested block the resource does not accept (with "did you mean"). */
  unknownAttribute: 'MSEG3002',
  /** A required attribute or block is missing. */
  missingAttribute: 'MSEG3003',
  /** An attribute has the wrong JSON type (string for bool, ...). */
  wrongType: 'MSEG3004',
  /** A value outside an attribute's fixed set (action, backend, ...). */
  invalidValue: 'MSEG3005',
  /** A number out of range, an empty string or an empty list where one is needed. */
  outOfRange: 'MSEG3006',
  /** Two resources of one type with one name. */
  duplicateName: 'MSEG3007',
  /** A block that may appear once appears more than once. */
  repeatedBlock: 'MSEG3008',
  /** A resource name that is not usable (empty; namespace names not absolute paths). */
  invalidName: 'MSEG3009',
  /** A service port that does not follow the grammar. */
  invalidServicePort: 'MSEG3010',
  /** A service port list problem: duplicates, `any` not alone. */
  servicePortList: 'MSEG3011',
  /** A valid service port that this attribute cannot take (`any` as failsafe, a range in expect). */
  servicePortNotAllowed: 'MSEG3012',
  /** A tag expression (subject/object) problem. */
  invalidTagExpression: 'MSEG3020',
  /** A declared tag problem (including reserved `$` keys). */
  invalidTag: 'MSEG3021',
  /** A CIDR that does not parse. */
  invalidCidr: 'MSEG3030',
  /** A CIDR list problem: duplicate, exclusion outside every entry, included and excluded. */
  cidrList: 'MSEG3031',
  /** A processing unit address that is not one IP. */
  invalidAddress: 'MSEG3032',
  /** One address on two processing units (or twice on one). */
  duplicateAddress: 'MSEG3033',
  /** external_network `protocols`/`ports`, replaced by `service_ports`. */
  removedAttribute: 'MSEG3040',
  /** A `namespace` that is neither "/" nor a declared namespace. */
  unknownNamespace: 'MSEG3050',
  /** A namespace whose `namespace` (parent) disagrees with its name. */
  namespaceParent: 'MSEG3051',
  /** A processing unit's enforcer is not declared. */
  unknownEnforcer: 'MSEG3052',
  /** An enforcer's profile is not declared. */
  unknownProfile: 'MSEG3053',
  /** An expect's from/to names no processing unit or external network. */
  unknownExpectEndpoint: 'MSEG3054',
  /** An enforcer version that is not semver. */
  invalidVersion: 'MSEG3060',
  /** An expiration_time that is not RFC 3339. */
  invalidTime: 'MSEG3061',
  /** An active_schedule that is not a cron expression. */
  invalidCron: 'MSEG3062',
  /** A duration (active_duration, validity) that is not like 1h30m. */
  invalidDuration: 'MSEG3063',
  /** A timezone that is not an IANA zone. */
  invalidTimezone: 'MSEG3064',
  /** active_schedule without active_duration, or the reverse. */
  scheduleIncomplete: 'MSEG3065',
  /** An interface name that the kernel would not accept. */
  invalidInterface: 'MSEG3070',
  /** A repeated element in a list of names (interfaces, roles). */
  duplicateListItem: 'MSEG3071',
  /** An expect gives `interface` together with `iif` or `oif`. */
  interfaceConflict: 'MSEG3075',
  /** Warning: ebpf = true is beta. */
  ebpfBeta: 'MSEG3080',
  /** Warning: a policy's subject or object selects no processing unit or external network. */
  matchesNothing: 'MSEG3081',
  /** Warning: a policy's expiration_time has passed. */
  policyExpired: 'MSEG3082',
  /**
   * A `type = "host"` processing unit on an enforcer without host_protection = true. (MSEG3083 was
   * a warning for this; a host PU enforced without host protection's loopback and failsafe rules
   * could lock the host out, so it is an error now.)
   */
  hostPuWithoutProtection: 'MSEG3130',
  /** An enforcer with host_protection = true and no `type = "host"` processing unit: nothing would be protected. */
  hostProtectionWithoutHostPu: 'MSEG3131',
  /** A second `type = "host"` processing unit on one enforcer (a host has one identity). */
  secondHostPu: 'MSEG3132',
  /** A `type = "host"` processing unit without addresses: host protection needs the host's addresses. */
  hostPuWithoutAddresses: 'MSEG3133',
  /** `any` in host_failsafe_inbound / host_failsafe_outbound. */
  hostFailsafeAny: 'MSEG3134',
  /** Warning: host_failsafe_inbound = [] — nothing keeps admins' way into a protected host open. */
  noInboundHostFailsafe: 'MSEG3135',
  /** Warning: ssh connection with strict_host_key_checking = false. */
  hostKeyCheckingOff: 'MSEG3084',
  /** An ssh `host` that is not a host name or IP address (a leading `-`, shell or ssh-option characters). */
  invalidSshHost: 'MSEG3090',
  /** An ssh `user` that is not a POSIX user name. */
  invalidSshUser: 'MSEG3091',
  /** An ssh `connect_timeout` that is not a whole number of seconds (1–300) or such a duration. */
  invalidConnectTimeout: 'MSEG3092',
  /** Two enforcers that reach the same host (same netns, same ssh host and port, or both local). */
  sameHost: 'MSEG3093',
  /** A host processing unit pinned to placement = "forwarded". */
  hostPuForwarded: 'MSEG3100',
} as const;
