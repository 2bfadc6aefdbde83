/**
 * The contract between the front ends (HCL, TypeScript, Aporeto import) and validation.
 *
 * Every front end produces one RawConfig: the resources the user declared, with their attribute
 * values fully evaluated to plain JSON-like data (variables, references, for_each, functions all
 * resolved) but NOT yet checked against the resource schemas. Validation (src/model/validate.ts)
 * turns a RawConfig into a Model and reports problems at the positions recorded here.
 */
import type { Diagnostic, SourcePos } from '../diagnostics';
import type { Settings } from './settings';

/** Value is an evaluated attribute value; HCL objects/maps and nested blocks become plain objects. */
export type Value = string | number | boolean | null | Value[] | { [key: string]: Value };

/** The resource block types of DESIGN §3 (HCL spelling). */
export const RESOURCE_TYPES = [
  'namespace',
  'enforcer',
  'enforcer_profile',
  'processing_unit',
  'external_network',
  'network_policy',
  'enforcer_token',
  'expect',
] as const;
export type ResourceType = (typeof RESOURCE_TYPES)[number];

/**
 * RawResource is one declared resource instance.
 *
 * - `type` is the block type as written (validation reports unknown types with "did you mean").
 * - `name` is the resource's name: the block label, or for a `for_each` instance
 *   `<label>[<key>]` unless the body sets an explicit `name` attribute (which the evaluator has
 *   already applied here and removed from `body`).
 * - `address` is the Terraform-style address used in plan output and `state` commands:
 *   `processing_unit.web`, `processing_unit.web["a"]`.
 * - `body` holds attributes and nested blocks (`connection { ... }` → `body.connection = {...}`;
 *   a block type that repeats becomes an array of objects). Keys are snake_case, as in HCL.
 * - `positions` maps a dotted path into `body` to where it was written: `""` is the block
 *   itself, `"ports"` the attribute, `"ports.2"` its third element, `"connection.type"` a nested
 *   attribute. Validation looks up the longest known prefix of a problem's path.
 * - `blockKeys` lists which keys of `body` were written as nested blocks rather than attributes,
 *   so validation can say "block" or "attribute" correctly in its messages.
 */
export interface RawResource {
  type: string;
  name: string;
  address: string;
  pos: SourcePos;
  body: { [key: string]: Value };
  positions: { [path: string]: SourcePos };
  blockKeys?: string[];
  /**
   * Paths into `body` whose value is unknown because computing or reading it failed, with the
   * error already reported: `"tags"`, `"connection.type"`; `"*"` (or `"connection.*"`) when a
   * syntax error lost items of that body, so any of its keys may be missing; `"name"` when the
   * resource's name itself is unknown. Validation does not report these as missing, and skips the
   * checks that depend on them (see validateConfig).
   */
  unknown?: string[];
}

/** RawConfig is what one front end produced for one configuration directory. */
export interface RawConfig {
  resources: RawResource[];
  /** Evaluated `output` values by name (not part of the model's resources). */
  outputs: { [name: string]: Value };
  /** Source text of each file read, keyed by the file name used in positions (for carets). */
  sources: Map<string, string>;
  /** Problems found while reading and evaluating (syntax, unknown references, ...). */
  diagnostics: Diagnostic[];
  /** The `microseg { backend … }` settings (src/config/settings.ts); absent when they are invalid. */
  settings?: Settings;
  /**
   * Resource types whose set of declared names is not fully known, because a declaration of that
   * type failed (a for_each or name that could not be computed, a block lost to a syntax error,
   * an unreadable file); `"*"` for every type. References to names of these types that were not
   * found are not reported: they may be declared by what failed.
   */
  incomplete?: string[];
}

/**
 * isUnknownAt says whether the value at `path` of `res` is unknown (see RawResource.unknown):
 * the path or one of its prefixes failed to evaluate, or the first key along it that is absent
 * belongs to a body that lost items to a syntax error.
 */
export function isUnknownAt(res: RawResource, path: ReadonlyArray<string | number>): boolean {
  const u = res.unknown;
  if (!u || u.length === 0) return false;
  const keys = path.map(String);
  let cur: unknown = res.body;
  for (let n = 0; n < keys.length; n++) {
    const prefix = keys.slice(0, n).join('.');
    if (n > 0 && u.includes(prefix)) return true;
    const next = cur !== null && typeof cur === 'object' ? (cur as Record<string, unknown>)[keys[n]] : undefined;
    if (next === undefined) return u.includes(prefix ? `${prefix}.*` : '*') || u.includes(keys.slice(0, n + 1).join('.'));
    cur = next;
  }
  return u.includes(keys.join('.'));
}

/** isIncomplete says whether the names of resource `type` may not all be known. */
export function isIncomplete(raw: Pick<RawConfig, 'incomplete'>, type: string): boolean {
  return raw.incomplete !== undefined && (raw.incomplete.includes('*') || raw.incomplete.includes(type));
}

/** posAt returns the position recorded for `path` or its nearest recorded ancestor. */
export function posAt(res: RawResource, path: ReadonlyArray<string | number>): SourcePos {
  for (let n = path.length; n >= 0; n--) {
    const p = res.positions[path.slice(0, n).join('.')];
    if (p) return p;
  }
  return res.pos;
}
