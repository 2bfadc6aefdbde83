/**
 * `microseg agent`: the enforcer side of agent mode (DESIGN §8 agents). One process per host, as
 * root. It registers once (token → client certificate, key generated here), then loops:
 *
 *   refresh trust (GET /v1/ca: a staged CA is trusted beside the current ones and reported)
 *   → renew the certificate when due (2/3 of its life, or the server signs with another CA)
 *   → long-poll GET /v1/ruleset with the etag it holds (jittered wait)
 *   → a new document: validate (schema.ts) → converge (converge.ts: plan + apply, as `apply`)
 *   → no new document: a drift check against the last good one when due (repairing it)
 *   → POST /v1/report (what it applied, live fingerprint, drift, errors, trusts)
 *
 * Fail static: a server that cannot be reached, answers 5xx, or fails TLS never changes the host.
 * The agent keeps the last good rules, says so (log line, status file, `unreachable-server`
 * report once it is back), and retries with per-request timeouts and capped, jittered
 * exponential backoff. A refused document is reported `failed` and also leaves the host alone.
 *
 * Local record (STATE_DIR): `desired.json` (the last good document and its etag), `status.json`
 * (for `agent status`), `host/` (the agent's own apply state and journal: what it verified on the
 * host). A restart with the server down re-checks the host against the recorded document.
 */
import { promises as fsp } from 'fs';
import * as https from 'https';
import * as path from 'path';
import { createCsr, generateKeys, privateKeyPem } from '../control/ca';
import { controlRequest, pullRuleset, type ControlResponse, type HeldRuleset } from '../control/client';
import { AGENT_REPORT_FORMAT, type AgentDesired, type AgentReport, type AgentReportStatus } from '../control/desired';
import type { Connection } from '../hosts/connection';
import { LocalStateStore } from '../state';
import { atomicWriteFile } from '../state/fsutil';
import type { Connector } from '../../providers';
import { PACKAGE_VERSION } from '../version';
import { jittered, retryDelay, DEFAULT_BACKOFF, type BackoffPolicy } from './backoff';
import { AgentCodes } from './codes';
import { converge, type ConvergeResult } from './converge';
import { AgentError, bundleIds, ensureCertDir, issuerId, loadIdentity, readTokenFile, writeBundle, writeIdentity, type Identity } from './identity';
import { renewAt, renewalReason } from './renewal';
import { parseAgentDesired } from './schema';
import { AGENT_STATUS_FORMAT, writeStatus, type AgentStatus } from './status';

export interface AgentOptions {
  /** https://HOST:PORT of the control plane. */
  server: string;
  /** The trust bundle to start from (`microseg ca bundle`). */
  caFile: string;
  /** A registration token, read only when the cert dir holds no certificate yet. */
  tokenFile?: string;
  certDir: string;
  stateDir: string;
  enforcer: string;
  /** The host the agent enforces on: `local` (default); a namespace for tests and container hosts. */
  connection?: Connection;
  connect?: Connector;
  log?: (line: string) => void;
  /** Long-poll wait in seconds (default 30; the server caps it at 60). */
  waitS?: number;
  /** Timeout of every request besides the long-poll's wait (default 15 s; the seed's #815). */
  requestTimeoutMs?: number;
  backoff?: BackoffPolicy;
  /** How often the host is re-read for drift between documents (default 60 s). */
  driftIntervalMs?: number;
  /** How often the trust bundle is re-fetched (default 60 s). */
  trustIntervalMs?: number;
  /** A report at least this often even when nothing changed (default 60 s; the server's "last seen"). */
  heartbeatMs?: number;
  now?: () => Date;
  random?: () => number;
}

/** The last good document, as kept in STATE_DIR/desired.json. */
interface Record {
  etag: string;
  applied_at: string;
  desired: AgentDesired;
}

class Unreachable extends Error {
  constructor(
    readonly code: string,
    message: string,
    /** The server's Retry-After (503: busy or its database away): the next try waits at least this. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

export class Agent {
  private readonly o: Required<Omit<AgentOptions, 'tokenFile' | 'connect'>> & Pick<AgentOptions, 'tokenFile' | 'connect'>;
  private readonly store: LocalStateStore;
  private readonly http = new https.Agent({ keepAlive: true, maxSockets: 4 });
  private id?: Identity;
  private trusts: string[] = [];
  private signingCa?: string;
  private record?: Record;
  /** The etag of the newest document pulled (good or refused). */
  private latestEtag?: string;
  /** The newest document pulled, as received (the base a delta is applied to; its etag is its hash). */
  private held?: HeldRuleset;
  private status: AgentStatus;
  private failures = 0;
  private lastDriftCheck = 0;
  private lastTrustCheck = 0;
  private lastReport = 0;
  private pendingReport?: AgentReport;
  /** The newest valid document when applying it failed: retried at each drift check until it applies. */
  private failedDoc?: { etag: string; desired: AgentDesired };

  constructor(opts: AgentOptions) {
    this.o = {
      connection: { type: 'local' },
      log: (l) => process.stderr.write(`${new Date().toISOString()} ${l}\n`),
      waitS: 30,
      requestTimeoutMs: 15_000,
      backoff: DEFAULT_BACKOFF,
      driftIntervalMs: 60_000,
      trustIntervalMs: 60_000,
      heartbeatMs: 60_000,
      now: () => new Date(),
      random: Math.random,
      ...opts,
    } as Agent['o'];
    this.store = new LocalStateStore(this.o.stateDir, { stateDir: path.join(this.o.stateDir, 'host') });
    this.status = {
      format: AGENT_STATUS_FORMAT,
      enforcer: this.o.enforcer,
      pid: process.pid,
      server: this.o.server,
      updated_at: this.o.now().toISOString(),
      heartbeat_ms: (this.o.waitS + 15) * 1000 + this.o.requestTimeoutMs,
      phase: 'starting',
      server_state: 'unknown',
    };
  }

  private log(line: string): void {
    this.o.log(line);
  }

  /** close releases the keep-alive connections. */
  close(): void {
    this.http.destroy();
  }

  // -------------------------------------------------------------------------------------------
  // Start: state dir, last good record, identity.

  /** start prepares the state dir and identity; registration refusals throw AgentError (MSEG9845). */
  async start(): Promise<void> {
    await fsp.mkdir(this.o.stateDir, { recursive: true, mode: 0o700 });
    this.record = await this.loadRecord();
    if (this.record) {
      this.latestEtag = this.record.etag;
      this.held = { etag: this.record.etag, desired: this.record.desired };
      this.status.applied_etag = this.record.etag;
      this.status.applied_at = this.record.applied_at;
      this.status.latest_etag = this.record.etag;
    }
    await this.writeStatus();
    this.id = await this.ensureIdentity();
    this.trusts = await bundleIds(this.id.bundlePem);
    this.setCertStatus();
    await this.writeStatus();
  }

  private async loadRecord(): Promise<Record | undefined> {
    const file = path.join(this.o.stateDir, 'desired.json');
    let text: string;
    try {
      text = await fsp.readFile(file, 'utf8');
    } catch {
      return undefined;
    }
    try {
      const r = JSON.parse(text) as Record;
      // The record is checked like a pulled document: a file edited on the host is no backdoor.
      const p = parseAgentDesired(r.desired, this.o.enforcer, { url: file, etag: r.etag });
      if (!p.ok) throw new Error(p.diagnostics.map((d) => d.summary).join('; '));
      return { etag: String(r.etag), applied_at: String(r.applied_at), desired: p.desired };
    } catch (e) {
      this.log(`${AgentCodes.recordInvalid} the local record ${file} is unreadable and ignored: ${(e as Error).message}`);
      return undefined;
    }
  }

  private async saveRecord(r: Record): Promise<void> {
    this.record = r;
    await atomicWriteFile(path.join(this.o.stateDir, 'desired.json'), JSON.stringify(r) + '\n', { mode: 0o600 });
  }

  private async ensureIdentity(): Promise<Identity> {
    await ensureCertDir(this.o.certDir);
    const have = await loadIdentity(this.o.certDir);
    if (have) {
      if (have.enforcer !== undefined && have.enforcer !== this.o.enforcer) {
        throw new AgentError(AgentCodes.certDirUnsafe, `the certificate in ${this.o.certDir} is bound to enforcer ${JSON.stringify(have.enforcer)}, not ${JSON.stringify(this.o.enforcer)}`);
      }
      if (!have.bundlePem) have.bundlePem = await fsp.readFile(this.o.caFile, 'utf8');
      if (!have.caId) have.caId = await issuerId(have.certPem, have.bundlePem);
      return have;
    }
    if (!this.o.tokenFile) {
      throw new AgentError(AgentCodes.noCredentials, `${this.o.certDir} holds no certificate and no --token-file was given: register with --token-file FILE (a token from \`microseg token create\`)`);
    }
    const token = await readTokenFile(this.o.tokenFile);
    const bundle = await this.readCaFile();
    const keys = await generateKeys();
    const csr = await createCsr(this.o.enforcer, keys);
    let r: ControlResponse;
    try {
      r = await controlRequest({ url: this.o.server, ca: bundle, method: 'POST', path: '/v1/register', body: { token, enforcer: this.o.enforcer, csr }, timeoutMs: this.o.requestTimeoutMs }, this.http);
    } catch (e) {
      throw new Unreachable(AgentCodes.serverUnreachable, `registration at ${this.o.server} failed: ${(e as Error).message}`);
    }
    if (r.status >= 500) throw new Unreachable(AgentCodes.serverError, `registration at ${this.o.server} failed: server answered ${r.status} ${String(r.body.code ?? '')} ${String(r.body.error ?? '')}`, r.retryAfterMs);
    if (r.status !== 200 || typeof r.body.cert !== 'string') {
      throw new AgentError(
        AgentCodes.registrationRefused,
        `registration of ${this.o.enforcer} refused by ${this.o.server}: ${String(r.body.code ?? r.status)} ${String(r.body.reason ?? '')} ${String(r.body.error ?? '')}`.trim(),
      );
    }
    const bundlePem = typeof r.body.bundle === 'string' && r.body.bundle ? r.body.bundle : bundle;
    await writeIdentity(this.o.certDir, { keyPem: await privateKeyPem(keys.privateKey), certPem: r.body.cert, bundlePem });
    this.log(
      `registered as ${this.o.enforcer}: certificate ${String(r.body.serial)} in ${this.o.certDir}. The token in ${this.o.tokenFile} was exchanged and is not read again; ` +
        'the agent leaves the file as it is: delete it (it may still count against its quota elsewhere if copied).',
    );
    const id = await loadIdentity(this.o.certDir);
    if (!id) throw new AgentError(AgentCodes.certDirUnsafe, `the certificate just written to ${this.o.certDir} cannot be read back`);
    return id;
  }

  private async readCaFile(): Promise<string> {
    try {
      return await fsp.readFile(this.o.caFile, 'utf8');
    } catch (e) {
      throw new AgentError(AgentCodes.badFlags, `cannot read --ca-file ${this.o.caFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }

  private setCertStatus(): void {
    if (!this.id) return;
    this.status.cert = { serial: this.id.serial, not_after: this.id.notAfter.toISOString(), ca_id: this.id.caId, renew_at: renewAt(this.id).toISOString() };
  }

  // -------------------------------------------------------------------------------------------
  // Requests.

  private async request(method: 'GET' | 'POST', p: string, opts: { body?: unknown; etag?: string; waitS?: number } = {}): Promise<ControlResponse> {
    const id = this.id!;
    let r: ControlResponse;
    try {
      r = await controlRequest(
        { url: this.o.server, ca: id.bundlePem, cert: id.certPem, key: id.keyPem, method, path: p, body: opts.body, etag: opts.etag, timeoutMs: this.o.requestTimeoutMs + (opts.waitS ?? 0) * 1000 },
        this.http,
      );
    } catch (e) {
      throw new Unreachable(AgentCodes.serverUnreachable, `${method} ${p} on ${this.o.server}: ${(e as Error).message}`);
    }
    if (r.status >= 500) throw new Unreachable(AgentCodes.serverError, `${method} ${p} on ${this.o.server}: ${r.status} ${String(r.body.code ?? '')} ${String(r.body.error ?? '')}`.trim(), r.retryAfterMs);
    if (r.status === 401) throw new Unreachable(AgentCodes.certificateRefused, `${method} ${p} on ${this.o.server}: the server refuses this agent's certificate: ${String(r.body.code ?? '')} ${String(r.body.error ?? '')}`.trim());
    return r;
  }

  /**
   * pull asks for this agent's document (pullRuleset: a delta against the held document when the
   * server has one, verified by hashing the result to the published etag, else the full document,
   * which is hashed too). `unchanged`, a new document, or `none` (nothing published); every
   * failure to get a trustworthy answer is Unreachable, which leaves the host alone.
   */
  private async pull(waitS: number): Promise<{ kind: 'unchanged' } | { kind: 'none' } | { kind: 'changed'; etag: string; desired: unknown; bytes: number; via: string }> {
    const id = this.id!;
    let r: Awaited<ReturnType<typeof pullRuleset>>;
    try {
      r = await pullRuleset({ url: this.o.server, ca: id.bundlePem, cert: id.certPem, key: id.keyPem, timeoutMs: this.o.requestTimeoutMs + waitS * 1000 }, this.held, { waitS, delta: true }, this.http);
    } catch (e) {
      throw new Unreachable(AgentCodes.serverUnreachable, `GET /v1/ruleset on ${this.o.server}: ${(e as Error).message}`);
    }
    if (r.status === 'unchanged') return { kind: 'unchanged' };
    if (r.status === 'changed') {
      if (r.signingCa) this.signingCa = r.signingCa;
      if (r.deltaRefused) this.log(`delta from ${this.held?.etag} not usable (${r.deltaRefused}); pulled the full document`);
      return { kind: 'changed', etag: r.etag, desired: r.desired, bytes: r.bytes, via: r.via };
    }
    if (r.httpStatus === 404) return { kind: 'none' };
    const what = `GET /v1/ruleset on ${this.o.server}: ${r.httpStatus} ${r.code ?? ''} ${r.message}`.replace(/\s+/g, ' ');
    if (r.httpStatus === 401) throw new Unreachable(AgentCodes.certificateRefused, `${what} (the server refuses this agent's certificate)`);
    throw new Unreachable(AgentCodes.serverError, what, r.retryAfterMs);
  }

  /** refreshTrust fetches the bundle: a staged CA is trusted (and reported) before it signs. */
  private async refreshTrust(force = false): Promise<void> {
    const now = this.o.now().getTime();
    if (!force && now - this.lastTrustCheck < this.o.trustIntervalMs) return;
    const r = await this.request('GET', '/v1/ca');
    this.lastTrustCheck = now;
    const bundle = typeof r.body.bundle === 'string' ? r.body.bundle : '';
    const cas = Array.isArray(r.body.cas) ? (r.body.cas as Array<{ id: string; role: string }>) : [];
    const signing = cas.find((c) => c.role === 'signing')?.id;
    if (signing) this.signingCa = signing;
    if (bundle && bundle !== this.id!.bundlePem) {
      // The new bundle came over TLS verified with the current one: it is as trusted as the server.
      const before = new Set(this.trusts);
      this.id!.bundlePem = bundle;
      await writeBundle(this.o.certDir, bundle);
      this.trusts = await bundleIds(bundle);
      const added = this.trusts.filter((t) => !before.has(t));
      if (added.length) {
        this.log(`trust bundle updated: now trusting ${this.trusts.length} CA(s), new ${added.map((t) => t.slice(0, 12)).join(', ')}`);
        // The rotation waits for every agent to report that it trusts the new CA: report it with
        // the next round instead of the next heartbeat (a minute by default).
        this.lastReport = 0;
      }
    }
  }

  /** maybeRenew renews the certificate when due; a failed renewal keeps the current certificate. */
  private async maybeRenew(): Promise<void> {
    const id = this.id!;
    const reason = renewalReason(id, this.signingCa, this.o.now());
    if (!reason) return;
    if (reason === 'expired') {
      throw new AgentError(AgentCodes.certificateExpired, `the agent's certificate expired at ${id.notAfter.toISOString()}: register again with a new token (--token-file, after removing ${this.o.certDir})`);
    }
    const keys = await generateKeys();
    const r = await this.request('POST', '/v1/renew', { body: { csr: await createCsr(this.o.enforcer, keys) } });
    if (r.status !== 200 || typeof r.body.cert !== 'string') {
      this.log(`${AgentCodes.renewalFailed} renewal refused (${reason}): ${r.status} ${String(r.body.code ?? '')} ${String(r.body.error ?? '')}; the current certificate stays in use until ${id.notAfter.toISOString()}`);
      return;
    }
    const bundlePem = typeof r.body.bundle === 'string' && r.body.bundle ? r.body.bundle : id.bundlePem;
    await writeIdentity(this.o.certDir, { keyPem: await privateKeyPem(keys.privateKey), certPem: r.body.cert, bundlePem });
    const next = await loadIdentity(this.o.certDir);
    if (!next) throw new AgentError(AgentCodes.renewalFailed, 'the renewed certificate cannot be read back');
    this.id = next;
    this.trusts = await bundleIds(next.bundlePem);
    this.setCertStatus();
    this.log(`renewed the certificate (${reason === 'rotation' ? 'the server signs with a new CA' : 'two thirds of its life passed'}): serial ${next.serial} from CA ${next.caId.slice(0, 12)}, valid until ${next.notAfter.toISOString()}`);
  }

  // -------------------------------------------------------------------------------------------
  // Converging and reporting.

  private async writeStatus(): Promise<void> {
    this.status.updated_at = this.o.now().toISOString();
    await writeStatus(this.o.stateDir, this.status).catch((e: Error) => this.log(`cannot write the status file: ${e.message}`));
  }

  private report(etag: string, doc: AgentDesired | undefined, status: AgentReportStatus, c?: Partial<ConvergeResult>): AgentReport {
    return {
      format: AGENT_REPORT_FORMAT,
      enforcer: this.o.enforcer,
      etag,
      lineage: doc?.lineage ?? '',
      serial: doc?.serial ?? 0,
      status,
      ...(c?.backend ? { backend: c.backend } : {}),
      live_fingerprint: c?.live_fingerprint ?? this.status.live_fingerprint ?? '',
      drift: c?.drift ?? [],
      repaired: c?.repaired ?? false,
      ...(c?.error ? { error: c.error } : {}),
      trusts: this.trusts,
      agent_version: PACKAGE_VERSION,
      at: this.o.now().toISOString(),
    };
  }

  /** send posts a report; one that cannot be sent is kept and sent with the next one that can. */
  private async send(rep: AgentReport): Promise<void> {
    this.pendingReport = rep;
    const r = await this.request('POST', '/v1/report', { body: rep });
    if (r.status !== 200) this.log(`report refused: ${r.status} ${String(r.body.code ?? '')} ${String(r.body.error ?? '')}`);
    this.pendingReport = undefined;
    this.lastReport = this.o.now().getTime();
  }

  /** handleDocument validates a pulled document and converges on it; the host is untouched when it is refused. */
  private async handleDocument(etag: string, body: unknown): Promise<ConvergeResult> {
    this.latestEtag = etag;
    this.held = { etag, desired: body };
    this.status.latest_etag = etag;
    const p = parseAgentDesired(body, this.o.enforcer, { url: `${this.o.server}/v1/ruleset`, etag });
    if (!p.ok) {
      const message = p.diagnostics.slice(0, 5).map((d) => `${d.code} ${d.summary}`).join('; ');
      for (const d of p.diagnostics) this.log(`${d.code} ${d.summary}`);
      this.log(`document ${etag} refused; this host keeps enforcing ${this.record ? `etag ${this.record.etag}` : 'what it holds'}`);
      const c: ConvergeResult = { status: 'failed', live_fingerprint: this.status.live_fingerprint ?? '', drift: [], changed: false, repaired: false, transactions: 0, diagnostics: p.diagnostics, error: { code: p.diagnostics[0].code, message } };
      this.status.phase = 'failed';
      this.status.last_error = { ...c.error!, at: this.o.now().toISOString() };
      await this.writeStatus();
      await this.send(this.report(etag, undefined, 'failed', c));
      return c;
    }
    const doc = p.desired;
    return this.apply(etag, doc);
  }

  private async apply(etag: string, doc: AgentDesired): Promise<ConvergeResult> {
    this.status.phase = 'applying';
    await this.writeStatus();
    const c = await converge(doc, { connection: this.o.connection, store: this.store, connect: this.o.connect });
    this.lastDriftCheck = this.o.now().getTime();
    await this.noteConverged(etag, doc, c, true);
    this.failedDoc = c.status === 'failed' ? { etag, desired: doc } : undefined;
    await this.send(this.report(etag, doc, c.status === 'failed' ? 'failed' : c.status, c));
    return c;
  }

  private async noteConverged(etag: string, doc: AgentDesired, c: ConvergeResult, fresh: boolean): Promise<void> {
    const at = this.o.now().toISOString();
    this.status.last_drift_check_at = at;
    this.status.drift = c.drift;
    if (c.status === 'failed') {
      this.status.phase = 'failed';
      this.status.last_error = { ...c.error!, at };
      this.log(`${c.error!.code} ${fresh ? `applying etag ${etag}` : `re-checking etag ${etag}`} failed: ${c.error!.message}`);
    } else {
      this.status.live_fingerprint = c.live_fingerprint;
      this.status.phase = c.status === 'clean' ? 'decommissioned' : 'converged';
      delete this.status.last_error;
      if (fresh || this.record?.etag !== etag) {
        await this.saveRecord({ etag, applied_at: at, desired: doc });
        this.status.applied_etag = etag;
        this.status.applied_at = at;
      }
      if (c.drift.length) this.log(`drift on this host: ${c.drift.map((d) => `${d.kind} ${d.object}`).join('; ')}${c.repaired ? ' (repaired)' : ''}`);
      if (fresh) this.log(`${c.status === 'clean' ? 'decommissioned: no microseg object is left on this host' : `applied etag ${etag}`} (${c.backend}, ${c.transactions} transaction(s), fingerprint ${c.live_fingerprint || '-'})`);
    }
    await this.writeStatus();
  }

  /** driftCheck converges on the last good document again (the host is read; drift is repaired). */
  private async driftCheck(): Promise<ConvergeResult | undefined> {
    if (!this.record) return undefined;
    this.lastDriftCheck = this.o.now().getTime();
    const c = await converge(this.record.desired, { connection: this.o.connection, store: this.store, connect: this.o.connect });
    await this.noteConverged(this.record.etag, this.record.desired, c, false);
    return c;
  }

  private markReachable(): void {
    if (this.status.server_state === 'unreachable') this.log(`server ${this.o.server} reachable again`);
    this.failures = 0;
    this.status.server_state = 'reachable';
    delete this.status.unreachable_since;
    delete this.status.next_retry_at;
  }

  private async markUnreachable(e: Unreachable): Promise<number> {
    this.failures++;
    const delay = retryDelay(this.failures, e.retryAfterMs, this.o.backoff, this.o.random);
    const now = this.o.now();
    if (this.status.server_state !== 'unreachable') this.status.unreachable_since = now.toISOString();
    this.status.server_state = 'unreachable';
    this.status.next_retry_at = new Date(now.getTime() + delay).toISOString();
    this.status.last_error = { code: e.code, message: e.message, at: now.toISOString() };
    this.log(
      `${e.code} ${e.message}${e.retryAfterMs !== undefined ? ` (the server asks to retry after ${Math.round(e.retryAfterMs / 1000)} s)` : ''}; keeping the last good rules (${this.record ? `etag ${this.record.etag}` : 'nothing applied yet'}) untouched; retry ${this.failures} in ${(delay / 1000).toFixed(1)} s`,
    );
    await this.writeStatus();
    return delay;
  }

  // -------------------------------------------------------------------------------------------
  // --once and the loop.

  /**
   * once converges one time: pull (no wait), apply, report. Exit 0 when the host holds the
   * published document (or is clean after a decommission), 1 otherwise (nothing published,
   * refused document, failed apply, server unreachable: the host is then left as it is).
   */
  async once(): Promise<number> {
    try {
      await this.start();
      await this.refreshTrust(true);
      await this.maybeRenew();
      const r = await this.pull(0);
      this.markReachable();
      if (r.kind === 'none') {
        this.status.phase = 'waiting';
        this.status.last_error = { code: AgentCodes.nothingPublished, message: `nothing is published for enforcer ${this.o.enforcer} yet`, at: this.o.now().toISOString() };
        this.log(`${AgentCodes.nothingPublished} nothing is published for enforcer ${this.o.enforcer} yet; the host was not touched`);
        await this.writeStatus();
        return 1;
      }
      if (r.kind === 'unchanged') {
        // The server still publishes the document this host holds: converge on it again (drift repair).
        const c = await this.driftCheck();
        if (!c) throw new Unreachable(AgentCodes.serverError, 'the server answered "unchanged" but no document is recorded here');
        if (c.status !== 'failed') this.log(`etag ${this.record!.etag} is still the published document; the host ${c.changed ? 'was brought back to it' : 'holds it'} (${c.transactions} transaction(s), fingerprint ${c.live_fingerprint || '-'})`);
        await this.send(this.report(this.record!.etag, this.record!.desired, c.status === 'failed' ? 'failed' : c.status, c));
        return c.status === 'failed' ? 1 : 0;
      }
      const c = await this.handleDocument(r.etag, r.desired);
      return c.status === 'failed' ? 1 : 0;
    } catch (e) {
      return this.fatal(e);
    } finally {
      this.close();
    }
  }

  private async fatal(e: unknown): Promise<number> {
    const code = e instanceof AgentError || e instanceof Unreachable ? e.code : AgentCodes.applyFailed;
    const message = (e as Error).message ?? String(e);
    this.log(`${code} ${message}${e instanceof Unreachable ? `; the host was not touched${this.record ? ` (it keeps etag ${this.record.etag})` : ''}` : ''}`);
    if (e instanceof Unreachable) {
      this.status.server_state = 'unreachable';
      this.status.unreachable_since ??= this.o.now().toISOString();
    }
    this.status.phase = this.status.phase === 'converged' || this.status.phase === 'decommissioned' ? this.status.phase : 'failed';
    this.status.last_error = { code, message, at: this.o.now().toISOString() };
    await this.writeStatus();
    return 1;
  }

  /**
   * run loops until `signal` aborts. Returns 0 on a clean stop, 1 when the agent cannot go on
   * (registration refused, certificate expired, cert dir unsafe); never because the server is gone.
   */
  async run(signal: AbortSignal): Promise<number> {
    try {
      for (;;) {
        try {
          await this.start();
          break;
        } catch (e) {
          if (!(e instanceof Unreachable)) return await this.fatal(e);
          await sleep(await this.markUnreachable(e), signal);
          if (signal.aborted) return 0;
        }
      }
      this.log(`agent ${this.o.enforcer} started (server ${this.o.server}, state ${this.o.stateDir}${this.record ? `, enforcing etag ${this.record.etag}` : ''})`);
      // A restart re-checks the host against the last good document first: the server may be down.
      if (this.record) await this.driftCheck();
      while (!signal.aborted) {
        try {
          if (this.pendingReport) await this.send(this.pendingReport);
          await this.refreshTrust();
          await this.maybeRenew();
          const wait = Math.max(1, Math.round(jittered(this.o.waitS * 1000, 0.2, this.o.random) / 1000));
          const r = await this.pull(wait);
          this.markReachable();
          if (r.kind === 'changed') {
            this.log(`pulled etag ${r.etag} (${r.via === 'delta' ? 'a delta' : 'the full document'}, ${r.bytes} bytes)`);
            await this.handleDocument(r.etag, r.desired);
            continue;
          }
          if (r.kind === 'none') {
            this.status.phase = this.record ? this.status.phase : 'waiting';
            await this.writeStatus();
            await sleep(jittered(5000, 0.5, this.o.random), signal);
            continue;
          }
          await this.periodic();
        } catch (e) {
          if (signal.aborted) break;
          if (!(e instanceof Unreachable)) {
            if (e instanceof AgentError && (e.code === AgentCodes.certificateExpired || e.code === AgentCodes.certDirUnsafe)) return await this.fatal(e);
            this.log(`unexpected error: ${(e as Error).stack ?? String(e)}`);
            await sleep(await this.markUnreachable(new Unreachable(AgentCodes.applyFailed, (e as Error).message)), signal);
            continue;
          }
          const delay = await this.markUnreachable(e);
          // Fail static, but not blind: the host is still checked against the last good document.
          await this.periodicLocal().catch((err: Error) => this.log(`drift check failed: ${err.message}`));
          await sleep(delay, signal);
        }
      }
      return 0;
    } finally {
      this.close();
    }
  }

  /** periodic: the drift check and the heartbeat report between documents. */
  private async periodic(): Promise<void> {
    const c = await this.periodicLocal();
    const now = this.o.now().getTime();
    const noteworthy = c && (c.changed || c.drift.length > 0 || c.status === 'failed');
    if (noteworthy || now - this.lastReport >= this.o.heartbeatMs) {
      const doc = this.record?.desired;
      const st: AgentReportStatus = this.status.phase === 'failed' ? 'failed' : this.status.phase === 'decommissioned' ? 'clean' : 'applied';
      await this.send(this.report(this.latestEtag ?? '', doc, st, c ?? { live_fingerprint: this.status.live_fingerprint, drift: [], error: this.status.last_error ? { code: this.status.last_error.code, message: this.status.last_error.message } : undefined }));
    } else await this.writeStatus();
  }

  private async periodicLocal(): Promise<ConvergeResult | undefined> {
    if (this.o.now().getTime() - this.lastDriftCheck < this.o.driftIntervalMs) return undefined;
    // A newer document that failed to apply is tried again (the host may have been fixed); a
    // refused one is not (it is refused again until something new is published).
    if (this.failedDoc && this.failedDoc.etag === this.latestEtag) {
      this.lastDriftCheck = this.o.now().getTime();
      return this.apply(this.failedDoc.etag, this.failedDoc.desired);
    }
    if (this.status.phase === 'failed' && this.latestEtag !== this.record?.etag) {
      this.lastDriftCheck = this.o.now().getTime();
      return undefined;
    }
    return this.driftCheck();
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
