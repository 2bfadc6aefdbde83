/**
 * The agent's status file (`STATE_DIR/status.json`) and what `microseg agent status` makes of it
 * for monitoring systems (the seed's #618): exit 0 healthy, 1 error, 2 not converged.
 *
 * The running agent rewrites the file after every pull, convergence and failed attempt (atomic
 * rename, mode 0644: it holds no secret, and a monitoring user may read it). `agent status` reads
 * only this file: it works with the server down and never touches the kernel.
 */
import { promises as fsp } from 'fs';
import * as path from 'path';
import { atomicWriteFile } from '../state/fsutil';
import { AgentCodes } from './codes';

export const AGENT_STATUS_FORMAT = 'microseg.agent-status/1';

export interface AgentStatus {
  format: typeof AGENT_STATUS_FORMAT;
  enforcer: string;
  pid: number;
  server: string;
  /** When the agent last wrote this file. */
  updated_at: string;
  /** How often a running agent rewrites this file at least (its long-poll wait plus slack). */
  heartbeat_ms: number;
  /**
   * `converged`: the host holds the newest document the agent knows; `applying`: working on it;
   * `failed`: the newest document could not be applied or was refused; `waiting`: nothing
   * published yet or not pulled yet; `decommissioned`: the host was cleaned up on request.
   */
  phase: 'starting' | 'waiting' | 'applying' | 'converged' | 'failed' | 'decommissioned';
  /** The etag of the document the host holds (last good), and when it was applied. */
  applied_etag?: string;
  applied_at?: string;
  /** The etag of the newest document pulled (differs from applied_etag when that one failed). */
  latest_etag?: string;
  /** `unreachable`: the last request failed; the agent keeps enforcing `applied_etag` (fail static). */
  server_state: 'unknown' | 'reachable' | 'unreachable';
  unreachable_since?: string;
  next_retry_at?: string;
  live_fingerprint?: string;
  drift?: Array<{ object: string; kind: string }>;
  last_drift_check_at?: string;
  last_error?: { code: string; message: string; at: string };
  cert?: { serial: string; not_after: string; ca_id: string; renew_at: string };
}

export const STATUS_FILE = 'status.json';

/** writeStatus replaces the status file atomically. */
export async function writeStatus(stateDir: string, status: AgentStatus): Promise<void> {
  await atomicWriteFile(path.join(stateDir, STATUS_FILE), JSON.stringify(status, null, 2) + '\n', { mode: 0o644 });
}

export type StatusRead = { ok: true; status: AgentStatus } | { ok: false; code: string; message: string };

/** readStatus reads the status file; a missing or unreadable one is data (exit 1), never a throw. */
export async function readStatus(stateDir: string): Promise<StatusRead> {
  const file = path.join(stateDir, STATUS_FILE);
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (e) {
    return { ok: false, code: AgentCodes.statusMissing, message: `no agent status at ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): is the agent running with --state-dir ${stateDir}?` };
  }
  try {
    const v = JSON.parse(text) as AgentStatus;
    if (v.format !== AGENT_STATUS_FORMAT) throw new Error(`format ${JSON.stringify(v.format)}`);
    return { ok: true, status: v };
  } catch (e) {
    return { ok: false, code: AgentCodes.statusMissing, message: `the agent status at ${file} is unreadable: ${(e as Error).message}` };
  }
}

export interface HealthOptions {
  /** How long the server may be unreachable before that is an error (default 5 min; rules are kept meanwhile). */
  unreachableGraceMs?: number;
}

export interface Health {
  /** 0 healthy, 1 error, 2 not converged. */
  exit: 0 | 1 | 2;
  verdict: 'healthy' | 'error' | 'not-converged';
  reasons: Array<{ code?: string; message: string }>;
}

/**
 * health judges a status (pure). Errors (1): the agent stopped writing its status (not running),
 * the newest document failed or was refused, its certificate expired, or the server has been
 * unreachable longer than the grace. Not converged (2): nothing applied yet, or the host is
 * still working on (or waiting for) the newest document. Otherwise healthy (0), including a
 * short server outage during which the last good rules are enforced.
 */
export function health(s: AgentStatus, now: Date, opts: HealthOptions = {}): Health {
  const errors: Health['reasons'] = [];
  const pending: Health['reasons'] = [];
  const age = now.getTime() - Date.parse(s.updated_at);
  const staleAfter = 3 * s.heartbeat_ms + 60_000;
  if (!(age <= staleAfter)) {
    errors.push({ code: AgentCodes.statusStale, message: `the agent has not updated its status since ${s.updated_at} (more than ${Math.round(staleAfter / 1000)} s): it is not running or is stuck` });
  }
  if (s.phase === 'failed') {
    errors.push({ code: s.last_error?.code, message: `the newest document${s.latest_etag ? ` (etag ${s.latest_etag})` : ''} was not applied: ${s.last_error?.message ?? 'unknown error'}` });
  }
  if (s.cert && Date.parse(s.cert.not_after) <= now.getTime()) {
    errors.push({ code: AgentCodes.certificateExpired, message: `the agent's certificate expired at ${s.cert.not_after}` });
  }
  const grace = opts.unreachableGraceMs ?? 300_000;
  if (s.server_state === 'unreachable' && s.unreachable_since && now.getTime() - Date.parse(s.unreachable_since) > grace) {
    errors.push({
      code: s.last_error?.code ?? AgentCodes.serverUnreachable,
      message: `the server has been unreachable since ${s.unreachable_since}; the host keeps enforcing ${s.applied_etag ? `etag ${s.applied_etag}` : 'what it held'}`,
    });
  }
  if (s.phase !== 'decommissioned') {
    if (!s.applied_etag) pending.push({ message: 'no published document has been applied on this host yet' });
    else if (s.phase === 'applying' || s.phase === 'waiting' || s.phase === 'starting') pending.push({ message: `the agent is ${s.phase}` });
    else if (s.latest_etag && s.latest_etag !== s.applied_etag && s.phase !== 'failed') pending.push({ message: `etag ${s.latest_etag} is published; the host holds ${s.applied_etag}` });
  }
  if (errors.length > 0) return { exit: 1, verdict: 'error', reasons: [...errors, ...pending] };
  if (pending.length > 0) return { exit: 2, verdict: 'not-converged', reasons: pending };
  return { exit: 0, verdict: 'healthy', reasons: [] };
}
