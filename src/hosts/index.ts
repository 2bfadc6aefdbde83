/** Host transports: where a provider's commands run. */
export type { CommandResult, Host } from './types';
export { DEFAULT_TIMEOUT_MS, HostCommandError, runProcess } from './exec';
export type { RunOptions } from './exec';
export { LocalHost } from './local';
export { NetnsHost } from './netns';
export { SshHost, SshConnectionError, shellQuote, remoteCommandLine, type SshHostOptions } from './ssh';
export { runAll, runSequence, batchScript, sequenceScript, splitBatch, newMark, type RunManyOptions, type SequenceStep } from './batch';
export { hostFor, GuardedHost, HostUnreachableError, UnavailableHost, isUnreachable, type HostFactory } from './factory';
export { mapLimit } from './pool';
export { describeConnection, connectionRecord, NETNS_NAME, type Connection } from './connection';
