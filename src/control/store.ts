/**
 * ControlStore keeps the control plane's records in the pg backend's database and schema: the CAs
 * (keys sealed), registration tokens (secrets hashed) and the certificates issued to enforcers
 * (with revocations). Every decision that spans replicas runs in one transaction with the rows it
 * depends on locked, so two servers answering two registrations on one token at once cannot both
 * take its last quota, and two servers starting on an empty database create one CA. The tables
 * are the state backend's migration 2 (src/state/pg/migrations.ts).
 */
import type { Pool, PoolClient, QueryResult, QueryResultRow } from 'pg';
import {
  caSecret,
  createCa,
  issueClientCertificate,
  rotationStep,
  startRotation,
  trustBundle,
  type AgentTrust,
  type CaRecord,
  type CaRole,
  type IssuedCertificate,
  type RotationStep,
} from './ca';
import { ADVISORY_CLASS, quoteIdent } from '../state/pg/migrations';
import { checkRegistration, type TokenDecision, type TokenRecord } from './tokens';
import { createDelta, documentEtag, type PatchOperation } from './delta';

/** The NOTIFY payload of a publish: workspace and enforcer (a newline cannot be in either). */
function notifyPayload(workspace: string, enforcer: string): string {
  return `${workspace}\n${enforcer}`;
}

/**
 * Payloads on the control channel, which tells every replica to drop what it caches: `ca` (the
 * CAs changed; they are per database) and `revoke\nWORKSPACE\nENFORCER` (certificates revoked).
 */
const CA_CHANGED = 'ca';
function revokePayload(workspace: string, enforcer: string): string {
  return `revoke\n${workspace}\n${enforcer}`;
}

/** What a long-poll needs about one enforcer's ruleset, read in one round trip (ControlStore.answer). */
export interface RulesetAnswer {
  etag: string;
  publishedAt: string;
  /** The patch from the caller's etag, when asked for, the document changed and one is kept. */
  patch?: PatchOperation[];
  /** The whole document, when it changed and no patch answers. */
  desired?: unknown;
}

/** How busy a store's connection pool is (the server sheds load on it). */
export interface PoolLoad {
  max: number;
  total: number;
  idle: number;
  /** Queries queued for a connection. */
  waiting: number;
  /** Recent time to answer a query, connection wait included (moving average, ms). */
  latencyMs: number;
}


export type Registration =
  | { ok: true; cert: IssuedCertificate; bundle: string; token: TokenRecord }
  | Extract<TokenDecision, { ok: false }>;

export class ControlStore {
  private readonly q: string;
  /** Moving average of the time the hot queries took, waiting for a connection included (poolLoad). */
  private latencyMs = 0;

  constructor(
    private readonly pool: Pool,
    readonly schema: string,
    readonly workspace: string,
  ) {
    this.q = quoteIdent(schema);
  }

  /** timed runs one of the per-request queries and folds its time into latencyMs (what a 503's Retry-After is made of). */
  private async timed<R extends QueryResultRow>(text: string, values: unknown[]): Promise<QueryResult<R>> {
    const t = Date.now();
    try {
      return await this.pool.query<R>(text, values);
    } finally {
      const ms = Date.now() - t;
      this.latencyMs = this.latencyMs === 0 ? ms : 0.8 * this.latencyMs + 0.2 * ms;
    }
  }

  private async tx<T>(fn: (c: PoolClient) => Promise<T>): Promise<T> {
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      const out = await fn(c);
      await c.query('COMMIT');
      return out;
    } catch (e) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      c.release();
    }
  }

  async cas(c: Pool | PoolClient = this.pool): Promise<CaRecord[]> {
    const r = await c.query<{ id: string; cert_pem: string; sealed_key: CaRecord['key']; role: CaRole; created_at: Date }>(
      `SELECT id, cert_pem, sealed_key, role, created_at FROM ${this.q}.control_cas ORDER BY created_at, id`,
    );
    return r.rows.map((x) => ({ id: x.id, certPem: x.cert_pem, key: x.sealed_key, role: x.role, createdAt: x.created_at.toISOString() }));
  }

  private async lockCas(c: PoolClient): Promise<void> {
    await c.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [ADVISORY_CLASS, `ca:${this.schema}`]);
  }

  /** notifyControl tells every replica's cache (ControlStore.listen) to drop what `payload` names; sent on commit. */
  private async notifyControl(c: PoolClient, payload: string): Promise<void> {
    await c.query('SELECT pg_notify($1, $2)', [this.controlChannel, payload]);
  }

  private async writeCas(c: PoolClient, cas: readonly CaRecord[]): Promise<void> {
    // Demote before promote: the one-signing index checks each statement.
    const ordered = [...cas].sort((a, b) => (a.role === 'signing' ? 1 : 0) - (b.role === 'signing' ? 1 : 0));
    for (const ca of ordered) {
      await c.query(
        `INSERT INTO ${this.q}.control_cas (id, cert_pem, sealed_key, role, created_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (id) DO UPDATE SET role = EXCLUDED.role`,
        [ca.id, ca.certPem, JSON.stringify(ca.key), ca.role, ca.createdAt],
      );
    }
  }

  /** ensureCa returns the CAs, creating the first one if there is none (first start of the first replica). */
  async ensureCa(now: Date, secret = caSecret()): Promise<{ cas: CaRecord[]; created: boolean }> {
    return this.tx(async (c) => {
      await this.lockCas(c);
      const cas = await this.cas(c);
      if (cas.length > 0) return { cas, created: false };
      const ca = await createCa({ secret, now });
      await this.writeCas(c, [ca]);
      await this.notifyControl(c, CA_CHANGED);
      return { cas: [ca], created: true };
    });
  }

  async bundle(): Promise<string> {
    return trustBundle(await this.cas());
  }

  /** rotate stages a new CA (`microseg ca rotate`). */
  async rotate(now: Date, secret = caSecret()): Promise<CaRecord[]> {
    return this.tx(async (c) => {
      await this.lockCas(c);
      const next = await startRotation(await this.cas(c), secret, now);
      await this.writeCas(c, next);
      await this.notifyControl(c, CA_CHANGED);
      return next;
    });
  }

  /** agentTrust lists the agents holding a live certificate, what they trust and which CA signed their newest certificate. */
  async agentTrust(c: Pool | PoolClient = this.pool, now = new Date()): Promise<AgentTrust[]> {
    const r = await c.query<{ enforcer: string; ca_id: string; trusts: string[] | null }>(
      `SELECT DISTINCT ON (k.enforcer) k.enforcer, k.ca_id, t.trusts
         FROM ${this.q}.control_certs k
         LEFT JOIN ${this.q}.control_agent_trust t ON t.workspace = k.workspace AND t.enforcer = k.enforcer
        WHERE k.revoked_at IS NULL AND k.not_after > $1
        ORDER BY k.enforcer, k.issued_at DESC`,
      [now],
    );
    return r.rows.map((x) => ({ enforcer: x.enforcer, certCaId: x.ca_id, trusts: x.trusts ?? [] }));
  }

  /** advanceRotation takes the rotation's next step if the fleet is ready (or `force`); any replica may call it. */
  async advanceRotation(now: Date, force = false): Promise<RotationStep> {
    return this.tx(async (c) => {
      await this.lockCas(c);
      const step = rotationStep(await this.cas(c), await this.agentTrust(c, now), force);
      if (step.step === 'promote' || step.step === 'retire') {
        await this.writeCas(c, step.cas);
        await this.notifyControl(c, CA_CHANGED);
      }
      return step;
    });
  }

  async reportTrust(enforcer: string, trusts: string[], now: Date): Promise<void> {
    await this.pool.query(
      `INSERT INTO ${this.q}.control_agent_trust (workspace, enforcer, trusts, seen_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (workspace, enforcer) DO UPDATE SET trusts = EXCLUDED.trusts, seen_at = EXCLUDED.seen_at`,
      [this.workspace, enforcer, JSON.stringify(trusts), now],
    );
  }

  // ---------------------------------------------------------------- tokens

  async addToken(t: TokenRecord): Promise<void> {
    const { secretHash, ...record } = t;
    await this.pool.query(
      `INSERT INTO ${this.q}.control_tokens (workspace, id, name, record, secret_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
      [this.workspace, t.id, t.name, JSON.stringify(record), secretHash, t.createdAt],
    );
  }

  private async tokenRows(c: Pool | PoolClient, where: string, args: unknown[], forUpdate = false): Promise<TokenRecord[]> {
    const r = await c.query<{ record: Omit<TokenRecord, 'secretHash'>; secret_hash: string }>(
      `SELECT record, secret_hash FROM ${this.q}.control_tokens WHERE workspace = $1 AND ${where} ORDER BY created_at, id${forUpdate ? ' FOR UPDATE' : ''}`,
      [this.workspace, ...args],
    );
    return r.rows.map((x) => ({ ...x.record, secretHash: x.secret_hash }));
  }

  async tokens(): Promise<TokenRecord[]> {
    return this.tokenRows(this.pool, 'true', []);
  }

  /** revokeTokens revokes the tokens with this name or id; returns how many it revoked. */
  async revokeTokens(nameOrId: string, now: Date): Promise<number> {
    return this.tx(async (c) => {
      const ts = (await this.tokenRows(c, '(name = $2 OR id = $2)', [nameOrId], true)).filter((t) => !t.revokedAt);
      for (const t of ts) await this.putToken(c, { ...t, revokedAt: now.toISOString() });
      return ts.length;
    });
  }

  /**
   * updateToken changes a live token's terms (an enforcer_token resource's roles, networks, quota,
   * validity or namespace changed): same id and secret, so agents holding it keep it; the row is
   * locked so a registration deciding on it at the same moment sees the old terms or the new, whole.
   */
  async updateToken(id: string, terms: Pick<TokenRecord, 'namespace' | 'roles' | 'networks' | 'quota' | 'expiresAt'>): Promise<TokenRecord | undefined> {
    return this.tx(async (c) => {
      const [t] = await this.tokenRows(c, 'id = $2', [id], true);
      if (!t || t.revokedAt) return undefined;
      const next = { ...t, ...terms };
      await this.putToken(c, next);
      return next;
    });
  }

  private async putToken(c: PoolClient, t: TokenRecord): Promise<void> {
    const { secretHash: _h, ...record } = t;
    await c.query(`UPDATE ${this.q}.control_tokens SET record = $3 WHERE workspace = $1 AND id = $2`, [this.workspace, t.id, JSON.stringify(record)]);
  }

  /**
   * register exchanges a token for a client certificate: the token row is locked for the
   * decision, so quota and replay hold across replicas; the certificate is recorded in the same
   * transaction, so a certificate exists only if its token use was counted.
   */
  async register(opts: { token: string; enforcer: string; address: string; csrPem: string; now: Date; validityMs: number; secret?: string }): Promise<Registration> {
    const secret = opts.secret ?? caSecret();
    return this.tx(async (c) => {
      const id = /^mseg_([A-Za-z0-9-]{16})_/.exec(opts.token.trim())?.[1];
      const rows = id ? await this.tokenRows(c, 'id = $2', [id], true) : [];
      const d = checkRegistration(opts.token, (x) => rows.find((r) => r.id === x), opts.enforcer, opts.address, opts.now);
      if (!d.ok) return d;
      const cas = await this.cas(c);
      const cert = await issueClientCertificate({ cas, secret, csrPem: opts.csrPem, enforcer: opts.enforcer, now: opts.now, validityMs: opts.validityMs });
      await this.recordCert(c, opts.enforcer, cert, d.token.id, opts.now);
      await this.putToken(c, d.token);
      return { ok: true, cert, bundle: trustBundle(cas), token: d.token };
    });
  }

  /** renew issues a new certificate to an enforcer already authenticated by its current one. */
  async renew(opts: { enforcer: string; csrPem: string; now: Date; validityMs: number; secret?: string }): Promise<{ cert: IssuedCertificate; bundle: string }> {
    const secret = opts.secret ?? caSecret();
    return this.tx(async (c) => {
      const cas = await this.cas(c);
      const cert = await issueClientCertificate({ cas, secret, csrPem: opts.csrPem, enforcer: opts.enforcer, now: opts.now, validityMs: opts.validityMs });
      await this.recordCert(c, opts.enforcer, cert, null, opts.now);
      return { cert, bundle: trustBundle(cas) };
    });
  }

  private async recordCert(c: PoolClient, enforcer: string, cert: IssuedCertificate, tokenId: string | null, now: Date): Promise<void> {
    await c.query(
      `INSERT INTO ${this.q}.control_certs (serial, workspace, enforcer, ca_id, token_id, issued_at, not_after) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [cert.serial, this.workspace, enforcer, cert.caId, tokenId, now, cert.notAfter],
    );
  }

  /**
   * revokeEnforcer revokes every certificate of an enforcer (decommission); returns the serials.
   * The NOTIFY in the same transaction reaches every replica when it commits, so none keeps
   * accepting a revoked certificate from its cache.
   */
  async revokeEnforcer(enforcer: string, reason: string, now: Date): Promise<string[]> {
    return this.tx(async (c) => {
      const r = await c.query<{ serial: string }>(
        `UPDATE ${this.q}.control_certs SET revoked_at = $3, revoke_reason = $4 WHERE workspace = $1 AND enforcer = $2 AND revoked_at IS NULL RETURNING serial`,
        [this.workspace, enforcer, now, reason],
      );
      await this.notifyControl(c, revokePayload(this.workspace, enforcer));
      return r.rows.map((x) => x.serial).sort();
    });
  }

  // ---------------------------------------------------------------- rulesets and reports

  /**
   * publish stores an enforcer's desired ruleset (typed data) and returns its etag (documentEtag).
   * The row is locked while the previous document is read, so the delta stored beside the new
   * document is from exactly the document it replaces, whichever replica or `apply` publishes.
   * The NOTIFY is sent on commit, so a long-poll woken by it always reads the new row.
   */
  async publish(enforcer: string, desired: unknown, now: Date): Promise<string> {
    const etag = documentEtag(desired);
    const body = JSON.stringify(desired);
    await this.tx(async (c) => {
      const prev = await c.query<{ etag: string; desired: unknown }>(
        `SELECT etag, desired FROM ${this.q}.control_rulesets WHERE workspace = $1 AND enforcer = $2 FOR UPDATE`,
        [this.workspace, enforcer],
      );
      const old = prev.rows[0];
      if (old?.etag === etag) return;
      let prevEtag: string | null = null;
      let patch: string | null = null;
      if (old) {
        const ops = JSON.stringify(createDelta(old.desired, JSON.parse(body) as unknown));
        // A patch no smaller than the document buys the agent nothing: it gets the document.
        if (Buffer.byteLength(ops) < Buffer.byteLength(body)) {
          prevEtag = old.etag;
          patch = ops;
        }
      }
      await c.query(
        `INSERT INTO ${this.q}.control_rulesets (workspace, enforcer, etag, desired, published_at, prev_etag, prev_patch) VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (workspace, enforcer) DO UPDATE SET etag = EXCLUDED.etag, desired = EXCLUDED.desired, published_at = EXCLUDED.published_at,
           prev_etag = EXCLUDED.prev_etag, prev_patch = EXCLUDED.prev_patch`,
        [this.workspace, enforcer, etag, body, now, prevEtag, patch],
      );
      await c.query('SELECT pg_notify($1, $2)', [this.channel, notifyPayload(this.workspace, enforcer)]);
    });
    return etag;
  }

  async etag(enforcer: string): Promise<string | undefined> {
    const r = await this.pool.query<{ etag: string }>(`SELECT etag FROM ${this.q}.control_rulesets WHERE workspace = $1 AND enforcer = $2`, [this.workspace, enforcer]);
    return r.rows[0]?.etag;
  }

  async ruleset(enforcer: string): Promise<{ etag: string; desired: unknown; publishedAt: string } | undefined> {
    const r = await this.pool.query<{ etag: string; desired: unknown; published_at: Date }>(
      `SELECT etag, desired, published_at FROM ${this.q}.control_rulesets WHERE workspace = $1 AND enforcer = $2`,
      [this.workspace, enforcer],
    );
    const x = r.rows[0];
    return x ? { etag: x.etag, desired: x.desired, publishedAt: x.published_at.toISOString() } : undefined;
  }

  /**
   * delta returns the current document's etag and the patch to it from `base`, when the current
   * document was published directly over `base` and a patch was worth keeping; else undefined.
   */
  async delta(enforcer: string, base: string): Promise<{ etag: string; patch: PatchOperation[]; publishedAt: string } | undefined> {
    const r = await this.pool.query<{ etag: string; prev_patch: PatchOperation[]; published_at: Date }>(
      `SELECT etag, prev_patch, published_at FROM ${this.q}.control_rulesets
        WHERE workspace = $1 AND enforcer = $2 AND prev_etag = $3 AND prev_patch IS NOT NULL`,
      [this.workspace, enforcer, base],
    );
    const x = r.rows[0];
    return x ? { etag: x.etag, patch: x.prev_patch, publishedAt: x.published_at.toISOString() } : undefined;
  }

  /**
   * answer reads, in one round trip, what a GET /v1/ruleset from a caller holding `known` needs:
   * the etag, and only when the document changed, the patch from `known` (when `delta` and one
   * is kept) or else the whole document. An unchanged document costs a few bytes.
   */
  async answer(enforcer: string, known: string | undefined, delta: boolean): Promise<RulesetAnswer | undefined> {
    const r = await this.timed<{ etag: string; published_at: Date; patch: PatchOperation[] | null; desired: unknown }>(
      `SELECT etag, published_at,
              CASE WHEN $4 AND etag IS DISTINCT FROM $3 AND prev_etag = $3 THEN prev_patch END AS patch,
              CASE WHEN etag IS DISTINCT FROM $3 AND NOT ($4 AND prev_etag IS NOT DISTINCT FROM $3 AND prev_patch IS NOT NULL) THEN desired END AS desired
         FROM ${this.q}.control_rulesets WHERE workspace = $1 AND enforcer = $2`,
      [this.workspace, enforcer, known ?? null, delta && known !== undefined],
    );
    const x = r.rows[0];
    if (!x) return undefined;
    const out: RulesetAnswer = { etag: x.etag, publishedAt: x.published_at.toISOString() };
    if (x.patch !== null) out.patch = x.patch;
    else if (x.etag !== known) out.desired = x.desired;
    return out;
  }

  /** etags reads the current etag of each of `enforcers` that has a ruleset, in one round trip. */
  async etags(enforcers: readonly string[]): Promise<Map<string, string>> {
    const r = await this.timed<{ enforcer: string; etag: string }>(
      `SELECT enforcer, etag FROM ${this.q}.control_rulesets WHERE workspace = $1 AND enforcer = ANY($2::text[])`,
      [this.workspace, enforcers],
    );
    return new Map(r.rows.map((x) => [x.enforcer, x.etag]));
  }

  /** The NOTIFY channel of this schema's cache invalidations (CAs changed, certificates revoked). */
  get controlChannel(): string {
    return `microseg_control_${this.schema}`.slice(0, 63);
  }

  /** poolLoad says how busy this store's pool is. */
  poolLoad(): PoolLoad {
    const p = this.pool as Pool & { options?: { max?: number } };
    return { max: p.options?.max ?? 10, total: p.totalCount, idle: p.idleCount, waiting: p.waitingCount, latencyMs: Math.round(this.latencyMs) };
  }

  /** The NOTIFY channel of this schema's publishes (one per schema; the payload names workspace and enforcer). */
  get channel(): string {
    return `microseg_rulesets_${this.schema}`.slice(0, 63);
  }

  /**
   * listen calls `onPublish(enforcer)` for every ruleset published in this workspace, by any
   * replica or `apply`, on a connection of its own (LISTEN holds a session). When that connection
   * drops it calls `onGap()` (notifications may have been missed meanwhile) and reconnects after
   * `retryMs`, calling `onGap()` again once listening. Returns a function that stops it.
   */
  listen(opts: {
    onPublish: (enforcer: string) => void;
    onGap: () => void;
    /** The CAs changed (any replica or `microseg ca`). */
    onCas?: () => void;
    /** An enforcer's certificates were revoked in this workspace. */
    onRevoke?: (enforcer: string) => void;
    onError?: (e: Error) => void;
    retryMs?: number;
  }): () => Promise<void> {
    let stopped = false;
    let client: PoolClient | undefined;
    let timer: NodeJS.Timeout | undefined;
    const prefix = `${this.workspace}\n`;
    const connect = async () => {
      if (stopped) return;
      try {
        const c = await this.pool.connect();
        client = c;
        let dropped = false;
        const drop = (e: Error) => {
          if (dropped) return;
          dropped = true;
          opts.onError?.(e);
          if (client === c) client = undefined;
          c.release(e);
          opts.onGap();
          if (!stopped) timer = setTimeout(() => void connect(), opts.retryMs ?? 1000);
        };
        c.on('error', drop);
        c.on('end', () => drop(new Error('the LISTEN connection ended')));
        const revokePrefix = `revoke\n${prefix}`;
        c.on('notification', (n) => {
          if (n.channel === this.channel && n.payload?.startsWith(prefix)) opts.onPublish(n.payload.slice(prefix.length));
          if (n.channel === this.controlChannel && n.payload === CA_CHANGED) opts.onCas?.();
          if (n.channel === this.controlChannel && n.payload?.startsWith(revokePrefix)) opts.onRevoke?.(n.payload.slice(revokePrefix.length));
        });
        await c.query(`LISTEN ${quoteIdent(this.controlChannel)}`);
        await c.query(`LISTEN ${quoteIdent(this.channel)}`);
        if (stopped) {
          dropped = true;
          c.release(true);
          client = undefined;
          return;
        }
        opts.onGap();
      } catch (e) {
        opts.onError?.(e as Error);
        if (!stopped) timer = setTimeout(() => void connect(), opts.retryMs ?? 1000);
      }
    };
    void connect();
    return async () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      const c = client;
      client = undefined;
      if (c) {
        // Destroyed, not returned to the pool: it carries our listeners and a LISTEN.
        c.removeAllListeners('end');
        c.removeAllListeners('error');
        c.on('error', () => undefined);
        c.release(true);
      }
    };
  }

  async report(enforcer: string, report: Record<string, unknown>, now: Date): Promise<void> {
    await this.pool.query(
      `INSERT INTO ${this.q}.control_reports (workspace, enforcer, report, seen_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (workspace, enforcer) DO UPDATE SET report = EXCLUDED.report, seen_at = EXCLUDED.seen_at`,
      [this.workspace, enforcer, JSON.stringify(report), now],
    );
  }

  /**
   * recordReport files an agent's report and, when it lists them, the CAs it trusts: one
   * statement (one round trip) where report() and reportTrust() take two.
   */
  async recordReport(enforcer: string, report: Record<string, unknown>, trusts: readonly string[], now: Date): Promise<void> {
    await this.timed(
      `WITH r AS (
         INSERT INTO ${this.q}.control_reports (workspace, enforcer, report, seen_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (workspace, enforcer) DO UPDATE SET report = EXCLUDED.report, seen_at = EXCLUDED.seen_at
       )
       INSERT INTO ${this.q}.control_agent_trust (workspace, enforcer, trusts, seen_at) SELECT $1, $2, $5::jsonb, $4 WHERE $6
       ON CONFLICT (workspace, enforcer) DO UPDATE SET trusts = EXCLUDED.trusts, seen_at = EXCLUDED.seen_at`,
      [this.workspace, enforcer, JSON.stringify(report), now, JSON.stringify(trusts), trusts.length > 0],
    );
  }

  async reports(): Promise<Array<{ enforcer: string; report: Record<string, unknown>; seenAt: string }>> {
    const r = await this.pool.query<{ enforcer: string; report: Record<string, unknown>; seen_at: Date }>(
      `SELECT enforcer, report, seen_at FROM ${this.q}.control_reports WHERE workspace = $1 ORDER BY enforcer`,
      [this.workspace],
    );
    return r.rows.map((x) => ({ enforcer: x.enforcer, report: x.report, seenAt: x.seen_at.toISOString() }));
  }

  /** ping checks the database answers (readiness). */
  async ping(): Promise<void> {
    await this.pool.query('SELECT 1');
  }

  /**
   * certStatus answers, for a presented certificate, whether this workspace issued it to that
   * enforcer and has not revoked it. A certificate unknown to the database is refused too: it
   * was issued by a CA key that should not exist elsewhere, or for another workspace.
   */
  async certStatus(serial: string, enforcer: string): Promise<'ok' | 'revoked' | 'unknown'> {
    const r = await this.timed<{ revoked: boolean }>(
      `SELECT revoked_at IS NOT NULL AS revoked FROM ${this.q}.control_certs WHERE serial = $1 AND workspace = $2 AND enforcer = $3`,
      [serial, this.workspace, enforcer],
    );
    if (r.rows.length === 0) return 'unknown';
    return r.rows[0].revoked ? 'revoked' : 'ok';
  }
}
