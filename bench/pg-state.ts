/**
 * Benchmark: the pg state backend against the local file backend, on a throwaway PostgreSQL
 * (test/support/pg-cluster.ts; Unix-socket-free TCP on 127.0.0.1, fsync off: a local server's best
 * case for latency, so the ratio below is a floor for the backend's own work).
 *
 *   npx tsc -p . && node dist/bench/pg-state.js [--hosts 100] [--runs 5]
 *
 * 1. No-op `microseg plan` at N enforcers (network namespaces, nftables), local vs pg, run
 *    alternately in one process against the same hosts and the same state (the pg copy is the
 *    local state, replaced in verbatim), median of --runs each, and their ratio.
 * 2. What recording one host's apply writes (PgStateStore.save of a state with one host changed:
 *    the write apply makes per verified host), at 100 and 1,000 enforcers with an applied model of
 *    that size: rows and JSON bytes (the store's count) and WAL bytes (pg_current_wal_lsn before
 *    and after), plus the 3 journal rows an apply adds per host.
 * 3. Loading the state of 1,000 enforcers (a warm connection; median of --runs).
 *
 * Needs root for item 1 (namespaces `mpg<pid>-<i>`, always deleted); items 2 and 3 run anywhere a
 * cluster can start.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Client } from 'pg';
import { LocalStateStore, newState, PgStateStore, withHost, type StateFile, type StateHost } from '../src/state';
import { startPgCluster, type PgCluster } from '../test/support/pg-cluster';
import { benchCli, fleetHcl, NetnsFleet } from './fleet-setup';
import { argOf, median } from './util';

const HOSTS = Number(argOf('hosts', '100'));
const RUNS = Number(argOf('runs', '5'));
const namespaces = new NetnsFleet(`mpg${process.pid}`);

async function noopPlan(pg: PgCluster): Promise<void> {
  if (process.getuid?.() !== 0) {
    console.log('1. no-op plan local vs pg: SKIPPED (needs root for network namespaces)');
    return;
  }
  const root = mkdtempSync(path.join(os.tmpdir(), 'mseg-bench-pg-'));
  try {
    namespaces.create(HOSTS);
    const L = path.join(root, 'local');
    const P = path.join(root, 'pg');
    mkdirSync(L);
    mkdirSync(P);
    writeFileSync(path.join(L, 'main.hcl'), fleetHcl({ hosts: HOSTS, prefix: namespaces.prefix, backend: 'nftables', header: '' }));
    writeFileSync(path.join(P, 'main.hcl'), fleetHcl({ hosts: HOSTS, prefix: namespaces.prefix, backend: 'nftables', header: 'microseg {\n  backend "pg" {\n    schema_name = "bench"\n  }\n}\n' }));
    process.env.PG_CONN_STR = pg.connStr;
    const applied = await benchCli('apply', L, '--auto-approve');
    if (applied.code !== 0) throw new Error(`initial apply failed:\n${applied.err}`);
    const state = await new LocalStateStore(L).load();
    const pgStore = new PgStateStore({ connStr: pg.connStr, schema: 'bench', workspace: 'default' });
    await pgStore.replace(state!);
    await pgStore.close();
    const ms: Record<'local' | 'pg', number[]> = { local: [], pg: [] };
    for (let r = 0; r < RUNS + 1; r++) {
      for (const [name, dir] of [['local', L], ['pg', P]] as const) {
        const t = process.hrtime.bigint();
        const p = await benchCli('plan', dir, '--detailed-exitcode');
        const took = Number(process.hrtime.bigint() - t) / 1e6;
        if (p.code !== 0) throw new Error(`${name} plan was not a no-op (exit ${p.code}):\n${p.out}\n${p.err}`);
        if (r > 0) ms[name].push(took); // the first round warms caches (and loads the pg client)
      }
    }
    const l = median(ms.local);
    const g = median(ms.pg);
    console.log(`1. no-op plan at ${HOSTS} enforcers (nftables, netns): local ${l.toFixed(0)} ms, pg ${g.toFixed(0)} ms, ratio pg/local ${(g / l).toFixed(2)} (target <= 1.2: ${g / l <= 1.2 ? 'met' : 'NOT MET'})`);
    console.log(`   runs local: ${ms.local.map((x) => x.toFixed(0)).join(', ')}; pg: ${ms.pg.map((x) => x.toFixed(0)).join(', ')}`);
    const destroyed = await benchCli('destroy', L, '--auto-approve');
    if (destroyed.code !== 0) console.error(`destroy failed:\n${destroyed.err}`);
  } finally {
    rmSync(root, { recursive: true, force: true });
    namespaces.cleanup();
  }
}

function host(i: number, fingerprint = `fp-${i}`): StateHost {
  return {
    backend: 'nftables',
    connection: { type: 'netns', netns: `ns-${i}` },
    owned: {
      sets: [{ name: `s${i}`, family: 4 as const, elements: ['198.18.0.1', '198.18.0.2', '198.18.0.3'] }],
      chains: [
        { name: 'in', hook: 'input', ruleIds: Array.from({ length: 8 }, (_, k) => `r${k}-${'0'.repeat(16)}`) },
        { name: 'out', hook: 'output', ruleIds: Array.from({ length: 8 }, (_, k) => `o${k}-${'0'.repeat(16)}`) },
      ],
      hooks: [
        { hook: 'input' as const, family: 4 as const },
        { hook: 'output' as const, family: 4 as const },
      ],
    },
    fingerprint,
    status: 'applied',
    updated_at: '2026-01-01T00:00:00.000Z',
  };
}

/** A state of n hosts with n resource records and an applied model of n enforcers and n PUs. */
function fleet(n: number): StateFile {
  let s = newState();
  const enforcers = [];
  const pus = [];
  for (let i = 0; i < n; i++) {
    const name = `e${String(i).padStart(5, '0')}`;
    s = withHost(s, name, host(i));
    s.resources.push({ address: `enforcer.${name}`, type: 'enforcer', name, namespace: '/bench', attributes_digest: 'd'.repeat(64) });
    enforcers.push({ name, address: `enforcer.${name}`, namespace: '/bench', backend: 'nftables', connection: { type: 'netns', netns: `ns-${i}` }, pos: { file: 'main.hcl', line: i * 8 + 1, column: 1 } });
    pus.push({ name: `pu${i}`, address: `processing_unit.pu${i}`, namespace: '/bench', enforcer: name, addresses: [`198.18.${Math.floor(i / 250)}.${i % 250}`], tags: ['env=bench'], pos: { file: 'main.hcl', line: i * 8 + 5, column: 1 } });
  }
  s.applied_model = { namespaces: [], enforcers, enforcerProfiles: [], processingUnits: pus, externalNetworks: [], networkPolicies: [], enforcerTokens: [], expects: [], outputs: {} } as unknown as StateFile['applied_model'];
  return s;
}

async function walLsn(c: Client): Promise<string> {
  return (await c.query<{ l: string }>('SELECT pg_current_wal_insert_lsn()::text AS l')).rows[0].l;
}

async function walBytes(c: Client, from: string, to: string): Promise<number> {
  return Number((await c.query<{ d: string }>('SELECT pg_wal_lsn_diff($2::pg_lsn, $1::pg_lsn) AS d', [from, to])).rows[0].d);
}

async function writesAndLoad(pg: PgCluster): Promise<void> {
  const admin = new Client({ connectionString: pg.connStr });
  await admin.connect();
  try {
    for (const n of [100, 1000]) {
      const schema = `w${n}`;
      const store = new PgStateStore({ connStr: pg.connStr, schema, workspace: 'default' });
      const saved = await store.save(fleet(n));
      const rows: number[] = [];
      const bytes: number[] = [];
      const wal: number[] = [];
      let cur = saved;
      for (let r = 0; r < RUNS; r++) {
        const before = { ...store.stats };
        const lsn = await walLsn(admin);
        const runId = `run-${r}`;
        const target = `e${String(r % n).padStart(5, '0')}`;
        for (const phase of ['begin', 'applied'] as const) await store.journal({ ts: new Date().toISOString(), run_id: runId, enforcer: target, phase });
        cur = await store.save(withHost(cur, target, host(r, `changed-${r}`)));
        await store.journal({ ts: new Date().toISOString(), run_id: runId, enforcer: target, phase: 'verified' });
        wal.push(await walBytes(admin, lsn, await walLsn(admin)));
        rows.push(store.stats.rows - before.rows + 3);
        bytes.push(store.stats.bytes - before.bytes);
      }
      console.log(
        `2. one-host apply at ${String(n).padStart(4)} enforcers: ${median(rows)} rows (host + workspace + 3 journal), ${median(bytes)} JSON bytes, ${median(wal)} WAL bytes (median of ${RUNS}; WAL runs: ${wal.join(', ')})`,
      );
      await store.close();
    }
    const warm = new PgStateStore({ connStr: pg.connStr, schema: 'w1000', workspace: 'default' });
    await warm.load();
    const loads: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      const t = process.hrtime.bigint();
      const s = await warm.load();
      loads.push(Number(process.hrtime.bigint() - t) / 1e6);
      if (Object.keys(s!.hosts).length !== 1000) throw new Error('load lost hosts');
    }
    await warm.close();
    const cold = new PgStateStore({ connStr: pg.connStr, schema: 'w1000', workspace: 'default' });
    let t = process.hrtime.bigint();
    await cold.load();
    const coldMs = Number(process.hrtime.bigint() - t) / 1e6;
    await cold.close();
    const local = mkdtempSync(path.join(os.tmpdir(), 'mseg-bench-load-'));
    try {
      const ls = new LocalStateStore(local);
      await ls.save(fleet(1000));
      const localMs: number[] = [];
      for (let r = 0; r < RUNS; r++) {
        t = process.hrtime.bigint();
        await new LocalStateStore(local).load();
        localMs.push(Number(process.hrtime.bigint() - t) / 1e6);
      }
      const m = median(loads);
      console.log(
        `3. load state of 1,000 enforcers: pg ${m.toFixed(1)} ms warm (runs ${loads.map((x) => x.toFixed(0)).join(', ')}), ${coldMs.toFixed(0)} ms with connect + schema check; local file ${median(localMs).toFixed(1)} ms (target < 200 ms: ${m < 200 ? 'met' : 'NOT MET'})`,
      );
    } finally {
      rmSync(local, { recursive: true, force: true });
    }
  } finally {
    await admin.end();
  }
}

async function bench(): Promise<void> {
  const pg = await startPgCluster();
  try {
    console.log(`machine: ${os.cpus().length} cpus, load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}; PostgreSQL ${pg.psql('SHOW server_version').trim()}`);
    await writesAndLoad(pg);
    await noopPlan(pg);
  } finally {
    await pg.destroy();
  }
}

bench().catch((e) => {
  console.error(e instanceof Error ? e.stack : e);
  process.exitCode = 1;
});
