/**
 * Refinement of the positions `App.synth()` records, using the user's source text.
 *
 * synth only knows the stack frame of each `new X(...)`: a line (exact, since jiti keeps the
 * original lines) and a column that can be off when jiti stripped a type annotation earlier on
 * that line. Parsing the file (syntax only, no type checking: milliseconds) lets the loader find
 * the `new` expression itself and, when the props argument is an object literal, the position of
 * each attribute and list element, so that `ports: ["tcp/80/90"]` on line 42 is reported on line
 * 42, at the element, like HCL does.
 */
import * as ts from 'typescript';
import type { SourcePos } from '../../diagnostics';
import type { RawResource } from '../types';
import { snakeCase } from './synth';

/** Positions found for one `new X(...)` call: the call itself and its props by dotted path. */
export interface CallPositions {
  call: { line: number; column: number };
  props: Map<string, { line: number; column: number }>;
}

/** SourceIndex parses each file once and answers position queries about it. */
export class SourceIndex {
  private readonly files = new Map<string, ts.SourceFile>();

  constructor(private readonly readText: (file: string) => string | undefined) {}

  /**
   * locate finds the `new` expression starting on `line` closest to `column`, preferring one whose
   * class is `className`. Undefined when there is none (e.g. the frame is a `super(...)` call of
   * the user's own subclass): the stack position is then kept as is.
   */
  locate(file: string, line: number, column: number, className?: string): CallPositions | undefined {
    const sf = this.sourceFile(file);
    if (!sf) return undefined;
    const candidates: Array<{ node: ts.NewExpression; col: number; named: boolean }> = [];
    const visit = (node: ts.Node): void => {
      if (ts.isNewExpression(node)) {
        const start = sf.getLineAndCharacterOfPosition(node.getStart(sf));
        if (start.line + 1 === line) {
          const callee = node.expression.getText(sf);
          const named = className !== undefined && (callee === className || callee.endsWith(`.${className}`));
          candidates.push({ node, col: start.character + 1, named });
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(sf);
    if (candidates.length === 0) return undefined;
    const pool = candidates.some((c) => c.named) ? candidates.filter((c) => c.named) : candidates;
    pool.sort((a, b) => Math.abs(a.col - column) - Math.abs(b.col - column));
    const best = pool[0];
    const props = new Map<string, { line: number; column: number }>();
    const arg = best.node.arguments?.[2];
    if (arg && ts.isObjectLiteralExpression(arg)) collectObject(sf, arg, [], props);
    return { call: { line, column: best.col }, props };
  }

  private sourceFile(file: string): ts.SourceFile | undefined {
    let sf = this.files.get(file);
    if (!sf) {
      const text = this.readText(file);
      if (text === undefined) return undefined;
      sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
      this.files.set(file, sf);
    }
    return sf;
  }
}

/** collectObject records every literal property (snake_cased, as in the RawResource body). */
function collectObject(
  sf: ts.SourceFile,
  obj: ts.ObjectLiteralExpression,
  path: string[],
  out: Map<string, { line: number; column: number }>,
): void {
  for (const p of obj.properties) {
    if (!ts.isPropertyAssignment(p) && !ts.isShorthandPropertyAssignment(p)) continue;
    const n = p.name;
    const key = ts.isIdentifier(n) || ts.isStringLiteral(n) || ts.isNumericLiteral(n) ? n.text : undefined;
    if (key === undefined) continue;
    const keyPath = [...path, snakeCase(key)];
    out.set(keyPath.join('.'), where(sf, p));
    if (ts.isPropertyAssignment(p)) collectValue(sf, p.initializer, keyPath, out);
  }
}

function collectValue(sf: ts.SourceFile, e: ts.Expression, path: string[], out: Map<string, { line: number; column: number }>): void {
  while (ts.isAsExpression(e) || ts.isParenthesizedExpression(e) || ts.isSatisfiesExpression(e)) e = e.expression;
  if (ts.isObjectLiteralExpression(e)) {
    collectObject(sf, e, path, out);
  } else if (ts.isArrayLiteralExpression(e)) {
    for (let i = 0; i < e.elements.length; i++) {
      const el = e.elements[i];
      // After a spread, literal indexes no longer match the value's indexes.
      if (ts.isSpreadElement(el)) return;
      const elPath = [...path, String(i)];
      out.set(elPath.join('.'), where(sf, el));
      collectValue(sf, el, elPath, out);
    }
  }
}

function where(sf: ts.SourceFile, node: ts.Node): { line: number; column: number } {
  const lc = sf.getLineAndCharacterOfPosition(node.getStart(sf));
  return { line: lc.line + 1, column: lc.character + 1 };
}

/** The class a resource type is declared with, to pick the right `new` on a crowded line. */
const CLASS_OF: Readonly<Record<string, string>> = {
  namespace: 'Namespace',
  enforcer: 'Enforcer',
  enforcer_profile: 'EnforcerProfile',
  processing_unit: 'ProcessingUnit',
  external_network: 'ExternalNetwork',
  network_policy: 'NetworkPolicy',
  enforcer_token: 'EnforcerToken',
  expect: 'Expect',
};

/**
 * refinePositions rewrites a synthesised resource's positions in place: the call's exact column,
 * and each attribute or element written literally at its own place. Paths present in the body
 * but not written literally (a props variable, a computed list) keep the call's position.
 */
export function refinePositions(res: RawResource, index: SourceIndex): void {
  const pos = res.pos;
  const found = index.locate(pos.file, pos.line, pos.column, CLASS_OF[res.type]);
  if (!found) return;
  const call: SourcePos = { file: pos.file, line: found.call.line, column: found.call.column };
  res.pos = call;
  for (const key of Object.keys(res.positions)) {
    const p = res.positions[key];
    if (p.file === pos.file && p.line === pos.line && p.column === pos.column) res.positions[key] = call;
  }
  for (const [path, lc] of found.props) {
    if (hasPath(res.body, path.split('.'))) res.positions[path] = { file: pos.file, line: lc.line, column: lc.column };
  }
}

function hasPath(body: unknown, path: string[]): boolean {
  let cur: unknown = body;
  for (const seg of path) {
    if (typeof cur !== 'object' || cur === null) return false;
    if (!Object.prototype.hasOwnProperty.call(cur, seg)) return false;
    cur = (cur as Record<string, unknown>)[seg];
  }
  return true;
}
