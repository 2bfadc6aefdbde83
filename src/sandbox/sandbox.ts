/**
 * sandbox up / down: build the namespaces, veths, addresses, routes and listeners a SandboxPlan
 * describes, and remove exactly them again.
 *
 * Safety rules, each enforced here:
 * - Nothing in the root network namespace is touched: every command is `ip netns add|del`,
 *   `ip -n NS ...` or `ip netns exec NS ...`, and veth pairs are created inside the bridge
 *   namespace with their peer moved straight into the enforcer's namespace.
 * - Every interface the sandbox creates carries the alias `microseg-sandbox <dir tag>`, so a
 *   namespace is only ever deleted when it provably belongs to this sandbox: a namespace of the
 *   same name made by someone else is refused at `up` and left alone at `down`.
 * - The record (record.ts) is written before anything is created, so `down` after a crash at any
 *   point finds everything; with the record lost, `down` still finds the namespaces by name
 *   (configuration and prefix) and ownership marker. Listeners are killed by recorded pid (after
 *   checking the pid still lives in the recorded namespace) and by `ip netns pids` before the
 *   namespace is deleted, so no socat outlives its namespace.
 */
import { spawn } from 'child_process';
import { createHash } from 'crypto';
import { readFileSync, statSync } from 'fs';
import * as path from 'path';
import { DiagnosticsError, makeDiagnostic } from '../diagnostics';
import { removeCollector } from '../flows/collector';
import { runProcess } from '../hosts/exec';
import { LocalHost } from '../hosts/local';
import type { CommandResult } from '../hosts/types';
import { CODES } from './codes';
import { readRecord, recordPath, removeRecord, writeRecord, type ListenerRecord, type SandboxRecord } from './record';
import { allNamespaces, DEFAULT_PREFIX, MARKER, SANDBOX_V4, SANDBOX_V6, type ListenerSpec, type SandboxPlan } from './topology';

/**
 * sandboxFailure is how building or removing the sandbox fails: a DiagnosticsError holding one
 * coded diagnostic (CODES), which the CLI's view renders like every other problem. `source` says
 * whose fault it is: the caller's (not root, a namespace that is not ours) or the host's.
 */
export function sandboxFailure(code: string, summary: string, source: 'user' | 'kernel' = 'kernel'): DiagnosticsError {
  return new DiagnosticsError([makeDiagnostic('error', code, summary)], source);
}

/** notRootReason says why the sandbox cannot be built by this process, or undefined if it can. */
export function notRootReason(): string | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    return 'the sandbox creates network namespaces, which needs root: run it as root (sudo npx microseg sandbox ...)';
  }
  return undefined;
}

/** dirTag identifies a configuration directory in ownership markers (interface aliases are short). */
export function dirTag(dir: string): string {
  return createHash('sha256').update(path.resolve(dir)).digest('hex').slice(0, 12);
}

/**
 * markerFor is the alias put on every interface the sandbox creates: `microseg-sandbox <tag> <dir>`
 * (the directory only when the alias stays within the kernel's 255-byte limit), so a refusal can
 * say whose sandbox a namespace belongs to.
 */
function markerFor(dir: string): string {
  const full = `${MARKER} ${dirTag(dir)} ${path.resolve(dir)}`;
  return Buffer.byteLength(full) <= 255 ? full : `${MARKER} ${dirTag(dir)}`;
}

async function must(argv: string[]): Promise<CommandResult> {
  const r = await runProcess(argv, { timeoutMs: 20_000 });
  if (r.code !== 0) throw sandboxFailure(CODES.BUILD_FAILED, `${argv.join(' ')} failed (exit ${r.code}): ${r.stderr.trim()}`);
  return r;
}

/** listNetns returns the names of the named network namespaces (`ip netns list`). */
export async function listNetns(): Promise<Set<string>> {
  const r = await runProcess(['ip', '-j', 'netns', 'list']);
  if (r.code !== 0) throw sandboxFailure(CODES.BUILD_FAILED, `ip netns list failed: ${r.stderr.trim()}`);
  const text = r.stdout.trim();
  if (text === '') return new Set();
  return new Set((JSON.parse(text) as Array<{ name: string }>).map((n) => n.name));
}

/** NsOwner is who a namespace belongs to, by the aliases of its interfaces. */
type NsOwner = { kind: 'ours'; tag: string; dir?: string } | { kind: 'empty' } | { kind: 'foreign' };

async function nsOwner(ns: string): Promise<NsOwner> {
  const r = await runProcess(['ip', '-j', '-n', ns, 'link', 'show']);
  if (r.code !== 0) return { kind: 'foreign' };
  const links = JSON.parse(r.stdout.trim() || '[]') as Array<{ ifname: string; ifalias?: string }>;
  const mark = links.map((l) => l.ifalias ?? '').find((a) => a === MARKER || a.startsWith(`${MARKER} `));
  if (mark !== undefined) {
    const [tag = '', ...dir] = mark.slice(MARKER.length + 1).split(' ');
    return { kind: 'ours', tag, ...(dir.length ? { dir: dir.join(' ') } : {}) };
  }
  return links.every((l) => l.ifname === 'lo') ? { kind: 'empty' } : { kind: 'foreign' };
}

/** pidInNetns: whether process `pid` lives in named namespace `ns` (same nsfs inode, as `ip netns identify`). */
function pidInNetns(pid: number, ns: string): boolean {
  try {
    const a = statSync(`/proc/${pid}/ns/net`);
    const b = statSync(path.join('/run/netns', ns));
    return a.ino === b.ino && a.dev === b.dev;
  } catch {
    return false;
  }
}

/** isOurListener: a live socat whose command line carries the sandbox banner and the listener's port. */
function isOurListener(pid: number, l: ListenerSpec): boolean {
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return cmd.includes('socat') && cmd.some((a) => a.includes(MARKER)) && cmd.some((a) => a.includes(`:${l.port},`));
  } catch {
    return false;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function kill(pid: number): void {
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, 'SIGKILL'); // -pid: the listener's process group (it and its forked children)
    } catch {
      /* gone, or not a group leader */
    }
  }
}

/** killNetnsProcesses kills every process inside `ns` (only ever called on a namespace that is ours). */
async function killNetnsProcesses(ns: string): Promise<number> {
  let killed = 0;
  for (let round = 0; round < 5; round++) {
    const r = await runProcess(['ip', 'netns', 'pids', ns]);
    const pids = r.code === 0 ? r.stdout.split(/\s+/).filter(Boolean).map(Number).filter((n) => n > 1 && n !== process.pid) : [];
    if (pids.length === 0) break;
    for (const p of pids) kill(p);
    killed += pids.length;
    await sleep(50);
  }
  return killed;
}

function sleep(ms: number): Promise<void> {
  return new Promise((res) => setTimeout(res, ms));
}

// ---------------------------------------------------------------------------------------------
// health

export interface Health {
  healthy: boolean;
  problems: string[];
}

/** sandboxHealth: every recorded namespace exists and every listener is alive in its namespace. */
export async function sandboxHealth(record: SandboxRecord): Promise<Health> {
  const problems: string[] = [];
  if (record.status !== 'up') problems.push(`the record says "${record.status}" (a previous up did not finish)`);
  const present = await listNetns();
  for (const ns of record.namespaces) if (!present.has(ns)) problems.push(`network namespace ${ns} is missing`);
  for (const l of record.listeners) {
    if (!l.pid || !alive(l.pid) || !pidInNetns(l.pid, l.netns)) problems.push(`listener ${l.protocol}/${l.port} on ${l.address} (${l.netns}) is not running`);
  }
  return { healthy: problems.length === 0, problems };
}

// ---------------------------------------------------------------------------------------------
// down

export interface DownOptions {
  /** Prefix of the sandbox's own namespaces, used when the record is lost (default `mseg-sbx`). */
  prefix?: string;
  /** Namespace names the configuration gives its enforcers, used when the record is lost. */
  configNamespaces?: string[];
}

export interface DownResult {
  /** Whether a record was found (false: found by name and marker only). */
  hadRecord: boolean;
  removed: string[];
  /** Namespaces named like the sandbox's that were left alone, and why. */
  kept: Array<{ netns: string; reason: string }>;
  killed: number;
}

/**
 * sandboxDown removes the sandbox of `dir`: listeners, namespaces (which takes their veths,
 * addresses, routes and firewall rules with them), then the record. Idempotent: a second call
 * finds nothing and succeeds.
 */
export async function sandboxDown(dir: string, opts: DownOptions = {}): Promise<DownResult> {
  let record: SandboxRecord | undefined;
  try {
    record = await readRecord(dir);
  } catch {
    record = undefined; // a corrupt record is as good as a lost one: fall back to names and markers
  }
  const result: DownResult = { hadRecord: record !== undefined, removed: [], kept: [], killed: 0 };
  const tag = dirTag(dir);

  if (record) {
    for (const l of record.listeners) {
      if (l.pid && alive(l.pid) && (pidInNetns(l.pid, l.netns) || isOurListener(l.pid, l))) {
        kill(l.pid);
        result.killed++;
      }
    }
  }
  const prefix = record?.plan.prefix ?? opts.prefix ?? DEFAULT_PREFIX;
  const recorded = new Set(record?.namespaces ?? []);
  const present = await listNetns();
  // Without a record, also look at every namespace for this directory's marker: the configuration
  // may be gone or changed (e.g. the directory was deleted after a crash).
  const marked: string[] = [];
  if (!record) {
    for (const ns of present) {
      const o = await nsOwner(ns);
      if (o.kind === 'ours' && o.tag === tag) marked.push(ns);
    }
  }
  const candidates = [
    ...(record?.namespaces ?? []),
    ...(opts.configNamespaces ?? []),
    ...marked.sort(),
    `${prefix}-br`,
    `${prefix}-ext`,
  ].filter((n, i, all) => all.indexOf(n) === i);
  // The bridge namespace goes last, so no enforcer namespace is ever left with a dangling veth
  // peer (deleting a namespace deletes its veth ends; the other end vanishes with it).
  const ordered = [...candidates.filter((n) => n !== `${prefix}-br`), ...candidates.filter((n) => n === `${prefix}-br`)];
  for (const ns of ordered) {
    if (!present.has(ns)) continue;
    const owner = await nsOwner(ns);
    const ours =
      (owner.kind === 'ours' && (recorded.has(ns) || owner.tag === tag)) ||
      (owner.kind === 'empty' && recorded.has(ns)); // created, then a crash before its veth
    if (!ours) {
      result.kept.push({
        netns: ns,
        reason:
          owner.kind === 'ours'
            ? `it belongs to the sandbox of ${owner.dir ?? 'another directory'} (remove it with \`microseg sandbox down ${owner.dir ?? '<that directory>'}\`)`
            : 'it was not created by microseg sandbox',
      });
      continue;
    }
    result.killed += await killNetnsProcesses(ns);
    const r = await runProcess(['ip', 'netns', 'del', ns]);
    if (r.code !== 0) throw sandboxFailure(CODES.BUILD_FAILED, `ip netns del ${ns} failed: ${r.stderr.trim()}`);
    result.removed.push(ns);
  }
  // An apply into the sandbox started a flow-log collector per logging enforcer; its daemon died
  // with the namespace, but its files are on this machine's file system (src/flows/collector.ts),
  // reached from the root namespace as from any. Nothing of the sandbox's outlives `down`.
  const local = new LocalHost();
  for (const h of record?.plan.hosts ?? []) {
    if (result.removed.includes(h.netns)) await removeCollector(local, h.enforcer);
  }
  await removeRecord(dir);
  return result;
}

// ---------------------------------------------------------------------------------------------
// up

export interface UpResult {
  status: 'created' | 'unchanged' | 'recreated';
  /** Why an existing sandbox was recreated (changed configuration, or what was broken). */
  reasons: string[];
  /** Leftovers removed before building (a previous sandbox of this directory). */
  cleaned?: DownResult;
  record: SandboxRecord;
  recordFile: string;
  milliseconds: number;
}

/**
 * sandboxUp builds the sandbox `plan` describes for `dir`. Up twice is fine: a healthy sandbox of
 * the same plan is left untouched (rules applied into it survive); a broken or different one is
 * rebuilt. On failure everything created so far is removed before the error is thrown.
 */
export async function sandboxUp(dir: string, plan: SandboxPlan, opts: { configNamespaces?: string[] } = {}): Promise<UpResult> {
  const started = Date.now();
  const absDir = path.resolve(dir);
  const reason = notRootReason();
  if (reason) throw sandboxFailure(CODES.NOT_ROOT, reason, 'user');

  let existing: SandboxRecord | undefined;
  const reasons: string[] = [];
  try {
    existing = await readRecord(dir);
  } catch (e) {
    reasons.push(`the record was unreadable (${(e as Error).message})`);
  }
  let status: UpResult['status'] = 'created';
  let cleaned: DownResult | undefined;
  if (existing) {
    const health = await sandboxHealth(existing);
    if (health.healthy && existing.plan.digest === plan.digest) {
      return { status: 'unchanged', reasons: [], record: existing, recordFile: recordPath(dir), milliseconds: Date.now() - started };
    }
    if (existing.plan.digest !== plan.digest) reasons.push('the configuration changed since the sandbox was built');
    reasons.push(...health.problems);
    status = 'recreated';
  }
  // Remove this directory's previous sandbox (recorded, or found by name + marker), then make sure
  // nothing else holds the names we need.
  const namespaces = allNamespaces(plan);
  cleaned = await sandboxDown(dir, { prefix: plan.prefix, configNamespaces: [...namespaces, ...(opts.configNamespaces ?? [])] });
  if (cleaned.removed.length > 0 && status === 'created') {
    status = 'recreated';
    reasons.push(`leftovers of an earlier sandbox of this directory were found (${cleaned.removed.join(', ')})`);
  }
  const present = await listNetns();
  const blocked = namespaces.filter((n) => present.has(n));
  if (blocked.length > 0) {
    // One clause per owner: "a, b: it belongs to the sandbox of /x (...)"; "c: it was not created by ...".
    const byReason = new Map<string, string[]>();
    for (const ns of blocked) {
      const reason = cleaned.kept.find((k) => k.netns === ns)?.reason ?? 'it is not this sandbox\'s';
      byReason.set(reason, [...(byReason.get(reason) ?? []), ns]);
    }
    const why = [...byReason].map(([reason, names]) => `${names.join(', ')}: ${reason}`).join('; ');
    throw sandboxFailure(
      CODES.FOREIGN_NETNS,
      `the sandbox's network namespace${blocked.length > 1 ? 's' : ''} already exist${blocked.length > 1 ? '' : 's'}: ${why}. Refusing to touch ${blocked.length > 1 ? 'them' : 'it'}: rename the enforcers' netns in the configuration, or remove the other sandbox first.`,
      'user',
    );
  }

  const record: SandboxRecord = {
    version: 1,
    dir: absDir,
    status: 'creating',
    createdAt: new Date().toISOString(),
    namespaces,
    plan,
    listeners: [],
  };
  await writeRecord(dir, record);
  try {
    await build(plan, markerFor(dir));
    record.listeners = await startListeners(plan.listeners);
    record.status = 'up';
    await writeRecord(dir, record);
  } catch (e) {
    await sandboxDown(dir, { prefix: plan.prefix }).catch(() => undefined);
    throw e;
  }
  return { status, reasons, ...(cleaned.removed.length ? { cleaned } : {}), record, recordFile: recordPath(dir), milliseconds: Date.now() - started };
}

async function build(plan: SandboxPlan, marker: string): Promise<void> {
  const br = plan.bridge.netns;
  await must(['ip', 'netns', 'add', br]);
  await must(['ip', '-n', br, 'link', 'add', 'br0', 'type', 'bridge']);
  // No multicast snooping: IPv6 neighbour discovery must not depend on MLD state.
  await must(['ip', '-n', br, 'link', 'set', 'br0', 'type', 'bridge', 'mcast_snooping', '0']);
  await must(['ip', '-n', br, 'link', 'set', 'br0', 'alias', marker]);
  await must(['ip', '-n', br, 'link', 'set', 'br0', 'up']);

  const ext = plan.external;
  const attach = async (ns: string, port: string) => {
    await must(['ip', 'netns', 'add', ns]);
    await must(['ip', '-n', br, 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    await must(['ip', '-n', br, 'link', 'set', port, 'alias', marker]);
    await must(['ip', '-n', br, 'link', 'set', port, 'master', 'br0', 'up']);
    await must(['ip', '-n', ns, 'link', 'set', 'eth0', 'alias', marker]);
    await must(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
  };
  const addAddr = (ns: string, address: string, family: 4 | 6, len: number) =>
    // nodad: the IPv6 address is usable at once instead of after ~1 s of duplicate detection.
    must(['ip', '-n', ns, 'addr', 'add', `${address}/${len}`, 'dev', 'eth0', ...(family === 6 ? ['nodad'] : [])]);

  for (const h of plan.hosts) {
    await attach(h.netns, h.bridgePort);
    for (const a of h.addresses) await addAddr(h.netns, a.address, a.family, a.prefixLen);
    await must(['ip', '-n', h.netns, 'link', 'set', 'eth0', 'up']);
    for (const e of ext?.addresses ?? []) {
      await must(['ip', '-n', h.netns, `-${e.family}`, 'route', 'add', `${e.address}/${e.family === 4 ? 32 : 128}`, 'dev', 'eth0']);
    }
  }
  if (ext) {
    await attach(ext.netns, ext.bridgePort);
    for (const e of ext.addresses) await addAddr(ext.netns, e.address, e.family, e.family === 4 ? 32 : 128);
    await must(['ip', '-n', ext.netns, 'link', 'set', 'eth0', 'up']);
    const families = new Set(plan.hosts.flatMap((h) => h.addresses.map((a) => a.family)));
    if (families.has(4)) await must(['ip', '-n', ext.netns, '-4', 'route', 'add', SANDBOX_V4, 'dev', 'eth0']);
    if (families.has(6)) await must(['ip', '-n', ext.netns, '-6', 'route', 'add', SANDBOX_V6, 'dev', 'eth0']);
  }
}

/** socatArgs is the listener's argv after `socat`: bind to the address, fork per connection or datagram, answer the banner. */
export function socatArgs(l: ListenerSpec): string[] {
  const bind = l.family === 6 ? `[${l.address}]` : l.address;
  const kind = l.protocol === 'tcp' ? `TCP${l.family}-LISTEN` : `UDP${l.family}-RECVFROM`;
  const opts = [`bind=${bind}`, 'fork', ...(l.protocol === 'tcp' ? ['reuseaddr'] : []), ...(l.family === 6 ? ['ipv6only=1'] : [])];
  // The child answers the banner, then reads the request (a datagram, or the client's EOF) before
  // exiting: `EXEC:echo` alone races socat writing the request into an already exited process,
  // and socat then drops the answer. The banner holds only [A-Za-z0-9._+=/ -] (topology.ts), so
  // it is inert for socat's address parser and for sh. -T 5: an idle client cannot pin a child.
  // -t 5: once the client has closed its side (a probe sends nothing), wait up to 5 s for the
  // banner instead of socat's default 0.5 s; on a loaded machine starting the child's shell took
  // longer than that, and socat closed the connection with no banner (2 probe runs in 12).
  return ['-T', '5', '-t', '5', `${kind}:${l.port},${opts.join(',')}`, `SYSTEM:echo ${l.banner}; read -r _`];
}

async function startListeners(specs: readonly ListenerSpec[]): Promise<ListenerRecord[]> {
  const started: ListenerRecord[] = specs.map((l) => {
    // detached: the listener leads its own process group and outlives this CLI process; `ip netns
    // exec` execs socat in place, so the pid is socat's.
    const child = spawn('ip', ['netns', 'exec', l.netns, 'socat', ...socatArgs(l)], { detached: true, stdio: 'ignore' });
    child.on('error', () => undefined);
    child.unref();
    return { ...l, pid: child.pid };
  });
  const byNs = new Map<string, ListenerRecord[]>();
  for (const l of started) byNs.set(l.netns, [...(byNs.get(l.netns) ?? []), l]);
  const deadline = Date.now() + 8000;
  for (const [ns, ls] of byNs) {
    for (;;) {
      const r = await runProcess(['ip', 'netns', 'exec', ns, 'ss', '-H', '-l', '-n', '-t', '-u']);
      const bound = new Set(
        r.stdout
          .split('\n')
          .map((line) => line.trim().split(/\s+/))
          .filter((f) => f.length >= 5)
          .map((f) => `${f[0]} ${f[4].replace(/^\[|\](?=:\d+$)/g, '')}`),
      );
      const missing = ls.filter((l) => !bound.has(`${l.protocol} ${l.address}:${l.port}`));
      if (missing.length === 0) break;
      const dead = missing.find((l) => !l.pid || !alive(l.pid));
      if (dead || Date.now() > deadline) {
        const m = dead ?? missing[0];
        throw sandboxFailure(CODES.LISTENER_FAILED, `listener ${m.protocol}/${m.port} on ${m.address} in ${ns} did not come up${dead ? ' (socat exited)' : ''}`);
      }
      await sleep(50);
    }
  }
  return started;
}
