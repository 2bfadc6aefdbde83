/**
 * refresh: read what is really programmed on every enforcer host, in parallel with a bound.
 *
 * Per host, strictly in order: open it through the Connector (src/hosts transport + provider, or a
 * test double), resolve the backend (the enforcer's own, else state's, else detection for `auto`),
 * optionally probe it, read the LiveRuleset, and on a backend switch also read what the previous
 * backend still holds (so plan can plan its cleanup). A host that cannot be reached becomes data
 * (`reachable: false` + a reason), never an exception: one dead host must not stop the plan of the
 * others.
 */
import type { ProgressSink } from '../progress';
import type { DesiredRuleset } from '../compile/ir';
import type { Backend } from '../model/types';
import type { Connection } from '../hosts/connection';
import { HostCommandError } from '../hosts/exec';
import { isUnreachable } from '../hosts/factory';
import { mapLimit } from '../hosts/pool';
import { kernelConnector, ProviderError, type Connector, type Firewall, type FirewallHost } from '../../providers';
import type { BackendName, Capabilities, LiveRuleset } from '../../providers/types';

/** DEFAULT_PARALLELISM is how many hosts are read or applied at once (`--parallelism`). */
export const DEFAULT_PARALLELISM = 10;

/** RefreshTarget is one host to read: from the configuration, or from state only (decommission). */
export interface RefreshTarget {
  enforcer: string;
  connection: Connection;
  /** The configured backend; `auto` resolves to `stateBackend`, else to detection on the host. */
  backend: Backend;
  /** The backend state recorded for this host, if any. */
  stateBackend?: BackendName;
}

/** HostRead is what refresh learned about one host. */
export interface HostRead {
  enforcer: string;
  connection: Connection;
  /** The opened host (undefined when its connection could not even be opened). */
  host?: FirewallHost;
  reachable: boolean;
  /** Resolved backend (undefined only when detection could not run). */
  backend?: BackendName;
  /** The resolved backend's firewall on the host. */
  firewall?: Firewall;
  capabilities?: Capabilities;
  live?: LiveRuleset;
  /** On a backend switch (state recorded another backend): that backend's firewall and what it still holds. */
  previous?: { backend: BackendName; firewall: Firewall; live: LiveRuleset };
  /** Why the host could not be read (reachable false, or a read that failed on a reachable host). */
  error?: string;
  /** Set when the host answered but no usable backend / the read failed there (not a transport failure). */
  failedOnHost?: boolean;
  /** Notes from backend detection (why preferred backends were skipped). */
  notes: string[];
}

export interface RefreshOptions {
  parallelism?: number;
  /** How hosts are opened; default the real transports and providers (kernelConnector). */
  connect?: Connector;
  /** Probe capabilities while reading (default false: plan probes only hosts apply will change). */
  probe?: boolean;
  /** Told as each host's read finishes. */
  progress?: ProgressSink;
}

/** refresh reads every target; the result is in target order. Never rejects for a host's sake. */
export async function refresh(targets: readonly RefreshTarget[], opts: RefreshOptions = {}): Promise<HostRead[]> {
  const connect = opts.connect ?? kernelConnector();
  let done = 0;
  opts.progress?.({ phase: 'refresh', done, total: targets.length });
  return mapLimit(targets, opts.parallelism ?? DEFAULT_PARALLELISM, async (t) => {
    const read = await readOne(t, connect, opts.probe ?? false);
    opts.progress?.({ phase: 'refresh', done: ++done, total: targets.length, item: t.enforcer });
    return read;
  });
}

async function readOne(t: RefreshTarget, connect: Connector, probe: boolean): Promise<HostRead> {
  const notes: string[] = [];
  let host: FirewallHost;
  try {
    host = connect(t.connection);
  } catch (e) {
    return { enforcer: t.enforcer, connection: t.connection, reachable: false, error: message(e), notes };
  }
  const out: HostRead = { enforcer: t.enforcer, connection: t.connection, host, reachable: true, notes };
  try {
    let backend: BackendName;
    if (t.backend !== 'auto') backend = t.backend;
    else if (t.stateBackend) backend = t.stateBackend;
    else {
      const d = await host.detect();
      backend = d.backend;
      notes.push(...d.skipped);
    }
    out.backend = backend;
    out.firewall = host.firewall(backend);
    if (probe) out.capabilities = await out.firewall.probe();
    out.live = await out.firewall.read();
    if (t.stateBackend && t.stateBackend !== backend) {
      const firewall = host.firewall(t.stateBackend);
      out.previous = { backend: t.stateBackend, firewall, live: await firewall.read() };
    }
    return out;
  } catch (e) {
    out.error = message(e);
    // Without a live read nothing about the host may be assumed: plan treats it as unreachable
    // either way; `failedOnHost` only tells "answered but could not be read" apart for messages.
    out.reachable = false;
    if (!isUnreachable(e) && !HostCommandError.isInstance(e)) out.failedOnHost = true;
    return out;
  }
}


function message(e: unknown): string {
  if (ProviderError.isInstance(e) || e instanceof Error) return e.message;
  return String(e);
}

/**
 * missingCapabilities lists what `desired` needs that the host's probe said is missing. Only needs
 * are reported: a host without NFLOG can still enforce a configuration that logs nothing. Nothing
 * is ever silently dropped or widened instead (DESIGN §4).
 */
export function missingCapabilities(desired: DesiredRuleset, caps: Capabilities | undefined): string[] {
  if (!caps || caps.missing.length === 0) return [];
  if (caps.backend === 'nftables') return [...caps.missing];
  const need = new Set<string>(['comment match']);
  if (caps.missing.some((m) => m.startsWith('iptables') || m.startsWith('ip6tables'))) {
    for (const m of caps.missing) if (/^ip6?tables/.test(m)) need.add(m);
  }
  for (const c of desired.chains) {
    for (const r of c.rules) {
      const m = r.match;
      if (m.srcSet || m.dstSet) {
        need.add('ipset');
        need.add('set match');
      }
      if (m.dports && m.dports.length > 0) need.add('multiport match');
      if (m.ctState && m.ctState.length > 0) need.add('conntrack match');
      if (r.verdict.kind === 'log') need.add('NFLOG target');
      if (r.verdict.kind === 'log' && r.verdict.limit) need.add('limit match');
      if (r.verdict.kind === 'reject') need.add('REJECT target');
    }
  }
  if (desired.sets.length > 0) need.add('ipset');
  return caps.missing.filter((m) => need.has(m));
}
