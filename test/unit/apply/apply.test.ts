/**
 * Unit tests of the reconciler's host-independent parts: bounded parallelism, durations, the
 * unreachable-host guard, refresh turning failures into data, applyPlan's run-wide refusals
 * (errors in the plan, held lock, stale saved plan), and the plan/drift views rendered from one
 * Plan. Real hosts are the netns suites' job (test/netns/reconcile-*.test.ts).
 */
import { mkdtempSync, rmSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { applyPlan, parseLockTimeout } from '../../../src/apply';
import { GuardedHost, hostFor, HostUnreachableError, isUnreachable, mapLimit } from '../../../src/hosts';
import { missingCapabilities, refresh } from '../../../src/plan';
import { BufferIo } from '../../../src/cli/io';
import { driftReport } from '../../../src/cli/views/drift';
import { planJson, renderPlanHuman } from '../../../src/cli/views/plan';
import { DiagnosticsError, makeDiagnostic } from '../../../src/diagnostics';
import type { CommandResult, Host } from '../../../src/hosts/types';
import { SshConnectionError, SshHost } from '../../../src/hosts';
import { diffHost, makePlan, PLAN_FORMAT_VERSION, type Plan } from '../../../src/plan';
import { kernelConnector } from '../../../providers';
import { LocalStateStore } from '../../../src/state';
import { desiredWeb, liveOf, stateOf, withChain } from '../plan/fixtures';

function scripted(description: string, answer: (argv: readonly string[]) => CommandResult): Host {
  return { description, run: async (argv) => answer(argv) };
}

async function thrown(p: Promise<unknown>): Promise<DiagnosticsError> {
  try {
    await p;
  } catch (e) {
    if (DiagnosticsError.isInstance(e)) return e;
    throw e;
  }
  throw new Error('expected a DiagnosticsError');
}

describe('mapLimit', () => {
  it('keeps at most `limit` calls in flight, returns results in input order, and finishes every item after a failure', async () => {
    let inFlight = 0;
    let peak = 0;
    const seen: number[] = [];
    const run = mapLimit([5, 1, 4, 2, 3, 0], 2, async (n) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((r) => setTimeout(r, n * 3));
      inFlight--;
      seen.push(n);
      if (n === 1) throw new Error('one');
      return n * 10;
    });
    await expect(run).rejects.toThrow('one');
    expect(peak).toBe(2);
    expect(seen.sort()).toEqual([0, 1, 2, 3, 4, 5]);
    expect(await mapLimit([3, 1, 2], 10, async (n) => n)).toEqual([3, 1, 2]);
  });
});

describe('parseLockTimeout', () => {
  it.each([
    ['0s', 0],
    ['0', 0],
    ['500ms', 500],
    ['5s', 5000],
    ['2m', 120000],
    ['1.5s', 1500],
  ])('%s is %d ms', (text, ms) => expect(parseLockTimeout(text)).toBe(ms));
  it.each(['', 'soon', '-1s', '5 parsecs'])('%j is refused', (text) => expect(parseLockTimeout(text)).toBeUndefined());
});

describe('hostFor and GuardedHost', () => {
  it('turns "namespace does not exist" into HostUnreachableError instead of an empty-looking read', async () => {
    const gone = new GuardedHost(
      scripted('netns x', () => ({ code: 1, stdout: '', stderr: 'Cannot open network namespace "x": No such file or directory\n' })),
      (r) => /Cannot open network namespace/.test(r.stderr),
    );
    await expect(gone.run(['nft', 'list', 'tables'])).rejects.toThrow(HostUnreachableError);
    const ok = new GuardedHost(scripted('netns y', () => ({ code: 1, stdout: '', stderr: 'Error: No such file or directory' })), () => false);
    await expect(ok.run(['nft', 'list', 'table', 'inet', 'microseg'])).resolves.toMatchObject({ code: 1 });
  });

  it('builds an SshHost for ssh connections (no secrets in its description), and counts an ssh failure as unreachable', () => {
    const h = hostFor({ type: 'ssh', host: '198.18.9.9', user: 'root', port: 22, privateKeyFile: '/keys/id', strictHostKeyChecking: true });
    expect(h).toBeInstanceOf(SshHost);
    expect(h.description).toBe('ssh root@198.18.9.9:22');
    expect(isUnreachable(new SshConnectionError(['ssh'], 'root@198.18.9.9:22', 'Connection refused', { code: 255, stdout: '', stderr: '' }))).toBe(true);
    expect(isUnreachable(new Error('nft: syntax error'))).toBe(false);
  });
});

describe('refresh', () => {
  it('reads reachable hosts and turns a dead one into data, never stopping the others', async () => {
    const empty = scripted('netns ok', (argv) => {
      if (argv[0] === 'nft' && argv[1] === '--version') return { code: 0, stdout: 'nftables v1.0.6\n', stderr: '' };
      if (argv[0] === 'nft' && argv[1] === '-c') return { code: 0, stdout: '', stderr: '' };
      return { code: 1, stdout: '', stderr: 'Error: No such file or directory\n' };
    });
    const reads = await refresh(
      [
        { enforcer: 'dead', connection: { type: 'netns', netns: 'dead' }, backend: 'nftables' },
        { enforcer: 'ok', connection: { type: 'netns', netns: 'ok' }, backend: 'nftables' },
      ],
      {
        probe: true,
        connect: kernelConnector((c) =>
          c.type === 'netns' && c.netns === 'dead'
            ? { description: 'netns dead', run: () => Promise.reject(new HostUnreachableError('netns dead', 'netns dead is unreachable: gone')) }
            : empty,
        ),
      },
    );
    expect(reads.map((r) => [r.enforcer, r.reachable])).toEqual([
      ['dead', false],
      ['ok', true],
    ]);
    expect(reads[0].error).toMatch(/unreachable/);
    expect(reads[1].live).toMatchObject({ backend: 'nftables', sets: [], chains: [], hooks: [] });
    expect(reads[1].capabilities).toMatchObject({ backend: 'nftables', missing: [] });
  });

  it('missingCapabilities names only what the rules need', () => {
    const caps = { backend: 'iptables-nft' as const, versions: {}, comments: true, missing: ['NFLOG target', 'set match'] };
    const d = desiredWeb();
    expect(missingCapabilities(d, caps)).toEqual([]);
    d.chains[2].rules.push({ id: 'log1', match: { srcSet: { set: 'pu-web' } }, verdict: { kind: 'log', group: 1, prefix: 'x' } });
    expect(missingCapabilities(d, caps)).toEqual(['NFLOG target', 'set match']);
  });
});

describe('applyPlan refusals', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'mseg-apply-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function planWith(overrides: Partial<Plan> = {}): Plan {
    const desired = desiredWeb();
    const live = liveOf(desired);
    return { ...makePlan({ state: undefined, resources: [], desired: { 'web-1': desired }, hosts: [diffHost(desired, live, undefined)], connections: { 'web-1': { type: 'netns', netns: 'mseg-unit-none' } } }), ...overrides };
  }

  it('refuses a plan with errors before touching anything', async () => {
    const plan = planWith({ diagnostics: [makeDiagnostic('error', 'MSEG6001', 'old enforcer')] });
    const e = await thrown(applyPlan(plan, { store: new LocalStateStore(dir), connect: () => { throw new Error('no host may be built'); } }));
    expect(e.diagnostics.map((d) => d.code)).toEqual(['MSEG8208']);
  });

  it('names the holder when the state is locked, after the lock timeout', async () => {
    const store = new LocalStateStore(dir);
    const held = await store.acquireLock({ operation: 'apply', timeoutMs: 0 });
    const e = await thrown(applyPlan(planWith(), { store, lockTimeoutMs: 0 }));
    expect(e.diagnostics[0].code).toBe('MSEG8010');
    expect(e.diagnostics[0].detail).toContain(held.id);
    await store.unlock(held);
  });

  it('refuses a saved plan that does not record the configuration it was made from, before building any host', async () => {
    // Stale and forged saved plans (MSEG8112, MSEG8130) are refused in the reconcile suite
    // (test/netns/reconcile-suite.ts), which plans from a configuration as the CLI does.
    const store = new LocalStateStore(dir);
    const unreachable = () => ({ description: 'netns gone', run: () => Promise.reject(new HostUnreachableError('netns gone', 'gone')) });
    const e = await thrown(applyPlan(planWith(), { store, savedPlan: true, connect: kernelConnector(unreachable) }));
    expect(e.diagnostics[0].code).toBe('MSEG8131');
    expect(e.diagnostics[0].detail).toMatch(/refused and no host was changed/);
    // The lock was released on the way out.
    const again = await store.acquireLock({ operation: 'x', timeoutMs: 0 });
    await store.unlock(again);
  });
});

describe('plan and drift views', () => {
  const desired = desiredWeb();
  const applied = liveOf(desired);
  const drifted = withChain(applied, 'pu-web', (c) => ({ ...c, ruleIds: ['p1', 'p3'] }));
  const plan = makePlan({
    state: undefined,
    resources: [],
    desired: { 'web-1': desired },
    hosts: [diffHost(desired, drifted, stateOf(applied))],
    connections: { 'web-1': { type: 'netns', netns: 'mseg-web-1' } },
    now: new Date('2025-01-01T00:00:00Z'),
  });

  it('renders the human plan from the Plan data: chains, rule ids, drift; no colour off a TTY', () => {
    const io = new BufferIo();
    renderPlanHuman(io, plan);
    expect(io.stdout).toContain('~ enforcer web-1 (nftables) will be updated');
    expect(io.stdout).toMatch(/~ chain pu-web \(\+1 rule\)\n\s+\+ rule p2/);
    expect(io.stdout).toMatch(/! rule-missing: rule p2 in chain pu-web/);
    expect(io.stdout).toMatch(/Plan: hosts 0 to program, 1 to update, 0 to decommission/);
    expect(io.stdout).not.toMatch(/\x1b\[/);
    const tty = new BufferIo();
    tty.isTTY = true;
    const noColor = process.env.NO_COLOR;
    delete process.env.NO_COLOR;
    renderPlanHuman(tty, plan);
    if (noColor !== undefined) process.env.NO_COLOR = noColor;
    expect(tty.stdout).toMatch(/\x1b\[33m~\x1b\[0m/);
  });

  it('--json is the versioned Plan document itself', () => {
    const doc = JSON.parse(planJson(plan)) as Plan;
    expect(doc).toEqual(JSON.parse(JSON.stringify(plan)));
    expect(doc.format_version).toBe(PLAN_FORMAT_VERSION);
  });

  it('groups drift per host as missing, unexpected and changed', () => {
    const r = driftReport(plan);
    expect(r).toEqual([
      expect.objectContaining({ enforcer: 'web-1', drifted: true, missing: [expect.objectContaining({ kind: 'rule-missing', object: 'rule p2 in chain pu-web' })], unexpected: [], changed: [] }),
    ]);
  });

  it('says "No changes" for a plan with nothing to do', () => {
    const clean = makePlan({ state: undefined, resources: [], desired: { 'web-1': desired }, hosts: [diffHost(desired, applied, stateOf(applied))], connections: {} });
    const io = new BufferIo();
    renderPlanHuman(io, clean);
    expect(io.stdout).toBe('1 host unchanged.\nNo changes. Hosts match the configuration.\n');
  });
});
