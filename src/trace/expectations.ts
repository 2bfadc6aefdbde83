/**
 * Policy tests: each `expect` block of the model names one connection and the verdict the
 * configuration must give it. evaluateExpectations traces every one against the compiled
 * rulesets (traceFlow), so `microseg test` checks exactly what the hosts would enforce.
 */
import { makeDiagnostic, type Diagnostic } from '../diagnostics';
import type { Model } from '../model/types';
import { CODES } from './codes';
import { decidingPolicy, dependsText, flowQuery, traceFlow, type FlowCase, type FlowVerdict, type Rulesets, type SideTrace } from './trace';

/** ExpectationResult is one `expect` checked (JSON field names are the CLI's). */
export interface ExpectationResult {
  name: string;
  from: string;
  to: string;
  port: string;
  expected: 'allow' | 'reject';
  /**
   * The traced verdict; null when the connection could not be traced (see diagnostics). `depends`
   * never passes: the expect does not say enough to have one verdict (see `cases`).
   */
  actual: FlowVerdict | null;
  /** What a `depends` verdict depends on, and every outcome. */
  depends_on?: Array<'interface' | 'address'>;
  cases?: FlowCase[];
  pass: boolean;
  /** The deciding policy (`default` for the namespace default), or null. */
  decided_by: string | null;
  source?: SideTrace;
  destination?: SideTrace;
  /** Where the expect block is, to point a failing test at its source. */
  file?: string;
  line?: number;
  column?: number;
  /** Why the connection could not be traced (unknown endpoint, bad port). */
  diagnostics: Diagnostic[];
}

/** evaluateExpectations traces every `expect` of the model, in the model's (name) order. */
export function evaluateExpectations(model: Model, rulesets: Rulesets): ExpectationResult[] {
  return model.expects.map((e) => {
    const { trace, diagnostics } = traceFlow(model, rulesets, flowQuery(e));
    const actual = trace?.verdict ?? null;
    if (trace?.verdict === 'depends') {
      const how = trace.depends_on?.includes('interface')
        ? 'Say which interface the connection crosses with interface = "eth0" (or iif / oif for one end) in the expect block'
        : '';
      const which = trace.depends_on?.includes('address') ? 'name one address of the network in from / to instead of the network' : '';
      diagnostics.push(
        makeDiagnostic('error', CODES.VERDICT_DEPENDS, capital(dependsText(trace)),
          `${[how, which].filter(Boolean).join(', or ') || 'Narrow the expect'}, so it tests one connection.`),
      );
    }
    return {
      name: e.name,
      from: e.from,
      to: e.to,
      port: trace?.port ?? e.port,
      expected: e.verdict,
      actual,
      pass: actual === e.verdict,
      decided_by: trace && trace.verdict !== 'depends' ? decidingPolicy(trace) : null,
      ...(trace?.depends_on ? { depends_on: trace.depends_on, cases: trace.cases } : {}),
      ...(trace ? { source: trace.source, destination: trace.destination } : {}),
      ...(e.pos ? { file: e.pos.file, line: e.pos.line, column: e.pos.column } : {}),
      diagnostics: diagnostics.map((d) => (d.file || !e.pos ? d : { ...d, file: e.pos.file, line: e.pos.line, column: e.pos.column })),
    };
  });
}

function capital(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
