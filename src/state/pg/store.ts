/**
 * PgStateStore keeps state, lock and journal of one workspace in PostgreSQL (backend "pg").
 *
 * Storage scales with the fleet: a workspace row (lineage, serial, outputs), one row per enforcer
 * host, per resource record and per applied-model resource. A save writes only the rows that
 * differ from what this store last read or wrote (it keeps their canonical JSON), so recording
 * one verified host of 1,000 writes one host row and the workspace row.
 *
 * Locking: a session advisory lock per workspace on this store's one connection, plus a holder
 * row saying who holds it. The lock dies with the connection (kill -9, a lost network): the next
 * run takes it without force-unlock and finds the dead holder's row (LockInfo.interrupted); the
 * journal says which hosts it left unverified. If the connection is lost mid-run, the store fails
 * every later call: the lock went with it, so nothing more may be written or touched.
 *
 * Every operation goes through one in-process queue: a journal insert must never land inside a
 * save's transaction (a rolled-back save would take the entry with it).
 */
import { randomUUID } from 'crypto';
import * as os from 'os';
// Types only: `pg` (~100 ms to load) is required when a pg store first connects, so local-backend
// runs never pay for it.
import type { Client, ClientConfig } from 'pg';
import { canonicalJson } from '../../canonical-json';
import { DiagnosticsError, makeDiagnostic } from '../../diagnostics';
import type { Model } from '../../model/types';
import { PACKAGE_VERSION } from '../../version';
import { StateCodes } from '../codes';
import { currentWho, describeHolder } from '../lock';
import { connectionFromRecord, connectionToRecord } from '../schema';
import {
  STATE_VERSION,
  type ConnectionRecord,
  type JournalEntry,
  type LockInfo,
  type LockOptions,
  type StateFile,
  type StateHost,
  type StateResource,
  type StateStore,
} from '../types';
import { ADVISORY_CLASS, LATEST_SCHEMA_VERSION, migrate, quoteIdent } from './migrations';
import { maskConnStr, redact } from './secrets';

export interface PgStateStoreOptions {
  connStr: string;
  schema: string;
  workspace: string;
  /** How long connecting may take (default 10 s). */
  connectTimeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

/** WriteStats counts what saves wrote (rows and JSON bytes), for the benchmark. */
export interface WriteStats {
  rows: number;
  bytes: number;
}

/** The Model keys stored as model_items rows (everything but `outputs`). */
const MODEL_KINDS = ['namespaces', 'enforcers', 'enforcerProfiles', 'processingUnits', 'externalNetworks', 'networkPolicies', 'enforcerTokens', 'expects'] as const;

/** What is stored, as canonical JSON per row: what the next save diffs against. */
interface Snapshot {
  lineage: string;
  serial: number;
  hosts: Map<string, string>;
  resources: Map<string, string>;
  model: Map<string, string>;
  head: string;
}

export const WORKSPACE_NAME = /^[A-Za-z0-9_.-]{1,90}$/;

export class PgStateStore implements StateStore {
  readonly schema: string;
  readonly workspace: string;
  readonly stats: WriteStats = { rows: 0, bytes: 0 };
  private readonly q: string;
  private client?: Client;
  private connecting?: Promise<Client>;
  private lost?: Error;
  private queue: Promise<unknown> = Promise.resolve();
  /** What is stored, as of the last load or save; built on first need (a plan loads and never saves). */
  private snap?: Snapshot | (() => Snapshot);
  private held?: LockInfo;

  constructor(private readonly opts: PgStateStoreOptions) {
    this.schema = opts.schema;
    this.workspace = opts.workspace;
    this.q = quoteIdent(opts.schema);
  }

  get description(): string {
    return `PostgreSQL ${maskConnStr(this.opts.connStr)} schema "${this.schema}" workspace "${this.workspace}"`;
  }

  // ---------------------------------------------------------------- connection and queue

  /** run executes `fn` alone on the connection (connecting and migrating on first use). */
  private run<T>(what: string, fn: (c: Client) => Promise<T>): Promise<T> {
    const next = this.queue.then(
      () => this.runNow(what, fn),
      () => this.runNow(what, fn),
    );
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async runNow<T>(what: string, fn: (c: Client) => Promise<T>): Promise<T> {
    const c = await this.connect();
    if (this.lost) throw this.lostError(what);
    try {
      return await fn(c);
    } catch (e) {
      if (DiagnosticsError.isInstance(e)) throw e;
      if (this.lost) throw this.lostError(what);
      throw this.queryError(what, e);
    }
  }

  /** connect opens the session once and brings the schema up to date. */
  connect(): Promise<Client> {
    if (this.lost) return Promise.reject(this.lostError('connect'));
    this.connecting ??= this.open();
    return this.connecting;
  }

  private async open(): Promise<Client> {
    const config: ClientConfig = {
      connectionString: this.opts.connStr,
      connectionTimeoutMillis: this.opts.connectTimeoutMs ?? 10_000,
      application_name: `microseg ${PACKAGE_VERSION}`,
      keepAlive: true,
    };
    const { Client: PgClient } = await import('pg');
    const c = new PgClient(config);
    // Without a listener a lost connection would crash the process; with one, the store refuses
    // everything afterwards (see the module comment).
    c.on('error', (e) => {
      this.lost ??= e;
    });
    c.on('end', () => {
      if (!this.closed) this.lost ??= new Error('the server closed the connection');
    });
    try {
      await c.connect();
    } catch (e) {
      this.connecting = undefined;
      await c.end().catch(() => undefined);
      throw this.connectError(e);
    }
    try {
      const r = await migrate(c, this.schema);
      if ('tooNew' in r) {
        throw new DiagnosticsError(
          [
            makeDiagnostic(
              'error',
              StateCodes.schemaTooNew,
              `Schema "${this.schema}" was migrated by a newer microseg (schema version ${r.tooNew}, this microseg knows ${LATEST_SCHEMA_VERSION})`,
              `This is microseg ${PACKAGE_VERSION}. Upgrade it; an older microseg could not tell which objects on the hosts it owns.`,
            ),
          ],
          'user',
        );
      }
    } catch (e) {
      this.closed = true;
      await c.end().catch(() => undefined);
      this.connecting = undefined;
      if (DiagnosticsError.isInstance(e)) throw e;
      throw new DiagnosticsError(
        [makeDiagnostic('error', StateCodes.migration, `Cannot prepare schema "${this.schema}" in PostgreSQL`, `${this.clean(e)}. Nothing was changed (migrations run in one transaction).`)],
        'tool',
      );
    }
    this.client = c;
    return c;
  }

  private closed = false;

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const c = this.client ?? (this.connecting ? await this.connecting.catch(() => undefined) : undefined);
    await c?.end().catch(() => undefined);
  }

  private clean(e: unknown): string {
    const msg = (e as Error)?.message ?? String(e);
    return redact(msg, this.opts.connStr);
  }

  private connectError(e: unknown): DiagnosticsError {
    const code = (e as { code?: string }).code;
    const hint =
      code === '28P01' || code === '28000'
        ? 'Check the user and password in PG_CONN_STR (or conn_str).'
        : code === '3D000'
          ? 'The database does not exist: create it, or fix the database name in the connection string.'
          : 'Is PostgreSQL running and reachable from here? Check host and port in PG_CONN_STR (or conn_str).';
    return new DiagnosticsError(
      [
        makeDiagnostic(
          'error',
          StateCodes.pgConnect,
          `Cannot connect to the PostgreSQL state backend`,
          `${this.clean(e)}${code ? ` (SQLSTATE ${code})` : ''}\nConnection: ${maskConnStr(this.opts.connStr)}\n${hint} Nothing was read or changed on any host.`,
        ),
      ],
      'user',
    );
  }

  private queryError(what: string, e: unknown): DiagnosticsError {
    const code = (e as { code?: string }).code;
    return new DiagnosticsError(
      [makeDiagnostic('error', StateCodes.pgQuery, `PostgreSQL state backend: cannot ${what}`, `${this.clean(e)}${code ? ` (SQLSTATE ${code})` : ''}`)],
      'tool',
    );
  }

  private lostError(what: string): DiagnosticsError {
    return new DiagnosticsError(
      [
        makeDiagnostic(
          'error',
          StateCodes.pgQuery,
          `Lost the connection to the PostgreSQL state backend (while trying to ${what})`,
          `${this.clean(this.lost)}. The workspace lock was held by that connection and is gone with it, so this run stops here: ` +
            'nothing more is recorded and no further host is touched. Run `microseg plan` again: it reads every host back.',
        ),
      ],
      'tool',
    );
  }

  // ---------------------------------------------------------------- workspaces

  /** listWorkspaces names every workspace, sorted. */
  async listWorkspaces(): Promise<string[]> {
    return this.run('list workspaces', async (c) => (await c.query<{ name: string }>(`SELECT name FROM ${this.q}.workspaces ORDER BY name COLLATE "C"`)).rows.map((r) => r.name));
  }

  async workspaceExists(name: string = this.workspace): Promise<boolean> {
    return this.run('read workspaces', async (c) => (await c.query(`SELECT 1 FROM ${this.q}.workspaces WHERE name = $1`, [name])).rowCount === 1);
  }

  /** createWorkspace returns false when it exists already. */
  async createWorkspace(name: string): Promise<boolean> {
    return this.run('create a workspace', async (c) => (await c.query(`INSERT INTO ${this.q}.workspaces (name) VALUES ($1) ON CONFLICT DO NOTHING`, [name])).rowCount === 1);
  }

  /**
   * deleteWorkspace removes a workspace with its state, journal and holder record, under its lock
   * (taken with try: a workspace in use is not deleted). Returns the number of hosts its state
   * still recorded (the caller refuses first unless forced).
   */
  async deleteWorkspace(name: string): Promise<void> {
    return this.run('delete a workspace', async (c) => {
      const key = [ADVISORY_CLASS, `${this.schema}/${name}`];
      const got = (await c.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS ok', key)).rows[0].ok;
      if (!got) {
        throw new DiagnosticsError(
          [makeDiagnostic('error', StateCodes.locked, `Workspace "${name}" is locked by a running microseg`, 'Wait for that run to finish, then delete the workspace.')],
          'user',
        );
      }
      try {
        await c.query(`DELETE FROM ${this.q}.workspaces WHERE name = $1`, [name]);
      } finally {
        await c.query('SELECT pg_advisory_unlock($1, hashtext($2))', key);
      }
    });
  }

  /** hostCount is how many host records a workspace's state holds. */
  async hostCount(name: string): Promise<number> {
    return this.run('read workspaces', async (c) => Number((await c.query<{ n: string }>(`SELECT count(*) AS n FROM ${this.q}.hosts WHERE workspace = $1`, [name])).rows[0].n));
  }

  private noWorkspace(): DiagnosticsError {
    return new DiagnosticsError(
      [
        makeDiagnostic(
          'error',
          StateCodes.noWorkspace,
          `Workspace "${this.workspace}" does not exist in schema "${this.schema}"`,
          `Create it with \`microseg workspace new ${this.workspace}\`, or select an existing one (\`microseg workspace list\`; MICROSEG_WORKSPACE overrides the selection).`,
        ),
      ],
      'user',
    );
  }

  // ---------------------------------------------------------------- state

  async load(): Promise<StateFile | undefined> {
    return this.run('read state', async (c) => {
      const ws = await c.query<{ lineage: string | null; serial: string; format_version: number | null; microseg_version: string | null; outputs: unknown; has_model: boolean }>(
        `SELECT lineage, serial, format_version, microseg_version, outputs, has_model FROM ${this.q}.workspaces WHERE name = $1`,
        [this.workspace],
      );
      if (ws.rowCount === 0) throw this.noWorkspace();
      const w = ws.rows[0];
      if (w.lineage === null) {
        this.snap = undefined;
        return undefined;
      }
      if (w.format_version !== null && w.format_version > STATE_VERSION) {
        throw new DiagnosticsError(
          [
            makeDiagnostic(
              'error',
              StateCodes.versionTooNew,
              `State of workspace "${this.workspace}" uses format version ${w.format_version}, newer than this microseg supports (${STATE_VERSION})`,
              `It was written by microseg ${w.microseg_version ?? '(unknown version)'}; this is microseg ${PACKAGE_VERSION}. Upgrade microseg.`,
            ),
          ],
          'user',
        );
      }
      // ::text: node-postgres would parse jsonb into objects anyway; the text is kept for the diff.
      const hostRows = (await c.query<{ enforcer: string; record: string }>(`SELECT enforcer, record::text AS record FROM ${this.q}.hosts WHERE workspace = $1`, [this.workspace])).rows;
      const resRows = (await c.query<{ address: string; record: string }>(`SELECT address, record::text AS record FROM ${this.q}.resources WHERE workspace = $1`, [this.workspace])).rows;
      const modelRows = w.has_model
        ? (await c.query<{ kind: string; name: string; ord: number; item: string }>(`SELECT kind, name, ord, item::text AS item FROM ${this.q}.model_items WHERE workspace = $1`, [this.workspace])).rows
        : [];
      const hosts: StateFile['hosts'] = {};
      for (const r of hostRows.sort((a, b) => cmp(a.enforcer, b.enforcer))) {
        const rec = JSON.parse(r.record) as Omit<StateHost, 'connection'> & { connection: ConnectionRecord };
        hosts[r.enforcer] = { ...rec, connection: connectionFromRecord(rec.connection) };
      }
      const resources: StateResource[] = [];
      for (const r of resRows.sort((a, b) => cmp(a.address, b.address))) resources.push(JSON.parse(r.record) as StateResource);
      const state: StateFile = { version: STATE_VERSION, serial: Number(w.serial), lineage: w.lineage, microseg_version: w.microseg_version ?? PACKAGE_VERSION, resources, hosts };
      if (w.has_model) {
        const model: Record<string, unknown> = { outputs: w.outputs ?? {} };
        for (const k of MODEL_KINDS) model[k] = [];
        for (const r of modelRows.sort((a, b) => cmp(a.kind, b.kind) || cmp(a.name, b.name) || a.ord - b.ord)) {
          ((model[r.kind] ??= []) as unknown[]).push(JSON.parse(r.item));
        }
        state.applied_model = model as unknown as Model;
      }
      // What the rows hold, for the next save's diff: built from the rows' text (not from `state`,
      // which the caller may change in place) when a save first needs it. Building it is a third
      // of a 1,000-host load, and a plan never saves.
      const head = headOf(state);
      this.snap = () => {
        const snap: Snapshot = { lineage: w.lineage!, serial: Number(w.serial), hosts: new Map(), resources: new Map(), model: new Map(), head };
        for (const r of hostRows) snap.hosts.set(r.enforcer, canonicalJson(JSON.parse(r.record)));
        for (const r of resRows) snap.resources.set(r.address, canonicalJson(JSON.parse(r.record)));
        for (const r of modelRows) snap.model.set(modelKey(r.kind, r.name, r.ord), canonicalJson(JSON.parse(r.item)));
        return snap;
      };
      return state;
    });
  }

  /**
   * save writes `state` with serial + 1 in one transaction, refusing another lineage (MSEG8004)
   * or a serial that is not the stored one (MSEG8005), like the local backend. Only rows that
   * differ from the stored state are written.
   */
  async save(state: StateFile): Promise<StateFile> {
    const next: StateFile = {
      ...state,
      version: STATE_VERSION,
      serial: state.serial + 1,
      microseg_version: PACKAGE_VERSION,
      resources: [...state.resources].sort((a, b) => cmp(a.address, b.address)),
    };
    await this.write(next, { expect: { lineage: state.lineage, serial: state.serial } });
    return next;
  }

  async replace(state: StateFile): Promise<void> {
    await this.write(state, {});
  }

  private async write(next: StateFile, how: { expect?: { lineage: string; serial: number } }): Promise<void> {
    await this.run('write state', async (c) => {
      await c.query('BEGIN');
      try {
        const ws = await c.query<{ lineage: string | null; serial: string }>(`SELECT lineage, serial FROM ${this.q}.workspaces WHERE name = $1 FOR UPDATE`, [this.workspace]);
        if (ws.rowCount === 0) throw this.noWorkspace();
        const stored = ws.rows[0].lineage === null ? undefined : { lineage: ws.rows[0].lineage, serial: Number(ws.rows[0].serial) };
        if (how.expect && stored) {
          if (stored.lineage !== how.expect.lineage) {
            throw new DiagnosticsError(
              [
                makeDiagnostic(
                  'error',
                  StateCodes.lineageMismatch,
                  'Refusing to overwrite state of another lineage',
                  `Workspace "${this.workspace}" has lineage ${stored.lineage}; the state being saved has lineage ${how.expect.lineage}. They are different states.`,
                ),
              ],
              'tool',
            );
          }
          if (stored.serial !== how.expect.serial) {
            throw new DiagnosticsError(
              [
                makeDiagnostic(
                  'error',
                  StateCodes.serialConflict,
                  'State changed since it was loaded',
                  `Workspace "${this.workspace}" is at serial ${stored.serial}, but this run loaded serial ${how.expect.serial}. Another run wrote it in between. Nothing was written; plan again.`,
                ),
              ],
              'tool',
            );
          }
        }
        // What is stored now: our snapshot when it is of the stored serial, else read from the rows.
        const snap = typeof this.snap === 'function' ? (this.snap = this.snap()) : this.snap;
        const base = stored && snap && snap.lineage === stored.lineage && snap.serial === stored.serial ? snap : stored ? await this.readSnapshot(c) : emptySnapshot();
        const want = snapshotOf(next);
        const stats: WriteStats = { rows: 0, bytes: 0 };
        const hostRecords = new Map(Object.entries(next.hosts).map(([e, h]) => [e, { ...h, connection: connectionToRecord(h.connection) }] as const));
        await this.sync(c, stats, 'hosts', base.hosts, want.hosts, ['enforcer'], (k) => [k], (k) => [hostRecords.get(k)!.status], ['status']);
        await this.sync(c, stats, 'resources', base.resources, want.resources, ['address'], (k) => [k]);
        await this.sync(c, stats, 'model_items', base.model, want.model, ['kind', 'name', 'ord'], (k) => splitModelKey(k));
        const model = next.applied_model;
        await c.query(
          `UPDATE ${this.q}.workspaces SET lineage = $2, serial = $3, format_version = $4, microseg_version = $5, outputs = $6::jsonb, has_model = $7, updated_at = now() WHERE name = $1`,
          [this.workspace, next.lineage, next.serial, STATE_VERSION, next.microseg_version, model ? JSON.stringify(model.outputs ?? {}) : null, model !== undefined],
        );
        stats.rows += 1;
        stats.bytes += model ? JSON.stringify(model.outputs ?? {}).length : 0;
        await c.query('COMMIT');
        this.stats.rows += stats.rows;
        this.stats.bytes += stats.bytes;
        this.snap = want;
      } catch (e) {
        this.snap = undefined;
        await c.query('ROLLBACK').catch(() => undefined);
        throw e;
      }
    });
  }

  /**
   * sync makes `table`'s rows of this workspace go from `have` to `want` (canonical JSON by key):
   * upserts what differs, deletes what is gone, in one statement each.
   */
  private async sync(
    c: Client,
    stats: WriteStats,
    table: string,
    have: ReadonlyMap<string, string>,
    want: ReadonlyMap<string, string>,
    keyCols: string[],
    keyVals: (k: string) => unknown[],
    extraVals: (k: string) => unknown[] = () => [],
    extraCols: string[] = [],
  ): Promise<void> {
    const jsonCol = table === 'model_items' ? 'item' : 'record';
    const upserts = [...want].filter(([k, v]) => have.get(k) !== v);
    const deletes = [...have.keys()].filter((k) => !want.has(k));
    if (upserts.length) {
      const cols = [...keyCols, ...extraCols, jsonCol];
      // One array parameter per column, unnested: one statement however many rows.
      const arrays: unknown[][] = cols.map(() => []);
      for (const [k, v] of upserts) {
        const vals = [...keyVals(k), ...extraVals(k), v];
        vals.forEach((x, i) => arrays[i].push(x));
        stats.rows += 1;
        stats.bytes += v.length;
      }
      const types = cols.map((col) => (col === 'ord' ? 'int[]' : 'text[]'));
      const select = cols.map((col, i) => (col === jsonCol ? `u.c${i}::jsonb` : `u.c${i}`)).join(', ');
      await c.query(
        `INSERT INTO ${this.q}.${table} (workspace, ${cols.join(', ')})
         SELECT $1, ${select} FROM unnest(${cols.map((_, i) => `$${i + 2}::${types[i]}`).join(', ')}) AS u(${cols.map((_, i) => `c${i}`).join(', ')})
         ON CONFLICT (workspace, ${keyCols.join(', ')}) DO UPDATE SET ${[...extraCols, jsonCol].map((col) => `${col} = EXCLUDED.${col}`).join(', ')}${table === 'hosts' ? ', updated_at = now()' : ''}`,
        [this.workspace, ...arrays],
      );
    }
    if (deletes.length) {
      const arrays: unknown[][] = keyCols.map(() => []);
      for (const k of deletes) keyVals(k).forEach((x, i) => arrays[i].push(x));
      stats.rows += deletes.length;
      await c.query(
        `DELETE FROM ${this.q}.${table} t USING unnest(${keyCols.map((col, i) => `$${i + 2}::${col === 'ord' ? 'int[]' : 'text[]'}`).join(', ')}) AS d(${keyCols.join(', ')})
         WHERE t.workspace = $1 AND ${keyCols.map((col) => `t.${col} = d.${col}`).join(' AND ')}`,
        [this.workspace, ...arrays],
      );
    }
  }

  private async readSnapshot(c: Client): Promise<Snapshot> {
    const s = emptySnapshot();
    for (const r of (await c.query<{ enforcer: string; record: unknown }>(`SELECT enforcer, record FROM ${this.q}.hosts WHERE workspace = $1`, [this.workspace])).rows) s.hosts.set(r.enforcer, canonicalJson(r.record));
    for (const r of (await c.query<{ address: string; record: unknown }>(`SELECT address, record FROM ${this.q}.resources WHERE workspace = $1`, [this.workspace])).rows) s.resources.set(r.address, canonicalJson(r.record));
    for (const r of (await c.query<{ kind: string; name: string; ord: number; item: unknown }>(`SELECT kind, name, ord, item FROM ${this.q}.model_items WHERE workspace = $1`, [this.workspace])).rows) {
      s.model.set(modelKey(r.kind, r.name, r.ord), canonicalJson(r.item));
    }
    return s;
  }

  // ---------------------------------------------------------------- lock

  /** acquireLock takes the workspace's session advisory lock, retrying until `timeoutMs`. */
  async acquireLock(opts: LockOptions): Promise<LockInfo> {
    const deadline = Date.now() + opts.timeoutMs;
    const retry = opts.retryMs ?? 250;
    for (;;) {
      const r = await this.run('take the workspace lock', async (c) => {
        const exists = await c.query(`SELECT 1 FROM ${this.q}.workspaces WHERE name = $1`, [this.workspace]);
        if (exists.rowCount === 0) throw this.noWorkspace();
        const ok = (await c.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS ok', this.lockKey())).rows[0].ok;
        if (!ok) return { taken: false as const, holder: await this.liveHolder(c) };
        const prev = await this.holder(c);
        const info = newHolder(opts.operation, this.opts.env ?? process.env);
        if (prev) info.interrupted = prev;
        await c.query(
          `INSERT INTO ${this.q}.lock_holders (workspace, id, who, operation, pid, hostname, since, ci_job_url, session_pid)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, pg_backend_pid())
           ON CONFLICT (workspace) DO UPDATE SET id = EXCLUDED.id, who = EXCLUDED.who, operation = EXCLUDED.operation, pid = EXCLUDED.pid,
             hostname = EXCLUDED.hostname, since = EXCLUDED.since, ci_job_url = EXCLUDED.ci_job_url, session_pid = EXCLUDED.session_pid`,
          [this.workspace, info.id, info.who, info.operation, info.pid, info.hostname, info.created, info.ci_job_url ?? null],
        );
        this.held = info;
        return { taken: true as const, info };
      });
      if (r.taken) return r.info;
      if (Date.now() >= deadline) throw this.lockedError(r.holder, opts);
      await new Promise((res) => setTimeout(res, Math.min(retry, Math.max(1, deadline - Date.now()))));
    }
  }

  async unlock(lock: LockInfo): Promise<void> {
    if (this.lost || this.closed) return; // the lock went with the connection
    await this.run('release the workspace lock', async (c) => {
      if (this.held?.id !== lock.id) return;
      await c.query(`DELETE FROM ${this.q}.lock_holders WHERE workspace = $1 AND id = $2`, [this.workspace, lock.id]);
      await c.query('SELECT pg_advisory_unlock($1, hashtext($2))', this.lockKey());
      this.held = undefined;
    });
  }

  /**
   * forceUnlock clears the holder record `id` when its session is gone (the lock can be taken),
   * and refuses while the holder's session still holds the lock: that run is alive.
   */
  async forceUnlock(id: string): Promise<void> {
    await this.run('force-unlock', async (c) => {
      const h = await this.holder(c);
      if (!h) {
        throw new DiagnosticsError([makeDiagnostic('error', StateCodes.notLocked, `Workspace "${this.workspace}" has no lock holder record`, 'There is nothing to unlock.')], 'user');
      }
      if (h.id !== id) {
        throw new DiagnosticsError(
          [makeDiagnostic('error', StateCodes.unlockIdMismatch, `Lock ID ${id} is not the holder of workspace "${this.workspace}"`, `The holder record is ${h.id}: ${describeHolder(h)}. Nothing was removed.`)],
          'user',
        );
      }
      const ok = (await c.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS ok', this.lockKey())).rows[0].ok;
      if (!ok) {
        throw new DiagnosticsError(
          [
            makeDiagnostic(
              'error',
              StateCodes.holderAlive,
              `Refusing to force-unlock: the holder of workspace "${this.workspace}" is alive`,
              `Lock ID: ${h.id}\nHeld by: ${describeHolder(h)}${h.ci_job_url ? `\nCI job: ${h.ci_job_url}` : ''}\nIts database session still holds the lock, so that run is still going. ` +
                'Stop it (its lock is released when its connection closes, even after kill -9), or wait for it.',
            ),
          ],
          'user',
        );
      }
      await c.query(`DELETE FROM ${this.q}.lock_holders WHERE workspace = $1 AND id = $2`, [this.workspace, id]);
      await c.query('SELECT pg_advisory_unlock($1, hashtext($2))', this.lockKey());
    });
  }

  private lockKey(): [number, string] {
    return [ADVISORY_CLASS, `${this.schema}/${this.workspace}`];
  }

  /**
   * liveHolder is the holder record of the session that holds the lock now. The winner takes the
   * advisory lock before it writes its row, so a loser that reads at once can find no row, or the
   * row of a run killed earlier; it looks again for a moment (bounded) before naming nobody.
   */
  private async liveHolder(c: Client): Promise<LockInfo | undefined> {
    for (let i = 0; i < 20; i++) {
      const r = await c.query(
        `SELECT 1 FROM ${this.q}.lock_holders h WHERE h.workspace = $1
           AND EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted AND l.pid = h.session_pid)`,
        [this.workspace],
      );
      if ((r.rowCount ?? 0) > 0) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    return this.holder(c);
  }

  private async holder(c: Client): Promise<LockInfo | undefined> {
    const r = await c.query<{ id: string; who: string; operation: string; pid: number; hostname: string; since: Date; ci_job_url: string | null }>(
      `SELECT id, who, operation, pid, hostname, since, ci_job_url FROM ${this.q}.lock_holders WHERE workspace = $1`,
      [this.workspace],
    );
    if (r.rowCount === 0) return undefined;
    const h = r.rows[0];
    const info: LockInfo = { id: h.id, who: h.who, operation: h.operation, pid: h.pid, hostname: h.hostname, created: new Date(h.since).toISOString() };
    if (h.ci_job_url) info.ci_job_url = h.ci_job_url;
    return info;
  }

  private lockedError(h: LockInfo | undefined, opts: LockOptions): DiagnosticsError {
    const who = h ? h.who : 'another microseg run';
    return new DiagnosticsError(
      [
        makeDiagnostic(
          'error',
          StateCodes.locked,
          `Workspace "${this.workspace}" is locked by ${who}`,
          (h ? `Lock ID: ${h.id}\nHeld by: ${describeHolder(h)}\n${h.ci_job_url ? `CI job: ${h.ci_job_url}\n` : ''}` : '') +
            `Backend: ${this.description}\nWaited ${opts.timeoutMs} ms. Wait for that run to finish, or raise --lock-timeout.`,
        ),
      ],
      'user',
    );
  }

  // ---------------------------------------------------------------- journal

  async journal(entry: JournalEntry): Promise<void> {
    try {
      await this.run('write the apply journal', async (c) => {
        await c.query(`INSERT INTO ${this.q}.journal (workspace, ts, run_id, enforcer, phase, detail) VALUES ($1, $2, $3, $4, $5, $6)`, [
          this.workspace,
          entry.ts,
          entry.run_id,
          entry.enforcer,
          entry.phase,
          entry.detail ?? null,
        ]);
      });
    } catch (e) {
      const d = DiagnosticsError.isInstance(e) ? e.diagnostics[0] : undefined;
      throw new DiagnosticsError(
        [makeDiagnostic('error', StateCodes.journal, `Cannot write the apply journal (${this.description})`, `${d ? `${d.summary}: ${d.detail ?? ''}` : this.clean(e)}. No host is touched without a journal entry first.`)],
        'tool',
      );
    }
  }

  async readJournal(opts: { latestPerEnforcer?: boolean } = {}): Promise<JournalEntry[]> {
    return this.run('read the apply journal', async (c) => {
      const sql = opts.latestPerEnforcer
        ? `SELECT * FROM (SELECT DISTINCT ON (enforcer) id, ts, run_id, enforcer, phase, detail FROM ${this.q}.journal WHERE workspace = $1 ORDER BY enforcer, id DESC) j ORDER BY id`
        : `SELECT id, ts, run_id, enforcer, phase, detail FROM ${this.q}.journal WHERE workspace = $1 ORDER BY id`;
      const r = await c.query<{ ts: Date; run_id: string; enforcer: string; phase: JournalEntry['phase']; detail: string | null }>(sql, [this.workspace]);
      return r.rows.map((x) => {
        const e: JournalEntry = { ts: new Date(x.ts).toISOString(), run_id: x.run_id, enforcer: x.enforcer, phase: x.phase };
        if (x.detail !== null) e.detail = x.detail;
        return e;
      });
    });
  }
}

/** newHolder describes this process as a lock holder. */
function newHolder(operation: string, env: NodeJS.ProcessEnv): LockInfo {
  const info: LockInfo = { id: randomUUID(), who: currentWho(), operation, pid: process.pid, hostname: os.hostname(), created: new Date().toISOString() };
  const url = ciJobUrl(env);
  if (url) info.ci_job_url = url;
  return info;
}


/** ciJobUrl is the URL of the CI job this process runs in, when the environment names one. */
export function ciJobUrl(env: NodeJS.ProcessEnv): string | undefined {
  if (env.GITHUB_SERVER_URL && env.GITHUB_REPOSITORY && env.GITHUB_RUN_ID) {
    return `${env.GITHUB_SERVER_URL}/${env.GITHUB_REPOSITORY}/actions/runs/${env.GITHUB_RUN_ID}${env.GITHUB_RUN_ATTEMPT ? `/attempts/${env.GITHUB_RUN_ATTEMPT}` : ''}`;
  }
  return env.CI_JOB_URL || env.BUILDKITE_BUILD_URL || env.CIRCLE_BUILD_URL || env.BUILD_URL || undefined;
}

function emptySnapshot(): Snapshot {
  return { lineage: '', serial: -1, hosts: new Map(), resources: new Map(), model: new Map(), head: '' };
}

/** snapshotOf is what storing `state` leaves in the rows, as canonical JSON by key. */
function snapshotOf(state: StateFile): Snapshot {
  const s: Snapshot = { lineage: state.lineage, serial: state.serial, hosts: new Map(), resources: new Map(), model: new Map(), head: headOf(state) };
  for (const [e, h] of Object.entries(state.hosts)) s.hosts.set(e, canonicalJson({ ...h, connection: connectionToRecord(h.connection) }));
  for (const r of state.resources) s.resources.set(r.address, canonicalJson(r));
  const m = state.applied_model as unknown as Record<string, Array<{ name: string }>> | undefined;
  if (m) {
    for (const kind of MODEL_KINDS) {
      const seen = new Map<string, number>();
      for (const item of m[kind] ?? []) {
        const ord = seen.get(item.name) ?? 0;
        seen.set(item.name, ord + 1);
        s.model.set(modelKey(kind, item.name, ord), canonicalJson(item));
      }
    }
  }
  return s;
}

function headOf(state: StateFile): string {
  return canonicalJson({ lineage: state.lineage, serial: state.serial, outputs: state.applied_model?.outputs ?? null });
}

function modelKey(kind: string, name: string, ord: number): string {
  return `${kind}\u0000${ord}\u0000${name}`;
}

function splitModelKey(k: string): [string, string, number] {
  const [kind, ord, ...rest] = k.split('\u0000');
  return [kind, rest.join('\u0000'), Number(ord)];
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
