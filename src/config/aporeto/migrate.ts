/**
 * migrateAporeto converts an Aporeto / Prisma Cloud Microsegmentation import file (the
 * `apoctl api import` format) into microseg HCL.
 *
 * The conversion is all-or-nothing: any object it cannot convert faithfully is an error naming
 * the object (kind and name) and the line, and then no HCL is returned at all. A half-migrated
 * policy set that silently lacks a reject rule, or grew an allow, is worse than none. Settings
 * with no effect on enforcement (annotations, metadata) are dropped with a warning.
 *
 * Mapping (Aporeto → microseg):
 *   externalnetwork       → external_network   (protocols/ports → service_ports via
 *                                                convertLegacyPorts; associatedTags → tags)
 *   networkaccesspolicy   → network_policy     (Allow/Reject/Continue → allow/reject/continue;
 *                                                IncomingTraffic/OutgoingTraffic/Bidirectional
 *                                                → incoming/outgoing/bidirectional)
 *   namespace             → namespace          (defaultPU*TrafficAction → default_*_action)
 *   protected: true       → lifecycle { prevent_destroy = true }
 *
 * Names become labels of letters, digits, `_` and `-`. An external network's name is also its
 * identity (`$name=...`), so when one is renamed, policy terms naming it exactly are rewritten
 * to the new name, and a prefix term whose matches would change is an error.
 */
import * as path from 'path';
import type { Diagnostic, SourcePos } from '../../diagnostics';
import { didYouMean, makeDiagnostic, sortDiagnostics } from '../../diagnostics';
import { convertLegacyPorts, mergeServicePorts } from '../../model/legacy-ports';
import { MigrateCodes } from './codes';
import { type BodyItem, type HclValue, hclValue, renderBlock } from './hcl-writer';
import { type Path, readImportFile, type ReadFile } from './read';

export interface MigrateOptions {
  /**
   * The namespace the file was imported into (`apoctl api import -n`). Objects without a
   * `namespace` of their own are placed in it, and relative namespace names are resolved
   * against it. Default: leave such objects in microseg's default namespace `/`.
   */
  namespace?: string;
}

export interface MigrateResult {
  /** The HCL text; absent whenever there is an error. */
  hcl?: string;
  diagnostics: Diagnostic[];
}

/** The kinds under `data` that migrate converts, by their Aporeto (plural) key. */
const KINDS = {
  namespaces: 'namespace',
  externalnetworks: 'externalnetwork',
  networkaccesspolicies: 'networkaccesspolicy',
} as const;
type Kind = (typeof KINDS)[keyof typeof KINDS];

/** Server-maintained attributes of every Aporeto object: meaningless in a configuration. */
const SERVER_FIELDS = ['ID', 'createTime', 'updateTime', 'normalizedTags', 'migrationsLog', 'zone', 'zHash', 'owner'];
/** Descriptive attributes with no effect on enforcement: dropped with a warning when not empty. */
const DESCRIPTIVE_FIELDS = ['annotations', 'metadata'];
const TOP_LEVEL = ['APIVersion', 'label', 'data'];

/** Converted is one resource ready to render, plus what renaming needs to know about it. */
interface Converted {
  kind: Kind;
  type: 'namespace' | 'external_network' | 'network_policy';
  name: string;
  namePath: Path;
  label: string;
  comments: string[];
  attrs: Array<{ name: string; value: HclValue }>;
  preventDestroy: boolean;
  /** For policies: the subject/object terms, rewritten in place when networks are renamed. */
  exprs?: Array<{ attr: 'subject' | 'object'; expr: string[][]; path: Path }>;
}

/** migrateAporeto converts one import file; see the module comment. */
export function migrateAporeto(fileName: string, text: string, options: MigrateOptions = {}): MigrateResult {
  const r = migrate(fileName, text, options);
  return { ...r, diagnostics: sortDiagnostics(r.diagnostics) };
}

function migrate(fileName: string, text: string, options: MigrateOptions): MigrateResult {
  const read = readImportFile(fileName, text);
  if (!read.file) return { diagnostics: read.diagnostics };
  const ctx = new Context(read.file);
  const root = read.file.data;

  if (!isRecord(root) || !isRecord(root.data)) {
    ctx.error(
      MigrateCodes.notImportFile,
      [],
      `"${path.basename(fileName)}" is not an Aporeto import file`,
      'An import file (apoctl api import) is a mapping with APIVersion, label and data, where data maps kinds such as externalnetworks and networkaccesspolicies to lists of objects.',
    );
    return { diagnostics: ctx.diagnostics };
  }
  for (const k of Object.keys(root)) {
    if (!TOP_LEVEL.includes(k)) ctx.unknown([k], 'the import file', k, TOP_LEVEL, true);
  }

  const objects: Array<{ kind: Kind; obj: Record<string, unknown>; path: Path }> = [];
  for (const [plural, list] of Object.entries(root.data)) {
    const kind = (KINDS as Record<string, Kind>)[plural];
    if (kind === undefined) {
      const hint = didYouMean(plural, Object.keys(KINDS));
      ctx.error(
        MigrateCodes.unknownKind,
        ['data', plural],
        `migrate cannot convert "${plural}" objects`,
        `${hint ? `Did you mean "${hint}"? ` : ''}Supported kinds under data: ${Object.keys(KINDS).join(', ')}. Remove the other kinds from the file, or convert them by hand.`,
        true,
      );
      continue;
    }
    if (list === null) continue;
    if (!Array.isArray(list)) {
      ctx.error(MigrateCodes.invalidValue, ['data', plural], `data.${plural} must be a list of ${kind} objects`);
      continue;
    }
    list.forEach((obj, i) => {
      const p: Path = ['data', plural, i];
      if (!isRecord(obj)) ctx.error(MigrateCodes.invalidValue, p, `data.${plural}[${i}] is not a ${kind} object`);
      else objects.push({ kind, obj, path: p });
    });
  }

  // Templates first: they make every other message about the same value meaningless.
  const templated = new Set<string>();
  for (const t of read.file.templates) {
    const owner = objects.find((o) => t.path.length > 3 && o.path.every((seg, i) => t.path[i] === seg));
    const what = owner ? `${owner.kind} ${JSON.stringify(nameOf(owner.obj, owner.path))}` : 'The import file';
    const attr = t.path.slice(owner ? 3 : 0).join('.');
    ctx.diagnostics.push(
      makeDiagnostic(
        'error',
        MigrateCodes.template,
        `${what}: Go template ${JSON.stringify(firstLine(t.text))} in ${attr === '' ? 'a key' : `"${attr}"`}`,
        'migrate converts rendered import files only. Render the templates first and migrate the result; a template cannot be converted to a fixed firewall rule.',
        t.pos,
      ),
    );
    if (owner) templated.add(owner.path.join('.'));
  }

  const converted: Converted[] = [];
  for (const o of objects) {
    if (templated.has(o.path.join('.'))) continue;
    const c = convertObject(ctx, o.kind, o.obj, o.path, options);
    if (c) converted.push(c);
  }
  if (!ctx.hasErrors()) assignLabels(ctx, converted);
  if (ctx.hasErrors()) return { diagnostics: ctx.diagnostics };

  const label = typeof root.label === 'string' && root.label !== '' ? ` (label ${JSON.stringify(root.label)})` : '';
  let hcl = `# Converted from the Aporeto import file ${JSON.stringify(path.basename(fileName))}${label} by microseg migrate.\n`;
  for (const ns of undeclaredNamespaces(converted)) {
    hcl += `\n${renderBlock('namespace', [ns], [{ kind: 'comment', text: 'Used by the objects below. Remove this block if your configuration declares it already.' }])}`;
  }
  const order: Kind[] = ['namespace', 'externalnetwork', 'networkaccesspolicy'];
  for (const kind of order) {
    for (const c of converted.filter((x) => x.kind === kind)) hcl += `\n${render(c)}`;
  }
  return { hcl, diagnostics: ctx.diagnostics };
}

/**
 * undeclaredNamespaces lists the namespaces the converted objects live in (and their ancestors)
 * that the file does not declare. microseg requires every namespace to be declared, and the
 * output should validate on its own, so migrate declares them with microseg's defaults.
 */
function undeclaredNamespaces(all: Converted[]): string[] {
  const declared = new Set(all.filter((c) => c.type === 'namespace').map((c) => c.label));
  const needed = new Set<string>();
  const need = (ns: string): void => {
    for (let n = ns; n !== '' && n !== '/'; n = n.slice(0, n.lastIndexOf('/'))) needed.add(n);
  };
  for (const c of all) {
    if (c.type === 'namespace') need(c.label.slice(0, c.label.lastIndexOf('/')));
    const ns = c.attrs.find((a) => a.name === 'namespace')?.value;
    if (typeof ns === 'string') need(ns);
  }
  return [...needed].filter((n) => !declared.has(n)).sort();
}

/** Context collects diagnostics and knows where every value of the file is. */
class Context {
  readonly diagnostics: Diagnostic[] = [];
  constructor(readonly file: ReadFile) {}

  error(code: string, p: Path, summary: string, detail?: string, atKey = false): void {
    this.diagnostics.push(makeDiagnostic('error', code, summary, detail, atKey ? this.file.keyAt(p) : this.file.valueAt(p)));
  }

  warning(code: string, p: Path, summary: string, detail?: string, atKey = false): void {
    this.diagnostics.push(makeDiagnostic('warning', code, summary, detail, atKey ? this.file.keyAt(p) : this.file.valueAt(p)));
  }

  pos(p: Path): SourcePos {
    return this.file.valueAt(p);
  }

  unknown(p: Path, owner: string, attr: string, known: readonly string[], top = false): void {
    const hint = didYouMean(attr, known);
    this.error(
      MigrateCodes.unknownAttribute,
      p,
      `${owner}: unknown attribute "${attr}"`,
      `${hint ? `Did you mean "${hint}"? ` : ''}migrate does not know how to convert it, and will not guess at a firewall rule. ${
        top ? 'An import file has APIVersion, label and data.' : 'Remove it from the file if it does not matter, or convert this object by hand.'
      }`,
      true,
    );
  }

  hasErrors(): boolean {
    return this.diagnostics.some((d) => d.severity === 'error');
  }
}

/** Known attributes per kind, with what each becomes; the converters below read them. */
const ATTRS: Record<Kind, readonly string[]> = {
  namespace: ['name', 'description', 'namespace', 'defaultPUIncomingTrafficAction', 'defaultPUOutgoingTrafficAction', 'protected', 'associatedTags', 'type'],
  externalnetwork: ['name', 'description', 'namespace', 'entries', 'servicePorts', 'protocols', 'ports', 'associatedTags', 'propagate', 'protected'],
  networkaccesspolicy: [
    'name',
    'description',
    'namespace',
    'subject',
    'object',
    'action',
    'applyPolicyMode',
    'ports',
    'logsEnabled',
    'observationEnabled',
    'observedTrafficAction',
    'disabled',
    'propagate',
    'fallback',
    'negateSubject',
    'negateObject',
    'expirationTime',
    'activeSchedule',
    'activeDuration',
    'protected',
    'associatedTags',
  ],
};

/** Aporeto's "no expiration" value of expirationTime. */
const ZERO_TIME = /^0001-01-01T00:00:00(\.0+)?Z$/;

function convertObject(ctx: Context, kind: Kind, obj: Record<string, unknown>, p: Path, options: MigrateOptions): Converted | undefined {
  const name = nameOf(obj, p);
  const owner = `${kind} ${JSON.stringify(name)}`;
  const before = ctx.diagnostics.length;
  const known = [...ATTRS[kind], ...SERVER_FIELDS, ...DESCRIPTIVE_FIELDS];
  for (const k of Object.keys(obj)) if (!known.includes(k)) ctx.unknown([...p, k], owner, k, ATTRS[kind]);
  for (const k of DESCRIPTIVE_FIELDS) {
    if (!isEmpty(obj[k])) ctx.warning(MigrateCodes.dropped, [...p, k], `${owner}: "${k}" dropped`, 'microseg has no equivalent; it does not affect enforcement.', true);
  }

  const v = new Reader(ctx, obj, p, owner);
  if (typeof obj.name !== 'string' || obj.name.trim() === '') {
    ctx.error(MigrateCodes.badName, obj.name === undefined ? p : [...p, 'name'], `${kind} at data.${p[1]}[${p[2]}] has no name`, 'Every object needs a non-empty name; it becomes the resource label.');
    return undefined;
  }
  const c: Converted = {
    kind,
    type: kind === 'namespace' ? 'namespace' : kind === 'externalnetwork' ? 'external_network' : 'network_policy',
    name: obj.name,
    namePath: [...p, 'name'],
    label: obj.name,
    comments: [],
    attrs: [],
    preventDestroy: v.bool('protected') === true,
  };
  const description = v.string('description');

  if (kind !== 'namespace') {
    const ns = v.string('namespace') ?? options.namespace;
    if (ns !== undefined && ns !== '/') c.attrs.push({ name: 'namespace', value: absoluteNamespace(ns, options) });
  }

  if (kind === 'namespace') {
    const parent = v.string('namespace');
    c.label = absoluteNamespace(obj.name, options, parent);
    if (!obj.name.startsWith('/') && parent === undefined && options.namespace === undefined) {
      ctx.warning(
        MigrateCodes.review,
        [...p, 'name'],
        `${owner}: relative name taken as "${c.label}"`,
        'The file does not say which namespace it was imported into. If it was not "/", prefix the name with that namespace (or give the object a namespace attribute) and migrate again.',
      );
    }
    if (!/^(\/[A-Za-z0-9][A-Za-z0-9_.-]*)+$/.test(c.label)) {
      ctx.error(
        MigrateCodes.badName,
        [...p, 'name'],
        `${owner}: "${c.label}" is not a valid microseg namespace name`,
        'Namespace segments are letters, digits, "_", "." and "-". A namespace cannot be renamed automatically, because policies match it by $namespace.',
      );
    }
    if (description !== undefined && description !== '') c.attrs.push({ name: 'description', value: description });
    for (const [from, to] of [
      ['defaultPUIncomingTrafficAction', 'default_incoming_action'],
      ['defaultPUOutgoingTrafficAction', 'default_outgoing_action'],
    ] as const) {
      const a = v.enumOf(from, { allow: 'allow', reject: 'reject', inherit: 'inherit' });
      if (a === 'inherit') {
        ctx.warning(
          MigrateCodes.review,
          [...p, from],
          `${owner}: ${from} "Inherit" left unset`,
          `microseg namespaces do not inherit defaults: ${to} is "reject" unless written. Set it if the parent namespace allowed by default.`,
          true,
        );
      } else if (a !== undefined) c.attrs.push({ name: to, value: a });
    }
    if (!isEmpty(obj.associatedTags)) ctx.warning(MigrateCodes.dropped, [...p, 'associatedTags'], `${owner}: "associatedTags" dropped`, 'microseg namespaces carry no tags.', true);
  } else if (kind === 'externalnetwork') {
    if (description !== undefined && description !== '') c.comments.push(...description.split('\n'));
    const entries = v.strings('entries');
    if (entries === undefined || entries.length === 0) {
      ctx.error(MigrateCodes.invalidValue, obj.entries === undefined ? p : [...p, 'entries'], `${owner} has no entries`, 'An external network lists the CIDRs it stands for, e.g. entries: ["198.51.100.0/24"].');
    } else {
      c.attrs.push({ name: 'entries', value: entries });
    }
    const servicePorts = v.strings('servicePorts') ?? [];
    const protocols = v.scalars('protocols');
    const ports = v.scalars('ports');
    let merged = servicePorts;
    if (obj.protocols !== undefined || obj.ports !== undefined) {
      const conv = convertLegacyPorts(protocols, ports?.map(String));
      if ('error' in conv) {
        ctx.error(
          MigrateCodes.legacyPorts,
          obj.protocols !== undefined ? [...p, 'protocols'] : [...p, 'ports'],
          `${owner}: cannot convert protocols/ports to service_ports: ${conv.error}`,
          'Write servicePorts for this external network by hand (e.g. ["tcp/443", "udp/53"]) and remove protocols and ports.',
        );
      } else {
        merged = mergeServicePorts([...servicePorts, ...conv.servicePorts]);
        const was = [
          protocols !== undefined ? `protocols = ${hclValue(protocols, '')}` : undefined,
          ports !== undefined ? `ports = ${hclValue(ports.map(String), '')}` : undefined,
        ].filter((x) => x !== undefined);
        c.comments.push(`service_ports converted from the removed ${was.join(' and ')}.`);
      }
    }
    if (merged.length > 0) c.attrs.push({ name: 'service_ports', value: merged });
    const tags = v.strings('associatedTags');
    if (tags !== undefined && tags.length > 0) c.attrs.push({ name: 'tags', value: tags });
    if (v.bool('propagate') === true) {
      ctx.warning(
        MigrateCodes.review,
        [...p, 'propagate'],
        `${owner}: "propagate" has no equivalent on external networks`,
        'In microseg a policy sees the external networks of its own namespace, and of the namespaces below it when the policy has propagate = true. Declare the network where the policies that use it live.',
        true,
      );
    }
  } else {
    if (description !== undefined && description !== '') c.attrs.push({ name: 'description', value: description });
    c.exprs = [];
    for (const attr of ['subject', 'object'] as const) {
      const expr = v.tagExpression(attr);
      if (expr === undefined) continue;
      c.exprs.push({ attr, expr, path: [...p, attr] });
      c.attrs.push({ name: attr, value: expr });
    }
    c.attrs.push({ name: 'action', value: v.enumOf('action', { allow: 'allow', reject: 'reject', continue: 'continue' }) ?? 'allow' });
    const ports = v.strings('ports');
    if (ports !== undefined && ports.length > 0) c.attrs.push({ name: 'ports', value: ports });
    const mode = v.enumOf('applyPolicyMode', { incomingtraffic: 'incoming', outgoingtraffic: 'outgoing', bidirectional: 'bidirectional' });
    c.attrs.push({ name: 'apply_policy_mode', value: mode ?? 'bidirectional' });
    for (const [from, to] of [
      ['logsEnabled', 'logs_enabled'],
      ['observationEnabled', 'observation_enabled'],
      ['disabled', 'disabled'],
      ['propagate', 'propagate'],
      ['fallback', 'fallback'],
      ['negateSubject', 'negate_subject'],
      ['negateObject', 'negate_object'],
    ] as const) {
      if (v.bool(from) === true) c.attrs.push({ name: to, value: true });
    }
    const observed = v.enumOf('observedTrafficAction', { continue: 'continue', apply: 'apply' });
    if (observed === 'apply' && obj.observationEnabled === true) {
      ctx.error(
        MigrateCodes.unsupported,
        [...p, 'observedTrafficAction'],
        `${owner}: observedTrafficAction "Apply" is not supported`,
        'A microseg policy with observation_enabled only logs the traffic it matches and lets evaluation continue (Aporeto\'s "Continue"). Use observedTrafficAction Continue, or drop observationEnabled to enforce the policy.',
      );
    }
    const expiration = v.string('expirationTime');
    if (expiration !== undefined && expiration !== '' && !ZERO_TIME.test(expiration)) c.attrs.push({ name: 'expiration_time', value: expiration });
    for (const [from, to] of [
      ['activeSchedule', 'active_schedule'],
      ['activeDuration', 'active_duration'],
    ] as const) {
      const s = v.string(from);
      if (s !== undefined && s !== '') c.attrs.push({ name: to, value: s });
    }
    if (!isEmpty(obj.associatedTags)) {
      ctx.warning(MigrateCodes.dropped, [...p, 'associatedTags'], `${owner}: "associatedTags" dropped`, 'microseg policies carry no tags of their own; this does not affect enforcement.', true);
    }
  }
  return ctx.diagnostics.slice(before).some((d) => d.severity === 'error') ? undefined : c;
}

/** Reader reads typed attributes of one object, reporting wrong types at the value. */
class Reader {
  constructor(
    private readonly ctx: Context,
    private readonly obj: Record<string, unknown>,
    private readonly p: Path,
    private readonly owner: string,
  ) {}

  private bad(attr: string, expected: string): undefined {
    this.ctx.error(MigrateCodes.invalidValue, [...this.p, attr], `${this.owner}: "${attr}" must be ${expected}`, `It is ${JSON.stringify(this.obj[attr])}.`);
    return undefined;
  }

  string(attr: string): string | undefined {
    const x = this.obj[attr];
    if (x === undefined || x === null) return undefined;
    return typeof x === 'string' ? x : this.bad(attr, 'a string');
  }

  bool(attr: string): boolean | undefined {
    const x = this.obj[attr];
    if (x === undefined || x === null) return undefined;
    return typeof x === 'boolean' ? x : this.bad(attr, 'true or false');
  }

  strings(attr: string): string[] | undefined {
    const x = this.obj[attr];
    if (x === undefined || x === null) return undefined;
    return Array.isArray(x) && x.every((s) => typeof s === 'string') ? (x as string[]) : this.bad(attr, 'a list of strings');
  }

  /** scalars reads a list of strings or numbers (legacy protocols may be numbers, ports too). */
  scalars(attr: string): Array<string | number> | undefined {
    const x = this.obj[attr];
    if (x === undefined || x === null) return undefined;
    return Array.isArray(x) && x.every((s) => typeof s === 'string' || typeof s === 'number')
      ? (x as Array<string | number>)
      : this.bad(attr, 'a list of strings or numbers');
  }

  /** enumOf maps a case-insensitive Aporeto enum value to microseg's spelling. */
  enumOf<T extends string>(attr: string, values: Record<string, T>): T | undefined {
    const s = this.string(attr);
    if (s === undefined || s === '') return undefined;
    const m = values[s.toLowerCase()];
    if (m !== undefined) return m;
    this.ctx.error(MigrateCodes.invalidValue, [...this.p, attr], `${this.owner}: unknown ${attr} ${JSON.stringify(s)}`, `Expected one of ${Object.keys(values).join(', ')} (any case).`);
    return undefined;
  }

  tagExpression(attr: string): string[][] | undefined {
    const x = this.obj[attr];
    if (x === undefined || x === null) {
      this.ctx.error(MigrateCodes.invalidValue, this.p, `${this.owner} has no ${attr}`, `A policy needs a ${attr} tag expression, e.g. [["app=web"]].`);
      return undefined;
    }
    if (Array.isArray(x) && x.every((c) => Array.isArray(c) && c.every((t) => typeof t === 'string'))) return (x as string[][]).map((c) => [...c]);
    return this.bad(attr, 'a list of lists of tags, e.g. [["app=web", "env=prod"], ["app=api"]]');
  }
}

/**
 * assignLabels turns names into labels of letters, digits, `_` and `-`, unique per type, and
 * keeps policies matching renamed external networks (their name is their `$name` identity).
 */
function assignLabels(ctx: Context, all: Converted[]): void {
  const taken = new Map<string, Set<string>>();
  const renamedNets = new Map<string, string>();
  for (const c of all) {
    let set = taken.get(c.type);
    if (!set) taken.set(c.type, (set = new Set()));
    if (c.type === 'namespace') {
      if (set.has(c.label)) ctx.error(MigrateCodes.badName, c.namePath, `Duplicate namespace "${c.label}"`);
      set.add(c.label);
      continue;
    }
    let label = sanitizeLabel(c.name);
    if (label === '') label = c.type.replace(/_/g, '-');
    const base = label;
    for (let n = 2; set.has(label); n++) label = `${base}-${n}`;
    set.add(label);
    if (label !== c.name) {
      ctx.warning(
        MigrateCodes.renamed,
        c.namePath,
        `${c.kind} ${JSON.stringify(c.name)} becomes ${c.type} "${label}"`,
        `Resource names are letters, digits, "_" and "-", unique per type.${
          c.type === 'external_network' ? ` Policy terms "$name=${c.name}" in this file were rewritten to "$name=${label}".` : ''
        }`,
      );
      if (c.type === 'external_network') renamedNets.set(c.name, label);
    }
    c.label = label;
  }
  if (renamedNets.size === 0) return;

  for (const c of all) {
    for (const e of c.exprs ?? []) {
      e.expr = e.expr.map((clause, ci) =>
        clause.map((term, ti) => {
          const m = /^\$name(!?=)(.*)$/.exec(term);
          if (!m) return term;
          const [, op, value] = m;
          const renamed = renamedNets.get(value);
          if (renamed !== undefined) return `$name${op}${renamed}`;
          if (value.endsWith('*')) {
            const prefix = value.slice(0, -1);
            for (const [from, to] of renamedNets) {
              if (from.startsWith(prefix) !== to.startsWith(prefix)) {
                ctx.error(
                  MigrateCodes.unsupported,
                  [...e.path, ci, ti],
                  `${c.kind} ${JSON.stringify(c.name)}: "${term}" would change meaning after renaming externalnetwork ${JSON.stringify(from)} to "${to}"`,
                  'Rename the external network in the import file to a name of letters, digits, "_" and "-", and adjust this term, then migrate again.',
                );
              }
            }
          }
          return term;
        }),
      );
      const a = c.attrs.find((x) => x.name === e.attr);
      if (a) a.value = e.expr;
    }
  }
}

/** sanitizeLabel keeps letters, digits, `_` and `-`; every other run becomes one `-`. */
export function sanitizeLabel(name: string): string {
  return name
    .trim()
    .replace(/[^A-Za-z0-9_-]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

function render(c: Converted): string {
  const body: BodyItem[] = [];
  for (const line of c.comments) body.push({ kind: 'comment', text: line });
  for (const a of c.attrs) body.push({ kind: 'attr', name: a.name, value: a.value });
  if (c.preventDestroy) {
    if (body.length > 0) body.push({ kind: 'blank' });
    body.push({ kind: 'block', type: 'lifecycle', labels: [], body: [{ kind: 'attr', name: 'prevent_destroy', value: true }] });
  }
  return renderBlock(c.type, [c.label], body);
}

/** absoluteNamespace resolves a relative Aporeto namespace name against the import namespace. */
function absoluteNamespace(name: string, options: MigrateOptions, parent?: string): string {
  if (name.startsWith('/')) return name;
  const base = parent !== undefined ? absoluteNamespace(parent, options) : (options.namespace ?? '/');
  return `${base.replace(/\/+$/, '')}/${name}`;
}

function nameOf(obj: Record<string, unknown>, p: Path): string {
  return typeof obj.name === 'string' ? obj.name : `data.${p[1]}[${p[2]}]`;
}


function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function isEmpty(x: unknown): boolean {
  if (x === undefined || x === null || x === '') return true;
  if (Array.isArray(x)) return x.length === 0;
  if (isRecord(x)) return Object.keys(x).length === 0;
  return false;
}

function firstLine(s: string): string {
  const l = s.split('\n')[0].trim();
  return l.length > 60 ? `${l.slice(0, 57)}...` : l;
}
