/**
 * Policy tests: each `expect` block of the model names one connection and the verdict the
 * configuration must give it. evaluateExpectations traces every one against the compiled
 * rulesets (traceFlow), so `microseg test` checks exactly what the hosts would enforce.
 */
import type { Diagnostic } from '../diagnostics';
import type { Model } from '../model/types';
import { decidingPolicy, traceFlow, type Rulesets, type SideTrace } from './trace';

/** ExpectationResult is one `expect` checked (JSON field names are the CLI's). */
export interface ExpectationResult {
  name: string;
  from: string;
  to: string;
  port: string;
  expected: 'allow' | 'reject';
  /** The traced verdict; null when the connection could not be traced (see diagnostics). */
  actual: 'allow' | 'reject' | null;
  pass: boolean;
  /** The deciding policy (`default` for the namespace default), or null. */
  decided_by: string | null;
  source?: SideTrace;
  destination?: SideTrace;
  /** Where the expect block is, to point a failing test at its source. */
  file?: string;
  line?: number;
  /** Why the connection could not be traced (unknown endpoint, bad port). */
  diagnostics: Diagnostic[];
}

/** evaluateExpectations traces every `expect` of the model, in the model's (name) order. */
export function evaluateExpectations(model: Model, rulesets: Rulesets): ExpectationResult[] {
  return model.expects.map((e) => {
    const { trace, diagnostics } = traceFlow(model, rulesets, { from: e.from, to: e.to, port: e.port });
    const actual = trace?.verdict ?? null;
    return {
      name: e.name,
      from: e.from,
      to: e.to,
      port: trace?.port ?? e.port,
      expected: e.verdict,
      actual,
      pass: actual === e.verdict,
      decided_by: trace ? decidingPolicy(trace) : null,
      ...(trace ? { source: trace.source, destination: trace.destination } : {}),
      ...(e.pos ? { file: e.pos.file, line: e.pos.line } : {}),
      diagnostics: diagnostics.map((d) => (d.file || !e.pos ? d : { ...d, file: e.pos.file, line: e.pos.line, column: e.pos.column })),
    };
  });
}
