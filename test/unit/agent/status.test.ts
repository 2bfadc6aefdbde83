/** `microseg agent status` exit codes (the seed's #618): 0 healthy, 1 error, 2 not converged. */
import { promises as fsp } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { health, writeStatus, AGENT_STATUS_FORMAT, type AgentStatus } from '../../../src/agent/status';
import { agentStatusCommand } from '../../../src/cli/commands/agent';
import { BufferIo } from '../../../src/cli/io';
import { main } from '../../../src/cli/main';

const NOW = new Date('2026-12-06T05:00:00Z');
const base: AgentStatus = {
  format: AGENT_STATUS_FORMAT,
  enforcer: 'web-1',
  pid: 1,
  server: 'https://cp:8443',
  updated_at: '2026-12-06T04:59:50Z',
  heartbeat_ms: 60_000,
  phase: 'converged',
  applied_etag: 'e1',
  applied_at: '2026-12-06T04:00:00Z',
  latest_etag: 'e1',
  server_state: 'reachable',
  cert: { serial: '01', not_after: '2026-12-07T00:00:00Z', ca_id: 'ca', renew_at: '2026-12-06T16:00:00Z' },
};

describe('agent health', () => {
  const exit = (over: Partial<AgentStatus>, grace?: number) => health({ ...base, ...over }, NOW, { unreachableGraceMs: grace }).exit;
  it('is healthy when the host holds the newest document, also during a short outage', () => {
    expect(exit({})).toBe(0);
    expect(exit({ server_state: 'unreachable', unreachable_since: '2026-12-06T04:58:00Z' })).toBe(0);
  });
  it('is an error when the newest document failed, the status is stale, the certificate expired, or the outage outlasts the grace', () => {
    expect(exit({ phase: 'failed', latest_etag: 'e2', last_error: { code: 'MSEG9849', message: 'x', at: '' } })).toBe(1);
    expect(exit({ updated_at: '2026-12-06T04:00:00Z' })).toBe(1);
    expect(exit({ cert: { ...base.cert!, not_after: '2026-12-06T04:00:00Z' } })).toBe(1);
    expect(exit({ server_state: 'unreachable', unreachable_since: '2026-12-06T04:50:00Z' })).toBe(1);
    expect(exit({ server_state: 'unreachable', unreachable_since: '2026-12-06T04:50:00Z' }, 3_600_000)).toBe(0);
  });
  it('is not converged before the first apply, while applying, or while a newer document is pending', () => {
    expect(exit({ applied_etag: undefined, phase: 'waiting' })).toBe(2);
    expect(exit({ phase: 'applying', latest_etag: 'e2' })).toBe(2);
    expect(exit({ latest_etag: 'e2' })).toBe(2);
    expect(exit({ phase: 'decommissioned', applied_etag: 'e9', latest_etag: 'e9' })).toBe(0);
  });
  it('gives every reason, errors first', () => {
    const h = health({ ...base, phase: 'failed', latest_etag: 'e2', last_error: { code: 'MSEG9840', message: 'refused', at: '' }, updated_at: '2026-12-06T03:00:00Z' }, NOW);
    expect(h.reasons.map((r) => r.code)).toEqual(['MSEG9858', 'MSEG9840']);
  });
});

describe('agent status command', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'mseg-agent-status-'));
  });
  afterAll(() => fsp.rm(dir, { recursive: true, force: true }));

  it('exits 1 without a status file, and 0/1/2 from the file (human and JSON from the same data)', async () => {
    let io = new BufferIo();
    expect(await agentStatusCommand(io, { stateDir: path.join(dir, 'none') })).toBe(1);
    expect(io.stderr).toMatch(/^error: Cannot read the agent status \[MSEG9855\]\n {2}no agent status at /);
    expect(io.stdout).toBe('');
    io = new BufferIo();
    expect(await agentStatusCommand(io, { stateDir: path.join(dir, 'none'), json: true })).toBe(1);
    expect(JSON.parse(io.stdout)).toEqual(
      expect.objectContaining({ verdict: 'error', exit: 1, reasons: [expect.objectContaining({ code: 'MSEG9855' })], diagnostics: [expect.objectContaining({ code: 'MSEG9855', severity: 'error' })] }),
    );
    expect(io.stderr).toBe('');
    await writeStatus(dir, { ...base, updated_at: NOW.toISOString() });
    io = new BufferIo();
    expect(await agentStatusCommand(io, { stateDir: dir }, NOW)).toBe(0);
    expect(io.stdout).toMatch(/agent web-1: healthy/);
    await writeStatus(dir, { ...base, updated_at: NOW.toISOString(), latest_etag: 'e2', phase: 'applying' });
    io = new BufferIo();
    expect(await agentStatusCommand(io, { stateDir: dir, json: true }, NOW)).toBe(2);
    expect(JSON.parse(io.stdout)).toEqual(expect.objectContaining({ verdict: 'not-converged', exit: 2 }));
  });

  it('is reachable as `microseg agent status` (a subcommand beside the agent itself)', async () => {
    await writeStatus(dir, { ...base, updated_at: new Date().toISOString() });
    const io = new BufferIo();
    expect(await main(['node', 'microseg', 'agent', 'status', '--state-dir', dir, '--json'], io)).toBe(0);
    expect(JSON.parse(io.stdout).verdict).toBe('healthy');
  });
});
