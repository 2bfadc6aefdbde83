/**
 * The set-up the standalone fleet benchmarks share (bench/noop-plan.ts, bench/pg-state.ts): N empty
 * network namespaces, deleted on exit (also on Ctrl-C), a configuration of one nftables or
 * iptables enforcer and one processing unit per namespace, and the CLI run in this process.
 * Kept apart from util.ts so the benchmarks that measure a process's memory do not load the CLI.
 */
import { execFileSync } from 'child_process';
import { BufferIo } from '../src/cli/io';
import { main } from '../src/cli/main';

/** benchCli runs `microseg ARGS` in this process. */
export async function benchCli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = new BufferIo();
  const code = await main(['node', 'microseg', ...args], io);
  return { code, out: io.stdout, err: io.stderr };
}

/**
 * NetnsFleet creates namespaces `PREFIX-0 … PREFIX-(n-1)` and deletes every one it created at
 * `cleanup()`, at process exit, and on SIGINT/SIGTERM (which exit 130).
 */
export class NetnsFleet {
  readonly names: string[] = [];

  constructor(readonly prefix: string) {
    process.on('exit', () => this.cleanup());
    for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => process.exit(130));
  }

  create(n: number): void {
    for (let i = 0; i < n; i++) {
      const ns = `${this.prefix}-${i}`;
      this.names.push(ns);
      execFileSync('ip', ['netns', 'add', ns]);
    }
  }

  cleanup(): void {
    for (const ns of this.names.splice(0)) {
      try {
        execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
      } catch {
        /* gone */
      }
    }
  }
}

/**
 * fleetHcl: `hosts` enforcers h<i> on namespaces PREFIX-<i>, each with one PU (198.18.x.y, tags
 * app=a<i mod 5>, env=bench), one policy from app=a0 to everything on tcp/80 and tcp/8000:8100,
 * and with `ping` one allowing ICMP echo among all. `header` goes first (a settings block).
 */
export function fleetHcl(opts: { hosts: number; prefix: string; backend: string; header?: string; ping?: boolean }): string {
  const out = [...(opts.header !== undefined ? [opts.header] : []), 'namespace "/bench" {', '  default_incoming_action = "reject"', '  default_outgoing_action = "reject"', '}'];
  for (let i = 0; i < opts.hosts; i++) {
    out.push(
      `enforcer "h${i}" {\n  namespace = "/bench"\n  backend = "${opts.backend}"\n  connection {\n    type  = "netns"\n    netns = "${opts.prefix}-${i}"\n  }\n}`,
      `processing_unit "pu${i}" {\n  namespace = "/bench"\n  enforcer = enforcer.h${i}.name\n  addresses = ["198.18.${1 + Math.floor(i / 250)}.${1 + (i % 250)}"]\n  tags = ["app=a${i % 5}", "env=bench"]\n}`,
    );
  }
  out.push('network_policy "a0-to-all" {\n  namespace = "/bench"\n  subject = [["app=a0"]]\n  object = [["env=bench"]]\n  ports = ["tcp/80", "tcp/8000:8100"]\n}');
  if (opts.ping) out.push('network_policy "ping" {\n  namespace = "/bench"\n  subject = [["env=bench"]]\n  object = [["env=bench"]]\n  ports = ["icmp/8/0"]\n}');
  return out.join('\n') + '\n';
}
