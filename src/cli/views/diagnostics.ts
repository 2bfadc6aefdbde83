/**
 * Views of diagnostics: compiler-style text for humans, plain objects for `--json`. Both are
 * rendered from the same Diagnostic data.
 */
import { Diagnostic, formatDiagnostic, sortDiagnostics } from '../../diagnostics';
import type { Io } from '../io';

/** renderDiagnosticsHuman writes every diagnostic with its source line and caret, errors last. */
export function renderDiagnosticsHuman(io: Io, ds: readonly Diagnostic[], sources?: ReadonlyMap<string, string>): void {
  const sorted = sortDiagnostics(ds);
  const ordered = [...sorted.filter((d) => d.severity === 'warning'), ...sorted.filter((d) => d.severity === 'error')];
  for (const d of ordered) io.err(formatDiagnostic(d, sources) + '\n\n');
}

/** diagnosticsJson is the stable JSON shape of a diagnostic list (DESIGN §7 field names). */
export function diagnosticsJson(ds: readonly Diagnostic[]): Array<Record<string, unknown>> {
  return sortDiagnostics(ds).map((d) => ({
    severity: d.severity,
    code: d.code,
    summary: d.summary,
    detail: d.detail ?? null,
    file: d.file ?? null,
    line: d.line ?? null,
    column: d.column ?? null,
  }));
}

/** countLine summarises how many errors and warnings were found. */
export function countLine(ds: readonly Diagnostic[]): string {
  const e = ds.filter((d) => d.severity === 'error').length;
  const w = ds.length - e;
  const plural = (n: number, s: string) => `${n} ${s}${n === 1 ? '' : 's'}`;
  return `${plural(e, 'error')}, ${plural(w, 'warning')}`;
}
