import { parseObjectTags, parseTagExpression, parseTagTerm } from '../../../src/model/tags';

describe('parseTagTerm: valid forms (DESIGN §4)', () => {
  const valid: Array<[string, unknown]> = [
    ['app=web', { key: 'app', op: 'eq', value: 'web', text: 'app=web' }],
    ['app=we*', { key: 'app', op: 'prefix', value: 'we', text: 'app=we*' }],
    ['app=*', { key: 'app', op: 'present', text: 'app=*' }],
    ['app!=web', { key: 'app', op: 'neq', value: 'web', text: 'app!=web' }],
    ['app!=*', { key: 'app', op: 'absent', text: 'app!=*' }],
    ['app=a=b', { key: 'app', op: 'eq', value: 'a=b', text: 'app=a=b' }],
    ['app=hello world', { key: 'app', op: 'eq', value: 'hello world', text: 'app=hello world' }],
    ['$name=web', { key: '$name', op: 'eq', value: 'web', text: '$name=web' }],
    ['$identity=processingunit', { key: '$identity', op: 'eq', value: 'processingunit', text: '$identity=processingunit' }],
    ['$namespace=/acme*', { key: '$namespace', op: 'prefix', value: '/acme', text: '$namespace=/acme*' }],
    ['$enforcer!=*', { key: '$enforcer', op: 'absent', text: '$enforcer!=*' }],
    ['App=Web', { key: 'App', op: 'eq', value: 'Web', text: 'App=Web' }],
    ['k=' + 'v'.repeat(1021), { key: 'k', op: 'eq', value: 'v'.repeat(1021), text: 'k=' + 'v'.repeat(1021) }],
  ];
  it.each(valid)('%j', (text, want) => {
    expect(parseTagTerm(text)).toEqual({ ok: true, value: want });
  });
});

describe('parseTagTerm: invalid forms', () => {
  const invalid: Array<[string, string]> = [
    ['app', '"app" has no "=": a tag term is key=value, key=pre*, key=*, key!=value or key!=*, for example "app=web" or "app=*"'],
    ['', '"" has no "=": a tag term is key=value, key=pre*, key=*, key!=value or key!=*, for example "app=web" or "app=*"'],
    ['=web', '"=web" has an empty key: write key=value, for example "app=web"'],
    ['!=web', '"!=web" has an empty key: write key=value, for example "app!=web"'],
    ['app=', '"app=" has an empty value: write "app=value", or "app=*" for "key present"'],
    ['app!=', '"app!=" has an empty value: write "app!=value", or "app!=*" for "key absent"'],
    ['my app=web', '"my app=web" has a space in its key "my app": keys have no spaces, for example "app_tier=web"'],
    [' app=web', '" app=web" has a space in its key " app": keys have no spaces, for example "app_tier=web"'],
    ['a!b=c', '"a!b=c" has "!" in its key "a!b": keys have no "!"; write "key!=value" to match another value'],
    ['app=w*b', '"app=w*b" has "*" inside its value: "*" is only allowed at the end, as a prefix match such as "app=w*"'],
    ['app!=we*', '"app!=we*" combines "!=" with a prefix: "!=" takes a whole value or "*"; write "app!=we" or "app!=*"'],
    [
      '$nme=web',
      '"$nme=web" uses unknown implicit key "$nme" (did you mean "$name"?): keys starting with "$" are microseg\'s identity tags $identity, $name, $namespace, $enforcer',
    ],
    [
      'k=' + 'v'.repeat(1022),
      `tag term "k=${'v'.repeat(38)}…" is 1024 bytes: a term must be under 1024 bytes; shorten the value or match a prefix with "key=pre*"`,
    ],
  ];
  it.each(invalid)('%j', (text, message) => {
    expect(parseTagTerm(text)).toEqual({ ok: false, message });
  });
});

describe('parseTagExpression', () => {
  const texts = (v: unknown): string[][] | undefined => parseTagExpression(v).expr?.map((c) => c.map((t) => t.text));
  it('parses [[a, b], [c]] as (a AND b) OR c', () => {
    expect(texts([['app=web', 'env=prod'], ['role=admin']])).toEqual([['app=web', 'env=prod'], ['role=admin']]);
  });
  it('accepts a single string', () => {
    expect(texts('app=web')).toEqual([['app=web']]);
  });
  it('accepts a flat list as one AND clause', () => {
    expect(texts(['app=web', 'env=prod'])).toEqual([['app=web', 'env=prod']]);
  });
  it('preserves written order', () => {
    expect(texts([['b=1', 'a=1']])).toEqual([['b=1', 'a=1']]);
  });
  const bad: Array<[string, unknown, Array<{ path: Array<string | number>; message: string }>]> = [
    ['empty list', [], [{ path: [], message: expect.stringContaining('the expression is empty, so it would match nothing') }]],
    ['empty clause', [['a=1'], []], [{ path: [1], message: expect.stringContaining('a clause is empty') }]],
    ['mixed', ['a=1', ['b=2']], [{ path: [], message: expect.stringContaining('mixes strings and lists') }]],
    ['number', 5, [{ path: [], message: expect.stringContaining('got the number 5') }]],
    ['non-string term', [['a=1', 2]], [{ path: [0, 1], message: 'expected a tag term string such as "app=web", got the number 2' }]],
    [
      'duplicate term in clause',
      [['a=1', 'b=2', 'a=1']],
      [{ path: [0, 2], message: '"a=1" repeats term 1 of the same clause: remove one of them' }],
    ],
    [
      'flat duplicate',
      ['a=1', 'a=1'],
      [{ path: [1], message: '"a=1" repeats term 1 of the same clause: remove one of them' }],
    ],
    [
      'every bad term reported',
      [['app', 'ok=1'], ['=x']],
      [
        { path: [0, 0], message: expect.stringContaining('"app" has no "="') },
        { path: [1, 0], message: expect.stringContaining('"=x" has an empty key') },
      ],
    ],
    ['single bad string', 'app', [{ path: [], message: expect.stringContaining('"app" has no "="') }]],
  ];
  it.each(bad)('%s', (_name, value, problems) => {
    const r = parseTagExpression(value);
    expect(r.expr).toBeUndefined();
    expect(r.problems).toEqual(problems);
  });
  it('allows the same term in different clauses', () => {
    expect(texts([['a=1'], ['a=1', 'b=1']])).toEqual([['a=1'], ['a=1', 'b=1']]);
  });
});

describe('parseObjectTags', () => {
  it('sorts and deduplicates a list', () => {
    expect(parseObjectTags(['env=prod', 'app=web', 'env=prod'])).toEqual({ tags: ['app=web', 'env=prod'], problems: [] });
  });
  it('accepts a map and writes numbers and bools as text', () => {
    expect(parseObjectTags({ tier: 1, app: 'web', public: true })).toEqual({
      tags: ['app=web', 'public=true', 'tier=1'],
      problems: [],
    });
  });
  it('list and map forms give the same canonical tags', () => {
    expect(parseObjectTags({ app: 'web', env: 'prod' }).tags).toEqual(parseObjectTags(['env=prod', 'app=web']).tags);
  });
  it('treats missing as empty', () => {
    expect(parseObjectTags(undefined)).toEqual({ tags: [], problems: [] });
  });
  it('allows a key with several values', () => {
    expect(parseObjectTags(['role=a', 'role=b']).tags).toEqual(['role=a', 'role=b']);
  });
  const bad: Array<[string, unknown, { path: Array<string | number>; message: string }]> = [
    ['no =', ['app'], { path: [0], message: 'tag "app" has no "=": a tag is key=value, for example "app=web"' }],
    ['empty value', ['x=1', 'app='], { path: [1], message: 'tag "app=" has an empty value: write "app=value"' }],
    ['empty key', ['=web'], { path: [0], message: 'tag "=web" has an empty key: write key=value, for example "app=web"' }],
    ['!=', ['app!=web'], { path: [0], message: 'tag "app!=web" uses "!=": a declared tag is a plain key=value, for example "app=web"' }],
    ['space in key', ['my app=web'], { path: [0], message: 'tag "my app=web" has a space in its key "my app": keys have no spaces, for example "app_tier=web"' }],
    [
      'reserved $ key',
      ['$name=db'],
      {
        path: [0],
        message:
          'tag "$name=db" uses the reserved "$" prefix: keys starting with "$" are microseg\'s implicit identity tags ($identity, $name, $namespace, $enforcer); rename the key, for example "name=db"',
      },
    ],
    ['reserved $ key in map', { $identity: 'x' }, { path: ['$identity'], message: expect.stringContaining('uses the reserved "$" prefix') }],
    ['non-string', [3], { path: [0], message: 'expected a tag string such as "app=web", got the number 3' }],
    ['map = key', { 'a=b': 'c' }, { path: ['a=b'], message: 'tag key "a=b" contains "=": in a map, write { app = "web" }, or use a list ["app=web"]' }],
    ['map list value', { a: ['x'] }, { path: ['a'], message: 'tag "a" has a list as its value: a tag value is a string, for example { a = "web" }' }],
    ['string', 'app=web', { path: [], message: expect.stringContaining('expected a list of "key=value" strings or a map, got the string "app=web"') }],
    ['too long', ['k=' + 'v'.repeat(1100)], { path: [0], message: expect.stringContaining('a tag must be under 1024 bytes') }],
  ];
  it.each(bad)('%s', (_name, value, problem) => {
    expect(parseObjectTags(value).problems).toEqual([problem]);
  });
});
