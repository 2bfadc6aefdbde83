/**
 * The two inputs of a trace a user writes by hand: endpoints (a processing unit or external
 * network name, or an IP address) and one connection's port (`tcp/5432`, `udp/53`, `icmp/8/0`,
 * `icmp6/128/0`, `gre`). Both are resolved against the validated model only, never a host.
 */
import { didYouMean, makeDiagnostic, type Diagnostic } from '../diagnostics';
import { parseAddress } from '../model/cidr';
import {
  addressFamily,
  addressToBigint,
  bigintToAddress,
  entriesToCidrs,
  entriesToIntervals,
  intervalToCidrs,
  type Family,
  type Interval,
} from '../model/intervals';
import { parseServicePort } from '../model/service-ports';
import type { ExternalNetwork, Model, ProcessingUnit } from '../model/types';
import { CODES } from './codes';

/** ConnectionPort is one connection's protocol and destination port or ICMP type/code. */
export interface ConnectionPort {
  /** Canonical text: `tcp/5432`, `udp/53`, `icmp/8/0`, `icmp6/128/0`, `gre`. */
  text: string;
  /** Protocol as the tracer and the IR spell it (`icmpv6` for ICMPv6). */
  protocol: string;
  /** Set for icmp (4) and icmp6 (6): the port decides the address family. */
  family?: Family;
  dport?: number;
  icmpType?: number;
  icmpCode?: number;
}

/**
 * parseConnectionPort parses the port of ONE connection. Ranges and `any` describe many
 * connections, so they are refused. `icmp` alone is an echo request (8/0; `icmp6` 128/0) and
 * `icmp/T` is code 0, because a packet has exactly one type and code.
 */
export function parseConnectionPort(text: string): { ok: true; value: ConnectionPort } | { ok: false; message: string } {
  const r = parseServicePort(text);
  if (!r.ok) return { ok: false, message: r.message };
  const sp = r.value;
  const one = `a trace or expect tests one connection: write one port, for example "tcp/5432", "udp/53", "icmp/8/0" or "icmp6/128/0"`;
  switch (sp.kind) {
    case 'any':
      return { ok: false, message: `"any" is every connection; ${one}` };
    case 'l4':
      if (sp.ports.from !== sp.ports.to) return { ok: false, message: `${JSON.stringify(text)} is a port range; ${one}` };
      return { ok: true, value: { text: sp.text, protocol: sp.protocol, dport: sp.ports.from } };
    case 'icmp': {
      const v6 = sp.protocol === 'icmp6';
      const type = sp.type ?? (v6 ? 128 : 8);
      if (sp.codes && (sp.codes.length !== 1 || sp.codes[0].from !== sp.codes[0].to)) {
        return { ok: false, message: `${JSON.stringify(text)} lists several ICMP codes; ${one}` };
      }
      const code = sp.codes?.[0].from ?? 0;
      return {
        ok: true,
        value: { text: `${sp.protocol}/${type}/${code}`, protocol: v6 ? 'icmpv6' : 'icmp', family: v6 ? 6 : 4, icmpType: type, icmpCode: code },
      };
    }
    case 'proto':
      return { ok: true, value: { text: sp.text, protocol: sp.protocol } };
  }
}

/** Endpoint is what a `from`/`to` string names, before an address family is chosen. */
export type Endpoint =
  | { kind: 'processing_unit'; written: string; pu: ProcessingUnit }
  | { kind: 'external_network'; written: string; network: ExternalNetwork }
  | { kind: 'address'; written: string; address: string; family: Family; pu?: ProcessingUnit };

/** EndpointInfo is the resolved endpoint as reported in a trace (JSON field names). */
export interface EndpointInfo {
  /** As the user wrote it. */
  name: string;
  kind: 'processing_unit' | 'external_network' | 'address';
  /** The address the traced packet carries. */
  address: string;
  /** The processing unit owning `address`, if any (also for an IP written by hand). */
  pu?: string;
  enforcer?: string;
  /** External network: the admitted CIDR the representative address was taken from. */
  cidr?: string;
  /** Why this address was chosen, when the name stands for several. */
  note?: string;
}

/**
 * resolveEndpoint finds what `written` names. Processing units come first: a name used by both a
 * PU and an external network is a warning (names are unique per resource type only).
 */
export function resolveEndpoint(
  model: Model,
  written: string,
  attr: 'from' | 'to',
): { endpoint?: Endpoint; diagnostics: Diagnostic[] } {
  const pu = model.processingUnits.find((p) => p.name === written);
  const net = model.externalNetworks.find((n) => n.name === written);
  if (pu) {
    const diagnostics = net
      ? [
          makeDiagnostic('warning', CODES.AMBIGUOUS_ENDPOINT, `${attr} "${written}" names both a processing unit and an external network`,
            `The processing unit is traced; give an IP address of the network to trace the external network.`),
        ]
      : [];
    return { endpoint: { kind: 'processing_unit', written, pu }, diagnostics };
  }
  if (net) return { endpoint: { kind: 'external_network', written, network: net }, diagnostics: [] };
  const ip = parseAddress(written);
  if (ip.ok) {
    const owner = model.processingUnits.find((p) => p.addresses.includes(ip.value.address));
    return { endpoint: { kind: 'address', written, address: ip.value.address, family: ip.value.family, pu: owner }, diagnostics: [] };
  }
  const names = [...model.processingUnits.map((p) => p.name), ...model.externalNetworks.map((n) => n.name)];
  const guess = didYouMean(written, names);
  return {
    diagnostics: [
      makeDiagnostic('error', CODES.UNKNOWN_ENDPOINT, `Unknown ${attr} "${written}"${guess ? `; did you mean "${guess}"?` : ''}`,
        `${attr} names a processing_unit or external_network, or is an IP address. Known: ${names.join(', ') || '(none)'}.`),
    ],
  };
}

/** families lists the address families an endpoint has an address in. */
export function endpointFamilies(e: Endpoint): Family[] {
  switch (e.kind) {
    case 'processing_unit':
      return ([4, 6] as Family[]).filter((f) => e.pu.addresses.some((a) => (a.includes(':') ? 6 : 4) === f));
    case 'external_network':
      return ([4, 6] as Family[]).filter((f) => entriesToIntervals(e.network.entries, f).length > 0);
    case 'address':
      return [e.family];
  }
}

/**
 * NetworkPart is an external network's address space in one family, split the way trace needs
 * it: the addresses no processing unit holds (what the network stands for: peers that are not
 * PUs, DESIGN §3), and the processing units' addresses inside it, whose far side is their own
 * enforcer host.
 */
export interface NetworkPart {
  external: Interval[];
  puAddresses: Array<{ address: string; pu: ProcessingUnit }>;
}

/** networkPart splits `net`'s admitted addresses of `family` into NetworkPart. */
export function networkPart(model: Model, net: ExternalNetwork, family: Family): NetworkPart {
  const admitted = entriesToIntervals(net.entries, family);
  const inside = (n: bigint) => admitted.some((iv) => iv.start <= n && n <= iv.end);
  const puAddresses: NetworkPart['puAddresses'] = [];
  for (const pu of model.processingUnits) {
    for (const address of pu.addresses) {
      if (addressFamily(address) === family && inside(addressToBigint(address, family))) puAddresses.push({ address, pu });
    }
  }
  const holes = puAddresses.map((p) => addressToBigint(p.address, family)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const external: Interval[] = [];
  for (const iv of admitted) {
    let start = iv.start;
    for (const h of holes) {
      if (h < start || h > iv.end) continue;
      if (h > start) external.push({ start, end: h - 1n });
      start = h + 1n;
    }
    if (start <= iv.end) external.push({ start, end: iv.end });
  }
  puAddresses.sort((a, b) => {
    const x = addressToBigint(a.address, family);
    const y = addressToBigint(b.address, family);
    return x < y ? -1 : x > y ? 1 : 0;
  });
  return { external, puAddresses };
}

/**
 * endpointAddress picks the one address of `family` the traced packet carries. A PU uses its
 * first address of that family (as listed). An external network uses its first admitted address
 * that no processing unit holds (exclusions applied), so the packet is certainly inside the
 * network and stands for what the network is, peers that are not PUs; a network made only of PU
 * addresses uses the first of them, and the far side is that PU's host. The note says which.
 */
export function endpointAddress(model: Model, e: Endpoint, family: Family): EndpointInfo {
  switch (e.kind) {
    case 'processing_unit': {
      const address = e.pu.addresses.find((a) => (a.includes(':') ? 6 : 4) === family)!;
      const many = e.pu.addresses.length > 1;
      return {
        name: e.written,
        kind: e.kind,
        address,
        pu: e.pu.name,
        enforcer: e.pu.enforcer,
        ...(many ? { note: `first IPv${family} address of processing unit ${e.pu.name}` } : {}),
      };
    }
    case 'external_network': {
      const part = networkPart(model, e.network, family);
      if (part.external.length === 0) {
        const { address, pu } = part.puAddresses[0];
        return {
          name: e.written,
          kind: e.kind,
          address,
          cidr: `${address}/${family === 4 ? 32 : 128}`,
          pu: pu.name,
          enforcer: pu.enforcer,
          note: `every address of external network ${e.network.name} is a processing unit's: ${address} is ${pu.name}'s, so ${pu.enforcer} enforces that side`,
        };
      }
      const first = part.external[0];
      const address = bigintToAddress(first.start, family);
      const admittedFirst = entriesToCidrs(e.network.entries, family)[0];
      if (first.start === entriesToIntervals(e.network.entries, family)[0].start) {
        return {
          name: e.written,
          kind: e.kind,
          address,
          cidr: admittedFirst,
          note: `${address} stands for external network ${e.network.name}: the first address of ${admittedFirst}, its first admitted CIDR`,
        };
      }
      return {
        name: e.written,
        kind: e.kind,
        address,
        cidr: intervalToCidrs(first, family)[0],
        note: `${address} stands for external network ${e.network.name}: its first admitted address that is no processing unit's`,
      };
    }
    case 'address': {
      const pu = e.pu ?? model.processingUnits.find((p) => p.addresses.includes(e.address));
      return { name: e.written, kind: e.kind, address: e.address, ...(pu ? { pu: pu.name, enforcer: pu.enforcer } : {}) };
    }
  }
}
