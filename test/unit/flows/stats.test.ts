/** tallyHost and summarize: joining counters with compiled rules by chain and id (pure). */
import type { DesiredRuleset, Rule } from '../../../src/compile/ir';
import { summarize, tallyHost, type HostCounters } from '../../../src/flows/stats';

const pol = (policy: string) => ({ kind: 'policy' as const, policy, namespace: '/t' });
const rule = (id: string, verdict: Rule['verdict'], origin: Rule['origin']): Rule => ({ id, match: {}, verdict, origin });

const desired: DesiredRuleset = {
  enforcer: 'web',
  sets: [],
  diagnostics: [],
  chains: [
    { name: 'out', hook: 'output', rules: [rule('j', { kind: 'jump', chain: 'pu-web-o-abcdef' }, { kind: 'dispatch', pu: 'web' })] },
    {
      name: 'pu-web-o-abcdef',
      rules: [
        rule('est', { kind: 'accept' }, { kind: 'established' }),
        rule('log', { kind: 'log', group: 42, prefix: 'mseg:1234abcd:A' }, pol('allow-api')),
        rule('acc', { kind: 'accept' }, pol('allow-api')),
        rule('rtcp', { kind: 'reject' }, pol('deny')),
        rule('rall', { kind: 'reject' }, pol('deny')),
        rule('obs', { kind: 'log', group: 42, prefix: 'mseg:5678abcd:OR:i' }, pol('audit')),
        rule('idle', { kind: 'accept' }, pol('idle')),
        rule('gone', { kind: 'accept' }, pol('gone')),
        rule('def', { kind: 'reject' }, { kind: 'default', namespace: '/t', action: 'reject' }),
      ],
    },
    { name: 'pu-web-i-abcdef', rules: [rule('idef', { kind: 'reject' }, { kind: 'default', namespace: '/t', action: 'reject' })] },
  ],
};
const live = {
  chains: [
    { name: 'pu-web-o-abcdef', ruleIds: ['est', 'log', 'acc', 'rtcp', 'rall', 'obs', 'idle', 'def'] },
    { name: 'pu-web-i-abcdef', ruleIds: ['idef'] },
  ],
};
const c = (packets: number) => ({ packets, bytes: packets * 60 });
const counters: HostCounters = new Map([
  ['pu-web-o-abcdef', new Map([['est', c(900)], ['log', c(5)], ['acc', c(5)], ['rtcp', c(2)], ['rall', c(1)], ['obs', c(4)], ['idle', c(0)], ['def', c(7)]])],
  ['pu-web-i-abcdef', new Map([['idef', c(3)]])],
]);

describe('tallyHost', () => {
  it('files each counted rule under its policy and verdict; logs are not counted twice; observation logs are would-be verdicts', () => {
    const t = tallyHost(desired, live, counters);
    const by = (name: string) => t.policies.find((p) => p.name === name);
    expect(by('allow-api')).toMatchObject({ policy: '/t network_policy.allow-api', direction: 'outgoing', allowed: 5, rejected: 0, rules: 2, uncounted: 0 });
    expect(by('deny')).toMatchObject({ allowed: 0, rejected: 3, rules: 2 }); // the TCP-reset twin and the other protocols
    expect(by('audit')).toMatchObject({ allowed: 0, rejected: 0, would_reject: 4, would_allow: 0 });
    expect(by('idle')).toMatchObject({ allowed: 0, rejected: 0, uncounted: 0 });
    expect(by('gone')).toBeUndefined();
    expect(t.missing_rules).toBe(1);
    expect(t.defaults).toEqual([
      { namespace: '/t', direction: 'incoming', action: 'reject', connections: 3, uncounted: 0 },
      { namespace: '/t', direction: 'outgoing', action: 'reject', connections: 7, uncounted: 0 },
    ]);
  });

  it('subtracts a baseline rule by rule; a counter below its baseline was recreated and counts from zero', () => {
    const baseline: HostCounters = new Map([['pu-web-o-abcdef', new Map([['acc', c(2)], ['def', c(50)]])]]);
    const t = tallyHost(desired, live, counters, baseline);
    expect(t.policies.find((p) => p.name === 'allow-api')).toMatchObject({ allowed: 3 });
    expect(t.defaults.find((d) => d.direction === 'outgoing')).toMatchObject({ connections: 7 });
  });

  it('a rule held without a counter is uncounted, not zero', () => {
    const t = tallyHost(desired, live, new Map([['pu-web-o-abcdef', new Map([['acc', c(1)]])]]));
    expect(t.policies.find((p) => p.name === 'allow-api')).toMatchObject({ allowed: 1, uncounted: 1 });
    expect(t.defaults.find((d) => d.direction === 'incoming')).toMatchObject({ connections: 0, uncounted: 1 });
  });
});

describe('summarize', () => {
  it('totals per direction across hosts, names dead policies only when every rule was counted, and policies without rules', () => {
    const web = { enforcer: 'web', backend: 'nftables', ...tallyHost(desired, live, counters) };
    const uncounted = { enforcer: 'api', ...tallyHost(desired, live, new Map()) };
    const down = { enforcer: 'db', error: 'unreachable', policies: [], defaults: [], missing_rules: 0 };
    const r = summarize([web, down], ['/t network_policy.allow-api', '/t network_policy.idle', '/t network_policy.unused'], false);
    expect(r.dead).toEqual(['/t network_policy.idle']);
    expect(r.without_rules).toEqual(['/t network_policy.unused']);
    expect(r.policies.find((p) => p.policy === '/t network_policy.allow-api')).toMatchObject({ outgoing: { allowed: 5 }, incoming: { allowed: 0 }, hosts: 1 });
    // A host whose rules carry no counter cannot prove a policy dead.
    expect(summarize([web, uncounted], [], false).dead).toEqual([]);
  });
});
