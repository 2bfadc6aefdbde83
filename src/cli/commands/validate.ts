import { runPipeline } from '../../pipeline';
import type { Io } from '../io';
import { countLine } from '../views/diagnostics';
import { formatView } from '../views/format';
import { terminalProgress } from '../views/progress';
import { parseVarFlags, type VarOptions } from './common';

/**
 * validate: exit 0 when valid (warnings allowed), 1 when any error was found. `--format sarif`
 * prints every diagnostic as a SARIF log instead (views/sarif.ts), with the same exit code.
 */
export async function validateCommand(io: Io, dir: string, opts: VarOptions & { json?: boolean; format?: string }): Promise<number> {
  const view = formatView(io, opts);
  const { vars, diagnostics: varDiags } = parseVarFlags(opts.var);
  // A machine format (--json, --format sarif) gets nothing but its document.
  const progress = terminalProgress(io, opts.json || (opts.format !== undefined && opts.format !== 'human'));
  let p: Awaited<ReturnType<typeof runPipeline>> | undefined;
  try {
    p = varDiags.length ? undefined : await runPipeline(dir, { vars, varFiles: opts.varFile ?? [], env: process.env, progress: progress.report });
  } finally {
    progress.clear();
  }
  const diagnostics = p?.diagnostics ?? varDiags;
  const valid = p?.stage === 'done';
  view.diagnostics(diagnostics, p?.sources);
  view.result(
    (out) => (valid ? out.out(`Success! The configuration is valid${diagnostics.length ? ` (${countLine(diagnostics)})` : ''}.\n`) : out.err(`The configuration is invalid: ${countLine(diagnostics)}.\n`)),
    () => ({ valid, diagnostics: [] }),
  );
  return valid ? 0 : 1;
}
