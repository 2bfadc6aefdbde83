import { parseHcl, parseExpression } from '../../../src/config/hcl';
import { brief } from './helpers';

/** Each case pins the exact line:column and code of every syntax error the parser reports. */
const ERROR_CASES: [string, string, string[]][] = [
  ['missing expression', 'a = \n', ['1:5 MSEG1011 Missing expression']],
  ['missing comma in list', 'b = [1 2]\n', ['1:8 MSEG1012 Expected "," or "]" in list, found "2"']],
  ['unterminated string', 'c = "abc\nd = 1\n', ['1:5 MSEG1002 Unterminated string']],
  ['two attributes on a line', 'd = 1 e = 2\n', ['1:7 MSEG1014 Missing newline after argument, found "e"']],
  ['bad operand in parens', 'x {\n  f = (1 +)\n}\n', ['2:11 MSEG1011 Invalid expression: unexpected ")"']],
  ['stray closing brace', 'a = 1\n}\nb = 2\n', ['2:1 MSEG1010 Unexpected "}"']],
  ['single quotes', "a = 'x'\n", ['1:5 MSEG1001 Invalid character "\'"', '1:7 MSEG1001 Invalid character "\'"']],
  ['unterminated comment', 'a = 1\n/* open\n', ['2:1 MSEG1004 Unterminated comment']],
  ['invalid escape', 'a = "x\\qy"\n', ['1:7 MSEG1005 Invalid escape sequence "\\q"']],
  ['unclosed block', 'res "x" {\n  a = 1\n', ['1:9 MSEG1012 Unclosed block']],
  ['label not literal', 'res "${x}" {}\n', ['1:5 MSEG1015 Invalid block label']],
  ['missing = after key', 'a = { k 1 }\n', ['1:9 MSEG1012 Expected "=" after object key, found "1"']],
  ['unterminated heredoc', 'a = <<EOT\nline\n', ['1:5 MSEG1003 Unterminated heredoc']],
  ['bad interpolation', 'a = "x ${ + } y"\nb = 2\n', ['1:11 MSEG1011 Invalid expression: unexpected "+"']],
  ['unclosed %{if}', 'a = "%{if true}x"\n', ['1:6 MSEG1016 Unclosed %{if} directive']],
  ['block without brace', 'res "x"\n', ['1:8 MSEG1012 Expected "{" to open the block body, found newline']],
  ['for without in', 'a = [for x l : x]\n', ['1:12 MSEG1012 Expected "in" in for expression, found "l"']],
  ['duplicate attribute', 'a = 1\na = 2\n', ['2:1 MSEG1013 Attribute "a" redefined']],
  ['semicolon', 'a = 1;\n', ['1:6 MSEG1001 Invalid character ";"']],
  ['bad json', '{"a": }', ['1:7 MSEG1020 Invalid JSON: Unexpected character "}" in JSON']],
];

describe('parseHcl syntax errors', () => {
  test.each(ERROR_CASES)('%s', (_name, text, expected) => {
    const file = expected[0]?.includes('JSON') ? 'x.hcl.json' : 'x.hcl';
    const r = parseHcl(file, text);
    expect(brief(r.diagnostics)).toEqual(expected);
    for (const d of r.diagnostics) {
      expect(d.file).toBe(file);
      expect(d.severity).toBe('error');
      expect(d.detail).toBeTruthy();
    }
  });

  test('recovers and reports several errors in one run', () => {
    const text = ['a = ', 'b = [1 2]', 'ok1 = 1', 'res "x" {', '  c = (1 +)', '  d = "fine"', '}', 'e = 1 f = 2', 'ok2 = "y"', ''].join('\n');
    const r = parseHcl('m.hcl', text);
    expect(brief(r.diagnostics)).toEqual([
      '1:5 MSEG1011 Missing expression',
      '2:8 MSEG1012 Expected "," or "]" in list, found "2"',
      '5:11 MSEG1011 Invalid expression: unexpected ")"',
      '8:7 MSEG1014 Missing newline after argument, found "f"',
    ]);
    const names = r.file.body.attributes.map((a) => a.name);
    expect(names).toEqual(expect.arrayContaining(['ok1', 'ok2']));
    expect(r.file.body.blocks[0].body.attributes.map((a) => a.name)).toContain('d');
  });
});

describe('parseHcl structure and positions', () => {
  test('every node carries file, line and column', () => {
    const r = parseHcl('p.hcl', '# c\nres "lbl" {\n  ports = ["tcp/80", 2 + 3]\n  conn { type = "x" }\n}\n');
    expect(r.diagnostics).toEqual([]);
    const blk = r.file.body.blocks[0];
    expect(blk.pos).toEqual({ file: 'p.hcl', line: 2, column: 1 });
    expect(blk.labels[0]).toEqual({ value: 'lbl', pos: { file: 'p.hcl', line: 2, column: 5 } });
    const ports = blk.body.attributes[0];
    expect(ports.namePos).toEqual({ file: 'p.hcl', line: 3, column: 3 });
    expect(ports.expr.pos).toEqual({ file: 'p.hcl', line: 3, column: 11 });
    if (ports.expr.kind !== 'tuple') throw new Error('tuple expected');
    expect(ports.expr.items[1].pos.column).toBe(22);
    expect(ports.expr.items[1].kind).toBe('binary');
    expect(blk.body.blocks[0].body.attributes[0].expr.pos).toEqual({ file: 'p.hcl', line: 4, column: 17 });
  });

  test('identifiers may contain dashes; spaced minus is subtraction', () => {
    const r = parseExpression('e', 'web-1 - 1');
    expect(r.diagnostics).toEqual([]);
    expect(r.expr).toMatchObject({ kind: 'binary', op: '-', left: { kind: 'scope', name: 'web-1' }, right: { kind: 'literal', value: 1 } });
  });

  test('operator precedence and conditional', () => {
    const r = parseExpression('e', 'a || b && c == 1 + 2 * 3 ? x : y');
    expect(r.expr).toMatchObject({
      kind: 'cond',
      cond: { op: '||', right: { op: '&&', right: { op: '==', right: { op: '+', right: { op: '*' } } } } },
    });
  });

  test('newlines are ignored inside brackets and separate object items', () => {
    const r = parseHcl('n.hcl', 'a = [\n  1,\n  2\n]\nb = {\n  x = 1\n  y = 2, z: 3\n}\nc = f(\n 1,\n 2)\n');
    expect(r.diagnostics).toEqual([]);
    expect(r.file.body.attributes.map((a) => a.name)).toEqual(['a', 'b', 'c']);
  });

  test('splat, legacy index and heredoc forms parse', () => {
    const r = parseHcl('s.hcl', 'a = x[*].y\nb = x.*.y\nc = x.0.z\nd = <<-EOT\n    one\n      two\n    EOT\ne = 1\n');
    expect(r.diagnostics).toEqual([]);
    expect(r.file.body.attributes.map((a) => a.expr.kind)).toEqual(['splat', 'splat', 'getattr', 'template', 'literal']);
  });

  test('deep nesting is an error, not a stack overflow', () => {
    const r = parseHcl('d.hcl', `a = ${'['.repeat(5000)}${']'.repeat(5000)}\nb = 1\n`);
    expect(r.diagnostics[0].code).toBe('MSEG1017');
    expect(r.file.body.attributes.map((a) => a.name)).toContain('b');
  });

  test('CRLF line endings', () => {
    const r = parseHcl('w.hcl', 'a = 1\r\nb = "x"\r\nres "r" {\r\n  c = 2\r\n}\r\n');
    expect(r.diagnostics).toEqual([]);
    expect(r.file.body.blocks[0].body.attributes[0].expr.pos).toMatchObject({ line: 4, column: 7 });
  });
});
