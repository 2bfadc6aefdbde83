/**
 * Deltas between published documents: the patch applied to the held document gives exactly the
 * new one (proved by its etag), a stale or tampered patch is refused, and a one-policy change of a
 * compiled ruleset is a small fraction of the document.
 */
import { applyDelta, canonicalJson, createDelta, documentEtag } from '../../../src/control/delta';
import { generateHcl } from '../../../bench/generate';
import { rulesetOf } from '../../../bench/host-ruleset';

/** A small deterministic PRNG, so a failure reproduces. */
function prng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function randomValue(r: () => number, depth: number): unknown {
  const k = r();
  if (depth <= 0 || k < 0.4) return [null, true, 7, 'x', 'a/b~c', 2.5][Math.floor(r() * 6)];
  if (k < 0.7) return Array.from({ length: Math.floor(r() * 6) }, () => randomValue(r, depth - 1));
  const o: Record<string, unknown> = {};
  for (let i = Math.floor(r() * 5); i > 0; i--) o[['a', 'b', 'c/d', 'e~f', 'g'][Math.floor(r() * 5)]] = randomValue(r, depth - 1);
  return o;
}

/** mutate returns a changed deep copy: inserts, removes, edits at random places. */
function mutate(v: unknown, r: () => number): unknown {
  if (Array.isArray(v)) {
    const out = v.map((x) => (r() < 0.3 ? mutate(x, r) : x));
    if (r() < 0.3) out.splice(Math.floor(r() * (out.length + 1)), 0, randomValue(r, 2));
    if (r() < 0.3 && out.length) out.splice(Math.floor(r() * out.length), 1);
    return out;
  }
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) if (r() > 0.1) out[k] = r() < 0.3 ? mutate(x, r) : x;
    if (r() < 0.3) out[`n${Math.floor(r() * 3)}`] = randomValue(r, 2);
    return out;
  }
  return r() < 0.5 ? randomValue(r, 2) : v;
}

describe('document deltas', () => {
  it('hashes canonically: key order does not change an etag, content does', () => {
    expect(documentEtag({ a: 1, b: [1, { y: 2, x: 1 }] })).toBe(documentEtag({ b: [1, { x: 1, y: 2 }], a: 1 }));
    expect(documentEtag({ a: 1 })).not.toBe(documentEtag({ a: 2 }));
    expect(canonicalJson({ b: undefined, a: [undefined] })).toBe('{"a":[null]}');
  });

  it('turns any document into any other (500 random pairs), proved by the etag', () => {
    const r = prng(13);
    for (let i = 0; i < 500; i++) {
      const from = randomValue(r, 4);
      const to = mutate(from, r);
      const frozen = canonicalJson(from);
      const patch = createDelta(from, to);
      const got = applyDelta(from, patch, documentEtag(to));
      expect(got.ok ? "ok" : got.reason).toBe("ok");
      if (got.ok) expect(canonicalJson(got.doc)).toBe(canonicalJson(to));
      // the held document is never changed by applying
      expect(canonicalJson(from)).toBe(frozen);
    }
  });

  it('matches named elements by identity: moved, renamed, inserted, removed and edited (300 random pairs)', () => {
    const r = prng(7);
    const named = (n: number, k: 'name' | 'id') =>
      Array.from({ length: n }, (_, i) => ({ [k]: `x${i}`, v: Math.floor(r() * 3), rules: Array.from({ length: Math.floor(r() * 4) }, (_, j) => ({ id: `r${i}-${j}`, p: j })) }));
    for (let i = 0; i < 300; i++) {
      const k = i % 2 ? 'name' : 'id';
      const from = { items: named(Math.floor(r() * 12), k) };
      const items = from.items.map((x) => ({ ...x, rules: [...x.rules] })).filter(() => r() > 0.2);
      for (const x of items) if (r() < 0.3) x.v = 9;
      for (const x of items) if (r() < 0.2) x.rules.reverse();
      if (r() < 0.5) items.splice(Math.floor(r() * (items.length + 1)), 0, { [k]: `new${i}`, v: 1, rules: [] } as (typeof items)[number]);
      if (r() < 0.5 && items.length > 1) items.push(items.shift()!);
      if (r() < 0.3 && items.length) (items[0] as Record<string, unknown>)[k] = `renamed${i}`;
      const to = { items };
      const got = applyDelta(from, createDelta(from, to), documentEtag(to));
      expect(got.ok ? 'ok' : got.reason).toBe('ok');
    }
  });

  it('refuses a patch that does not produce the named document, or does not apply', () => {
    const from = { rules: [1, 2, 3] };
    const patch = createDelta(from, { rules: [1, 2, 3, 4] });
    const wrong = applyDelta(from, patch, documentEtag({ rules: [1, 2, 3, 5] }));
    expect(wrong.ok ? 'ok' : wrong.reason).toMatch(/hashes to .* not the published/);
    const broken = applyDelta({ other: true }, [{ op: 'remove', path: '/rules/7' }], documentEtag(from));
    expect(broken.ok ? 'ok' : broken.reason).toMatch(/does not apply/);
  });

  it('sends a one-policy change of a compiled ruleset as a small patch', () => {
    const spec = { enforcers: 4, pusPerEnforcer: 20, policies: 200, externalNetworks: 20 };
    const before = rulesetOf(generateHcl(spec), 'host-0');
    // The same fleet with one policy's port changed: one policy, a few rules on this host.
    const text = generateHcl(spec);
    // pol-1 (subject app-1, whose PUs include one on host-0) is the only policy on tcp/2.
    const changed = text.replace('ports     = ["tcp/2", "udp/2001"]', 'ports     = ["tcp/7777", "udp/2001"]');
    expect(changed).not.toBe(text);
    const after = rulesetOf(changed, 'host-0');
    const full = JSON.stringify(after).length;
    const patch = createDelta(JSON.parse(JSON.stringify(before)), JSON.parse(JSON.stringify(after)));
    const got = applyDelta(before, patch, documentEtag(after));
    expect(got.ok).toBe(true);
    expect(patch.length).toBeGreaterThan(0);
    expect(JSON.stringify(patch).length).toBeLessThan(full / 10);
  });
});
