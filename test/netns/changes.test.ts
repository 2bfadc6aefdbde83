/**
 * Real-kernel tests of Provider.changes (incremental apply), for nftables, iptables-nft and
 * iptables-legacy (when the kernel has the legacy tables): apply the web fixture in full, then
 * apply edited rulesets through Provider.changes only, and prove on the kernel that
 *  - read-back equals expected(new desired) after every step, and a second renderChanges is [];
 *  - packets follow the new rules;
 *  - what did not change was not rewritten: nft rule and set handles are unchanged, iptables
 *    rule counters of untouched chains keep counting and ipset's `initval` (fresh per created set)
 *    is unchanged, so the set got an element delta, not a recreation;
 *  - orphan chains and sets are removed, and a missing or displaced hook is repaired alone.
 * Addresses and nodes: see harness.ts and fixtures.ts.
 */
import { providerFor, type BackendName, type Provider, type ScriptStep } from '../../providers';
import { applyChanges as sendChanges, changes, cleanup, fullSync } from './program';
import type { DesiredRuleset } from '../../src/compile/ir';
import { ADDR, NODES, changedFixture, webFixture } from './fixtures';
import { Topology, describeAsRoot, legacySkipReason, ownedView } from './harness';

/** editedFixture: `other` (and two unused addresses) join peers-v4 (set delta) and the port-9000 reject leaves pu-web-in (rule edit). */
function editedFixture(): DesiredRuleset {
  const d = webFixture();
  // Two more members that nobody uses keep later single-member changes a delta (see useSwap).
  d.sets.find((s) => s.name === 'peers-v4')!.elements = [`${ADDR.peer4}/32`, `${ADDR.other4}/32`, '198.18.0.50/32', '198.18.0.51/32'];
  const web = d.chains.find((c) => c.name === 'pu-web-in')!;
  web.rules = web.rules.filter((r) => r.id !== 'w-rej9000');
  // A new rule in the middle of the chain: udp 5354 from peers, before the default reject.
  const at = web.rules.findIndex((r) => r.id === 'w-gre');
  web.rules.splice(at, 0, { id: 'w-udp5354', match: { srcSet: { set: 'peers-v4' }, protocol: 'udp', dports: [{ from: 5354, to: 5354 }] }, verdict: { kind: 'accept' } });
  return d;
}

const script = (steps: readonly ScriptStep[]) => steps.map((s) => `# ${s.argv.join(' ')}\n${s.stdin}`).join('\n');

/**
 * named: the objects a script operates on, without rule bodies. An nft chain rewritten whole
 * re-adds rules that mention untouched sets (`ip6 saddr @mseg-peers-v6`); that is not naming the
 * set. For nft every line is cut to its first five words (verb, object, family, table, name);
 * iptables/ipset scripts are returned as they are.
 */
const named = (steps: readonly ScriptStep[], nft: boolean) =>
  nft ? script(steps).split('\n').map((l) => (l.startsWith('#') ? '' : l.split(' ').slice(0, 5).join(' '))).join('\n') : script(steps);

function defineChangesSuite(backend: BackendName, tag: string): void {
  const iptables = backend !== 'nftables';
  const variant = backend === 'iptables-legacy' ? 'legacy' : 'nft';
  describeAsRoot(
    `real kernel: ${backend} changes`,
    () => {
      let topo: Topology;
      let provider: Provider;
      const srv = () => topo.host('srv');

      /** apply renders changes against a fresh read, runs them and returns what was sent. */
      async function applyChanges(desired: DesiredRuleset): Promise<ScriptStep[]> {
        return sendChanges(srv(), provider, desired, await provider.read(srv()));
      }

      async function expectConverged(desired: DesiredRuleset): Promise<void> {
        const live = await provider.read(srv());
        expect(ownedView(live)).toEqual(provider.expected!(desired));
        expect(changes(provider, desired, live)).toEqual([]);
      }

      /** nftHandles: chain or set name → handles of its rules (or of the set itself). */
      async function nftHandles(): Promise<Record<string, string>> {
        const doc = JSON.parse(await topo.mustExec('srv', ['nft', '-a', '-j', 'list', 'table', 'inet', 'microseg'])) as {
          nftables: Array<Record<string, { name?: string; chain?: string; handle: number; comment?: string }>>;
        };
        const out: Record<string, string[]> = {};
        for (const it of doc.nftables) {
          if (it.set) out[`set ${it.set.name}`] = [String(it.set.handle)];
          if (it.chain) out[`chain ${it.chain.name}`] = [String(it.chain.handle)];
          if (it.rule) (out[`rules ${it.rule.chain}`] ??= []).push(`${it.rule.comment}@${it.rule.handle}`);
        }
        return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.join(' ')]));
      }

      /** chainCounters: the `-c` counters of every rule of an owned chain, per family. */
      async function chainCounters(chain: string): Promise<string[]> {
        const out: string[] = [];
        for (const f of ['iptables', 'ip6tables']) {
          const text = await topo.mustExec('srv', [`${f}-${variant}-save`, '-c', '-t', 'filter']);
          out.push(...text.split('\n').filter((l) => l.includes(`-A ${chain} `)));
        }
        return out;
      }

      const initval = async (set: string) => /initval (0x[0-9a-f]+)/.exec(await topo.mustExec('srv', ['ipset', 'save', set]))?.[1];

      beforeAll(async () => {
        provider = providerFor(backend);
        topo = await Topology.create(tag, NODES);
        for (const p of [7000, 8000, 9000, 9100]) await topo.listen('srv', 'tcp', p, 4);
        await topo.listen('srv', 'udp', 5354, 4);
        await topo.listen('peer', 'tcp', 8443, 4);
        await topo.listen('peer', 'tcp', 8444, 4);
      });

      afterAll(async () => {
        await topo?.teardown();
      });

      it('full apply of the web fixture, then the change to the same desired is []', async () => {
        await fullSync(srv(), provider, webFixture(), await provider.read(srv()));
        await expectConverged(webFixture());
        expect(await topo.tcpConnect('peer', ADDR.srv4, 8000)).toBe('open');
        expect(await topo.tcpConnect('other', ADDR.srv4, 8000)).toBe('refused');
        expect(await topo.tcpConnect('peer', ADDR.srv4, 9000)).toBe('refused');
      });

      it('a set member and a rule change send only that set and that chain, and keep everything else in place', async () => {
        // Traffic through the dispatch chains, so iptables counters of untouched chains are non-zero.
        expect(await topo.tcpConnect('peer', ADDR.srv4, 8000)).toBe('open');
        const handlesBefore = iptables ? {} : await nftHandles();
        const countersBefore = iptables ? await chainCounters('MSEG-in') : [];
        const initBefore = iptables ? await initval('mseg-peers-v4') : undefined;

        const steps = await applyChanges(editedFixture());
        const text = script(steps);
        // Only peers-v4 and pu-web-in are named; untouched chains and sets never appear.
        expect(named(steps, !iptables)).toMatch(/peers-v4/);
        expect(named(steps, !iptables)).toMatch(/pu-web-in/);
        for (const untouched of ['peers-v6', 'world-v4', 'pu-web-out']) expect(named(steps, !iptables)).not.toContain(untouched);
        expect(named(steps, !iptables)).not.toMatch(/[ :-](mseg|MSEG)-(in|out)( |$)/m);
        if (iptables) {
          expect(text).not.toMatch(/^flush|:MSEG-pu-web-in/m); // an edit, not a rewrite
          expect(steps.map((s) => s.argv[0])).toEqual(['ipset', `iptables-${variant}-restore`]);
        } else {
          // w-udp5354 enters in the middle of pu-web-in: nft would need `insert ... position H`,
          // which loads the whole table's rules on nft 1.0.6, so the chain is flushed once and
          // refilled (changes.ts); no other chain is flushed and no position is used.
          expect(steps).toHaveLength(1);
          expect(text.match(/^flush chain .*$/gm)).toEqual(['flush chain inet microseg mseg-pu-web-in']);
          expect(text).not.toMatch(/position|^insert/m);
        }

        await expectConverged(editedFixture());
        if (!iptables) {
          const after = await nftHandles();
          for (const k of ['chain mseg-in', 'rules mseg-in', 'rules mseg-out', 'rules mseg-pu-web-out', 'set mseg-peers-v4', 'set mseg-peers-v6', 'set mseg-world-v4']) {
            expect([k, after[k]]).toEqual([k, handlesBefore[k]]);
          }
          // The rewritten chain itself is the same chain object (flushed, not deleted and recreated).
          expect(after['chain mseg-pu-web-in']).toBe(handlesBefore['chain mseg-pu-web-in']);
        } else {
          expect(await initval('mseg-peers-v4')).toBe(initBefore);
          // Counters of the untouched dispatch chain were not reset (a rewrite zeroes them).
          const after = await chainCounters('MSEG-in');
          expect(after.map((l) => l.replace(/^\[\d+:\d+\] /, ''))).toEqual(countersBefore.map((l) => l.replace(/^\[\d+:\d+\] /, '')));
          const packets = (ls: string[]) => ls.reduce((n, l) => n + Number(/^\[(\d+):/.exec(l)?.[1] ?? 0), 0);
          expect(packets(countersBefore)).toBeGreaterThan(0);
          expect(packets(after)).toBeGreaterThanOrEqual(packets(countersBefore));
        }
        // Packets follow the new rules: other is a peer now, port 9000 no longer rejected first, udp 5354 allowed.
        expect(await topo.tcpConnect('other', ADDR.srv4, 8000)).toBe('open');
        expect(await topo.tcpConnect('peer', ADDR.srv4, 9000)).toBe('open');
        expect(await topo.udpExchange('peer', ADDR.srv4, 5354)).toBe('microseg-udp');
        expect(await topo.tcpConnect('peer', ADDR.srv4, 7000)).toBe('open');
      });

      it('a member removed goes out as a delete only', async () => {
        const d = editedFixture();
        const peers = d.sets.find((s) => s.name === 'peers-v4')!;
        peers.elements = peers.elements.filter((e) => e !== `${ADDR.other4}/32`);
        const steps = await applyChanges(d);
        const text = script(steps);
        if (iptables) expect(text).toMatch(/^del mseg-peers-v4 198\.18\.0\.40\/32$/m);
        else expect(text).toMatch(/^delete element inet microseg mseg-peers-v4 \{ 198\.18\.0\.40\/32 \}$/m);
        expect(text).not.toMatch(/pu-web|world|peers-v6/);
        expect(await topo.tcpConnect('other', ADDR.srv4, 8000)).toBe('refused');
        expect(await topo.tcpConnect('peer', ADDR.srv4, 8000)).toBe('open');
      });

      if (!iptables) {
        it('deletions and appends at the end of a chain are single-rule edits: no flush, no position, kept rules keep their handles', async () => {
          // From the previous test's state: w-udp5354 (mid-chain) and w-default (last) leave
          // pu-web-in; an accept for tcp/9100 and a new default reject are appended after w-gre.
          const d = editedFixture();
          d.sets.find((s) => s.name === 'peers-v4')!.elements = [`${ADDR.peer4}/32`, '198.18.0.50/32', '198.18.0.51/32'];
          const web = d.chains.find((c) => c.name === 'pu-web-in')!;
          web.rules = web.rules.filter((r) => r.id !== 'w-udp5354' && r.id !== 'w-default');
          web.rules.push(
            { id: 'w-tcp9100', match: { srcSet: { set: 'peers-v4' }, protocol: 'tcp', dports: [{ from: 9100, to: 9100 }] }, verdict: { kind: 'accept' } },
            { id: 'w-default2', match: {}, verdict: { kind: 'reject' } },
          );
          expect(await topo.tcpConnect('peer', ADDR.srv4, 9100)).toBe('refused');
          const before = await nftHandles();
          const steps = await applyChanges(d);
          const lines = steps[0].stdin.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
          expect(lines).toEqual([
            expect.stringMatching(/^delete rule inet microseg mseg-pu-web-in handle \d+$/),
            expect.stringMatching(/^delete rule inet microseg mseg-pu-web-in handle \d+$/),
            expect.stringMatching(/^add rule inet microseg mseg-pu-web-in .*"microseg:w-tcp9100"$/),
            expect.stringMatching(/^add rule inet microseg mseg-pu-web-in .*"microseg:w-default2"$/),
          ]);
          await expectConverged(d);
          const after = await nftHandles();
          const kept = (s: string) => s.split(' ').filter((x) => !/w-udp5354|w-default|w-tcp9100/.test(x));
          expect(kept(after['rules mseg-pu-web-in'])).toEqual(kept(before['rules mseg-pu-web-in']));
          expect(await topo.tcpConnect('peer', ADDR.srv4, 9100)).toBe('open');
          expect(await topo.tcpConnect('peer', ADDR.srv4, 8000)).toBe('open');
          expect(await topo.udpExchange('peer', ADDR.srv4, 5354)).not.toBe('microseg-udp');
          expect(await topo.tcpConnect('other', ADDR.srv4, 8000)).toBe('refused');
        });
      }

      it('orphan chains and sets are removed and rewritten chains enforce the change', async () => {
        const steps = await applyChanges(changedFixture());
        expect(named(steps, !iptables)).not.toContain('peers-v6');
        await expectConverged(changedFixture());
        const live = await provider.read(srv());
        expect(live.sets.map((s) => s.name)).not.toContain('world-v4');
        expect(live.chains.map((c) => c.name)).not.toContain('pu-web-out');
        expect(await topo.tcpConnect('srv', ADDR.peer4, 8443)).toBe('refused');
        expect(await topo.tcpConnect('peer', ADDR.srv4, 7000)).toBe('refused');
        expect(await topo.tcpConnect('peer', ADDR.srv4, 8000)).toBe('open');
        if (iptables) {
          expect(await topo.mustExec('srv', ['ipset', 'list', '-n'])).not.toMatch(/mseg-world-v4/);
          expect(await topo.mustExec('srv', [`iptables-${variant}-save`, '-t', 'filter'])).not.toMatch(/MSEG-pu-web-out/);
        } else {
          expect(await topo.mustExec('srv', ['nft', 'list', 'table', 'inet', 'microseg'])).not.toMatch(/world-v4|pu-web-out/);
        }
      });

      it('new chains and sets come back through a delta (sets before the rules that use them)', async () => {
        await applyChanges(webFixture());
        await expectConverged(webFixture());
        expect(await topo.tcpConnect('srv', ADDR.peer4, 8443)).toBe('open');
        expect(await topo.tcpConnect('peer', ADDR.srv4, 7000)).toBe('open');
        expect(await topo.tcpConnect('other', ADDR.srv4, 7000)).toBe('refused');
      });

      if (iptables) {
        it('a hook pushed down by a foreign rule is repaired with hook lines only', async () => {
          await topo.mustExec('srv', [`iptables-${variant}`, '-I', 'INPUT', '1', '-s', '198.19.255.3/32', '-j', 'ACCEPT']);
          const steps = await applyChanges(webFixture());
          expect(steps).toHaveLength(1);
          expect(steps[0].stdin).toBe(
            [
              '*filter',
              '-D INPUT -m comment --comment "microseg:hook" -j MSEG-in',
              '-I INPUT 1 -m comment --comment "microseg:hook" -j MSEG-in',
              'COMMIT',
              '',
            ].join('\n'),
          );
          await expectConverged(webFixture());
          const v4 = (await topo.mustExec('srv', [`iptables-${variant}-save`, '-t', 'filter'])).split('\n').filter((l) => l.startsWith('-A INPUT'));
          expect(v4[0]).toMatch(/microseg:hook/);
          expect(v4[1]).toMatch(/198\.19\.255\.3/);
        });

        it('a missing hook is reinserted, and a duplicated one reduced to one', async () => {
          await topo.mustExec('srv', [`ip6tables-${variant}`, '-D', 'OUTPUT', '-m', 'comment', '--comment', 'microseg:hook', '-j', 'MSEG-out']);
          await topo.mustExec('srv', [`iptables-${variant}`, '-A', 'OUTPUT', '-m', 'comment', '--comment', 'microseg:hook', '-j', 'MSEG-out']);
          const steps = await applyChanges(webFixture());
          expect(script(steps)).not.toMatch(/^-A|^:|^[-]D MSEG/m);
          await expectConverged(webFixture());
        });
      } else {
        it('a base chain deleted by hand is recreated alone', async () => {
          await topo.mustExec('srv', ['nft', '-f', '-'], 'flush chain inet microseg mseg-out\ndelete chain inet microseg mseg-out\n');
          expect(await topo.tcpConnect('srv', ADDR.peer4, 8444)).toBe('open');
          const before = await nftHandles();
          const steps = await applyChanges(webFixture());
          expect(steps[0].stdin).toMatch(/^add chain inet microseg mseg-out \{ type filter hook output priority filter; policy accept; \}$/m);
          const body = steps[0].stdin.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
          for (const l of body) expect(l).toMatch(/^add (chain|rule) inet microseg mseg-out /);
          await expectConverged(webFixture());
          const after = await nftHandles();
          expect(after['rules mseg-pu-web-in']).toBe(before['rules mseg-pu-web-in']);
          expect(await topo.tcpConnect('srv', ADDR.peer4, 8444)).toBe('refused');
        });
      }

      it('cleanup still removes everything', async () => {
        await cleanup(srv(), provider, await provider.read(srv()));
        const after = await provider.read(srv());
        expect([after.sets, after.chains, after.hooks]).toEqual([[], [], []]);
      });
    },
    backend === 'iptables-legacy' ? legacySkipReason : undefined,
  );
}

defineChangesSuite('nftables', 'cn');
defineChangesSuite('iptables-nft', 'ci');
defineChangesSuite('iptables-legacy', 'cl');
