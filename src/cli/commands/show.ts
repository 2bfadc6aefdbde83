/**
 * show [PLANFILE]: render a saved plan (human, or `--json` = the plan document), or without a
 * plan file the current state. Read-only; no host access.
 */
import { readPlanFile } from '../../plan';
import { LocalStateStore } from '../../state';
import type { Io } from '../io';
import { planJson, renderPlanHuman } from '../views/plan';
import { renderStateSummary } from '../views/state';
import { renderDiagnosticsHuman } from '../views/diagnostics';
import { failWith } from './plan';

export async function showCommand(io: Io, planFile: string | undefined, flags: { json?: boolean; dir?: string }): Promise<number> {
  try {
    if (planFile !== undefined) {
      const plan = await readPlanFile(planFile);
      if (flags.json) io.out(planJson(plan));
      else {
        renderDiagnosticsHuman(io, plan.diagnostics);
        io.out(`# plan made ${plan.created_at} by microseg ${plan.microseg_version} from state serial ${plan.serial}\n`);
        renderPlanHuman(io, plan);
      }
      return 0;
    }
    const store = new LocalStateStore(flags.dir ?? '.');
    const state = await store.load();
    if (!state) {
      io.err(`No state at ${store.description}.\n`);
      return 1;
    }
    if (flags.json) io.out(JSON.stringify(state, null, 2) + '\n');
    else renderStateSummary(io, state);
    return 0;
  } catch (e) {
    return failWith(io, e, flags.json);
  }
}
