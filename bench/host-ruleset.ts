/**
 * Single-host configurations of a chosen size, for the kernel benchmarks (apply overhead,
 * incremental change, per-packet cost). Deterministic: the same size always gives the same text.
 *
 * Shape of `hostRulesHcl(n)`: enforcer `h0` holds L local PUs (`svc=s<i>`), each with an ingress
 * and an egress chain; 200 remote PUs on enforcer `peers` form 100 client apps (`app=c<k>`).
 * Policy i allows app c<i mod 100> to reach local service s<i mod L> on tcp/<1000+i>, so each
 * policy is exactly one rule in one local ingress chain, and peer sets are shared between
 * policies with the same client app, like a real service fleet. L grows with n (one local PU per
 * ~200 rules) so chains stay around 200 rules: what a host with many workloads looks like.
 * Rules on h0 = policies + 8·L (per PU: established + the two default rejects — TCP reset, then
 * any protocol — in both chains, plus one dispatch rule in `in` and in `out`).
 */
import { compile } from '../src/compile';
import type { DesiredRuleset } from '../src/compile/ir';
import { evaluateHcl } from '../src/config/hcl';
import { validateConfig } from '../src/model/validate';
import type { Model } from '../src/model/types';
import { ipFor } from './generate';

/** A fixed compile instant: benchmarks must not depend on the clock. */
export const BENCH_NOW = new Date('2025-01-01T00:00:00Z');

const REMOTE_PUS = 200;
const CLIENTS_PER_ENFORCER = 100;
const CLIENT_APPS = 100;

/** localPusFor is how many local PUs a host ruleset of about n rules gets. */
export function localPusFor(n: number): number {
  return Math.max(2, Math.round(n / 200));
}

/** policiesFor is how many policies make the host ruleset exactly n rules (see module comment). */
export function policiesFor(n: number): number {
  return Math.max(1, n - 8 * localPusFor(n));
}

/**
 * hostRulesHcl returns the configuration whose `h0` ruleset has about `n` rules.
 * `portShift` moves the port of policy 0 only: the "change one policy" edit of the incremental benchmark.
 */
export function hostRulesHcl(n: number, opts: { portShift?: number; netns?: string; backend?: string } = {}): string {
  const locals = localPusFor(n);
  const policies = policiesFor(n);
  const out: string[] = [
    'namespace "/bench" {}\n',
    `enforcer "h0" {\n  namespace = "/bench"\n  backend   = "${opts.backend ?? 'auto'}"\n  connection {\n    type  = "netns"\n    netns = "${opts.netns ?? 'bench-h0'}"\n  }\n}\n`,
    'enforcer "peers" {\n  namespace = "/bench"\n  connection {\n    type  = "netns"\n    netns = "bench-peers"\n  }\n}\n',
  ];
  for (let i = 0; i < locals; i++) {
    out.push(
      `processing_unit "svc-${i}" {\n  namespace = "/bench"\n  enforcer  = "h0"\n  addresses = ["${ipFor(i)}"]\n  tags      = ["svc=s${i}"]\n}\n`,
    );
  }
  for (let k = 0; k < REMOTE_PUS; k++) {
    out.push(
      `processing_unit "client-${k}" {\n  namespace = "/bench"\n  enforcer  = "peers"\n  addresses = ["${ipFor(1000 + k)}"]\n  tags      = ["app=c${k % CLIENT_APPS}"]\n}\n`,
    );
  }
  for (let i = 0; i < policies; i++) {
    const port = 1000 + i + (i === 0 ? (opts.portShift ?? 0) : 0);
    out.push(
      `network_policy "p${i}" {\n  namespace = "/bench"\n  subject   = "app=c${i % CLIENT_APPS}"\n  object    = "svc=s${i % locals}"\n` +
        `  action    = "allow"\n  ports     = ["tcp/${port}"]\n  apply_policy_mode = "incoming"\n}\n`,
    );
  }
  return out.join('\n');
}

/** modelOf parses and validates HCL text, throwing on any error (generated configurations must be valid). */
export function modelOf(text: string): Model {
  const raw = evaluateHcl([{ name: 'bench.hcl', text }], { vars: {}, varFiles: [], env: {} });
  const res = validateConfig(raw);
  const errors = [...raw.diagnostics, ...res.diagnostics].filter((d) => d.severity === 'error');
  if (errors.length > 0 || !res.model) throw new Error(`generated configuration is invalid: ${errors.map((d) => d.summary).join('; ')}`);
  return res.model;
}

/** rulesetOf compiles `text` and returns enforcer `name`'s ruleset. */
export function rulesetOf(text: string, name = 'h0'): DesiredRuleset {
  const c = compile(modelOf(text), { now: BENCH_NOW });
  const errors = c.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length > 0) throw new Error(`generated configuration does not compile: ${errors.map((d) => d.summary).join('; ')}`);
  const r = c.rulesets.find((x) => x.enforcer === name);
  if (!r) throw new Error(`no enforcer ${name}`);
  return r;
}

/** hostRuleset is the `h0` ruleset of about n rules (`portShift` as in hostRulesHcl). */
export function hostRuleset(n: number, opts: Parameters<typeof hostRulesHcl>[1] = {}): DesiredRuleset {
  return rulesetOf(hostRulesHcl(n, opts));
}

/** ruleCount is the number of IR rules of a ruleset. */
export function ruleCount(r: DesiredRuleset): number {
  return r.chains.reduce((n, c) => n + c.rules.length, 0);
}

/** elementCount is the number of set elements of a ruleset. */
export function elementCount(r: DesiredRuleset): number {
  return r.sets.reduce((n, s) => n + s.elements.length, 0);
}

/**
 * peerSetHcl: the per-packet benchmark's configuration. One server PU (`server`, on enforcer
 * `srv`) and `identities` client PUs on enforcer `cli`, all tagged `app=client`; one policy lets
 * app=client reach the server on tcp/`port`. The first client address is `clientAddr` (the one that
 * really connects); the others are distinct addresses of 198.19.0.0/16, never used on any wire.
 *
 * `forwarded`: the forward-path variant (item 8). The enforcer is `gw`, a router with the server
 * and the real client behind it, both pinned `placement = "forwarded"`, and the policy is
 * bidirectional, so a SYN passes the client's egress chain (the server as peer) and then the
 * server's ingress chain (all `identities` clients as peers) in the one forward hook.
 */
export function peerSetHcl(identities: number, serverAddr: string, clientAddr: string, port: number, opts: { forwarded?: boolean } = {}): string {
  const enforcer = opts.forwarded ? 'gw' : 'srv';
  const pin = opts.forwarded ? '  placement = "forwarded"\n' : '';
  const out: string[] = [
    'namespace "/bench" {}\n',
    `enforcer "${enforcer}" {\n  namespace = "/bench"\n  connection {\n    type  = "netns"\n    netns = "bench-${enforcer}"\n  }\n}\n`,
    `processing_unit "server" {\n  namespace = "/bench"\n  enforcer  = "${enforcer}"\n  addresses = ["${serverAddr}"]\n  tags      = ["app=server"]\n${pin}}\n`,
  ];
  // Clients live on enforcers of 100 PUs each, as in a real fleet (and compile's per-host work stays small).
  for (let e = 0; e * CLIENTS_PER_ENFORCER < identities; e++) {
    out.push(`enforcer "cli-${e}" {\n  namespace = "/bench"\n  connection {\n    type  = "netns"\n    netns = "bench-cli-${e}"\n  }\n}\n`);
  }
  for (const [i, a] of peerAddresses(identities, clientAddr).entries()) {
    const behindGw = opts.forwarded && i === 0;
    out.push(
      `processing_unit "client-${i}" {\n  namespace = "/bench"\n  enforcer  = "${behindGw ? enforcer : `cli-${Math.floor(i / CLIENTS_PER_ENFORCER)}`}"\n  addresses = ["${a}"]\n  tags      = ["app=client"]\n${behindGw ? pin : ''}}\n`,
    );
  }
  out.push(
    `network_policy "clients-to-server" {\n  namespace = "/bench"\n  subject   = "app=client"\n  object    = "app=server"\n  action    = "allow"\n` +
      `  ports     = ["tcp/${port}"]\n  apply_policy_mode = "${opts.forwarded ? 'bidirectional' : 'incoming'}"\n}\n`,
  );
  return out.join('\n');
}

/**
 * peerAddresses: `identities` distinct addresses, the real client first, the rest spread over
 * 198.19.0.0/16 with gaps (every other address), so sets cannot collapse them into one prefix.
 */
export function peerAddresses(identities: number, clientAddr: string): string[] {
  const out = [clientAddr];
  for (let i = 1; i < identities; i++) {
    const v = 2 * i;
    out.push(`198.19.${(v >> 8) & 255}.${v & 255}`);
  }
  return out;
}
