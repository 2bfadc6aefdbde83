/**
 * Deterministic names and ids (PRACTICES 7–8). Every name here is a pure function of what it
 * stands for, so a memory-less rerun produces the same names and providers recognise ownership
 * by shape (`MSEG-`/`mseg-` prefix + these names) without parsing rule bodies.
 *
 * IR names are `[a-z0-9-]`, at most 23 characters (src/compile/ir.ts), leaving room for the
 * providers' 5-character prefixes under iptables' 28 and ipset's 31-character caps.
 */
import * as crypto from 'node:crypto';
import type { Match, Verdict } from './ir';
import { canonicalJson } from '../canonical-json';

/** MAX_NAME is the IR name cap (ir.ts). */
export const MAX_NAME = 23;

/** LOG_GROUP is the NFLOG group every microseg log rule sends to (one group so one collector reads all). */
export const LOG_GROUP = 42;

/**
 * LOG_LIMIT is every log rule's rate limit: 50 records a second per rule, bursts of 100. Each rule
 * has its own budget (nft `limit` and iptables `-m limit` keep state per rule), so a flood that
 * one rule logs does not silence another rule's records.
 */
export const LOG_LIMIT = { perSecond: 50, burst: 100 } as const;

/**
 * DISPATCH_CHAINS are the hooked chains: `in` (hook input), `out` (hook output) and `fwd` (hook
 * forward, only on hosts with forwarded PUs: workloads behind the host).
 */
export const DISPATCH_CHAINS = { input: 'in', output: 'out', forward: 'fwd' } as const;

/**
 * sha256hex hashes a string; all names and ids use it so they are stable across Node versions.
 * compile hashes once per rule, so it uses the one-shot crypto.hash (about twice as fast as
 * createHash for short strings) where the runtime has it (Node ≥ 20.12); the digest is the same.
 */
export function sha256hex(s: string): string {
  if (typeof crypto.hash === 'function') return crypto.hash('sha256', s, 'hex');
  return crypto.createHash('sha256').update(s).digest('hex');
}

export { canonicalJson };

/** slug lowercases and maps everything outside `[a-z0-9-]` to `-`, collapsing runs, at most `max` chars. */
export function slug(s: string, max: number): string {
  const out = s
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-/, '')
    .slice(0, max)
    .replace(/-$/, '');
  return out || 'x';
}

/**
 * puChainName names a PU's ingress (`i`) or egress (`o`) chain: `pu-<slug≤11>-<i|o>-<hash6>`,
 * e.g. `pu-web-i-3f2a9c` (at most 3+11+3+6 = 23 chars).
 *
 * Uniqueness: the slug alone may collide (truncation, case folding, `_`→`-`), so the suffix is
 * the first 6 hex of sha256(namespace NUL name), which identifies the PU; the direction letter
 * separates its two chains. Two PUs on one host collide only if 24 bits of sha256 collide
 * (≈ n²/2²⁵ for n PUs), and compile checks and reports that as MSEG6010 rather than trusting luck.
 * The name does not depend on addresses or policies, so they can change without renaming.
 */
export function puChainName(pu: { namespace: string; name: string }, dir: 'i' | 'o'): string {
  const h = sha256hex(`${pu.namespace}\u0000${pu.name}`).slice(0, 6);
  return `pu-${slug(pu.name, 11)}-${dir}-${h}`;
}

/**
 * setName names an address set `<kind>-<hash10>-<family>` (at most 1+1+10+2 = 14 chars) from the
 * canonical key of what it stands for (a selector, not its members), so identity churn changes
 * set elements but not set names or the rules that reference them (PRACTICES 6). `p` = peers,
 * `x` = excluded networks. 40 bits of hash make a collision among a host's sets negligible.
 */
export function setName(kind: 'p' | 'x', key: string, family: 4 | 6): string {
  return `${kind}-${sha256hex(key).slice(0, 10)}-${family}`;
}

/** ruleId is 12 hex of sha256(chain, canonical match, canonical verdict): stable and content-addressed. */
export function ruleId(chain: string, match: Match, verdict: Verdict): string {
  return ruleIdOfJson(chain, canonicalJson(match), canonicalJson(verdict));
}

/** ruleIdOfJson is ruleId given canonicalJson(match) and canonicalJson(verdict), for callers that reuse them across chains. */
export function ruleIdOfJson(chain: string, matchJson: string, verdictJson: string): string {
  return sha256hex(`${chain}\n${matchJson}\n${verdictJson}`).slice(0, 12);
}

/** policyHash is 8 hex identifying a policy (namespace + name) in log prefixes. */
export function policyHash(p: { namespace: string; name: string }): string {
  return sha256hex(`${p.namespace}\u0000${p.name}`).slice(0, 8);
}

/** defaultHash is 8 hex identifying a namespace's default in log prefixes (never equal to a policy's: another preimage). */
export function defaultHash(namespace: string): string {
  return sha256hex(`default\u0000${namespace}`).slice(0, 8);
}

/**
 * logPrefix is `mseg:<hash8>:<tag>:<i|o>`, at most 18 chars (the NFLOG prefix allows 63). The
 * hash names the policy (policyHash) or the namespace default (defaultHash); the tag says what the
 * record means: `A` allow, `R` reject, `C` continue, `DA`/`DR` the default allowing/rejecting;
 * observation (audit) rules prefix `O` (`OA`, `OR`, `OC`, `ODR`) because they record what would
 * happen without doing it; the last letter is the chain's direction (ingress `i`, egress `o`), so a
 * record says which side of the connection logged it. src/flows/records.ts reads it back.
 */
export function logPrefix(hash8: string, tag: string, dir: 'i' | 'o'): string {
  return `mseg:${hash8}:${tag}:${dir}`;
}
