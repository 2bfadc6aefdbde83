import { indexIdentity, matchesExpression, matchesTerm, splitTag } from '../../../src/model/tag-match';
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
