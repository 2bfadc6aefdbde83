/**
 * kill -9 in the middle of an apply, on a real kernel (nftables).
 *
 * The CLI runs as a child process (compiled once with tsc, test/support/build-cli.ts). An `nft` wrapper first
 * on PATH sleeps before any `nft -f` transaction in enforcer b's namespace, so the kill lands
 * deterministically after b's journal `begin` and before its transaction: enforcer a is applied,
 * verified and recorded; b is begun and never touched. Then: the state file is readable, the lock
 * is reported STALE (never silently stolen), `force-unlock ID` releases it, and plan + apply
 * converge both hosts.
 *
 * Addresses: a 198.18.0.51, b 198.18.0.52 (harness.ts conventions).
 */
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { LocalStateStore } from '../../src/state';
import { Topology, describeAsRoot } from './harness';
import { cli } from './reconcile-suite';
import { buildOnce, childEnv, cliArgs } from '../support/build-cli';

describeAsRoot('reconcile on a real kernel: kill -9 during apply', () => {
  let topo: Topology;
  let tmp: string;
  let dir: string;
  let mainJs: string;
  let wrapDir: string;

  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mseg-kill-'));
    dir = path.join(tmp, 'cfg');
    fs.mkdirSync(dir);
    mainJs = buildOnce().mainJs;
    const realNft = spawnSync('sh', ['-c', 'command -v nft'], { encoding: 'utf8' }).stdout.trim();
    wrapDir = path.join(tmp, 'wrap');
    fs.mkdirSync(wrapDir);
    fs.writeFileSync(
      path.join(wrapDir, 'nft'),
      `#!/bin/sh\nif [ "$1" = "-f" ] && [ "$(ip netns identify)" = "$MSEG_TEST_SLOW_NS" ]; then sleep 30; fi\nexec ${realNft} "$@"\n`,
      { mode: 0o755 },
    );
    topo = await Topology.create('rkill', [
      { name: 'a', v4: '198.18.0.51', v6: '2001:2::51' },
      { name: 'b', v4: '198.18.0.52', v6: '2001:2::52' },
    ]);
    const hcl = ['namespace "/k" {', '  default_incoming_action = "reject"', '  default_outgoing_action = "reject"', '}'];
    for (const [n, addr] of [['a', '198.18.0.51'], ['b', '198.18.0.52']]) {
      hcl.push(
        `enforcer "${n}" {`,
        '  namespace = "/k"',
        '  backend = "nftables"',
        `  connection {\n    type  = "netns"\n    netns = "${topo.nsName(n)}"\n  }`,
        '}',
        `processing_unit "${n}" {\n  namespace = "/k"\n  enforcer = enforcer.${n}.name\n  addresses = ["${addr}"]\n  tags = ["app=${n}"]\n}`,
      );
    }
    hcl.push('network_policy "a-to-b" {\n  namespace = "/k"\n  subject = [["app=a"]]\n  object = [["app=b"]]\n  ports = ["tcp/80"]\n}');
    fs.writeFileSync(path.join(dir, 'main.hcl'), hcl.join('\n') + '\n');
  }, 600_000); // a tsc build of the whole tree: minutes on 2 loaded cores

  afterAll(async () => {
    await topo?.teardown();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('leaves a readable state and a STALE lock; after force-unlock, plan and apply converge', async () => {
    const child = spawn(
      process.execPath,
      cliArgs(mainJs, ['apply', dir, '--auto-approve', '--parallelism', '1']),
      {
        detached: true, // its own process group: the kill takes the nft wrapper with it
        stdio: 'ignore',
        env: childEnv({ PATH: `${wrapDir}:${process.env.PATH}`, MSEG_TEST_SLOW_NS: topo.nsName('b') }),
      },
    );
    const exited = new Promise<void>((res) => child.on('exit', () => res()));
    const store = new LocalStateStore(dir);
    const deadline = Date.now() + 30_000;
    for (;;) {
      const j = await store.readJournal();
      if (j.some((e) => e.enforcer === 'b' && e.phase === 'begin')) break;
      if (child.exitCode !== null) throw new Error(`the apply ended (${child.exitCode}) before enforcer b began`);
      if (Date.now() > deadline) throw new Error('enforcer b never began');
      await new Promise((r) => setTimeout(r, 20));
    }
    await new Promise((r) => setTimeout(r, 300)); // inside the wrapper's sleep now
    process.kill(-child.pid!, 'SIGKILL');
    await exited;

    // The state file is readable and says exactly what was verified: a, not b.
    const state = await store.load();
    expect(state?.hosts.a.status).toBe('applied');
    expect(state?.hosts.b).toBeUndefined();
    const journal = await store.readJournal();
    expect(journal.filter((e) => e.enforcer === 'a').map((e) => e.phase)).toEqual(['begin', 'verified']);
    expect(journal.filter((e) => e.enforcer === 'b').map((e) => e.phase)).toEqual(['begin']);
    // b's transaction never reached the kernel.
    expect((await topo.exec('b', ['nft', 'list', 'table', 'inet', 'microseg'])).code).not.toBe(0);

    // The lock is reported stale, naming the dead holder; plan refuses rather than stealing it.
    const locked = await cli('plan', dir);
    expect(locked.code).toBe(1);
    expect(locked.err).toMatch(/STALE/);
    expect(locked.err).toMatch(/MSEG8011/);
    const lockId = (JSON.parse(fs.readFileSync(path.join(dir, '.microseg/state.lock'), 'utf8')) as { id: string }).id;
    expect(locked.err).toContain(lockId);
    expect((await cli('force-unlock', 'not-the-id', dir)).code).toBe(1);
    const unlock = await cli('force-unlock', lockId, dir);
    expect(unlock.code).toBe(0);

    // The next plan shows the interrupted host and exactly what is left: b to program, a unchanged.
    const p = await cli('plan', dir, '--detailed-exitcode');
    expect(p.code).toBe(2);
    expect(p.err).toMatch(/MSEG8213/);
    expect(p.out).toMatch(/\+ enforcer b \(nftables\) will be programmed/);
    expect(p.out).not.toMatch(/enforcer a/);
    const a = await cli('apply', dir, '--auto-approve');
    expect(a.code).toBe(0);
    const again = await cli('plan', dir, '--detailed-exitcode');
    expect(again.code).toBe(0);
    expect(again.err).toBe('');
  });
});
