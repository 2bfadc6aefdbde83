/**
 * The randomized differential without a kernel (bench/trace-differential.ts checkOffline): random
 * configurations × random connections, every outcome `trace` claims checked against the policy
 * semantics written from DESIGN §4 (bench/policy-oracle.ts), for every interface and address the
 * claim covers. Cheap enough to run many configurations on every test run; the real-kernel leg is
 * test/netns/trace-differential.test.ts.
 *
 * Seeds are random per run and printed on failure; MICROSEG_DIFF_SEED=S reruns from seed S.
 */
import { checkOfflineMany } from '../../../bench/trace-differential';

const CONFIGS = 60;
const FLOWS = 30;
const SEED = Number(process.env.MICROSEG_DIFF_SEED ?? Math.floor(Math.random() * 1e9));

describe('trace against the policy semantics on random configurations', () => {
  it(`every claim holds (${CONFIGS} configurations × ${FLOWS} flows from seed ${SEED})`, async () => {
    const { flows, claims, problems } = await checkOfflineMany(SEED, CONFIGS, FLOWS);
    // Reproduce one with MICROSEG_DIFF_SEED=<seed> (the seed is in each line).
    expect(problems.slice(0, 20)).toEqual([]);
    expect(flows).toBeGreaterThanOrEqual(CONFIGS * FLOWS * 0.9);
    // Each flow is at least one claim, and interfaces and address classes make many more.
    expect(claims).toBeGreaterThan(flows * 2);
  });
});
