/**
 * CIDR entries (external network `entries`, profile `excluded_networks`, token `networks`) and
 * single addresses (processing unit `addresses`), parsed with ipaddr.js and normalised so that
 * every front end, the plan and the kernel's own listing agree on one spelling: host bits
 * cleared, IPv4 dotted quad, IPv6 in RFC 5952 compressed form.
 */
import ipaddr from 'ipaddr.js';
import type { CidrEntry } from './types';
import type { ParseResult, ListProblem } from './service-ports';

type Addr = ipaddr.IPv4 | ipaddr.IPv6;

/** parseIp parses a bare address strictly: dotted-quad IPv4 (no octal/hex/short forms) or IPv6 without zone. */
function parseIp(text: string): Addr | undefined {
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) return ipaddr.IPv4.parse(text);
  if (text.includes(':') && !text.includes('%') && ipaddr.IPv6.isValid(text)) return ipaddr.IPv6.parse(text);
  return undefined;
}

function ipText(a: Addr): string {
  return a.kind() === 'ipv6' ? (a as ipaddr.IPv6).toRFC5952String() : a.toString();
}

function network(a: Addr, prefix: number): Addr {
  const bytes = a.toByteArray();
  for (let i = 0; i < bytes.length; i++) {
    const keep = Math.max(0, Math.min(8, prefix - i * 8));
    bytes[i] &= keep === 0 ? 0 : (0xff << (8 - keep)) & 0xff;
  }
  return ipaddr.fromByteArray(bytes);
}

/**
 * parseCidrEntry parses `CIDR` or `!CIDR`. A bare address is a host prefix (`/32` for IPv4,
 * `/128` for IPv6), as iptables, nftables, Aporeto and Calico read it, and is normalised to that
 * spelling so the plan shows what the kernel holds. Host bits are cleared silently, so
 * `10.1.2.3/8` and `10.0.0.0/8` are the same entry (and then a duplicate).
 */
export function parseCidrEntry(text: string): ParseResult<CidrEntry> {
  const q = JSON.stringify(text);
  const fail = (message: string): ParseResult<CidrEntry> => ({ ok: false, message });
  const exclude = text.startsWith('!');
  const body = exclude ? text.slice(1) : text;
  const slash = body.indexOf('/');
  if (body.trim() !== body || /\s/.test(body)) return fail(`${q} contains a space: write a CIDR without spaces, such as "10.0.0.0/8"`);
  if (slash < 0) {
    const a = parseIp(body);
    if (a) return parseCidrEntry(`${exclude ? '!' : ''}${ipText(a)}/${a.kind() === 'ipv6' ? 128 : 32}`);
    if (isDnsName(body)) {
      return fail(`${q} is a DNS name: entries are addresses, because the kernel matches addresses and a name's addresses change without microseg knowing; list the networks the name stands for (for example a provider's published ranges) as CIDRs`);
    }
    return fail(`${q} is not a CIDR: write an IPv4 or IPv6 network with a mask, such as "10.0.0.0/8" or "2001:db8::/32", or one address such as "192.0.2.7"${exclude ? ', after the "!"' : ''}`);
  }
  const addrText = body.slice(0, slash);
  const maskText = body.slice(slash + 1);
  const a = parseIp(addrText);
  if (!a) {
    return fail(`${q} has "${addrText}", which is not an IPv4 or IPv6 address: write a CIDR such as "10.0.0.0/8" or "2001:db8::/32"`);
  }
  const max = a.kind() === 'ipv6' ? 128 : 32;
  if (!/^\d{1,3}$/.test(maskText) || Number(maskText) > max) {
    return fail(`${q} has mask "/${maskText}": an ${a.kind() === 'ipv6' ? 'IPv6' : 'IPv4'} mask is 0 to ${max}, for example "${ipText(a)}/${max === 32 ? 24 : 64}"`);
  }
  const prefix = Number(maskText);
  const cidr = `${ipText(network(a, prefix))}/${prefix}`;
  return {
    ok: true,
    value: { cidr, family: a.kind() === 'ipv6' ? 6 : 4, exclude, text: exclude ? `!${cidr}` : cidr },
  };
}

/**
 * isDnsName says whether an entry is a host name or a `*.` wildcard name, the forms Aporeto
 * external networks accepted besides CIDRs (`github.com`, `*.githubusercontent.com`).
 */
export function isDnsName(text: string): boolean {
  const name = text.startsWith('*.') ? text.slice(2) : text;
  if (name.length === 0 || name.length > 253 || (!name.includes('.') && !text.startsWith('*.'))) return false;
  const labels = name.replace(/\.$/, '').split('.');
  return labels.every((l) => /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/.test(l)) && /[A-Za-z]/.test(labels[labels.length - 1]);
}

function prefixOf(cidr: string): number {
  return Number(cidr.slice(cidr.indexOf('/') + 1));
}

/**
 * parseCidrList parses a list and applies the list rules of DESIGN §4: no duplicates after
 * normalisation (reported at the second, naming the first), no CIDR both included and excluded,
 * and every `!CIDR` inside a positive entry of the same list with a prefix no longer than its own
 * (an exclusion outside every entry removes nothing, which is always a mistake). `allowExclusions`
 * false rejects `!` (for lists where exclusions mean nothing). Containment is checked per prefix
 * length, so long lists stay linear.
 */
export function parseCidrList(
  list: readonly string[],
  allowExclusions = true,
): { entries: CidrEntry[]; problems: ListProblem[] } {
  const entries: CidrEntry[] = [];
  const problems: ListProblem[] = [];
  const seen = new Map<string, number>(); // entry text -> index
  const positive = new Map<string, number>(); // cidr -> index
  const parsed: Array<{ entry: CidrEntry; index: number }> = [];
  list.forEach((text, index) => {
    const r = parseCidrEntry(text);
    if (!r.ok) {
      problems.push({ index, message: r.message });
      return;
    }
    const e = r.value;
    if (e.exclude && !allowExclusions) {
      problems.push({ index, message: `${JSON.stringify(text)} is an exclusion, which this list does not accept: write "${e.cidr}" or remove it` });
      return;
    }
    const first = seen.get(e.text);
    if (first !== undefined) {
      const same = list[first] === text ? '' : ` (${JSON.stringify(list[first])} normalised)`;
      problems.push({
        index,
        message: `${JSON.stringify(text)} duplicates entry ${first + 1}, "${e.text}"${same}: remove one of them`,
      });
      return;
    }
    seen.set(e.text, index);
    if (!e.exclude) positive.set(e.cidr, index);
    parsed.push({ entry: e, index });
    entries.push(e);
  });
  for (const { entry: e, index } of parsed) {
    if (!e.exclude) continue;
    const text = JSON.stringify(list[index]);
    const both = positive.get(e.cidr);
    if (both !== undefined) {
      problems.push({
        index,
        message: `${text} excludes ${e.cidr}, which entry ${both + 1} includes: an address cannot be both in and out; remove one of them`,
      });
      continue;
    }
    const own = prefixOf(e.cidr);
    const addr = ipaddr.parse(e.cidr.slice(0, e.cidr.indexOf('/')));
    let inside = false;
    for (let p = own - 1; p >= 0 && !inside; p--) {
      if (positive.has(`${ipText(network(addr, p))}/${p}`)) inside = true;
    }
    if (!inside) {
      problems.push({
        index,
        message: `${text} is not inside any entry of this list: an exclusion removes part of a broader entry, for example ["10.0.0.0/8", "!10.1.0.0/16"]; add the broader entry or remove the exclusion`,
      });
    }
  }
  problems.sort((a, b) => a.index - b.index);
  return { entries, problems };
}

/**
 * parseAddress parses a processing unit address: one IP, written bare or as `/32` (IPv4) or
 * `/128` (IPv6), normalised to the bare address. A wider mask is an error: a PU is one endpoint;
 * networks belong in an external network.
 */
export function parseAddress(text: string): ParseResult<{ address: string; family: 4 | 6 }> {
  const q = JSON.stringify(text);
  const slash = text.indexOf('/');
  const addrText = slash < 0 ? text : text.slice(0, slash);
  const a = parseIp(addrText);
  if (!a) {
    return { ok: false, message: `${q} is not an IP address: write one IPv4 or IPv6 address, such as "10.0.0.5" or "2001:db8::5"` };
  }
  const full = a.kind() === 'ipv6' ? 128 : 32;
  if (slash >= 0 && text.slice(slash + 1) !== String(full)) {
    return {
      ok: false,
      message: `${q} is a network, not one address: a processing unit address is a single IP such as "${ipText(a)}"; put networks in an external_network`,
    };
  }
  return { ok: true, value: { address: ipText(a), family: a.kind() === 'ipv6' ? 6 : 4 } };
}
