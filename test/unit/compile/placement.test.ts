/**
 * Placement (src/compile/placement.ts, src/plan/placement.ts): the host's addresses decide
 * local vs forwarded, pins are checked against them, forwarded PUs get a `fwd` dispatch chain
 * whose PU chains pass with `return`, the offline trace follows placement, and plan blocks a
 * host whose bridged workloads the forward hook cannot see. Unit level on the in-memory
 * firewall; the real-kernel proof is test/netns/forward.test.ts.
 */
import { compile } from '../../../src/compile';
import { placePu } from '../../../src/compile/placement';
import { evaluateExpectations, traceFlow } from '../../../src/trace';
import { FakeFirewall, type FakeHostOptions } from '../../../providers/fake';
import { cliWith } from '../../netns/reconcile-suite';
import { load, NOW, writeDir } from '../trace/helpers';

const HCL = (pin: (name: string) => string) => `
namespace "/f" {
  default_incoming_action = "reject"
  default_outgoing_action = "reject"
}
enforcer "gw" {
  namespace = "/f"
  backend   = "nftables"
  connection {
    type  = "netns"
    netns = "fake-gw"
  }
}
processing_unit "gw" {
  namespace = "/f"
  enforcer  = "gw"
  addresses = ["198.18.40.1"]
  tags      = ["role=gw"]
  ${pin('gw')}
}
processing_unit "c1" {
  namespace = "/f"
  enforcer  = "gw"
  addresses = ["198.18.40.11"]
  tags      = ["app=web"]
  ${pin('c1')}
}
processing_unit "c2" {
  namespace = "/f"
  enforcer  = "gw"
  addresses = ["198.18.40.12"]
  tags      = ["app=db"]
  ${pin('c2')}
}
network_policy "web-to-db" {
  namespace = "/f"
  subject   = [["app=web"]]
  object    = [["app=db"]]
  ports     = ["tcp/8080"]
}
`;
const pinned = (name: string) => (name === 'gw' ? 'placement = "local"' : 'placement = "forwarded"');

describe('placement', () => {
  it('the host\'s addresses decide unpinned PUs; pins are checked against them', async () => {
    const { model } = await load(writeDir({ 'main.hcl': HCL(() => '') }));
    const pu = (n: string) => model.processingUnits.find((p) => p.name === n)!;
    expect(placePu(pu('c1'), ['198.18.40.1'], 'enforcer.gw').placement).toEqual({ pu: 'c1', namespace: '/f', placement: 'forwarded', source: 'host' });
    expect(placePu(pu('gw'), ['198.18.40.1'], 'enforcer.gw').placement.placement).toBe('local');
    expect(placePu(pu('c1'), undefined, 'enforcer.gw').placement).toMatchObject({ placement: 'local', source: 'assumed' });
    const { model: m2 } = await load(writeDir({ 'main.hcl': HCL((n) => (n === 'c1' ? 'placement = "local"' : n === 'gw' ? 'placement = "forwarded"' : '')) }));
    const c1 = placePu(m2.processingUnits.find((p) => p.name === 'c1')!, ['198.18.40.1'], 'enforcer.gw');
    expect(c1.diagnostics.map((d) => [d.severity, d.code, d.line])).toEqual([['error', 'MSEG6020', expect.any(Number)]]);
    const gw = placePu(m2.processingUnits.find((p) => p.name === 'gw')!, ['198.18.40.1'], 'enforcer.gw');
    expect(gw.diagnostics.map((d) => d.code)).toEqual(['MSEG6021']);
  });

  it('a host processing unit cannot be placed forwarded, and placement takes only local or forwarded', async () => {
    const dir = writeDir({
      'main.hcl': HCL(() => '').replace('tags      = ["role=gw"]', 'tags = ["role=gw"]\n  type = "host"\n  placement = "forwarded"').replace('tags      = ["app=db"]', 'tags = ["app=db"]\n  placement = "behind"'),
    });
    await expect(load(dir)).rejects.toThrow(/MSEG3100[\s\S]*|MSEG3005/);
    const err = await load(dir).catch((e: Error) => e.message);
    expect(err).toMatch(/MSEG3100/);
    expect(err).toMatch(/MSEG3005/);
  });

  it('forwarded PUs get a fwd chain (egress, then ingress dispatch) and pass with return; local ones keep accept', async () => {
    const { model } = await load(writeDir({ 'main.hcl': HCL(pinned) }));
    const rs = compile(model, { now: NOW }).rulesets[0];
    expect(rs.chains.filter((c) => c.hook).map((c) => [c.name, c.hook])).toEqual([
      ['in', 'input'],
      ['out', 'output'],
      ['fwd', 'forward'],
    ]);
    const fwd = rs.chains.find((c) => c.name === 'fwd')!;
    expect(fwd.rules.map((r) => (r.match.srcAddr ? `src ${r.match.srcAddr}` : `dst ${r.match.dstAddr}`))).toEqual([
      'src 198.18.40.11',
      'src 198.18.40.12',
      'dst 198.18.40.11',
      'dst 198.18.40.12',
    ]);
    // The host talking to a workload: the workload's ingress comes before the host's own egress.
    const out = rs.chains.find((c) => c.name === 'out')!;
    expect(out.rules.map((r) => r.match.dstAddr ?? `src ${r.match.srcAddr}`)).toEqual(['198.18.40.11', '198.18.40.12', 'src 198.18.40.1']);
    const c2in = rs.chains.find((c) => c.comment === 'ingress of processing_unit.c2')!;
    expect(c2in.rules.some((r) => r.verdict.kind === 'accept')).toBe(false);
    expect(c2in.rules.filter((r) => r.origin?.kind === 'policy').map((r) => r.verdict.kind)).toEqual(['return']);
    const gwIn = rs.chains.find((c) => c.comment === 'ingress of processing_unit.gw')!;
    expect(gwIn.rules[0].verdict.kind).toBe('accept');
    expect(rs.placements?.map((p) => `${p.pu}:${p.placement}:${p.source}`)).toEqual(['c1:forwarded:pinned', 'c2:forwarded:pinned', 'gw:local:pinned']);

    const allow = traceFlow(model, [rs], { from: 'c1', to: 'c2', port: 'tcp/8080' }).trace!;
    expect(allow.verdict).toBe('allow');
    expect(allow.source).toMatchObject({ hook: 'forward', verdict: 'allow', policy: 'web-to-db' });
    expect(allow.destination).toMatchObject({ hook: 'forward', verdict: 'allow', policy: 'web-to-db' });
    const back = traceFlow(model, [rs], { from: 'c2', to: 'c1', port: 'tcp/8080' }).trace!;
    expect(back.verdict).toBe('reject');
    expect(back.source).toMatchObject({ hook: 'forward', verdict: 'reject', policy: 'default' });
    const hostToC1 = traceFlow(model, [rs], { from: 'gw', to: 'c1', port: 'tcp/8080' }).trace!;
    expect(hostToC1.source.hook).toBe('output');
    expect(hostToC1.destination.hook).toBe('output');
  });

  it('expect blocks between workloads behind one host are judged on the forward path', async () => {
    const expects = `
expect "web-reaches-db" {
  namespace = "/f"
  from = "c1"
  to = "c2"
  port = "tcp/8080"
  verdict = "allow"
}
expect "db-cannot-reach-web" {
  namespace = "/f"
  from = "c2"
  to = "c1"
  port = "tcp/8080"
  verdict = "reject"
}
`;
    const { model } = await load(writeDir({ 'main.hcl': HCL(pinned), 'expect.hcl': expects }));
    const rs = compile(model, { now: NOW }).rulesets;
    const results = evaluateExpectations(model, rs);
    expect(results.map((r) => [r.name, r.pass, r.actual])).toEqual([
      ['db-cannot-reach-web', true, 'reject'],
      ['web-reaches-db', true, 'allow'],
    ]);
    // The same expectations against the host's stack (no pins, offline: assumed local) hold too,
    // through input/output: placement changes where, not whether.
    const { model: local } = await load(writeDir({ 'main.hcl': HCL(() => ''), 'expect.hcl': expects }));
    expect(evaluateExpectations(local, compile(local, { now: NOW }).rulesets).every((r) => r.pass)).toBe(true);
  });

  describe('plan on the in-memory firewall', () => {
    const run = async (hostOpts: Omit<FakeHostOptions, 'detect'>, text: string) => {
      const fake = new FakeFirewall();
      fake.addHost('fake-gw', { detect: 'nftables', ...hostOpts });
      const dir = writeDir({ 'main.hcl': text });
      const r = await cliWith({ connect: (c) => fake.connect(c) }, 'plan', dir, '--json');
      return { r, fake, dir };
    };

    it('reads the host\'s addresses with its rules and shows each PU\'s placement', async () => {
      const { r } = await run({ addresses: ['198.18.40.1/24'] }, HCL(() => ''));
      expect(r.code).toBe(0);
      const gw = JSON.parse(r.out).hosts[0];
      expect(gw.placements.map((p: { pu: string; placement: string; source: string }) => `${p.pu}:${p.placement}:${p.source}`)).toEqual([
        'c1:forwarded:host',
        'c2:forwarded:host',
        'gw:local:host',
      ]);
      expect(gw.chains.map((c: { name: string }) => c.name)).toContain('fwd');
    });

    it('blocks a host whose bridged workloads skip the forward hook (bridge-nf-call-iptables = 0), touching nothing', async () => {
      const { r } = await run(
        { addresses: ['198.18.40.1/24'], bridges: [{ name: 'br0', subnets: ['198.18.40.1/24'] }], bridgeNetfilter: { ipv4: false, ipv6: false } },
        HCL(() => ''),
      );
      expect(r.code).toBe(1);
      const gw = JSON.parse(r.out).hosts[0];
      expect(gw.blocked_by.map((b: { code: string }) => b.code)).toEqual(['MSEG8260']);
      expect(JSON.stringify(JSON.parse(r.out).diagnostics)).toMatch(/net\.bridge\.bridge-nf-call-iptables is 0/);
      expect(gw.transactions).toBeUndefined();
      const noBr = await run({ addresses: ['198.18.40.1/24'], bridges: [{ name: 'br0', subnets: ['198.18.40.1/24'] }] }, HCL(() => ''));
      expect(JSON.parse(noBr.r.out).hosts[0].blocked_by.map((b: { code: string }) => b.code)).toEqual(['MSEG8260']);
      expect(JSON.stringify(JSON.parse(noBr.r.out).diagnostics)).toMatch(/br_netfilter is not loaded/);
      const fine = await run({ addresses: ['198.18.40.1/24'], bridges: [{ name: 'br0', subnets: ['198.18.40.1/24'] }], bridgeNetfilter: { ipv4: true, ipv6: true } }, HCL(() => ''));
      expect(JSON.parse(fine.r.out).hosts[0].blocked_by).toBeUndefined();
    });

    it('warns when the host\'s addresses cannot be read, and places unpinned PUs local', async () => {
      const { r } = await run({}, HCL(() => ''));
      expect(JSON.parse(r.out).diagnostics.map((d: { code: string }) => d.code)).toContain('MSEG8261');
      expect(JSON.parse(r.out).hosts[0].placements[0]).toMatchObject({ placement: 'local', source: 'assumed' });
    });
  });
});
