/**
 * explainChanges: which connections change verdict between two configurations, for `plan
 * --explain` (the reconciler will call it with the current and the planned model). Rule diffs
 * say what changes on a host; this says what it means: "web → db tcp/5432: allow → reject".
 *
 * Probed connections: every processing unit to every other processing unit and to every external
 * network present (by name) in both models, on probe ports taken from the policies of both models.
 * A port range contributes both ends, which is where an edited range flips verdicts; ICMP entries
 * contribute their type with the first and last code of each range (type-less ICMP is the echo
 * request). `any` contributes no probe. Resources that exist on one side only are a resource
 * change, not a verdict flip, so they are not probed. Cost is pairs × probes traces: fine for a
 * plan on demand, not for every keystroke.
 */
import type { Model, ServicePort } from '../model/types';
import { decidingPolicy, traceFlow, type FlowVerdict, type Rulesets } from './trace';

/** VERDICT_ONLY: a flip is about verdicts, so the PU addresses inside networks are not traced apart. */
const VERDICT_ONLY = { puAddresses: false };

/** VerdictFlip is one connection whose verdict differs between before and after. */
export interface VerdictFlip {
  from: string;
  to: string;
  port: string;
  /** `depends`: the verdict depends on the interface or the network's address (see `microseg trace`). */
  before: FlowVerdict;
  after: FlowVerdict;
  /** The deciding policy (`default`; null when no policy rule decided or the verdict depends) before and after. */
  policy_before: string | null;
  policy_after: string | null;
}

/** explainChanges lists the verdict flips by from, then to (processing units before external networks), then port. */
export function explainChanges(beforeModel: Model, beforeRulesets: Rulesets, afterModel: Model, afterRulesets: Rulesets): VerdictFlip[] {
  const puNames = intersect(beforeModel.processingUnits.map((p) => p.name), afterModel.processingUnits.map((p) => p.name));
  const netNames = intersect(beforeModel.externalNetworks.map((n) => n.name), afterModel.externalNetworks.map((n) => n.name))
    // a name that is also a PU would be traced as the PU
    .filter((n) => !puNames.includes(n));
  const probes = probePorts([...beforeModel.networkPolicies, ...afterModel.networkPolicies].flatMap((p) => p.ports));
  const flips: VerdictFlip[] = [];
  for (const from of puNames) {
    for (const to of [...puNames, ...netNames]) {
      if (to === from) continue;
      for (const port of probes) {
        const b = traceFlow(beforeModel, beforeRulesets, { from, to, port }, VERDICT_ONLY).trace;
        const a = traceFlow(afterModel, afterRulesets, { from, to, port }, VERDICT_ONLY).trace;
        // A probe that cannot be traced on one side (e.g. icmp6 without IPv6 addresses) says nothing.
        if (!b || !a || b.verdict === a.verdict) continue;
        const policy = (t: typeof a) => (t.verdict === 'depends' ? null : decidingPolicy(t));
        flips.push({ from, to, port: b.port, before: b.verdict, after: a.verdict, policy_before: policy(b), policy_after: policy(a) });
      }
    }
  }
  return flips;
}

/** probePorts turns policy service ports into distinct single-connection ports, sorted. */
export function probePorts(ports: readonly ServicePort[]): string[] {
  const out = new Set<string>();
  for (const sp of ports) {
    switch (sp.kind) {
      case 'any':
        break;
      case 'l4':
        out.add(`${sp.protocol}/${sp.ports.from}`);
        out.add(`${sp.protocol}/${sp.ports.to}`);
        break;
      case 'icmp': {
        const type = sp.type ?? (sp.protocol === 'icmp6' ? 128 : 8);
        const codes = sp.codes ?? [{ from: 0, to: 0 }];
        for (const c of codes) {
          out.add(`${sp.protocol}/${type}/${c.from}`);
          out.add(`${sp.protocol}/${type}/${c.to}`);
        }
        break;
      }
      case 'proto':
        out.add(sp.protocol);
        break;
    }
  }
  return [...out].sort(comparePorts);
}

/** comparePorts orders `tcp/80` before `tcp/443` (numerically), protocols alphabetically. */
function comparePorts(a: string, b: string): number {
  const pa = a.split('/');
  const pb = b.split('/');
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i];
    const y = pb[i];
    if (x === y) continue;
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    const nx = Number(x);
    const ny = Number(y);
    if (i > 0 && !Number.isNaN(nx) && !Number.isNaN(ny)) return nx - ny;
    return x < y ? -1 : 1;
  }
  return 0;
}

function intersect(a: readonly string[], b: readonly string[]): string[] {
  const bs = new Set(b);
  return [...new Set(a)].filter((x) => bs.has(x)).sort();
}
