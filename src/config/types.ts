/**
 * The contract between the front ends (HCL, TypeScript, Aporeto import) and validation.
 *
 * Every front end produces one RawConfig: the resources the user declared, with their attribute
 * values fully evaluated to plain JSON-like data (variables, references, for_each, functions all
 * resolved) but NOT yet checked against the resource schemas. Validation (src/model/validate.ts)
 * turns a RawConfig into a Model and reports problems at the positions recorded here.
 */
import type { Diagnostic, SourcePos } from '../diagnostics';

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
}

/** posAt returns the position recorded for `path` or its nearest recorded ancestor. */
export function posAt(res: RawResource, path: ReadonlyArray<string | number>): SourcePos {
  for (let n = path.length; n >= 0; n--) {
    const p = res.positions[path.slice(0, n).join('.')];
    if (p) return p;
  }
  return res.pos;
}
