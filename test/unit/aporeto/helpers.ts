/** Shared by the migrate tests: what migrate outputs must parse and validate on its own. */
import { evaluateHcl } from '../../../src/config/hcl';
import { validateConfig } from '../../../src/model/validate';

/** expectValidates asserts that generated HCL evaluates and validates without errors. */
export function expectValidates(hcl: string, name = 'migrated.hcl'): void {
  const raw = evaluateHcl([{ name, text: hcl }], {});
  expect(raw.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  const v = validateConfig(raw, { now: new Date('2025-01-01T00:00:00Z') });
  expect(v.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
}

/**
 * importFile builds an import file around `data` (indented lines under `data:`, as users' files
 * read); `tail` holds top-level keys after it, such as `identities:`. apoctl exports from 2021
 * say APIVersion 0, older ones 1.
 */
export function importFile(data: string, opts: { tail?: string; apiVersion?: 0 | 1 } = {}): string {
  return `APIVersion: ${opts.apiVersion ?? 1}\nlabel: test\ndata:\n${data.replace(/^\n/, '')}${opts.tail ?? ''}`;
}
