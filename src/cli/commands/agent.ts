/**
 * `microseg agent` (runs on the enforcer host as root) and `microseg agent status` (for monitoring:
 * exit 0 healthy, 1 error, 2 not converged; the seed's #618). The agent logs one line per event on
 * stderr; it never logs a token, a key or a document's rules.
 */
import * as os from 'os';
import * as path from 'path';
import { Agent } from '../../agent/agent';
import { AgentCodes } from '../../agent/codes';
import { health, readStatus } from '../../agent/status';
import { DiagnosticsError, makeDiagnostic } from '../../diagnostics';
import { NETNS_NAME, type Connection } from '../../hosts/connection';
import type { CliDeps, Io } from '../io';
import { agentLog, agentStatusJson, renderAgentStatusHuman } from '../views/agent';
import { viewFor } from '../views/view';

export const DEFAULT_AGENT_STATE_DIR = '/var/lib/microseg-agent';

export interface AgentFlags {
  server?: string;
  caFile?: string;
  tokenFile?: string;
  certDir?: string;
  enforcer?: string;
  once?: boolean;
  stateDir?: string;
  netns?: string;
  wait?: string;
  timeout?: string;
  driftInterval?: string;
  trustInterval?: string;
  backoffCap?: string;
}

function seconds(flag: string, v: string | undefined, dflt: number, min: number, max: number): number {
  if (v === undefined) return dflt;
  const n = Number(v.replace(/s$/, ''));
  if (!Number.isFinite(n) || n < min || n > max) {
    throw new DiagnosticsError([makeDiagnostic('error', AgentCodes.badFlags, `${flag} ${JSON.stringify(v)} must be a number of seconds from ${min} to ${max}`)]);
  }
  return n;
}

export async function agentCommand(io: Io, flags: AgentFlags, deps: CliDeps = {}, stop?: AbortSignal): Promise<number> {
  const view = viewFor(io, false);
  try {
    const bad: string[] = [];
    if (!flags.server || !/^https:\/\/[^/\s]+\/?$/.test(flags.server)) bad.push('--server must be https://HOST:PORT');
    if (!flags.caFile) bad.push('--ca-file FILE is required (the trust bundle: `microseg ca bundle`)');
    if (flags.netns !== undefined && !NETNS_NAME.test(flags.netns)) bad.push(`--netns ${JSON.stringify(flags.netns)} is not a namespace name`);
    if (bad.length) throw new DiagnosticsError(bad.map((b) => makeDiagnostic('error', AgentCodes.badFlags, b)));
    const stateDir = path.resolve(flags.stateDir ?? DEFAULT_AGENT_STATE_DIR);
    const connection: Connection = flags.netns ? { type: 'netns', netns: flags.netns } : { type: 'local' };
    const agent = new Agent({
      server: flags.server!.replace(/\/$/, ''),
      caFile: flags.caFile!,
      tokenFile: flags.tokenFile,
      certDir: path.resolve(flags.certDir ?? path.join(stateDir, 'identity')),
      stateDir,
      enforcer: flags.enforcer ?? os.hostname(),
      connection,
      connect: deps.connect,
      log: agentLog(io),
      waitS: seconds('--wait', flags.wait, 30, 1, 60),
      requestTimeoutMs: seconds('--timeout', flags.timeout, 15, 1, 600) * 1000,
      driftIntervalMs: seconds('--drift-interval', flags.driftInterval, 60, 1, 86_400) * 1000,
      trustIntervalMs: seconds('--trust-interval', flags.trustInterval, 60, 1, 86_400) * 1000,
      backoff: { baseMs: 1000, capMs: seconds('--backoff-cap', flags.backoffCap, 60, 1, 3600) * 1000 },
    });
    if (flags.once) return await agent.once();
    const signal = stop ?? signalled();
    return await agent.run(signal);
  } catch (e) {
    return view.thrown(e);
  }
}

function signalled(): AbortSignal {
  const c = new AbortController();
  process.once('SIGINT', () => c.abort());
  process.once('SIGTERM', () => c.abort());
  return c.signal;
}

export interface AgentStatusFlags {
  stateDir?: string;
  json?: boolean;
  unreachableGrace?: string;
}

/** agentStatusCommand reads the status file only: exit 0 healthy, 1 error, 2 not converged. */
export async function agentStatusCommand(io: Io, flags: AgentStatusFlags, now: Date = new Date()): Promise<number> {
  const view = viewFor(io, flags.json);
  let grace: number;
  try {
    grace = seconds('--unreachable-grace', flags.unreachableGrace, 300, 0, 86_400) * 1000;
  } catch (e) {
    return view.thrown(e);
  }
  const stateDir = path.resolve(flags.stateDir ?? DEFAULT_AGENT_STATE_DIR);
  const r = await readStatus(stateDir);
  if (!r.ok) {
    // Monitoring reads the same document shape either way: verdict `error`, exit 1, the reason.
    view.diagnostics([makeDiagnostic('error', r.code, 'Cannot read the agent status', r.message)]);
    view.result(() => undefined, () => agentStatusJson({ verdict: 'error', exit: 1, reasons: [{ code: r.code, message: r.message }] }));
    return 1;
  }
  const h = health(r.status, now, { unreachableGraceMs: grace });
  view.result((out) => renderAgentStatusHuman(out, r.status, h), () => agentStatusJson(h, r.status));
  return h.exit;
}
