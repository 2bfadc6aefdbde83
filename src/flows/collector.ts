/**
 * The flow-log collector on an enforcer host: ulogd2, the netfilter project's own NFLOG daemon
 * (Debian `ulogd2` + `ulogd2-json`), reading NFLOG group LOG_GROUP and writing one JSON object per
 * record.
 *
 * Why ulogd2 and not a reader of our own: NFLOG records arrive on a netlink socket (nfnetlink_log)
 * that Node cannot open without a native module; ulogd2 is packaged everywhere, reads both
 * iptables' NFLOG target and nftables' `log group` (the same kernel path), decodes the packet
 * headers, and can ask the kernel for per-instance sequence numbers (`seq_local`), which is what
 * lets microseg count records lost between the kernel and the file (a gap in the numbers) instead
 * of losing them silently.
 *
 * It runs on the host through the host's own transport, so on a netns enforcer it runs inside the
 * namespace (`ip netns exec`): nfnetlink_log is per network namespace, and a daemon bound in the
 * root namespace would see none of the enforcer's records. Everything lives in one directory per
 * enforcer (COLLECTOR_ROOT/<name>), so enforcers sharing a file system (netns hosts) never share
 * files. `flows` reads the JSON file from a byte offset through the same transport.
 */
import type { Host } from '../hosts/types';
import { LOG_GROUP, sha256hex, slug } from '../compile/names';

export const COLLECTOR_ROOT = '/var/lib/microseg/flows';

export interface CollectorPaths {
  dir: string;
  conf: string;
  records: string;
  log: string;
  pid: string;
}

/**
 * collectorPaths: the enforcer's collector directory on its host, `<root>/<slug>-<hash6>` (a
 * readable, collision-free file name). The root is COLLECTOR_ROOT unless MICROSEG_COLLECTOR_DIR
 * names another directory (on the host).
 */
export function collectorPaths(enforcer: string, root = process.env.MICROSEG_COLLECTOR_DIR || COLLECTOR_ROOT): CollectorPaths {
  const dir = `${root}/${slug(enforcer, 40)}-${sha256hex(enforcer).slice(0, 6)}`;
  return { dir, conf: `${dir}/ulogd.conf`, records: `${dir}/flows.json`, log: `${dir}/ulogd.log`, pid: `${dir}/ulogd.pid` };
}

const PLUGIN_DIRS = ['/usr/lib/x86_64-linux-gnu/ulogd', '/usr/lib/aarch64-linux-gnu/ulogd', '/usr/lib64/ulogd', '/usr/lib/ulogd'];

/**
 * ulogdConfig is the daemon's configuration (pure). `seq_local=1` makes the kernel number this
 * instance's records, `oob.seq.local` in the JSON; the socket buffer may grow to 8 MiB under a
 * burst (`netlink_socket_buffer_maxsize`) before the kernel drops records (ENOBUFS, which ulogd
 * logs and the sequence gap shows).
 */
export function ulogdConfig(p: CollectorPaths, pluginDir: string): string {
  const plugin = (n: string) => `plugin="${pluginDir}/ulogd_${n}.so"`;
  return [
    '# microseg flow-log collector (microseg collector start); do not edit: it is rewritten on start',
    '[global]',
    `logfile="${p.log}"`,
    'loglevel=3',
    plugin('inppkt_NFLOG'),
    plugin('filter_IFINDEX'),
    plugin('filter_IP2STR'),
    plugin('raw2packet_BASE'),
    plugin('output_JSON'),
    'stack=log1:NFLOG,base1:BASE,ifi1:IFINDEX,ip2str1:IP2STR,json1:JSON',
    '',
    '[log1]',
    `group=${LOG_GROUP}`,
    'seq_local=1',
    'netlink_socket_buffer_size=1048576',
    'netlink_socket_buffer_maxsize=8388608',
    '',
    '[json1]',
    'sync=1',
    `file="${p.records}"`,
    '',
  ].join('\n');
}

/** CollectorStatus says whether the collector runs on a host, and where its records are. */
export interface CollectorStatus {
  running: boolean;
  pid?: number;
  paths: CollectorPaths;
}

/** CollectorChange is a start, stop or remove's outcome: the status after it, and whether it changed anything. */
export interface CollectorChange extends CollectorStatus {
  changed: boolean;
}

async function must(host: Host, argv: string[], what: string, stdin?: string): Promise<string> {
  const r = await host.run(argv, stdin !== undefined ? { stdin } : {});
  if (r.code !== 0) throw new Error(`${what} failed on ${host.description} (exit ${r.code}): ${(r.stderr || r.stdout).trim()}`);
  return r.stdout;
}

/** collectorStatus: is the daemon of `paths` alive on the host (its pid file names a live process)? */
export async function collectorStatus(host: Host, enforcer: string): Promise<CollectorStatus> {
  const paths = collectorPaths(enforcer);
  const r = await host.run(['sh', '-c', 'p=$(cat "$1" 2>/dev/null) && kill -0 "$p" 2>/dev/null && echo "$p"', 'sh', paths.pid]);
  const pid = Number(r.stdout.trim());
  return r.code === 0 && Number.isInteger(pid) && pid > 0 ? { running: true, pid, paths } : { running: false, paths };
}

/**
 * startCollector starts ulogd2 on the host unless it already runs there (idempotent). Earlier
 * records are kept: the file only grows, `flows` reads it from where it left off.
 */
export async function startCollector(host: Host, enforcer: string): Promise<CollectorChange> {
  const now = await collectorStatus(host, enforcer);
  if (now.running) return { ...now, changed: false };
  const p = now.paths;
  const found = await host.run(['sh', '-c', 'for d in "$@"; do [ -e "$d/ulogd_output_JSON.so" ] && { echo "$d"; exit 0; }; done; exit 1', 'sh', ...PLUGIN_DIRS]);
  if (found.code !== 0) {
    throw new Error(`ulogd2 with its JSON output plugin is not installed on ${host.description} (Debian: apt-get install ulogd2 ulogd2-json)`);
  }
  await must(host, ['mkdir', '-p', p.dir], 'creating the collector directory');
  await must(host, ['sh', '-c', 'cat > "$1"', 'sh', p.conf], 'writing the collector configuration', ulogdConfig(p, found.stdout.trim()));
  await must(host, ['ulogd', '-d', '-c', p.conf, '-p', p.pid], 'starting ulogd');
  // ulogd writes its pid file once it has bound the NFLOG group; wait for that.
  for (let i = 0; i < 50; i++) {
    const s = await collectorStatus(host, enforcer);
    if (s.running) return { ...s, changed: true };
    await new Promise((res) => setTimeout(res, 100));
  }
  const log = await host.run(['tail', '-n', '5', p.log]);
  throw new Error(`ulogd did not start on ${host.description}: ${log.stdout.trim() || 'no log'}`);
}

/** stopCollector stops the daemon (its records stay on the host); no-op when it does not run. */
export async function stopCollector(host: Host, enforcer: string): Promise<CollectorChange> {
  const s = await collectorStatus(host, enforcer);
  if (s.running) await must(host, ['kill', String(s.pid)], 'stopping ulogd');
  for (let i = 0; i < 50 && s.running; i++) {
    if (!(await collectorStatus(host, enforcer)).running) break;
    await new Promise((res) => setTimeout(res, 100));
  }
  return { running: false, paths: s.paths, changed: s.running };
}

/**
 * readRecords returns the JSON lines the collector wrote from byte `offset` on (only whole
 * lines), the offset after them, and the collector's own error lines (ENOBUFS and the like).
 */
export async function readRecords(host: Host, enforcer: string, offset = 0): Promise<{ lines: string[]; next: number; collectorErrors: string[] }> {
  const p = collectorPaths(enforcer);
  const r = await host.run(['sh', '-c', 'tail -c +"$2" "$1" 2>/dev/null; exit 0', 'sh', p.records, String(offset + 1)]);
  const text = r.stdout;
  const end = text.lastIndexOf('\n') + 1;
  const lines = text.slice(0, end).split('\n').filter((l) => l.trim() !== '');
  const log = await host.run(['sh', '-c', 'grep -iE "ENOBUFS|lost|overrun|error" "$1" 2>/dev/null; exit 0', 'sh', p.log]);
  return { lines, next: offset + Buffer.byteLength(text.slice(0, end)), collectorErrors: log.stdout.split('\n').filter((l) => l.trim() !== '') };
}

/**
 * removeCollector is decommission: stop the daemon and delete its directory (configuration, pid
 * file, records, log), then the collector root if that left it empty, so a host microseg leaves
 * keeps no ulogd2 process or file of microseg's. No-op when there is nothing.
 */
export async function removeCollector(host: Host, enforcer: string): Promise<CollectorChange> {
  const s = await stopCollector(host, enforcer);
  if ((await collectorStatus(host, enforcer)).running) throw new Error(`ulogd did not stop on ${host.description}`);
  const root = s.paths.dir.slice(0, s.paths.dir.lastIndexOf('/'));
  // Says whether the directory was there, so the caller can tell a removal from a no-op.
  const out = await must(
    host,
    ['sh', '-c', 'if [ -e "$1" ]; then echo existed; fi; rm -rf -- "$1" && { rmdir -- "$2" 2>/dev/null; exit 0; }', 'sh', s.paths.dir, root],
    'removing the collector directory',
  );
  return { ...s, changed: s.changed || out.trim() === 'existed' };
}
