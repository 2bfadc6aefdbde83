/**
 * Seed #707 on real kernels (issue 14): flow logging with host protection on produces no errors,
 * neither in the kernel log nor in the collector's, and the records arrive. Run for nftables and
 * iptables-nft.
 *
 * One protected host (host_protection + `type = "host"` PU, namespace and policies with
 * logs_enabled, so allowed, policy-rejected and default-rejected connections are all logged, with
 * rate-limited `log group` / NFLOG rules), ulogd2 started with `microseg collector start` inside
 * the host's namespace, a remote namespace sending traffic, and the host's own traffic (loopback,
 * its resolver's upstream DNS through the failsafe). The kernel log is global: only the lines
 * stamped after the run started are looked at, and of those the ones from netfilter, logging or
 * the kernel's own warnings.
 *
 * Addresses (harness.ts conventions): host 198.18.0.31, remote 198.18.0.32.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { BackendName } from '../../providers/types';
import type { FlowsReport } from '../../src/flows/flows';
import { collectorPaths } from '../../src/flows/collector';
import { Topology, describeAsRoot } from './harness';
import { cli } from './reconcile-suite';

const HOST = '198.18.0.31';
const REMOTE = '198.18.0.32';
const NODES = [
  { name: 'host', v4: HOST, v6: '2001:2::31' },
  { name: 'remote', v4: REMOTE, v6: '2001:2::32' },
];
/** Kernel log lines that would be the #707 kind of trouble: netfilter, NFLOG, logging, kernel warnings. */
const KERNEL_TROUBLE = /nf_|nft|netfilter|nflog|nfnetlink|x_tables|xt_|ip_tables|ulog|nf_log|WARNING|BUG|Call Trace|segfault/i;

function config(t: Topology, backend: BackendName): string {
  const pol = (name: string, subject: string, object: string, ports: string, mode: string, action: string) =>
    `network_policy "${name}" {\n  namespace = "/l"\n  subject = [["${subject}"]]\n  object = [["${object}"]]\n  ports = ${ports}\n  apply_policy_mode = "${mode}"\n  action = "${action}"\n  logs_enabled = true\n}`;
  return [
    'namespace "/l" {\n  logs_enabled = true\n}',
    `enforcer "${t.prefix}-host" {\n  namespace = "/l"\n  backend = "${backend}"\n  host_protection = true\n  connection {\n    type = "netns"\n    netns = "${t.nsName('host')}"\n  }\n}`,
    `processing_unit "host" {\n  namespace = "/l"\n  type = "host"\n  enforcer = "${t.prefix}-host"\n  addresses = ["${HOST}"]\n  tags = ["role=host"]\n}`,
    `external_network "remote" {\n  namespace = "/l"\n  entries = ["${REMOTE}/32"]\n  tags = ["net=remote"]\n}`,
    pol('remote-in', 'net=remote', 'role=host', '["tcp/8080"]', 'incoming', 'allow'),
    pol('no-8081', 'net=remote', 'role=host', '["tcp/8081"]', 'incoming', 'reject'),
    pol('host-out', 'role=host', 'net=remote', '["tcp/7070"]', 'outgoing', 'allow'),
  ].join('\n\n') + '\n';
}

/** kernelLog: the kernel log's lines with their timestamps (seconds since boot). */
async function kernelLog(): Promise<Array<{ ts: number; text: string }>> {
  const out = fs.existsSync('/dev/kmsg') ? await readDmesg() : '';
  return out
    .split('\n')
    .map((l) => /^\[\s*(\d+\.\d+)\]\s?(.*)$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ ts: Number(m[1]), text: m[2] }));
}

async function readDmesg(): Promise<string> {
  const { execFileSync } = await import('child_process');
  return execFileSync('dmesg', [], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
}

for (const [backend, tag] of [
  ['nftables', 'hlnft'],
  ['iptables-nft', 'hlxnf'],
] as const) {
  describeAsRoot(
    `host protection with flow logs (seed #707): ${backend}`,
    () => {
      let t: Topology;
      let dir: string;
      let collectorDir: string;
      const savedEnv = process.env.MICROSEG_COLLECTOR_DIR;

      beforeAll(async () => {
        t = await Topology.create(tag, NODES);
        dir = fs.mkdtempSync(path.join(os.tmpdir(), `mseg-${tag}-`));
        collectorDir = fs.mkdtempSync(path.join(os.tmpdir(), `mseg-collector-${tag}-`));
        process.env.MICROSEG_COLLECTOR_DIR = collectorDir;
        for (const p of [8080, 8081, 8082, 22]) await t.listen('host', 'tcp', p, 4);
        for (const p of [7070, 7071]) await t.listen('remote', 'tcp', p, 4);
        const common = ['dnsmasq', '--keep-in-foreground', '--no-resolv', '--no-hosts', '--bind-interfaces', '--user=root', '--pid-file', '--log-facility=-'];
        t.daemon('remote', [...common, `--listen-address=${REMOTE}`, '--address=/probe.mseg.test/198.18.7.7']);
        t.daemon('host', [...common, '--listen-address=127.0.0.53', '--except-interface=eth0', `--server=${REMOTE}`, '--cache-size=0']);
      }, 120_000);

      afterAll(async () => {
        if (dir) {
          await cli('collector', 'stop', dir).catch(() => undefined);
          await cli('destroy', dir, '--auto-approve').catch(() => undefined);
        }
        await t?.teardown();
        if (savedEnv === undefined) delete process.env.MICROSEG_COLLECTOR_DIR;
        else process.env.MICROSEG_COLLECTOR_DIR = savedEnv;
        for (const d of [dir, collectorDir]) if (d) fs.rmSync(d, { recursive: true, force: true });
      }, 120_000);

      it('logs every decided connection of the protected host, with no error in the kernel log or ulogd2\'s', async () => {
        const before = await kernelLog();
        // Readable at all (root, /dev/kmsg): otherwise "no errors" below would prove nothing.
        expect(before.length).toBeGreaterThan(0);
        const since = before.length ? before[before.length - 1].ts : 0;

        fs.writeFileSync(path.join(dir, 'main.hcl'), config(t, backend));
        const applied = await cli('apply', dir, '--auto-approve');
        // The rules log, so apply started the collector and says so (nothing else on stderr).
        expect({ code: applied.code, err: applied.err }).toEqual({ code: 0, err: expect.stringMatching(/^Flow-log collector \(ulogd2\): running on [^\n]+\.\n$/) });
        const started = await cli('collector', 'start', dir);
        expect({ code: started.code, err: started.err }).toEqual({ code: 0, err: '' });

        // Remote → host: allowed, rejected by policy, default-rejected, the failsafe port.
        for (let i = 0; i < 2; i++) expect(await t.tcpConnect('remote', HOST, 8080)).toBe('open');
        expect(await t.tcpConnect('remote', HOST, 8081)).toBe('refused');
        for (let i = 0; i < 3; i++) expect(await t.tcpConnect('remote', HOST, 8082)).toBe('refused');
        expect(await t.tcpConnect('remote', HOST, 22)).toBe('open');
        // Host → remote: allowed and default-rejected; the host's own loopback and DNS.
        expect(await t.tcpConnect('host', REMOTE, 7070)).toBe('open');
        expect(await t.tcpConnect('host', REMOTE, 7071)).toBe('refused');
        expect(await t.tcpConnect('host', HOST, 8082)).toBe('open');
        const dig = await t.exec('host', ['dig', '+short', '+time=2', '+tries=1', '@127.0.0.53', 'probe.mseg.test', 'A'], { timeoutMs: 15_000 });
        expect(dig.stdout.trim()).toBe('198.18.7.7');
        // A bounded burst of default-rejected datagrams, written by one bash process in a few
        // milliseconds: beyond the log rules' 50/s with bursts of 100. (A refused datagram is never
        // confirmed in conntrack, so each is new; the ICMP error makes every other write fail with
        // ECONNREFUSED, so about half of the 600 writes leave.)
        await t.exec('remote', ['bash', '-c', `exec 3>/dev/udp/${HOST}/9999; for i in $(seq 1 600); do printf x >&3 2>/dev/null; done; exit 0`], { timeoutMs: 60_000 });

        await new Promise((res) => setTimeout(res, 1500));
        const r = await cli('flows', dir, '--json');
        expect({ code: r.code, err: r.err }).toEqual({ code: 0, err: '' });
        const flows = JSON.parse(r.out) as FlowsReport;
        const n = (verdict: string, policy: string, port: number, direction: string) =>
          flows.records.filter((x) => x.verdict === verdict && x.policy === policy && x.port === port && x.direction === direction).length;
        expect(n('allow', '/l network_policy.remote-in', 8080, 'incoming')).toBe(2);
        expect(n('reject', '/l network_policy.no-8081', 8081, 'incoming')).toBe(1);
        expect(n('reject', 'default of namespace /l', 8082, 'incoming')).toBe(3);
        expect(n('allow', '/l network_policy.host-out', 7070, 'outgoing')).toBe(1);
        expect(n('reject', 'default of namespace /l', 7071, 'outgoing')).toBe(1);
        // Loopback, the failsafe port and the resolver's upstream queries are accepted before any
        // log rule: never logged, so host protection adds no log traffic of its own.
        expect(flows.records.filter((x) => x.port === 22 || x.port === 53 || x.src === x.dst || x.src.startsWith('127.'))).toEqual([]);
        const burst = flows.records.filter((x) => x.port === 9999 && x.verdict === 'reject');
        expect(burst.length).toBeGreaterThanOrEqual(100);
        const host = flows.hosts.find((h) => h.enforcer === `${t.prefix}-host`)!;
        // The burst beyond the rate limit is counted as rate-limited, never as a collector loss.
        expect(host).toMatchObject({ collector_running: true, collector_lost: 0, collector_errors: [] });
        expect(host.rate_limited).toBeGreaterThan(0);

        // ulogd2's own log: nothing at error level (ulogd marks levels <7> ERROR, <8> FATAL).
        const read = await t.exec('host', ['cat', collectorPaths(`${t.prefix}-host`).log]);
        expect(read.code).toBe(0);
        const ulogdLog = read.stdout;
        // The right file: ulogd's own start-up lines are in it.
        expect(ulogdLog).toMatch(/NFLOG|stack|plugin/i);
        expect(ulogdLog.split('\n').filter((l) => /<[78]>|error|ENOBUFS|fail/i.test(l))).toEqual([]);

        // The kernel log since the run started: no netfilter / logging trouble.
        const after = await kernelLog();
        const fresh = after.filter((l) => l.ts > since).map((l) => l.text);
        expect(fresh.filter((l) => KERNEL_TROUBLE.test(l))).toEqual([]);
      }, 600_000);
    },
  );
}
