/**
 * Shared steps of the partial read-back suites (partial-verify.test.ts for nftables,
 * partial-verify-iptables.test.ts for both iptables variants).
 */
import { applyPlan } from '../../src/apply';
import { planRun } from '../../src/plan';
import { LocalStateStore, ownedFromLive } from '../../src/state';
import type { Provider } from '../../providers/types';
import { providerFor } from '../../providers';
import type { TransactionKind } from '../../providers/transaction';
import type { Topology } from './harness';

/**
 * applyCapturing plans `dir`, applies it through the API, and returns what each host was sent
 * (serialised, and the kinds of its transactions) and journalled as verified.
 */
export async function applyCapturing(
  dir: string,
  opts: { fullReadBack?: boolean } = {},
): Promise<{ sent: Map<string, string>; kinds: Map<string, TransactionKind[]>; verified: Map<string, string> }> {
  const store = new LocalStateStore(dir);
  const sent = new Map<string, string>();
  const kinds = new Map<string, TransactionKind[]>();
  const r = await planRun(dir, { store });
  const since = (await store.readJournal()).length;
  const result = await applyPlan(r.plan!, {
    store,
    reads: r.reads,
    fullReadBack: opts.fullReadBack,
    observer: {
      transaction: (e, txs) => {
        sent.set(e, `${sent.get(e) ?? ''}${txs.map((tx) => providerFor(tx.backend).serialize(tx).stdin).join('\n')}`);
        kinds.set(e, [...(kinds.get(e) ?? []), ...txs.map((tx) => tx.kind)]);
      },
    },
  });
  expect(result.hosts.filter((h) => h.status === 'failed')).toEqual([]);
  const verified = new Map<string, string>();
  for (const j of (await store.readJournal()).slice(since)) if (j.phase === 'verified') verified.set(j.enforcer, j.detail ?? '');
  return { sent, kinds, verified };
}

/** expectStateIsFullRead: the state record of every host equals a full read made now. */
export async function expectStateIsFullRead(dir: string, topo: Topology, provider: Provider, hosts: readonly string[]): Promise<void> {
  const state = (await new LocalStateStore(dir).load())!;
  for (const e of hosts) {
    const full = await provider.read(topo.host(e));
    expect([e, state.hosts[e].fingerprint]).toEqual([e, full.fingerprint]);
    expect([e, state.hosts[e].owned]).toEqual([e, ownedFromLive(full)]);
  }
}
