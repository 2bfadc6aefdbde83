/**
 * plan, drift, apply and destroy load and check the configuration before they take the state
 * lock, and so does applying a saved plan whose configuration no longer loads: bad input fails
 * with its own diagnostics and never takes the lock, nor waits for it. Shown by holding the lock
 * from the test: a command that asked for it would fail with MSEG8010 (lock held) instead, and
 * one that took it would have replaced or removed the holder's lock file.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { LocalStateStore, StateCodes, type LockInfo } from '../../../src/state';
import { BASE, NODES, cliWith, configHcl } from '../../netns/reconcile-suite';
import { fakeEnv } from '../fake/reconcile-env';

describe('the configuration is checked before the state lock is taken', () => {
  const env = fakeEnv('nftables');
  const cli = (...args: string[]) => cliWith({ connect: env.connect }, ...args);
  const nodes = NODES.filter((n) => ['web', 'api'].includes(n.name));
  let dir: string;
  let lockFile: string;

  beforeAll(async () => {
    await env.create('lk', nodes);
  });
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mseg-lock-order-'));
    lockFile = path.join(dir, '.microseg', 'state.lock');
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
  afterAll(() => env.teardown());

  const goodConfig = () => configHcl(env, 'nftables', { ...BASE, hosts: ['web', 'api'] });
  // A policy naming a port that is no port: a validation error at a known position.
  const badConfig = () => `${goodConfig()}\nnetwork_policy "broken" {\n  subject = [["app=web"]]\n  object  = [["app=api"]]\n  ports   = ["tcp/99999"]\n}\n`;

  /** holdLock takes the lock as another run would; the command under test must leave it alone. */
  async function holdLock(): Promise<{ store: LocalStateStore; lock: LockInfo }> {
    const store = new LocalStateStore(dir);
    return { store, lock: await store.acquireLock({ operation: 'someone else', timeoutMs: 0 }) };
  }

  const heldBy = (lock: LockInfo) => (JSON.parse(fs.readFileSync(lockFile, 'utf8')) as LockInfo).id === lock.id;

  it.each([
    ['plan', ['plan']],
    ['plan --json', ['plan', '--json']],
    ['drift', ['drift']],
    ['apply', ['apply', '--auto-approve']],
    ['destroy', ['destroy', '--auto-approve']],
  ])('%s: invalid configuration → its diagnostics, exit 1, the lock never asked for', async (_name, args) => {
    fs.writeFileSync(path.join(dir, 'main.hcl'), badConfig());
    const { store, lock } = await holdLock();
    try {
      const r = await cli(...args, dir);
      expect(r.code).toBe(1);
      const text = r.out + r.err;
      expect(text).not.toContain(StateCodes.locked);
      expect(text).toContain('MSEG3010');
      expect(text).toContain('99999');
      expect(heldBy(lock)).toBe(true);
    } finally {
      await store.unlock(lock);
    }
  });

  it('with a valid configuration the same commands do ask for the lock (the test above is not vacuous)', async () => {
    fs.writeFileSync(path.join(dir, 'main.hcl'), goodConfig());
    const { store, lock } = await holdLock();
    try {
      for (const args of [['plan'], ['drift'], ['apply', '--auto-approve']]) {
        const r = await cli(...args, dir);
        expect({ args, code: r.code }).toEqual({ args, code: 1 });
        expect(r.out + r.err).toContain(StateCodes.locked);
      }
      expect(heldBy(lock)).toBe(true);
    } finally {
      await store.unlock(lock);
    }
  });

  it('apply PLANFILE: a saved plan whose configuration no longer loads is refused without the lock', async () => {
    fs.writeFileSync(path.join(dir, 'main.hcl'), goodConfig());
    const planFile = path.join(dir, 'saved.plan');
    expect((await cli('plan', '-out', planFile, dir)).code).toBe(0);
    fs.writeFileSync(path.join(dir, 'main.hcl'), badConfig());
    const { store, lock } = await holdLock();
    try {
      const r = await cli('apply', planFile, '--dir', dir);
      expect(r.code).toBe(1);
      expect(r.out + r.err).not.toContain(StateCodes.locked);
      expect(r.out + r.err).toMatch(/does not plan now/);
      expect(heldBy(lock)).toBe(true);
    } finally {
      await store.unlock(lock);
    }
    // Nothing reached a host: the hosts still own nothing.
    for (const n of nodes) expect(await env.ownedOn(n.name)).toEqual([]);
  });
});
