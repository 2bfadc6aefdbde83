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

  // ---- MSEG84xx: backend selection, the pg backend, workspaces, moving state (MSEG8400–8404 are
  // the settings block's, src/config/settings.ts) ----
  /** backend "pg" without conn_str and without PG_CONN_STR in the environment. */
  noConnStr: 'MSEG8410',
  /** PostgreSQL could not be reached or refused the login (wrong password, no such database). */
  pgConnect: 'MSEG8411',
  /** A query failed, or the connection was lost mid-run (the lock went with it). */
  pgQuery: 'MSEG8412',
  /** The schema was migrated by a newer microseg than this one. */
  schemaTooNew: 'MSEG8413',
  /** A schema migration failed (nothing of it was kept: each runs in one transaction). */
  migration: 'MSEG8414',
  /** The configured backend is not where the state is: run `microseg init -migrate-state`. */
  backendMismatch: 'MSEG8420',
  /** init -migrate-state refused (the destination holds another lineage or a newer serial). */
  migrateRefused: 'MSEG8421',
  /** No such workspace. */
  noWorkspace: 'MSEG8430',
  /** workspace new: it exists already. */
  workspaceExists: 'MSEG8431',
  /** A workspace name that is not [A-Za-z0-9_.-]{1,90}. */
  badWorkspaceName: 'MSEG8432',
  /** workspace delete refused: the default or current workspace, or one whose state still owns hosts. */
  workspaceDeleteRefused: 'MSEG8433',
  /** The local backend has only the default workspace. */
  workspacesUnsupported: 'MSEG8434',
  /** state push refused: another lineage or a lower serial than the stored state (without -force). */
  pushRefused: 'MSEG8440',
  /** state push: FILE is not a readable state. */
  pushUnreadable: 'MSEG8441',
  /** force-unlock refused: the holder's database session is alive (the run is still going). */
  holderAlive: 'MSEG8450',
  /** state show / state rm: the address names neither a resource nor a host the state records. */
  addressNotInState: 'MSEG8300',
} as const;
