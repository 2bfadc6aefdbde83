/**
 * Type constraints of `variable` blocks (`string`, `list(string)`, `object({...})`, `any` ...) and
 * the conversion of input values to them, following Terraform: primitives convert between each
 * other where lossless ("5" → 5, true → "true"), sets drop duplicates, object types drop unknown
 * attributes and fill `optional(...)` ones.
 */
import type { Value } from '../types';
import type { Expr } from './ast';
import { deepEqual, hasKey, isObj, type Obj, setKey, sortedKeys, toBool, toNum, toStr, typeName } from './values';

export type TypeC =
  | { kind: 'string' | 'number' | 'bool' | 'any' }
  | { kind: 'list' | 'set' | 'map'; elem: TypeC }
  | { kind: 'tuple'; elems: TypeC[] }
  | { kind: 'object'; attrs: { [k: string]: { type: TypeC; optional: boolean; default?: Value } } };

/** typeString renders a type as written in HCL. */
export function typeString(t: TypeC): string {
  switch (t.kind) {
    case 'list':
    case 'set':
    case 'map':
      return `${t.kind}(${typeString(t.elem)})`;
    case 'tuple':
      return `tuple([${t.elems.map(typeString).join(', ')}])`;
    case 'object':
      return `object({${Object.entries(t.attrs)
        .map(([k, a]) => `${k} = ${a.optional ? `optional(${typeString(a.type)})` : typeString(a.type)}`)
        .join(', ')}})`;
    default:
      return t.kind;
  }
}

const TYPE_HELP = 'Valid types: string, number, bool, any, list(T), set(T), map(T), tuple([T, ...]), object({name = T, ...}).';

/**
 * parseType reads a type expression. `evalDefault` evaluates the default of `optional(T, default)`.
 * Returns an error message and the expression it concerns on failure.
 */
export function parseType(e: Expr, evalDefault: (e: Expr) => Value | undefined): TypeC | { error: string; at: Expr } {
  if (e.kind === 'scope') {
    if (e.name === 'string' || e.name === 'number' || e.name === 'bool' || e.name === 'any') return { kind: e.name };
    if (e.name === 'list' || e.name === 'set' || e.name === 'map') return { kind: e.name, elem: { kind: 'any' } };
    return { error: `Unknown type "${e.name}". ${TYPE_HELP}`, at: e };
  }
  if (e.kind === 'template' && e.parts.length === 1 && e.parts[0].kind === 'lit') {
    return { error: `Type constraints are keywords, not strings: write ${e.parts[0].value} without quotes.`, at: e };
  }
  if (e.kind === 'call') {
    const [arg] = e.args;
    if ((e.name === 'list' || e.name === 'set' || e.name === 'map') && e.args.length === 1) {
      const elem = parseType(arg, evalDefault);
      return 'error' in elem ? elem : { kind: e.name, elem };
    }
    if (e.name === 'tuple' && e.args.length === 1 && arg.kind === 'tuple') {
      const elems: TypeC[] = [];
      for (const i of arg.items) {
        const t = parseType(i, evalDefault);
        if ('error' in t) return t;
        elems.push(t);
      }
      return { kind: 'tuple', elems };
    }
    if (e.name === 'object' && e.args.length === 1 && arg.kind === 'object') {
      const attrs: { [k: string]: { type: TypeC; optional: boolean; default?: Value } } = {};
      for (const item of arg.items) {
        const name = item.keyName ?? (item.key.kind === 'template' && item.key.parts.length === 1 && item.key.parts[0].kind === 'lit' ? item.key.parts[0].value : undefined);
        if (name === undefined) return { error: 'Object type attribute names must be identifiers.', at: item.key };
        let te = item.value;
        let optional = false;
        let def: Value | undefined;
        if (te.kind === 'call' && te.name === 'optional' && (te.args.length === 1 || te.args.length === 2)) {
          optional = true;
          if (te.args.length === 2) def = evalDefault(te.args[1]);
          te = te.args[0];
        }
        const t = parseType(te, evalDefault);
        if ('error' in t) return t;
        attrs[name] = def === undefined ? { type: t, optional } : { type: t, optional, default: def };
      }
      return { kind: 'object', attrs };
    }
    return { error: `Invalid type constructor ${e.name}(...). ${TYPE_HELP}`, at: e };
  }
  return { error: `Invalid type expression. ${TYPE_HELP}`, at: e };
}

/** convert returns `v` converted to type `t`, or an error message with the path where it failed. */
export function convert(v: Value, t: TypeC, path = ''): { value: Value } | { error: string } {
  const where = path ? ` at ${path}` : '';
  if (v === null || t.kind === 'any') return { value: v };
  switch (t.kind) {
    case 'string': {
      const s = toStr(v);
      return s === undefined ? { error: `a string is required${where}, got ${typeName(v)}` } : { value: s };
    }
    case 'number': {
      const n = toNum(v);
      return n === undefined ? { error: `a number is required${where}, got ${typeName(v)} ${JSON.stringify(v)}` } : { value: n };
    }
    case 'bool': {
      const b = toBool(v);
      return b === undefined ? { error: `a bool is required${where}, got ${typeName(v)} ${JSON.stringify(v)}` } : { value: b };
    }
    case 'list':
    case 'set': {
      if (!Array.isArray(v)) return { error: `a ${t.kind} is required${where}, got ${typeName(v)}` };
      const out: Value[] = [];
      for (let i = 0; i < v.length; i++) {
        const c = convert(v[i], t.elem, `${path}[${i}]`);
        if ('error' in c) return c;
        if (t.kind === 'set' && out.some((o) => deepEqual(o, c.value))) continue;
        out.push(c.value);
      }
      if (t.kind === 'set' && out.every((x) => typeof x === 'string')) out.sort();
      return { value: out };
    }
    case 'tuple': {
      if (!Array.isArray(v) || v.length !== t.elems.length) return { error: `a tuple of ${t.elems.length} elements is required${where}` };
      const out: Value[] = [];
      for (let i = 0; i < v.length; i++) {
        const c = convert(v[i], t.elems[i], `${path}[${i}]`);
        if ('error' in c) return c;
        out.push(c.value);
      }
      return { value: out };
    }
    case 'map': {
      if (!isObj(v)) return { error: `a map is required${where}, got ${typeName(v)}` };
      const out: Obj = {};
      for (const k of sortedKeys(v)) {
        const c = convert(v[k], t.elem, `${path}[${JSON.stringify(k)}]`);
        if ('error' in c) return c;
        setKey(out, k, c.value);
      }
      return { value: out };
    }
    case 'object': {
      if (!isObj(v)) return { error: `an object is required${where}, got ${typeName(v)}` };
      const out: Obj = {};
      for (const k of Object.keys(t.attrs).sort()) {
        const a = t.attrs[k];
        const sub = path ? `${path}.${k}` : k;
        if (!hasKey(v, k) || v[k] === null) {
          if (!a.optional && !hasKey(v, k)) return { error: `attribute "${k}" is required${where}` };
          setKey(out, k, a.default ?? null);
          continue;
        }
        const c = convert(v[k], a.type, sub);
        if ('error' in c) return c;
        setKey(out, k, c.value);
      }
      return { value: out };
    }
  }
}
