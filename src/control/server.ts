/**
 * The control plane's HTTPS server (Node's https; mutual TLS for agents). Every answer comes from
 * PostgreSQL, so any number of replicas can serve one fleet: the only thing a replica holds is its
 * own TLS key and certificate.
 *
 *   GET  /healthz            the process is up (no client certificate needed)
 *   GET  /readyz             the database answers (no client certificate needed)
 *   GET  /v1/ca              the trust bundle (no client certificate needed: it is public)
 *   POST /v1/register        {token, enforcer, csr} → {cert, bundle}; the token is the credential
 *   POST /v1/renew           {csr} → {cert, bundle}; the client certificate is the credential
 *   GET  /v1/ruleset         the caller's own desired ruleset; ETag / If-None-Match → 304;
 *                            `?wait=SECONDS` long-polls (bounded) until it changes, woken by
 *                            LISTEN/NOTIFY on every replica; `A-IM: json-patch` with If-None-Match
 *                            → 226 and an RFC 6902 patch from that etag when the server has one
 *   POST /v1/report          {etag, status, fingerprint, drift, trusts} from the caller
 *
 * TLS asks every client for a certificate but lets the handshake finish without one
 * (`rejectUnauthorized: false`) because registration happens before an agent has one; every route
 * but the four public ones then refuses a connection whose certificate TLS did not authorise, and
 * checks it again against the CAs and the certificate's row (revoked, retired CA, issued to this
 * workspace). The enforcer a request acts for is always the one its certificate names, never a
 * parameter.
 *
 * Round trips: the CA set and each certificate's status are cached in this replica (caches.ts),
 * invalidated by LISTEN/NOTIFY when a rotation step or a revocation commits anywhere; a renewal
 * always reads the status from the database. A GET /v1/ruleset reads what it answers in one
 * query (etag, and the patch or the document only when it changed), and none when the caller
 * holds the etag this replica read last and no publish of it was notified since; a report is one
 * statement;
 * a waiting long-poll holds no connection, and one query per `pollMs` re-reads the etags of all
 * of them at once. When the pool's queue is long, or no connection comes in time, the answer is
 * 503 with Retry-After (busy.ts), which agents honour with jitter.
 */
import * as https from 'https';
import type { IncomingMessage, ServerResponse } from 'http';
import type { TLSSocket } from 'tls';
import { caSecret, checkClientCertificate, generateKeys, issueServerCertificate, privateKeyPem, trustBundle, type CaRecord } from './ca';
import { BUSY_CODE, DB_UNAVAILABLE_CODE, isDatabaseUnavailable, overloaded, retryAfterSeconds } from './busy';
import { CaCache, CertStatusCache, EtagCache, type Trust } from './caches';
import type { ControlStore } from './store';

const MAX_BODY = 64 * 1024;
const MAX_WAIT_S = 60;

export interface ControlServerOptions {
  store: ControlStore;
  host: string;
  port: number;
  /** Extra names/addresses for the server certificate (the listen host is always in it). */
  san?: string[];
  secret?: string;
  /** Client certificate validity (default 24 h). */
  certValidityMs?: number;
  /**
   * How often the waiting long-polls' etags are re-read although no NOTIFY woke them (default
   * 10 s; one query for all of them): a publish wakes the long-polls of its enforcer at once on
   * every replica through LISTEN/NOTIFY; this is the safety net for a notification lost with the
   * LISTEN connection.
   */
  pollMs?: number;
  log?: (line: string) => void;
  now?: () => Date;
  /**
   * How often this replica checks the CAs (default 10 s): it takes a rotation's next step when the
   * agents are ready (any replica may; the step is one locked transaction) and reloads its TLS
   * context when the CAs changed, whoever changed them.
   */
  caCheckMs?: number;
  /**
   * How long a certificate's `ok` is believed without a notification (default 30 s). A
   * revocation reaches every replica by NOTIFY when it commits; this bounds a replica whose LISTEN
   * connection died unnoticed.
   */
  certCacheMs?: number;
  /** New requests get 503 + Retry-After while this many queries wait for a pool connection (default 8 × the pool). */
  maxQueue?: number;
}

export interface ControlServer {
  url: string;
  port: number;
  close(): Promise<void>;
  /** Re-read the CAs and reissue this replica's TLS certificate (after a rotation step). */
  reloadTls(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new HttpError(413, 'MSEG9830', `request body over ${MAX_BODY} bytes`));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => {
      try {
        const v = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
        if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object');
        resolve(v as Record<string, unknown>);
      } catch {
        reject(new HttpError(400, 'MSEG9830', 'the request body is not a JSON object'));
      }
    });
    req.on('error', reject);
  });
}

function str(body: Record<string, unknown>, key: string, max = 16_384): string {
  const v = body[key];
  if (typeof v !== 'string' || v === '' || v.length > max) throw new HttpError(400, 'MSEG9830', `"${key}" must be a non-empty string`);
  return v;
}

const ENFORCER_NAME = /^[A-Za-z0-9_.:@/-]{1,200}$/;

export async function startControlServer(opts: ControlServerOptions): Promise<ControlServer> {
  const store = opts.store;
  const secret = opts.secret ?? caSecret();
  const now = opts.now ?? (() => new Date());
  const log = opts.log ?? (() => undefined);
  const validityMs = opts.certValidityMs ?? 24 * 3_600_000;
  const pollMs = opts.pollMs ?? 10_000;

  const caCache = new CaCache(() => store.cas());
  const statusCache = new CertStatusCache(opts.certCacheMs ?? 30_000);
  const etagCache = new EtagCache();

  // Long-polls waiting for their enforcer's next publish, woken by this replica's LISTEN. Each
  // remembers the etag its caller holds, for the periodic sweep.
  const waiters = new Map<string, Set<{ known: string; finish: () => void }>>();
  const wake = (enforcer: string) => {
    const set = waiters.get(enforcer);
    if (!set) return;
    waiters.delete(enforcer);
    for (const w of set) w.finish();
  };
  const wakeAll = () => {
    for (const e of [...waiters.keys()]) wake(e);
  };
  const stopListening = store.listen({
    onPublish: (enforcer) => {
      etagCache.published(enforcer);
      wake(enforcer);
    },
    onCas: () => caCache.invalidate(),
    onRevoke: (enforcer) => statusCache.revokeEnforcer(enforcer),
    // Reconnected (or lost): a publish, rotation or revocation may have gone unheard; every
    // long-poll re-reads and every cached row is read again.
    onGap: () => {
      caCache.invalidate();
      etagCache.clear();
      statusCache.clear();
      wakeAll();
    },
    onError: (e) => log(`LISTEN connection lost (long-polls fall back to re-reading every ${pollMs} ms until it is back): ${e.message}`),
  });
  /** waiter registers a wake-up for `enforcer` now; it resolves on a publish, after `ms`, or when the client goes away. */
  const waiter = (enforcer: string, known: string, ms: number, sock: TLSSocket) => {
    let done!: () => void;
    const promise = new Promise<void>((resolve) => (done = resolve));
    const timer = setTimeout(() => finish(), Math.max(0, ms));
    const entry = { known, finish: () => finish() };
    const finish = () => {
      clearTimeout(timer);
      sock.off('close', finish);
      waiters.get(enforcer)?.delete(entry);
      done();
    };
    sock.once('close', finish);
    const set = waiters.get(enforcer) ?? new Set();
    set.add(entry);
    waiters.set(enforcer, set);
    return { promise, cancel: finish };
  };
  // The safety net for a notification lost with the LISTEN connection: one query for all waiting
  // long-polls (not one each), waking those whose etag moved.
  let sweeping = false;
  const sweep = setInterval(() => {
    if (sweeping || waiters.size === 0) return;
    sweeping = true;
    store
      .etags([...waiters.keys()])
      .then((etags) => {
        for (const [enforcer, set] of [...waiters]) {
          if ([...set].some((w) => etags.get(enforcer) !== w.known)) {
            etagCache.published(enforcer);
            wake(enforcer);
          }
        }
      })
      .catch((e: unknown) => log(`long-poll sweep failed (will retry): ${(e as Error).message}`))
      .finally(() => (sweeping = false));
  }, pollMs);
  sweep.unref();

  const tlsMaterial = async () => {
    const { cas } = await store.ensureCa(now(), secret);
    const keys = await generateKeys();
    const cert = await issueServerCertificate({ cas, secret, publicKey: keys.publicKey, hosts: [opts.host, ...(opts.san ?? [])], now: now(), validityMs: 30 * 24 * 3_600_000 });
    return { key: await privateKeyPem(keys.privateKey), cert: cert.certPem, ca: trustBundle(cas), cas };
  };
  let material = await tlsMaterial();
  const caState = (cas: readonly CaRecord[]) => cas.map((c) => `${c.id}:${c.role}`).join(',');
  let loaded = caState(material.cas);

  /**
   * authenticate returns the enforcer the request's client certificate is bound to, or throws
   * 401. The certificate's parse and signature check is remembered per connection and CA set;
   * its status comes from the cache unless `fresh` (renewal: a revoked certificate must not buy a
   * new one in the instant before its revocation's notification arrives).
   */
  const authenticate = async (req: IncomingMessage, trust: Trust, fresh = false): Promise<{ enforcer: string; serial: string; caId: string }> => {
    const sock = req.socket as TLSSocket;
    const peer = sock.getPeerCertificate();
    if (!peer || !peer.raw) throw new HttpError(401, 'MSEG9831', 'a client certificate is required (register with a token first)');
    if (!sock.authorized) throw new HttpError(401, 'MSEG9831', `the client certificate is not trusted: ${String(sock.authorizationError)}`);
    const at = now();
    let check = trust.checked.get(sock);
    if (!check) {
      const c = await checkClientCertificate(new Uint8Array(peer.raw), trust.cas, () => false, at);
      if (!c.ok) throw new HttpError(401, 'MSEG9831', `the client certificate is refused (${c.reason}): ${c.detail}`);
      trust.checked.set(sock, c);
      check = c;
    }
    // A remembered check was made earlier: the certificate may have expired since.
    if (at > check.notAfter) throw new HttpError(401, 'MSEG9831', `the client certificate is refused (expired): expired at ${check.notAfter.toISOString()}`);
    if (at < check.notBefore) throw new HttpError(401, 'MSEG9831', `the client certificate is refused (not-yet-valid): valid from ${check.notBefore.toISOString()}`);
    let status = fresh ? undefined : statusCache.get(check.serial, check.enforcer, Date.now());
    if (status === undefined) {
      const g = statusCache.at();
      const s = await store.certStatus(check.serial, check.enforcer);
      statusCache.put(check.serial, check.enforcer, s, Date.now(), g);
      if (s !== 'ok') throw new HttpError(401, 'MSEG9832', `the client certificate of ${check.enforcer} is ${s === 'revoked' ? 'revoked' : 'not one this workspace issued'}`);
      status = s;
    }
    if (status === 'revoked') throw new HttpError(401, 'MSEG9832', `the client certificate of ${check.enforcer} is revoked`);
    return { enforcer: check.enforcer, serial: check.serial, caId: check.caId };
  };

  /** admit turns a new request away with 503 while the pool's queue is long: queuing it would only make every answer late. */
  const maxQueue = opts.maxQueue ?? 8 * store.poolLoad().max;
  const admit = () => {
    const load = store.poolLoad();
    if (overloaded(load, maxQueue)) {
      throw new HttpError(503, BUSY_CODE, `the server is busy (${load.waiting} queries wait for its ${load.max} database connections); retry later`, { 'retry-after': String(retryAfterSeconds(load)) });
    }
  };

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    const text = body === undefined ? '' : JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store', ...headers });
    res.end(text);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'https://x');
    const route = `${req.method} ${url.pathname}`;
    if (route === 'GET /healthz') return send(res, 200, { ok: true });
    if (route === 'GET /readyz') {
      try {
        await store.ping();
        return send(res, 200, { ok: true });
      } catch {
        return send(res, 503, { ok: false, code: 'MSEG9833', error: 'the database does not answer' });
      }
    }
    // The CAs as this replica knows them: re-read after every rotation step's notification.
    const trust = await caCache.get();
    const cas = trust.cas;
    if (route === 'GET /v1/ca') return send(res, 200, { bundle: trustBundle(cas), cas: cas.filter((c) => c.role !== 'retired').map((c) => ({ id: c.id, role: c.role })) });
    // Every route from here on needs the database.
    admit();
    if (route === 'POST /v1/register') {
      const body = await readBody(req);
      const enforcer = str(body, 'enforcer', 200);
      if (!ENFORCER_NAME.test(enforcer)) throw new HttpError(400, 'MSEG9830', 'invalid enforcer name');
      const r = await store.register({ token: str(body, 'token', 200), enforcer, address: req.socket.remoteAddress ?? '', csrPem: str(body, 'csr'), now: now(), validityMs, secret });
      if (!r.ok) {
        // The reason goes to the agent (it logs it); the token never goes to our log.
        log(`registration of ${enforcer} from ${req.socket.remoteAddress} refused: ${r.code} ${r.reason}`);
        return send(res, 403, { ok: false, code: r.code, reason: r.reason, error: r.message });
      }
      log(`registered ${enforcer} from ${req.socket.remoteAddress}: certificate ${r.cert.serial}`);
      return send(res, 200, { ok: true, cert: r.cert.certPem, serial: r.cert.serial, ca_id: r.cert.caId, not_after: r.cert.notAfter, bundle: r.bundle });
    }
    const who = await authenticate(req, trust, route === 'POST /v1/renew');
    if (route === 'POST /v1/renew') {
      const body = await readBody(req);
      const r = await store.renew({ enforcer: who.enforcer, csrPem: str(body, 'csr'), now: now(), validityMs, secret });
      log(`renewed ${who.enforcer}: certificate ${r.cert.serial} from CA ${r.cert.caId.slice(0, 12)}`);
      return send(res, 200, { ok: true, cert: r.cert.certPem, serial: r.cert.serial, ca_id: r.cert.caId, not_after: r.cert.notAfter, bundle: r.bundle });
    }
    if (route === 'GET /v1/ruleset') {
      const known = req.headers['if-none-match']?.replace(/^W\//, '').replace(/"/g, '');
      const wait = Math.min(MAX_WAIT_S, Math.max(0, Number(url.searchParams.get('wait') ?? 0) || 0));
      const deadline = Date.now() + wait * 1000;
      const sock = req.socket as TLSSocket;
      // RFC 3229 delta encoding: an agent that says `A-IM: json-patch` and holds the document the
      // current one was published over gets the RFC 6902 patch (226 IM Used) instead of the document.
      const aim = String(req.headers['a-im'] ?? '').toLowerCase().split(',').map((x) => x.trim());
      const wantDelta = known !== undefined && aim.includes('json-patch');
      // Every read comes after the wake-up it would miss is registered: a publish landing between
      // the read and the wait still wakes this request. Waiting holds no database connection.
      let w = known !== undefined && wait > 0 ? waiter(who.enforcer, known, deadline - Date.now(), sock) : undefined;
      const read = async () => {
        const at = etagCache.at(who.enforcer);
        const r = await store.answer(who.enforcer, known, wantDelta);
        if (r) etagCache.put(who.enforcer, r.etag, at);
        return r;
      };
      // The etag this replica read last, unless a publish was notified since: an agent holding it
      // parks without a query.
      let a = known !== undefined && etagCache.get(who.enforcer) === known ? { etag: known, publishedAt: '' } : await read();
      while (w && a?.etag === known) {
        await w.promise;
        // At the deadline the answer is 304 without another read: the agent asks again at once.
        if (Date.now() >= deadline || sock.destroyed) break;
        w = waiter(who.enforcer, known!, deadline - Date.now(), sock);
        a = await read();
      }
      w?.cancel();
      if (sock.destroyed) return;
      // Revoked while it waited (the notification marked it): no answer but the refusal.
      if (statusCache.knownRevoked(who.serial)) throw new HttpError(401, 'MSEG9832', `the client certificate of ${who.enforcer} is revoked`);
      if (a === undefined) return send(res, 404, { ok: false, code: 'MSEG9834', error: `nothing is published for enforcer ${who.enforcer} yet` });
      if (a.etag === known) return send(res, 304, undefined, { etag: `"${a.etag}"` });
      const signingCa = cas.find((c) => c.role === 'signing')?.id;
      if (a.patch) {
        return send(res, 226, { enforcer: who.enforcer, etag: a.etag, base: known, patch: a.patch, published_at: a.publishedAt, signing_ca: signingCa }, { etag: `"${a.etag}"`, im: 'json-patch', 'delta-base': `"${known}"` });
      }
      return send(res, 200, { enforcer: who.enforcer, etag: a.etag, published_at: a.publishedAt, desired: a.desired, signing_ca: signingCa }, { etag: `"${a.etag}"` });
    }
    if (route === 'POST /v1/report') {
      const body = await readBody(req);
      // A certificate reports for its own enforcer only; a body naming another is refused, not
      // silently filed under the caller, so a confused or malicious agent is seen in the log.
      if (body.enforcer !== undefined && body.enforcer !== who.enforcer) {
        log(`report from ${who.enforcer} naming enforcer ${JSON.stringify(String(body.enforcer).slice(0, 200))} refused`);
        throw new HttpError(403, 'MSEG9900', `this certificate is ${who.enforcer}'s; it cannot report for ${String(body.enforcer).slice(0, 200)}`);
      }
      const trusts = Array.isArray(body.trusts) ? body.trusts.filter((t): t is string => typeof t === 'string') : [];
      await store.recordReport(who.enforcer, { ...body, enforcer: who.enforcer, cert_serial: who.serial, cert_ca: who.caId }, trusts, now());
      return send(res, 200, { ok: true });
    }
    throw new HttpError(404, 'MSEG9835', `no route ${route}`);
  };

  // One log line per ten seconds about an unavailable database, not one per request of a fleet.
  let unavailableSince = 0;
  let unavailableCount = 0;
  const noteUnavailable = (message: string) => {
    unavailableCount++;
    if (Date.now() - unavailableSince < 10_000) return;
    log(`database unavailable, answering 503 with Retry-After (${unavailableCount} request(s) since the last such line): ${message}`);
    unavailableSince = Date.now();
    unavailableCount = 0;
  };

  const server = https.createServer(
    { key: material.key, cert: material.cert, ca: material.ca, requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.2' },
    (req, res) => {
      handle(req, res).catch((e: unknown) => {
        if (res.headersSent) return res.destroy();
        if (e instanceof HttpError) return send(res, e.status, { ok: false, code: e.code, error: e.message }, e.headers);
        if (isDatabaseUnavailable(e)) {
          // Not a bug: the database is slow, full or away. The agent keeps its rules and comes back.
          noteUnavailable((e as Error).message);
          const load = store.poolLoad();
          return send(res, 503, { ok: false, code: DB_UNAVAILABLE_CODE, error: 'the database cannot serve this request now; retry later' }, { 'retry-after': String(Math.max(2, retryAfterSeconds(load))) });
        }
        log(`internal error on ${req.method} ${req.url}: ${(e as Error).message}`);
        send(res, 500, { ok: false, code: 'MSEG9836', error: 'internal error (see the server log)' });
      });
    },
  );
  server.headersTimeout = 20_000;
  server.requestTimeout = (MAX_WAIT_S + 30) * 1000;
  // Longer than an agent waits between requests after a 503 (Retry-After up to 30 s, jittered up
  // to 45): a connection the server closes while the agent sends on it is a `socket hang up`.
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  const reloadTls = async () => {
    material = await tlsMaterial();
    loaded = caState(material.cas);
    server.setSecureContext({ key: material.key, cert: material.cert, ca: material.ca });
  };
  let checking: Promise<void> | undefined;
  const timer = setInterval(() => {
    if (checking) return;
    checking = (async () => {
      const step = await store.advanceRotation(now());
      if (step.step === 'promote') log('CA rotation: every agent trusts the new CA; it signs now');
      if (step.step === 'retire') log('CA rotation: every agent renewed; the old CA is retired');
      const g = caCache.at();
      const cas = await store.cas();
      caCache.set(cas, g);
      if (caState(cas) !== loaded) {
        await reloadTls();
        log('CAs changed: TLS certificate and trust bundle reloaded');
      }
    })()
      .catch((e: unknown) => log(`CA check failed (will retry): ${(e as Error).message}`))
      .finally(() => (checking = undefined));
  }, opts.caCheckMs ?? 10_000);
  timer.unref();
  const hostInUrl = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  return {
    url: `https://${hostInUrl}:${port}`,
    port,
    reloadTls,
    close: async () => {
      clearInterval(timer);
      clearInterval(sweep);
      // A CA check under way finishes first: its queries must not outlive the caller's pool.
      await checking;
      await stopListening();
      wakeAll();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
