/**
 * The sandbox: the configuration's netns enforcers built as real network namespaces on one bridge,
 * with listeners on every port the expectations name, so policies can be applied and checked with
 * real packets (`microseg sandbox up|down`, `microseg test --live`, `npm run demo`).
 */
export { CODES } from './codes';
export { DEFAULT_PREFIX, MARKER, SANDBOX_V4, SANDBOX_V6, allNamespaces, planSandbox, representative, usable } from './topology';
export type { ExternalAddress, HostAddress, ListenerSpec, SandboxHost, SandboxOptions, SandboxPlan } from './topology';
export { readRecord, recordPath, writeRecord, removeRecord } from './record';
export type { ListenerRecord, SandboxRecord } from './record';
export { sandboxFailure, dirTag, listNetns, notRootReason, sandboxDown, sandboxHealth, sandboxUp, socatArgs } from './sandbox';
export type { DownOptions, DownResult, Health, UpResult } from './sandbox';
export { classifyError, runLiveTests, send } from './live';
export type { HostSync, LiveCheck, LiveOptions, LiveOutcome, LivePacket, LiveReport, Verdict } from './live';
