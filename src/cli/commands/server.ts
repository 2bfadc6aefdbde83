/**
 * `microseg server --listen ADDR:PORT`: the control plane. Runs until SIGINT/SIGTERM; logs one
 * line per registration, renewal and refusal on stderr (never a token, key or connection string).
 */
import { openControl } from '../../control/open';
import { startControlServer } from '../../control/server';
import { DiagnosticsError, makeDiagnostic } from '../../diagnostics';
import type { Io } from '../io';
import { viewFor } from '../views/view';
import { asControlDiagnostics } from './control';

export interface ServerFlags {
  listen: string;
  san?: string;
  workspace?: string;
  schema?: string;
  pgPool?: string;
}

/**
 * The pool's default: a request costs about one query once the CAs and certificate statuses are
 * cached, so a few connections per core of the database serve a fleet; five replicas at 16 stay
 * under PostgreSQL's default max_connections (100, three of them reserved).
 */
export const DEFAULT_PG_POOL = 16;

/** pgPoolSize reads --pg-pool, else MICROSEG_PG_POOL, else the default; undefined when invalid. */
export function pgPoolSize(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): number | undefined {
  const text = flag ?? env.MICROSEG_PG_POOL;
  if (text === undefined || text === '') return DEFAULT_PG_POOL;
  // Two at least: one connection is held by LISTEN for the whole life of the server.
  return /^\d{1,4}$/.test(text) && Number(text) >= 2 && Number(text) <= 1000 ? Number(text) : undefined;
}

export async function serverCommand(io: Io, flags: ServerFlags, stop: Promise<void> = signalled()): Promise<number> {
  const view = viewFor(io, false);
  const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(flags.listen);
  if (!m || Number(m[2]) > 65535) {
    return view.thrown(new DiagnosticsError([makeDiagnostic('error', 'MSEG9837', `--listen ${JSON.stringify(flags.listen)} is not ADDR:PORT`, 'For example --listen 198.18.0.1:8443 or --listen [2001:db8::1]:8443.')]));
  }
  const host = m[1].replace(/^\[|\]$/g, '');
  const poolSize = pgPoolSize(flags.pgPool);
  if (poolSize === undefined) {
    const given = flags.pgPool !== undefined ? `--pg-pool ${JSON.stringify(flags.pgPool)}` : `MICROSEG_PG_POOL=${JSON.stringify(process.env.MICROSEG_PG_POOL)}`;
    return view.thrown(new DiagnosticsError([makeDiagnostic('error', 'MSEG9837', `${given} is not a pool size`, 'Give a whole number of database connections from 2 to 1000 (one is held by LISTEN).')]));
  }
  try {
    const c = await openControl({ schema: flags.schema, workspace: flags.workspace, poolSize });
    try {
      const srv = await startControlServer({
        store: c.store,
        host,
        port: Number(m[2]),
        san: (flags.san ?? '').split(',').map((s) => s.trim()).filter(Boolean),
        log: (l) => io.err(`${new Date().toISOString()} ${l}\n`),
      });
      io.err(`microseg server listening on ${srv.url} (workspace ${c.store.workspace}, ${poolSize} database connections)\n`);
      await stop;
      await srv.close();
      return 0;
    } finally {
      await c.close();
    }
  } catch (e) {
    return view.thrown(asControlDiagnostics(e));
  }
}

function signalled(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
}
