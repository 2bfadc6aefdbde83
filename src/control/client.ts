/**
 * One HTTPS request to the control plane, as an agent makes it: the server is checked against the
 * trust bundle (never `rejectUnauthorized: false`), the client certificate is presented when there
 * is one, and every request has a timeout, so an unreachable server is an error in bounded time.
 */
import * as https from 'https';
import { applyDelta, documentEtag, type PatchOperation } from './delta';

export interface ControlRequest {
  url: string;
  ca: string;
  cert?: string;
  key?: string;
  method: 'GET' | 'POST';
  path: string;
  body?: unknown;
  etag?: string;
  /** `A-IM` (RFC 3229): `json-patch` asks for a delta against `etag`. */
  aim?: string;
  timeoutMs?: number;
}

export interface ControlResponse {
  status: number;
  etag?: string;
  body: Record<string, unknown>;
  /** Bytes of the response body as received (the bench counts them). */
  bytes: number;
  /** The server's Retry-After (a 503 says when to come back), in milliseconds. */
  retryAfterMs?: number;
}

/**
 * parseRetryAfter reads a Retry-After header, seconds or an HTTP date (RFC 9110 §10.2.3), as
 * milliseconds from `nowMs`, capped at an hour so a confused server cannot park an agent for days.
 */
export function parseRetryAfter(value: string | undefined, nowMs: number = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  let ms: number;
  if (/^\d+$/.test(v)) ms = Number(v) * 1000;
  else {
    // An HTTP date names its month; a bare number with a sign is no Retry-After.
    const at = /[A-Za-z]/.test(v) ? Date.parse(v) : NaN;
    if (Number.isNaN(at)) return undefined;
    ms = Math.max(0, at - nowMs);
  }
  return Math.min(ms, 3_600_000);
}

export function controlRequest(r: ControlRequest, agent?: https.Agent): Promise<ControlResponse> {
  return new Promise((resolve, reject) => {
    const u = new URL(r.path, r.url);
    const payload = r.body === undefined ? undefined : JSON.stringify(r.body);
    const req = https.request(
      {
        method: r.method,
        hostname: u.hostname.replace(/^\[|\]$/g, ''),
        port: u.port,
        path: u.pathname + u.search,
        ca: r.ca,
        cert: r.cert,
        key: r.key,
        agent,
        headers: {
          ...(payload !== undefined ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}),
          ...(r.etag ? { 'if-none-match': `"${r.etag}"` } : {}),
          ...(r.aim ? { 'a-im': r.aim } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const raw = Buffer.concat(chunks);
          let body: Record<string, unknown> = {};
          if (raw.length > 0) {
            try {
              body = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
            } catch {
              body = { error: raw.toString('utf8').slice(0, 500) };
            }
          }
          const etag = res.headers.etag?.replace(/"/g, '');
          const retryAfterMs = parseRetryAfter(res.headers['retry-after']);
          resolve({ status: res.statusCode ?? 0, etag, body, bytes: raw.length, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) });
        });
        res.on('error', reject);
      },
    );
    req.setTimeout(r.timeoutMs ?? 30_000, () => req.destroy(new Error(`no answer from ${r.url} within ${r.timeoutMs ?? 30_000} ms`)));
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

/** HeldRuleset is the document an agent holds and the etag it was published under. */
export interface HeldRuleset {
  etag: string;
  desired: unknown;
}

export type PullResult =
  | { status: 'unchanged'; etag: string; bytes: number }
  | { status: 'changed'; etag: string; desired: unknown; publishedAt?: string; signingCa?: string; bytes: number; via: 'delta' | 'full'; deltaRefused?: string }
  | { status: 'error'; httpStatus: number; code?: string; message: string; bytes: number; retryAfterMs?: number };

/**
 * pullRuleset asks for the caller's ruleset (long-polling `waitS` seconds when it holds one),
 * offering a delta against the document it holds: the patch is applied to a copy and the result
 * must hash to the etag the server named, or the full document is pulled instead (the agent never
 * applies a document it cannot prove is the published one). `bytes` counts every response body.
 */
export async function pullRuleset(
  r: Omit<ControlRequest, 'method' | 'path' | 'body' | 'etag'>,
  held: HeldRuleset | undefined,
  opts: { waitS?: number; delta?: boolean } = {},
  agent?: https.Agent,
): Promise<PullResult> {
  const wait = held && opts.waitS ? `?wait=${opts.waitS}` : '';
  const first = await controlRequest({ ...r, method: 'GET', path: `/v1/ruleset${wait}`, etag: held?.etag, aim: held && opts.delta !== false ? 'json-patch' : undefined }, agent);
  if (first.status === 304 && held) return { status: 'unchanged', etag: held.etag, bytes: first.bytes };
  let deltaRefused: string | undefined;
  if (first.status === 226 && held) {
    const etag = String(first.body.etag ?? first.etag ?? '');
    const base = String(first.body.base ?? '');
    const d = base === held.etag ? applyDelta(held.desired, first.body.patch as PatchOperation[], etag) : { ok: false as const, reason: `the patch is against ${base}, not the held ${held.etag}` };
    if (d.ok) return { status: 'changed', etag, desired: d.doc, publishedAt: first.body.published_at as string | undefined, signingCa: first.body.signing_ca as string | undefined, bytes: first.bytes, via: 'delta' };
    deltaRefused = d.reason;
  }
  const full = first.status === 226 ? await controlRequest({ ...r, method: 'GET', path: '/v1/ruleset' }, agent) : first;
  const bytes = first === full ? full.bytes : first.bytes + full.bytes;
  if (full.status !== 200) {
    return { status: 'error', httpStatus: full.status, code: full.body.code as string | undefined, message: String(full.body.error ?? `HTTP ${full.status}`), bytes, retryAfterMs: full.retryAfterMs };
  }
  const etag = String(full.body.etag ?? full.etag ?? '');
  // The full document is checked too: the agent applies only what hashes to the published etag.
  if (documentEtag(full.body.desired) !== etag) {
    return { status: 'error', httpStatus: full.status, code: 'MSEG9901', message: `the ruleset received does not hash to its etag ${etag}`, bytes };
  }
  return { status: 'changed', etag, desired: full.body.desired, publishedAt: full.body.published_at as string | undefined, signingCa: full.body.signing_ca as string | undefined, bytes, via: 'full', deltaRefused };
}
