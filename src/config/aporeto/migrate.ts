/**
 * migrateAporeto converts an Aporeto / Prisma Cloud Microsegmentation import file (the
 * `apoctl api import` / `apoctl api export` format) into microseg HCL.
 *
 * The conversion is all-or-nothing: any object it cannot convert faithfully is an error naming
 * the object (kind and name) and the line, and then no HCL is returned at all. A half-migrated
 * policy set that silently lacks a reject rule, or grew an allow, is worse than none. Settings
 * with no effect on enforcement (annotations, metadata) are dropped with a warning, and kinds that
 * write no firewall rule (recipes, automations, API authorizations, ...; see kinds.ts) are skipped
 * with one warning per kind.
 *
 * Mapping (Aporeto → microseg):
 *   externalnetwork       → external_network   (servicePorts, or else protocols × ports, →
 *                                                service_ports, see legacy.ts; bare addresses →
 *                                                host prefixes; associatedTags → tags)
 *   networkaccesspolicy   → network_policy     (Allow/Reject/Continue → allow/reject/continue;
 *                                                IncomingTraffic/OutgoingTraffic/Bidirectional
 *                                                → incoming/outgoing/bidirectional)
 *   networkrulesetpolicy  → one network_policy per rule (see convertRuleSet)
 *   namespace             → namespace          (defaultPU*TrafficAction → default_*_action)
 *   protected: true       → lifecycle { prevent_destroy = true }
 *
 * Every value microseg's validator checks (tag terms, service ports, CIDRs) is checked here too,
 * with the validator's own parsers, so a problem is reported at its line in the import file, not
 * in the generated HCL, and what migrate outputs validates.
 *
 * Names become labels of letters, digits, `_` and `-`. An external network's name is also its
 * identity (`$name=...`), so when one is renamed, policy terms naming it exactly are rewritten
 * to the new name, and a prefix term whose matches would change is an error.
 */
import * as path from 'path';
import type { Diagnostic, SourcePos } from '../../diagnostics';
import { didYouMean, makeDiagnostic, sortDiagnostics } from '../../diagnostics';
import { intersectSpecs, specFromServicePorts, specKey, specText, type PortSpec } from '../../compile/ports';
import { isWithin } from '../../compile/scope';
import { isDnsName, parseCidrEntry, parseCidrList } from '../../model/cidr';
import { parseServicePortList } from '../../model/service-ports';
import { matchesExpression } from '../../model/tag-match';
import { parseObjectTag, parseTagExpression, RESERVED_KEYS } from '../../model/tags';
import type { TagExpression } from '../../model/types';
import { MigrateCodes } from './codes';
import { type BodyItem, type HclValue, hclValue, renderBlock } from './hcl-writer';
import { CONVERTED_KINDS, type Kind, pluralOfIdentity, REFUSED_KINDS, SKIPPED_KINDS } from './kinds';
import { reconcileLegacyPorts } from './legacy';
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

/** Server-maintained attributes of every Aporeto object: meaningless in a configuration. */
const SERVER_FIELDS = [
  'ID',
  'createTime',
  'updateTime',
  'normalizedTags',
  'migrationsLog',
  'zone',
  'zHash',
  'owner',
  'createIdempotencyKey',
  'updateIdempotencyKey',
  'propagationHidden',
];
/** Descriptive attributes with no effect on enforcement: dropped with a warning when not empty. */
const DESCRIPTIVE_FIELDS = ['annotations', 'metadata'];
const TOP_LEVEL = ['APIVersion', 'label', 'data', 'identities'];

/** What a converted external network needs for the cross-checks of rule set policies. */
interface NetInfo {
  identity: string[];
  namespace: string;
  ports: PortSpec;
  portsText: string;
}

/** What a network_policy converted from a rule set rule needs for the cross-checks. */
interface RuleInfo {
  direction: 'incoming' | 'outgoing';
  action: 'allow' | 'reject';
  ports: PortSpec;
  namespace: string;
  propagate: boolean;
  peer: TagExpression;
  path: Path;
}

/** Converted is one resource ready to render, plus what renaming needs to know about it. */
interface Converted {
  kind: Kind;
  type: 'namespace' | 'external_network' | 'network_policy';
  /** The source object's name, for messages and `$name` identities. */
  name: string;
  namePath: Path;
  label: string;
  /** The label was derived (one rule of a rule set), not the object's own name. */
  derived?: boolean;
  comments: string[];
  attrs: Array<{ name: string; value: HclValue }>;
  preventDestroy: boolean;
  /** For policies: the subject/object terms, rewritten in place when networks are renamed. */
  exprs?: Array<{ attr: 'subject' | 'object'; expr: string[][]; path: Path }>;
  net?: NetInfo;
  rule?: RuleInfo;
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
  const counts = new Map<string, number>();
  const skipped: string[] = [];
  for (const [plural, list] of Object.entries(root.data)) {
    const n = Array.isArray(list) ? list.length : 0;
    counts.set(plural, n);
    const kind = (CONVERTED_KINDS as Record<string, Kind>)[plural];
    if (kind === undefined) {
      const s = otherKind(ctx, plural, list);
      if (s !== undefined) skipped.push(s);
      continue;
    }
    if (list === null) continue;
    if (!Array.isArray(list)) {
      ctx.error(MigrateCodes.invalidValue, ['data', plural], `data.${plural} must be a list of ${kind} objects`);
      continue;
    }
    list.forEach((obj, i) => {
      const p: Path = ['data', plural, i];
      if (!isRecord(obj)) {
        if (obj === null) emptyObject(ctx, kind, p);
        else ctx.error(MigrateCodes.invalidValue, p, `data.${plural}[${i}] is not a ${kind} object`);
      } else if (Object.values(obj).every(isEmpty)) emptyObject(ctx, kind, p);
      else objects.push({ kind, obj, path: p });
    });
  }
  checkIdentities(ctx, root.identities, counts);

  // Templates first: they make every other message about the same value meaningless. Templates
  // inside kinds that are skipped (a recipe's `template`) or refused do not matter.
  const templated = new Set<string>();
  for (const t of read.file.templates) {
    if (t.path[0] === 'data' && t.path.length >= 2 && !Object.prototype.hasOwnProperty.call(CONVERTED_KINDS, String(t.path[1]))) continue;
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
    converted.push(...convertObject(ctx, o.kind, o.obj, o.path, options));
  }
  propagatedNetworks(ctx, objects);
  automaticTags(ctx, converted);
  checkRulePortsAgainstNetworks(ctx, converted);
  if (!ctx.hasErrors()) assignLabels(ctx, converted);
  if (ctx.hasErrors()) return { diagnostics: ctx.diagnostics };

  const label = typeof root.label === 'string' && root.label !== '' ? ` (label ${JSON.stringify(root.label)})` : '';
  let hcl = `# Converted from the Aporeto import file ${JSON.stringify(path.basename(fileName))}${label} by microseg migrate.\n`;
  if (skipped.length > 0) hcl += `# Skipped, because they write no firewall rule: ${skipped.join(', ')}.\n`;
  for (const ns of undeclaredNamespaces(converted)) {
    hcl += `\n${renderBlock('namespace', [ns], [{ kind: 'comment', text: 'Used by the objects below. Remove this block if your configuration declares it already.' }])}`;
  }
  const order: Kind[] = ['namespace', 'externalnetwork', 'networkaccesspolicy', 'networkrulesetpolicy'];
  for (const kind of order) {
    for (const c of converted.filter((x) => x.kind === kind)) hcl += `\n${render(c)}`;
  }
  return { hcl, diagnostics: ctx.diagnostics };
}

/**
 * otherKind reports a `data` key migrate does not convert: skipped (returns what, for the
 * output's header), refused, or unknown. An empty list holds nothing to lose, whatever its kind:
 * full exports list every kind they were asked for, most of them empty.
 */
function otherKind(ctx: Context, plural: string, list: unknown): string | undefined {
  if (list === null || (Array.isArray(list) && list.length === 0)) return undefined;
  const skipped = SKIPPED_KINDS[plural];
  if (skipped) {
    const n = Array.isArray(list) ? list.length : 1;
    ctx.warning(
      MigrateCodes.skippedKind,
      ['data', plural],
      `Skipped ${n} ${skipped.singular} object${n === 1 ? '' : 's'} ("${plural}")`,
      `These objects ${skipped.why}`,
      true,
    );
    return `${n} ${n === 1 ? skipped.singular : plural}`;
  }
  const refused = REFUSED_KINDS[plural];
  if (refused) {
    ctx.error(MigrateCodes.unknownKind, ['data', plural], `migrate cannot convert "${plural}" objects`, `These objects ${refused.why}`, true);
    return undefined;
  }
  const hint = didYouMean(plural, [...Object.keys(CONVERTED_KINDS), ...Object.keys(SKIPPED_KINDS)]);
  ctx.error(
    MigrateCodes.unknownKind,
    ['data', plural],
    `migrate cannot convert "${plural}" objects`,
    `${hint ? `Did you mean "${hint}"? ` : ''}Supported kinds under data: ${Object.keys(CONVERTED_KINDS).join(', ')} (and kinds that write no firewall rule, such as recipes and automations, which are skipped). Remove the other kinds from the file, or convert them by hand.`,
    true,
  );
  return undefined;
}

function emptyObject(ctx: Context, kind: Kind, p: Path): void {
  ctx.warning(
    MigrateCodes.emptyObject,
    p,
    `data.${p[1]}[${p[2]}] is empty and was skipped`,
    `None of its attributes has a value, so it is no ${kind} at all; in YAML, each "-" starts a new list item, so a "-" before every attribute splits one object into several. Remove it, or join it with the object it belongs to.`,
  );
}

/**
 * checkIdentities checks the top-level `identities` list of an export: the kinds apoctl exported.
 * It is information, not instructions (migrate converts what `data` holds), so disagreements are
 * warnings: they mean the file was cut short or edited after export.
 */
function checkIdentities(ctx: Context, identities: unknown, counts: ReadonlyMap<string, number>): void {
  if (identities === undefined || identities === null) return;
  if (!Array.isArray(identities) || !identities.every((x) => typeof x === 'string')) {
    ctx.error(MigrateCodes.invalidValue, ['identities'], '"identities" must be a list of kind names', 'An export lists the kinds it holds, for example identities: [externalnetwork, networkaccesspolicy].');
    return;
  }
  const listed = new Set<string>();
  identities.forEach((name: string, i) => {
    const plural = pluralOfIdentity(name);
    if (plural === undefined) {
      ctx.warning(MigrateCodes.identities, ['identities', i], `"identities" lists ${JSON.stringify(name)}, which is not an Aporeto kind migrate knows`, 'migrate converts what data holds; this entry is ignored.');
      return;
    }
    listed.add(plural);
    // apoctl writes every listed kind under data, as an empty list when there was none.
    if (!counts.has(plural)) {
      ctx.warning(
        MigrateCodes.identities,
        ['identities', i],
        `"identities" lists ${JSON.stringify(name)}, but data has no "${plural}"`,
        'apoctl writes every kind it exported under data, an empty list when there was none, so the file may be incomplete: cut short, or edited after export. migrate converts what data holds.',
      );
    }
  });
  if (listed.size === 0) return;
  for (const [plural, n] of counts) {
    if (n === 0 || listed.has(plural) || pluralOfIdentity(plural) === undefined) continue;
    ctx.warning(
      MigrateCodes.identities,
      ['data', plural],
      `data holds ${plural}, which "identities" does not list`,
      'apoctl lists every kind it exported, so the file was probably edited after export. migrate converts what data holds; check that it is what you meant to migrate.',
      true,
    );
  }
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
        top ? 'An import file has APIVersion, label, identities and data.' : 'Remove it from the file if it does not matter, or convert this object by hand.'
      }`,
      true,
    );
  }

  errorCount(): number {
    return this.diagnostics.filter((d) => d.severity === 'error').length;
  }

  hasErrors(): boolean {
    return this.errorCount() > 0;
  }
}

/** Known attributes per kind; the converters below read them. */
const ATTRS: Record<Kind, readonly string[]> = {
  namespace: ['name', 'description', 'namespace', 'defaultPUIncomingTrafficAction', 'defaultPUOutgoingTrafficAction', 'protected', 'associatedTags', 'type'],
  externalnetwork: ['name', 'description', 'namespace', 'entries', 'servicePorts', 'protocols', 'ports', 'associatedTags', 'propagate', 'protected', 'type', 'archived'],
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
    'encryptionEnabled',
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
  networkrulesetpolicy: ['name', 'description', 'namespace', 'subject', 'incomingRules', 'outgoingRules', 'disabled', 'propagate', 'fallback', 'protected', 'associatedTags'],
};

/** Attributes of one rule of a network rule set policy. */
const RULE_ATTRS = ['action', 'object', 'protocolPorts', 'logsDisabled', 'observationEnabled', 'name', 'networks'];

/**
 * Namespace settings of the Aporeto control plane (certificate authorities, zoning, tag
 * prefixes, ...): nothing of them reaches a firewall, so they are dropped with a warning.
 */
const NAMESPACE_CONTROL_PLANE = [
  'JWTCertificateType',
  'JWTCertificates',
  'SSHCA',
  'SSHCAEnabled',
  'associatedLocalCAID',
  'associatedSSHCAID',
  'customZoning',
  'defaultEnforcerVersion',
  'localCA',
  'localCAEnabled',
  'networkAccessPolicyTags',
  'organizationalMetadata',
  'serviceCertificateValidity',
  'tagPrefixes',
  'zoning',
];

/** Aporeto's "no expiration" value of expirationTime. */
const ZERO_TIME = /^0001-01-01T00:00:00(\.0+)?Z$/;

function convertObject(ctx: Context, kind: Kind, obj: Record<string, unknown>, p: Path, options: MigrateOptions): Converted[] {
  const name = nameOf(obj, p);
  const owner = `${kind} ${JSON.stringify(name)}`;
  const before = ctx.errorCount();
  const extra = kind === 'namespace' ? NAMESPACE_CONTROL_PLANE : [];
  const known = [...ATTRS[kind], ...SERVER_FIELDS, ...DESCRIPTIVE_FIELDS, ...extra];
  for (const k of Object.keys(obj)) if (!known.includes(k)) ctx.unknown([...p, k], owner, k, ATTRS[kind]);
  for (const k of [...DESCRIPTIVE_FIELDS, ...extra]) {
    if (!isEmpty(obj[k])) ctx.warning(MigrateCodes.dropped, [...p, k], `${owner}: "${k}" dropped`, 'microseg has no equivalent; it does not affect enforcement.', true);
  }

  const v = new Reader(ctx, obj, p, owner);
  if (typeof obj.name !== 'string' || obj.name.trim() === '') {
    ctx.error(MigrateCodes.badName, obj.name === undefined ? p : [...p, 'name'], `${kind} at data.${p[1]}[${p[2]}] has no name`, 'Every object needs a non-empty name; it becomes the resource label.');
    return [];
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
  let namespace = '/';
  if (kind !== 'namespace') {
    const ns = v.string('namespace') ?? options.namespace;
    if (ns !== undefined && ns !== '/') {
      namespace = absoluteNamespace(ns, options);
      c.attrs.push({ name: 'namespace', value: namespace });
    }
  }

  let out: Converted[] = [c];
  if (kind === 'namespace') convertNamespace(ctx, v, c, obj, p, owner, options);
  else if (kind === 'externalnetwork') {
    if (!convertExternalNetwork(ctx, v, c, obj, p, owner, namespace)) out = [];
  }
  else if (kind === 'networkaccesspolicy') convertAccessPolicy(ctx, v, c, obj, p, owner);
  else out = convertRuleSet(ctx, v, c, obj, p, owner, namespace);
  return ctx.errorCount() > before ? [] : out;
}

function convertNamespace(ctx: Context, v: Reader, c: Converted, obj: Record<string, unknown>, p: Path, owner: string, options: MigrateOptions): void {
  const name = c.name;
  const parent = v.string('namespace');
  c.label = absoluteNamespace(name, options, parent);
  if (!name.startsWith('/') && parent === undefined && options.namespace === undefined) {
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
  const description = v.string('description');
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
}

/** convertExternalNetwork fills `c`; false when the network stands for no address and is left out. */
function convertExternalNetwork(ctx: Context, v: Reader, c: Converted, obj: Record<string, unknown>, p: Path, owner: string, namespace: string): boolean {
  const description = v.string('description');
  if (description !== undefined && description !== '') c.comments.push(...description.split('\n'));
  const type = v.string('type');
  if (type !== undefined && type !== '' && type.toLowerCase() !== 'subnet') {
    ctx.error(
      MigrateCodes.unsupported,
      [...p, 'type'],
      `${owner}: type ${JSON.stringify(type)} is not supported`,
      `Aporeto kept the entries of a ${type} network in sync with the cloud provider; microseg entries are fixed addresses. Set type to Subnet with the network's current CIDRs as entries, or write this network by hand.`,
    );
  }
  if (v.bool('archived') === true) {
    ctx.error(MigrateCodes.unsupported, [...p, 'archived'], `${owner} is archived`, 'Aporeto no longer used an archived external network. Remove it from the file.');
  }
  const entries = entryList(ctx, v, obj, p, owner);
  if (entries === 'none') {
    ctx.warning(
      MigrateCodes.dropped,
      obj.entries === undefined || obj.entries === null ? [...p, 'name'] : [...p, 'entries'],
      `${owner} has no entries and was left out`,
      'It stands for no address, so no connection ever matched it: policies toward or from it did nothing in Aporeto, and do nothing without it. Add its addresses to the file and migrate again if it was meant to stand for some.',
    );
    return false;
  }
  if (entries !== undefined) c.attrs.push({ name: 'entries', value: entries });

  const servicePorts = portList(ctx, v, 'servicePorts', owner, p);
  const protocols = v.scalars('protocols');
  const ports = v.scalars('ports');
  const was = [
    protocols !== undefined ? `protocols = ${hclValue(protocols, '')}` : undefined,
    ports !== undefined ? `ports = ${hclValue(ports.map(String), '')}` : undefined,
  ]
    .filter((x) => x !== undefined)
    .join(' and ');
  const legacy = reconcileLegacyPorts(servicePorts, protocols, ports);
  let kept: string[] = [];
  switch (legacy.kind) {
    case 'none':
      kept = legacy.servicePorts;
      break;
    case 'unconvertible':
      ctx.error(
        MigrateCodes.legacyPorts,
        obj.protocols !== undefined ? [...p, 'protocols'] : [...p, 'ports'],
        `${owner}: cannot convert protocols/ports to service_ports: ${legacy.error}`,
        'Write servicePorts for this external network by hand (e.g. ["tcp/443", "udp/53"]) and remove protocols and ports.',
      );
      break;
    case 'converted': {
      const parsed = parseServicePortList(legacy.servicePorts);
      kept = parsed.problems.length === 0 ? parsed.ports.map((sp) => sp.text) : legacy.servicePorts;
      c.comments.push(`service_ports converted from the removed ${was}.`);
      break;
    }
    case 'same':
      kept = legacy.servicePorts;
      c.comments.push(`The deprecated ${was} meant the same as servicePorts and were dropped.`);
      break;
    case 'defaults':
      kept = legacy.servicePorts;
      c.comments.push(`servicePorts wins over the deprecated ${was}, the API's default (every TCP port), as on Aporeto enforcers from 3.12.`);
      break;
    case 'differs':
      kept = legacy.servicePorts;
      c.comments.push(`servicePorts wins over the deprecated ${was}, which meant ${legacy.meant}.`);
      ctx.warning(
        MigrateCodes.review,
        obj.protocols !== undefined ? [...p, 'protocols'] : [...p, 'ports'],
        `${owner}: servicePorts wins over protocols/ports, which say something else`,
        `service_ports = ${hclValue(kept, '')} is kept, as Aporeto enforcers from 3.12 enforced; the deprecated ${was} meant ${legacy.meant}, which only older enforcers used. Check which one your network needs; migrate never takes their union, which would widen it.`,
        true,
      );
      break;
  }
  if (kept.length > 0) c.attrs.push({ name: 'service_ports', value: kept });

  const tags = v.strings('associatedTags');
  if (tags !== undefined) {
    tags.forEach((t, i) => {
      const r = parseObjectTag(t);
      if (!r.ok) ctx.error(MigrateCodes.invalidValue, [...p, 'associatedTags', i], `${owner}: invalid tag ${JSON.stringify(t)}`, `${r.message}.`);
    });
    if (tags.length > 0) c.attrs.push({ name: 'tags', value: tags });
  }
  const spec = specOfTexts(kept);
  c.net = {
    identity: [...(tags ?? []), '$identity=externalnetwork', `$name=${c.name}`],
    namespace,
    ports: spec,
    portsText: specText(spec).split(',').join(', '),
  };
  return true;
}

/**
 * entryList reads and checks `entries` with the validator's own parser: bare addresses become
 * host prefixes, and a DNS name stops the object with the choices the user has. 'none' when the
 * network has no entry at all (undefined when there were errors).
 */
function entryList(ctx: Context, v: Reader, obj: Record<string, unknown>, p: Path, owner: string): string[] | 'none' | undefined {
  if (obj.entries === undefined || obj.entries === null) return 'none';
  const entries = v.strings('entries');
  if (entries === undefined) return undefined;
  if (entries.length === 0) return 'none';
  const names = entries.map((e, i) => ({ e, i })).filter(({ e }) => !parseCidrEntry(e).ok && isDnsName(e.replace(/^!/, '')));
  if (names.length > 0) {
    const list = names.map(({ e }) => JSON.stringify(e)).join(', ');
    ctx.error(
      MigrateCodes.dnsEntry,
      [...p, 'entries', names[0].i],
      `${owner}: ${names.length === 1 ? `entry ${list} is a DNS name` : `entries ${list} are DNS names`}`,
      'microseg entries are addresses: the kernel matches addresses, and the addresses behind a name change without microseg knowing (Aporeto enforcers learned them from the DNS traffic they saw). Choose one, then migrate again:\n' +
        '  - replace each name by the networks it stands for (for example the provider\'s published ranges), which microseg then enforces exactly;\n' +
        '  - remove the name, so traffic to it is decided by your other policies and the namespace default (reject);\n' +
        '  - remove this external network, and the policies that need it, from the file and write them by hand.',
    );
    return undefined;
  }
  const r = parseCidrList(entries);
  for (const pr of r.problems) {
    ctx.error(MigrateCodes.invalidValue, [...p, 'entries', pr.index], `${owner}: invalid entry ${JSON.stringify(entries[pr.index])}`, `${pr.message}.`);
  }
  return r.problems.length > 0 ? undefined : r.entries.map((e) => e.text);
}

/** portList reads a list of service ports, checks it, and returns the canonical spellings. */
function portList(ctx: Context, v: Reader, attr: string, owner: string, p: Path): string[] | undefined {
  const list = v.strings(attr);
  if (list === undefined) return undefined;
  const r = parseServicePortList(list);
  for (const pr of r.problems) {
    ctx.error(MigrateCodes.invalidValue, [...p, attr, pr.index], `${owner}: invalid service port ${JSON.stringify(list[pr.index])} in "${attr}"`, `${pr.message}.`);
  }
  return r.problems.length > 0 ? undefined : r.ports.map((sp) => sp.text);
}

function convertAccessPolicy(ctx: Context, v: Reader, c: Converted, obj: Record<string, unknown>, p: Path, owner: string): void {
  const description = v.string('description');
  if (description !== undefined && description !== '') c.attrs.push({ name: 'description', value: description });
  c.exprs = [];
  for (const attr of ['subject', 'object'] as const) {
    const e = expression(ctx, v, attr, owner, p);
    if (e === undefined) continue;
    c.exprs.push({ attr, expr: e.raw, path: [...p, attr] });
    c.attrs.push({ name: attr, value: e.raw });
  }
  c.attrs.push({ name: 'action', value: v.enumOf('action', { allow: 'allow', reject: 'reject', continue: 'continue' }) ?? 'allow' });
  const ports = portList(ctx, v, 'ports', owner, p);
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
  if (v.bool('encryptionEnabled') === true) {
    ctx.error(
      MigrateCodes.unsupported,
      [...p, 'encryptionEnabled'],
      `${owner}: encryptionEnabled is not supported`,
      'Aporeto enforcers encrypted the connections this policy allowed; microseg programs firewall rules and encrypts nothing. Encrypt at the application or with a VPN, then set encryptionEnabled to false here and migrate again.',
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

/**
 * convertRuleSet turns a network rule set policy (Aporeto's policy model from 2021) into one
 * network_policy per rule. A rule set applies to the processing units its `subject` selects:
 *
 * - an incoming rule (action, object, protocolPorts) decides connections from `object` to the
 *   subject, on the subject's host: `subject = <rule object>`, `object = <rule set subject>`,
 *   `apply_policy_mode = "incoming"`, enforced on the object PU's host, which is the subject's;
 * - an outgoing rule decides connections from the subject to `object`, on the subject's host:
 *   `subject = <rule set subject>`, `object = <rule object>`, `apply_policy_mode = "outgoing"`.
 *
 * This is the inverse of Aporeto's own conversion of network access policies to rule sets. The
 * rule's `protocolPorts` become `ports`; `logsDisabled` is the negation of `logs_enabled`
 * (Aporeto reported a rule's flows unless told not to); the rule set's `disabled`, `propagate`,
 * `fallback`, `protected` and description apply to each of its policies. `networks` of a rule is
 * what the server resolved `object` to, and is dropped.
 */
function convertRuleSet(ctx: Context, v: Reader, base: Converted, obj: Record<string, unknown>, p: Path, owner: string, namespace: string): Converted[] {
  const description = v.string('description');
  const subject = expression(ctx, v, 'subject', owner, p);
  const flags = (['disabled', 'propagate', 'fallback'] as const).filter((f) => v.bool(f) === true);
  if (!isEmpty(obj.associatedTags)) {
    ctx.warning(MigrateCodes.dropped, [...p, 'associatedTags'], `${owner}: "associatedTags" dropped`, 'microseg policies carry no tags of their own; this does not affect enforcement.', true);
  }
  const out: Converted[] = [];
  let total = 0;
  for (const [attr, direction, short] of [
    ['incomingRules', 'incoming', 'in'],
    ['outgoingRules', 'outgoing', 'out'],
  ] as const) {
    const rules = obj[attr];
    if (rules === undefined || rules === null) continue;
    if (!Array.isArray(rules)) {
      ctx.error(MigrateCodes.invalidValue, [...p, attr], `${owner}: "${attr}" must be a list of rules`, 'A rule has action, object and protocolPorts, for example {action: Allow, object: [[app=web]], protocolPorts: [tcp/443]}.');
      continue;
    }
    total += rules.length;
    rules.forEach((rule: unknown, i) => {
      const rp: Path = [...p, attr, i];
      const what = `${owner}, ${direction} rule ${i + 1}`;
      if (!isRecord(rule)) {
        ctx.error(MigrateCodes.invalidValue, rp, `${what} is not a rule`, 'A rule has action, object and protocolPorts, for example {action: Allow, object: [[app=web]], protocolPorts: [tcp/443]}.');
        return;
      }
      for (const k of Object.keys(rule)) if (!RULE_ATTRS.includes(k)) ctx.unknown([...rp, k], what, k, RULE_ATTRS);
      const r = new Reader(ctx, rule, rp, what);
      const ruleName = r.string('name');
      const peer = expression(ctx, r, 'object', what, rp);
      const action = r.enumOf('action', { allow: 'allow', reject: 'reject' }) ?? 'allow';
      const ports = portList(ctx, r, 'protocolPorts', what, rp);
      const logsDisabled = r.bool('logsDisabled');
      const observation = r.bool('observationEnabled');
      if (rule.networks !== undefined && rule.networks !== null && !(Array.isArray(rule.networks) && rule.networks.every(isRecord))) {
        ctx.error(
          MigrateCodes.unsupported,
          [...rp, 'networks'],
          `${what}: "networks" written by hand is not supported`,
          'A rule reaches external networks through its object tags. Declare an external network with these entries and tags, match it in "object", and remove "networks".',
        );
      }
      if (subject === undefined || peer === undefined) return;
      const c: Converted = {
        kind: 'networkrulesetpolicy',
        type: 'network_policy',
        name: base.name,
        namePath: base.namePath,
        label: `${sanitizeLabel(base.name) || 'ruleset'}-${short}${ruleName ? `-${sanitizeLabel(ruleName)}` : rules.length > 1 ? `-${i + 1}` : ''}`,
        derived: true,
        comments: [`From networkrulesetpolicy ${JSON.stringify(base.name)}, ${direction} rule ${ruleName ? JSON.stringify(ruleName) : `${i + 1} of ${rules.length}`}.`],
        attrs: [...base.attrs],
        preventDestroy: base.preventDestroy,
      };
      const [subj, objct] = direction === 'incoming' ? [peer, subject] : [subject, peer];
      const [subjPath, objPath]: Path[] = direction === 'incoming' ? [[...rp, 'object'], [...p, 'subject']] : [[...p, 'subject'], [...rp, 'object']];
      c.exprs = [
        { attr: 'subject', expr: subj.raw.map((cl) => [...cl]), path: subjPath },
        { attr: 'object', expr: objct.raw.map((cl) => [...cl]), path: objPath },
      ];
      if (description !== undefined && description !== '') c.attrs.push({ name: 'description', value: description });
      c.attrs.push({ name: 'subject', value: c.exprs[0].expr }, { name: 'object', value: c.exprs[1].expr });
      c.attrs.push({ name: 'action', value: action });
      if (ports !== undefined && ports.length > 0) c.attrs.push({ name: 'ports', value: ports });
      c.attrs.push({ name: 'apply_policy_mode', value: direction });
      if (logsDisabled !== true) c.attrs.push({ name: 'logs_enabled', value: true });
      if (observation === true) c.attrs.push({ name: 'observation_enabled', value: true });
      for (const f of flags) c.attrs.push({ name: f, value: true });
      c.rule = { direction, action, ports: specOfTexts(ports ?? []), namespace, propagate: flags.includes('propagate'), peer: peer.parsed, path: [...rp, 'protocolPorts'] };
      out.push(c);
    });
  }
  if (total === 0 && subject !== undefined) {
    ctx.warning(MigrateCodes.dropped, p, `${owner} has no rules and was skipped`, 'A rule set without incoming or outgoing rules allowed and rejected nothing.');
  }
  return out;
}

/**
 * checkRulePortsAgainstNetworks: toward an external network, microseg enforces the intersection
 * of a policy's ports and the network's service_ports (DESIGN §4), as Aporeto's network access
 * policies did. Aporeto's rule sets took ports from the rule alone (external networks lost their
 * ports in 2021), so an outgoing rule toward a network of this file whose service ports do not
 * cover the rule's would change meaning: a narrower allow is a warning, a narrower reject lets
 * through what Aporeto refused, and is an error.
 */
function checkRulePortsAgainstNetworks(ctx: Context, all: Converted[]): void {
  const nets = all.filter((c) => c.net !== undefined);
  for (const c of all) {
    const rule = c.rule;
    if (rule === undefined || rule.direction !== 'outgoing') continue;
    for (const n of nets) {
      const net = n.net!;
      if (net.ports.any || !isWithin(net.namespace, rule.namespace, rule.propagate) || !matchesExpression(net.identity, rule.peer)) continue;
      if (specKey(intersectSpecs(rule.ports, net.ports)) === specKey(rule.ports)) continue;
      const ruleText = specText(rule.ports).split(',').join(', ');
      if (rule.action === 'reject') {
        ctx.error(
          MigrateCodes.unsupported,
          rule.path,
          `networkrulesetpolicy ${JSON.stringify(c.name)}: this reject toward externalnetwork ${JSON.stringify(n.name)} would let traffic through in microseg`,
          `Aporeto rejected ${ruleText} toward the network, whatever its servicePorts. microseg limits a policy toward an external network to the network's service_ports (${net.portsText}), so it would reject only what both share and let the rest through. Remove servicePorts from the network, or split it into one network per port set, then migrate again.`,
        );
      } else {
        ctx.warning(
          MigrateCodes.review,
          rule.path,
          `networkrulesetpolicy ${JSON.stringify(c.name)}: toward externalnetwork ${JSON.stringify(n.name)}, microseg allows less than Aporeto did`,
          `Aporeto allowed ${ruleText} toward the network, whatever its servicePorts. microseg limits a policy toward an external network to the network's service_ports (${net.portsText}), so only what both share is allowed. Remove servicePorts from the network if the rule's ports are what you meant.`,
        );
      }
    }
  }
}

/**
 * propagatedNetworks warns, once per file, about external networks with `propagate: true`:
 * Aporeto showed them to policies of child namespaces; in microseg a policy sees the networks of
 * its own namespace, and of those below it when the policy propagates, never its parents'.
 */
function propagatedNetworks(ctx: Context, objects: ReadonlyArray<{ kind: Kind; obj: Record<string, unknown>; path: Path }>): void {
  const nets = objects.filter((o) => o.kind === 'externalnetwork' && o.obj.propagate === true);
  if (nets.length === 0) return;
  const names = nets.map((o) => JSON.stringify(nameOf(o.obj, o.path)));
  ctx.warning(
    MigrateCodes.review,
    [...nets[0].path, 'propagate'],
    `${nets.length === 1 ? `externalnetwork ${names[0]} sets` : `${nets.length} external networks set`} "propagate", which has no equivalent on external networks`,
    `${nets.length > 1 ? `They are ${names.join(', ')}. ` : ''}In microseg a policy sees the external networks of its own namespace, and of the namespaces below it when the policy has propagate = true; never those of a parent. Declare each network where the policies that use it live.`,
    true,
  );
}

/**
 * automaticTags warns, once per file, about tag keys Aporeto attached to processing units on its
 * own (`@org:...`, `@app:k8s:...`, `@cloud:...`): microseg processing units carry only the tags
 * their blocks declare, so until the user declares these, the policies match nothing there.
 */
function automaticTags(ctx: Context, all: Converted[]): void {
  const keys = new Map<string, Path>();
  for (const c of all) {
    for (const e of c.exprs ?? []) {
      e.expr.forEach((clause, ci) =>
        clause.forEach((term, ti) => {
          const key = term.slice(0, term.search(/!?=/) < 0 ? term.length : term.search(/!?=/));
          if (key.startsWith('@') && !keys.has(key)) keys.set(key, [...e.path, ci, ti]);
        }),
      );
    }
  }
  if (keys.size === 0) return;
  const first = [...keys.values()].sort((a, b) => comparePos(ctx.pos(a), ctx.pos(b)))[0];
  ctx.warning(
    MigrateCodes.review,
    first,
    `Policies match ${keys.size} tag key${keys.size === 1 ? '' : 's'} that Aporeto set automatically: ${[...keys.keys()].sort().join(', ')}`,
    'Aporeto enforcers attached tags starting with "@" to processing units when they registered. A microseg processing_unit carries only the tags its block declares (plus $identity, $name, $namespace and $enforcer), so declare these tags on your processing units; until then, the policies that use them match nothing there.',
  );
}

function comparePos(a: SourcePos, b: SourcePos): number {
  return a.line - b.line || a.column - b.column;
}

function specOfTexts(list: readonly string[]): PortSpec {
  const r = parseServicePortList(list);
  return specFromServicePorts(r.ports);
}

/**
 * expression reads a tag expression and checks every term with the validator's parser, so a term
 * microseg would refuse (Aporeto's automatic `$image=...`, an empty value) is reported here.
 */
function expression(ctx: Context, v: Reader, attr: string, owner: string, p: Path): { raw: string[][]; parsed: TagExpression } | undefined {
  const raw = v.tagExpression(attr);
  if (raw === undefined) return undefined;
  const r = parseTagExpression(raw);
  for (const pr of r.problems) {
    const term = pr.path.length === 2 ? raw[pr.path[0] as number]?.[pr.path[1] as number] : undefined;
    const dollar = term !== undefined && term.startsWith('$') && !RESERVED_KEYS.some((k) => term.startsWith(`${k}=`) || term.startsWith(`${k}!=`));
    ctx.error(
      MigrateCodes.invalidValue,
      [...p, attr, ...pr.path],
      `${owner}: ${term !== undefined ? `term ${JSON.stringify(term)}` : `"${attr}"`} cannot be converted`,
      `${pr.message}.${
        dollar
          ? ' Aporeto set tags such as $image and $id on processing units itself; microseg processing units carry only the tags you declare. Declare an equivalent tag on the processing units (for example image=nginx) and match that instead.'
          : ''
      }`,
    );
  }
  return r.expr ? { raw, parsed: r.expr } : undefined;
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
  const renamed: Array<{ c: Converted; label: string }> = [];
  for (const c of all) {
    let set = taken.get(c.type);
    if (!set) taken.set(c.type, (set = new Set()));
    if (c.type === 'namespace') {
      if (set.has(c.label)) ctx.error(MigrateCodes.badName, c.namePath, `Duplicate namespace "${c.label}"`);
      set.add(c.label);
      continue;
    }
    let label = c.derived ? c.label : sanitizeLabel(c.name);
    if (label === '') label = c.type.replace(/_/g, '-');
    const base = label;
    for (let n = 2; set.has(label); n++) label = `${base}-${n}`;
    set.add(label);
    if (c.derived ? label !== base : label !== c.name) renamed.push({ c, label });
    c.label = label;
  }
  const renamedNets = new Map(renamed.filter((r) => r.c.type === 'external_network').map((r) => [r.c.name, r.label]));
  const rewritten = renameNameTerms(ctx, all, renamedNets);
  for (const { c, label } of renamed) {
    const n = c.type === 'external_network' ? (rewritten.get(c.name) ?? 0) : 0;
    ctx.warning(
      MigrateCodes.renamed,
      c.namePath,
      `${c.kind} ${JSON.stringify(c.name)} becomes ${c.type} "${label}"`,
      `Resource names are letters, digits, "_" and "-", unique per type.${
        n > 0 ? ` ${n === 1 ? 'The policy term' : `${n} policy terms`} "$name=${c.name}" in this file ${n === 1 ? 'was' : 'were'} rewritten to "$name=${label}".` : ''
      }`,
    );
  }
}

/**
 * renameNameTerms rewrites `$name=` terms naming renamed external networks (their name is their
 * identity) and returns how many terms per network; a prefix term whose matches a rename would
 * change is an error.
 */
function renameNameTerms(ctx: Context, all: Converted[], renamedNets: ReadonlyMap<string, string>): Map<string, number> {
  const counts = new Map<string, number>();
  if (renamedNets.size === 0) return counts;
  for (const c of all) {
    for (const e of c.exprs ?? []) {
      e.expr = e.expr.map((clause, ci) =>
        clause.map((term, ti) => {
          const m = /^\$name(!?=)(.*)$/.exec(term);
          if (!m) return term;
          const [, op, value] = m;
          const renamed = renamedNets.get(value);
          if (renamed !== undefined) {
            counts.set(value, (counts.get(value) ?? 0) + 1);
            return `$name${op}${renamed}`;
          }
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
  return counts;
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
