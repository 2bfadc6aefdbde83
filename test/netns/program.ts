/**
 * Programming a host straight through a provider, the way apply does (typed Transactions run by a
 * KernelFirewall), for the real-kernel tests that exercise the providers below the reconciler.
 */
import { KernelFirewall, type Provider, type ScriptStep } from '../../providers';
import type { DesiredRuleset } from '../../src/compile/ir';
import type { Host } from '../../src/hosts/types';
import type { LiveRuleset } from '../../providers/types';
import { changesFor } from '../../src/plan';

/** fullSync runs the provider's full sync of `desired` over `live` on `host`. */
export async function fullSync(host: Host, provider: Provider, desired: DesiredRuleset, live?: LiveRuleset): Promise<void> {
  await new KernelFirewall(provider, host).run(provider.fullSync(desired, live, 'test'));
}

/** cleanup runs the provider's cleanup of what `live` holds on `host`. */
export async function cleanup(host: Host, provider: Provider, live: LiveRuleset): Promise<void> {
  await new KernelFirewall(provider, host).run(provider.cleanup(live, 'test'));
}

/**
 * changes is the provider's delta for `desired` over `live` (the host's ObjectDiff computed as plan
 * does), serialised; the full sync's steps (with the reason in `full`) when only that is safe.
 */
export function changes(provider: Provider, desired: DesiredRuleset, live: LiveRuleset): ScriptStep[] & { full?: string } {
  const c = changesFor(provider, desired, live);
  const txs = c.kind === 'delta' ? c.transactions : provider.fullSync(desired, live, c.reason);
  const steps = txs.map((tx) => provider.serialize(tx));
  return c.kind === 'delta' ? steps : Object.assign(steps, { full: c.reason });
}

/** applyChanges runs `changes` on `host` and returns the steps sent. */
export async function applyChanges(host: Host, provider: Provider, desired: DesiredRuleset, live: LiveRuleset): Promise<ScriptStep[]> {
  const c = changesFor(provider, desired, live);
  const txs = c.kind === 'delta' ? c.transactions : provider.fullSync(desired, live, c.reason);
  await new KernelFirewall(provider, host).run(txs);
  return txs.map((tx) => provider.serialize(tx));
}
