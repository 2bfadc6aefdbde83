/**
 * test: check every `expect` block against the compiled rules (no host access). Exit 0 when all
 * pass, 1 when any fails or the configuration is invalid, so CI can gate policy changes on it.
 * `--format sarif` prints the failing expectations and every diagnostic as a SARIF log.
 */
import { evaluateExpectations } from '../../trace/expectations';
import type { Io } from '../io';
import { expectationsJson, renderExpectationsHuman } from '../views/trace';
import type { VarOptions } from './common';
import { liveTestCommand } from './sandbox';
import { formatView } from '../views/format';
import { ApplyCodes, expectationFailures } from '../../plan';
import { makeDiagnostic } from '../../diagnostics';
import { viewFor } from '../views/view';
import { loadCompiled } from './trace';

export async function testCommand(io: Io, dir: string, opts: VarOptions & { json?: boolean; live?: boolean; format?: string }): Promise<number> {
  // --live: real packets through the sandbox, compared with the offline trace (src/sandbox/live.ts).
  if (opts.live && opts.format !== undefined && opts.format !== 'human') {
    return viewFor(io, false).fail([makeDiagnostic('error', ApplyCodes.badFlag, '--live prints its own report; it cannot be combined with --format', 'Run `microseg test --format sarif` for the offline findings.')]);
  }
  if (opts.live) return liveTestCommand(io, dir, opts);
  const view = formatView(io, opts);
  const loaded = await loadCompiled(view, dir, opts);
  if (!loaded) return 1;
  const results = evaluateExpectations(loaded.model, loaded.compiled.rulesets);
  // In SARIF a failing expectation is a finding at its expect block (MSEG8215, the code plan
  // stops with); the human and JSON views show the results themselves.
  if (opts.format === 'sarif') view.diagnostics(expectationFailures(results));
  view.result(
    (out) => (results.length === 0 ? out.out(`No expect blocks in ${dir}: nothing to test.\n`) : renderExpectationsHuman(out, results)),
    () => expectationsJson(results),
  );
  return results.every((r) => r.pass) ? 0 : 1;
}
