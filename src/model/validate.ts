/**
 * Model validation: RawConfig (what a front end evaluated) → Model (DESIGN §3–4).
 *
 * Three passes, all of which report every problem rather than stopping at the first:
 *  1. per resource: known type, zod shape and defaults (src/model/schemas.ts), removed
 *     attributes, and the string grammars (service ports, tags, CIDRs, times, ...);
 *  2. across resources: unique names, references (namespace, enforcer, profile, expect
 *     endpoints), unique PU addresses;
 *  3. hints: policies whose subject or object select nothing, beta features, expired policies.
 *
 * Every diagnostic points at `posAt(resource, path)`, the most precise place the front end
 * recorded, and its detail says how to fix the problem. The model is returned only when there
 * are no errors (warnings travel with it).
 */
import semver from 'semver';
import { Cron } from 'croner';
import type { z } from 'zod';
import type { RawConfig, RawResource, Value } from '../config/types';
import { isIncomplete, isUnknownAt, RESOURCE_TYPES, posAt } from '../config/types';
import type { Diagnostic, Severity, SourcePos } from '../diagnostics';
import { didYouMean, makeDiagnostic, sortDiagnostics } from '../diagnostics';
import { parseAddress, parseCidrEntry, parseCidrList } from './cidr';
import { CODES } from './codes';
import { interfaceNameProblem, interfacePatternProblem } from './interfaces';
import { convertLegacyPorts } from './legacy-ports';
import type { Bodies } from './schemas';
import { EXAMPLES, SCHEMAS } from './schemas';
import { parseServicePort, parseServicePortList } from './service-ports';
import { matchesExpression } from './tag-match';
import type { IdentityIndex } from './tag-match';
import { indexIdentity } from './tag-match';
import { describeValue, parseObjectTags, parseTagExpression } from './tags';
import type {
  CidrEntry,
  Connection,
  Enforcer,
  EnforcerProfile,
  EnforcerToken,
  Expect,
  ExternalNetwork,
  Lifecycle,
  Model,
  Namespace,
  NetworkPolicy,
  ProcessingUnit,
  ServicePort,
  TagExpression,
} from './types';
import { ID_KEYS, ROOT_NAMESPACE } from './types';
import { ENFORCER_CAPABILITY_VERSION } from '../version';
import { DEFAULT_CONNECT_TIMEOUT_S, describeConnection, hostKey, sshHostProblem, sshUserProblem } from '../hosts/connection';

/**
 * MAX_CONNECT_TIMEOUT_S caps connect_timeout: ssh's ConnectTimeout is also bounded by each
 * command's own timeout (30 s by default), and an unreachable host that keeps a plan waiting
 * minutes is a hang, not patience.
 */
const MAX_CONNECT_TIMEOUT_S = 300;

type Path = Array<string | number>;
type Body = { [key: string]: Value };

/** ValidateOptions are inputs that are not part of the configuration. */
export interface ValidateOptions {
  /** The time "expired" is judged against (default: now); tests pin it. */
  now?: Date;
}

/** ValidateResult carries the model (only without errors) and every diagnostic, sorted by position. */
export interface ValidateResult {
  model?: Model;
  diagnostics: Diagnostic[];
}

/** REMOVED_ATTRIBUTES are attributes Aporeto had that microseg rejects with a migration hint. */
export const REMOVED_ATTRIBUTES: Readonly<Record<string, readonly string[]>> = {
  external_network: ['protocols', 'ports'],
};

/** MAX_SUGGESTIONS bounds the "did you mean" searches for tags of policies that match nothing. */
const MAX_SUGGESTIONS = 20;

/** Blocks that may appear at most once; the HCL front end gives an array when one repeats. */
const SINGLE_BLOCKS = ['lifecycle', 'connection'];

/**
 * validateConfig checks a RawConfig and builds the Model. `raw.diagnostics` (front-end problems)
 * are not repeated in the result, but their errors do withhold the model, because a resource
 * list that failed to evaluate cannot be trusted.
 *
 * It runs whatever the front end found, so one run reports every problem: what the front end
 * could not compute is marked unknown (RawResource.unknown, RawConfig.incomplete), and only the
 * checks that depend on an unknown value are skipped: a missing attribute that failed to
 * evaluate, a reference to a name a failed declaration may have declared, match hints over
 * identities that are not all known.
 */
export function validateConfig(raw: RawConfig, options: ValidateOptions = {}): ValidateResult {
  const v = new Validator(options.now ?? new Date(), raw);
  v.run(raw.resources);
  const diagnostics = sortDiagnostics(v.diags);
  const failed = diagnostics.some((d) => d.severity === 'error') || raw.diagnostics.some((d) => d.severity === 'error');
  if (failed) return { diagnostics };
  return { model: v.model(raw.outputs), diagnostics };
}

/** Parsed is one resource after pass 1, with what pass 2 needs to check its references. */
interface Parsed<T> {
  res: RawResource;
  value: T;
}

function quote(s: string): string {
  return JSON.stringify(s);
}

function where(p: SourcePos | undefined): string {
  return p ? `${p.file}:${p.line}` : 'an earlier declaration';
}

function byName<T extends { name: string }>(a: T, b: T): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

function dotted(path: Path): string {
  return path.join('.');
}

function getAt(body: unknown, path: Path): unknown {
  let cur: unknown = body;
  for (const k of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[k];
  }
  return cur;
}

function example(type: string, path: Path): string | undefined {
  const last = String(path.filter((p) => typeof p === 'string').pop() ?? '');
  return EXAMPLES[`${type}.${last}`] ?? EXAMPLES[last];
}

const TYPE_NAMES: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'a bool (true or false)',
  array: 'a list',
  object: 'a block',
};

/** zodDef reads a zod v4 schema's definition (used only to list accepted keys for hints). */
function zodDef(s: unknown): { type: string; [k: string]: unknown } {
  return (s as { _zod: { def: { type: string } } })._zod.def;
}

/** keysAt lists the keys the schema accepts at `path` of `data` (for "did you mean"). */
function keysAt(schema: z.ZodType, path: Path, data: unknown): string[] {
  let s: unknown = schema;
  let i = 0;
  for (;;) {
    const def = zodDef(s);
    if (def.type === 'optional' || def.type === 'default' || def.type === 'nullable' || def.type === 'prefault') {
      s = def.innerType;
      continue;
    }
    if (def.type === 'union') {
      const here = getAt(data, path.slice(0, i)) as { type?: unknown } | undefined;
      const options = def.options as unknown[];
      const match = options.find((o) => {
        const t = (zodDef(o).shape as Record<string, unknown> | undefined)?.type;
        return t !== undefined && (zodDef(t).values as unknown[] | undefined)?.includes(here?.type);
      });
      if (!match) return [];
      s = match;
      continue;
    }
    if (i >= path.length) break;
    if (def.type === 'object') {
      s = (def.shape as Record<string, unknown>)[String(path[i])];
      i++;
      if (s === undefined) return [];
    } else if (def.type === 'array') {
      s = def.element;
      i++;
    } else {
      return [];
    }
  }
  const def = zodDef(s);
  return def.type === 'object' ? Object.keys(def.shape as object) : [];
}

/** Validator holds pass-1 results for the cross-resource passes. */
class Validator {
  readonly diags: Diagnostic[] = [];
  private readonly namespaces: Parsed<Namespace>[] = [];
  private readonly enforcers: Parsed<Enforcer>[] = [];
  private readonly profiles: Parsed<EnforcerProfile>[] = [];
  private readonly pus: Parsed<ProcessingUnit>[] = [];
  private readonly externals: Parsed<ExternalNetwork>[] = [];
  private readonly policies: Parsed<NetworkPolicy>[] = [];
  private readonly tokens: Parsed<EnforcerToken>[] = [];
  private readonly expects: Parsed<Expect>[] = [];
  /** The `namespace` attribute of each resource as written or defaulted, checked in pass 2. */
  private readonly nsRefs: Array<{ res: RawResource; ns: string; written: boolean }> = [];
  /**
   * Every declared name per type, valid or not: references are checked against these, so one
   * broken enforcer does not also make each of its processing units "reference a missing one".
   */
  private readonly declared = new Map<string, Set<string>>();
  /** Set when a processing unit or external network had errors: match hints would then mislead. */
  private identitiesIncomplete = false;

  constructor(
    private readonly now: Date,
    private readonly raw: Pick<RawConfig, 'incomplete'> = {},
  ) {}

  /** unknownRef says whether a reference to an undeclared `type` name may be to a failed one. */
  private unknownRef(type: string): boolean {
    return isIncomplete(this.raw, type);
  }

  private report(severity: Severity, code: string, res: RawResource, path: Path, summary: string, detail?: string): void {
    this.diags.push(makeDiagnostic(severity, code, summary, detail, posAt(res, path)));
  }

  private error(code: string, res: RawResource, path: Path, summary: string, detail?: string): void {
    this.report('error', code, res, path, summary, detail);
  }

  private warn(code: string, res: RawResource, path: Path, summary: string, detail?: string): void {
    this.report('warning', code, res, path, summary, detail);
  }

  private errorCount(): number {
    let n = 0;
    for (const d of this.diags) if (d.severity === 'error') n++;
    return n;
  }

  private names(type: string): string[] {
    return [...(this.declared.get(type) ?? [])];
  }

  run(resources: readonly RawResource[]): void {
    const firstByType = new Map<string, Map<string, RawResource>>();
    for (const t of RESOURCE_TYPES) this.declared.set(t, new Set());
    if (this.unknownRef('processing_unit') || this.unknownRef('external_network')) this.identitiesIncomplete = true;
    for (const res of resources) {
      if (!(RESOURCE_TYPES as readonly string[]).includes(res.type)) {
        const guess = didYouMean(res.type, RESOURCE_TYPES);
        this.error(
          CODES.unknownResourceType,
          res,
          [],
          `Unknown resource type ${quote(res.type)}`,
          `${guess ? `Did you mean ${quote(guess)}? ` : ''}microseg resources are: ${RESOURCE_TYPES.join(', ')}.`,
        );
        continue;
      }
      const seen = firstByType.get(res.type) ?? new Map<string, RawResource>();
      firstByType.set(res.type, seen);
      const first = seen.get(res.name);
      // A resource whose name could not be computed is not compared by name (RawResource.unknown).
      const duplicate = first !== undefined && !isUnknownAt(res, ['name']) && !isUnknownAt(first, ['name']);
      this.declared.get(res.type)?.add(res.name);
      if (duplicate) {
        this.error(
          CODES.duplicateName,
          res,
          [],
          `Duplicate ${res.type} ${quote(res.name)}`,
          `${res.type} ${quote(res.name)} is already declared at ${where(first.pos)}. Names are unique per resource type: rename or remove one of them.`,
        );
      } else {
        seen.set(res.name, res);
      }
      if (res.name === '') {
        this.error(CODES.invalidName, res, [], `Empty ${res.type} name`, `Give the ${res.type} a name, for example ${res.type} "web" { ... }.`);
      }
      const before = this.errorCount();
      this.resource(res, duplicate);
      if ((res.type === 'processing_unit' || res.type === 'external_network') && (this.errorCount() > before || res.unknown?.length)) {
        this.identitiesIncomplete = true;
      }
    }
    this.crossCheck();
  }

  /** resource runs pass 1 for one resource; duplicates are checked but kept out of the model. */
  private resource(res: RawResource, duplicate: boolean): void {
    const type = res.type as keyof typeof SCHEMAS;
    const body: Body = { ...res.body };
    for (const key of SINGLE_BLOCKS) {
      const b = body[key];
      if (Array.isArray(b)) {
        if (b.length > 1) {
          this.error(
            CODES.repeatedBlock,
            res,
            [key, 1],
            `Repeated ${key} block`,
            `A ${res.type} has at most one ${key} block; merge them into one.`,
          );
        }
        if (b.length >= 1) body[key] = b[0];
        else delete body[key];
      }
    }
    if (type === 'external_network') this.removed(res, body);

    const schema = SCHEMAS[type] as z.ZodType;
    const parsed = schema.safeParse(body);
    let ok = true;
    if (!parsed.success) {
      for (const issue of parsed.error.issues) this.zodIssue(res, schema, body, issue);
      ok = false;
    }
    const ns = typeof body.namespace === 'string' ? body.namespace : undefined;
    if (type === 'namespace') {
      this.namespace(res, ns, ok ? (parsed.data as Bodies['namespace']) : undefined, duplicate);
      return;
    }
    this.nsRefs.push({ res, ns: ns ?? ROOT_NAMESPACE, written: ns !== undefined });
    if (!ok) {
      // Still check grammars of attributes that did parse, so one run shows every problem.
      this.partialGrammar(res, body);
      return;
    }
    const data = parsed.data as Bodies[typeof type];
    const base = {
      name: res.name,
      address: res.address,
      namespace: ns ?? ROOT_NAMESPACE,
      lifecycle: this.lifecycle(data as { lifecycle?: { prevent_destroy: boolean } }),
      pos: res.pos,
    };
    const add = <T>(list: Parsed<T>[], value: T | undefined): void => {
      if (value !== undefined && !duplicate) list.push({ res, value });
    };
    switch (type) {
      case 'enforcer':
        add(this.enforcers, this.enforcer(res, data as Bodies['enforcer'], base));
        break;
      case 'enforcer_profile':
        add(this.profiles, this.profile(res, data as Bodies['enforcer_profile'], base));
        break;
      case 'processing_unit':
        add(this.pus, this.processingUnit(res, data as Bodies['processing_unit'], base));
        break;
      case 'external_network':
        add(this.externals, this.externalNetwork(res, data as Bodies['external_network'], base));
        break;
      case 'network_policy':
        add(this.policies, this.policy(res, data as Bodies['network_policy'], base));
        break;
      case 'enforcer_token':
        add(this.tokens, this.token(res, data as Bodies['enforcer_token'], base));
        break;
      case 'expect':
        add(this.expects, this.expect(res, data as Bodies['expect'], base));
        break;
    }
  }

  private lifecycle(data: { lifecycle?: { prevent_destroy: boolean } }): Lifecycle {
    return { preventDestroy: data.lifecycle?.prevent_destroy ?? false };
  }

  /** zodIssue maps one zod issue to a diagnostic that names the attribute and shows a fix. */
  private zodIssue(res: RawResource, schema: z.ZodType, body: Body, issue: z.core.$ZodIssue): void {
    const path = issue.path as Path;
    const attr = dotted(path.filter((p) => typeof p === 'string'));
    const ex = example(res.type, path);
    const exText = ex ? ` For example: ${ex}` : '';
    const value = getAt(body, path);
    const isBlock = (key: string): boolean => path.length === 0 && (res.blockKeys ?? []).includes(key);
    // Absent because it failed to evaluate (already reported): nothing to say about it here.
    if (value === undefined && isUnknownAt(res, path)) return;
    switch (issue.code) {
      case 'unrecognized_keys': {
        for (const key of issue.keys) {
          const keys = keysAt(schema, path, body);
          const guess = didYouMean(key, keys);
          const kind = isBlock(key) ? 'block' : 'attribute';
          const inside = path.length === 0 ? `${res.type} ${quote(res.name)}` : `the ${dotted(path)} block`;
          this.error(
            CODES.unknownAttribute,
            res,
            [...path, key],
            `Unknown ${kind} ${quote(key)} in ${inside}`,
            `${guess ? `Did you mean ${quote(guess)}? ` : ''}${path.length === 0 ? res.type : dotted(path)} accepts: ${keys.join(', ')}.`,
          );
        }
        return;
      }
      case 'invalid_union': {
        const disc = (issue as { discriminator?: string; options?: unknown[] }).discriminator;
        const options = ((issue as { options?: unknown[] }).options ?? []).map(String);
        if (disc !== undefined) {
          if (value === undefined) {
            this.error(
              CODES.missingAttribute,
              res,
              path,
              `Missing required attribute ${quote(attr)}`,
              `Set it to one of ${options.map(quote).join(', ')}.${exText}`,
            );
          } else {
            const guess = suggest(value, options);
            this.error(
              CODES.invalidValue,
              res,
              path,
              `Invalid value ${JSON.stringify(value)} for ${quote(attr)}`,
              `${guess ? `Did you mean ${quote(guess)}? ` : ''}${attr} must be one of ${options.map(quote).join(', ')}.`,
            );
          }
          return;
        }
        break;
      }
      case 'invalid_type':
      case 'custom': {
        if (value === undefined) {
          const what = path.length === 1 && isBlockSchema(schema, path[0]) ? 'block' : 'attribute';
          this.error(
            CODES.missingAttribute,
            res,
            path,
            `Missing required ${what} ${quote(attr)}`,
            `${res.type} ${quote(res.name)} needs ${attr}.${exText}`,
          );
          return;
        }
        if (issue.code === 'invalid_type') {
          const expected = issue.expected === 'int' || (issue as { format?: string }).format === 'safeint' ? 'int' : issue.expected;
          const want = TYPE_NAMES[expected] ?? expected;
          const elem = typeof path[path.length - 1] === 'number' ? `Element ${Number(path[path.length - 1]) + 1} of ${quote(attr)}` : quote(attr);
          this.error(
            CODES.wrongType,
            res,
            path,
            `Wrong type for ${attr}`,
            `${elem} must be ${want}, not ${describeValue(value)}.${exText}`,
          );
          return;
        }
        break;
      }
      case 'invalid_value': {
        const options = issue.values.map(String);
        const guess = suggest(value, options);
        this.error(
          CODES.invalidValue,
          res,
          path,
          `Invalid value ${JSON.stringify(value)} for ${quote(attr)}`,
          `${guess ? `Did you mean ${quote(guess)}? ` : ''}${attr} must be one of ${options.map(quote).join(', ')}.`,
        );
        return;
      }
      case 'too_small':
      case 'too_big': {
        const origin = issue.origin;
        let detail: string;
        if (origin === 'string' || origin === 'array') {
          detail = `${attr} must not be empty.${exText}`;
        } else if (issue.code === 'too_small') {
          detail = `${attr} must be at least ${String(issue.minimum)}, not ${String(value)}.${exText}`;
        } else {
          detail = `${attr} must be at most ${String(issue.maximum)}, not ${String(value)}.${exText}`;
        }
        this.error(
          CODES.outOfRange,
          res,
          path,
          origin === 'string' || origin === 'array' ? `Empty ${attr}` : `${attr} out of range`,
          detail,
        );
        return;
      }
      default:
        break;
    }
    this.error(CODES.wrongType, res, path, `Invalid ${attr || res.type}`, `${issue.message}.${exText}`);
  }

  /** removed reports external_network `protocols`/`ports` with the converted `service_ports`. */
  private removed(res: RawResource, body: Body): void {
    const present = REMOVED_ATTRIBUTES.external_network.filter((k) => k in body);
    if (present.length === 0) return;
    const protocols = body.protocols;
    const ports = body.ports;
    for (const k of present) delete body[k];

    const list = (v: Value | undefined): Array<string | number> | undefined | null => {
      if (v === undefined || v === null) return undefined;
      if (typeof v === 'string' || typeof v === 'number') return [v];
      if (Array.isArray(v) && v.every((x) => typeof x === 'string' || typeof x === 'number')) return v as Array<string | number>;
      return null;
    };
    const pr = list(protocols);
    const po = list(ports);
    let conversion: string;
    if (pr === null || po === null) {
      conversion = `They cannot be converted automatically (${pr === null ? 'protocols' : 'ports'} is not a list of strings). Write service_ports by hand, for example:\n  service_ports = ["tcp/443", "udp/53"]`;
    } else {
      const r = convertLegacyPorts(pr, po?.map(String));
      conversion =
        'error' in r
          ? `They cannot be converted automatically: ${r.error}. Write service_ports by hand, for example:\n  service_ports = ["tcp/443", "udp/53"]`
          : `Replace ${present.length > 1 ? 'them' : 'it'} with:\n  service_ports = [${r.servicePorts.map(quote).join(', ')}]`;
    }
    const also = 'service_ports' in body ? '\nThis block already sets service_ports: check it covers the same traffic, then remove the old attributes.' : '';
    const names = present.map(quote).join(' and ');
    const first = present
      .map((k) => ({ k, p: posAt(res, [k]) }))
      .sort((a, b) => a.p.line - b.p.line || a.p.column - b.p.column)[0].k;
    this.error(
      CODES.removedAttribute,
      res,
      [first],
      `Removed attribute${present.length > 1 ? 's' : ''} ${names} in external_network ${quote(res.name)}`,
      `external_network no longer accepts "protocols" and "ports"; "service_ports" replaced them (every protocol with every port). ${conversion}${also}\n` +
        'Run `microseg migrate` to rewrite configuration and Aporeto import files automatically.',
    );
  }

  /** partialGrammar checks the string grammars of a resource whose shape had errors. */
  private partialGrammar(res: RawResource, body: Body): void {
    const strs = (v: Value | undefined): string[] | undefined =>
      Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : undefined;
    switch (res.type) {
      case 'network_policy': {
        if (body.subject !== undefined) this.expression(res, 'subject', body.subject);
        if (body.object !== undefined) this.expression(res, 'object', body.object);
        const p = strs(body.ports);
        if (p) this.servicePorts(res, 'ports', p);
        break;
      }
      case 'external_network': {
        const e = strs(body.entries);
        if (e) this.cidrs(res, 'entries', e, true);
        const s = strs(body.service_ports);
        if (s) this.servicePorts(res, 'service_ports', s);
        this.tags(res, body.tags);
        break;
      }
      case 'processing_unit':
        this.tags(res, body.tags);
        break;
      case 'enforcer': {
        this.tags(res, body.tags);
        const c = body.connection;
        if (c !== null && typeof c === 'object' && !Array.isArray(c) && (c as { type?: unknown }).type === 'ssh') this.sshChecks(res, c as { host?: unknown });
        break;
      }
      default:
        break;
    }
  }

  private namespace(res: RawResource, written: string | undefined, data: Bodies['namespace'] | undefined, duplicate: boolean): void {
    const name = res.name;
    let parent = ROOT_NAMESPACE;
    if (name === ROOT_NAMESPACE) {
      if (written !== undefined && written !== ROOT_NAMESPACE) {
        this.error(CODES.namespaceParent, res, ['namespace'], 'The root namespace has no parent', 'Remove the namespace attribute from namespace "/".');
      }
    } else if (!/^(\/[A-Za-z0-9][A-Za-z0-9_.-]*)+$/.test(name)) {
      this.error(
        CODES.invalidName,
        res,
        [],
        `Invalid namespace name ${quote(name)}`,
        'A namespace name is an absolute path of segments made of letters, digits, "_", "." and "-", for example namespace "/acme/prod" { ... }.',
      );
    } else {
      parent = name.slice(0, name.lastIndexOf('/')) || ROOT_NAMESPACE;
      if (written !== undefined && written !== parent) {
        this.error(
          CODES.namespaceParent,
          res,
          ['namespace'],
          `Namespace ${quote(name)} cannot be in ${quote(written)}`,
          `A namespace's parent is given by its name: ${quote(name)} is inside ${quote(parent)}. Remove the namespace attribute or set it to ${quote(parent)}.`,
        );
      }
      this.nsRefs.push({ res, ns: parent, written: written !== undefined });
    }
    if (!data || duplicate) return;
    const value: Namespace = {
      kind: 'namespace',
      name,
      address: res.address,
      namespace: parent,
      lifecycle: this.lifecycle(data),
      pos: res.pos,
      defaultIncomingAction: data.default_incoming_action,
      defaultOutgoingAction: data.default_outgoing_action,
      logsEnabled: data.logs_enabled,
      observationEnabled: data.observation_enabled,
    };
    if (data.description !== undefined) value.description = data.description;
    this.namespaces.push({ res, value });
  }

  private tags(res: RawResource, v: unknown): string[] {
    const r = parseObjectTags(v);
    for (const p of r.problems) {
      this.error(CODES.invalidTag, res, ['tags', ...p.path], 'Invalid tag', `${capital(p.message)}.`);
    }
    return r.tags;
  }

  private expression(res: RawResource, attr: 'subject' | 'object', v: unknown): TagExpression | undefined {
    const r = parseTagExpression(v);
    for (const p of r.problems) {
      this.error(CODES.invalidTagExpression, res, [attr, ...p.path], `Invalid ${attr}`, `${capital(p.message)}.`);
    }
    return r.expr;
  }

  private servicePorts(res: RawResource, attr: string, list: string[]): ServicePort[] {
    const r = parseServicePortList(list);
    for (const p of r.problems) {
      const entry = !parseServicePort(list[p.index]).ok;
      this.error(
        entry ? CODES.invalidServicePort : CODES.servicePortList,
        res,
        [attr, p.index],
        entry ? `Invalid service port ${quote(list[p.index])}` : `Conflicting service port ${quote(list[p.index])} in ${attr}`,
        `${capital(p.message)}.`,
      );
    }
    return r.ports;
  }

  private cidrs(res: RawResource, attr: string, list: string[], exclusions: boolean): CidrEntry[] {
    const r = parseCidrList(list, exclusions);
    for (const p of r.problems) {
      const entry = !parseCidrEntry(list[p.index]).ok;
      this.error(
        entry ? CODES.invalidCidr : CODES.cidrList,
        res,
        [attr, p.index],
        entry ? `Invalid CIDR ${quote(list[p.index])}` : `Invalid entry ${quote(list[p.index])} in ${attr}`,
        `${capital(p.message)}.`,
      );
    }
    return r.entries;
  }

  private duration(res: RawResource, attr: string, text: string): void {
    const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(text);
    if (!m || text === '' || Number(m[1] ?? 0) + Number(m[2] ?? 0) + Number(m[3] ?? 0) === 0) {
      this.error(
        CODES.invalidDuration,
        res,
        [attr],
        `Invalid duration ${quote(text)} for ${attr}`,
        `A duration is hours, minutes and seconds, each optional but in this order, above zero: for example "1h30m", "45m" or "90s".`,
      );
    }
  }

  /**
   * sshChecks reports a bad ssh host, user or connect_timeout at its own attribute, and returns
   * connect_timeout in seconds when it is given and valid. It also runs when the connection block
   * failed its schema elsewhere (say port = 0), so one run shows every problem; values of the wrong
   * type or empty are the schema's to report.
   */
  private sshChecks(res: RawResource, c: { host?: unknown; user?: unknown; connect_timeout?: unknown }): number | undefined {
    const hostProblem = typeof c.host === 'string' && c.host !== '' ? sshHostProblem(c.host) : undefined;
    if (hostProblem) {
      this.error(
        CODES.invalidSshHost,
        res,
        ['connection', 'host'],
        `Invalid ssh host ${quote(c.host as string)} for enforcer ${quote(res.name)}: ${hostProblem}`,
        'host must be a host name (letters, digits, "-", "_" and ".", for example "web-1.example.com") or an IP address ("198.51.100.7", "2001:db8::7" without brackets). It is handed to ssh, so it may not start with "-" or carry spaces, quotes, "$", "@", ":" or other shell characters; user and port have attributes of their own.',
      );
    }
    const userProblem = typeof c.user === 'string' && c.user !== '' ? sshUserProblem(c.user) : undefined;
    if (userProblem) {
      this.error(
        CODES.invalidSshUser,
        res,
        ['connection', 'user'],
        `Invalid ssh user ${quote(c.user as string)} for enforcer ${quote(res.name)}: ${userProblem}`,
        'user must be a POSIX user name: up to 32 letters, digits, ".", "_" and "-", not starting with "-", for example "root" or "deploy".',
      );
    }
    const t = c.connect_timeout;
    if (typeof t !== 'number' && typeof t !== 'string') return undefined;
    const seconds = this.connectTimeout(t);
    if (seconds === undefined) {
      this.error(
        CODES.invalidConnectTimeout,
        res,
        ['connection', 'connect_timeout'],
        `Invalid connect_timeout ${JSON.stringify(t)} for enforcer ${quote(res.name)}`,
        `connect_timeout is how long ssh waits to connect: whole seconds from 1 to ${MAX_CONNECT_TIMEOUT_S}, as a number (30) or a duration ("30s", "1m", "1m30s"). The default is ${DEFAULT_CONNECT_TIMEOUT_S}.`,
      );
    }
    return seconds;
  }

  /**
   * sameHost: two enforcers that reach one host (same netns, same ssh host and port after
   * normalisation, or both local) would each own `table inet microseg` / the MSEG- chains there,
   * and every apply of one would wipe the other's rules. An error at every declaration of the
   * group, each naming the others, so whichever one the user looks at explains itself.
   */
  private sameHost(): void {
    const groups = new Map<string, Parsed<Enforcer>[]>();
    for (const e of this.enforcers) {
      // Each agent enforcer is its own host: its agent's certificate is bound to its name.
      if (e.value.connection.type === 'agent') continue;
      const key = hostKey(e.value.connection);
      groups.set(key, [...(groups.get(key) ?? []), e]);
    }
    for (const group of groups.values()) {
      if (group.length < 2) continue;
      for (const { res, value } of group) {
        const others = group.filter((o) => o.value !== value);
        const path: Path = value.connection.type === 'netns' ? ['connection', 'netns'] : value.connection.type === 'ssh' ? ['connection', 'host'] : ['connection', 'type'];
        this.error(
          CODES.sameHost,
          res,
          path,
          `Enforcer ${quote(value.name)} reaches the same host as ${others.map((o) => `enforcer ${quote(o.value.name)}`).join(', ')} (${describeConnection(value.connection)})`,
          `${others.map((o) => `enforcer ${quote(o.value.name)} is declared at ${where(posAt(o.res, path))}`).join('; ')}. ` +
            'Each host is programmed by one enforcer: microseg owns one table and one set of chains per host, so every apply of one enforcer would remove the rules of the other. ' +
            'Keep one enforcer per host and give it all the processing units of that host.',
        );
      }
    }
  }

  /** connectTimeout reads connect_timeout as whole seconds (a number or "1m30s"), or undefined when it is not one in range. */
  private connectTimeout(v: number | string): number | undefined {
    let s: number;
    if (typeof v === 'number') s = v;
    else {
      const m = /^(?:(\d+)m)?(?:(\d+)s)?$/.exec(v.trim());
      if (!m || (m[1] === undefined && m[2] === undefined)) return undefined;
      s = Number(m[1] ?? 0) * 60 + Number(m[2] ?? 0);
    }
    return Number.isInteger(s) && s >= 1 && s <= MAX_CONNECT_TIMEOUT_S ? s : undefined;
  }

  private enforcer(res: RawResource, d: Bodies['enforcer'], base: Base): Enforcer {
    let connection: Connection;
    const c = d.connection;
    if (c.type === 'local') connection = { type: 'local' };
    else if (c.type === 'agent') connection = { type: 'agent' };
    else if (c.type === 'netns') connection = { type: 'netns', netns: c.netns };
    else {
      connection = { type: 'ssh', host: c.host, user: c.user, port: c.port, strictHostKeyChecking: c.strict_host_key_checking };
      const timeout = this.sshChecks(res, c);
      if (timeout !== undefined) connection.connectTimeoutS = timeout;
      if (c.private_key_file !== undefined) connection.privateKeyFile = c.private_key_file;
      if (c.known_hosts_file !== undefined) connection.knownHostsFile = c.known_hosts_file;
      if (!c.strict_host_key_checking) {
        this.warn(
          CODES.hostKeyCheckingOff,
          res,
          ['connection', 'strict_host_key_checking'],
          `Host key checking is off for enforcer ${quote(res.name)}`,
          'microseg will accept any host key from this host, so a machine in the middle could receive its firewall changes. Set strict_host_key_checking = true and a known_hosts_file.',
        );
      }
    }
    let version = ENFORCER_CAPABILITY_VERSION;
    if (d.version !== undefined) {
      const clean = semver.valid(d.version);
      if (clean) version = clean;
      else {
        const coerced = semver.coerce(d.version);
        this.error(
          CODES.invalidVersion,
          res,
          ['version'],
          `Invalid version ${quote(d.version)}`,
          `version is the enforcer software's semantic version MAJOR.MINOR.PATCH, for example ${quote(coerced ? coerced.version : ENFORCER_CAPABILITY_VERSION)}.`,
        );
      }
    }
    if (d.ebpf) {
      this.warn(
        CODES.ebpfBeta,
        res,
        ['ebpf'],
        `eBPF is a beta feature (enforcer ${quote(res.name)})`,
        'ebpf = true opts this enforcer into the beta eBPF dataplane; remove it (default false) for the supported iptables/nftables dataplane.',
      );
    }
    const e: Enforcer = {
      kind: 'enforcer',
      ...base,
      connection,
      backend: d.backend,
      version,
      tags: this.tags(res, d.tags),
      ebpf: d.ebpf,
      hostProtection: d.host_protection,
    };
    if (d.profile !== undefined) e.profile = d.profile;
    return e;
  }

  private profile(res: RawResource, d: Bodies['enforcer_profile'], base: Base): EnforcerProfile {
    const failsafe = this.servicePorts(res, 'failsafe', d.failsafe);
    d.failsafe.forEach((t, i) => {
      if (t.trim().toLowerCase() === 'any') {
        this.error(
          CODES.servicePortNotAllowed,
          res,
          ['failsafe', i],
          '"any" is not a failsafe port',
          'A failsafe "any" would leave every port open and disable enforcement on these hosts. List the ports admins need, for example failsafe = ["tcp/22"].',
        );
      }
    });
    const interfaces: string[] = [];
    const seen = new Map<string, number>();
    d.excluded_interfaces.forEach((name, i) => {
      const problem = interfacePatternProblem(name);
      if (problem !== undefined) {
        this.error(CODES.invalidInterface, res, ['excluded_interfaces', i], `Invalid interface name ${quote(name)}`, `${capital(problem)}.`);
        return;
      }
      const first = seen.get(name);
      if (first !== undefined) {
        this.error(
          CODES.duplicateListItem,
          res,
          ['excluded_interfaces', i],
          `Duplicate interface ${quote(name)}`,
          `${quote(name)} is already entry ${first + 1} of excluded_interfaces; remove one of them.`,
        );
        return;
      }
      seen.set(name, i);
      interfaces.push(name);
    });
    const hostFailsafe = (attr: 'host_failsafe_inbound' | 'host_failsafe_outbound'): ServicePort[] | undefined => {
      const list = d[attr];
      if (list === undefined) return undefined;
      const ports = this.servicePorts(res, attr, list);
      list.forEach((t, i) => {
        if (t.trim().toLowerCase() !== 'any') return;
        this.error(
          CODES.hostFailsafeAny,
          res,
          [attr, i],
          `"any" is not a host failsafe port`,
          `A failsafe "any" would leave every port of the host open and disable host protection. List the ports that must stay open, for example ${attr} = ${attr === 'host_failsafe_inbound' ? '["tcp/22"]' : '["udp/53", "tcp/53"]'}, or [] for none.`,
        );
      });
      return ports;
    };
    const hostFailsafeInbound = hostFailsafe('host_failsafe_inbound');
    const hostFailsafeOutbound = hostFailsafe('host_failsafe_outbound');
    if (hostFailsafeInbound !== undefined && d.host_failsafe_inbound!.length === 0) {
      this.warn(
        CODES.noInboundHostFailsafe,
        res,
        ['host_failsafe_inbound'],
        `enforcer_profile ${quote(res.name)} keeps no inbound port of protected hosts open`,
        'With host_failsafe_inbound = [], only policies let anyone into a host with host_protection: one wrong policy locks admins out. Keep ["tcp/22"] (the default adds udp/68 for DHCP) unless another way in exists.',
      );
    }
    return {
      kind: 'enforcer_profile',
      ...base,
      excludedNetworks: this.cidrs(res, 'excluded_networks', d.excluded_networks, true),
      excludedInterfaces: interfaces,
      failsafe,
      ...(hostFailsafeInbound !== undefined ? { hostFailsafeInbound } : {}),
      ...(hostFailsafeOutbound !== undefined ? { hostFailsafeOutbound } : {}),
    };
  }

  private processingUnit(res: RawResource, d: Bodies['processing_unit'], base: Base): ProcessingUnit {
    const addresses: string[] = [];
    d.addresses.forEach((text, i) => {
      const r = parseAddress(text);
      if (r.ok) addresses.push(r.value.address);
      else this.error(CODES.invalidAddress, res, ['addresses', i], `Invalid address ${quote(text)}`, `${capital(r.message)}.`);
    });
    const tags = this.tags(res, d.tags);
    const identity = [
      ...tags,
      `${ID_KEYS.identity}=processingunit`,
      `${ID_KEYS.name}=${res.name}`,
      `${ID_KEYS.namespace}=${base.namespace}`,
      `${ID_KEYS.enforcer}=${d.enforcer}`,
    ].sort();
    if (d.type === 'host' && d.placement === 'forwarded') {
      this.error(CODES.hostPuForwarded, res, ['placement'], `Host processing unit ${quote(res.name)} cannot be placed "forwarded"`,
        'A host processing unit stands for the enforcer host itself, whose traffic crosses input/output, never the forward path. Remove placement or set type = "workload".');
    }
    return { kind: 'processing_unit', ...base, enforcer: d.enforcer, addresses, type: d.type, ...(d.placement ? { placement: d.placement } : {}), tags, identity };
  }

  private externalNetwork(res: RawResource, d: Bodies['external_network'], base: Base): ExternalNetwork {
    const tags = this.tags(res, d.tags);
    const identity = [...tags, `${ID_KEYS.identity}=externalnetwork`, `${ID_KEYS.name}=${res.name}`].sort();
    return {
      kind: 'external_network',
      ...base,
      entries: this.cidrs(res, 'entries', d.entries, true),
      servicePorts: this.servicePorts(res, 'service_ports', d.service_ports),
      tags,
      identity,
    };
  }

  private policy(res: RawResource, d: Bodies['network_policy'], base: Base): NetworkPolicy {
    const subject = this.expression(res, 'subject', d.subject) ?? [];
    const object = this.expression(res, 'object', d.object) ?? [];
    const timezone = canonicalZone(d.timezone) ?? d.timezone;
    if (canonicalZone(d.timezone) === undefined) {
      this.error(
        CODES.invalidTimezone,
        res,
        ['timezone'],
        `Unknown timezone ${quote(d.timezone)}`,
        'timezone is an IANA time zone name, for example "UTC", "Europe/Paris" or "America/New_York".',
      );
    }
    if (d.expiration_time !== undefined) {
      const t = parseRfc3339(d.expiration_time);
      if (t === undefined) {
        this.error(
          CODES.invalidTime,
          res,
          ['expiration_time'],
          `Invalid expiration_time ${quote(d.expiration_time)}`,
          'expiration_time is an RFC 3339 instant with a zone, for example "2030-01-31T18:00:00Z" or "2030-01-31T19:00:00+01:00".',
        );
      } else if (t <= this.now.getTime()) {
        this.warn(
          CODES.policyExpired,
          res,
          ['expiration_time'],
          `network_policy ${quote(res.name)} has expired`,
          `Its expiration_time ${d.expiration_time} has passed, so it does nothing. Remove the policy or move expiration_time into the future.`,
        );
      }
    }
    if (d.active_schedule !== undefined) {
      try {
        new Cron(d.active_schedule, { paused: true, timezone: d.timezone }).stop();
      } catch (e) {
        this.error(
          CODES.invalidCron,
          res,
          ['active_schedule'],
          `Invalid active_schedule ${quote(d.active_schedule)}`,
          `${(e as Error).message}. active_schedule is a cron expression (minute hour day-of-month month day-of-week), for example "0 9 * * 1-5" for 09:00 on weekdays.`,
        );
      }
      if (d.active_duration === undefined && !isUnknownAt(res, ['active_duration'])) {
        this.error(
          CODES.scheduleIncomplete,
          res,
          ['active_schedule'],
          'active_schedule without active_duration',
          'Say how long the policy stays active after each schedule tick, for example active_duration = "8h".',
        );
      }
    }
    if (d.active_duration !== undefined) {
      this.duration(res, 'active_duration', d.active_duration);
      if (d.active_schedule === undefined && !isUnknownAt(res, ['active_schedule'])) {
        this.error(
          CODES.scheduleIncomplete,
          res,
          ['active_duration'],
          'active_duration without active_schedule',
          'active_duration counts from each tick of active_schedule; add one, for example active_schedule = "0 9 * * 1-5", or remove active_duration.',
        );
      }
    }
    const p: NetworkPolicy = {
      kind: 'network_policy',
      ...base,
      subject,
      object,
      action: d.action,
      ports: this.servicePorts(res, 'ports', d.ports),
      applyPolicyMode: d.apply_policy_mode,
      logsEnabled: d.logs_enabled,
      observationEnabled: d.observation_enabled,
      disabled: d.disabled,
      propagate: d.propagate,
      fallback: d.fallback,
      negateSubject: d.negate_subject,
      negateObject: d.negate_object,
      timezone,
    };
    if (d.description !== undefined) p.description = d.description;
    if (d.expiration_time !== undefined) p.expirationTime = d.expiration_time;
    if (d.active_schedule !== undefined) p.activeSchedule = d.active_schedule;
    if (d.active_duration !== undefined) p.activeDuration = d.active_duration;
    return p;
  }

  private token(res: RawResource, d: Bodies['enforcer_token'], base: Base): EnforcerToken {
    const roles: string[] = [];
    d.roles.forEach((r, i) => {
      if (r.trim() === '') {
        this.error(CODES.outOfRange, res, ['roles', i], 'Empty role', 'Remove the empty string or name a role, for example roles = ["enforcer"].');
      } else if (roles.includes(r)) {
        this.error(CODES.duplicateListItem, res, ['roles', i], `Duplicate role ${quote(r)}`, `${quote(r)} is already in roles; remove one of them.`);
      } else roles.push(r);
    });
    this.duration(res, 'validity', d.validity);
    return {
      kind: 'enforcer_token',
      ...base,
      roles,
      networks: this.cidrs(res, 'networks', d.networks, false),
      quota: d.quota,
      validity: d.validity,
    };
  }

  private expect(res: RawResource, d: Bodies['expect'], base: Base): Expect {
    const r = parseServicePort(d.port);
    let port = d.port;
    if (!r.ok) {
      this.error(CODES.invalidServicePort, res, ['port'], `Invalid service port ${quote(d.port)}`, `${capital(r.message)}.`);
    } else if (r.value.kind === 'any' || (r.value.kind === 'l4' && r.value.ports.from !== r.value.ports.to)) {
      this.error(
        CODES.servicePortNotAllowed,
        res,
        ['port'],
        `expect port ${quote(d.port)} is not one connection`,
        'An expect tests one connection: give one port, for example port = "tcp/443", "udp/53" or "icmp/8".',
      );
    } else {
      port = r.value.text;
    }
    // The interfaces a connection crosses on the enforcer hosts (only excluded_interfaces make
    // them matter). `interface` names both ends; `iif`/`oif` one end each, so giving both kinds
    // would say two things about the same end.
    const ifaces: Pick<Expect, 'interface' | 'iif' | 'oif'> = {};
    for (const attr of ['interface', 'iif', 'oif'] as const) {
      const name = d[attr];
      if (name === undefined) continue;
      const problem = interfaceNameProblem(name);
      if (problem !== undefined) {
        this.error(CODES.invalidInterface, res, [attr], `Invalid interface name ${quote(name)}`,
          `${capital(problem)}. An expect names one concrete interface, not a pattern such as "veth+".`);
      } else ifaces[attr] = name;
    }
    if (d.interface !== undefined && (d.iif !== undefined || d.oif !== undefined)) {
      this.error(CODES.interfaceConflict, res, [d.iif !== undefined ? 'iif' : 'oif'], 'interface and iif/oif both given',
        'interface = "eth0" means the connection leaves the source host and reaches the destination host by eth0; iif and oif name one end each. Use interface alone, or iif and/or oif.');
    }
    return { kind: 'expect', ...base, from: d.from, to: d.to, port, verdict: d.verdict, ...ifaces };
  }

  /** crossCheck is pass 2 and 3: references, unique addresses, and hints. */
  private crossCheck(): void {
    const nsNames = new Set<string>([ROOT_NAMESPACE, ...this.names('namespace').filter((n) => n.startsWith('/'))]);
    const nsList = [...nsNames];
    for (const { res, ns, written } of this.nsRefs) {
      if (nsNames.has(ns) || this.unknownRef('namespace')) continue;
      // "/" is one edit from every one-letter namespace, so it is never the suggestion.
      const guess = didYouMean(ns, nsList.slice(1));
      this.error(
        CODES.unknownNamespace,
        res,
        written ? ['namespace'] : [],
        `Unknown namespace ${quote(ns)}`,
        `${guess ? `Did you mean ${quote(guess)}? ` : ''}Declare it with namespace ${quote(ns)} { }, or ${
          nsList.length > 1 ? `use one of the declared namespaces (${nsList.map(quote).join(', ')})` : 'leave namespace out to use the root namespace "/"'
        }.`,
      );
    }

    const enforcers = new Map(this.enforcers.map((e) => [e.value.name, e.value]));
    const profileNames = this.names('enforcer_profile');
    for (const { res, value } of this.enforcers) {
      if (value.profile !== undefined && !this.declared.get('enforcer_profile')?.has(value.profile) && !this.unknownRef('enforcer_profile')) {
        const guess = didYouMean(value.profile, profileNames);
        this.error(
          CODES.unknownProfile,
          res,
          ['profile'],
          `Unknown enforcer_profile ${quote(value.profile)}`,
          `${guess ? `Did you mean ${quote(guess)}? ` : ''}Declare enforcer_profile ${quote(value.profile)} { ... } or name an existing one${profileNames.length ? ` (${profileNames.map(quote).join(', ')})` : ''}.`,
        );
      }
    }

    this.sameHost();

    const enforcerNames = this.names('enforcer');
    const addressOwner = new Map<string, { pu: string; pos: SourcePos }>();
    const hostPuOf = new Map<string, { pu: string; pos: SourcePos }>();
    for (const { res, value } of this.pus) {
      const e = enforcers.get(value.enforcer);
      if (!this.declared.get('enforcer')?.has(value.enforcer) && !this.unknownRef('enforcer')) {
        const guess = didYouMean(value.enforcer, enforcerNames);
        this.error(
          CODES.unknownEnforcer,
          res,
          ['enforcer'],
          `Unknown enforcer ${quote(value.enforcer)}`,
          `${guess ? `Did you mean ${quote(guess)}? ` : ''}A processing unit runs on a declared enforcer: declare enforcer ${quote(value.enforcer)} { ... } or name an existing one.`,
        );
      } else if (e && value.type === 'host') {
        if (!e.hostProtection) {
          this.error(
            CODES.hostPuWithoutProtection,
            res,
            ['type'],
            `Host processing unit ${quote(value.name)} on enforcer ${quote(e.name)} without host_protection`,
            `A type = "host" processing unit stands for the host's own stack; policies apply to it only under host protection, which also keeps loopback, the host's DNS and its failsafe ports working. Set host_protection = true on enforcer ${quote(e.name)}, or set type = "workload".`,
          );
        }
        const first = hostPuOf.get(e.name);
        if (first) {
          this.error(
            CODES.secondHostPu,
            res,
            ['type'],
            `Enforcer ${quote(e.name)} has a second host processing unit ${quote(value.name)}`,
            `processing_unit ${quote(first.pu)} (${where(first.pos)}) already stands for that host. A host has one identity: list all its addresses in one type = "host" processing unit.`,
          );
        } else hostPuOf.set(e.name, { pu: value.name, pos: posAt(res, ['type']) });
        if (value.addresses.length === 0 && ((res.body.addresses as Value[] | undefined) ?? []).length === 0 && !isUnknownAt(res, ['addresses'])) {
          this.error(
            CODES.hostPuWithoutAddresses,
            res,
            [],
            `Host processing unit ${quote(value.name)} has no addresses`,
            `Host protection enforces policies on the host's own addresses: list them, for example addresses = ["198.18.0.1"] (loopback is never enforced).`,
          );
        }
      }
      const raw = (res.body.addresses as Value[] | undefined) ?? [];
      let k = 0;
      raw.forEach((text, i) => {
        if (typeof text !== 'string' || !parseAddress(text).ok) return;
        const addr = value.addresses[k++];
        const pos = posAt(res, ['addresses', i]);
        const owner = addressOwner.get(addr);
        if (owner) {
          this.error(
            CODES.duplicateAddress,
            res,
            ['addresses', i],
            `Address ${addr} is used twice`,
            owner.pu === value.name
              ? `${addr} is already listed at ${where(owner.pos)}; remove one of them.`
              : `${addr} is already an address of processing_unit ${quote(owner.pu)} (${where(owner.pos)}). An address identifies one processing unit: remove it from one of them.`,
          );
        } else addressOwner.set(addr, { pu: value.name, pos });
      });
    }

    if (!this.unknownRef('processing_unit')) {
      for (const { res, value } of this.enforcers) {
        if (!value.hostProtection || hostPuOf.has(value.name)) continue;
        this.error(
          CODES.hostProtectionWithoutHostPu,
          res,
          ['host_protection'],
          `Enforcer ${quote(value.name)} has host_protection = true but no host processing unit`,
          `Host protection applies policies to the host through a processing_unit with type = "host", enforcer = ${quote(value.name)} and the host's addresses; without one nothing on the host is protected. Declare it, or remove host_protection.`,
        );
      }
    }

    const endpoints = new Set([...this.names('processing_unit'), ...this.names('external_network')]);
    for (const { res, value } of this.expects) {
      for (const attr of ['from', 'to'] as const) {
        const name = value[attr];
        if (endpoints.has(name) || parseAddress(name).ok || this.unknownRef('processing_unit') || this.unknownRef('external_network')) continue;
        const guess = didYouMean(name, [...endpoints]);
        this.error(
          CODES.unknownExpectEndpoint,
          res,
          [attr],
          `Unknown ${attr} ${quote(name)} in expect ${quote(res.name)}`,
          `${guess ? `Did you mean ${quote(guess)}? ` : ''}${attr} names a processing_unit or external_network, or is an IP address.`,
        );
      }
    }
    if (!this.identitiesIncomplete) this.matchHints();
  }

  /**
   * matchHints warns about policy sides that select nothing. Identities are indexed once by tag
   * and by key, so each clause is tried only against the identities carrying its most selective
   * positive term, and results are cached per expression text: 10,000 policies over 500 PUs stay
   * far below a second.
   */
  private matchHints(): void {
    const ids: IdentityIndex[] = [];
    const byTag = new Map<string, number[]>();
    const byKey = new Map<string, number[]>();
    const push = (m: Map<string, number[]>, k: string, i: number): void => {
      const l = m.get(k);
      if (l) {
        if (l[l.length - 1] !== i) l.push(i);
      } else m.set(k, [i]);
    };
    const allTags: string[] = [];
    for (const identity of [...this.pus.map((p) => p.value.identity), ...this.externals.map((x) => x.value.identity)]) {
      const i = ids.length;
      ids.push(indexIdentity(identity));
      for (const t of identity) {
        push(byTag, t, i);
        push(byKey, t.slice(0, t.indexOf('=')), i);
        allTags.push(t);
      }
    }
    const all = ids.map((_, i) => i);
    const cache = new Map<string, boolean>();
    const anyMatch = (expr: TagExpression, negate: boolean): boolean => {
      const key = `${negate ? '!' : ''}${JSON.stringify(expr.map((c) => c.map((t) => t.text)))}`;
      const hit = cache.get(key);
      if (hit !== undefined) return hit;
      let found = false;
      if (negate) {
        found = ids.some((id) => !matchesExpression(id, expr));
      } else {
        for (const clause of expr) {
          let candidates = all;
          for (const t of clause) {
            const c =
              t.op === 'eq' ? byTag.get(t.text) ?? [] : t.op === 'prefix' || t.op === 'present' || t.op === 'neq' ? byKey.get(t.key) ?? [] : all;
            if (c.length < candidates.length) candidates = c;
          }
          if (candidates.some((i) => matchesExpression(ids[i], [clause]))) {
            found = true;
            break;
          }
        }
      }
      cache.set(key, found);
      return found;
    };
    const uniqueTags = [...new Set(allTags)];
    const near = new Map<string, string | undefined>();
    // Suggestions compare against tags of the same key only: cheaper, and a better guess.
    const tagsByKey = new Map<string, string[]>();
    for (const t of uniqueTags) {
      const k = t.slice(0, t.indexOf('='));
      const l = tagsByKey.get(k);
      if (l) l.push(t);
      else tagsByKey.set(k, [t]);
    }
    // Suggestions cost |tags| edit distances each, so only the first MAX_SUGGESTIONS distinct
    // unmatched terms get one: a config with thousands of dead policies stays fast.
    const nearTag = (text: string): string | undefined => {
      if (!near.has(text)) {
        near.set(text, near.size < MAX_SUGGESTIONS ? didYouMean(text, tagsByKey.get(text.slice(0, text.indexOf('='))) ?? uniqueTags) : undefined);
      }
      return near.get(text);
    };
    for (const { res, value } of this.policies) {
      for (const [attr, expr, negate] of [
        ['subject', value.subject, value.negateSubject],
        ['object', value.object, value.negateObject],
      ] as const) {
        if (expr.length === 0 || anyMatch(expr, negate)) continue;
        const hints = expr
          .flat()
          .filter((t) => t.op === 'eq' && !byTag.has(t.text))
          .map((t) => ({ t: t.text, g: nearTag(t.text) }))
          .filter((h) => h.g !== undefined)
          .map((h) => ` Did you mean ${quote(h.g as string)} instead of ${quote(h.t)}?`)
          .join('');
        this.warn(
          CODES.matchesNothing,
          res,
          [attr],
          `network_policy ${quote(value.name)}: ${attr} matches nothing`,
          `No processing unit or external network has an identity matching ${negate ? 'the negation of ' : ''}${JSON.stringify(expr.map((c) => c.map((t) => t.text)))}, so this policy has no effect.${hints} Check the tags, or remove the policy.`,
        );
      }
    }
  }

  model(outputs: RawConfig['outputs']): Model {
    const vals = <T extends { name: string }>(l: Parsed<T>[]): T[] => l.map((p) => p.value).sort(byName);
    return {
      namespaces: vals(this.namespaces),
      enforcers: vals(this.enforcers),
      enforcerProfiles: vals(this.profiles),
      processingUnits: vals(this.pus),
      externalNetworks: vals(this.externals),
      networkPolicies: vals(this.policies),
      enforcerTokens: vals(this.tokens),
      expects: vals(this.expects),
      outputs: { ...outputs },
    };
  }
}

type Base = { name: string; address: string; namespace: string; lifecycle: Lifecycle; pos: SourcePos };

function isBlockSchema(schema: z.ZodType, key: string | number): boolean {
  let s: unknown = (zodDef(schema).shape as Record<string, unknown> | undefined)?.[String(key)];
  while (s) {
    const def = zodDef(s);
    if (def.type === 'optional' || def.type === 'default') s = def.innerType;
    else return def.type === 'object' || def.type === 'union';
  }
  return false;
}

const zones = new Map<string, string | undefined>();

/**
 * canonicalZone returns the IANA zone's canonical spelling (`europe/paris` → `Europe/Paris`), or
 * undefined when Intl does not know it. Cached: building a DateTimeFormat costs ~10 µs, which
 * 10,000 policies would feel.
 */
function canonicalZone(zone: string): string | undefined {
  if (zones.has(zone)) return zones.get(zone);
  let z: string | undefined;
  try {
    z = new Intl.DateTimeFormat('en-US', { timeZone: zone }).resolvedOptions().timeZone;
  } catch {
    z = undefined;
  }
  zones.set(zone, z);
  return z;
}

/**
 * suggest is didYouMean for a fixed set of values, preferring a value the input is a prefix of
 * (`iptables` → `iptables-nft`, not the closer-by-edits `nftables`).
 */
function suggest(value: unknown, options: readonly string[]): string | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  return options.find((o) => o.startsWith(value.toLowerCase())) ?? didYouMean(value, options);
}

function capital(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** parseRfc3339 returns epoch ms of an RFC 3339 date-time with zone, or undefined if invalid. */
export function parseRfc3339(text: string): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/.exec(text);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number);
  const probe = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  if (
    probe.getUTCFullYear() !== y ||
    probe.getUTCMonth() !== mo - 1 ||
    probe.getUTCDate() !== d ||
    probe.getUTCHours() !== h ||
    probe.getUTCMinutes() !== mi ||
    probe.getUTCSeconds() !== s
  ) {
    return undefined;
  }
  const t = Date.parse(text.toUpperCase());
  return Number.isNaN(t) ? undefined : t;
}
