/**
 * Generators of large, valid configurations for the benchmarks (and the harness smoke test).
 * Deterministic: the same sizes always give the same text, so runs are comparable.
 *
 * Shape of the fleet (what the numbers measure depends on it):
 *   - PUs are tagged `app=app-<pu mod apps>` (apps = ⌈PUs / 5⌉, so 5 PUs per app), `tier=t<pu mod 3>`
 *     and `env=prod`.
 *   - Policy i's subject is one app (`app=app-<i mod apps>`, 5 PUs). Its object is, in this order:
 *       every 4th policy (i mod 4 = 3, when there are external networks): `ext=e<i mod 50>`, the
 *         external networks with that tag (≈ networks / 50 of them), on ports that overlap their
 *         service_ports (see policyPorts);
 *       every 20th policy (i mod 20 = 0): broad, `tier=t<i mod 3> AND env=prod`, a third of ALL PUs
 *         (these are also i mod 10 = 0, so rejects: a broad deny of one port range and ICMP echo);
 *       every other policy: app to app, `app=app-<7i mod apps>` (5 PUs).
 *   So a policy lands on about 10 PU chains, except the broad 5% whose object side lands on a
 *   third of the fleet. That is the shape of a real fleet (app-to-app rules plus a few broad
 *   ones), and compile's output grows with policies × PUs matched, not with
 *   policies × all PUs.
 *
 * The earlier generator made every non-extnet object `[["app=app-Y"], ["tier=tN", "env=prod"]]`,
 * whose second clause matches a third of the fleet for EVERY policy: at 100 enforcers × 50 PUs ×
 * 2,000 policies that was about 5 million rules, so compile-scale measured output size, not the
 * compiler (bench/README.md, item 4).
 */

export interface ScaleSpec {
  enforcers: number;
  pusPerEnforcer: number;
  policies: number;
  externalNetworks: number;
}

/** BROAD_EVERY: one policy in this many has a broad object (a third of all PUs). */
export const BROAD_EVERY = 20;

/** ipFor gives the n-th address of 198.18.0.0/15 (the benchmarking range), skipping .0. */
export function ipFor(n: number): string {
  const v = 0xc6120000 + n + 1; // 198.18.0.0 + n + 1
  return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join('.');
}

/** policyObject is policy i's object expression (see the module comment for the mix). */
function policyObject(i: number, apps: number, externalNetworks: number): string {
  if (externalNetworks > 0 && i % 4 === 3) return `[["ext=e${i % 50}"]]`;
  if (i % BROAD_EVERY === 0) return `[["tier=t${i % 3}", "env=prod"]]`;
  return `[["app=app-${(i * 7) % apps}"]]`;
}

/**
 * policyPorts is policy i's ports. Every 5th policy allows ICMP echo and a tcp range; the others a
 * tcp port of their own (1 + i mod 60000) and a udp port, so policies that share a subject and
 * object (app i and i + apps) are still distinct rules rather than duplicates compile drops.
 * Toward external networks (service_ports tcp/443, udp/53) they
 * overlap the networks' ports, so those policies emit rules instead of only "no effect" warnings:
 * `tcp/443` alone, or `tcp/443` + `tcp/8443`, which the networks narrow to tcp/443.
 */
function policyPorts(i: number, externalNetworks: number): string {
  if (externalNetworks > 0 && i % 4 === 3) return i % 8 === 3 ? `["tcp/443"]` : `["tcp/443", "tcp/8443"]`;
  return i % 5 === 0 ? `["icmp/8/0", "tcp/${1000 + (i % 50)}:${1100 + (i % 50)}"]` : `["tcp/${1 + (i % 60000)}", "udp/${2000 + (i % 100)}"]`;
}

/** generateHcl returns one HCL file declaring the whole fleet. */
export function generateHcl(spec: ScaleSpec): string {
  const out: string[] = ['namespace "/bench" {}\n'];
  const apps = Math.max(1, Math.ceil((spec.enforcers * spec.pusPerEnforcer) / 5));
  let pu = 0;
  for (let e = 0; e < spec.enforcers; e++) {
    out.push(`enforcer "host-${e}" {\n  namespace = "/bench"\n  connection {\n    type  = "netns"\n    netns = "b${e}"\n  }\n}\n`);
    for (let p = 0; p < spec.pusPerEnforcer; p++, pu++) {
      out.push(
        `processing_unit "pu-${pu}" {\n  namespace = "/bench"\n  enforcer  = enforcer.host-${e}.name\n` +
          `  addresses = ["${ipFor(pu)}"]\n  tags      = ["app=app-${pu % apps}", "tier=t${pu % 3}", "env=prod"]\n}\n`,
      );
    }
  }
  for (let x = 0; x < spec.externalNetworks; x++) {
    const a = 10 + (x % 200);
    out.push(
      `external_network "ext-${x}" {\n  namespace     = "/bench"\n  entries       = ["${a}.${x % 256}.0.0/16", "!${a}.${x % 256}.128.0/24"]\n` +
        `  service_ports = ["tcp/443", "udp/53"]\n  tags          = ["ext=e${x % 50}"]\n}\n`,
    );
  }
  for (let i = 0; i < spec.policies; i++) {
    const object = policyObject(i, apps, spec.externalNetworks);
    const ports = policyPorts(i, spec.externalNetworks);
    out.push(
      `network_policy "pol-${i}" {\n  namespace = "/bench"\n  subject   = [["app=app-${i % apps}"]]\n  object    = ${object}\n` +
        `  action    = "${i % 10 === 0 ? 'reject' : 'allow'}"\n  ports     = ${ports}\n}\n`,
    );
  }
  return out.join('\n');
}
