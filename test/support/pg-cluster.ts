/**
 * Throwaway PostgreSQL clusters for tests and benchmarks: never a shared server.
 *
 *   const pg = await startPgCluster();          // initdb + pg_ctl start in a fresh temp dir
 *   try {
 *     pg.connStr;                               // postgres://microseg:PASSWORD@127.0.0.1:PORT/microseg
 *     pg.connStrWith({ password: 'wrong' });    // the same with another password (or user/db)
 *     await pg.stop(); await pg.start();        // stop / start the same cluster (data kept)
 *     await pg.restart();
 *   } finally {
 *     await pg.destroy();                       // stop (immediate) and remove the directory
 *   }
 *
 * Each cluster lives in its own `mkdtemp` directory (data/, server.log, and the Unix socket), listens
 * on 127.0.0.1 at a port that was free when it started and on that socket, and requires a password
 * (scram-sha-256) for every connection, so "wrong password" tests see the real server refusal.
 * A process exit that skips `destroy` (a killed jest worker) still stops the server and removes the
 * directory synchronously (the exit hook below). The server binaries are Debian's
 * (`/usr/lib/postgresql/<major>/bin`, package `postgresql`, installed by scripts/setup-system.sh).
 *
 * initdb and postgres refuse to run as root: as root, the directory is handed to the `postgres`
 * system user (or `nobody`) and every server command runs as that user through runuser.
 */
import { execFileSync, spawnSync } from 'child_process';
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';

/** PgCluster is one running (or stopped) throwaway cluster. */
export interface PgCluster {
  /** The temp directory holding data/, server.log and the socket. */
  readonly dir: string;
  readonly host: '127.0.0.1';
  readonly port: number;
  /** The directory of the Unix socket (`.s.PGSQL.<port>`). */
  readonly socketDir: string;
  /** The superuser's name and password (also the owner of `database`). */
  readonly user: string;
  readonly password: string;
  readonly database: string;
  /** A TCP connection string for the superuser. */
  readonly connStr: string;
  /** connStr with some parts replaced, e.g. `{ password: 'wrong' }` or `{ database: 'other' }`. */
  connStrWith(parts: { user?: string; password?: string; database?: string; port?: number }): string;
  /** The server log so far (for failure messages). */
  log(): string;
  /** Run SQL as the superuser through psql over the socket; returns stdout (tuples only, unaligned). */
  psql(sql: string, database?: string): string;
  /** Stop the server (fast shutdown: sessions are disconnected), keeping its data. */
  stop(): Promise<void>;
  /** Start it again on the same port. */
  start(): Promise<void>;
  restart(): Promise<void>;
  /** Stop it (immediate) and remove the directory. Idempotent. */
  destroy(): Promise<void>;
}

export interface StartPgClusterOptions {
  /** Server settings appended to postgresql.conf, e.g. `{ max_connections: '50' }`. */
  settings?: Record<string, string>;
}

const LIVE = new Set<{ dir: string; run: (args: string[]) => void }>();

process.once('exit', () => {
  for (const c of LIVE) {
    try {
      c.run(['stop', '-m', 'immediate']);
    } catch {
      /* not running */
    }
    fs.rmSync(c.dir, { recursive: true, force: true });
  }
});

/** pgBinDir is the newest installed server's bin directory, or undefined when PostgreSQL is not installed. */
export function pgBinDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  let versions: string[];
  try {
    versions = fs.readdirSync(root).filter((v) => fs.existsSync(path.join(root, v, 'bin', 'initdb')));
  } catch {
    return undefined;
  }
  versions.sort((a, b) => Number(b) - Number(a));
  return versions.length ? path.join(root, versions[0], 'bin') : undefined;
}

/** pgSkipReason says why a throwaway cluster cannot be started here, or undefined if it can. */
export function pgSkipReason(): string | undefined {
  if (!pgBinDir()) return 'PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin (scripts/setup-system.sh installs Debian\'s postgresql as root): skipped';
  if (isRoot() && !serverUser()) return 'running as root without a `postgres` or `nobody` user to run the server as: skipped';
  return undefined;
}

/** describeWithPg is `describe`, or `describe.skip` with a visible reason when no cluster can be started. */
export function describeWithPg(name: string, fn: () => void, extraSkipReason?: () => string | undefined): void {
  const reason = pgSkipReason() ?? extraSkipReason?.();
  if (reason) {
    console.warn(`[pg] ${name}: ${reason}`);
    describe.skip(name, fn);
  } else {
    describe(name, fn);
  }
}

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

function serverUser(): { name: string; uid: number; gid: number } | undefined {
  for (const name of ['postgres', 'nobody']) {
    try {
      const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
      const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim());
      if (Number.isInteger(uid) && Number.isInteger(gid)) return { name, uid, gid };
    } catch {
      /* no such user */
    }
  }
  return undefined;
}

/** freePort asks the kernel for a port free on 127.0.0.1 now (a race remains; start retries). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** startPgCluster creates and starts a new cluster; see the module comment. */
export async function startPgCluster(opts: StartPgClusterOptions = {}): Promise<PgCluster> {
  const bin = pgBinDir();
  if (!bin) throw new Error(pgSkipReason());
  const owner = isRoot() ? serverUser() : undefined;
  if (isRoot() && !owner) throw new Error(pgSkipReason());
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mseg-pg-'));
  const data = path.join(dir, 'data');
  const logFile = path.join(dir, 'server.log');
  const user = 'microseg';
  const password = randomBytes(12).toString('hex');
  const database = 'microseg';
  // The server runs as `owner`: it needs the directory, and root's mkdtemp makes it 0700 root.
  if (owner) fs.chownSync(dir, owner.uid, owner.gid);
  const asOwner = (cmd: string, args: string[]): { cmd: string; args: string[] } =>
    owner ? { cmd: 'runuser', args: ['-u', owner.name, '--', cmd, ...args] } : { cmd, args };
  const exec = (tool: string, args: string[], env: NodeJS.ProcessEnv = {}): string => {
    const c = asOwner(path.join(bin, tool), args);
    const r = spawnSync(c.cmd, c.args, { encoding: 'utf8', cwd: dir, env: { ...process.env, LC_ALL: 'C', ...env }, timeout: 120_000 });
    if (r.status !== 0) throw new Error(`${tool} ${args.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr || r.stdout}\n${readLog(logFile)}`);
    return r.stdout;
  };
  const pgctl = (args: string[]): void => {
    exec('pg_ctl', ['-D', data, ...args]);
  };
  const record = { dir, run: pgctl };
  LIVE.add(record);
  try {
    const pwfile = path.join(dir, 'pwfile');
    fs.writeFileSync(pwfile, password + '\n', { mode: 0o600 });
    if (owner) fs.chownSync(pwfile, owner.uid, owner.gid);
    exec('initdb', ['-D', data, '-U', user, '--pwfile', pwfile, '--auth', 'scram-sha-256', '-E', 'UTF8', '--locale', 'C', '--no-sync']);
    fs.rmSync(pwfile);
    let port = 0;
    const conf = (p: number): string =>
      [
        `port = ${p}`,
        `listen_addresses = '127.0.0.1'`,
        `unix_socket_directories = '${dir}'`,
        // A throwaway cluster: durability against power loss is not what the tests are about.
        'fsync = off',
        'synchronous_commit = off',
        'full_page_writes = off',
        `max_connections = 100`,
        ...Object.entries(opts.settings ?? {}).map(([k, v]) => `${k} = '${v}'`),
      ].join('\n') + '\n';
    const base = fs.readFileSync(path.join(data, 'postgresql.conf'), 'utf8');
    // Another process may take the port between freePort and the server's bind: try a few.
    for (let attempt = 0; ; attempt++) {
      port = await freePort();
      fs.writeFileSync(path.join(data, 'postgresql.conf'), base + conf(port));
      try {
        pgctl(['-w', '-t', '60', '-l', logFile, 'start']);
        break;
      } catch (e) {
        if (attempt >= 4) throw e;
      }
    }
    const psqlEnv = { PGPASSWORD: password };
    exec('psql', ['-h', dir, '-p', String(port), '-U', user, '-d', 'postgres', '-v', 'ON_ERROR_STOP=1', '-c', `CREATE DATABASE ${database}`], psqlEnv);
    const connStrWith = (p: { user?: string; password?: string; database?: string; port?: number }): string =>
      `postgres://${encodeURIComponent(p.user ?? user)}:${encodeURIComponent(p.password ?? password)}@127.0.0.1:${p.port ?? port}/${encodeURIComponent(p.database ?? database)}`;
    let destroyed = false;
    let running = true;
    const cluster: PgCluster = {
      dir,
      host: '127.0.0.1',
      port,
      socketDir: dir,
      user,
      password,
      database,
      connStr: connStrWith({}),
      connStrWith,
      log: () => readLog(logFile),
      psql: (sql, db = database) =>
        exec('psql', ['-h', dir, '-p', String(port), '-U', user, '-d', db, '-X', '-q', '-t', '-A', '-v', 'ON_ERROR_STOP=1', '-c', sql], psqlEnv),
      stop: async () => {
        if (!running) return;
        pgctl(['-w', '-t', '60', '-m', 'fast', 'stop']);
        running = false;
      },
      start: async () => {
        if (running) return;
        pgctl(['-w', '-t', '60', '-l', logFile, 'start']);
        running = true;
      },
      restart: async () => {
        await cluster.stop();
        await cluster.start();
      },
      destroy: async () => {
        if (destroyed) return;
        destroyed = true;
        try {
          if (running) pgctl(['-w', '-t', '60', '-m', 'immediate', 'stop']);
        } catch {
          /* already stopped */
        }
        LIVE.delete(record);
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
    return cluster;
  } catch (e) {
    try {
      pgctl(['-m', 'immediate', 'stop']);
    } catch {
      /* never started */
    }
    LIVE.delete(record);
    fs.rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

function readLog(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
