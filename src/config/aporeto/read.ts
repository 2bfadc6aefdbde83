/**
 * Reading an Aporeto import file (YAML, or JSON, which YAML 1.2 also reads) into plain data
 * plus the source position of every value and key, so that each migration problem can say
 * exactly where in the user's file it is.
 *
 * Go templates are found here, while the source text is at hand: `{{ .Values.x }}` unquoted is
 * valid YAML (a flow mapping inside a flow mapping), so looking only at parsed values would miss
 * it. Any node whose source starts with `{{`, and any string containing `{{` or `}}`, is
 * recorded as a template.
 */
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import type { Diagnostic, SourcePos } from '../../diagnostics';
import { makeDiagnostic } from '../../diagnostics';
import { MigrateCodes } from './codes';

export type Path = ReadonlyArray<string | number>;

/** ReadFile is a parsed import file; `valueAt`/`keyAt` give positions for a path into `data`. */
export interface ReadFile {
  data: unknown;
  valueAt(path: Path): SourcePos;
  keyAt(path: Path): SourcePos;
  /** Where Go templates were found, by path of the value (or key) that holds one. */
  templates: Array<{ path: Path; pos: SourcePos; text: string }>;
}

const key = (path: Path): string => path.join('\u0000');

/** readImportFile parses the text; syntax errors are diagnostics and `file` is then undefined. */
export function readImportFile(fileName: string, text: string): { file?: ReadFile; diagnostics: Diagnostic[] } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number): SourcePos => {
    const lp = lines.linePos(offset);
    return { file: fileName, line: lp.line, column: lp.col };
  };
  if (doc.errors.length > 0) {
    // Templates that broke the YAML are the real problem; list them rather than the parse error.
    const found: Diagnostic[] = [];
    for (const t of text.matchAll(/\{\{[^\n]*?\}\}/g)) {
      const lineStart = text.lastIndexOf('\n', t.index - 1) + 1;
      if (text.slice(lineStart, t.index).trimStart().startsWith('#')) continue; // in a comment
      found.push(
        makeDiagnostic(
          'error',
          MigrateCodes.template,
          `Go template ${JSON.stringify(firstLine(t[0]))} in an import file`,
          'migrate converts rendered import files only. Render the templates first and migrate the result; a template cannot be converted to a fixed firewall rule.',
          at(t.index),
        ),
      );
    }
    if (found.length > 0) return { diagnostics: found };
    return {
      diagnostics: doc.errors.map((e) => {
        const pos = at(e.pos[0]);
        if (e.code === 'MULTIPLE_DOCS') {
          return makeDiagnostic(
            'error',
            MigrateCodes.syntax,
            'The file holds several YAML documents',
            'An import file is one document: the "---" here starts another. Put each document in a file of its own and migrate them together.',
            pos,
          );
        }
        if (e.code === 'DUPLICATE_KEY') {
          const key = text.slice(e.pos[0], e.pos[1]).split(':')[0].trim();
          return makeDiagnostic(
            'error',
            MigrateCodes.syntax,
            `Invalid YAML/JSON: the key ${JSON.stringify(key)} appears twice in the same mapping`,
            'migrate will not guess which one counts. Keep the one you mean and remove the other.',
            pos,
          );
        }
        return makeDiagnostic('error', MigrateCodes.syntax, `Invalid YAML/JSON: ${firstLine(e.message)}`, undefined, pos);
      }),
    };
  }

  const valuePos = new Map<string, SourcePos>();
  const keyPos = new Map<string, SourcePos>();
  const templates: ReadFile['templates'] = [];
  const data = walk(doc, doc.contents as Node | null, [], text, at, valuePos, keyPos, templates);
  const lookup =
    (primary: Map<string, SourcePos>) =>
    (path: Path): SourcePos => {
      for (let n = path.length; n >= 0; n--) {
        const p = primary.get(key(path.slice(0, n))) ?? valuePos.get(key(path.slice(0, n)));
        if (p) return p;
      }
      return { file: fileName, line: 1, column: 1 };
    };
  return { file: { data, valueAt: lookup(valuePos), keyAt: lookup(keyPos), templates }, diagnostics: [] };
}

function walk(
  doc: Document,
  node: Node | null,
  path: Path,
  text: string,
  at: (offset: number) => SourcePos,
  valuePos: Map<string, SourcePos>,
  keyPos: Map<string, SourcePos>,
  templates: ReadFile['templates'],
): unknown {
  if (node === null || node === undefined) return null;
  if (isAlias(node)) return walk(doc, node.resolve(doc) as Node | null, path, text, at, valuePos, keyPos, templates);
  const range = node.range;
  if (range) valuePos.set(key(path), at(range[0]));
  const source = range ? text.slice(range[0], range[1]) : '';
  if (source.startsWith('{{')) {
    templates.push({ path, pos: at(range![0]), text: source });
    return null;
  }
  if (isScalar(node)) {
    const v = node.value;
    if (typeof v === 'string' && (v.includes('{{') || v.includes('}}'))) {
      templates.push({ path, pos: at(range ? range[0] : 0), text: v });
    }
    return v instanceof Date ? v.toISOString() : v;
  }
  if (isSeq(node)) {
    return node.items.map((item, i) => walk(doc, item as Node | null, [...path, i], text, at, valuePos, keyPos, templates));
  }
  if (isMap(node)) {
    const out: Record<string, unknown> = {};
    for (const pair of node.items) {
      const k = pair.key as Node | null;
      let name: string;
      if (k && isScalar(k)) {
        name = String(k.value);
        if (name.includes('{{') || name.includes('}}')) templates.push({ path: [...path, name], pos: at(k.range ? k.range[0] : 0), text: name });
      } else {
        const src = k?.range ? text.slice(k.range[0], k.range[1]) : '?';
        name = src;
        if (k?.range && src.includes('{{')) templates.push({ path: [...path, name], pos: at(k.range[0]), text: src });
      }
      if (k?.range) keyPos.set(key([...path, name]), at(k.range[0]));
      out[name] = walk(doc, pair.value as Node | null, [...path, name], text, at, valuePos, keyPos, templates);
    }
    return out;
  }
  return null;
}

function firstLine(s: string): string {
  return s.split('\n')[0].trim();
}
