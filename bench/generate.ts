/**
 * Generators of large, valid configurations for the benchmarks (and the harness smoke test).
 * Deterministic: the same sizes always give the same text, so runs are comparable.
 */

export interface ScaleSpec {
  enforcers: number;
  pusPerEnforcer: number;
  policies: number;
  externalNetworks: number;
}

/** ipFor gives the n-th address of 198.18.0.0/15 (the benchmarking range), skipping .0. */
export function ipFor(n: number): string {
  const v = 0xc6120000 + n + 1; // 198.18.0.0 + n + 1
  return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join('.');
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
    const object =
      spec.externalNetworks > 0 && i % 4 === 3 ? `[["ext=e${i % 50}"]]` : `[["app=app-${(i * 7) % apps}"], ["tier=t${i % 3}", "env=prod"]]`;
    const ports = i % 5 === 0 ? `["icmp/8/0", "tcp/${1000 + (i % 50)}:${1100 + (i % 50)}"]` : `["tcp/${1 + (i % 1000)}", "udp/${2000 + (i % 100)}"]`;
    out.push(
      `network_policy "pol-${i}" {\n  namespace = "/bench"\n  subject   = [["app=app-${i % apps}"]]\n  object    = ${object}\n` +
        `  action    = "${i % 10 === 0 ? 'reject' : 'allow'}"\n  ports     = ${ports}\n}\n`,
    );
  }
  return out.join('\n');
}
