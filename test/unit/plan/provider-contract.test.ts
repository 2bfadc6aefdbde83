/**
 * Contract between plan and the real providers: a host that reads back exactly what the provider
 * says `desired` looks like once applied (Provider.expected), and whose state recorded that read,
 * plans as a noop with and without the provider's projection. If this fails, either diffHost or a
 * provider's live shape moved.
 */
import { providerFor } from '../../../providers';
import { diffHost } from '../../../src/plan';
import { ownedFromLive, type StateHost } from '../../../src/state';
import { desiredWeb } from './fixtures';

describe.each(['nftables', 'iptables-nft', 'iptables-legacy'] as const)('%s', (backend) => {
  const provider = providerFor(backend);
  const d = desiredWeb();
  const expected = provider.expected!(d);
  const state: StateHost = {
    backend,
    connection: { type: 'local' },
    owned: ownedFromLive(expected),
    fingerprint: expected.fingerprint,
    status: 'applied',
    updated_at: '2025-01-01T00:00:00.000Z',
  };

  it('expected(desired) plans as a noop', () => {
    expect(diffHost(d, expected, state, { expected }).action).toBe('noop');
    expect(diffHost(d, expected, state).action).toBe('noop');
  });

  it('an empty host plans every object of desired', () => {
    const empty = { backend, sets: [], chains: [], hooks: [], fingerprint: 'e' };
    const p = diffHost(d, empty, undefined, { expected });
    expect(p.chains.map((c) => c.name)).toEqual(['in', 'out', 'pu-web']);
    expect(p.sets.map((s) => s.name)).toEqual(['ext-dns', 'pu-web']);
    expect(p.hooks).toHaveLength(4);
  });
});
