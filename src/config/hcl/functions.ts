/**
 * The built-in functions, with Terraform semantics. Each declares its signature so that a wrong
 * call is reported at the call with the expected form; implementations throw `ArgError` for a bad
 * argument (reported at that argument) or `Error` for a failure of the whole call.
 */
import type { Value } from '../types';
import { cidrhost, cidrsubnet } from './cidr';
import { ArgError, deepEqual, formatNumber, hasKey, isObj, type Obj, setKey, sortedKeys, toNum, toStr, typeName } from './values';

export { ArgError };

export interface FnDef {
  /** Human signature, e.g. `cidrsubnet(prefix string, newbits number, netnum number) string`. */
  sig: string;
  min: number;
  /** Maximum argument count; Infinity for variadic functions. */
  max: number;
  impl(args: Value[]): Value;
}

function str(args: Value[], i: number, name: string): string {
  const s = toStr(args[i]);
  if (s === undefined) throw new ArgError(i, `${name} must be a string, got ${typeName(args[i])}`);
  return s;
}

function num(args: Value[], i: number, name: string): number {
  const n = toNum(args[i]);
  if (n === undefined) throw new ArgError(i, `${name} must be a number, got ${typeName(args[i])}`);
  return n;
}

function list(args: Value[], i: number, name: string): Value[] {
  const v = args[i];
  if (!Array.isArray(v)) throw new ArgError(i, `${name} must be a list, got ${typeName(v)}`);
  return v;
}

function obj(args: Value[], i: number, name: string): Obj {
  const v = args[i];
  if (!isObj(v)) throw new ArgError(i, `${name} must be a map or object, got ${typeName(v)}`);
  return v;
}

function dedupe(xs: Value[]): Value[] {
  const out: Value[] = [];
  const seen = new Set<string>();
  for (const x of xs) {
    const k = typeof x === 'object' && x !== null ? JSON.stringify(x) : `${typeof x}:${String(x)}`;
    if (seen.has(k)) {
      if (typeof x !== 'object' || x === null || out.some((o) => deepEqual(o, x))) continue;
    }
    seen.add(k);
    out.push(x);
  }
  return out;
}

function flattenInto(xs: Value[], out: Value[]): void {
  for (const x of xs) {
    if (Array.isArray(x)) flattenInto(x, out);
    else out.push(x);
  }
}

function graphemeLength(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

const MAX_RANGE = 1_000_000;

export const FUNCTIONS: Record<string, FnDef> = {
  concat: {
    sig: 'concat(lists... list) list',
    min: 0,
    max: Infinity,
    impl: (a) => a.flatMap((_, i) => list(a, i, `argument ${i + 1}`)),
  },
  merge: {
    sig: 'merge(maps... map) map',
    min: 0,
    max: Infinity,
    impl: (a) => {
      const out: Obj = {};
      a.forEach((v, i) => {
        if (v === null) return;
        const o = obj(a, i, `argument ${i + 1}`);
        for (const k of Object.keys(o)) setKey(out, k, o[k]);
      });
      return out;
    },
  },
  flatten: {
    sig: 'flatten(list list) list',
    min: 1,
    max: 1,
    impl: (a) => {
      const out: Value[] = [];
      flattenInto(list(a, 0, 'list'), out);
      return out;
    },
  },
  distinct: { sig: 'distinct(list list) list', min: 1, max: 1, impl: (a) => dedupe(list(a, 0, 'list')) },
  toset: {
    sig: 'toset(list list) set',
    min: 1,
    max: 1,
    impl: (a) => {
      const xs = dedupe(list(a, 0, 'list'));
      if (xs.every((x) => typeof x === 'string')) return (xs as string[]).sort();
      if (xs.every((x) => typeof x === 'number')) return (xs as number[]).sort((p, q) => p - q);
      if (xs.every((x) => typeof x !== 'object' || x === null)) return dedupe(xs.map((x) => toStr(x) ?? null)).sort() as Value[];
      return xs;
    },
  },
  tolist: { sig: 'tolist(set set) list', min: 1, max: 1, impl: (a) => [...list(a, 0, 'set')] },
  tostring: {
    sig: 'tostring(value) string',
    min: 1,
    max: 1,
    impl: (a) => (a[0] === null ? null : str(a, 0, 'value')),
  },
  tonumber: {
    sig: 'tonumber(value) number',
    min: 1,
    max: 1,
    impl: (a) => (a[0] === null ? null : num(a, 0, 'value')),
  },
  lookup: {
    sig: 'lookup(map map, key string, default any) any',
    min: 2,
    max: 3,
    impl: (a) => {
      const m = obj(a, 0, 'map');
      const k = str(a, 1, 'key');
      if (hasKey(m, k)) return m[k];
      if (a.length === 3) return a[2];
      throw new ArgError(1, `the map has no key ${JSON.stringify(k)} and no default was given; keys: ${sortedKeys(m).join(', ') || '(none)'}`);
    },
  },
  length: {
    sig: 'length(value list|map|string) number',
    min: 1,
    max: 1,
    impl: (a) => {
      const v = a[0];
      if (Array.isArray(v)) return v.length;
      if (isObj(v)) return Object.keys(v).length;
      if (typeof v === 'string') return graphemeLength(v);
      throw new ArgError(0, `length needs a list, map or string, got ${typeName(v)}`);
    },
  },
  contains: {
    sig: 'contains(list list, value any) bool',
    min: 2,
    max: 2,
    impl: (a) => list(a, 0, 'list').some((x) => deepEqual(x, a[1])),
  },
  keys: { sig: 'keys(map map) list(string)', min: 1, max: 1, impl: (a) => sortedKeys(obj(a, 0, 'map')) },
  values: {
    sig: 'values(map map) list',
    min: 1,
    max: 1,
    impl: (a) => {
      const m = obj(a, 0, 'map');
      return sortedKeys(m).map((k) => m[k]);
    },
  },
  join: {
    sig: 'join(separator string, lists... list(string)) string',
    min: 2,
    max: Infinity,
    impl: (a) => {
      const sep = str(a, 0, 'separator');
      const parts: string[] = [];
      for (let i = 1; i < a.length; i++) {
        const l = list(a, i, 'list');
        l.forEach((x, j) => {
          const s = toStr(x);
          if (s === undefined) throw new ArgError(i, `element ${j} must be a string, got ${typeName(x)}`);
          parts.push(s);
        });
      }
      return parts.join(sep);
    },
  },
  split: {
    sig: 'split(separator string, str string) list(string)',
    min: 2,
    max: 2,
    impl: (a) => {
      const sep = str(a, 0, 'separator');
      const s = str(a, 1, 'str');
      if (s === '') return [''];
      return sep === '' ? [...s] : s.split(sep);
    },
  },
  format: { sig: 'format(spec string, values... any) string', min: 1, max: Infinity, impl: (a) => format(str(a, 0, 'spec'), a.slice(1)) },
  lower: { sig: 'lower(str string) string', min: 1, max: 1, impl: (a) => str(a, 0, 'str').toLowerCase() },
  upper: { sig: 'upper(str string) string', min: 1, max: 1, impl: (a) => str(a, 0, 'str').toUpperCase() },
  replace: {
    sig: 'replace(str string, substr string, replace string) string',
    min: 3,
    max: 3,
    impl: (a) => {
      const s = str(a, 0, 'str');
      const sub = str(a, 1, 'substr');
      const rep = str(a, 2, 'replace');
      if (sub.length >= 2 && sub.startsWith('/') && sub.endsWith('/')) {
        let re: RegExp;
        try {
          re = new RegExp(sub.slice(1, -1), 'gu');
        } catch (e) {
          throw new ArgError(1, `invalid regular expression: ${(e as Error).message}`);
        }
        return s.replace(re, rep.replace(/\$\{(\d+)\}/g, '$$$1'));
      }
      return sub === '' ? s : s.split(sub).join(rep);
    },
  },
  trimspace: { sig: 'trimspace(str string) string', min: 1, max: 1, impl: (a) => str(a, 0, 'str').trim() },
  cidrsubnet: {
    sig: 'cidrsubnet(prefix string, newbits number, netnum number) string',
    min: 3,
    max: 3,
    impl: (a) => cidrsubnet(str(a, 0, 'prefix'), num(a, 1, 'newbits'), num(a, 2, 'netnum')),
  },
  cidrhost: {
    sig: 'cidrhost(prefix string, hostnum number) string',
    min: 2,
    max: 2,
    impl: (a) => cidrhost(str(a, 0, 'prefix'), num(a, 1, 'hostnum')),
  },
  range: {
    sig: 'range(start number, limit number, step number) list(number)  (also range(limit) and range(start, limit))',
    min: 1,
    max: 3,
    impl: (a) => {
      const ns = a.map((_, i) => num(a, i, ['start', 'limit', 'step'][a.length === 1 ? 1 : i]));
      const [start, limit, step] = ns.length === 1 ? [0, ns[0], 1] : [ns[0], ns[1], ns[2] ?? (ns[1] >= ns[0] ? 1 : -1)];
      if (step === 0) throw new ArgError(2, 'step must not be zero');
      if ((step > 0 && limit < start) || (step < 0 && limit > start)) {
        throw new Error(`step ${step} never reaches limit ${limit} from start ${start}`);
      }
      const out: number[] = [];
      for (let x = start; step > 0 ? x < limit : x > limit; x += step) {
        if (out.length >= MAX_RANGE) throw new Error(`range would produce more than ${MAX_RANGE} elements`);
        out.push(x);
      }
      return out;
    },
  },
};

/** format implements Terraform's format() verbs: %v %s %q %d %f %e %g %t %x %X %o %b and %%. */
function format(spec: string, args: Value[]): string {
  let out = '';
  let next = 0;
  let i = 0;
  while (i < spec.length) {
    const c = spec[i];
    if (c !== '%') {
      out += c;
      i++;
      continue;
    }
    if (spec[i + 1] === '%') {
      out += '%';
      i += 2;
      continue;
    }
    let j = i + 1;
    let flags = '';
    while ('-+ 0#'.includes(spec[j] ?? 'x') && j < spec.length) flags += spec[j++];
    let width = '';
    while (/\d/.test(spec[j] ?? '')) width += spec[j++];
    let prec: number | undefined;
    if (spec[j] === '.') {
      j++;
      let p = '';
      while (/\d/.test(spec[j] ?? '')) p += spec[j++];
      prec = Number(p || '0');
    }
    const verb = spec[j];
    if (verb === undefined) throw new ArgError(0, `format spec ends with an incomplete verb at offset ${i}`);
    if (next >= args.length) throw new ArgError(0, `not enough arguments for the %${verb} verb at offset ${i}`);
    const v = args[next++];
    let s: string;
    const needNum = (): number => {
      const n = toNum(v);
      if (n === undefined) throw new ArgError(next, `%${verb} needs a number, got ${typeName(v)}`);
      return n;
    };
    switch (verb) {
      case 'v':
        s = toStr(v) ?? JSON.stringify(v);
        break;
      case 's': {
        const t = toStr(v);
        if (t === undefined) throw new ArgError(next, `%s needs a string, got ${typeName(v)}`);
        s = prec !== undefined ? t.slice(0, prec) : t;
        break;
      }
      case 'q': {
        const t = toStr(v);
        if (t === undefined) throw new ArgError(next, `%q needs a string, got ${typeName(v)}`);
        s = JSON.stringify(t);
        break;
      }
      case 'd': {
        const n = needNum();
        if (!Number.isInteger(n)) throw new ArgError(next, `%d needs a whole number, got ${n}`);
        s = formatNumber(n);
        if (flags.includes('+') && n >= 0) s = `+${s}`;
        break;
      }
      case 'f':
        s = needNum().toFixed(prec ?? 6);
        break;
      case 'e':
        s = needNum()
          .toExponential(prec ?? 6)
          .replace(/e([+-])(\d)$/, 'e$10$2');
        break;
      case 'g':
        s = formatNumber(needNum());
        break;
      case 't':
        if (typeof v !== 'boolean') throw new ArgError(next, `%t needs a bool, got ${typeName(v)}`);
        s = String(v);
        break;
      case 'x':
      case 'X':
      case 'o':
      case 'b': {
        const n = needNum();
        if (!Number.isInteger(n)) throw new ArgError(next, `%${verb} needs a whole number, got ${n}`);
        s = n.toString(verb === 'o' ? 8 : verb === 'b' ? 2 : 16);
        if (verb === 'X') s = s.toUpperCase();
        break;
      }
      default:
        throw new ArgError(0, `unsupported format verb %${verb}; use %s, %d, %f, %q, %t or %v`);
    }
    const w = Number(width || '0');
    if (s.length < w) {
      if (flags.includes('-')) s = s.padEnd(w);
      else if (flags.includes('0') && verb !== 's' && verb !== 'q') {
        const neg = s.startsWith('-') || s.startsWith('+');
        s = neg ? s[0] + s.slice(1).padStart(w - 1, '0') : s.padStart(w, '0');
      } else s = s.padStart(w);
    }
    out += s;
    i = j + 1;
  }
  if (next < args.length) throw new ArgError(0, `too many arguments: the spec uses ${next}, but ${args.length} were given`);
  return out;
}
