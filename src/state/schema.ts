/**
 * The state file's edge: parseStateText turns the text of a state file into a StateFile, or
 * throws a DiagnosticsError that says what is wrong and what to do; stateFileText is the text of
 * a StateFile. The version is checked before the shape, so a state from a newer microseg gets
 * "upgrade microseg", not a confusing list of unknown fields. A host's connection is snake_case
 * in the file (ConnectionRecord) and a Connection in memory; these two functions convert it.
 */
import { z } from 'zod';
import { DiagnosticsError, makeDiagnostic } from '../diagnostics';
import { PACKAGE_VERSION } from '../version';
import { StateCodes } from './codes';
import type { Connection } from '../hosts/connection';
import { STATE_VERSION, type ConnectionRecord, type StateFile } from './types';

const family = z.union([z.literal(4), z.literal(6)]);
const hook = z.enum(['input', 'output', 'forward']);
const backend = z.enum(['nftables', 'iptables-nft', 'iptables-legacy']);

const connection = z.discriminatedUnion('type', [
  z.object({ type: z.literal('local') }),
  z.object({ type: z.literal('agent') }),
  z.object({ type: z.literal('netns'), netns: z.string() }),
  z.object({
    type: z.literal('ssh'),
    host: z.string(),
    user: z.string(),
    port: z.number().int(),
    private_key_file: z.string().optional(),
    known_hosts_file: z.string().optional(),
    strict_host_key_checking: z.boolean(),
    connect_timeout: z.number().int().positive().optional(),
  }),
]);

const stateHost = z.object({
  backend,
  connection,
  owned: z.object({
    sets: z.array(z.object({ name: z.string(), family, elements: z.array(z.string()) })),
    chains: z.array(z.object({ name: z.string(), hook: hook.optional(), ruleIds: z.array(z.string()), rules: z.array(z.string()).optional() })),
    hooks: z.array(z.object({ hook, family })),
  }),
  fingerprint: z.string(),
  status: z.enum(['applied', 'failed', 'pending-cleanup', 'published']),
  last_error: z.string().optional(),
  published: z.object({ etag: z.string(), action: z.enum(['apply', 'decommission']), published_at: z.string() }).optional(),
  updated_at: z.string(),
});

const stateFile = z.object({
  version: z.literal(STATE_VERSION),
  serial: z.number().int().nonnegative(),
  lineage: z.string().min(1),
  microseg_version: z.string(),
  resources: z.array(
    z.object({
      address: z.string(),
      type: z.string(),
      name: z.string(),
      namespace: z.string(),
      attributes_digest: z.string(),
    }),
  ),
  hosts: z.record(z.string(), stateHost),
  // Written and read only by microseg itself; its shape is the Model type, not re-validated here.
  applied_model: z.record(z.string(), z.unknown()).optional(),
});

/** parseStateText validates `text` read from `file`; throws DiagnosticsError on any problem. */
export function parseStateText(text: string, file: string): StateFile {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw corrupt(file, `It is not valid JSON: ${(e as Error).message}.`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw corrupt(file, 'It is not a JSON object.');
  }
  const version = (raw as Record<string, unknown>).version;
  if (typeof version === 'number' && Number.isInteger(version) && version > STATE_VERSION) {
    const writer = (raw as Record<string, unknown>).microseg_version;
    throw new DiagnosticsError(
      [
        makeDiagnostic(
          'error',
          StateCodes.versionTooNew,
          `State file ${file} uses format version ${version}, newer than this microseg supports (${STATE_VERSION})`,
          `It was written by microseg ${typeof writer === 'string' ? writer : '(unknown version)'}; this is microseg ` +
            `${PACKAGE_VERSION}. Upgrade microseg to at least that version. Do not edit or delete the state ` +
            'file: an older microseg could not tell which objects on the hosts it owns.',
        ),
      ],
      'user',
    );
  }
  const parsed = stateFile.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues
      .slice(0, 5)
      .map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`)
      .join('\n');
    throw corrupt(file, `It is not shaped like a microseg state file:\n${problems}`);
  }
  const data = parsed.data as unknown as Omit<StateFile, 'hosts'> & { hosts: { [e: string]: Omit<StateFile['hosts'][string], 'connection'> & { connection: ConnectionRecord } } };
  const hosts: StateFile['hosts'] = {};
  for (const [name, h] of Object.entries(data.hosts)) hosts[name] = { ...h, connection: connectionFromRecord(h.connection) };
  return { ...data, hosts };
}

/** stateFileText is the text of `state` as the file holds it (connections in snake_case), indented. */
export function stateFileText(state: StateFile): string {
  const hosts: { [e: string]: unknown } = {};
  for (const [name, h] of Object.entries(state.hosts)) hosts[name] = { ...h, connection: connectionToRecord(h.connection) };
  return JSON.stringify({ ...state, hosts }, null, 2) + '\n';
}

/** connectionFromRecord reads a state file's snake_case connection. */
export function connectionFromRecord(r: ConnectionRecord): Connection {
  if (r.type !== 'ssh') return r.type === 'local' || r.type === 'agent' ? { type: r.type } : { type: 'netns', netns: r.netns };
  const c: Connection = { type: 'ssh', host: r.host, user: r.user, port: r.port, strictHostKeyChecking: r.strict_host_key_checking };
  if (r.private_key_file !== undefined) c.privateKeyFile = r.private_key_file;
  if (r.known_hosts_file !== undefined) c.knownHostsFile = r.known_hosts_file;
  if (r.connect_timeout !== undefined) c.connectTimeoutS = r.connect_timeout;
  return c;
}

/** connectionToRecord is the state file's spelling of a connection (by allowlist: nothing else is written). */
export function connectionToRecord(c: Connection): ConnectionRecord {
  if (c.type !== 'ssh') return c.type === 'local' || c.type === 'agent' ? { type: c.type } : { type: 'netns', netns: c.netns };
  const r: ConnectionRecord = { type: 'ssh', host: c.host, user: c.user, port: c.port, strict_host_key_checking: c.strictHostKeyChecking };
  if (c.privateKeyFile !== undefined) r.private_key_file = c.privateKeyFile;
  if (c.knownHostsFile !== undefined) r.known_hosts_file = c.knownHostsFile;
  if (c.connectTimeoutS !== undefined) r.connect_timeout = c.connectTimeoutS;
  return r;
}

function corrupt(file: string, why: string): DiagnosticsError {
  return new DiagnosticsError(
    [
      makeDiagnostic(
        'error',
        StateCodes.corrupt,
        `State file ${file} is unreadable`,
        `${why}\nThe previous state is kept beside it as ${file}.backup; inspect both before restoring one.`,
      ),
    ],
    'tool',
  );
}
