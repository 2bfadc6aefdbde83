/**
 * canonicalJson serialises a plain value with object keys sorted at every level and undefined
 * members dropped (undefined array members become null, as in JSON.stringify), so equal values
 * always give the same text. Rule ids, set names, state digests and live fingerprints all hash
 * this text: one definition keeps them from drifting apart.
 */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map((x) => (x === undefined ? 'null' : canonicalJson(x))).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const obj = v as Record<string, unknown>;
    const keys = Object.keys(obj)
      .filter((k) => obj[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}
