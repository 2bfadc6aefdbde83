/**
 * What a trace cannot know from the configuration alone, and must not guess (issue 10, found by
 * the randomized trace-vs-kernel test): the interface a connection crosses where a profile has
 * excluded_interfaces, and which address of an external network a connection uses. Each case here
 * was a wrong verdict before; the real-kernel proof is test/netns/trace-differential.test.ts.
 *
 * Addresses: PU a 198.18.1.1 on h1, PU b 198.18.2.1 on h2 (TWO_HOSTS), outsiders from
 * 198.51.100.0/24 and 203.0.113.0/24 (documentation ranges).
 */
import { evaluateExpectations } from '../../../src/trace/expectations';
import { explainChanges } from '../../../src/trace/explain';
import { traceFlow, type FlowQuery, type FlowTrace } from '../../../src/trace/trace';
import type { DesiredRuleset } from '../../../src/compile/ir';
import type { Model } from '../../../src/model/types';
import { TWO_HOSTS, X1_POLICIES, loadHcl, run, writeDir } from './helpers';

type Loaded = { model: Model; rulesets: DesiredRuleset[] };

function trace(m: Loaded, q: FlowQuery): FlowTrace {
  const r = traceFlow(m.model, m.rulesets, q);
  expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  return r.trace!;
}

/** withProfile gives enforcer `enf` of TWO_HOSTS a profile. */
function withProfile(base: string, enf: string, profile: string): string {
  return base.replace(`enforcer "${enf}" {`, `enforcer "${enf}" {\n  profile = "${profile}"`);
}

const EXCLUDE_ETH0_ON_H1 = `${withProfile(TWO_HOSTS, 'h1', 'p')}
enforcer_profile "p" {
  namespace           = "/t"
  excluded_interfaces = ["eth0"]
}
`;

describe('trace: excluded interfaces', () => {
  let m: Loaded;
  beforeAll(async () => {
    m = await loadHcl({ 'main.hcl': EXCLUDE_ETH0_ON_H1 });
  });

  it('says the verdict depends on the interface instead of claiming reject (the issue\'s 198.51.100.1 → a)', () => {
    const t = trace(m, { from: '198.51.100.1', to: 'a', port: 'tcp/80' });
    expect(t.verdict).toBe('depends');
    expect(t.depends_on).toEqual(['interface']);
    expect(t.cases!.map((c) => [c.verdict, c.iif, c.oif])).toEqual([
      ['reject', { none_of: ['eth0'] }, undefined],
      ['allow', { one_of: ['eth0'] }, undefined],
    ]);
    // The first case is the one shown as source/destination: an interface the profile does not exclude.
    expect(t.destination).toMatchObject({ verdict: 'reject', policy: 'default' });
    expect(t.cases![1].destination).toMatchObject({ verdict: 'untouched', enforcer: 'h1' });
    expect(t.cases![1].destination.reason).toBe('interface eth0 is excluded by enforcer profile "p", so microseg does not touch it');
  });

  it('decides once told the interface: --iif / --interface eth0 allow, any other reject', () => {
    expect(trace(m, { from: '198.51.100.1', to: 'a', port: 'tcp/80', iif: 'eth0' })).toMatchObject({ verdict: 'allow', packet: { iif: 'eth0' } });
    expect(trace(m, { from: '198.51.100.1', to: 'a', port: 'tcp/80', interface: 'eth0' }).verdict).toBe('allow');
    const other = trace(m, { from: '198.51.100.1', to: 'a', port: 'tcp/80', iif: 'eth1' });
    expect(other).toMatchObject({ verdict: 'reject', packet: { iif: 'eth1' } });
    expect(other.cases).toBeUndefined();
    // --oif is the source host's: it says nothing about how the packet reaches h1.
    expect(trace(m, { from: '198.51.100.1', to: 'a', port: 'tcp/80', oif: 'eth0' }).verdict).toBe('depends');
  });

  it('the egress side depends on the interface it leaves by', () => {
    const t = trace(m, { from: 'a', to: '198.51.100.1', port: 'tcp/80' });
    expect(t.verdict).toBe('depends');
    expect(t.cases!.map((c) => [c.verdict, c.oif])).toEqual([
      ['reject', { none_of: ['eth0'] }],
      ['allow', { one_of: ['eth0'] }],
    ]);
    expect(trace(m, { from: 'a', to: '198.51.100.1', port: 'tcp/80', oif: 'eth0' }).verdict).toBe('allow');
  });

  it('a side that rejects whatever the interface leaves the verdict whole', () => {
    // a → b: h1 excludes eth0 (source), but b's host h2 rejects on every interface.
    const t = trace(m, { from: 'a', to: 'b', port: 'tcp/80' });
    expect(t.verdict).toBe('reject');
    expect(t.cases).toBeUndefined();
    expect(t.destination).toMatchObject({ verdict: 'reject', enforcer: 'h2' });
  });

  it('lists every combination when both hosts exclude interfaces, merging patterns with one outcome', async () => {
    const both = await loadHcl({
      'main.hcl': `${withProfile(withProfile(TWO_HOSTS, 'h1', 'p'), 'h2', 'q')}
enforcer_profile "p" {
  namespace           = "/t"
  excluded_interfaces = ["eth0", "docker0"]
}
enforcer_profile "q" {
  namespace           = "/t"
  excluded_interfaces = ["veth+"]
}
network_policy "a-b" {
  namespace         = "/t"
  subject           = "app=a"
  object            = "app=b"
  apply_policy_mode = "outgoing"
}
`,
    });
    const t = trace(both, { from: 'a', to: 'b', port: 'tcp/80' });
    expect(t.verdict).toBe('depends');
    expect(t.cases!.map((c) => [c.verdict, c.oif, c.iif])).toEqual([
      ['reject', undefined, { none_of: ['veth+'] }],
      ['allow', undefined, { one_of: ['veth+'] }],
    ]);
    // The wildcard matches by prefix.
    expect(trace(both, { from: 'a', to: 'b', port: 'tcp/80', iif: 'veth7' }).verdict).toBe('allow');
    expect(trace(both, { from: 'a', to: 'b', port: 'tcp/80', iif: 'vet' }).verdict).toBe('reject');
    // b → a: b's egress (no policy) rejects unless it leaves by veth*, and a's ingress unless by eth0 or docker0.
    const back = trace(both, { from: 'b', to: 'a', port: 'tcp/80' });
    expect(back.cases!.map((c) => [c.verdict, c.oif, c.iif])).toEqual([
      ['reject', { none_of: ['veth+'] }, { none_of: ['docker0', 'eth0'] }],
      ['reject', { none_of: ['veth+'] }, { one_of: ['docker0', 'eth0'] }],
      ['reject', { one_of: ['veth+'] }, { none_of: ['docker0', 'eth0'] }],
      ['allow', { one_of: ['veth+'] }, { one_of: ['docker0', 'eth0'] }],
    ]);
    expect(back.cases![1].destination.reached).toBe(false);
  });

  it('two PUs of one host talk over lo whatever the query says, and a given interface is a warning', async () => {
    const local = await loadHcl({
      'main.hcl': `${EXCLUDE_ETH0_ON_H1}
processing_unit "c" {
  namespace = "/t"
  enforcer  = "h1"
  addresses = ["198.18.1.2"]
  tags      = ["app=c"]
}
`,
    });
    const r = traceFlow(local.model, local.rulesets, { from: 'a', to: 'c', port: 'tcp/80', interface: 'eth0' });
    expect(r.trace).toMatchObject({ verdict: 'reject', packet: { local: true, oif: 'lo', iif: 'lo' } });
    expect(r.diagnostics).toEqual([expect.objectContaining({ severity: 'warning', code: 'MSEG9007', summary: 'interface eth0 does not apply: a and c are on one host' })]);
    expect(traceFlow(local.model, local.rulesets, { from: 'a', to: 'c', port: 'tcp/80' }).diagnostics).toEqual([]);
  });

  it('refuses a pattern or a bad name, and interface together with iif/oif', () => {
    const diags = (q: Partial<FlowQuery>) => traceFlow(m.model, m.rulesets, { from: 'a', to: 'b', port: 'tcp/80', ...q }).diagnostics.map((d) => d.code);
    expect(diags({ iif: 'veth+' })).toEqual(['MSEG9005']);
    expect(diags({ oif: 'a b' })).toEqual(['MSEG9005']);
    expect(diags({ interface: 'abcdefghijklmnop' })).toEqual(['MSEG9005']);
    expect(diags({ interface: 'eth0', iif: 'eth1' })).toEqual(['MSEG9006']);
    expect(traceFlow(m.model, m.rulesets, { from: 'a', to: 'b', port: 'tcp/80', iif: '..' }).trace).toBeUndefined();
  });

  it('an expect whose verdict depends on the interface fails and says how to fix it; with interface it passes', async () => {
    const dir = writeDir({
      'main.hcl': `${EXCLUDE_ETH0_ON_H1}
expect "outsider-in" {
  namespace = "/t"
  from      = "198.51.100.1"
  to        = "a"
  port      = "tcp/80"
  verdict   = "reject"
}
expect "outsider-in-eth0" {
  namespace = "/t"
  from      = "198.51.100.1"
  to        = "a"
  port      = "tcp/80"
  interface = "eth0"
  verdict   = "allow"
}
expect "outsider-in-eth1" {
  namespace = "/t"
  from      = "198.51.100.1"
  to        = "a"
  port      = "tcp/80"
  iif       = "eth1"
  verdict   = "reject"
}
`,
    });
    const loaded = await (await import('./helpers')).load(dir);
    const results = evaluateExpectations(loaded.model, loaded.rulesets);
    expect(results.map((r) => [r.name, r.actual, r.pass])).toEqual([
      ['outsider-in', 'depends', false],
      ['outsider-in-eth0', 'allow', true],
      ['outsider-in-eth1', 'reject', true],
    ]);
    expect(results[0].diagnostics[0]).toMatchObject({
      code: 'MSEG9008',
      summary: 'The verdict depends on the interface it crosses: reject when reaching h1 by any interface but eth0; allow when reaching h1 by eth0',
      detail: expect.stringContaining('interface = "eth0"'),
      file: expect.stringMatching(/main\.hcl$/),
    });
    const r = await run('test', dir);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/outsider-in\s+198\.51\.100\.1 → a\s+tcp\/80\s+reject\s+depends\s+-\s+FAIL/);
    expect(r.out).toContain('FAIL outsider-in: ');
    expect(r.out).toContain('expected reject, but the verdict depends on the interface it crosses');
    expect(r.out).toContain('2 passed, 1 failed.');
  });

  it('microseg trace shows every case and how to say which; --json has verdict "depends" and the cases', async () => {
    const dir = writeDir({ 'main.hcl': EXCLUDE_ETH0_ON_H1 });
    const human = await run('trace', dir, '--from', '198.51.100.1', '--to', 'a', '--port', 'tcp/80');
    expect(human.code).toBe(0);
    expect(human.out).toContain('  result: DEPENDS ON THE INTERFACE\n    reject when reaching h1 by any interface but eth0\n    allow when reaching h1 by eth0\n');
    expect(human.out).toContain('--interface NAME');
    const told = await run('trace', dir, '--from', '198.51.100.1', '--to', 'a', '--port', 'tcp/80', '--iif', 'eth0');
    expect(told.out).toContain('198.51.100.1 → a (198.18.1.1) tcp/80 reaching by eth0\n');
    expect(told.out).toContain('  result: ALLOW\n');
    const json = JSON.parse((await run('trace', dir, '--from', '198.51.100.1', '--to', 'a', '--port', 'tcp/80', '--json')).out);
    expect(json).toMatchObject({ verdict: 'depends', depends_on: ['interface'], cases: [{ verdict: 'reject' }, { verdict: 'allow', iif: { one_of: ['eth0'] } }] });
    const bad = await run('trace', dir, '--from', 'a', '--to', 'b', '--port', 'tcp/80', '--interface', 'eth0', '--oif', 'eth1');
    expect(bad.code).toBe(1);
    expect(bad.err).toContain('MSEG9006');
  });
});

describe('trace: external networks holding processing units\' addresses', () => {
  const POLICIES = X1_POLICIES;

  it('a network of one PU address is enforced by that PU\'s host (the issue\'s a → x1), both ways', async () => {
    const m = await loadHcl({
      'main.hcl': `${TWO_HOSTS}${POLICIES}
external_network "x1" {
  namespace = "/t"
  entries   = ["198.18.2.1/32"]
}
`,
    });
    const t = trace(m, { from: 'a', to: 'x1', port: 'tcp/80' });
    expect(t.to).toMatchObject({ kind: 'external_network', address: '198.18.2.1', pu: 'b', enforcer: 'h2' });
    expect(t.to.note).toBe("every address of external network x1 is a processing unit's: 198.18.2.1 is b's, so h2 enforces that side");
    expect(t.source).toMatchObject({ verdict: 'allow', policy: 'a-x1' });
    expect(t.destination).toMatchObject({ verdict: 'reject', enforcer: 'h2', pu: 'b', policy: 'default' });
    expect(t.verdict).toBe('reject');
    // The same as naming the address.
    expect(trace(m, { from: 'a', to: '198.18.2.1', port: 'tcp/80' }).verdict).toBe('reject');
    const back = trace(m, { from: 'x1', to: 'a', port: 'tcp/80' });
    expect(back.source).toMatchObject({ verdict: 'reject', enforcer: 'h2', pu: 'b' });
    expect(back.verdict).toBe('reject');
  });

  it('a network of several PU addresses is traced per address: each PU\'s host decides its own', async () => {
    const m = await loadHcl({
      'main.hcl': `${TWO_HOSTS}${POLICIES}
processing_unit "c" {
  namespace = "/t"
  enforcer  = "h2"
  addresses = ["198.18.2.2"]
  tags      = ["app=c"]
}
network_policy "c-in" {
  namespace = "/t"
  subject   = "app=a"
  object    = "app=c"
  ports     = ["tcp/80"]
}
external_network "x1" {
  namespace = "/t"
  entries   = ["198.18.2.1/32", "198.18.2.2/32"]
}
`,
    });
    const t = trace(m, { from: 'a', to: 'x1', port: 'tcp/80' });
    expect(t.verdict).toBe('depends');
    expect(t.depends_on).toEqual(['address']);
    expect(t.cases!.map((c) => [c.verdict, c.to_addresses])).toEqual([
      ['reject', { address: '198.18.2.1', cidrs: ['198.18.2.1/32'], size: '1', pu: 'b' }],
      ['allow', { address: '198.18.2.2', cidrs: ['198.18.2.2/32'], size: '1', pu: 'c' }],
    ]);
  });

  it('a network with other addresses stands for those; its PU addresses are listed apart, traced to their hosts', async () => {
    const m = await loadHcl({
      'main.hcl': `${TWO_HOSTS}${POLICIES}
external_network "x1" {
  namespace = "/t"
  entries   = ["198.18.2.0/24"]
}
`,
    });
    const t = trace(m, { from: 'a', to: 'x1', port: 'tcp/80' });
    expect(t.verdict).toBe('allow');
    expect(t.to).toMatchObject({ address: '198.18.2.0', cidr: '198.18.2.0/24' });
    expect(t.pu_addresses).toEqual([{ endpoint: 'to', address: '198.18.2.1', pu: 'b', enforcer: 'h2', verdict: 'reject', decided_by: 'default' }]);
    const human = await run('trace', writeDir({ 'main.hcl': `${TWO_HOSTS}${POLICIES}external_network "x1" {\n  namespace = "/t"\n  entries = ["198.18.2.0/24"]\n}\n` }), '--from', 'a', '--to', 'x1', '--port', 'tcp/80');
    expect(human.out).toContain("note: x1 also holds processing units' addresses, decided by their own hosts and not part of the result: 198.18.2.1 (b on h2): reject by the namespace default");
    // The first address is skipped when a PU holds it.
    const first = await loadHcl({ 'main.hcl': `${TWO_HOSTS}${POLICIES}external_network "x1" {\n  namespace = "/t"\n  entries = ["198.18.2.1/32", "203.0.113.0/24"]\n}\n` });
    expect(trace(first, { from: 'a', to: 'x1', port: 'tcp/80' }).to).toMatchObject({
      address: '203.0.113.0',
      note: "203.0.113.0 stands for external network x1: its first admitted address that is no processing unit's",
    });
  });

  it('addresses of one network that policies treat differently make the verdict depend on the address', async () => {
    const m = await loadHcl({
      'main.hcl': `${TWO_HOSTS}
external_network "outside" {
  namespace = "/t"
  entries   = ["203.0.113.0/24"]
}
external_network "bad" {
  namespace = "/t"
  entries   = ["203.0.113.128/25", "198.51.100.0/24"]
}
network_policy "a-out" {
  namespace = "/t"
  subject   = "app=a"
  object    = "$name=outside"
}
network_policy "no-bad" {
  namespace = "/t"
  subject   = "app=a"
  object    = "$name=bad"
  action    = "reject"
}
`,
    });
    const t = trace(m, { from: 'a', to: 'outside', port: 'tcp/443' });
    expect(t.verdict).toBe('depends');
    expect(t.depends_on).toEqual(['address']);
    expect(t.cases!.map((c) => [c.verdict, c.to_addresses, c.source.policy])).toEqual([
      ['allow', { address: '203.0.113.0', cidrs: ['203.0.113.0/25'], size: '128' }, 'a-out'],
      ['reject', { address: '203.0.113.128', cidrs: ['203.0.113.128/25'], size: '128' }, 'no-bad'],
    ]);
    // One address of each class is exact.
    expect(trace(m, { from: 'a', to: '203.0.113.200', port: 'tcp/443' }).verdict).toBe('reject');
    expect(trace(m, { from: 'a', to: '203.0.113.1', port: 'tcp/443' }).verdict).toBe('allow');
    // Addresses the rules treat alike are one class, however many ranges they span.
    expect(trace(m, { from: 'a', to: 'bad', port: 'tcp/443' })).toMatchObject({ verdict: 'reject', source: { policy: 'no-bad' } });
    const [r] = evaluateExpectations({ ...m.model, expects: [{ kind: 'expect', name: 'e', namespace: '/t', from: 'a', to: 'outside', port: 'tcp/443', verdict: 'allow' } as Model['expects'][number]] }, m.rulesets);
    expect(r).toMatchObject({ actual: 'depends', pass: false, depends_on: ['address'] });
    expect(r.diagnostics[0].detail).toContain('name one address of the network');
  });

  it('plan --explain reports a verdict that becomes "depends"', async () => {
    const before = await loadHcl({ 'main.hcl': TWO_HOSTS });
    const after = await loadHcl({ 'main.hcl': `${withProfile(TWO_HOSTS, 'h2', 'p')}\nenforcer_profile "p" {\n  namespace = "/t"\n  excluded_interfaces = ["eth0"]\n}\nnetwork_policy "a-b" {\n  namespace = "/t"\n  subject = "app=a"\n  object = "app=b"\n  ports = ["tcp/80"]\n  apply_policy_mode = "outgoing"\n}\n` });
    expect(explainChanges(before.model, before.rulesets, after.model, after.rulesets)).toEqual([
      { from: 'a', to: 'b', port: 'tcp/80', before: 'reject', after: 'depends', policy_before: 'default', policy_after: null },
    ]);
  });
});
