/**
 * withBackend: every command that reads or writes state opens it here, from the configuration's
 * `microseg { backend … }` block (src/config/settings.ts) and the selected workspace, and closes
 * it (the pg backend's connection, and with it the lock) whatever happens.
 */
import { readSettings } from '../../config/read-settings';
import type { Settings } from '../../config/settings';
import { checkStateLocation, openStateStore, type OpenedStore } from '../../state';
import type { View } from '../views/view';
import { controlForBackend } from '../../control/open';
import type { ReconcileControl } from '../../control/reconcile-control';

export interface BackendOptions {
  /** Refuse when the state is not where the configuration says (plan, apply, drift, destroy). */
  check?: boolean;
  /** Open this workspace instead of the selected one. */
  workspace?: string;
  env?: NodeJS.ProcessEnv;
}

/**
 * withControl gives `fn` the control store of the pg backend (tokens, agent enforcers), or
 * undefined with the local backend, and closes its pool afterwards.
 */
export async function withControl<T>(opened: OpenedStore, settings: Settings, fn: (control: ReconcileControl | undefined) => Promise<T>, env: NodeJS.ProcessEnv = process.env): Promise<T> {
  const b = settings.backend;
  const connStr = b.type === 'pg' ? (b.connStr ?? env.PG_CONN_STR) : undefined;
  if (opened.kind !== 'pg' || b.type !== 'pg' || !connStr) return fn(undefined);
  const c = controlForBackend({ connStr, schema: b.schemaName, workspace: opened.workspace });
  try {
    return await fn(c.store);
  } finally {
    await c.close().catch(() => undefined);
  }
}

/** withBackend runs `fn` with the configured store; returns `fn`'s exit code, or 1 after the view said why. */
export async function withBackend(view: View, dir: string, opts: BackendOptions, fn: (opened: OpenedStore, settings: Settings) => Promise<number>): Promise<number> {
  const r = await readSettings(dir);
  if (!r.settings) return view.fail(r.diagnostics, undefined, r.sources);
  let opened: OpenedStore;
  try {
    if (opts.check) await checkStateLocation(dir, r.settings);
    opened = await openStateStore(dir, r.settings, { workspace: opts.workspace, env: opts.env });
  } catch (e) {
    return view.thrown(e);
  }
  try {
    return await fn(opened, r.settings);
  } catch (e) {
    return view.thrown(e);
  } finally {
    await opened.store.close();
  }
}
