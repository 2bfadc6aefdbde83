/**
 * Syntax tree of an HCL file (native or JSON syntax). Every node carries the position where it
 * starts, so evaluation errors and RawResource positions can point at what the user wrote.
 */
import type { SourcePos } from '../../diagnostics';

/** HclFile is one parsed file: its top-level body. */
export interface HclFile {
  name: string;
  body: Body;
}

/** Body is the content of a file or a block: attributes and nested blocks, in source order. */
export interface Body {
  attributes: Attribute[];
  blocks: Block[];
  pos: SourcePos;
  /**
   * Items lost to a syntax error (already reported), by the name they started with: an
   * attribute's or block type's name, or "" when not even that could be read. Evaluation treats
   * what they would have declared as unknown rather than missing, so a syntax error does not also
   * come back as "missing attribute" or "undeclared reference" errors.
   */
  lost?: string[];
}

/** markLost records in `body` that an item starting with `name` ("" if unknown) was lost. */
export function markLost(body: Body, name: string): void {
  (body.lost ??= []).push(name);
}

export interface Attribute {
  name: string;
  namePos: SourcePos;
  expr: Expr;
}

export interface Block {
  type: string;
  labels: { value: string; pos: SourcePos }[];
  body: Body;
  pos: SourcePos;
}

export type BinaryOp = '||' | '&&' | '==' | '!=' | '<' | '>' | '<=' | '>=' | '+' | '-' | '*' | '/' | '%';

/** TemplatePart is a piece of a string template; directives hold their own nested parts. */
export type TemplatePart =
  | { kind: 'lit'; value: string; pos: SourcePos }
  | { kind: 'interp'; expr: Expr; pos: SourcePos }
  | { kind: 'if'; cond: Expr; then: TemplatePart[]; else: TemplatePart[]; pos: SourcePos }
  | { kind: 'for'; keyVar?: string; valVar: string; coll: Expr; body: TemplatePart[]; pos: SourcePos };


export type Expr =
  | { kind: 'literal'; value: number | boolean | null; pos: SourcePos }
  | { kind: 'template'; parts: TemplatePart[]; pos: SourcePos }
  | { kind: 'scope'; name: string; pos: SourcePos }
  | { kind: 'getattr'; obj: Expr; name: string; pos: SourcePos; namePos: SourcePos }
  | { kind: 'index'; obj: Expr; key: Expr; pos: SourcePos; keyPos: SourcePos }
  /**
   * A splat, as HCL defines it: `each` is evaluated once per element of `obj` with the element
   * as `splatItem`. A full splat `[*]` takes every traversal after it into `each` (so `a[*].b[*].c`
   * nests a second splat inside the first); an attribute-only splat `.*` takes only the `.name`
   * and `.N` steps right after it.
   */
  | { kind: 'splat'; obj: Expr; each: Expr; pos: SourcePos }
  /** The element a splat's `each` is applied to. */
  | { kind: 'splatItem'; pos: SourcePos }
  | { kind: 'tuple'; items: Expr[]; pos: SourcePos }
  | { kind: 'object'; items: ObjectItem[]; pos: SourcePos }
  | {
      kind: 'for';
      keyVar?: string;
      valVar: string;
      coll: Expr;
      keyExpr?: Expr;
      valExpr: Expr;
      cond?: Expr;
      group: boolean;
      isObject: boolean;
      pos: SourcePos;
    }
  | { kind: 'cond'; cond: Expr; then: Expr; else: Expr; pos: SourcePos }
  | { kind: 'binary'; op: BinaryOp; left: Expr; right: Expr; pos: SourcePos; opPos: SourcePos }
  | { kind: 'unary'; op: '-' | '!'; operand: Expr; pos: SourcePos }
  | { kind: 'call'; name: string; args: Expr[]; expand: boolean; pos: SourcePos }
  | { kind: 'paren'; expr: Expr; pos: SourcePos }
  /** A JSON-syntax value that is data, not a template (e.g. a variable default). */
  | { kind: 'json'; value: import('../types').Value; pos: SourcePos }
  /** Placeholder for an expression that failed to parse (already reported). */
  | { kind: 'bad'; pos: SourcePos };

/** ObjectItem: `key = value`; `keyName` is set when the key is a bare identifier (a literal name). */
export interface ObjectItem {
  key: Expr;
  keyName?: string;
  value: Expr;
}

/** forEachChild calls `fn` on each direct sub-expression (used for reference collection). */
export function forEachChild(e: Expr, fn: (c: Expr) => void): void {
  switch (e.kind) {
    case 'literal':
    case 'scope':
    case 'json':
    case 'bad':
    case 'splatItem':
      return;
    case 'template':
      forEachPart(e.parts, fn);
      return;
    case 'getattr':
      fn(e.obj);
      return;
    case 'index':
      fn(e.obj);
      fn(e.key);
      return;
    case 'splat':
      fn(e.obj);
      fn(e.each);
      return;
    case 'tuple':
      for (const i of e.items) fn(i);
      return;
    case 'object':
      for (const i of e.items) {
        if (i.keyName === undefined) fn(i.key);
        fn(i.value);
      }
      return;
    case 'for':
      fn(e.coll);
      if (e.keyExpr) fn(e.keyExpr);
      fn(e.valExpr);
      if (e.cond) fn(e.cond);
      return;
    case 'cond':
      fn(e.cond);
      fn(e.then);
      fn(e.else);
      return;
    case 'binary':
      fn(e.left);
      fn(e.right);
      return;
    case 'unary':
      fn(e.operand);
      return;
    case 'call':
      for (const a of e.args) fn(a);
      return;
    case 'paren':
      fn(e.expr);
      return;
  }
}

function forEachPart(parts: TemplatePart[], fn: (c: Expr) => void): void {
  for (const p of parts) {
    if (p.kind === 'interp') fn(p.expr);
    else if (p.kind === 'if') {
      fn(p.cond);
      forEachPart(p.then, fn);
      forEachPart(p.else, fn);
    } else if (p.kind === 'for') {
      fn(p.coll);
      forEachPart(p.body, fn);
    }
  }
}
