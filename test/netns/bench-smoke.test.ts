/**
 * Smoke test of the kernel benchmarks: each runs its quick mode's smallest size once, end to end,
 * in namespaces it creates and deletes, so the harness cannot rot. No timing is asserted (timings
 * belong to `npm run bench`); only that every measurement produced sane, complete rows.
 */
import { runApplyOverhead } from '../../bench/apply-overhead';
import { runFleetPlan } from '../../bench/fleet-plan';
import { runForwardCost } from '../../bench/forward-cost';
import { runIncremental } from '../../bench/incremental';
import { runPacketCost } from '../../bench/packet-cost';
import { describeAsRoot, legacySkipReason } from './harness';

const log = () => undefined;

describeAsRoot('bench smoke (real kernel)', () => {
  it('apply overhead: 100 rules, both backends', async () => {
    const r = await runApplyOverhead({ quick: true, log, sizes: [100], runs: 1 });
    expect(r.rows.map((x) => x.backend)).toEqual(['nftables', 'iptables-nft']);
    for (const row of r.rows) {
      expect(row.rules).toBe(100);
      expect(row.floorMs).toBeGreaterThan(0);
      expect(row.applyMs).toBeGreaterThan(0);
      expect(row.fullReadBackMs).toBeGreaterThan(0);
      expect(row.bytes).toBeGreaterThan(0);
    }
  }, 120_000);

  it('incremental: one policy changed on a small host sends less than a full apply', async () => {
    const r = await runIncremental({ quick: true, log, sizes: [300], runs: 1 });
    expect(r.rows).toHaveLength(2);
    for (const row of r.rows) {
      expect(row.renderChanges).toBe(true);
      expect(row.incrBytes).toBeGreaterThan(0);
      expect(row.incrBytes).toBeLessThan(row.fullBytes);
    }
  }, 120_000);

  it('fleet plan: the smallest fleet plans as a no-op', async () => {
    const r = await runFleetPlan({ quick: true, log, sizes: [10], runs: 1, backends: ['nftables'] });
    expect(r.rows).toHaveLength(1);
    expect(r.rows[0].planMs).toBeGreaterThan(0);
    expect(r.rows[0].floorMs).toBeGreaterThan(0);
    expect(r.rows[0].sameReadsFloorMs).toBeGreaterThan(0);
  }, 120_000);

  it('packet cost: a short connect loop through every firewall', async () => {
    const r = await runPacketCost({ quick: true, log, identities: [10, 100], runs: 1, connects: 60 });
    expect(r.rows.map((x) => `${x.firewall}|${x.identities}`)).toEqual([
      'none|10',
      'microseg-nftables|10',
      'microseg-nftables|100',
      'microseg-iptables-nft|10',
      'microseg-iptables-nft|100',
      'naive-iptables-nft|10',
      'naive-iptables-nft|100',
    ]);
    for (const row of r.rows) expect(row.ratePerS).toBeGreaterThan(0);
  }, 120_000);

  it('forward cost: a short connect loop through the router with every firewall (rules proven in the path)', async () => {
    const r = await runForwardCost({ quick: true, log, identities: [10, 100], runs: 1, connects: 60 });
    const backends = ['nftables', 'iptables-nft', ...(legacySkipReason() ? [] : ['iptables-legacy'])];
    expect(r.rows.map((x) => `${x.firewall}|${x.identities}`)).toEqual(['none|10', 'conntrack-only|10', ...backends.flatMap((b) => [`microseg-${b}|10`, `microseg-${b}|100`])]);
    for (const row of r.rows) {
      expect(row.ratePerS).toBeGreaterThan(0);
      expect(row.rateVsNone).toBeGreaterThan(0);
    }
  }, 180_000);
});
