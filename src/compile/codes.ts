/**
 * Diagnostic codes of the compile stage (MSEG6xxx). Codes are stable: views, tests and users'
 * CI scripts match on them, so a code is never reused for another meaning.
 */
export const CODES = {
  /** error: an enforcer older than 3.12 would need a rule toward/from an external network with service_ports. */
  OLD_ENFORCER_SERVICE_PORTS: 'MSEG6001',
  /** warning: policy ports ∩ external network service_ports is empty, so the rule is ineffective. */
  INEFFECTIVE_PORTS: 'MSEG6002',
  /** error: active_schedule is not a valid cron expression or timezone is unknown. */
  BAD_SCHEDULE: 'MSEG6003',
  /** error: active_duration or expiration_time cannot be parsed. */
  BAD_TIME: 'MSEG6004',
  /** warning: active_schedule without active_duration (active during the tick's minute only). */
  SCHEDULE_WITHOUT_DURATION: 'MSEG6005',
  /** error: two PUs on the same enforcer share an address, so dispatch would be ambiguous. */
  DUPLICATE_PU_ADDRESS: 'MSEG6006',
  /** warning: a PU address is a loopback address; loopback traffic is never touched. */
  LOOPBACK_PU_ADDRESS: 'MSEG6007',
  /** warning: a PU names an enforcer that does not exist; it is a peer only, nothing enforces it. */
  UNKNOWN_ENFORCER: 'MSEG6008',
  /** error: an enforcer names an enforcer_profile that does not exist. */
  UNKNOWN_PROFILE: 'MSEG6009',
  /** error: two chain names collided after truncation and hashing (should never happen). */
  NAME_COLLISION: 'MSEG6010',
  /** error: an enforcer `version` is not a semantic version. */
  BAD_VERSION: 'MSEG6011',
  /** error: a PU pinned placement = "local" whose addresses the enforcer host does not hold (plan, host-scoped). */
  LOCAL_ADDRESS_NOT_HELD: 'MSEG6020',
  /** error: a PU pinned placement = "forwarded" with an address the enforcer host holds. */
  FORWARDED_ADDRESS_HELD: 'MSEG6021',
  /** warning: an unpinned PU with some addresses the host holds (so it is local) and some it does not. */
  MIXED_PLACEMENT: 'MSEG6022',
  /** error: a host processing unit (host protection) lists an address its enforcer host does not hold. */
  HOST_PU_ADDRESS_NOT_HELD: 'MSEG6040',
} as const;
