import { didYouMean, formatDiagnostic, sortDiagnostics } from '../../../src/diagnostics';

describe('didYouMean', () => {
  it.each([
    ['actoin', ['action', 'ports'], 'action'], // swapped pair
    ['prots', ['ports', 'protocols'], 'ports'], // swapped pair
    ['subjet', ['subject', 'object'], 'subject'], // deletion
    ['tagss', ['tags'], 'tags'], // insertion
    ['Ports', ['ports'], 'ports'], // case
  ])('suggests %s → %s', (word, candidates, want) => {
    expect(didYouMean(word, candidates)).toBe(want);
  });

  it('stays silent when nothing is close', () => {
    expect(didYouMean('frobnicate', ['action', 'ports'])).toBeUndefined();
    expect(didYouMean('x', [])).toBeUndefined();
  });
});

describe('formatDiagnostic', () => {
  it('prints file:line:col, the detail, the source line and a caret under the column', () => {
    const text = formatDiagnostic(
      { severity: 'error', code: 'MSEG3010', summary: 'Invalid service port "tcp/80/90"', detail: 'Use tcp/N.', file: 'a.hcl', line: 2, column: 12 },
      new Map([['a.hcl', 'x {\n  ports = ["tcp/80/90"]\n}\n']]),
    );
    expect(text).toBe(
      ['a.hcl:2:12: error: Invalid service port "tcp/80/90" [MSEG3010]', '  Use tcp/N.', '  2 |   ports = ["tcp/80/90"]', '    |            ^'].join('\n'),
    );
  });

  it('prints diagnostics without a position as plain lines', () => {
    expect(formatDiagnostic({ severity: 'warning', code: 'X1', summary: 's' })).toBe('warning: s [X1]');
  });
});

it('sortDiagnostics orders by file, line and column', () => {
  const ds = sortDiagnostics([
    { severity: 'error', code: 'A', summary: '3', file: 'b', line: 1, column: 1 },
    { severity: 'error', code: 'A', summary: '2', file: 'a', line: 9, column: 1 },
    { severity: 'error', code: 'A', summary: '1', file: 'a', line: 2, column: 5 },
  ]);
  expect(ds.map((d) => d.summary)).toEqual(['1', '2', '3']);
});
