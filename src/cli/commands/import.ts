/**
 * import ENFORCER [DIR]: adopt a host that already holds microseg objects into this directory's
 * state (src/apply/import.ts), under the state lock. Nothing is sent to any host. Exit 0 when the
 * host was recorded, 1 otherwise (unknown enforcer, already recorded, unreadable, nothing there).
 */
import { importHost, type ImportResult } from '../../apply';
import { ApplyCodes } from '../../plan';
import { withBackend } from './backend';
import type { CliDeps, Io } from '../io';
import { renderImportHuman } from '../views/import';
import { configFailure } from '../views/plan';
import { viewFor } from '../views/view';
import { parseCommon, withLock, type ReconcileFlags } from './plan';

export async function importCommand(io: Io, enforcer: string, dir: string, flags: ReconcileFlags & { json?: boolean }, deps: CliDeps = {}): Promise<number> {
  const view = viewFor(io, flags.json);
  const s = parseCommon(view, flags);
  if (!s) return 1;
  // The configured backend (local or pg, selected workspace): the state that is adopted into.
  return withBackend(view, dir, { check: true }, async ({ store }) => {
    const r: ImportResult = await withLock(store, 'import', s.lockTimeoutMs, true, () =>
      importHost(dir, enforcer, { store, vars: s.vars, varFiles: s.varFiles, parallelism: s.parallelism, connect: deps.connect }),
    );
    if (r.diagnostics.some((d) => d.code === ApplyCodes.invalidConfig)) return configFailure(view, r);
    if (!r.imported) return view.fail(r.diagnostics, `Enforcer "${r.enforcer}" was not imported; the state is unchanged.`, r.sources);
    view.diagnostics(r.diagnostics, r.sources);
    const imported = r.imported;
    view.result((out) => renderImportHuman(out, r.enforcer, imported, store.description), () => ({ enforcer: r.enforcer, imported, diagnostics: [] }));
    return 0;
  });
}
