/**
 * Hostile and generated input: nesting that used to overflow the stack, garbage that used to
 * print megabytes, control bytes that used to reach the terminal. Behaviour only, never time
 * (the scaling measurement is bench item 6, bench/parse-garbage.ts).
 */
import { BufferIo } from '../../../src/cli/io';
import { renderDiagnosticsHuman } from '../../../src/cli/views/diagnostics';
import { evaluateHcl, parseHcl } from '../../../src/config/hcl';
import { MAX_BLOCK_DEPTH, MAX_HEIGHT } from '../../../src/config/hcl/parser';
import { countOf, formatDiagnostic, limitPerFile, MAX_DIAGNOSTICS_PER_FILE, OMITTED_CODE, type Diagnostic } from '../../../src/diagnostics';
import { validateConfig } from '../../../src/model/validate';
import { brief, run } from './helpers';

/** garbage is deterministic junk: every byte value but newline, lines of 40 characters. */
function garbage(lines: number): string {
  let seed = 7;
  const out: string[] = [];
  for (let l = 0; l < lines; l++) {
    let s = '';
    for (let i = 0; i < 40; i++) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      const c = seed % 256;
      s += String.fromCharCode(c === 10 ? 32 : c);
    }
    out.push(s);
  }
  return out.join('\n');
}

describe('nesting is bounded with MSEG1017 at the place, never a stack overflow', () => {
  test('5,000 nested blocks: one error at the first block too deep, the rest of the file still read', () => {
    const n = 5000;
    const text = `${Array.from({ length: n }, (_, i) => `b${i} {\n`).join('')}${'}\n'.repeat(n)}enforcer "after" {\n  connection {\n    type = "local"\n  }\n}\n`;
    const cfg = run(text);
    const deep = cfg.diagnostics.filter((d) => d.code === 'MSEG1017');
    expect(brief(deep)).toEqual([`${MAX_BLOCK_DEPTH + 1}:1 MSEG1017 Blocks nested too deeply`]);
    expect(cfg.resources.map((r) => r.name)).toContain('after');
  });

  test.each([
    ['lists', `${'['.repeat(5000)}${']'.repeat(5000)}`],
    ['parentheses', `${'('.repeat(5000)}1${')'.repeat(5000)}`],
    ['objects', `${'{a = '.repeat(5000)}1${'}'.repeat(5000)}`],
    ['calls', `${'max('.repeat(5000)}1${')'.repeat(5000)}`],
    ['unary operators', `${'!'.repeat(5000)}true`],
    ['conditionals', `${'true ? '.repeat(5000)}1${' : 2'.repeat(5000)}`],
    ['interpolations', `${'"${'.repeat(5000)}1${'}"'.repeat(5000)}`],
  ])('deeply nested %s', (_, expr) => {
    const cfg = run(`locals {\n  a = ${expr}\n  b = 1\n}\noutput "b" {\n  value = local.b\n}\n`);
    expect(cfg.diagnostics.map((d) => d.code)).toContain('MSEG1017');
    expect(cfg.diagnostics.every((d) => d.line === 2)).toBe(true);
    expect(cfg.outputs.b).toBe(1);
  });

  test.each([
    ['a chain of 5,000 operators', Array(5000).fill('1').join(' + ')],
    ['a traversal of 5,000 steps', `{a = 1}${'.a'.repeat(5000)}`],
    ['parenthesised chains nested in chains', (() => {
      let e = '1';
      for (let i = 0; i < 100; i++) e = `(${e}${' + 1'.repeat(100)})`;
      return e;
    })()],
  ])('%s is "too complex", not a RangeError', (_, expr) => {
    const cfg = run(`locals {\n  a = ${expr}\n}\n`);
    expect(brief(cfg.diagnostics)).toEqual(['2:7 MSEG1017 Expression too complex']);
  });

  test('nested %{if} directives are bounded', () => {
    const cfg = run(`locals {\n  a = "${'%{if true}'.repeat(5000)}x${'%{endif}'.repeat(5000)}"\n}\n`);
    expect(brief(cfg.diagnostics).map((l) => l.replace(/^\d+:\d+ /, ''))).toEqual(['MSEG1017 Template directives nested too deeply']);
  });

  test('the deepest input that is accepted evaluates and validates without overflowing', () => {
    // Blocks nested to the limit, holding an expression just under the height limit made of
    // parentheses around a chain: every recursive walker (evaluator, reference collector,
    // positions, validation) meets its worst accepted case.
    let e = '1';
    for (let i = 0; i < 50; i++) e = `(${e}${' + 1'.repeat(Math.floor((MAX_HEIGHT - 100) / 50) - 2)})`;
    let body = `x = ${e}\n`;
    for (let i = 0; i < MAX_BLOCK_DEPTH - 1; i++) body = `b {\n${body}}\n`;
    const cfg = run(`enforcer "e" {\n${body}}\n`);
    expect(cfg.diagnostics).toEqual([]);
    let v: unknown = cfg.resources[0].body;
    for (let i = 0; i < MAX_BLOCK_DEPTH - 1; i++) v = (v as { b: unknown }).b;
    expect(typeof (v as { x: unknown }).x).toBe('number');
    const res = validateConfig(cfg);
    expect(res.diagnostics.map((d) => d.code)).toContain('MSEG3002'); // b is no enforcer attribute, reported not thrown
  });

  test('values nested deeply through a chain of locals are an error, not a RangeError', () => {
    const n = 5000;
    const locals = Array.from({ length: n }, (_, i) => `  a${i} = [local.a${i + 1}]\n  b${i} = [local.b${i + 1}]\n`).join('');
    const cfg = run(`locals {\n${locals}  a${n} = 1\n  b${n} = 1\n}\noutput "eq" {\n  value = local.a0 == local.b0\n}\noutput "ok" {\n  value = local.a${n - 10}\n}\n`);
    const codes = new Set(cfg.diagnostics.map((d) => `${d.code} ${d.summary}`));
    expect([...codes]).toEqual(['MSEG1017 Value nested too deeply']);
    expect(cfg.diagnostics).toHaveLength(2); // once per chain, where it crosses the limit
    expect(cfg.outputs.ok).toEqual([[[[[[[[[[1]]]]]]]]]]);
    expect(cfg.outputs.eq).toBeUndefined();
  });

  test('deeply nested JSON syntax is an error', () => {
    const r = parseHcl('deep.hcl.json', `{"locals": {"a": ${'['.repeat(5000)}${']'.repeat(5000)}}}`);
    expect(r.diagnostics.map((d) => d.summary)).toEqual(['Invalid JSON: JSON nested too deeply']);
  });
});

describe('recovery after a broken item', () => {
  test('a string or list cut short does not swallow its block\'s "}" and the blocks after it', () => {
    const cfg = run('processing_unit "a" {\n  enforcer = "e"\n  tags     = ["app=\n}\n\nprocessing_unit "b" {\n  enforcer = "e"\n  tags     = ["t"] oops ["x\n}\n\nnamespace "/after" {}\n');
    expect(brief(cfg.diagnostics)).toEqual(['3:15 MSEG1002 Unterminated string', '4:1 MSEG1012 Expected "," or "]" in list, found "}"', '8:20 MSEG1014 Missing newline after argument, found "oops"']);
    expect(cfg.resources.map((r) => r.address)).toEqual(['processing_unit.a', 'processing_unit.b', 'namespace./after']);
  });
});

describe('error output of garbage is bounded', () => {
  test('a file of garbage gives the first 50 diagnostics and one count of the rest', () => {
    const cfg = evaluateHcl([{ name: 'junk.hcl', text: garbage(4000) }], {});
    const mine = cfg.diagnostics.filter((d) => d.file === 'junk.hcl');
    const shown = mine.filter((d) => d.code !== OMITTED_CODE);
    const summary = mine.filter((d) => d.code === OMITTED_CODE);
    expect(shown.length).toBe(MAX_DIAGNOSTICS_PER_FILE);
    expect(summary).toHaveLength(1);
    expect(summary[0].omitted!.errors).toBeGreaterThan(10000);
    expect(summary[0].summary).toBe(`${summary[0].omitted!.errors} more errors in junk.hcl not shown`);
    // The count line of the CLI counts every problem, shown or not.
    expect(countOf(mine).errors).toBe(MAX_DIAGNOSTICS_PER_FILE + summary[0].omitted!.errors);
  });

  test('the human rendering stays small and has no raw control bytes', () => {
    const text = garbage(16000);
    const cfg = evaluateHcl([{ name: 'junk.hcl', text }], {});
    const io = new BufferIo();
    renderDiagnosticsHuman(io, cfg.diagnostics, cfg.sources);
    expect(io.stderr.length).toBeLessThan(64 * 1024);
    // eslint-disable-next-line no-control-regex
    expect(io.stderr).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/);
    expect(io.stderr).toMatch(/more errors in junk\.hcl not shown \[MSEG0020\]/);
  });

  test('limitPerFile merges counts made while parsing with diagnostics found later', () => {
    const at = (line: number, severity: Diagnostic['severity'] = 'error'): Diagnostic => ({ severity, code: 'X', summary: `l${line}`, file: 'f', line, column: 1 });
    const parsed: Diagnostic = { severity: 'error', code: OMITTED_CODE, summary: '', file: 'f', line: 60, column: 1, omitted: { errors: 7, warnings: 0 } };
    const ds = [at(1, 'warning'), ...Array.from({ length: 55 }, (_, i) => at(i + 2)), parsed, { severity: 'error', code: 'Y', summary: 'no file' } as Diagnostic];
    const out = limitPerFile(ds, 50);
    expect(out).toHaveLength(52);
    const sum = out.find((d) => d.code === OMITTED_CODE)!;
    expect(sum.omitted).toEqual({ errors: 6 + 7, warnings: 0 });
    expect(sum.line).toBe(51);
    expect(countOf(out)).toEqual({ errors: 55 + 7 + 1, warnings: 1 });
  });
});

describe('control bytes in echoed text are escaped', () => {
  test('source lines, summaries and details show escapes instead of raw bytes, and the caret stays under the column', () => {
    const src = 'a = "\x1b[31mred\x07" \u202e x\n';
    const d: Diagnostic = { severity: 'error', code: 'T', summary: 'Duplicate key "\x1b]0;pwned\x07"\nfake: line', detail: 'value "\x9b2J"\nsecond line', file: 'c.hcl', line: 1, column: 19 };
    const out = formatDiagnostic(d, new Map([['c.hcl', src]]));
    expect(out.split('\n').slice(0, 4)).toEqual([
      'c.hcl:1:19: error: Duplicate key "\\x1b]0;pwned\\x07"\\nfake: line [T]',
      '  value "\\x9b2J"',
      '  second line',
      '  1 | a = "\\x1b[31mred\\x07" \\u202e x',
    ]);
    // The caret points at the character after the escaped bidi override: "x", column 19.
    const [, echo, caret] = out.split('\n').slice(2);
    expect(echo.charAt(caret.indexOf('^'))).toBe('x');
  });

  test('a very long line is shown as a window around the column', () => {
    const line = `${'a'.repeat(5000)}!${'b'.repeat(5000)}`;
    const out = formatDiagnostic({ severity: 'error', code: 'T', summary: 's', file: 'l.hcl', line: 1, column: 5001 }, new Map([['l.hcl', line]]));
    const [, echo, caret] = out.split('\n');
    expect(echo.length).toBeLessThan(140);
    expect(echo).toMatch(/^ {2}1 \| …a+!b+…$/);
    expect(echo.charAt(caret.indexOf('^'))).toBe('!');
  });

  test('an invalid character in HCL is named escaped in the summary and the echo', () => {
    const cfg = run('a = 1 \x1b[2J\n');
    const out = cfg.diagnostics.map((d) => formatDiagnostic(d, cfg.sources)).join('\n');
    expect(out).toMatch(/Invalid character "\\u001b"/);
    expect(out).toMatch(/a = 1 \\x1b\[2J/);
    // eslint-disable-next-line no-control-regex
    expect(out).not.toMatch(/\x1b/);
  });
});

describe('evaluation keeps a bounded number of diagnostics per file', () => {
  test('100,000 undeclared references: the first 50 by position are shown and the rest counted', () => {
    const n = 100000;
    const text = `locals {\n${Array.from({ length: n }, (_, i) => `  a${i} = var.v${i}\n`).join('')}}\n`;
    const cfg = evaluateHcl([{ name: 'many.hcl', text }], {});
    expect(cfg.diagnostics.length).toBeLessThanOrEqual(1001);
    const shown = limitPerFile(cfg.diagnostics);
    expect(shown).toHaveLength(MAX_DIAGNOSTICS_PER_FILE + 1);
    expect(shown[0]).toMatchObject({ line: 2, code: 'MSEG2002' });
    expect(countOf(shown)).toEqual({ errors: n, warnings: 0 });
  });
});
