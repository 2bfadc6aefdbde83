import { runBatch } from './batch';
import { runProcess, scriptInput } from './exec';
import type { CommandResult, Host, ScriptOptions } from './types';

/** LocalHost runs commands on the machine microseg itself runs on (connection type `local`). */
export class LocalHost implements Host {
  readonly description = 'local';

  run(argv: readonly string[], opts?: { stdin?: string; timeoutMs?: number }): Promise<CommandResult> {
    return runProcess(argv, opts);
  }

  /** runMany: one local `sh -c SCRIPT` for all of `argvs` (batch.ts). */
  runMany(argvs: readonly (readonly string[])[], opts: { timeoutMs?: number } = {}): Promise<CommandResult[]> {
    return runBatch(argvs, opts, (sh, o) => this.run(sh, o));
  }

  /** runScript: one `sh` reading `script` on stdin (batch.ts runSequence). */
  runScript(script: string, opts: ScriptOptions = {}): Promise<CommandResult> {
    return runProcess(['sh'], { stdin: scriptInput(script, opts.after), timeoutMs: opts.timeoutMs });
  }
}
