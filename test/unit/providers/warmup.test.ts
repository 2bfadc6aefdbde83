/**
 * Provider.conntrackWarmup: the transaction plan puts before the first full sync on a host where
 * microseg owns nothing (why: providers/types.ts; proved over ssh on a real kernel in
 * test/netns/ssh.test.ts). Pinned exactly, since it runs on hosts before anything else does.
 */
import { NftablesProvider } from '../../../providers/nftables';
import { IptablesProvider } from '../../../providers/iptables';
import type { DesiredRuleset } from '../../../src/compile/ir';
import { webFixture } from '../../netns/fixtures';

describe('conntrackWarmup', () => {
  it('nftables: one unhooked chain of our table with one ct state rule, as one delta', () => {
    const p = new NftablesProvider();
    const txs = p.conntrackWarmup(webFixture());
    expect(txs.map((t) => [t.table, t.kind])).toEqual([['inet microseg', 'delta']]);
    expect(p.serialize(txs[0])).toEqual({
      argv: ['nft', '-f', '-'],
      stdin: [
        '# microseg changes for enforcer srv: start connection tracking before the first ruleset (nothing jumps here; the full sync replaces the table); everything else in table inet microseg is left as it is',
        'add table inet microseg',
        'add chain inet microseg mseg-in',
        'add rule inet microseg mseg-in ct state { established, related } accept comment "microseg:conntrack-warmup"',
        '',
      ].join('\n'),
    });
  });

  it.each(['nft', 'legacy'] as const)('iptables-%s: the first hooked chain declared, not jumped to, with one conntrack rule, per family', (variant) => {
    const p = new IptablesProvider(variant);
    const steps = p.conntrackWarmup(webFixture()).map((tx) => p.serialize(tx));
    const tool = variant === 'nft' ? 'nft' : 'legacy';
    expect(steps.map((s) => s.argv[0])).toEqual([`iptables-${tool}-restore`, `ip6tables-${tool}-restore`]);
    for (const s of steps) {
      expect(s.argv).toContain('--noflush');
      expect(s.stdin.split('\n')).toEqual([
        '*filter',
        ':MSEG-in - [0:0]',
        '-A MSEG-in -m conntrack --ctstate ESTABLISHED,RELATED -m comment --comment "microseg:conntrack-warmup" -j ACCEPT',
        'COMMIT',
        '',
      ]);
      // Nothing jumps to it: no builtin chain is named.
      expect(s.stdin).not.toMatch(/INPUT|OUTPUT|FORWARD/);
    }
  });

  it('is empty when the ruleset uses no conntrack (nothing would need tracking)', () => {
    const none: DesiredRuleset = { ...webFixture(), chains: webFixture().chains.map((c) => ({ ...c, rules: c.rules.filter((r) => !r.match.ctState) })) };
    expect(new NftablesProvider().conntrackWarmup(none)).toEqual([]);
    expect(new IptablesProvider('nft').conntrackWarmup(none)).toEqual([]);
  });
});
