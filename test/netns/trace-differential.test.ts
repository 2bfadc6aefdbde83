/**
 * Randomized differential of `microseg trace` against real kernels (issue 10): random
 * configurations × random connections (bench/trace-differential.ts), built as a sandbox of network
 * namespaces, programmed with the compiled rules on each backend, and every connection sent as
 * real packets. Each must agree with the offline trace of that very packet (else trace or a
 * provider is wrong) and with the policy semantics of DESIGN §4 (bench/policy-oracle.ts; else
 * compile or a provider is wrong). Bounded to a few configurations per backend; the campaign of
 * thousands of connections is `node dist/bench/trace-differential.js` (bench/README.md).
 *
 * Seeds are random per run and in every test name; MICROSEG_DIFF_SEED=S reruns from seed S, and
 * `node dist/bench/trace-differential.js --seed S --configs 1 --backends B` replays one alone.
 * iptables-legacy runs where ip_tables is available and is skipped visibly otherwise.
 */
import type { BackendName } from '../../providers';
import { runConfig } from '../../bench/trace-differential';
import { describeAsRoot, legacySkipReason } from './harness';

const CONFIGS = 3;
const FLOWS = 24;
const SEED = Number(process.env.MICROSEG_DIFF_SEED ?? Math.floor(Math.random() * 1e9));

const BACKENDS: Array<[BackendName, string]> = [
  ['nftables', 'dn'],
  ['iptables-nft', 'di'],
  ['iptables-legacy', 'dl'],
];

BACKENDS.forEach(([backend, tag], b) => {
  describeAsRoot(
    `trace vs ${backend} kernel on random configurations`,
    () => {
      for (let k = 0; k < CONFIGS; k++) {
        const seed = SEED + b * 1000 + k;
        it(`configuration ${k + 1} (seed ${seed}): every packet meets the trace and the semantics`, async () => {
          const o = await runConfig(seed, backend, FLOWS, `${tag}${k}`);
          // The hosts hold exactly the compiled rules, so a disagreement is about meaning, not apply.
          expect(o.outOfSync).toEqual([]);
          expect(o.disagreements).toEqual([]);
          expect(o.flows).toBeGreaterThanOrEqual(FLOWS * 0.9);
          // Nearly every flow is sent (only ICMP types a host cannot send are not); none is guessed.
          expect({ seed, unchecked: o.unchecked }).toEqual({ seed, unchecked: [] });
          expect(o.checked).toBe(o.flows);
        }, 240_000);
      }
    },
    backend === 'iptables-legacy' ? legacySkipReason : undefined,
  );
});
