/**
 * State backends (DESIGN §6): what microseg last applied, per host, plus the lock and the apply
 * journal. See types.ts for the file format and the StateStore contract.
 */
export * from './types';
export { StateCodes } from './codes';
export { LocalStateStore, STATE_DIR, type LocalStateStoreOptions } from './local';
export { parseStateText, stateFileText, connectionFromRecord, connectionToRecord } from './schema';
export { newState, withHost, withoutHost, ownedFromLive } from './state';
export { atomicWriteFile, type AtomicWriteOptions } from './fsutil';
export { isProcessAlive, describeHolder, releaseHeldLocksSync } from './lock';
export { interruptedHosts, unfinishedHosts, parseJournal } from './journal';
export { PgStateStore, ciJobUrl, type PgStateStoreOptions, type WriteStats } from './pg/store';
export { MIGRATIONS, LATEST_SCHEMA_VERSION, migrate, type Migration } from './pg/migrations';
export { maskConnStr, redact } from './pg/secrets';
export {
  openStateStore,
  checkStateLocation,
  selectedWorkspace,
  checkWorkspaceName,
  localStateDir,
  DEFAULT_WORKSPACE,
  WORKSPACE_FILE,
  MIGRATED_SUFFIX,
  type OpenedStore,
} from './open';
