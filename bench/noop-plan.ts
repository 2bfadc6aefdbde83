/**
 * Benchmark: a no-op `microseg plan` over N enforcer hosts (network namespaces, default 50)
 * against the floor it cannot beat by much: running the backend's read command on each host one
 * after the other (`nft -j list table inet microseg`, or `iptables-save` + `ip6tables-save` +
 * `ipset save`). Target: the plan under 5 s for 50 hosts. Prints both times and their ratio.
 *
 *   npx tsc -p . && node dist/bench/noop-plan.js [--hosts 50] [--backend nftables] [--runs 3]
 *
 * Needs root. Creates namespaces `msb<pid>-<i>` (no interfaces, no packets sent) and always
 * deletes them. Not part of the test suite.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { execFileSync } from 'child_process';
import { BufferIo } from '../src/cli/io';
import { main } from '../src/cli/main';
import { runProcess } from '../src/hosts/exec';
import type { BackendName } from '../providers/types';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}

const HOSTS = Number(arg('hosts', '50'));
const BACKEND = arg('backend', 'nftables') as BackendName;
const RUNS = Number(arg('runs', '3'));
const PREFIX = `msb${process.pid}`;
const namespaces: string[] = [];

function cleanup(): void {
  for (const ns of namespaces.splice(0)) {
    try {
      execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    } catch {
      /* gone */
    }
  }
}
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => process.exit(130));

function configHcl(): string {
  const out = ['namespace "/bench" {', '  default_incoming_action = "reject"', '  default_outgoing_action = "reject"', '}'];
  for (let i = 0; i < HOSTS; i++) {
    const ns = `${PREFIX}-${i}`;
    out.push(
      `enforcer "h${i}" {\n  namespace = "/bench"\n  backend = "${BACKEND}"\n  connection {\n    type  = "netns"\n    netns = "${ns}"\n  }\n}`,
      `processing_unit "pu${i}" {\n  namespace = "/bench"\n  enforcer = enforcer.h${i}.name\n  addresses = ["198.18.${1 + Math.floor(i / 250)}.${1 + (i % 250)}"]\n  tags = ["app=a${i % 5}", "env=bench"]\n}`,
    );
  }
  out.push('network_policy "a0-to-all" {\n  namespace = "/bench"\n  subject = [["app=a0"]]\n  object = [["env=bench"]]\n  ports = ["tcp/80", "tcp/8000:8100"]\n}');
  out.push('network_policy "ping" {\n  namespace = "/bench"\n  subject = [["env=bench"]]\n  object = [["env=bench"]]\n  ports = ["icmp/8/0"]\n}');
  return out.join('\n') + '\n';
}

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = new BufferIo();
  const code = await main(['node', 'microseg', ...args], io);
  return { code, out: io.stdout, err: io.stderr };
}

function readArgv(): string[][] {
  if (BACKEND === 'nftables') return [['nft', '-j', 'list', 'table', 'inet', 'microseg']];
  const v = BACKEND === 'iptables-nft' ? 'nft' : 'legacy';
  const x = v === 'legacy' ? ['--modprobe=/bin/false'] : [];
  return [[`iptables-${v}-save`, '-t', 'filter', ...x], [`ip6tables-${v}-save`, '-t', 'filter', ...x], ['ipset', 'save']];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function bench(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('needs root (network namespaces)');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mseg-bench-'));
  try {
    for (let i = 0; i < HOSTS; i++) {
      const ns = `${PREFIX}-${i}`;
      namespaces.push(ns);
      execFileSync('ip', ['netns', 'add', ns]);
    }
    writeFileSync(path.join(dir, 'main.hcl'), configHcl());
    const t0 = Date.now();
    const applied = await cli('apply', dir, '--auto-approve');
    if (applied.code !== 0) throw new Error(`initial apply failed:\n${applied.err}`);
    console.log(`setup: ${HOSTS} hosts (${BACKEND}) applied in ${Date.now() - t0} ms`);

    const planMs: number[] = [];
    const readMs: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      let t = process.hrtime.bigint();
      for (const ns of namespaces) {
        for (const argv of readArgv()) {
          const res = await runProcess(['ip', 'netns', 'exec', ns, ...argv]);
          if (res.code !== 0) throw new Error(`${argv.join(' ')} failed in ${ns}: ${res.stderr}`);
        }
      }
      readMs.push(Number(process.hrtime.bigint() - t) / 1e6);
      t = process.hrtime.bigint();
      const p = await cli('plan', dir, '--detailed-exitcode');
      planMs.push(Number(process.hrtime.bigint() - t) / 1e6);
      if (p.code !== 0) throw new Error(`plan was not a no-op (exit ${p.code}):\n${p.out}\n${p.err}`);
    }
    const plan = median(planMs);
    const read = median(readMs);
    console.log(`sequential read command on each host: ${read.toFixed(0)} ms (median of ${RUNS}: ${readMs.map((x) => x.toFixed(0)).join(', ')})`);
    console.log(`no-op plan (lock, load, compile, read, diff; probes only hosts with changes; parallelism 10): ${plan.toFixed(0)} ms (median of ${RUNS}: ${planMs.map((x) => x.toFixed(0)).join(', ')})`);
    console.log(`ratio plan / sequential reads: ${(plan / read).toFixed(2)}; target < 5000 ms for 50 hosts: ${plan < 5000 ? 'met' : 'MISSED'}`);
    const destroyed = await cli('destroy', dir, '--auto-approve');
    if (destroyed.code !== 0) console.error(`destroy failed:\n${destroyed.err}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    cleanup();
  }
}

bench().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exitCode = 1;
});
