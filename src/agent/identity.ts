/**
 * The agent's identity on disk: its private key, its client certificate and the trust bundle,
 * in a directory only root can enter.
 *
 *   CERT_DIR/            mode 0700
 *     key.pem            mode 0600  generated here; never sent anywhere (only a CSR is)
 *     cert.pem           mode 0644  the client certificate bound to the enforcer's name
 *     bundle.pem         mode 0644  the CAs the agent trusts now (--ca-file at first, then the server's)
 *
 * Key and certificate are replaced together on renewal: each is written to a temporary file and
 * renamed (atomicWriteFile), the key first, so a crash leaves either the old pair or a new key with
 * the old certificate. The latter is detected on load (the certificate's public key is not the
 * key's) and reported, never used.
 */
import { createPrivateKey, createPublicKey, X509Certificate } from 'crypto';
import { promises as fsp } from 'fs';
import * as path from 'path';
import { caIdOf, certificateInfo } from '../control/ca';
import { atomicWriteFile } from '../state/fsutil';
import { AgentCodes } from './codes';

export class AgentError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface Identity {
  keyPem: string;
  certPem: string;
  bundlePem: string;
  serial: string;
  notBefore: Date;
  notAfter: Date;
  /** The CA that signed the certificate (its id as the server names it). */
  caId: string;
  enforcer?: string;
}

export const KEY_FILE = 'key.pem';
export const CERT_FILE = 'cert.pem';
export const BUNDLE_FILE = 'bundle.pem';

/** ensureCertDir creates the directory 0700, or tightens an existing one to 0700 (refusing one that is not a directory). */
export async function ensureCertDir(dir: string): Promise<void> {
  await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
  const st = await fsp.lstat(dir);
  if (!st.isDirectory()) throw new AgentError(AgentCodes.certDirUnsafe, `${dir} is not a directory`);
  if ((st.mode & 0o077) !== 0) await fsp.chmod(dir, 0o700);
}

/** loadIdentity reads the cert dir; undefined when it holds no certificate yet (first start). */
export async function loadIdentity(dir: string): Promise<Identity | undefined> {
  const read = (f: string) => fsp.readFile(path.join(dir, f), 'utf8').catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? undefined : Promise.reject(e)));
  const [keyPem, certPem, bundlePem] = await Promise.all([read(KEY_FILE), read(CERT_FILE), read(BUNDLE_FILE)]);
  if (certPem === undefined || keyPem === undefined) return undefined;
  const st = await fsp.stat(path.join(dir, KEY_FILE));
  if ((st.mode & 0o077) !== 0) {
    throw new AgentError(AgentCodes.certDirUnsafe, `${path.join(dir, KEY_FILE)} is readable by others (mode ${(st.mode & 0o777).toString(8)}): the key may have leaked; remove the cert directory and register again`);
  }
  const cert = new X509Certificate(certPem);
  if (!cert.checkPrivateKey(createPrivateKey(keyPem))) {
    throw new AgentError(AgentCodes.certDirUnsafe, `${path.join(dir, CERT_FILE)} does not belong to ${path.join(dir, KEY_FILE)} (an interrupted renewal?): register again with a new token`);
  }
  const info = await certificateInfo(certPem);
  return {
    keyPem,
    certPem,
    bundlePem: bundlePem ?? '',
    serial: info.serial,
    notBefore: info.notBefore,
    notAfter: info.notAfter,
    caId: await issuerId(certPem, bundlePem ?? ''),
    enforcer: info.enforcer,
  };
}

/** issuerId finds which CA of the bundle signed `certPem` (its id), or '' when none does. */
export async function issuerId(certPem: string, bundlePem: string): Promise<string> {
  const cert = new X509Certificate(certPem);
  for (const ca of splitPem(bundlePem)) {
    const c = new X509Certificate(ca);
    if (cert.checkIssued(c) && cert.verify(c.publicKey)) return caIdOf(ca);
  }
  return '';
}

/** bundleIds are the ids of the CAs in a bundle (what the agent reports as `trusts`). */
export async function bundleIds(bundlePem: string): Promise<string[]> {
  return Promise.all(splitPem(bundlePem).map((p) => caIdOf(p)));
}

export function splitPem(bundle: string): string[] {
  return bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

/** writeIdentity stores a new key + certificate (+ bundle): key first, each by atomic rename. */
export async function writeIdentity(dir: string, id: { keyPem: string; certPem: string; bundlePem: string }): Promise<void> {
  await ensureCertDir(dir);
  await atomicWriteFile(path.join(dir, KEY_FILE), id.keyPem, { mode: 0o600 });
  await atomicWriteFile(path.join(dir, CERT_FILE), id.certPem, { mode: 0o644 });
  await atomicWriteFile(path.join(dir, BUNDLE_FILE), id.bundlePem, { mode: 0o644 });
}

/** writeBundle replaces the trust bundle alone (CA rotation). */
export async function writeBundle(dir: string, bundlePem: string): Promise<void> {
  await atomicWriteFile(path.join(dir, BUNDLE_FILE), bundlePem, { mode: 0o644 });
}

/**
 * readTokenFile reads a registration token. The token is never logged, never copied anywhere
 * and never read again once the agent holds a certificate; the file itself is left as it is
 * (it may sit on a read-only secret mount), and the agent says it can be deleted.
 */
export async function readTokenFile(file: string): Promise<string> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (e) {
    throw new AgentError(AgentCodes.tokenFileInvalid, `cannot read the token file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const token = text.trim();
  if (!/^mseg_[A-Za-z0-9-]{16}_[A-Za-z0-9_-]{43}$/.test(token)) {
    // Never quote the content: it may be a secret with a typo.
    throw new AgentError(AgentCodes.tokenFileInvalid, `the token file ${file} does not hold a registration token (mseg_<id>_<secret>, as \`microseg token create\` prints it)`);
  }
  return token;
}

/** publicKeyMatches: does `certPem` carry the public key of `keyPem`? (used by tests and renewal checks) */
export function publicKeyMatches(certPem: string, keyPem: string): boolean {
  const a = new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' });
  const b = createPublicKey(keyPem).export({ type: 'spki', format: 'der' });
  return Buffer.compare(a, b) === 0;
}
