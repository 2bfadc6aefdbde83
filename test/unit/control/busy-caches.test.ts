import { isDatabaseUnavailable, overloaded, retryAfterSeconds } from '../../../src/control/busy';
import { CaCache, CertStatusCache, EtagCache } from '../../../src/control/caches';
import { parseRetryAfter } from '../../../src/control/client';
import type { CaRecord } from '../../../src/control/ca';

const load = (waiting: number, latencyMs = 0, max = 10) => ({ max, total: max, idle: 0, waiting, latencyMs });

describe('503 decisions', () => {
  it('turns requests away once the queue reaches the limit, and asks for about as long as a query takes now', () => {
    expect([overloaded(load(39), 40), overloaded(load(40), 40)]).toEqual([false, true]);
    expect([0, 300, 1000, 1001, 9500, 600_000].map((ms) => retryAfterSeconds(load(80, ms)))).toEqual([1, 1, 1, 2, 10, 30]);
  });

  it('tells a database that cannot serve now from an error in the request', () => {
    const coded = (code: string, message = 'x') => Object.assign(new Error(message), { code });
    expect(isDatabaseUnavailable(new Error('timeout exceeded when trying to connect'))).toBe(true);
    expect(isDatabaseUnavailable(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(['ECONNREFUSED', '08006', '53300', '57P01', '57P03'].map((c) => isDatabaseUnavailable(coded(c)))).toEqual([true, true, true, true, true]);
    // a syntax error, a unique violation, a bug: 500 as before
    expect(['42601', '23505'].map((c) => isDatabaseUnavailable(coded(c)))).toEqual([false, false]);
    expect(isDatabaseUnavailable(new TypeError('cannot read properties of undefined'))).toBe(false);
    expect(isDatabaseUnavailable('timeout exceeded when trying to connect')).toBe(false);
  });

  it('reads Retry-After as seconds or an HTTP date, capped at an hour', () => {
    const now = Date.parse('2026-12-06T20:00:00Z');
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter('Sun, 06 Dec 2026 20:00:07 GMT', now)).toBe(7000);
    expect(parseRetryAfter('Sun, 06 Dec 2026 19:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('999999', now)).toBe(3_600_000);
    expect([parseRetryAfter(undefined, now), parseRetryAfter('soon', now), parseRetryAfter('-1', now)]).toEqual([undefined, undefined, undefined]);
  });
});

describe('CertStatusCache', () => {
  it('believes ok within its TTL, revoked for ever, and never unknown', () => {
    const c = new CertStatusCache(1000);
    c.put('s1', 'web', 'ok', 0, c.at());
    c.put('s2', 'db', 'revoked', 0, c.at());
    c.put('s3', 'x', 'unknown', 0, c.at());
    expect([c.get('s1', 'web', 999), c.get('s1', 'web', 1000), c.get('s2', 'db', 1e9), c.get('s3', 'x', 0)]).toEqual(['ok', undefined, 'revoked', undefined]);
    // a serial presented under another enforcer's name is not answered from memory
    expect(c.get('s1', 'db', 0)).toBeUndefined();
  });

  it('marks an enforcer\'s certificates revoked on its notification, and drops an ok read that began before it', () => {
    const c = new CertStatusCache(60_000);
    c.put('a1', 'web', 'ok', 0, c.at());
    c.put('b1', 'db', 'ok', 0, c.at());
    const readStarted = c.at();
    c.revokeEnforcer('web');
    // the read that began before the revocation said ok: not believed
    c.put('a2', 'web', 'ok', 1, readStarted);
    expect([c.get('a1', 'web', 1), c.knownRevoked('a1'), c.get('a2', 'web', 1), c.get('b1', 'db', 1)]).toEqual(['revoked', true, undefined, 'ok']);
    // a revoked answer is kept whenever its read began
    c.put('a3', 'web', 'revoked', 1, readStarted);
    expect(c.get('a3', 'web', 1)).toBe('revoked');
    c.clear();
    expect([c.size, c.get('b1', 'db', 1), c.knownRevoked('a1')]).toEqual([0, undefined, false]);
  });

  it('keeps at most its bound, oldest out first', () => {
    const c = new CertStatusCache(60_000, 2);
    for (const s of ['s1', 's2', 's3']) c.put(s, 'e', 'ok', 0, c.at());
    expect([c.size, c.get('s1', 'e', 0), c.get('s3', 'e', 0)]).toEqual([2, undefined, 'ok']);
  });
});

describe('CaCache', () => {
  const ca = (id: string, role: CaRecord['role'] = 'signing') => ({ id, role }) as CaRecord;

  it('loads once for every request that asks meanwhile, and again after an invalidation', async () => {
    let loads = 0;
    let next = [ca('one')];
    const c = new CaCache(async () => (loads++, next));
    const [a, b] = await Promise.all([c.get(), c.get()]);
    expect([loads, a === b, a.cas.map((x) => x.id)]).toEqual([1, true, ['one']]);
    expect((await c.get()) === a).toBe(true);
    next = [ca('one', 'previous'), ca('two')];
    c.invalidate();
    const t = await c.get();
    expect([loads, t.cas.map((x) => `${x.id}:${x.role}`)]).toEqual([2, ['one:previous', 'two:signing']]);
    // a new CA set starts with no remembered certificate checks
    expect(t.checked === a.checked).toBe(false);
  });

  it('does not keep a load that an invalidation overtook', async () => {
    let release!: (cas: CaRecord[]) => void;
    let loads = 0;
    const c = new CaCache(() => (loads++, new Promise<CaRecord[]>((r) => (release = r))));
    const first = c.get();
    c.invalidate();
    release([ca('stale')]);
    expect((await first).cas[0].id).toBe('stale'); // the request that asked gets what was read
    const second = c.get();
    release([ca('fresh')]);
    expect([(await second).cas[0].id, loads]).toEqual(['fresh', 2]);
    // set() from a read that began before an invalidation is ignored too
    const g = c.at();
    c.invalidate();
    c.set([ca('old')], g);
    const third = c.get();
    release([ca('newest')]);
    expect((await third).cas[0].id).toBe('newest');
  });
});

describe('EtagCache', () => {
  it('remembers an etag until its enforcer\'s publish is notified, and not a read the notification overtook', () => {
    const c = new EtagCache();
    c.put('web', 'e1', c.at('web'));
    expect(c.get('web')).toBe('e1');
    const before = c.at('web');
    const other = c.at('db');
    c.published('web');
    expect(c.get('web')).toBeUndefined();
    c.put('web', 'e1', before); // read before the publish: stale
    c.put('db', 'd1', other); // another enforcer's publish does not matter
    expect([c.get('web'), c.get('db')]).toEqual([undefined, 'd1']);
    c.put('web', 'e2', c.at('web'));
    const beforeGap = c.at('db');
    c.clear();
    c.put('db', 'd2', beforeGap);
    expect([c.get('web'), c.get('db')]).toEqual([undefined, undefined]);
  });
});
