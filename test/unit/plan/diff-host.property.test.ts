/**
 * Properties of diffHost over random hosts: the reported changes are exactly what turns live into
 * desired, every live object is accounted for (desired, state, or orphan), and a host that was
 * just applied plans as a noop (plan(apply(plan)) is empty).
 */
import fc from 'fast-check';
import type { DesiredRuleset } from '../../../src/compile/ir';
import type { LiveRuleset } from '../../../providers/types';
import { diffHost } from '../../../src/plan';
import { chain, liveOf, stateOf } from './fixtures';

const setName = fc.constantFrom('s-a', 's-b', 's-c', 's-d');
const chainName = fc.constantFrom('in', 'out', 'pu-a', 'pu-b', 'pu-c');
const cidr = fc.constantFrom('198.18.0.1/32', '198.18.0.2/32', '198.18.1.0/24', '198.19.0.0/16');
const ruleIds = fc.array(fc.constantFrom('r1', 'r2', 'r3', 'r4', 'r5'), { maxLength: 5 });
const hookFor = (name: string) => (name === 'in' ? ('input' as const) : name === 'out' ? ('output' as const) : undefined);

const desiredArb: fc.Arbitrary<DesiredRuleset> = fc
  .record({
    sets: fc.uniqueArray(fc.record({ name: setName, elements: fc.uniqueArray(cidr) }), { selector: (s) => s.name }),
    chains: fc.uniqueArray(fc.record({ name: chainName, ids: fc.uniqueArray(fc.constantFrom('r1', 'r2', 'r3', 'r4', 'r5')) }), { selector: (c) => c.name }),
  })
  .map(({ sets, chains }) => ({
    enforcer: 'web-1',
    sets: sets.map((s) => ({ name: s.name, family: 4 as const, elements: [...s.elements].sort() })),
    chains: chains.map((c) => chain(c.name, c.ids, hookFor(c.name))),
    diagnostics: [],
  }));

/** A live host: some desired-like state, then mangled by hand (ids duplicated, foreign rules, hooks off). */
const liveArb: fc.Arbitrary<LiveRuleset> = fc
  .record({ base: desiredArb, extraIds: fc.array(fc.tuple(chainName, ruleIds), { maxLength: 3 }), foreign: fc.nat(2), notFirst: fc.boolean() })
  .map(({ base, extraIds, foreign, notFirst }) => {
    const live = liveOf(base, 'fp');
    return {
      ...live,
      chains: live.chains.map((c, i) => ({
        ...c,
        ruleIds: [...c.ruleIds, ...extraIds.filter(([n]) => n === c.name).flatMap(([, ids]) => ids)],
        foreignRules: i === 0 ? foreign : 0,
      })),
      hooks: live.hooks.map((h, i) => (i === 0 && notFirst ? { ...h, first: false } : h)),
    };
  });

function count(xs: readonly string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const x of xs) m.set(x, (m.get(x) ?? 0) + 1);
  return m;
}

describe('diffHost properties', () => {
  it('applying the reported rule and member changes to live yields desired', () => {
    fc.assert(
      fc.property(desiredArb, liveArb, fc.option(liveArb, { nil: undefined }), (desired, live, stateLive) => {
        const plan = diffHost(desired, live, stateLive ? stateOf(stateLive) : undefined);
        for (const want of desired.chains) {
          const have = live.chains.find((c) => c.name === want.name);
          const change = plan.chains.find((c) => c.name === want.name);
          const after = count(have?.ruleIds ?? []);
          for (const id of change?.rules_removed ?? []) after.set(id, after.get(id)! - 1);
          for (const id of change?.rules_added ?? []) after.set(id, (after.get(id) ?? 0) + 1);
          for (const [k, v] of [...after]) if (v === 0) after.delete(k);
          expect(after).toEqual(count(want.rules.map((r) => r.id)));
          if (!change) expect(have?.ruleIds).toEqual(want.rules.map((r) => r.id));
        }
        for (const want of desired.sets) {
          const have = live.sets.find((s) => s.name === want.name);
          const change = plan.sets.find((s) => s.name === want.name);
          const after = new Set((have?.elements ?? []).filter((e) => !(change?.removed ?? []).includes(e)));
          for (const e of change?.added ?? []) after.add(e);
          expect([...after].sort()).toEqual([...want.elements].sort());
        }
      }),
      { numRuns: 300 },
    );
  });

  it('every live object is desired, claimed by state, or an orphan, and never two of desired/orphan', () => {
    fc.assert(
      fc.property(desiredArb, liveArb, fc.option(liveArb, { nil: undefined }), (desired, live, stateLive) => {
        const plan = diffHost(desired, live, stateLive ? stateOf(stateLive) : undefined);
        const orphanChains = new Set(plan.orphans.filter((o) => o.kind === 'chain').map((o) => o.name));
        const orphanSets = new Set(plan.orphans.filter((o) => o.kind === 'set').map((o) => o.name));
        for (const c of live.chains) {
          const desiredHas = desired.chains.some((d) => d.name === c.name);
          const stateHas = stateLive?.chains.some((s) => s.name === c.name) ?? false;
          expect(orphanChains.has(c.name)).toBe(!desiredHas && !stateHas);
          if (!desiredHas && stateHas) expect(plan.chains.find((x) => x.name === c.name)?.action).toBe('delete');
        }
        for (const s of live.sets) {
          const claimed = desired.sets.some((d) => d.name === s.name) || (stateLive?.sets.some((x) => x.name === s.name) ?? false);
          expect(orphanSets.has(s.name)).toBe(!claimed);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('plan(apply(plan)) is empty: a host just applied and recorded is a noop', () => {
    fc.assert(
      fc.property(desiredArb, (desired) => {
        const live = liveOf(desired);
        const plan = diffHost(desired, live, stateOf(live));
        expect(plan.action).toBe('noop');
        expect([plan.sets, plan.chains, plan.hooks, plan.drift, plan.orphans]).toEqual([[], [], [], [], []]);
      }),
      { numRuns: 200 },
    );
  });

  it('decommission leaves nothing behind: every live set, chain and hook is deleted or an orphan', () => {
    fc.assert(
      fc.property(liveArb, fc.option(liveArb, { nil: undefined }), (live, stateLive) => {
        const plan = diffHost(undefined, live, stateLive ? stateOf(stateLive) : undefined, { enforcer: 'web-1' });
        for (const c of live.chains) {
          expect(plan.chains.some((x) => x.name === c.name && x.action === 'delete') || plan.orphans.some((o) => o.kind === 'chain' && o.name === c.name)).toBe(true);
        }
        for (const s of live.sets) {
          expect(plan.sets.some((x) => x.name === s.name && x.action === 'delete') || plan.orphans.some((o) => o.kind === 'set' && o.name === s.name)).toBe(true);
        }
        for (const h of live.hooks.filter((x) => x.present)) {
          const name = `${h.hook}/ipv${h.family}`;
          expect(plan.hooks.some((x) => x.hook === h.hook && x.family === h.family && x.action === 'delete') || plan.orphans.some((o) => o.kind === 'hook' && o.name === name)).toBe(true);
        }
        expect(plan.chains.every((c) => c.action === 'delete') && plan.sets.every((s) => s.action === 'delete')).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
});
