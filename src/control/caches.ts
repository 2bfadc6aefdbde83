/**
 * What one control plane replica keeps in memory so that an authenticated request does not cost
 * three database round trips before it does anything: the CA set, each connection's checked
 * client certificate, and each certificate's status (issued here, not revoked).
 *
 * Nothing here is state another replica needs: every entry is a copy of a database row, dropped
 * when the row changes. The invalidation is LISTEN/NOTIFY (ControlStore.listen): `microseg ca`,
 * a rotation step and a revocation notify in the transaction that writes them, so every replica
 * hears it when it commits. Reads that were already under way when a notification arrived are not
 * cached (each cache has a generation, bumped by every invalidation, and a read stores its result
 * only if the generation did not move meanwhile). Should the LISTEN connection drop, the caller
 * clears everything when it notices; a status entry is in any case re-read after `ttlMs`, which
 * bounds how long a replica whose LISTEN died unnoticed could serve a revoked certificate.
 */
import type { CaRecord, CertCheck } from './ca';

export type CertOk = Extract<CertCheck, { ok: true }>;

/** Trust is one CA set and the certificate checks made against it, per TLS connection. */
export interface Trust {
  cas: CaRecord[];
  /**
   * A connection's peer certificate never changes, so its parse and signature check is made once
   * per connection and CA set (a new CA set starts a new map).
   */
  checked: WeakMap<object, CertOk>;
}

/** CaCache holds the CA set, reloading it (one load for every request that asks meanwhile) after an invalidation. */
export class CaCache {
  private current: Trust | undefined;
  private loading: Promise<Trust> | undefined;
  private generation = 0;

  constructor(private readonly load: () => Promise<CaRecord[]>) {}

  async get(): Promise<Trust> {
    if (this.current) return this.current;
    if (!this.loading) {
      const g = this.generation;
      const p = this.load().then(
        (cas) => {
          const t: Trust = { cas, checked: new WeakMap() };
          if (this.generation === g) this.current = t;
          if (this.loading === p) this.loading = undefined;
          return t;
        },
        (e: unknown) => {
          if (this.loading === p) this.loading = undefined;
          throw e;
        },
      );
      this.loading = p;
    }
    return this.loading;
  }

  /** set installs a CA set just read (the periodic CA check reads it anyway). */
  set(cas: CaRecord[], readAtGeneration: number): void {
    if (this.generation !== readAtGeneration) return;
    if (this.current && sameCas(this.current.cas, cas)) return;
    this.current = { cas, checked: new WeakMap() };
  }

  /** at is the generation to pass to set() for a read starting now. */
  at(): number {
    return this.generation;
  }

  invalidate(): void {
    this.generation++;
    this.current = undefined;
    this.loading = undefined;
  }
}

function sameCas(a: readonly CaRecord[], b: readonly CaRecord[]): boolean {
  return a.length === b.length && a.every((x, i) => x.id === b[i].id && x.role === b[i].role);
}

type Status = 'ok' | 'revoked';

/** CertStatusCache remembers which certificates the database said are live or revoked. */
export class CertStatusCache {
  private readonly entries = new Map<string, { enforcer: string; status: Status; at: number }>();
  private generation = 0;

  constructor(
    /** How long an `ok` is believed without a notification (the staleness bound when LISTEN is lost unnoticed). */
    readonly ttlMs: number,
    private readonly maxEntries = 50_000,
  ) {}

  /** at is the generation to pass to put() for a database read starting now. */
  at(): number {
    return this.generation;
  }

  /** get answers from memory: `revoked` always (a revocation is final), `ok` within the TTL, else undefined (read the database). */
  get(serial: string, enforcer: string, nowMs: number): Status | undefined {
    const e = this.entries.get(serial);
    if (!e || e.enforcer !== enforcer) return undefined;
    if (e.status === 'revoked') return 'revoked';
    return nowMs - e.at < this.ttlMs ? 'ok' : undefined;
  }

  /** knownRevoked: a notification or a read said so (a long-poll checks it again before it answers). */
  knownRevoked(serial: string): boolean {
    return this.entries.get(serial)?.status === 'revoked';
  }

  /** put records what the database said, unless an invalidation arrived since the read began. */
  put(serial: string, enforcer: string, status: 'ok' | 'revoked' | 'unknown', nowMs: number, readAtGeneration: number): void {
    // `unknown` is refused every time it is presented; remembering it would let garbage fill the map.
    if (status === 'unknown') return;
    if (status === 'ok' && this.generation !== readAtGeneration) return;
    this.entries.delete(serial);
    this.entries.set(serial, { enforcer, status, at: nowMs });
    // Oldest first out: the map keeps insertion order.
    while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
  }

  /** revokeEnforcer marks every cached certificate of `enforcer` revoked (the NOTIFY of a revocation). */
  revokeEnforcer(enforcer: string): void {
    this.generation++;
    for (const e of this.entries.values()) if (e.enforcer === enforcer) e.status = 'revoked';
  }

  /** clear forgets everything (the LISTEN connection was lost: notifications may have been missed). */
  clear(): void {
    this.generation++;
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}

/**
 * EtagCache remembers the etag each enforcer's ruleset had when this replica last read it, until
 * the notification of its next publish: a long-poll from an agent that already holds it parks
 * without a query (the agent's re-poll after every answer, and every poll of an idle fleet). A
 * read that a publish's notification overtook is not kept (per-enforcer sequence numbers).
 */
export class EtagCache {
  private readonly etags = new Map<string, string>();
  private readonly seq = new Map<string, number>();
  private epoch = 0;

  /** at is the token to pass to put() for a read of `enforcer` starting now. */
  at(enforcer: string): { epoch: number; seq: number } {
    return { epoch: this.epoch, seq: this.seq.get(enforcer) ?? 0 };
  }

  get(enforcer: string): string | undefined {
    return this.etags.get(enforcer);
  }

  put(enforcer: string, etag: string, readAt: { epoch: number; seq: number }): void {
    if (readAt.epoch !== this.epoch || readAt.seq !== (this.seq.get(enforcer) ?? 0)) return;
    this.etags.set(enforcer, etag);
  }

  /** published: the enforcer's ruleset changed (its NOTIFY, or the sweep saw another etag). */
  published(enforcer: string): void {
    this.etags.delete(enforcer);
    this.seq.set(enforcer, (this.seq.get(enforcer) ?? 0) + 1);
  }

  /** clear forgets every etag (the LISTEN connection was lost). */
  clear(): void {
    this.epoch++;
    this.etags.clear();
  }
}
