/**
 * When the control plane answers 503 with Retry-After instead of queuing or failing (pure).
 *
 * A replica that cannot get a database connection in time, or whose pool queue is already long,
 * says so with 503 and a Retry-After in seconds; agents wait at least that long, jittered, so a
 * fleet that overloads its server spreads out instead of retrying as one wave. A 500 stays for
 * what is a bug.
 */
import type { PoolLoad } from './store';

/** The server-busy code (pool queue too long: the request was not started). */
export const BUSY_CODE = 'MSEG9838';
/** The database-unavailable code (no connection in time, or the database refused or dropped one). */
export const DB_UNAVAILABLE_CODE = 'MSEG9839';

/** overloaded: new requests are turned away once this many queries wait for a connection. */
export function overloaded(load: PoolLoad, maxQueue: number): boolean {
  return load.waiting >= maxQueue;
}

/**
 * retryAfterSeconds is about how long a query takes now, its wait for a connection included
 * (the store's moving average), between 1 and 30: by then the queue ahead has moved on. A count
 * of waiting queries alone says nothing of how fast they drain.
 */
export function retryAfterSeconds(load: PoolLoad): number {
  return Math.min(30, Math.max(1, Math.ceil(load.latencyMs / 1000)));
}

const UNAVAILABLE_ERRNO = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

/**
 * isDatabaseUnavailable tells a database that cannot serve now (pool wait timed out, connection
 * refused or lost, server shutting down or out of connections) from an error in what was asked.
 * SQLSTATE classes 08 (connection exception) and 53 (insufficient resources), and 57P01–57P03
 * (shutdown, cannot connect now).
 */
export function isDatabaseUnavailable(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  const code = (e as Error & { code?: unknown }).code;
  if (typeof code === 'string') {
    if (UNAVAILABLE_ERRNO.has(code)) return true;
    if (/^(08|53)[0-9A-Z]{3}$/.test(code) || /^57P0[123]$/.test(code)) return true;
  }
  // pg-pool's wait timeout and pg's lost connection carry no code; their wording is all there is.
  return /timeout exceeded when trying to connect|Connection terminated|connection timeout/i.test(e.message);
}
