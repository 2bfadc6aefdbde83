/**
 * test: check every `expect` block against the compiled rules (no host access). Exit 0 when all
 * pass, 1 when any fails or the configuration is invalid, so CI can gate policy changes on it.
 */
import { evaluateExpectations } from '../../trace/expectations';
import type { Io } from '../io';
import { expectationsJson, renderExpectationsHuman } from '../views/trace';
import type { VarOptions } from './common';
import { liveTestCommand } from './sandbox';
import { viewFor } from '../views/view';
import { loadCompiled } from './trace';

export async function testCommand(io: Io, dir: string, opts: VarOptions & { json?: boolean; live?: boolean }): Promise<number> {
  // --live: real packets through the sandbox, compared with the offline trace (src/sandbox/live.ts).
  if (opts.live) return liveTestCommand(io, dir, opts);
  const view = viewFor(io, opts.json);
  const loaded = await loadCompiled(view, dir, opts);
  if (!loaded) return 1;
  const results = evaluateExpectations(loaded.model, loaded.compiled.rulesets);
  view.result(
    (out) => (results.length === 0 ? out.out(`No expect blocks in ${dir}: nothing to test.\n`) : renderExpectationsHuman(out, results)),
    () => expectationsJson(results),
  );
  return results.every((r) => r.pass) ? 0 : 1;
}
