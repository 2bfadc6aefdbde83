/**
 * openStateStore: the configured backend (src/config/settings.ts) for a project directory and a
 * workspace. The one place that decides where state lives, so every command agrees.
 *
 * The workspace is MICROSEG_WORKSPACE when set (CI), else the one `microseg workspace select`
 * recorded in `DIR/.microseg/workspace`, else `default`.
 */
import { promises as fsp } from 'fs';
import * as path from 'path';
import type { Settings } from '../config/settings';
import { DiagnosticsError, makeDiagnostic } from '../diagnostics';
import { StateCodes } from './codes';
import { LocalStateStore, STATE_DIR } from './local';
import { PgStateStore, WORKSPACE_NAME } from './pg/store';
import type { StateStore } from './types';

export const DEFAULT_WORKSPACE = 'default';
/** The file `workspace select` writes (the only thing the pg backend ever writes locally). */
export const WORKSPACE_FILE = 'workspace';
/** Where init -migrate-state leaves the local state it copied into another backend. */
export const MIGRATED_SUFFIX = '.migrated';

export interface OpenOptions {
  env?: NodeJS.ProcessEnv;
  /** A workspace other than the selected one (workspace commands). */
  workspace?: string;
}

export type OpenedStore = { kind: 'local'; store: LocalStateStore; workspace: string } | { kind: 'pg'; store: PgStateStore; workspace: string };

/** selectedWorkspace is MICROSEG_WORKSPACE, else DIR/.microseg/workspace, else `default`. */
export async function selectedWorkspace(dir: string, env: NodeJS.ProcessEnv = process.env): Promise<{ name: string; from: 'env' | 'file' | 'default' }> {
  if (env.MICROSEG_WORKSPACE) return { name: env.MICROSEG_WORKSPACE, from: 'env' };
  try {
    const name = (await fsp.readFile(path.join(dir, STATE_DIR, WORKSPACE_FILE), 'utf8')).trim();
    if (name) return { name, from: 'file' };
  } catch {
    /* none selected */
  }
  return { name: DEFAULT_WORKSPACE, from: 'default' };
}

/** checkWorkspaceName throws MSEG8432 for a name that is not [A-Za-z0-9_.-]{1,90}. */
export function checkWorkspaceName(name: string): void {
  if (!WORKSPACE_NAME.test(name)) {
    throw new DiagnosticsError(
      [makeDiagnostic('error', StateCodes.badWorkspaceName, `Invalid workspace name "${name}"`, 'Use 1 to 90 letters, digits, _, . and -.')],
      'user',
    );
  }
}

/** localStateDir is the local backend's state directory for `dir`. */
export function localStateDir(dir: string, settings: Settings): string {
  return settings.backend.type === 'local' && settings.backend.path ? path.resolve(dir, settings.backend.path) : path.join(dir, STATE_DIR);
}

/** openStateStore opens (lazily: no connection yet) the configured backend for `dir`. */
export async function openStateStore(dir: string, settings: Settings, opts: OpenOptions = {}): Promise<OpenedStore> {
  const env = opts.env ?? process.env;
  const workspace = opts.workspace ?? (await selectedWorkspace(dir, env)).name;
  checkWorkspaceName(workspace);
  const b = settings.backend;
  if (b.type === 'local') {
    if (workspace !== DEFAULT_WORKSPACE) {
      throw new DiagnosticsError(
        [
          makeDiagnostic(
            'error',
            StateCodes.workspacesUnsupported,
            `The local backend has only the "default" workspace (workspace "${workspace}" was selected)`,
            'Use backend "pg" for workspaces (microseg { backend "pg" { } }), or unset MICROSEG_WORKSPACE / run `microseg workspace select default`.',
            b.pos,
          ),
        ],
        'user',
      );
    }
    return { kind: 'local', workspace, store: new LocalStateStore(dir, b.path ? { stateDir: path.resolve(dir, b.path) } : {}) };
  }
  const connStr = b.connStr ?? env.PG_CONN_STR;
  if (!connStr) {
    throw new DiagnosticsError(
      [
        makeDiagnostic(
          'error',
          StateCodes.noConnStr,
          'backend "pg" has no connection string',
          'Set the environment variable PG_CONN_STR (e.g. postgres://USER:PASSWORD@HOST:5432/DB, from a CI secret), or conn_str in the backend block. Nothing was read or changed.',
          b.pos,
        ),
      ],
      'user',
    );
  }
  return { kind: 'pg', workspace, store: new PgStateStore({ connStr, schema: b.schemaName, workspace, env }) };
}

/**
 * checkStateLocation refuses to plan or apply when the state is not where the configuration says
 * (MSEG8420): with backend "pg" a local state file still exists (not migrated yet), or with the
 * local backend the local state was migrated away. Planning against the empty side would list
 * every host as new and forget what the other side knows about removed hosts.
 */
export async function checkStateLocation(dir: string, settings: Settings): Promise<void> {
  const stateFile = path.join(localStateDir(dir, { backend: { type: 'local' } }), 'state.json');
  const exists = (p: string): Promise<boolean> =>
    fsp
      .stat(p)
      .then(() => true)
      .catch(() => false);
  if (settings.backend.type === 'pg' && (await exists(stateFile))) {
    throw new DiagnosticsError(
      [
        makeDiagnostic(
          'error',
          StateCodes.backendMismatch,
          'The configuration selects backend "pg", but the state is in a local file',
          `${stateFile} holds this project's state. Run \`microseg init -migrate-state\` to copy it into PostgreSQL (lineage and serial kept; ` +
            `the file is left as ${path.basename(stateFile)}${MIGRATED_SUFFIX}). Nothing was read or changed on any host.`,
          settings.backend.pos,
        ),
      ],
      'user',
    );
  }
  if (settings.backend.type === 'local') {
    const own = path.join(localStateDir(dir, settings), 'state.json');
    if (!(await exists(own)) && (await exists(stateFile + MIGRATED_SUFFIX))) {
      throw new DiagnosticsError(
        [
          makeDiagnostic(
            'error',
            StateCodes.backendMismatch,
            'The configuration selects the local backend, but this project\'s state was migrated to another backend',
            `${stateFile}${MIGRATED_SUFFIX} is the copy \`microseg init -migrate-state\` left behind. Configure that backend again ` +
              '(microseg { backend "pg" { ... } }); to come back to local files, `microseg state pull > state.json` there and put it in place as ' +
              `${stateFile}. Nothing was read or changed on any host.`,
          ),
        ],
        'user',
      );
    }
  }
}
