/**
 * Stable diagnostic codes of the state backend (MSEG80xx) and the plan (MSEG81xx, in
 * src/plan/codes.ts). Codes never change meaning, so scripts and tests can match on them.
 */
export const StateCodes = {
  /** state.json was written by a newer microseg whose format this one does not understand. */
  versionTooNew: 'MSEG8001',
  /** state.json is not JSON or not shaped like a state file. */
  corrupt: 'MSEG8002',
  /** state.json could not be read or written (permissions, disk full, ...). */
  io: 'MSEG8003',
  /** A save was attempted with a state from another lineage (a different state file). */
  lineageMismatch: 'MSEG8004',
  /** A save was attempted from a state older than the one on disk (someone wrote in between). */
  serialConflict: 'MSEG8005',
  /** The state lock is held by another run and was not released before the timeout. */
  locked: 'MSEG8010',
  /** The state lock's holder process no longer exists on this machine. */
  staleLock: 'MSEG8011',
  /** force-unlock with an id that is not the current lock's. */
  unlockIdMismatch: 'MSEG8012',
  /** force-unlock / unlock when there is no lock. */
  notLocked: 'MSEG8013',
  /** The journal could not be appended to. */
  journal: 'MSEG8020',
} as const;
