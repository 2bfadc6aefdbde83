/**
 * Whether a policy is in force at the compile instant `now` (DESIGN §4: "disabled or expired or
 * out-of-schedule policies do nothing"). Compile is a snapshot: a scheduled policy changes the
 * desired ruleset only when compile runs again, so scheduled policies need a periodic plan/apply
 * (a drift job) to take effect on time.
 */
import { Cron } from 'croner';
import type { Diagnostic } from '../diagnostics';
import { makeDiagnostic } from '../diagnostics';
import type { NetworkPolicy } from '../model/types';
import { CODES } from './codes';

/** DEFAULT_ACTIVE_MS is how long a schedule tick lasts without `active_duration`: its minute. */
export const DEFAULT_ACTIVE_MS = 60_000;

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** parseDuration reads Go-style durations (`90s`, `30m`, `1h30m`, `1.5h`, `2d`); undefined if invalid. */
export function parseDuration(text: string): number | undefined {
  const s = text.trim();
  if (!/^(\d+(\.\d+)?(ms|s|m|h|d))+$/.test(s)) return undefined;
  let total = 0;
  for (const m of s.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)) total += Number(m[1]) * UNIT_MS[m[2]];
  return total > 0 ? total : undefined;
}

/**
 * policyActive decides whether a policy acts at `now`, and reports unusable time fields:
 * - `disabled` → inactive;
 * - `expirationTime` ≤ now → inactive (an unparseable time is an error, and the policy is
 *   treated as inactive: a broken expiry must not keep a rule alive forever);
 * - `activeSchedule`: active iff some cron tick t (in `timezone`, default UTC) has
 *   t ≤ now < t + activeDuration. Without `activeDuration` a tick lasts one minute, the cron
 *   granularity (a warning says so); an invalid cron, zone or duration is an error and inactive.
 */
export function policyActive(p: NetworkPolicy, now: Date): { active: boolean; diagnostics: Diagnostic[] } {
  const diags: Diagnostic[] = [];
  const inactive = (): { active: boolean; diagnostics: Diagnostic[] } => ({ active: false, diagnostics: diags });
  if (p.disabled) return inactive();
  if (p.expirationTime !== undefined) {
    const t = Date.parse(p.expirationTime);
    if (Number.isNaN(t)) {
      diags.push(
        makeDiagnostic('error', CODES.BAD_TIME, `Invalid expiration_time "${p.expirationTime}" in ${p.address}`,
          'Write an RFC 3339 instant such as "2025-01-31T18:00:00Z".', p.pos),
      );
      return inactive();
    }
    if (t <= now.getTime()) return inactive();
  }
  if (p.activeSchedule !== undefined) {
    let duration = DEFAULT_ACTIVE_MS;
    if (p.activeDuration !== undefined) {
      const d = parseDuration(p.activeDuration);
      if (d === undefined) {
        diags.push(
          makeDiagnostic('error', CODES.BAD_TIME, `Invalid active_duration "${p.activeDuration}" in ${p.address}`,
            'Write a duration such as "30m", "1h" or "1h30m".', p.pos),
        );
        return inactive();
      }
      duration = d;
    } else {
      diags.push(
        makeDiagnostic('warning', CODES.SCHEDULE_WITHOUT_DURATION,
          `${p.address} has active_schedule but no active_duration`,
          'The policy is active only during the minute of each schedule tick. Set active_duration (e.g. "1h") to say how long it lasts.', p.pos),
      );
    }
    let next: Date | null;
    try {
      const cron = new Cron(p.activeSchedule, { timezone: p.timezone || 'UTC', paused: true });
      // The first tick strictly after now - duration; active iff it is not after now.
      next = cron.nextRun(new Date(now.getTime() - duration));
      cron.stop();
    } catch (e) {
      diags.push(
        makeDiagnostic('error', CODES.BAD_SCHEDULE, `Invalid active_schedule "${p.activeSchedule}" in ${p.address}`,
          `${(e as Error).message}. Write a cron expression such as "0 8 * * 1-5" and an IANA timezone such as "Europe/Paris".`, p.pos),
      );
      return inactive();
    }
    if (next === null || next.getTime() > now.getTime()) return inactive();
  }
  return { active: true, diagnostics: diags };
}
