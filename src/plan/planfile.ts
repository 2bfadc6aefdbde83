/**
 * Saved plan files (`plan -out FILE`, `apply FILE`). A plan file is the Plan JSON itself
 * (PLAN_FORMAT_VERSION): the transactions apply runs per host, the desired rulesets it verifies
 * against, each host's live fingerprint, and the lineage and serial of the state it was made from,
 * so apply can refuse it once anything it was computed against has changed (Terraform: "Saved
 * plan is stale"). Every transaction is validated by its provider when the file is read.
 */
import { promises as fsp } from 'fs';
import { DiagnosticsError, makeDiagnostic, type Diagnostic } from '../diagnostics';
import { atomicWriteFile } from '../state/fsutil';
import type { StateFile } from '../state/types';
import { PACKAGE_VERSION } from '../version';
import { PlanCodes } from './codes';
import { PLAN_FORMAT_VERSION, type Plan } from './types';
import { providerFor } from '../../providers';
import type { Transaction } from '../../providers/transaction';

/** writePlanFile saves `plan` atomically, readable by its owner only. */
export async function writePlanFile(file: string, plan: Plan): Promise<void> {
  await atomicWriteFile(file, JSON.stringify(plan, null, 2) + '\n', { mode: 0o600 });
}

/** readPlanFile loads a plan file, or throws DiagnosticsError saying why it cannot be used. */
export async function readPlanFile(file: string): Promise<Plan> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (e) {
    throw unreadable(file, (e as Error).message);
  }
  return parsePlanText(text, file);
}

/** parsePlanText validates the text of a plan file (format version first, then shape). */
export function parsePlanText(text: string, file: string): Plan {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw unreadable(file, `It is not valid JSON: ${(e as Error).message}.`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw unreadable(file, 'It is not a JSON object.');
  const o = raw as Record<string, unknown>;
  if (o.format_version !== PLAN_FORMAT_VERSION) {
    if (o.format_version === undefined) throw unreadable(file, 'It has no format_version: it is not a microseg plan file.');
    throw new DiagnosticsError(
      [
        makeDiagnostic(
          'error',
          PlanCodes.planFileVersion,
          `Plan file ${file} has format version ${JSON.stringify(o.format_version)}; this microseg reads version ${PLAN_FORMAT_VERSION}`,
          `It was made by microseg ${typeof o.microseg_version === 'string' ? o.microseg_version : '(unknown)'}. Run \`microseg plan\` again with this one.`,
        ),
      ],
      'user',
    );
  }
  const problems: string[] = [];
  const need = (k: string, ok: (v: unknown) => boolean, what: string) => {
    if (!ok(o[k])) problems.push(`${k}: expected ${what}`);
  };
  const isObj = (v: unknown) => typeof v === 'object' && v !== null && !Array.isArray(v);
  need('microseg_version', (v) => typeof v === 'string', 'a string');
  need('created_at', (v) => typeof v === 'string', 'a string');
  need('lineage', (v) => typeof v === 'string', 'a string');
  need('serial', (v) => Number.isInteger(v) && (v as number) >= 0, 'a non-negative integer');
  need('resource_changes', Array.isArray, 'an array');
  need('hosts', (v) => Array.isArray(v) && v.every((h) => isObj(h) && typeof h.enforcer === 'string' && typeof h.action === 'string' && typeof h.live_fingerprint === 'string' && typeof h.reachable === 'boolean'), 'an array of host plans');
  need('desired', isObj, 'an object');
  need('connections', isObj, 'an object');
  need('diagnostics', Array.isArray, 'an array');
  if (problems.length) throw unreadable(file, `It is not shaped like a microseg plan:\n${problems.join('\n')}`);
  const plan = raw as Plan;
  for (const h of plan.hosts) {
    if (h.transactions !== undefined && !Array.isArray(h.transactions)) problems.push(`hosts.${h.enforcer}.transactions: expected an array`);
    (h.transactions ?? []).forEach((tx: Transaction, i) => {
      try {
        if (tx?.version !== 1 || !Array.isArray(tx.ops)) throw new Error('not a version 1 transaction');
        providerFor(tx.backend).validate(tx);
      } catch (e) {
        problems.push(`hosts.${h.enforcer}.transactions[${i}]: ${(e as Error).message}`);
      }
    });
  }
  if (problems.length) throw unreadable(file, `Its transactions cannot be run:\n${problems.join('\n')}`);
  return plan;
}

/**
 * checkPlanFresh says why a saved plan may no longer be applied, or [] when it may. It is stale
 * when the microseg version differs, when the state changed (lineage, serial, created or removed),
 * or when any host planned as reachable reads back a different live fingerprint (or cannot be
 * read). `liveFingerprints` maps enforcer → fingerprint read just now; hosts that could not be
 * read are absent.
 */
export function checkPlanFresh(
  plan: Plan,
  state: StateFile | undefined,
  liveFingerprints: ReadonlyMap<string, string> | { readonly [enforcer: string]: string },
  previousFingerprints: ReadonlyMap<string, string> = new Map(),
): Diagnostic[] {
  const fp = (e: string): string | undefined =>
    liveFingerprints instanceof Map ? liveFingerprints.get(e) : (liveFingerprints as Record<string, string>)[e];
  if (state && plan.lineage !== '' && state.lineage !== plan.lineage) {
    return [
      makeDiagnostic(
        'error',
        PlanCodes.planLineageMismatch,
        'Saved plan does not match the current state',
        `The plan was made from state lineage ${plan.lineage}; the current state has lineage ${state.lineage}. ` +
          'It belongs to another project or to a state that was re-created. Run `microseg plan` again.',
      ),
    ];
  }
  const reasons: string[] = [];
  if (plan.microseg_version !== PACKAGE_VERSION) {
    reasons.push(`the plan was made by microseg ${plan.microseg_version}; this is microseg ${PACKAGE_VERSION}`);
  }
  if (!state && plan.lineage !== '') reasons.push(`the state (serial ${plan.serial}) no longer exists`);
  else if (state && plan.lineage === '') reasons.push(`a state was created since the plan (now serial ${state.serial})`);
  else if (state && state.serial !== plan.serial) reasons.push(`the state changed: serial ${plan.serial} when planned, ${state.serial} now`);
  for (const h of plan.hosts) {
    if (!h.reachable) continue;
    const now = fp(h.enforcer);
    if (now === undefined) reasons.push(`enforcer "${h.enforcer}" could not be read back now`);
    else if (now !== h.live_fingerprint) reasons.push(`enforcer "${h.enforcer}" changed on the host: live fingerprint ${h.live_fingerprint} when planned, ${now} now`);
    if (h.previous_fingerprint !== undefined && previousFingerprints.get(h.enforcer) !== h.previous_fingerprint) {
      reasons.push(`enforcer "${h.enforcer}" changed on the host: what ${h.previous_backend} held when planned (to be cleaned up) is not what it holds now`);
    }
  }
  if (!reasons.length) return [];
  return [
    makeDiagnostic(
      'error',
      PlanCodes.stalePlan,
      'Saved plan is stale',
      `${reasons.map((r) => `- ${r}`).join('\n')}\nNothing was applied. Run \`microseg plan\` again and review the new plan.`,
    ),
  ];
}

function unreadable(file: string, why: string): DiagnosticsError {
  return new DiagnosticsError([makeDiagnostic('error', PlanCodes.planFileUnreadable, `Cannot use plan file ${file}`, why)], 'user');
}
