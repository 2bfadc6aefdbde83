/**
 * trace: what the compiled rules do with one new connection, and which policy and rule decided
 * on each side. No host access: it walks the rulesets compile produces for the hosts.
 * Exit 0 whatever the verdict (the trace succeeded), 1 when the configuration or query is wrong.
 */
import type { CompileResult } from '../../compile';
import type { Model } from '../../model/types';
import { flowQuery, traceFlow } from '../../trace/trace';
import type { Io } from '../io';
import { renderTraceHuman, traceJson } from '../views/trace';
import { viewFor, type View } from '../views/view';
import { loadConfiguration, type VarOptions } from './common';

/**
 * loadCompiled loads, validates and compiles `dir` at `now` (the pipeline), reporting through
 * `view`. Undefined (after the view said why) when the configuration or any host's rules have
 * errors: a trace of rules that cannot be applied would answer a question nobody can deploy.
 */
export async function loadCompiled(view: View, dir: string, opts: VarOptions, now: Date = new Date()): Promise<{ model: Model; compiled: CompileResult } | undefined> {
  const p = await loadConfiguration(view, dir, opts, { compile: true, now });
  return p ? { model: p.model!, compiled: p.compiled! } : undefined;
}

export interface TraceOptions extends VarOptions {
  from: string;
  to: string;
  port: string;
  interface?: string;
  iif?: string;
  oif?: string;
  json?: boolean;
}

export async function traceCommand(io: Io, dir: string, opts: TraceOptions): Promise<number> {
  const view = viewFor(io, opts.json);
  const loaded = await loadCompiled(view, dir, opts);
  if (!loaded) return 1;
  const { trace, diagnostics } = traceFlow(loaded.model, loaded.compiled.rulesets, flowQuery(opts));
  if (!trace) return view.fail(diagnostics);
  view.diagnostics(diagnostics);
  view.result((out) => renderTraceHuman(out, trace), () => traceJson(trace));
  return 0;
}
