/**
 * reconcileLegacyPorts decides an external network's service ports when the deprecated
 * `protocols`/`ports` and `servicePorts` (`service_ports` in HCL) may both be present, for the
 * Aporeto importer and the HCL rewrite alike.
 *
 * Where service ports are written they win: that is what every Aporeto enforcer from 3.12 on
 * enforced, and the 2019–2020 API kept filling the deprecated fields with their defaults
 * (`protocols: [tcp]`, `ports: [1:65535]`) next to them. Taking the union instead, as migrate once
 * did, turned `servicePorts: [tcp/443]` + `protocols: [tcp]` into every TCP port: a silent
 * widening. Only without service ports are `protocols` × `ports` converted.
 *
 * The result says how the deprecated fields relate to what was kept, so callers can leave a note
 * (they said the same, or were the API's defaults) or warn (they said something else).
 */
import { ANY_SPEC, specFromServicePorts, specKey, specText } from '../../compile/ports';
import { convertLegacyPorts, LEGACY_DEFAULT_PORTS } from '../../model/legacy-ports';
import { parseServicePort } from '../../model/service-ports';
import type { ServicePort } from '../../model/types';

export type LegacyOutcome =
  /** No deprecated fields: the service ports as written. */
  | { kind: 'none'; servicePorts: string[] }
  /** No service ports: `protocols` × `ports` converted. */
  | { kind: 'converted'; servicePorts: string[] }
  /** No service ports, and the deprecated fields cannot be converted faithfully. */
  | { kind: 'unconvertible'; error: string }
  /** Service ports win; the deprecated fields meant the same connections. */
  | { kind: 'same'; servicePorts: string[] }
  /** Service ports win; the deprecated fields were the API's defaults (every TCP port). */
  | { kind: 'defaults'; servicePorts: string[] }
  /** Service ports win; the deprecated fields meant other connections (`meant`, or why unknown). */
  | { kind: 'differs'; servicePorts: string[]; meant: string };

/**
 * reconcileLegacyPorts: `servicePorts` undefined or empty counts as absent; `protocols`/`ports`
 * undefined means the attribute was not written.
 */
export function reconcileLegacyPorts(
  servicePorts: readonly string[] | undefined,
  protocols: ReadonlyArray<string | number> | undefined,
  ports: ReadonlyArray<string | number> | undefined,
): LegacyOutcome {
  const sp = servicePorts ?? [];
  if (protocols === undefined && ports === undefined) return { kind: 'none', servicePorts: [...sp] };
  const conv = convertLegacyPorts(protocols === undefined ? undefined : [...protocols], ports?.map(String));
  if (sp.length === 0) return 'error' in conv ? { kind: 'unconvertible', error: conv.error } : { kind: 'converted', servicePorts: conv.servicePorts };
  if ('error' in conv) return { kind: 'differs', servicePorts: [...sp], meant: `nothing convertible (${conv.error})` };
  const kept = specOf(sp);
  const meant = specOf(conv.servicePorts);
  if (kept !== undefined && meant !== undefined && specKey(kept) === specKey(meant)) return { kind: 'same', servicePorts: [...sp] };
  if (isApiDefault(protocols, ports)) return { kind: 'defaults', servicePorts: [...sp] };
  return { kind: 'differs', servicePorts: [...sp], meant: meant ? specText(meant).split(',').join(', ') : conv.servicePorts.join(', ') };
}

function specOf(list: readonly string[]): ReturnType<typeof specFromServicePorts> | undefined {
  const parsed: ServicePort[] = [];
  for (const s of list) {
    const r = parseServicePort(s);
    if (!r.ok) return undefined;
    parsed.push(r.value);
  }
  return parsed.length === 0 ? ANY_SPEC : specFromServicePorts(parsed);
}

/** isApiDefault: what the API stored when the deprecated fields were never set (tcp, every port). */
function isApiDefault(protocols: ReadonlyArray<string | number> | undefined, ports: ReadonlyArray<string | number> | undefined): boolean {
  const protoOk = protocols === undefined || protocols.length === 0 || (protocols.length === 1 && ['tcp', '6'].includes(String(protocols[0]).trim().toLowerCase()));
  const portsOk = ports === undefined || ports.length === 0 || (ports.length === 1 && String(ports[0]).trim() === LEGACY_DEFAULT_PORTS);
  return protoOk && portsOk;
}
