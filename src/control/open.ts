/**
 * Opening the control plane's database from PG_CONN_STR, and keeping the connection string's
 * password out of everything said about it.
 */
import { Pool } from 'pg';
import { CONTROL_MIGRATION, ControlStore } from './store';

const ADVISORY_CLASS = 0x6d736567;

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
 * ensureControlSchema creates the control plane's tables when missing, under a transaction-scoped
 * advisory lock so replicas starting together create them once.
 * TODO(pg): CONTROL_MIGRATION moves into the state backend's ordered migration list when that
 * lands in main; this creation step then becomes its `migrate`.
 */
export async function ensureControlSchema(pool: Pool, schema: string): Promise<void> {
  const q = `"${schema.replace(/"/g, '""')}"`;
  const exists = await pool.query<{ r: string | null }>('SELECT to_regclass($1) AS r', [`${q}.control_cas`]);
  if (exists.rows[0].r) return;
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    await c.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [ADVISORY_CLASS, `migrate:${schema}`]);
    const again = await c.query<{ r: string | null }>('SELECT to_regclass($1) AS r', [`${q}.control_cas`]);
    if (!again.rows[0].r) {
      await c.query(`CREATE SCHEMA IF NOT EXISTS ${q}`);
      await c.query(CONTROL_MIGRATION.up(q));
    }
    await c.query('COMMIT');
  } catch (e) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw e;
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
    throw new ControlOpenError('MSEG9822', `cannot open the control plane's database: ${redactConnStr((e as Error).message, connStr)}`);
  }
  return { store: new ControlStore(pool, schema, workspace), close: () => pool.end() };
}
