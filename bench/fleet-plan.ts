/**
 * Item 3 — plan at fleet size: a no-op plan over H namespace hosts vs reading each host with the
 * kernel's own dump tool, one host after another.
 *
 * Setup per backend and H: H network namespaces, each an enforcer of a bench/generate.ts fleet
 * (5 PUs per host, 50 policies, 10 external networks), applied once through microseg (planModel
 * + applyPlan) so state and every host agree. Then, alternating within each run:
 *   microseg: planModel (src/apply: refresh of every host in parallel — one read per host; no
 *             capability probe, which only hosts with changes get —
 *             then diff and plan assembly; the default parallelism, 10), asserted to be a no-op;
 *   floor:    `nft -j list ruleset` (nftables) or `iptables-save` (iptables-nft) on each host
 *             sequentially, through the same NetnsHost transport (one `ip netns exec` per host).
 * The plan's hosts are counted: transport commands (a `run` or a `runMany` batch: one `ip netns
 * exec` each) and the tool processes they start, so the table says what each side really ran.
 * Config load and compile are not in either side (they do not touch hosts); compile time is shown
 * apart. Target: the no-op plan is faster than the sequential floor (ratio < 1).
 *
 * Usage: node dist/bench/fleet-plan.js [--full]
 */
import { applyPlan } from '../src/apply';
import { hostFor, type HostFactory } from '../src/hosts';
import { planModel, DEFAULT_PARALLELISM } from '../src/plan';
import { kernelConnector } from '../providers';
import { compile } from '../src/compile';
import type { DesiredRuleset } from '../src/compile/ir';
import type { Backend, Model } from '../src/model/types';
import type { NetnsHost } from '../src/hosts/netns';
import type { Host } from '../src/hosts/types';
import { hasChanges } from '../src/plan';
import type { BackendName } from '../providers/types';
import { generateHcl } from './generate';
import { BENCH_NOW, modelOf } from './host-ruleset';
import { createNs, destroyNs, nsName, wipe } from './netns';
import { readCommands, Workspace } from './reconcile';
import { runAll } from '../src/hosts/batch';
import { defaultLog, median, newResult, nowMs, round, rootSkipReason, writeResult, type BenchOptions, type Result } from './util';

export interface FleetRow {
  backend: BackendName;
  hosts: number;
  rulesPerHost: number;
  runs: number;
  parallelism: number;
  planMs: number;
  floorMs: number;
  /** median of per-run planMs / floorMs. */
  ratio: number;
  compileMs: number;
  /**
   * Transport commands the no-op plan ran per host (probe + read): each `run`, and each `runMany`
   * batch, is one `ip netns exec` — against the floor's one.
   */
  commandsPerHost: number;
  /** Tool processes those commands started per host (a batch of n counts n), against the floor's one. */
  processesPerHost?: number;
  /**
   * Informative, not the target: the listings microseg's read makes (readCommands: e.g. both
   * families and ipset on iptables), one round trip per host, one host after another. It tells
   * the cost of what a plan must read apart from how microseg reads it.
   */
  sameReadsFloorMs?: number;
  /** median of per-run planMs / sameReadsFloorMs. */
  sameReadsRatio?: number;
}

export function fleetSizes(quick: boolean): number[] {
  return quick ? [10, 50, 100] : [10, 50, 100, 200];
}

/** fleetHcl is a generate.ts fleet of `hosts` enforcers whose netns connections point at this process's bench namespaces. */
export function fleetHcl(hosts: number): string {
  return generateHcl({ enforcers: hosts, pusPerEnforcer: 5, policies: 50, externalNetworks: 10 }).replace(
    /netns = "b(\d+)"/g,
    (_m, e: string) => `netns = "${nsName(`fp${e}`)}"`,
  );
}

function allBackends(model: Model, backend: Backend): Model {
  return { ...model, enforcers: model.enforcers.map((e) => ({ ...e, backend })) };
}

const FLOOR: Record<string, string[]> = {
  nftables: ['nft', '-j', 'list', 'ruleset'],
  'iptables-nft': ['iptables-nft-save'],
};

const METHOD =
  'H namespaces, one enforcer each (bench/generate.ts: 5 PUs per host, 50 policies, 10 external networks), applied once through microseg. ' +
  'microseg = planModel (refresh: backend from state and one read of every host, parallelism 10; diff; plan; capabilities are probed only on hosts with changes, so none here), asserted no-op. ' +
  `floor = ${FLOOR.nftables.join(' ')} (nftables) / ${FLOOR['iptables-nft'].join(' ')} (iptables-nft) on every host one after another, through the same NetnsHost transport (one ip netns exec per host). ` +
  '"same reads" = the listings microseg\'s read makes (both families and ipset save on iptables-nft; list table and list chains on nftables), one round trip per host, one host after another: informative, not the target. ' +
  'Per host, the table counts transport commands (each run, and each runMany batch, is one ip netns exec) and, in brackets, the tool processes they start. ' +
  'Compile is outside both (shown apart). Sides alternate per run; ratio per run, then the median.';

export async function runFleetPlan(opts: BenchOptions & { sizes?: number[]; runs?: number; backends?: BackendName[] }): Promise<Result<FleetRow>> {
  const result = newResult<FleetRow>('fleet-plan', 'No-op plan at fleet size vs sequential dumps', opts, METHOD);
  const skip = rootSkipReason();
  if (skip) {
    result.notes.push(`not run: ${skip}`);
    return result;
  }
  const sizes = opts.sizes ?? fleetSizes(opts.quick);
  const runs = opts.runs ?? (opts.quick ? 3 : 5);
  const backends = opts.backends ?? (['nftables', 'iptables-nft'] as BackendName[]);
  const hosts: NetnsHost[] = [];
  const ws = new Workspace();
  try {
    for (let e = 0; e < Math.max(...sizes); e++) hosts.push(await createNs(`fp${e}`));
    for (const h of sizes) {
      const t0 = nowMs();
      const baseModel = modelOf(fleetHcl(h));
      const rulesets: DesiredRuleset[] = compile(baseModel, { now: BENCH_NOW }).rulesets;
      const compileMs = nowMs() - t0;
      const rulesPerHost = Math.round(rulesets.reduce((n, r) => n + r.chains.reduce((k, c) => k + c.rules.length, 0), 0) / rulesets.length);
      for (const backend of backends) {
        const model = allBackends(baseModel, backend);
        for (const host of hosts) await wipe(host);
        ws.reset();
        const first = await planModel(model, rulesets, undefined, { store: ws.store });
        const applied = await applyPlan(first.plan, { store: ws.store, reads: first.reads });
        if (!applied.ok) throw new Error(`fleet apply failed: ${applied.hosts.map((x) => x.error ?? '').join('; ')}`);
        // Count what planModel runs (same transport, just counted): transport commands (one per
        // run, one per runMany batch) and the tool processes they start (a batch of n: n).
        let commands = 0;
        let processes = 0;
        const counting: HostFactory = (c) => {
          const h = hostFor(c);
          const counted: Host = { description: h.description, run: (argv, o) => ((commands += 1), (processes += 1), h.run(argv, o)) };
          if (h.runMany) {
            const many = h.runMany.bind(h);
            counted.runMany = (argvs, o) => ((commands += 1), (processes += argvs.length), many(argvs, o));
          }
          return counted;
        };
        const plan: number[] = [];
        const floor: number[] = [];
        const ratio: number[] = [];
        const same: number[] = [];
        const sameRatio: number[] = [];
        for (let r = 0; r < runs; r++) {
          let p = 0;
          let f = 0;
          let sr = 0;
          const doPlan = async () => {
            const state = await ws.store.load();
            const t = nowMs();
            commands = 0;
            processes = 0;
            const res = await planModel(model, rulesets, state, { store: ws.store, connect: kernelConnector(counting) });
            p = nowMs() - t;
            if (hasChanges(res.plan)) throw new Error(`the fleet plan is not a no-op (${backend}, ${h} hosts)`);
          };
          const doFloor = async () => {
            const t = nowMs();
            for (const host of hosts.slice(0, h)) {
              const out = await host.run(FLOOR[backend], { timeoutMs: 60_000 });
              if (out.code !== 0) throw new Error(`${FLOOR[backend].join(' ')} failed on ${host.description}: ${out.stderr.trim()}`);
            }
            f = nowMs() - t;
          };
          const doSameReads = async () => {
            const t = nowMs();
            for (const host of hosts.slice(0, h)) {
              const outs = await runAll(host, readCommands(backend), { timeoutMs: 60_000 });
              const bad = outs.find((o) => o.code !== 0);
              if (bad) throw new Error(`same-reads floor failed on ${host.description}: ${bad.stderr.trim()}`);
            }
            sr = nowMs() - t;
          };
          const sides = [doPlan, doFloor, doSameReads];
          for (const side of r % 2 === 0 ? sides : [...sides].reverse()) await side();
          plan.push(p);
          floor.push(f);
          ratio.push(p / f);
          same.push(sr);
          sameRatio.push(p / sr);
        }
        const row: FleetRow = {
          backend,
          hosts: h,
          rulesPerHost,
          runs,
          parallelism: DEFAULT_PARALLELISM,
          planMs: round(median(plan), 1),
          floorMs: round(median(floor), 1),
          ratio: round(median(ratio), 2),
          compileMs: round(compileMs, 1),
          commandsPerHost: round(commands / h, 1),
          processesPerHost: round(processes / h, 1),
          sameReadsFloorMs: round(median(same), 1),
          sameReadsRatio: round(median(sameRatio), 2),
        };
        result.rows.push(row);
        opts.log(`fleet ${backend} ${h} hosts: plan ${row.planMs} ms vs sequential floor ${row.floorMs} ms (${row.ratio}x); same reads sequentially ${row.sameReadsFloorMs} ms (${row.sameReadsRatio}x); ${row.commandsPerHost} transport commands (${row.processesPerHost} tool processes) per host`);
      }
    }
  } finally {
    for (const host of hosts) await wipe(host).catch(() => undefined);
    await destroyNs(...hosts);
    ws.dispose();
  }
  for (const row of result.rows) {
    result.targets.push({
      what: `no-op plan over ${row.hosts} hosts (${row.backend})`,
      measured: row.ratio,
      limit: '< 1× the sequential floor',
      met: row.ratio < 1,
      note: `${row.planMs} ms vs ${row.floorMs} ms`,
    });
  }
  return result;
}

if (require.main === module) {
  const quick = !process.argv.includes('--full');
  runFleetPlan({ quick, log: defaultLog })
    .then((r) => defaultLog(`wrote ${writeResult(r)}`))
    .catch((e) => {
      console.error(e);
      process.exitCode = 1;
    });
}
