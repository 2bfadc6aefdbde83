/**
 * Tag-expression matching (DESIGN §4 "Tag expression"). One pure function used by validation
 * (e.g. "this policy selects nothing" hints) and by compile (which PUs and external networks a
 * policy's subject and object select), so both always agree.
 *
 * An identity is a list of `key=value` strings. A key may carry several values (`role=db`,
 * `role=backup`), so every term is defined over the SET of values the key has:
 *
 * | term        | matches when                                                              |
 * |-------------|---------------------------------------------------------------------------|
 * | `k=v`       | some value of `k` equals `v`                                               |
 * | `k=pre*`    | some value of `k` starts with `pre`                                        |
 * | `k=*`       | `k` has at least one value                                                 |
 * | `k!=v`      | `k` has at least one value and NONE of them equals `v`                      |
 * | `k!=*`      | `k` has no value                                                           |
 *
 * `k!=v` is deliberately the exact complement of `k=v` restricted to identities that carry `k`:
 * an identity with `k=v` and `k=w` does not match `k!=v` (it IS a `k=v` workload, and a policy
 * written to exclude `v` must exclude it), and an identity without `k` does not match (DESIGN:
 * "a PU without the key does NOT match").
 */
import type { TagExpression, TagTerm } from './types';

/** splitTag splits `key=value` at the first `=` (keys never contain `=`, values may). */
export function splitTag(tag: string): { key: string; value: string } {
  const i = tag.indexOf('=');
  if (i < 0) return { key: tag, value: '' };
  return { key: tag.slice(0, i), value: tag.slice(i + 1) };
}

/** IdentityIndex is an identity grouped by key, built once when one identity is matched many times. */
export type IdentityIndex = ReadonlyMap<string, readonly string[]>;

/** indexIdentity groups an identity's values by key. */
export function indexIdentity(identity: readonly string[]): IdentityIndex {
  const m = new Map<string, string[]>();
  for (const tag of identity) {
    const { key, value } = splitTag(tag);
    const vs = m.get(key);
    if (vs) vs.push(value);
    else m.set(key, [value]);
  }
  return m;
}

function asIndex(identity: readonly string[] | IdentityIndex): IdentityIndex {
  return Array.isArray(identity) ? indexIdentity(identity as readonly string[]) : (identity as IdentityIndex);
}

/** matchesTerm says whether one term holds for an identity (see the table in the module comment). */
export function matchesTerm(identity: readonly string[] | IdentityIndex, term: TagTerm): boolean {
  const values = asIndex(identity).get(term.key) ?? [];
  switch (term.op) {
    case 'eq':
      return values.includes(term.value ?? '');
    case 'prefix': {
      const pre = term.value ?? '';
      return values.some((v) => v.startsWith(pre));
    }
    case 'present':
      return values.length > 0;
    case 'neq':
      return values.length > 0 && !values.includes(term.value ?? '');
    case 'absent':
      return values.length === 0;
    default: {
      const never: never = term.op;
      throw new Error(`unknown tag term op ${String(never)}`);
    }
  }
}

/**
 * matchesExpression says whether an identity satisfies an expression: some clause whose terms all
 * hold. An empty expression matches nothing (an OR of no clauses); an empty clause matches
 * everything (an AND of no terms). Validation is expected to reject both, but compile must still
 * give them a defined, conservative meaning.
 */
export function matchesExpression(identity: readonly string[] | IdentityIndex, expr: TagExpression): boolean {
  const idx = asIndex(identity);
  return expr.some((clause) => clause.every((term) => matchesTerm(idx, term)));
}

/** expressionText renders an expression canonically, e.g. `app=web AND env=prod OR role=db`. */
export function expressionText(expr: TagExpression): string {
  return expr.map((c) => c.map((t) => t.text).join(' AND ')).join(' OR ');
}

/**
 * SelectorIndex answers "which of these identities does this expression select" for many
 * expressions over one fixed list of identities, without testing every identity against every
 * expression (the label index of Calico Felix, simplified). It keeps an inverted index from each
 * `key=value` tag to the identities carrying it. A clause with an `eq` term can only hold for
 * identities carrying that tag, so only the shortest such posting list is checked against the
 * whole clause (with matchesTerm, so the answer is exactly matchesExpression's); a clause with no
 * `eq` term (only prefix / present / neq / absent terms, or none) falls back to checking every
 * identity. Compile asks this once per policy side, so a fleet of app-to-app policies costs about
 * the PUs each policy selects instead of policies × all PUs.
 */
export class SelectorIndex {
  private readonly postings = new Map<string, number[]>();

  constructor(private readonly identities: readonly IdentityIndex[]) {
    identities.forEach((idx, i) => {
      for (const [key, values] of idx) {
        // A tag declared twice must not list its identity twice.
        for (const value of new Set(values)) {
          const k = postingKey(key, value);
          const list = this.postings.get(k);
          if (list) list.push(i);
          else this.postings.set(k, [i]);
        }
      }
    });
  }

  /**
   * select returns the positions (in the constructor's list, ascending, no repeats) of the
   * identities that satisfy `expr`, i.e. exactly those for which matchesExpression is true.
   */
  select(expr: TagExpression): number[] {
    const perClause = expr.map((clause) => this.selectClause(clause));
    if (perClause.length === 1) return perClause[0];
    const all = new Set<number>();
    for (const positions of perClause) for (const i of positions) all.add(i);
    return [...all].sort((a, b) => a - b);
  }

  private selectClause(clause: readonly TagTerm[]): number[] {
    // The shortest posting list among the clause's eq terms; undefined when it has none.
    let candidates: readonly number[] | undefined;
    for (const term of clause) {
      if (term.op !== 'eq') continue;
      const list = this.postings.get(postingKey(term.key, term.value ?? '')) ?? [];
      if (candidates === undefined || list.length < candidates.length) candidates = list;
    }
    const out: number[] = [];
    const holds = (i: number): boolean => clause.every((term) => matchesTerm(this.identities[i], term));
    if (candidates === undefined) {
      for (let i = 0; i < this.identities.length; i++) if (holds(i)) out.push(i);
    } else {
      // Posting lists are built in identity order, so candidates are already ascending.
      for (const i of candidates) if (holds(i)) out.push(i);
    }
    return out;
  }
}

/**
 * postingKey names a posting list. Even if two (key, value) pairs shared one name, results would
 * stay exact: candidates are always verified with matchesTerm.
 */
function postingKey(key: string, value: string): string {
  return `${key}\u0000${value}`;
}
