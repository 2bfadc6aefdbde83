/**
 * The `microseg { backend "…" { … } }` settings block: where state, lock and journal live.
 *
 *   microseg {
 *     backend "pg" {
 *       schema_name = "microseg"      # default "microseg"; created on first use
 *       conn_str    = "postgres://…"  # optional; otherwise the environment variable PG_CONN_STR
 *     }
 *   }
 *
 * TypeScript: `new App({ backend: { pg: { schemaName: 'microseg' } } })`. Without a block the
 * backend is `local` (`DIR/.microseg/`). Values are literal strings, as in Terraform's backend
 * blocks: the backend is chosen before anything else is evaluated (commands such as `state pull`
 * or `workspace list` never evaluate the configuration), so variables cannot reach it.
 *
 * Pure (the TypeScript front end imports it): both front ends hand their parsed block here and get
 * Settings or diagnostics with positions; read-settings.ts (the I/O edge) finds the block in a
 * configuration directory.
 */
import { didYouMean, makeDiagnostic, type Diagnostic, type SourcePos } from '../diagnostics';
import type { Block, Expr } from './hcl/ast';

/** SettingsCodes: MSEG84xx belong to the state backends' configuration and the pg backend. */
export const SettingsCodes = {
  /** The microseg block or its backend block is malformed (labels, unknown attribute or block). */
  invalidBlock: 'MSEG8400',
  /** A backend type microseg does not have. */
  unknownBackend: 'MSEG8401',
  /** A setting that is not a literal string (variables and expressions cannot be used here). */
  notLiteral: 'MSEG8402',
  /** More than one microseg block or backend block. */
  duplicate: 'MSEG8403',
  /** An attribute value out of its domain (e.g. a schema name that is not an identifier). */
  invalidValue: 'MSEG8404',
} as const;

export type BackendSettings =
  | { type: 'local'; /** State directory relative to the configuration directory (default `.microseg`). */ path?: string; pos?: SourcePos }
  | { type: 'pg'; schemaName: string; /** Overrides PG_CONN_STR; never printed. */ connStr?: string; pos?: SourcePos };

export interface Settings {
  backend: BackendSettings;
}

export const DEFAULT_SCHEMA_NAME = 'microseg';
export const DEFAULT_SETTINGS: Settings = { backend: { type: 'local' } };

const BACKEND_ATTRS: Record<BackendSettings['type'], string[]> = {
  local: ['path'],
  pg: ['schema_name', 'conn_str'],
};

/** A schema name microseg creates and quotes itself: a plain lower-case SQL identifier. */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** RawSettingsBlock is one front end's `microseg` block: the backend type and its string attributes. */
export interface RawSettingsBlock {
  pos: SourcePos;
  backends: Array<{ type: string; pos: SourcePos; attrs: Array<{ name: string; value: unknown; pos: SourcePos }> }>;
}

/** settingsFromRaw validates the settings blocks of one configuration (all problems collected). */
export function settingsFromRaw(blocks: readonly RawSettingsBlock[]): { settings?: Settings; diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  const err = (code: string, summary: string, detail: string, pos?: SourcePos): void => {
    diagnostics.push(makeDiagnostic('error', code, summary, detail, pos));
  };
  if (blocks.length === 0) return { settings: DEFAULT_SETTINGS, diagnostics };
  for (const extra of blocks.slice(1)) {
    err(SettingsCodes.duplicate, 'Duplicate microseg block', `A configuration has one microseg settings block; the first is at ${at(blocks[0].pos)}. Merge them.`, extra.pos);
  }
  const backends = blocks.flatMap((b) => b.backends);
  for (const extra of backends.slice(1)) {
    err(SettingsCodes.duplicate, 'Duplicate backend block', `State lives in one backend; the first backend block is at ${at(backends[0].pos)}.`, extra.pos);
  }
  const b = backends[0];
  if (!b) return diagnostics.length ? { diagnostics } : { settings: DEFAULT_SETTINGS, diagnostics };
  if (b.type !== 'local' && b.type !== 'pg') {
    const hint = didYouMean(b.type, Object.keys(BACKEND_ATTRS));
    err(SettingsCodes.unknownBackend, `Unknown backend "${b.type}"`, `${hint ? `Did you mean "${hint}"? ` : ''}microseg has the backends "local" (the default: DIR/.microseg) and "pg" (PostgreSQL).`, b.pos);
    return { diagnostics };
  }
  const values: Record<string, string> = {};
  for (const a of b.attrs) {
    if (!BACKEND_ATTRS[b.type].includes(a.name)) {
      const hint = didYouMean(a.name, BACKEND_ATTRS[b.type]);
      err(SettingsCodes.invalidBlock, `Unsupported attribute "${a.name}" in backend "${b.type}"`, hint ? `Did you mean "${hint}"?` : `Allowed: ${BACKEND_ATTRS[b.type].join(', ')}.`, a.pos);
      continue;
    }
    if (typeof a.value !== 'string') {
      err(SettingsCodes.notLiteral, `${a.name} must be a literal string`, 'The backend is chosen before the configuration is evaluated, so variables, references and expressions cannot be used here (as in Terraform).', a.pos);
      continue;
    }
    values[a.name] = a.value;
  }
  const posOf = (name: string): SourcePos => b.attrs.find((a) => a.name === name)?.pos ?? b.pos;
  if (b.type === 'local') {
    if (values.path !== undefined && values.path.trim() === '') err(SettingsCodes.invalidValue, 'path must not be empty', 'Leave it out for the default .microseg.', posOf('path'));
    if (diagnostics.length) return { diagnostics };
    return { settings: { backend: values.path === undefined ? { type: 'local', pos: b.pos } : { type: 'local', path: values.path, pos: b.pos } }, diagnostics };
  }
  const schemaName = values.schema_name ?? DEFAULT_SCHEMA_NAME;
  if (!SCHEMA_NAME.test(schemaName)) {
    err(SettingsCodes.invalidValue, `Invalid schema_name "${schemaName}"`, 'Use a lower-case SQL identifier: letters, digits and _, not starting with a digit, at most 63 characters.', posOf('schema_name'));
  }
  if (values.conn_str !== undefined && values.conn_str.trim() === '') {
    err(SettingsCodes.invalidValue, 'conn_str must not be empty', 'Leave it out to use the environment variable PG_CONN_STR.', posOf('conn_str'));
  }
  if (diagnostics.length) return { diagnostics };
  const backend: BackendSettings = { type: 'pg', schemaName, pos: b.pos };
  if (values.conn_str !== undefined) backend.connStr = values.conn_str;
  return { settings: { backend }, diagnostics };
}

/** hclSettingsBlock turns a parsed top-level `microseg` block into a RawSettingsBlock (reporting shape errors). */
export function hclSettingsBlock(blk: Block, diagnostics: Diagnostic[]): RawSettingsBlock {
  const err = (code: string, summary: string, detail: string, pos: SourcePos): void => {
    diagnostics.push(makeDiagnostic('error', code, summary, detail, pos));
  };
  if (blk.labels.length) err(SettingsCodes.invalidBlock, 'A microseg block takes no labels', 'Write: microseg { backend "pg" { ... } }', blk.labels[0].pos);
  for (const a of blk.body.attributes) err(SettingsCodes.invalidBlock, `Unsupported attribute "${a.name}" in the microseg block`, 'The microseg block holds one backend "TYPE" { ... } block.', a.namePos);
  const backends: RawSettingsBlock['backends'] = [];
  for (const nb of blk.body.blocks) {
    if (nb.type !== 'backend') {
      err(SettingsCodes.invalidBlock, `Unexpected block "${nb.type}" in the microseg block`, 'The microseg block holds one backend "TYPE" { ... } block.', nb.pos);
      continue;
    }
    if (nb.labels.length !== 1) {
      err(SettingsCodes.invalidBlock, 'A backend block needs exactly one label', 'Write: backend "pg" { schema_name = "microseg" } or backend "local" { }', nb.pos);
      continue;
    }
    for (const inner of nb.body.blocks) err(SettingsCodes.invalidBlock, `Unexpected block "${inner.type}" in backend "${nb.labels[0].value}"`, 'A backend block holds only name = "value" attributes.', inner.pos);
    backends.push({ type: nb.labels[0].value, pos: nb.labels[0].pos, attrs: nb.body.attributes.map((a) => ({ name: a.name, value: literalString(a.expr), pos: a.namePos })) });
  }
  return { pos: blk.pos, backends };
}

/** literalString is the value of a string literal expression; anything else (a reference, `${…}`) is undefined. */
function literalString(e: Expr): string | undefined {
  if (e.kind === 'template' && e.parts.every((p) => p.kind === 'lit')) return e.parts.map((p) => (p.kind === 'lit' ? p.value : '')).join('');
  if (e.kind === 'json' && typeof e.value === 'string') return e.value;
  if (e.kind === 'paren') return literalString(e.expr);
  return undefined;
}

/** TsBackendProps is the TypeScript spelling: exactly one of `local` or `pg`. */
export interface TsBackendProps {
  readonly local?: { readonly path?: string };
  readonly pg?: { readonly schemaName?: string; readonly connStr?: string };
}

/** tsSettingsBlock is the TypeScript App's `backend` prop as a RawSettingsBlock. */
export function tsSettingsBlock(backend: TsBackendProps, pos: SourcePos): RawSettingsBlock {
  const keys = Object.keys(backend ?? {});
  const backends: RawSettingsBlock['backends'] = keys.map((type) => {
    const body = (backend as Record<string, unknown>)[type];
    const attrs = typeof body === 'object' && body !== null ? Object.entries(body as Record<string, unknown>) : [];
    return { type, pos, attrs: attrs.map(([k, v]) => ({ name: k === 'schemaName' ? 'schema_name' : k === 'connStr' ? 'conn_str' : k, value: v, pos })) };
  });
  return { pos, backends };
}

function at(p: SourcePos): string {
  return `${p.file}:${p.line}:${p.column}`;
}
