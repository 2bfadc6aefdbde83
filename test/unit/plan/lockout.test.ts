/**
 * managementLockout (src/plan/lockout.ts): a plan that would refuse every new ssh connection to
 * the address microseg manages an enforcer through is caught before any host is touched.
 */
import { compile } from '../../../src/compile';
import { evaluateHcl } from '../../../src/config/hcl';
import { validateConfig } from '../../../src/model/validate';
import { managementLockout } from '../../../src/plan/lockout';
import type { Connection } from '../../../src/hosts';

const NOW = new Date('2025-01-01T00:00:00Z');
const SRV = '198.18.7.2';

function ruleset(extra: string, opts: { profile?: string; defaultIncoming?: string } = {}) {
  const text = [
    `namespace "/t" {${opts.defaultIncoming ? ` default_incoming_action = "${opts.defaultIncoming}" ` : ''}}`,
    opts.profile ? `enforcer_profile "p" {\n  namespace = "/t"\n  ${opts.profile}\n}` : '',
    'enforcer "srv" {',
    '  namespace = "/t"',
    opts.profile ? '  profile   = enforcer_profile.p.name' : '',
    '  connection {',
    '    type = "ssh"',
    `    host = "${SRV}"`,
    '    user = "root"',
    '  }',
    '}',
    `processing_unit "srv" {\n  namespace = "/t"\n  enforcer  = "srv"\n  addresses = ["${SRV}", "2001:2::7"]\n  tags      = ["app=srv"]\n}`,
    'external_network "admins" {\n  namespace = "/t"\n  entries   = ["198.18.7.1/32"]\n  tags      = ["net=admins"]\n}',
    extra,
  ].join('\n');
  const raw = evaluateHcl([{ name: 'main.hcl', text }], { vars: {}, varFiles: [], env: {} });
  const res = validateConfig(raw, { now: NOW });
  const errors = [...raw.diagnostics, ...res.diagnostics].filter((d) => d.severity === 'error');
  if (errors.length > 0 || !res.model) throw new Error(errors.map((d) => d.summary).join('; '));
  return compile(res.model, { now: NOW }).rulesets.find((r) => r.enforcer === 'srv')!;
}

const ssh = (host = SRV, port = 22): Connection => ({ type: 'ssh', host, user: 'root', port, strictHostKeyChecking: true });

const policy = (body: string) => `network_policy "pol" {\n  namespace = "/t"\n  ${body}\n}`;

describe('managementLockout', () => {
  it('fires when the management address belongs to a PU whose ingress rejects tcp/22 from everyone', () => {
    const r = ruleset(policy('subject = [["net=admins"]]\n  object = [["app=srv"]]\n  ports = ["tcp/443"]'));
    expect(managementLockout(ssh(), r)).toEqual({ address: SRV, port: 22, chain: expect.stringMatching(/^pu-srv-i/) });
    // The same with the port the connection really uses.
    expect(managementLockout(ssh(SRV, 2222), r)).toMatchObject({ port: 2222 });
  });

  it('does not fire when a policy lets some source in on the ssh port', () => {
    const r = ruleset(policy('subject = [["net=admins"]]\n  object = [["app=srv"]]\n  ports = ["tcp/22"]'));
    expect(managementLockout(ssh(), r)).toBeUndefined();
    // ...but the policy covers tcp/22 only: microseg on port 2222 would be locked out.
    expect(managementLockout(ssh(SRV, 2222), r)).toMatchObject({ port: 2222 });
  });

  it('does not fire with a failsafe port, or in discovery mode (default allow)', () => {
    expect(managementLockout(ssh(), ruleset('', { profile: 'failsafe = ["tcp/22"]' }))).toBeUndefined();
    expect(managementLockout(ssh(), ruleset('', { defaultIncoming: 'allow' }))).toBeUndefined();
  });

  it('a reject policy from everyone (0.0.0.0/0) beats an allow on the same port, and is caught', () => {
    const r = ruleset(
      [
        policy('subject = [["net=admins"]]\n  object = [["app=srv"]]\n  ports = ["tcp/22"]'),
        'external_network "all" {\n  namespace = "/t"\n  entries = ["0.0.0.0/0"]\n  tags = ["net=all"]\n}',
        'network_policy "deny-ssh" {\n  namespace = "/t"\n  subject = [["net=all"]]\n  object = [["app=srv"]]\n  action = "reject"\n  ports = ["tcp/22"]\n}',
      ].join('\n'),
    );
    expect(managementLockout(ssh(), r)).toMatchObject({ address: SRV, port: 22 });
  });

  it('a reject from only some sources leaves the others a way in', () => {
    const r = ruleset(
      [
        policy('subject = [["net=admins"]]\n  object = [["app=srv"]]\n  ports = ["tcp/22"]'),
        'external_network "some" {\n  namespace = "/t"\n  entries = ["10.0.0.0/8"]\n  tags = ["net=some"]\n}',
        'network_policy "deny-some" {\n  namespace = "/t"\n  subject = [["net=some"]]\n  object = [["app=srv"]]\n  action = "reject"\n  ports = ["tcp/22"]\n}',
      ].join('\n'),
    );
    expect(managementLockout(ssh(), r)).toBeUndefined();
  });

  it('does not fire for an address no PU uses, a DNS name, or a non-ssh connection', () => {
    const r = ruleset('');
    expect(managementLockout(ssh('198.18.7.9'), r)).toBeUndefined();
    expect(managementLockout(ssh('srv.example'), r)).toBeUndefined();
    expect(managementLockout({ type: 'netns', netns: 'x' }, r)).toBeUndefined();
    expect(managementLockout({ type: 'local' }, r)).toBeUndefined();
    // IPv6 management address of the same PU: caught too.
    expect(managementLockout(ssh('2001:2:0:0::7'), r)).toMatchObject({ address: '2001:2::7', port: 22 });
  });
});
