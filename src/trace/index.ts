/**
 * Trace and policy tests (pure): what compiled rulesets do with one connection and why, every
 * `expect` checked, and which connections flip verdict between two configurations.
 */
export { traceFlow, flowQuery, decidingSide, decidingPolicy, dependsText, caseText } from './trace';
export type { FlowQuery, TraceOptions, FlowResult, FlowTrace, FlowVerdict, FlowCase, InterfaceCondition, AddressClass, PuAddressTrace, SideTrace, SideVerdict, LoggedRule, Rulesets } from './trace';
export { parseConnectionPort, resolveEndpoint } from './query';
export type { ConnectionPort, Endpoint, EndpointInfo } from './query';
export { evaluateExpectations } from './expectations';
export type { ExpectationResult } from './expectations';
export { explainChanges, probePorts } from './explain';
export type { VerdictFlip } from './explain';
export { CODES } from './codes';
