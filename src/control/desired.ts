/**
 * The two documents an agent and the control plane exchange (DESIGN §8 agents): what the reconciler
 * publishes for one enforcer (AgentDesired) and what the agent reports back (AgentReport).
 *
 * Both are typed data, never shell text: the agent compiles nothing and runs no script it was sent;
 * it plans the published DesiredRuleset against its own kernel with the same providers and
 * verification as `apply`. The publishing side (`apply` with `connection { type = "agent" }`) and
 * the agent side (`microseg agent`) depend on this module only, so either can change without the
 * other as long as the format string is bumped on incompatible change.
 */
import type { DesiredRuleset } from '../compile/ir';
import type { BackendName } from '../../providers/types';

export const AGENT_DESIRED_FORMAT = 'microseg.agent-desired/1';
export const AGENT_REPORT_FORMAT = 'microseg.agent-report/1';

/**
 * AgentDesired is one enforcer's published state. `apply` makes the agent converge on `ruleset`;
 * `decommission` makes it remove every object microseg owns on the host and report `clean`.
 */
export interface AgentDesired {
  format: typeof AGENT_DESIRED_FORMAT;
  enforcer: string;
  workspace: string;
  /** The state lineage and serial of the apply that published this; a report names them back. */
  lineage: string;
  serial: number;
  action: 'apply' | 'decommission';
  /** The enforcer's configured backend; `auto` lets the agent detect it as `apply` does. */
  backend: BackendName | 'auto';
  /** Present exactly when action is `apply`. */
  ruleset?: DesiredRuleset;
  published_at: string;
}

/** AgentReportStatus is where an agent stands with the ruleset named by the report's etag. */
export type AgentReportStatus = 'applied' | 'failed' | 'clean' | 'applying' | 'unreachable-server';

/** AgentReport is what an agent posts after each convergence (and periodically). */
export interface AgentReport {
  format: typeof AGENT_REPORT_FORMAT;
  enforcer: string;
  /** The etag of the published document this report is about ('' before the first pull). */
  etag: string;
  lineage: string;
  serial: number;
  status: AgentReportStatus;
  backend?: BackendName;
  /** LiveRuleset.fingerprint read back after the last apply (or check). */
  live_fingerprint: string;
  /** Drift found on the host since the last apply, as plan describes it (object names, kinds). */
  drift: Array<{ object: string; kind: string }>;
  /** Whether the agent repaired the drift it lists. */
  repaired: boolean;
  /** A diagnostic code and message when status is `failed`. */
  error?: { code: string; message: string };
  /** CA ids the agent trusts now (drives CA rotation, POST /v1/report `trusts`). */
  trusts?: string[];
  agent_version: string;
  at: string;
}
