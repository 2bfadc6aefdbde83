/**
 * rewriteLegacyHcl rewrites microseg HCL that still uses the removed `external_network`
 * attributes `protocols` and `ports` into `service_ports`, leaving every other byte of the file
 * as it was: comments, blank lines, alignment, other blocks. Users review the result as a diff,
 * so the diff must show only the conversion.
 *
 * The HCL parser (src/config/hcl) finds the blocks and attributes and their start positions. Its
 * syntax tree has no end offsets, so each attribute's extent is found by a small scan from the
 * attribute's name (`extentOf`): past `=`, then through the expression, honouring brackets,
 * quoted strings with their `${...}` interpolations, and comments, to the end of the line at
 * bracket depth zero. Heredocs are not scanned (the attribute is reported instead): lists of
 * protocols and ports are not written as heredocs.
 *
 * Only literal lists can be converted; a value computed from variables is reported with the
 * converted value left for the user to write, because the rewrite cannot know it.
 */
import type { Diagnostic } from '../../diagnostics';
import { makeDiagnostic } from '../../diagnostics';
import { parseHcl } from '../hcl';
import type { Attribute, Block, Expr } from '../hcl';
import { reconcileLegacyPorts } from './legacy';
import { MigrateCodes } from './codes';
import { hclValue } from './hcl-writer';

export interface RewriteResult {
  /** The rewritten text, or the original text when nothing changed or there was an error. */
  text: string;
  changed: boolean;
  diagnostics: Diagnostic[];
}

const LEGACY = ['protocols', 'ports'] as const;

/** rewriteLegacyHcl converts `protocols`/`ports` of every top-level external_network block. */
export function rewriteLegacyHcl(fileName: string, text: string): RewriteResult {
  const unchanged = (diagnostics: Diagnostic[]): RewriteResult => ({ text, changed: false, diagnostics });
  if (/\.json$/i.test(fileName)) {
    return unchanged([
      makeDiagnostic(
        'error',
        MigrateCodes.notLiteral,
        `"${fileName}": only HCL native syntax can be rewritten`,
        'Replace "protocols" and "ports" by "service_ports" in the JSON file by hand; the error for each external network shows the value.',
      ),
    ]);
  }
  const parsed = parseHcl(fileName, text);
  if (parsed.diagnostics.some((d) => d.severity === 'error')) return unchanged(parsed.diagnostics);

  const lines = lineStarts(text);
  const offsetOf = (line: number, column: number): number => lines[line - 1] + column - 1;
  const edits: Edit[] = [];
  const diagnostics: Diagnostic[] = [];

  for (const block of parsed.file.body.blocks) {
    if (block.type !== 'external_network') continue;
    const r = rewriteBlock(fileName, text, block, offsetOf);
    diagnostics.push(...r.diagnostics);
    edits.push(...r.edits);
  }
  if (diagnostics.some((d) => d.severity === 'error')) return unchanged(diagnostics);
  if (edits.length === 0) return unchanged(diagnostics);

  let out = text;
  for (const e of [...edits].sort((a, b) => b.start - a.start)) out = out.slice(0, e.start) + e.text + out.slice(e.end);
  return { text: out, changed: out !== text, diagnostics };
}

/** Edit replaces text[start, end) by `text`. */
interface Edit {
  start: number;
  end: number;
  text: string;
}

function rewriteBlock(
  fileName: string,
  text: string,
  block: Block,
  offsetOf: (line: number, column: number) => number,
): { edits: Edit[]; diagnostics: Diagnostic[] } {
  const attrs = block.body.attributes;
  const legacy = attrs.filter((a) => (LEGACY as readonly string[]).includes(a.name));
  if (legacy.length === 0) return { edits: [], diagnostics: [] };
  const label = block.labels[0]?.value ?? '';
  const owner = `external_network ${JSON.stringify(label)}`;
  const diagnostics: Diagnostic[] = [];
  const pos = (a: Attribute) => ({ file: fileName, line: a.namePos.line, column: a.namePos.column });

  const values = new Map<string, Array<string | number>>();
  for (const a of attrs) {
    if (![...LEGACY, 'service_ports'].includes(a.name)) continue;
    const v = literalList(a.expr);
    if (v === undefined) {
      diagnostics.push(
        makeDiagnostic(
          'error',
          MigrateCodes.notLiteral,
          `${owner}: "${a.name}" is not a literal list, so it cannot be rewritten automatically`,
          `Replace "protocols" and "ports" by "service_ports" by hand: each protocol with each port, such as service_ports = ["tcp/443", "udp/53"].`,
          pos(a),
        ),
      );
    } else {
      values.set(a.name, v);
    }
  }
  if (diagnostics.length > 0) return { edits: [], diagnostics };

  const protocols = values.get('protocols');
  const ports = values.get('ports');
  const existing = attrs.find((a) => a.name === 'service_ports');
  const outcome = reconcileLegacyPorts(existing ? (values.get('service_ports') ?? []).map(String) : undefined, protocols, ports);
  if (outcome.kind === 'unconvertible') {
    const at = legacy[0];
    diagnostics.push(
      makeDiagnostic(
        'error',
        MigrateCodes.legacyPorts,
        `${owner}: cannot convert protocols/ports to service_ports: ${outcome.error}`,
        'Write service_ports for this external network by hand and remove protocols and ports.',
        pos(at),
      ),
    );
    return { edits: [], diagnostics };
  }
  if (existing && outcome.kind !== 'same' && outcome.kind !== 'converted') {
    // service_ports wins (see legacy.ts); the removed attributes go, and what they said is shown.
    const was = legacy.map((a) => `${a.name} = ${hclValue(values.get(a.name)!, '')}`).join(' and ');
    const meant = outcome.kind === 'differs' ? outcome.meant : outcome.kind === 'defaults' ? 'every TCP port' : '';
    diagnostics.push(
      makeDiagnostic(
        'warning',
        MigrateCodes.review,
        `${owner}: service_ports is kept and the removed ${legacy.map((a) => a.name).join(' and ')} dropped, though they say something else`,
        `${was} meant ${meant}. service_ports takes precedence, as on Aporeto enforcers from 3.12; the rewrite never takes their union, which would widen the network. Check that service_ports covers what the network needs.`,
        pos(legacy[0]),
      ),
    );
  }

  const extents = new Map<Attribute, Extent>();
  for (const a of attrs) {
    if (![...LEGACY, 'service_ports'].includes(a.name)) continue;
    const ext = extentOf(text, offsetOf(a.namePos.line, a.namePos.column));
    if (typeof ext === 'string') {
      diagnostics.push(makeDiagnostic('error', MigrateCodes.notLiteral, `${owner}: cannot rewrite "${a.name}": ${ext}`, undefined, pos(a)));
      continue;
    }
    extents.set(a, ext);
    if (LEGACY.includes(a.name as (typeof LEGACY)[number]) && ext.innerComments) {
      diagnostics.push(
        makeDiagnostic(
          'warning',
          MigrateCodes.review,
          `${owner}: comments inside "${a.name}" were removed with it`,
          'Review the rewritten service_ports and add back what the comments said.',
          pos(a),
        ),
      );
    }
  }
  if (diagnostics.some((d) => d.severity === 'error')) return { edits: [], diagnostics };

  const edits: Edit[] = [];
  if (existing) {
    // An empty service_ports takes the converted value; a written one stays as it is.
    if (outcome.kind === 'converted') {
      const ext = extents.get(existing)!;
      edits.push({ start: ext.exprStart, end: ext.exprEnd, text: hclValue(outcome.servicePorts, ext.indent) });
    }
    for (const a of legacy) edits.push(removal(text, extents.get(a)!));
  } else {
    const [first, ...rest] = [...legacy].sort((a, b) => extents.get(a)!.nameStart - extents.get(b)!.nameStart);
    const ext = extents.get(first)!;
    // Keep the `=` where it was when `service_ports` fits before it, so an aligned block stays aligned.
    const eqCol = ext.eq - ext.nameStart;
    const name = eqCol > 'service_ports'.length ? 'service_ports'.padEnd(eqCol) : 'service_ports ';
    edits.push({ start: ext.nameStart, end: ext.exprEnd, text: `${name}= ${hclValue(outcome.servicePorts, ext.indent)}` });
    for (const a of rest) edits.push(removal(text, extents.get(a)!));
  }
  return { edits, diagnostics };
}

/** Extent is where an attribute's parts are in the text (offsets). */
export interface Extent {
  /** Start of the line holding the attribute name. */
  lineStart: number;
  nameStart: number;
  /** Offset of the `=`. */
  eq: number;
  exprStart: number;
  /** End of the expression (exclusive), before any trailing space or comment. */
  exprEnd: number;
  /** Start of a trailing comment on the expression's last line, if any. */
  commentStart?: number;
  /** End of the attribute's last line, after its newline (or the end of the text). */
  lineEnd: number;
  /** Indentation of the attribute's line. */
  indent: string;
  /** Whether comments appear inside the expression (they go away with it). */
  innerComments: boolean;
}

/**
 * extentOf scans an attribute that starts at `nameStart` (see the module comment). Returns a
 * reason string for what it does not handle.
 */
export function extentOf(text: string, nameStart: number): Extent | string {
  const lineStart = text.lastIndexOf('\n', nameStart - 1) + 1;
  let i = nameStart;
  while (i < text.length && /[A-Za-z0-9_-]/.test(text[i])) i++;
  while (text[i] === ' ' || text[i] === '\t') i++;
  if (text[i] !== '=') return 'no "=" after the attribute name';
  const eq = i;
  i++;
  while (text[i] === ' ' || text[i] === '\t') i++;
  const exprStart = i;
  if (text.startsWith('<<', i)) return 'heredoc values are not supported';

  // Stack of open contexts: brackets in expressions, quoted strings, and `${`/`%{` inside strings.
  const stack: Array<'(' | '[' | '{' | '"' | '${'> = [];
  let innerComments = false;
  let exprEnd = i;
  for (; i < text.length; i++) {
    const c = text[i];
    const top = stack[stack.length - 1];
    if (top === '"') {
      if (c === '\\') i++;
      else if ((c === '$' || c === '%') && text[i + 1] === '{') {
        if (text[i - 1] === c) continue; // `$${` and `%%{` are escapes, not interpolations
        stack.push('${');
        i++;
      } else if (c === '"') stack.pop();
      else if (c === '\n') return 'unterminated string';
      exprEnd = i + 1;
      continue;
    }
    if (c === '#' || (c === '/' && text[i + 1] === '/')) {
      if (stack.length === 0) break;
      innerComments = true;
      while (i < text.length && text[i] !== '\n') i++;
      i--; // let the loop see the newline
      continue;
    }
    if (c === '/' && text[i + 1] === '*') {
      const close = text.indexOf('*/', i + 2);
      if (close < 0) return 'unterminated comment';
      if (stack.length === 0) break;
      innerComments = true;
      i = close + 1;
      continue;
    }
    if (c === '\n' || c === '\r') {
      if (stack.length === 0) break;
      continue;
    }
    if (c === '"') stack.push('"');
    else if (c === '(' || c === '[' || c === '{') stack.push(c);
    else if (c === ')' || c === ']' || c === '}') {
      if (stack.length === 0) break; // the `}` closing a one-line block
      const open = stack.pop();
      if (open === '${' && c !== '}') return 'unbalanced brackets';
    }
    if (c !== ' ' && c !== '\t') exprEnd = i + 1;
  }
  if (stack.length > 0) return 'unbalanced brackets or unterminated string';

  let j = exprEnd;
  while (text[j] === ' ' || text[j] === '\t') j++;
  const commentStart = text[j] === '#' || text.startsWith('//', j) || text.startsWith('/*', j) ? j : undefined;
  const nl = text.indexOf('\n', exprEnd);
  const lineEnd = nl < 0 ? text.length : nl + 1;
  const indent = /^[ \t]*/.exec(text.slice(lineStart, nameStart))![0];
  return { lineStart, nameStart, eq, exprStart, exprEnd, commentStart, lineEnd, indent, innerComments };
}

/**
 * removal deletes an attribute: its whole line(s) when it stands alone on them; when a comment
 * follows it, the comment stays on its own line; inside a one-line block, just the attribute.
 */
function removal(text: string, ext: Extent): Edit {
  const alone = text.slice(ext.lineStart, ext.nameStart).trim() === '';
  if (!alone) return { start: ext.nameStart, end: ext.exprEnd, text: '' };
  if (ext.commentStart !== undefined) return { start: ext.nameStart, end: ext.commentStart, text: '' };
  const rest = text.slice(ext.exprEnd, ext.lineEnd).trim();
  if (rest !== '') return { start: ext.nameStart, end: ext.exprEnd, text: '' };
  return { start: ext.lineStart, end: ext.lineEnd, text: '' };
}

/** literalList reads `["a", 6]`: a tuple of plain strings and numbers, or undefined. */
function literalList(e: Expr): Array<string | number> | undefined {
  while (e.kind === 'paren') e = e.expr;
  if (e.kind !== 'tuple') return undefined;
  const out: Array<string | number> = [];
  for (const item of e.items) {
    if (item.kind === 'literal' && typeof item.value === 'number') out.push(item.value);
    else if (item.kind === 'template' && item.parts.every((p) => p.kind === 'lit')) {
      out.push(item.parts.map((p) => (p.kind === 'lit' ? p.value : '')).join(''));
    } else return undefined;
  }
  return out;
}

function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === '\n') starts.push(i + 1);
  return starts;
}

