/**
 * Transports run commands on an enforcer host. They never go through a shell: argv is passed as
 * an array, so names and values from configuration can never be interpolated into a command line.
 */

/** CommandResult is what a command on a host returned. */
export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Host runs argv on one enforcer host (locally, inside a network namespace, or over ssh). */
export interface Host {
  /** Human-readable description used in messages, e.g. `netns web-ns` or `ssh root@10.0.0.5:22`. */
  readonly description: string;
  run(argv: readonly string[], opts?: { stdin?: string; timeoutMs?: number }): Promise<CommandResult>;
}
