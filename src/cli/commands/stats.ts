/**
 * stats: read-only. How many connections each policy allowed and rejected on each host, the
 * namespace defaults' counts, and the policies that never matched (src/flows). Exit 0, or 1 when
 * the configuration is invalid or a host could not be read.
 */
import { readStats } from '../../flows/read';
import { withBackend } from './backend';
import type { CliDeps, Io } from '../io';
import { renderStatsHuman, statsJson } from '../views/stats';
import { viewFor } from '../views/view';
import { loadCompiled } from './trace';
import { parseCommon, type ReconcileFlags } from './plan';
import { readBaselines } from '../../flows/baseline';

export interface StatsFlags extends ReconcileFlags {
  json?: boolean;
  sinceApply?: boolean;
}

export async function statsCommand(io: Io, dir: string, flags: StatsFlags, deps: CliDeps = {}): Promise<number> {
  const view = viewFor(io, flags.json);
  const s = parseCommon(view, flags);
  if (!s) return 1;
  const loaded = await loadCompiled(view, dir, flags);
  if (!loaded) return 1;
  // State from the configured backend (local or pg, selected workspace).
  return withBackend(view, dir, {}, async ({ store }) => {
    const state = await store.load();
    const baselines = flags.sinceApply ? await readBaselines(dir) : undefined;
    const report = await readStats({
      model: loaded.model,
      rulesets: loaded.compiled.rulesets,
      state,
      targets: flags.target,
      parallelism: s.parallelism,
      connect: deps.connect,
      baselines,
    });
    view.result((out) => renderStatsHuman(out, report), () => statsJson(report));
    return report.hosts.some((h) => h.error) ? 1 : 0;
  });
}
