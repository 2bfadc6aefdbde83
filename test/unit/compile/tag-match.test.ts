import fc from 'fast-check';
import { indexIdentity, matchesExpression, matchesTerm, SelectorIndex, splitTag } from '../../../src/model/tag-match';
import type { TagExpression, TagTerm } from '../../../src/model/types';

/** term parses the written form, so tests read like policies. */
function term(text: string): TagTerm {
  const neq = text.indexOf('!=');
  if (neq >= 0) {
    const key = text.slice(0, neq);
    const value = text.slice(neq + 2);
    return value === '*' ? { key, op: 'absent', text } : { key, op: 'neq', value, text };
  }
  const { key, value } = splitTag(text);
  if (value === '*') return { key, op: 'present', text };
  if (value.endsWith('*')) return { key, op: 'prefix', value: value.slice(0, -1), text };
  return { key, op: 'eq', value, text };
}
const expr = (...clauses: string[][]): TagExpression => clauses.map((c) => c.map(term));

describe('matchesTerm', () => {
  const id = ['app=web', 'env=prod', 'role=db', 'role=backup', 'url=a=b', '$name=web-1'];
  it.each<[string, boolean]>([
    ['app=web', true],
    ['app=db', false],
    ['missing=web', false],
    ['url=a=b', true],
    ['$name=web-1', true],
    ['app=w*', true],
    ['app=web*', true],
    ['app=webx*', false],
    ['role=back*', true],
    ['app=*', true],
    ['missing=*', false],
    ['app!=db', true],
    ['app!=web', false],
    ['missing!=web', false],
    // multi-valued key: matches only when NO value equals v
    ['role!=db', false],
    ['role!=backup', false],
    ['role!=cache', true],
    ['missing!=*', true],
    ['app!=*', false],
  ])('%s → %s', (t, want) => {
    expect(matchesTerm(id, term(t))).toBe(want);
    expect(matchesTerm(indexIdentity(id), term(t))).toBe(want);
  });
});

describe('matchesExpression', () => {
  const web = ['app=web', 'env=prod'];
  it('AND within a clause', () => {
    expect(matchesExpression(web, expr(['app=web', 'env=prod']))).toBe(true);
    expect(matchesExpression(web, expr(['app=web', 'env=dev']))).toBe(false);
  });
  it('OR across clauses', () => {
    expect(matchesExpression(web, expr(['app=db'], ['env=prod']))).toBe(true);
    expect(matchesExpression(web, expr(['app=db'], ['env=dev']))).toBe(false);
  });
  it('empty expression matches nothing, empty clause matches everything', () => {
    expect(matchesExpression(web, [])).toBe(false);
    expect(matchesExpression(web, [[]])).toBe(true);
  });
  it('neq needs the key', () => {
    expect(matchesExpression(['app=web'], expr(['env!=prod']))).toBe(false);
    expect(matchesExpression(['app=web', 'env=dev'], expr(['env!=prod']))).toBe(true);
  });
});

describe('SelectorIndex (inverted index compile uses to find what a policy side selects)', () => {
  const ids = [['app=web', 'env=prod'], ['app=db', 'env=prod', 'app=db'], ['app=web', 'app=db'], ['role=x'], []].map(indexIdentity);
  const index = new SelectorIndex(ids);

  it('selects by eq terms, verifies the rest of the clause, and returns ascending positions', () => {
    expect(index.select(expr(['app=db']))).toEqual([1, 2]);
    expect(index.select(expr(['app=db', 'env=prod']))).toEqual([1]);
    expect(index.select(expr(['app=web', 'app!=db']))).toEqual([0]); // 2 also carries app=db
    expect(index.select(expr(['role=x'], ['app=web']))).toEqual([0, 2, 3]);
    expect(index.select(expr(['app=nope'], ['role=x']))).toEqual([3]);
  });

  it('scans when a clause has no eq term; an empty clause selects all, an empty expression nothing', () => {
    expect(index.select(expr(['app!=web']))).toEqual([1]);
    expect(index.select(expr(['app!=*']))).toEqual([3, 4]);
    expect(index.select([[]])).toEqual([0, 1, 2, 3, 4]);
    expect(index.select([])).toEqual([]);
  });

  it('agrees with matchesExpression on random identities and expressions', () => {
    const tags = fc.constantFrom('app=web', 'app=db', 'app=d', 'env=prod', 'env=dev', 'role=x', 'k=a=b', 'k=a');
    const termText = fc.constantFrom('app=web', 'app=db', 'app=d*', 'app=*', 'app!=db', 'app!=*', 'env=prod', 'env!=prod', 'role=x', 'role!=*', 'k=a=b', 'k=a', 'k!=a', 'nosuch=1');
    const clause = fc.uniqueArray(termText, { maxLength: 3 }).map((ts) => ts.map(term));
    fc.assert(
      fc.property(fc.array(fc.array(tags, { maxLength: 4 }), { maxLength: 12 }), fc.array(clause, { maxLength: 3 }), (identities, e) => {
        const idx = identities.map(indexIdentity);
        const brute = idx.flatMap((id, i) => (matchesExpression(id, e) ? [i] : []));
        expect(new SelectorIndex(idx).select(e)).toEqual(brute);
      }),
      { numRuns: 500 },
    );
  });
});
