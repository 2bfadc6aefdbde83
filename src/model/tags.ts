/**
 * Tag grammar (DESIGN §4): the terms of policy tag expressions, and the plain `key=value` tags
 * declared on enforcers, processing units and external networks. Canonical forms are computed
 * here so that every front end yields identical models.
 */
import { didYouMean } from '../diagnostics';
import type { TagClause, TagExpression, TagTerm } from './types';
import { ID_KEYS } from './types';
import type { ParseResult } from './service-ports';

/** MAX_TERM_BYTES: a term must be shorter than this many UTF-8 bytes (Aporeto's limit). */
export const MAX_TERM_BYTES = 1024;

/** RESERVED_KEYS are the implicit identity keys; only microseg sets them, expressions may match them. */
export const RESERVED_KEYS: readonly string[] = Object.values(ID_KEYS);

/** Problem is a message about the element at `path`, relative to the attribute being parsed. */
export interface Problem {
  path: Array<string | number>;
  message: string;
}

function keyProblem(q: string, key: string, example: string): string | undefined {
  if (key === '') return `${q} has an empty key: write key=value, for example ${example}`;
  if (/\s/.test(key)) return `${q} has a space in its key "${key}": keys have no spaces, for example "app_tier=web"`;
  if (key.includes('!')) return `${q} has "!" in its key "${key}": keys have no "!"; write "key!=value" to match another value`;
  return undefined;
}

/**
 * parseTagTerm parses one tag-expression term: `key=value`, `key=pre*`, `key=*`, `key!=value`,
 * `key!=*`. Keys starting with `$` must be one of the implicit identity keys, so a typo such as
 * `$nmae=web` is an error instead of a policy that silently matches nothing.
 */
export function parseTagTerm(text: string): ParseResult<TagTerm> {
  const q = JSON.stringify(text);
  const fail = (message: string): ParseResult<TagTerm> => ({ ok: false, message });
  if (Buffer.byteLength(text, 'utf8') >= MAX_TERM_BYTES) {
    return fail(`tag term ${JSON.stringify(text.slice(0, 40) + '…')} is ${Buffer.byteLength(text, 'utf8')} bytes: a term must be under ${MAX_TERM_BYTES} bytes; shorten the value or match a prefix with "key=pre*"`);
  }
  const eq = text.indexOf('=');
  if (eq < 0) {
    return fail(`${q} has no "=": a tag term is key=value, key=pre*, key=*, key!=value or key!=*, for example "app=web" or "${text || 'app'}=*"`);
  }
  const neg = eq > 0 && text[eq - 1] === '!';
  const key = text.slice(0, neg ? eq - 1 : eq);
  const value = text.slice(eq + 1);
  const kp = keyProblem(q, key, neg ? '"app!=web"' : '"app=web"');
  if (kp) return fail(kp);
  if (key.startsWith('$') && !RESERVED_KEYS.includes(key)) {
    const guess = didYouMean(key, RESERVED_KEYS);
    return fail(
      `${q} uses unknown implicit key "${key}"${guess ? ` (did you mean "${guess}"?)` : ''}: keys starting with "$" are microseg's identity tags ${RESERVED_KEYS.join(', ')}`,
    );
  }
  if (value === '') {
    return fail(`${q} has an empty value: write ${neg ? `"${key}!=value", or "${key}!=*" for "key absent"` : `"${key}=value", or "${key}=*" for "key present"`}`);
  }
  const star = value.indexOf('*');
  if (star >= 0 && star !== value.length - 1) {
    return fail(`${q} has "*" inside its value: "*" is only allowed at the end, as a prefix match such as "${key}=${value.slice(0, star)}*"`);
  }
  if (neg) {
    if (value === '*') return { ok: true, value: { key, op: 'absent', text: `${key}!=*` } };
    if (star >= 0) {
      return fail(`${q} combines "!=" with a prefix: "!=" takes a whole value or "*"; write "${key}!=${value.slice(0, -1)}" or "${key}!=*"`);
    }
    return { ok: true, value: { key, op: 'neq', value, text: `${key}!=${value}` } };
  }
  if (value === '*') return { ok: true, value: { key, op: 'present', text: `${key}=*` } };
  if (star >= 0) return { ok: true, value: { key, op: 'prefix', value: value.slice(0, -1), text: `${key}=${value}` } };
  return { ok: true, value: { key, op: 'eq', value, text: `${key}=${value}` } };
}

const EXPR_FORM = 'a tag expression is a list of clauses, each a list of terms, for example [["app=web", "env=prod"], ["role=admin"]]';

/**
 * parseTagExpression parses `subject`/`object`: `[[a, b], [c]]` is (a AND b) OR c. For brevity
 * it also accepts a single string (`"app=web"` → [["app=web"]]) and a flat list of strings (one
 * AND clause). Every problem is reported with its path relative to the attribute: `[1, 0]` is the
 * first term of the second clause (for the flat forms, paths follow what was written).
 */
export function parseTagExpression(value: unknown): { expr?: TagExpression; problems: Problem[] } {
  const problems: Problem[] = [];
  let clauses: Array<{ terms: unknown[]; path: Array<string | number> }>;
  if (typeof value === 'string') {
    clauses = [{ terms: [value], path: [] }];
  } else if (Array.isArray(value)) {
    if (value.length === 0) return { problems: [{ path: [], message: `the expression is empty, so it would match nothing: ${EXPR_FORM}` }] };
    if (value.every((v) => typeof v === 'string')) {
      clauses = [{ terms: value, path: [] }];
    } else if (value.every((v) => Array.isArray(v))) {
      clauses = value.map((v, i) => ({ terms: v as unknown[], path: [i] }));
    } else {
      return { problems: [{ path: [], message: `the expression mixes strings and lists: ${EXPR_FORM}` }] };
    }
  } else {
    return { problems: [{ path: [], message: `expected a list of lists of tag terms, got ${describeValue(value)}: ${EXPR_FORM}` }] };
  }

  const expr: TagExpression = [];
  for (const { terms, path } of clauses) {
    if (terms.length === 0) {
      problems.push({ path, message: `a clause is empty, so it would match everything: remove it or add terms; ${EXPR_FORM}` });
      continue;
    }
    const clause: TagClause = [];
    const seen = new Map<string, number>();
    terms.forEach((t, j) => {
      const tp = typeof value === 'string' ? path : [...path, j];
      if (typeof t !== 'string') {
        problems.push({ path: tp, message: `expected a tag term string such as "app=web", got ${describeValue(t)}` });
        return;
      }
      const r = parseTagTerm(t);
      if (!r.ok) {
        problems.push({ path: tp, message: r.message });
        return;
      }
      const first = seen.get(r.value.text);
      if (first !== undefined) {
        problems.push({ path: tp, message: `${JSON.stringify(t)} repeats term ${first + 1} of the same clause: remove one of them` });
        return;
      }
      seen.set(r.value.text, j);
      clause.push(r.value);
    });
    expr.push(clause);
  }
  return problems.length ? { problems } : { expr, problems };
}

/**
 * parseObjectTag checks one declared tag: plain `key=value`, no wildcards semantics, and no `$`
 * keys (those are the implicit identity tags microseg adds itself).
 */
export function parseObjectTag(text: string): ParseResult<string> {
  const q = JSON.stringify(text);
  const fail = (message: string): ParseResult<string> => ({ ok: false, message });
  if (Buffer.byteLength(text, 'utf8') >= MAX_TERM_BYTES) {
    return fail(`tag ${JSON.stringify(text.slice(0, 40) + '…')} is ${Buffer.byteLength(text, 'utf8')} bytes: a tag must be under ${MAX_TERM_BYTES} bytes; shorten its value`);
  }
  const eq = text.indexOf('=');
  if (eq < 0) return fail(`tag ${q} has no "=": a tag is key=value, for example "app=web"`);
  const key = text.slice(0, eq);
  const value = text.slice(eq + 1);
  if (key.endsWith('!')) return fail(`tag ${q} uses "!=": a declared tag is a plain key=value, for example "${key.slice(0, -1) || 'app'}=web"`);
  const kp = keyProblem(`tag ${q}`, key, '"app=web"');
  if (kp) return fail(kp);
  if (key.startsWith('$')) {
    return fail(
      `tag ${q} uses the reserved "$" prefix: keys starting with "$" are microseg's implicit identity tags (${RESERVED_KEYS.join(', ')}); rename the key, for example "${key.slice(1) || 'app'}=${value || 'web'}"`,
    );
  }
  if (value === '') return fail(`tag ${q} has an empty value: write "${key}=value"`);
  return { ok: true, value: text };
}

/**
 * parseObjectTags accepts a list of `key=value` strings or a map `{key: value}` (numbers and
 * booleans in a map are written as text, as HCL would) and returns the canonical form: sorted,
 * deduplicated `key=value` strings. Problem paths are list indexes or map keys.
 */
export function parseObjectTags(value: unknown): { tags: string[]; problems: Problem[] } {
  const problems: Problem[] = [];
  const out = new Set<string>();
  if (value === undefined || value === null) return { tags: [], problems };
  if (Array.isArray(value)) {
    value.forEach((t, i) => {
      if (typeof t !== 'string') {
        problems.push({ path: [i], message: `expected a tag string such as "app=web", got ${describeValue(t)}` });
        return;
      }
      const r = parseObjectTag(t);
      if (r.ok) out.add(r.value);
      else problems.push({ path: [i], message: r.message });
    });
  } else if (typeof value === 'object') {
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') {
        problems.push({ path: [k], message: `tag "${k}" has ${describeValue(v)} as its value: a tag value is a string, for example { ${k} = "web" }` });
        continue;
      }
      if (k.includes('=')) {
        problems.push({ path: [k], message: `tag key "${k}" contains "=": in a map, write { app = "web" }, or use a list ["app=web"]` });
        continue;
      }
      const r = parseObjectTag(`${k}=${String(v)}`);
      if (r.ok) out.add(r.value);
      else problems.push({ path: [k], message: r.message });
    }
  } else {
    problems.push({ path: [], message: `expected a list of "key=value" strings or a map, got ${describeValue(value)}: for example ["app=web", "env=prod"] or { app = "web" }` });
  }
  return { tags: [...out].sort(), problems };
}

/** describeValue names a value's kind for messages ("a number", "a list", ...). */
export function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  switch (typeof v) {
    case 'string':
      return `the string ${JSON.stringify(v)}`;
    case 'number':
      return `the number ${v}`;
    case 'boolean':
      return `the bool ${v}`;
    case 'object':
      return 'an object';
    default:
      return typeof v;
  }
}
