/**
 * SshHost runs commands on a remote enforcer with the OpenSSH client (connection type `ssh`).
 *
 * The local side never uses a shell: `ssh` is spawned with an argv (runProcess). The REMOTE side
 * always does: sshd hands the command line to the user's login shell (`$SHELL -c "<line>"`), and
 * ssh joins its command arguments with spaces, so argv structure would be lost. SshHost therefore
 * sends ONE command line in which every argv element is single-quoted (shellQuote): inside single
 * quotes a POSIX shell interprets nothing (`$(...)`, backticks, `*`, `;`, spaces, double quotes
 * are literal), and a single quote itself is written as `'\''` (close, escaped quote, reopen).
 * Nothing is ever interpolated unquoted, so a set name, comment or path from configuration cannot
 * become shell syntax on the enforcer. Elements containing NUL cannot be passed and are refused.
 * (shellQuote lives in batch.ts, which runMany's scripts share; it is re-exported here.)
 *
 * The remote command runs as `env LC_ALL=C <argv>`, matching runProcess's local LC_ALL=C: providers
 * read tool messages (e.g. nft's "No such file or directory"), which must not be translated.
 *
 * Exit status: OpenSSH exits 255 when IT failed (connection refused or timed out, host key
 * verification failed, authentication failed); anything else is the remote command's status.
 * SshHost turns 255 into an SshConnectionError (a HostCommandError: the command did not run to
 * an exit status we can trust), so apply treats the host as unreachable instead of reading an
 * "exit 255" as a failed nft. The one ambiguity — a remote command that itself exits 255 — is
 * reported the same way; none of the tools microseg runs uses 255.
 *
 * Options always passed: `BatchMode=yes` (never prompt for a password or passphrase: a hung
 * prompt would wedge a plan), `StrictHostKeyChecking=yes|no` from the configuration,
 * `UserKnownHostsFile` (the given file; `/dev/null` when checking is off and no file is given,
 * so nothing is ever written to ~/.ssh), `ConnectTimeout`, `LogLevel=ERROR` (no "Permanently
 * added" warnings mixed into the stderr providers quote) and, with a key file, `IdentitiesOnly=yes`
 * so only that key is offered.
 */
import { runBatch, shellQuote } from './batch';
import { HostCommandError, runProcess, scriptInput, DEFAULT_TIMEOUT_MS, type ProcessOptions, type RunOptions } from './exec';
import { DEFAULT_CONNECT_TIMEOUT_S, sshHostProblem, sshUserProblem } from './connection';
import type { CommandResult, Host, ScriptOptions } from './types';

/** SshHostOptions configure one ssh connection. */
export interface SshHostOptions {
  /** Host name or address (IPv4, IPv6 without brackets). Must not start with `-`. */
  host: string;
  /** Remote user, e.g. `root` or a user with passwordless sudo rights on nft/iptables. */
  user: string;
  /** TCP port; default 22. */
  port?: number;
  /** Private key file (`-i`). Without it, ssh's defaults and agent are used. */
  privateKeyFile?: string;
  /** known_hosts file to check the host key against. */
  knownHostsFile?: string;
  /** `true`: refuse a host whose key is not in known_hosts (production). `false`: accept any key. */
  strictHostKeyChecking: boolean;
  /** Seconds to wait for the TCP connection and handshake (ConnectTimeout); default 10, bounded by the run timeout. */
  connectTimeoutS?: number;
  /**
   * The client command, default `['ssh']`. Tests run the client inside a network namespace with
   * `['ip', 'netns', 'exec', NAME, 'ssh']`; the options and command are appended to it.
   */
  sshCommand?: readonly string[];
}

const BRAND = Symbol.for('microseg.SshConnectionError');

/**
 * SshConnectionError: ssh itself failed (exit 255): the host was unreachable, refused the
 * connection, failed host key verification or authentication. `stderr` holds ssh's message.
 */
export class SshConnectionError extends HostCommandError {
  readonly [BRAND] = true;
  constructor(
    argv: readonly string[],
    readonly destination: string,
    readonly stderr: string,
    partial: CommandResult,
  ) {
    super('spawn', argv, `ssh to ${destination} failed (ssh exit status 255: connection, host key or authentication failure): ${stderr.trim() || 'no message'}`, partial);
    this.name = 'SshConnectionError';
  }

  static override isInstance(e: unknown): e is SshConnectionError {
    return typeof e === 'object' && e !== null && (e as Record<symbol, unknown>)[BRAND] === true;
  }
}

export { shellQuote };

/** remoteCommandLine is the one line sshd hands to the remote shell for `argv`. */
export function remoteCommandLine(argv: readonly string[]): string {
  return ['env', 'LC_ALL=C', ...argv].map(shellQuote).join(' ');
}

/** SshHost implements Host over OpenSSH (see the module comment for quoting and errors). */
export class SshHost implements Host {
  readonly description: string;
  readonly throughFirewall = true;
  private readonly destination: string;
  private readonly port: number;

  constructor(readonly options: SshHostOptions) {
    const { host, user } = options;
    // Validation reports these at the attribute's line; this is the transport's own guard, for
    // connections that come from a state file or a caller (option injection, CVE-2017-1000117 style).
    const hostProblem = sshHostProblem(host);
    if (hostProblem) throw new Error(`invalid ssh host ${JSON.stringify(host)}: ${hostProblem}`);
    const userProblem = sshUserProblem(user);
    if (userProblem) throw new Error(`invalid ssh user ${JSON.stringify(user)}: ${userProblem}`);
    this.port = options.port ?? 22;
    if (!Number.isInteger(this.port) || this.port < 1 || this.port > 65535) throw new Error(`invalid ssh port ${options.port}`);
    const ct = options.connectTimeoutS;
    if (ct !== undefined && (!Number.isInteger(ct) || ct < 1)) throw new Error(`invalid ssh connect timeout ${ct}: a whole number of seconds, at least 1`);
    this.destination = `${user}@${host}`;
    this.description = `ssh ${this.destination}:${this.port}`;
  }

  /** sshArgv is the full local argv for running `argv` remotely (exposed for tests and logs). */
  sshArgv(argv: readonly string[], timeoutMs = DEFAULT_TIMEOUT_MS): string[] {
    if (argv.length === 0) throw new Error('empty argv');
    const o = this.options;
    const connect = Math.max(1, Math.min(o.connectTimeoutS ?? DEFAULT_CONNECT_TIMEOUT_S, Math.ceil(timeoutMs / 1000)));
    const known = o.knownHostsFile ?? (o.strictHostKeyChecking ? undefined : '/dev/null');
    return [
      ...(o.sshCommand ?? ['ssh']),
      '-o', 'BatchMode=yes',
      '-o', `StrictHostKeyChecking=${o.strictHostKeyChecking ? 'yes' : 'no'}`,
      ...(known ? ['-o', `UserKnownHostsFile=${known}`] : []),
      '-o', `ConnectTimeout=${connect}`,
      '-o', 'LogLevel=ERROR',
      ...(o.privateKeyFile ? ['-o', 'IdentitiesOnly=yes', '-i', o.privateKeyFile] : []),
      '-p', String(this.port),
      // `--` ends ssh's options BEFORE the destination: whatever the destination holds, ssh cannot
      // read it as an option, and (OpenSSH re-parses options after the destination unless `--`
      // came first) nothing after it can be either; the remote line follows as the command.
      '--',
      this.destination,
      remoteCommandLine(argv),
    ];
  }

  run(argv: readonly string[], opts: RunOptions = {}): Promise<CommandResult> {
    return this.exec(argv, opts);
  }

  private async exec(argv: readonly string[], opts: ProcessOptions): Promise<CommandResult> {
    const local = this.sshArgv(argv, opts.timeoutMs);
    const r = await runProcess(local, opts);
    if (r.code === 255) throw new SshConnectionError(local, `${this.destination}:${this.port}`, r.stderr, r);
    return r;
  }

  /**
   * runMany: one ssh session for all of `argvs`: the remote command line is
   * `'env' 'LC_ALL=C' 'sh' '-c' '<batch script>'`, so the login shell unquotes the script once and
   * `sh` runs it, where every argv element is single-quoted again (batch.ts). A connection failure
   * (exit 255 before the script ran) is an SshConnectionError, as for `run`.
   */
  runMany(argvs: readonly (readonly string[])[], opts: { timeoutMs?: number } = {}): Promise<CommandResult[]> {
    return runBatch(argvs, opts, (sh, o) => this.run(sh, o));
  }

  /** runScript: one `sh` reading `script` on stdin (batch.ts runSequence). */
  runScript(script: string, opts: ScriptOptions = {}): Promise<CommandResult> {
    return this.exec(['sh'], { stdin: scriptInput(script, opts.after), timeoutMs: opts.timeoutMs });
  }
}
