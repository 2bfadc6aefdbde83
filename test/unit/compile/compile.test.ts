import fc from 'fast-check';
import { compile, CODES, LOG_GROUP, puChainName } from '../../../src/compile';
import { LOG_LIMIT } from '../../../src/compile/names';
import type { DesiredRuleset, Rule } from '../../../src/compile/ir';
import type { Model } from '../../../src/model/types';
import { checkRuleset } from '../../../providers/fake/firewall';
import { traceConnection, traceHost, type Connection } from '../../../src/trace/tracer';
import { NOW, enforcer, expr, extnet, model, namespace, policy, profile, pu, sps } from './builders';

const WEB = '198.18.1.10';
const WEB6 = '2001:db8:1::10';
const API = '198.18.1.20';
const DB = '198.18.2.10';
const DB6 = '2001:db8:2::10';

const base = {
  enforcers: [enforcer('h1'), enforcer('h2')],
  processingUnits: [
    pu('web', 'h1', [WEB, WEB6], ['app=web', 'env=prod']),
    pu('api', 'h1', [API], ['app=api', 'env=prod']),
    pu('db', 'h2', [DB, DB6], ['app=db', 'env=prod']),
  ],
};

function build(parts: Partial<Omit<Model, 'outputs'>>, now = NOW) {
  const m = model({ ...base, ...parts });
  const res = compile(m, { now });
  const byHost = new Map(res.rulesets.map((r) => [r.enforcer, r]));
  for (const r of res.rulesets) checkRuleset(r); // every compiled ruleset is one the kernel accepts
  const trace = (c: Partial<Connection> & { src: string; dst: string }) =>
    traceConnection(byHost, m, { protocol: 'tcp', dport: 5432, ...c });
  return { m, res, byHost, trace, host: (h: string) => byHost.get(h)! };
}

const chain = (rs: DesiredRuleset, name: string) => rs.chains.find((c) => c.name === name)!;
const policyRules = (rs: DesiredRuleset, name: string): Rule[] =>
  chain(rs, name).rules.filter((r) => r.origin?.kind === 'policy');

describe('layout', () => {
  it('pins chain names', () => {
    expect(puChainName({ namespace: '/', name: 'web' }, 'i')).toBe('pu-web-i-f0a9b0');
    expect(puChainName({ namespace: '/', name: 'web' }, 'o')).toBe('pu-web-o-f0a9b0');
    expect(puChainName({ namespace: '/acme', name: 'web' }, 'i')).not.toBe('pu-web-i-f0a9b0');
    const long = puChainName({ namespace: '/', name: 'My_Very.Long-Service-Name' }, 'o');
    expect(long).toMatch(/^pu-my-very-lon-o-[0-9a-f]{6}$/);
    expect(long.length).toBeLessThanOrEqual(23);
  });

  it('dispatches each local PU address from `in`/`out`, then PU chains sorted', () => {
    const { host } = build({});
    const h1 = host('h1');
    expect(h1.chains.map((c) => [c.name, c.hook])).toEqual([
      ['in', 'input'],
      ['out', 'output'],
      ['pu-api-i-c3bdc4', undefined],
      ['pu-api-o-c3bdc4', undefined],
      ['pu-web-i-f0a9b0', undefined],
      ['pu-web-o-f0a9b0', undefined],
    ]);
    expect(chain(h1, 'in').rules.map((r) => [r.match, r.verdict])).toEqual([
      [{ family: 4, dstAddr: API }, { kind: 'jump', chain: puChainName({ namespace: '/', name: 'api' }, 'i') }],
      [{ family: 4, dstAddr: WEB }, { kind: 'jump', chain: 'pu-web-i-f0a9b0' }],
      [{ family: 6, dstAddr: WEB6 }, { kind: 'jump', chain: 'pu-web-i-f0a9b0' }],
    ]);
    expect(chain(h1, 'out').rules.map((r) => r.match)).toEqual([
      { family: 4, srcAddr: API },
      { family: 4, srcAddr: WEB },
      { family: 6, srcAddr: WEB6 },
    ]);
    expect(chain(h1, 'in').rules[0].origin).toEqual({ kind: 'dispatch', pu: 'api' });
    for (const c of h1.chains) {
      expect(c.name).toMatch(/^[a-z0-9-]{1,23}$/);
      for (const r of c.rules) expect(r.id).toMatch(/^[0-9a-f]{12}$/);
    }
  });

  it('lets IPv6 neighbour discovery through only in chains of PUs that have an IPv6 address', () => {
    const { host } = build({ networkPolicies: [policy('p', expr('app=web'), expr('app=db'))] });
    const kinds = (pu: string, dir: 'i' | 'o') =>
      chain(host('h1'), puChainName({ namespace: '/', name: pu }, dir)).rules.map((r) => r.origin?.kind);
    expect(kinds('web', 'o')).toContain('neighbor-discovery'); // web has an IPv6 address
    expect(kinds('api', 'o')).not.toContain('neighbor-discovery'); // api is IPv4-only
  });

  it('a PU chain is: established, policies, default', () => {
    const { host } = build({ networkPolicies: [policy('p', expr('app=web'), expr('app=db'))] });
    const rules = chain(host('h2'), puChainName({ namespace: '/', name: 'db' }, 'i')).rules;
    expect(rules.map((r) => r.origin?.kind)).toEqual(['established', 'neighbor-discovery', 'neighbor-discovery', 'policy', 'policy', 'default', 'default']);
    expect(rules[0]).toMatchObject({ match: { ctState: ['established', 'related'] }, verdict: { kind: 'accept' } });
    expect(rules[1]).toMatchObject({ match: { family: 6, protocol: 'icmpv6', icmpType: 135 }, verdict: { kind: 'accept' } });
    expect(rules[2]).toMatchObject({ match: { family: 6, protocol: 'icmpv6', icmpType: 136 }, verdict: { kind: 'accept' } });
    // The default reject comes twice: TCP first (rendered as a RST), then every protocol (ICMP unreachable).
    expect(rules[5]).toMatchObject({ match: { protocol: 'tcp' }, verdict: { kind: 'reject' }, origin: { kind: 'default', namespace: '/', action: 'reject' } });
    expect(rules[6]).toMatchObject({ match: {}, verdict: { kind: 'reject' }, origin: { kind: 'default', namespace: '/', action: 'reject' } });
    expect(rules[6].match.protocol).toBeUndefined();
  });

  it('an enforcer without PUs gets an empty ruleset', () => {
    const { host } = build({ enforcers: [enforcer('h1'), enforcer('h2'), enforcer('idle')] });
    expect(host('idle')).toEqual({ enforcer: 'idle', sets: [], chains: [], diagnostics: [] });
  });

  it('is deterministic and independent of input order', () => {
    const pols = [
      policy('a', expr('app=web'), expr('app=db'), { ports: sps('tcp/5432') }),
      policy('b', expr('app=api'), expr('app=db'), { action: 'reject' }),
      policy('c', expr('app=web'), expr('$name=internet')),
    ];
    const nets = [extnet('internet', ['0.0.0.0/0', '::/0']), extnet('dns', ['8.8.8.8/32'], ['udp/53'])];
    const one = compile(model({ ...base, networkPolicies: pols, externalNetworks: nets }), { now: NOW });
    const m2 = model({ ...base, networkPolicies: [...pols].reverse(), externalNetworks: [...nets].reverse() });
    m2.processingUnits.reverse();
    m2.networkPolicies.reverse();
    expect(compile(m2, { now: NOW })).toEqual(one);
    expect(JSON.stringify(compile(model({ ...base, networkPolicies: pols, externalNetworks: nets }), { now: NOW }))).toBe(JSON.stringify(one));
  });
});

describe('policy evaluation', () => {
  it('default namespace action rejects; discovery mode (allow) accepts', () => {
    let t = build({}).trace({ src: WEB, dst: DB });
    expect(t.verdict).toBe('reject');
    expect(t.source?.trace.origin).toEqual({ kind: 'default', namespace: '/', action: 'reject' });
    t = build({ namespaces: [namespace('/', { defaultOutgoingAction: 'allow', defaultIncomingAction: 'allow' })] }).trace({ src: WEB, dst: DB });
    expect(t.verdict).toBe('accept');
    expect(t.destination?.trace.origin).toEqual({ kind: 'default', namespace: '/', action: 'allow' });
  });

  it('allow on both ends (bidirectional) lets the connection through', () => {
    const { trace } = build({ networkPolicies: [policy('web-db', expr('app=web'), expr('app=db'), { ports: sps('tcp/5432') })] });
    const t = trace({ src: WEB, dst: DB });
    expect(t.verdict).toBe('accept');
    expect(t.source?.trace.origin).toEqual({ kind: 'policy', policy: 'web-db', namespace: '/' });
    expect(t.destination?.trace.origin).toEqual({ kind: 'policy', policy: 'web-db', namespace: '/' });
    expect(trace({ src: WEB6, dst: DB6 }).verdict).toBe('accept');
    expect(trace({ src: WEB, dst: DB, dport: 5433 }).verdict).toBe('reject');
    expect(trace({ src: DB, dst: WEB }).verdict).toBe('reject'); // policies are directional
    expect(trace({ src: API, dst: DB }).verdict).toBe('reject');
  });

  it('reject beats allow regardless of names', () => {
    const { trace, host } = build({
      networkPolicies: [
        policy('a-allow', expr('env=prod'), expr('app=db')),
        policy('z-reject', expr('app=web'), expr('app=db'), { action: 'reject', applyPolicyMode: 'incoming' }),
      ],
    });
    const t = trace({ src: WEB, dst: DB });
    expect(t.verdict).toBe('reject');
    expect(t.destination?.trace.origin).toEqual({ kind: 'policy', policy: 'z-reject', namespace: '/' });
    expect(trace({ src: API, dst: DB }).verdict).toBe('accept');
    const kinds = policyRules(host('h2'), puChainName({ namespace: '/', name: 'db' }, 'i')).map((r) => r.verdict.kind);
    // Per family: a TCP twin (a RST for TCP) ahead of the any-protocol reject, then the allow.
    expect(kinds).toEqual(['reject', 'reject', 'reject', 'reject', 'accept', 'accept']);
  });

  it('fallback applies only where no non-fallback verdict matched; continue does not stop it', () => {
    const pols = [
      policy('fb-reject', expr('env=prod'), expr('app=db'), { action: 'reject', fallback: true }),
      policy('allow-web', expr('app=web'), expr('app=db')),
      policy('cont-api', expr('app=api'), expr('app=db'), { action: 'continue', logsEnabled: true }),
      policy('fb-allow-all', expr('$identity=processingunit'), expr('$identity=processingunit'), { fallback: true }),
    ];
    const { trace, host } = build({ networkPolicies: pols });
    expect(trace({ src: WEB, dst: DB }).verdict).toBe('accept'); // non-fallback allow wins over fallback reject
    const t = trace({ src: API, dst: DB });
    expect(t.verdict).toBe('reject'); // continue carries no verdict → fallback reject decides
    expect(t.source?.trace.origin).toEqual({ kind: 'policy', policy: 'fb-reject', namespace: '/' });
    expect(t.source?.trace.logged.map((r) => (r.verdict as { prefix: string }).prefix)).toEqual([
      expect.stringMatching(/^mseg:[0-9a-f]{8}:C:o$/),
    ]);
    expect(trace({ src: DB, dst: WEB }).verdict).toBe('accept'); // only fallback allow matches
    const rules = chain(host('h2'), puChainName({ namespace: '/', name: 'db' }, 'i')).rules;
    const order = rules.map((r) => (r.origin?.kind === 'policy' ? `${r.origin.policy}:${r.verdict.kind}` : r.origin?.kind));
    expect(order).toEqual([
      'established',
      'neighbor-discovery',
      'neighbor-discovery',
      'cont-api:log',
      'allow-web:accept',
      'allow-web:accept',
      'fb-reject:reject',
      'fb-reject:reject',
      'fb-reject:reject',
      'fb-reject:reject',
      'fb-allow-all:accept',
      'fb-allow-all:accept',
      'default',
      'default',
    ]);
  });

  it('observation only logs, with an O prefix, after real verdicts', () => {
    const { trace, host } = build({
      networkPolicies: [
        policy('obs', expr('app=web'), expr('app=db'), { observationEnabled: true, action: 'allow' }),
        policy('obs-r', expr('app=api'), expr('app=db'), { observationEnabled: true, action: 'reject', logsEnabled: true }),
      ],
    });
    const t = trace({ src: WEB, dst: DB });
    expect(t.verdict).toBe('reject');
    expect(t.source?.trace.origin?.kind).toBe('default');
    expect(t.source?.trace.logged).toHaveLength(1);
    expect(t.source?.trace.logged[0].verdict).toEqual({ kind: 'log', group: LOG_GROUP, prefix: expect.stringMatching(/^mseg:[0-9a-f]{8}:OA:o$/), limit: LOG_LIMIT });
    const rules = policyRules(host('h2'), puChainName({ namespace: '/', name: 'db' }, 'i'));
    expect(rules.every((r) => r.verdict.kind === 'log')).toBe(true);
  });

  it('an observation policy logs where its verdict would decide: observed rejects before every verdict, observed allows after the rejects', () => {
    const { host } = build({
      networkPolicies: [
        policy('allow', expr('app=web'), expr('app=db'), { ports: sps('tcp/5432') }),
        policy('block', expr('app=web'), expr('app=db'), { action: 'reject', ports: sps('tcp/22') }),
        policy('obs-a', expr('app=web'), expr('app=db'), { observationEnabled: true, action: 'allow' }),
        policy('obs-r', expr('app=web'), expr('app=db'), { observationEnabled: true, action: 'reject' }),
      ],
    });
    const rules = policyRules(host('h2'), puChainName({ namespace: '/', name: 'db' }, 'i'));
    const order = rules.map((r) => (r.verdict.kind === 'log' ? r.verdict.prefix.split(':')[2] : r.verdict.kind));
    expect(new Set(order)).toEqual(new Set(['OR', 'reject', 'OA', 'accept']));
    const first = (t: string) => order.indexOf(t);
    expect(first('OR')).toBeLessThan(first('reject'));
    expect(order.lastIndexOf('OR')).toBeLessThan(first('reject'));
    expect(order.lastIndexOf('reject')).toBeLessThan(first('OA'));
    expect(order.lastIndexOf('OA')).toBeLessThan(first('accept'));
  });

  it('logs_enabled puts a log rule with the same match right before the verdict', () => {
    const { host, trace } = build({ networkPolicies: [policy('web-db', expr('app=web'), expr('app=db'), { logsEnabled: true, ports: sps('tcp/5432') })] });
    const rules = policyRules(host('h2'), puChainName({ namespace: '/', name: 'db' }, 'i'));
    expect(rules.map((r) => r.verdict.kind)).toEqual(['log', 'accept', 'log', 'accept']);
    expect(rules[0].match).toEqual(rules[1].match);
    const prefix = (rules[0].verdict as { prefix: string }).prefix;
    expect(prefix).toMatch(/^mseg:[0-9a-f]{8}:A:i$/);
    expect(prefix.length).toBeLessThanOrEqual(29);
    const t = trace({ src: WEB, dst: DB });
    expect(t.destination?.trace.logged).toEqual([rules[0]]);
  });

  it('disabled, expired and out-of-schedule policies do nothing', () => {
    const allow = (name: string, o: object) => policy(name, expr('app=web'), expr('app=db'), o);
    const cases: Array<[object, boolean]> = [
      [{}, true],
      [{ disabled: true }, false],
      [{ expirationTime: '2025-01-15T12:00:00Z' }, false], // expiry ≤ now
      [{ expirationTime: '2025-01-15T12:00:01Z' }, true],
      [{ activeSchedule: '0 11 * * *', activeDuration: '1h' }, false], // 11:00–12:00 excludes 12:00
      [{ activeSchedule: '1 11 * * *', activeDuration: '1h' }, true],
      [{ activeSchedule: '0 12 * * *', activeDuration: '1m' }, true], // t ≤ now
      [{ activeSchedule: '0 12 * * *' }, true], // no duration: the tick's minute
      [{ activeSchedule: '0 9 * * *', activeDuration: '8h' }, true],
      [{ activeSchedule: '0 9 * * 1,2,4,5', activeDuration: '8h' }, false], // not on Wednesdays
      [{ activeSchedule: '0 12 * * *', activeDuration: '30m', timezone: 'Europe/Paris' }, false], // 12:00 Paris = 11:00Z
      [{ activeSchedule: '0 13 * * *', activeDuration: '30m', timezone: 'Europe/Paris' }, true],
    ];
    for (const [o, active] of cases) {
      const { trace } = build({ networkPolicies: [allow('p', o)] });
      expect([o, trace({ src: WEB, dst: DB }).verdict]).toEqual([o, active ? 'accept' : 'reject']);
    }
  });

  it('reports unusable time fields', () => {
    const codes = (o: object) =>
      build({ networkPolicies: [policy('p', expr('app=web'), expr('app=db'), o)] }).res.diagnostics.map((d) => [d.severity, d.code]);
    expect(codes({ activeSchedule: '0 12 * * *' })).toEqual([['warning', CODES.SCHEDULE_WITHOUT_DURATION]]);
    expect(codes({ activeSchedule: 'not cron', activeDuration: '1h' })).toEqual([['error', CODES.BAD_SCHEDULE]]);
    expect(codes({ activeSchedule: '0 12 * * *', activeDuration: '1h', timezone: 'Mars/Olympus' })).toEqual([['error', CODES.BAD_SCHEDULE]]);
    expect(codes({ activeSchedule: '0 12 * * *', activeDuration: 'soon' })).toEqual([['error', CODES.BAD_TIME]]);
    expect(codes({ expirationTime: 'tomorrow' })).toEqual([['error', CODES.BAD_TIME]]);
  });
});

describe('direction, negation, scope', () => {
  const dbIn = puChainName({ namespace: '/', name: 'db' }, 'i');
  const webOut = puChainName({ namespace: '/', name: 'web' }, 'o');

  it('incoming is enforced on the object host only, outgoing on the subject host only', () => {
    let b = build({ networkPolicies: [policy('p', expr('app=web'), expr('app=db'), { applyPolicyMode: 'incoming' })] });
    expect(policyRules(b.host('h2'), dbIn)).toHaveLength(2);
    expect(policyRules(b.host('h1'), webOut)).toHaveLength(0);
    expect(policyRules(b.host('h2'), dbIn)[0].match.srcSet).toBeDefined();
    let t = b.trace({ src: WEB, dst: DB });
    expect([t.source?.trace.verdict, t.destination?.trace.verdict]).toEqual(['reject', undefined]);

    b = build({ networkPolicies: [policy('p', expr('app=web'), expr('app=db'), { applyPolicyMode: 'outgoing' })] });
    expect(policyRules(b.host('h2'), dbIn)).toHaveLength(0);
    expect(policyRules(b.host('h1'), webOut).map((r) => r.match.dstSet !== undefined)).toEqual([true, true]);
    t = b.trace({ src: WEB, dst: DB });
    expect([t.source?.trace.verdict, t.destination?.trace.verdict]).toEqual(['accept', 'reject']);
  });

  it('PUs on the same host are enforced on egress and ingress', () => {
    const b = build({ networkPolicies: [policy('p', expr('app=web'), expr('app=api'), { applyPolicyMode: 'outgoing' })] });
    const t = b.trace({ src: WEB, dst: API, dport: 80 });
    expect(t.source?.enforcer).toBe('h1');
    expect(t.destination?.enforcer).toBe('h1');
    expect([t.source?.trace.verdict, t.destination?.trace.verdict]).toEqual(['accept', 'reject']);
  });

  it('traffic of addresses of no PU, and loopback, is untouched', () => {
    const h1 = build({}).host('h1');
    const pkt = { protocol: 'tcp', dport: 22 };
    expect(traceHost(h1, { ...pkt, src: '198.19.0.1', dst: '198.18.1.99' }, 'input').verdict).toBe('untouched');
    expect(traceHost(h1, { ...pkt, src: '127.0.0.1', dst: '127.0.0.1' }, 'input').verdict).toBe('untouched');
    expect(traceHost(h1, { ...pkt, src: '::1', dst: '::1' }, 'output').verdict).toBe('untouched');
    expect(traceHost(h1, { ...pkt, src: '198.19.0.1', dst: WEB }, 'input').verdict).toBe('reject');
  });

  it('a loopback PU address is never dispatched, with a warning', () => {
    const b = build({ processingUnits: [pu('odd', 'h1', ['127.0.0.5', '198.18.1.5'])] });
    expect(chain(b.host('h1'), 'in').rules.map((r) => r.match.dstAddr)).toEqual(['198.18.1.5']);
    expect(b.res.diagnostics.map((d) => d.code)).toEqual([CODES.LOOPBACK_PU_ADDRESS]);
  });

  it('two PUs sharing an address on a host is an error', () => {
    const b = build({ processingUnits: [pu('a', 'h1', ['198.18.1.5']), pu('b', 'h1', ['198.18.1.5'])] });
    expect(b.res.diagnostics.map((d) => [d.severity, d.code])).toEqual([['error', CODES.DUPLICATE_PU_ADDRESS]]);
  });

  it('negate_object: the local side is unchanged, the peer set match is negated', () => {
    const b = build({ networkPolicies: [policy('p', expr('app=web'), expr('app=db'), { negateObject: true, applyPolicyMode: 'outgoing' })] });
    const rules = policyRules(b.host('h1'), webOut);
    expect(rules.map((r) => r.match.dstSet?.negate)).toEqual([true, true]);
    expect(b.trace({ src: WEB, dst: DB }).source?.trace.verdict).toBe('reject');
    expect(b.trace({ src: WEB, dst: API }).source?.trace.verdict).toBe('accept');
    expect(b.trace({ src: WEB, dst: '8.8.8.8' }).source?.trace.verdict).toBe('accept');
    expect(b.trace({ src: API, dst: '8.8.8.8' }).source?.trace.verdict).toBe('reject');
  });

  it('negate_subject: PUs NOT matching the subject get the egress rule', () => {
    const b = build({ networkPolicies: [policy('p', expr('app=web'), expr('app=db'), { negateSubject: true })] });
    expect(b.trace({ src: API, dst: DB }).verdict).toBe('accept');
    expect(b.trace({ src: WEB, dst: DB }).verdict).toBe('reject');
    expect(policyRules(b.host('h1'), webOut)).toHaveLength(0);
    expect(policyRules(b.host('h2'), dbIn).map((r) => r.match.srcSet?.negate)).toEqual([true, true]);
  });

  it('negating a side that matches nothing matches everything (an empty set, negated)', () => {
    const b = build({ networkPolicies: [policy('p', expr('app=web'), expr('app=nothing'), { negateObject: true, applyPolicyMode: 'outgoing' })] });
    const sets = b.host('h1').sets;
    expect(sets.map((s) => [s.family, s.elements])).toEqual([
      [4, []],
      [6, []],
    ]);
    expect(b.trace({ src: WEB, dst: DB }).source?.trace.verdict).toBe('accept');
  });

  it('a policy sees its namespace, and descendants only with propagate', () => {
    const ns = { namespace: '/acme' };
    const pus = [
      pu('web', 'h1', [WEB], ['app=web'], { namespace: '/acme/prod' }),
      pu('db', 'h2', [DB], ['app=db'], { namespace: '/acme/prod' }),
      pu('other', 'h2', ['198.18.2.20'], ['app=db'], { namespace: '/acmex' }),
    ];
    let b = build({ processingUnits: pus, networkPolicies: [policy('p', expr('app=web'), expr('app=db'), ns)] });
    expect(b.trace({ src: WEB, dst: DB }).verdict).toBe('reject');
    b = build({ processingUnits: pus, networkPolicies: [policy('p', expr('app=web'), expr('app=db'), { ...ns, propagate: true })] });
    expect(b.trace({ src: WEB, dst: DB }).verdict).toBe('accept');
    expect(b.trace({ src: WEB, dst: '198.18.2.20' }).verdict).toBe('reject'); // /acmex is not below /acme
    b = build({ processingUnits: pus, networkPolicies: [policy('p', expr('app=web'), expr('app=db'), { namespace: '/', propagate: true })] });
    expect(b.trace({ src: WEB, dst: '198.18.2.20' }).verdict).toBe('accept');
  });

  it('the namespace default of the PU namespace applies', () => {
    const pus = [pu('web', 'h1', [WEB], ['app=web'], { namespace: '/dev' }), pu('db', 'h2', [DB], ['app=db'], { namespace: '/prod' })];
    const b = build({ processingUnits: pus, namespaces: [namespace('/dev', { defaultOutgoingAction: 'allow' }), namespace('/prod')] });
    const t = b.trace({ src: WEB, dst: DB });
    expect([t.source?.trace.verdict, t.destination?.trace.verdict]).toEqual(['accept', 'reject']);
  });
});

describe('peers and sets', () => {
  it('dedupes sets across policies and PUs, with bounded deterministic names', () => {
    const b = build({
      networkPolicies: [
        policy('p1', expr('app=db'), expr('env=prod'), { applyPolicyMode: 'incoming' }),
        policy('p2', expr('app=db'), expr('app=web'), { applyPolicyMode: 'incoming', ports: sps('tcp/80') }),
        policy('p3', expr('$name=db'), expr('app=api'), { applyPolicyMode: 'incoming' }),
      ],
    });
    const h1 = b.host('h1');
    expect(h1.sets).toEqual([
      expect.objectContaining({ family: 4, elements: [`${DB}/32`] }),
      expect.objectContaining({ family: 6, elements: [`${DB6}/128`] }),
    ]);
    for (const s of h1.sets) {
      expect(s.name).toMatch(/^p-[0-9a-f]{10}-[46]$/);
      expect(s.comment).toContain('peers matching');
    }
    expect(h1.sets.map((s) => s.name)).toEqual([...h1.sets.map((s) => s.name)].sort());
  });

  it('external network entries are exact (longest prefix match, ! exclusions)', () => {
    const b = build({
      externalNetworks: [extnet('internet', ['0.0.0.0/0', '!10.0.0.0/8', '10.1.0.0/16'])],
      networkPolicies: [policy('out', expr('app=web'), expr('$name=internet'), { applyPolicyMode: 'outgoing' })],
    });
    const set = b.host('h1').sets.find((s) => s.family === 4)!;
    expect(set.elements).toContain('10.1.0.0/16');
    expect(set.elements).toContain('128.0.0.0/1');
    expect(set.comment).toBe('peers matching $name=internet in /');
    const src = (dst: string) => b.trace({ src: WEB, dst }).source?.trace.verdict;
    expect(src('10.1.2.3')).toBe('accept');
    expect(src('10.2.3.4')).toBe('reject');
    expect(src('8.8.8.8')).toBe('accept');
    expect(src('255.255.255.255')).toBe('accept');
  });

  it('effective ports toward an extnet are policy ports ∩ service_ports, grouped by spec', () => {
    const b = build({
      externalNetworks: [
        extnet('dns-a', ['203.0.113.53/32'], ['udp/53', 'tcp/53'], ['role=dns']),
        extnet('dns-b', ['203.0.113.54/32'], ['udp/53', 'tcp/53'], ['role=dns']),
        extnet('web-only', ['203.0.113.80/32'], ['tcp/80'], ['role=dns']),
        extnet('anything', ['203.0.113.99/32'], [], ['role=dns']),
        extnet('ntp', ['203.0.113.123/32'], ['udp/123'], ['role=dns']),
      ],
      networkPolicies: [policy('p', expr('app=web'), expr('role=dns'), { applyPolicyMode: 'outgoing', ports: sps('udp/53', 'tcp/50:60', 'tcp/80') })],
    });
    const rules = policyRules(b.host('h1'), puChainName({ namespace: '/', name: 'web' }, 'o'));
    // one group per distinct effective spec: policy spec (anything), tcp/53+udp/53 (dns-a, dns-b), tcp/80 (web-only)
    expect(rules.map((r) => [r.match.protocol, r.match.dports])).toEqual([
      ['tcp', [{ from: 50, to: 60 }, { from: 80, to: 80 }]],
      ['udp', [{ from: 53, to: 53 }]],
      ['tcp', [{ from: 53, to: 53 }]],
      ['udp', [{ from: 53, to: 53 }]],
      ['tcp', [{ from: 80, to: 80 }]],
    ]);
    const src = (dst: string, protocol: string, dport: number) => b.trace({ src: WEB, dst, protocol, dport }).source?.trace.verdict;
    expect(src('203.0.113.53', 'udp', 53)).toBe('accept');
    expect(src('203.0.113.54', 'tcp', 53)).toBe('accept');
    expect(src('203.0.113.53', 'tcp', 55)).toBe('reject');
    expect(src('203.0.113.80', 'tcp', 80)).toBe('accept');
    expect(src('203.0.113.80', 'udp', 53)).toBe('reject');
    expect(src('203.0.113.99', 'tcp', 55)).toBe('accept');
    expect(src('203.0.113.123', 'udp', 123)).toBe('reject');
    expect(b.res.diagnostics).toEqual([
      expect.objectContaining({ severity: 'warning', code: CODES.INEFFECTIVE_PORTS, summary: 'network_policy.p has no effect toward external_network.ntp' }),
    ]);
  });

  it('icmp type and code lists are kept exactly, per family', () => {
    const b = build({
      externalNetworks: [extnet('net', ['203.0.113.0/24', '2001:db8:ff::/48'])],
      networkPolicies: [policy('p', expr('app=web'), expr('$name=net'), { applyPolicyMode: 'outgoing', ports: sps('icmp/3/0:4,13', 'icmp/8', 'icmp6/128/0') })],
    });
    const rules = policyRules(b.host('h1'), puChainName({ namespace: '/', name: 'web' }, 'o'));
    expect(rules.map((r) => [r.match.family, r.match.protocol, r.match.icmpType, r.match.icmpCodes])).toEqual([
      [4, 'icmp', 3, [{ from: 0, to: 4 }, { from: 13, to: 13 }]],
      [4, 'icmp', 8, undefined],
      [6, 'icmpv6', 128, [{ from: 0, to: 0 }]],
    ]);
    const icmp = (dst: string, protocol: string, icmpType: number, icmpCode: number) =>
      b.trace({ src: dst.includes(':') ? WEB6 : WEB, dst, protocol, icmpType, icmpCode, dport: undefined }).source?.trace.verdict;
    expect(icmp('203.0.113.1', 'icmp', 3, 4)).toBe('accept');
    expect(icmp('203.0.113.1', 'icmp', 3, 5)).toBe('reject');
    expect(icmp('203.0.113.1', 'icmp', 3, 13)).toBe('accept');
    expect(icmp('203.0.113.1', 'icmp', 8, 99)).toBe('accept');
    expect(icmp('203.0.113.1', 'icmp', 0, 0)).toBe('reject');
    expect(icmp('2001:db8:ff::1', 'icmpv6', 128, 0)).toBe('accept');
    expect(icmp('2001:db8:ff::1', 'icmpv6', 128, 1)).toBe('reject');
    expect(icmp('2001:db8:ff::1', 'icmpv6', 3, 0)).toBe('reject');
  });

  it('tcp ranges merge and boundaries are inclusive; protocol-only entries match the protocol', () => {
    const b = build({
      networkPolicies: [policy('p', expr('app=web'), expr('app=db'), { ports: sps('tcp/8000:8100', 'tcp/8101', 'tcp/8050:8200', 'gre') })],
    });
    const rules = policyRules(b.host('h2'), puChainName({ namespace: '/', name: 'db' }, 'i')).filter((r) => r.match.family === 4);
    expect(rules.map((r) => [r.match.protocol, r.match.dports])).toEqual([
      ['tcp', [{ from: 8000, to: 8200 }]],
      ['gre', undefined],
    ]);
    const v = (dport: number) => b.trace({ src: WEB, dst: DB, dport }).verdict;
    expect([v(7999), v(8000), v(8200), v(8201)]).toEqual(['reject', 'accept', 'accept', 'reject']);
    expect(b.trace({ src: WEB, dst: DB, protocol: 'gre', dport: undefined }).verdict).toBe('accept');
    expect(b.trace({ src: WEB, dst: DB, protocol: 'udp', dport: 8000 }).verdict).toBe('reject');
  });

  it('an enforcer older than 3.12 needing service_ports is an error naming enforcer, policy and network', () => {
    const b = build({
      enforcers: [enforcer('h1', { version: '3.11.2' }), enforcer('h2', { version: '3.11' })],
      externalNetworks: [extnet('dns', ['203.0.113.53/32'], ['udp/53']), extnet('plain', ['203.0.113.0/28'])],
      networkPolicies: [
        policy('to-dns', expr('app=web'), expr('$name=dns'), { applyPolicyMode: 'outgoing' }),
        policy('to-plain', expr('app=web'), expr('$name=plain'), { applyPolicyMode: 'outgoing' }),
      ],
    });
    expect(b.res.diagnostics).toEqual([
      expect.objectContaining({
        severity: 'error',
        code: CODES.OLD_ENFORCER_SERVICE_PORTS,
        summary: 'Enforcer h1 (version 3.11.2) cannot enforce network_policy.to-dns toward external_network.dns, which uses service_ports',
      }),
    ]);
    expect(b.host('h1').diagnostics).toHaveLength(1);
    expect(b.host('h2').diagnostics).toHaveLength(0);
  });

  it('excluded networks are untouched, failsafe ports accepted, excluded interfaces returned', () => {
    const b = build({
      enforcers: [enforcer('h1', { profile: 'safe' }), enforcer('h2', { profile: 'safe' })],
      enforcerProfiles: [profile('safe', { excludedNetworks: [
        { cidr: '10.0.0.0/8', family: 4, exclude: false, text: '10.0.0.0/8' },
        { cidr: '10.9.0.0/16', family: 4, exclude: true, text: '!10.9.0.0/16' },
      ], failsafe: sps('tcp/22'), excludedInterfaces: ['eth9'] })],
    });
    const h1 = b.host('h1');
    const rules = chain(h1, puChainName({ namespace: '/', name: 'web' }, 'i')).rules;
    expect(rules.map((r) => r.origin?.kind)).toEqual(['established', 'neighbor-discovery', 'neighbor-discovery', 'excluded-network', 'excluded-interface', 'failsafe', 'default', 'default']);
    expect(h1.sets.map((s) => s.name)).toEqual([expect.stringMatching(/^x-[0-9a-f]{10}-4$/)]);
    const tr = (src: string, dport: number, iif?: string) => traceHost(h1, { src, dst: WEB, protocol: 'tcp', dport, iif }, 'input').verdict;
    expect(tr('10.1.1.1', 80)).toBe('untouched');
    expect(tr('10.9.1.1', 80)).toBe('reject');
    expect(tr('198.19.0.1', 22)).toBe('accept');
    expect(tr('198.19.0.1', 80, 'eth9')).toBe('untouched');
    expect(traceHost(h1, { src: WEB, dst: '10.1.1.1', protocol: 'tcp', dport: 80 }, 'output').verdict).toBe('untouched');
  });

  it('established and related traffic is accepted before any policy', () => {
    const h2 = build({ networkPolicies: [policy('r', expr('app=web'), expr('app=db'), { action: 'reject' })] }).host('h2');
    expect(traceHost(h2, { src: WEB, dst: DB, protocol: 'tcp', dport: 5432, ctState: 'established' }, 'input').verdict).toBe('accept');
    expect(traceHost(h2, { src: WEB, dst: DB, protocol: 'tcp', dport: 5432 }, 'input').origin?.kind).toBe('policy');
  });
});

describe('scale', () => {
  it('rules per PU grow with distinct port specs, not with peers', () => {
    const clients = Array.from({ length: 300 }, (_, i) => pu(`c${i}`, `h${3 + (i % 10)}`, [`198.19.${i >> 8}.${i & 0xff}`], ['app=client']));
    const b = build({
      enforcers: [enforcer('h1'), enforcer('h2'), ...Array.from({ length: 10 }, (_, i) => enforcer(`h${3 + i}`))],
      processingUnits: [...base.processingUnits, ...clients],
      externalNetworks: Array.from({ length: 50 }, (_, i) => extnet(`n${i}`, [`203.0.${i}.0/24`], ['tcp/443'], ['app=client'])),
      networkPolicies: [policy('clients-db', expr('app=client'), expr('app=db'), { ports: sps('tcp/5432') })],
    });
    const rules = policyRules(b.host('h2'), puChainName({ namespace: '/', name: 'db' }, 'i'));
    expect(rules).toHaveLength(1); // one v4 set of 300 PUs + 50 networks; no v6 peers
    expect(b.host('h2').sets[0].elements.length).toBeLessThan(350);
    expect(b.trace({ src: '198.19.1.20', dst: DB }).verdict).toBe('accept');
  });
});

describe('properties', () => {
  const tags = fc.constantFrom('app=web', 'app=db', 'env=prod', 'env=dev', 'role=x');
  const termText = fc.constantFrom('app=web', 'app=db', 'env=prod', 'env!=prod', 'app=*', 'role!=*', 'app=d*');
  const arbModel = fc.record({
    pus: fc.array(fc.tuple(fc.constantFrom('h1', 'h2', 'h3'), fc.uniqueArray(tags, { maxLength: 3 })), { maxLength: 6 }),
    pols: fc.array(
      fc.record({
        s: fc.array(termText, { minLength: 1, maxLength: 2 }),
        o: fc.array(termText, { minLength: 1, maxLength: 2 }),
        action: fc.constantFrom('allow' as const, 'reject' as const, 'continue' as const),
        mode: fc.constantFrom('incoming' as const, 'outgoing' as const, 'bidirectional' as const),
        ports: fc.subarray(['tcp/80', 'tcp/81:90', 'udp/53', 'icmp/8', 'icmp6/128/0', 'gre']),
        flags: fc.record({ logsEnabled: fc.boolean(), observationEnabled: fc.boolean(), fallback: fc.boolean(), negateSubject: fc.boolean(), negateObject: fc.boolean() }),
      }),
      { maxLength: 5 },
    ),
  });
  it('compile never throws, output is kernel-acceptable and reject-by-default holds without allow policies', () => {
    fc.assert(
      fc.property(arbModel, ({ pus, pols }) => {
        const m = model({
          enforcers: [enforcer('h1'), enforcer('h2'), enforcer('h3', { version: '3.0.0' })],
          processingUnits: pus.map(([h, t], i) => pu(`pu${i}`, h, [`198.18.${i}.1`, `2001:db8:${i}::1`], t)),
          externalNetworks: [extnet('net', ['0.0.0.0/0', '!198.18.0.0/15'], ['tcp/80', 'udp/53'], ['app=web'])],
          networkPolicies: pols.map((p, i) =>
            policy(`p${i}`, [p.s.map((t) => expr(t)[0][0])], [p.o.map((t) => expr(t)[0][0])], { action: p.action, applyPolicyMode: p.mode, ports: sps(...p.ports), ...p.flags }),
          ),
        });
        const res = compile(m, { now: NOW });
        for (const r of res.rulesets) {
          checkRuleset(r);
          for (const c of r.chains) expect(c.name.length).toBeLessThanOrEqual(23);
          for (const s of r.sets) expect(s.name.length).toBeLessThanOrEqual(23);
        }
        expect(compile(m, { now: NOW })).toEqual(res);
        if (!pols.some((p) => p.action === 'allow' && !p.flags.observationEnabled) && pus.length >= 2) {
          const byHost = new Map(res.rulesets.map((r) => [r.enforcer, r]));
          const t = traceConnection(byHost, m, { src: '198.18.0.1', dst: '198.18.1.1', protocol: 'tcp', dport: 80 });
          expect(t.allowed).toBe(false);
        }
      }),
      { numRuns: 150 },
    );
  });
});
