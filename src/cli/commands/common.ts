/**
 * Shared wiring of the commands that read a configuration: load (HCL or TypeScript), validate,
 * and report diagnostics through a view. No policy logic lives here.
 */
import { loadConfig, LoadOptions } from '../../config/load';
import type { RawConfig } from '../../config/types';
import type { Diagnostic } from '../../diagnostics';
import { validateConfig } from '../../model/validate';
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

/** LoadedModel is a configuration after loading and validation. */
export interface LoadedModel {
  raw: RawConfig;
  model?: Model;
  diagnostics: Diagnostic[];
}

/** loadAndValidate runs the front end and validation, collecting every diagnostic of both. */
export async function loadAndValidate(dir: string, opts: VarOptions): Promise<LoadedModel> {
  const { vars, diagnostics: varDiags } = parseVarFlags(opts.var);
  if (varDiags.length > 0) {
    return { raw: { resources: [], outputs: {}, sources: new Map(), diagnostics: [] }, diagnostics: varDiags };
  }
  const loadOpts: LoadOptions = { vars, varFiles: opts.varFile ?? [], env: process.env };
  const raw = await loadConfig(dir, loadOpts);
  // Validated even after syntax or evaluation errors, so one run reports every problem: what
  // failed is marked unknown, and validation skips only the checks that depend on it.
  const { model, diagnostics } = validateConfig(raw);
  return { raw, model, diagnostics: [...raw.diagnostics, ...diagnostics] };
}
