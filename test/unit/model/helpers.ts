/**
 * Builders of RawConfig by hand, independent of the HCL parser. Positions are synthetic but
 * predictable, so tests can assert exactly where a diagnostic points:
 *   resource i (0-based)          → line 100*i + 1, column 1
 *   its j-th top-level key        → line 100*i + 2 + j, column 3
 *   element n of that key's list  → same line, column 20 + 10*n
 *   nested key m of a block/map   → line 100*i + 50 + 10*j + m, column 5
 */
import type { RawConfig, RawResource, Value } from '../../../src/config/types';

export const FILE = 'main.hcl';

export function res(type: string, name: string, body: { [k: string]: Value }, blockKeys?: string[]): Omit<RawResource, 'pos' | 'positions'> {
  const r: Omit<RawResource, 'pos' | 'positions'> = { type, name, address: `${type}.${name}`, body };
  if (blockKeys) r.blockKeys = blockKeys;
  return r;
}

export function cfg(...resources: Array<Omit<RawResource, 'pos' | 'positions'>>): RawConfig {
  return {
    resources: resources.map((r, i) => {
      const base = 100 * i;
      const positions: RawResource['positions'] = { '': { file: FILE, line: base + 1, column: 1 } };
      Object.entries(r.body).forEach(([k, v], j) => {
        positions[k] = { file: FILE, line: base + 2 + j, column: 3 };
        if (Array.isArray(v)) v.forEach((_, n) => (positions[`${k}.${n}`] = { file: FILE, line: base + 2 + j, column: 20 + 10 * n }));
        else if (v !== null && typeof v === 'object') {
          Object.keys(v).forEach((nk, m) => (positions[`${k}.${nk}`] = { file: FILE, line: base + 50 + 10 * j + m, column: 5 }));
        }
      });
      return { ...r, pos: positions[''], positions };
    }),
    outputs: {},
    sources: new Map(),
    diagnostics: [],
  };
}

/** line of resource i's key j (see the header). */
export function line(i: number, j: number): number {
  return 100 * i + 2 + j;
}

/** A small valid fleet used as the base of many tests. */
export function fleet(): Array<Omit<RawResource, 'pos' | 'positions'>> {
  return [
    res('enforcer', 'web-1', { connection: { type: 'local' } }, ['connection']),
    res('processing_unit', 'web', { enforcer: 'web-1', addresses: ['10.0.0.1'], tags: ['app=web'] }),
    res('processing_unit', 'db', { enforcer: 'web-1', addresses: ['10.0.0.2'], tags: ['app=db'] }),
    res('external_network', 'dns', { entries: ['8.8.8.8/32'], service_ports: ['udp/53'], tags: ['ext=dns'] }),
  ];
}
