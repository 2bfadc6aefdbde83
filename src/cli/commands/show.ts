/**
 * show [PLANFILE]: render a saved plan (human, `--json` = the plan document, `--format markdown`
 * for a pull request comment), or without a
 * plan file the current state. Read-only; no host access. For a plan, the human view ends with
 * exactly what apply will run on each host: its transactions, serialised for their tools.
 */
import { ApplyCodes, readPlanFile } from '../../plan';
import { stateFileText } from '../../state';
import { withBackend } from './backend';
import { makeDiagnostic } from '../../diagnostics';
import type { Io } from '../io';
import { planJson, renderPlanHuman, renderTransactionsHuman } from '../views/plan';
import { renderStateSummary } from '../views/state';
import { renderPlanMarkdown } from '../views/plan-markdown';
import { viewFor } from '../views/view';

export async function showCommand(io: Io, planFile: string | undefined, flags: { json?: boolean; format?: string; dir?: string }): Promise<number> {
  const format = flags.format ?? (flags.json ? 'json' : 'human');
  const view = viewFor(io, format === 'json');
  try {
    if (format === 'markdown') {
      if (planFile === undefined) {
        return view.fail([makeDiagnostic('error', ApplyCodes.badFlag, '--format markdown needs a plan file', 'Save one with `microseg plan -out PLANFILE`, then run `microseg show PLANFILE --format markdown`.')]);
      }
      // The whole document on stdout, diagnostics included, so CI can post it as it is.
      io.out(renderPlanMarkdown(await readPlanFile(planFile), planFile));
      return 0;
    }
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
    return await withBackend(view, flags.dir ?? '.', {}, async ({ store }) => {
      const state = await store.load();
      if (!state) {
        return view.fail([
          makeDiagnostic('error', ApplyCodes.noState, `No state at ${store.description}`, 'Nothing was applied from this directory yet, or --dir names another project.'),
        ]);
      }
      view.result((out) => renderStateSummary(out, state), () => stateFileText(state));
      return 0;
    });
  } catch (e) {
    return view.thrown(e);
  }
}
