/**
 * Diagnostic codes of the sandbox and of live policy tests (MSEG95xx, beside the trace's MSEG90xx).
 * Codes are stable: a code is never reused for another meaning.
 */
export const CODES = {
  /** error: a processing unit address is outside the sandbox ranges 198.18.0.0/15 and 2001:2::/48. */
  ADDRESS_OUTSIDE_SANDBOX: 'MSEG9501',
  /** error: two enforcers use the same network namespace, or one uses a name the sandbox reserves. */
  NETNS_CONFLICT: 'MSEG9502',
  /** warning: an enforcer is not reached through a network namespace, so it is not in the sandbox. */
  ENFORCER_NOT_NETNS: 'MSEG9503',
  /** warning: no usable address stands for an external network (e.g. only loopback or multicast). */
  NO_REPRESENTATIVE: 'MSEG9504',
  /** error: the sandbox needs root (network namespaces). */
  NOT_ROOT: 'MSEG9510',
  /** error: a network namespace the sandbox wants already exists and was not created by it. */
  FOREIGN_NETNS: 'MSEG9511',
  /** error: a command that builds the sandbox failed. */
  BUILD_FAILED: 'MSEG9512',
  /** error: a listener did not come up. */
  LISTENER_FAILED: 'MSEG9513',
  /** error: no sandbox record, so live tests have no hosts to send packets between. */
  NO_SANDBOX: 'MSEG9520',
  /** warning: an enforcer host does not hold the compiled rules (not applied, or drifted). */
  HOST_NOT_IN_SYNC: 'MSEG9521',
} as const;
