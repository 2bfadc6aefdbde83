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
  /**
   * Only on the MSEG0020 summary that stands for diagnostics left out (see limitPerFile): how many
   * errors and warnings it stands for.
   */
  omitted?: { errors: number; warnings: number };
  /**
   * The Terraform-style address of the resource or host it concerns, when there is one:
   * `enforcer.web-1`, `network_policy.web-db`. Plan and apply match host-scoped errors to the
   * host they block by code and address, never by wording.
   */
  address?: string;
}

/**
 * MAX_DIAGNOSTICS_PER_FILE is how many diagnostics of one file are shown; the rest are counted in
 * one summary. 5 MB of garbage gave about 800,000 syntax errors and 38 MB of output: nobody reads
 * past the first screen, and the first errors are the ones that cause the rest.
 */
export const MAX_DIAGNOSTICS_PER_FILE = 50;

/** OMITTED_CODE is the code of the summary that counts diagnostics left out of a file's list. */
export const OMITTED_CODE = 'MSEG0020';

function omittedSummary(file: string, at: Diagnostic, omitted: { errors: number; warnings: number }): Diagnostic {
  const n = omitted.errors + omitted.warnings;
  const parts = [omitted.errors ? `${omitted.errors} more error${omitted.errors === 1 ? '' : 's'}` : '', omitted.warnings ? `${omitted.warnings} more warning${omitted.warnings === 1 ? '' : 's'}` : '']
    .filter(Boolean)
    .join(' and ');
  const d: Diagnostic = {
    severity: omitted.errors ? 'error' : 'warning',
    code: OMITTED_CODE,
    summary: `${parts} in ${file} not shown`,
    detail: `microseg shows the first ${MAX_DIAGNOSTICS_PER_FILE} problems of each file, in file order; ${n === 1 ? 'this one is' : `these ${n} are`} after them. The first problems often cause the later ones: fix them and run again.`,
    file,
    omitted,
  };
  if (at.line !== undefined) d.line = at.line;
  if (at.column !== undefined) d.column = at.column;
  return d;
}

/**
 * DiagnosticSink collects diagnostics while a file is parsed or a configuration evaluated,
 * keeping the first `max` of each file and only counting the rest, so hostile input cannot make
 * microseg hold millions of them. Diagnostics without a file are all kept. limitPerFile later
 * picks what is shown; a sink's cap only bounds memory, so callers that sort give it room
 * (evaluation keeps 1,000 per file and shows the first 50 of those by position).
 */
export class DiagnosticSink {
  private readonly items: Diagnostic[] = [];
  private readonly files = new Map<string, { kept: number; first?: Diagnostic; errors: number; warnings: number }>();

  constructor(private readonly max = MAX_DIAGNOSTICS_PER_FILE) {}

  push(...ds: Diagnostic[]): number {
    for (const d of ds) {
      if (d.file === undefined) {
        this.items.push(d);
        continue;
      }
      let f = this.files.get(d.file);
      if (!f) this.files.set(d.file, (f = { kept: 0, errors: 0, warnings: 0 }));
      if (d.omitted) {
        f.errors += d.omitted.errors;
        f.warnings += d.omitted.warnings;
        f.first ??= d;
      } else if (f.kept < this.max) {
        f.kept++;
        this.items.push(d);
      } else {
        f.first ??= d;
        if (d.severity === 'error') f.errors++;
        else f.warnings++;
      }
    }
    return this.items.length;
  }

  /** result is the kept diagnostics plus, per file that had some left out, one MSEG0020 summary. */
  result(): Diagnostic[] {
    const out = [...this.items];
    for (const [file, f] of this.files) if (f.first) out.push(omittedSummary(file, f.first, { errors: f.errors, warnings: f.warnings }));
    return out;
  }
}

/**
 * limitPerFile keeps the first `max` diagnostics of each file by position and replaces the rest
 * with one MSEG0020 summary per file that counts them (merging summaries already made while
 * parsing). Diagnostics without a file are all kept.
 */
export function limitPerFile(ds: readonly Diagnostic[], max = MAX_DIAGNOSTICS_PER_FILE): Diagnostic[] {
  const byFile = new Map<string, Diagnostic[]>();
  const out: Diagnostic[] = [];
  for (const d of ds) {
    if (d.file === undefined) out.push(d);
    else {
      const l = byFile.get(d.file);
      if (l) l.push(d);
      else byFile.set(d.file, [d]);
    }
  }
  for (const [file, list] of byFile) {
    const summaries = list.filter((d) => d.omitted);
    if (summaries.length === 0 && list.length <= max) {
      out.push(...list);
      continue;
    }
    const sorted = sortDiagnostics(list.filter((d) => !d.omitted));
    out.push(...sorted.slice(0, max));
    const dropped = sorted.slice(max);
    const omitted = { errors: 0, warnings: 0 };
    for (const d of dropped) {
      if (d.severity === 'error') omitted.errors++;
      else omitted.warnings++;
    }
    for (const d of summaries) {
      omitted.errors += d.omitted!.errors;
      omitted.warnings += d.omitted!.warnings;
    }
    const at = sortDiagnostics([...(dropped.length ? [dropped[0]] : []), ...summaries])[0];
    out.push(omittedSummary(file, at, omitted));
  }
  return out;
}

/** countOf counts errors and warnings, including those an MSEG0020 summary stands for. */
export function countOf(ds: readonly Diagnostic[]): { errors: number; warnings: number } {
  let errors = 0;
  let warnings = 0;
  for (const d of ds) {
    if (d.omitted) {
      errors += d.omitted.errors;
      warnings += d.omitted.warnings;
    } else if (d.severity === 'error') errors++;
    else warnings++;
  }
  return { errors, warnings };
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

/** withAddress returns `d` concerning `address` (a copy; a diagnostic that already has one keeps it). */
export function withAddress(d: Diagnostic, address: string): Diagnostic {
  return d.address !== undefined ? d : { ...d, address };
}

/** enforcerAddress is the address of an enforcer host, `enforcer.<name>`. */
export function enforcerAddress(name: string): string {
  return `enforcer.${name}`;
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
 * escapeControls makes text safe to print on a terminal: C0 controls (but newline; tab too unless
 * `keepTab`), DEL, C1 controls and the Unicode bidirectional overrides become visible escapes
 * (`\x1b`, `\u202e`). Diagnostics echo the user's text (source lines, labels, values), and a file
 * must not be able to move the cursor, recolour the terminal, retitle the window or make a
 * reviewer read one line while the parser reads another ("Trojan source").
 */
export function escapeControls(text: string, keepTab = false): string {
  return text.replace(CONTROLS, (c) => {
    if (c === '\t' && keepTab) return c;
    const n = c.charCodeAt(0);
    return n <= 0xff ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u${n.toString(16).padStart(4, '0')}`;
  });
}

// eslint-disable-next-line no-control-regex
const CONTROLS = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** SOURCE_WIDTH is how many characters of a long source line are shown around the caret. */
const SOURCE_WIDTH = 120;

const lineIndexes = new WeakMap<ReadonlyMap<string, string>, Map<string, number[]>>();

/**
 * sourceLine returns line `line` (1-based) of `file` in `sources`. Line starts are indexed once
 * per file and kept as long as `sources` is: splitting the whole text for every diagnostic made
 * rendering quadratic (16,000 lines of garbage took 30 s to print).
 */
function sourceLine(sources: ReadonlyMap<string, string>, file: string, line: number): string | undefined {
  const text = sources.get(file);
  if (text === undefined) return undefined;
  let perFile = lineIndexes.get(sources);
  if (!perFile) lineIndexes.set(sources, (perFile = new Map()));
  let starts = perFile.get(file);
  if (!starts) {
    starts = [0];
    for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
    perFile.set(file, starts);
  }
  if (line < 1 || line > starts.length) return undefined;
  const end = line < starts.length ? starts[line] - 1 : text.length;
  return text.slice(starts[line - 1], end).replace(/\r$/, '');
}

/**
 * echoLine renders a source line for a caret display: tabs as one space (so the caret column
 * stays right), control characters escaped, and a long line cut to a window around the column.
 * Returns the text and the caret's offset in it.
 */
function echoLine(src: string, column: number): { text: string; caret: number } {
  let from = 0;
  let to = src.length;
  if (src.length > SOURCE_WIDTH) {
    from = Math.max(0, Math.min(column - 1 - SOURCE_WIDTH / 2, src.length - SOURCE_WIDTH));
    to = from + SOURCE_WIDTH;
  }
  const head = escapeControls(src.slice(from, Math.max(from, column - 1)).replace(/\t/g, ' '));
  const rest = escapeControls(src.slice(Math.max(from, column - 1), to).replace(/\t/g, ' '));
  const pre = from > 0 ? '…' : '';
  return { text: `${pre}${head}${rest}${to < src.length ? '…' : ''}`, caret: pre.length + head.length };
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
 * Everything that may hold the user's text is passed through escapeControls.
 */
export function formatDiagnostic(d: Diagnostic, sources?: ReadonlyMap<string, string>): string {
  const where = d.file ? `${escapeControls(d.file)}${d.line ? `:${d.line}${d.column ? `:${d.column}` : ''}` : ''}: ` : '';
  const lines = [`${where}${d.severity}: ${escapeControls(d.summary).replace(/\n/g, '\\n')}${d.code ? ` [${d.code}]` : ''}`];
  if (d.address && !d.file) lines.push(`  with ${escapeControls(d.address)}`);
  if (d.detail) for (const l of d.detail.split('\n')) lines.push(`  ${escapeControls(l, true)}`);
  const src = d.file && d.line && sources && !d.omitted ? sourceLine(sources, d.file, d.line) : undefined;
  if (src !== undefined && d.line) {
    const num = String(d.line);
    const gutter = ' '.repeat(num.length);
    const echo = echoLine(src, d.column ?? 1);
    lines.push(`  ${num} | ${echo.text}`);
    if (d.column) lines.push(`  ${gutter} | ${' '.repeat(echo.caret)}^`);
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
