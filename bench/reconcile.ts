/**
 * The microseg side of the kernel benchmarks: plan and apply one host through the real
 * reconciler (src/apply: planModel → applyPlan, with journal, read-back verification and state
 * writes), and the floor side: the same ScriptSteps fed straight to the tools.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { applyPlan } from '../src/apply';
import { planModel, type HostRead } from '../src/plan';
import type { DesiredRuleset } from '../src/compile/ir';
import type { Host } from '../src/hosts/types';
import { runSequence } from '../src/hosts/batch';
import type { Backend, Model } from '../src/model/types';
import { LocalStateStore } from '../src/state';
import type { BackendName, ScriptStep } from '../providers/types';
import { providerFor } from '../providers';
import { NFT_FAMILY, NFT_TABLE } from '../providers/nftables';
import { toolsFor } from '../providers/iptables';
import { nowMs } from './util';

/** withBackend returns a copy of `model` whose enforcer `name` uses `backend` (compile output does not depend on it). */
export function withBackend(model: Model, name: string, backend: Backend): Model {
  return { ...model, enforcers: model.enforcers.map((e) => (e.name === name ? { ...e, backend } : e)) };
}

/** Workspace is a throwaway state directory (LocalStateStore) for one benchmark. */
export class Workspace {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'microseg-bench-'));
  store = new LocalStateStore(this.dir);

  /** reset forgets all state (as for a first apply). */
  reset(): void {
    fs.rmSync(path.join(this.dir, '.microseg'), { recursive: true, force: true });
    this.store = new LocalStateStore(this.dir);
  }

  dispose(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface ApplyTiming {
  /** planModel: refresh (probe + read) + diff. */
  planMs: number;
  /** applyPlan: journal, render, transaction, read-back, verify, state write. */
  applyMs: number;
  /** What the executor sent to the host. */
  steps: ScriptStep[];
}

/**
 * microsegApply plans and applies `ruleset` on enforcer `enforcer` of `model` (only that host),
 * timing the plan and the apply separately. `full` replaces the planned transactions by the full
 * sync; `fullReadBack` reads the host back whole after the transaction (apply --full-read-back).
 * Throws if the apply did not verify.
 */
export async function microsegApply(
  model: Model,
  ruleset: DesiredRuleset,
  ws: Workspace,
  opts: { enforcer?: string; full?: boolean; fullReadBack?: boolean } = {},
): Promise<ApplyTiming> {
  const enforcer = opts.enforcer ?? ruleset.enforcer;
  const t0 = nowMs();
  const planned = await planModel(model, [ruleset], await ws.store.load(), { store: ws.store, targets: [enforcer], parallelism: 1 });
  const t1 = nowMs();
  const errors = planned.plan.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length > 0) throw new Error(`plan failed: ${errors.map((d) => `${d.summary} ${d.detail ?? ''}`).join('; ')}`);
  const reads: Map<string, HostRead> = planned.reads;
  if (opts.full) {
    // The full side: the same plan with the full sync in place of the delta (and verified the way
    // apply verifies every full sync).
    for (const hp of planned.plan.hosts) {
      const read = reads.get(hp.enforcer);
      if (!hp.transactions || !read?.live) continue;
      hp.transactions = providerFor(hp.backend).fullSync(planned.plan.desired[hp.enforcer], read.live, 'bench: full side');
      delete hp.read_scope;
    }
  }
  const t2 = nowMs();
  const res = await applyPlan(planned.plan, { store: ws.store, reads, parallelism: 1, fullReadBack: opts.fullReadBack });
  const t3 = nowMs();
  if (!res.ok) {
    throw new Error(`apply failed: ${[...res.hosts.map((h) => h.error ?? ''), ...res.diagnostics.map((d) => d.summary + ' ' + (d.detail ?? ''))].join('; ')}`);
  }
  return { planMs: t1 - t0, applyMs: t3 - t2, steps: res.hosts.flatMap((h) => h.transactions.map((tx) => providerFor(tx.backend).serialize(tx))) };
}

/** floorApply feeds `steps` straight to their tools on `host` (the same `ip netns exec` transport), timed. */
export async function floorApply(host: Host, steps: readonly ScriptStep[]): Promise<number> {
  const t0 = nowMs();
  for (const s of steps) {
    const r = await host.run(s.argv, { stdin: s.stdin, timeoutMs: 120_000 });
    if (r.code !== 0) throw new Error(`floor: ${s.argv.join(' ')} failed (${r.code}): ${r.stderr.trim().slice(0, 300)}`);
  }
  return nowMs() - t0;
}

/**
 * floorApplyBatched feeds the same `steps` to their tools in ONE transport round trip (one
 * `ip netns exec sh`, src/hosts/batch.ts runSequence), the way microseg now sends a host's
 * transactions: the floor of a script that batches as microseg does.
 */
export async function floorApplyBatched(host: Host, steps: readonly ScriptStep[]): Promise<number> {
  const t0 = nowMs();
  const out = await runSequence(host, steps, { timeoutMs: 120_000 });
  const bad = out.find((r) => r.code !== 0);
  if (bad || out.length !== steps.length) throw new Error(`floor (batched): a step failed (${bad?.code}): ${bad?.stderr.trim().slice(0, 300)}`);
  return nowMs() - t0;
}

/**
 * readCommands are the commands a provider's read() runs on a host (nothing parsed): the floor of
 * a read-back, for telling the kernel's dump cost apart from microseg's parsing and verification.
 */
export function readCommands(backend: BackendName): string[][] {
  if (backend === 'nftables') {
    return [
      ['nft', '-j', 'list', 'table', NFT_FAMILY, NFT_TABLE],
      ['nft', '-j', 'list', 'chains'],
    ];
  }
  const t = toolsFor(backend === 'iptables-nft' ? 'nft' : 'legacy');
  return [t.save(4), t.save(6), t.ipsetSave];
}

/** floorRead runs readCommands on `host`, timed. */
export async function floorRead(host: Host, backend: BackendName): Promise<number> {
  const t0 = nowMs();
  for (const argv of readCommands(backend)) {
    const r = await host.run(argv, { timeoutMs: 120_000 });
    if (r.code !== 0) throw new Error(`floor read: ${argv.join(' ')} failed (${r.code}): ${r.stderr.trim().slice(0, 300)}`);
  }
  return nowMs() - t0;
}
