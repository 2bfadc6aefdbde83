/**
 * show [PLANFILE]: render a saved plan (human, or `--json` = the plan document), or without a
 * plan file the current state. Read-only; no host access. For a plan, the human view ends with
 * exactly what apply will run on each host: its transactions, serialised for their tools.
 */
import { ApplyCodes, readPlanFile } from '../../plan';
import { LocalStateStore, stateFileText } from '../../state';
import { makeDiagnostic } from '../../diagnostics';
import type { Io } from '../io';
import { planJson, renderPlanHuman, renderTransactionsHuman } from '../views/plan';
import { renderStateSummary } from '../views/state';
import { viewFor } from '../views/view';

export async function showCommand(io: Io, planFile: string | undefined, flags: { json?: boolean; dir?: string }): Promise<number> {
  const view = viewFor(io, flags.json);
  try {
    if (planFile !== undefined) {
      const plan = await readPlanFile(planFile);
      view.diagnostics(plan.diagnostics);
      view.result((out) => {
        out.out(`# plan made ${plan.created_at} by microseg ${plan.microseg_version} from state serial ${plan.serial}\n`);
        renderPlanHuman(out, plan);
        renderTransactionsHuman(out, plan);
      }, () => planJson(plan));
      return 0;
    }
    const store = new LocalStateStore(flags.dir ?? '.');
    const state = await store.load();
    if (!state) {
      return view.fail([
        makeDiagnostic('error', ApplyCodes.noState, `No state at ${store.description}`, 'Nothing was applied from this directory yet, or --dir names another project.'),
      ]);
    }
    view.result((out) => renderStateSummary(out, state), () => stateFileText(state));
    return 0;
  } catch (e) {
    return view.thrown(e);
  }
}
