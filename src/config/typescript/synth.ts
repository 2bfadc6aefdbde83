/**
 * Conversion of TypeScript props into the front-end-neutral RawResource (src/config/types.ts).
 *
 * The output must be exactly what the HCL evaluator produces for the same declaration: snake_case
 * keys, nested blocks as plain objects listed in `blockKeys`, references reduced to names. Then
 * validation, its messages and `inspect` are shared by both front ends and agree byte for byte.
 *
 * Pure: no I/O; problems are returned as diagnostics (MSEG41xx) rather than thrown, so a program
 * reports all of them at once.
 */
import type { Diagnostic, SourcePos } from '../../diagnostics';
import { makeDiagnostic } from '../../diagnostics';
import type { RawResource, Value } from '../types';
import { isResource, type Resource } from './resources';

/** Attributes written as nested blocks in HCL (`connection { ... }`), per resource type. */
const BLOCK_KEYS: Readonly<Record<string, readonly string[]>> = {
  enforcer: ['connection'],
};
/** Blocks every resource type may have. */
const COMMON_BLOCK_KEYS: readonly string[] = ['lifecycle'];

/** snakeCase maps a prop name to its HCL attribute name: `applyPolicyMode` → `apply_policy_mode`. */
export function snakeCase(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/**
 * synthResource converts one resource. Every attribute is positioned at the `new X(...)` call
 * (the loader refines these to the attribute's own line when it can read the source).
 */
export function synthResource(res: Resource, fallbackPos: SourcePos): { resource: RawResource; diagnostics: Diagnostic[] } {
  const pos = res.declaredAt ?? fallbackPos;
  const diagnostics: Diagnostic[] = [];
  const body: { [key: string]: Value } = {};
  const positions: { [path: string]: SourcePos } = { '': pos };
  const blockKeys: string[] = [];
  const blocks = [...(BLOCK_KEYS[res.resourceType] ?? []), ...COMMON_BLOCK_KEYS];

  for (const [prop, raw] of Object.entries(res.props as Record<string, unknown>)) {
    if (raw === undefined || raw === null) continue; // unset, as `null` is in HCL
    const key = snakeCase(prop);
    const value = toValue(raw, [key], res, pos, diagnostics, new Set());
    if (value === undefined) continue;
    body[key] = value;
    positions[key] = pos;
    if (blocks.includes(key) && isPlainObject(raw)) blockKeys.push(key);
  }

  const resource: RawResource = {
    type: res.resourceType,
    name: res.name,
    address: res.address,
    pos,
    body,
    positions,
  };
  if (blockKeys.length > 0) resource.blockKeys = blockKeys;
  return { resource, diagnostics };
}

/**
 * toValue converts one prop value: references to resources become their names, Dates their ISO
 * text, object keys snake_case. Anything with no HCL equivalent (functions, NaN, class instances,
 * cycles) is a diagnostic and the attribute is dropped.
 */
export function toValue(
  v: unknown,
  path: string[],
  owner: { address: string },
  pos: SourcePos,
  diagnostics: Diagnostic[],
  seen: Set<object>,
): Value | undefined {
  const bad = (why: string): undefined => {
    diagnostics.push(
      makeDiagnostic(
        'error',
        'MSEG4101',
        `Invalid value for "${path.join('.')}" of ${owner.address}`,
        `${why}. Attribute values are strings, numbers, booleans, lists, objects, or references to other resources.`,
        pos,
      ),
    );
    return undefined;
  };
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return v;
    case 'number':
      return Number.isFinite(v) ? v : bad(`${String(v)} is not a finite number`);
    case 'bigint':
      return Number.isSafeInteger(Number(v)) ? Number(v) : bad(`${String(v)} is too large`);
    case 'object':
      break;
    default:
      return bad(`a ${typeof v} has no configuration equivalent`);
  }
  if (v === null) return null;
  if (isResource(v)) return v.name;
  if (Object.prototype.toString.call(v) === '[object Date]') {
    const d = v as Date;
    return Number.isNaN(d.getTime()) ? bad('the Date is invalid') : d.toISOString();
  }
  if (seen.has(v)) return bad('the value refers to itself');
  seen.add(v);
  try {
    if (Array.isArray(v)) {
      const out: Value[] = [];
      for (let i = 0; i < v.length; i++) {
        const item = toValue(v[i] as unknown, [...path, String(i)], owner, pos, diagnostics, seen);
        if (item === undefined) return undefined;
        out.push(item);
      }
      return out;
    }
    if (!isPlainObject(v)) {
      const ctorName = (v as { constructor?: { name?: string } }).constructor?.name ?? 'object';
      return bad(`a ${ctorName} instance has no configuration equivalent`);
    }
    const out: { [key: string]: Value } = {};
    for (const [k, item] of Object.entries(v)) {
      if (item === undefined) continue;
      const key = snakeCase(k);
      const val = toValue(item, [...path, key], owner, pos, diagnostics, seen);
      if (val === undefined) return undefined;
      out[key] = val;
    }
    return out;
  } finally {
    seen.delete(v);
  }
}

/**
 * isPlainObject accepts object literals and null-prototype objects. It compares prototypes by
 * shape, not identity, because a user program evaluated by the loader may live in another realm
 * (another `Object.prototype`).
 */
function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as object | null;
  return proto === null || Object.getPrototypeOf(proto) === null;
}
