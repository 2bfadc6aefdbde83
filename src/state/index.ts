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
export { isProcessAlive, describeHolder } from './lock';
export { interruptedHosts, unfinishedHosts, parseJournal } from './journal';
