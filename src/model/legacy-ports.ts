/**
 * Conversion of Aporeto's removed external_network `protocols` + `ports` attributes to
 * `service_ports` (DESIGN §3–4, "Removed attributes"). Validation prints the result in its error
 * so users can paste it, and `microseg migrate` rewrites files with it; both must agree, so the
 * conversion lives in one pure function.
 */
import { ICMP_PROTOCOLS, OTHER_PROTOCOLS, PORT_PROTOCOLS, PROTOCOL_ALIASES, PROTOCOL_NUMBERS } from './protocols';

/** LEGACY_DEFAULT_PORTS is what Aporeto assumed when `ports` was missing: every port. */
export const LEGACY_DEFAULT_PORTS = '1:65535';
/** LEGACY_DEFAULT_PROTOCOL is what Aporeto assumed when `protocols` was missing. */
export const LEGACY_DEFAULT_PROTOCOL = 'tcp';

/**
 * convertLegacyPorts turns `protocols` × `ports` into the equivalent `service_ports` list: every
 * protocol with every port or range. Protocol numbers 1/6/17/58 become icmp/tcp/udp/icmp6 (other
 * known numbers their /etc/protocols name); protocols that cannot carry ports (icmp, gre, esp …)
 * drop them; a missing `ports` meant `1:65535`, a missing `protocols` meant `tcp`; `A-B` ranges
 * are written `A:B`, and `A:A` becomes `A`. The result is lower-case, deduplicated, in input
 * order. Anything that cannot be converted faithfully (templates, bad ports, unknown protocols)
 * returns `{error}` rather than a guess, because a guessed firewall rule is worse than none.
 */
export function convertLegacyPorts(
  protocols: Array<string | number> | undefined,
  ports: string[] | undefined,
): { servicePorts: string[] } | { error: string } {
  const protoList = protocols === undefined || protocols.length === 0 ? [LEGACY_DEFAULT_PROTOCOL] : protocols;
  const portList = ports === undefined || ports.length === 0 ? [LEGACY_DEFAULT_PORTS] : ports;

  const protos: string[] = [];
  for (const p of protoList) {
    const r = legacyProtocol(p);
    if (typeof r !== 'string') return r;
    protos.push(r);
  }
  const ranges: string[] = [];
  for (const p of portList) {
    const r = legacyPort(p as unknown);
    if (typeof r !== 'string') return r;
    ranges.push(r);
  }

  const out: string[] = [];
  const seen = new Set<string>();
  const push = (s: string): void => {
    if (!seen.has(s)) {
      seen.add(s);
      out.push(s);
    }
  };
  for (const proto of protos) {
    if (proto === 'any') {
      // `any` carries no ports: only faithful when the ports meant "all of them".
      if (ports !== undefined && ports.length > 0 && !ranges.every((r) => r === LEGACY_DEFAULT_PORTS || r === '0:65535')) {
        return {
          error: `protocol "any" with ports ${JSON.stringify(ports)} has no service-port equivalent: list the protocols explicitly, e.g. protocols = ["tcp", "udp"]`,
        };
      }
      push('any');
    } else if ((PORT_PROTOCOLS as readonly string[]).includes(proto)) {
      for (const r of ranges) push(`${proto}/${r}`);
    } else {
      push(proto);
    }
  }
  if (out.includes('any')) return { servicePorts: ['any'] };
  return { servicePorts: out };
}

function legacyProtocol(p: unknown): string | { error: string } {
  const bad = (why: string): { error: string } => ({
    error: `protocol ${JSON.stringify(p)} ${why}: use a protocol name such as "tcp", "udp", "icmp" or "gre", or a number such as 6`,
  });
  let text: string;
  if (typeof p === 'number') text = String(p);
  else if (typeof p === 'string') text = p.trim().toLowerCase();
  else return bad('is not a string or number');
  if (text.includes('{{') || text.includes('}}')) return bad('is a template, which cannot be converted');
  if (/^\d+$/.test(text)) {
    const name = PROTOCOL_NUMBERS.get(Number(text));
    return name ?? bad('is not a known protocol number');
  }
  if (text === 'any' || text === 'all') return 'any';
  if (PROTOCOL_ALIASES[text]) return PROTOCOL_ALIASES[text];
  if (
    (PORT_PROTOCOLS as readonly string[]).includes(text) ||
    (ICMP_PROTOCOLS as readonly string[]).includes(text) ||
    Object.prototype.hasOwnProperty.call(OTHER_PROTOCOLS, text)
  ) {
    return text;
  }
  return bad('is not a known protocol');
}

function legacyPort(p: unknown): string | { error: string } {
  const bad = (why: string): { error: string } => ({
    error: `port ${JSON.stringify(p)} ${why}: write a port such as "443" or a range such as "8000:8100" (0-65535)`,
  });
  let text: string;
  if (typeof p === 'number') text = String(p);
  else if (typeof p === 'string') text = p.trim();
  else return bad('is not a string');
  if (text.includes('{{') || text.includes('}}')) return bad('is a template, which cannot be converted');
  const m = /^(\d+)(?:\s*[:-]\s*(\d+))?$/.exec(text);
  if (!m) return bad('is not a port or range');
  const a = Number(m[1]);
  const b = m[2] === undefined ? a : Number(m[2]);
  if (a > 65535 || b > 65535) return bad('is out of range');
  if (a > b) return bad('is a range whose start is after its end');
  return a === b ? String(a) : `${a}:${b}`;
}

