/**
 * Resource-level changes: the configuration's resources against the records in state, by address
 * (Terraform's `+ ~ - -/+`). A resource is recorded as a digest of its attributes, so "changed"
 * is a hash comparison; what a change does to hosts is told by the per-host plans.
 */
import { createHash } from 'crypto';
import { allResources } from '../model/resources';
import type { Model, Resource } from '../model/types';
import type { StateResource } from '../state/types';
import type { ResourceChange } from './types';
import { canonicalJson } from '../canonical-json';

/** modelResources lists every resource of a model, sorted by address. */
export function modelResources(model: Model): Resource[] {
  return allResources(model).sort((a, b) => cmp(a.address, b.address));
}

/**
 * attributesDigest hashes a resource's attributes as canonical JSON (keys sorted). Source
 * positions are left out: moving a block to another line or file is not a change.
 */
export function attributesDigest(r: Resource): string {
  const { pos: _pos, ...attrs } = r;
  return createHash('sha256').update(canonicalJson(attrs)).digest('hex');
}

/** resourceRecord is the state record of a resource (what apply saves after a successful run). */
export function resourceRecord(r: Resource): StateResource {
  return { address: r.address, type: r.kind, name: r.name, namespace: r.namespace, attributes_digest: attributesDigest(r) };
}

/**
 * diffResources compares the configuration's resources with state's records, by address. A
 * changed namespace is `replace` (the resource's `$namespace` identity changed); any other
 * attribute change is `update`. Sorted by address; unchanged resources are listed as `noop`.
 */
export function diffResources(resources: readonly Resource[], state: readonly StateResource[]): ResourceChange[] {
  const before = new Map(state.map((s) => [s.address, s] as const));
  const out: ResourceChange[] = [];
  const seen = new Set<string>();
  for (const r of resources) {
    const after = resourceRecord(r);
    seen.add(after.address);
    const was = before.get(after.address);
    if (!was) out.push({ address: after.address, type: after.type, action: 'create', after });
    else {
      const action = was.namespace !== after.namespace ? 'replace' : was.attributes_digest !== after.attributes_digest ? 'update' : 'noop';
      out.push({ address: after.address, type: after.type, action, before: was, after });
    }
  }
  for (const was of state) {
    if (!seen.has(was.address)) out.push({ address: was.address, type: was.type, action: 'delete', before: was });
  }
  return out.sort((a, b) => cmp(a.address, b.address));
}


function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
