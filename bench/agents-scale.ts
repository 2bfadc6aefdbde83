/**
 * Benchmark: 1,000 simulated agents against one control plane server (issue 13, "scale").
 *
 *   npx tsc -p . && node dist/bench/agents-scale.js [--agents 1000] [--procs 4] [--pus 10] [--policies 100] [--pg-pool 16] [--server-prof DIR]
 *
 * Everything is real but the kernel: a throwaway PostgreSQL (test/support/pg-cluster.ts), one
 * `startControlServer` in a process of its own (so its CPU and RSS are its own, read from /proc),
 * and --agents agents spread over --procs processes, each agent with its own P-256 key, its own
 * client certificate (registered with a token, as `microseg agent` does) and its own keep-alive
 * HTTPS connection with mutual TLS on 127.0.0.1. An agent loops: long-poll GET /v1/ruleset
 * (If-None-Match, wait 55 s, A-IM json-patch when deltas are on) → verify the etag → POST
 * /v1/report → long-poll again. It applies nothing to a kernel: what is measured is the control
 * plane's fan-out, not nft.
 *
 * Documents: a fleet of 20 enforcers × --pus PUs × --policies policies is compiled once; agent i
 * is published host (i mod 20)'s ruleset under its own name, as AgentDesired with lineage and
 * serial. The one-policy change is a policy every PU is subject and object of (`env=prod` to
 * `env=prod`) whose port moves, so every agent's ruleset changes (a rule in each of its PU
 * chains) and every agent must acknowledge; the serial moves too, as an apply's publish would.
 *
 * Two rounds in one run, side by side: the change pulled as a delta (226 + RFC 6902 patch), and
 * the same kind of change pulled whole (agents stop sending A-IM). Per round: publish of all
 * documents (ControlStore.publish, 8 at once, as `apply` would), time from the first publish to
 * the last acknowledgement, acknowledgement latency percentiles, server CPU seconds during the
 * round, server RSS (now and peak) and response-body bytes each agent pulled for the change.
 * Load average is recorded before and after: on this 2-core machine other helpers' suites run.
 */
import { fork, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as https from 'https';
import * as os from 'os';
import { Pool } from 'pg';
import { createCsr, generateKeys, privateKeyPem } from '../src/control/ca';
import { controlRequest, pullRuleset, type HeldRuleset } from '../src/control/client';
import { AGENT_DESIRED_FORMAT, type AgentDesired } from '../src/control/desired';
import { openControl } from '../src/control/open';
import { DEFAULT_PG_POOL } from '../src/cli/commands/server';
import { startControlServer } from '../src/control/server';
import { ControlStore } from '../src/control/store';
import { newToken } from '../src/control/tokens';
import type { DesiredRuleset } from '../src/compile/ir';
import { retryDelay } from '../src/agent/backoff';
import { generateHcl } from './generate';
import { rulesetOf } from './host-ruleset';
import { defaultLog, median, newResult, quantile, round, writeResult, type BenchOptions } from './util';

const CA_KEY = 'agents-scale-bench-ca-key-of-32-characters!';
const HOSTS = 20;

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}

// ------------------------------------------------------------------ server process

async function serverRole(): Promise<void> {
  const c = await openControl({ poolSize: Number(arg('pg-pool', String(DEFAULT_PG_POOL))) });
  // Only failures are logged: a thousand registrations would drown them.
  const srv = await startControlServer({ store: c.store, host: '127.0.0.1', port: 0, log: (l) => (/internal error|failed|lost/.test(l) ? process.stderr.write(`server: ${l}\n`) : undefined) });
  process.send!({ type: 'listening', url: srv.url });
  process.on('message', (m: { type: string }) => {
    if (m.type === 'stop') void srv.close().then(() => c.close()).then(() => process.exit(0));
  });
}

// ------------------------------------------------------------------ agent process

interface SimAgent {
  name: string;
  cert: string;
  key: string;
  held?: HeldRuleset;
  agent: https.Agent;
}

async function agentsRole(): Promise<void> {
  const url = arg('url', '');
  const ca = fs.readFileSync(arg('ca-file', ''), 'utf8');
  const token = arg('token', '');
  const first = Number(arg('first', '0'));
  const count = Number(arg('count', '0'));
  let useDelta = true;
  let generation = 0;
  let stopping = false;
  const agents: SimAgent[] = [];
  // Registration: at most 8 at once per process, so the server sees bursts, not a stampede.
  for (let i = 0; i < count; i += 8) {
    const batch = Array.from({ length: Math.min(8, count - i) }, (_, k) => first + i + k);
    agents.push(
      ...(await Promise.all(
        batch.map(async (n) => {
          const name = `agent-${String(n).padStart(4, '0')}`;
          const keys = await generateKeys();
          const csr = await createCsr(name, keys);
          // As an agent does: a refusal (403) is final, a server error or timeout is retried with backoff.
          let r: Awaited<ReturnType<typeof controlRequest>> | undefined;
          for (let attempt = 0; attempt < 10; attempt++) {
            r = await controlRequest({ url, ca, method: 'POST', path: '/v1/register', body: { token, enforcer: name, csr }, timeoutMs: 120_000 }).catch((e: Error) => ({ status: 0, body: { error: e.message }, bytes: 0, retryAfterMs: undefined }));
            if (r.status === 200 || (r.status >= 400 && r.status < 500)) break;
            process.send!({ type: 'error', agent: name, status: r.status, message: `registration attempt ${attempt + 1}: ${r.status} ${JSON.stringify(r.body)}` });
            // The agent's own rule: the backoff, or the server's Retry-After when longer, jittered.
            await new Promise((res) => setTimeout(res, retryDelay(attempt + 1, r!.retryAfterMs, { baseMs: 500, capMs: 15_000 })));
          }
          if (r!.status !== 200) throw new Error(`registration of ${name}: ${r!.status} ${JSON.stringify(r!.body)}`);
          return { name, cert: r!.body.cert as string, key: await privateKeyPem(keys.privateKey), agent: new https.Agent({ keepAlive: true, maxSockets: 1 }) };
        }),
      )),
    );
  }
  process.send!({ type: 'registered', count: agents.length });

  /** A failed request, with what the server said about coming back. */
  class Failed extends Error {
    constructor(
      message: string,
      readonly status: number,
      readonly retryAfterMs?: number,
    ) {
      super(message);
    }
  }
  const loop = async (a: SimAgent) => {
    let failures = 0;
    // A report not yet accepted is sent again before the next pull (as the agent's pendingReport).
    let unreported: { etag: string; bytes: number; via: string } | undefined;
    const report = async (u: { etag: string; bytes: number; via: string }) => {
      const rep = await controlRequest(
        { url, ca, cert: a.cert, key: a.key, method: 'POST', path: '/v1/report', body: { enforcer: a.name, etag: u.etag, status: 'applied', live_fingerprint: '', drift: [], repaired: false }, timeoutMs: 90_000 },
        a.agent,
      );
      if (rep.status !== 200) throw new Failed(`report ${rep.status} ${String(rep.body.code ?? '')}`, rep.status, rep.retryAfterMs);
      unreported = undefined;
      process.send!({ type: 'ack', agent: a.name, etag: u.etag, bytes: u.bytes, via: u.via, at: Date.now() });
    };
    while (!stopping) {
      const gen = generation;
      try {
        if (unreported) await report(unreported);
        const r = await pullRuleset({ url, ca, cert: a.cert, key: a.key, timeoutMs: 90_000 }, a.held, { waitS: 55, delta: useDelta }, a.agent);
        if (r.status === 'error') throw new Failed(`${r.httpStatus} ${r.code ?? ''} ${r.message}`, r.httpStatus, r.retryAfterMs);
        if (r.status === 'changed') {
          a.held = { etag: r.etag, desired: r.desired };
          unreported = { etag: r.etag, bytes: r.bytes, via: r.via };
          await report(unreported);
        }
        failures = 0;
      } catch (e) {
        if (stopping) return;
        // A mode switch aborts the parked long-polls on purpose; anything else is counted.
        const status = e instanceof Failed ? e.status : 0;
        if (gen === generation) process.send!({ type: 'error', agent: a.name, status, message: (e as Error).message });
        failures++;
        // As the agent does (retryDelay): jittered backoff, or the server's Retry-After when it
        // asks for longer, so a thousand agents failing together do not come back together.
        const delay = gen === generation ? retryDelay(failures, e instanceof Failed ? e.retryAfterMs : undefined, { baseMs: 250, capMs: 15_000 }) : 0;
        await new Promise((res) => setTimeout(res, delay));
      }
    }
  };
  process.on('message', (m: { type: string; delta?: boolean }) => {
    if (m.type === 'mode') {
      const next = m.delta ?? true;
      // Parked long-polls were sent with the old mode: cut them, the loops re-poll at once. An
      // unchanged mode keeps them: a thousand reconnections at once are not part of a change.
      if (next !== useDelta) {
        useDelta = next;
        generation++;
        for (const a of agents) {
          a.agent.destroy();
          a.agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
        }
      }
      process.send!({ type: 'mode-set' });
    }
    if (m.type === 'stop') {
      stopping = true;
      for (const a of agents) a.agent.destroy();
      setTimeout(() => process.exit(0), 100);
    }
  });
  await Promise.all(agents.map(loop));
}

// ------------------------------------------------------------------ main

/** /proc numbers of one process: CPU seconds (user + system) and RSS / peak RSS in MiB. */
function procStats(pid: number): { cpuS: number; rssMiB: number; peakMiB: number } {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15)
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
  return { cpuS: ticks / 100, rssMiB: kb('VmRSS') / 1024, peakMiB: kb('VmHWM') / 1024 };
}

interface Row {
  round: 'delta' | 'full';
  agents: number;
  publishMs: number;
  allAckedMs: number;
  ackP50Ms: number;
  ackP95Ms: number;
  serverCpuS: number;
  serverRssMiB: number;
  serverPeakRssMiB: number;
  bytesPerAgentMedian: number;
  bytesPerAgentMax: number;
  fullDocumentBytesMedian: number;
  pulledVia: Record<string, number>;
  errors: number;
  /** Failed requests in the round by HTTP status (503: told to come back later; 0: no answer). */
  errorsByStatus: Record<string, number>;
  pgPool: number;
  loadAvgBefore: number[];
  loadAvgAfter: number[];
}

function documents(n: number, pus: number, policies: number, port: number, serial: number): AgentDesired[] {
  const text = generateHcl({ enforcers: HOSTS, pusPerEnforcer: pus, policies, externalNetworks: 10 });
  // The changed policy: every PU is its subject and object, so every host's ruleset carries it.
  const all = `${text}\nnetwork_policy "pol-everywhere" {\n  namespace = "/bench"\n  subject   = [["env=prod"]]\n  object    = [["env=prod"]]\n  action    = "allow"\n  ports     = ["tcp/${port}"]\n}\n`;
  const byHost: DesiredRuleset[] = [];
  for (let h = 0; h < HOSTS; h++) byHost.push(rulesetOf(all, `host-${h}`));
  return Array.from({ length: n }, (_, i) => {
    const name = `agent-${String(i).padStart(4, '0')}`;
    return {
      format: AGENT_DESIRED_FORMAT,
      enforcer: name,
      workspace: 'default',
      lineage: 'bench-lineage',
      serial,
      action: 'apply',
      backend: 'auto',
      ruleset: { ...byHost[i % HOSTS], enforcer: name },
      published_at: new Date().toISOString(),
    };
  });
}

async function publishAll(store: ControlStore, docs: AgentDesired[]): Promise<Map<string, string>> {
  const etags = new Map<string, string>();
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < docs.length) {
        const d = docs[next++];
        etags.set(d.enforcer, await store.publish(d.enforcer, d, new Date()));
      }
    }),
  );
  return etags;
}

export async function run(opts: BenchOptions = { quick: false, log: defaultLog }): Promise<void> {
  const n = Number(arg('agents', '1000'));
  const procs = Number(arg('procs', '4'));
  const pus = Number(arg('pus', '10'));
  const policies = Number(arg('policies', '100'));
  const pgPool = Number(arg('pg-pool', String(DEFAULT_PG_POOL)));
  const log = opts.log;
  const { startPgCluster } = await import('../test/support/pg-cluster');
  const pg = await startPgCluster();
  const children: ChildProcess[] = [];
  const tmp = fs.mkdtempSync(`${os.tmpdir()}/mseg-agents-`);
  const env = { ...process.env, PG_CONN_STR: pg.connStr, MICROSEG_CA_KEY: CA_KEY };
  const pool = new Pool({ connectionString: pg.connStr, max: 8 });
  // Interrupted by hand: still stop the children and the cluster (the finally below).
  let interrupted!: (e: Error) => void;
  const interruption = new Promise<never>((_, reject) => (interrupted = reject));
  interruption.catch(() => undefined);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => interrupted(new Error(`interrupted by ${sig}`)));
  try {
    // --server-prof DIR: a V8 CPU profile of the server process, written when it stops.
    const prof = arg('server-prof', '');
    const server = fork(__filename, ['--role', 'server', '--pg-pool', String(pgPool)], {
      execArgv: prof ? ['--cpu-prof', '--cpu-prof-dir', prof] : [], env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    children.push(server);
    const url = await new Promise<string>((resolve, reject) => {
      server.once('message', (m: { url: string }) => resolve(m.url));
      server.once('exit', (c) => reject(new Error(`server exited ${c}`)));
    });
    const store = new ControlStore(pool, 'microseg', 'default');
    const caFile = `${tmp}/ca.pem`;
    fs.writeFileSync(caFile, await store.bundle());
    const { record, token } = newToken({ name: 'bench', validity: '2h', networks: ['127.0.0.0/8'], quota: n }, new Date());
    await store.addToken(record);
    log(`server ${url} (pid ${server.pid}); compiling documents (${HOSTS} hosts × ${pus} PUs, ${policies} policies)`);
    const docs0 = documents(n, pus, policies, 9000, 1);
    const docs1 = documents(n, pus, policies, 9001, 2);
    const docs2 = documents(n, pus, policies, 9002, 3);
    await publishAll(store, docs0);
    log(`published ${n} initial documents (median ${median(docs0.map((d) => JSON.stringify(d).length))} bytes)`);

    const acks: Array<{ agent: string; etag: string; bytes: number; via: string; at: number }> = [];
    const errors: string[] = [];
    /** Failed requests by HTTP status (0: no answer), since the start. */
    const failedBy: Record<string, number> = {};
    let registered = 0;
    let modeSet = 0;
    const per = Math.ceil(n / procs);
    for (let p = 0; p < procs; p++) {
      const first = p * per;
      const count = Math.min(per, n - first);
      if (count <= 0) break;
      const c = fork(__filename, ['--role', 'agents', '--url', url, '--ca-file', caFile, '--token', token, '--first', String(first), '--count', String(count)], {
        env,
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      children.push(c);
      c.on('message', (m: { type: string; count?: number; agent?: string; etag?: string; bytes?: number; via?: string; at?: number; message?: string; status?: number }) => {
        if (m.type === 'registered') registered += m.count!;
        if (m.type === 'ack') acks.push({ agent: m.agent!, etag: m.etag!, bytes: m.bytes!, via: m.via!, at: m.at! });
        if (m.type === 'error') {
          errors.push(`${m.agent}: ${m.message}`);
          const k = String(m.status ?? 0);
          failedBy[k] = (failedBy[k] ?? 0) + 1;
          // The first of each kind, so a run says what failed, not only how often.
          if (failedBy[k] <= 2) log(`  failed request (${k}): ${m.agent}: ${String(m.message).slice(0, 300)}`);
        }
        if (m.type === 'mode-set') modeSet++;
      });
    }
    const agentProcs = children.slice(1);
    const until = async (what: string, ok: () => boolean, limitMs: number) => {
      const t = Date.now();
      let said = t;
      while (!ok()) {
        if (Date.now() - said > 15_000) {
          said = Date.now();
          log(`  waiting for ${what}: ${acks.length} acknowledgements, ${registered} registered, ${errors.length} failed requests so far ${JSON.stringify(failedBy)} (load ${os.loadavg()[0].toFixed(1)})`);
        }
        await Promise.race([interruption, Promise.resolve()]);
        if (Date.now() - t > limitMs) throw new Error(`timed out waiting for ${what} (${limitMs} ms); errors: ${errors.slice(0, 5).join(' | ')}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    const acked = (etags: Map<string, string>) => () => {
      let k = 0;
      const seen = new Set<string>();
      for (const a of acks) if (etags.get(a.agent) === a.etag && !seen.has(a.agent)) (seen.add(a.agent), k++);
      return k >= n;
    };
    const t0 = Date.now();
    await until('registrations', () => registered >= n, 20 * 60_000);
    const registrationMs = Date.now() - t0;
    log(`${n} agents registered in ${registrationMs} ms`);
    const initial = new Map(docs0.map((d) => [d.enforcer, '']));
    // the initial etags are the documents' etags; read them back rather than recompute
    for (const d of docs0) initial.set(d.enforcer, (await store.etag(d.enforcer))!);
    const t1 = Date.now();
    await until('initial acknowledgements', acked(initial), 20 * 60_000);
    const initialSyncMs = Date.now() - t1;
    const afterSync = procStats(server.pid!);
    const failedBeforeRounds = { ...failedBy };
    log(`all ${n} agents hold their initial document (${initialSyncMs} ms after the last registration; server CPU ${afterSync.cpuS} s so far, peak RSS ${round(afterSync.peakMiB, 1)} MiB; failed requests ${JSON.stringify(failedBy)})`);

    const result = newResult<Row>('agents-scale', `${n} simulated agents (mTLS) against one control plane server`, opts, '');
    const roundOf = async (name: 'delta' | 'full', docs: AgentDesired[]): Promise<Row> => {
      for (const c of agentProcs) c.send({ type: 'mode', delta: name === 'delta' });
      await until('mode switch', () => modeSet >= agentProcs.length, 60_000);
      modeSet = 0;
      // Let every agent park its long-poll again: at least 5 s, and until no request has failed
      // for 5 s (the reconnections after a mode switch may have been told to come back later).
      const settle = Date.now();
      let quietSince = Date.now();
      let failed = errors.length;
      while (Date.now() - settle < 180_000 && (Date.now() - settle < 5_000 || Date.now() - quietSince < 5_000)) {
        if (errors.length !== failed) (failed = errors.length), (quietSince = Date.now());
        await new Promise((r) => setTimeout(r, 250));
      }
      const errorsBefore = errors.length;
      const byStatusBefore = { ...failedBy };
      const loadAvgBefore = os.loadavg().map((x) => round(x, 2));
      const cpu0 = procStats(server.pid!).cpuS;
      const from = acks.length;
      const start = Date.now();
      const etags = await publishAll(store, docs);
      const publishMs = Date.now() - start;
      await until(`acknowledgements of the ${name} round`, acked(etags), 20 * 60_000);
      const end = Date.now();
      const st = procStats(server.pid!);
      const mine = new Map<string, (typeof acks)[number]>();
      for (const a of acks.slice(from)) if (etags.get(a.agent) === a.etag && !mine.has(a.agent)) mine.set(a.agent, a);
      const lat = [...mine.values()].map((a) => a.at - start);
      const bytes = [...mine.values()].map((a) => a.bytes);
      const via: Record<string, number> = {};
      for (const a of mine.values()) via[a.via] = (via[a.via] ?? 0) + 1;
      const row: Row = {
        round: name,
        agents: n,
        publishMs,
        allAckedMs: end - start,
        ackP50Ms: quantile(lat, 0.5),
        ackP95Ms: quantile(lat, 0.95),
        serverCpuS: round(st.cpuS - cpu0, 2),
        serverRssMiB: round(st.rssMiB, 1),
        serverPeakRssMiB: round(st.peakMiB, 1),
        bytesPerAgentMedian: median(bytes),
        bytesPerAgentMax: Math.max(...bytes),
        fullDocumentBytesMedian: median(docs.map((d) => JSON.stringify(d).length)),
        pulledVia: via,
        errors: errors.length - errorsBefore,
        errorsByStatus: Object.fromEntries(Object.entries(failedBy).map(([k, v]) => [k, v - (byStatusBefore[k] ?? 0)]).filter(([, v]) => (v as number) > 0)),
        pgPool,
        loadAvgBefore,
        loadAvgAfter: os.loadavg().map((x) => round(x, 2)),
      };
      log(JSON.stringify(row));
      return row;
    };
    result.rows.push(await roundOf('delta', docs1));
    result.rows.push(await roundOf('full', docs2));
    result.method =
      `One server process (startControlServer, pool ${pgPool}) on 127.0.0.1, PostgreSQL ${pg.psql('SHOW server_version').trim()} (throwaway cluster, fsync off); ` +
      `${n} agents in ${agentProcs.length} processes, each with its own key, registered client certificate and keep-alive mTLS connection; ` +
      `documents compiled from ${HOSTS} enforcers × ${pus} PUs × ${policies + 1} policies; the change moves the port of one policy every PU is subject and object of. ` +
      `Time runs from the first ControlStore.publish (8 concurrent) to the last agent's report; bytes are response bodies the agent received for the change (TLS and headers not counted).`;
    result.notes.push(`registration of ${n} agents: ${registrationMs} ms; initial sync (every agent pulls its whole document) after that: ${initialSyncMs} ms`);
    result.notes.push(`server after registration and initial sync: CPU ${afterSync.cpuS} s, RSS ${round(afterSync.rssMiB, 1)} MiB (peak ${round(afterSync.peakMiB, 1)} MiB)`);
    result.notes.push(`failed requests during registration and initial sync, by HTTP status (0: no answer): ${JSON.stringify(failedBeforeRounds)}`);
    result.notes.push(`load average at the end: ${os.loadavg().map((x) => round(x, 2)).join(' ')} (2 cores shared with other work)`);
    const file = writeResult(result);
    log(`wrote ${file}`);
  } finally {
    for (const c of children) {
      if (c.exitCode === null) {
        c.send?.({ type: 'stop' });
      }
    }
    await new Promise((r) => setTimeout(r, 2_000));
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await pool.end();
    await pg.destroy();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

if (require.main === module) {
  const role = arg('role', 'main');
  const go = role === 'server' ? serverRole() : role === 'agents' ? agentsRole() : run();
  go.catch((e: unknown) => {
    process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  });
}
