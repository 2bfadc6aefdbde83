import { inspectJson } from '../../model/inspect';
import type { Io } from '../io';
import { viewFor } from '../views/view';
import { loadConfiguration, type VarOptions } from './common';

/**
 * inspect prints the normalised model. `--json` is the canonical document (byte-identical for
 * HCL and TypeScript versions of one configuration); without it, a short human listing.
 */
export async function inspectCommand(io: Io, dir: string, opts: VarOptions & { json?: boolean }): Promise<number> {
  const view = viewFor(io, opts.json);
  const p = await loadConfiguration(view, dir, opts);
  if (!p) return 1;
  const json = inspectJson(p.model!);
  view.result(
    (out) => {
      const doc = JSON.parse(json) as { resources: Array<{ type: string; name: string; namespace: string }> };
      const width = Math.max(...doc.resources.map((r) => r.type.length), 4);
      for (const r of doc.resources) out.out(`${r.type.padEnd(width)}  ${r.name}  (${r.namespace})\n`);
      out.out(`${doc.resources.length} resources. Use --json for every attribute.\n`);
    },
    () => json,
  );
  return 0;
}
