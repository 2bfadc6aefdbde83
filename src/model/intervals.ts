/**
 * Exact address-set arithmetic for external-network entries and merged peer sets (DESIGN §4
 * "External network entries").
 *
 * Membership is longest-prefix match, as ipset `nomatch` does: the most specific entry containing
 * an address decides. Neither backend is asked to implement that rule: we flatten the entries to
 * disjoint intervals of bigints, keep the admitted ones, and split them into the minimal sorted
 * list of CIDRs. nftables interval sets and ipset hash:net then hold byte-for-byte the same
 * members, and no backend-specific `nomatch` behaviour is relied upon.
 *
 * `/0` is never emitted: ipset hash:net refuses it, so the whole space is carried as two `/1`s
 * (see src/compile/ir.ts AddressSet).
 */
import * as ipaddr from 'ipaddr.js';
import type { CidrEntry } from './types';

export type Family = 4 | 6;

/** Interval is an inclusive range of addresses as bigints. */
export interface Interval {
  start: bigint;
  end: bigint;
}

/** familyBits is the address width of a family. */
export function familyBits(family: Family): number {
  return family === 4 ? 32 : 128;
}

/** addressFamily returns 4 or 6 for a textual address (no mask), or undefined if unparseable. */
export function addressFamily(addr: string): Family | undefined {
  if (!ipaddr.isValid(addr)) return undefined;
  return ipaddr.parse(addr).kind() === 'ipv4' ? 4 : 6;
}

/** addressToBigint parses an address (no mask) of the given family. Throws on anything else. */
export function addressToBigint(addr: string, family: Family): bigint {
  const parsed = ipaddr.parse(addr);
  const kind = parsed.kind() === 'ipv4' ? 4 : 6;
  if (kind !== family) throw new Error(`address ${addr} is not IPv${family}`);
  let n = 0n;
  for (const b of parsed.toByteArray()) n = (n << 8n) | BigInt(b);
  return n;
}

/** bigintToAddress formats an address canonically (IPv6 compressed, as the model normalises it). */
export function bigintToAddress(n: bigint, family: Family): string {
  const len = family === 4 ? 4 : 16;
  const bytes: number[] = new Array<number>(len);
  for (let i = len - 1; i >= 0; i--) {
    bytes[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  return ipaddr.fromByteArray(bytes).toString();
}

/**
 * cidrToInterval parses `addr/len` (or a bare address as a host route) of the given family.
 * Host bits are cleared, so `10.1.2.3/8` means `10.0.0.0/8`.
 */
export function cidrToInterval(cidr: string, family: Family): Interval {
  const slash = cidr.indexOf('/');
  const bits = familyBits(family);
  const addr = slash < 0 ? cidr : cidr.slice(0, slash);
  const len = slash < 0 ? bits : Number(cidr.slice(slash + 1));
  if (!Number.isInteger(len) || len < 0 || len > bits) throw new Error(`bad prefix length in ${cidr}`);
  const size = 1n << BigInt(bits - len);
  const start = (addressToBigint(addr, family) / size) * size;
  return { start, end: start + size - 1n };
}

/** cidrFamily returns the family of `addr/len` or a bare address, or undefined if unparseable. */
export function cidrFamily(cidr: string): Family | undefined {
  const slash = cidr.indexOf('/');
  return addressFamily(slash < 0 ? cidr : cidr.slice(0, slash));
}

/**
 * intervalToCidrs splits one interval into the minimal list of aligned CIDR blocks (the classic
 * greedy: at each step take the largest block aligned at the cursor that still fits). A `/0`
 * result is split into its two `/1` halves.
 */
export function intervalToCidrs(iv: Interval, family: Family): string[] {
  const bits = familyBits(family);
  const out: string[] = [];
  let cur = iv.start;
  while (cur <= iv.end) {
    let k = 0;
    // Grow the block while it stays aligned at `cur` and inside the interval.
    while (k < bits) {
      const size = 1n << BigInt(k + 1);
      if (cur % size !== 0n || cur + size - 1n > iv.end) break;
      k++;
    }
    if (k === bits) {
      const half = 1n << BigInt(bits - 1);
      out.push(`${bigintToAddress(0n, family)}/1`, `${bigintToAddress(half, family)}/1`);
    } else {
      out.push(`${bigintToAddress(cur, family)}/${bits - k}`);
    }
    cur += 1n << BigInt(k);
  }
  return out;
}

/** mergeIntervals sorts and unions intervals, joining overlapping and adjacent ones. */
export function mergeIntervals(ivs: readonly Interval[]): Interval[] {
  const sorted = [...ivs].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  const out: Interval[] = [];
  for (const iv of sorted) {
    const last = out[out.length - 1];
    if (last && iv.start <= last.end + 1n) {
      if (iv.end > last.end) last.end = iv.end;
    } else {
      out.push({ start: iv.start, end: iv.end });
    }
  }
  return out;
}

/** intervalsToCidrs renders disjoint sorted intervals as the canonical CIDR list. */
export function intervalsToCidrs(ivs: readonly Interval[], family: Family): string[] {
  return mergeIntervals(ivs).flatMap((iv) => intervalToCidrs(iv, family));
}

/**
 * entriesToIntervals computes the admitted address intervals of a list of entries under
 * longest-prefix match. Entries of the other family are ignored (sets are single-family).
 *
 * CIDR blocks are laminar (two blocks are nested or disjoint), so one sweep in order of
 * (start ascending, prefix shortest first) with a stack of open blocks assigns every address to
 * its innermost block, i.e. its longest matching prefix. If the same CIDR is listed both as an
 * entry and as an exclusion, the exclusion wins: a firewall set must never admit more than asked.
 */
export function entriesToIntervals(entries: readonly CidrEntry[], family: Family): Interval[] {
  const byCidr = new Map<string, { iv: Interval; include: boolean }>();
  for (const e of entries) {
    if (e.family !== family) continue;
    const iv = cidrToInterval(e.cidr, family);
    const key = `${iv.start}/${iv.end}`;
    const prev = byCidr.get(key);
    byCidr.set(key, { iv, include: (prev?.include ?? true) && !e.exclude });
  }
  const blocks = [...byCidr.values()].sort((a, b) =>
    a.iv.start !== b.iv.start ? (a.iv.start < b.iv.start ? -1 : 1) : a.iv.end > b.iv.end ? -1 : a.iv.end < b.iv.end ? 1 : 0,
  );
  const admitted: Interval[] = [];
  const emit = (start: bigint, end: bigint, include: boolean): void => {
    if (include && start <= end) admitted.push({ start, end });
  };
  const stack: Array<{ iv: Interval; include: boolean }> = [];
  let cursor = 0n;
  for (const b of blocks) {
    while (stack.length > 0 && stack[stack.length - 1].iv.end < b.iv.start) {
      const top = stack.pop()!;
      emit(cursor, top.iv.end, top.include);
      if (top.iv.end + 1n > cursor) cursor = top.iv.end + 1n;
    }
    const parent = stack[stack.length - 1];
    if (parent) emit(cursor, b.iv.start - 1n, parent.include);
    cursor = b.iv.start;
    stack.push(b);
  }
  while (stack.length > 0) {
    const top = stack.pop()!;
    emit(cursor, top.iv.end, top.include);
    if (top.iv.end + 1n > cursor) cursor = top.iv.end + 1n;
  }
  return mergeIntervals(admitted);
}

/**
 * entriesToCidrs turns external-network entries (with `!` exclusions) into the minimal sorted
 * list of disjoint CIDRs of one family that admits exactly the addresses longest-prefix match
 * admits. Never returns `/0` (see module comment).
 */
export function entriesToCidrs(entries: readonly CidrEntry[], family: Family): string[] {
  return intervalsToCidrs(entriesToIntervals(entries, family), family);
}

/**
 * mergeCidrs unions plain addresses and CIDRs of one family into the same canonical form as
 * entriesToCidrs. Items of the other family are skipped, so callers can pass a PU's mixed
 * address list once per family; unparseable items throw (the model is validated before compile).
 */
export function mergeCidrs(cidrs: readonly string[], family: Family): string[] {
  const ivs: Interval[] = [];
  for (const c of cidrs) {
    const f = cidrFamily(c);
    if (f === undefined) throw new Error(`not an address or CIDR: ${c}`);
    if (f !== family) continue;
    ivs.push(cidrToInterval(c, family));
  }
  return intervalsToCidrs(ivs, family);
}

/**
 * cidrsContain says whether an address is inside any of the CIDRs (of the address's family).
 * Used by the fake firewall's packet tracer and by tests.
 */
export function cidrsContain(cidrs: readonly string[], addr: string): boolean {
  const family = addressFamily(addr);
  if (family === undefined) return false;
  const n = addressToBigint(addr, family);
  return cidrs.some((c) => {
    if (cidrFamily(c) !== family) return false;
    const iv = cidrToInterval(c, family);
    return iv.start <= n && n <= iv.end;
  });
}
