import { evaluateHcl } from '../../../src/config/hcl';
import { posAt } from '../../../src/config/types';
import { brief, run, value } from './helpers';

describe('expressions', () => {
  test.each<[string, unknown]>([
    ['1 + 2 * 3 - 4 / 2', 5],
    ['7 % 4', 3],
    ['-(2 + 3)', -5],
    ['1 < 2 && 2 >= 2 || false', true],
    ['!true', false],
    ['"a" == "a" && [1, 2] == [1, 2] && {a = 1} != {a = 2}', true],
    ['true ? "y" : "n"', 'y'],
    ['"x-${1 + 1}-${true}"', 'x-2-true'],
    ['"${[1, 2]}"', [1, 2]],
    ['"esc \\"q\\" \\\\ \\n \\u00e9 $${lit} %%{lit}"', 'esc "q" \\ \n é ${lit} %{lit}'],
    ['<<EOT\n  keep\nEOT', '  keep\n'],
    ['<<-EOT\n    a\n      b\n    EOT', 'a\n  b\n'],
    ['"%{if 1 > 0}yes%{else}no%{endif}"', 'yes'],
    ['"%{for x in ["a", "b"]}[${x}]%{endfor}"', '[a][b]'],
    ['"a ${~ "b" ~} c"', 'abc'],
    ['[for x in [1, 2, 3] : x * 2 if x != 2]', [2, 6]],
    ['{for k, v in {b = 1, a = 2} : v => k}', { '1': 'b', '2': 'a' }],
    ['{for s in ["ab", "ac", "b"] : substr(s) => s...}', undefined],
    ['[for i, v in ["x", "y"] : "${i}${v}"]', ['0x', '1y']],
    ['{for k, v in {a = 1, b = 2} : upper(k) => v...}', { A: [1], B: [2] }],
    ['[{a = 1}, {a = 2}][*].a', [1, 2]],
    ['[{a = {b = 3}}].*.a', [{ b: 3 }]],
    ['{a = [10, 20]}.a[1]', 20],
    ['{a = [10, 20]}["a"].0', 10],
    ['{ "k-1" = 1, k2: 2, (upper("x")) = 3 }', { 'k-1': 1, k2: 2, X: 3 }],
    ['"5" + 1', 6],
    ['null', null],
  ])('%s', (expr, expected) => {
    const r = value(expr);
    if (expected === undefined) {
      expect(r.d[0]).toContain('MSEG2006');
      return;
    }
    expect(r.d).toEqual([]);
    expect(r.v).toEqual(expected);
  });
});

describe('functions', () => {
  test.each<[string, unknown]>([
    ['concat([1], [2, 3], [])', [1, 2, 3]],
    ['merge({a = 1, b = 1}, {b = 2}, null)', { a: 1, b: 2 }],
    ['flatten([[1, [2]], 3, []])', [1, 2, 3]],
    ['distinct([1, 2, 1, "1"])', [1, 2, '1']],
    ['toset(["b", "a", "b"])', ['a', 'b']],
    ['tolist(toset(["x"]))', ['x']],
    ['lookup({a = 1}, "b", 7)', 7],
    ['lookup({a = 1}, "a")', 1],
    ['[length([1, 2]), length({a = 1}), length("héllo")]', [2, 1, 5]],
    ['contains(["a", "b"], "b")', true],
    ['keys({b = 1, a = 2})', ['a', 'b']],
    ['values({b = 1, a = 2})', [2, 1]],
    ['join(", ", ["a", "b"])', 'a, b'],
    ['split(",", "a,b,,c")', ['a', 'b', '', 'c']],
    ['format("%s-%03d-%.2f-%q-%t-%v-%%", "x", 7, 1.5, "q", true, 3)', 'x-007-1.50-"q"-true-3-%'],
    ['[lower("AbC"), upper("aBc"), trimspace("  x \\n")]', ['abc', 'ABC', 'x']],
    ['replace("a-b-c", "-", "_")', 'a_b_c'],
    ['replace("web-12", "/([a-z]+)-(\\\\d+)/", "$2:$1")', '12:web'],
    ['cidrsubnet("10.0.0.0/8", 8, 2)', '10.2.0.0/16'],
    ['cidrsubnet("172.16.0.0/12", 4, 15)', '172.31.0.0/16'],
    ['cidrsubnet("fd00:fd12:3456:7890::/56", 16, 162)', 'fd00:fd12:3456:7800:a200::/72'],
    ['cidrhost("10.12.112.0/20", 16)', '10.12.112.16'],
    ['cidrhost("10.12.112.0/20", -2)', '10.12.127.254'],
    ['cidrhost("fd00:fd12:3456:7890::/56", 268)', 'fd00:fd12:3456:7800::10c'],
    ['[range(3), range(1, 4), range(10, 0, -4)]', [[0, 1, 2], [1, 2, 3], [10, 6, 2]]],
    ['concat([["a"], ["b"]]...)', ['a', 'b']],
  ])('%s', (expr, expected) => {
    const r = value(expr);
    expect(r.d).toEqual([]);
    expect(r.v).toEqual(expected);
  });

  test.each<[string, string]>([
    ['lowr("X")', '3:11 MSEG2006 Call to unknown function "lowr"'],
    ['cidrsubnet("10.0.0.0/8", 8)', '3:11 MSEG2007 Wrong number of arguments to cidrsubnet()'],
    ['cidrsubnet("10.0.0.0/30", 8, 1)', '3:11 MSEG2007 Invalid call to cidrsubnet(): insufficient address space to extend prefix of 30 by 8 (an IPv4 prefix is at most 32)'],
    ['cidrhost("nonsense", 1)', '3:20 MSEG2007 Invalid call to cidrhost(): invalid CIDR address "nonsense"; write it as address/prefix, e.g. "10.0.0.0/16" or "fd00::/48"'],
    ['join(",", [1, [2]])', '3:21 MSEG2007 Invalid call to join(): element 1 must be a string, got list'],
    ['lookup({a = 1}, "b")', '3:27 MSEG2007 Invalid call to lookup(): the map has no key "b" and no default was given; keys: a'],
    ['format("%d")', '3:18 MSEG2007 Invalid call to format(): not enough arguments for the %d verb at offset 0'],
    ['length(1)', '3:18 MSEG2007 Invalid call to length(): length needs a list, map or string, got number'],
  ])('%s is reported at the call or argument', (expr, expected) => {
    const r = value(expr);
    expect(r.d).toEqual([expected]);
    expect(r.v).toBeUndefined();
  });

  test('signature is shown for arity errors, did-you-mean for unknown names', () => {
    const cfg = run('output "o" {\n  value = [cidrhost("10.0.0.0/8"), lowr("x")]\n}\n');
    expect(cfg.diagnostics[0].detail).toContain('cidrhost(prefix string, hostnum number) string');
    expect(cfg.diagnostics[1].detail).toBe('Did you mean lower()?');
  });
});

describe('evaluation errors are diagnostics at the expression', () => {
  test.each<[string, string]>([
    ['1 / 0', '3:15 MSEG2011 Division by zero'],
    ['5 % 0', '3:15 MSEG2011 Modulo by zero'],
    ['[1, 2][5]', '3:18 MSEG2012 Index out of range'],
    ['{a = 1}["b"]', '3:19 MSEG2012 Missing key "b"'],
    ['{abc = 1}.abd', '3:21 MSEG2013 Unsupported attribute "abd"'],
    ['"a" + 1', '3:11 MSEG2010 Invalid operand for "+"'],
    ['true ? 1', '3:19 MSEG1012 Expected ":" in conditional expression, found newline'],
    ['1 ? 2 : 3', '3:11 MSEG2010 Condition is not a bool'],
    ['"${[1]}x"', '3:14 MSEG2010 Invalid template interpolation value'],
    ['{for x in [1, 1] : "k" => x}', '3:30 MSEG2041 Duplicate key "k" in for expression'],
    ['[for x in 5 : x]', '3:21 MSEG2041 Cannot iterate over this value'],
    ['foo', '3:11 MSEG2001 Unknown name "foo"'],
    ['each.key', '3:11 MSEG2033 each.key used outside for_each'],
    ['var.nope', '3:11 MSEG2002 Reference to undeclared input variable "nope"'],
    ['local.nope', '3:11 MSEG2003 Reference to undeclared local value "nope"'],
    ['enforcer.nope.name', '3:11 MSEG2004 Reference to undeclared resource enforcer.nope'],
  ])('%s', (expr, expected) => {
    expect(value(expr).d).toEqual([expected]);
  });

  test('did you mean for variables, locals, resources and attributes', () => {
    const cfg = run(
      [
        'variable "ports" {\n  default = []\n}',
        'locals {\n  common = 1\n}',
        'enforcer "web-1" {\n}',
        'output "a" {\n  value = var.port\n}',
        'output "b" {\n  value = local.comon\n}',
        'output "c" {\n  value = enforcer.web-2.name\n}',
        'output "d" {\n  value = enforcer.web-1.nme\n}',
        'output "e" {\n  value = lcal.x\n}',
      ].join('\n'),
    );
    expect(cfg.diagnostics.map((d) => d.detail)).toEqual([
      'Did you mean var.ports?',
      'Did you mean local.common?',
      'Did you mean enforcer.web-1?',
      'This object has no attribute "nme". Did you mean "name"?',
      'Did you mean "local"?',
    ]);
  });

  test('one failure is reported once, not at every use', () => {
    const cfg = run('locals {\n  a = 1 / 0\n  b = local.a + 1\n  c = [local.b, local.a]\n}\noutput "o" {\n  value = local.c\n}\n');
    expect(brief(cfg.diagnostics)).toEqual(['2:11 MSEG2011 Division by zero']);
    expect(cfg.outputs).toEqual({});
  });

  test('all problems of a run are collected', () => {
    const cfg = run('locals {\n  a = 1 / 0\n  b = [][0]\n  c = nope\n}\nenforcer "x" {\n  v = 1 + "z"\n}\n');
    expect(brief(cfg.diagnostics)).toEqual([
      '2:11 MSEG2011 Division by zero',
      '3:10 MSEG2012 Index out of range',
      '4:7 MSEG2001 Unknown name "nope"',
      '7:11 MSEG2010 Invalid operand for "+"',
    ]);
  });
});

describe('variables', () => {
  const decl = [
    'variable "name" {\n  type = string\n}',
    'variable "port" {\n  type    = number\n  default = 80\n}',
    'variable "tags" {\n  type    = list(string)\n  default = ["a"]\n}',
    'variable "opts" {\n  type = object({\n    on = bool\n    n  = optional(number, 3)\n  })\n  default = { on = "true" }\n}',
    'output "all" {\n  value = [var.name, var.port, var.tags, var.opts]\n}',
  ].join('\n');

  test('defaults, conversion and optional attributes', () => {
    const cfg = run(decl, { vars: { name: 'n' } });
    expect(cfg.diagnostics).toEqual([]);
    expect(cfg.outputs.all).toEqual(['n', 80, ['a'], { on: true, n: 3 }]);
  });

  test('precedence: default < env < var files in order < --var', () => {
    const inputs = {
      env: { MICROSEG_VAR_name: 'env', MICROSEG_VAR_port: '81', MICROSEG_VAR_tags: '["env"]' },
      varFiles: [
        { name: 'a.hcl', text: 'port = 82\ntags = ["file-a"]\n' },
        { name: 'b.json', text: '{"tags": ["file-b"]}' },
      ],
      vars: { port: '83' },
    };
    const cfg = run(decl, inputs);
    expect(cfg.diagnostics).toEqual([]);
    expect(cfg.outputs.all).toEqual(['env', 83, ['file-b'], { on: true, n: 3 }]);
  });

  test('--var of a non-string type is parsed as an HCL expression', () => {
    const cfg = run(decl, { vars: { name: 'x', tags: '["p", "q"]', opts: '{ on = false, n = 1 }' } });
    expect(cfg.diagnostics).toEqual([]);
    expect(cfg.outputs.all).toEqual(['x', 80, ['p', 'q'], { on: false, n: 1 }]);
  });

  test('a required variable without a value names it and how to set it', () => {
    const cfg = run(decl);
    expect(brief(cfg.diagnostics)).toEqual(['1:1 MSEG2020 No value for required variable "name"']);
    expect(cfg.diagnostics[0].detail).toContain('--var name=VALUE');
    expect(cfg.diagnostics[0].detail).toContain('MICROSEG_VAR_name');
  });

  test('type mismatch, undeclared --var and invalid type', () => {
    const cfg = run(`${decl}\nvariable "bad" {\n  type = lst(string)\n  default = 1\n}\n`, { vars: { name: 'x', port: 'abc', nme: 'y' } });
    expect(brief(cfg.diagnostics)).toEqual([
      '-:- MSEG2024 Value for undeclared variable "nme"',
      '4:1 MSEG2021 Invalid value for variable "port"',
      '23:10 MSEG2023 Invalid type for variable "bad"',
    ]);
    expect(cfg.diagnostics[0].detail).toContain('Did you mean "name"?');
  });

  test('validation blocks', () => {
    const text = 'variable "n" {\n  type = number\n  default = 5\n  validation {\n    condition     = var.n < 3\n    error_message = "n must be below 3."\n  }\n}\n';
    const cfg = run(text);
    expect(brief(cfg.diagnostics)).toEqual(['3:13 MSEG2022 Invalid value for variable "n"']);
    expect(cfg.diagnostics[0].detail).toContain('n must be below 3.');
    expect(run(text, { vars: { n: '2' } }).diagnostics).toEqual([]);
  });

  test('variable defaults may not reference other values', () => {
    const cfg = run('variable "a" {\n  default = var.b\n}\n');
    expect(brief(cfg.diagnostics)).toEqual(['2:13 MSEG2001 Variables are not allowed in a variable declaration']);
  });
});

describe('resources', () => {
  test('name, address, body, nested blocks and positions', () => {
    const cfg = run(
      [
        'enforcer "web-1" {',
        '  connection {',
        '    type  = "netns"',
        '    netns = "h1"',
        '  }',
        '  lifecycle { prevent_destroy = true }',
        '  tags = ["a=b", "c=d"]',
        '}',
        'network_policy "p" {',
        '  name  = "allow-web"',
        '  ports = local.ports',
        '  rule {',
        '    x = 1',
        '  }',
        '  rule {',
        '    x = 2',
        '  }',
        '  obj = { k = "v" }',
        '}',
        'locals {',
        '  ports = ["tcp/80", "tcp/443"]',
        '}',
      ].join('\n'),
    );
    expect(cfg.diagnostics).toEqual([]);
    const [e, p] = cfg.resources;
    expect(e).toMatchObject({
      type: 'enforcer',
      name: 'web-1',
      address: 'enforcer.web-1',
      pos: { file: 'main.hcl', line: 1, column: 1 },
      body: { connection: { type: 'netns', netns: 'h1' }, lifecycle: { prevent_destroy: true }, tags: ['a=b', 'c=d'] },
      blockKeys: ['connection', 'lifecycle'],
    });
    expect(e.positions['connection.type']).toEqual({ file: 'main.hcl', line: 3, column: 13 });
    expect(e.positions['lifecycle.prevent_destroy']).toMatchObject({ line: 6, column: 33 });
    expect(e.positions['tags.1']).toMatchObject({ line: 7, column: 18 });
    expect(p.name).toBe('allow-web');
    expect(p.address).toBe('network_policy.p');
    expect(p.body.name).toBeUndefined();
    expect(p.body.rule).toEqual([{ x: 1 }, { x: 2 }]);
    expect(p.positions['rule.1.x']).toMatchObject({ line: 16, column: 9 });
    expect(p.positions['obj.k']).toMatchObject({ line: 18, column: 15 });
    // A value from a local points at its use site in the resource.
    expect(p.positions['ports.1']).toMatchObject({ line: 11, column: 11 });
    expect(posAt(p, ['ports', 1])).toMatchObject({ line: 11, column: 11 });
  });

  test('for_each over a map and over a set of strings', () => {
    const cfg = run(
      [
        'enforcer "h" {',
        '  for_each = { b = "10.0.0.2", a = "10.0.0.1" }',
        '  addr = each.value',
        '  id   = each.key',
        '}',
        'processing_unit "pu" {',
        '  for_each = toset(["y", "x"])',
        '  name     = "pu-${each.key}"',
        '  enforcer = enforcer.h[each.key == "x" ? "a" : "b"].name',
        '}',
        'output "addrs" {',
        '  value = [for k, e in enforcer.h : e.address]',
        '}',
      ].join('\n'),
    );
    expect(cfg.diagnostics).toEqual([]);
    expect(cfg.resources.map((r) => [r.name, r.address, r.body])).toEqual([
      ['h[a]', 'enforcer.h["a"]', { addr: '10.0.0.1', id: 'a' }],
      ['h[b]', 'enforcer.h["b"]', { addr: '10.0.0.2', id: 'b' }],
      ['pu-x', 'processing_unit.pu["x"]', { enforcer: 'h[a]' }],
      ['pu-y', 'processing_unit.pu["y"]', { enforcer: 'h[b]' }],
    ]);
    expect(cfg.outputs.addrs).toEqual(['enforcer.h["a"]', 'enforcer.h["b"]']);
  });

  test('invalid for_each values', () => {
    expect(brief(run('enforcer "h" {\n  for_each = 3\n}\n').diagnostics)).toEqual(['2:14 MSEG2032 Invalid for_each value']);
    expect(brief(run('enforcer "h" {\n  for_each = ["a", "a"]\n}\n').diagnostics)).toEqual(['2:14 MSEG2032 Duplicate for_each key "a"']);
  });

  test('references evaluate in dependency order regardless of declaration order', () => {
    const cfg = run(
      'output "o" {\n  value = processing_unit.pu.enforcer\n}\nprocessing_unit "pu" {\n  enforcer = local.e\n}\nlocals {\n  e = enforcer.web-1.name\n}\nenforcer "web-1" {\n  name = "host-${local.n}"\n}\nlocals {\n  n = 1\n}\n',
    );
    expect(cfg.diagnostics).toEqual([]);
    expect(cfg.outputs.o).toBe('host-1');
  });

  test('cycles are reported with their path', () => {
    const cfg = run('locals {\n  a = local.b\n  b = enforcer.x.name\n}\nenforcer "x" {\n  name = local.a\n}\noutput "o" {\n  value = local.a\n}\n');
    expect(brief(cfg.diagnostics)).toEqual(['2:3 MSEG2005 Reference cycle: local.a → local.b → enforcer.x → local.a']);
    expect(cfg.resources).toEqual([]);
  });

  test('label count, duplicates, top-level attributes', () => {
    const cfg = run('enforcer {\n}\nenforcer "a" "b" {\n}\nenforcer "c" {\n}\nenforcer "c" {\n}\nx = 1\n');
    expect(brief(cfg.diagnostics)).toEqual([
      '1:1 MSEG2030 A enforcer block needs exactly one label, got 0',
      '3:14 MSEG2030 A enforcer block needs exactly one label, got 2',
      '7:1 MSEG2031 Duplicate resource enforcer.c',
      '9:1 MSEG2036 Unexpected top-level attribute "x"',
    ]);
    expect(cfg.diagnostics[0].detail).toContain('enforcer "example" {');
  });

  test('unknown block types are one error each, with a hint, and no resource', () => {
    const cfg = run('enforcr "x" {\n  a = 1\n}\n');
    expect(brief(cfg.diagnostics)).toEqual(['1:1 MSEG3001 "enforcr" is not a microseg resource type']);
    expect(cfg.diagnostics[0].detail).toMatch(/^Did you mean "enforcer"\? It is written enforcer "NAME" \{ \.\.\. \}\./);
    expect(cfg.resources).toEqual([]);
  });

  test('files are read in sorted order and positions name the file', () => {
    const cfg = evaluateHcl(
      [
        { name: 'dir/b.hcl', text: 'enforcer "b" {\n}\n' },
        { name: 'dir/a.hcl', text: 'enforcer "a" {\n  x = local.y\n}\n' },
        { name: 'dir/c.hcl.json', text: '{"locals": {"y": "${upper(\\"j\\")}"}, "enforcer": {"c": {"for_each": "${toset([\\"k\\"])}", "v": "${each.key}", "n": [1, true]}}}' },
      ],
      {},
    );
    expect(cfg.diagnostics).toEqual([]);
    expect(cfg.resources.map((r) => [r.address, r.pos.file, r.body])).toEqual([
      ['enforcer.a', 'dir/a.hcl', { x: 'J' }],
      ['enforcer.b', 'dir/b.hcl', {}],
      ['enforcer.c["k"]', 'dir/c.hcl.json', { v: 'k', n: [1, true] }],
    ]);
    expect([...cfg.sources.keys()]).toEqual(['dir/a.hcl', 'dir/b.hcl', 'dir/c.hcl.json']);
  });

  test('JSON syntax variables and outputs', () => {
    const cfg = evaluateHcl(
      [{ name: 'v.hcl.json', text: '{"variable": {"p": {"type": "list(number)", "default": ["1", 2]}}, "output": {"o": {"value": "${var.p}"}}}' }],
      {},
    );
    expect(cfg.diagnostics).toEqual([]);
    expect(cfg.outputs.o).toEqual([1, 2]);
  });
});

describe('a large configuration', () => {
  test('a generated 10,000-policy configuration parses and evaluates whole (its time is bench item 4, bench/compile-scale.ts)', () => {
    const out: string[] = ['variable "ns" {\n  default = "/bench"\n}\nlocals {\n  common = ["env=prod"]\n}\n'];
    for (let e = 0; e < 50; e++) out.push(`enforcer "host-${e}" {\n  connection {\n    type  = "netns"\n    netns = "b${e}"\n  }\n}\n`);
    for (let p = 0; p < 10000; p++) {
      out.push(
        `# policy ${p}\nnetwork_policy "p-${p}" {\n  namespace = var.ns\n  subject   = [["app=a${p % 97}", "tier=t${p % 3}"]]\n  object    = [["app=a${(p + 1) % 97}"]]\n  ports     = ["tcp/${1000 + (p % 5000)}", "udp/53"]\n  tags      = concat(local.common, ["n=${p}"])\n  action    = "allow"\n  enforcer  = enforcer.host-${p % 50}.name\n}\n`,
      );
    }
    const text = out.join('');
    expect(text.length).toBeGreaterThan(2_000_000);
    const cfg = evaluateHcl([{ name: 'bench.hcl', text }], {});
    expect(cfg.diagnostics).toEqual([]);
    expect(cfg.resources).toHaveLength(10050);
  });
});
