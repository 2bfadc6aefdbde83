/**
 * Helpers over evaluated values. HCL values are plain JSON-like data here (the RawConfig `Value`);
 * sets are lists without duplicates, maps and objects are plain objects. `POISON` stands for a
 * value whose computation already failed and was reported, so one mistake yields one diagnostic.
 */
import type { Value } from '../types';

export const POISON: unique symbol = Symbol('hcl.poison');
/** Val is a value or the marker of an already-reported failure. */
export type Val = Value | typeof POISON;

export type Obj = { [key: string]: Value };

/** ArgError blames one argument (by index) of a function call. */
export class ArgError extends Error {
  constructor(
    readonly index: number,
    message: string,
  ) {
    super(message);
  }
}

export function isObj(v: Val): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** typeName names a value's type as HCL messages do. */
export function typeName(v: Val): string {
  if (v === POISON) return 'unknown';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'list';
  if (typeof v === 'object') return 'object';
  if (typeof v === 'boolean') return 'bool';
  return typeof v;
}

/** setKey assigns a key without tripping over `__proto__` and friends. */
export function setKey(o: Obj, k: string, v: Value): void {
  if (k === '__proto__' || k === 'constructor' || k === 'prototype') {
    Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  } else o[k] = v;
}

export function hasKey(o: Obj, k: string): boolean {
  return Object.prototype.hasOwnProperty.call(o, k);
}

/** sortedKeys returns an object's keys in HCL's lexical order (not JS insertion order). */
export function sortedKeys(o: Obj): string[] {
  return Object.keys(o).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

export function deepEqual(a: Value, b: Value): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i])) return false;
    return true;
  }
  if (typeof a === 'object' && typeof b === 'object' && !Array.isArray(b)) {
    const ka = Object.keys(a);
    if (ka.length !== Object.keys(b).length) return false;
    for (const k of ka) if (!hasKey(b, k) || !deepEqual(a[k], b[k])) return false;
    return true;
  }
  return false;
}

/** formatNumber renders a number as HCL does (integers without exponent or fraction). */
export function formatNumber(n: number): string {
  if (Number.isInteger(n) && Math.abs(n) >= 1e21) return BigInt(n).toString();
  return String(n);
}

/** toStr converts primitives to a string as HCL's automatic conversion does. */
export function toStr(v: Val): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return formatNumber(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  return undefined;
}

const NUMERIC = /^-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/;

/** toNum converts a number or a numeric string. */
export function toNum(v: Val): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && NUMERIC.test(v.trim())) return Number(v.trim());
  return undefined;
}

/** toBool converts a bool or the strings "true"/"false". */
export function toBool(v: Val): boolean | undefined {
  if (typeof v === 'boolean') return v;
  if (v === 'true') return true;
  if (v === 'false') return false;
  return undefined;
}

/** show renders a value briefly for messages. */
export function show(v: Val): string {
  if (v === POISON) return '(unknown)';
  const s = JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/**
 * nfc returns `s` in Unicode Normalization Form C, as every HCL string is (cty normalises each
 * string value): "an\u0303os" and "años" are one string, so a tag or name typed either way
 * matches. ASCII, the common case, is returned as is without scanning twice.
 */
export function nfc(s: string): string {
  // eslint-disable-next-line no-control-regex
  return /[^\x00-\x7f]/.test(s) ? s.normalize('NFC') : s;
}

/** nfcValue normalises every string in a value, keys included (JSON-syntax data, var files). */
export function nfcValue(v: Value): Value {
  if (typeof v === 'string') return nfc(v);
  if (Array.isArray(v)) return v.map(nfcValue);
  if (v !== null && typeof v === 'object') {
    const o: Obj = {};
    for (const k of Object.keys(v)) setKey(o, nfc(k), nfcValue(v[k]));
    return o;
  }
  return v;
}

/**
 * MAX_VALUE_DEPTH bounds how deeply lists and objects nest in a computed value. The parser bounds
 * each expression, but locals can wrap one another (local.a = [local.b], local.b = [local.c],
 * ...) to any depth, and every recursive walk of the value (equality, conversion, validation,
 * JSON output) would then overflow the stack: 20,000 such locals did.
 */
export const MAX_VALUE_DEPTH = 256;

const depths = new WeakMap<object, number>();

/**
 * valueDepth is how deeply `v` nests (a scalar is 0, [1] is 1), cached per list or object, so
 * checking each value the evaluator builds costs only its own elements.
 */
export function valueDepth(v: Value): number {
  if (v === null || typeof v !== 'object') return 0;
  const known = depths.get(v);
  if (known !== undefined) return known;
  let d = 0;
  for (const c of Array.isArray(v) ? v : Object.values(v)) {
    d = Math.max(d, valueDepth(c));
    if (d > MAX_VALUE_DEPTH) break;
  }
  depths.set(v, d + 1);
  return d + 1;
}
