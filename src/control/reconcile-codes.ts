/**
 * Diagnostic codes of the reconciler's control-plane side (MSEG987x–989x): `enforcer_token`
 * resources applied to the control store, and enforcers reached through their agents
 * (`connection { type = "agent" }`). The control plane's own codes are MSEG98xx (src/control/*).
 */
export const AgentCodes = {
  /** An enforcer_token in the configuration, but the backend has no control store (local backend). */
  tokenNeedsPg: 'MSEG9870',
  /** An agent enforcer in the configuration or state, but the backend has no control store. */
  agentNeedsPg: 'MSEG9871',
  /** The control store could not be read at plan time (reports, published rulesets, tokens). */
  controlUnreadable: 'MSEG9872',
  /** An agent reported `failed` for the ruleset this apply published. */
  agentFailed: 'MSEG9873',
  /** An agent did not report the published ruleset applied (or clean) within --wait-timeout. */
  agentTimedOut: 'MSEG9874',
  /** Publishing an agent's desired ruleset (or its decommission) failed. */
  publishFailed: 'MSEG9875',
  /** A token operation on the control store failed during apply. */
  tokenApplyFailed: 'MSEG9876',
  /** The last report of an agent says it failed or repaired nothing of drift it found (plan warning). */
  agentReportsProblem: 'MSEG9877',
  /** An agent enforcer has never reported (plan note: its live state is unknown). */
  agentNeverReported: 'MSEG9878',
  /** The token secret file could not be written (the token is revoked again). */
  tokenSecretFile: 'MSEG9879',
  /** Bad --wait-timeout or --token-dir. */
  badFlag: 'MSEG9880',
  /** Decommissioned agent did not report clean in time: stays in state as cleanup-pending. */
  agentCleanupPending: 'MSEG9881',
} as const;
