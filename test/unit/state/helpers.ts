/** Shared fixtures for state tests: a throwaway project directory per test. */
import { mkdtempSync, rmSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DiagnosticsError, type Diagnostic } from '../../../src/diagnostics';

/** tempProject makes a fresh directory and returns it with a cleanup function. */
export function tempProject(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mseg-state-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** diagnosticsOf awaits `p`, expects it to reject with a DiagnosticsError, and returns its diagnostics. */
export async function diagnosticsOf(p: Promise<unknown>): Promise<Diagnostic[]> {
  try {
    await p;
  } catch (e) {
    if (DiagnosticsError.isInstance(e)) return e.diagnostics;
    throw e;
  }
  throw new Error('expected a DiagnosticsError, but the promise resolved');
}
