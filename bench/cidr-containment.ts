/**
 * Item 7 — CIDR list containment: parseCidrList over lists of N positive entries each with an
 * exclusion inside it (2N entries), at growing N side by side in one run. Every exclusion must be
 * checked against the positive entries of its list (DESIGN §4), which a naive pairwise check does
 * in N² time; growth is judged by the log-log slope between neighbouring sizes (1.0 linear, 2.0
 * quadratic), which cancels the machine's speed. This replaces a wall-clock budget that a unit test
 * used to assert (5,000 pairs < 1 s), which failed under load and proved nothing about growth.
 *
 * Usage: node dist/bench/cidr-containment.js [--full]
 */
import { parseCidrList } from '../src/model/cidr';
import { defaultLog, linearGrowthTarget, logSlope, median, newResult, nowMs, round, writeResult, type BenchOptions, type Result } from './util';

export interface CidrRow {
  pairs: number;
  runs: number;
  /** Median ms of one parseCidrList over the whole list. */
  ms: number;
  usPerEntry: number;
  /** log-log growth of ms against pairs from the previous size (1 = linear). */
  slope: number | null;
}

/** pairedList returns n /24 entries, each followed by an exclusion of its upper half. */
export function pairedList(n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(`10.${(i >> 8) & 255}.${i & 255}.0/24`, `!10.${(i >> 8) & 255}.${i & 255}.128/25`);
  return out;
}

const METHOD =
  'bench/cidr-containment.ts: parseCidrList over n /24 entries each followed by a /25 exclusion inside it, in this process; every sample covers as many entries as the largest size (a smaller list parsed that many times, the mean taken), one warm-up pass first, sizes alternating order run by run, medians per size. slope = log(ms_i/ms_{i-1}) / log(n_i/n_{i-1}).';

export async function runCidrContainment(opts: BenchOptions & { runs?: number; sizes?: number[] }): Promise<Result<CidrRow>> {
  const result = newResult<CidrRow>('cidr-containment', 'CIDR list containment', opts, METHOD);
  const sizes = opts.sizes ?? (opts.quick ? [2500, 5000, 10000] : [2500, 5000, 10000, 20000, 40000]);
  const runs = opts.runs ?? (opts.quick ? 3 : 5);
  const lists = sizes.map(pairedList);
  for (const l of lists) if (parseCidrList(l).problems.length) throw new Error('the generated list is not valid');
  const largest = Math.max(...sizes);
  const samples = sizes.map(() => [] as number[]);
  for (let r = 0; r < runs; r++) {
    const order = sizes.map((_, i) => i);
    if (r % 2 === 1) order.reverse();
    for (const i of order) {
      const reps = Math.max(1, Math.round(largest / sizes[i]));
      const t0 = nowMs();
      for (let k = 0; k < reps; k++) parseCidrList(lists[i]);
      samples[i].push((nowMs() - t0) / reps);
      opts.log(`cidr ${sizes[i]} pairs: ${samples[i][samples[i].length - 1].toFixed(2)} ms (mean of ${reps})`);
    }
  }
  let prev: CidrRow | undefined;
  sizes.forEach((pairs, i) => {
    const ms = median(samples[i]);
    const row: CidrRow = {
      pairs,
      runs: samples[i].length,
      ms: round(ms, 2),
      usPerEntry: round((ms * 1000) / (2 * pairs), 3),
      slope: prev ? logSlope(prev.pairs, prev.ms, pairs, ms) : null,
    };
    result.rows.push(row);
    prev = row;
  });
  result.targets.push(linearGrowthTarget('containment check grows linearly with the list (largest log-log slope between neighbouring sizes)', result.rows, (r) => `${r.pairs}:`));
  return result;
}

if (require.main === module) {
  runCidrContainment({ quick: !process.argv.includes('--full'), log: defaultLog })
    .then((r) => {
      defaultLog(`wrote ${writeResult(r)}`);
      for (const t of r.targets) defaultLog(`${t.met ? 'MET' : 'NOT MET'} ${t.what}: ${t.measured} (${t.limit})`);
    })
    .catch((e) => {
      console.error(e);
      process.exitCode = 1;
    });
}
