/**
 * `npm run bench`: every benchmark in quick mode (the small sizes, a few runs), or the large sizes
 * with `--full`, then bench/README.md's results section and plots regenerated from
 * bench/results/*.json.
 *
 * Usage: npm run bench [-- --full] [-- --only apply,incremental,fleet,compile,packet,forward,garbage,cidr] [-- --no-report]
 *
 * The kernel benchmarks (apply, incremental, fleet, packet, forward) need root: they create network
 * namespaces (addresses in 198.18.0.0/15), and always delete them. Without root they are
 * skipped with the reason recorded; compile runs anywhere.
 */
import { runApplyOverhead } from './apply-overhead';
import { runCidrContainment } from './cidr-containment';
import { runCompileScale } from './compile-scale';
import { runFleetPlan } from './fleet-plan';
import { runForwardCost } from './forward-cost';
import { runIncremental } from './incremental';
import { runPacketCost } from './packet-cost';
import { runParseGarbage } from './parse-garbage';
import { report } from './report';
import { defaultLog, nowMs, writeResult, type BenchOptions, type Result } from './util';

export const ITEMS: Record<string, (o: BenchOptions) => Promise<Result<unknown>>> = {
  apply: runApplyOverhead as (o: BenchOptions) => Promise<Result<unknown>>,
  incremental: runIncremental as (o: BenchOptions) => Promise<Result<unknown>>,
  fleet: runFleetPlan as (o: BenchOptions) => Promise<Result<unknown>>,
  compile: runCompileScale as (o: BenchOptions) => Promise<Result<unknown>>,
  packet: runPacketCost as (o: BenchOptions) => Promise<Result<unknown>>,
  forward: runForwardCost as (o: BenchOptions) => Promise<Result<unknown>>,
  garbage: runParseGarbage as (o: BenchOptions) => Promise<Result<unknown>>,
  cidr: runCidrContainment as (o: BenchOptions) => Promise<Result<unknown>>,
};

async function main(argv: string[]): Promise<number> {
  const quick = !argv.includes('--full');
  const i = argv.indexOf('--only');
  const only = i >= 0 ? argv[i + 1].split(',') : Object.keys(ITEMS);
  for (const name of only) if (!ITEMS[name]) throw new Error(`unknown item ${name}; known: ${Object.keys(ITEMS).join(', ')}`);
  const opts: BenchOptions = { quick, log: defaultLog };
  const t0 = nowMs();
  let failed = 0;
  for (const name of only) {
    const t = nowMs();
    defaultLog(`== ${name} (${quick ? 'quick' : 'full'}) ==`);
    try {
      const r = await ITEMS[name](opts);
      defaultLog(`   wrote ${writeResult(r)} in ${((nowMs() - t) / 1000).toFixed(0)} s`);
      for (const tg of r.targets) defaultLog(`   ${tg.met === null ? 'N/A    ' : tg.met ? 'MET    ' : 'NOT MET'} ${tg.what}: ${tg.measured} (${tg.limit})`);
    } catch (e) {
      failed++;
      defaultLog(`   ${name} FAILED: ${(e as Error).stack ?? String(e)}`);
    }
  }
  if (!argv.includes('--no-report')) {
    report();
    defaultLog('bench/README.md results and bench/results/*.svg regenerated');
  }
  defaultLog(`total ${((nowMs() - t0) / 1000).toFixed(0)} s`);
  return failed ? 1 : 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      console.error(e);
      process.exitCode = 1;
    },
  );
}
