/**
 * Restricted enforcer-registration tokens: a token is exchanged once per enforcer for a client
 * certificate, from an address inside its `networks`, before it expires, at most `quota` times.
 *
 * A token reads `mseg_<id>_<secret>`: the id finds the record, the secret proves possession. Only
 * the secret's SHA-256 is stored. A slow password hash (scrypt, argon2) buys nothing here: the
 * secret is 256 random bits, not something a person chose, so it cannot be guessed from its hash,
 * and a fast hash keeps registration cheap for a thousand agents at once.
 *
 * Pure: records in, a decision out. The store applies the decision in one transaction (the quota
 * count and the replay check must hold across server replicas).
 */
import { createHash, randomBytes, timingSafeEqual } from 'crypto';
import ipaddr from 'ipaddr.js';
import type { CidrEntry } from '../model/types';
import { parseCidrEntry } from '../model/cidr';
import { parseDuration } from '../compile/activity';

const PREFIX = 'mseg_';

/** TokenRecord is a token as stored: never its secret, only the secret's hash. */
export interface TokenRecord {
  id: string;
  /** The enforcer_token resource (or `token create` name) it was issued under. */
  name: string;
  namespace: string;
  roles: string[];
  /** Normalised CIDRs the registration must come from; empty means anywhere. */
  networks: string[];
  /** Registrations allowed; 0 means no limit. */
  quota: number;
  /** Registrations taken so far. */
  used: number;
  /** The enforcers that registered with it (a second exchange for one of them is a replay). */
  registered: string[];
  createdAt: string;
  expiresAt: string;
  revokedAt?: string;
  secretHash: string;
}

export type TokenRefusal = 'malformed' | 'unknown' | 'bad-secret' | 'expired' | 'revoked' | 'over-quota' | 'outside-networks' | 'replay';

/** Diagnostic codes of refusals, so agents and logs name them the same way. */
export const REFUSAL_CODES: Record<TokenRefusal, string> = {
  malformed: 'MSEG9810',
  unknown: 'MSEG9811',
  'bad-secret': 'MSEG9811', // the same code and words as unknown: an attacker learns nothing from which
  expired: 'MSEG9812',
  revoked: 'MSEG9813',
  'over-quota': 'MSEG9814',
  'outside-networks': 'MSEG9815',
  replay: 'MSEG9816',
};

export type TokenDecision = { ok: true; token: TokenRecord } | { ok: false; reason: TokenRefusal; code: string; message: string };

export interface TokenSpec {
  name: string;
  namespace?: string;
  roles?: string[];
  networks?: string[];
  quota?: number;
  validity: string;
}

export class TokenError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** parseToken splits a presented token into id and secret; undefined if it is not one. */
export function parseToken(text: string): { id: string; secret: string } | undefined {
  const m = /^mseg_([A-Za-z0-9-]{16})_([A-Za-z0-9_-]{43})$/.exec(text.trim());
  return m ? { id: m[1], secret: m[2] } : undefined;
}

/** normaliseNetworks checks and normalises CIDRs (bare addresses become host prefixes); exclusions make no sense here. */
export function normaliseNetworks(networks: readonly string[]): string[] {
  const out: string[] = [];
  const problems: string[] = [];
  for (const n of networks) {
    const r = parseCidrEntry(n);
    if (!r.ok) problems.push(r.message);
    else if (r.value.exclude) problems.push(`${JSON.stringify(n)}: a token's networks cannot exclude; list the networks registrations may come from`);
    else if (!out.includes(r.value.cidr)) out.push(r.value.cidr);
  }
  if (problems.length > 0) throw new TokenError('MSEG9817', problems.join('; '));
  return out;
}

/**
 * newToken makes a token record and the one printable token. The token text is returned once and
 * exists nowhere else: the caller prints it and keeps only the record.
 */
export function newToken(spec: TokenSpec, now: Date): { record: TokenRecord; token: string } {
  const ms = parseDuration(spec.validity);
  if (ms === undefined) throw new TokenError('MSEG9817', `invalid validity ${JSON.stringify(spec.validity)}: write a duration such as "1h", "30m" or "7d"`);
  const quota = spec.quota ?? 0;
  if (!Number.isInteger(quota) || quota < 0) throw new TokenError('MSEG9817', `invalid quota ${quota}: a whole number, 0 for no limit`);
  // 12 random bytes in base64url are 16 characters; 32 bytes are 43.
  const id = randomBytes(12).toString('base64url').replace(/_/g, '-');
  const secret = randomBytes(32).toString('base64url');
  const record: TokenRecord = {
    id,
    name: spec.name,
    namespace: spec.namespace ?? 'default',
    roles: spec.roles ?? ['enforcer'],
    networks: normaliseNetworks(spec.networks ?? []),
    quota,
    used: 0,
    registered: [],
    createdAt: now.toISOString(),
    expiresAt: new Date(now.getTime() + ms).toISOString(),
    secretHash: hashSecret(secret),
  };
  return { record, token: `${PREFIX}${id}_${secret}` };
}

/**
 * remoteAddress normalises a socket's peer address: Node reports IPv4 clients of a dual-stack
 * listener as IPv4-mapped IPv6 (`::ffff:198.18.0.1`), which no IPv4 network would contain.
 */
export function remoteAddress(text: string): ipaddr.IPv4 | ipaddr.IPv6 | undefined {
  if (!ipaddr.isValid(text)) return undefined;
  const a = ipaddr.parse(text);
  return a.kind() === 'ipv6' && (a as ipaddr.IPv6).isIPv4MappedAddress() ? (a as ipaddr.IPv6).toIPv4Address() : a;
}

export function inNetworks(address: string, networks: readonly string[]): boolean {
  if (networks.length === 0) return true;
  const a = remoteAddress(address);
  if (!a) return false;
  return networks.some((n) => {
    const [net, bits] = ipaddr.parseCIDR(n);
    return net.kind() === a.kind() && a.match(net, bits);
  });
}

function refuse(reason: TokenRefusal, message: string): TokenDecision {
  return { ok: false, reason, code: REFUSAL_CODES[reason], message };
}

/**
 * checkRegistration decides one exchange of `presented` (the token text) by `enforcer` from
 * `address` at `now`. On success the returned record is the one to store (quota taken, enforcer
 * recorded); the store must write it only if `used` has not moved since it read it.
 */
export function checkRegistration(presented: string, lookup: (id: string) => TokenRecord | undefined, enforcer: string, address: string, now: Date): TokenDecision {
  const t = parseToken(presented);
  if (!t) return refuse('malformed', 'the token is not a microseg registration token (mseg_<id>_<secret>)');
  const rec = lookup(t.id);
  const unknown = 'the token is unknown or its secret does not match';
  if (!rec) return refuse('unknown', unknown);
  const want = Buffer.from(rec.secretHash, 'hex');
  const got = Buffer.from(hashSecret(t.secret), 'hex');
  if (want.length !== got.length || !timingSafeEqual(want, got)) return refuse('bad-secret', unknown);
  if (rec.revokedAt) return refuse('revoked', `token ${rec.name} (${rec.id}) was revoked at ${rec.revokedAt}`);
  if (now.getTime() >= Date.parse(rec.expiresAt)) return refuse('expired', `token ${rec.name} (${rec.id}) expired at ${rec.expiresAt}`);
  if (!inNetworks(address, rec.networks)) {
    return refuse('outside-networks', `token ${rec.name} (${rec.id}) may be used from ${rec.networks.join(', ')}, not from ${remoteAddress(address)?.toString() ?? address}`);
  }
  if (rec.registered.includes(enforcer)) {
    return refuse('replay', `token ${rec.name} (${rec.id}) was already exchanged for enforcer ${enforcer}'s certificate; a token is exchanged once per enforcer and never travels again (renew with the certificate)`);
  }
  if (rec.quota > 0 && rec.used >= rec.quota) return refuse('over-quota', `token ${rec.name} (${rec.id}) has registered its quota of ${rec.quota} enforcer(s)`);
  return { ok: true, token: { ...rec, used: rec.used + 1, registered: [...rec.registered, enforcer] } };
}

/** publicView is what may be shown of a token: everything but its hash. */
export function publicView(t: TokenRecord): Omit<TokenRecord, 'secretHash'> {
  const { secretHash: _hidden, ...rest } = t;
  return rest;
}

/** networksOf turns validated model entries into the token's network list. */
export function networksOf(entries: readonly CidrEntry[]): string[] {
  return entries.filter((e) => !e.exclude).map((e) => e.cidr);
}
