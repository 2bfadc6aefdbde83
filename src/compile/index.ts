/**
 * The compile stage's public surface: `compile(model, {now})` → one DesiredRuleset per enforcer
 * plus diagnostics. Pure; see compile.ts for the ruleset layout and semantics.
 */
export { compile, MIN_SERVICE_PORTS_VERSION } from './compile';
export type { CompileOptions, CompileResult } from './compile';
export { CODES } from './codes';
export { LOG_GROUP, DISPATCH_CHAINS, puChainName, setName, ruleId, logPrefix, policyHash, canonicalJson } from './names';
export { policyActive, parseDuration } from './activity';
export type * from './ir';
