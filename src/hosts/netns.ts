import { NETNS_NAME } from './connection';
import { runBatch } from './batch';
import { runProcess, scriptInput } from './exec';
import type { CommandResult, Host, ScriptOptions } from './types';

/**
 * NetnsHost runs commands inside a named network namespace via `ip netns exec NAME argv...`
 * (connection type `netns`; also what the real-kernel tests use as "a host"). `ip netns exec`
 * also bind-mounts /etc/netns/NAME over /etc, and (since it enters a new mount namespace)
 * remounts /sys for the namespace, so tools see the namespace's own interfaces.
 */
export class NetnsHost implements Host {
  readonly description: string;

  constructor(readonly name: string) {
    // A namespace name is a file name under /run/netns; `ip` refuses '/' and names starting with '-'
    // would be read as options. Refusing them here gives a clear message instead of an ip usage dump.
    if (!NETNS_NAME.test(name)) throw new Error(`invalid network namespace name ${JSON.stringify(name)}`);
    this.description = `netns ${name}`;
  }

  run(argv: readonly string[], opts?: { stdin?: string; timeoutMs?: number }): Promise<CommandResult> {
    return runProcess(['ip', 'netns', 'exec', this.name, ...argv], opts);
  }

  /** runMany: one `ip netns exec NAME sh -c SCRIPT` for all of `argvs` (batch.ts). */
  runMany(argvs: readonly (readonly string[])[], opts: { timeoutMs?: number } = {}): Promise<CommandResult[]> {
    return runBatch(argvs, opts, (sh, o) => this.run(sh, o));
  }

  /** runScript: one `sh` reading `script` on stdin (batch.ts runSequence). */
  runScript(script: string, opts: ScriptOptions = {}): Promise<CommandResult> {
    return runProcess(['ip', 'netns', 'exec', this.name, 'sh'], { stdin: scriptInput(script, opts.after), timeoutMs: opts.timeoutMs });
  }
}
