/**
 * Views of `microseg agent`: the daemon's event log (one time-stamped line per event on stderr),
 * and `agent status`: human lines or the JSON document that monitoring reads, both from the same
 * Health verdict (src/agent/status.ts).
 */
import type { AgentStatus, Health } from '../../agent/status';
import type { Io } from '../io';

/** agentLog is the running agent's log sink: one line per event on stderr, time-stamped. */
export function agentLog(io: Io): (line: string) => void {
  return (line) => io.err(`${new Date().toISOString()} ${line}\n`);
}

/**
 * agentStatusJson is the `agent status --json` document: the verdict, its exit code and reasons,
 * and the status file it judged (absent when there was none to read; the reason says why).
 */
export function agentStatusJson(h: Health, status?: AgentStatus): Record<string, unknown> {
  return { verdict: h.verdict, exit: h.exit, reasons: h.reasons, ...(status ? { status } : {}), diagnostics: [] };
}

export function renderAgentStatusHuman(io: Io, s: AgentStatus, h: Health): void {
  const lines = [
    `agent ${s.enforcer}: ${h.verdict}`,
    `  phase         ${s.phase}`,
    `  server        ${s.server} (${s.server_state}${s.unreachable_since ? ` since ${s.unreachable_since}` : ''})`,
    `  applied       ${s.applied_etag ? `etag ${s.applied_etag} at ${s.applied_at}` : '(nothing yet)'}`,
    ...(s.latest_etag && s.latest_etag !== s.applied_etag ? [`  latest        etag ${s.latest_etag}`] : []),
    `  fingerprint   ${s.live_fingerprint || '-'}`,
    `  drift         ${s.drift && s.drift.length ? s.drift.map((d) => `${d.kind} ${d.object}`).join('; ') : 'none'}${s.last_drift_check_at ? ` (checked ${s.last_drift_check_at})` : ''}`,
    ...(s.cert ? [`  certificate   ${s.cert.serial} until ${s.cert.not_after}, renews at ${s.cert.renew_at}`] : []),
    `  updated       ${s.updated_at}`,
    ...h.reasons.map((x) => `  - ${x.code ? `${x.code} ` : ''}${x.message}`),
  ];
  io.out(lines.join('\n') + '\n');
}
