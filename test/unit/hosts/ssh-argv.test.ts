/**
 * The ssh transport's argv (src/hosts/ssh.ts): `--` ends ssh's options before the destination, so
 * no destination can be read as an option; ConnectTimeout is the connection's connect_timeout
 * (default 10 s, never above the command's own timeout); and the transport refuses hosts and users
 * validation would refuse, for connections that come from a state file rather than a config.
 */
import { hostFor } from '../../../src/hosts';
import { SshHost, type SshHostOptions } from '../../../src/hosts/ssh';
import { connectionFromRecord, connectionToRecord } from '../../../src/state/schema';

const base: SshHostOptions = { host: 'web-1.example.com', user: 'deploy', strictHostKeyChecking: true, knownHostsFile: '/etc/ssh/kh' };

describe('SshHost.sshArgv', () => {
  it('puts `--` right before the destination, after every option, and the remote line after it', () => {
    const argv = new SshHost(base).sshArgv(['nft', 'list', 'ruleset']);
    const dd = argv.indexOf('--');
    expect(argv[dd + 1]).toBe('deploy@web-1.example.com');
    expect(argv.slice(dd + 2)).toEqual([`'env' 'LC_ALL=C' 'nft' 'list' 'ruleset'`]);
    expect(argv.slice(dd + 1).filter((a) => a.startsWith('-'))).toEqual([]);
    // Every option is before `--`: nothing ssh reads as an option follows it.
    for (const o of ['-o', '-p', '-i']) if (argv.includes(o)) expect(argv.lastIndexOf(o)).toBeLessThan(dd);
    expect(argv).toEqual([
      'ssh',
      '-o', 'BatchMode=yes',
      '-o', 'StrictHostKeyChecking=yes',
      '-o', 'UserKnownHostsFile=/etc/ssh/kh',
      '-o', 'ConnectTimeout=10',
      '-o', 'LogLevel=ERROR',
      '-p', '22',
      '--',
      'deploy@web-1.example.com',
      `'env' 'LC_ALL=C' 'nft' 'list' 'ruleset'`,
    ]);
  });

  it('passes connect_timeout as ConnectTimeout, default 10, bounded by the command timeout', () => {
    const ct = (o: Partial<SshHostOptions>, timeoutMs?: number) => new SshHost({ ...base, ...o }).sshArgv(['true'], timeoutMs).find((a) => a.startsWith('ConnectTimeout='));
    expect(ct({})).toBe('ConnectTimeout=10');
    expect(ct({ connectTimeoutS: 25 })).toBe('ConnectTimeout=25');
    expect(ct({ connectTimeoutS: 120 }, 30_000)).toBe('ConnectTimeout=30');
    expect(ct({ connectTimeoutS: 3 }, 500)).toBe('ConnectTimeout=1');
  });

  it('an IPv6 destination and a port stay in their places', () => {
    const argv = new SshHost({ ...base, host: '2001:db8::7', port: 2222, sshCommand: ['ip', 'netns', 'exec', 'x', 'ssh'] }).sshArgv(['true']);
    expect(argv.slice(0, 5)).toEqual(['ip', 'netns', 'exec', 'x', 'ssh']);
    expect(argv.slice(argv.indexOf('-p'), argv.indexOf('-p') + 4)).toEqual(['-p', '2222', '--', 'deploy@2001:db8::7']);
  });

  it.each([
    [{ host: '-oProxyCommand=touch /tmp/x' }, /invalid ssh host .*starts with "-"/],
    [{ host: 'a b' }, /invalid ssh host/],
    [{ host: 'root@h' }, /invalid ssh host/],
    [{ user: '$(id)' }, /invalid ssh user/],
    [{ user: '-lroot' }, /invalid ssh user/],
    [{ port: 0 }, /invalid ssh port/],
    [{ port: 65536 }, /invalid ssh port/],
    [{ connectTimeoutS: 0 }, /invalid ssh connect timeout/],
    [{ connectTimeoutS: 1.5 }, /invalid ssh connect timeout/],
  ])('refuses %j', (o, why) => {
    expect(() => new SshHost({ ...base, ...o } as SshHostOptions)).toThrow(why);
  });
});

describe('connect_timeout through state and the host factory', () => {
  it('round-trips through the state record and reaches ssh', () => {
    const c = { type: 'ssh' as const, host: '198.51.100.7', user: 'root', port: 22, strictHostKeyChecking: true, connectTimeoutS: 42 };
    expect(connectionToRecord(c)).toMatchObject({ connect_timeout: 42 });
    expect(connectionFromRecord(connectionToRecord(c))).toEqual(c);
    const h = hostFor(c) as SshHost;
    expect(h.sshArgv(['true'], 60_000)).toContain('ConnectTimeout=42');
  });

  it('state written before connect_timeout existed reads as the default', () => {
    const old = { type: 'ssh' as const, host: 'h', user: 'root', port: 22, strict_host_key_checking: true };
    const c = connectionFromRecord(old);
    expect(c).not.toHaveProperty('connectTimeoutS');
    expect((hostFor(c) as SshHost).sshArgv(['true'])).toContain('ConnectTimeout=10');
  });
});
