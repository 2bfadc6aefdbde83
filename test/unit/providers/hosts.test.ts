import { HostCommandError, LocalHost, NetnsHost } from '../../../src/hosts';

describe('LocalHost', () => {
  const host = new LocalHost();
  it('runs argv without a shell and returns code and output', async () => {
    const r = await host.run(['sh', '-c', 'echo out; echo err >&2; exit 3']);
    expect(r).toEqual({ code: 3, stdout: 'out\n', stderr: 'err\n' });
    // No shell interpolation of arguments.
    expect((await host.run(['echo', '$HOME; rm -rf /'])).stdout).toBe('$HOME; rm -rf /\n');
  });
  it('feeds stdin', async () => {
    expect((await host.run(['cat'], { stdin: 'a\nb\n' })).stdout).toBe('a\nb\n');
  });
  it('reports a missing executable as exit code 127, not an exception', async () => {
    const r = await host.run(['microseg-no-such-tool-xyz']);
    expect(r.code).toBe(127);
    expect(r.stderr).toMatch(/not found/);
  });
  it('kills a command past its timeout and rejects with a HostCommandError', async () => {
    // sleep 100000 outlives the test's own timeout: only the kill lets this test finish at all,
    // so no wall-clock bound is needed to prove it happened.
    const err = await host.run(['sleep', '100000'], { timeoutMs: 200 }).catch((e: unknown) => e);
    expect(HostCommandError.isInstance(err)).toBe(true);
    expect((err as HostCommandError).kind).toBe('timeout');
  });
});

describe('NetnsHost', () => {
  it('describes itself and refuses names ip would misread', () => {
    expect(new NetnsHost('web-ns').description).toBe('netns web-ns');
    expect(() => new NetnsHost('-n')).toThrow(/invalid network namespace name/);
    expect(() => new NetnsHost('a/b')).toThrow(/invalid/);
  });
});
