/**
 * Deltas between two published documents of one enforcer, as RFC 6902 JSON Patch, so an agent
 * holding the previous document pulls a few hundred bytes for a one-policy change instead of its
 * whole ruleset (DESIGN §8 agents, "scale").
 *
 * The etag is the hash of the document's canonical JSON (keys sorted at every level), not of the
 * text the publisher happened to write: PostgreSQL's jsonb reorders keys, and an agent that applied
 * a patch must be able to prove it holds exactly the published document by hashing what it has.
 *
 * The diff is our own rather than rfc6902's createPatch: that one finds the cheapest edit of every
 * array by a recursive Levenshtein over deep comparisons, which is quadratic in time and memory and
 * recursive in depth for a chain of thousands of rules. A ruleset's arrays hold named things (sets
 * and chains by `name`, rules by `id`): those are matched by identity (remove, move, add, edit in
 * place); other arrays are trimmed of their unchanged prefix and suffix and the rest paired by
 * position. Both are linear or close to it. The patch is applied with the rfc6902 library (a
 * well-kept implementation of the standard).
 */
import { createHash } from 'crypto';
import { applyPatch, type Operation } from 'rfc6902';

export type { Operation as PatchOperation };

/** canonicalJson writes a JSON value with object keys sorted at every level (undefined members dropped, as JSON.stringify does). */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
}

/** documentEtag is the etag of a published document: 32 hex digits of SHA-256 over its canonical JSON. */
export function documentEtag(doc: unknown): string {
  return createHash('sha256').update(canonicalJson(doc)).digest('hex').slice(0, 32);
}

function escapePointer(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/**
 * createDelta returns the operations that turn `from` into `to`. Both are plain JSON (what jsonb
 * gives back); the result applied to a deep copy of `from` equals `to` (canonically).
 */
export function createDelta(from: unknown, to: unknown): Operation[] {
  const ops: Operation[] = [];
  diff(from, to, '', ops);
  return ops;
}

function diff(a: unknown, b: unknown, path: string, ops: Operation[]): void {
  if (a === b) return;
  if (isObject(a) && isObject(b)) {
    for (const k of Object.keys(a)) if (a[k] !== undefined && b[k] === undefined) ops.push({ op: 'remove', path: `${path}/${escapePointer(k)}` });
    for (const k of Object.keys(b)) {
      if (b[k] === undefined) continue;
      const p = `${path}/${escapePointer(k)}`;
      if (a[k] === undefined) ops.push({ op: 'add', path: p, value: b[k] });
      else diff(a[k], b[k], p, ops);
    }
    return;
  }
  if (Array.isArray(a) && Array.isArray(b)) return diffArray(a, b, path, ops);
  if (canonicalJson(a) !== canonicalJson(b)) ops.push({ op: 'replace', path, value: b });
}

/**
 * keyOf names the member that identifies the elements of both arrays, when every element is an
 * object with a unique string `name` (sets, chains) or `id` (rules): such arrays are diffed by
 * identity, so a renamed set (set names are content hashes, and sets are sorted by name) is one
 * remove and one add rather than every set after it edited in place.
 */
function keyOf(a: readonly unknown[], b: readonly unknown[]): 'name' | 'id' | undefined {
  for (const k of ['name', 'id'] as const) {
    const unique = (xs: readonly unknown[]) => {
      const seen = new Set<string>();
      for (const x of xs) {
        if (!isObject(x) || typeof x[k] !== 'string' || seen.has(x[k] as string)) return false;
        seen.add(x[k] as string);
      }
      return true;
    };
    if ((a.length > 0 || b.length > 0) && unique(a) && unique(b)) return k;
  }
  return undefined;
}

function diffKeyed(a: Array<Record<string, unknown>>, b: Array<Record<string, unknown>>, k: 'name' | 'id', path: string, ops: Operation[]): void {
  const wanted = new Set(b.map((x) => x[k] as string));
  // What the patch has made of `a` so far: removals first (from the end), then `to` in order,
  // each element moved into place or added, then edited in place.
  const cur = a.map((x) => x[k] as string);
  const byKey = new Map(a.map((x) => [x[k] as string, x]));
  for (let i = cur.length - 1; i >= 0; i--) {
    if (!wanted.has(cur[i])) {
      ops.push({ op: 'remove', path: `${path}/${i}` });
      cur.splice(i, 1);
    }
  }
  for (let j = 0; j < b.length; j++) {
    const key = b[j][k] as string;
    const at = cur[j] === key ? j : cur.indexOf(key, j);
    if (at < 0) {
      ops.push({ op: 'add', path: `${path}/${j}`, value: b[j] });
      cur.splice(j, 0, key);
      continue;
    }
    if (at !== j) {
      ops.push({ op: 'move', from: `${path}/${at}`, path: `${path}/${j}` });
      cur.splice(at, 1);
      cur.splice(j, 0, key);
    }
    diff(byKey.get(key), b[j], `${path}/${j}`, ops);
  }
}

function diffArray(a: unknown[], b: unknown[], path: string, ops: Operation[]): void {
  const k = keyOf(a, b);
  if (k) return diffKeyed(a as Array<Record<string, unknown>>, b as Array<Record<string, unknown>>, k, path, ops);
  const ka = a.map(canonicalJson);
  const kb = b.map(canonicalJson);
  let pre = 0;
  while (pre < a.length && pre < b.length && ka[pre] === kb[pre]) pre++;
  let suf = 0;
  while (suf < a.length - pre && suf < b.length - pre && ka[a.length - 1 - suf] === kb[b.length - 1 - suf]) suf++;
  const midA = a.length - pre - suf;
  const midB = b.length - pre - suf;
  // Pair the changed middle index by index (an element edited in place becomes a nested patch),
  // then remove what `from` has left over (from the end, so indexes stay valid) or add what `to` has.
  const paired = Math.min(midA, midB);
  for (let i = 0; i < paired; i++) diff(a[pre + i], b[pre + i], `${path}/${pre + i}`, ops);
  for (let i = midA - 1; i >= paired; i--) ops.push({ op: 'remove', path: `${path}/${pre + i}` });
  for (let i = paired; i < midB; i++) ops.push({ op: 'add', path: `${path}/${pre + i}`, value: b[pre + i] });
}

export type DeltaResult = { ok: true; doc: unknown } | { ok: false; reason: string };

/**
 * applyDelta applies `patch` to a copy of `held` (never to `held` itself) and proves the result is
 * the document named `expectedEtag` by hashing it. Any failure means: pull the full document.
 */
export function applyDelta(held: unknown, patch: readonly Operation[], expectedEtag: string): DeltaResult {
  if (!Array.isArray(patch)) return { ok: false, reason: 'the patch is not an array of operations' };
  const copy = JSON.parse(JSON.stringify(held)) as unknown;
  // rfc6902 replaces the root through the return of a "" path only on its wrapper object.
  const box = { doc: copy };
  const rooted = patch.map((op) => ({ ...op, path: `/doc${op.path}`, ...('from' in op ? { from: `/doc${op.from}` } : {}) })) as Operation[];
  const errors = applyPatch(box, rooted).filter((e) => e !== null);
  if (errors.length > 0) return { ok: false, reason: `the patch does not apply: ${errors.map((e) => String(e?.message ?? e)).join('; ')}` };
  const got = documentEtag(box.doc);
  if (got !== expectedEtag) return { ok: false, reason: `the patched document hashes to ${got}, not the published ${expectedEtag}` };
  return { ok: true, doc: box.doc };
}
