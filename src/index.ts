/**
 * microseg's public package API: what `import { ... } from "microseg"` gives a TypeScript
 * configuration (DESIGN §3). The resource classes mirror the HCL blocks; `App.synth()` produces
 * the same RawConfig the HCL front end does.
 *
 * This entry is also the module the loader hands to user programs for "microseg" (see
 * src/config/typescript/loader.ts), and the declarations their type checking runs against, so
 * it re-exports only the front end: no loader, no Node APIs.
 */
export { Construct } from 'constructs';
export { App, Output } from './config/typescript/app';
export type { AppProps, OutputProps } from './config/typescript/app';
export {
  Resource,
  Namespace,
  Enforcer,
  EnforcerProfile,
  ProcessingUnit,
  ExternalNetwork,
  NetworkPolicy,
  EnforcerToken,
  Expect,
  isResource,
} from './config/typescript/resources';
export type {
  CommonProps,
  ConnectionProps,
  NamespaceProps,
  EnforcerProps,
  EnforcerProfileProps,
  ProcessingUnitProps,
  ExternalNetworkProps,
  NetworkPolicyProps,
  EnforcerTokenProps,
  ExpectProps,
  DefaultAction,
  PolicyAction,
  ApplyPolicyMode,
  Backend,
  TagExpression,
} from './config/typescript/resources';
export type { RawConfig, RawResource, Value } from './config/types';
export type { Diagnostic, SourcePos, Severity } from './diagnostics';
export type { TsBackendProps } from './config/settings';
