/**
 * The control plane's certificate authority: X.509 through @peculiar/x509 on Node's webcrypto (no
 * ASN.1 of our own), ECDSA P-256 keys, the CA's private key sealed at rest with a key from the
 * environment, client certificates bound to one enforcer's name, revocation by serial, and a
 * rotation with overlap.
 *
 * Everything here is data in, data out: where the records are kept (Postgres) and when the clock
 * reads what is the caller's business, so every rule is unit-testable.
 *
 * Rotation (`microseg ca rotate`) is three steps, each taken only when the fleet is ready for it,
 * so that no agent ever meets a certificate it cannot check:
 *   1. `staged`   the new CA is published in the trust bundle beside the signing one; agents fetch
 *                 the bundle on every poll and acknowledge which CAs they trust;
 *   2. `signing`  once every agent trusts the new CA, it signs (server certificate and renewals)
 *                 and the old one stays trusted (`previous`) so certificates it signed still work;
 *                 agents renew because their certificate's issuer is no longer the signing CA;
 *   3. `retired`  once every agent holds a certificate from the new CA, the old one is dropped
 *                 from the bundle and from what the server accepts.
 */
import { createCipheriv, createHash, createDecipheriv, randomBytes, scryptSync, webcrypto } from 'crypto';
import { x509, type CryptoKey, type CryptoKeyPair } from './x509';

const ALG = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIG = { name: 'ECDSA', hash: 'SHA-256' } as const;
const subtle = webcrypto.subtle;

/** The environment variable holding the secret that seals the CA's private key. */
export const CA_KEY_ENV = 'MICROSEG_CA_KEY';
/** A URI SAN names the enforcer a client certificate belongs to (the CN repeats it for humans). */
export const ENFORCER_URI_PREFIX = 'urn:microseg:enforcer:';

/** The role a CA plays: see the rotation steps in this file's header. */
export type CaRole = 'signing' | 'staged' | 'previous' | 'retired';

/** SealedKey is a private key encrypted with AES-256-GCM under a key derived (scrypt) from the environment's secret. */
export interface SealedKey {
  v: 1;
  salt: string;
  iv: string;
  tag: string;
  data: string;
}

/** CaRecord is one CA as stored: its certificate, its sealed key and its role. */
export interface CaRecord {
  /** SHA-256 thumbprint of the certificate, hex. */
  id: string;
  certPem: string;
  key: SealedKey;
  role: CaRole;
  createdAt: string;
}

export class CaError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** caSecret reads the sealing secret from the environment; refuses a missing or short one (a weak seal is no seal). */
export function caSecret(env: NodeJS.ProcessEnv = process.env): string {
  const s = env[CA_KEY_ENV];
  if (!s) throw new CaError('MSEG9800', `${CA_KEY_ENV} is not set: the CA's private key is sealed with it; set it to a secret of at least 32 characters, kept like a password`);
  if (s.length < 32) throw new CaError('MSEG9800', `${CA_KEY_ENV} is ${s.length} characters: use at least 32 (for example the output of "openssl rand -base64 32")`);
  return s;
}

const b64 = (b: Uint8Array | ArrayBuffer) => Buffer.from(b instanceof ArrayBuffer ? new Uint8Array(b) : b).toString('base64');

/** seal encrypts `plain`; `context` (the CA id) is authenticated with it so a sealed key cannot be swapped between records. */
export function seal(plain: Uint8Array, secret: string, context: string): SealedKey {
  const salt = randomBytes(16);
  const iv = randomBytes(12);
  const key = scryptSync(secret, salt, 32);
  const c = createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(Buffer.from(context));
  const data = Buffer.concat([c.update(plain), c.final()]);
  return { v: 1, salt: b64(salt), iv: b64(iv), tag: b64(c.getAuthTag()), data: b64(data) };
}

export function unseal(s: SealedKey, secret: string, context: string): Buffer {
  const key = scryptSync(secret, Buffer.from(s.salt, 'base64'), 32);
  const d = createDecipheriv('aes-256-gcm', key, Buffer.from(s.iv, 'base64'));
  d.setAAD(Buffer.from(context));
  d.setAuthTag(Buffer.from(s.tag, 'base64'));
  try {
    return Buffer.concat([d.update(Buffer.from(s.data, 'base64')), d.final()]);
  } catch {
    throw new CaError('MSEG9801', `the CA's private key does not open with ${CA_KEY_ENV}: the secret differs from the one it was sealed with`);
  }
}

/** randomSerial is a positive 128-bit serial in hex (RFC 5280 allows up to 20 octets; the top bit clear keeps it positive). */
export function randomSerial(): string {
  const b = randomBytes(16);
  b[0] &= 0x7f;
  b[0] |= 0x01; // never a leading zero octet, so the hex spelling is the DER one
  return b.toString('hex');
}

export function generateKeys(): Promise<CryptoKeyPair> {
  return subtle.generateKey(ALG, true, ['sign', 'verify']) as Promise<CryptoKeyPair>;
}

/** privateKeyPem exports a key as PKCS#8 PEM, the form Node's TLS takes. */
export async function privateKeyPem(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await subtle.exportKey('pkcs8', key));
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

export async function importPrivateKeyPem(pem: string): Promise<CryptoKey> {
  const der = x509.PemConverter.decode(pem)[0];
  return subtle.importKey('pkcs8', der, ALG, true, ['sign']);
}

export async function thumbprint(cert: x509.X509Certificate): Promise<string> {
  return Buffer.from(await cert.getThumbprint('SHA-256')).toString('hex');
}

/** createCa makes a self-signed CA valid for `years`, its key sealed with `secret`. */
export async function createCa(opts: { secret: string; now: Date; name?: string; years?: number; role?: CaRole }): Promise<CaRecord> {
  const keys = await generateKeys();
  const notAfter = new Date(opts.now);
  notAfter.setUTCFullYear(notAfter.getUTCFullYear() + (opts.years ?? 10));
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: [{ CN: [opts.name ?? `microseg CA ${opts.now.toISOString()}`] }, { O: ['microseg'] }],
    notBefore: backdate(opts.now),
    notAfter,
    keys,
    signingAlgorithm: SIG,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const id = await thumbprint(cert);
  const pkcs8 = new Uint8Array(await subtle.exportKey('pkcs8', keys.privateKey));
  return { id, certPem: cert.toString('pem'), key: seal(pkcs8, opts.secret, id), role: opts.role ?? 'signing', createdAt: opts.now.toISOString() };
}

/** Certificates start a minute early: a host whose clock is slightly behind must not refuse a fresh one. */
function backdate(now: Date): Date {
  return new Date(now.getTime() - 60_000);
}

/**
 * Opened CA keys of this process, by CA id, sealed record and secret. Unsealing runs scrypt
 * (tens of milliseconds of CPU, on the event loop); without this every registration and renewal
 * paid it, and a thousand agents registering or renewing through a rotation stalled the server.
 * The key is imported non-extractable and lives only in this process's memory, as it does while
 * it signs; nothing another replica needs.
 */
const openedKeys = new Map<string, Promise<CryptoKey>>();

async function signingKey(ca: CaRecord, secret: string): Promise<CryptoKey> {
  const id = createHash('sha256').update(`${ca.id}\0${JSON.stringify(ca.key)}\0${secret}`).digest('hex');
  let k = openedKeys.get(id);
  if (!k) {
    k = subtle.importKey('pkcs8', unseal(ca.key, secret, ca.id), ALG, false, ['sign']);
    // A wrong secret throws: not cached, so the next call says so again.
    k.catch(() => openedKeys.delete(id));
    openedKeys.set(id, k);
  }
  return k;
}

export function signingCa(cas: readonly CaRecord[]): CaRecord {
  const s = cas.filter((c) => c.role === 'signing');
  if (s.length !== 1) throw new CaError('MSEG9802', `expected exactly one signing CA, found ${s.length}`);
  return s[0];
}

/** trustedCas are the CAs whose certificates are accepted and published: all but the retired. */
export function trustedCas(cas: readonly CaRecord[]): CaRecord[] {
  return cas.filter((c) => c.role !== 'retired');
}

/** trustBundle is the PEM bundle agents use as --ca-file (signing CA first). */
export function trustBundle(cas: readonly CaRecord[]): string {
  const order: CaRole[] = ['signing', 'staged', 'previous'];
  return trustedCas(cas)
    .sort((a, b) => order.indexOf(a.role) - order.indexOf(b.role))
    .map((c) => c.certPem.trim() + '\n')
    .join('');
}

/** enforcerUri is the SAN that binds a client certificate to one enforcer. */
export function enforcerUri(enforcer: string): string {
  return ENFORCER_URI_PREFIX + encodeURIComponent(enforcer);
}

/** createCsr makes the agent's certificate request; its private key never leaves the host. */
export async function createCsr(enforcer: string, keys: CryptoKeyPair): Promise<string> {
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: [{ CN: [enforcer] }],
    keys,
    signingAlgorithm: SIG,
  });
  return csr.toString('pem');
}

export interface IssuedCertificate {
  certPem: string;
  serial: string;
  /** The CA that signed it. */
  caId: string;
  notAfter: string;
}

/**
 * issueClientCertificate signs the public key of a CSR for `enforcer`. The name comes from the
 * registration (what the token was exchanged for), never from the CSR's subject, so a request
 * cannot name itself into another enforcer.
 */
export async function issueClientCertificate(opts: {
  cas: readonly CaRecord[];
  secret: string;
  csrPem: string;
  enforcer: string;
  now: Date;
  validityMs: number;
}): Promise<IssuedCertificate> {
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(opts.csrPem);
  } catch (e) {
    throw new CaError('MSEG9803', `the certificate request is not a PKCS#10 request: ${(e as Error).message}`);
  }
  if (!(await csr.verify())) throw new CaError('MSEG9803', 'the certificate request is not signed by its own key');
  return issue(opts, csr.publicKey, [
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth], false),
    new x509.SubjectAlternativeNameExtension([{ type: 'url', value: enforcerUri(opts.enforcer) }], false),
  ], [{ CN: [opts.enforcer] }, { O: ['microseg enforcer'] }]);
}

/** issueServerCertificate signs the server's key for the given DNS names and IP addresses. */
export async function issueServerCertificate(opts: {
  cas: readonly CaRecord[];
  secret: string;
  publicKey: CryptoKey;
  hosts: string[];
  now: Date;
  validityMs: number;
}): Promise<IssuedCertificate> {
  const names: x509.JsonGeneralName[] = opts.hosts.map((h) => (/^[\d.]+$|:/.test(h) ? { type: 'ip', value: h } : { type: 'dns', value: h }));
  return issue(opts, new x509.PublicKey(await subtle.exportKey('spki', opts.publicKey)), [
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
    new x509.SubjectAlternativeNameExtension(names, false),
  ], [{ CN: ['microseg server'] }]);
}

async function issue(
  opts: { cas: readonly CaRecord[]; secret: string; now: Date; validityMs: number },
  publicKey: x509.PublicKey,
  extra: x509.Extension[],
  subject: x509.JsonName,
): Promise<IssuedCertificate> {
  const ca = signingCa(opts.cas);
  const caCert = new x509.X509Certificate(ca.certPem);
  const serial = randomSerial();
  const notAfter = new Date(opts.now.getTime() + opts.validityMs);
  // A certificate outliving its CA would fail anyway; cap it so renewal timing sees the real end.
  const end = notAfter > caCert.notAfter ? caCert.notAfter : notAfter;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial,
    subject,
    issuer: caCert.subjectName,
    notBefore: backdate(opts.now),
    notAfter: end,
    publicKey,
    signingKey: await signingKey(ca, opts.secret),
    signingAlgorithm: SIG,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      await x509.AuthorityKeyIdentifierExtension.create(caCert, false),
      ...extra,
    ],
  });
  return { certPem: cert.toString('pem'), serial, caId: ca.id, notAfter: end.toISOString() };
}

export type CertRefusal = 'malformed' | 'unknown-ca' | 'expired' | 'not-yet-valid' | 'revoked' | 'not-a-client' | 'no-enforcer';

export type CertCheck =
  | { ok: true; enforcer: string; serial: string; caId: string; notBefore: Date; notAfter: Date }
  | { ok: false; reason: CertRefusal; detail: string };

/** enforcerOf reads the enforcer a certificate is bound to (its URI SAN), or undefined. */
export function enforcerOf(cert: x509.X509Certificate): string | undefined {
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  const uri = san?.names.items.find((n) => n.type === 'url' && n.value.startsWith(ENFORCER_URI_PREFIX));
  return uri ? decodeURIComponent(uri.value.slice(ENFORCER_URI_PREFIX.length)) : undefined;
}

/**
 * checkClientCertificate decides whether a presented certificate may act as an enforcer: signed
 * by a trusted (not retired) CA, within its validity, a client certificate, bound to an enforcer
 * name, and not revoked. TLS has already checked the chain against the bundle it was given; this
 * check is repeated here because a replica's TLS context may be older than a revocation or a
 * retirement another replica wrote.
 */
export async function checkClientCertificate(
  certPemOrDer: string | Uint8Array,
  cas: readonly CaRecord[],
  isRevoked: (serial: string) => boolean,
  now: Date,
): Promise<CertCheck> {
  let cert: x509.X509Certificate;
  try {
    cert = new x509.X509Certificate(certPemOrDer as string);
  } catch (e) {
    return { ok: false, reason: 'malformed', detail: (e as Error).message };
  }
  let caId: string | undefined;
  for (const ca of trustedCas(cas)) {
    const caCert = new x509.X509Certificate(ca.certPem);
    if (caCert.subject !== cert.issuer) continue;
    if (await cert.verify({ publicKey: caCert.publicKey, signatureOnly: true })) {
      caId = ca.id;
      break;
    }
  }
  if (!caId) return { ok: false, reason: 'unknown-ca', detail: `issuer ${cert.issuer} is not a trusted microseg CA` };
  if (now < cert.notBefore) return { ok: false, reason: 'not-yet-valid', detail: `valid from ${cert.notBefore.toISOString()}` };
  if (now > cert.notAfter) return { ok: false, reason: 'expired', detail: `expired at ${cert.notAfter.toISOString()}` };
  const eku = cert.getExtension(x509.ExtendedKeyUsageExtension);
  if (!eku?.usages.includes(x509.ExtendedKeyUsage.clientAuth)) return { ok: false, reason: 'not-a-client', detail: 'no clientAuth extended key usage' };
  const enforcer = enforcerOf(cert);
  if (enforcer === undefined) return { ok: false, reason: 'no-enforcer', detail: 'no enforcer name in the subject alternative names' };
  const serial = cert.serialNumber.toLowerCase();
  if (isRevoked(serial)) return { ok: false, reason: 'revoked', detail: `certificate ${serial} of enforcer ${enforcer} is revoked` };
  return { ok: true, enforcer, serial, caId, notBefore: cert.notBefore, notAfter: cert.notAfter };
}

/** certificateInfo reads what an agent needs to decide on renewal. */
export async function certificateInfo(pem: string): Promise<{ serial: string; notBefore: Date; notAfter: Date; issuer: string; enforcer?: string }> {
  const c = new x509.X509Certificate(pem);
  return { serial: c.serialNumber.toLowerCase(), notBefore: c.notBefore, notAfter: c.notAfter, issuer: c.issuer, enforcer: enforcerOf(c) };
}

/** caIdOf is the id (thumbprint) of a CA certificate in PEM. */
export async function caIdOf(pem: string): Promise<string> {
  return thumbprint(new x509.X509Certificate(pem));
}

/**
 * needsRenewal: renew when two thirds of the certificate's life have passed (kubelet's and
 * cert-manager's habit), or when its CA is no longer the signing one (a rotation is under way).
 */
export function needsRenewal(cert: { notBefore: Date; notAfter: Date; caId: string }, signingCaId: string, now: Date): boolean {
  if (cert.caId !== signingCaId) return true;
  const life = cert.notAfter.getTime() - cert.notBefore.getTime();
  return now.getTime() >= cert.notBefore.getTime() + (life * 2) / 3;
}

/** What the server knows of each live agent, for rotation decisions. */
export interface AgentTrust {
  enforcer: string;
  /** The CA ids the agent said it trusts on its last poll. */
  trusts: string[];
  /** The CA that signed the agent's current certificate. */
  certCaId: string;
}

/** startRotation stages a new CA beside the signing one; refused while a rotation is under way. */
export async function startRotation(cas: readonly CaRecord[], secret: string, now: Date): Promise<CaRecord[]> {
  if (cas.some((c) => c.role === 'staged' || c.role === 'previous')) {
    throw new CaError('MSEG9804', 'a CA rotation is already under way; `microseg ca status` shows how far it is');
  }
  signingCa(cas);
  const next = await createCa({ secret, now, role: 'staged' });
  return [...cas, next];
}

export type RotationStep =
  | { step: 'none' }
  | { step: 'wait'; phase: 'staged' | 'previous'; waitingFor: string[] }
  | { step: 'promote' | 'retire'; cas: CaRecord[] };

/**
 * rotationStep is the next move of a rotation given the agents' reports: promote the staged CA
 * once every agent trusts it; retire the previous one once every agent's certificate comes from
 * the signing CA. `force` takes the move without waiting (for agents that are gone for good).
 */
export function rotationStep(cas: readonly CaRecord[], agents: readonly AgentTrust[], force = false): RotationStep {
  const staged = cas.find((c) => c.role === 'staged');
  if (staged) {
    const waiting = agents.filter((a) => !a.trusts.includes(staged.id)).map((a) => a.enforcer);
    if (waiting.length > 0 && !force) return { step: 'wait', phase: 'staged', waitingFor: waiting.sort() };
    return {
      step: 'promote',
      cas: cas.map((c) => (c.id === staged.id ? { ...c, role: 'signing' } : c.role === 'signing' ? { ...c, role: 'previous' } : c)),
    };
  }
  const previous = cas.find((c) => c.role === 'previous');
  if (previous) {
    const signing = signingCa(cas);
    const waiting = agents.filter((a) => a.certCaId !== signing.id).map((a) => a.enforcer);
    if (waiting.length > 0 && !force) return { step: 'wait', phase: 'previous', waitingFor: waiting.sort() };
    return { step: 'retire', cas: cas.map((c) => (c.role === 'previous' ? { ...c, role: 'retired' } : c)) };
  }
  return { step: 'none' };
}
