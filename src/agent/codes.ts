/**
 * Diagnostic codes of `microseg agent` (MSEG9840–9869, MSEG3120–3124). The agent logs them, puts
 * them in its status file and reports them to the control plane (AgentReport.error.code), so a
 * monitoring system and the reconciler can act on the code, never on wording.
 */
export const AgentCodes = {
  /** The pulled document is not a valid AgentDesired (structure, types, unknown fields). */
  documentInvalid: 'MSEG9840',
  /** The document names another enforcer than the one this agent's certificate is bound to. */
  wrongEnforcer: 'MSEG9841',
  /** The document's format is not one this agent understands (a newer publisher). */
  formatUnknown: 'MSEG9842',
  /** The published ruleset carries compile errors: it was never meant to reach a host. */
  rulesetHasErrors: 'MSEG9843',
  /** The ruleset refers to a chain or set it does not hold, or mixes families. */
  rulesetInconsistent: 'MSEG9844',
  /** Registration refused by the server (expired, revoked, over quota, outside networks, replayed). */
  registrationRefused: 'MSEG9845',
  /** The server cannot be reached (connection, timeout, TLS): the agent keeps its rules. */
  serverUnreachable: 'MSEG9846',
  /** The server answered with an error (5xx, unexpected status): the agent keeps its rules. */
  serverError: 'MSEG9847',
  /** The server refuses this agent's certificate (revoked, unknown): the agent keeps its rules. */
  certificateRefused: 'MSEG9848',
  /** Planning or applying the ruleset on this host failed (verification included). */
  applyFailed: 'MSEG9849',
  /** Nothing is published for this enforcer yet. */
  nothingPublished: 'MSEG9850',
  /** Neither a certificate in --cert-dir nor a --token-file to register with. */
  noCredentials: 'MSEG9851',
  /** The token file cannot be read or holds no token. */
  tokenFileInvalid: 'MSEG9852',
  /** The certificate directory is not private (mode), or its files do not belong together. */
  certDirUnsafe: 'MSEG9853',
  /** Renewing the certificate failed (the current one keeps being used while it is valid). */
  renewalFailed: 'MSEG9854',
  /** `agent status` found no status file, or one it cannot read. */
  statusMissing: 'MSEG9855',
  /** This host cannot enforce the ruleset (missing capability, unwritable rules): nothing was changed. */
  hostBlocked: 'MSEG9856',
  /** The local record of the last good document is unreadable (it is ignored). */
  recordInvalid: 'MSEG9857',
  /** The agent's status is stale: its process has not written it for too long. */
  statusStale: 'MSEG9858',
  /** Bad command-line flags for `microseg agent`. */
  badFlags: 'MSEG9859',
  /** The agent's own certificate expired before it could renew it. */
  certificateExpired: 'MSEG9860',
} as const;

export type AgentCode = (typeof AgentCodes)[keyof typeof AgentCodes];
