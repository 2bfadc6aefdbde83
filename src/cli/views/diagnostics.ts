/**
 * Views of diagnostics: compiler-style text for humans, plain objects for `--json`. Both are
 * rendered from the same Diagnostic data.
 */
import { countOf, Diagnostic, formatDiagnostic, limitPerFile, sortDiagnostics } from '../../diagnostics';
import type { Io } from '../io';

/**
 * renderDiagnosticsHuman writes every diagnostic with its source line and caret, errors last; at
 * most MAX_DIAGNOSTICS_PER_FILE per file, the rest counted in one line (limitPerFile).
 */
export function renderDiagnosticsHuman(io: Io, ds: readonly Diagnostic[], sources?: ReadonlyMap<string, string>): void {
  const sorted = sortDiagnostics(limitPerFile(ds));
  const ordered = [...sorted.filter((d) => d.severity === 'warning'), ...sorted.filter((d) => d.severity === 'error')];
  for (const d of ordered) io.err(formatDiagnostic(d, sources) + '\n\n');
}

/**
 * diagnosticsJson is the stable JSON shape of a diagnostic list (DESIGN §7 field names), limited
 * per file like the human view (an MSEG0020 entry counts the rest).
 */
export function diagnosticsJson(ds: readonly Diagnostic[]): Array<Record<string, unknown>> {
  return sortDiagnostics(limitPerFile(ds)).map((d) => ({
    severity: d.severity,
    code: d.code,
    summary: d.summary,
    detail: d.detail ?? null,
    file: d.file ?? null,
    line: d.line ?? null,
    column: d.column ?? null,
    address: d.address ?? null,
  }));
}

/** countLine summarises how many errors and warnings were found. */
export function countLine(ds: readonly Diagnostic[]): string {
  const { errors: e, warnings: w } = countOf(ds);
  const plural = (n: number, s: string) => `${n} ${s}${n === 1 ? '' : 's'}`;
  return `${plural(e, 'error')}, ${plural(w, 'warning')}`;
}
