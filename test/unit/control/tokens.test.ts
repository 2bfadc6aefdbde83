import { checkRegistration, hashSecret, inNetworks, newToken, parseToken, publicView, REFUSAL_CODES, type TokenRecord } from '../../../src/control/tokens';

const NOW = new Date('2026-12-06T00:00:00Z');
const later = (ms: number) => new Date(NOW.getTime() + ms);

function store(...records: TokenRecord[]) {
  const m = new Map(records.map((r) => [r.id, r]));
  return { lookup: (id: string) => m.get(id), put: (r: TokenRecord) => m.set(r.id, r) };
}

describe('registration tokens', () => {
  it('prints the secret once and stores only its hash', () => {
    const { record, token } = newToken({ name: 'ci', validity: '1h', networks: ['198.18.0.0/24'], quota: 2 }, NOW);
    const p = parseToken(token)!;
    expect(p.id).toBe(record.id);
    expect(JSON.stringify(record)).not.toContain(p.secret);
    expect(record.secretHash).toBe(hashSecret(p.secret));
    expect(JSON.stringify(publicView(record))).not.toContain(record.secretHash);
    expect(record).toEqual(expect.objectContaining({ networks: ['198.18.0.0/24'], quota: 2, used: 0, expiresAt: '2026-12-06T01:00:00.000Z', roles: ['enforcer'] }));
  });

  it('refuses bad specs: validity, quota, networks (all network problems at once)', () => {
    expect(() => newToken({ name: 'x', validity: 'soon' }, NOW)).toThrow(/MSEG9817|invalid validity/);
    expect(() => newToken({ name: 'x', validity: '1h', quota: -1 }, NOW)).toThrow(/invalid quota/);
    expect(() => newToken({ name: 'x', validity: '1h', networks: ['10.0.0.0/33', '!10.0.0.0/8'] }, NOW)).toThrow(/10\.0\.0\.0\/33.*cannot exclude/);
  });

  it('accepts a token inside its networks and takes one of its quota', () => {
    const { record, token } = newToken({ name: 'ci', validity: '1h', networks: ['198.18.0.0/24'], quota: 2 }, NOW);
    const d = checkRegistration(token, store(record).lookup, 'web-1', '::ffff:198.18.0.7', later(1000));
    expect(d).toEqual({ ok: true, token: expect.objectContaining({ used: 1, registered: ['web-1'] }) });
  });

  it('refuses over quota, expired, revoked, outside networks, replayed, forged and malformed, with a reason and code each', () => {
    const { record, token } = newToken({ name: 'ci', validity: '1h', networks: ['198.18.0.0/24'], quota: 2 }, NOW);
    const s = store(record);
    for (const e of ['a', 'b']) {
      const d = checkRegistration(token, s.lookup, e, '198.18.0.1', NOW);
      if (!d.ok) throw new Error(d.message);
      s.put(d.token);
    }
    const reason = (d: ReturnType<typeof checkRegistration>) => (d.ok ? 'ok' : `${d.code} ${d.reason}`);
    expect(reason(checkRegistration(token, s.lookup, 'c', '198.18.0.1', NOW))).toBe('MSEG9814 over-quota');
    expect(reason(checkRegistration(token, s.lookup, 'a', '198.18.0.1', NOW))).toBe('MSEG9816 replay');
    expect(reason(checkRegistration(token, s.lookup, 'c', '198.18.0.1', later(3_600_000)))).toBe('MSEG9812 expired');

    const other = newToken({ name: 'lab', validity: '1h', networks: ['198.19.0.0/16', '2001:db8::/32'] }, NOW);
    const o = store(other.record);
    const refused = checkRegistration(other.token, o.lookup, 'c', '198.18.0.1', NOW);
    expect(reason(refused)).toBe('MSEG9815 outside-networks');
    expect(refused.ok ? '' : refused.message).toContain('not from 198.18.0.1');
    expect(reason(checkRegistration(other.token, o.lookup, 'c', '2001:db8::5', NOW))).toBe('ok');

    o.put({ ...other.record, revokedAt: NOW.toISOString() });
    expect(reason(checkRegistration(other.token, o.lookup, 'c', '198.19.0.1', NOW))).toBe('MSEG9813 revoked');

    const forged = other.token.slice(0, -4) + 'AAAA';
    const f = checkRegistration(forged, o.lookup, 'c', '198.19.0.1', NOW);
    const u = checkRegistration('mseg_AAAAAAAAAAAAAAAA_' + 'A'.repeat(43), o.lookup, 'c', '198.19.0.1', NOW);
    // a forged secret and an unknown id read the same, so a prober learns nothing from which
    expect(f.ok || u.ok ? 'ok' : [f.code, f.message]).toEqual([u.ok ? '' : u.code, u.ok ? '' : u.message]);
    expect(reason(checkRegistration('hello', o.lookup, 'c', '198.19.0.1', NOW))).toBe(`${REFUSAL_CODES.malformed} malformed`);
  });

  it('quota 0 is no limit; no networks is anywhere', () => {
    const { record, token } = newToken({ name: 'open', validity: '1h' }, NOW);
    const s = store(record);
    for (let i = 0; i < 5; i++) {
      const d = checkRegistration(token, s.lookup, `e${i}`, '203.0.113.9', NOW);
      if (!d.ok) throw new Error(d.message);
      s.put(d.token);
    }
    expect(s.lookup(record.id)!.used).toBe(5);
  });

  it('matches addresses by family and prefix, IPv4-mapped IPv6 as IPv4', () => {
    expect(inNetworks('::ffff:10.1.2.3', ['10.0.0.0/8'])).toBe(true);
    expect(inNetworks('10.1.2.3', ['2001:db8::/32'])).toBe(false);
    expect(inNetworks('11.0.0.1', ['10.0.0.0/8'])).toBe(false);
    expect(inNetworks('garbage', ['10.0.0.0/8'])).toBe(false);
  });
});
