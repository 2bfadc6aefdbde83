/**
 * HCL JSON syntax (`*.hcl.json`), as Terraform reads `*.tf.json`: the top-level object's keys are
 * block types (`variable`, `locals`, `output`, or a resource type), and string values are
 * templates, so `"${var.x}"` is a reference. The file is read by a small JSON parser that records
 * positions, then turned into the same syntax tree as native files.
 */
import { type Diagnostic, DiagnosticSink, type SourcePos } from '../../diagnostics';
import type { Value } from '../types';
import type { Attribute, Block, Body, Expr, ObjectItem } from './ast';
import { Codes } from './codes';
import { type ParseResult, parseExpression, parseTemplateText } from './parser';
import { nfc } from './values';

type JNode =
  | { kind: 'obj'; props: { key: string; keyPos: SourcePos; value: JNode }[]; pos: SourcePos }
  | { kind: 'arr'; items: JNode[]; pos: SourcePos }
  | { kind: 'str'; value: string; pos: SourcePos }
  | { kind: 'lit'; value: number | boolean | null; pos: SourcePos };

class JsonError {
  constructor(
    readonly message: string,
    readonly pos: SourcePos,
  ) {}
}

/** JsonReader parses JSON text, keeping the position of every value. */
class JsonReader {
  private i = 0;
  private line = 1;
  private lineStart = 0;
  constructor(
    private readonly file: string,
    private readonly text: string,
  ) {}

  private pos(): SourcePos {
    return { file: this.file, line: this.line, column: this.i - this.lineStart + 1 };
  }

  private ws(): void {
    const t = this.text;
    for (;;) {
      const c = t.charCodeAt(this.i);
      if (c === 10) {
        this.i++;
        this.line++;
        this.lineStart = this.i;
      } else if (c === 32 || c === 9 || c === 13) this.i++;
      else return;
    }
  }

  readDocument(): JNode {
    const v = this.value(0);
    this.ws();
    if (this.i < this.text.length) throw new JsonError('Unexpected text after the JSON value', this.pos());
    return v;
  }

  private value(depth: number): JNode {
    if (depth > 200) throw new JsonError('JSON nested too deeply', this.pos());
    this.ws();
    const t = this.text;
    const pos = this.pos();
    const c = t[this.i];
    if (c === '{') {
      this.i++;
      const props: { key: string; keyPos: SourcePos; value: JNode }[] = [];
      this.ws();
      if (t[this.i] === '}') {
        this.i++;
        return { kind: 'obj', props, pos };
      }
      for (;;) {
        this.ws();
        const keyPos = this.pos();
        if (t[this.i] !== '"') throw new JsonError('Expected a quoted property name', keyPos);
        const key = this.string();
        this.ws();
        if (t[this.i] !== ':') throw new JsonError('Expected ":" after the property name', this.pos());
        this.i++;
        props.push({ key, keyPos, value: this.value(depth + 1) });
        this.ws();
        if (t[this.i] === ',') {
          this.i++;
          continue;
        }
        if (t[this.i] === '}') {
          this.i++;
          return { kind: 'obj', props, pos };
        }
        throw new JsonError('Expected "," or "}" in object', this.pos());
      }
    }
    if (c === '[') {
      this.i++;
      const items: JNode[] = [];
      this.ws();
      if (t[this.i] === ']') {
        this.i++;
        return { kind: 'arr', items, pos };
      }
      for (;;) {
        items.push(this.value(depth + 1));
        this.ws();
        if (t[this.i] === ',') {
          this.i++;
          continue;
        }
        if (t[this.i] === ']') {
          this.i++;
          return { kind: 'arr', items, pos };
        }
        throw new JsonError('Expected "," or "]" in array', this.pos());
      }
    }
    if (c === '"') return { kind: 'str', value: this.string(), pos };
    for (const [word, v] of [
      ['true', true],
      ['false', false],
      ['null', null],
    ] as const) {
      if (t.startsWith(word, this.i)) {
        this.i += word.length;
        return { kind: 'lit', value: v, pos };
      }
    }
    let j = this.i;
    while (j < t.length && /[-+0-9.eE]/.test(t[j])) j++;
    const num = t.slice(this.i, j);
    if (num && /^-?(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?$/.test(num)) {
      this.i = j;
      return { kind: 'lit', value: Number(num), pos };
    }
    throw new JsonError(c === undefined ? 'Unexpected end of JSON' : `Unexpected character ${JSON.stringify(c)} in JSON`, pos);
  }

  private string(): string {
    const t = this.text;
    const start = this.i;
    let j = this.i + 1;
    for (;;) {
      const c = t.charCodeAt(j);
      if (j >= t.length || c === 10) throw new JsonError('Unterminated string', this.pos());
      if (c === 92) j += 2;
      else if (c === 34) break;
      else j++;
    }
    const raw = t.slice(start, j + 1);
    this.i = j + 1;
    try {
      return JSON.parse(raw) as string;
    } catch {
      throw new JsonError('Invalid escape in string', { file: this.file, line: this.line, column: start - this.lineStart + 1 });
    }
  }
}

/** parseJsonSyntax reads a `.hcl.json` file into the native syntax tree. */
export function parseJsonSyntax(fileName: string, text: string): ParseResult {
  const diags = new DiagnosticSink();
  const empty: Body = { attributes: [], blocks: [], pos: { file: fileName, line: 1, column: 1 } };
  let root: JNode;
  try {
    root = new JsonReader(fileName, text).readDocument();
  } catch (e) {
    if (!(e instanceof JsonError)) throw e;
    diags.push({
      severity: 'error',
      code: Codes.invalidJson,
      summary: `Invalid JSON: ${e.message}`,
      detail: 'A .hcl.json file must be one JSON object whose keys are block types, e.g. {"variable": {"x": {"default": 1}}}.',
      ...e.pos,
    });
    return { file: { name: fileName, body: { ...empty, lost: [''] } }, diagnostics: diags.result() };
  }
  const conv = new Converter(fileName, diags);
  const body = conv.convertFile(root);
  return { file: { name: fileName, body }, diagnostics: diags.result() };
}

class Converter {
  constructor(
    private readonly file: string,
    private readonly diags: DiagnosticSink,
  ) {}

  private err(summary: string, detail: string, pos: SourcePos): void {
    this.diags.push({ severity: 'error', code: Codes.invalidJson, summary, detail, ...pos });
  }

  convertFile(root: JNode): Body {
    const body: Body = { attributes: [], blocks: [], pos: root.pos };
    if (root.kind !== 'obj') {
      body.lost = [''];
      this.err('A .hcl.json file must contain a JSON object', 'Write {"<block type>": {...}} at the top level.', root.pos);
      return body;
    }
    for (const p of root.props) {
      if (p.key === '//') continue;
      if (p.key === 'locals') {
        for (const b of this.bodies(p.value)) body.blocks.push({ type: 'locals', labels: [], body: this.body(b, 'plain'), pos: p.keyPos });
        continue;
      }
      if (p.value.kind !== 'obj') {
        (body.lost ??= []).push(p.key);
        this.err(
          `"${p.key}" must be an object of labels`,
          `Write "${p.key}": {"<label>": {...attributes}}; a top-level "${p.key}" maps each label to its body.`,
          p.value.pos,
        );
        continue;
      }
      for (const lp of p.value.props) {
        if (lp.key === '//') continue;
        const kind = p.key === 'variable' ? 'variable' : 'plain';
        for (const b of this.bodies(lp.value)) {
          const block: Block = { type: p.key, labels: [{ value: lp.key, pos: lp.keyPos }], body: this.body(b, kind), pos: p.keyPos };
          body.blocks.push(block);
        }
      }
    }
    return body;
  }

  /** bodies accepts one object or an array of objects (a repeated block). */
  private bodies(n: JNode): JNode[] {
    if (n.kind === 'obj') return [n];
    if (n.kind === 'arr' && n.items.every((i) => i.kind === 'obj')) return n.items;
    this.err('Expected a JSON object (block body)', 'A block body is a JSON object of attributes.', n.pos);
    return [];
  }

  private body(n: JNode, kind: 'variable' | 'plain'): Body {
    const body: Body = { attributes: [], blocks: [], pos: n.pos };
    if (n.kind !== 'obj') return body;
    for (const p of n.props) {
      if (p.key === '//') continue;
      if (kind === 'variable' && p.key === 'validation') {
        for (const b of this.bodies(p.value)) body.blocks.push({ type: 'validation', labels: [], body: this.body(b, 'plain'), pos: p.keyPos });
        continue;
      }
      let expr: Expr;
      if (kind === 'variable' && p.key === 'type' && p.value.kind === 'str') {
        const r = parseExpression(this.file, p.value.value, p.value.pos.line, p.value.pos.column + 1);
        this.diags.push(...r.diagnostics);
        expr = r.expr;
      } else if (kind === 'variable' && p.key === 'default') {
        expr = { kind: 'json', value: plain(p.value), pos: p.value.pos };
      } else expr = this.expr(p.value);
      const attr: Attribute = { name: p.key, namePos: p.keyPos, expr };
      body.attributes.push(attr);
    }
    return body;
  }

  private expr(n: JNode): Expr {
    switch (n.kind) {
      case 'lit':
        return { kind: 'literal', value: n.value, pos: n.pos };
      case 'str':
        return parseTemplateText(this.file, n.value, n.pos.line, n.pos.column + 1, this.diags);
      case 'arr':
        return { kind: 'tuple', items: n.items.map((i) => this.expr(i)), pos: n.pos };
      case 'obj': {
        const items: ObjectItem[] = n.props
          .filter((p) => p.key !== '//')
          .map((p) => ({ key: { kind: 'template', parts: [{ kind: 'lit', value: nfc(p.key), pos: p.keyPos }], pos: p.keyPos }, keyName: nfc(p.key), value: this.expr(p.value) }));
        return { kind: 'object', items, pos: n.pos };
      }
    }
  }
}

function plain(n: JNode): Value {
  switch (n.kind) {
    case 'lit':
      return n.value;
    case 'str':
      return nfc(n.value);
    case 'arr':
      return n.items.map(plain);
    case 'obj': {
      const o: { [k: string]: Value } = {};
      for (const p of n.props) Object.defineProperty(o, nfc(p.key), { value: plain(p.value), enumerable: true, writable: true, configurable: true });
      return o;
    }
  }
}

/** readJsonValue parses a JSON document into plain data with positions of errors (var files). */
export function readJsonValue(fileName: string, text: string): { value?: Value; diagnostics: Diagnostic[] } {
  try {
    return { value: plain(new JsonReader(fileName, text).readDocument()), diagnostics: [] };
  } catch (e) {
    if (!(e instanceof JsonError)) throw e;
    return {
      diagnostics: [{ severity: 'error', code: Codes.invalidJson, summary: `Invalid JSON: ${e.message}`, detail: 'Fix the JSON syntax of this file.', ...e.pos }],
    };
  }
}

/** JsonNode is a parsed JSON value with the position of every value (for inputs whose errors point at a record). */
export type JsonNode = JNode;

/** readJsonNodes parses a JSON document keeping positions; a syntax error comes back with its position. */
export function readJsonNodes(fileName: string, text: string): { node?: JsonNode; error?: { message: string; pos: SourcePos } } {
  try {
    return { node: new JsonReader(fileName, text).readDocument() };
  } catch (e) {
    if (!(e instanceof JsonError)) throw e;
    return { error: { message: e.message, pos: e.pos } };
  }
}

/** jsonPlain is a node's plain value. */
export const jsonPlain = (n: JsonNode): Value => plain(n);
