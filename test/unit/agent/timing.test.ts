/** The agent's pure timing: retry backoff (jittered, exponential, capped) and certificate renewal. */
import { backoffDelay, jittered, retryDelay } from '../../../src/agent/backoff';
import { renewAt, renewalReason } from '../../../src/agent/renewal';

describe('backoffDelay', () => {
  const policy = { baseMs: 1000, capMs: 60_000 };
  it('doubles per failure between half and all of the step, and never exceeds the cap', () => {
    expect([1, 2, 3, 4].map((n) => backoffDelay(n, policy, () => 0))).toEqual([500, 1000, 2000, 4000]);
    expect([1, 2, 3, 4].map((n) => backoffDelay(n, policy, () => 1))).toEqual([1000, 2000, 4000, 8000]);
    for (const n of [7, 8, 50, 5000, Number.MAX_SAFE_INTEGER]) {
      expect(backoffDelay(n, policy, () => 1)).toBe(60_000);
      expect(backoffDelay(n, policy, () => 0)).toBe(30_000);
    }
  });
  it('spreads a fleet: different random draws give different delays, never zero', () => {
    const draws = [0.1, 0.5, 0.9].map((r) => backoffDelay(6, policy, () => r));
    expect(new Set(draws).size).toBe(3);
    expect(Math.min(...draws)).toBeGreaterThan(0);
    expect(backoffDelay(0, policy, () => NaN)).toBe(750); // nonsense in, a sane delay out
  });
  it('jittered stays within ±fraction', () => {
    expect(jittered(30_000, 0.2, () => 0)).toBe(24_000);
    expect(jittered(30_000, 0.2, () => 1)).toBe(36_000);
    expect(jittered(30_000, 0.2, () => 0.5)).toBe(30_000);
  });
});

describe('renewal timing', () => {
  const cert = { notBefore: new Date('2026-12-01T00:00:00Z'), notAfter: new Date('2026-12-04T00:00:00Z'), caId: 'ca-a' };
  it('renews at two thirds of the lifetime', () => {
    expect(renewAt(cert).toISOString()).toBe('2026-12-03T00:00:00.000Z');
    expect(renewalReason(cert, 'ca-a', new Date('2026-12-02T23:59:59Z'))).toBeUndefined();
    expect(renewalReason(cert, 'ca-a', new Date('2026-12-03T00:00:00Z'))).toBe('lifetime');
  });
  it('renews at once when the server signs with another CA (rotation), not when the signing CA is unknown', () => {
    expect(renewalReason(cert, 'ca-b', new Date('2026-12-01T01:00:00Z'))).toBe('rotation');
    expect(renewalReason(cert, undefined, new Date('2026-12-01T01:00:00Z'))).toBeUndefined();
  });
  it('says expired when too late for mTLS', () => {
    expect(renewalReason(cert, 'ca-b', new Date('2026-12-04T00:00:00Z'))).toBe('expired');
  });
});

describe('retryDelay', () => {
  const policy = { baseMs: 1000, capMs: 60_000 };
  it('waits the backoff when the server named no time, else at least its Retry-After, up to half as much again', () => {
    expect(retryDelay(1, undefined, policy, () => 0)).toBe(backoffDelay(1, policy, () => 0));
    expect([0, 0.5, 1].map((r) => retryDelay(1, 10_000, policy, () => r))).toEqual([10_000, 12_500, 15_000]);
    // a backoff already longer than the Retry-After stands
    expect(retryDelay(8, 2000, policy, () => 0)).toBe(backoffDelay(8, policy, () => 0));
    expect(retryDelay(1, 0, policy, () => 0)).toBe(500);
  });
});
