import { spawn, type ChildProcess } from 'child_process';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { LocalStateStore, StateCodes, type LockInfo } from '../../../src/state';
import { processStart } from '../../../src/state/lock';
import { diagnosticsOf, tempProject } from './helpers';

const repo = path.resolve(__dirname, '../../..');

let project: ReturnType<typeof tempProject>;
beforeEach(() => {
  project = tempProject();
});
afterEach(() => project.cleanup());

/**
 * lockInChild starts a real node process that takes the lock through LocalStateStore (loaded with
 * jiti, as the CLI loads TypeScript) and then idles, so the test can kill it with SIGKILL.
 */
function lockInChild(dir: string): Promise<{ child: ChildProcess; info: LockInfo }> {
  const script = `
    const { createJiti } = require('jiti');
    const jiti = createJiti(${JSON.stringify(path.join(repo, 'x.js'))});
    jiti.import(${JSON.stringify(path.join(repo, 'src/state/local.ts'))}).then(async (m) => {
      const info = await new m.LocalStateStore(${JSON.stringify(dir)}).acquireLock({ operation: 'apply', timeoutMs: 0 });
      process.stdout.write(JSON.stringify(info) + '\\n');
      setInterval(() => {}, 1000);
    }, (e) => { console.error(e); process.exit(3); });`;
  const child = spawn(process.execPath, ['-e', script], { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stderr!.on('data', (d) => (err += d));
    child.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('\n')) resolve({ child, info: JSON.parse(out) as LockInfo });
    });
    child.on('exit', (code) => reject(new Error(`child exited ${code}: ${err}`)));
  });
}

function killAndReap(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.removeAllListeners('exit');
    child.on('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

describe('state lock', () => {
  it('records the holder in state.lock and releases it', async () => {
    const store = new LocalStateStore(project.dir);
    const lock = await store.acquireLock({ operation: 'apply', timeoutMs: 0 });
    const onDisk = JSON.parse(readFileSync(store.lockPath, 'utf8'));
    expect(onDisk).toEqual(lock);
    expect(lock).toMatchObject({ operation: 'apply', pid: process.pid, hostname: os.hostname() });
    expect(lock.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(lock.who).toMatch(/^.+@.+$/);
    expect(new Date(lock.created).toISOString()).toBe(lock.created);
    await store.unlock(lock);
    expect(existsSync(store.lockPath)).toBe(false);
    await store.unlock(lock); // already gone: nothing to do
  });

  it('contention: retries until the timeout, then names the holder', async () => {
    const a = new LocalStateStore(project.dir);
    const b = new LocalStateStore(project.dir);
    const held = await a.acquireLock({ operation: 'apply', timeoutMs: 0 });
    const started = Date.now();
    const ds = await diagnosticsOf(b.acquireLock({ operation: 'plan', timeoutMs: 300, retryMs: 50 }));
    // A lower bound, not a budget: it proves the waiter did not give up before its timeout, and a
    // loaded machine can only make the wait longer, never make this fail.
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(ds).toHaveLength(1);
    expect(ds[0].code).toBe(StateCodes.locked);
    expect(ds[0].summary).toBe(`State is locked by ${held.who}`);
    expect(ds[0].detail).toContain(`Lock ID: ${held.id}`);
    expect(ds[0].detail).toContain(`pid ${process.pid} on ${os.hostname()}, operation "apply"`);
    expect(JSON.parse(readFileSync(a.lockPath, 'utf8')).id).toBe(held.id);
  });

  it('contention: gets the lock once the holder releases it within the timeout', async () => {
    const a = new LocalStateStore(project.dir);
    const b = new LocalStateStore(project.dir);
    const held = await a.acquireLock({ operation: 'apply', timeoutMs: 0 });
    setTimeout(() => void a.unlock(held), 100);
    const got = await b.acquireLock({ operation: 'plan', timeoutMs: 5000, retryMs: 20 });
    expect(got.id).not.toBe(held.id);
    expect(got.operation).toBe('plan');
  });

  it('a lock whose holder was killed (SIGKILL) is reported STALE and not stolen', async () => {
    const store = new LocalStateStore(project.dir);
    const { child, info } = await lockInChild(project.dir);
    expect(info.pid).toBe(child.pid);

    // While the holder lives, it is an ordinary held lock.
    const live = await diagnosticsOf(store.acquireLock({ operation: 'plan', timeoutMs: 100, retryMs: 20 }));
    expect(live[0].code).toBe(StateCodes.locked);

    await killAndReap(child);
    // Waiting cannot fix a stale lock, so it fails at once: with an hour to wait, only failing
    // without waiting lets this test end within its own timeout (no wall-clock bound needed).
    const ds = await diagnosticsOf(store.acquireLock({ operation: 'plan', timeoutMs: 3_600_000 }));
    expect(ds).toHaveLength(1);
    expect(ds[0].code).toBe(StateCodes.staleLock);
    expect(ds[0].summary).toContain('STALE');
    expect(ds[0].summary).toContain(`pid ${info.pid}`);
    expect(ds[0].detail).toContain(`microseg force-unlock ${info.id}`);
    expect(ds[0].detail).toContain('journal.jsonl');
    // never silently stolen
    expect(JSON.parse(readFileSync(store.lockPath, 'utf8'))).toEqual(info);

    await store.forceUnlock(info.id);
    const mine = await store.acquireLock({ operation: 'apply', timeoutMs: 0 });
    expect(mine.pid).toBe(process.pid);
  }, 30000);

  it('records the holder\'s start time and boot id, so a reused pid is not taken for the holder', async () => {
    const store = new LocalStateStore(project.dir);
    const mine = await store.acquireLock({ operation: 'apply', timeoutMs: 0 });
    expect(mine.pid_start).toBe(processStart(process.pid));
    expect(mine.pid_start).toMatch(/^\d+$/);
    expect(mine.boot_id).toBe(readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim());
    await store.unlock(mine);

    // A lock left by a process whose pid now belongs to this live test process (pid reuse), and
    // one left before a reboot: both STALE, not held.
    mkdirSync(store.stateDir, { recursive: true });
    const base: LockInfo = { id: 'a0e1d2c3-0000-4000-8000-000000000001', who: 'ops@here', operation: 'apply', pid: process.pid, hostname: os.hostname(), created: '2025-01-01T00:00:00.000Z' };
    for (const gone of [
      { ...base, pid_start: String(Number(processStart(process.pid)) + 1), boot_id: mine.boot_id },
      { ...base, pid_start: mine.pid_start, boot_id: '00000000-0000-4000-8000-000000000000' },
    ]) {
      writeFileSync(store.lockPath, JSON.stringify(gone));
      const ds = await diagnosticsOf(store.acquireLock({ operation: 'plan', timeoutMs: 0 }));
      expect(ds[0].code).toBe(StateCodes.staleLock);
    }
    // The same pid, start time and boot: held. A lock from before these fields: judged by pid alone.
    for (const held of [{ ...base, pid_start: mine.pid_start, boot_id: mine.boot_id }, base]) {
      writeFileSync(store.lockPath, JSON.stringify(held));
      const ds = await diagnosticsOf(store.acquireLock({ operation: 'plan', timeoutMs: 0 }));
      expect(ds[0].code).toBe(StateCodes.locked);
    }
  });

  it('a lock from another hostname is never judged stale (its pid means nothing here)', async () => {
    const store = new LocalStateStore(project.dir);
    mkdirSync(store.stateDir, { recursive: true });
    const foreign: LockInfo = { id: 'f0e1d2c3-0000-4000-8000-000000000000', who: 'ci@runner-7', operation: 'apply', pid: 4194305, hostname: 'runner-7.example', created: '2025-01-01T00:00:00.000Z' };
    writeFileSync(store.lockPath, JSON.stringify(foreign));
    const ds = await diagnosticsOf(store.acquireLock({ operation: 'plan', timeoutMs: 0 }));
    expect(ds[0].code).toBe(StateCodes.locked);
    expect(ds[0].summary).toBe('State is locked by ci@runner-7');
  });

  it('force-unlock removes the lock only for the right id', async () => {
    const store = new LocalStateStore(project.dir);
    const held = await store.acquireLock({ operation: 'apply', timeoutMs: 0 });
    const wrong = await diagnosticsOf(store.forceUnlock('00000000-0000-4000-8000-000000000000'));
    expect(wrong[0].code).toBe(StateCodes.unlockIdMismatch);
    expect(wrong[0].summary).toContain('does not match');
    expect(wrong[0].detail).toContain(held.id);
    expect(existsSync(store.lockPath)).toBe(true);

    await store.forceUnlock(held.id);
    expect(existsSync(store.lockPath)).toBe(false);
    const none = await diagnosticsOf(store.forceUnlock(held.id));
    expect(none[0].code).toBe(StateCodes.notLocked);
  });

  it('unlock refuses to remove a lock another run now holds', async () => {
    const store = new LocalStateStore(project.dir);
    const first = await store.acquireLock({ operation: 'apply', timeoutMs: 0 });
    await store.forceUnlock(first.id);
    const second = await store.acquireLock({ operation: 'apply', timeoutMs: 0 });
    const ds = await diagnosticsOf(store.unlock(first));
    expect(ds[0].code).toBe(StateCodes.unlockIdMismatch);
    expect(JSON.parse(readFileSync(store.lockPath, 'utf8')).id).toBe(second.id);
  });

  it('an unreadable lock file (holder killed mid-write) blocks until the timeout with a clear message', async () => {
    const store = new LocalStateStore(project.dir);
    mkdirSync(store.stateDir, { recursive: true });
    writeFileSync(store.lockPath, '');
    const ds = await diagnosticsOf(store.acquireLock({ operation: 'plan', timeoutMs: 50, retryMs: 10 }));
    expect(ds[0].code).toBe(StateCodes.locked);
    expect(ds[0].summary).toContain('unreadable');
  });
});
