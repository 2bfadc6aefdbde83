/**
 * The pipeline every command that reads a configuration runs (DESIGN §1): load (HCL, TypeScript)
 * → validate (every diagnostic of the model at once, also after front-end errors, whose unknown
 * parts it skips) → compile (pure: a DesiredRuleset per enforcer), which runs only on a valid
 * model. It returns everything found, so `validate`, `inspect`, `rules`, `trace`, `test`, `sandbox`, `plan`, `apply` and `drift` judge
 * one configuration the same way.
 */
import { compile, type CompileResult } from './compile';
import { loadConfig } from './config/load';
import type { Diagnostic } from './diagnostics';
import { validateConfig } from './model/validate';
import type { Model } from './model/types';
import type { ProgressSink } from './progress';

export interface PipelineOptions {
  vars?: Record<string, string>;
  varFiles?: string[];
  env?: NodeJS.ProcessEnv;
  /** Compile too (default: stop after validation). */
  compile?: boolean;
  /** The instant schedules and expirations are judged at (compile). */
  now?: Date;
  /** Told as files are parsed and when validation starts (a terminal shows it; see src/progress.ts). */
  progress?: ProgressSink;
}

/** PipelineStage is how far a configuration got: `done` means every requested stage passed. */
export type PipelineStage = 'load' | 'validate' | 'compile' | 'done';

export interface PipelineResult {
  /** The stage that reported errors, or `done`. */
  stage: PipelineStage;
  /** Source text by file, for rendering diagnostics with their lines. */
  sources: ReadonlyMap<string, string>;
  /** The validated model (absent when load or validation failed). */
  model?: Model;
  /** The compile result (with `compile`, when the model is valid; it may hold host-scoped errors). */
  compiled?: CompileResult;
  /** Every diagnostic of the stages that ran, in stage order. */
  diagnostics: Diagnostic[];
}

const hasErrors = (ds: readonly Diagnostic[]) => ds.some((d) => d.severity === 'error');

/** runPipeline loads `dir` and runs the stages `opts` asks for. Never throws for the configuration's sake. */
export async function runPipeline(dir: string, opts: PipelineOptions = {}): Promise<PipelineResult> {
  const raw = await loadConfig(dir, { vars: opts.vars ?? {}, varFiles: opts.varFiles ?? [], env: opts.env ?? process.env, progress: opts.progress });
  opts.progress?.({ phase: 'validate', done: 0, total: raw.resources.length });
  // Validated even after syntax or evaluation errors, so one run reports every problem: what
  // failed is marked unknown, and validation skips only the checks that depend on it.
  const { model, diagnostics } = validateConfig(raw);
  const validated = [...raw.diagnostics, ...diagnostics];
  if (hasErrors(raw.diagnostics)) return { stage: 'load', sources: raw.sources, diagnostics: validated };
  if (hasErrors(validated) || !model) return { stage: 'validate', sources: raw.sources, diagnostics: validated };
  if (!opts.compile) return { stage: 'done', sources: raw.sources, model, diagnostics: validated };
  const compiled = compile(model, { now: opts.now ?? new Date() });
  return {
    stage: hasErrors(compiled.diagnostics) ? 'compile' : 'done',
    sources: raw.sources,
    model,
    compiled,
    diagnostics: [...validated, ...compiled.diagnostics],
  };
}
