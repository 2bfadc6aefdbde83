/**
 * When the agent renews its client certificate (pure). Renewal takes a new key and CSR and
 * replaces the certificate in the cert directory; the old one keeps working until then, so the
 * rules and the connection never depend on a renewal succeeding on the first try.
 */
export interface HeldCertificate {
  notBefore: Date;
  notAfter: Date;
  /** The CA that signed it (its thumbprint id, as the server names CAs). */
  caId: string;
}

export type RenewalReason = 'lifetime' | 'rotation' | 'expired';

/** RENEW_AT_FRACTION: renew once two thirds of the lifetime have passed (kubelet's and cert-manager's habit). */
export const RENEW_AT_FRACTION = 2 / 3;

/** renewAt is the instant two thirds into the certificate's life. */
export function renewAt(cert: HeldCertificate): Date {
  const life = cert.notAfter.getTime() - cert.notBefore.getTime();
  return new Date(cert.notBefore.getTime() + life * RENEW_AT_FRACTION);
}

/**
 * renewalReason says why the certificate must be renewed now, or undefined: `expired` (too late
 * for mTLS; the agent needs a new token), `rotation` (the server signs with another CA now: renew
 * from it before the old CA is retired), `lifetime` (two thirds of its life are gone).
 * `signingCaId` undefined (not known yet) never triggers a rotation renewal.
 */
export function renewalReason(cert: HeldCertificate, signingCaId: string | undefined, now: Date): RenewalReason | undefined {
  if (now.getTime() >= cert.notAfter.getTime()) return 'expired';
  if (signingCaId !== undefined && signingCaId !== cert.caId) return 'rotation';
  if (now.getTime() >= renewAt(cert).getTime()) return 'lifetime';
  return undefined;
}
