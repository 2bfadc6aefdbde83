import * as tls from 'tls';
import { x509 } from '../../../src/control/x509';
import {
  caIdOf,
  caSecret,
  certificateInfo,
  checkClientCertificate,
  createCa,
  createCsr,
  generateKeys,
  issueClientCertificate,
  issueServerCertificate,
  needsRenewal,
  privateKeyPem,
  rotationStep,
  signingCa,
  startRotation,
  trustBundle,
  unseal,
  type CaRecord,
} from '../../../src/control/ca';

const SECRET = 'a-test-secret-of-at-least-32-characters!';
const NOW = new Date('2026-12-06T00:00:00Z');
const HOUR = 3_600_000;

async function client(cas: CaRecord[], enforcer: string, now = NOW, validityMs = 24 * HOUR) {
  const keys = await generateKeys();
  const issued = await issueClientCertificate({ cas, secret: SECRET, csrPem: await createCsr(enforcer, keys), enforcer, now, validityMs });
  return { ...issued, keyPem: await privateKeyPem(keys.privateKey) };
}

describe('CA', () => {
  let cas: CaRecord[];
  beforeAll(async () => {
    cas = [await createCa({ secret: SECRET, now: NOW })];
  });

  it('refuses a missing or short sealing secret', () => {
    expect(() => caSecret({})).toThrow(/MICROSEG_CA_KEY is not set/);
    expect(() => caSecret({ MICROSEG_CA_KEY: 'short' })).toThrow(/at least 32/);
    expect(caSecret({ MICROSEG_CA_KEY: SECRET })).toBe(SECRET);
  });

  it('is a CA certificate whose private key is stored only sealed', async () => {
    const cert = new x509.X509Certificate(cas[0].certPem);
    expect(cert.getExtension(x509.BasicConstraintsExtension)?.ca).toBe(true);
    expect(await caIdOf(cas[0].certPem)).toBe(cas[0].id);
    const stored = JSON.stringify(cas[0]);
    expect(stored).not.toMatch(/PRIVATE KEY/);
    const pkcs8 = unseal(cas[0].key, SECRET, cas[0].id);
    expect(stored).not.toContain(pkcs8.toString('base64'));
    expect(() => unseal(cas[0].key, SECRET + 'x', cas[0].id)).toThrow(/does not open/);
    // bound to its record: the same sealed key under another CA's id does not open
    expect(() => unseal(cas[0].key, SECRET, 'another-id')).toThrow(/does not open/);
  });

  it('binds a client certificate to the enforcer named by the registration, not by the request', async () => {
    const keys = await generateKeys();
    const csr = await createCsr('web-1', keys);
    const issued = await issueClientCertificate({ cas, secret: SECRET, csrPem: csr, enforcer: 'db-1', now: NOW, validityMs: HOUR });
    const check = await checkClientCertificate(issued.certPem, cas, () => false, NOW);
    expect(check).toEqual(expect.objectContaining({ ok: true, enforcer: 'db-1', serial: issued.serial, caId: cas[0].id }));
    expect((await certificateInfo(issued.certPem)).enforcer).toBe('db-1');
  });

  it('keeps odd enforcer names exact through the certificate', async () => {
    const c = await client(cas, 'rack 7/host:a,b=c');
    expect(await checkClientCertificate(c.certPem, cas, () => false, NOW)).toEqual(expect.objectContaining({ ok: true, enforcer: 'rack 7/host:a,b=c' }));
  });

  it('refuses a request not signed by its own key', async () => {
    const csr = await createCsr('web-1', await generateKeys());
    const der = Buffer.from(x509.PemConverter.decode(csr)[0]);
    der[der.length - 5] ^= 0xff; // inside the signature
    const tampered = x509.PemConverter.encode(der, 'CERTIFICATE REQUEST');
    await expect(issueClientCertificate({ cas, secret: SECRET, csrPem: tampered, enforcer: 'web-1', now: NOW, validityMs: HOUR })).rejects.toThrow(/MSEG9803|not signed|PKCS#10/);
  });

  it('refuses revoked, expired, wrong-CA and server certificates, with the reason', async () => {
    const c = await client(cas, 'web-1', NOW, HOUR);
    expect(await checkClientCertificate(c.certPem, cas, (s) => s === c.serial, NOW)).toEqual(expect.objectContaining({ ok: false, reason: 'revoked' }));
    expect(await checkClientCertificate(c.certPem, cas, () => false, new Date(NOW.getTime() + 2 * HOUR))).toEqual(
      expect.objectContaining({ ok: false, reason: 'expired' }),
    );
    const other = [await createCa({ secret: SECRET, now: NOW })];
    const foreign = await client(other, 'web-1');
    expect(await checkClientCertificate(foreign.certPem, cas, () => false, NOW)).toEqual(expect.objectContaining({ ok: false, reason: 'unknown-ca' }));
    const sk = await generateKeys();
    const server = await issueServerCertificate({ cas, secret: SECRET, publicKey: sk.publicKey, hosts: ['127.0.0.1'], now: NOW, validityMs: HOUR });
    expect(await checkClientCertificate(server.certPem, cas, () => false, NOW)).toEqual(expect.objectContaining({ ok: false, reason: 'not-a-client' }));
    expect(await checkClientCertificate('not a certificate', cas, () => false, NOW)).toEqual(expect.objectContaining({ ok: false, reason: 'malformed' }));
  });

  it('renews after two thirds of the life, or at once when its CA no longer signs', () => {
    const cert = { notBefore: NOW, notAfter: new Date(NOW.getTime() + 3 * HOUR), caId: 'a' };
    expect(needsRenewal(cert, 'a', new Date(NOW.getTime() + 1.9 * HOUR))).toBe(false);
    expect(needsRenewal(cert, 'a', new Date(NOW.getTime() + 2 * HOUR))).toBe(true);
    expect(needsRenewal(cert, 'b', NOW)).toBe(true);
  });

  it('rotates with overlap: staged → signing beside previous → previous retired, each step only when the agents are ready', async () => {
    const a = await client(cas, 'a');
    const b = await client(cas, 'b');
    const old = cas[0].id;
    const staged = await startRotation(cas, SECRET, NOW);
    await expect(startRotation(staged, SECRET, NOW)).rejects.toThrow(/already under way/);
    const next = staged.find((c) => c.role === 'staged')!;
    // both CAs are published; the old one still signs
    expect(trustBundle(staged).match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
    expect(signingCa(staged).id).toBe(old);
    expect(rotationStep(staged, [{ enforcer: 'a', trusts: [old, next.id], certCaId: old }, { enforcer: 'b', trusts: [old], certCaId: old }])).toEqual({
      step: 'wait',
      phase: 'staged',
      waitingFor: ['b'],
    });
    const p = rotationStep(staged, [{ enforcer: 'a', trusts: [old, next.id], certCaId: old }, { enforcer: 'b', trusts: [old, next.id], certCaId: old }]);
    if (p.step !== 'promote') throw new Error(`expected promote, got ${p.step}`);
    const promoted = p.cas;
    expect(signingCa(promoted).id).toBe(next.id);
    // certificates from the old CA still work during the overlap; new ones come from the new CA
    expect(await checkClientCertificate(a.certPem, promoted, () => false, NOW)).toEqual(expect.objectContaining({ ok: true, caId: old }));
    const a2 = await client(promoted, 'a');
    expect(a2.caId).toBe(next.id);
    expect(rotationStep(promoted, [{ enforcer: 'a', trusts: [], certCaId: next.id }, { enforcer: 'b', trusts: [], certCaId: old }])).toEqual({
      step: 'wait',
      phase: 'previous',
      waitingFor: ['b'],
    });
    const r = rotationStep(promoted, [{ enforcer: 'a', trusts: [], certCaId: next.id }, { enforcer: 'b', trusts: [], certCaId: old }], true);
    if (r.step !== 'retire') throw new Error(`expected retire, got ${r.step}`);
    // after retirement the old CA's certificates are refused and it leaves the bundle
    expect(await checkClientCertificate(b.certPem, r.cas, () => false, NOW)).toEqual(expect.objectContaining({ ok: false, reason: 'unknown-ca' }));
    expect(await checkClientCertificate(a2.certPem, r.cas, () => false, NOW)).toEqual(expect.objectContaining({ ok: true }));
    expect(trustBundle(r.cas).match(/BEGIN CERTIFICATE/g)).toHaveLength(1);
    expect(rotationStep(r.cas, [])).toEqual({ step: 'none' });
  });

  it('works as Node TLS mutual authentication: a client certificate from the CA is accepted, a foreign one refused', async () => {
    const now = new Date();
    const live = [await createCa({ secret: SECRET, now })];
    const sk = await generateKeys();
    const served: string[] = [];
    const server = await issueServerCertificate({ cas: live, secret: SECRET, publicKey: sk.publicKey, hosts: ['127.0.0.1'], now, validityMs: HOUR });
    const srv = tls.createServer(
      { key: await privateKeyPem(sk.privateKey), cert: server.certPem, ca: trustBundle(live), requestCert: true, rejectUnauthorized: true },
      (s) => {
        const cn = (s.getPeerCertificate() as tls.PeerCertificate).subject.CN;
        served.push(cn);
        s.end(`hello ${cn}`);
      },
    );
    const clientErrors: string[] = [];
    srv.on('tlsClientError', (e) => clientErrors.push(e.message));
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as { port: number }).port;
    const talk = (c: { certPem: string; keyPem: string }) =>
      new Promise<string>((resolve, reject) => {
        const sock = tls.connect({ host: '127.0.0.1', port, ca: trustBundle(live), cert: c.certPem, key: c.keyPem, servername: undefined }, () => undefined);
        let out = '';
        sock.on('data', (d) => (out += d));
        sock.on('end', () => resolve(out));
        sock.on('error', reject);
        sock.setTimeout(30_000, () => sock.destroy(new Error('timeout')));
      });
    try {
      expect(await talk(await client(live, 'web-1', now))).toBe('hello web-1');
      const foreign = await client([await createCa({ secret: SECRET, now })], 'web-1', now);
      // Under TLS 1.3 the client's handshake completes before the server judges its certificate,
      // so the refusal shows either as an alert (an error) or as a close with nothing said.
      const refused = await talk(foreign).then(
        (out) => out,
        (e: Error) => `error: ${e.message}`,
      );
      expect(refused).not.toContain('hello');
      expect(clientErrors.length).toBeGreaterThan(0);
      expect(served).toEqual(['web-1']);
    } finally {
      srv.close();
    }
  });
});
