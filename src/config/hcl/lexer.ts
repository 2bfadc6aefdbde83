/**
 * Lexer for HCL native syntax. It is pulled one token at a time by the parser, because HCL's
 * lexical grammar depends on context: inside a string template the parser asks for template
 * pieces (`scanTemplate`), and inside `${ ... }` it asks for ordinary tokens again. Scanning is
 * a single forward pass over char codes (no regexes over the input), so it is linear in file size.
 */
import type { DiagnosticSink } from '../../diagnostics';
import { Codes } from './codes';
import { nfc } from './values';

export type TokType = 'ident' | 'number' | 'oquote' | 'heredoc' | 'newline' | 'eof' | 'punct';

/** Token is one lexical token; `line`/`column` are 1-based and point at its first character. */
export interface Token {
  type: TokType;
  value: string;
  line: number;
  column: number;
  /** For heredoc tokens: `<<-` (strip indentation). */
  strip?: boolean;
}

/** Piece is one step of template scanning. */
export type Piece =
  | { kind: 'lit'; value: string; line: number; column: number }
  | { kind: 'interp' | 'directive'; strip: boolean; line: number; column: number }
  | { kind: 'end'; line: number; column: number; ok: boolean };

/** HeredocState tracks one heredoc body while its template is scanned. */
export interface HeredocState {
  marker: string;
  /** Offset where the closing marker line starts. */
  end: number;
  /** Indentation removed from each line (`<<-` only). */
  indent: number;
  found: boolean;
}

const CH_NL = 10;
const CH_CR = 13;
const CH_SP = 32;
const CH_TAB = 9;

// '::' separates the parts of a namespaced function name (provider::aws::arn_parse), as in HCL.
const TWO_CHAR = new Set(['==', '!=', '<=', '>=', '&&', '||', '=>', '::']);
const ONE_CHAR = new Set(['{', '}', '[', ']', '(', ')', ',', '.', '=', ':', '?', '<', '>', '+', '-', '*', '/', '%', '!', '~']);

function isIdentStart(c: number, text: string, i: number): boolean {
  if ((c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95) return true;
  if (c < 128) return false;
  return /\p{ID_Start}/u.test(String.fromCodePoint(text.codePointAt(i) ?? c));
}

function isIdentPart(c: number, text: string, i: number): boolean {
  if ((c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 95 || c === 45) return true;
  if (c < 128) return false;
  return /\p{ID_Continue}/u.test(String.fromCodePoint(text.codePointAt(i) ?? c));
}

/**
 * isSpace is Go's unicode.IsSpace without the newline: what HCL counts, and strips, as the
 * indentation of a `<<-` heredoc line (not only spaces and tabs: also \v, \f, \r, NEL, no-break
 * space and the other Unicode spaces).
 */
function isSpace(c: number): boolean {
  return (
    c === CH_SP ||
    c === CH_TAB ||
    c === 11 ||
    c === 12 ||
    c === CH_CR ||
    c === 0x85 ||
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000
  );
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** Lexer scans one source text. `line`/`col` may start elsewhere than 1:1 (JSON-embedded templates). */
export class Lexer {
  i = 0;
  constructor(
    readonly file: string,
    readonly text: string,
    readonly diags: DiagnosticSink,
    public line = 1,
    public col = 1,
  ) {}

  /** While set, errors are not reported (the parser is skipping past one it reported). */
  muted = false;

  error(code: string, summary: string, detail: string, line: number, column: number): void {
    if (this.muted) return;
    this.diags.push({ severity: 'error', code, summary, detail, file: this.file, line, column });
  }

  /** next returns the next token in expression/body context. */
  next(): Token {
    const t = this.text;
    const n = t.length;
    for (;;) {
      // whitespace
      let c = t.charCodeAt(this.i);
      while (c === CH_SP || c === CH_TAB || (c === CH_CR && t.charCodeAt(this.i + 1) !== CH_NL)) {
        this.i++;
        this.col++;
        c = t.charCodeAt(this.i);
      }
      if (this.i >= n) return { type: 'eof', value: '', line: this.line, column: this.col };
      const line = this.line;
      const column = this.col;
      if (c === CH_CR || c === CH_NL) {
        this.i += c === CH_CR ? 2 : 1;
        this.line++;
        this.col = 1;
        return { type: 'newline', value: '\n', line, column };
      }
      const c2 = t.charCodeAt(this.i + 1);
      if (c === 35 /* # */ || (c === 47 /* / */ && c2 === 47)) {
        let j = this.i;
        while (j < n && t.charCodeAt(j) !== CH_NL && !(t.charCodeAt(j) === CH_CR && t.charCodeAt(j + 1) === CH_NL)) j++;
        this.col += j - this.i;
        this.i = j;
        continue;
      }
      if (c === 47 && c2 === 42 /* * */) {
        const end = t.indexOf('*/', this.i + 2);
        const stop = end < 0 ? n : end + 2;
        this.advanceOver(stop);
        if (end < 0) {
          this.error(Codes.unterminatedComment, 'Unterminated comment', 'A "/*" comment must be closed with "*/".', line, column);
        }
        continue;
      }
      if (isIdentStart(c, t, this.i)) {
        let j = this.i + (c > 0xffff || (c >= 0xd800 && c <= 0xdbff) ? 2 : 1);
        while (j < n) {
          const d = t.charCodeAt(j);
          if (!isIdentPart(d, t, j)) break;
          j += d >= 0xd800 && d <= 0xdbff ? 2 : 1;
        }
        const value = t.slice(this.i, j);
        this.col += j - this.i;
        this.i = j;
        return { type: 'ident', value, line, column };
      }
      if (isDigit(c)) {
        let j = this.i;
        while (isDigit(t.charCodeAt(j))) j++;
        if (t.charCodeAt(j) === 46 && isDigit(t.charCodeAt(j + 1))) {
          j++;
          while (isDigit(t.charCodeAt(j))) j++;
        }
        const e = t.charCodeAt(j);
        if (e === 101 || e === 69) {
          let k = j + 1;
          const s = t.charCodeAt(k);
          if (s === 43 || s === 45) k++;
          if (isDigit(t.charCodeAt(k))) {
            while (isDigit(t.charCodeAt(k))) k++;
            j = k;
          }
        }
        const value = t.slice(this.i, j);
        this.col += j - this.i;
        this.i = j;
        return { type: 'number', value, line, column };
      }
      if (c === 34 /* " */) {
        this.i++;
        this.col++;
        return { type: 'oquote', value: '"', line, column };
      }
      if (c === 60 /* < */ && c2 === 60) {
        const h = this.tryHeredoc(line, column);
        if (h) return h;
      }
      if (c === 46 && c2 === 46 && t.charCodeAt(this.i + 2) === 46) {
        this.i += 3;
        this.col += 3;
        return { type: 'punct', value: '...', line, column };
      }
      const two = c2 === 61 /* = */ || c2 === 38 /* & */ || c2 === 124 /* | */ || c2 === 62 /* > */ || c2 === 58 /* : */ ? t.slice(this.i, this.i + 2) : '';
      if (two !== '' && TWO_CHAR.has(two)) {
        this.i += 2;
        this.col += 2;
        return { type: 'punct', value: two, line, column };
      }
      const one = t[this.i];
      if (ONE_CHAR.has(one)) {
        this.i++;
        this.col++;
        return { type: 'punct', value: one, line, column };
      }
      const cp = String.fromCodePoint(t.codePointAt(this.i) ?? c);
      let detail = 'Remove it, or put it inside a quoted string.';
      if (one === "'") detail = 'HCL strings use double quotes: write "text", not \'text\'.';
      else if (one === '$' || one === '&' || one === '|') detail = `"${one}" is not an operator here. Use "\${...}" only inside a quoted string; logical operators are "&&" and "||".`;
      else if (one === ';') detail = 'HCL separates attributes with newlines, not semicolons.';
      this.error(Codes.invalidChar, `Invalid character ${JSON.stringify(cp)}`, detail, line, column);
      this.i += cp.length;
      this.col += cp.length;
    }
  }

  /** advanceOver moves to offset `stop`, counting lines and columns on the way. */
  private advanceOver(stop: number): void {
    const t = this.text;
    while (this.i < stop) {
      if (t.charCodeAt(this.i) === CH_NL) {
        this.line++;
        this.col = 1;
      } else this.col++;
      this.i++;
    }
  }

  private tryHeredoc(line: number, column: number): Token | undefined {
    const t = this.text;
    let j = this.i + 2;
    let strip = false;
    if (t.charCodeAt(j) === 45) {
      strip = true;
      j++;
    }
    if (!isIdentStart(t.charCodeAt(j), t, j)) return undefined;
    const ms = j;
    while (j < t.length && isIdentPart(t.charCodeAt(j), t, j)) j++;
    const marker = t.slice(ms, j);
    let k = j;
    if (t.charCodeAt(k) === CH_CR) k++;
    if (t.charCodeAt(k) !== CH_NL) return undefined;
    this.i = k + 1;
    this.line++;
    this.col = 1;
    return { type: 'heredoc', value: marker, line, column, strip };
  }

  /**
   * beginHeredoc finds the closing marker line of a heredoc whose body starts at the current
   * position, and computes the indentation `<<-` removes (the least indentation of non-blank
   * lines, as HCL does).
   */
  beginHeredoc(marker: string, strip: boolean, line: number, column: number, report = true): HeredocState {
    const t = this.text;
    const n = t.length;
    let p = this.i;
    let indent = Infinity;
    while (p < n) {
      let e = t.indexOf('\n', p);
      if (e < 0) e = n;
      let a = p;
      while (a < e && (t.charCodeAt(a) === CH_SP || t.charCodeAt(a) === CH_TAB)) a++;
      let b = e;
      while (b > a && (t.charCodeAt(b - 1) === CH_SP || t.charCodeAt(b - 1) === CH_TAB || t.charCodeAt(b - 1) === CH_CR)) b--;
      if (b - a === marker.length && t.startsWith(marker, a)) {
        return { marker, end: p, indent: strip && indent !== Infinity ? indent : 0, found: true };
      }
      if (strip) {
        // Indentation is every leading whitespace character; lines of whitespace only do not count.
        let w = p;
        while (w < e && isSpace(t.charCodeAt(w))) w++;
        if (w < e) indent = Math.min(indent, w - p);
      }
      p = e + 1;
    }
    if (report) {
      this.error(
        Codes.unterminatedHeredoc,
        'Unterminated heredoc',
        `The heredoc starting here needs a closing line containing only "${marker}".`,
        line,
        column,
      );
    }
    return { marker, end: n, indent: strip && indent !== Infinity ? indent : 0, found: false };
  }

  /**
   * scanTemplate returns the next piece of a template: a literal run (escapes decoded), the start
   * of an interpolation/directive (after `${`/`%{` and an optional `~`), or the end. `mode` is
   * 'quoted' for "...", 'bare' for a whole text (JSON strings), or a heredoc's state.
   */
  scanTemplate(mode: 'quoted' | 'bare' | HeredocState, openLine: number, openCol: number): Piece {
    const t = this.text;
    const heredoc = typeof mode === 'object' ? mode : undefined;
    const end = heredoc ? heredoc.end : t.length;
    const line = this.line;
    const column = this.col;
    if (heredoc && this.i >= end) {
      if (heredoc.found) {
        // Consume the closing marker line up to (not including) its newline.
        let p = this.i;
        while (t.charCodeAt(p) === CH_SP || t.charCodeAt(p) === CH_TAB) p++;
        p += heredoc.marker.length;
        while (t.charCodeAt(p) === CH_SP || t.charCodeAt(p) === CH_TAB) p++;
        this.col += p - this.i;
        this.i = p;
      }
      return { kind: 'end', line, column, ok: heredoc.found };
    }
    if (heredoc && this.col === 1 && heredoc.indent > 0) this.skipIndent(heredoc);
    const chunks: string[] = [];
    let seg = this.i;
    for (;;) {
      if (this.i >= end) break;
      const c = t.charCodeAt(this.i);
      if (c === CH_NL || (c === CH_CR && t.charCodeAt(this.i + 1) === CH_NL)) {
        if (mode === 'quoted') {
          if (this.i > seg) chunks.push(t.slice(seg, this.i));
          if (chunks.length) return this.lit(chunks, line, column);
          this.error(
            Codes.unterminatedString,
            'Unterminated string',
            'A quoted string must end on the line it starts. Add the closing ", or use a heredoc (<<EOT ... EOT) for multi-line text.',
            openLine,
            openCol,
          );
          return { kind: 'end', line: this.line, column: this.col, ok: false };
        }
        this.i += c === CH_CR ? 2 : 1;
        this.line++;
        this.col = 1;
        if (heredoc && heredoc.indent > 0 && this.i < end) {
          chunks.push(t.slice(seg, this.i));
          this.skipIndent(heredoc);
          seg = this.i;
        }
        continue;
      }
      if (c === 34 && mode === 'quoted') {
        if (this.i > seg || chunks.length) {
          chunks.push(t.slice(seg, this.i));
          return this.lit(chunks, line, column);
        }
        this.i++;
        this.col++;
        return { kind: 'end', line, column, ok: true };
      }
      if (c === 92 /* \ */ && mode === 'quoted') {
        chunks.push(t.slice(seg, this.i));
        chunks.push(this.escape());
        seg = this.i;
        continue;
      }
      const c2 = t.charCodeAt(this.i + 1);
      if ((c === 36 /* $ */ || c === 37) /* % */ && c2 === 123 /* { */) {
        if (this.i > seg || chunks.length) {
          chunks.push(t.slice(seg, this.i));
          return this.lit(chunks, line, column);
        }
        this.i += 2;
        this.col += 2;
        let strip = false;
        if (t.charCodeAt(this.i) === 126 /* ~ */) {
          strip = true;
          this.i++;
          this.col++;
        }
        return { kind: c === 36 ? 'interp' : 'directive', strip, line, column };
      }
      if ((c === 36 || c === 37) && c2 === c && t.charCodeAt(this.i + 2) === 123) {
        // `$${` and `%%{` are literal `${` and `%{`.
        chunks.push(t.slice(seg, this.i + 1));
        this.i += 2;
        this.col += 2;
        seg = this.i;
        continue;
      }
      this.i++;
      this.col++;
    }
    if (this.i > seg) chunks.push(t.slice(seg, this.i));
    if (chunks.length) return this.lit(chunks, line, column);
    if (mode === 'quoted') {
      this.error(Codes.unterminatedString, 'Unterminated string', 'Add the closing " of this string.', openLine, openCol);
      return { kind: 'end', line, column, ok: false };
    }
    if (heredoc) return this.scanTemplate(mode, openLine, openCol);
    return { kind: 'end', line, column, ok: true };
  }

  private lit(chunks: string[], line: number, column: number): Piece {
    // HCL strings are NFC-normalised (see values.ts nfc); the evaluator normalises again where
    // interpolation joins pieces.
    return { kind: 'lit', value: nfc(chunks.length === 1 ? chunks[0] : chunks.join('')), line, column };
  }

  private skipIndent(h: HeredocState): void {
    const t = this.text;
    // Whitespace-only lines are kept as written (HCL excludes them from the common indentation).
    let p = this.i;
    while (p < h.end && t.charCodeAt(p) !== CH_NL && isSpace(t.charCodeAt(p))) p++;
    if (p >= h.end || t.charCodeAt(p) === CH_NL) return;
    const skip = Math.min(h.indent, p - this.i);
    this.i += skip;
    this.col += skip;
  }

  private escape(): string {
    const t = this.text;
    const line = this.line;
    const column = this.col;
    const e = t[this.i + 1];
    const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', '"': '"', '\\': '\\' };
    if (e !== undefined && e in simple) {
      this.i += 2;
      this.col += 2;
      return simple[e];
    }
    if (e === 'u' || e === 'U') {
      const len = e === 'u' ? 4 : 8;
      const hex = t.slice(this.i + 2, this.i + 2 + len);
      if (hex.length === len && /^[0-9a-fA-F]+$/.test(hex)) {
        const cp = parseInt(hex, 16);
        if (cp <= 0x10ffff) {
          this.i += 2 + len;
          this.col += 2 + len;
          return String.fromCodePoint(cp);
        }
      }
      this.error(
        Codes.invalidEscape,
        'Invalid unicode escape',
        `\\${e} must be followed by exactly ${len} hexadecimal digits, e.g. ${e === 'u' ? '"\\u00e9"' : '"\\U0001F600"'}.`,
        line,
        column,
      );
      this.i += 2;
      this.col += 2;
      return '';
    }
    if (e === undefined || e === '\n' || e === '\r') {
      this.i += 1;
      this.col += 1;
      return '\\';
    }
    this.error(
      Codes.invalidEscape,
      `Invalid escape sequence "\\${e}"`,
      'HCL strings support \\n \\r \\t \\" \\\\ \\uNNNN and \\UNNNNNNNN. Write "\\\\" for a literal backslash.',
      line,
      column,
    );
    this.i += 2;
    this.col += 2;
    return e;
  }

  /** skipQuotedRest skips the rest of a quoted string (error recovery), stopping before a newline. */
  skipQuotedRest(): void {
    const t = this.text;
    while (this.i < t.length) {
      const c = t.charCodeAt(this.i);
      if (c === CH_NL || c === CH_CR) return;
      this.i++;
      this.col++;
      if (c === 92) {
        this.i++;
        this.col++;
      } else if (c === 34) return;
    }
  }

  /** skipHeredocBody skips a heredoc body and its closing marker (error recovery). */
  skipHeredocBody(marker: string): void {
    const h = this.beginHeredoc(marker, false, this.line, this.col, false);
    this.advanceOver(h.end);
    this.scanTemplate(h, 0, 0);
  }
}
