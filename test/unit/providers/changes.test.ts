/**
 * Unit tests of Provider.changes for nftables and iptables (both variants share the code), on the
 * netns fixtures, with the host's ObjectDiff computed as plan computes it (changesFor). "live" is either expected(old) — a copy without kernel positions, as a
 * plan file would carry — or simulatedRead(old), which parses what the kernel prints and so
 * carries nft rule handles / iptables rule order like a real read.
 */
import fc from 'fast-check';
import { providerFor, ProviderError, type BackendName, type LiveRuleset, type Provider, type ScriptStep } from '../../../providers';
import { changesFor, scriptsOf } from '../../../src/plan';
import { ruleEdits } from '../../../providers/common';
import type { DesiredRuleset } from '../../../src/compile/ir';
import { simulatedRead } from '../../../bench/render-bytes';
import { ADDR, changedFixture, webFixture } from '../../netns/fixtures';

const BACKENDS: BackendName[] = ['nftables', 'iptables-nft', 'iptables-legacy'];
const text = (steps: readonly ScriptStep[]) => steps.map((s) => `# ${s.argv.join(' ')}\n${s.stdin}`).join('\n');
/** body: the script's lines without comments, headers and restore framing. */
const body = (steps: readonly ScriptStep[]) =>
  steps.flatMap((s) => s.stdin.split('\n')).filter((l) => l !== '' && !l.startsWith('#') && l !== '*filter' && l !== 'COMMIT');

/**
 * renderChanges is the provider's delta serialised, or (when it says only a full sync is safe) the
 * full sync's steps with the reason in `full`.
 */
function renderChanges(p: Provider, desired: DesiredRuleset, live: LiveRuleset): ScriptStep[] & { full?: string } {
  const c = changesFor(p, desired, live);
  if (c.kind === 'delta') return scriptsOf(p, c.transactions);
  return Object.assign(scriptsOf(p, p.fullSync(desired, live, c.reason)), { full: c.reason });
}

function withPeers(d: DesiredRuleset, elements: string[]): DesiredRuleset {
  d.sets.find((s) => s.name === 'peers-v4')!.elements = elements;
  return d;
}
const PEERS3 = [`${ADDR.peer4}/32`, '198.18.0.50/32', '198.18.0.51/32'];
const PEERS6 = [...PEERS3, '198.18.0.70/32', '198.18.0.71/32', '198.18.0.72/32'];

describe.each(BACKENDS)('%s changes', (backend) => {
  const p = providerFor(backend);
  const nft = backend === 'nftables';

  it('returns [] when live equals expected(desired), with or without kernel positions', () => {
    expect(renderChanges(p, webFixture(), p.expected!(webFixture()))).toEqual([]);
    expect(renderChanges(p, webFixture(), simulatedRead(backend, webFixture()))).toEqual([]);
    expect(renderChanges(p, changedFixture(), p.expected!(changedFixture()))).toEqual([]);
  });

  it('one set member added or removed: only that set, as element lines', () => {
    const live = p.expected!(withPeers(webFixture(), PEERS3));
    const added = renderChanges(p, withPeers(webFixture(), [...PEERS3, '198.18.0.52/32']), live);
    const removed = renderChanges(p, withPeers(webFixture(), PEERS3.filter((e) => e !== '198.18.0.50/32')), live);
    if (nft) {
      expect(body(added)).toEqual(['add element inet microseg mseg-peers-v4 { 198.18.0.52/32 }']);
      expect(body(removed)).toEqual(['delete element inet microseg mseg-peers-v4 { 198.18.0.50/32 }']);
    } else {
      expect(added).toEqual([{ argv: ['ipset', '-exist', 'restore'], stdin: 'add mseg-peers-v4 198.18.0.52/32\n' }]);
      expect(removed).toEqual([{ argv: ['ipset', '-exist', 'restore'], stdin: 'del mseg-peers-v4 198.18.0.50/32\n' }]);
    }
  });

  it('a member replaced by an overlapping prefix: deletes before adds', () => {
    const live = p.expected!(withPeers(webFixture(), PEERS6));
    const steps = renderChanges(p, withPeers(webFixture(), [`${ADDR.peer4}/32`, '198.18.0.48/29', ...PEERS6.slice(3)]), live);
    const lines = body(steps);
    expect(lines.findIndex((l) => /^(delete element|del )/.test(l))).toBeLessThan(lines.findIndex((l) => /^add /.test(l)));
    if (nft) expect(lines).toEqual(['delete element inet microseg mseg-peers-v4 { 198.18.0.50/32, 198.18.0.51/32 }', 'add element inet microseg mseg-peers-v4 { 198.18.0.48/29 }']);
    else expect(lines).toEqual(['del mseg-peers-v4 198.18.0.50/32', 'del mseg-peers-v4 198.18.0.51/32', 'add mseg-peers-v4 198.18.0.48/29']);
  });

  it('a change as large as the set is sent as a refill (nft: flush set; ipset: temp set + swap)', () => {
    const live = p.expected!(webFixture());
    const steps = renderChanges(p, withPeers(webFixture(), ['198.18.0.60/32']), live);
    if (nft) expect(body(steps)).toEqual(['flush set inet microseg mseg-peers-v4', 'add element inet microseg mseg-peers-v4 { 198.18.0.60/32 }']);
    else expect(body(steps)).toEqual(['create mseg-peers-v4.t hash:net family inet', 'flush mseg-peers-v4.t', 'add mseg-peers-v4.t 198.18.0.60/32', 'swap mseg-peers-v4.t mseg-peers-v4', 'destroy mseg-peers-v4.t']);
  });

  it("one chain's rules changed, without positions: only that chain, rewritten whole", () => {
    const d = webFixture();
    const web = d.chains.find((c) => c.name === 'pu-web-in')!;
    web.rules = web.rules.filter((r) => r.id !== 'w-rej9000');
    const steps = renderChanges(p, d, p.expected!(webFixture()));
    const t = text(steps);
    // Every line is about pu-web-in: no set, no other chain.
    for (const l of body(steps)) expect(l).toMatch(/^(flush chain inet microseg mseg-pu-web-in|add rule inet microseg mseg-pu-web-in |:MSEG-pu-web-in |-A MSEG-pu-web-in )/);
    if (nft) {
      expect(steps).toHaveLength(1);
      expect(t.match(/^flush chain .*$/gm)).toEqual(['flush chain inet microseg mseg-pu-web-in']);
      expect(t.match(/^add rule inet microseg mseg-pu-web-in /gm)).toHaveLength(web.rules.length);
    } else {
      expect(steps.map((s) => s.argv[0])).toEqual([`iptables-${backend.slice(9)}-restore`, `ip6tables-${backend.slice(9)}-restore`]);
      for (const s of steps) expect(s.stdin).toMatch(/^\*filter\n:MSEG-pu-web-in - \[0:0\]\n-A MSEG-pu-web-in /);
    }
  });

  it("one chain's rules changed, with positions from a read: single-rule edits (nftables: a mid-chain insert rewrites the chain)", () => {
    const d = webFixture();
    const web = d.chains.find((c) => c.name === 'pu-web-in')!;
    web.rules = web.rules.filter((r) => r.id !== 'w-rej9000');
    web.rules.splice(3, 0, { id: 'w-new', match: { srcSet: { set: 'peers-v4' }, protocol: 'tcp', dports: [{ from: 22, to: 22 }] }, verdict: { kind: 'accept' } });
    const live = simulatedRead(backend, webFixture());
    const steps = renderChanges(p, d, live);
    if (nft) {
      // A rule entering in the middle needs a position anchor, which costs nft 1.0.6 a load of the
      // whole table's rules: the chain is flushed once and refilled instead (changes.ts).
      const lines = body(steps);
      expect(lines[0]).toBe('flush chain inet microseg mseg-pu-web-in');
      expect(lines.slice(1)).toEqual(web.rules.map((r) => expect.stringMatching(new RegExp(`^add rule inet microseg mseg-pu-web-in .* comment "microseg:${r.id}"$`))));
      expect(text(steps)).not.toMatch(/position|handle|^insert/m);
    } else {
      // IPv4 only: both rules are IPv4 (peers-v4), so ip6tables is not run at all.
      expect(steps).toHaveLength(1);
      expect(steps[0].argv[0]).toMatch(/^iptables-/);
      expect(body(steps)).toEqual([
        // IPv4 kernel order: w-ping (1), w-unreach#1/6..#6/6 (2-7), w-rej9000 (8); w-new goes after w-ping.
        '-D MSEG-pu-web-in 8',
        '-I MSEG-pu-web-in 2 -p tcp -m set --match-set mseg-peers-v4 src -m tcp --dport 22 -m comment --comment "microseg:w-new" -j ACCEPT',
      ]);
    }
  });

  it('with positions from a read, deletions and appends at the end are single-rule edits', () => {
    const d = webFixture();
    const web = d.chains.find((c) => c.name === 'pu-web-in')!;
    web.rules = web.rules.filter((r) => r.id !== 'w-rej9000');
    web.rules.push({ id: 'w-tail', match: { srcSet: { set: 'peers-v4' }, protocol: 'tcp', dports: [{ from: 23, to: 23 }] }, verdict: { kind: 'accept' } });
    const steps = renderChanges(p, d, simulatedRead(backend, webFixture()));
    if (nft) {
      expect(body(steps)).toEqual([
        expect.stringMatching(/^delete rule inet microseg mseg-pu-web-in handle \d+$/),
        'add rule inet microseg mseg-pu-web-in ip saddr @mseg-peers-v4 tcp dport 23 counter accept comment "microseg:w-tail"',
      ]);
    } else {
      expect(text(steps)).not.toMatch(/^:MSEG-pu-web-in/m);
      expect(body(steps)).toContain('-D MSEG-pu-web-in 8');
    }
  });

  it('orphan chains and sets: rules and hooks before chains, chains before sets', () => {
    const steps = renderChanges(p, changedFixture(), p.expected!(webFixture()));
    const t = text(steps);
    const at = (re: RegExp) => t.search(re);
    if (nft) {
      expect(steps).toHaveLength(1);
      expect(at(/^flush chain inet microseg mseg-pu-web-out$/m)).toBeGreaterThan(-1);
      expect(at(/^flush chain inet microseg mseg-pu-web-out$/m)).toBeLessThan(at(/^delete chain inet microseg mseg-pu-web-out$/m));
      expect(at(/^delete chain inet microseg mseg-pu-web-out$/m)).toBeLessThan(at(/^delete set inet microseg mseg-world-v4$/m));
      // Each chain is flushed at most once.
      const flushes = t.match(/^flush chain .*$/gm)!;
      expect(new Set(flushes).size).toBe(flushes.length);
    } else {
      expect(steps.map((s) => s.argv[0])).toEqual([`iptables-${backend.slice(9)}-restore`, `ip6tables-${backend.slice(9)}-restore`, 'ipset']);
      for (const s of steps.slice(0, 2)) {
        expect(s.stdin.indexOf(':MSEG-pu-web-out - [0:0]')).toBeLessThan(s.stdin.indexOf('-X MSEG-pu-web-out'));
        expect(s.stdin).not.toMatch(/MSEG-in/);
      }
      expect(steps[2].stdin).toBe('destroy mseg-world-v4\n');
    }
  });

  it('new sets are created before the rules that use them', () => {
    const steps = renderChanges(p, webFixture(), p.expected!(changedFixture()));
    const t = text(steps);
    if (nft) expect(t.search(/^add set inet microseg mseg-world-v4 /m)).toBeLessThan(t.search(/@mseg-world-v4/));
    else {
      expect(steps[0].argv[0]).toBe('ipset');
      expect(steps[0].stdin).toMatch(/^create mseg-world-v4 hash:net family inet\nadd mseg-world-v4 0\.0\.0\.0\/1\n/);
    }
  });

  it('a set that changed family falls back to the full replace, saying so', () => {
    const live: LiveRuleset = p.expected!(webFixture());
    live.sets = live.sets.map((s) => (s.name === 'world-v4' ? { ...s, family: 6, elements: ['2001:2::/64'] } : s));
    if (nft) {
      const steps = renderChanges(p, webFixture(), live);
      expect(steps.full).toBe('set world-v4 changes family from v6 to v4');
      expect(steps[0].stdin).toContain('delete table inet microseg');
    } else {
      // The full iptables render refuses a family change itself (swap needs equal types).
      expect(() => renderChanges(p, webFixture(), live)).toThrow(ProviderError);
      expect(() => renderChanges(p, webFixture(), live)).toThrow(/changes family/);
    }
  });
});

describe('nftables-specific', () => {
  const p = providerFor('nftables');

  it('a hook reported not first (foreign base chain with lower priority) is not ours to fix: []', () => {
    const live = p.expected!(webFixture());
    live.hooks = live.hooks.map((h) => ({ ...h, first: false }));
    expect(renderChanges(p, webFixture(), live)).toEqual([]);
  });

  it('a missing base chain is added with its hook, alone', () => {
    const live = p.expected!(webFixture());
    live.chains = live.chains.filter((c) => c.name !== 'in');
    live.hooks = live.hooks.filter((h) => h.hook !== 'input');
    const lines = body(renderChanges(p, webFixture(), live));
    expect(lines[0]).toBe('add chain inet microseg mseg-in { type filter hook input priority filter; policy accept; }');
    for (const l of lines.slice(1)) expect(l).toMatch(/^add rule inet microseg mseg-in /);
  });

  it('a chain whose hook changed, or a name microseg never writes, falls back to the full replace', () => {
    const live = p.expected!(webFixture());
    live.chains = live.chains.map((c) => (c.name === 'pu-web-in' ? { ...c, hook: 'forward' as const } : c));
    expect(renderChanges(p, webFixture(), live).full).toBe('chain pu-web-in changes hook from forward to none');
    const odd = p.expected!(webFixture());
    odd.chains = [...odd.chains, { name: 'nft:handmade', ruleIds: [], foreignRules: 1 }];
    expect(renderChanges(p, webFixture(), odd).full).toBe('chain nft:handmade in our table was not written by microseg');
  });

  it('an empty host gets `add table` first', () => {
    const empty: LiveRuleset = { backend: 'nftables', sets: [], chains: [], hooks: [], fingerprint: '' };
    const lines = body(renderChanges(p, webFixture(), empty));
    expect(lines[0]).toBe('add table inet microseg');
    expect(lines[1]).toMatch(/^add set inet microseg mseg-peers-v4 \{ type ipv4_addr; flags interval; comment "pus matching role=client"; elements = \{ 198\.18\.0\.20\/32 \}; \}$/);
  });

  it('a hand-added rule in an owned chain makes that chain be rewritten whole', () => {
    const live = simulatedRead('nftables', webFixture());
    const web = live.chains.find((c) => c.name === 'pu-web-in')!;
    web.foreignRules = 1;
    const lines = body(renderChanges(p, webFixture(), live));
    expect(lines[0]).toBe('flush chain inet microseg mseg-pu-web-in');
    expect(lines.slice(1).every((l) => l.startsWith('add rule inet microseg mseg-pu-web-in '))).toBe(true);
  });
});

describe('iptables-specific', () => {
  const p = providerFor('iptables-nft');

  it('hook not first: only hook lines, in the affected family', () => {
    const live = p.expected!(webFixture());
    live.hooks = live.hooks.map((h) => (h.hook === 'input' && h.family === 4 ? { ...h, first: false } : h));
    expect(renderChanges(p, webFixture(), live)).toEqual([
      {
        argv: ['iptables-nft-restore', '--noflush', '-w', '5'],
        stdin: '*filter\n-D INPUT -m comment --comment "microseg:hook" -j MSEG-in\n-I INPUT 1 -m comment --comment "microseg:hook" -j MSEG-in\nCOMMIT\n',
      },
    ]);
  });

  it('duplicated hook and a hook to a chain microseg does not own are deleted by exact spec', () => {
    const live = p.expected!(webFixture());
    live.hooks = live.hooks.map((h) => (h.hook === 'output' && h.family === 6 ? { ...h, count: 2, targets: ['out', 'iptables:ACCEPT'] } : h));
    expect(body(renderChanges(p, webFixture(), live))).toEqual([
      '-D OUTPUT -m comment --comment "microseg:hook" -j MSEG-out',
      '-D OUTPUT -m comment --comment "microseg:hook" -j ACCEPT',
      '-I OUTPUT 1 -m comment --comment "microseg:hook" -j MSEG-out',
    ]);
  });

  it('a chain present in one family only is rewritten in the family that lacks it', () => {
    const live = simulatedRead('iptables-nft', webFixture());
    const pre = live.chains.find((c) => c.name === 'pu-web-out')!;
    pre.families = [4];
    const steps = renderChanges(p, webFixture(), live);
    expect(steps).toHaveLength(1);
    expect(steps[0].argv[0]).toBe('ip6tables-nft-restore');
    expect(steps[0].stdin).toMatch(/^\*filter\n:MSEG-pu-web-out - \[0:0\]\n/);
  });

  it('a leftover temp set is destroyed, and not twice when its set is refilled', () => {
    const live = p.expected!(webFixture());
    live.sets = [...live.sets, { name: 'peers-v4.t', family: 4, elements: [] }, { name: 'gone.t', family: 4, elements: [] }];
    const steps = renderChanges(p, withPeers(webFixture(), ['198.18.0.60/32']), live);
    expect(steps.map((s) => s.stdin).join('')).toMatch(/swap mseg-peers-v4\.t mseg-peers-v4\ndestroy mseg-peers-v4\.t\n$|destroy mseg-gone\.t\n$/);
    expect(steps[steps.length - 1].stdin).toBe('destroy mseg-gone.t\n');
  });

  it('refuses a set whose owned-looking name has a foreign type, via the full replace', () => {
    const live = p.expected!(webFixture());
    live.sets = [...live.sets, { name: 'x:hash:ip', family: 4, elements: [] }];
    expect(changesFor(p, webFixture(), live)).toEqual({ kind: 'full', reason: 'owned-looking set x:hash:ip has a type microseg never creates' });
  });
});

describe('ruleEdits', () => {
  it('keeps a longest common subsequence', () => {
    const e = ruleEdits(['a', 'b', 'c', 'd'], ['a', 'x', 'c', 'b', 'd'])!;
    expect(e.deletes + e.inserts).toBe(3); // keep a, c, d (or a, b, d): delete 1, insert 2
    expect(ruleEdits(['a', 'a'], ['a'])).toBeUndefined();
    expect(ruleEdits(['a'], ['a', 'a'])).toBeUndefined();
    expect(ruleEdits([], [])).toEqual({ keepFrom: [], keepTo: [], deletes: 0, inserts: 0 });
  });

  it('property: kept rules appear in both lists in the same order, and the counts add up', () => {
    const ids = fc.uniqueArray(fc.constantFrom(...'abcdefghijklmnop'.split('')), { maxLength: 16 });
    fc.assert(
      fc.property(ids, ids, (from, to) => {
        const e = ruleEdits(from, to)!;
        const keptFrom = from.filter((_, i) => e.keepFrom[i]);
        const keptTo = to.filter((_, j) => e.keepTo[j]);
        expect(keptFrom).toEqual(keptTo);
        expect(e.deletes).toBe(from.length - keptFrom.length);
        expect(e.inserts).toBe(to.length - keptTo.length);
        // Minimal: no common id that could extend the kept run in place is left out when lists are equal.
        if (from.join() === to.join()) expect(e.deletes + e.inserts).toBe(0);
      }),
    );
  });
});
