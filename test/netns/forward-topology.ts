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
 * With `ipv6`, every link is dual-stack: the same layout in 2001:2:0:40::/64 (bridge),
 * 2001:2:0:41::/64 (routed) and 2001:2:0:42::/64 (uplink), the same host numbers (FWD6), DAD off and
 * no multicast snooping on the bridge (neighbour discovery must not wait on MLD state). Namespace
 * names are `mst<pid>-<tag>-<node>`, unique per run; `teardown` deletes every one, and the process
 * exit hook does if a test dies first.
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

/** The IPv6 twin of FWD (2001:2::/48, the benchmarking range of the netns suites). */
export const FWD6 = {
  gwBridge: '2001:2:0:40::1',
  gwRouted: '2001:2:0:41::1',
  gwUplink: '2001:2:0:42::1',
  c1: '2001:2:0:40::11',
  c2: '2001:2:0:40::12',
  r1: '2001:2:0:41::2',
  rem: '2001:2:0:42::2',
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

  static async create(tag: string, opts: { bridge?: string; ipv6?: boolean } = {}): Promise<ForwardTopology> {
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
      await t.must(['ip', '-n', gw, 'link', 'add', t.bridge, 'type', 'bridge', ...(opts.ipv6 ? ['mcast_snooping', '0'] : [])]);
      await t.must(['ip', '-n', gw, 'addr', 'add', `${FWD.gwBridge}/24`, 'dev', t.bridge]);
      if (opts.ipv6) {
        await t.must(['ip', 'netns', 'exec', gw, 'sysctl', '-q', '-w', 'net.ipv6.conf.all.forwarding=1']);
        await t.must(['ip', '-n', gw, 'addr', 'add', `${FWD6.gwBridge}/64`, 'dev', t.bridge, 'nodad']);
      }
      await t.must(['ip', '-n', gw, 'link', 'set', t.bridge, 'up']);
      const wire = async (node: Exclude<FwdNode, 'gw'>, gwAddr: 'gwRouted' | 'gwUplink' | undefined, via: 'gwBridge' | 'gwRouted' | 'gwUplink') => {
        const port = `v-${node}`;
        await t.must(['ip', '-n', gw, 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', t.ns(node)]);
        if (gwAddr) {
          await t.must(['ip', '-n', gw, 'addr', 'add', `${FWD[gwAddr]}/24`, 'dev', port]);
          if (opts.ipv6) await t.must(['ip', '-n', gw, 'addr', 'add', `${FWD6[gwAddr]}/64`, 'dev', port, 'nodad']);
        } else await t.must(['ip', '-n', gw, 'link', 'set', port, 'master', t.bridge]);
        await t.must(['ip', '-n', gw, 'link', 'set', port, 'up']);
        await t.must(['ip', '-n', t.ns(node), 'addr', 'add', `${FWD[node]}/24`, 'dev', 'eth0']);
        if (opts.ipv6) await t.must(['ip', '-n', t.ns(node), 'addr', 'add', `${FWD6[node]}/64`, 'dev', 'eth0', 'nodad']);
        await t.must(['ip', '-n', t.ns(node), 'link', 'set', 'eth0', 'up']);
        await t.must(['ip', '-n', t.ns(node), 'route', 'add', ...(node === 'rem' ? ['198.18.40.0/23'] : ['default']), 'via', FWD[via]]);
        if (opts.ipv6) await t.must(['ip', '-n', t.ns(node), '-6', 'route', 'add', ...(node === 'rem' ? ['2001:2:0:40::/63'] : ['default']), 'via', FWD6[via]]);
      };
      await wire('c1', undefined, 'gwBridge');
      await wire('c2', undefined, 'gwBridge');
      await wire('r1', 'gwRouted', 'gwRouted');
      await wire('rem', 'gwUplink', 'gwUplink');
      if (opts.ipv6) await t.ipv6Ready();
    } catch (e) {
      await t.teardown();
      throw e;
    }
    return t;
  }

  /**
   * ipv6Ready waits (bounded) until no namespace holds a tentative address and every node reaches
   * the router over IPv6. Only the global addresses skip duplicate address detection (`nodad`);
   * the link-local ones of a new veth stay tentative for a second or two, and a probe sent in that
   * window timed out on a loaded machine although the topology was right.
   */
  private async ipv6Ready(): Promise<void> {
    for (const n of FWD_NODES) {
      let settled = false;
      for (let i = 0; i < 100 && !settled; i++) {
        settled = (await this.must(['ip', '-n', this.ns(n), '-6', 'addr', 'show', 'tentative'])).stdout.trim() === '';
        if (!settled) await new Promise((res) => setTimeout(res, 200));
      }
      if (!settled) throw new Error(`IPv6 addresses in ${this.ns(n)} stayed tentative for 20 s`);
    }
    const gwOf: Record<Exclude<FwdNode, 'gw'>, string> = { c1: FWD6.gwBridge, c2: FWD6.gwBridge, r1: FWD6.gwRouted, rem: FWD6.gwUplink };
    for (const [node, gw] of Object.entries(gwOf) as Array<[Exclude<FwdNode, 'gw'>, string]>) {
      let ok = false;
      for (let i = 0; i < 10 && !ok; i++) ok = await this.ping(node, gw);
      if (!ok) throw new Error(`${node} does not reach the router at ${gw} over IPv6`);
    }
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
    const to = addr.includes(':') ? `UDP6:[${addr}]:${port}` : `UDP4:${addr}:${port}`;
    const r = await this.exec(from, ['socat', '-t', '2', '-T', '2', '-', to], { stdin: 'microseg-udp\n', timeoutMs: 8000 });
    return r.stdout.trim() === 'microseg-udp';
  }

  /** listen starts an echo listener (socat PIPE) in `node` and waits until it is bound. */
  async listen(node: FwdNode, proto: 'tcp' | 'udp', port: number, family: 4 | 6 = 4): Promise<void> {
    // One socket per family (ipv6only), so IPv4 traffic stays plain IPv4.
    const v6 = family === 6 ? ',ipv6only=1' : '';
    const spec = `${proto === 'tcp' ? `TCP${family}-LISTEN` : `UDP${family}-RECVFROM`}:${port},fork,reuseaddr${v6}`;
    const child = spawn('ip', ['netns', 'exec', this.ns(node), 'socat', spec, 'PIPE'], { detached: true, stdio: 'ignore' });
    this.children.push(child);
    for (let i = 0; i < 100; i++) {
      const r = await this.exec(node, ['ss', proto === 'tcp' ? '-Hltn' : '-Hlun', `-${family}`, `sport = :${port}`]);
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
