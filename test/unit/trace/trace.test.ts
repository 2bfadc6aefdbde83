/**
 * traceFlow: verdicts and attributions computed from the compiled rulesets, checked against the
 * quickstart (real HCL) and small hand-written configurations for the DESIGN §4 rules one by one.
 */
import { traceConnection } from '../../../src/trace/tracer';
import { parseConnectionPort } from '../../../src/trace/query';
import { decidingPolicy, traceFlow, type FlowTrace } from '../../../src/trace/trace';
import type { DesiredRuleset } from '../../../src/compile/ir';
import type { Model } from '../../../src/model/types';
import { QUICKSTART, TWO_HOSTS, load, loadHcl, ruleById } from './helpers';

let qs: { model: Model; rulesets: DesiredRuleset[] };
beforeAll(async () => {
  qs = await load(QUICKSTART);
});

function trace(m: { model: Model; rulesets: DesiredRuleset[] }, from: string, to: string, port: string): FlowTrace {
  const r = traceFlow(m.model, m.rulesets, { from, to, port });
  expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  return r.trace!;
}

describe('traceFlow on the quickstart', () => {
  it('allows web → api in range, attributing both sides to web-to-api with real rule ids', () => {
    const t = trace(qs, 'web', 'api', 'tcp/8080');
    expect(t.verdict).toBe('allow');
    expect(t.packet).toEqual({ family: 4, protocol: 'tcp', src: '198.18.1.10', dst: '198.18.2.10', dport: 8080 });
    expect(t.source).toMatchObject({ hook: 'output', enforcer: 'web-1', pu: 'web', verdict: 'allow', policy: 'web-to-api', origin: 'policy', reached: true });
    expect(t.destination).toMatchObject({ hook: 'input', enforcer: 'api-1', pu: 'api', verdict: 'allow', policy: 'web-to-api', reached: true });
    const srcRule = ruleById(qs.rulesets, 'web-1', t.source.chain!, t.source.rule_id!);
    expect(srcRule?.origin).toEqual({ kind: 'policy', policy: 'web-to-api', namespace: '/acme/prod' });
    expect(srcRule?.verdict).toEqual({ kind: 'accept' });
    expect(ruleById(qs.rulesets, 'api-1', t.destination.chain!, t.destination.rule_id!)?.verdict).toEqual({ kind: 'accept' });
    expect(decidingPolicy(t)).toBe('web-to-api');
  });

  it('reject beats allow: web → db is rejected by no-web-to-db, which beats backend-to-db, and logged', () => {
    const t = trace(qs, 'web', 'db', 'tcp/5432');
    expect(t.verdict).toBe('reject');
    expect(t.source).toMatchObject({ verdict: 'reject', policy: 'no-web-to-db', beats: { policy: 'backend-to-db' } });
    expect(t.source.reason).toMatch(/rejected by policy "no-web-to-db"; reject beats allow: policy "backend-to-db" also matches/);
    expect(ruleById(qs.rulesets, 'web-1', t.source.chain!, t.source.beats!.rule_id)?.verdict).toEqual({ kind: 'accept' });
    // logs_enabled: the log rule of the same policy is hit before the reject
    expect(t.source.logged).toEqual([expect.objectContaining({ policy: 'no-web-to-db', observation: false, prefix: expect.stringMatching(/:R:o$/) })]);
    // the destination would reject too, but the packet never gets there
    expect(t.destination).toMatchObject({ verdict: 'reject', policy: 'no-web-to-db', reached: false });
    expect(decidingPolicy(t)).toBe('no-web-to-db');
  });

  it('api → db on the same port is allowed by backend-to-db (the reject does not match api)', () => {
    const t = trace(qs, 'api', 'db', 'tcp/5432');
    expect(t.verdict).toBe('allow');
    expect(t.source.policy).toBe('backend-to-db');
    expect(t.source.beats).toBeUndefined();
  });

  it('falls to the namespace default outside every policy', () => {
    const t = trace(qs, 'web', 'api', 'tcp/8101');
    expect(t.verdict).toBe('reject');
    expect(t.source).toMatchObject({ verdict: 'reject', policy: 'default', namespace: '/acme/prod', origin: 'default' });
    expect(t.source.reason).toBe('no policy matched: the default outgoing action of namespace /acme/prod is reject');
    expect(t.destination.reason).toMatch(/default incoming action/);
  });

  it('reports the failsafe port as the decider, with no policy', () => {
    const t = trace(qs, 'api', 'db', 'tcp/22');
    expect(t.verdict).toBe('allow');
    expect(t.source).toMatchObject({ verdict: 'allow', policy: null, origin: 'failsafe' });
    expect(t.source.reason).toMatch(/failsafe port of enforcer profile "default"/);
  });

  it('ICMP: echo requests pass, an unsolicited echo reply does not', () => {
    const ping = trace(qs, 'web', 'db', 'icmp/8/0');
    expect(ping.verdict).toBe('allow');
    expect(ping.packet).toMatchObject({ protocol: 'icmp', icmp_type: 8, icmp_code: 0 });
    expect(ping.destination.policy).toBe('ping-inside');
    expect(trace(qs, 'api', 'web', 'icmp/0/0').verdict).toBe('reject');
    // icmp/8 is code 0; bare icmp is an echo request
    expect(trace(qs, 'web', 'db', 'icmp/8').port).toBe('icmp/8/0');
    expect(trace(qs, 'web', 'db', 'icmp').port).toBe('icmp/8/0');
  });

  it('picks the first address of the first admitted CIDR for an external network, and says so', () => {
    const t = trace(qs, 'web', 'internet', 'tcp/443');
    expect(t.to).toMatchObject({ kind: 'external_network', address: '0.0.0.0', cidr: '0.0.0.0/1' });
    expect(t.to.note).toMatch(/0\.0\.0\.0 stands for external network internet/);
    expect(t.verdict).toBe('allow');
    expect(t.source.policy).toBe('web-to-internet');
    expect(t.destination).toMatchObject({ verdict: 'untouched', policy: null });
    expect(t.destination.enforcer).toBeUndefined();
    expect(t.destination.reason).toMatch(/external network internet has no enforcer/);
    const dns = trace(qs, 'db', 'dns', 'udp/53');
    expect(dns.to).toMatchObject({ address: '198.19.53.0', cidr: '198.19.53.0/24' });
  });

  it('external network ports: policy ports ∩ service_ports', () => {
    // dns-out has no ports (any) ∩ dns service_ports udp/53, tcp/53
    expect(trace(qs, 'db', 'dns', 'udp/53').source.policy).toBe('dns-out');
    expect(trace(qs, 'db', 'dns', 'tcp/53').verdict).toBe('allow');
    const ntp = trace(qs, 'db', 'dns', 'udp/123');
    expect(ntp.verdict).toBe('reject');
    expect(ntp.source.policy).toBe('default');
    // web-to-internet tcp/443 ∩ internet tcp/443, tcp/80: tcp/80 is not allowed
    expect(trace(qs, 'web', 'internet', 'tcp/80').source.policy).toBe('default');
  });

  it('an IP of no PU leaves its side untouched; an IP of a PU is that PU', () => {
    const t = trace(qs, '198.51.100.7', 'db', 'tcp/5432');
    expect(t.source).toMatchObject({ verdict: 'untouched', policy: null, reached: true });
    expect(t.source.reason).toMatch(/198\.51\.100\.7 is no processing unit's address/);
    expect(t.destination).toMatchObject({ verdict: 'reject', policy: 'default' });
    expect(t.verdict).toBe('reject');
    // toward a stranger inside the internet network: the source's policy decides alone
    const out = trace(qs, 'web', '198.51.100.7', 'tcp/443');
    expect(out.verdict).toBe('allow');
    expect(out.destination.verdict).toBe('untouched');
    const byIp = trace(qs, '198.18.1.10', 'api', 'tcp/8080');
    expect(byIp.from).toMatchObject({ kind: 'address', pu: 'web', enforcer: 'web-1' });
    expect(byIp.source.policy).toBe('web-to-api');
  });

  it('agrees with the fake tracer traceConnection on the connection fate', () => {
    for (const [from, to, port] of [
      ['web', 'api', 'tcp/8080'],
      ['web', 'db', 'tcp/5432'],
      ['api', 'db', 'tcp/5432'],
      ['db', 'web', 'tcp/8080'],
      ['web', 'db', 'icmp/8/0'],
      ['198.51.100.7', 'db', 'tcp/22'],
    ]) {
      const t = trace(qs, from, to, port);
      const p = parseConnectionPort(port);
      if (!p.ok) throw new Error(p.message);
      const c = traceConnection(qs.rulesets.map((r) => [r.enforcer, r] as const).reduce((m, [k, v]) => m.set(k, v), new Map()), qs.model, {
        src: t.packet.src,
        dst: t.packet.dst,
        protocol: p.value.protocol,
        dport: p.value.dport,
        icmpType: p.value.icmpType,
        icmpCode: p.value.icmpCode,
      });
      expect({ from, to, port, allowed: t.verdict === 'allow' }).toEqual({ from, to, port, allowed: c.allowed });
    }
  });

  it('accepts rulesets as a map keyed by enforcer', () => {
    const map = new Map(qs.rulesets.map((r) => [r.enforcer, r]));
    expect(traceFlow(qs.model, map, { from: 'web', to: 'db', port: 'tcp/5432' }).trace?.verdict).toBe('reject');
  });
});

describe('traceFlow errors', () => {
  it('unknown names: a diagnostic with did you mean, and no trace', () => {
    const r = traceFlow(qs.model, qs.rulesets, { from: 'webb', to: 'internett', port: 'tcp/443' });
    expect(r.trace).toBeUndefined();
    expect(r.diagnostics.map((d) => [d.code, d.summary])).toEqual([
      ['MSEG9001', 'Unknown from "webb"; did you mean "web"?'],
      ['MSEG9001', 'Unknown to "internett"; did you mean "internet"?'],
    ]);
    const far = traceFlow(qs.model, qs.rulesets, { from: 'zzzzzz', to: 'db', port: 'tcp/1' });
    expect(far.diagnostics[0].summary).toBe('Unknown from "zzzzzz"');
    expect(far.diagnostics[0].detail).toMatch(/Known: api, db, web, dns, internet/);
  });

  it.each([
    ['tcp/8000:8100', /port range/],
    ['any', /"any" is every connection/],
    ['icmp/3/0:4', /several ICMP codes/],
    ['tcp', /has no port/],
    ['tpc/80', /did you mean "tcp"/],
  ])('refuses port %s as not one connection', (port, msg) => {
    const r = traceFlow(qs.model, qs.rulesets, { from: 'web', to: 'db', port });
    expect(r.trace).toBeUndefined();
    expect(r.diagnostics).toEqual([expect.objectContaining({ code: 'MSEG9002', severity: 'error', detail: expect.stringMatching(msg) })]);
  });

  it('refuses a connection the endpoints cannot carry (icmp6 between IPv4-only PUs)', () => {
    const r = traceFlow(qs.model, qs.rulesets, { from: 'web', to: 'db', port: 'icmp6/128/0' });
    expect(r.trace).toBeUndefined();
    expect(r.diagnostics[0]).toMatchObject({ code: 'MSEG9003' });
    expect(r.diagnostics[0].detail).toMatch(/web has IPv4, db has IPv4, and icmp6\/128\/0 is IPv6 only/);
  });
});

describe('traceFlow on hand-written policies', () => {
  it('fallback policies decide only where no non-fallback policy matched', async () => {
    const m = await loadHcl({
      'main.hcl': `${TWO_HOSTS}
network_policy "a-to-b-web" {
  namespace = "/t"
  subject   = [["app=a"]]
  object    = [["app=b"]]
  ports     = ["tcp/80"]
}
network_policy "a-to-b-rest" {
  namespace = "/t"
  subject   = [["app=a"]]
  object    = [["app=b"]]
  fallback  = true
}
network_policy "never-443" {
  namespace = "/t"
  subject   = [["app=a"]]
  object    = [["app=b"]]
  action    = "reject"
  ports     = ["tcp/443"]
}
`,
    });
    const web = trace(m, 'a', 'b', 'tcp/80');
    expect(web.source).toMatchObject({ policy: 'a-to-b-web', verdict: 'allow' });
    expect(web.source.fallback).toBeUndefined();
    const other = trace(m, 'a', 'b', 'tcp/9000');
    expect(other.verdict).toBe('allow');
    expect(other.source).toMatchObject({ policy: 'a-to-b-rest', fallback: true });
    expect(other.source.reason).toMatch(/allowed by fallback policy "a-to-b-rest" \(no non-fallback policy matched\)/);
    const tls = trace(m, 'a', 'b', 'tcp/443');
    expect(tls.verdict).toBe('reject');
    expect(tls.source.policy).toBe('never-443');
    // a reject beats the fallback allow that also matches
    expect(tls.source.beats?.policy).toBe('a-to-b-rest');
  });

  it('observation policies only log: the verdict comes from elsewhere, the observation is reported', async () => {
    const m = await loadHcl({
      'main.hcl': `${TWO_HOSTS}
network_policy "allow-a-b" {
  namespace = "/t"
  subject   = [["app=a"]]
  object    = [["app=b"]]
}
network_policy "trial-block" {
  namespace           = "/t"
  subject             = [["app=a"]]
  object              = [["app=b"]]
  action              = "reject"
  observation_enabled = true
}
`,
    });
    const t = trace(m, 'a', 'b', 'tcp/5432');
    expect(t.verdict).toBe('allow');
    expect(t.source.policy).toBe('allow-a-b');
    expect(t.source.beats).toBeUndefined();
    // an observed reject logs before every verdict of its section: the allowed packet is what it
    // would have refused, and the trace says so
    expect(t.source.logged).toEqual([expect.objectContaining({ policy: 'trial-block', observation: true, would: 'reject' })]);
    expect(t.source.reason).toBe('allowed by policy "allow-a-b"; observed by "trial-block" (would-reject): observation only logs');
  });

  it('audit namespace: trace says the default reject lets the connection through as would-reject, and names an audited reject policy', async () => {
    const audit = TWO_HOSTS.replace('default_outgoing_action = "reject"', 'default_outgoing_action = "reject"\n  observation_enabled = true');
    const m = await loadHcl({
      'main.hcl': `${audit}
network_policy "no-ssh" {
  namespace = "/t"
  subject   = [["app=a"]]
  object    = [["app=b"]]
  ports     = ["tcp/22"]
  action    = "reject"
}
`,
    });
    const open = trace(m, 'a', 'b', 'tcp/5432');
    expect(open.verdict).toBe('allow');
    expect(open.source.reason).toBe('no policy matched: the default outgoing action of namespace /t is reject, in audit mode (observation_enabled): let through and logged as would-reject');
    const ssh = trace(m, 'a', 'b', 'tcp/22');
    expect(ssh.verdict).toBe('allow');
    expect(ssh.source.logged).toEqual(expect.arrayContaining([expect.objectContaining({ policy: 'no-ssh', observation: true, would: 'reject' })]));
    expect(ssh.source.reason).toMatch(/observed by "no-ssh" \(would-reject\): observation only logs$/);
  });

  it('observation hit on the way to the default is reported with the reason', async () => {
    const m = await loadHcl({
      'main.hcl': `${TWO_HOSTS}
network_policy "trial-block" {
  namespace           = "/t"
  subject             = [["app=a"]]
  object              = [["app=b"]]
  action              = "reject"
  observation_enabled = true
}
`,
    });
    const t = trace(m, 'a', 'b', 'tcp/5432');
    expect(t.verdict).toBe('reject');
    expect(t.source.policy).toBe('default');
    expect(t.source.logged).toEqual([expect.objectContaining({ policy: 'trial-block', observation: true })]);
    expect(t.source.reason).toMatch(/; observed by "trial-block" \(would-reject\): observation only logs$/);
  });

  it('two PUs on one host: the packet crosses lo and both sides are that host', async () => {
    const m = await loadHcl({
      'main.hcl': `${TWO_HOSTS}
processing_unit "c" {
  namespace = "/t"
  enforcer  = "h1"
  addresses = ["198.18.1.2"]
  tags      = ["app=c"]
}
network_policy "a-to-c" {
  namespace = "/t"
  subject   = [["app=a"]]
  object    = [["app=c"]]
  ports     = ["tcp/80"]
}
`,
    });
    const t = trace(m, 'a', 'c', 'tcp/80');
    expect(t.packet).toMatchObject({ local: true, iif: 'lo', oif: 'lo' });
    expect([t.source.enforcer, t.destination.enforcer]).toEqual(['h1', 'h1']);
    expect(t.verdict).toBe('allow');
  });

  it('IPv6: a PU with both families is traced over IPv4 unless the port or an address says IPv6', async () => {
    const m = await loadHcl({
      'main.hcl': `${TWO_HOSTS}
external_network "v6net" {
  namespace = "/t"
  entries   = ["2001:db8:ff::/48"]
}
network_policy "b-to-v6" {
  namespace         = "/t"
  subject           = [["app=b"]]
  object            = [["$name=v6net"]]
  apply_policy_mode = "outgoing"
}
`,
    });
    expect(trace(m, 'b', 'a', 'tcp/1').packet.family).toBe(4);
    const t = trace(m, 'b', 'v6net', 'icmp6/128/0');
    expect(t.packet).toMatchObject({ family: 6, src: '2001:db8:2::1', dst: '2001:db8:ff::', protocol: 'icmpv6' });
    expect(t.verdict).toBe('allow');
    expect(t.source.policy).toBe('b-to-v6');
    expect(trace(m, '2001:db8:2::1', 'v6net', 'tcp/1').source.policy).toBe('b-to-v6');
    // a has no IPv6 address
    expect(traceFlow(m.model, m.rulesets, { from: 'a', to: 'v6net', port: 'tcp/1' }).diagnostics[0].code).toBe('MSEG9003');
  });

  it('an excluded network of the enforcer profile is untouched, and the reason says which profile', async () => {
    const m = await loadHcl({
      'main.hcl': `${TWO_HOSTS.replace('enforcer "h2" {', 'enforcer "h2" {\n  profile = "p"')}
enforcer_profile "p" {
  namespace         = "/t"
  excluded_networks = ["198.18.1.0/24"]
}
`,
    });
    const t = trace(m, 'a', 'b', 'tcp/80');
    expect(t.source.policy).toBe('default');
    expect(t.destination).toMatchObject({ verdict: 'untouched', policy: null, reached: false });
    expect(t.destination.reason).toMatch(/198\.18\.1\.1 is in an excluded network of enforcer profile "p"/);
  });

  it('a PU whose enforcer has no ruleset is untouched on its side', async () => {
    const m = await loadHcl({ 'main.hcl': TWO_HOSTS });
    const t = traceFlow(m.model, m.rulesets.filter((r) => r.enforcer !== 'h1'), { from: 'a', to: 'b', port: 'tcp/80' }).trace!;
    expect(t.source).toMatchObject({ verdict: 'untouched', pu: 'a' });
    expect(t.source.reason).toMatch(/enforcer h1 of processing unit a has no ruleset/);
    expect(t.destination.policy).toBe('default');
  });
});
