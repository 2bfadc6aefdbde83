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
import { PLAN_FORMAT_VERSION, type HostPlan, type Plan } from './types';
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

/**
 * checkPlanIntegrity compares a saved plan with `again`, the plan its recorded source
 * (Plan.source) gives now against the same state and hosts, and says why the saved one may not be
 * applied, or [] when every field that drives apply is identical: desired rulesets, connections,
 * model and resource changes, and per host its action, backend, fingerprints, blocks,
 * transactions and read scope. A plan file is plain JSON a person can edit (say, one rule
 * `accept` everything); apply runs only transactions the configuration itself plans. UI-only
 * fields (the per-object lists, drift, diagnostics, created_at) are not compared: apply ignores
 * them. Run after checkPlanFresh, which explains a changed state or host better.
 */
export function checkPlanIntegrity(saved: Plan, again: Plan, file = 'the saved plan'): Diagnostic[] {
  const diffs: string[] = [];
  const differ = (what: string, a: unknown, b: unknown) => {
    if (canonicalJson(a) !== canonicalJson(b)) diffs.push(what);
  };
  const enforcers = [...new Set([...Object.keys(saved.desired ?? {}), ...Object.keys(again.desired)])].sort();
  for (const e of enforcers) {
    const a = saved.desired?.[e];
    const b = again.desired[e];
    if (!a || !b) differ(`desired ruleset of enforcer "${e}" (${a ? 'the configuration has none' : 'missing from the plan file'})`, a, b);
    else {
      differ(`sets of enforcer "${e}"`, a.sets, b.sets);
      const chains = [...new Set([...(a.chains ?? []).map((c) => c.name), ...b.chains.map((c) => c.name)])].sort();
      for (const c of chains) differ(`rules of chain ${c} of enforcer "${e}"`, a.chains?.find((x) => x.name === c), b.chains.find((x) => x.name === c));
      const { sets: _s, chains: _c, ...restA } = a;
      const { sets: _s2, chains: _c2, ...restB } = b;
      differ(`desired ruleset of enforcer "${e}"`, restA, restB);
    }
  }
  differ('connections', saved.connections, again.connections);
  // Source positions in the model name files as the command line spelled the directory; where
  // apply runs from may spell it differently, and positions never change what is applied.
  if (canonicalJson(saved.model ?? null, ['pos']) !== canonicalJson(again.model ?? null, ['pos'])) diffs.push('model');
  differ('resource changes', saved.resource_changes, again.resource_changes);
  const hostKey = (h: HostPlan) => ({
    enforcer: h.enforcer,
    backend: h.backend,
    previous_backend: h.previous_backend ?? null,
    action: h.action,
    reachable: h.reachable,
    live_fingerprint: h.live_fingerprint,
    previous_fingerprint: h.previous_fingerprint ?? null,
    blocked_by: h.blocked_by ?? null,
    read_scope: h.read_scope ?? null,
  });
  const names = [...new Set([...saved.hosts.map((h) => h.enforcer), ...again.hosts.map((h) => h.enforcer)])].sort();
  for (const n of names) {
    const a = saved.hosts.find((h) => h.enforcer === n);
    const b = again.hosts.find((h) => h.enforcer === n);
    if (!a || !b) {
      diffs.push(`enforcer "${n}" (${a ? 'not planned by the configuration' : 'missing from the plan file'})`);
      continue;
    }
    differ(`what apply does to enforcer "${n}"`, hostKey(a), hostKey(b));
    differ(`transactions of enforcer "${n}"`, a.transactions ?? [], b.transactions ?? []);
  }
  if (diffs.length === 0) return [];
  const shown = diffs.slice(0, 10).map((d) => `- ${d}`);
  if (diffs.length > 10) shown.push(`- and ${diffs.length - 10} more`);
  return [
    makeDiagnostic(
      'error',
      PlanCodes.planTampered,
      'Saved plan does not match its configuration',
      `${file} is not what the configuration in ${saved.source?.dir ?? '(unknown)'} plans against the same state and hosts:\n${shown.join('\n')}\n` +
        'The file was edited after `microseg plan -out`, or the configuration, its variables or a time-dependent policy ' +
        '(schedule, expiration) changed since. Nothing was applied and no host was changed. Run `microseg plan -out` again and review the new plan.',
    ),
  ];
}

/** canonicalJson is JSON with object keys sorted, so equal data compares equal whatever its key order. */
export function canonicalJson(v: unknown, omit: readonly string[] = []): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    x && typeof x === 'object' && !Array.isArray(x)
      ? Object.fromEntries(
          Object.keys(x as object)
            .filter((k) => !omit.includes(k))
            .sort()
            .map((k) => [k, (x as Record<string, unknown>)[k]]),
        )
      : x,
  );
}
