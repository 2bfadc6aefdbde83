/**
 * Hand-built IR and live fixtures for plan tests. Addresses come from 198.18.0.0/15 (DESIGN §7).
 *
 * The host "web-1" has: sets `pu-web` (198.18.0.2/32, 198.18.0.3/32) and `ext-dns` (198.18.1.0/24);
 * dispatch chains `in` (hook input: rules i-est, i-web) and `out` (hook output: o-est); and the PU
 * chain `pu-web` (p1, p2, p3).
 */
import type { Chain, DesiredRuleset, Rule } from '../../../src/compile/ir';
import type { LiveChain, LiveHook, LiveRuleset } from '../../../providers/types';
import { providerFor } from '../../../providers';
import { ownedFromLive, type StateHost } from '../../../src/state';

export function rule(id: string, verdict: Rule['verdict'] = { kind: 'accept' }): Rule {
  return { id, match: { protocol: 'tcp', dports: [{ from: 80, to: 80 }] }, verdict };
}

export function chain(name: string, ids: string[], hook?: Chain['hook']): Chain {
  return { name, ...(hook ? { hook } : {}), rules: ids.map((id) => rule(id)) };
}

export function desiredWeb(overrides: Partial<DesiredRuleset> = {}): DesiredRuleset {
  return {
    enforcer: 'web-1',
    sets: [
      { name: 'ext-dns', family: 4, elements: ['198.18.1.0/24'], comment: 'extnet dns' },
      { name: 'pu-web', family: 4, elements: ['198.18.0.2/32', '198.18.0.3/32'] },
    ],
    chains: [chain('in', ['i-est', 'i-web'], 'input'), chain('out', ['o-est'], 'output'), chain('pu-web', ['p1', 'p2', 'p3'])],
    diagnostics: [],
    ...overrides,
  };
}

/** liveOf is what a clean nftables host would read back after `desired` was applied (Provider.expected). */
export function liveOf(desired: DesiredRuleset, fingerprint = 'fp-web-1'): LiveRuleset {
  return { ...providerFor('nftables').expected(desired), fingerprint };
}

/** stateOf is the state record after a verified apply that read back `live`. */
export function stateOf(live: LiveRuleset, status: StateHost['status'] = 'applied'): StateHost {
  return {
    backend: live.backend,
    connection: { type: 'netns', netns: 'mseg-web-1' },
    owned: ownedFromLive(live),
    fingerprint: live.fingerprint,
    status,
    updated_at: '2025-01-01T00:00:00.000Z',
  };
}

/** withChain returns `live` with chain `name` changed by `f`. */
export function withChain(live: LiveRuleset, name: string, f: (c: LiveChain) => LiveChain): LiveRuleset {
  return { ...live, chains: live.chains.map((c) => (c.name === name ? f(c) : c)) };
}

/** withHook returns `live` with hook (hook, family) changed by `f`. */
export function withHook(live: LiveRuleset, hook: LiveHook['hook'], family: 4 | 6, f: (h: LiveHook) => LiveHook): LiveRuleset {
  return { ...live, hooks: live.hooks.map((h) => (h.hook === hook && h.family === family ? f(h) : h)) };
}
