/**
 * suggest: turn observed flows (a saved `flows --json` document, or the named enforcers' collectors
 * read live) into HCL allow policies plus one expect block per flow, verify that the configuration
 * with the new file validates and that every expectation passes with audit mode off, then write
 * the file. Nothing is written to any host. Exit 0 when the file was written, 1 otherwise.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseDuration } from '../../apply/duration';
import { compile } from '../../compile';
import { makeDiagnostic, type Diagnostic } from '../../diagnostics';
import { isHclFile } from '../../config/hcl/load';
import { readFlows, selectEnforcers } from '../../flows/flows';
import type { FlowRecord } from '../../flows/records';
import { observationOff, suggest, SuggestCodes, type Suggestion } from '../../flows/suggest';
import { renderSuggestionHcl } from '../../flows/suggest-hcl';
import { readFlowRecords } from '../../flows/suggest-input';
import { runPipeline } from '../../pipeline';
import { evaluateExpectations } from '../../trace/expectations';
import type { CliDeps, Io } from '../io';
import { renderSuggestHuman, type SuggestOutcome } from '../views/suggest';
import { viewFor, type View } from '../views/view';
import type { CompileResult } from '../../compile';
import type { Model } from '../../model/types';
import { parseVarFlags, type VarOptions } from './common';
import { loadCompiled } from './trace';

export interface SuggestFlags extends VarOptions {
  fromFlows?: string;
  enforcer?: string[];
  since?: string;
  out?: string;
  force?: boolean;
  includeRejected?: boolean;
  json?: boolean;
}

/** DEFAULT_OUT: the file written beside the configuration when --out is not given (an *.hcl name, so it is read with it). */
export const DEFAULT_OUT = 'suggested.mseg.hcl';

export async function suggestCommand(io: Io, dir: string, flags: SuggestFlags, deps: CliDeps = {}, now: Date = new Date()): Promise<number> {
  const view = viewFor(io, flags.json);
  const flagProblems: Diagnostic[] = [];
  const live = (flags.enforcer ?? []).length > 0;
  if (!flags.fromFlows === !live) {
    flagProblems.push(makeDiagnostic('error', SuggestCodes.badSource, 'Say where the flows come from: --from-flows FILE or --enforcer NAME (one of them)', 'Save `microseg flows --json > flows.json` and pass --from-flows flows.json, or read the collectors live with --enforcer NAME.'));
  }
  let since: Date | undefined;
  if (flags.since !== undefined) {
    const ms = parseDuration(flags.since);
    if (ms === undefined) flagProblems.push(makeDiagnostic('error', SuggestCodes.badSince, `Invalid --since "${flags.since}"`, 'Write a duration such as 30m, 2h or 90s: only records that recent are used.'));
    else since = new Date(now.getTime() - ms);
  }
  if (fs.existsSync(path.join(dir, 'main.ts'))) {
    flagProblems.push(makeDiagnostic('error', SuggestCodes.typescriptConfig, `"${dir}" is a TypeScript configuration; suggest writes HCL`, 'Run suggest on an HCL configuration; a TypeScript configuration cannot hold the HCL file it writes (MSEG0002).'));
  }
  const out = flags.out ?? path.join(dir, DEFAULT_OUT);
  if (fs.existsSync(out) && !flags.force) {
    flagProblems.push(makeDiagnostic('error', SuggestCodes.outputExists, `${out} already exists`, 'Review and keep or remove the earlier suggestion, pass --out for another file, or --force to replace it.'));
  }
  if (flagProblems.length) return view.fail(flagProblems);

  // --force over a suggestion inside the directory: judge the configuration without it, as the
  // new file will replace it (else its policies would make every flow look already allowed).
  const replaced = fs.existsSync(out) && path.resolve(path.dirname(out)) === path.resolve(dir) && isHclFile(path.basename(out));
  const loaded = replaced ? await loadWithout(view, dir, out, flags, now) : await loadCompiled(view, dir, flags, now);
  if (!loaded) return 1;
  const { model } = loaded;

  let records: FlowRecord[];
  let source: string;
  if (flags.fromFlows) {
    let text: string;
    try {
      text = fs.readFileSync(flags.fromFlows, 'utf8');
    } catch (e) {
      return view.fail([makeDiagnostic('error', SuggestCodes.readFailed, `Cannot read ${flags.fromFlows}`, `${(e as Error).message}. Save the flows first: microseg flows --json > flows.json`)]);
    }
    const got = readFlowRecords(flags.fromFlows, text);
    if (got.diagnostics.length) return view.fail(got.diagnostics);
    records = got.records;
    source = flags.fromFlows;
  } else {
    const { unknown } = selectEnforcers(model, flags.enforcer);
    if (unknown.length) return view.fail(unknown.map((n) => makeDiagnostic('error', SuggestCodes.unknownEnforcer, `No enforcer "${n}" in the configuration`, 'Name an enforcer block of this configuration.')));
    const report = await readFlows({ model, rulesets: loaded.compiled.rulesets, enforcers: flags.enforcer, connect: deps.connect });
    const failed = report.hosts.filter((h) => h.error);
    if (failed.length) return view.fail(failed.map((h) => makeDiagnostic('error', SuggestCodes.hostFailed, `Cannot read the flows of enforcer ${h.enforcer}`, h.error, undefined)));
    // A suggestion from an incomplete log would leave real traffic out: say so, do not stop.
    const lossy = report.hosts.filter((h) => h.collector_lost > 0 || (h.rate_limited ?? 0) > 0 || h.collector_running === false);
    view.diagnostics(
      lossy.map((h) =>
        makeDiagnostic('warning', SuggestCodes.hostFailed, `The flows of enforcer ${h.enforcer} may be incomplete`, `${h.collector_running === false ? 'its collector is not running; ' : ''}${h.collector_lost} records lost by the collector, ${h.rate_limited ?? 'unknown'} kept out by the log rate limit. Connections missing from the log get no suggestion.`),
      ),
    );
    records = report.records;
    source = `the collectors of ${(flags.enforcer ?? []).join(', ')}`;
  }
  if (records.length === 0) {
    return view.fail([makeDiagnostic('error', SuggestCodes.emptyInput, `No flow records in ${source}`, 'Turn on logs_enabled or observation_enabled (audit mode) for the namespace, start the collector (microseg collector start), let traffic flow, then save `microseg flows --json`.')]);
  }

  const enforcing = compile(observationOff(model), { now }).rulesets;
  const suggestion = suggest(records, model, enforcing, { includeRejected: flags.includeRejected, since });
  const outcome: SuggestOutcome = { suggestion };
  const doc = () => ({ ...outcome.suggestion, ...(outcome.file ? { file: outcome.file } : {}), ...(outcome.verified ? { verified: outcome.verified } : {}), diagnostics: [] });
  if (suggestion.expects.length === 0) {
    view.diagnostics([makeDiagnostic('error', SuggestCodes.nothingUsable, `No flow in ${source} can be suggested`, 'Every flow was unsuggestable, left out, or before --since: see the list for why.')]);
    view.result((o) => renderSuggestHuman(o, outcome), doc);
    return 1;
  }

  const text = renderSuggestionHcl(suggestion, source);
  const check = await verify(dir, out, text, suggestion, flags);
  if (check.diagnostics.length) return view.fail(check.diagnostics);
  outcome.verified = check.verified;
  try {
    fs.writeFileSync(out, text, { flag: flags.force ? 'w' : 'wx' });
  } catch (e) {
    return view.fail([makeDiagnostic('error', SuggestCodes.writeFailed, `Cannot write ${out}`, (e as Error).message)]);
  }
  outcome.file = out;
  view.result((o) => renderSuggestHuman(o, outcome), doc);
  return 0;
}

/** withConfigCopy runs `fn` on a temporary copy of the directory's HCL files without `exclude`, plus `extra`. */
async function withConfigCopy<T>(dir: string, exclude: string, extra: { name: string; text: string } | undefined, fn: (tmp: string, here: (d: Diagnostic) => Diagnostic) => Promise<T>): Promise<T> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mseg-suggest-'));
  try {
    const excluded = path.resolve(exclude);
    for (const name of fs.readdirSync(dir)) {
      if (!isHclFile(name) || path.resolve(dir, name) === excluded) continue;
      fs.copyFileSync(path.join(dir, name), path.join(tmp, name));
    }
    if (extra) fs.writeFileSync(path.join(tmp, extra.name), extra.text);
    // Positions point at the user's files, not the copy.
    const here = (d: Diagnostic): Diagnostic => (d.file?.startsWith(tmp) ? { ...d, file: path.join(dir, path.relative(tmp, d.file)) } : d);
    return await fn(tmp, here);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** loadWithout is loadCompiled for the configuration without the file `exclude`. */
async function loadWithout(view: View, dir: string, exclude: string, flags: SuggestFlags, now: Date): Promise<{ model: Model; compiled: CompileResult } | undefined> {
  const { vars, diagnostics } = parseVarFlags(flags.var);
  if (diagnostics.length) {
    view.fail(diagnostics);
    return undefined;
  }
  return withConfigCopy(dir, exclude, undefined, async (tmp, here) => {
    const p = await runPipeline(tmp, { vars, varFiles: flags.varFile ?? [], env: process.env, compile: true, now });
    const ds = p.diagnostics.map(here);
    if (p.stage !== 'done' || !p.model || !p.compiled) {
      view.fail(ds, 'The configuration is invalid: {count}.');
      return undefined;
    }
    view.diagnostics(ds);
    return { model: p.model, compiled: p.compiled };
  });
}

/**
 * verify loads the configuration with the suggested file added (in a temporary copy of the
 * directory's HCL files, so nothing the user owns changes before it passes) and traces every
 * suggested expectation with the namespaces out of audit mode.
 */
async function verify(dir: string, out: string, text: string, s: Suggestion, flags: SuggestFlags): Promise<{ diagnostics: Diagnostic[]; verified?: { expects: number; passed: number } }> {
  const name = isHclFile(path.basename(out)) ? path.basename(out) : DEFAULT_OUT;
  return withConfigCopy(dir, out, { name, text }, async (tmp, here) => {
    const { vars } = parseVarFlags(flags.var);
    const p = await runPipeline(tmp, { vars, varFiles: flags.varFile ?? [], env: process.env });
    const errors = p.diagnostics.filter((d) => d.severity === 'error').map(here);
    if (errors.length || !p.model) {
      return { diagnostics: [makeDiagnostic('error', SuggestCodes.notVerified, 'The suggested policies do not validate with the configuration (a bug: please report it)', 'Nothing was written. The problems follow.'), ...errors] };
    }
    const model = observationOff(p.model);
    const mine = new Set(s.expects.map((e) => e.name));
    const compiled = compile(model, { now: new Date() });
    const results = evaluateExpectations({ ...model, expects: model.expects.filter((e) => mine.has(e.name)) }, compiled.rulesets);
    const failed = results.filter((r) => !r.pass);
    if (failed.length) {
      return {
        diagnostics: failed.map((r) =>
          makeDiagnostic('error', SuggestCodes.notVerified, `With the suggestion, ${r.from} → ${r.to} ${r.port} would be ${r.actual ?? 'untraceable'}, not allowed`, `Decided by ${r.decided_by ?? 'nothing'}. Nothing was written.${r.diagnostics.length ? ' ' + r.diagnostics.map((d) => d.summary).join('; ') : ''}`),
        ),
      };
    }
    return { diagnostics: [], verified: { expects: results.length, passed: results.length } };
  });
}
