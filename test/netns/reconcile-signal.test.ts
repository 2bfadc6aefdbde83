/**
 * SIGINT and SIGTERM during `apply` and `plan`, on a real kernel (nftables), at many moments.
 *
 * The CLI runs as a child process in its own process group (compiled once with tsc into a temp
 * dir) over four netns enforcers, one host at a time. An `nft` wrapper first on PATH sleeps a
 * little before every `nft -f`, so each host's transaction is in flight long enough to be hit.
 * The sweep sends the signal at moments counted from the start (locking, planning) and from the
 * k-th host's journal `begin` (a host in flight), sometimes to the process alone (`kill PID`, as
 * systemd or a supervisor does) and sometimes to its whole group (Ctrl-C on a terminal, which
 * also kills the `nft` in flight), and twice with a second signal that forces the exit. After
 * every run:
 *
 * - no lock file is left, and the exit code is 130 / 143 (or 0 when the run was already done);
 * - every host's state record matches what its kernel holds: `plan` shows no drift, and shows a
 *   change exactly for the hosts whose state does not say `applied` (the remaining work);
 * - after a single signal, every host begun has a closing journal entry (no MSEG8213);
 * - a follow-up `apply` converges and the next plan is empty.
 *
 * At the end real packets go through the converged hosts: a → b tcp/80 open, b → a refused.
 * `plan`'s own lock is checked the same way: SIGINT/SIGTERM while it reads leaves no lock.
 *
 * Addresses: a..d 198.18.0.61–64 (harness.ts conventions).
 */
import { spawn, spawnSync, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { LocalStateStore } from '../../src/state';
import { Topology, describeAsRoot } from './harness';
import { cli } from './reconcile-suite';
import { buildOnce, childEnv, cliArgs } from '../support/build-cli';

const NAMES = ['a', 'b', 'c', 'd'];

interface Moment {
  /** Count from the child's start, or from the k-th journal `begin` of this run. */
  after: 'start' | number;
  ms: number;
  sig: 'SIGINT' | 'SIGTERM';
  /** Send to the whole process group (Ctrl-C) rather than the process alone. */
  group: boolean;
  /** Send the signal again this long after the first (a forced exit). */
  again?: number;
}

const SWEEP: Moment[] = [
  { after: 'start', ms: 50, sig: 'SIGINT', group: true },
  { after: 'start', ms: 400, sig: 'SIGTERM', group: false },
  { after: 'start', ms: 900, sig: 'SIGINT', group: false },
  { after: 1, ms: 0, sig: 'SIGINT', group: true },
  { after: 1, ms: 150, sig: 'SIGTERM', group: false },
  { after: 2, ms: 50, sig: 'SIGTERM', group: true },
  { after: 2, ms: 300, sig: 'SIGINT', group: false },
  { after: 3, ms: 100, sig: 'SIGINT', group: true },
  { after: 3, ms: 500, sig: 'SIGTERM', group: false },
  { after: 4, ms: 20, sig: 'SIGTERM', group: false },
  { after: 4, ms: 200, sig: 'SIGINT', group: true },
  { after: 2, ms: 50, sig: 'SIGINT', group: false, again: 30 },
  { after: 3, ms: 100, sig: 'SIGTERM', group: true, again: 10 },
];

describeAsRoot('reconcile on a real kernel: SIGINT and SIGTERM during apply and plan', () => {
  let topo: Topology;
  let tmp: string;
  let dir: string;
  let mainJs: string;
  let wrapDir: string;

  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mseg-sig-'));
    dir = path.join(tmp, 'cfg');
    fs.mkdirSync(dir);
    mainJs = buildOnce().mainJs;
    const realNft = spawnSync('sh', ['-c', 'command -v nft'], { encoding: 'utf8' }).stdout.trim();
    wrapDir = path.join(tmp, 'wrap');
    fs.mkdirSync(wrapDir);
    fs.writeFileSync(path.join(wrapDir, 'nft'), `#!/bin/sh\nif [ "$1" = "-f" ] && [ -n "$MSEG_TEST_SLOW" ]; then sleep 0.4; fi\nexec ${realNft} "$@"\n`, { mode: 0o755 });
    topo = await Topology.create(
      'rsig',
      NAMES.map((n, i) => ({ name: n, v4: `198.18.0.${61 + i}`, v6: `2001:2::${61 + i}` })),
    );
    const hcl = ['namespace "/s" {', '  default_incoming_action = "reject"', '  default_outgoing_action = "reject"', '}'];
    NAMES.forEach((n, i) => {
      hcl.push(
        `enforcer "${n}" {`,
        '  namespace = "/s"',
        '  backend = "nftables"',
        `  connection {\n    type  = "netns"\n    netns = "${topo.nsName(n)}"\n  }`,
        '}',
        `processing_unit "${n}" {\n  namespace = "/s"\n  enforcer = enforcer.${n}.name\n  addresses = ["198.18.0.${61 + i}"]\n  tags = ["app=${n}"]\n}`,
      );
    });
    hcl.push('network_policy "a-to-b" {\n  namespace = "/s"\n  subject = [["app=a"]]\n  object = [["app=b"]]\n  ports = ["tcp/80"]\n}');
    fs.writeFileSync(path.join(dir, 'main.hcl'), hcl.join('\n') + '\n');
  }, 600_000);

  afterAll(async () => {
    await topo?.teardown();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  /** reset: no state, and no microseg table on any host. */
  async function reset(): Promise<void> {
    fs.rmSync(path.join(dir, '.microseg'), { recursive: true, force: true });
    for (const n of NAMES) await topo.exec(n, ['nft', 'delete', 'table', 'inet', 'microseg']);
  }

  function start(args: string[]): { child: ChildProcess; done: Promise<{ code: number | null; signal: NodeJS.Signals | null; err: string; out: string }> } {
    const child = spawn(process.execPath, cliArgs(mainJs, args), {
      detached: true, // its own process group, as a shell job is: the group signal is Ctrl-C
      stdio: ['ignore', 'pipe', 'pipe'],
      env: childEnv({ PATH: `${wrapDir}:${process.env.PATH}`, MSEG_TEST_SLOW: '1' }),
    });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (err += d));
    const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; err: string; out: string }>((res) =>
      child.on('close', (code, signal) => res({ code, signal, err, out })),
    );
    return { child, done };
  }

  function send(child: ChildProcess, sig: NodeJS.Signals, group: boolean): void {
    if (child.exitCode !== null || child.signalCode !== null) return;
    try {
      process.kill(group ? -child.pid! : child.pid!, sig);
    } catch {
      /* already gone */
    }
  }

  /** waitBegins resolves once the journal holds `k` begin entries, or when the child ended. */
  async function waitBegins(store: LocalStateStore, k: number, child: ChildProcess): Promise<void> {
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      const j = await store.readJournal().catch(() => []);
      if (j.filter((e) => e.phase === 'begin').length >= k) return;
      if (child.exitCode !== null || child.signalCode !== null) return;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`the journal never showed ${k} begins`);
  }

  /** checkConsistent: no lock; plan shows no drift and exactly the hosts state does not call applied. */
  async function checkConsistent(m: Moment, run: { code: number | null; signal: NodeJS.Signals | null; err: string; out: string }): Promise<void> {
    const label = JSON.stringify(m);
    expect({ label, lock: fs.existsSync(path.join(dir, '.microseg/state.lock')) }).toEqual({ label, lock: false });
    const codes = [0, m.sig === 'SIGINT' ? 130 : 143];
    // Ended by the default action only once its locked section was over (handlers removed).
    const byDefault = run.code === null && run.signal === m.sig;
    expect({ label, ok: byDefault || codes.includes(run.code ?? -1), run }).toEqual({ label, ok: true, run });
    if (run.code === 130 || run.code === 143) expect(run.err).toContain(`received ${m.sig}`);
    if (run.out.includes('Apply interrupted!')) expect(run.out).toMatch(/Interrupted\. Applied and verified: .*\n(Not applied: .*\n)?Not started: /);

    const store = new LocalStateStore(dir);
    const state = await store.load();
    const journal = await store.readJournal();
    if (m.again === undefined) {
      // A single signal: every host begun was closed in the journal (verified or failed).
      const last = new Map(journal.map((e) => [e.enforcer, e.phase] as const));
      for (const [e, phase] of last) expect({ label, e, phase: phase === 'begin' || phase === 'applied' ? 'open' : 'closed' }).toEqual({ label, e, phase: 'closed' });
    }
    const p = await cli('plan', dir, '--json');
    expect({ label, code: p.code, err: p.err }).toMatchObject({ label, code: 0 });
    const plan = JSON.parse(p.out) as { hosts: { enforcer: string; action: string; drift: unknown[] }[] };
    for (const h of plan.hosts) {
      const recorded = state?.hosts[h.enforcer];
      // State says what the host really holds: a difference would be drift.
      expect({ label, e: h.enforcer, drift: h.drift }).toEqual({ label, e: h.enforcer, drift: [] });
      // Remaining work is exactly the hosts not recorded as applied.
      expect({ label, e: h.enforcer, changes: h.action !== 'noop' }).toEqual({ label, e: h.enforcer, changes: recorded?.status !== 'applied' });
      // And what the kernel holds agrees: an applied host has the table.
      if (recorded?.status === 'applied') expect((await topo.exec(h.enforcer, ['nft', 'list', 'table', 'inet', 'microseg'])).code).toBe(0);
    }
    if (m.again === undefined) expect(p.err).not.toMatch(/MSEG8213/);

    const a = await cli('apply', dir, '--auto-approve');
    expect({ label, code: a.code, err: a.err }).toMatchObject({ label, code: 0 });
    const again = await cli('plan', dir, '--detailed-exitcode');
    expect({ label, code: again.code }).toEqual({ label, code: 0 });
  }

  it('a sweep of signals during apply: lock released, state true to the hosts, a follow-up apply converges', async () => {
    let interruptedInFlight = 0;
    for (const m of SWEEP) {
      await reset();
      const store = new LocalStateStore(dir);
      const { child, done } = start(['apply', dir, '--auto-approve', '--parallelism', '1']);
      if (m.after !== 'start') await waitBegins(store, m.after, child);
      await new Promise((r) => setTimeout(r, m.ms));
      send(child, m.sig, m.group);
      if (m.again !== undefined) {
        await new Promise((r) => setTimeout(r, m.again));
        send(child, m.sig, m.group);
      }
      const run = await done;
      if (run.out.includes('Apply interrupted!')) interruptedInFlight++;
      await checkConsistent(m, run);
    }
    // The sweep really hit applies in progress, not only before or after them.
    expect(interruptedInFlight).toBeGreaterThan(0);

    // Real packets through the converged hosts.
    await topo.listen('b', 'tcp', 80, 4);
    await topo.listen('a', 'tcp', 80, 4);
    expect(await topo.tcpConnect('a', '198.18.0.62', 80)).toBe('open');
    expect(await topo.tcpConnect('b', '198.18.0.61', 80)).not.toBe('open');
  }, 1_200_000);

  it('SIGINT or SIGTERM while plan holds the lock leaves no lock', async () => {
    await reset();
    for (const [sig, ms] of [['SIGINT', 100], ['SIGTERM', 500], ['SIGINT', 900]] as const) {
      const { child, done } = start(['plan', dir]);
      await new Promise((r) => setTimeout(r, ms));
      send(child, sig, sig === 'SIGINT');
      const run = await done;
      expect(fs.existsSync(path.join(dir, '.microseg/state.lock'))).toBe(false);
      const byDefault = run.code === null && run.signal === sig;
      expect({ sig, ms, ok: byDefault || [0, sig === 'SIGINT' ? 130 : 143].includes(run.code ?? -1), run }).toEqual({ sig, ms, ok: true, run });
    }
    expect((await cli('plan', dir, '--detailed-exitcode')).code).toBe(2);
  }, 300_000);
});
