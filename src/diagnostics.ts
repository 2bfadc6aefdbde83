/**
 * Diagnostics: every problem microseg finds in user input or on a host is reported as data, never
 * printed by core code. Validation collects all of them before failing (Terraform's tfdiags), and
 * views render them (compiler style for humans, plain objects for `--json`).
 */

export type Severity = 'error' | 'warning';

/** SourcePos points at the place in a configuration file a value came from (1-based line/column). */
export interface SourcePos {
  file: string;
  line: number;
  column: number;
}

/** Diagnostic is the one shape of every reported problem; `code` is stable (e.g. `MSEG1001`). */
export interface Diagnostic {
  severity: Severity;
  code: string;
  summary: string;
  detail?: string;
  file?: string;
  line?: number;
  column?: number;
}

/** Diagnostics accumulates problems so that a run reports all of them at once. */
export class Diagnostics {
  readonly list: Diagnostic[] = [];

  add(d: Diagnostic): this {
    this.list.push(d);
    return this;
  }

  addAll(ds: readonly Diagnostic[]): this {
    for (const d of ds) this.list.push(d);
    return this;
  }

  error(code: string, summary: string, detail?: string, pos?: SourcePos): this {
    return this.add(makeDiagnostic('error', code, summary, detail, pos));
  }

  warning(code: string, summary: string, detail?: string, pos?: SourcePos): this {
    return this.add(makeDiagnostic('warning', code, summary, detail, pos));
  }

  hasErrors(): boolean {
    return this.list.some((d) => d.severity === 'error');
  }

  get errors(): Diagnostic[] {
    return this.list.filter((d) => d.severity === 'error');
  }

  get warnings(): Diagnostic[] {
    return this.list.filter((d) => d.severity === 'warning');
  }
}

/** makeDiagnostic builds a Diagnostic, copying the position fields only when known. */
export function makeDiagnostic(
  severity: Severity,
  code: string,
  summary: string,
  detail?: string,
  pos?: SourcePos,
): Diagnostic {
  const d: Diagnostic = { severity, code, summary };
  if (detail !== undefined) d.detail = detail;
  if (pos) {
    d.file = pos.file;
    d.line = pos.line;
    d.column = pos.column;
  }
  return d;
}

/** sortDiagnostics orders by file, line, column, so output is stable whatever order checks ran in. */
export function sortDiagnostics(ds: readonly Diagnostic[]): Diagnostic[] {
  return [...ds].sort(
    (a, b) =>
      (a.file ?? '').localeCompare(b.file ?? '') ||
      (a.line ?? 0) - (b.line ?? 0) ||
      (a.column ?? 0) - (b.column ?? 0) ||
      a.code.localeCompare(b.code),
  );
}

/**
 * formatDiagnostic renders one diagnostic like a compiler does:
 *
 *     main.hcl:12:5: error: Invalid service port "tcp/80/90"
 *       A tcp service port is tcp/N or tcp/A:B, for example "tcp/80" or "tcp/8000:8100".
 *        12 |   ports = ["tcp/80/90"]
 *           |            ^
 *
 * `sources` maps a file name to its text, so the offending line can be shown with a caret.
 */
export function formatDiagnostic(d: Diagnostic, sources?: ReadonlyMap<string, string>): string {
  const where = d.file ? `${d.file}${d.line ? `:${d.line}${d.column ? `:${d.column}` : ''}` : ''}: ` : '';
  const lines = [`${where}${d.severity}: ${d.summary}${d.code ? ` [${d.code}]` : ''}`];
  if (d.detail) for (const l of d.detail.split('\n')) lines.push(`  ${l}`);
  const text = d.file && d.line ? sources?.get(d.file) : undefined;
  if (text !== undefined && d.line) {
    const src = text.split('\n')[d.line - 1];
    if (src !== undefined) {
      const num = String(d.line);
      const gutter = ' '.repeat(num.length);
      lines.push(`  ${num} | ${src.replace(/\t/g, ' ')}`);
      if (d.column) lines.push(`  ${gutter} | ${' '.repeat(Math.max(0, d.column - 1))}^`);
    }
  }
  return lines.join('\n');
}

const BRAND = Symbol.for('microseg.DiagnosticsError');

/**
 * DiagnosticsError carries diagnostics across a boundary that must throw (a loader, a CLI
 * command). `source` says whose fault it is: the user's input, microseg itself, or a host kernel.
 */
export class DiagnosticsError extends Error {
  readonly [BRAND] = true;
  constructor(
    readonly diagnostics: Diagnostic[],
    readonly source: 'user' | 'tool' | 'kernel' = 'user',
  ) {
    super(diagnostics.map((d) => d.summary).join('; ') || 'microseg error');
    this.name = 'DiagnosticsError';
  }

  static isInstance(e: unknown): e is DiagnosticsError {
    return typeof e === 'object' && e !== null && (e as Record<symbol, unknown>)[BRAND] === true;
  }
}

/** didYouMean returns the closest candidate by edit distance, if it is close enough to be a typo. */
export function didYouMean(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDist = Infinity;
  for (const c of candidates) {
    const dist = editDistance(word.toLowerCase(), c.toLowerCase());
    if (dist < bestDist) {
      bestDist = dist;
      best = c;
    }
  }
  const limit = Math.max(1, Math.floor(word.length / 3));
  return bestDist <= limit ? best : undefined;
}

/**
 * editDistance is the optimal-string-alignment distance: insertions, deletions, substitutions and
 * swaps of two adjacent characters each cost 1, because a swapped pair ("prots" for "ports") is
 * the most common typo and must still get a hint.
 */
function editDistance(a: string, b: string): number {
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) rows.push([i]);
  for (let j = 1; j <= b.length; j++) rows[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(rows[i - 1][j] + 1, rows[i][j - 1] + 1, rows[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, rows[i - 2][j - 2] + 1);
      rows[i][j] = d;
    }
  }
  return rows[a.length][b.length];
}
