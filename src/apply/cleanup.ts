/**
 * Break-glass cleanup (`microseg cleanup`, DESIGN §5): remove every object microseg owns from one
 * host with no state and no configuration at all, then read back and prove nothing owned is left.
 *
 * With no state there is no record of the backend, so every backend whose tools work on the host
 * is swept: nftables (table inet microseg), iptables-nft, and iptables-legacy only when its tables
 * are already usable (/proc/net/ip_tables_names exists: microseg never loads the ip_tables module,
 * which legacy iptables would otherwise modprobe on hosts such as RHEL 8).
 */
import { describeOwned, ownsAnything } from '../plan/transactions';
import { isUnreachable } from '../hosts/factory';
import { providerFor, type FirewallHost } from '../../providers';
import type { Transaction } from '../../providers/transaction';
import type { BackendName } from '../../providers/types';

export interface BackendCleanup {
  backend: BackendName;
  /** False when the backend's tools are absent or unusable on the host (skipped, with `note`). */
  available: boolean;
  /** What was owned before (human list) — empty when nothing. */
  found: string;
  /** The transactions sent. */
  transactions: Transaction[];
  /** True when the read-back after cleanup holds nothing owned. */
  clean: boolean;
  note?: string;
  error?: string;
}

export interface CleanupReport {
  host: string;
  backends: BackendCleanup[];
  ok: boolean;
}

/** cleanupHost sweeps every available backend on `host`. Throws only if the host is unreachable. */
export async function cleanupHost(host: FirewallHost, backends?: readonly BackendName[]): Promise<CleanupReport> {
  const report: CleanupReport = { host: host.description, backends: [], ok: true };
  // Both iptables variants read the same ipset sets, but only the variant whose rules use a set can
  // let it be destroyed: sweep backends holding chains or hooks first, set-only ones after.
  const order: Array<{ item: BackendCleanup; weight: number }> = [];
  for (const backend of backends ?? (['nftables', 'iptables-nft', 'iptables-legacy'] as const)) {
    const item: BackendCleanup = { backend, available: true, found: '', transactions: [], clean: false };
    report.backends.push(item);
    const fw = host.firewall(backend);
    const why = await fw.unavailable();
    if (why) {
      item.available = false;
      item.clean = true;
      item.note = why;
      continue;
    }
    let weight = 1;
    try {
      const live = await fw.read();
      weight = live.chains.length > 0 || live.hooks.some((h) => h.present) ? 0 : 1;
    } catch (e) {
      if (isUnreachable(e)) throw e;
    }
    order.push({ item, weight });
  }
  for (const { item } of order.sort((a, b) => a.weight - b.weight)) {
    const fw = host.firewall(item.backend);
    try {
      const before = await fw.read();
      if (ownsAnything(before)) {
        item.found = describeOwned(before);
        item.transactions = providerFor(item.backend).cleanup(before, host.description);
        await fw.run(item.transactions);
      }
      const after = await fw.read();
      item.clean = !ownsAnything(after);
      if (!item.clean) item.error = `still owned after cleanup: ${describeOwned(after)}`;
    } catch (e) {
      if (isUnreachable(e)) throw e;
      item.error = (e as Error)?.message ?? String(e);
    }
    if (!item.clean) report.ok = false;
  }
  return report;
}
