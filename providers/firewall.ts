/**
 * The Host seam: what the reconciler (src/plan refresh, src/apply) does to an enforcer host, and
 * nothing else. A FirewallHost is one host; its Firewall for a backend reads what microseg owns
 * there and runs Transactions (typed data, providers/transaction.ts), one atomic change each.
 *
 * KernelFirewall is the real one: a Provider (reading and serialising) over a Host transport
 * (local, netns, ssh). The in-memory double (providers/fake) implements the same seam by
 * consuming the same Transactions, so plan, apply, drift and decommission run without root in the
 * unit tests; no production module imports it. Later, an agent on the host implements it too.
 */
import type { Connection } from '../src/hosts/connection';
import { hostFor } from '../src/hosts/factory';
import { runSequence } from '../src/hosts/batch';
import type { CommandResult, Host } from '../src/hosts/types';
import { ProviderError } from './common';
import { detectBackendDetailed, type Detection } from './iptables/detect';
import { providerFor } from './registry';
import type { Transaction } from './transaction';
import type { BackendName, Capabilities, LiveRuleset, PartialLive, Provider, ReadScope } from './types';

/**
 * SendOptions: `after` holds the transactions back until it resolves (apply's durable `begin`
 * journal entry); the transport may start meanwhile. If it rejects, nothing is sent and the call
 * rejects with its reason.
 */
export interface SendOptions {
  after?: Promise<unknown>;
}

/** Firewall is one backend's firewall on one host. */
export interface Firewall {
  /** The host, for messages (`netns web-ns`, `ssh root@198.18.0.5:22`). */
  readonly description: string;
  readonly backend: BackendName;
  /** What the host's tools and kernel support (probed once per host, only for hosts apply will change). */
  probe(): Promise<Capabilities>;
  /** Everything microseg owns in this backend, in canonical form. */
  read(): Promise<LiveRuleset>;
  /** Provider.readPartial on this host: undefined when the scope is better read whole. */
  readPartial(scope: ReadScope): Promise<PartialLive | undefined>;
  /**
   * run applies `txs` in order, each atomic on its own (nft -f, one iptables-restore commit; ipset
   * restore line by line, see providers/transaction.ts), and stops at the first failure with a
   * ProviderError (source `kernel`) naming it. The order between them is what keeps references
   * valid (sets before rules, rules before sets are destroyed), so a failure in the middle leaves
   * a consistent, if partial, state that the next read shows.
   */
  run(txs: readonly Transaction[], opts?: SendOptions): Promise<void>;
  /**
   * runAndReadPartial is `run(txs)` followed by `readPartial(scope)`, where the host allows in the
   * same transport round trip (the listings start right after the last transaction committed).
   * Undefined when the scope is better read whole (after the transactions ran).
   */
  runAndReadPartial(txs: readonly Transaction[], scope: ReadScope, opts?: SendOptions): Promise<PartialLive | undefined>;
  /** Why this backend's tools cannot be used on the host (break-glass cleanup skips it then), or undefined. */
  unavailable(): Promise<string | undefined>;
}

/** FirewallHost is one enforcer host: its backend detection and a Firewall per backend. */
export interface FirewallHost {
  readonly description: string;
  /** detect chooses a backend for `backend = "auto"` (providers/iptables/detect.ts). */
  detect(): Promise<Detection>;
  firewall(backend: BackendName): Firewall;
}

/** Connector opens the host a connection names. It may throw (a connection that cannot be used): the host is unreachable then. */
export type Connector = (connection: Connection) => FirewallHost;

/** KernelFirewall is a Provider's reads and serialised Transactions over a Host transport. */
export class KernelFirewall implements Firewall {
  constructor(
    readonly provider: Provider,
    readonly host: Host,
  ) {}

  get backend(): BackendName {
    return this.provider.backend;
  }

  get description(): string {
    return this.host.description;
  }

  probe(): Promise<Capabilities> {
    return this.provider.probe(this.host);
  }

  read(): Promise<LiveRuleset> {
    return this.provider.read(this.host);
  }

  readPartial(scope: ReadScope): Promise<PartialLive | undefined> {
    return this.provider.readPartial(this.host, scope);
  }

  unavailable(): Promise<string | undefined> {
    return this.provider.unavailable(this.host);
  }

  async run(txs: readonly Transaction[], opts: SendOptions = {}): Promise<void> {
    await this.runWith(txs, [], opts.after);
  }

  async runAndReadPartial(txs: readonly Transaction[], scope: ReadScope, opts: SendOptions = {}): Promise<PartialLive | undefined> {
    const plan = this.provider.partialRead(scope);
    if (!plan) {
      await this.run(txs, opts);
      return undefined;
    }
    const results = await this.runWith(txs, plan.argvs, opts.after);
    return plan.parse(results, this.host.description);
  }

  /**
   * runWith sends `txs`, then `reads`, in ONE transport round trip where the host can (Host.runScript:
   * one `ip netns exec` or ssh session for a host's whole change, instead of one per table), each
   * transaction its own atomic tool invocation, stopping at the first that fails. Returns the
   * results of `reads`.
   */
  private async runWith(txs: readonly Transaction[], reads: readonly string[][], after?: Promise<unknown>): Promise<CommandResult[]> {
    const steps = txs.map((tx) => this.provider.serialize(tx));
    // Where the transport passes the host's firewall, `separate` transactions (a run of them goes
    // together) end their round trip before the next ones start.
    const cuts = this.host.throughFirewall ? txs.flatMap((tx, i) => (tx.separate && i + 1 < txs.length && !txs[i + 1].separate ? [i + 1] : [])) : [];
    const all = [...steps, ...reads.map((argv) => ({ argv, mayFail: true }))];
    const results: CommandResult[] = [];
    for (const [from, to] of [0, ...cuts].map((c, k, xs) => [c, k + 1 < xs.length ? xs[k + 1] : all.length] as const)) {
      const got = await runSequence(this.host, all.slice(from, to), from === 0 ? { after } : {});
      results.push(...got);
      if (got.length < to - from) break; // a transaction failed: nothing after it ran
    }
    for (let i = 0; i < steps.length; i++) {
      const r = results[i];
      if (r.code !== 0) {
        throw new ProviderError(
          `transaction ${i + 1}/${txs.length} (${txs[i].table}: ${steps[i].argv.join(' ')}) failed on ${this.host.description} with exit code ${r.code}: ${r.stderr.trim()}`,
          'kernel',
          { step: i, argv: steps[i].argv, stderr: r.stderr, stdin: steps[i].stdin },
        );
      }
    }
    // A listing that fails is judged by the parser from its own exit status, as readPartial does.
    return results.slice(steps.length);
  }
}

/** kernelHost is the FirewallHost of a Host transport. */
export function kernelHost(host: Host): FirewallHost {
  return {
    description: host.description,
    detect: () => detectBackendDetailed(host),
    firewall: (backend) => new KernelFirewall(providerFor(backend), host),
  };
}

/** kernelConnector opens real hosts: hostFor's transport (guarded, see src/hosts/factory.ts) with the real providers. */
export function kernelConnector(factory: (c: Connection) => Host = hostFor): Connector {
  return (connection) => kernelHost(factory(connection));
}
