/** GuardedHost.runMany: a batch goes to the inner transport in one round trip, under the same guard as run. */
import { GuardedHost, HostUnreachableError, hostFor } from '../../../src/hosts/factory';
import { HostCommandError } from '../../../src/hosts/exec';
import type { CommandResult, Host } from '../../../src/hosts/types';

const GONE = /Cannot open network namespace/;
const ok = (stdout: string): CommandResult => ({ code: 0, stdout, stderr: '' });

describe('GuardedHost.runMany', () => {
  it('forwards one batch to an inner runMany and returns its results', async () => {
    const calls: string[] = [];
    const inner: Host = {
      description: 'inner',
      run: async (a) => (calls.push(`run ${a.join(' ')}`), ok(a.join(' '))),
      runMany: async (as) => (calls.push(`many ${as.length}`), as.map((a) => ok(a.join(' ')))),
    };
    const g = new GuardedHost(inner, (r) => GONE.test(r.stderr));
    expect((await g.runMany([['a'], ['b']])).map((r) => r.stdout)).toEqual(['a', 'b']);
    expect(calls).toEqual(['many 2']);
  });

  it('falls back to guarded run per command when the inner transport has no runMany', async () => {
    const calls: string[] = [];
    const inner: Host = { description: 'inner', run: async (a) => (calls.push(a.join(' ')), ok(a.join(' '))) };
    expect((await new GuardedHost(inner, () => false).runMany([['a'], ['b']])).map((r) => r.stdout)).toEqual(['a', 'b']);
    expect(calls).toEqual(['a', 'b']);
  });

  it('turns a batch the transport could not start, or a command result that says so, into HostUnreachableError', async () => {
    const gone: CommandResult = { code: 1, stdout: '', stderr: 'Cannot open network namespace "x": No such file or directory\n' };
    const failing: Host = {
      description: 'netns x',
      run: async () => gone,
      runMany: async () => {
        throw new HostCommandError('spawn', ['sh'], 'batch did not complete', gone);
      },
    };
    await expect(new GuardedHost(failing, (r) => GONE.test(r.stderr)).runMany([['a'], ['b']])).rejects.toThrow(HostUnreachableError);
    const perCommand: Host = { description: 'netns x', run: async () => gone, runMany: async (as) => as.map(() => gone) };
    await expect(new GuardedHost(perCommand, (r) => GONE.test(r.stderr)).runMany([['a'], ['b']])).rejects.toThrow(HostUnreachableError);
    // Other batch failures pass through unchanged.
    const other: Host = { description: 'netns x', run: async () => ok(''), runMany: async () => Promise.reject(new HostCommandError('timeout', ['sh'], 'timed out')) };
    await expect(new GuardedHost(other, (r) => GONE.test(r.stderr)).runMany([['a'], ['b']])).rejects.toThrow(/timed out/);
  });

  it('hostFor(netns) keeps runMany, and a missing namespace is unreachable', async () => {
    const h = hostFor({ type: 'netns', netns: `mst${process.pid}-never-created` });
    expect(typeof h.runMany).toBe('function');
    if (typeof process.getuid === 'function' && process.getuid() === 0) {
      await expect(h.runMany!([['true'], ['true']])).rejects.toThrow(HostUnreachableError);
    }
  });
});
