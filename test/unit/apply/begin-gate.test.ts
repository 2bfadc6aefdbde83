/**
 * Apply's `begin` gate: a host's transactions are handed to its transport before the `begin`
 * journal entry is durable (so a process or ssh session can start meanwhile), but nothing reaches
 * the host until it is. A `begin` that cannot be written stops the run with nothing sent; an
 * interruption while it is written leaves the host not started. On the in-memory firewall.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { applyPlan } from '../../../src/apply';
import { planRun } from '../../../src/plan';
import { LocalStateStore, type JournalEntry } from '../../../src/state';
import { DiagnosticsError } from '../../../src/diagnostics';
import { BASE, NODES, configHcl } from '../../netns/reconcile-suite';
import { fakeEnv } from '../fake/reconcile-env';

/** A store whose `begin` entries wait until `release` is called (or fail with `fail`). */
class HeldBeginStore extends LocalStateStore {
  private waiting: Array<{ go: () => void; no: (e: unknown) => void }> = [];
  private reachedBegin!: () => void;
  /** Resolves when the first `begin` is being written (and held). */
  readonly begun = new Promise<void>((r) => (this.reachedBegin = r));

  override async journal(entry: JournalEntry): Promise<void> {
    if (entry.phase === 'begin') {
      const held = new Promise<void>((go, no) => this.waiting.push({ go, no }));
      this.reachedBegin();
      await held;
    }
    return super.journal(entry);
  }

  release(): void {
    for (const w of this.waiting.splice(0)) w.go();
  }

  fail(e: unknown): void {
    for (const w of this.waiting.splice(0)) w.no(e);
  }
}

describe('the begin journal entry gates what reaches the host', () => {
  const env = fakeEnv('nftables');
  const nodes = NODES.slice(0, 1);
  let dir: string;
  beforeEach(async () => {
    await env.create('gate', nodes);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mseg-gate-'));
    fs.writeFileSync(path.join(dir, 'main.hcl'), configHcl(env, 'nftables', { ...BASE, hosts: nodes.map((n) => n.name) }));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  async function planned(store: LocalStateStore) {
    const r = await planRun(dir, { store, connect: env.connect });
    expect(r.plan!.hosts.map((h) => h.action)).toEqual(['create']);
    return r;
  }

  it('sends nothing while begin is being written, then applies and journals begin before verified', async () => {
    const store = new HeldBeginStore(dir);
    const r = await planned(store);
    const run = applyPlan(r.plan!, { store, reads: r.reads, connect: env.connect });
    await store.begun;
    for (let i = 0; i < 50; i++) await new Promise((res) => setImmediate(res));
    expect(env.fake().transactions).toEqual([]);
    store.release();
    const result = await run;
    expect(result.hosts.map((h) => h.status)).toEqual(['applied']);
    expect(env.fake().transactions.length).toBeGreaterThan(0);
    expect((await store.readJournal()).map((j) => j.phase)).toEqual(['begin', 'verified']);
  });

  it('a begin that cannot be written stops the run with nothing sent and no later journal entry', async () => {
    const store = new HeldBeginStore(dir);
    const r = await planned(store);
    const run = applyPlan(r.plan!, { store, reads: r.reads, connect: env.connect });
    await store.begun;
    store.fail(new DiagnosticsError([{ severity: 'error', code: 'MSEG8020', summary: 'Cannot write the apply journal' }], 'tool'));
    await expect(run).rejects.toThrow(/Cannot write the apply journal/);
    expect(env.fake().transactions).toEqual([]);
    expect(await store.readJournal()).toEqual([]);
    expect(await store.load()).toBeUndefined();
  });

  it('an interruption while begin is written leaves the host not started and untouched', async () => {
    const store = new HeldBeginStore(dir);
    const r = await planned(store);
    const stop = new AbortController();
    const run = applyPlan(r.plan!, { store, reads: r.reads, connect: env.connect, signal: stop.signal });
    await store.begun;
    stop.abort();
    store.release();
    const result = await run;
    expect(result.interrupted).toBe(true);
    expect(result.hosts.map((h) => [h.status, h.transactions.length])).toEqual([['not-started', 0]]);
    expect(env.fake().transactions).toEqual([]);
    expect((await store.readJournal()).map((j) => j.phase)).toEqual(['begin', 'failed']);
  });
});
