/**
 * One comparison per host: plan compares each host's desired state with its live read exactly
 * once (src/plan/object-diff.ts diffObjects); the plan's per-host changes, the provider's
 * transactions and apply's read-back scope all derive from that ObjectDiff. Apply compares once
 * more, on the read-back, to verify. Counted here on the in-memory firewall (no root needed).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as objectDiff from '../../../src/plan/object-diff';
import { applyPlan } from '../../../src/apply';
import { planRun } from '../../../src/plan';
import { LocalStateStore } from '../../../src/state';
import type { LiveRuleset } from '../../../providers/types';
import { BASE, NODES, configHcl } from '../../netns/reconcile-suite';
import { fakeEnv } from '../fake/reconcile-env';

describe.each(['nftables', 'iptables-nft'] as const)('%s: desired is compared with live once per applied host', (backend) => {
  let dir: string;
  const env = fakeEnv(backend);
  beforeAll(async () => {
    await env.create('cmp', NODES);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mseg-cmp-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  afterEach(() => jest.restoreAllMocks());

  async function countedRun(): Promise<{ applied: string[]; byLive: Map<LiveRuleset, number>; reads: Map<string, LiveRuleset>; calls: number }> {
    const spy = jest.spyOn(objectDiff, 'diffObjects');
    const store = new LocalStateStore(dir);
    const r = await planRun(dir, { store, connect: env.connect });
    const result = await applyPlan(r.plan!, { store, reads: r.reads, connect: env.connect });
    expect(result.ok).toBe(true);
    const byLive = new Map<LiveRuleset, number>();
    for (const [, live] of spy.mock.calls) byLive.set(live, (byLive.get(live) ?? 0) + 1);
    const reads = new Map([...r.reads].map(([e, h]) => [e, h.live!] as const));
    return { applied: result.hosts.filter((h) => h.status === 'applied').map((h) => h.enforcer), byLive, reads, calls: spy.mock.calls.length };
  }

  it('a first apply: one comparison with the plan-time read, one with the read-back, per host', async () => {
    fs.writeFileSync(path.join(dir, 'main.hcl'), configHcl(env, backend, BASE));
    const { applied, byLive, reads, calls } = await countedRun();
    expect(applied.sort()).toEqual(NODES.map((n) => n.name).sort());
    for (const e of applied) expect({ e, comparisons: byLive.get(reads.get(e)!) }).toEqual({ e, comparisons: 1 });
    expect(calls).toBe(2 * applied.length);
  });

  it('a delta (one policy edited): still one comparison with the live read per host, and none more for the transactions or the scope', async () => {
    fs.writeFileSync(path.join(dir, 'main.hcl'), configHcl(env, backend, { ...BASE, apiPorts: 'tcp/8001' }));
    const { applied, byLive, reads, calls } = await countedRun();
    expect(applied.sort()).toEqual(['api', 'web']);
    for (const e of reads.keys()) expect({ e, comparisons: byLive.get(reads.get(e)!) }).toEqual({ e, comparisons: 1 });
    // Planned hosts, then one verification per applied host.
    expect(calls).toBe(reads.size + applied.length);
  });
});
