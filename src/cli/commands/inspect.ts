import { inspectJson } from '../../model/inspect';
import type { Io } from '../io';
import { countLine, renderDiagnosticsHuman } from '../views/diagnostics';
import { loadAndValidate, VarOptions } from './common';

/**
 * inspect prints the normalised model. `--json` is the canonical document (byte-identical for
 * HCL and TypeScript versions of one configuration); without it, a short human listing.
 */
export async function inspectCommand(io: Io, dir: string, opts: VarOptions & { json?: boolean }): Promise<number> {
  const { model, diagnostics, raw } = await loadAndValidate(dir, opts);
  if (!model || diagnostics.some((d) => d.severity === 'error')) {
    renderDiagnosticsHuman(io, diagnostics, raw.sources);
    io.err(`The configuration is invalid: ${countLine(diagnostics)}.\n`);
    return 1;
  }
  const json = inspectJson(model);
  if (opts.json) {
    io.out(json.endsWith('\n') ? json : json + '\n');
    return 0;
  }
  renderDiagnosticsHuman(io, diagnostics, raw.sources);
  const doc = JSON.parse(json) as { resources: Array<{ type: string; name: string; namespace: string }> };
  const width = Math.max(...doc.resources.map((r) => r.type.length), 4);
  for (const r of doc.resources) io.out(`${r.type.padEnd(width)}  ${r.name}  (${r.namespace})\n`);
  io.out(`${doc.resources.length} resources. Use --json for every attribute.\n`);
  return 0;
}
