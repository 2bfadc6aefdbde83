/**
 * Real-kernel test harness: builds throwaway network namespaces joined by a bridge, starts
 * listeners, sends real packets and always tears everything down.
 *
 * Address conventions (one place, PRACTICES 15): every node has `eth0` on one L2 segment
 * (a Linux bridge in its own namespace) with IPv4 from 198.18.0.0/24 (inside the benchmarking
 * range 198.18.0.0/15) and IPv6 from 2001:2::/64 (inside 2001:2::/48). Packets are only ever sent
 * to these addresses, inside namespaces this harness created; the root namespace's firewall and
 * routes are never touched. Namespace names are `mst<pid>-<tag>-<node>`, so concurrent jest
 * workers and leftovers of a crashed run never collide.
 */
import { spawn, execFileSync, type ChildProcess } from 'child_process';
import { killAndDeleteNetnsSync } from '../../bench/netns';
import { runProcess } from '../../src/hosts/exec';
import { NetnsHost } from '../../src/hosts/netns';
import type { CommandResult } from '../../src/hosts/types';

/** rootSkipReason says why real-kernel tests cannot run here, or undefined if they can. */
export function rootSkipReason(): string | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    return 'real-kernel netns tests need root (CI runs them as root): skipped';
  }
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' });
  } catch {
    return 'real-kernel netns tests need iproute2 `ip netns`: skipped';
  }
  return undefined;
}

/** describeAsRoot is `describe`, or `describe.skip` with a visible console reason when not root. */
export function describeAsRoot(name: string, fn: () => void, extraSkipReason?: () => string | undefined): void {
  const reason = rootSkipReason() ?? extraSkipReason?.();
  if (reason) {
    // Visible on purpose: a silently skipped real-kernel suite is a false green.
    console.warn(`[netns] ${name}: ${reason}`);
    describe.skip(name, fn);
  } else {
    describe(name, fn);
  }
}

export interface NodeSpec {
  name: string;
  v4: string;
  v6: string;
}

const ALL_NAMESPACES = new Set<string>();
const ALL_CHILDREN = new Set<ChildProcess>();

// Last resort if a test process exits without running afterAll (e.g. jest killed a worker after
// a timeout): kill listeners and delete namespaces synchronously.
process.once('exit', () => {
  for (const c of ALL_CHILDREN) killTree(c);
  for (const ns of ALL_NAMESPACES) {
    try {
      execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    } catch {
      /* already gone */
    }
  }
});

/**
 * deleteNetnsOnExit is the last resort for tests that create namespaces by other means than
 * Topology (the sandbox, say): if the process exits without running afterAll, whatever runs in
 * those namespaces is killed and they are deleted, synchronously.
 */
export function deleteNetnsOnExit(names: Iterable<string>): void {
  process.once('exit', () => killAndDeleteNetnsSync(names));
}

function killTree(c: ChildProcess): void {
  if (c.pid === undefined || c.exitCode !== null || c.signalCode !== null) return;
  try {
    process.kill(-c.pid, 'SIGKILL'); // the listener's process group: socat and its forked children
  } catch {
    try {
      c.kill('SIGKILL');
    } catch {
      /* gone */
    }
  }
}

async function must(argv: string[], stdin?: string): Promise<CommandResult> {
  const r = await runProcess(argv, { stdin, timeoutMs: 20_000 });
  if (r.code !== 0) throw new Error(`${argv.join(' ')} failed (${r.code}): ${r.stderr.trim()}`);
  return r;
}

export type TcpResult = 'open' | 'refused' | 'timeout';

/** Topology is a set of namespaces on one bridge. */
export class Topology {
  private readonly children: ChildProcess[] = [];
  private readonly namespaces: string[] = [];

  private constructor(
    readonly prefix: string,
    readonly nodes: ReadonlyMap<string, NodeSpec>,
  ) {}

  /** create builds the bridge namespace and one namespace per node; on failure it tears down what it made. */
  static async create(tag: string, nodes: NodeSpec[]): Promise<Topology> {
    const prefix = `mst${process.pid}-${tag}`;
    const t = new Topology(prefix, new Map(nodes.map((n) => [n.name, n])));
    try {
      const br = t.nsName('br');
      await t.addNs(br);
      await must(['ip', '-n', br, 'link', 'add', 'br0', 'type', 'bridge']);
      // No multicast snooping: IPv6 neighbour discovery must not depend on MLD state.
      await must(['ip', '-n', br, 'link', 'set', 'br0', 'type', 'bridge', 'mcast_snooping', '0']);
      await must(['ip', '-n', br, 'link', 'set', 'br0', 'up']);
      for (const n of nodes) {
        const ns = t.nsName(n.name);
        await t.addNs(ns);
        const port = `v-${n.name}`.slice(0, 15);
        await must(['ip', '-n', br, 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
        await must(['ip', '-n', br, 'link', 'set', port, 'master', 'br0', 'up']);
        await must(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
        await must(['ip', '-n', ns, 'addr', 'add', `${n.v4}/24`, 'dev', 'eth0']);
        // nodad: the address is usable at once instead of after ~1 s of duplicate detection.
        await must(['ip', '-n', ns, 'addr', 'add', `${n.v6}/64`, 'dev', 'eth0', 'nodad']);
        await must(['ip', '-n', ns, 'link', 'set', 'eth0', 'up']);
      }
    } catch (e) {
      await t.teardown();
      throw e;
    }
    return t;
  }

  nsName(node: string): string {
    return `${this.prefix}-${node}`;
  }

  host(node: string): NetnsHost {
    return new NetnsHost(this.nsName(node));
  }

  node(name: string): NodeSpec {
    const n = this.nodes.get(name);
    if (!n) throw new Error(`no node ${name}`);
    return n;
  }

  private async addNs(ns: string): Promise<void> {
    ALL_NAMESPACES.add(ns);
    this.namespaces.push(ns);
    await must(['ip', 'netns', 'add', ns]);
  }

  /** exec runs argv inside a node's namespace and returns the result (no throw on non-zero exit). */
  exec(node: string, argv: string[], opts?: { stdin?: string; timeoutMs?: number }): Promise<CommandResult> {
    return this.host(node).run(argv, opts);
  }

  /** mustExec is exec that throws on a non-zero exit. */
  async mustExec(node: string, argv: string[], stdin?: string): Promise<string> {
    const r = await this.exec(node, argv, { stdin });
    if (r.code !== 0) throw new Error(`[${node}] ${argv.join(' ')} failed (${r.code}): ${r.stderr.trim()}`);
    return r.stdout;
  }

  /** ping sends one echo request and says whether a reply came back. */
  async ping(from: string, addr: string, timeoutS = 2): Promise<boolean> {
    const r = await this.exec(from, ['ping', '-n', '-c', '1', '-W', String(timeoutS), addr], { timeoutMs: (timeoutS + 3) * 1000 });
    return r.code === 0;
  }

  /** tcpConnect tries a TCP handshake: open, refused (RST or ICMP unreachable) or timeout. */
  async tcpConnect(from: string, addr: string, port: number, timeoutMs = 2000): Promise<TcpResult> {
    const secs = Math.max(1, Math.ceil(timeoutMs / 1000));
    const r = await this.exec(from, ['nc', '-n', '-z', '-v', '-w', String(secs), addr, String(port)], { timeoutMs: timeoutMs + 5000 });
    if (r.code === 0) return 'open';
    const msg = `${r.stdout}${r.stderr}`;
    // An ICMP port/host unreachable answer surfaces as ECONNREFUSED or EHOSTUNREACH; both are "refused".
    if (/refused|unreachable/i.test(msg)) return 'refused';
    return 'timeout';
  }

  /** udpExchange sends one datagram and returns the echoed reply, or null if none arrived. */
  async udpExchange(from: string, addr: string, port: number, payload = 'microseg-udp', timeoutMs = 2000): Promise<string | null> {
    const secs = String(Math.max(1, timeoutMs / 1000));
    const target = addr.includes(':') ? `UDP6:[${addr}]:${port}` : `UDP4:${addr}:${port}`;
    const r = await this.exec(from, ['socat', '-t', secs, '-T', secs, '-', target], { stdin: `${payload}\n`, timeoutMs: timeoutMs + 5000 });
    const out = r.stdout.trim();
    return out === '' ? null : out;
  }

  /**
   * listen starts a socat listener in `node` that echoes what it receives (PIPE), and waits until
   * the socket is bound. Each family gets its own socket (ipv6only=1) so IPv4 traffic is plain IPv4.
   */
  async listen(node: string, proto: 'tcp' | 'udp', port: number, family: 4 | 6): Promise<void> {
    const addr =
      proto === 'tcp'
        ? `TCP${family}-LISTEN:${port},fork,reuseaddr${family === 6 ? ',ipv6only=1' : ''}`
        : `UDP${family}-RECVFROM:${port},fork,reuseaddr${family === 6 ? ',ipv6only=1' : ''}`;
    // detached: the listener leads its own process group, so teardown kills its forked children too.
    const child = spawn('ip', ['netns', 'exec', this.nsName(node), 'socat', addr, 'PIPE'], { detached: true, stdio: 'ignore' });
    ALL_CHILDREN.add(child);
    this.children.push(child);
    const flag = proto === 'tcp' ? '-Hltn' : '-Hlun';
    const want = family === 4 ? /^\S+\s+\S+\s+\S+\s+(0\.0\.0\.0|\*):(\d+)/ : /^\S+\s+\S+\s+\S+\s+\[::\]:(\d+)/;
    for (let i = 0; i < 100; i++) {
      const r = await this.exec(node, ['ss', flag, `sport = :${port}`]);
      if (r.stdout.split('\n').some((l) => want.test(l.trim()))) return;
      if (child.exitCode !== null) throw new Error(`listener ${proto}/${port} v${family} in ${node} exited with ${child.exitCode}`);
      await new Promise((res) => setTimeout(res, 50));
    }
    throw new Error(`listener ${proto}/${port} v${family} in ${node} did not come up`);
  }

  /**
   * daemon starts a long-running program (a DNS resolver, say) in `node`, killed with its process
   * group at teardown like the listeners. Its stderr is kept for the caller's diagnostics.
   */
  daemon(node: string, argv: string[], env?: NodeJS.ProcessEnv): { child: ChildProcess; stderr: () => string } {
    // env explicitly: under jest, assigning the test's process.env does not reach spawn's default.
    const child = spawn('ip', ['netns', 'exec', this.nsName(node), ...argv], { detached: true, stdio: ['ignore', 'ignore', 'pipe'], env: env ?? process.env });
    ALL_CHILDREN.add(child);
    this.children.push(child);
    let err = '';
    child.stderr?.on('data', (b: Buffer) => {
      err += b.toString();
    });
    return { child, stderr: () => err };
  }

  /** teardown kills listeners and deletes every namespace, whatever state they are in. Never throws. */
  async teardown(): Promise<void> {
    for (const c of this.children) {
      killTree(c);
      ALL_CHILDREN.delete(c);
    }
    for (const ns of this.namespaces.reverse()) {
      // A daemon started inside (the flow-log collector, ulogd, which apply starts where rules
      // log) keeps a deleted namespace alive and runs on: kill whatever still runs in it first.
      const pids = await runProcess(['ip', 'netns', 'pids', ns]).catch(() => undefined);
      for (const p of (pids?.stdout ?? '').split('\n').map(Number).filter((n) => Number.isInteger(n) && n > 0)) {
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      await runProcess(['ip', 'netns', 'del', ns]).catch(() => undefined);
      ALL_NAMESPACES.delete(ns);
    }
    this.namespaces.length = 0;
  }
}

/**
 * legacySkipReason says why iptables-legacy cannot be tested in this kernel, or undefined. It
 * checks in a scratch namespace without loading modules: the legacy tables must already be
 * available (built in or loaded), exactly the condition detectBackend uses.
 */
export function legacySkipReason(): string | undefined {
  const ns = `mst${process.pid}-legacy-probe`;
  try {
    execFileSync('cat', ['/proc/net/ip_tables_names'], { stdio: 'ignore' });
  } catch {
    return 'iptables-legacy unusable: /proc/net/ip_tables_names missing (ip_tables not loaded; tests never modprobe)';
  }
  try {
    execFileSync('ip', ['netns', 'add', ns], { stdio: 'ignore' });
    ALL_NAMESPACES.add(ns);
    for (const bin of ['iptables-legacy', 'ip6tables-legacy']) {
      execFileSync('ip', ['netns', 'exec', ns, bin, '--modprobe=/bin/false', '-t', 'filter', '-S'], { stdio: 'ignore' });
    }
    return undefined;
  } catch (e) {
    return `iptables-legacy unusable in this kernel: ${(e as Error).message.split('\n')[0]}`;
  } finally {
    try {
      execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    } catch {
      /* never created */
    }
    ALL_NAMESPACES.delete(ns);
  }
}

/**
 * ownedView is a live read without what it learned about the host (its addresses and bridges,
 * LiveRuleset.facts): what `expected()` of a desired ruleset can be compared with.
 */
export function ownedView<T extends { facts?: unknown }>(live: T): Omit<T, 'facts'> {
  const { facts: _facts, ...owned } = live;
  return owned;
}
