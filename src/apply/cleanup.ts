/**
 * Break-glass cleanup (`microseg cleanup`, DESIGN §5): remove every object microseg owns from one
 * host with no state and no configuration at all, then read back and prove nothing owned is left.
 *
 * With no state there is no record of the backend, so every backend whose tools work on the host
 * is swept: nftables (table inet microseg), iptables-nft, and iptables-legacy only when its tables
 * are already usable (/proc/net/ip_tables_names exists: microseg never loads the ip_tables module,
 * which legacy iptables would otherwise modprobe on hosts such as RHEL 8).
 */
import type { Host } from '../hosts/types';
import { providerFor } from '../../providers';
import type { BackendName, ScriptStep } from '../../providers/types';
import { cleanupSteps, describeOwned, ownsAnything } from './apply';
import { runSteps } from '../../providers';
import { isUnreachable } from '../hosts/factory';

export interface BackendCleanup {
  backend: BackendName;
  /** False when the backend's tools are absent or unusable on the host (skipped, with `note`). */
  available: boolean;
  /** What was owned before (human list) — empty when nothing. */
  found: string;
  steps: ScriptStep[];
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
export async function cleanupHost(host: Host, backends?: readonly BackendName[]): Promise<CleanupReport> {
  const report: CleanupReport = { host: host.description, backends: [], ok: true };
  // Both iptables variants read the same ipset sets, but only the variant whose rules use a set can
  // let it be destroyed: sweep backends holding chains or hooks first, set-only ones after.
  const order: Array<{ item: BackendCleanup; weight: number }> = [];
  for (const backend of backends ?? (['nftables', 'iptables-nft', 'iptables-legacy'] as const)) {
    const item: BackendCleanup = { backend, available: true, found: '', steps: [], clean: false };
    report.backends.push(item);
    const why = await unavailable(host, backend);
    if (why) {
      item.available = false;
      item.clean = true;
      item.note = why;
      continue;
    }
    let weight = 1;
    try {
      const live = await providerFor(backend).read(host);
      weight = live.chains.length > 0 || live.hooks.some((h) => h.present) ? 0 : 1;
    } catch (e) {
      if (isUnreachable(e)) throw e;
    }
    order.push({ item, weight });
  }
  for (const { item } of order.sort((a, b) => a.weight - b.weight)) {
    const provider = providerFor(item.backend);
    try {
      const before = await provider.read(host);
      if (ownsAnything(before)) {
        item.found = describeOwned(before);
        item.steps = cleanupSteps(provider, before);
        await runSteps(host, item.steps);
      }
      const after = await provider.read(host);
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

async function unavailable(host: Host, backend: BackendName): Promise<string | undefined> {
  switch (backend) {
    case 'nftables': {
      const r = await host.run(['nft', 'list', 'tables']);
      return r.code === 0 ? undefined : `nft unusable: ${firstLine(r.stderr) || `exit ${r.code}`}`;
    }
    case 'iptables-nft': {
      const r = await host.run(['iptables-nft', '--version']);
      return r.code === 0 ? undefined : `iptables-nft not installed`;
    }
    case 'iptables-legacy': {
      const names = await host.run(['cat', '/proc/net/ip_tables_names']);
      if (names.code !== 0) return 'legacy iptables tables not loaded (microseg never loads modules): nothing of ours can exist there';
      const r = await host.run(['iptables-legacy', '--version']);
      return r.code === 0 ? undefined : 'iptables-legacy not installed';
    }
  }
}

function firstLine(s: string): string {
  return s.trim().split('\n')[0] ?? '';
}
