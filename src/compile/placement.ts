/**
 * Placement (DESIGN §8): where a processing unit's traffic crosses its enforcer host. A PU whose
 * addresses the host holds is the host's own stack (`local`: hooks input/output, as microseg
 * always did); any other PU is a workload behind the host — a container on a bridge, a pod on a
 * routed veth, a VM on a tap — whose traffic crosses the host's forward path (`forwarded`).
 *
 * Pure: the host's addresses are data that plan reads in the same round trip as the host's rules
 * (providers' `read`, LiveRuleset.facts) and hands to compile. Without them (offline `rules`,
 * `trace`, `test`) an unpinned PU is assumed `local`, today's behaviour, and says so (`assumed`).
 */
import { makeDiagnostic, type Diagnostic } from '../diagnostics';
import { addressFamily, addressToBigint } from '../model/intervals';
import type { ProcessingUnit } from '../model/types';
import { CODES } from './codes';

export type Placement = 'local' | 'forwarded';

/**
 * PlacementSource says what decided: `pinned` (the PU's `placement`), `host` (the host's own
 * addresses, read at plan time), `host-protection` (`type = "host"`), `assumed` (no host facts:
 * offline; unpinned PUs are taken as local).
 */
export type PlacementSource = 'pinned' | 'host' | 'host-protection' | 'assumed';

/** PuPlacement is one PU's placement on its enforcer; plan shows it per PU (human and JSON). */
export interface PuPlacement {
  pu: string;
  namespace: string;
  placement: Placement;
  source: PlacementSource;
}

/** HostAddresses: the addresses an enforcer host holds (all interfaces, both families), canonical text. */
export type HostAddresses = ReadonlyMap<string, readonly string[]>;

/**
 * placePu decides one PU's placement. Errors (returned as diagnostics, which block that host only):
 * a PU pinned `local` whose addresses the host lacks (its traffic would cross forward, where the
 * input/output chains never see it), pinned `forwarded` while the host holds an address of it (its
 * traffic would cross input/output, where the forward chain never sees it). An unpinned PU with
 * some addresses held and some not is local, with a warning naming the addresses not held.
 */
export function placePu(pu: ProcessingUnit, held: readonly string[] | undefined, enforcerAddress: string): { placement: PuPlacement; diagnostics: Diagnostic[] } {
  const base = { pu: pu.name, namespace: pu.namespace };
  const diagnostics: Diagnostic[] = [];
  if (pu.type === 'host') {
    // The host PU stands for the host's own stack: an address the host does not hold would be
    // protected nowhere (its traffic, if any, is forwarded), so say it rather than pretend.
    const missing = held === undefined ? [] : notHeld(pu.addresses, held);
    if (missing.length > 0) {
      diagnostics.push(
        makeDiagnostic('error', CODES.HOST_PU_ADDRESS_NOT_HELD, `${pu.address} is the host processing unit of ${enforcerAddress}, which does not hold ${missing.join(', ')}`,
          'Host protection enforces policies on the host\'s own addresses. List only addresses the host holds (ip addr on the host), or add the address to the host.',
          pu.pos),
      );
    }
    return { placement: { ...base, placement: 'local', source: 'host-protection' }, diagnostics };
  }
  if (held === undefined) {
    return { placement: { ...base, placement: pu.placement ?? 'local', source: pu.placement ? 'pinned' : 'assumed' }, diagnostics };
  }
  const keys = new Set(held.map(addrKey).filter((k): k is string => k !== undefined));
  const isHeld = pu.addresses.map((a) => keys.has(addrKey(a) ?? a));
  const heldAddrs = pu.addresses.filter((_, i) => isHeld[i]);
  const missing = pu.addresses.filter((_, i) => !isHeld[i]);
  if (pu.placement === 'local') {
    if (missing.length > 0) {
      diagnostics.push(
        makeDiagnostic('error', CODES.LOCAL_ADDRESS_NOT_HELD, `${pu.address} is placed "local" but ${enforcerAddress} does not hold ${missing.join(', ')}`,
          'A local processing unit is an address of the enforcer host itself, enforced on input/output. Traffic to an address the host does not hold crosses its forward path instead, which these rules would not see. Add the address to the host, or set placement = "forwarded" (or remove placement) for a workload behind the host.',
          pu.pos),
      );
    }
    return { placement: { ...base, placement: 'local', source: 'pinned' }, diagnostics };
  }
  if (pu.placement === 'forwarded') {
    if (heldAddrs.length > 0) {
      diagnostics.push(
        makeDiagnostic('error', CODES.FORWARDED_ADDRESS_HELD, `${pu.address} is placed "forwarded" but ${enforcerAddress} holds ${heldAddrs.join(', ')}`,
          'Traffic to an address of the host itself crosses input/output, never the forward path, so a forwarded placement would leave it unenforced. Remove the address from the host, or set placement = "local".',
          pu.pos),
      );
    }
    return { placement: { ...base, placement: 'forwarded', source: 'pinned' }, diagnostics };
  }
  if (heldAddrs.length > 0 && missing.length > 0) {
    // Local wins (the host holds part of it, so it is the host's own stack); the rest is said out loud.
    diagnostics.push(
      makeDiagnostic('warning', CODES.MIXED_PLACEMENT, `${pu.address} is placed local, but ${enforcerAddress} does not hold ${missing.join(', ')}`,
        `The host holds ${heldAddrs.join(', ')}, so the processing unit is enforced on input/output. Traffic of ${missing.join(', ')}, if the host forwards any, crosses its forward path and is not enforced by this processing unit. Add the addresses to the host, or split the processing unit in two (one placement = "forwarded").`,
        pu.pos),
    );
  }
  return { placement: { ...base, placement: heldAddrs.length > 0 ? 'local' : 'forwarded', source: 'host' }, diagnostics };
}

function notHeld(addresses: readonly string[], held: readonly string[]): string[] {
  const keys = new Set(held.map(addrKey).filter((k): k is string => k !== undefined));
  return addresses.filter((a) => !keys.has(addrKey(a) ?? a));
}

/** addrKey: one spelling per address (IPv6 zero compression and case differ between tools). */
function addrKey(a: string): string | undefined {
  const f = addressFamily(a);
  return f === undefined ? undefined : `${f}:${addressToBigint(a, f).toString(16)}`;
}
