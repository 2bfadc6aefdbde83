import { detectBackend, detectBackendDetailed } from '../../../providers/iptables';
import { providerFor } from '../../../providers';
import type { CommandResult, Host } from '../../../src/hosts/types';

/** scriptedHost answers commands by their first words and records every argv it was asked to run. */
function scriptedHost(ok: Record<string, boolean>): Host & { calls: string[][] } {
  const calls: string[][] = [];
  return {
    description: 'scripted',
    calls,
    async run(argv: readonly string[]): Promise<CommandResult> {
      calls.push([...argv]);
      const key = argv[0] === 'cat' ? argv[1] : argv[0];
      return ok[key] ? { code: 0, stdout: '', stderr: '' } : { code: 1, stdout: '', stderr: `${key}: failed` };
    },
  };
}

describe('detectBackend', () => {
  it('prefers nftables', async () => {
    expect(await detectBackend(scriptedHost({ nft: true, 'iptables-nft': true }))).toBe('nftables');
  });
  it('falls back to iptables-nft', async () => {
    const d = await detectBackendDetailed(scriptedHost({ 'iptables-nft': true }));
    expect(d.backend).toBe('iptables-nft');
    expect(d.skipped[0]).toMatch(/^nftables: nft: failed/);
  });
  it('uses iptables-legacy only when the legacy tables already exist, with modprobe disabled', async () => {
    const h = scriptedHost({ '/proc/net/ip_tables_names': true, 'iptables-legacy': true });
    expect(await detectBackend(h)).toBe('iptables-legacy');
    expect(h.calls.find((c) => c[0] === 'iptables-legacy')).toContain('--modprobe=/bin/false');
  });
  it('never runs iptables-legacy on a host without ip_tables (RHEL 8) and says why', async () => {
    const h = scriptedHost({ 'iptables-legacy': true });
    await expect(detectBackend(h)).rejects.toThrow(/ip_tables module not loaded; microseg never loads modules/);
    expect(h.calls.some((c) => c[0] === 'iptables-legacy' || c[0] === 'modprobe')).toBe(false);
  });
});

describe('providerFor', () => {
  it.each(['nftables', 'iptables-nft', 'iptables-legacy'] as const)('%s', (b) => {
    expect(providerFor(b).backend).toBe(b);
  });
});
