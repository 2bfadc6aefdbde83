/**
 * Golden tests of `microseg migrate`: each input (an Aporeto import file, or legacy microseg HCL)
 * has its expected output in expected/<input name>.out (absent when migration must fail) and its
 * expected diagnostics, formatted as the CLI prints them, in expected/<input name>.diagnostics.
 *
 * After an intended change, regenerate with `UPDATE_GOLDEN=1 npx jest test/golden/migrate` and
 * review the diff like any other code change.
 */
import * as fs from 'fs';
import * as path from 'path';
import { migrateAporeto, rewriteLegacyHcl } from '../../../src/config/aporeto';
import { evaluateHcl, parseHcl } from '../../../src/config/hcl';
import { formatDiagnostic, type Diagnostic } from '../../../src/diagnostics';
import { validateConfig } from '../../../src/model/validate';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const HERE = path.relative(ROOT, __dirname);
const UPDATE = process.env.UPDATE_GOLDEN === '1';

/** Inputs, as repo-relative paths (they appear in diagnostics): the examples and inputs/. */
const INPUTS = [
  path.join('examples', 'aporeto-import', 'import.yaml'),
  path.join('examples', 'aporeto-import', 'legacy.hcl'),
  ...fs
    .readdirSync(path.join(__dirname, 'inputs'))
    .sort()
    .map((f) => path.join(HERE, 'inputs', f)),
];

function run(input: string): { out?: string; diagnostics: Diagnostic[] } {
  const text = fs.readFileSync(path.join(ROOT, input), 'utf8');
  if (input.endsWith('.hcl')) {
    const r = rewriteLegacyHcl(input, text);
    return { out: r.diagnostics.some((d) => d.severity === 'error') ? undefined : r.text, diagnostics: r.diagnostics };
  }
  const r = migrateAporeto(input, text);
  return { out: r.hcl, diagnostics: r.diagnostics };
}

/** golden compares `actual` with the stored file, or (re)writes it with UPDATE_GOLDEN=1. */
function golden(file: string, actual: string | undefined): void {
  const abs = path.join(__dirname, 'expected', file);
  if (UPDATE) {
    if (actual === undefined) fs.rmSync(abs, { force: true });
    else fs.writeFileSync(abs, actual);
    return;
  }
  const expected = fs.existsSync(abs) ? fs.readFileSync(abs, 'utf8') : undefined;
  expect(actual).toBe(expected);
}

describe.each(INPUTS)('migrate %s', (input) => {
  const name = path.basename(input);
  const result = run(input);

  test('output matches the golden file', () => {
    golden(`${name}.out`, result.out);
  });

  test('diagnostics match the golden file', () => {
    golden(`${name}.diagnostics`, result.diagnostics.map((d) => `${formatDiagnostic(d)}\n`).join(''));
  });

  if (!input.endsWith('.hcl')) {
    test('converted HCL parses and validates without errors (or nothing was output)', () => {
      if (result.out === undefined) {
        expect(result.diagnostics.some((d) => d.severity === 'error')).toBe(true);
        return;
      }
      const raw = evaluateHcl([{ name: `${name}.hcl`, text: result.out }], {});
      expect(raw.diagnostics).toEqual([]);
      const v = validateConfig(raw, { now: new Date('2025-01-01T00:00:00Z') });
      expect(v.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    });
  } else {
    test('rewritten HCL parses, and rewriting it again changes nothing', () => {
      if (result.out === undefined) return;
      expect(parseHcl(input, result.out).diagnostics).toEqual([]);
      expect(rewriteLegacyHcl(input, result.out)).toMatchObject({ changed: false, text: result.out });
    });
  }
});

test('the legacy example validates once rewritten', () => {
  const input = path.join('examples', 'aporeto-import', 'legacy.hcl');
  const r = rewriteLegacyHcl(input, fs.readFileSync(path.join(ROOT, input), 'utf8'));
  const v = validateConfig(evaluateHcl([{ name: input, text: r.text }], {}));
  expect(v.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
});
