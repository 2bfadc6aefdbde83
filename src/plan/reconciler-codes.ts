/**
 * Stable diagnostic codes of the reconciler (MSEG82xx): refresh, apply, decommission, cleanup.
 * State codes are MSEG80xx (src/state/codes.ts), plan codes MSEG81xx (src/plan/codes.ts).
 */
export const ApplyCodes = {
  /** A host's connection type cannot be used by this microseg (e.g. ssh transport not built in). */
  transportUnavailable: 'MSEG8201',
  /** Backend detection (`backend = "auto"`) found no usable firewall on the host. */
  noBackend: 'MSEG8202',
  /** The host lacks a tool or match the desired ruleset needs (probed once per host). */
  missingCapability: 'MSEG8203',
  /** The desired ruleset cannot be expressed on this host's backend (provider refused to render). */
  renderFailed: 'MSEG8204',
  /** Applying a host's transaction failed; the host stays on its previous ruleset. */
  applyFailed: 'MSEG8205',
  /** After applying, the host's read-back does not match the desired ruleset. */
  verifyFailed: 'MSEG8206',
  /** Decommissioning (cleanup) a host failed or left owned objects behind. */
  cleanupFailed: 'MSEG8207',
  /** A plan with errors cannot be applied. */
  planHasErrors: 'MSEG8208',
  /** The configuration is invalid or does not compile; no host was touched. */
  invalidConfig: 'MSEG8209',
  /** The host could not be reached (namespace gone, ssh failed); reported as data, never fatal for others. */
  unreachable: 'MSEG8210',
  /** apply without --auto-approve and no terminal to ask on. */
  approvalRequired: 'MSEG8211',
  /** --target names nothing in the configuration or state. */
  unknownTarget: 'MSEG8212',
  /** A journal entry from an earlier run shows a host begun but never verified (a killed apply). */
  unfinishedRun: 'MSEG8213',
  /** Bad command-line value (parallelism, lock timeout, ...). */
  badFlag: 'MSEG8214',
  /** An `expect` block of the configuration fails offline; plan and apply stop before any host. */
  expectationFailed: 'MSEG8215',
  /** The rules would refuse every new ssh connection to the address microseg manages the host through. */
  managementLockout: 'MSEG8216',
  /** A command that reads the state found none (`show` without a plan file). */
  noState: 'MSEG8217',
  /** A command-line argument names nothing usable (an unknown backend or enforcer). */
  badArgument: 'MSEG8218',
  /** A host could not be used for break-glass cleanup. */
  cleanupUnreachable: 'MSEG8219',
  /**
   * Forwarded PUs sit on a Linux bridge of the host, whose switched traffic skips the IP forward
   * hook: br_netfilter is absent or net.bridge.bridge-nf-call-iptables/-ip6tables is 0 there.
   */
  bridgeUnfiltered: 'MSEG8260',
  /** The host's own addresses could not be read, so unpinned PUs could not be placed from them. */
  hostFactsUnread: 'MSEG8261',
} as const;
