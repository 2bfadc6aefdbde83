/**
 * Transaction: one atomic change of one table on one host, as typed data (knftables' model,
 * PRACTICES 3). It is what plan computes, what a saved plan carries, what `microseg show PLANFILE`
 * prints, what apply hands a Firewall, and what an agent on the host will receive: plain,
 * JSON-serialisable, versioned. Each provider serialises its transactions into its tool's script
 * in exactly one place (Provider.serialize); nothing ever inspects script text to decide anything.
 *
 * Ops are `[verb, object]` pairs in kernel order. The object types form a closed union; what a
 * verb means for an object depends on the table, as the kernel tools define it:
 *
 * table `inet microseg` (nftables, `nft -f`: the whole transaction is one netlink batch):
 *   add table                       create the table if absent (no-op otherwise)
 *   delete table                    delete the table and everything in it (fails when absent)
 *   add set {name, family, comment?, elements?}   create the set (interval set of that family)
 *   flush set {name} / delete set {name}          empty it / delete it (fails while a rule uses it)
 *   add element / delete element {set, elements}  add members / remove members (fails if absent)
 *   add chain {name, hook?, comment?}             create the chain (a base chain at `hook`,
 *                                                 priority filter, policy accept); no-op if it exists
 *   flush chain {name} / delete chain {name}      remove its rules / delete it (must be empty, unused)
 *   add rule {chain, rule, family}                append the rule (`family` is the rule's own, if any)
 *   delete rule {chain, handle}                   delete the rule with that kernel handle
 *
 * tables `ip filter` / `ip6 filter` (iptables-restore --noflush: one commit per family):
 *   add chain {name}                `:CHAIN - [0:0]`: create the chain, or flush it when it exists
 *   delete chain {name}             `-X` (must be empty and unreferenced)
 *   add rule {chain, rule}          `-A`: append every kernel rule the IR rule renders to (see
 *                                   iptables/render.ts on rules split into `<id>#k/n` parts)
 *   insert rule {chain, rule, part, index}  `-I CHAIN index`: kernel rule `part` (0-based) of it
 *   delete rule {chain, index}      `-D CHAIN index` (1-based position)
 *   insert hook {hook, target}      `-I BUILTIN 1`: our jump to chain `target`, first
 *   delete hook {hook, target}      `-D` of our jump to `target` by its exact spec (`iptables:X`
 *                                   targets a chain microseg does not own, as read back)
 *
 * table `ipset` (`ipset -exist restore`: each line is its own kernel command, NOT one atomic
 * commit; the providers order lines so every intermediate state is safe, see iptables/changes.ts):
 *   create set {name, family, maxelem?, temp?}    create a hash:net set (`temp`: its `.t` twin)
 *   flush set / destroy set {name, temp?}         empty it / destroy it (fails while a rule uses it)
 *   add element / delete element {set, elements, temp?}
 *   swap set {name}                               swap the `.t` twin with the set (atomic)
 *
 * Names are IR names (providers prefix them); `destroy set` and `delete` of a chain read back may
 * carry a live name microseg never writes (a leftover `x.t`, a set of a foreign type).
 */
import type { Family, Hook, Rule } from '../src/compile/ir';
import type { BackendName } from './types';

/** TRANSACTION_VERSION versions the Transaction document (plan files, agents). */
export const TRANSACTION_VERSION = 1;

/** TableName is the kernel table (or ipset's namespace of sets) one transaction changes. */
export type TableName = 'inet microseg' | 'ip filter' | 'ip6 filter' | 'ipset';

export type Verb = 'add' | 'insert' | 'delete' | 'flush' | 'create' | 'destroy' | 'swap';

export type TxObject =
  | { type: 'table' }
  | { type: 'set'; name: string; family?: Family; comment?: string; elements?: string[]; maxelem?: number; temp?: boolean }
  | { type: 'element'; set: string; elements: string[]; temp?: boolean }
  | { type: 'chain'; name: string; hook?: Hook; comment?: string }
  | { type: 'rule'; chain: string; rule?: Rule; family?: Family; handle?: number; index?: number; part?: number }
  | { type: 'hook'; hook: Hook; target: string };

export type Op = [Verb, TxObject];

/**
 * TransactionKind drives apply (PRACTICES 10: apply-driving, not UI):
 * - `full`   replaces (or removes) every owned object of its table: apply verifies it by what a
 *            whole-table commit cannot vouch for (hooks, owned chain names);
 * - `delta`  names only the objects that differ: apply re-reads exactly those (the plan's read scope).
 */
export type TransactionKind = 'full' | 'delta';

export interface Transaction {
  version: typeof TRANSACTION_VERSION;
  backend: BackendName;
  /** The enforcer it is for (scripts name it in a comment). */
  enforcer: string;
  table: TableName;
  kind: TransactionKind;
  /** Why this transaction, in a few words (UI only: plan, show and script comments). */
  reason: string;
  /**
   * separate (apply-driving): commit this transaction over a connection of its own, before the
   * connection carrying the next ones starts. The conntrack warm-up needs it on transports whose
   * commands travel through the host's own firewall (ssh): the session that carries the full sync
   * must begin after tracking did, or it is picked up mid-stream and cut (providers/types.ts).
   * Transports that do not pass the firewall (local, netns) may send it with the others.
   */
  separate?: true;
  ops: Op[];
}

/** OpCheck throws a ProviderError when `op` is not valid in `table`. */
export type OpCheck = (table: TableName, op: Op) => void;

/**
 * TxBuilder queues ops and validates each as it is queued, keeping the first error (knftables'
 * transaction.add): `build()` throws it before anything could reach a host, so a transaction that
 * exists is one its provider can serialise.
 */
export class TxBuilder {
  private readonly ops: Op[] = [];
  private error: Error | undefined;

  constructor(
    private readonly head: Omit<Transaction, 'version' | 'ops'>,
    private readonly check: OpCheck,
  ) {}

  add(verb: Verb, obj: TxObject): this {
    const op: Op = [verb, obj];
    if (this.error === undefined) {
      try {
        this.check(this.head.table, op);
      } catch (e) {
        this.error = e as Error;
      }
    }
    this.ops.push(op);
    return this;
  }

  get length(): number {
    return this.ops.length;
  }

  build(): Transaction {
    if (this.error) throw this.error;
    return { version: TRANSACTION_VERSION, ...this.head, ops: this.ops };
  }
}

/** describeOp is one op in words, for error messages. */
export function describeOp(op: Op): string {
  const [verb, o] = op;
  switch (o.type) {
    case 'table':
      return `${verb} table`;
    case 'set':
      return `${verb} set ${o.name}${o.temp ? ' (temp)' : ''}`;
    case 'element':
      return `${verb} element ${o.set}`;
    case 'chain':
      return `${verb} chain ${o.name}`;
    case 'rule':
      return `${verb} rule ${o.rule?.id ?? o.handle ?? o.index ?? ''} in chain ${o.chain}`;
    case 'hook':
      return `${verb} hook ${o.hook} → ${o.target}`;
  }
}

/** countOps counts the ops of `txs` (views: "N operations"). */
export function countOps(txs: readonly Transaction[]): number {
  return txs.reduce((n, t) => n + t.ops.length, 0);
}
