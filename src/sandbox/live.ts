/**
 * Live policy tests (`microseg test --live`): every `expect` is sent as a real packet between the
 * sandbox's namespaces, the kernel's answer is the live verdict, and it is compared with the
 * offline trace of the very same packet (same addresses, same port). A disagreement between the
 * two is a bug in microseg (the tracer, the compiler or a renderer) or a host that does not hold
 * the compiled rules; the report says which hosts are out of sync so the two can be told apart.
 *
 * How each kind of connection is judged (listeners exist on every port an expect names, so a
 * closed port never passes for a firewall):
 * - tcp: `socat` connects with a 1 s timeout. Connected (and the listener's banner read back) is
 *   allow; refused (RST), timeout, unreachable and EPERM (rejected on the sender's own output)
 *   are reject.
 * - udp: one datagram; the listener's banner coming back is allow; no reply within 1 s, ICMP
 *   unreachable (ECONNREFUSED) or EPERM is reject.
 * - icmp/8/0 and icmp6/128/0: `ping -c1 -W1`; a reply is allow.
 * - other ICMP types and codes, and other protocols: nothing on a host can send them and observe
 *   the kernel's verdict reliably, so they are reported as not checkable live instead of being
 *   guessed (their offline result still counts).
 */
import type { DesiredRuleset } from '../compile/ir';
import { runProcess } from '../hosts/exec';
import { NetnsHost } from '../hosts/netns';
import type { Family } from '../model/intervals';
import type { Model } from '../model/types';
import { providerFor, type BackendName } from '../../providers';
import { dependsText, flowQuery, traceFlow, type FlowTrace } from '../trace/trace';
import type { SandboxRecord } from './record';

export type Verdict = 'allow' | 'reject';

export type LiveOutcome =
  | 'connected'
  | 'answered'
  | 'reply'
  | 'refused'
  | 'timeout'
  | 'no reply'
  | 'unreachable'
  | 'denied'
  | 'error'
  | 'not checkable';

/** LivePacket is what was sent: addresses, where from and where to. */
export interface LivePacket {
  family: Family;
  protocol: string;
  src: string;
  dst: string;
  src_netns: string;
  dst_netns: string;
  dport?: number;
  icmp_type?: number;
  icmp_code?: number;
}

/** LiveCheck is one expectation checked live (JSON field names are the CLI's). */
export interface LiveCheck {
  name: string;
  from: string;
  to: string;
  port: string;
  expected: Verdict;
  /** The offline trace's verdict for exactly the packet sent; null when it could not be traced. */
  offline: Verdict | null;
  /** What the kernel did; null when not checkable or the probe itself failed. */
  live: Verdict | null;
  outcome: LiveOutcome;
  /** The banner read back, the kernel's error, or why the check was not possible. */
  detail: string;
  checkable: boolean;
  /** live === offline; null when not checkable. */
  agree: boolean | null;
  /** Checkable: live agrees with offline and equals expected. Not checkable: offline equals expected. */
  pass: boolean;
  packet?: LivePacket;
  /** Set when a sandbox address stands in for the trace's representative address. */
  note?: string;
  file?: string;
  line?: number;
}

/** HostSync: whether an enforcer host holds exactly the compiled rules right now. */
export interface HostSync {
  enforcer: string;
  netns: string;
  /** null when the host could not be read. */
  in_sync: boolean | null;
  /** The backend whose read-back matched (or was tried). */
  backend?: BackendName;
  detail?: string;
}

export interface LiveReport {
  pass: boolean;
  results: LiveCheck[];
  hosts: HostSync[];
  /** Checkable expectations where the kernel disagreed with the offline trace. */
  bugs: string[];
}

export interface LiveOptions {
  /** Backends to try per enforcer when its `backend` is auto (default: nftables, then iptables-nft). */
  backends?: BackendName[];
  /** Parallel probes (default 4). */
  concurrency?: number;
}

/** runLiveTests sends every expectation of `model` through the sandbox `record` describes. */
export async function runLiveTests(
  model: Model,
  rulesets: readonly DesiredRuleset[],
  record: SandboxRecord,
  opts: LiveOptions = {},
): Promise<LiveReport> {
  const hosts = await Promise.all(
    record.plan.hosts.map((h) => hostSync(model, rulesets, h.enforcer, h.netns, opts.backends)),
  );
  const results = await mapLimit(model.expects, opts.concurrency ?? 4, (e) => checkOne(model, rulesets, record, e));
  const outOfSync = new Map(hosts.filter((h) => h.in_sync !== true).map((h) => [h.enforcer, h]));
  const bugs = results
    .filter((r) => r.checkable && r.agree === false)
    .map((r) => {
      const p = r.packet!;
      const where = `${p.protocol}${p.dport !== undefined ? `/${p.dport}` : p.icmp_type !== undefined ? `/${p.icmp_type}/${p.icmp_code}` : ''} ${p.src} → ${p.dst}`;
      const enforcers = [p.src_netns, p.dst_netns]
        .map((ns) => record.plan.hosts.find((h) => h.netns === ns)?.enforcer)
        .filter((n): n is string => n !== undefined && outOfSync.has(n));
      const hint = enforcers.length
        ? ` (host ${[...new Set(enforcers)].join(', ')} does not hold the compiled rules: apply first, or run microseg plan)`
        : '';
      return `${r.name}: offline trace says ${r.offline ?? 'nothing'}, the kernel says ${r.live ?? 'nothing'} (${r.outcome}) for ${where}${hint}`;
    });
  return { pass: results.every((r) => r.pass), results, hosts, bugs };
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}

/** hostSync compares a host's read-back with what the compiled ruleset projects to. */
async function hostSync(
  model: Model,
  rulesets: readonly DesiredRuleset[],
  enforcer: string,
  netns: string,
  backends?: BackendName[],
): Promise<HostSync> {
  const e = model.enforcers.find((x) => x.name === enforcer);
  const desired = rulesets.find((r) => r.enforcer === enforcer);
  if (!e || !desired) return { enforcer, netns, in_sync: null, detail: 'no longer in the configuration' };
  const candidates: BackendName[] = e.backend !== 'auto' ? [e.backend] : (backends ?? ['nftables', 'iptables-nft']);
  const host = new NetnsHost(netns);
  let lastError: string | undefined;
  for (const b of candidates) {
    try {
      const provider = providerFor(b);
      if (!provider.expected) continue;
      const live = await provider.read(host);
      if (live.fingerprint === provider.expected(desired).fingerprint) return { enforcer, netns, in_sync: true, backend: b };
    } catch (err) {
      lastError = (err as Error).message.split('\n')[0];
    }
  }
  return lastError !== undefined
    ? { enforcer, netns, in_sync: null, detail: `cannot read the host: ${lastError}` }
    : { enforcer, netns, in_sync: false, detail: `its ${candidates.join('/')} read-back differs from the compiled rules` };
}

type Location = { netns: string; address: string };

/** locate finds where an address lives in the sandbox. */
function locate(record: SandboxRecord, address: string): Location | undefined {
  for (const h of record.plan.hosts) if (h.addresses.some((a) => a.address === address)) return { netns: h.netns, address };
  const ext = record.plan.external;
  if (ext?.addresses.some((a) => a.address === address)) return { netns: ext.netns, address };
  return undefined;
}

/** standIn: the sandbox address standing for external network `name` in `family`, if any. */
function standIn(record: SandboxRecord, name: string, family: Family): Location | undefined {
  const ext = record.plan.external;
  const a = ext?.addresses.find((x) => x.family === family && x.networks.includes(name));
  return ext && a ? { netns: ext.netns, address: a.address } : undefined;
}

/**
 * SANDBOX_INTERFACE is the one interface the sandbox joins hosts by (topology.ts); traffic between
 * two addresses of one namespace crosses `lo`. The offline trace of a packet the sandbox sends is
 * therefore exact: it is traced over the interfaces the packet really crosses.
 */
export const SANDBOX_INTERFACE = 'eth0';

async function checkOne(model: Model, rulesets: readonly DesiredRuleset[], record: SandboxRecord, e: Model['expects'][number]): Promise<LiveCheck> {
  const base = {
    name: e.name,
    from: e.from,
    to: e.to,
    expected: e.verdict,
    ...(e.pos ? { file: e.pos.file, line: e.pos.line } : {}),
  };
  const named = traceFlow(model, rulesets, flowQuery(e));
  if (!named.trace) {
    const why = named.diagnostics.map((d) => d.summary).join('; ');
    return { ...base, port: e.port, offline: null, live: null, outcome: 'not checkable', detail: `cannot trace: ${why}`, checkable: false, agree: null, pass: false };
  }
  const family = named.trace.packet.family;
  const namedPass = named.trace.verdict === e.verdict;
  const notes: string[] = [];
  const resolveSide = (info: FlowTrace['from']): Location | string => {
    const here = locate(record, info.address);
    if (here) return here;
    if (info.kind === 'external_network') {
      const s = standIn(record, info.name, family);
      if (s) {
        notes.push(`${s.address} stands for ${info.name} (the trace's ${info.address} cannot be a host's address)`);
        return s;
      }
      return `external network ${info.name} has no IPv${family} address in the sandbox (run microseg sandbox up again)`;
    }
    if (info.pu) {
      const pu = model.processingUnits.find((p) => p.name === info.pu);
      const enf = model.enforcers.find((x) => x.name === pu?.enforcer);
      if (enf && enf.connection.type !== 'netns') return `processing unit ${info.pu} runs on ${enf.name}, reached over ${enf.connection.type}: not in the sandbox`;
      return `processing unit ${info.pu} (${info.address}) is not in the sandbox (run microseg sandbox up again)`;
    }
    return `${info.address} is not in the sandbox`;
  };
  const src = resolveSide(named.trace.from);
  const dst = resolveSide(named.trace.to);
  const port = named.trace.port;
  const offlineNamed = named.trace.verdict === 'depends' ? null : named.trace.verdict;
  const notCheckable = (detail: string): LiveCheck => ({
    ...base, port, offline: offlineNamed, live: null, outcome: 'not checkable', detail, checkable: false, agree: null, pass: namedPass,
  });
  if (typeof src === 'string' || typeof dst === 'string') return notCheckable([src, dst].filter((x): x is string => typeof x === 'string').join('; '));
  // The sandbox has one interface per host; an expect about another cannot be sent.
  const local = src.netns === dst.netns;
  const named2 = [e.interface, e.iif, e.oif].filter((x): x is string => x !== undefined && x !== SANDBOX_INTERFACE);
  if (!local && named2.length > 0) {
    return notCheckable(`the sandbox joins hosts by ${SANDBOX_INTERFACE} only, so a connection over ${named2.join(', ')} cannot be sent`);
  }
  // Trace the very packet that is sent: its two addresses, over the interfaces it crosses.
  const exact = traceFlow(model, rulesets, { from: src.address, to: dst.address, port: e.port, ...(local ? {} : { interface: SANDBOX_INTERFACE }) });
  if (!exact.trace || exact.trace.verdict === 'depends') {
    return { ...base, port, offline: null, live: null, outcome: 'not checkable', detail: `cannot trace ${src.address} → ${dst.address}`, checkable: false, agree: null, pass: false };
  }
  const trace = exact.trace;
  const offline: Verdict = trace.verdict as Verdict;
  if (named.trace.verdict === 'depends') {
    notes.push(`offline, ${dependsText(named.trace)}; the sandbox sends ${src.address} → ${dst.address}${local ? ' over lo' : ` over ${SANDBOX_INTERFACE}`}`);
  } else if (offline !== named.trace.verdict) {
    notes.push(`offline, the named trace says ${named.trace.verdict} but this address gets ${offline}`);
  }
  const p = trace.packet;
  const packet: LivePacket = {
    family,
    protocol: p.protocol,
    src: src.address,
    dst: dst.address,
    src_netns: src.netns,
    dst_netns: dst.netns,
    ...(p.dport !== undefined ? { dport: p.dport } : {}),
    ...(p.icmp_type !== undefined ? { icmp_type: p.icmp_type, icmp_code: p.icmp_code } : {}),
  };
  const note = notes.length ? { note: notes.join('; ') } : {};
  const probe = await send(packet);
  if (probe.outcome === 'not checkable') {
    return { ...base, port, offline, live: null, outcome: probe.outcome, detail: probe.detail, checkable: false, agree: null, pass: namedPass, packet, ...note };
  }
  const agree = probe.live === offline;
  return {
    ...base,
    port,
    offline,
    live: probe.live,
    outcome: probe.outcome,
    detail: probe.detail,
    checkable: true,
    agree,
    // An expect whose named trace depends never passes, live or not: it does not say enough.
    pass: agree && probe.live === e.verdict && named.trace.verdict !== 'depends',
    packet,
    ...note,
  };
}

interface Probe {
  live: Verdict | null;
  outcome: LiveOutcome;
  detail: string;
}

/** classifyError maps a client's error text to an outcome (socat and ping messages, LC_ALL=C). */
export function classifyError(text: string): LiveOutcome | undefined {
  if (/refused/i.test(text)) return 'refused';
  if (/not permitted|permission denied/i.test(text)) return 'denied';
  if (/unreachable|no route|prohibited/i.test(text)) return 'unreachable';
  if (/timed out/i.test(text)) return 'timeout';
  return undefined;
}

function lastLine(text: string): string {
  const lines = text.trim().split('\n').filter(Boolean);
  return (lines[lines.length - 1] ?? '').replace(/^\S+ \S+ socat\[\d+\] E /, '');
}

/**
 * send puts one packet on the wire from inside the source namespace and reads the kernel's answer.
 * Silence (a timeout, no reply) is asked twice: a refusal or an answer is final, but on a loaded
 * machine a listener or an echo reply can miss the 1 s window, and a silent drop stays silent
 * however often it is asked. That keeps "blocked" from ever being a scheduling accident.
 */
export async function send(p: LivePacket): Promise<Probe> {
  const first = await sendOnce(p);
  if (first.live === 'reject' && (first.outcome === 'timeout' || first.outcome === 'no reply')) return sendOnce(p);
  // A TCP connection that got no banner did get through (the verdict is allow either way), but
  // the banner is what proves it reached the intended listener; with the suite's first files
  // starting at once, a listener's child was seen to close with nothing written. Ask once more,
  // and keep the first answer if the second is no better.
  if (first.outcome === 'connected' && first.detail === '') {
    const second = await sendOnce(p);
    return second.outcome === 'connected' && second.detail !== '' ? second : first;
  }
  return first;
}

async function sendOnce(p: LivePacket): Promise<Probe> {
  const inNs = (argv: string[], stdin?: string) => runProcess(['ip', 'netns', 'exec', p.src_netns, ...argv], { stdin, timeoutMs: 10_000 });
  const v6 = p.family === 6;
  const host = (a: string) => (v6 ? `[${a}]` : a);
  if ((p.protocol === 'tcp' || p.protocol === 'udp') && p.dport !== undefined) {
    const tcp = p.protocol === 'tcp';
    const target = `${tcp ? 'TCP' : 'UDP'}${p.family}:${host(p.dst)}:${p.dport},bind=${host(p.src)}${tcp ? ',connect-timeout=1' : ''}`;
    // -t: after the probe's own EOF, wait (up to the -T inactivity bound) for the listener's
    // banner. A listener answers and closes at once, so this costs nothing normally; on a loaded
    // machine starting the listener's child shell can take seconds (see socatArgs, whose own
    // half-close wait was the main cause of probes that connected but got no banner; with two
    // suites at once on 2 cores, 2 s was still seen to lose a banner). A TCP probe has connected
    // already, so waiting longer only waits for an answer that is coming; UDP silence stays short
    // because it is asked twice.
    const wait = tcp ? '5' : '2';
    const r = await inNs(['socat', '-t', wait, '-T', wait, '-', target], tcp ? '' : 'microseg-live-probe\n');
    const answer = r.stdout.trim();
    if (r.code === 0 && (tcp || answer !== '')) return { live: 'allow', outcome: tcp ? 'connected' : 'answered', detail: answer };
    if (r.code === 0) return { live: 'reject', outcome: 'no reply', detail: 'no answer within 1 s' };
    const kind = classifyError(r.stderr);
    if (kind) return { live: 'reject', outcome: kind, detail: lastLine(r.stderr) };
    return { live: null, outcome: 'error', detail: lastLine(r.stderr) || `socat exited ${r.code}` };
  }
  const echo = (p.protocol === 'icmp' && p.icmp_type === 8) || (p.protocol === 'icmpv6' && p.icmp_type === 128);
  if (echo && p.icmp_code === 0) {
    const r = await inNs(['ping', ...(v6 ? ['-6'] : ['-4']), '-n', '-c', '1', '-W', '1', '-I', p.src, p.dst]);
    if (r.code === 0) return { live: 'allow', outcome: 'reply', detail: 'echo reply received' };
    const text = `${r.stdout}\n${r.stderr}`;
    const kind = classifyError(text);
    if (r.code === 1) return { live: 'reject', outcome: kind ?? 'no reply', detail: kind ? lastLine(text) : 'no echo reply within 1 s' };
    return { live: null, outcome: 'error', detail: lastLine(r.stderr) || `ping exited ${r.code}` };
  }
  const what = p.protocol === 'icmp' || p.protocol === 'icmpv6' ? `${p.protocol === 'icmp' ? 'ICMP' : 'ICMPv6'} type ${p.icmp_type} code ${p.icmp_code}` : `protocol ${p.protocol}`;
  return {
    live: null,
    outcome: 'not checkable',
    detail: `${what} cannot be sent as a new connection and observed from a host (only echo requests, tcp and udp are checked live)`,
  };
}
