import type { Diagnostic } from '../../../src/diagnostics';
import { evaluateHcl, type HclInputs } from '../../../src/config/hcl';
import type { RawConfig } from '../../../src/config/types';

/** brief renders diagnostics as `line:column code summary` for compact expectations. */
export function brief(ds: readonly Diagnostic[]): string[] {
  return ds.map((d) => `${d.line ?? '-'}:${d.column ?? '-'} ${d.code} ${d.summary}`);
}

/** run evaluates one file named main.hcl. */
export function run(text: string, inputs: HclInputs = {}): RawConfig {
  return evaluateHcl([{ name: 'main.hcl', text }], inputs);
}

/** value evaluates `expr` as a local and returns it (and the diagnostics). */
export function value(expr: string, pre = ''): { v: unknown; d: string[] } {
  const cfg = run(`${pre}\noutput "o" {\n  value = ${expr}\n}\n`);
  return { v: cfg.outputs.o, d: brief(cfg.diagnostics) };
}
