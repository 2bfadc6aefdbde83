/**
 * `state show` / `state rm` / `state push` report a missing address and a bad flag as diagnostics
 * (code, summary, detail; the address it concerns), rendered by the view like every other, and
 * change nothing.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { BufferIo } from '../../../src/cli/io';
import { main } from '../../../src/cli/main';
import { LocalStateStore, newState, StateCodes } from '../../../src/state';
import { ApplyCodes } from '../../../src/plan';

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = new BufferIo();
  const code = await main(['node', 'microseg', ...args], io);
  return { code, out: io.stdout, err: io.stderr };
}

describe('state commands: problems are diagnostics', () => {
  let dir: string;
  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mseg-state-cmd-'));
    await new LocalStateStore(dir).save(newState());
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const stateText = () => fs.readFileSync(path.join(dir, '.microseg', 'state.json'), 'utf8');

  it.each(['list', 'pull'])('state %s without any state: the same MSEG8217 diagnostic as show, exit 1, nothing on stdout', async (cmd) => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'mseg-state-none-'));
    try {
      const r = await cli('state', cmd, '--dir', empty);
      expect(r.code).toBe(1);
      expect(r.out).toBe('');
      expect(r.err).toMatch(new RegExp(`^error: No state at .*state\\.json \\[${ApplyCodes.noState}\\]\\n {2}Nothing was applied from this directory yet`));
    } finally {
      fs.rmSync(empty, { recursive: true, force: true });
    }
  });

  it.each([
    ['show', 'nothing to show'],
    ['rm', 'nothing was removed'],
  ])('state %s of an address the state lacks: MSEG8300 naming it, exit 1', async (cmd, what) => {
    const before = stateText();
    const r = await cli('state', cmd, 'network_policy.nope', '--dir', dir);
    expect(r.code).toBe(1);
    expect(r.err).toContain(StateCodes.addressNotInState);
    expect(r.err).toContain(`No "network_policy.nope" in state; ${what} [${StateCodes.addressNotInState}]`);
    expect(r.err).toContain('`microseg state list`');
    expect(stateText()).toBe(before);
  });

  it.each([['rm', 'host.x'], ['push', 'some-file']])('state %s with an invalid --lock-timeout: MSEG8214, exit 1, nothing read or written', async (cmd, arg) => {
    const before = stateText();
    const r = await cli('state', cmd, arg, '--dir', dir, '--lock-timeout', 'soon');
    expect(r.code).toBe(1);
    expect(r.err).toContain(ApplyCodes.badFlag);
    expect(r.err).toContain('Invalid --lock-timeout "soon"');
    expect(stateText()).toBe(before);
  });
});
