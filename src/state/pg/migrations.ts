/**
 * Versioned schema migrations of the pg backend's schema. MIGRATIONS is an ordered list: a new
 * table (the control plane's, say) is a new entry with the next version at the END; an entry
 * already released never changes. `migrate` applies the missing ones on first use in one
 * transaction (all or nothing), under a transaction-scoped advisory lock, so two runners starting
 * at once against an empty database do not both create the schema (the second waits, then finds
 * it done).
 */
import type { ClientBase } from 'pg';

export interface Migration {
  /** 1, 2, 3, ... in list order, no gaps. */
  version: number;
  /** What it adds, for people reading `schema_migrations`. */
  name: string;
  /** The SQL, given the schema as a quoted identifier (`"microseg"`). */
  up(schema: string): string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'state backend: workspaces, per-enforcer hosts, resources, applied model, journal, lock holders',
    up: (s) => `
      CREATE TABLE ${s}.workspaces (
        name text PRIMARY KEY,
        lineage text,
        serial bigint NOT NULL DEFAULT 0,
        format_version int,
        microseg_version text,
        outputs jsonb,
        has_model boolean NOT NULL DEFAULT false,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      );
      INSERT INTO ${s}.workspaces (name) VALUES ('default');
      -- One row per enforcer: an apply that touches 3 of 1,000 hosts writes 3 of these.
      CREATE TABLE ${s}.hosts (
        workspace text NOT NULL REFERENCES ${s}.workspaces (name) ON DELETE CASCADE,
        enforcer text NOT NULL,
        status text NOT NULL,
        record jsonb NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (workspace, enforcer)
      );
      CREATE TABLE ${s}.resources (
        workspace text NOT NULL REFERENCES ${s}.workspaces (name) ON DELETE CASCADE,
        address text NOT NULL,
        record jsonb NOT NULL,
        PRIMARY KEY (workspace, address)
      );
      -- The last fully applied model, one row per resource (kind = Model key, ord for equal names).
      CREATE TABLE ${s}.model_items (
        workspace text NOT NULL REFERENCES ${s}.workspaces (name) ON DELETE CASCADE,
        kind text NOT NULL,
        name text NOT NULL,
        ord int NOT NULL DEFAULT 0,
        item jsonb NOT NULL,
        PRIMARY KEY (workspace, kind, name, ord)
      );
      CREATE TABLE ${s}.journal (
        id bigserial PRIMARY KEY,
        workspace text NOT NULL REFERENCES ${s}.workspaces (name) ON DELETE CASCADE,
        ts timestamptz NOT NULL,
        run_id text NOT NULL,
        enforcer text NOT NULL,
        phase text NOT NULL,
        detail text
      );
      CREATE INDEX journal_by_enforcer ON ${s}.journal (workspace, enforcer, id);
      -- Who holds a workspace's session advisory lock. The lock itself dies with the holder's
      -- connection; this row stays behind after a kill -9 and tells the next run who was interrupted.
      CREATE TABLE ${s}.lock_holders (
        workspace text PRIMARY KEY REFERENCES ${s}.workspaces (name) ON DELETE CASCADE,
        id text NOT NULL,
        who text NOT NULL,
        operation text NOT NULL,
        pid int NOT NULL,
        hostname text NOT NULL,
        since timestamptz NOT NULL,
        ci_job_url text,
        session_pid int NOT NULL
      );
    `,
  },
  {
    version: 2,
    name: 'control plane (agent mode): CAs, registration tokens, enforcer certificates, rulesets, reports',
    // CAs are per database (one trust root for every workspace); tokens, certificates, rulesets
    // and reports belong to a workspace, as enforcer names do. Written by src/control/store.ts.
    up: (s) => `
    CREATE TABLE ${s}.control_cas (
      id text PRIMARY KEY,
      cert_pem text NOT NULL,
      sealed_key jsonb NOT NULL,
      role text NOT NULL CHECK (role IN ('signing', 'staged', 'previous', 'retired')),
      created_at timestamptz NOT NULL
    );
    -- One signing CA at any time, whatever replica writes.
    CREATE UNIQUE INDEX control_cas_one_signing ON ${s}.control_cas ((true)) WHERE role = 'signing';
    CREATE TABLE ${s}.control_tokens (
      workspace text NOT NULL REFERENCES ${s}.workspaces (name) ON DELETE CASCADE,
      id text PRIMARY KEY,
      name text NOT NULL,
      record jsonb NOT NULL,
      secret_hash text NOT NULL,
      created_at timestamptz NOT NULL
    );
    CREATE INDEX control_tokens_by_name ON ${s}.control_tokens (workspace, name);
    CREATE TABLE ${s}.control_certs (
      serial text PRIMARY KEY,
      workspace text NOT NULL REFERENCES ${s}.workspaces (name) ON DELETE CASCADE,
      enforcer text NOT NULL,
      ca_id text NOT NULL,
      token_id text,
      issued_at timestamptz NOT NULL,
      not_after timestamptz NOT NULL,
      revoked_at timestamptz,
      revoke_reason text
    );
    CREATE INDEX control_certs_by_enforcer ON ${s}.control_certs (workspace, enforcer);
    -- The desired ruleset per enforcer, as typed data (the compiled IR and the transactions an
    -- agent runs), never shell text; etag changes with every publish.
    CREATE TABLE ${s}.control_rulesets (
      workspace text NOT NULL REFERENCES ${s}.workspaces (name) ON DELETE CASCADE,
      enforcer text NOT NULL,
      etag text NOT NULL,
      desired jsonb NOT NULL,
      published_at timestamptz NOT NULL,
      PRIMARY KEY (workspace, enforcer)
    );
    -- What each agent last reported (applied etag, live fingerprint, drift).
    CREATE TABLE ${s}.control_reports (
      workspace text NOT NULL REFERENCES ${s}.workspaces (name) ON DELETE CASCADE,
      enforcer text NOT NULL,
      report jsonb NOT NULL,
      seen_at timestamptz NOT NULL,
      PRIMARY KEY (workspace, enforcer)
    );
    -- What each agent last said it trusts (CA ids), for the rotation's progress.
    CREATE TABLE ${s}.control_agent_trust (
      workspace text NOT NULL REFERENCES ${s}.workspaces (name) ON DELETE CASCADE,
      enforcer text NOT NULL,
      trusts jsonb NOT NULL,
      seen_at timestamptz NOT NULL,
      PRIMARY KEY (workspace, enforcer)
    );
  `,
  },
  {
    version: 3,
    name: 'control plane deltas: the previous etag of each published ruleset and the patch from it',
    // An agent holding the previous document pulls the RFC 6902 patch instead of the whole ruleset
    // (src/control/delta.ts). Computed once at publish, served to every agent that asks.
    up: (s) => `
    ALTER TABLE ${s}.control_rulesets ADD COLUMN prev_etag text, ADD COLUMN prev_patch jsonb;
  `,
  },
];
/** LATEST_SCHEMA_VERSION is what this microseg needs (and the newest it understands). */
export const LATEST_SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1].version;

/** Advisory lock key space of microseg ('mseg'), first half of every two-int4 key it takes. */
export const ADVISORY_CLASS = 0x6d736567;

export type MigrateResult = { applied: number[]; current: number } | { tooNew: number };

/**
 * migrate brings `schema` (a plain identifier, already validated) to `migrations`' last version.
 * Returns the versions it applied, or `tooNew` when the schema is newer than this microseg.
 */
export async function migrate(client: ClientBase, schema: string, migrations: readonly Migration[] = MIGRATIONS): Promise<MigrateResult> {
  const q = quoteIdent(schema);
  const latest = migrations[migrations.length - 1].version;
  // Fast path, one round trip: every run after the first finds the schema current.
  try {
    const r = await client.query<{ v: number | null }>(`SELECT max(version) AS v FROM ${q}.schema_migrations`);
    const v = r.rows[0]?.v ?? 0;
    if (v > latest) return { tooNew: v };
    if (v === latest) return { applied: [], current: v };
  } catch (e) {
    // 42P01 undefined_table, 3F000 invalid_schema_name: a new database. Anything else is real.
    const code = (e as { code?: string }).code;
    if (code !== '42P01' && code !== '3F000') throw e;
  }
  const applied: number[] = [];
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [ADVISORY_CLASS, `migrate:${schema}`]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${q}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${q}.schema_migrations (version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const r = await client.query<{ v: number | null }>(`SELECT max(version) AS v FROM ${q}.schema_migrations`);
    const current = r.rows[0]?.v ?? 0;
    if (current > latest) {
      await client.query('ROLLBACK');
      return { tooNew: current };
    }
    for (const m of migrations) {
      if (m.version <= current) continue;
      await client.query(m.up(q));
      await client.query(`INSERT INTO ${q}.schema_migrations (version, name) VALUES ($1, $2)`, [m.version, m.name]);
      applied.push(m.version);
    }
    await client.query('COMMIT');
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
  return { applied, current: latest };
}

/** quoteIdent quotes an SQL identifier. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
