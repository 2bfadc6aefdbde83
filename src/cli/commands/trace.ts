/**
 * trace: what the compiled rules do with one new connection, and which policy and rule decided
 * on each side. No host access: it walks the rulesets compile produces for the hosts.
 * Exit 0 whatever the verdict (the trace succeeded), 1 when the configuration or query is wrong.
 */
import { compile } from '../../compile';
import type { CompileResult } from '../../compile';
import type { Model } from '../../model/types';
import { flowQuery, traceFlow } from '../../trace/trace';
import type { Io } from '../io';
import { countLine, renderDiagnosticsHuman } from '../views/diagnostics';
import { renderTraceHuman, traceJson } from '../views/trace';
import { loadAndValidate, VarOptions } from './common';

/**
 * loadCompiled loads, validates and compiles `dir` at `now`, rendering diagnostics. It returns
 * undefined (after saying why on stderr) when the configuration or any host's rules have errors:
 * a trace of rules that cannot be applied would answer a question nobody can deploy.
 */
export async function loadCompiled(
  io: Io,
  dir: string,
  opts: VarOptions & { json?: boolean },
  now: Date = new Date(),
): Promise<{ model: Model; compiled: CompileResult } | undefined> {
  const { model, diagnostics, raw } = await loadAndValidate(dir, opts);
  if (!model || diagnostics.some((d) => d.severity === 'error')) {
    renderDiagnosticsHuman(io, diagnostics, raw.sources);
    io.err(`The configuration is invalid: ${countLine(diagnostics)}.\n`);
    return undefined;
  }
  const compiled = compile(model, { now });
  const all = [...diagnostics, ...compiled.diagnostics];
  if (compiled.diagnostics.some((d) => d.severity === 'error')) {
    renderDiagnosticsHuman(io, all, raw.sources);
    io.err(`Cannot compile the rules: ${countLine(compiled.diagnostics)}.\n`);
    return undefined;
  }
  // Warnings go to stderr for humans; --json keeps stderr quiet so scripts see only data.
  if (!opts.json) renderDiagnosticsHuman(io, all, raw.sources);
  return { model, compiled };
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
  const loaded = await loadCompiled(io, dir, opts);
  if (!loaded) return 1;
  const { trace, diagnostics } = traceFlow(loaded.model, loaded.compiled.rulesets, flowQuery(opts));
  renderDiagnosticsHuman(io, diagnostics);
  if (!trace) return 1;
  if (opts.json) io.out(traceJson(trace));
  else renderTraceHuman(io, trace);
  return 0;
}
