/**
 * The signal handling of a locked section (src/cli/interrupt.ts), without sending signals: the
 * handler is called directly and the exit is a seam. The real thing, signals sent to a child
 * process mid-apply over network namespaces, is test/netns/reconcile-signal.test.ts.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { BufferIo } from '../../../src/cli/io';
import { Interrupts } from '../../../src/cli/interrupt';
import { LocalStateStore } from '../../../src/state';

describe('Interrupts', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mseg-int-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
  const lockFile = () => path.join(dir, '.microseg', 'state.lock');

  it('in the read phase, the first signal releases the held lock and exits 130', async () => {
    const store = new LocalStateStore(dir);
    await store.acquireLock({ operation: 'plan', timeoutMs: 0 });
    expect(fs.existsSync(lockFile())).toBe(true);
    const io = new BufferIo();
    const exits: number[] = [];
    new Interrupts(io, 'plan', (c) => exits.push(c)).handle('SIGINT');
    expect(exits).toEqual([130]);
    expect(fs.existsSync(lockFile())).toBe(false);
    expect(io.stderr).toMatch(/received SIGINT before any host was changed; nothing was applied\. The state lock was released/);
  });

  it('in the apply phase, the first signal aborts and the second exits 143, releasing the lock', async () => {
    const store = new LocalStateStore(dir);
    const lock = await store.acquireLock({ operation: 'apply', timeoutMs: 0 });
    const io = new BufferIo();
    const exits: number[] = [];
    const it = new Interrupts(io, 'apply', (c) => exits.push(c));
    it.phase('apply');
    it.handle('SIGTERM');
    expect(it.signal.aborted).toBe(true);
    expect(it.exitCode).toBe(143);
    expect(exits).toEqual([]);
    expect(fs.existsSync(lockFile())).toBe(true);
    it.handle('SIGTERM');
    expect(exits).toEqual([143]);
    expect(fs.existsSync(lockFile())).toBe(false);
    // The normal release afterwards finds nothing to do and does not fail.
    await store.unlock(lock);
  });

  it("leaves a lock that is no longer this process's alone", async () => {
    const store = new LocalStateStore(dir);
    const lock = await store.acquireLock({ operation: 'apply', timeoutMs: 0 });
    await store.forceUnlock(lock.id);
    const other = { ...lock, id: 'someone-else' };
    fs.writeFileSync(lockFile(), JSON.stringify(other));
    new Interrupts(new BufferIo(), 'apply', () => undefined).handle('SIGINT');
    expect(JSON.parse(fs.readFileSync(lockFile(), 'utf8')).id).toBe('someone-else');
  });
});
