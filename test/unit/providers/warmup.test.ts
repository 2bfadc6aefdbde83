/**
 * Provider.conntrackWarmup: the transaction plan puts before the first full sync on a host where
 * microseg owns nothing (why: providers/types.ts; proved over ssh on a real kernel in
 * test/netns/ssh.test.ts). Pinned exactly, since it runs on hosts before anything else does.
 */
import { NftablesProvider } from '../../../providers/nftables';
import { IptablesProvider } from '../../../providers/iptables';
import { KernelFirewall } from '../../../providers/firewall';
import type { Host } from '../../../src/hosts/types';
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
        'add rule inet microseg mseg-in ct state { established, related } counter accept comment "microseg:conntrack-warmup"',
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

describe('the warm-up over a transport that passes the firewall', () => {
  it('is committed in a round trip of its own, before the one carrying the full sync; elsewhere all goes in one', async () => {
    const p = new NftablesProvider();
    const txs = [...p.conntrackWarmup(webFixture()), ...p.fullSync(webFixture(), undefined, 'test')];
    expect(txs.map((t) => t.separate ?? false)).toEqual([true, false]);
    const scripts: string[] = [];
    const host = (throughFirewall: boolean): Host => ({
      description: 'x',
      throughFirewall,
      run: async (_argv, o) => (scripts.push(o?.stdin ?? ''), { code: 0, stdout: '', stderr: '' }),
      runScript: async (script) => {
        scripts.push(script);
        // Answer as the sequence script would for every step: status 0 after each marker.
        const mark = /printf '\\n%s %d\\n' (\S+) /.exec(script)![1];
        const steps = script.split(`printf '\\n%s %d\\n' ${mark}`).length - 1;
        return { code: 0, stdout: `\n${mark} 0\n`.repeat(steps), stderr: `\n${mark}\n`.repeat(steps) };
      },
    });
    await new KernelFirewall(p, host(true)).run(txs);
    expect(scripts.map((s) => s.includes('conntrack-warmup') && !s.includes('delete table'))).toEqual([true, false]);
    scripts.length = 0;
    await new KernelFirewall(p, host(false)).run(txs);
    expect(scripts).toHaveLength(1);
  });
});
