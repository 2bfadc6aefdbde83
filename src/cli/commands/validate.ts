import type { Io } from '../io';
import { countLine, diagnosticsJson, renderDiagnosticsHuman } from '../views/diagnostics';
import { loadAndValidate, VarOptions } from './common';

/** validate: exit 0 when valid (warnings allowed), 1 when any error was found. */
export async function validateCommand(io: Io, dir: string, opts: VarOptions & { json?: boolean }): Promise<number> {
  const { model, diagnostics, raw } = await loadAndValidate(dir, opts);
  const valid = model !== undefined && !diagnostics.some((d) => d.severity === 'error');
  if (opts.json) {
    io.out(JSON.stringify({ valid, diagnostics: diagnosticsJson(diagnostics) }, null, 2) + '\n');
  } else {
    renderDiagnosticsHuman(io, diagnostics, raw.sources);
    if (valid) io.out(`Success! The configuration is valid${diagnostics.length ? ` (${countLine(diagnostics)})` : ''}.\n`);
    else io.err(`The configuration is invalid: ${countLine(diagnostics)}.\n`);
  }
  return valid ? 0 : 1;
}
