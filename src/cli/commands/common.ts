/**
 * Shared wiring of the commands that read a configuration: `--var` flags and the pipeline
 * (load, validate, compile), reporting diagnostics through the command's view. No policy logic
 * lives here.
 */
import type { Diagnostic } from '../../diagnostics';
import { runPipeline, type PipelineResult } from '../../pipeline';
import { countLine } from '../views/diagnostics';
import type { View } from '../views/view';
import type { Model } from '../../model/types';

/** VarOptions are the commander options every config-reading command accepts. */
export interface VarOptions {
  var?: string[];
  varFile?: string[];
}

/** parseVarFlags turns repeated `--var k=v` into a map; a flag without `=` is a diagnostic. */
export function parseVarFlags(flags: string[] | undefined): { vars: Record<string, string>; diagnostics: Diagnostic[] } {
  const vars: Record<string, string> = {};
  const diagnostics: Diagnostic[] = [];
  for (const f of flags ?? []) {
    const eq = f.indexOf('=');
    if (eq <= 0) {
      diagnostics.push({
        severity: 'error',
        code: 'MSEG0010',
        summary: `Invalid --var "${f}"`,
        detail: 'Write --var NAME=VALUE, for example --var env=staging.',
      });
      continue;
    }
    vars[f.slice(0, eq)] = f.slice(eq + 1);
  }
  return { vars, diagnostics };
}

/**
 * loadConfiguration runs the pipeline (src/pipeline.ts) for a command: `--var` flags, then load,
 * validate and (with `compile`) compile. Every diagnostic goes to `view`. It returns undefined,
 * after the view said why, when the configuration cannot be used: invalid, or (with `compile`)
 * rules with errors — a trace or test of rules nobody can deploy would answer the wrong question.
 * `strict: false` returns a compiled result whose errors concern single hosts (`rules` judges its
 * one host itself).
 */
export async function loadConfiguration(
  view: View,
  dir: string,
  opts: VarOptions,
  stages: { compile?: boolean; now?: Date; strict?: boolean } = {},
): Promise<PipelineResult | undefined> {
  const { vars, diagnostics: varDiags } = parseVarFlags(opts.var);
  if (varDiags.length > 0) {
    view.fail(varDiags, 'The configuration is invalid: {count}.');
    return undefined;
  }
  const p = await runPipeline(dir, { vars, varFiles: opts.varFile ?? [], env: process.env, compile: stages.compile, now: stages.now });
  if (p.stage === 'load' || p.stage === 'validate') {
    view.fail(p.diagnostics, 'The configuration is invalid: {count}.', p.sources);
    return undefined;
  }
  if (p.stage === 'compile' && stages.strict !== false) {
    view.fail(p.diagnostics, `Cannot compile the rules: ${countLine(p.compiled!.diagnostics)}.`, p.sources);
    return undefined;
  }
  view.diagnostics(p.diagnostics, p.sources);
  return p;
}

/** loadAndValidate is the pipeline up to validation, for callers that report diagnostics themselves. */
export async function loadAndValidate(dir: string, opts: VarOptions): Promise<{ model?: Model; diagnostics: Diagnostic[]; sources: ReadonlyMap<string, string> }> {
  const { vars, diagnostics } = parseVarFlags(opts.var);
  if (diagnostics.length > 0) return { diagnostics, sources: new Map() };
  const p = await runPipeline(dir, { vars, varFiles: opts.varFile ?? [], env: process.env });
  return { model: p.model, diagnostics: p.diagnostics, sources: p.sources };
}
