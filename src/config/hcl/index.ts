/**
 * The HCL front end: a hand-written parser and evaluator for HCL native and JSON syntax that
 * produces a RawConfig with source positions (see src/config/types.ts).
 */
export type { HclFile, Body, Block, Attribute, Expr, TemplatePart } from './ast';
export { Codes } from './codes';
export { evaluateHcl, ENV_PREFIX, type HclInputs } from './config';
export { loadHclDir, isHclFile, type LoadHclOptions } from './load';
export { parseHcl } from './parse';
export { parseExpression, type ParseResult } from './parser';
export { FUNCTIONS } from './functions';
