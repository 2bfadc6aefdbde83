/** Flow records: ulogd JSON lines resolved to identities and policies; losses counted (pure). */
import { defaultHash, policyHash, LOG_LIMIT } from '../../../src/compile/names';
import type { DesiredRuleset } from '../../../src/compile/ir';
import type { FlowIndex } from '../../../src/flows/records';
import { flowLine, identityOf, lostBySequence, parseRecord } from '../../../src/flows/records';
import { rateLimited } from '../../../src/flows/flows';

const ix: FlowIndex = {
  policies: new Map([[policyHash({ namespace: '/t', name: 'web-api' }), '/t network_policy.web-api']]),
  defaults: new Map([[defaultHash('/t'), 'default of namespace /t']]),
  pus: new Map([['198.18.0.11', 'web'], ['198.18.0.12', 'api']]),
  nets: [
    { name: 'office', v4: ['198.51.100.0/25'], v6: [], prefix: 25 },
    { name: 'internet', v4: ['0.0.0.0/1', '128.0.0.0/1'], v6: [], prefix: 1 },
  ],
};
const line = (prefix: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ timestamp: '2026-12-06T01:50:17.433754', 'oob.prefix': prefix, src_ip: '198.18.0.11', dest_ip: '198.18.0.12', 'ip.protocol': 6, dest_port: 8000, 'oob.seq.local': 7, ...extra });

describe('parseRecord', () => {
  it('resolves the policy, verdict, direction and identities of a record', () => {
    const r = parseRecord(ix, 'web-1', line(`mseg:${policyHash({ namespace: '/t', name: 'web-api' })}:A:o`));
    expect(r).toEqual({
      time: '2026-12-06T01:50:17.433754', enforcer: 'web-1', direction: 'outgoing', src: '198.18.0.11', src_identity: 'web', dst: '198.18.0.12', dst_identity: 'api',
      protocol: 'tcp', port: 8000, verdict: 'allow', policy: '/t network_policy.web-api', default: false, seq: 7,
    });
    expect(flowLine(r!)).toBe('2026-12-06T01:50:17.433754 198.18.0.11(web) → 198.18.0.12(api) tcp/8000 allow /t network_policy.web-api [web-1 outgoing]');
  });

  it('reads defaults and audit tags, and keeps unknown hashes visible rather than guessing', () => {
    expect(parseRecord(ix, 'h', line(`mseg:${defaultHash('/t')}:ODR:i`))).toMatchObject({ verdict: 'would-reject', policy: 'default of namespace /t', default: true, direction: 'incoming' });
    expect(parseRecord(ix, 'h', line(`mseg:${defaultHash('/t')}:DR:o`))).toMatchObject({ verdict: 'reject', default: true });
    expect(parseRecord(ix, 'h', line('mseg:00000000:OR:o'))).toMatchObject({ verdict: 'would-reject', policy: 'unknown policy 00000000' });
    expect(parseRecord(ix, 'h', line('someone-else'))).toBeUndefined();
    expect(parseRecord(ix, 'h', 'not json')).toBeUndefined();
  });

  it('names external networks by the most specific one admitting the address', () => {
    expect(identityOf(ix, '198.51.100.7')).toBe('office');
    expect(identityOf(ix, '8.8.8.8')).toBe('internet');
    expect(identityOf(ix, '198.18.0.12')).toBe('api');
  });
});

describe('losses', () => {
  it('counts gaps in the kernel sequence numbers', () => {
    expect(lostBySequence([0, 1, 2, 3])).toBe(0);
    expect(lostBySequence([0, 1, 5, 6, 9])).toBe(5);
    expect(lostBySequence([])).toBe(0);
  });

  it('counts what a log limit suppressed: the verdict twin counted more than the log rule', () => {
    const log = { kind: 'log' as const, group: 42, prefix: 'mseg:x:R:o', limit: { ...LOG_LIMIT } };
    const d: DesiredRuleset = {
      enforcer: 'h', sets: [], diagnostics: [],
      chains: [{ name: 'pu-x-o-abcdef', rules: [
        { id: 'l1', match: { protocol: 'tcp' }, verdict: log },
        { id: 'v1', match: { protocol: 'tcp' }, verdict: { kind: 'reject' } },
        { id: 'l2', match: { protocol: 'udp' }, verdict: log },
        { id: 'v2', match: { protocol: 'tcp' }, verdict: { kind: 'reject' } },
      ] }],
    };
    const c = (packets: number) => ({ packets, bytes: 0 });
    expect(rateLimited(d, new Map([['pu-x-o-abcdef', new Map([['l1', c(100)], ['v1', c(5000)], ['l2', c(1)], ['v2', c(9)]])]]))).toBe(4900);
  });

  it('a reject of every protocol (the namespace default) is its TCP reset twin plus itself: both counts are what the log rule saw', () => {
    const log = { kind: 'log' as const, group: 42, prefix: 'mseg:x:DR:i', limit: { ...LOG_LIMIT } };
    const d: DesiredRuleset = {
      enforcer: 'h', sets: [], diagnostics: [],
      chains: [{ name: 'pu-x-i-abcdef', rules: [
        { id: 'l', match: {}, verdict: log },
        { id: 'rt', match: { protocol: 'tcp' }, verdict: { kind: 'reject' } },
        { id: 'r', match: {}, verdict: { kind: 'reject' } },
      ] }],
    };
    const c = (packets: number) => ({ packets, bytes: 0 });
    // 300 datagrams and 5 SYNs decided, 108 logged: 197 kept out by the limit.
    expect(rateLimited(d, new Map([['pu-x-i-abcdef', new Map([['l', c(108)], ['rt', c(5)], ['r', c(300)]])]]))).toBe(197);
    // A counter missing (an old rule without one) says nothing rather than a wrong number.
    expect(rateLimited(d, new Map([['pu-x-i-abcdef', new Map([['l', c(108)], ['r', c(300)]])]]))).toBe(0);
  });
});
