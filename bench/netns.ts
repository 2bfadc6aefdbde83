/**
 * Throwaway network namespaces for the kernel benchmarks. Names are `msb<pid>-<tag>`, so a
 * concurrent test run or a crashed earlier bench never collides; every namespace created here is
 * deleted by `destroy`, and synchronously on process exit if a benchmark threw past its `finally`.
 *
 * Packets are only ever sent between namespaces created here, to addresses in 198.18.0.0/15.
 * The root namespace's firewall and routes are never touched.
 */
import { execFileSync } from 'child_process';
import { runProcess } from '../src/hosts/exec';
import { NetnsHost } from '../src/hosts/netns';

const LIVE = new Set<string>();
const CHILDREN = new Set<number>();

/** trackChild makes sure a process started inside a bench namespace is killed when this process exits. */
export function trackChild(pid: number | undefined): void {
  if (pid !== undefined) CHILDREN.add(pid);
}

/** killChild kills a tracked process now (never throws). */
export function killChild(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* gone */
  }
  CHILDREN.delete(pid);
}

/**
 * killAndDeleteNetnsSync kills whatever runs in each namespace and deletes it, synchronously, so
 * an exit hook can call it (a namespace with a live process in it would outlive `ip netns del`).
 * Never throws: a namespace that is gone is skipped.
 */
export function killAndDeleteNetnsSync(names: Iterable<string>): void {
  for (const ns of names) {
    try {
      const pids = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).split(/\s+/).filter(Boolean);
      for (const p of pids) process.kill(Number(p), 'SIGKILL');
      execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    } catch {
      /* not there */
    }
  }
}

process.once('exit', () => {
  for (const pid of CHILDREN) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  for (const ns of LIVE) {
    try {
      execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    } catch {
      /* already gone */
    }
  }
});
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => process.exit(130));
}

async function must(argv: string[], stdin?: string): Promise<string> {
  const r = await runProcess(argv, { stdin, timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`${argv.join(' ')} failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}

/** nsName is the namespace name for `tag` in this process. */
export function nsName(tag: string): string {
  return `msb${process.pid}-${tag}`;
}

/** createNs creates an empty namespace with loopback up and returns a Host for it. */
export async function createNs(tag: string): Promise<NetnsHost> {
  const ns = nsName(tag);
  LIVE.add(ns);
  await must(['ip', 'netns', 'add', ns]);
  await must(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
  return new NetnsHost(ns);
}

/** destroyNs deletes namespaces created by createNs; never throws. */
export async function destroyNs(...hosts: NetnsHost[]): Promise<void> {
  for (const h of hosts) {
    await runProcess(['ip', 'netns', 'del', h.name]).catch(() => undefined);
    LIVE.delete(h.name);
  }
}

/**
 * link joins two namespaces with a veth pair (`eth0` on both unless named) and gives each its /24
 * address in 198.18.0.0/15.
 */
export async function link(a: NetnsHost, aAddr: string, b: NetnsHost, bAddr: string, names: { a?: string; b?: string } = {}): Promise<void> {
  for (const addr of [aAddr, bAddr]) {
    if (!/^198\.(18|19)\.\d+\.\d+$/.test(addr)) throw new Error(`bench addresses must be in 198.18.0.0/15, got ${addr}`);
  }
  const aIf = names.a ?? 'eth0';
  const bIf = names.b ?? 'eth0';
  await must(['ip', '-n', a.name, 'link', 'add', aIf, 'type', 'veth', 'peer', 'name', bIf, 'netns', b.name]);
  for (const [h, addr, dev] of [
    [a, aAddr, aIf],
    [b, bAddr, bIf],
  ] as const) {
    await must(['ip', '-n', h.name, 'addr', 'add', `${addr}/24`, 'dev', dev]);
    await must(['ip', '-n', h.name, 'link', 'set', dev, 'up']);
  }
}

/**
 * wipe empties every firewall table inside a bench namespace (the nft ruleset, which also holds
 * the iptables-nft tables, and ipsets). Only for namespaces this process created.
 */
export async function wipe(h: NetnsHost): Promise<void> {
  if (!LIVE.has(h.name)) throw new Error(`refusing to wipe ${h.name}: not a bench namespace`);
  // The benchmarks use nftables and iptables-nft only (both live in the nft ruleset); legacy
  // tables are never created here, so they are not touched (that could load kernel modules).
  await h.run(['nft', 'flush', 'ruleset']);
  await h.run(['ipset', 'flush']);
  await h.run(['ipset', 'destroy']);
}

/** mustRun runs argv on a host and throws on a non-zero exit. */
export async function mustRun(h: NetnsHost, argv: string[], stdin?: string): Promise<string> {
  const r = await h.run(argv, { stdin, timeoutMs: 120_000 });
  if (r.code !== 0) throw new Error(`[${h.name}] ${argv.join(' ')} failed (${r.code}): ${r.stderr.trim().slice(0, 500)}`);
  return r.stdout;
}
