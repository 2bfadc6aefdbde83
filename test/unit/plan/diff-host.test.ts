import { providerFor } from '../../../providers';
import { diffHost, PlanCodes, unreachableHost, type HostPlan } from '../../../src/plan';
import { chain, desiredWeb, liveOf, stateOf, withChain, withHook } from './fixtures';

/** quiet is a HostPlan with nothing to do, to compare whole plans against. */
function quiet(over: Partial<HostPlan> = {}): HostPlan {
  return { enforcer: 'web-1', backend: 'nftables', action: 'noop', reachable: true, live_fingerprint: 'fp-web-1', sets: [], chains: [], hooks: [], drift: [], orphans: [], ...over };
}

describe('diffHost: no change', () => {
  it('is a noop when desired, live and state agree', () => {
    const d = desiredWeb();
    const live = liveOf(d);
    expect(diffHost(d, live, stateOf(live))).toEqual(quiet());
  });

  it('a set comment nftables holds that differs is a replace (nft cannot re-comment a set); iptables keeps none', () => {
    const d = desiredWeb();
    const live = liveOf(desiredWeb({ sets: d.sets.map((s) => ({ name: s.name, family: s.family, elements: s.elements })) }));
    const p = diffHost(d, live, stateOf(live));
    expect(p.sets).toEqual([{ name: 'ext-dns', family: 4, action: 'replace', added: ['198.18.1.0/24'], removed: ['198.18.1.0/24'] }]);
    const ipt = { ...providerFor('iptables-nft').expected(d), fingerprint: 'f' };
    expect(diffHost(d, ipt, stateOf(ipt)).action).toBe('noop');
  });

  it('re-applies (update, nothing else) a host whose last apply failed, even when live already matches', () => {
    const d = desiredWeb();
    const live = liveOf(d);
    expect(diffHost(d, live, stateOf(live, 'failed'))).toEqual(quiet({ action: 'update' }));
  });
});

describe('diffHost: set members', () => {
  it('a member added in desired is one set update, nothing else', () => {
    const before = desiredWeb();
    const live = liveOf(before);
    const after = desiredWeb({ sets: [before.sets[0], { name: 'pu-web', family: 4, elements: ['198.18.0.2/32', '198.18.0.3/32', '198.18.0.4/32'] }] });
    expect(diffHost(after, live, stateOf(live))).toEqual(
      quiet({ action: 'update', sets: [{ name: 'pu-web', family: 4, action: 'update', added: ['198.18.0.4/32'], removed: [] }] }),
    );
  });

  it('a member removed in desired is one set update', () => {
    const before = desiredWeb();
    const live = liveOf(before);
    const after = desiredWeb({ sets: [before.sets[0], { name: 'pu-web', family: 4, elements: ['198.18.0.3/32'] }] });
    const p = diffHost(after, live, stateOf(live));
    expect(p.sets).toEqual([{ name: 'pu-web', family: 4, action: 'update', added: [], removed: ['198.18.0.2/32'] }]);
    expect(p.chains).toEqual([]);
    expect(p.drift).toEqual([]);
  });

  it('a member changed by hand on the host is drift, and the plan puts it back', () => {
    const d = desiredWeb();
    const applied = liveOf(d);
    const live = { ...applied, sets: applied.sets.map((s) => (s.name === 'pu-web' ? { ...s, elements: ['198.18.0.2/32', '198.18.0.9/32'] } : s)), fingerprint: 'fp-2' };
    const p = diffHost(d, live, stateOf(applied));
    expect(p.action).toBe('update');
    expect(p.sets).toEqual([{ name: 'pu-web', family: 4, action: 'update', added: ['198.18.0.3/32'], removed: ['198.18.0.9/32'] }]);
    expect(p.drift).toEqual([
      { kind: 'set-member-changed', object: 'set pu-web', detail: 'added outside microseg: 198.18.0.9/32; removed outside microseg: 198.18.0.3/32' },
    ]);
  });

  it('a set deleted by hand is drift (set-missing) and is created again', () => {
    const d = desiredWeb();
    const applied = liveOf(d);
    const live = { ...applied, sets: applied.sets.filter((s) => s.name !== 'ext-dns') };
    const p = diffHost(d, live, stateOf(applied));
    expect(p.sets).toEqual([{ name: 'ext-dns', family: 4, action: 'create', added: ['198.18.1.0/24'], removed: [] }]);
    expect(p.drift).toEqual([{ kind: 'set-missing', object: 'set ext-dns', detail: 'set ext-dns with 1 member(s) is gone' }]);
  });

  it('a family change is a replace', () => {
    const before = desiredWeb();
    const live = liveOf(before);
    const after = desiredWeb({ sets: [{ name: 'ext-dns', family: 6, elements: ['2001:db8::/64'] }, before.sets[1]] });
    expect(diffHost(after, live, stateOf(live)).sets).toEqual([
      { name: 'ext-dns', family: 6, action: 'replace', added: ['2001:db8::/64'], removed: ['198.18.1.0/24'] },
    ]);
  });
});

describe('diffHost: rules in one chain', () => {
  const base = desiredWeb();
  const live = liveOf(base);
  const state = stateOf(live);
  const withPu = (ids: string[]) => desiredWeb({ chains: [base.chains[0], base.chains[1], chain('pu-web', ids)] });

  it('a rule added changes only that chain', () => {
    expect(diffHost(withPu(['p1', 'p2', 'p4', 'p3']), live, state)).toEqual(
      quiet({ action: 'update', chains: [{ name: 'pu-web', action: 'update', rules_added: ['p4'], rules_removed: [], reordered: false, rules_changed: [], foreign_rules_removed: 0 }] }),
    );
  });

  it('a rule removed changes only that chain', () => {
    expect(diffHost(withPu(['p1', 'p3']), live, state).chains).toEqual([
      { name: 'pu-web', action: 'update', rules_added: [], rules_removed: ['p2'], reordered: false, rules_changed: [], foreign_rules_removed: 0 },
    ]);
  });

  it('rules reordered change only that chain, with reordered=true', () => {
    const p = diffHost(withPu(['p2', 'p1', 'p3']), live, state);
    expect(p.chains).toEqual([{ name: 'pu-web', action: 'update', rules_added: [], rules_removed: [], reordered: true, rules_changed: [], foreign_rules_removed: 0 }]);
    expect(p.sets).toEqual([]);
    expect(p.hooks).toEqual([]);
  });

  it('a new chain is created with all its rules, and a chain state owns but desired drops is deleted', () => {
    const d = desiredWeb({ chains: [base.chains[0], base.chains[1], chain('pu-api', ['a1', 'a2'])] });
    expect(diffHost(d, live, state).chains).toEqual([
      { name: 'pu-api', action: 'create', rules_added: ['a1', 'a2'], rules_removed: [], reordered: false, rules_changed: [], foreign_rules_removed: 0 },
      { name: 'pu-web', action: 'delete', rules_added: [], rules_removed: ['p1', 'p2', 'p3'], reordered: false, rules_changed: [], foreign_rules_removed: 0 },
    ]);
  });

  it('a chain whose hook changes is replaced', () => {
    const d = desiredWeb({ chains: [chain('in', ['i-est', 'i-web'], 'forward'), base.chains[1], base.chains[2]] });
    const p = diffHost(d, live, state);
    expect(p.chains).toEqual([{ name: 'in', action: 'replace', rules_added: [], rules_removed: [], reordered: false, rules_changed: [], foreign_rules_removed: 0 }]);
    expect(p.hooks).toEqual([
      { hook: 'forward', family: 4, action: 'create', reason: 'missing' },
      { hook: 'forward', family: 6, action: 'create', reason: 'missing' },
      { hook: 'input', family: 4, action: 'delete', reason: 'not-desired' },
      { hook: 'input', family: 6, action: 'delete', reason: 'not-desired' },
    ]);
  });

  it('a rule id present twice on the host is removed once', () => {
    const dup = withChain(live, 'pu-web', (c) => ({ ...c, ruleIds: ['p1', 'p2', 'p2', 'p3'] }));
    const p = diffHost(base, dup, state);
    expect(p.chains).toEqual([{ name: 'pu-web', action: 'update', rules_added: [], rules_removed: ['p2'], reordered: false, rules_changed: [], foreign_rules_removed: 0 }]);
    expect(p.drift).toEqual([{ kind: 'rule-unexpected', object: 'rule p2 in chain pu-web', detail: 'rule p2 is present but was not applied by microseg' }]);
  });
});

describe('diffHost: hooks', () => {
  const d = desiredWeb();
  const applied = liveOf(d);
  const state = stateOf(applied);

  it('a hook removed by hand: create it again, and report hook-missing drift', () => {
    const live = withHook(applied, 'input', 4, (h) => ({ ...h, present: false, first: false, count: 0 }));
    const p = diffHost(d, live, state);
    expect(p.action).toBe('update');
    expect(p.hooks).toEqual([{ hook: 'input', family: 4, action: 'create', reason: 'missing' }]);
    expect(p.drift).toEqual([{ kind: 'hook-missing', object: 'hook input/ipv4', detail: 'no jump to microseg from the input hook (ipv4)' }]);
    expect(p.chains).toEqual([]);
  });

  it('a hook no longer first (a rule inserted before it): move it, hook-not-first drift', () => {
    const live = withHook(applied, 'output', 6, (h) => ({ ...h, first: false }));
    const p = diffHost(d, live, state);
    expect(p.hooks).toEqual([{ hook: 'output', family: 6, action: 'update', reason: 'not-first' }]);
    expect(p.drift).toEqual([{ kind: 'hook-not-first', object: 'hook output/ipv6', detail: 'another rule or base chain runs before microseg at this hook' }]);
  });

  it('a duplicated hook: dedupe it, hook-duplicated drift', () => {
    const live = withHook(applied, 'input', 6, (h) => ({ ...h, count: 2 }));
    const p = diffHost(d, live, state);
    expect(p.hooks).toEqual([{ hook: 'input', family: 6, action: 'update', reason: 'duplicated' }]);
    expect(p.drift).toEqual([{ kind: 'hook-duplicated', object: 'hook input/ipv6', detail: '2 microseg:hook rules' }]);
  });

  it('a hook jumping to the wrong chain is fixed', () => {
    const live = withHook(applied, 'input', 4, (h) => ({ ...h, targets: ['out'] }));
    expect(diffHost(d, live, state).hooks).toEqual([{ hook: 'input', family: 4, action: 'update', reason: 'wrong-target' }]);
  });
});

describe('diffHost: drift in chains', () => {
  const d = desiredWeb();
  const applied = liveOf(d);
  const state = stateOf(applied);

  it('a chain flushed by hand is chain-flushed drift and its rules are re-added', () => {
    const live = withChain(applied, 'pu-web', (c) => ({ ...c, ruleIds: [] }));
    const p = diffHost(d, live, state);
    expect(p.drift).toEqual([{ kind: 'chain-flushed', object: 'chain pu-web', detail: 'all 3 microseg rule(s) are gone: p1, p2, p3' }]);
    expect(p.chains).toEqual([{ name: 'pu-web', action: 'update', rules_added: ['p1', 'p2', 'p3'], rules_removed: [], reordered: false, rules_changed: [], foreign_rules_removed: 0 }]);
  });

  it('a chain deleted by hand is chain-missing drift and is created again', () => {
    const live = { ...applied, chains: applied.chains.filter((c) => c.name !== 'pu-web') };
    const p = diffHost(d, live, state);
    expect(p.drift).toEqual([{ kind: 'chain-missing', object: 'chain pu-web', detail: 'chain pu-web with 3 rule(s) is gone' }]);
    expect(p.chains.map((c) => `${c.name}:${c.action}`)).toEqual(['pu-web:create']);
  });

  it('one rule deleted and one unknown added by hand: rule-missing and rule-unexpected', () => {
    const live = withChain(applied, 'pu-web', (c) => ({ ...c, ruleIds: ['p1', 'zz', 'p3'] }));
    const p = diffHost(d, live, state);
    expect(p.drift).toEqual([
      { kind: 'rule-unexpected', object: 'rule zz in chain pu-web', detail: 'rule zz is present but was not applied by microseg' },
      { kind: 'rule-missing', object: 'rule p2 in chain pu-web', detail: 'rule p2 was applied and is gone' },
    ]);
    expect(p.chains).toEqual([{ name: 'pu-web', action: 'update', rules_added: ['p2'], rules_removed: ['zz'], reordered: false, rules_changed: [], foreign_rules_removed: 0 }]);
  });

  it('rules reordered by hand are rules-reordered drift', () => {
    const live = withChain(applied, 'in', (c) => ({ ...c, ruleIds: ['i-web', 'i-est'] }));
    const p = diffHost(d, live, state);
    expect(p.drift).toEqual([{ kind: 'rules-reordered', object: 'chain in', detail: 'applied order i-est,i-web; live order i-web,i-est' }]);
    expect(p.chains).toEqual([{ name: 'in', action: 'update', rules_added: [], rules_removed: [], reordered: true, rules_changed: [], foreign_rules_removed: 0 }]);
  });

  it('a foreign rule in an owned chain is drift, and the rewrite removes it', () => {
    const live = withChain(applied, 'in', (c) => ({ ...c, foreignRules: 1 }));
    const p = diffHost(d, live, state);
    expect(p.drift).toEqual([{ kind: 'foreign-rule-in-owned-chain', object: 'chain in', detail: '1 rule(s) without a microseg comment' }]);
    expect(p.chains).toEqual([{ name: 'in', action: 'update', rules_added: [], rules_removed: [], reordered: false, rules_changed: [], foreign_rules_removed: 1 }]);
  });

  it('iptables: a chain present in iptables but gone from ip6tables (provider projection with families)', () => {
    const expected = { ...applied, backend: 'iptables-nft' as const, chains: applied.chains.map((c) => ({ ...c, families: [4, 6] as Array<4 | 6> })) };
    const live = withChain(expected, 'pu-web', (c) => ({ ...c, families: [4] }));
    const p = diffHost(d, live, stateOf(expected), { expected });
    expect(p.backend).toBe('iptables-nft');
    expect(p.drift).toEqual([{ kind: 'chain-missing', object: 'chain pu-web', detail: 'missing in ipv6' }]);
    expect(p.chains).toEqual([{ name: 'pu-web', action: 'update', rules_added: [], rules_removed: [], reordered: false, rules_changed: [], foreign_rules_removed: 0 }]);
    expect(diffHost(d, expected, stateOf(expected), { expected }).action).toBe('noop');
  });
});

describe('diffHost: orphans', () => {
  const d = desiredWeb();
  const applied = liveOf(d);

  it('an owned-prefix chain and set nobody claims are orphans, not deletes', () => {
    const live = {
      ...applied,
      chains: [...applied.chains, { name: 'pu-old', ruleIds: ['x1'], foreignRules: 0 }],
      sets: [...applied.sets, { name: 'ext-old', family: 4 as const, elements: ['198.19.0.0/16'] }],
    };
    const p = diffHost(d, live, stateOf(applied));
    expect(p.action).toBe('update');
    expect(p.orphans).toEqual([
      { kind: 'chain', name: 'pu-old' },
      { kind: 'set', name: 'ext-old' },
    ]);
    expect(p.chains).toEqual([]);
    expect(p.sets).toEqual([]);
    expect(p.drift).toEqual([]);
  });

  it('an orphan hook (e.g. forward, from an old install) is reported', () => {
    const live = { ...applied, hooks: [...applied.hooks, { hook: 'forward' as const, family: 4 as const, present: true, first: true, count: 1 }] };
    expect(diffHost(d, live, stateOf(applied)).orphans).toEqual([{ kind: 'hook', name: 'forward/ipv4' }]);
  });

  it('without any state, what desired does not claim is an orphan; what it does is compared', () => {
    const live = withChain({ ...applied, chains: [...applied.chains, { name: 'pu-old', ruleIds: [], foreignRules: 0 }] }, 'pu-web', (c) => ({ ...c, ruleIds: ['p1'] }));
    const p = diffHost(d, live, undefined);
    expect(p.action).toBe('create');
    expect(p.drift).toEqual([]);
    expect(p.orphans).toEqual([{ kind: 'chain', name: 'pu-old' }]);
    expect(p.chains).toEqual([{ name: 'pu-web', action: 'update', rules_added: ['p2', 'p3'], rules_removed: [], reordered: false, rules_changed: [], foreign_rules_removed: 0 }]);
  });
});

describe('diffHost: new hosts, lost state, backend change', () => {
  it('a new host with an empty kernel: create everything', () => {
    const d = desiredWeb();
    const empty = { backend: 'nftables' as const, sets: [], chains: [], hooks: [], fingerprint: 'fp-empty' };
    const p = diffHost(d, empty, undefined);
    expect(p.action).toBe('create');
    expect(p.live_fingerprint).toBe('fp-empty');
    expect(p.sets.map((s) => `${s.action} ${s.name} +${s.added.length}`)).toEqual(['create ext-dns +1', 'create pu-web +2']);
    expect(p.chains.map((c) => `${c.action} ${c.name} +${c.rules_added.join(',')}`)).toEqual(['create in +i-est,i-web', 'create out +o-est', 'create pu-web +p1,p2,p3']);
    expect(p.hooks).toHaveLength(4);
    expect(p.hooks.every((h) => h.action === 'create' && h.reason === 'missing')).toBe(true);
  });

  it('state lost but the host already matches: create (record it) with no kernel change', () => {
    const d = desiredWeb();
    expect(diffHost(d, liveOf(d), undefined)).toEqual(quiet({ action: 'create' }));
  });

  it('state recorded another backend: update with previous_backend', () => {
    const d = desiredWeb();
    const live = liveOf(d);
    const p = diffHost(d, live, { ...stateOf(live), backend: 'iptables-legacy' });
    expect(p).toEqual(quiet({ action: 'update', previous_backend: 'iptables-legacy' }));
  });
});

describe('diffHost: decommission', () => {
  it('removes everything owned; unclaimed leftovers are orphans', () => {
    const applied = liveOf(desiredWeb());
    const live = { ...applied, sets: [...applied.sets, { name: 'stray', family: 6 as const, elements: [] }] };
    const p = diffHost(undefined, live, stateOf(applied), { enforcer: 'web-1' });
    expect(p.enforcer).toBe('web-1');
    expect(p.action).toBe('delete');
    expect(p.sets).toEqual([
      { name: 'ext-dns', family: 4, action: 'delete', added: [], removed: ['198.18.1.0/24'] },
      { name: 'pu-web', family: 4, action: 'delete', added: [], removed: ['198.18.0.2/32', '198.18.0.3/32'] },
    ]);
    expect(p.chains.map((c) => `${c.action} ${c.name} -${c.rules_removed.join(',')}`)).toEqual(['delete in -i-est,i-web', 'delete out -o-est', 'delete pu-web -p1,p2,p3']);
    expect(p.hooks).toEqual([
      { hook: 'input', family: 4, action: 'delete', reason: 'not-desired' },
      { hook: 'input', family: 6, action: 'delete', reason: 'not-desired' },
      { hook: 'output', family: 4, action: 'delete', reason: 'not-desired' },
      { hook: 'output', family: 6, action: 'delete', reason: 'not-desired' },
    ]);
    expect(p.orphans).toEqual([{ kind: 'set', name: 'stray' }]);
    expect(p.drift).toEqual([]);
  });

  it('a host already clean but still in state is a delete (drop it from state)', () => {
    const empty = { backend: 'nftables' as const, sets: [], chains: [], hooks: [], fingerprint: 'fp-empty' };
    const p = diffHost(undefined, empty, { ...stateOf(empty), status: 'pending-cleanup' }, { enforcer: 'web-1' });
    expect(p).toEqual(quiet({ action: 'delete', live_fingerprint: 'fp-empty' }));
  });

  it('a clean host with no state is a noop', () => {
    const empty = { backend: 'nftables' as const, sets: [], chains: [], hooks: [], fingerprint: 'fp-empty' };
    expect(diffHost(undefined, empty, undefined, { enforcer: 'web-1' }).action).toBe('noop');
  });
});

describe('unreachableHost', () => {
  it('a configured host that cannot be read: reachable=false, nothing planned, an error naming it', () => {
    const { host, diagnostic } = unreachableHost('web-1', desiredWeb(), undefined, 'ssh: connect to host 198.18.0.5 port 22: Connection timed out');
    expect(host).toEqual(quiet({ reachable: false, live_fingerprint: '' }));
    expect(diagnostic.severity).toBe('error');
    expect(diagnostic.code).toBe(PlanCodes.hostUnreachable);
    expect(diagnostic.summary).toBe('Cannot read the ruleset of enforcer "web-1"');
    expect(diagnostic.detail).toContain('Connection timed out');
  });

  it('a decommissioned host that cannot be reached stays pending cleanup, with a warning', () => {
    const applied = liveOf(desiredWeb());
    const { host, diagnostic } = unreachableHost('web-1', undefined, { ...stateOf(applied), backend: 'iptables-nft' }, 'no route to host');
    expect(host).toEqual(quiet({ reachable: false, live_fingerprint: '', action: 'cleanup-pending', backend: 'iptables-nft' }));
    expect(diagnostic.severity).toBe('warning');
    expect(diagnostic.code).toBe(PlanCodes.cleanupPending);
    expect(diagnostic.detail).toContain('pending cleanup');
  });
});
