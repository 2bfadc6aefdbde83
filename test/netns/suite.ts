/**
 * The real-kernel suite every backend runs: apply the fixture through the provider and a
 * NetnsHost, send real packets, read back, apply again, change, and clean up, checking at each
 * step that foreign objects are byte-identical and nothing owned is left behind.
 */
import { providerFor, type BackendName, type LiveRuleset, type Provider } from '../../providers';
import { cleanup, fullSync } from './program';
import { ADDR, MULTI_PORTS, NODES, changedFixture, webFixture } from './fixtures';
import { Topology, describeAsRoot, legacySkipReason, ownedView } from './harness';

type Snapshot = Record<string, string>;

/** TCP ports listened on by srv (v4) — every one is reachable before the firewall is applied. */
const SRV_TCP4 = [7000, 7999, 8000, 8100, 8101, 9000, 20001, 20017, 20018];

export function defineBackendSuite(backend: BackendName, tag: string): void {
  const iptables = backend !== 'nftables';
  const variant = backend === 'iptables-legacy' ? 'legacy' : 'nft';
  const extraSkip = backend === 'iptables-legacy' ? legacySkipReason : undefined;

  describeAsRoot(`real kernel: ${backend}`, () => {
    let topo: Topology;
    let provider: Provider;
    let foreignBefore: Snapshot;

    const srv = () => topo.host('srv');
    const save = async (family: 4 | 6) =>
      topo.mustExec('srv', [`${family === 4 ? 'iptables' : 'ip6tables'}-${variant}-save`, '-t', 'filter']);

    /** foreignSnapshot: everything on srv that is not ours, in a form that ignores counters. */
    async function foreignSnapshot(): Promise<Snapshot> {
      if (!iptables) return { nft: await topo.mustExec('srv', ['nft', 'list', 'table', 'inet', 'foreign']) };
      const strip = (text: string) =>
        text
          .split('\n')
          .filter((l) => !l.startsWith('#') && !/MSEG-|microseg:/.test(l))
          .map((l) => l.replace(/\[\d+:\d+\]/, '[0:0]'))
          .join('\n');
      const sets = await topo.mustExec('srv', ['ipset', 'save']);
      return {
        v4: strip(await save(4)),
        v6: strip(await save(6)),
        ipset: sets
          .split('\n')
          .filter((l) => !/ mseg-/.test(l))
          .map((l) => l.replace(/ initval 0x[0-9a-f]+/, ''))
          .join('\n'),
      };
    }

    async function apply(desired = webFixture()): Promise<LiveRuleset> {
      const live = await provider.read(srv());
      await fullSync(srv(), provider, desired, live);
      return provider.read(srv());
    }

    beforeAll(async () => {
      provider = providerFor(backend);
      topo = await Topology.create(tag, NODES);
      for (const p of SRV_TCP4) await topo.listen('srv', 'tcp', p, 4);
      await topo.listen('srv', 'tcp', 8080, 6);
      await topo.listen('srv', 'udp', 5353, 4);
      await topo.listen('peer', 'tcp', 8443, 4);
      await topo.listen('other', 'tcp', 8443, 4);
      // Foreign objects microseg must never touch.
      if (iptables) {
        for (const f of [4, 6] as const) {
          const bin = `${f === 4 ? 'iptables' : 'ip6tables'}-${variant}`;
          const src = f === 4 ? '198.19.255.1/32' : '2001:2:0:ffff::1/128';
          await topo.mustExec('srv', [bin, '-N', 'FOREIGN']);
          await topo.mustExec('srv', [bin, '-A', 'FOREIGN', '-s', src, '-p', 'tcp', '--dport', '1', '-j', 'ACCEPT']);
          await topo.mustExec('srv', [bin, '-A', 'INPUT', '-s', src, '-j', 'FOREIGN']);
          await topo.mustExec('srv', [bin, '-A', 'OUTPUT', '-d', src, '-m', 'comment', '--comment', 'admin rule', '-j', 'ACCEPT']);
        }
        await topo.mustExec('srv', ['ipset', 'create', 'foreign-set', 'hash:ip']);
        await topo.mustExec('srv', ['ipset', 'add', 'foreign-set', '198.19.255.1']);
      } else {
        // nft quirk: a rule ending in `comment "..."` needs `;` or a newline before `}`.
        await topo.mustExec('srv', ['nft', '-f', '-'], [
          'table inet foreign {',
          '  set admins { type ipv4_addr; elements = { 198.19.255.1 } }',
          '  chain fin { type filter hook input priority 10; policy accept; ip saddr @admins tcp dport 1 accept comment "admin rule"; }',
          '}',
          '',
        ].join('\n'));
      }
      foreignBefore = await foreignSnapshot();
    });

    afterAll(async () => {
      await topo?.teardown();
    });

    it('baseline: every probed port is reachable before microseg applies anything', async () => {
      for (const p of SRV_TCP4) expect([p, await topo.tcpConnect('peer', ADDR.srv4, p)]).toEqual([p, 'open']);
      expect(await topo.tcpConnect('other', ADDR.srv4, 8000)).toBe('open');
      expect(await topo.tcpConnect('other', ADDR.srv6, 8080)).toBe('open');
      expect(await topo.udpExchange('other', ADDR.srv4, 5353)).toBe('microseg-udp');
      expect(await topo.ping('other', ADDR.srv4)).toBe(true);
      expect(await topo.tcpConnect('srv', ADDR.other4, 8443)).toBe('open');
    });

    it('probe reports the tools and no missing capability', async () => {
      const caps = await provider.probe(srv());
      expect(caps.backend).toBe(backend);
      expect(caps.comments).toBe(true);
      expect(caps.missing).toEqual([]);
    });

    it('applies and the kernel enforces the fixture on real packets', async () => {
      await apply();
      // icmp/8/0 from the peer set only.
      expect(await topo.ping('peer', ADDR.srv4)).toBe(true);
      expect(await topo.ping('other', ADDR.srv4)).toBe(false);
      // tcp/8000:8100: both ends open, both neighbours rejected.
      expect(await topo.tcpConnect('peer', ADDR.srv4, 7999)).toBe('refused');
      expect(await topo.tcpConnect('peer', ADDR.srv4, 8000)).toBe('open');
      expect(await topo.tcpConnect('peer', ADDR.srv4, 8100)).toBe('open');
      expect(await topo.tcpConnect('peer', ADDR.srv4, 8101)).toBe('refused');
      // A reject before an allow for the same peer wins.
      expect(await topo.tcpConnect('peer', ADDR.srv4, 9000)).toBe('refused');
      // 17 ports (split past the 15-port multiport limit on iptables): first and last open, next one not.
      expect(await topo.tcpConnect('peer', ADDR.srv4, MULTI_PORTS[0])).toBe('open');
      expect(await topo.tcpConnect('peer', ADDR.srv4, MULTI_PORTS[16])).toBe('open');
      expect(await topo.tcpConnect('peer', ADDR.srv4, 20018)).toBe('refused');
      // Not in the peer set: default reject.
      expect(await topo.tcpConnect('other', ADDR.srv4, 8000)).toBe('refused');
      // The world set (0/1 + 128/1 minus 198.18.0.32/27) admits peer but not other (in the hole).
      expect(await topo.tcpConnect('peer', ADDR.srv4, 7000)).toBe('open');
      expect(await topo.tcpConnect('other', ADDR.srv4, 7000)).toBe('refused');
      // UDP, with a log rule in front.
      expect(await topo.udpExchange('peer', ADDR.srv4, 5353)).toBe('microseg-udp');
      expect(await topo.udpExchange('other', ADDR.srv4, 5353)).toBeNull();
      // IPv6.
      expect(await topo.tcpConnect('peer', ADDR.srv6, 8080)).toBe('open');
      expect(await topo.tcpConnect('other', ADDR.srv6, 8080)).toBe('refused');
      expect(await topo.ping('peer', ADDR.srv6)).toBe(true);
      expect(await topo.ping('other', ADDR.srv6)).toBe(false);
      // Outgoing: allowed to the peer (and its return traffic flows back), default reject elsewhere.
      expect(await topo.tcpConnect('srv', ADDR.peer4, 8443)).toBe('open');
      expect(await topo.tcpConnect('srv', ADDR.other4, 8443)).toBe('refused');
    });

    it('reads back exactly what the provider expects, hooks first', async () => {
      const live = await provider.read(srv());
      const want = provider.expected!(webFixture());
      expect(ownedView(live)).toEqual(want);
      // And in IR terms: same sets (members), chains and rule ids as the DesiredRuleset.
      const d = webFixture();
      expect(live.sets.map((s) => [s.name, s.family, s.elements])).toEqual(d.sets.map((s) => [s.name, s.family, s.elements]));
      for (const c of d.chains) {
        const lc = live.chains.find((x) => x.name === c.name)!;
        expect(lc.hook).toBe(c.hook);
        expect([...lc.ruleIds].sort()).toEqual(c.rules.map((r) => r.id).sort());
        expect(lc.foreignRules).toBe(0);
      }
      if (!iptables) for (const c of d.chains) expect(live.chains.find((x) => x.name === c.name)!.ruleIds).toEqual(c.rules.map((r) => r.id));
      expect(live.hooks.length).toBe(4);
      for (const h of live.hooks) expect(h).toMatchObject({ present: true, first: true, count: 1 });
    });

    it('applying twice is idempotent (same live state and fingerprint, still enforcing)', async () => {
      const first = await provider.read(srv());
      const second = await apply();
      expect(second).toEqual(first);
      expect(second.fingerprint).toBe(first.fingerprint);
      expect(await topo.tcpConnect('peer', ADDR.srv4, 8000)).toBe('open');
      expect(await topo.tcpConnect('other', ADDR.srv4, 8000)).toBe('refused');
    });

    it('foreign chains, rules and sets are byte-identical after apply', async () => {
      expect(await foreignSnapshot()).toEqual(foreignBefore);
    });

    if (iptables) {
      it('puts the hook first again when a foreign rule was inserted above it, leaving that rule alone', async () => {
        await topo.mustExec('srv', [`iptables-${variant}`, '-I', 'INPUT', '1', '-s', '198.19.255.3/32', '-j', 'ACCEPT']);
        foreignBefore = await foreignSnapshot();
        const drifted = await provider.read(srv());
        expect(drifted.hooks.find((h) => h.hook === 'input' && h.family === 4)).toMatchObject({ present: true, first: false, count: 1 });
        const fixed = await apply();
        expect(ownedView(fixed)).toEqual(provider.expected!(webFixture()));
        const v4 = (await save(4)).split('\n').filter((l) => l.startsWith('-A INPUT'));
        expect(v4[0]).toMatch(/microseg:hook/);
        expect(v4[1]).toMatch(/198\.19\.255\.3/);
        expect(await foreignSnapshot()).toEqual(foreignBefore);
      });
    }

    it('a changed ruleset removes stale chains and sets and enforces the change', async () => {
      const live = await apply(changedFixture());
      expect(ownedView(live)).toEqual(provider.expected!(changedFixture()));
      expect(live.sets.map((s) => s.name)).not.toContain('world-v4');
      expect(live.chains.map((c) => c.name)).not.toContain('pu-web-out');
      expect(await topo.tcpConnect('srv', ADDR.peer4, 8443)).toBe('refused');
      expect(await topo.tcpConnect('peer', ADDR.srv4, 7000)).toBe('refused');
      expect(await topo.tcpConnect('peer', ADDR.srv4, 8000)).toBe('open');
      if (iptables) {
        expect(await topo.mustExec('srv', ['ipset', 'list', '-n'])).not.toMatch(/mseg-world-v4/);
        expect(await save(4)).not.toMatch(/MSEG-pu-web-out/);
        expect(await save(6)).not.toMatch(/MSEG-pu-web-out/);
      }
      expect(await foreignSnapshot()).toEqual(foreignBefore);
    });

    it('cleanup removes every owned object and nothing else', async () => {
      const live = await provider.read(srv());
      await cleanup(srv(), provider, live);
      const after = await provider.read(srv());
      expect(after.sets).toEqual([]);
      expect(after.chains).toEqual([]);
      expect(after.hooks).toEqual([]);
      for (const v of ['nft', 'legacy']) {
        for (const f of ['iptables', 'ip6tables']) {
          expect(await topo.mustExec('srv', [`${f}-${v}-save`, '-t', 'filter'])).not.toMatch(/MSEG-|microseg:/);
        }
      }
      expect(await topo.mustExec('srv', ['ipset', 'list', '-n'])).not.toMatch(/^mseg-/m);
      expect(await topo.mustExec('srv', ['nft', 'list', 'ruleset'])).not.toMatch(/table inet microseg/);
      expect(await foreignSnapshot()).toEqual(foreignBefore);
      // Unprotected again: the default reject is gone.
      expect(await topo.tcpConnect('other', ADDR.srv4, 8000)).toBe('open');
      // Cleanup of a clean host is a no-op that succeeds.
      await cleanup(srv(), provider, after);
    });
  }, extraSkip);
}
