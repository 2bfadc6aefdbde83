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
import { runProcess } from '../src/hosts/exec';
import type { BackendName } from '../providers/types';
import { benchCli, fleetHcl, NetnsFleet } from './fleet-setup';
import { argOf, median } from './util';

const HOSTS = Number(argOf('hosts', '50'));
const BACKEND = argOf('backend', 'nftables') as BackendName;
const RUNS = Number(argOf('runs', '3'));
const fleet = new NetnsFleet(`msb${process.pid}`);

function readArgv(): string[][] {
  if (BACKEND === 'nftables') return [['nft', '-j', 'list', 'table', 'inet', 'microseg']];
  const v = BACKEND === 'iptables-nft' ? 'nft' : 'legacy';
  const x = v === 'legacy' ? ['--modprobe=/bin/false'] : [];
  return [[`iptables-${v}-save`, '-t', 'filter', ...x], [`ip6tables-${v}-save`, '-t', 'filter', ...x], ['ipset', 'save']];
}

async function bench(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('needs root (network namespaces)');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mseg-bench-'));
  try {
    fleet.create(HOSTS);
    writeFileSync(path.join(dir, 'main.hcl'), fleetHcl({ hosts: HOSTS, prefix: fleet.prefix, backend: BACKEND, ping: true }));
    const t0 = Date.now();
    const applied = await benchCli('apply', dir, '--auto-approve');
    if (applied.code !== 0) throw new Error(`initial apply failed:\n${applied.err}`);
    console.log(`setup: ${HOSTS} hosts (${BACKEND}) applied in ${Date.now() - t0} ms`);

    const planMs: number[] = [];
    const readMs: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      let t = process.hrtime.bigint();
      for (const ns of fleet.names) {
        for (const argv of readArgv()) {
          const res = await runProcess(['ip', 'netns', 'exec', ns, ...argv]);
          if (res.code !== 0) throw new Error(`${argv.join(' ')} failed in ${ns}: ${res.stderr}`);
        }
      }
      readMs.push(Number(process.hrtime.bigint() - t) / 1e6);
      t = process.hrtime.bigint();
      const p = await benchCli('plan', dir, '--detailed-exitcode');
      planMs.push(Number(process.hrtime.bigint() - t) / 1e6);
      if (p.code !== 0) throw new Error(`plan was not a no-op (exit ${p.code}):\n${p.out}\n${p.err}`);
    }
    const plan = median(planMs);
    const read = median(readMs);
    console.log(`sequential read command on each host: ${read.toFixed(0)} ms (median of ${RUNS}: ${readMs.map((x) => x.toFixed(0)).join(', ')})`);
    console.log(`no-op plan (lock, load, compile, read, diff; probes only hosts with changes; parallelism 10): ${plan.toFixed(0)} ms (median of ${RUNS}: ${planMs.map((x) => x.toFixed(0)).join(', ')})`);
    console.log(`ratio plan / sequential reads: ${(plan / read).toFixed(2)}; target < 5000 ms for 50 hosts: ${plan < 5000 ? 'met' : 'MISSED'}`);
    const destroyed = await benchCli('destroy', dir, '--auto-approve');
    if (destroyed.code !== 0) console.error(`destroy failed:\n${destroyed.err}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    fleet.cleanup();
  }
}

bench().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exitCode = 1;
});
