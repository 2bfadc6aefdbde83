/**
 * Counters are read with the rules and kept out of everything plan compares: the same rules with
 * any counters read to deep-equal LiveRulesets (fingerprint included) and an empty ObjectDiff, on
 * every backend's reader. The real-kernel proof is test/netns/flows-stats.test.ts.
 */
import { buildLive, parseSave } from '../../../providers/iptables';
import { parseNftTable } from '../../../providers/nftables';
import { countersOf, liveCounters } from '../../../providers/counters';
import { diffObjects, isEmptyDiff } from '../../../src/plan';

function save(c: (n: number) => string): string {
  return [
    '*filter',
    ':INPUT ACCEPT [0:0]',
    ':OUTPUT ACCEPT [0:0]',
    ':MSEG-in - [0:0]',
    ':MSEG-pu-web-o-abcdef - [0:0]',
    `${c(1)}-A INPUT -m comment --comment "microseg:hook" -j MSEG-in`,
    `${c(2)}-A MSEG-in -d 198.18.0.11/32 -m comment --comment "microseg:d1" -j MSEG-pu-web-o-abcdef`,
    `${c(3)}-A MSEG-pu-web-o-abcdef -p tcp -m multiport --dports 1,2 -m comment --comment "microseg:b#1/2" -j ACCEPT`,
    `${c(4)}-A MSEG-pu-web-o-abcdef -p tcp -m multiport --dports 3 -m comment --comment "microseg:b#2/2" -j ACCEPT`,
    `${c(5)}-A MSEG-pu-web-o-abcdef -m comment --comment "microseg:def" -j REJECT`,
    'COMMIT',
    '',
  ].join('\n');
}

function nft(counter: (n: number) => unknown[]): string {
  const T = { family: 'inet', table: 'microseg' };
  return JSON.stringify({
    nftables: [
      { table: { family: 'inet', name: 'microseg', handle: 1 } },
      { chain: { ...T, name: 'mseg-in', handle: 1, type: 'filter', hook: 'input', prio: 0, policy: 'accept' } },
      { chain: { ...T, name: 'mseg-pu-web-o-abcdef', handle: 2 } },
      { rule: { ...T, chain: 'mseg-in', handle: 3, comment: 'microseg:d1', expr: [{ match: { op: '==', left: 'x', right: 'y' } }, ...counter(1), { jump: { target: 'mseg-pu-web-o-abcdef' } }] } },
      { rule: { ...T, chain: 'mseg-pu-web-o-abcdef', handle: 4, comment: 'microseg:b', expr: [...counter(2), { accept: null }] } },
      { rule: { ...T, chain: 'mseg-pu-web-o-abcdef', handle: 5, comment: 'microseg:def', expr: [...counter(3), { reject: null }] } },
    ],
  });
}

describe('counters are read with the rules and compared by nothing', () => {
  it.each(['iptables-nft', 'iptables-legacy'] as const)('%s: iptables-save -c of any counters reads as the same LiveRuleset as without', (backend) => {
    const plain = buildLive(backend, parseSave(save(() => ''), 4), parseSave(save(() => ''), 6), []);
    const quiet = buildLive(backend, parseSave(save(() => '[0:0] '), 4), parseSave(save(() => '[0:0] '), 6), []);
    const busy = buildLive(backend, parseSave(save((n) => `[${n * 1000}:${n * 60000}] `), 4), parseSave(save((n) => `[${n}:${n * 60}] `), 6), []);
    expect(busy).toEqual(plain);
    expect(quiet).toEqual(plain);
    expect(busy.fingerprint).toBe(plain.fingerprint);
    expect(isEmptyDiff(diffObjects(quiet, busy))).toBe(true);
    // Split parts (#k/n) and both families sum into the IR rule's count.
    const web = busy.chains.find((c) => c.name === 'pu-web-o-abcdef')!;
    expect(countersOf(web)?.get('b')).toEqual({ packets: 3000 + 4000 + 3 + 4, bytes: (3 + 4) * 60000 + (3 + 4) * 60 });
    expect(countersOf(web)?.get('def')).toEqual({ packets: 5005, bytes: 5 * 60060 });
    // Without -c there is nothing to report, rather than zeros.
    expect(liveCounters(plain).size).toBe(0);
  });

  it('nftables: any counter values read as the same LiveRuleset; a rule without a counter is absent from the counts', () => {
    const none = parseNftTable(nft(() => []));
    const zero = parseNftTable(nft(() => [{ counter: { packets: 0, bytes: 0 } }]));
    const busy = parseNftTable(nft((n) => [{ counter: { packets: n * 7, bytes: n * 700 } }]));
    expect(busy).toEqual(none);
    expect(zero).toEqual(none);
    expect(isEmptyDiff(diffObjects(zero, busy))).toBe(true);
    const web = busy.chains.find((c) => c.name === 'pu-web-o-abcdef')!;
    expect([...countersOf(web)!]).toEqual([
      ['b', { packets: 14, bytes: 1400 }],
      ['def', { packets: 21, bytes: 2100 }],
    ]);
    expect([...countersOf(none.chains.find((c) => c.name === 'pu-web-o-abcdef')!)!]).toEqual([]);
  });
});
