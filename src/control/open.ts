/**
 * Opening the control plane's database from PG_CONN_STR, and keeping the connection string's
 * password out of everything said about it.
 */
import { Pool } from 'pg';
import { migrate } from '../state/pg/migrations';
import { ControlStore } from './store';

export class ControlOpenError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** redactConnStr removes a connection string and its password from a message. */
export function redactConnStr(text: string, connStr: string): string {
  let out = text.split(connStr).join('postgres://***');
  const pw = /^postgres(?:ql)?:\/\/[^:/@]*:([^@]*)@/i.exec(connStr)?.[1];
  if (pw) for (const p of new Set([pw, safeDecode(pw)])) if (p) out = out.split(p).join('***');
  return out;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * ensureControlSchema brings the schema up to date through the state backend's migrations (the
 * control plane's tables are its migration 2), refusing a schema newer than this microseg.
 */
export async function ensureControlSchema(pool: Pool, schema: string): Promise<void> {
  const c = await pool.connect();
  try {
    const r = await migrate(c, schema);
    if ('tooNew' in r) {
      throw new ControlOpenError('MSEG9823', `schema ${schema} is at version ${r.tooNew}, newer than this microseg understands: upgrade microseg`);
    }
  } finally {
    c.release();
  }
}

export interface ControlConnection {
  store: ControlStore;
  close(): Promise<void>;
}

/** openControl connects to PG_CONN_STR (never printed) and returns the workspace's ControlStore. */
export async function openControl(opts: { env?: NodeJS.ProcessEnv; schema?: string; workspace?: string; poolSize?: number }): Promise<ControlConnection> {
  const env = opts.env ?? process.env;
  const connStr = env.PG_CONN_STR;
  if (!connStr) {
    throw new ControlOpenError('MSEG9820', 'PG_CONN_STR is not set: the control plane keeps its CA, tokens and rulesets in PostgreSQL; set it to postgres://USER:PASSWORD@HOST:5432/DB');
  }
  const schema = opts.schema ?? env.MICROSEG_PG_SCHEMA ?? 'microseg';
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(schema)) throw new ControlOpenError('MSEG9821', `schema ${JSON.stringify(schema)} is not a plain SQL identifier`);
  const workspace = opts.workspace ?? env.MICROSEG_WORKSPACE ?? 'default';
  const pool = new Pool({ connectionString: connStr, max: opts.poolSize ?? 4, connectionTimeoutMillis: 10_000 });
  // An idle client's error (the server restarting) must not crash the process; the next query reconnects.
  pool.on('error', () => undefined);
  try {
    await ensureControlSchema(pool, schema);
  } catch (e) {
    await pool.end().catch(() => undefined);
    if (e instanceof ControlOpenError) throw e;
    throw new ControlOpenError('MSEG9822', `cannot open the control plane's database: ${redactConnStr((e as Error).message, connStr)}`);
  }
  return { store: new ControlStore(pool, schema, workspace), close: () => pool.end() };
}

/**
 * controlForBackend opens the control store beside the pg state backend (same database, schema
 * and workspace; the state store's own migrations created its tables). The pool connects on first
 * use, so a run that has no token and no agent enforcer never opens a second connection.
 */
export function controlForBackend(opts: { connStr: string; schema: string; workspace: string }): ControlConnection {
  const pool = new Pool({ connectionString: opts.connStr, max: 2, connectionTimeoutMillis: 10_000 });
  pool.on('error', () => undefined);
  return { store: new ControlStore(pool, opts.schema, opts.workspace), close: () => pool.end() };
}
