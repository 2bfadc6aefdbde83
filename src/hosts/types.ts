/**
 * Transports run commands on an enforcer host. They never interpolate into a shell: `run` passes
 * argv as an array, and where a shell is unavoidable (the remote side of ssh; `runMany`'s one
 * `sh -c` script per batch) every argv element is single-quoted whole (batch.ts shellQuote), so
 * names and values from configuration can never become shell syntax.
 */

/** CommandResult is what a command on a host returned. */
export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** ScriptOptions are Host.runScript's. */
export interface ScriptOptions {
  timeoutMs?: number;
  /** Nothing of the script reaches the host before this resolves (see Host.runScript). */
  after?: Promise<unknown>;
}

/** Host runs argv on one enforcer host (locally, inside a network namespace, or over ssh). */
export interface Host {
  /** Human-readable description used in messages, e.g. `netns web-ns` or `ssh root@10.0.0.5:22`. */
  readonly description: string;
  /**
   * throughFirewall: the transport's commands reach the host over a network connection the host's
   * own firewall sees (ssh), so a rule microseg installs can cut the session carrying it.
   */
  readonly throughFirewall?: boolean;
  run(argv: readonly string[], opts?: { stdin?: string; timeoutMs?: number }): Promise<CommandResult>;
  /**
   * runMany (optional) runs several commands in ONE transport round trip (one `ip netns exec`,
   * one local `sh`, one ssh session), one after another on the host, each with stdin /dev/null,
   * and returns each command's own code, stdout and stderr (see batch.ts). A missing tool is
   * code 127 as with `run`. Rejects (HostCommandError) when the batch as a whole did not run to its
   * end. Callers use batch.ts runAll, which falls back to `run` per command when this is absent.
   */
  runMany?(argvs: readonly (readonly string[])[], opts?: { timeoutMs?: number }): Promise<CommandResult[]>;
  /**
   * runScript (optional) runs a POSIX sh script, given on the shell's stdin, in ONE transport
   * round trip (`sh` locally, `ip netns exec NAME sh`, one ssh session running `sh`). Only
   * batch.ts builds scripts for it (runSequence), from fixed text and single-quoted argv elements.
   * With `after`, the transport may start at once, but the script reaches the shell only once
   * `after` resolves; if it rejects, the shell gets no script (it runs nothing) and runScript
   * rejects with that reason.
   */
  runScript?(script: string, opts?: ScriptOptions): Promise<CommandResult>;
}
