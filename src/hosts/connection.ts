/**
 * Connection: how microseg reaches an enforcer host, in the one shape every layer uses in memory
 * (configuration → model → plan → state → transport). HCL spells its attributes in snake_case and
 * the state file keeps snake_case for people and other tools; both convert at their file edge
 * (src/model/validate.ts, src/state/schema.ts), nowhere else.
 *
 * A Connection holds paths and names only, never key material or tokens: it is written into
 * state and plan files, which get committed and pasted into tickets.
 */

import ipaddr from 'ipaddr.js';
import { isIP } from 'net';

export type Connection =
  | { type: 'local' }
  /**
   * The host runs `microseg agent`, which pulls its desired ruleset from the control plane and
   * reports back: microseg never connects to it; plan reads its reports, apply publishes.
   */
  | { type: 'agent' }
  | { type: 'netns'; netns: string }
  | {
      type: 'ssh';
      /** Host name or address (IPv4, IPv6 without brackets). */
      host: string;
      user: string;
      port: number;
      privateKeyFile?: string;
      knownHostsFile?: string;
      strictHostKeyChecking: boolean;
      /** Seconds ssh waits for the TCP connection and handshake (ConnectTimeout); absent = DEFAULT_CONNECT_TIMEOUT_S. */
      connectTimeoutS?: number;
    };

/** DEFAULT_CONNECT_TIMEOUT_S is ssh's ConnectTimeout when a connection declares no connect_timeout. */
export const DEFAULT_CONNECT_TIMEOUT_S = 10;

/**
 * NETNS_NAME is what `ip netns` accepts as a namespace name and cannot read as an option: a file
 * name under /run/netns without '/', not starting with '-'. Configuration validation and the netns
 * transport both check it, so a bad name is a diagnostic before it is ever an `ip` usage dump.
 */
export const NETNS_NAME = /^[A-Za-z0-9_.][A-Za-z0-9_.-]*$/;

/** describeConnection is a one-line, secret-free description of a connection (views, diagnostics). */
export function describeConnection(c: Connection): string {
  switch (c.type) {
    case 'local':
      return 'local';
    case 'agent':
      return 'agent (pulls from the control plane)';
    case 'netns':
      return `netns ${c.netns}`;
    case 'ssh':
      return `ssh ${c.user}@${c.host}:${c.port}`;
  }
}

/**
 * connectionRecord keeps only what is needed to reach the host again, by allowlist, so a field
 * added to Connection later (a secret, say) never leaks into state or plan files by default.
 */
export function connectionRecord(c: Connection): Connection {
  switch (c.type) {
    case 'local':
      return { type: 'local' };
    case 'agent':
      return { type: 'agent' };
    case 'netns':
      return { type: 'netns', netns: c.netns };
    case 'ssh': {
      const out: Connection = { type: 'ssh', host: c.host, user: c.user, port: c.port, strictHostKeyChecking: c.strictHostKeyChecking };
      if (c.privateKeyFile !== undefined) out.privateKeyFile = c.privateKeyFile;
      if (c.knownHostsFile !== undefined) out.knownHostsFile = c.knownHostsFile;
      if (c.connectTimeoutS !== undefined) out.connectTimeoutS = c.connectTimeoutS;
      return out;
    }
    default: {
      const never: never = c;
      throw new Error(`unknown connection ${JSON.stringify(never)}`);
    }
  }
}

/** A DNS label as RFC 1123 allows, plus `_`, which real internal names carry; never a leading or trailing `-`. */
const HOST_LABEL = /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/;
/** An IPv6 zone (`fe80::1%eth0`) is an interface name: no shell or ssh-option characters. */
const IPV6_ZONE = /^[A-Za-z0-9_.-]{1,15}$/;

/**
 * sshHostProblem says why `host` cannot be an ssh destination, or undefined when it can. Only a
 * host name (dot-separated labels) or an IP address (IPv6 without brackets, optionally with a
 * zone) passes: the value reaches ssh's argv and, through ProxyCommand-style `%h` expansion or a
 * login shell, could reach a shell, so anything else (a leading `-` ssh would read as an option
 * such as `-oProxyCommand=…`, spaces, quotes, `$`, `;`, `@`, `:`, `/`, `%`…) is refused here,
 * in validation at the attribute's line, rather than failing later as "unreachable".
 */
export function sshHostProblem(host: string): string | undefined {
  if (host === '') return 'it is empty';
  if (isIP(host) !== 0) return undefined;
  const pct = host.indexOf('%');
  if (pct > 0 && isIP(host.slice(0, pct)) === 6 && IPV6_ZONE.test(host.slice(pct + 1))) return undefined;
  if (host.startsWith('-')) return 'it starts with "-", so ssh would read it as an option';
  if (host.includes('@')) return `it contains "@": write the user in user = ${JSON.stringify(host.slice(0, host.indexOf('@')))} and only the host name here`;
  const colon = /^([^:]+):(\d+)$/.exec(host);
  if (colon) return `it contains a port: write port = ${colon[2]} and host = ${JSON.stringify(colon[1])}`;
  const bad = /[^A-Za-z0-9_.-]/.exec(host);
  if (bad) return `it contains ${JSON.stringify(bad[0])}, which a host name cannot`;
  const name = host.endsWith('.') ? host.slice(0, -1) : host;
  if (name.length > 253) return 'it is longer than the 253 characters of a host name';
  const label = name.split('.').find((l) => !HOST_LABEL.test(l));
  if (label !== undefined) {
    return label === '' ? 'it has an empty label (two dots in a row, or a leading dot)' : `its label ${JSON.stringify(label)} is not 1-63 letters, digits, "_" or "-" (not at either end)`;
  }
  return undefined;
}

/** The POSIX portable user name: portable file name characters, not starting with `-`; 32 characters is useradd's limit. */
const POSIX_USER = /^[A-Za-z0-9._][A-Za-z0-9._-]{0,31}$/;

/** sshUserProblem says why `user` is not a POSIX user name ssh can log in as, or undefined when it is. */
export function sshUserProblem(user: string): string | undefined {
  if (user === '') return 'it is empty';
  if (user.startsWith('-')) return 'it starts with "-", so ssh would read it as an option';
  if (user.length > 32) return 'it is longer than 32 characters';
  if (!POSIX_USER.test(user)) {
    const bad = /[^A-Za-z0-9._-]/.exec(user);
    return `it contains ${JSON.stringify(bad ? bad[0] : user[0])}, which a user name cannot`;
  }
  return undefined;
}

/**
 * hostKey names the machine (or namespace) a connection programs, so two connections with one key
 * program the same kernel tables. ssh destinations are normalised: host names are case-insensitive
 * and may carry a final dot; IP addresses compare by value (`2001:DB8:0::7` is `2001:db8::7`, an
 * IPv4-mapped IPv6 address is its IPv4 address); the port is part of the key, since one address
 * can forward different ports to different machines. Different names for one machine (a host
 * name and its address, `localhost` and `local`) cannot be told apart without resolving them, which
 * validation never does.
 */
export function hostKey(c: Connection): string {
  switch (c.type) {
    case 'local':
      return 'local';
    case 'agent':
      // An agent is known by the enforcer name its certificate is bound to, which hostKey does
      // not see; validation never groups agent enforcers as one host (validate.ts sameHost).
      return 'agent';
    case 'netns':
      return `netns ${c.netns}`;
    case 'ssh':
      return `ssh ${normaliseSshHost(c.host)} ${c.port}`;
  }
}

function normaliseSshHost(host: string): string {
  const pct = host.indexOf('%');
  const addr = pct > 0 ? host.slice(0, pct) : host;
  const zone = pct > 0 ? `%${host.slice(pct + 1)}` : '';
  if (ipaddr.isValid(addr) && isIP(addr) !== 0) {
    const a = ipaddr.parse(addr);
    if (a.kind() === 'ipv6' && (a as ipaddr.IPv6).isIPv4MappedAddress()) return (a as ipaddr.IPv6).toIPv4Address().toString();
    return a.toString() + zone;
  }
  const lower = host.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}
