/**
 * cidrsubnet / cidrhost with Terraform semantics, for IPv4 and IPv6, using bigint arithmetic so
 * 128-bit addresses are exact. Parsing and formatting go through ipaddr.js (IPv6 is printed in
 * compressed form, as Terraform does).
 */
import ipaddr from 'ipaddr.js';
import { ArgError } from './values';

interface Net {
  addr: bigint;
  bits: 32 | 128;
  prefix: number;
}

function parseNet(s: string): Net {
  let parsed: [ipaddr.IPv4 | ipaddr.IPv6, number];
  try {
    parsed = ipaddr.parseCIDR(s);
  } catch {
    throw new ArgError(0, `invalid CIDR address ${JSON.stringify(s)}; write it as address/prefix, e.g. "10.0.0.0/16" or "fd00::/48"`);
  }
  const [ip, prefix] = parsed;
  const bytes = ip.toByteArray();
  let addr = 0n;
  for (const b of bytes) addr = (addr << 8n) | BigInt(b);
  const bits = bytes.length === 4 ? 32 : 128;
  const hostBits = BigInt(bits - prefix);
  addr = (addr >> hostBits) << hostBits; // network address
  return { addr, bits, prefix };
}

function format(addr: bigint, bits: 32 | 128): string {
  const n = bits / 8;
  const bytes: number[] = new Array(n);
  for (let i = n - 1; i >= 0; i--) {
    bytes[i] = Number(addr & 0xffn);
    addr >>= 8n;
  }
  return ipaddr.fromByteArray(bytes).toString();
}

function toBig(n: number, what: string): bigint {
  if (!Number.isInteger(n)) throw new ArgError(what === 'newbits' ? 1 : what === 'netnum' ? 2 : 1, `${what} must be a whole number, got ${n}`);
  return BigInt(n);
}

/** cidrsubnet(prefix, newbits, netnum): the netnum-th subnet with `newbits` more prefix bits. */
export function cidrsubnet(prefix: string, newbits: number, netnum: number): string {
  const net = parseNet(prefix);
  const nb = toBig(newbits, 'newbits');
  const num = toBig(netnum, 'netnum');
  if (nb < 0n) throw new Error('newbits must not be negative');
  const newPrefix = net.prefix + Number(nb);
  if (newPrefix > net.bits) {
    throw new Error(`insufficient address space to extend prefix of ${net.prefix} by ${newbits} (an IPv${net.bits === 32 ? 4 : 6} prefix is at most ${net.bits})`);
  }
  if (num < 0n || num >= 1n << nb) {
    throw new Error(`prefix extension of ${newbits} does not accommodate a subnet numbered ${netnum} (valid: 0 to ${(1n << nb) - 1n})`);
  }
  const addr = net.addr | (num << BigInt(net.bits - newPrefix));
  return `${format(addr, net.bits)}/${newPrefix}`;
}

/** cidrhost(prefix, hostnum): the hostnum-th address in the prefix; negative counts from the end. */
export function cidrhost(prefix: string, hostnum: number): string {
  const net = parseNet(prefix);
  const h = toBig(hostnum, 'hostnum');
  const size = 1n << BigInt(net.bits - net.prefix);
  const off = h < 0n ? size + h : h;
  if (off < 0n || off >= size) throw new Error(`prefix of ${net.prefix} does not accommodate a host numbered ${hostnum} (it has ${size} addresses)`);
  return format(net.addr + off, net.bits);
}
