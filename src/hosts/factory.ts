/**
 * hostFor: from a connection (connection.ts) to a Host transport, wrapped so
 * that a host that has gone away (network namespace deleted, ssh cannot connect) fails loudly
 * instead of looking empty.
 *
 * Why the guard: `ip netns exec GONE nft -j list table inet microseg` exits 1 with "Cannot open
 * network namespace "GONE": No such file or directory", which the nftables reader would take for
 * "table absent" and report as a host where microseg owns nothing. A decommission would then be
 * "verified" on a host that was never reached. The guard turns such results into a
 * HostUnreachableError for every command, so refresh reports the host unreachable and apply fails
 * it, while the other hosts carry on.
 */
import { HostCommandError } from './exec';
import { LocalHost } from './local';
import { NetnsHost } from './netns';
import { SshConnectionError, SshHost } from './ssh';
import type { CommandResult, Host, ScriptOptions } from './types';
import type { Connection } from './connection';

const BRAND = Symbol.for('microseg.HostUnreachableError');

/** HostUnreachableError: the transport could not reach the host at all (as opposed to a command failing there). */
export class HostUnreachableError extends Error {
  readonly [BRAND] = true;
  constructor(
    readonly host: string,
    message: string,
  ) {
    super(message);
    this.name = 'HostUnreachableError';
  }

  static isInstance(e: unknown): e is HostUnreachableError {
    return typeof e === 'object' && e !== null && (e as Record<symbol, unknown>)[BRAND] === true;
  }
}

/** UnreachableTest decides from a command's result whether the transport itself failed. */
type UnreachableTest = (r: CommandResult) => boolean;

/** `ip netns exec` prints this when the namespace does not exist (iproute2 ≥ 4.x, all locales under LC_ALL=C). */
const NETNS_GONE = /Cannot open network namespace|No such file or directory.*netns|setting the network namespace .* failed/i;

/** GuardedHost delegates to `inner` and throws HostUnreachableError when the transport failed. */
export class GuardedHost implements Host {
  constructor(
    readonly inner: Host,
    private readonly unreachable: UnreachableTest,
  ) {}

  get description(): string {
    return this.inner.description;
  }

  get throughFirewall(): boolean | undefined {
    return this.inner.throughFirewall;
  }

  async run(argv: readonly string[], opts?: { stdin?: string; timeoutMs?: number }): Promise<CommandResult> {
    const r = await this.inner.run(argv, opts);
    if (r.code !== 0 && this.unreachable(r)) {
      throw new HostUnreachableError(this.description, `${this.description} is unreachable: ${r.stderr.trim().split('\n')[0] || `exit ${r.code}`}`);
    }
    return r;
  }

  /**
   * runMany forwards a batch to the inner transport (one round trip) with the same guard: a batch
   * the transport could not start (the namespace is gone: the error's output says so) and any
   * command whose own result says so are HostUnreachableError. Absent a batch-capable inner
   * transport, the commands run one by one through `run`.
   */
  async runMany(argvs: readonly (readonly string[])[], opts?: { timeoutMs?: number }): Promise<CommandResult[]> {
    if (!this.inner.runMany) {
      const out: CommandResult[] = [];
      for (const argv of argvs) out.push(await this.run(argv, opts));
      return out;
    }
    let rs: CommandResult[];
    try {
      rs = await this.inner.runMany(argvs, opts);
    } catch (e) {
      if (HostCommandError.isInstance(e) && e.partial && e.partial.code !== 0 && this.unreachable(e.partial)) throw this.unreachableError(e.partial);
      throw e;
    }
    for (const r of rs) if (r.code !== 0 && this.unreachable(r)) throw this.unreachableError(r);
    return rs;
  }

  /** runScript forwards a script to the inner transport (one round trip) with the same guard; absent there, so is it here. */
  get runScript(): ((script: string, opts?: ScriptOptions) => Promise<CommandResult>) | undefined {
    const inner = this.inner.runScript?.bind(this.inner);
    if (!inner) return undefined;
    return async (script, opts) => {
      const r = await inner(script, opts);
      if (r.code !== 0 && this.unreachable(r)) throw this.unreachableError(r);
      return r;
    };
  }

  private unreachableError(r: CommandResult): HostUnreachableError {
    return new HostUnreachableError(this.description, `${this.description} is unreachable: ${r.stderr.trim().split('\n')[0] || `exit ${r.code}`}`);
  }
}

/** isUnreachable: did this error come from the transport (host gone, ssh failed) rather than a tool on the host? */
export function isUnreachable(e: unknown): boolean {
  return HostUnreachableError.isInstance(e) || SshConnectionError.isInstance(e);
}

/** HostFactory builds the Host for a connection; tests and the bench may substitute their own. */
export type HostFactory = (connection: Connection) => Host;

/**
 * hostFor returns the transport for `connection`: LocalHost, NetnsHost (guarded: a missing
 * namespace is unreachable, not empty) or SshHost (exit 255 is already an SshConnectionError).
 */
export const hostFor: HostFactory = (connection) => {
  switch (connection.type) {
    case 'local':
      return new GuardedHost(new LocalHost(), () => false);
    case 'agent':
      // Never connected to: plan and apply go through the control store (src/plan/agents.ts).
      return new UnavailableHost('agent', 'this enforcer is reached through its agent and the control plane, never directly');
    case 'netns':
      return new GuardedHost(new NetnsHost(connection.netns), (r) => NETNS_GONE.test(r.stderr));
    case 'ssh':
      // SshHost throws SshConnectionError itself when ssh fails (exit 255); see isUnreachable.
      return new SshHost({
        host: connection.host,
        user: connection.user,
        port: connection.port,
        privateKeyFile: connection.privateKeyFile,
        knownHostsFile: connection.knownHostsFile,
        strictHostKeyChecking: connection.strictHostKeyChecking,
        connectTimeoutS: connection.connectTimeoutS,
      });
    default: {
      const never: never = connection;
      throw new Error(`unknown connection ${JSON.stringify(never)}`);
    }
  }
};

/** UnavailableHost is a host whose transport cannot be used: every command is an unreachable error. */
export class UnavailableHost implements Host {
  constructor(
    readonly description: string,
    private readonly reason: string,
  ) {}

  run(): Promise<CommandResult> {
    return Promise.reject(new HostUnreachableError(this.description, `${this.description} is unreachable: ${this.reason}`));
  }
}
