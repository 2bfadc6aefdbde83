/**
 * refresh: read what is really programmed on every enforcer host, in parallel with a bound.
 *
 * Per host, strictly in order: resolve the backend (the enforcer's own, else state's, else
 * detectBackend for `auto`), probe it once, read the LiveRuleset. A host that cannot be reached
 * becomes data (`reachable: false` + a reason), never an exception: one dead host must not stop
 * the plan of the others.
 */
import type { DesiredRuleset } from '../compile/ir';
import type { Host } from '../hosts/types';
import type { Backend } from '../model/types';
import type { Connection } from '../hosts/connection';
import { detectBackendDetailed, providerFor, ProviderError } from '../../providers';
import type { BackendName, Capabilities, LiveRuleset, Provider } from '../../providers/types';
import { HostCommandError } from '../hosts/exec';
import { hostFor, HostUnreachableError, isUnreachable, type HostFactory } from '../hosts/factory';
import { mapLimit } from '../hosts/pool';

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
  host: Host;
  reachable: boolean;
  /** Resolved backend (undefined only when detection could not run). */
  backend?: BackendName;
  provider?: Provider;
  capabilities?: Capabilities;
  live?: LiveRuleset;
  /** Why the host could not be read (reachable false, or a read that failed on a reachable host). */
  error?: string;
  /** Set when the host answered but no usable backend / the read failed there (not a transport failure). */
  failedOnHost?: boolean;
  /** Notes from backend detection (why preferred backends were skipped). */
  notes: string[];
}

export interface RefreshOptions {
  parallelism?: number;
  hostFactory?: HostFactory;
  /** Skip the capability probe (fingerprint re-reads of a saved plan only need `read`). */
  probe?: boolean;
}

/** refresh reads every target; the result is in target order. Never rejects for a host's sake. */
export async function refresh(targets: readonly RefreshTarget[], opts: RefreshOptions = {}): Promise<HostRead[]> {
  const factory = opts.hostFactory ?? hostFor;
  return mapLimit(targets, opts.parallelism ?? DEFAULT_PARALLELISM, (t) => readOne(t, factory, opts.probe ?? true));
}

async function readOne(t: RefreshTarget, factory: HostFactory, probe: boolean): Promise<HostRead> {
  const notes: string[] = [];
  let host: Host;
  try {
    host = factory(t.connection);
  } catch (e) {
    return { enforcer: t.enforcer, connection: t.connection, host: deadHost(t), reachable: false, error: message(e), notes };
  }
  const out: HostRead = { enforcer: t.enforcer, connection: t.connection, host, reachable: true, notes };
  try {
    let backend: BackendName;
    if (t.backend !== 'auto') backend = t.backend;
    else if (t.stateBackend) backend = t.stateBackend;
    else {
      const d = await detectBackendDetailed(host);
      backend = d.backend;
      notes.push(...d.skipped);
    }
    out.backend = backend;
    out.provider = providerFor(backend);
    if (probe) out.capabilities = await out.provider.probe(host);
    out.live = await out.provider.read(host);
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

function deadHost(t: RefreshTarget): Host {
  return {
    description: t.enforcer,
    run: () => Promise.reject(new HostUnreachableError(t.enforcer, `${t.enforcer} has no usable transport`)),
  };
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
      if (r.verdict.kind === 'reject') need.add('REJECT target');
    }
  }
  if (desired.sets.length > 0) need.add('ipset');
  return caps.missing.filter((m) => need.has(m));
}
