/**
 * Expression evaluation. Every failure becomes a diagnostic at the expression that caused it and
 * the value POISON, which later operations pass through silently, so one mistake is reported
 * once and evaluation carries on to find the next one.
 */
import { type Diagnostic, didYouMean, type SourcePos } from '../../diagnostics';
import { RESOURCE_TYPES, type Value } from '../types';
import type { Expr, TemplatePart } from './ast';
import { forEachChild } from './ast';
import { Codes } from './codes';
import { ArgError, FUNCTIONS } from './functions';
import { deepEqual, hasKey, isObj, MAX_VALUE_DEPTH, nfc, type Obj, POISON, setKey, show, sortedKeys, toBool, toNum, toStr, typeName, type Val, valueDepth } from './values';

const RESOURCE_TYPE_SET: ReadonlySet<string> = new Set(RESOURCE_TYPES);

/** isResourceType says whether a root name refers to resources (`enforcer.web-1`). */
export function isResourceType(name: string): boolean {
  return RESOURCE_TYPE_SET.has(name);
}

/** EvalContext is what names mean where an expression is evaluated. */
export interface EvalContext {
  /** Where problems go: an array, or a DiagnosticSink that bounds how many are kept. */
  diags: { push(...ds: Diagnostic[]): unknown };
  /** Input variables; undefined where variables may not be used (variable defaults). */
  vars?: ReadonlyMap<string, Val>;
  /** Locals (POISON for failed ones); undefined where locals may not be used. */
  locals?: ReadonlyMap<string, Val>;
  /** Evaluated resources by `type.label` (POISON for failed ones). */
  resources?: ReadonlyMap<string, Val>;
  /** Declared resource labels by type, for "did you mean". */
  resourceLabels?: ReadonlyMap<string, string[]>;
  /** `each` of the current for_each instance; 'none' inside a resource without for_each. */
  each?: { key: Value; value: Value } | 'none';
  /** Describes the place for "not allowed here" messages, e.g. "a variable default". */
  where: string;
  /**
   * Says whether a name that is not declared may have been declared by something that failed
   * (kind is "var", "local" or a resource type): then a reference to it is unknown, silently,
   * instead of an "undeclared" error that would only echo the first one.
   */
  mayBeUndeclared?: (kind: string, name: string) => boolean;
  /**
   * Resources that failed to evaluate in part, by address: the attributes that did evaluate, so
   * `enforcer.web-1.name` still resolves when only web-1's tags failed.
   */
  partial?: ReadonlyMap<string, { known: Obj; unknown: ReadonlySet<string> }>;
}

/** BUILDS are the expressions that make new lists and objects, whose depth is checked. */
const BUILDS: ReadonlySet<Expr['kind']> = new Set(['tuple', 'object', 'for', 'splat', 'call', 'template']);

/** SPLAT_ITEM binds a splat's current element in the scope chain; no identifier can spell it. */
const SPLAT_ITEM = '[*]';

/** Scope is a chain of for-expression iterator bindings (and splat elements, see SPLAT_ITEM). */
interface Scope {
  name: string;
  value: Value;
  parent: Scope | undefined;
}

function lookup(s: Scope | undefined, name: string): Scope | undefined {
  for (let c = s; c; c = c.parent) if (c.name === name) return c;
  return undefined;
}

function scopeNames(s: Scope | undefined): string[] {
  const out: string[] = [];
  for (let c = s; c; c = c.parent) if (c.name !== SPLAT_ITEM) out.push(c.name);
  return out;
}

/** Evaluator evaluates expressions in one context, reporting problems into `ctx.diags`. */
export class Evaluator {
  constructor(readonly ctx: EvalContext) {}

  private err(code: string, summary: string, detail: string, pos: SourcePos): typeof POISON {
    this.ctx.diags.push({ severity: 'error', code, summary, detail, file: pos.file, line: pos.line, column: pos.column });
    return POISON;
  }

  /** evaluate returns the value of `e`, or POISON after reporting why it has none. */
  evaluate(e: Expr, scope?: Scope): Val {
    const v = this.evaluateKind(e, scope);
    if (v !== null && typeof v === 'object' && BUILDS.has(e.kind) && valueDepth(v) > MAX_VALUE_DEPTH) {
      return this.err(
        Codes.tooDeep,
        'Value nested too deeply',
        `This value nests lists and objects more than ${MAX_VALUE_DEPTH} levels deep (through locals or functions that wrap one another). microseg does not evaluate values that deep.`,
        e.pos,
      );
    }
    return v;
  }

  private evaluateKind(e: Expr, scope?: Scope): Val {
    switch (e.kind) {
      case 'literal':
      case 'json':
        return e.value;
      case 'bad':
        return POISON;
      case 'paren':
        return this.evaluate(e.expr, scope);
      case 'template':
        return this.template(e.parts, scope, true);
      case 'scope':
        return this.root(e.name, e.pos, scope);
      case 'getattr': {
        if (e.obj.kind === 'scope' && !lookup(scope, e.obj.name)) {
          const special = this.special(e.obj.name, e.name, e.obj.pos, e.namePos);
          if (special !== undefined) return special;
        }
        if (this.ctx.partial && e.obj.kind === 'getattr' && e.obj.obj.kind === 'scope' && isResourceType(e.obj.obj.name) && !lookup(scope, e.obj.obj.name)) {
          const p = this.ctx.partial.get(`${e.obj.obj.name}.${e.obj.name}`);
          if (p && hasKey(p.known, e.name)) return p.known[e.name];
          if (p && (p.unknown.has(e.name) || p.unknown.has('*'))) return POISON;
        }
        return this.getAttr(this.evaluate(e.obj, scope), e.name, e.namePos);
      }
      case 'index': {
        const o = this.evaluate(e.obj, scope);
        const k = this.evaluate(e.key, scope);
        return this.index(o, k, e.keyPos);
      }
      case 'splat': {
        // HCL: a list is mapped element by element; any other value is a one-element list, and
        // null an empty one.
        const o = this.evaluate(e.obj, scope);
        if (o === POISON) return POISON;
        const items = o === null ? [] : Array.isArray(o) ? o : [o];
        const out: Value[] = [];
        for (const it of items) {
          const r = this.evaluate(e.each, { name: SPLAT_ITEM, value: it, parent: scope });
          if (r === POISON) return POISON;
          out.push(r);
        }
        return out;
      }
      case 'splatItem': {
        const s = lookup(scope, SPLAT_ITEM);
        return s ? s.value : POISON;
      }
      case 'tuple': {
        const out: Value[] = [];
        let bad = false;
        for (const i of e.items) {
          const v = this.evaluate(i, scope);
          if (v === POISON) bad = true;
          else out.push(v);
        }
        return bad ? POISON : out;
      }
      case 'object': {
        const out: Obj = {};
        let bad = false;
        const seen = new Set<string>();
        for (const item of e.items) {
          let key: string | undefined = item.keyName;
          if (key === undefined) {
            const kv = this.evaluate(item.key, scope);
            if (kv === POISON) {
              bad = true;
              this.evaluate(item.value, scope);
              continue;
            }
            key = toStr(kv);
            if (key === undefined) {
              this.err(Codes.typeMismatch, 'Invalid object key', `An object key must be a string, got ${typeName(kv)}.`, item.key.pos);
              bad = true;
              continue;
            }
          }
          if (seen.has(key)) {
            this.err(Codes.duplicate, `Duplicate object key "${key}"`, 'Each key may appear once in an object constructor; remove or rename one.', item.key.pos);
            bad = true;
            continue;
          }
          seen.add(key);
          const v = this.evaluate(item.value, scope);
          if (v === POISON) bad = true;
          else setKey(out, key, v);
        }
        return bad ? POISON : out;
      }
      case 'for':
        return this.forExpr(e, scope);
      case 'cond': {
        const c = this.evaluate(e.cond, scope);
        if (c === POISON) return POISON;
        const b = toBool(c);
        if (b === undefined) {
          return this.err(Codes.typeMismatch, 'Condition is not a bool', `The condition of "? :" must be true or false, got ${typeName(c)} ${show(c)}.`, e.cond.pos);
        }
        return this.evaluate(b ? e.then : e.else, scope);
      }
      case 'unary': {
        const v = this.evaluate(e.operand, scope);
        if (v === POISON) return POISON;
        if (e.op === '-') {
          const n = toNum(v);
          if (n === undefined) return this.err(Codes.typeMismatch, 'Invalid operand for "-"', `Unary minus needs a number, got ${typeName(v)} ${show(v)}.`, e.operand.pos);
          return -n;
        }
        const b = toBool(v);
        if (b === undefined) return this.err(Codes.typeMismatch, 'Invalid operand for "!"', `"!" needs a bool, got ${typeName(v)} ${show(v)}.`, e.operand.pos);
        return !b;
      }
      case 'binary':
        return this.binary(e, scope);
      case 'call':
        return this.call(e, scope);
    }
  }

  private template(parts: TemplatePart[], scope: Scope | undefined, top: boolean): Val {
    if (top && parts.length === 1 && parts[0].kind === 'interp') return this.evaluate(parts[0].expr, scope);
    const out: string[] = [];
    let bad = false;
    for (const p of parts) {
      if (p.kind === 'lit') out.push(p.value);
      else if (p.kind === 'interp') {
        const v = this.evaluate(p.expr, scope);
        if (v === POISON) {
          bad = true;
          continue;
        }
        const s = toStr(v);
        if (s === undefined) {
          this.err(
            Codes.typeMismatch,
            'Invalid template interpolation value',
            v === null
              ? 'The value is null; a string template cannot include null. Use a conditional or a default.'
              : `Cannot include a ${typeName(v)} in a string; use join(", ", list) or jsonencode-like formatting with format().`,
            p.expr.pos,
          );
          bad = true;
          continue;
        }
        out.push(s);
      } else if (p.kind === 'if') {
        const c = this.evaluate(p.cond, scope);
        if (c === POISON) {
          bad = true;
          continue;
        }
        const b = toBool(c);
        if (b === undefined) {
          this.err(Codes.typeMismatch, 'Condition is not a bool', `%{if} needs true or false, got ${typeName(c)}.`, p.cond.pos);
          bad = true;
          continue;
        }
        const r = this.template(b ? p.then : p.else, scope, false);
        if (r === POISON) bad = true;
        else out.push(r as string);
      } else {
        const coll = this.evaluate(p.coll, scope);
        if (coll === POISON) {
          bad = true;
          continue;
        }
        const pairs = this.iterate(coll, p.coll.pos);
        if (!pairs) {
          bad = true;
          continue;
        }
        for (const [k, v] of pairs) {
          let s: Scope | undefined = { name: p.valVar, value: v, parent: scope };
          if (p.keyVar) s = { name: p.keyVar, value: k, parent: s };
          const r = this.template(p.body, s, false);
          if (r === POISON) {
            bad = true;
            break;
          }
          out.push(r as string);
        }
      }
    }
    return bad ? POISON : nfc(out.join(''));
  }

  private iterate(coll: Value, pos: SourcePos): [Value, Value][] | undefined {
    if (Array.isArray(coll)) return coll.map((v, i) => [i, v]);
    if (isObj(coll)) return sortedKeys(coll).map((k) => [k, coll[k]]);
    this.err(
      Codes.forExpression,
      'Cannot iterate over this value',
      `A for expression needs a list, set, map or object, got ${typeName(coll)}${coll === null ? '' : ` ${show(coll)}`}.`,
      pos,
    );
    return undefined;
  }

  private forExpr(e: Extract<Expr, { kind: 'for' }>, scope: Scope | undefined): Val {
    const coll = this.evaluate(e.coll, scope);
    if (coll === POISON) return POISON;
    const pairs = this.iterate(coll, e.coll.pos);
    if (!pairs) return POISON;
    const list: Value[] = [];
    const obj: Obj = {};
    for (const [k, v] of pairs) {
      let s: Scope | undefined = { name: e.valVar, value: v, parent: scope };
      if (e.keyVar) s = { name: e.keyVar, value: k, parent: s };
      if (e.cond) {
        const c = this.evaluate(e.cond, s);
        if (c === POISON) return POISON;
        const b = toBool(c);
        if (b === undefined) return this.err(Codes.typeMismatch, 'Condition is not a bool', `The "if" of a for expression must be true or false, got ${typeName(c)}.`, e.cond.pos);
        if (!b) continue;
      }
      if (!e.isObject) {
        const v2 = this.evaluate(e.valExpr, s);
        if (v2 === POISON) return POISON;
        list.push(v2);
        continue;
      }
      const kv = this.evaluate(e.keyExpr!, s);
      if (kv === POISON) return POISON;
      const key = toStr(kv);
      if (key === undefined) return this.err(Codes.typeMismatch, 'Invalid object key', `A for expression key must be a string, got ${typeName(kv)}.`, e.keyExpr!.pos);
      const v2 = this.evaluate(e.valExpr, s);
      if (v2 === POISON) return POISON;
      if (e.group) {
        const cur = hasKey(obj, key) ? (obj[key] as Value[]) : [];
        cur.push(v2);
        setKey(obj, key, cur);
      } else if (hasKey(obj, key)) {
        return this.err(
          Codes.forExpression,
          `Duplicate key "${key}" in for expression`,
          'Two elements produced the same key. Make the key unique, or add "..." after the value to group values by key.',
          e.keyExpr!.pos,
        );
      } else setKey(obj, key, v2);
    }
    return e.isObject ? obj : list;
  }

  private root(name: string, pos: SourcePos, scope: Scope | undefined): Val {
    const s = lookup(scope, name);
    if (s) return s.value;
    if (name === 'var' || name === 'local') {
      return this.err(Codes.unknownReference, `"${name}" must be followed by a name`, `Write ${name}.NAME, e.g. ${name}.ports.`, pos);
    }
    if (name === 'each') {
      return this.err(Codes.unknownReference, '"each" must be followed by .key or .value', 'Write each.key or each.value inside a resource with for_each.', pos);
    }
    if (isResourceType(name)) {
      if (!this.ctx.resources) return this.notAllowed(`${name} references`, pos);
      const labels = this.ctx.resourceLabels?.get(name) ?? [];
      return this.err(
        Codes.unknownReference,
        `A reference to ${name} must name a resource`,
        `Write ${name}.LABEL.ATTRIBUTE, e.g. ${name}.${labels[0] ?? 'example'}.name.`,
        pos,
      );
    }
    const candidates = [...scopeNames(scope), 'var', 'local', 'each', ...RESOURCE_TYPES];
    const hint = didYouMean(name, candidates);
    const isFn = hasKey(FUNCTIONS as unknown as Obj, name);
    return this.err(
      Codes.unknownReference,
      `Unknown name "${name}"`,
      hint
        ? `Did you mean "${hint}"?`
        : isFn
          ? `${name} is a function; call it as ${name}(...).`
          : `A reference starts with var., local., each., a for variable, or a resource type (${RESOURCE_TYPES.join(', ')}). Quote it if you meant the string "${name}".`,
      pos,
    );
  }

  private notAllowed(what: string, pos: SourcePos): typeof POISON {
    return this.err(Codes.unknownReference, `${what[0].toUpperCase()}${what.slice(1)} are not allowed in ${this.ctx.where}`, `Only literal values and functions can be used in ${this.ctx.where}.`, pos);
  }

  /** special resolves `var.x`, `local.x`, `each.key`, `<type>.<label>`; undefined if `root` is ordinary. */
  private special(root: string, name: string, rootPos: SourcePos, pos: SourcePos): Val | undefined {
    const ctx = this.ctx;
    if (root === 'var') {
      if (!ctx.vars) return this.notAllowed('variables', rootPos);
      if (ctx.vars.has(name)) return ctx.vars.get(name)!;
      if (ctx.mayBeUndeclared?.('var', name)) return POISON;
      const hint = didYouMean(name, [...ctx.vars.keys()]);
      return this.err(
        Codes.unknownVariable,
        `Reference to undeclared input variable "${name}"`,
        hint ? `Did you mean var.${hint}?` : `Declare it with: variable "${name}" { type = string }`,
        rootPos,
      );
    }
    if (root === 'local') {
      if (!ctx.locals) return this.notAllowed('locals', rootPos);
      if (ctx.locals.has(name)) return ctx.locals.get(name)!;
      if (ctx.mayBeUndeclared?.('local', name)) return POISON;
      const hint = didYouMean(name, [...ctx.locals.keys()]);
      return this.err(
        Codes.unknownLocal,
        `Reference to undeclared local value "${name}"`,
        hint ? `Did you mean local.${hint}?` : `Declare it in a locals block: locals { ${name} = ... }`,
        rootPos,
      );
    }
    if (root === 'each') {
      if (ctx.each === undefined || ctx.each === 'none') {
        return this.err(
          Codes.eachOutsideForEach,
          `each.${name} used outside for_each`,
          'each.key and each.value are only available inside a resource block that sets for_each.',
          rootPos,
        );
      }
      if (name === 'key') return ctx.each.key;
      if (name === 'value') return ctx.each.value;
      return this.err(Codes.unsupportedAttribute, `"each" has no attribute "${name}"`, 'Use each.key or each.value.', pos);
    }
    if (isResourceType(root)) {
      if (!ctx.resources) return this.notAllowed('resource references', rootPos);
      const addr = `${root}.${name}`;
      const v = ctx.resources.get(addr);
      if (v !== undefined) return v;
      if (ctx.mayBeUndeclared?.(root, name)) return POISON;
      const labels = ctx.resourceLabels?.get(root) ?? [];
      const hint = didYouMean(name, labels);
      return this.err(
        Codes.unknownResource,
        `Reference to undeclared resource ${addr}`,
        hint ? `Did you mean ${root}.${hint}?` : labels.length ? `Declared ${root} resources: ${labels.join(', ')}.` : `There is no ${root} block labelled "${name}".`,
        rootPos,
      );
    }
    return undefined;
  }

  private getAttr(o: Val, name: string, pos: SourcePos): Val {
    if (o === POISON) return POISON;
    if (isObj(o)) {
      if (hasKey(o, name)) return o[name];
      const hint = didYouMean(name, Object.keys(o));
      return this.err(
        Codes.unsupportedAttribute,
        `Unsupported attribute "${name}"`,
        hint ? `This object has no attribute "${name}". Did you mean "${hint}"?` : `This object has no attribute "${name}"; it has: ${sortedKeys(o).join(', ') || '(none)'}.`,
        pos,
      );
    }
    if (o === null) return this.err(Codes.unsupportedAttribute, `Attempt to get attribute "${name}" from a null value`, 'The value is null; check it with a conditional first.', pos);
    if (Array.isArray(o)) {
      return this.err(
        Codes.unsupportedAttribute,
        `Cannot get attribute "${name}" of a list`,
        `Use an index (value[0].${name}) or a splat (value[*].${name}) to reach the elements' attributes.`,
        pos,
      );
    }
    return this.err(Codes.unsupportedAttribute, `Cannot get attribute "${name}" of a ${typeName(o)}`, 'Only objects and maps have attributes.', pos);
  }

  private index(o: Val, k: Val, pos: SourcePos): Val {
    if (o === POISON || k === POISON) return POISON;
    if (Array.isArray(o)) {
      const n = toNum(k);
      if (n === undefined || !Number.isInteger(n)) {
        return this.err(Codes.invalidIndex, 'Invalid index', `A list index must be a whole number, got ${typeName(k)} ${show(k)}.`, pos);
      }
      if (n < 0 || n >= o.length) {
        return this.err(
          Codes.invalidIndex,
          'Index out of range',
          `Index ${n} is out of range for a list of ${o.length} element${o.length === 1 ? '' : 's'} (valid: ${o.length ? `0 to ${o.length - 1}` : 'none'}).`,
          pos,
        );
      }
      return o[n];
    }
    if (isObj(o)) {
      const key = toStr(k);
      if (key === undefined) return this.err(Codes.invalidIndex, 'Invalid index', `A map key must be a string, got ${typeName(k)}.`, pos);
      if (hasKey(o, key)) return o[key];
      const hint = didYouMean(key, Object.keys(o));
      return this.err(
        Codes.invalidIndex,
        `Missing key ${JSON.stringify(key)}`,
        hint ? `The map has no key ${JSON.stringify(key)}. Did you mean ${JSON.stringify(hint)}?` : `The map has no key ${JSON.stringify(key)}; keys: ${sortedKeys(o).join(', ') || '(none)'}. Use lookup(map, key, default) for optional keys.`,
        pos,
      );
    }
    if (o === null) return this.err(Codes.invalidIndex, 'Cannot index a null value', 'The value is null; check it with a conditional first.', pos);
    return this.err(Codes.invalidIndex, `Cannot index a ${typeName(o)}`, 'Only lists, sets, maps and objects can be indexed.', pos);
  }

  private binary(e: Extract<Expr, { kind: 'binary' }>, scope: Scope | undefined): Val {
    const op = e.op;
    const l = this.evaluate(e.left, scope);
    if (op === '&&' || op === '||') {
      if (l === POISON) return POISON;
      const lb = toBool(l);
      if (lb === undefined) return this.err(Codes.typeMismatch, `Invalid operand for "${op}"`, `"${op}" needs bool operands, got ${typeName(l)} ${show(l)}.`, e.left.pos);
      if (op === '&&' ? !lb : lb) return lb;
      const r = this.evaluate(e.right, scope);
      if (r === POISON) return POISON;
      const rb = toBool(r);
      if (rb === undefined) return this.err(Codes.typeMismatch, `Invalid operand for "${op}"`, `"${op}" needs bool operands, got ${typeName(r)} ${show(r)}.`, e.right.pos);
      return rb;
    }
    const r = this.evaluate(e.right, scope);
    if (l === POISON || r === POISON) return POISON;
    if (op === '==') return deepEqual(l, r);
    if (op === '!=') return !deepEqual(l, r);
    const ln = toNum(l);
    const rn = toNum(r);
    if (ln === undefined || rn === undefined) {
      const bad = ln === undefined ? l : r;
      const hint =
        op === '+' && (typeof l === 'string' || typeof r === 'string')
          ? ' HCL does not join strings with "+"; use a template "${a}${b}" or join().'
          : op === '+' && (Array.isArray(l) || Array.isArray(r))
            ? ' Use concat(a, b) to join lists.'
            : '';
      return this.err(
        Codes.typeMismatch,
        `Invalid operand for "${op}"`,
        `"${op}" needs numbers, got ${typeName(bad)} ${show(bad)}.${hint}`,
        ln === undefined ? e.left.pos : e.right.pos,
      );
    }
    switch (op) {
      case '<':
        return ln < rn;
      case '>':
        return ln > rn;
      case '<=':
        return ln <= rn;
      case '>=':
        return ln >= rn;
      case '+':
        return ln + rn;
      case '-':
        return ln - rn;
      case '*':
        return ln * rn;
      case '/':
      case '%':
        if (rn === 0) {
          return this.err(Codes.divisionByZero, op === '/' ? 'Division by zero' : 'Modulo by zero', 'The right-hand operand is zero; guard it with a conditional.', e.right.pos);
        }
        return op === '/' ? ln / rn : ln % rn;
    }
  }

  private call(e: Extract<Expr, { kind: 'call' }>, scope: Scope | undefined): Val {
    const fn = hasKey(FUNCTIONS as unknown as Obj, e.name) ? FUNCTIONS[e.name] : undefined;
    if (!fn && e.name.includes('::')) {
      for (const a of e.args) this.evaluate(a, scope);
      const parts = e.name.split('::');
      const bare = parts[parts.length - 1];
      if (parts[0] === 'provider') {
        return this.err(
          Codes.unknownFunction,
          `Call to provider function "${e.name}"`,
          `microseg has no providers: provider-defined functions (provider::NAME::FUNCTION) exist only in Terraform and OpenTofu configurations. Compute the value with microseg's functions (${Object.keys(FUNCTIONS).sort().join(', ')}), or pass it in with a variable.`,
          e.pos,
        );
      }
      return this.err(
        Codes.unknownFunction,
        `Call to unknown function "${e.name}"`,
        hasKey(FUNCTIONS as unknown as Obj, bare)
          ? `microseg's functions have no namespace: write ${bare}(...).`
          : `microseg's functions have no namespace; available: ${Object.keys(FUNCTIONS).sort().join(', ')}.`,
        e.pos,
      );
    }
    if (!fn) {
      const hint = didYouMean(e.name, Object.keys(FUNCTIONS));
      for (const a of e.args) this.evaluate(a, scope);
      return this.err(
        Codes.unknownFunction,
        `Call to unknown function "${e.name}"`,
        hint ? `Did you mean ${hint}()?` : `Available functions: ${Object.keys(FUNCTIONS).sort().join(', ')}.`,
        e.pos,
      );
    }
    const args: Value[] = [];
    let bad = false;
    for (const a of e.args) {
      const v = this.evaluate(a, scope);
      if (v === POISON) bad = true;
      else args.push(v);
    }
    if (bad) return POISON;
    let argPos = e.args.map((a) => a.pos);
    if (e.expand) {
      const last = args.pop();
      const lastPos = argPos.pop()!;
      if (!Array.isArray(last)) {
        return this.err(Codes.functionArgs, 'Invalid expanding argument', `The argument before "..." must be a list, got ${typeName(last ?? null)}.`, lastPos);
      }
      args.push(...last);
      argPos = [...argPos, ...last.map(() => lastPos)];
    }
    if (args.length < fn.min || args.length > fn.max) {
      const want = fn.min === fn.max ? `${fn.min}` : fn.max === Infinity ? `at least ${fn.min}` : `${fn.min} to ${fn.max}`;
      return this.err(
        Codes.functionArgs,
        `Wrong number of arguments to ${e.name}()`,
        `${e.name}() takes ${want} argument${want === '1' ? '' : 's'}, got ${args.length}. Signature: ${fn.sig}`,
        e.pos,
      );
    }
    try {
      const r = fn.impl(args);
      // Every HCL string is NFC (cty normalises them); functions build new ones (format, join...).
      return typeof r === 'string' ? nfc(r) : r;
    } catch (x) {
      const msg = x instanceof Error ? x.message : String(x);
      const at = x instanceof ArgError && argPos[x.index] ? argPos[x.index] : e.pos;
      return this.err(Codes.functionArgs, `Invalid call to ${e.name}(): ${msg}`, `Signature: ${fn.sig}`, at);
    }
  }
}

const NO_NAMES: ReadonlySet<string> = new Set();

/**
 * collectRefs adds to `out` the graph nodes an expression refers to: `local.NAME` and
 * `TYPE.LABEL` for resource types, ignoring names shadowed by for-expression variables.
 */
export function collectRefs(e: Expr, out: Set<string>, bound: ReadonlySet<string> = NO_NAMES): void {
  if (e.kind === 'getattr' && e.obj.kind === 'scope' && !bound.has(e.obj.name)) {
    const r = e.obj.name;
    if (r === 'local' || isResourceType(r)) out.add(`${r}.${e.name}`);
    return;
  }
  if (e.kind === 'for') {
    collectRefs(e.coll, out, bound);
    const inner = new Set(bound);
    inner.add(e.valVar);
    if (e.keyVar) inner.add(e.keyVar);
    if (e.keyExpr) collectRefs(e.keyExpr, out, inner);
    collectRefs(e.valExpr, out, inner);
    if (e.cond) collectRefs(e.cond, out, inner);
    return;
  }
  switch (e.kind) {
    case 'literal':
    case 'json':
    case 'bad':
    case 'scope':
      return;
    case 'template':
      collectPartRefs(e.parts, out, bound);
      return;
    case 'tuple':
      for (const i of e.items) collectRefs(i, out, bound);
      return;
    case 'object':
      for (const i of e.items) {
        if (i.keyName === undefined) collectRefs(i.key, out, bound);
        collectRefs(i.value, out, bound);
      }
      return;
    default:
      forEachChild(e, (c) => collectRefs(c, out, bound));
  }
}

function collectPartRefs(parts: TemplatePart[], out: Set<string>, bound: ReadonlySet<string>): void {
  for (const p of parts) {
    if (p.kind === 'interp') collectRefs(p.expr, out, bound);
    else if (p.kind === 'if') {
      collectRefs(p.cond, out, bound);
      collectPartRefs(p.then, out, bound);
      collectPartRefs(p.else, out, bound);
    } else if (p.kind === 'for') {
      collectRefs(p.coll, out, bound);
      const inner = new Set(bound);
      inner.add(p.valVar);
      if (p.keyVar) inner.add(p.keyVar);
      collectPartRefs(p.body, out, inner);
    }
  }
}
