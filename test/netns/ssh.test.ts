/**
 * Real tests of SshHost against a real sshd, isolated in two network namespaces this file creates:
 *
 *   mst<pid>-ssh-cli (eth0 198.18.250.1/30)  ── veth ──  mst<pid>-ssh-srv (eth0 198.18.250.2/30)
 *                   ssh client runs here                        sshd -D -e listens here
 *
 * The client is run inside `cli` through SshHostOptions.sshCommand (`ip netns exec cli ssh`), so
 * the root namespace's addresses, routes and firewall are never touched. sshd has its own config,
 * host key, authorized_keys and pid file in a temp dir; it and both namespaces are removed in
 * afterAll whatever happened (and by the process 'exit' hook as a last resort).
 */
import { spawn, execFileSync, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { NftablesProvider } from '../../providers/nftables';
import { kernelConnector } from '../../providers';
import { applyChanges, cleanup, fullSync } from './program';
import { runProcess } from '../../src/hosts/exec';
import { HostCommandError } from '../../src/hosts/exec';
import { SshConnectionError, SshHost, remoteCommandLine, shellQuote, type SshHostOptions } from '../../src/hosts/ssh';
import type { DesiredRuleset } from '../../src/compile/ir';
import { describeAsRoot, legacySkipReason, ownedView } from './harness';
import { applyPlan } from '../../src/apply';
import { hostFor, type HostFactory } from '../../src/hosts';
import { planRun } from '../../src/plan';
import { hasChanges } from '../../src/plan';
import { LocalStateStore } from '../../src/state';

const SRV_ADDR = '198.18.250.2';
const CLI_ADDR = '198.18.250.1';
const NS_SRV = `mst${process.pid}-ssh-srv`;
const NS_CLI = `mst${process.pid}-ssh-cli`;

let sshd: ChildProcess | undefined;
let createdRunSshd = false;

function cleanupSync(): void {
  if (sshd?.pid !== undefined && sshd.exitCode === null && sshd.signalCode === null) {
    try {
      process.kill(-sshd.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  for (const ns of [NS_SRV, NS_CLI]) {
    try {
      execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    } catch {
      /* never created or already gone */
    }
  }
}
process.once('exit', cleanupSync);

async function must(argv: string[]): Promise<string> {
  const r = await runProcess(argv, { timeoutMs: 20_000 });
  if (r.code !== 0) throw new Error(`${argv.join(' ')} failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}

function sshdSkipReason(): string | undefined {
  for (const bin of ['/usr/sbin/sshd', '/usr/bin/ssh', '/usr/bin/ssh-keygen']) if (!fs.existsSync(bin)) return `${bin} missing: skipped`;
  return undefined;
}

describeAsRoot(
  'real sshd: SshHost',
  () => {
    let dir: string;
    let hostPub: string;
    let base: SshHostOptions;

    const host = (extra: Partial<SshHostOptions> = {}) => new SshHost({ ...base, ...extra });

    beforeAll(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mseg-ssh-'));
      await must(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'mseg-test-host', '-f', path.join(dir, 'host_key')]);
      await must(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'mseg-test-user', '-f', path.join(dir, 'user_key')]);
      fs.copyFileSync(path.join(dir, 'user_key.pub'), path.join(dir, 'authorized_keys'));
      fs.chmodSync(path.join(dir, 'authorized_keys'), 0o600);
      hostPub = fs.readFileSync(path.join(dir, 'host_key.pub'), 'utf8').trim().split(' ').slice(0, 2).join(' ');
      fs.writeFileSync(path.join(dir, 'known_hosts'), `${SRV_ADDR} ${hostPub}\n`);
      fs.writeFileSync(path.join(dir, 'empty_known_hosts'), '');
      fs.writeFileSync(
        path.join(dir, 'sshd_config'),
        [
          `ListenAddress ${SRV_ADDR}`,
          'Port 22',
          `HostKey ${path.join(dir, 'host_key')}`,
          `PidFile ${path.join(dir, 'sshd.pid')}`,
          `AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`,
          'PermitRootLogin prohibit-password',
          'PubkeyAuthentication yes',
          'PasswordAuthentication no',
          'KbdInteractiveAuthentication no',
          'UsePAM no',
          'StrictModes no',
          'AcceptEnv none',
          '',
        ].join('\n'),
      );
      // sshd refuses to start without its privilege separation directory; Debian creates it at
      // service start (tmpfiles), which never ran in this container.
      if (!fs.existsSync('/run/sshd')) {
        fs.mkdirSync('/run/sshd', { mode: 0o755 });
        createdRunSshd = true;
      }
      for (const ns of [NS_SRV, NS_CLI]) await must(['ip', 'netns', 'add', ns]);
      await must(['ip', '-n', NS_CLI, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', NS_SRV]);
      for (const [ns, addr] of [[NS_CLI, CLI_ADDR], [NS_SRV, SRV_ADDR]] as const) {
        await must(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
        await must(['ip', '-n', ns, 'addr', 'add', `${addr}/30`, 'dev', 'eth0']);
        await must(['ip', '-n', ns, 'link', 'set', 'eth0', 'up']);
      }
      await must(['ip', 'netns', 'exec', NS_SRV, '/usr/sbin/sshd', '-t', '-f', path.join(dir, 'sshd_config')]);
      sshd = spawn('ip', ['netns', 'exec', NS_SRV, '/usr/sbin/sshd', '-D', '-e', '-f', path.join(dir, 'sshd_config')], { detached: true, stdio: 'ignore' });
      for (let i = 0; ; i++) {
        const r = await runProcess(['ip', 'netns', 'exec', NS_SRV, 'ss', '-Hltn', `sport = :22`]);
        if (r.stdout.includes(`${SRV_ADDR}:22`)) break;
        if (sshd.exitCode !== null || i > 100) throw new Error(`sshd did not come up (exit ${sshd.exitCode})`);
        await new Promise((res) => setTimeout(res, 50));
      }
      base = {
        host: SRV_ADDR,
        user: 'root',
        privateKeyFile: path.join(dir, 'user_key'),
        knownHostsFile: path.join(dir, 'known_hosts'),
        strictHostKeyChecking: true,
        sshCommand: ['ip', 'netns', 'exec', NS_CLI, 'ssh'],
      };
    });

    afterAll(async () => {
      cleanupSync();
      if (createdRunSshd) fs.rmSync('/run/sshd', { recursive: true, force: true });
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    it('quotes every argument for the remote shell', () => {
      expect(shellQuote("it's")).toBe(`'it'\\''s'`);
      expect(remoteCommandLine(['nft', '-f', '-'])).toBe(`'env' 'LC_ALL=C' 'nft' '-f' '-'`);
      expect(() => shellQuote('a\0b')).toThrow(/NUL/);
      expect(() => new SshHost({ ...base, host: '-oProxyCommand=x' })).toThrow(/invalid ssh host/);
      expect(() => new SshHost({ ...base, user: 'a b' })).toThrow(/invalid ssh user/);
    });

    it('runs argv on the remote host with spaces, quotes, $(...), globs and empty strings passed literally', async () => {
      const args = ['a b', "it's", '$(touch /tmp/mseg-pwned)', '`id`', '"q"', '', '*', '; exit 7', '$HOME', '\\n'];
      const r = await host().run(['printf', '%s|', ...args]);
      expect(r).toEqual({ code: 0, stdout: `${args.join('|')}|`, stderr: '' });
      expect(fs.existsSync('/tmp/mseg-pwned')).toBe(false);
      // It really ran in the server's namespace.
      const ip = await host().run(['ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0']);
      expect(ip.stdout).toContain(SRV_ADDR);
    });

    it('passes stdin through, large ones too, and returns remote exit codes as they are', async () => {
      expect((await host().run(['cat'], { stdin: 'hello\nworld\n' })).stdout).toBe('hello\nworld\n');
      const big = 'x'.repeat(200_000) + '\n';
      expect((await host().run(['wc', '-c'], { stdin: big })).stdout.trim()).toBe(String(big.length));
      expect((await host().run(['sh', '-c', 'echo oops >&2; exit 3'])).code).toBe(3);
      const missing = await host().run(['no-such-tool-mseg']);
      expect(missing.code).toBe(127);
    });

    it('runMany runs several commands in one ssh session and returns each its own result, arguments literal', async () => {
      const args = ["it's", '$(touch /tmp/mseg-pwned)', '`id`', '', '*', '; exit 7'];
      const [a, b, c, d] = await host().runMany([
        ['printf', '%s|', ...args],
        ['sh', '-c', 'printf out; echo err >&2; exit 3'],
        ['no-such-tool-mseg'],
        ['ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0'],
      ]);
      expect(a).toEqual({ code: 0, stdout: `${args.join('|')}|`, stderr: '' });
      expect(b).toEqual({ code: 3, stdout: 'out', stderr: 'err\n' });
      expect(c.code).toBe(127);
      expect(d.stdout).toContain(SRV_ADDR);
      expect(fs.existsSync('/tmp/mseg-pwned')).toBe(false);
      await expect(host({ port: 1 }).runMany([['true'], ['true']])).rejects.toThrow(SshConnectionError);
    });

    it('refuses an unknown host key when strict, accepts it with a known_hosts file or when not strict', async () => {
      const strictUnknown = host({ knownHostsFile: path.join(dir, 'empty_known_hosts') });
      const err = await strictUnknown.run(['true']).catch((e: unknown) => e);
      expect(SshConnectionError.isInstance(err)).toBe(true);
      expect(HostCommandError.isInstance(err)).toBe(true);
      expect((err as Error).message).toMatch(/exit status 255/);
      expect((err as SshConnectionError).stderr).toMatch(/Host key verification failed/);
      expect((await host().run(['true'])).code).toBe(0);
      expect((await host({ strictHostKeyChecking: false, knownHostsFile: undefined }).run(['true'])).code).toBe(0);
      // A wrong key in known_hosts is refused too.
      fs.writeFileSync(path.join(dir, 'wrong_known_hosts'), `${SRV_ADDR} ${fs.readFileSync(path.join(dir, 'user_key.pub'), 'utf8').trim().split(' ').slice(0, 2).join(' ')}\n`);
      await expect(host({ knownHostsFile: path.join(dir, 'wrong_known_hosts') }).run(['true'])).rejects.toThrow(/255/);
    });

    it('reports connection failures and authentication failures as SshConnectionError, and times out', async () => {
      await expect(host({ port: 2222 }).run(['true'])).rejects.toThrow(/ssh to root@198\.18\.250\.2:2222 failed .*Connection refused/);
      await expect(host({ privateKeyFile: path.join(dir, 'host_key') }).run(['true'])).rejects.toThrow(/Permission denied/);
      const t = await host().run(['sleep', '4'], { timeoutMs: 1500 }).catch((e: unknown) => e);
      expect(HostCommandError.isInstance(t) && t.kind).toBe('timeout');
    });

    it('gives up connecting after connect_timeout (ssh ConnectTimeout), not the kernel\'s minutes of SYN retries', async () => {
      // The server drops SYNs to one port, so only ConnectTimeout can end the attempt: without it
      // ssh waits out the kernel's SYN retries (over two minutes) and the test's own timeout fails it.
      await must(['ip', 'netns', 'exec', NS_SRV, 'nft', 'add table inet msegtest; add chain inet msegtest in { type filter hook input priority 0; }; add rule inet msegtest in tcp dport 2299 drop']);
      try {
        const err = await host({ port: 2299, connectTimeoutS: 2 }).run(['true'], { timeoutMs: 600_000 }).catch((e: unknown) => e);
        expect(SshConnectionError.isInstance(err)).toBe(true);
        expect((err as SshConnectionError).stderr).toMatch(/timed out/i);
        expect((err as SshConnectionError).argv).toContain('ConnectTimeout=2');
      } finally {
        await runProcess(['ip', 'netns', 'exec', NS_SRV, 'nft', 'delete', 'table', 'inet', 'msegtest']);
      }
    });

    it('the nftables provider applies and reads back through SshHost', async () => {
      const provider = new NftablesProvider();
      const h = host();
      const tiny: DesiredRuleset = {
        enforcer: 'ssh-srv',
        sets: [{ name: 'admins', family: 4, elements: ['198.18.250.1/32'], comment: "ssh's admins" }],
        chains: [
          {
            name: 'in',
            hook: 'input',
            rules: [
              { id: 'ssh-est', match: { ctState: ['established', 'related'] }, verdict: { kind: 'accept' } },
              { id: 'ssh-admins', match: { srcSet: { set: 'admins' }, protocol: 'tcp', dports: [{ from: 22, to: 22 }] }, verdict: { kind: 'accept' } },
            ],
          },
        ],
        diagnostics: [],
      };
      expect((await provider.probe(h)).missing).toEqual([]);
      await fullSync(h, provider, tiny);
      const live = await provider.read(h);
      expect(ownedView(live)).toEqual(provider.expected(tiny));
      // And an incremental change, through the same transport.
      tiny.sets[0].elements.push('198.18.250.3/32');
      await applyChanges(h, provider, tiny, live);
      expect(ownedView(await provider.read(h))).toEqual(provider.expected(tiny));
      await cleanup(h, provider, await provider.read(h));
      expect((await provider.read(h)).chains).toEqual([]);
    });

    /**
     * srvConfig is a project whose enforcer "srv" is managed over ssh at SRV_ADDR, with one PU
     * holding that address, plus `extra` HCL; viaCli is hostFor with the ssh client run inside the
     * client namespace (the root namespace has no route to the server, and is never touched).
     */
    const srvConfig = (backend: string, extra: string[]): string =>
      [
        'namespace "/ssh" {}',
        'enforcer "srv" {',
        '  namespace = "/ssh"',
        `  backend   = "${backend}"`,
        '  connection {',
        '    type             = "ssh"',
        `    host             = "${SRV_ADDR}"`,
        '    user             = "root"',
        `    private_key_file = "${path.join(dir, 'user_key')}"`,
        `    known_hosts_file = "${path.join(dir, 'known_hosts')}"`,
        '  }',
        '}',
        `processing_unit "srv" {\n  namespace = "/ssh"\n  enforcer  = "srv"\n  addresses = ["${SRV_ADDR}"]\n  tags      = ["app=srv"]\n}`,
        ...extra,
        '',
      ].join('\n');
    const viaCli: HostFactory = (c) => (c.type === 'ssh' ? new SshHost({ ...base, host: c.host, user: c.user, port: c.port }) : hostFor(c));

    const endToEnd = async (backend: string): Promise<void> => {
      const proj = fs.mkdtempSync(path.join(os.tmpdir(), 'mseg-ssh-proj-'));
      try {
        // The only way in is ssh from the admins network, which the policy allows. The server
        // namespace tracks no connection before the first apply (nothing there uses conntrack), so
        // the ssh session carrying that apply is already open when tracking starts: the apply
        // itself must not cut it (see Provider.renderConntrackWarmup). Every later step (re-plan,
        // destroy) going through ssh again proves microseg did not lock itself out.
        fs.writeFileSync(
          path.join(proj, 'main.hcl'),
          srvConfig(backend, [
            'external_network "admins" {',
            '  namespace     = "/ssh"',
            `  entries       = ["${CLI_ADDR}/32"]`,
            '  service_ports = ["tcp/22"]',
            '  tags          = ["net=admins"]',
            '}',
            'network_policy "admins-ssh" {',
            '  namespace = "/ssh"',
            '  subject   = [["net=admins"]]',
            '  object    = [["app=srv"]]',
            '  ports     = ["tcp/22"]',
            '  apply_policy_mode = "incoming"',
            '}',
          ]),
        );
        const owned = async () => {
          const nft = (await runProcess(['ip', 'netns', 'exec', NS_SRV, 'nft', 'list', 'ruleset'])).stdout;
          const ipt = (await runProcess(['ip', 'netns', 'exec', NS_SRV, 'iptables-nft-save'])).stdout;
          const legacy = backend === 'iptables-legacy' ? (await runProcess(['ip', 'netns', 'exec', NS_SRV, 'iptables-legacy-save'])).stdout : '';
          return `${nft}\n${ipt}\n${legacy}`.split('\n').filter((l) => /microseg|mseg-|MSEG-/.test(l));
        };
        expect(await owned()).toEqual([]);
        expect((await runProcess(['ip', 'netns', 'exec', NS_SRV, 'nft', 'list', 'ruleset'])).stdout.trim()).toBe('');
        const store = new LocalStateStore(proj);
        const first = await planRun(proj, { store, connect: kernelConnector(viaCli) });
        expect(first.plan!.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
        expect(first.plan!.hosts.map((h) => [h.enforcer, h.action, h.reachable])).toEqual([['srv', 'create', true]]);
        const applied = await applyPlan(first.plan!, { store, reads: first.reads, connect: kernelConnector(viaCli) });
        expect(applied.hosts.map((h) => [h.enforcer, h.status, h.error])).toEqual([['srv', 'applied', undefined]]);
        // The ruleset is in the server's kernel, read directly (not through microseg), without the
        // warm-up rule, which the full sync replaced.
        const rules = (await owned()).join('\n');
        expect(rules).toMatch(backend === 'nftables' ? /tcp dport 22 (counter packets \d+ bytes \d+ )?accept/ : /--dport 22 .*-j ACCEPT/);
        expect(rules).not.toContain('conntrack-warmup');
        expect(JSON.stringify(applied.hosts[0].transactions[0])).toContain('conntrack-warmup');
        // Re-plan over the same ssh: a no-op, and the recorded fingerprint is the host's.
        const again = await planRun(proj, { store, connect: kernelConnector(viaCli) });
        expect(hasChanges(again.plan!)).toBe(false);
        expect(again.plan!.hosts[0].live_fingerprint).toBe((await store.load())!.hosts.srv.fingerprint);
        // Decommission over ssh: nothing owned is left, and state forgets the host.
        const destroy = await planRun(proj, { store, connect: kernelConnector(viaCli), destroy: true });
        const removed = await applyPlan(destroy.plan!, { store, reads: destroy.reads, connect: kernelConnector(viaCli) });
        expect(removed.hosts.map((h) => [h.enforcer, h.status])).toEqual([['srv', 'removed']]);
        expect(await owned()).toEqual([]);
        expect((await store.load())!.hosts).toEqual({});
      } finally {
        // Whatever happened, the next test starts from a namespace with nothing in it.
        await runProcess(['ip', 'netns', 'exec', NS_SRV, 'nft', 'flush', 'ruleset']);
        if (backend === 'iptables-legacy') {
          for (const bin of ['iptables-legacy', 'ip6tables-legacy']) {
            await runProcess(['ip', 'netns', 'exec', NS_SRV, bin, '--modprobe=/bin/false', '-F']);
            await runProcess(['ip', 'netns', 'exec', NS_SRV, bin, '--modprobe=/bin/false', '-X']);
          }
        }
        await runProcess(['sh', '-c', `ip netns exec ${NS_SRV} ipset destroy 2>/dev/null`]);
        fs.rmSync(proj, { recursive: true, force: true });
      }
    };
    const E2E = 'the reconciler plans, applies, re-plans as a no-op and destroys a %s enforcer over ssh, without locking itself out';
    // Each took 48-56 s on a loaded 2-core machine: the limit is far above need, so load cannot fail them.
    it.each(['nftables', 'iptables-nft'])(E2E, endToEnd, 600_000);
    // iptables-legacy needs ip_tables loaded on this machine (tests never modprobe): skipped, visibly, without it.
    (legacySkipReason() === undefined ? it : it.skip)(E2E.replace('%s', 'iptables-legacy'), () => endToEnd('iptables-legacy'), 600_000);

    it('a configuration that would refuse every new ssh connection to the managed address is not applied', async () => {
      const proj = fs.mkdtempSync(path.join(os.tmpdir(), 'mseg-ssh-lock-'));
      try {
        // srv's only PU holds the management address and nothing lets anyone in on tcp/22.
        fs.writeFileSync(path.join(proj, 'main.hcl'), srvConfig('nftables', []));
        const store = new LocalStateStore(proj);
        const r = await planRun(proj, { store, connect: kernelConnector(viaCli) });
        const lock = r.plan!.diagnostics.find((d) => d.code === 'MSEG8216')!;
        expect(lock).toMatchObject({ severity: 'error', summary: 'Applying enforcer "srv" would lock microseg out of it' });
        expect(lock.detail).toContain(`${SRV_ADDR} is an address of one of its processing units`);
        expect(lock.detail).toContain('failsafe = ["tcp/22"]');
        expect(r.plan!.hosts[0].blocked_by).toEqual([{ code: 'MSEG8216', enforcer: 'srv', summary: 'Applying enforcer "srv" would lock microseg out of it' }]);
        const res = await applyPlan(r.plan!, { store, reads: r.reads, connect: kernelConnector(viaCli) });
        expect(res.hosts.map((h) => [h.enforcer, h.status, h.transactions.length])).toEqual([['srv', 'failed', 0]]);
        // Nothing was sent: the host's ruleset is as empty as before, and ssh still works.
        expect((await runProcess(['ip', 'netns', 'exec', NS_SRV, 'nft', 'list', 'ruleset'])).stdout.trim()).toBe('');
        expect((await host().run(['true'])).code).toBe(0);
      } finally {
        await runProcess(['ip', 'netns', 'exec', NS_SRV, 'nft', 'flush', 'ruleset']);
        fs.rmSync(proj, { recursive: true, force: true });
      }
    });
  },
  sshdSkipReason,
);
