/**
 * Real-kernel test of runMany on a NetnsHost: one `ip netns exec NAME sh -c SCRIPT` returns each
 * command's own result, and both providers' reads give the same LiveRuleset through it as through
 * `run` one command at a time. One namespace `mst<pid>-batch`, created in beforeAll and deleted in
 * afterAll whatever happened (and by harness.ts's exit hook as a last resort); no packets are sent,
 * the only address set is in 198.18.0.0/15.
 */
import { fullSync } from './program';
import { execFileSync } from 'child_process';
import { NftablesProvider } from '../../providers/nftables';
import { IptablesProvider } from '../../providers/iptables';
import { HostCommandError } from '../../src/hosts/exec';
import { NetnsHost } from '../../src/hosts/netns';
import type { Host } from '../../src/hosts/types';
import type { DesiredRuleset } from '../../src/compile/ir';
import { describeAsRoot } from './harness';

const NS = `mst${process.pid}-batch`;

function deleteNs(): void {
  try {
    execFileSync('ip', ['netns', 'del', NS], { stdio: 'ignore' });
  } catch {
    /* never created or already gone */
  }
}
process.once('exit', deleteNs);

const TINY: DesiredRuleset = {
  enforcer: 'batch',
  sets: [{ name: 'peers', family: 4, elements: ['198.18.251.0/24', '198.18.252.7/32'], comment: 'peers' }],
  chains: [
    {
      name: 'in',
      hook: 'input',
      rules: [
        { id: 'b-est', match: { ctState: ['established', 'related'] }, verdict: { kind: 'accept' } },
        { id: 'b-peers', match: { srcSet: { set: 'peers' }, protocol: 'tcp', dports: [{ from: 80, to: 80 }] }, verdict: { kind: 'accept' } },
      ],
    },
  ],
  diagnostics: [],
};

describeAsRoot('NetnsHost.runMany (real kernel)', () => {
  const host = new NetnsHost(NS);
  /** runOnly hides runMany, so runAll falls back to one `ip netns exec` per command. */
  const runOnly: Host = { description: host.description, run: (a, o) => host.run(a, o) };

  beforeAll(() => {
    deleteNs();
    execFileSync('ip', ['netns', 'add', NS]);
    execFileSync('ip', ['-n', NS, 'link', 'set', 'lo', 'up']);
  });
  afterAll(() => deleteNs());

  it('returns each command its own code, stdout and stderr from one ip netns exec', async () => {
    await host.run(['ip', 'addr', 'add', '198.18.251.1/32', 'dev', 'lo']);
    const [addr, absent, missing, quiet, err] = await host.runMany([
      ['ip', '-4', '-o', 'addr', 'show', 'dev', 'lo'],
      ['nft', 'list', 'table', 'inet', 'no-such-table'],
      ['no-such-tool-mseg'],
      ['true'],
      ['sh', '-c', 'printf partial; printf oops >&2; exit 5'],
    ]);
    expect(addr.code).toBe(0);
    expect(addr.stdout).toContain('198.18.251.1/32'); // it ran inside the namespace
    expect(addr.stderr).toBe('');
    expect(absent.code).toBe(1);
    expect(absent.stdout).toBe('');
    expect(absent.stderr).toMatch(/No such file or directory/);
    expect(missing.code).toBe(127);
    expect(quiet).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(err).toEqual({ code: 5, stdout: 'partial', stderr: 'oops' });
  });

  it('rejects with HostCommandError when the namespace does not exist', async () => {
    const gone = new NetnsHost(`mst${process.pid}-batch-gone`);
    const e = await gone.runMany([['true'], ['true']]).catch((x: unknown) => x);
    expect(HostCommandError.isInstance(e)).toBe(true);
    expect((e as HostCommandError).partial?.stderr).toMatch(/Cannot open network namespace/);
  });

  it.each([
    ['nftables', new NftablesProvider()],
    ['iptables-nft', new IptablesProvider('nft')],
  ] as const)('%s: read through runMany equals read through run, empty and applied', async (_name, provider) => {
    await host.run(['nft', 'flush', 'ruleset']);
    await host.run(['ipset', 'destroy']);
    expect(await provider.read(host)).toEqual(await provider.read(runOnly));
    await fullSync(host, provider, TINY);
    const live = await provider.read(host);
    expect(live).toEqual(await provider.read(runOnly));
    expect(live.chains.find((c) => c.name === 'in')?.ruleIds).toEqual(['b-est', 'b-peers']);
    expect(live.sets.map((s) => s.name)).toEqual(['peers']);
    // The partial read (several batches at once) agrees with the one-command-at-a-time fallback.
    const scope = { chains: ['in'], sets: ['peers'] };
    expect(await provider.readPartial!(host, scope)).toEqual(await provider.readPartial!(runOnly, scope));
  });
});
