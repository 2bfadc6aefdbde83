/**
 * The forward-path topology of issue #12's "Done when", built from real namespaces:
 *
 *   rem (198.18.42.2) ── v-rem ──┐
 *                                 │ gw: the enforcer host, routing 198.18.40.0/23 and 198.18.42.0/24
 *   r1  (198.18.41.2) ── v-r1  ──┤     198.18.42.1 on v-rem, 198.18.41.1 on v-r1 (routed workload,
 *                                 │     no bridge), 198.18.40.1 on br0 (a Linux bridge; `docker0`
 *                                 │     beside a replayed Docker ruleset, docker.test.ts)
 *   c1  (198.18.40.11) ─ v-c1 ─ br0   c1, c2: "containers", veth ports of br0, default route via
 *   c2  (198.18.40.12) ─ v-c2 ─ br0   198.18.40.1 (like docker0)
 *
 * Only IPv4 (the netns suites prove IPv6 on input/output). Namespace names are
 * `mst<pid>-<tag>-<node>`, unique per run; `teardown` deletes every one, and the process exit hook
 * does if a test dies first.
 */
import { spawn, type ChildProcess } from 'child_process';
import { runProcess } from '../../src/hosts/exec';
import { NetnsHost } from '../../src/hosts/netns';
import type { CommandResult } from '../../src/hosts/types';
import { deleteNetnsOnExit, type TcpResult } from './harness';

export const FWD = {
  gwBridge: '198.18.40.1',
  gwRouted: '198.18.41.1',
  gwUplink: '198.18.42.1',
  c1: '198.18.40.11',
  c2: '198.18.40.12',
  r1: '198.18.41.2',
  rem: '198.18.42.2',
} as const;

export type FwdNode = 'gw' | 'c1' | 'c2' | 'r1' | 'rem';
export const FWD_NODES: FwdNode[] = ['gw', 'c1', 'c2', 'r1', 'rem'];

export class ForwardTopology {
  private readonly children: ChildProcess[] = [];
  private readonly made: string[] = [];

  private constructor(
    readonly prefix: string,
    /** The Linux bridge the containers are ports of: `br0`, or `docker0` beside a replayed Docker ruleset. */
    readonly bridge: string,
  ) {}

  static async create(tag: string, opts: { bridge?: string } = {}): Promise<ForwardTopology> {
    const t = new ForwardTopology(`mst${process.pid}-${tag}`, opts.bridge ?? 'br0');
    deleteNetnsOnExit(FWD_NODES.map((n) => t.ns(n)));
    try {
      for (const n of FWD_NODES) {
        await t.must(['ip', 'netns', 'add', t.ns(n)]);
        t.made.push(t.ns(n));
        await t.must(['ip', '-n', t.ns(n), 'link', 'set', 'lo', 'up']);
      }
      const gw = t.ns('gw');
      await t.must(['ip', 'netns', 'exec', gw, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);
      await t.must(['ip', '-n', gw, 'link', 'add', t.bridge, 'type', 'bridge']);
      await t.must(['ip', '-n', gw, 'addr', 'add', `${FWD.gwBridge}/24`, 'dev', t.bridge]);
      await t.must(['ip', '-n', gw, 'link', 'set', t.bridge, 'up']);
      const wire = async (node: FwdNode, addr: string, gwAddr: string | undefined, via: string) => {
        const port = `v-${node}`;
        await t.must(['ip', '-n', gw, 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', t.ns(node)]);
        if (gwAddr) await t.must(['ip', '-n', gw, 'addr', 'add', gwAddr, 'dev', port]);
        else await t.must(['ip', '-n', gw, 'link', 'set', port, 'master', t.bridge]);
        await t.must(['ip', '-n', gw, 'link', 'set', port, 'up']);
        await t.must(['ip', '-n', t.ns(node), 'addr', 'add', `${addr}/24`, 'dev', 'eth0']);
        await t.must(['ip', '-n', t.ns(node), 'link', 'set', 'eth0', 'up']);
        await t.must(['ip', '-n', t.ns(node), 'route', 'add', ...(node === 'rem' ? ['198.18.40.0/23'] : ['default']), 'via', via]);
      };
      await wire('c1', FWD.c1, undefined, FWD.gwBridge);
      await wire('c2', FWD.c2, undefined, FWD.gwBridge);
      await wire('r1', FWD.r1, `${FWD.gwRouted}/24`, FWD.gwRouted);
      await wire('rem', FWD.rem, `${FWD.gwUplink}/24`, FWD.gwUplink);
    } catch (e) {
      await t.teardown();
      throw e;
    }
    return t;
  }

  ns(node: FwdNode): string {
    return `${this.prefix}-${node}`;
  }

  host(node: FwdNode): NetnsHost {
    return new NetnsHost(this.ns(node));
  }

  private async must(argv: string[]): Promise<CommandResult> {
    const r = await runProcess(argv, { timeoutMs: 20_000 });
    if (r.code !== 0) throw new Error(`${argv.join(' ')} failed (${r.code}): ${r.stderr.trim()}`);
    return r;
  }

  exec(node: FwdNode, argv: string[], opts?: { stdin?: string; timeoutMs?: number }): Promise<CommandResult> {
    return this.host(node).run(argv, opts);
  }

  async ping(from: FwdNode, addr: string): Promise<boolean> {
    return (await this.exec(from, ['ping', '-n', '-c', '1', '-W', '2', addr], { timeoutMs: 8000 })).code === 0;
  }

  async tcp(from: FwdNode, addr: string, port: number): Promise<TcpResult> {
    const r = await this.exec(from, ['nc', '-n', '-z', '-v', '-w', '2', addr, String(port)], { timeoutMs: 8000 });
    if (r.code === 0) return 'open';
    return /refused|unreachable/i.test(`${r.stdout}${r.stderr}`) ? 'refused' : 'timeout';
  }

  /** udp sends one datagram and says whether the echo came back. */
  async udp(from: FwdNode, addr: string, port: number): Promise<boolean> {
    const r = await this.exec(from, ['socat', '-t', '2', '-T', '2', '-', `UDP4:${addr}:${port}`], { stdin: 'microseg-udp\n', timeoutMs: 8000 });
    return r.stdout.trim() === 'microseg-udp';
  }

  /** listen starts an echo listener (socat PIPE) in `node` and waits until it is bound. */
  async listen(node: FwdNode, proto: 'tcp' | 'udp', port: number): Promise<void> {
    const spec = proto === 'tcp' ? `TCP4-LISTEN:${port},fork,reuseaddr` : `UDP4-RECVFROM:${port},fork,reuseaddr`;
    const child = spawn('ip', ['netns', 'exec', this.ns(node), 'socat', spec, 'PIPE'], { detached: true, stdio: 'ignore' });
    this.children.push(child);
    for (let i = 0; i < 100; i++) {
      const r = await this.exec(node, ['ss', proto === 'tcp' ? '-Hltn' : '-Hlun', `sport = :${port}`]);
      if (r.stdout.trim() !== '') return;
      if (child.exitCode !== null) throw new Error(`listener ${proto}/${port} in ${node} exited with ${child.exitCode}`);
      await new Promise((res) => setTimeout(res, 50));
    }
    throw new Error(`listener ${proto}/${port} in ${node} did not come up`);
  }

  /** teardown kills the listeners and deletes every namespace. Never throws. */
  async teardown(): Promise<void> {
    for (const c of this.children) {
      try {
        if (c.pid !== undefined && c.exitCode === null) process.kill(-c.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    for (const ns of this.made.reverse()) await runProcess(['ip', 'netns', 'del', ns]).catch(() => undefined);
    this.made.length = 0;
  }
}
