/**
 * Host protection (src/compile/host-protection.ts) at unit level: validation of the host PU and
 * its enforcer (MSEG3130–3135, every problem in one run, at file:line:column), the rules compile
 * adds to the host PU's chains and where, the host-address check (MSEG6040), plan's view and the
 * trace's explanation. The packets are in test/netns/host-protection.test.ts.
 */
import * as path from 'path';
import { loadAndValidate } from '../../../src/cli/commands/common';
import { compile } from '../../../src/compile';
import { HOST_FAILSAFE_DEFAULTS } from '../../../src/compile/host-protection';
import type { Chain, DesiredRuleset } from '../../../src/compile/ir';
import { placePu } from '../../../src/compile/placement';
import { traceFlow } from '../../../src/trace';
import { hostProtectionLines } from '../../../src/cli/views/plan';
import type { HostPlan } from '../../../src/plan/types';
import { load, NOW, writeDir } from '../trace/helpers';

const base = (extra: { enforcer?: string; host?: string; profile?: string } = {}) => `
namespace "/h" {}

${extra.profile ?? ''}

enforcer "h1" {
  namespace = "/h"
  connection {
    type = "local"
  }
${extra.enforcer ?? '  host_protection = true'}
}

processing_unit "host" {
  namespace = "/h"
  enforcer  = "h1"
  type      = "host"
  addresses = ["198.18.0.21"]
  tags      = ["role=host"]
${extra.host ?? ''}
}

processing_unit "app" {
  namespace = "/h"
  enforcer  = "h1"
  addresses = ["198.18.0.30"]
  tags      = ["app=x"]
}

external_network "admins" {
  namespace = "/h"
  entries   = ["198.18.0.22/32"]
  tags      = ["net=admin"]
}

network_policy "no-ssh" {
  namespace = "/h"
  subject   = [["net=admin"]]
  object    = [["role=host"]]
  ports     = ["tcp/22"]
  action    = "reject"
}
`;

async function diagnose(text: string) {
  const dir = writeDir({ 'main.hcl': text });
  const { diagnostics } = await loadAndValidate(dir, {});
  return diagnostics.map((d) => ({ severity: d.severity, code: d.code, file: d.file && path.basename(d.file), line: d.line, column: d.column, summary: d.summary }));
}

const lineOf = (text: string, needle: string) => text.split('\n').findIndex((l) => l.includes(needle)) + 1;
const chain = (rs: DesiredRuleset, prefix: string): Chain => rs.chains.find((c) => c.name.startsWith(prefix))!;
const kinds = (c: Chain) => c.rules.map((r) => (r.origin?.kind === 'host-protection' ? `hp:${r.origin.reason}` : r.origin?.kind));

describe('host protection: validation', () => {
  it('a host PU without host_protection, host_protection without a host PU, a second host PU and one without addresses: all reported in one run, at their lines', async () => {
    const text = `${base({ enforcer: '' })}
enforcer "h2" {
  namespace = "/h"
  connection {
    type  = "netns"
    netns = "other"
  }
  host_protection = true
}

processing_unit "host-b" {
  namespace = "/h"
  enforcer  = "h1"
  type      = "host"
  addresses = ["198.18.0.23"]
}

processing_unit "bare" {
  namespace = "/h"
  enforcer  = "h2"
  type      = "host"
}
`;
    const ds = await diagnose(text);
    const errs = ds.filter((d) => d.severity === 'error');
    expect(errs.map((d) => d.code).sort()).toEqual(['MSEG3130', 'MSEG3130', 'MSEG3132', 'MSEG3133']);
    const typeLine = lineOf(text, 'type      = "host"');
    const typeCol = text.split('\n')[typeLine - 1].indexOf('"host"') + 1;
    expect(errs.find((d) => d.code === 'MSEG3130')).toMatchObject({ file: 'main.hcl', line: typeLine, column: typeCol });
    expect(errs.find((d) => d.code === 'MSEG3132')!.summary).toBe('Enforcer "h1" has a second host processing unit "host-b"');
    expect(errs.find((d) => d.code === 'MSEG3133')!.summary).toBe('Host processing unit "bare" has no addresses');
    // h2 has a host PU ("bare"), so no MSEG3131 for it; take it away and h2 is protected in name only.
    const ds2 = await diagnose(text.replace(/processing_unit "bare" \{[\s\S]*$/, ''));
    const e2 = ds2.find((d) => d.code === 'MSEG3131')!;
    const hpLine = lineOf(text, '  host_protection = true');
    expect(e2).toMatchObject({ severity: 'error', line: hpLine, column: text.split('\n')[hpLine - 1].indexOf('true') + 1 });
    expect(e2.summary).toBe('Enforcer "h2" has host_protection = true but no host processing unit');
  });

  it('host failsafe lists: "any" and bad ports are errors at their entry, [] inbound is a warning', async () => {
    const profile = `enforcer_profile "p" {
  namespace = "/h"
  host_failsafe_inbound  = ["tcp/22", "any"]
  host_failsafe_outbound = ["udp/99999"]
}

enforcer_profile "none" {
  namespace = "/h"
  host_failsafe_inbound = []
}`;
    const text = base({ profile, enforcer: '  host_protection = true\n  profile = "p"' });
    const ds = await diagnose(text);
    const anyErr = ds.find((d) => d.code === 'MSEG3134')!;
    expect(anyErr).toMatchObject({ severity: 'error', line: lineOf(text, '"any"') });
    expect(anyErr.column).toBeGreaterThan(3);
    expect(ds.find((d) => d.summary.includes('udp/99999'))).toMatchObject({ severity: 'error', line: lineOf(text, 'udp/99999') });
    expect(ds.find((d) => d.code === 'MSEG3135')).toMatchObject({ severity: 'warning', line: lineOf(text, 'host_failsafe_inbound = []') });
  });
});

describe('host protection: compiled rules', () => {
  it('the host PU gets loopback and its failsafe ports right after established, by direction; a workload PU gets none', async () => {
    const { rulesets } = await load(writeDir({ 'main.hcl': base() }));
    const rs = rulesets[0];
    const ingress = chain(rs, 'pu-host-i-');
    const egress = chain(rs, 'pu-host-o-');
    expect(kinds(ingress)).toEqual(['established', 'hp:loopback', 'hp:failsafe-inbound', 'hp:failsafe-inbound', 'policy', 'default', 'default']);
    expect(ingress.rules[1].match).toEqual({ iif: 'lo' });
    expect(ingress.rules.slice(2, 4).map((r) => r.match)).toEqual([
      { protocol: 'tcp', dports: [{ from: 22, to: 22 }] },
      { protocol: 'udp', dports: [{ from: 68, to: 68 }] },
    ]);
    // The default reject is two rules: a TCP copy (refused with a reset) and the rest.
    expect(kinds(egress)).toEqual(['established', 'hp:loopback', 'hp:failsafe-outbound', 'hp:failsafe-outbound', 'default', 'default']);
    expect(egress.rules[1].match).toEqual({ oif: 'lo' });
    expect(egress.rules.slice(2, 4).map((r) => r.match)).toEqual([
      { protocol: 'tcp', dports: [{ from: 53, to: 53 }] },
      { protocol: 'udp', dports: [{ from: 53, to: 53 }, { from: 67, to: 67 }] },
    ]);
    for (const c of [chain(rs, 'pu-app-i-'), chain(rs, 'pu-app-o-')]) expect(kinds(c).some((k) => k?.startsWith('hp:'))).toBe(false);
    expect(rs.hostProtection).toEqual({
      pu: 'host',
      namespace: '/h',
      addresses: ['198.18.0.21'],
      failsafe_inbound: [...HOST_FAILSAFE_DEFAULTS.inbound],
      failsafe_outbound: [...HOST_FAILSAFE_DEFAULTS.outbound],
      failsafe_source: { inbound: 'default', outbound: 'default' },
    });
  });

  it('a profile replaces the defaults; [] leaves loopback only', async () => {
    const profile = 'enforcer_profile "p" {\n  namespace = "/h"\n  host_failsafe_inbound = ["tcp/2222"]\n  host_failsafe_outbound = []\n}';
    const { rulesets } = await load(writeDir({ 'main.hcl': base({ profile, enforcer: '  host_protection = true\n  profile = "p"' }) }));
    const rs = rulesets[0];
    const ingress = chain(rs, 'pu-host-i-');
    expect(ingress.rules.filter((r) => r.origin?.kind === 'host-protection').map((r) => [r.match, r.origin])).toEqual([
      [{ iif: 'lo' }, { kind: 'host-protection', reason: 'loopback' }],
      [{ protocol: 'tcp', dports: [{ from: 2222, to: 2222 }] }, { kind: 'host-protection', reason: 'failsafe-inbound', profile: 'p' }],
    ]);
    expect(kinds(chain(rs, 'pu-host-o-'))).toEqual(['established', 'hp:loopback', 'default', 'default']);
    expect(rs.hostProtection).toMatchObject({ failsafe_inbound: ['tcp/2222'], failsafe_outbound: [], failsafe_source: { inbound: 'profile', outbound: 'profile' } });
  });

  it('a host PU address the host does not hold is MSEG6040 (plan, with the host\'s addresses)', async () => {
    const { model } = await load(writeDir({ 'main.hcl': base() }));
    const host = model.processingUnits.find((p) => p.name === 'host')!;
    expect(placePu(host, ['198.18.0.21', '127.0.0.1'], 'enforcer.h1').diagnostics).toEqual([]);
    const r = placePu(host, ['198.18.0.99'], 'enforcer.h1');
    expect(r.placement).toMatchObject({ placement: 'local', source: 'host-protection' });
    expect(r.diagnostics.map((d) => [d.severity, d.code])).toEqual([['error', 'MSEG6040']]);
    const again = compile(model, { now: NOW, hostAddresses: new Map([['h1', ['198.18.0.99']]]) });
    expect(again.rulesets[0].diagnostics.map((d) => d.code)).toContain('MSEG6040');
  });
});

describe('host protection: trace and plan view', () => {
  it('trace names the failsafe that beats a rejecting policy, and the default for other ports', async () => {
    const { model, rulesets } = await load(writeDir({ 'main.hcl': base() }));
    const ssh = traceFlow(model, rulesets, { from: 'admins', to: 'host', port: 'tcp/22' }).trace!;
    expect(ssh.verdict).toBe('allow');
    expect(ssh.destination).toMatchObject({ verdict: 'allow', origin: 'host-protection', policy: null });
    expect(ssh.destination.reason).toMatch(/inbound failsafe port of the host \(the defaults\), open whatever the policies say/);
    const other = traceFlow(model, rulesets, { from: 'admins', to: 'host', port: 'tcp/8081' }).trace!;
    expect(other.verdict).toBe('reject');
    expect(other.destination).toMatchObject({ verdict: 'reject', policy: 'default' });
    const dnsOut = traceFlow(model, rulesets, { from: 'host', to: 'admins', port: 'udp/53' }).trace!;
    expect(dnsOut.source).toMatchObject({ verdict: 'allow', origin: 'host-protection' });
  });

  it('plan lists the host PU, its addresses and what stays open', async () => {
    const { rulesets } = await load(writeDir({ 'main.hcl': base() }));
    const plain = { dim: (s: string) => s } as unknown as Parameters<typeof hostProtectionLines>[1];
    const lines = hostProtectionLines({ host_protection: rulesets[0].hostProtection } as HostPlan, plain);
    expect(lines).toEqual([
      'host protection:',
      "  host host (/h) on 198.18.0.21: policies decide the host's own input/output",
      '  always open: loopback (lo), established/related; failsafe inbound tcp/22, udp/68 (default); outbound udp/53, tcp/53, udp/67 (default)',
    ]);
  });
});
