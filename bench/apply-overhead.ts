/**
 * Item 1 — apply overhead vs the kernel's floor.
 *
 * For a host ruleset of N rules (bench/host-ruleset.ts) and each backend, one run is:
 *   floor:    wipe the namespace, feed the exact ScriptSteps microseg sends (captured from its
 *             first apply) straight to `nft -f -` / `ipset restore` + `iptables-restore --noflush`
 *             through the same `ip netns exec` transport;
 *   microseg: wipe, forget state, plan the host (src/apply planModel: probe + read), then time
 *             applyPlan: journal, render, the same transaction, the re-read of what an atomic
 *             full sync cannot vouch for (hooks, owned chain names), verify, state write;
 *   microseg --full-read-back: the same with the host read back whole after the transaction,
 *             what apply did before (a third side, reported beside the target's ratio).
 * Both sides alternate within each run (their order flips every run); the figure is the median of
 * the per-run ratios apply / floor. plan+apply / floor is reported too (what `microseg apply`
 * costs end to end after compile). Targets: apply ≤ 1.5× the floor at 100 rules, ≤ 1.3× at 1,000
 * and 10,000. A batched floor (the same steps in one round trip, as microseg sends them) is
 * reported beside, so the part of the gain that is transport batching stays visible.
 *
 * Usage: node dist/bench/apply-overhead.js [--full] [--runs N]
 */
import type { BackendName, ScriptStep } from '../providers/types';
import { BENCH_NOW, elementCount, hostRulesHcl, modelOf, ruleCount } from './host-ruleset';
import { compile } from '../src/compile';
import { createNs, destroyNs, nsName, wipe } from './netns';
import { floorApply, floorApplyBatched, floorRead, microsegApply, withBackend, Workspace } from './reconcile';
import { bytesOf, defaultLog, median, newResult, round, rootSkipReason, writeResult, type BenchOptions, type Result } from './util';

export interface ApplyRow {
  backend: BackendName;
  rules: number;
  sets: number;
  elements: number;
  steps: number;
  bytes: number;
  runs: number;
  floorMs: number;
  applyMs: number;
  planMs: number;
  /** median over runs of applyMs / floorMs (same run). */
  ratio: number;
  /** median over runs of (planMs + applyMs) / floorMs. */
  ratioPlanApply: number;
  /** The same steps fed in ONE transport round trip (runSequence), as microseg sends them. */
  batchedFloorMs: number;
  /** median over runs of applyMs / batchedFloorMs. */
  ratioBatched: number;
  /** The read-back's own floor: the dump commands read() runs, timed raw on the applied host. */
  readFloorMs: number;
  /** applyPlan with fullReadBack (apply --full-read-back): the host read back whole after the transaction. */
  fullReadBackMs: number;
  /** median over runs of fullReadBackMs / floorMs. */
  ratioFullReadBack: number;
}

export const APPLY_BACKENDS: BackendName[] = ['nftables', 'iptables-nft'];

export function applySizes(quick: boolean): number[] {
  return quick ? [100, 1000, 10000] : [100, 300, 1000, 3000, 10000, 30000];
}

const METHOD =
  'Host ruleset of N rules (bench/host-ruleset.ts: one rule per policy, chains of ~200 rules, shared peer sets) in a fresh network namespace. ' +
  'Floor: the exact ScriptSteps microseg sent, fed straight to nft -f / ipset restore + iptables-restore --noflush, one `ip netns exec` per step. ' +
  '"Batched floor": the same steps in ONE `ip netns exec sh` (src/hosts/batch.ts runSequence), as microseg sends a host\'s transactions. ' +
  'microseg: src/apply applyPlan (lock, journal, the transactions and the re-read of the hooks and owned chain names in one round trip, verify, state write) after planModel; plan time is shown apart; ' +
  '"--full-read-back" is the same apply reading the host back whole after the transaction; "raw read-back" times only the dump commands of a full read. ' +
  'Each run wipes the namespace and the state first; floor and microseg alternate within a run (order flipped each run); ratios are per run, then the median.';

export async function runApplyOverhead(opts: BenchOptions & { sizes?: number[]; runs?: number; backends?: BackendName[] }): Promise<Result<ApplyRow>> {
  const result = newResult<ApplyRow>('apply-overhead', 'Apply overhead vs the floor', opts, METHOD);
  const skip = rootSkipReason();
  if (skip) {
    result.notes.push(`not run: ${skip}`);
    return result;
  }
  const sizes = opts.sizes ?? applySizes(opts.quick);
  const runs = opts.runs ?? (opts.quick ? 5 : 7);
  const backends = opts.backends ?? APPLY_BACKENDS;
  const host = await createNs('apply');
  const ws = new Workspace();
  try {
    for (const n of sizes) {
      const text = hostRulesHcl(n, { netns: nsName('apply'), backend: 'nftables' });
      const baseModel = modelOf(text);
      const ruleset = compile(baseModel, { now: BENCH_NOW }).rulesets.find((r) => r.enforcer === 'h0')!;
      for (const backend of backends) {
        const model = withBackend(baseModel, 'h0', backend);
        // Warm-up run (not measured): captures the steps the floor replays.
        await wipe(host);
        ws.reset();
        const first = await microsegApply(model, ruleset, ws);
        const steps: ScriptStep[] = first.steps;
        const floor: number[] = [];
        const apply: number[] = [];
        const plan: number[] = [];
        const ratio: number[] = [];
        const ratioPA: number[] = [];
        const readFloor: number[] = [];
        const fullRB: number[] = [];
        const ratioFRB: number[] = [];
        const batched: number[] = [];
        const ratioB: number[] = [];
        for (let r = 0; r < runs; r++) {
          let f = 0;
          let rf = 0;
          let a = { planMs: 0, applyMs: 0, steps: [] as ScriptStep[] };
          let frb = 0;
          let fb = 0;
          const doFloor = async () => {
            await wipe(host);
            f = await floorApply(host, steps);
            rf = await floorRead(host, backend);
          };
          const doBatched = async () => {
            await wipe(host);
            fb = await floorApplyBatched(host, steps);
          };
          const doApply = async () => {
            await wipe(host);
            ws.reset();
            a = await microsegApply(model, ruleset, ws);
            if (bytesOf(a.steps) !== bytesOf(steps)) throw new Error('microseg sent different steps than in the warm-up run');
          };
          const doFullReadBack = async () => {
            await wipe(host);
            ws.reset();
            frb = (await microsegApply(model, ruleset, ws, { fullReadBack: true })).applyMs;
          };
          const sides = [doFloor, doApply, doFullReadBack, doBatched];
          for (const side of r % 2 === 0 ? sides : [...sides].reverse()) await side();
          floor.push(f);
          apply.push(a.applyMs);
          plan.push(a.planMs);
          ratio.push(a.applyMs / f);
          ratioPA.push((a.planMs + a.applyMs) / f);
          readFloor.push(rf);
          fullRB.push(frb);
          ratioFRB.push(frb / f);
          batched.push(fb);
          ratioB.push(a.applyMs / fb);
        }
        const row: ApplyRow = {
          backend,
          rules: ruleCount(ruleset),
          sets: ruleset.sets.length,
          elements: elementCount(ruleset),
          steps: steps.length,
          bytes: bytesOf(steps),
          runs,
          floorMs: round(median(floor), 1),
          applyMs: round(median(apply), 1),
          planMs: round(median(plan), 1),
          ratio: round(median(ratio), 2),
          ratioPlanApply: round(median(ratioPA), 2),
          batchedFloorMs: round(median(batched), 1),
          ratioBatched: round(median(ratioB), 2),
          readFloorMs: round(median(readFloor), 1),
          fullReadBackMs: round(median(fullRB), 1),
          ratioFullReadBack: round(median(ratioFRB), 2),
        };
        result.rows.push(row);
        opts.log(
          `apply ${backend} ${row.rules} rules: floor ${row.floorMs} ms, apply ${row.applyMs} ms (${row.ratio}x; ${row.ratioBatched}x the batched floor ${row.batchedFloorMs} ms), plan ${row.planMs} ms (plan+apply ${row.ratioPlanApply}x); --full-read-back ${row.fullReadBackMs} ms (${row.ratioFullReadBack}x); raw read-back ${row.readFloorMs} ms`,
        );
      }
    }
  } finally {
    await wipe(host).catch(() => undefined);
    await destroyNs(host);
    ws.dispose();
  }
  for (const backend of backends) {
    for (const [rules, limit] of [[100, 1.5], [1000, 1.3], [10000, 1.3]] as const) {
      const row = result.rows.find((r) => r.backend === backend && r.rules === rules);
      result.targets.push({
        what: `apply overhead at ${rules.toLocaleString('en-US')} rules (${backend})`,
        measured: row ? row.ratio : null,
        limit: `≤ ${limit}× the floor`,
        met: row ? row.ratio <= limit : null,
        note: row
          ? `apply ${row.applyMs} ms vs floor ${row.floorMs} ms (median of ${row.runs} per-run ratios); ${row.ratioBatched}× the batched floor (${row.batchedFloorMs} ms)`
          : 'not measured in this run',
      });
    }
  }
  return result;
}

if (require.main === module) {
  const quick = !process.argv.includes('--full');
  // --runs N: more runs than the mode's default, when a 100-rule host's ~15 ms of fixed cost must
  // be told apart from run-to-run noise of the same size (5 quick runs cannot).
  const i = process.argv.indexOf('--runs');
  const runs = i >= 0 ? Number(process.argv[i + 1]) : undefined;
  if (runs !== undefined && !(Number.isInteger(runs) && runs > 0)) throw new Error('--runs takes a positive whole number');
  runApplyOverhead({ quick, log: defaultLog, runs })
    .then((r) => {
      const file = writeResult(r);
      defaultLog(`wrote ${file}`);
    })
    .catch((e) => {
      console.error(e);
      process.exitCode = 1;
    });
}
