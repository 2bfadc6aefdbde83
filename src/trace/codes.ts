/**
 * Diagnostic codes of trace and policy tests (MSEG9xxx). Codes are stable: views, tests and users'
 * CI scripts match on them, so a code is never reused for another meaning.
 */
export const CODES = {
  /** error: `from`/`to` is neither a processing unit, an external network, nor an IP address. */
  UNKNOWN_ENDPOINT: 'MSEG9001',
  /** error: the port is not one connection (`tcp/5432`, `udp/53`, `icmp/8/0`, `gre`). */
  INVALID_PORT: 'MSEG9002',
  /** error: the two endpoints (and the port) have no address family in common. */
  NO_COMMON_FAMILY: 'MSEG9003',
  /** warning: a name is both a processing unit and an external network; the processing unit is used. */
  AMBIGUOUS_ENDPOINT: 'MSEG9004',
  /** error: an interface (`--iif`, `--oif`, `--interface`, or expect's) is not one interface name. */
  INVALID_INTERFACE: 'MSEG9005',
  /** error: `interface` given together with `iif` or `oif`. */
  INTERFACE_CONFLICT: 'MSEG9006',
  /** warning: an interface was given for traffic between two addresses of one host, which crosses `lo`. */
  LOCAL_INTERFACE: 'MSEG9007',
  /** error (of an expectation): the verdict depends on the interface or the address, which the expect does not say. */
  VERDICT_DEPENDS: 'MSEG9008',
} as const;
