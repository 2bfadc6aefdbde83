/**
 * detectBackend chooses a backend for `backend = "auto"`.
 *
 * Order and why:
 * 1. nftables when `nft list tables` works: one atomic transaction for everything, typed interval
 *    sets, no ipset, and it is what every current distribution's kernel is built around.
 * 2. iptables-nft when `iptables-nft` can list table filter: the nf_tables kernel API through the
 *    iptables language (hosts with iptables-nft but no nft binary).
 * 3. iptables-legacy only if the legacy tables are already usable: /proc/net/ip_tables_names
 *    exists (the `ip_tables` module is loaded or built in) and `iptables-legacy -S` works with
 *    modprobe disabled. We never load a module: on RHEL 8 `ip_tables` is absent on purpose and
 *    legacy iptables would otherwise `modprobe` it (Aporeto's "RHEL 8 without iptables modules").
 *
 * Caveat: if a host already runs foreign legacy rules (an old Docker), microseg on nftables still
 * works: both subsystems see every packet and a packet must pass both, so nothing is widened.
 */
import type { Host } from '../../src/hosts/types';
import type { BackendName } from '../types';
import { ProviderError } from '../common';

export interface Detection {
  backend: BackendName;
  /** Why each preferred backend was passed over (for `microseg inspect`/plan diagnostics). */
  skipped: string[];
}

export async function detectBackendDetailed(host: Host): Promise<Detection> {
  const skipped: string[] = [];
  const nft = await host.run(['nft', 'list', 'tables'], { timeoutMs: 10_000 });
  if (nft.code === 0) return { backend: 'nftables', skipped };
  skipped.push(`nftables: ${firstLine(nft.stderr) || `nft exited ${nft.code}`}`);
  const ipt = await host.run(['iptables-nft', '-w', '5', '-t', 'filter', '-S'], { timeoutMs: 10_000 });
  if (ipt.code === 0) return { backend: 'iptables-nft', skipped };
  skipped.push(`iptables-nft: ${firstLine(ipt.stderr) || `exited ${ipt.code}`}`);
  const names = await host.run(['cat', '/proc/net/ip_tables_names'], { timeoutMs: 10_000 });
  if (names.code !== 0) {
    skipped.push('iptables-legacy: /proc/net/ip_tables_names missing (ip_tables module not loaded; microseg never loads modules)');
  } else {
    const leg = await host.run(['iptables-legacy', '--modprobe=/bin/false', '-w', '5', '-t', 'filter', '-S'], { timeoutMs: 10_000 });
    if (leg.code === 0) return { backend: 'iptables-legacy', skipped };
    skipped.push(`iptables-legacy: ${firstLine(leg.stderr) || `exited ${leg.code}`}`);
  }
  throw new ProviderError(`no usable firewall backend on ${host.description}: ${skipped.join('; ')}`, 'kernel');
}

/** detectBackend returns the preferred usable backend of `host`, or throws saying why none is. */
export async function detectBackend(host: Host): Promise<BackendName> {
  return (await detectBackendDetailed(host)).backend;
}

function firstLine(s: string): string {
  return s.trim().split('\n')[0] ?? '';
}
