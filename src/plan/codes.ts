/** Stable diagnostic codes of the plan (MSEG81xx); the state backend's are MSEG80xx (src/state/codes.ts). */
export const PlanCodes = {
  /** An enforcer in the configuration could not be read back, so its changes cannot be planned. */
  hostUnreachable: 'MSEG8101',
  /** A decommissioned enforcer could not be reached; it stays in state as pending cleanup. */
  cleanupPending: 'MSEG8102',
  /** A plan file is not JSON or not shaped like a plan. */
  planFileUnreadable: 'MSEG8110',
  /** A plan file of a format version this microseg does not read. */
  planFileVersion: 'MSEG8111',
  /** The state or a host changed since the saved plan was made. */
  stalePlan: 'MSEG8112',
  /** The saved plan was made against a different state (lineage). */
  planLineageMismatch: 'MSEG8113',
  /** A saved plan differs from what its configuration plans now: edited by hand (or made elsewhere); refused. */
  planTampered: 'MSEG8130',
  /** A saved plan does not say which configuration it was made from, so it cannot be checked; refused. */
  planNoSource: 'MSEG8131',
  /** The configuration a saved plan was made from no longer loads or compiles; refused. */
  planSourceInvalid: 'MSEG8132',
  /** A change would replace a resource whose lifecycle has prevent_destroy. */
  preventDestroy: 'MSEG8120',
} as const;
