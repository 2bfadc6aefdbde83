/**
 * Recursive-descent parser for HCL native syntax (the subset microseg documents, which covers
 * what Terraform users write). Errors are collected as diagnostics; after an error the parser
 * skips to the end of the offending line (respecting brackets) and carries on, so one run reports
 * every broken line instead of the first one only.
 */
import { type Diagnostic, DiagnosticSink, type SourcePos } from '../../diagnostics';
import type { Attribute, BinaryOp, Block, Body, Expr, HclFile, ObjectItem, TemplatePart } from './ast';
import { forEachChild, markLost } from './ast';
import { Codes } from './codes';
import { type HeredocState, Lexer, type Token } from './lexer';

/** ParseResult is a syntax tree plus the syntax errors found while building it. */
export interface ParseResult {
  file: HclFile;
  diagnostics: Diagnostic[];
}

/** Thrown after an error has been reported, to unwind to the nearest recovery point. */
class Bail {}
const BAIL = new Bail();

const PREC: Record<string, number> = {
  '||': 1,
  '&&': 2,
  '==': 3,
  '!=': 3,
  '<': 4,
  '>': 4,
  '<=': 4,
  '>=': 4,
  '+': 5,
  '-': 5,
  '*': 6,
  '/': 6,
  '%': 6,
};

/**
 * Limits that keep recursion (here, in the evaluator and in every walker of the tree) well below
 * the JavaScript stack, so hostile or generated input gets MSEG1017 at its position instead of a
 * RangeError and a stack trace. MAX_DEPTH bounds the parser's own recursion: brackets,
 * parentheses, calls, conditionals, unary operators and templates nested in one expression.
 * MAX_BLOCK_DEPTH bounds nested blocks. MAX_HEIGHT bounds the depth of an expression's syntax tree
 * as the evaluator walks it, where a chain of N binary operators or N traversal steps is N levels
 * deep even though it is parsed in a loop; 2,000 levels overflowed Node's default stack.
 * MAX_DIRECTIVE_DEPTH bounds nested %{if}/%{for} directives.
 */
export const MAX_DEPTH = 200;
export const MAX_BLOCK_DEPTH = 100;
export const MAX_HEIGHT = 1000;
const MAX_DIRECTIVE_DEPTH = 100;

type FlatItem =
  | { kind: 'lit'; value: string; pos: SourcePos }
  | { kind: 'interp'; expr: Expr; pos: SourcePos; stripL: boolean; stripR: boolean }
  | { kind: 'if'; cond: Expr; pos: SourcePos; stripL: boolean; stripR: boolean }
  | { kind: 'for'; keyVar?: string; valVar: string; coll: Expr; pos: SourcePos; stripL: boolean; stripR: boolean }
  | { kind: 'else' | 'endif' | 'endfor'; pos: SourcePos; stripL: boolean; stripR: boolean };

export class Parser {
  private tok: Token;
  /** Set by errors that must unwind the whole item (nesting limits), see skipItem. */
  private abandon = false;
  private readonly nl: boolean[] = [true];
  private depth = 0;
  private blockDepth = 0;
  readonly diags: DiagnosticSink;

  constructor(
    private readonly lx: Lexer,
    private readonly file: string,
    preRead = true,
  ) {
    this.diags = lx.diags;
    this.tok = preRead ? lx.next() : { type: 'eof', value: '', line: lx.line, column: lx.col };
  }

  private pos(t: { line: number; column: number }): SourcePos {
    return { file: this.file, line: t.line, column: t.column };
  }

  private error(code: string, summary: string, detail: string, at: { line: number; column: number }): void {
    this.diags.push({ severity: 'error', code, summary, detail, file: this.file, line: at.line, column: at.column });
  }

  private fail(code: string, summary: string, detail: string, at: { line: number; column: number }): never {
    this.error(code, summary, detail, at);
    throw BAIL;
  }

  private advance(): void {
    this.tok = this.lx.next();
  }

  private skipNewlines(): void {
    while (this.tok.type === 'newline') this.tok = this.lx.next();
  }

  private peek(): Token {
    if (!this.nl[this.nl.length - 1]) while (this.tok.type === 'newline') this.tok = this.lx.next();
    return this.tok;
  }

  private isPunct(v: string): boolean {
    const t = this.peek();
    return t.type === 'punct' && t.value === v;
  }

  private isKeyword(v: string): boolean {
    const t = this.peek();
    return t.type === 'ident' && t.value === v;
  }

  private describe(t: Token): string {
    switch (t.type) {
      case 'eof':
        return 'end of file';
      case 'newline':
        return 'newline';
      case 'oquote':
        return 'string';
      case 'heredoc':
        return 'heredoc';
      default:
        return `"${t.value}"`;
    }
  }

  private expectPunct(v: string, summary: string, detail: string): Token {
    const t = this.peek();
    if (t.type === 'punct' && t.value === v) return t;
    this.fail(Codes.expectedToken, `${summary}, found ${this.describe(t)}`, detail, t);
  }

  // ---------------------------------------------------------------- bodies

  parseFile(): HclFile {
    const body = this.parseBody(undefined);
    return { name: this.file, body };
  }

  private parseBody(open: Token | undefined): Body {
    const body: Body = { attributes: [], blocks: [], pos: this.pos(open ?? { line: 1, column: 1 }) };
    const seen = new Map<string, SourcePos>();
    for (;;) {
      this.skipNewlines();
      const t = this.tok;
      if (t.type === 'eof') {
        if (open) {
          this.error(Codes.expectedToken, 'Unclosed block', 'This block body was opened with "{" but never closed; add the matching "}".', open);
        }
        return body;
      }
      if (t.type === 'punct' && t.value === '}') {
        if (open) return body;
        this.error(Codes.expectedItem, 'Unexpected "}"', 'There is no open block to close here; remove the extra "}".', t);
        this.advance();
        continue;
      }
      const nlDepth = this.nl.length;
      const depth = this.depth;
      const blockDepth = this.blockDepth;
      const start = { tok: this.tok, i: this.lx.i, line: this.lx.line, col: this.lx.col };
      try {
        this.parseItem(body, seen, open !== undefined);
      } catch (e) {
        if (e !== BAIL) throw e;
        this.nl.length = nlDepth;
        this.depth = depth;
        this.blockDepth = blockDepth;
        markLost(body, start.tok.type === 'ident' ? start.tok.value : '');
        if (this.abandon) {
          // The failure was deep inside nested brackets and strings, where the token-level sync
          // cannot tell a string's quote from a nested one: skip the whole item from its start.
          this.abandon = false;
          this.lx.i = start.i;
          this.lx.line = start.line;
          this.lx.col = start.col;
          this.tok = start.tok;
          this.skipItem();
        } else this.sync(open !== undefined);
      }
    }
  }

  private parseItem(body: Body, seen: Map<string, SourcePos>, inBlock: boolean): void {
    const t = this.tok;
    if (t.type !== 'ident') {
      this.fail(
        Codes.expectedItem,
        `Argument or block definition required, found ${this.describe(t)}`,
        'Write an attribute as `name = value` or a block as `type "label" { ... }`, each on its own line.',
        t,
      );
    }
    this.advance();
    const n = this.tok;
    if (n.type === 'punct' && n.value === '=') {
      this.advance();
      const expr = this.parseExpr();
      const prev = seen.get(t.value);
      if (prev) {
        this.error(
          Codes.duplicateAttribute,
          `Attribute "${t.value}" redefined`,
          `"${t.value}" was already set at ${prev.file}:${prev.line}:${prev.column}; each attribute may be set once per block. Remove one of them.`,
          t,
        );
      } else seen.set(t.value, this.pos(t));
      const attr: Attribute = { name: t.value, namePos: this.pos(t), expr };
      body.attributes.push(attr);
      this.endOfItem(inBlock);
      return;
    }
    if (n.type === 'oquote' || n.type === 'ident' || (n.type === 'punct' && n.value === '{')) {
      const labels: Block['labels'] = [];
      while (this.tok.type === 'oquote' || this.tok.type === 'ident') {
        const lt = this.tok;
        if (lt.type === 'ident') {
          labels.push({ value: lt.value, pos: this.pos(lt) });
          this.advance();
          continue;
        }
        const tpl = this.parseTemplate('quoted', lt);
        const parts = tpl.kind === 'template' ? tpl.parts : [];
        if (parts.every((p) => p.kind === 'lit')) {
          labels.push({ value: parts.map((p) => (p.kind === 'lit' ? p.value : '')).join(''), pos: this.pos(lt) });
        } else {
          this.error(
            Codes.invalidLabel,
            'Invalid block label',
            'Block labels must be literal strings; "${...}" interpolation is not allowed here. Use for_each to create several resources from data.',
            lt,
          );
        }
      }
      const ob = this.tok;
      if (!(ob.type === 'punct' && ob.value === '{')) {
        this.fail(
          Codes.expectedToken,
          `Expected "{" to open the block body, found ${this.describe(ob)}`,
          `A block is written ${t.value} "label" { ... }; labels are quoted strings.`,
          ob,
        );
      }
      if (this.blockDepth >= MAX_BLOCK_DEPTH) {
        this.fail(
          Codes.tooDeep,
          'Blocks nested too deeply',
          `microseg reads blocks nested at most ${MAX_BLOCK_DEPTH} levels deep; this ${t.value} block is deeper. Flatten the configuration: microseg resources nest at most two levels (a resource and its connection or lifecycle block).`,
          t,
        );
      }
      this.advance();
      let inner: Body;
      const first = this.tok;
      if (first.type === 'newline' || first.type === 'eof' || (first.type === 'punct' && first.value === '}')) {
        this.blockDepth++;
        inner = this.parseBody(ob);
        this.blockDepth--;
        if (this.tok.type === 'punct' && this.tok.value === '}') this.advance();
      } else inner = this.parseSingleLineBody(ob);
      const block: Block = { type: t.value, labels, body: inner, pos: this.pos(t) };
      body.blocks.push(block);
      this.endOfItem(inBlock);
      return;
    }
    this.fail(
      Codes.expectedToken,
      `Expected "=" or a block after "${t.value}", found ${this.describe(n)}`,
      `Set an attribute with ${t.value} = value, or open a block with ${t.value} { ... }.`,
      n,
    );
  }

  /**
   * parseSingleLineBody reads a block written on one line, `lifecycle { prevent_destroy = true }`,
   * with HCL's rules: exactly one argument, closed on the same line; a nested block or a second
   * argument must go on lines of their own. Errors use HCL's wording and skip to the block's "}".
   */
  private parseSingleLineBody(open: Token): Body {
    const body: Body = { attributes: [], blocks: [], pos: this.pos(open) };
    const id = this.tok;
    const wrong = (summary: string, detail: string, at: Token, lost = ''): Body => {
      this.error(Codes.singleLineBlock, summary, detail, at);
      markLost(body, lost);
      this.skipToBlockEnd();
      return body;
    };
    if (id.type !== 'ident') return wrong('Argument or block definition required', 'An argument or block definition is required here.', id);
    this.advance();
    const n = this.tok;
    if (n.type === 'oquote' || n.type === 'ident' || (n.type === 'punct' && n.value === '{')) {
      return wrong(
        'Argument definition required',
        `A single-line block definition can contain only a single argument. If you meant to define argument "${id.value}", use an equals sign to assign it a value. To define a nested block, place it on a line of its own within its parent block.`,
        id,
        id.value,
      );
    }
    if (!(n.type === 'punct' && n.value === '=')) {
      return wrong('Argument or block definition required', 'An argument or block definition is required here. To set an argument, use the equals sign "=" to introduce the argument value.', id, id.value);
    }
    this.advance();
    const nlDepth = this.nl.length;
    const depth = this.depth;
    let expr: Expr;
    try {
      expr = this.parseExpr();
    } catch (e) {
      if (e !== BAIL || this.abandon) throw e;
      this.nl.length = nlDepth;
      this.depth = depth;
      markLost(body, id.value);
      this.skipToBlockEnd();
      return body;
    }
    body.attributes.push({ name: id.value, namePos: this.pos(id), expr });
    const c = this.tok;
    if (c.type === 'punct' && c.value === '}') {
      this.advance();
      return body;
    }
    if (c.type === 'punct' && c.value === ',') {
      return wrong(
        'Invalid single-argument block definition',
        'Single-line block syntax can include only one argument definition. To define multiple arguments, use the multi-line block syntax with one argument definition per line.',
        c,
      );
    }
    if (c.type === 'newline') {
      return wrong(
        'Invalid single-argument block definition',
        "An argument definition on the same line as its containing block creates a single-line block definition, which must also be closed on the same line. Place the block's closing brace immediately after the argument definition.",
        c,
      );
    }
    return wrong('Invalid single-argument block definition', 'A single-line block definition must end with a closing brace immediately after its single argument definition.', c);
  }

  /** skipToBlockEnd skips past the "}" that closes the block being read (error recovery). */
  private skipToBlockEnd(): void {
    let depth = 0;
    for (;;) {
      const t = this.tok;
      if (t.type === 'eof') return;
      if (t.type === 'oquote') this.lx.skipQuotedRest();
      else if (t.type === 'heredoc') this.lx.skipHeredocBody(t.value);
      else if (t.type === 'punct' && t.value === '{') depth++;
      else if (t.type === 'punct' && t.value === '}' && depth-- === 0) {
        this.advance();
        return;
      }
      this.advance();
    }
  }

  private endOfItem(inBlock: boolean): void {
    const t = this.tok;
    if (t.type === 'newline') {
      this.advance();
      return;
    }
    if (t.type === 'eof') return;
    if (inBlock && t.type === 'punct' && t.value === '}') return;
    this.fail(
      Codes.missingNewline,
      `Missing newline after argument, found ${this.describe(t)}`,
      'Each attribute and block must end at the end of its line. Put the next item on a new line, or separate list/object elements with commas.',
      t,
    );
  }

  /**
   * sync skips the rest of a broken item: to the next newline outside brackets, or to the "}"
   * that closes the enclosing block. A "}" that closes no bracket opened in the item is taken as
   * the block's end even inside an unclosed "[" or "(" (a string or list cut short is the common
   * case), so one broken line does not swallow its block's close and every block after it.
   */
  private sync(inBlock: boolean): void {
    const open: string[] = [];
    // How many of each opener are on `open`, so a closer with no opener costs no search and the
    // pops stay linear overall.
    const counts: Record<string, number> = { '{': 0, '[': 0, '(': 0 };
    for (;;) {
      const t = this.tok;
      if (t.type === 'eof') return;
      if (t.type === 'newline' && open.length === 0) {
        this.advance();
        return;
      }
      if (t.type === 'oquote') this.lx.skipQuotedRest();
      else if (t.type === 'heredoc') this.lx.skipHeredocBody(t.value);
      else if (t.type === 'punct') {
        if (t.value === '{' || t.value === '[' || t.value === '(') {
          open.push(t.value);
          counts[t.value]++;
        } else if (t.value === '}' || t.value === ']' || t.value === ')') {
          const opener = t.value === '}' ? '{' : t.value === ']' ? '[' : '(';
          if (counts[opener] > 0) {
            for (let o = open.pop()!; ; o = open.pop()!) {
              counts[o]--;
              if (o === opener) break;
            }
          } else if (t.value === '}' && inBlock) return;
        }
      }
      this.advance();
    }
  }

  /**
   * skipItem skips one item from its first token to the newline that ends it (or the "}" that
   * closes the enclosing block, left as the current token), following brackets, strings, heredocs
   * and template interpolations with an explicit stack, so arbitrarily deep nesting is skipped in
   * one linear pass without recursion. The lexer is muted: what it would report here lies past an
   * error already reported for this item.
   */
  private skipItem(): void {
    type Frame = { kind: 'bracket'; close: string } | { kind: 'tpl'; mode: 'quoted' | HeredocState; line: number; column: number } | { kind: 'interp' };
    const stack: Frame[] = [];
    const lx = this.lx;
    lx.muted = true;
    try {
      let t: Token | undefined = this.tok;
      for (;;) {
        const top = stack[stack.length - 1];
        if (top?.kind === 'tpl') {
          const p = lx.scanTemplate(top.mode, top.line, top.column);
          if (p.kind === 'end') stack.pop();
          else if (p.kind !== 'lit') stack.push({ kind: 'interp' });
          continue;
        }
        t ??= lx.next();
        const cur: Token = t;
        t = undefined;
        if (cur.type === 'eof') {
          this.tok = cur;
          return;
        }
        if (cur.type === 'newline') {
          if (stack.length === 0) {
            this.tok = lx.next();
            return;
          }
          continue;
        }
        if (cur.type === 'oquote') stack.push({ kind: 'tpl', mode: 'quoted', line: cur.line, column: cur.column });
        else if (cur.type === 'heredoc') stack.push({ kind: 'tpl', mode: lx.beginHeredoc(cur.value, !!cur.strip, cur.line, cur.column, false), line: cur.line, column: cur.column });
        else if (cur.type === 'punct') {
          if (cur.value === '{' || cur.value === '[' || cur.value === '(') stack.push({ kind: 'bracket', close: cur.value === '{' ? '}' : cur.value === '[' ? ']' : ')' });
          else if (cur.value === '}' || cur.value === ']' || cur.value === ')') {
            // Pop to the frame this closes; an unmatched "}" closes the enclosing block.
            let k = stack.length - 1;
            while (k >= 0 && !((stack[k].kind === 'bracket' && (stack[k] as { close: string }).close === cur.value) || (stack[k].kind === 'interp' && cur.value === '}'))) k--;
            if (k < 0) {
              if (cur.value === '}') {
                this.tok = cur;
                return;
              }
              continue;
            }
            stack.length = k;
          }
        }
      }
    } finally {
      lx.muted = false;
    }
  }

  // ---------------------------------------------------------------- expressions

  parseExpr(): Expr {
    const outermost = this.depth === 0;
    if (++this.depth > MAX_DEPTH) {
      this.abandon = true;
      this.fail(Codes.tooDeep, 'Expression nested too deeply', `Expressions may nest at most ${MAX_DEPTH} levels of brackets, parentheses and calls; split it using locals.`, this.peek());
    }
    const cond = this.parseBinary(0);
    let result = cond;
    if (this.isPunct('?')) {
      this.advance();
      const then = this.parseExpr();
      this.expectPunct(':', 'Expected ":" in conditional expression', 'A conditional is written condition ? value_if_true : value_if_false.');
      this.advance();
      const els = this.parseExpr();
      result = { kind: 'cond', cond, then, else: els, pos: cond.pos };
    }
    this.depth--;
    if (outermost && exceedsHeight(result, MAX_HEIGHT)) {
      this.error(
        Codes.tooDeep,
        'Expression too complex',
        `Its syntax tree is more than ${MAX_HEIGHT} levels deep (each operator of a chain such as a + b + c, and each .attribute or [index] step, adds a level). Split it into several locals.`,
        result.pos,
      );
      return { kind: 'bad', pos: result.pos };
    }
    return result;
  }

  private parseBinary(minPrec: number): Expr {
    let left = this.parseUnary();
    for (;;) {
      const t = this.peek();
      if (t.type !== 'punct') return left;
      const prec = PREC[t.value];
      if (prec === undefined || prec < minPrec) return left;
      this.advance();
      const right = this.parseBinary(prec + 1);
      left = { kind: 'binary', op: t.value as BinaryOp, left, right, pos: left.pos, opPos: this.pos(t) };
    }
  }

  private parseUnary(): Expr {
    const t = this.peek();
    if (t.type === 'punct' && (t.value === '-' || t.value === '!')) {
      this.advance();
      if (++this.depth > MAX_DEPTH) {
        this.abandon = true;
        this.fail(Codes.tooDeep, 'Expression nested too deeply', `Expressions may nest at most ${MAX_DEPTH} levels; simplify the expression.`, t);
      }
      const operand = this.parseUnary();
      this.depth--;
      return { kind: 'unary', op: t.value, operand, pos: this.pos(t) };
    }
    return this.parsePostfix(this.parsePrimary());
  }

  private parsePostfix(e: Expr): Expr {
    for (;;) {
      const t = this.peek();
      if (t.type !== 'punct' || (t.value !== '.' && t.value !== '[')) return e;
      if (t.value === '.') {
        this.advance();
        const n = this.peek();
        const step = this.attributeStep(e, n);
        if (step) e = step;
        else if (n.type === 'punct' && n.value === '*') {
          // Attribute-only splat (from HIL): only the .name and .N steps right after it apply to
          // each element; a later [index] applies to the resulting list.
          this.advance();
          const item: Expr = { kind: 'splatItem', pos: this.pos(n) };
          let each: Expr = item;
          while (this.isPunct('.')) {
            this.advance();
            const a = this.peek();
            const inner = this.attributeStep(each, a);
            if (inner) each = inner;
            else if (a.type === 'punct' && a.value === '*') {
              this.fail(Codes.expectedToken, 'Nested splat expression not allowed', 'A splat expression (*) cannot be used inside another attribute-only splat expression; write the full form, e.g. a[*].b[*].c.', a);
            } else {
              this.fail(Codes.expectedToken, 'Expected an attribute name after "."', 'Write .name after a splat.', a);
            }
          }
          e = { kind: 'splat', obj: e, each, pos: e.pos };
        } else {
          this.fail(
            Codes.expectedToken,
            `Expected an attribute name after ".", found ${this.describe(n)}`,
            'Attribute access is written value.name; use value["key"] for keys that are not identifiers.',
            n,
          );
        }
        continue;
      }
      // '['
      this.advance();
      this.nl.push(false);
      if (this.isPunct('*')) {
        const star = this.peek();
        this.advance();
        this.expectPunct(']', 'Expected "]" after "[*"', 'A splat is written list[*].attribute.');
        this.nl.pop();
        this.advance();
        // A full splat takes every traversal after it, including further splats, which nest.
        if (++this.depth > MAX_DEPTH) {
          this.abandon = true;
          this.fail(Codes.tooDeep, 'Splat expressions nested too deeply', `At most ${MAX_DEPTH} levels; split the expression using locals.`, star);
        }
        const each = this.parsePostfix({ kind: 'splatItem', pos: this.pos(star) });
        this.depth--;
        return { kind: 'splat', obj: e, each, pos: e.pos };
      }
      const key = this.parseExpr();
      this.expectPunct(']', 'Expected "]" to close the index', 'An index is written value[key], e.g. list[0] or map["key"].');
      this.nl.pop();
      this.advance();
      e = { kind: 'index', obj: e, key, pos: e.pos, keyPos: key.pos };
    }
  }

  /**
   * attributeStep applies the step after a "." when it is `.name` or HIL's `.0` index (consuming
   * it), or returns undefined for anything else.
   */
  private attributeStep(e: Expr, n: Token): Expr | undefined {
    if (n.type === 'ident') {
      this.advance();
      return { kind: 'getattr', obj: e, name: n.value, pos: e.pos, namePos: this.pos(n) };
    }
    if (n.type === 'number' && /^\d+(\.\d+)?$/.test(n.value)) {
      this.advance();
      return this.legacyIndex(e, n);
    }
    return undefined;
  }

  /** legacyIndex applies HIL's `a.0` index syntax; `a.0.1` lexes as the number 0.1, so split it. */
  private legacyIndex(e: Expr, n: Token): Expr {
    let col = n.column;
    for (const part of n.value.split('.')) {
      const kp = this.pos({ line: n.line, column: col });
      e = { kind: 'index', obj: e, key: { kind: 'literal', value: Number(part), pos: kp }, pos: e.pos, keyPos: kp };
      col += part.length + 1;
    }
    return e;
  }

  private parsePrimary(): Expr {
    const t = this.peek();
    switch (t.type) {
      case 'number': {
        this.advance();
        return { kind: 'literal', value: Number(t.value), pos: this.pos(t) };
      }
      case 'ident': {
        if (t.value === 'true' || t.value === 'false') {
          this.advance();
          return { kind: 'literal', value: t.value === 'true', pos: this.pos(t) };
        }
        if (t.value === 'null') {
          this.advance();
          return { kind: 'literal', value: null, pos: this.pos(t) };
        }
        this.advance();
        if (this.isPunct('(')) return this.parseCall(t);
        if (this.isPunct('::')) return this.parseCall(t, this.namespacedName(t));
        return { kind: 'scope', name: t.value, pos: this.pos(t) };
      }
      case 'oquote':
        return this.parseTemplate('quoted', t);
      case 'heredoc': {
        const h = this.lx.beginHeredoc(t.value, !!t.strip, t.line, t.column);
        return this.parseTemplate(h, t);
      }
      case 'punct':
        if (t.value === '(') {
          this.advance();
          this.nl.push(false);
          const inner = this.parseExpr();
          this.expectPunct(')', 'Expected ")" to close the parenthesis', 'Every "(" needs a matching ")".');
          this.nl.pop();
          this.advance();
          return { kind: 'paren', expr: inner, pos: this.pos(t) };
        }
        if (t.value === '[') return this.parseTuple(t);
        if (t.value === '{') return this.parseObject(t);
        break;
      default:
        break;
    }
    this.fail(
      Codes.missingExpression,
      t.type === 'eof' || t.type === 'newline' ? 'Missing expression' : `Invalid expression: unexpected ${this.describe(t)}`,
      'Expected a value here: a number, "string", true/false, null, [list], {object}, a reference such as var.name, or a function call.',
      t,
    );
  }

  /**
   * namespacedName reads the rest of `provider::aws::arn_parse` after its first part, up to the
   * "(" (HCL 2.18+ function namespaces; Terraform's provider-defined functions use them).
   */
  private namespacedName(first: Token): string {
    let name = first.value;
    while (this.isPunct('::')) {
      this.advance();
      const part = this.peek();
      if (part.type !== 'ident') {
        this.fail(Codes.expectedToken, 'Missing function name', 'Function scope resolution symbol :: must be followed by a function name in this scope.', part);
      }
      name += `::${part.value}`;
      this.advance();
    }
    if (!this.isPunct('(')) {
      this.fail(Codes.expectedToken, 'Missing open parenthesis', `Function selector ${name} must be followed by an open parenthesis to begin the function call.`, this.peek());
    }
    return name;
  }

  private parseCall(name: Token, fullName = name.value): Expr {
    this.advance(); // (
    this.nl.push(false);
    const args: Expr[] = [];
    let expand = false;
    while (!this.isPunct(')')) {
      args.push(this.parseExpr());
      if (this.isPunct('...')) {
        expand = true;
        this.advance();
        this.expectPunct(')', 'Expected ")" after "..."', 'Only the last argument of a call may be expanded with "...".');
        break;
      }
      if (this.isPunct(',')) {
        this.advance();
        continue;
      }
      this.expectPunct(')', 'Expected "," or ")" in function call', `Arguments are separated by commas: ${fullName}(a, b).`);
    }
    this.nl.pop();
    this.advance();
    return { kind: 'call', name: fullName, args, expand, pos: this.pos(name) };
  }

  private parseTuple(open: Token): Expr {
    this.advance();
    this.nl.push(false);
    if (this.isKeyword('for')) return this.parseFor(open, false);
    const items: Expr[] = [];
    while (!this.isPunct(']')) {
      items.push(this.parseExpr());
      if (this.isPunct(',')) {
        this.advance();
        continue;
      }
      this.expectPunct(']', 'Expected "," or "]" in list', 'Separate list elements with commas: [1, 2, 3].');
    }
    this.nl.pop();
    this.advance();
    return { kind: 'tuple', items, pos: this.pos(open) };
  }

  private parseObject(open: Token): Expr {
    this.advance();
    this.nl.push(true);
    this.skipNewlines();
    if (this.isKeyword('for')) {
      this.nl.push(false);
      const f = this.parseFor(open, true);
      this.nl.pop();
      return f;
    }
    const items: ObjectItem[] = [];
    for (;;) {
      this.skipNewlines();
      if (this.isPunct('}')) break;
      const kt = this.peek();
      const key = this.parseExpr();
      let keyName: string | undefined;
      if (kt.type === 'ident' && (key.kind === 'scope' || key.kind === 'literal') && key.pos.column === kt.column && key.pos.line === kt.line) {
        keyName = kt.value;
      }
      const eq = this.peek();
      if (!(eq.type === 'punct' && (eq.value === '=' || eq.value === ':'))) {
        this.fail(
          Codes.expectedToken,
          `Expected "=" after object key, found ${this.describe(eq)}`,
          'Object items are written key = value (or key: value), separated by commas or newlines.',
          eq,
        );
      }
      this.advance();
      const value = this.parseExpr();
      items.push(keyName !== undefined ? { key, keyName, value } : { key, value });
      const sep = this.peek();
      if (sep.type === 'punct' && sep.value === ',') {
        this.advance();
        continue;
      }
      if (sep.type === 'newline') continue;
      if (sep.type === 'punct' && sep.value === '}') break;
      this.fail(
        Codes.expectedToken,
        `Expected "," or newline after object item, found ${this.describe(sep)}`,
        'Separate object items with commas or put each on its own line.',
        sep,
      );
    }
    this.nl.pop();
    this.advance();
    return { kind: 'object', items, pos: this.pos(open) };
  }

  /**
   * parseForVariables reads `x in` or `k, v in` after the `for` keyword, shared by for expressions
   * and `%{for}` template directives, which differ only in their error code and wording.
   */
  private parseForVariables(
    code: string,
    msg: { first: [string, string]; second: [string, string]; in: [(t: Token) => string, string] },
  ): { keyVar?: string; valVar: string } {
    const a = this.peek();
    if (a.type !== 'ident') this.fail(code, msg.first[0], msg.first[1], a);
    this.advance();
    let keyVar: string | undefined;
    let valVar = a.value;
    if (this.isPunct(',')) {
      this.advance();
      const b = this.peek();
      if (b.type !== 'ident') this.fail(code, msg.second[0], msg.second[1], b);
      this.advance();
      keyVar = a.value;
      valVar = b.value;
    }
    if (!this.isKeyword('in')) {
      const t = this.peek();
      this.fail(code, msg.in[0](t), msg.in[1], t);
    }
    this.advance();
    return { keyVar, valVar };
  }

  /** parseFor parses after the opening bracket; the newline mode pushed by the caller is popped here. */
  private parseFor(open: Token, isObject: boolean): Expr {
    const close = isObject ? '}' : ']';
    this.advance(); // for
    const { keyVar, valVar } = this.parseForVariables(Codes.expectedToken, {
      first: ['Expected a variable name after "for"', 'Write [for x in list : expr] or {for k, v in map : k => v}.'],
      second: ['Expected a second variable name after ","', 'Write for key, value in collection.'],
      in: [(t) => `Expected "in" in for expression, found ${this.describe(t)}`, 'Write [for x in list : expr].'],
    });
    const coll = this.parseExpr();
    this.expectPunct(':', 'Expected ":" after the collection of a for expression', 'Write [for x in list : expr].');
    this.advance();
    let keyExpr: Expr | undefined;
    let valExpr: Expr;
    let group = false;
    if (isObject) {
      keyExpr = this.parseExpr();
      this.expectPunct('=>', 'Expected "=>" in object for expression', 'Write {for k, v in map : k => v}.');
      this.advance();
      valExpr = this.parseExpr();
      if (this.isPunct('...')) {
        group = true;
        this.advance();
      }
    } else valExpr = this.parseExpr();
    let cond: Expr | undefined;
    if (this.isKeyword('if')) {
      this.advance();
      cond = this.parseExpr();
    }
    this.expectPunct(close, `Expected "${close}" to close the for expression`, `A for expression ends with "${close}"; a condition is written "if expr" before it.`);
    this.nl.pop();
    this.advance();
    return { kind: 'for', keyVar, valVar, coll, keyExpr, valExpr, cond, group, isObject, pos: this.pos(open) };
  }

  // ---------------------------------------------------------------- templates

  /**
   * parseTemplate reads a quoted string, heredoc or bare template whose opening has just been
   * consumed by the lexer, then loads the token after it.
   */
  parseTemplate(mode: 'quoted' | 'bare' | HeredocState, open: { line: number; column: number }): Expr {
    const flat: FlatItem[] = [];
    const heredoc = typeof mode === 'object' ? mode : undefined;
    for (;;) {
      const p = this.lx.scanTemplate(mode, open.line, open.column);
      if (p.kind === 'end') break;
      const ppos = this.pos(p);
      if (p.kind === 'lit') {
        flat.push({ kind: 'lit', value: p.value, pos: ppos });
        continue;
      }
      const nlDepth = this.nl.length;
      const depth = this.depth;
      this.nl.push(false);
      this.tok = this.lx.next();
      try {
        const item = p.kind === 'interp' ? this.parseInterp(ppos, p.strip) : this.parseDirective(ppos, p.strip);
        flat.push(item);
      } catch (e) {
        if (e !== BAIL || this.abandon) throw e;
        this.nl.length = nlDepth;
        this.depth = depth;
        // Recover inside the template: skip to the closing "}" of this interpolation.
        let resumed = false;
        for (;;) {
          const t = this.tok;
          if (t.type === 'eof' || (heredoc && this.lx.i >= heredoc.end)) break;
          if (t.type === 'punct' && t.value === '}') {
            resumed = true;
            break;
          }
          if (!heredoc && (t.type === 'newline' || t.type === 'oquote')) break;
          this.tok = this.lx.next();
        }
        if (!resumed) {
          if (heredoc) continue;
          // A quoted template whose interpolation never closed: the string ends here.
          if (this.tok.type !== 'oquote') return this.finishTemplate(flat, open, false);
          this.advance();
          return this.finishTemplate(flat, open, true);
        }
        continue;
      }
      this.nl.length = nlDepth;
    }
    this.advance();
    return this.finishTemplate(flat, open, true);
  }

  private finishTemplate(flat: FlatItem[], open: { line: number; column: number }, _ok: boolean): Expr {
    // Strip markers: `${~` trims whitespace before, `~}` trims whitespace after.
    for (let i = 0; i < flat.length; i++) {
      const it = flat[i];
      if (it.kind === 'lit') continue;
      if (it.stripL && i > 0) {
        const prev = flat[i - 1];
        // trimEnd, not replace(/\s+$/): that regex is quadratic on long runs of inner spaces.
        if (prev.kind === 'lit') prev.value = prev.value.trimEnd();
      }
      if (it.stripR && i + 1 < flat.length) {
        const next = flat[i + 1];
        if (next.kind === 'lit') next.value = next.value.trimStart();
      }
    }
    // fold (and the evaluator after it) recurse once per nested directive: bound the nesting first.
    let nesting = 0;
    for (const it of flat) {
      if (it.kind === 'if' || it.kind === 'for') nesting++;
      else if (it.kind === 'endif' || it.kind === 'endfor') nesting--;
      if (nesting > MAX_DIRECTIVE_DEPTH) {
        this.error(Codes.tooDeep, 'Template directives nested too deeply', `%{if} and %{for} may nest at most ${MAX_DIRECTIVE_DEPTH} levels; split the template using locals.`, it.pos);
        return { kind: 'bad', pos: this.pos(open) };
      }
    }
    const state = { i: 0 };
    const parts = this.fold(flat, state, undefined);
    return { kind: 'template', parts, pos: this.pos(open) };
  }

  private fold(flat: FlatItem[], st: { i: number }, opener: FlatItem | undefined): TemplatePart[] {
    const out: TemplatePart[] = [];
    while (st.i < flat.length) {
      const it = flat[st.i];
      switch (it.kind) {
        case 'lit':
          st.i++;
          if (it.value !== '' || flat.length === 1) out.push({ kind: 'lit', value: it.value, pos: it.pos });
          break;
        case 'interp':
          st.i++;
          out.push({ kind: 'interp', expr: it.expr, pos: it.pos });
          break;
        case 'if': {
          st.i++;
          const then = this.fold(flat, st, it);
          let els: TemplatePart[] = [];
          if (st.i < flat.length && flat[st.i].kind === 'else') {
            const e = flat[st.i];
            st.i++;
            els = this.fold(flat, st, e);
          }
          if (st.i < flat.length && flat[st.i].kind === 'endif') st.i++;
          else this.error(Codes.invalidTemplate, 'Unclosed %{if} directive', 'Close it with %{endif}.', it.pos);
          out.push({ kind: 'if', cond: it.cond, then, else: els, pos: it.pos });
          break;
        }
        case 'for': {
          st.i++;
          const body = this.fold(flat, st, it);
          if (st.i < flat.length && flat[st.i].kind === 'endfor') st.i++;
          else this.error(Codes.invalidTemplate, 'Unclosed %{for} directive', 'Close it with %{endfor}.', it.pos);
          out.push({ kind: 'for', keyVar: it.keyVar, valVar: it.valVar, coll: it.coll, body, pos: it.pos });
          break;
        }
        case 'else':
        case 'endif':
        case 'endfor': {
          const fits =
            (it.kind === 'else' && opener?.kind === 'if') ||
            (it.kind === 'endif' && (opener?.kind === 'if' || opener?.kind === 'else')) ||
            (it.kind === 'endfor' && opener?.kind === 'for');
          if (fits) return out;
          this.error(Codes.invalidTemplate, `Unexpected %{${it.kind}} directive`, `There is no matching ${it.kind === 'endfor' ? '%{for}' : '%{if}'} before it.`, it.pos);
          st.i++;
          break;
        }
      }
    }
    return out;
  }

  /** closeBrace expects "}" or "~}" and leaves the lexer just after the "}". */
  private closeBrace(what: string): boolean {
    let strip = false;
    if (this.isPunct('~')) {
      strip = true;
      this.advance();
    }
    this.expectPunct('}', `Expected "}" to close the ${what}`, `A template ${what} is written \${expression} inside the string.`);
    return strip;
  }

  private parseInterp(pos: SourcePos, stripL: boolean): FlatItem {
    const expr = this.parseExpr();
    const stripR = this.closeBrace('interpolation');
    return { kind: 'interp', expr, pos, stripL, stripR };
  }

  private parseDirective(pos: SourcePos, stripL: boolean): FlatItem {
    const t = this.peek();
    const kw = t.type === 'ident' ? t.value : '';
    switch (kw) {
      case 'if': {
        this.advance();
        const cond = this.parseExpr();
        return { kind: 'if', cond, pos, stripL, stripR: this.closeBrace('directive') };
      }
      case 'else':
      case 'endif':
      case 'endfor':
        this.advance();
        return { kind: kw, pos, stripL, stripR: this.closeBrace('directive') };
      case 'for': {
        this.advance();
        const { keyVar, valVar } = this.parseForVariables(Codes.invalidTemplate, {
          first: ['Expected a variable name after "for"', 'Write %{for x in list}...%{endfor}.'],
          second: ['Expected a variable name after ","', 'Write %{for k, v in map}...%{endfor}.'],
          in: [() => 'Expected "in" in %{for} directive', 'Write %{for x in list}...%{endfor}.'],
        });
        const coll = this.parseExpr();
        return { kind: 'for', keyVar, valVar, coll, pos, stripL, stripR: this.closeBrace('directive') };
      }
      default:
        this.fail(
          Codes.invalidTemplate,
          'Invalid template directive',
          'Directives are %{if cond}, %{else}, %{endif}, %{for x in list} and %{endfor}. Write %%{ for a literal "%{".',
          t,
        );
    }
  }

  /** parseStandaloneExpr parses a whole text as one expression (a --var value, a JSON type string). */
  parseStandaloneExpr(): Expr {
    try {
      this.nl[0] = false;
      const e = this.parseExpr();
      const t = this.peek();
      if (t.type !== 'eof') this.fail(Codes.expectedToken, `Unexpected ${this.describe(t)} after expression`, 'Only one expression is allowed here.', t);
      return e;
    } catch (e) {
      if (e !== BAIL) throw e;
      this.abandon = false;
      return { kind: 'bad', pos: this.pos({ line: this.lx.line, column: this.lx.col }) };
    }
  }

  /** parseBareTemplate parses the whole text as a template (JSON syntax strings). */
  parseBareTemplate(): Expr {
    return this.parseTemplate('bare', { line: this.lx.line, column: this.lx.col });
  }
}

/** parseNative parses HCL native syntax. */
export function parseNative(fileName: string, text: string): ParseResult {
  const diags = new DiagnosticSink();
  const p = new Parser(new Lexer(fileName, text, diags), fileName);
  const file = p.parseFile();
  return { file, diagnostics: diags.result() };
}

/** parseExpression parses `text` as one HCL expression (used for `--var` values of non-string type). */
export function parseExpression(fileName: string, text: string, line = 1, column = 1): { expr: Expr; diagnostics: Diagnostic[] } {
  const diags = new DiagnosticSink();
  const p = new Parser(new Lexer(fileName, text, diags, line, column), fileName);
  const expr = p.parseStandaloneExpr();
  return { expr, diagnostics: diags.result() };
}

/** parseTemplateText parses `text` as a template with no delimiters (JSON syntax string values). */
export function parseTemplateText(fileName: string, text: string, line: number, column: number, diags: DiagnosticSink): Expr {
  const p = new Parser(new Lexer(fileName, text, diags, line, column), fileName, false);
  return p.parseBareTemplate();
}

/**
 * exceedsHeight says whether the syntax tree of `root` is more than `limit` levels deep. It walks
 * with an explicit stack, so it cannot itself overflow on the trees it exists to refuse.
 */
export function exceedsHeight(root: Expr, limit: number): boolean {
  const stack: { e?: Expr; parts?: TemplatePart[]; d: number }[] = [{ e: root, d: 1 }];
  const pushParts = (parts: TemplatePart[], d: number): void => {
    for (const p of parts) {
      if (p.kind === 'interp') stack.push({ e: p.expr, d });
      else if (p.kind === 'if') {
        stack.push({ e: p.cond, d: d + 1 }, { parts: p.then, d: d + 1 }, { parts: p.else, d: d + 1 });
      } else if (p.kind === 'for') stack.push({ e: p.coll, d: d + 1 }, { parts: p.body, d: d + 1 });
    }
  };
  while (stack.length) {
    const { e, parts, d } = stack.pop()!;
    if (d > limit) return true;
    if (parts) {
      pushParts(parts, d);
      continue;
    }
    if (e!.kind === 'template') pushParts(e!.parts, d + 1);
    else forEachChild(e!, (c) => stack.push({ e: c, d: d + 1 }));
  }
  return false;
}
