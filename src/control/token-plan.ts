/**
 * planTokens: the `enforcer_token` resources of a configuration against the workspace's live
 * tokens in the control store. Pure: resources and records in, TokenPlan out.
 *
 * A token is found by name (its resource address), not by state: the secret can only be shown
 * when the token is made, so apply must never make two for one resource, even after a run that
 * created the token and then failed before writing state. A revoked or expired-and-revoked token
 * does not count as live: revoking one by hand (`microseg token revoke`) and applying again is how
 * a token is rotated, and the plan shows that create.
 */
import { parseDuration } from '../compile/activity';
import type { EnforcerToken } from '../model/types';
import type { TokenPlan } from '../plan/types';
import { networksOf, type TokenRecord } from './tokens';

export function tokenTerms(t: EnforcerToken): NonNullable<TokenPlan['terms']> {
  return { namespace: t.namespace, roles: [...t.roles], networks: networksOf(t.networks), quota: t.quota, validity: t.validity };
}

/** planTokens: `removed` are addresses of enforcer_token resources state records that the configuration no longer has. */
export function planTokens(tokens: readonly EnforcerToken[], removed: readonly string[], live: readonly TokenRecord[]): TokenPlan[] {
  const byName = new Map<string, TokenRecord[]>();
  for (const r of live) if (!r.revokedAt) byName.set(r.name, [...(byName.get(r.name) ?? []), r]);
  const out: TokenPlan[] = [];
  const seen = new Set<string>();
  for (const t of tokens) {
    seen.add(t.address);
    const terms = tokenTerms(t);
    const have = byName.get(t.address) ?? [];
    if (have.length === 0) {
      out.push({ address: t.address, action: 'create', terms });
      continue;
    }
    // The newest live token is the resource's; older live ones (made by hand under that name) are left alone.
    const rec = have[have.length - 1];
    const changed = changedTerms(rec, terms);
    out.push(changed.length > 0 ? { address: t.address, action: 'update', id: rec.id, changed, terms } : { address: t.address, action: 'noop', id: rec.id, terms });
  }
  for (const a of removed) {
    if (seen.has(a)) continue;
    for (const rec of byName.get(a) ?? []) out.push({ address: a, action: 'revoke', id: rec.id });
  }
  return out.sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
}

/** changedTerms names the terms of `rec` that differ from `terms`; validity counts from the token's creation. */
export function changedTerms(rec: TokenRecord, terms: NonNullable<TokenPlan['terms']>): string[] {
  const out: string[] = [];
  const set = (xs: readonly string[]) => [...xs].sort().join(',');
  if (rec.namespace !== terms.namespace) out.push('namespace');
  if (set(rec.roles) !== set(terms.roles)) out.push('roles');
  if (set(rec.networks) !== set(terms.networks)) out.push('networks');
  if (rec.quota !== terms.quota) out.push('quota');
  if (Date.parse(rec.expiresAt) !== expiresAt(rec.createdAt, terms.validity)) out.push('validity');
  return out;
}

export function expiresAt(createdAt: string, validity: string): number {
  return Date.parse(createdAt) + (parseDuration(validity) ?? 0);
}
