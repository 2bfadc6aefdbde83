/**
 * One HTTPS request to the control plane, as an agent makes it: the server is checked against the
 * trust bundle (never `rejectUnauthorized: false`), the client certificate is presented when there
 * is one, and every request has a timeout, so an unreachable server is an error in bounded time.
 */
import * as https from 'https';

export interface ControlRequest {
  url: string;
  ca: string;
  cert?: string;
  key?: string;
  method: 'GET' | 'POST';
  path: string;
  body?: unknown;
  etag?: string;
  timeoutMs?: number;
}

export interface ControlResponse {
  status: number;
  etag?: string;
  body: Record<string, unknown>;
  /** Bytes of the response body as received (the bench counts them). */
  bytes: number;
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
          resolve({ status: res.statusCode ?? 0, etag, body, bytes: raw.length });
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
