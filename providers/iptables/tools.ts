/**
 * The command lines of one iptables variant. iptables-nft and iptables-legacy share the
 * iptables-restore/-save language but program different kernel subsystems (nf_tables vs the
 * x_tables `ip_tables` module), so a host uses one and microseg must use the same one.
 */
import type { Family } from '../../src/compile/ir';

export type IptablesVariant = 'nft' | 'legacy';

/**
 * NO_MODPROBE: legacy iptables runs `modprobe ip_tables` itself when the module is missing. On
 * hosts where it is absent on purpose (RHEL 8 ships without it) that must never happen behind
 * the operator's back, so legacy tools are told to use /bin/false as their modprobe.
 */
const NO_MODPROBE = ['--modprobe=/bin/false'];

export interface IptablesTools {
  restore(family: Family): string[];
  save(family: Family): string[];
  cmd(family: Family): string[];
  ipsetRestore: string[];
  ipsetSave: string[];
}

export function toolsFor(variant: IptablesVariant): IptablesTools {
  const bin = (family: Family, what: string) => `${family === 4 ? 'iptables' : 'ip6tables'}-${variant}${what}`;
  const extra = variant === 'legacy' ? NO_MODPROBE : [];
  return {
    // -w: wait for the xtables lock instead of failing when another tool (kube-proxy, docker) holds it.
    restore: (f) => [bin(f, '-restore'), '--noflush', '-w', '5', ...extra],
    // -c: each rule's packet and byte counters come with the rules (`microseg stats`); the reader
    // takes them off before anything compares rules (providers/counters.ts).
    save: (f) => [bin(f, '-save'), '-c', '-t', 'filter', ...extra],
    cmd: (f) => [bin(f, ''), ...extra],
    // -exist: create of an existing set with the same options, and destroy races, are not errors.
    ipsetRestore: ['ipset', '-exist', 'restore'],
    ipsetSave: ['ipset', 'save'],
  };
}
