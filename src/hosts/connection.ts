/**
 * Connection: how microseg reaches an enforcer host, in the one shape every layer uses in memory
 * (configuration → model → plan → state → transport). HCL spells its attributes in snake_case and
 * the state file keeps snake_case for people and other tools; both convert at their file edge
 * (src/model/validate.ts, src/state/schema.ts), nowhere else.
 *
 * A Connection holds paths and names only, never key material or tokens: it is written into
 * state and plan files, which get committed and pasted into tickets.
 */

export type Connection =
  | { type: 'local' }
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
    };

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
    case 'netns':
      return { type: 'netns', netns: c.netns };
    case 'ssh': {
      const out: Connection = { type: 'ssh', host: c.host, user: c.user, port: c.port, strictHostKeyChecking: c.strictHostKeyChecking };
      if (c.privateKeyFile !== undefined) out.privateKeyFile = c.privateKeyFile;
      if (c.knownHostsFile !== undefined) out.knownHostsFile = c.knownHostsFile;
      return out;
    }
    default: {
      const never: never = c;
      throw new Error(`unknown connection ${JSON.stringify(never)}`);
    }
  }
}
