/**
 * Item 2 — incremental change: one policy edited on a host holding N (10,000) rules.
 *
 * The edit: policy p0's port moves (tcp/1000 → another port), so one rule of one PU chain
 * changes (bench/host-ruleset.ts). Per run and backend, starting each time from a host that holds
 * the old ruleset (wipe + forget state + microseg apply of the old configuration, not timed):
 *   incremental: plan the new configuration + applyPlan, whose render is the provider's
 *                provider's delta (Provider.changes: the minimal transactions);
 *   full:        the same plan with its transactions replaced by the provider's full sync;
 * and, from the same starting point, the two transactions alone fed straight to the tools (no
 * read-back, no verification). Both sides alternate within each run; ratios are per run, then the
 * median. Bytes are the stdin bytes of every step sent (argv excluded). Targets: incremental apply
 * time ≤ 10% of the full apply's, bytes ≤ 5%.
 *
 * Usage: node dist/bench/incremental.js [--full]
 */
import { compile } from '../src/compile';
import type { DesiredRuleset } from '../src/compile/ir';
import type { Model } from '../src/model/types';
import type { BackendName, ScriptStep } from '../providers/types';
import { BENCH_NOW, hostRulesHcl, modelOf, ruleCount } from './host-ruleset';
import { createNs, destroyNs, nsName, wipe } from './netns';
import { floorApply, microsegApply, withBackend, Workspace } from './reconcile';
import { bytesOf, defaultLog, median, newResult, round, rootSkipReason, writeResult, type BenchOptions, type Result } from './util';
import { providerFor } from '../providers';

export interface IncrementalRow {
  backend: BackendName;
  rules: number;
  runs: number;
  /** Whether the provider planned a delta (always, since every provider has Provider.changes; kept for the results format). */
  renderChanges: boolean;
  fullApplyMs: number;
  incrApplyMs: number;
  fullBytes: number;
  incrBytes: number;
  /** Transactions alone (no read-back): the kernel side of each. */
  fullTxMs: number | null;
  incrTxMs: number | null;
  /** median of per-run incrApplyMs / fullApplyMs. */
  timeRatio: number;
  bytesRatio: number;
  txTimeRatio: number | null;
  /** Lines of the incremental script (what was named). */
  incrLines: number;
}

const METHOD =
  'Host of N rules (bench/host-ruleset.ts); the edit moves the port of one policy, changing one rule of one PU chain. ' +
  'Each run starts from a host holding the old ruleset (wipe, no state, then the transaction of microseg\'s first apply of it replayed; not timed). incremental = planModel + applyPlan of the planned delta (Provider.changes); ' +
  'full = the same plan with the full sync (Provider.fullSync) as its transactions. Times are applyPlan only (journal, transaction, read-back, verify, state); the incremental side reads back only what the delta touched plus the hooks where the provider offers readPartial (nftables and iptables), the full side reads back whole; ' +
  'tx = the same transactions fed straight to the tools from the same starting point. Bytes = stdin bytes of every step. Sides alternate per run; ratios per run, then the median.';

export function incrementalSizes(quick: boolean): number[] {
  return quick ? [10000] : [1000, 10000, 30000];
}

export async function runIncremental(opts: BenchOptions & { sizes?: number[]; runs?: number; backends?: BackendName[] }): Promise<Result<IncrementalRow>> {
  const result = newResult<IncrementalRow>('incremental', 'Incremental change vs full apply', opts, METHOD);
  const skip = rootSkipReason();
  if (skip) {
    result.notes.push(`not run: ${skip}`);
    return result;
  }
  const sizes = opts.sizes ?? incrementalSizes(opts.quick);
  const runs = opts.runs ?? (opts.quick ? 3 : 7);
  const backends = opts.backends ?? (['nftables', 'iptables-nft'] as BackendName[]);
  const host = await createNs('incr');
  const ws = new Workspace();
  try {
    for (const n of sizes) {
      const compileOne = (shift: number): { model: Model; ruleset: DesiredRuleset } => {
        const model = modelOf(hostRulesHcl(n, { netns: nsName('incr'), backend: 'nftables', portShift: shift }));
        return { model, ruleset: compile(model, { now: BENCH_NOW }).rulesets.find((r) => r.enforcer === 'h0')! };
      };
      const before = compileOne(0);
      const after = compileOne(n + 7);
      for (const backend of backends) {
        const oldModel = withBackend(before.model, 'h0', backend);
        const newModel = withBackend(after.model, 'h0', backend);
        // The starting point: microseg's own apply of the old ruleset on an empty host, captured
        // once and then replayed raw (the same kernel state, rule handles included, in far less time).
        await wipe(host);
        ws.reset();
        const setupSteps = (await microsegApply(oldModel, before.ruleset, ws)).steps;
        const setup = async () => {
          await wipe(host);
          ws.reset();
          await floorApply(host, setupSteps);
        };
        // Warm-up (not measured): capture both transactions for the raw replays.
        await setup();
        const incrSteps: ScriptStep[] = (await microsegApply(newModel, after.ruleset, ws)).steps;
        await setup();
        const fullSteps: ScriptStep[] = (await microsegApply(newModel, after.ruleset, ws, { full: true })).steps;
        const s = { incr: [] as number[], full: [] as number[], incrTx: [] as number[], fullTx: [] as number[], ratio: [] as number[], txRatio: [] as number[] };
        let txFailed: string | undefined;
        for (let r = 0; r < runs; r++) {
          const one = async (full: boolean) => {
            await setup();
            const t = await microsegApply(newModel, after.ruleset, ws, { full });
            if (bytesOf(t.steps) !== bytesOf(full ? fullSteps : incrSteps)) throw new Error('the executor sent different steps than in the warm-up run');
            return t.applyMs;
          };
          const tx = async (steps: ScriptStep[]) => {
            await setup();
            try {
              return await floorApply(host, steps);
            } catch (e) {
              txFailed = (e as Error).message;
              return NaN;
            }
          };
          const order = r % 2 === 0 ? [false, true] : [true, false];
          const got: Record<string, number> = {};
          for (const full of order) got[full ? 'full' : 'incr'] = await one(full);
          for (const full of order) got[full ? 'fullTx' : 'incrTx'] = await tx(full ? fullSteps : incrSteps);
          s.incr.push(got.incr);
          s.full.push(got.full);
          s.incrTx.push(got.incrTx);
          s.fullTx.push(got.fullTx);
          s.ratio.push(got.incr / got.full);
          s.txRatio.push(got.incrTx / got.fullTx);
        }
        const finite = (xs: number[]) => xs.filter(Number.isFinite);
        const row: IncrementalRow = {
          backend,
          rules: ruleCount(before.ruleset),
          runs,
          renderChanges: true,
          fullApplyMs: round(median(s.full), 1),
          incrApplyMs: round(median(s.incr), 1),
          fullBytes: bytesOf(fullSteps),
          incrBytes: bytesOf(incrSteps),
          fullTxMs: finite(s.fullTx).length ? round(median(finite(s.fullTx)), 1) : null,
          incrTxMs: finite(s.incrTx).length ? round(median(finite(s.incrTx)), 1) : null,
          timeRatio: round(median(s.ratio), 3),
          bytesRatio: round(bytesOf(incrSteps) / bytesOf(fullSteps), 4),
          txTimeRatio: finite(s.txRatio).length ? round(median(finite(s.txRatio)), 3) : null,
          incrLines: incrSteps.reduce((k, st) => k + st.stdin.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#')).length, 0),
        };
        if (txFailed) result.notes.push(`${backend} ${n}: replaying a captured transaction failed (${txFailed.slice(0, 200)}); tx columns use the runs that worked`);
        result.rows.push(row);
        opts.log(
          `incremental ${backend} ${row.rules} rules: apply ${row.incrApplyMs} vs ${row.fullApplyMs} ms (${row.timeRatio}), bytes ${row.incrBytes} vs ${row.fullBytes} (${row.bytesRatio}), tx ${row.incrTxMs} vs ${row.fullTxMs} ms (${row.txTimeRatio})`,
        );
      }
    }
  } finally {
    await wipe(host).catch(() => undefined);
    await destroyNs(host);
    ws.dispose();
  }
  for (const row of result.rows.filter((r) => r.rules === 10000)) {
    const measurable = row.renderChanges;
    result.targets.push({
      what: `incremental apply time, one policy changed at 10,000 rules (${row.backend})`,
      measured: measurable ? row.timeRatio : null,
      limit: '≤ 10% of the full apply',
      met: measurable ? row.timeRatio <= 0.1 : null,
      note: measurable
        ? `${row.incrApplyMs} ms vs ${row.fullApplyMs} ms; transactions alone ${row.incrTxMs} vs ${row.fullTxMs} ms (${row.txTimeRatio})`
        : 'the provider has no renderChanges: not measurable',
    });
    result.targets.push({
      what: `incremental bytes, one policy changed at 10,000 rules (${row.backend})`,
      measured: measurable ? row.bytesRatio : null,
      limit: '≤ 5% of the full apply',
      met: measurable ? row.bytesRatio <= 0.05 : null,
      note: measurable ? `${row.incrBytes} B vs ${row.fullBytes} B (${row.incrLines} script lines)` : 'not measurable',
    });
  }
  return result;
}

if (require.main === module) {
  const quick = !process.argv.includes('--full');
  runIncremental({ quick, log: defaultLog })
    .then((r) => defaultLog(`wrote ${writeResult(r)}`))
    .catch((e) => {
      console.error(e);
      process.exitCode = 1;
    });
}
