import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DiagnosticsError, type Diagnostic } from '../../../src/diagnostics';
import type { Namespace, Resource } from '../../../src/model/types';
import {
  attributesDigest,
  checkPlanFresh,
  diffHost,
  diffResources,
  hasChanges,
  hasDrift,
  hasErrors,
  makePlan,
  PlanCodes,
  readPlanFile,
  resourceRecord,
  unreachableHost,
  PLAN_FORMAT_VERSION,
  writePlanFile,
  type Plan,
} from '../../../src/plan';
import { newState, withHost, type StateFile } from '../../../src/state';
import { PACKAGE_VERSION } from '../../../src/version';
import { desiredWeb, liveOf, stateOf, withChain } from './fixtures';

function ns(name: string, over: Partial<Namespace> = {}): Namespace {
  return {
    kind: 'namespace',
    name,
    address: `namespace.${name}`,
    namespace: '/',
    lifecycle: { preventDestroy: false },
    defaultIncomingAction: 'reject',
    defaultOutgoingAction: 'reject',
    ...over,
  };
}

describe('diffResources', () => {
  it('create, update, delete, replace and noop by address, sorted', () => {
    const state = [resourceRecord(ns('a')), resourceRecord(ns('b')), resourceRecord(ns('c'))];
    const changes = diffResources([ns('e'), ns('a'), ns('b', { defaultIncomingAction: 'allow' }), ns('d')], state);
    expect(changes.map((x) => `${x.action} ${x.address}`)).toEqual([
      'noop namespace.a',
      'update namespace.b',
      'delete namespace.c',
      'create namespace.d',
      'create namespace.e',
    ]);
    const upd = changes[1];
    expect(upd.before!.attributes_digest).not.toBe(upd.after!.attributes_digest);
    expect(changes[2].after).toBeUndefined();
    expect(changes[3].before).toBeUndefined();
    expect(changes[3].type).toBe('namespace');
  });

  it('a namespace change is a replace', () => {
    const was = ns('a', { namespace: '/acme' });
    expect(diffResources([ns('a', { namespace: '/acme/prod' })], [resourceRecord(was)])[0].action).toBe('replace');
  });

  it('the digest ignores source positions and key order', () => {
    const a = ns('a', { pos: { file: 'main.hcl', line: 3, column: 1 } });
    const moved = ns('a', { pos: { file: 'other.hcl', line: 90, column: 5 } });
    expect(attributesDigest(a)).toBe(attributesDigest(moved));
    const { kind, ...rest } = ns('a');
    const reordered = { ...rest, kind } as Resource; // same attributes, another key order
    expect(attributesDigest(reordered)).toBe(attributesDigest(ns('a')));
    expect(attributesDigest(ns('a', { description: 'x' }))).not.toBe(attributesDigest(ns('a')));
  });
});

/** planFixture is a plan for web-1 (changed) and db-1 (decommissioned, unreachable). */
function planFixture(state: StateFile | undefined): Plan {
  const d = desiredWeb();
  const live = liveOf(d, 'fp-live-web');
  const stale = withChain(live, 'pu-web', (c) => ({ ...c, ruleIds: ['p1'] }));
  const host = diffHost(d, stale, state?.hosts['web-1']);
  const gone = unreachableHost('db-1', undefined, state?.hosts['db-1'], 'timeout');
  return makePlan({
    state,
    resources: [ns('a')],
    desired: { 'web-1': d },
    hosts: [host, gone.host],
    connections: { 'web-1': { type: 'netns', netns: 'mseg-web-1' }, 'db-1': { type: 'local' } },
    diagnostics: [gone.diagnostic],
    now: new Date('2025-02-03T04:05:06.000Z'),
  });
}

function appliedState(): StateFile {
  const live = liveOf(desiredWeb(), 'fp-live-web');
  let s = newState('11111111-2222-4333-8444-555555555555');
  s = withHost(s, 'web-1', stateOf(live));
  s = withHost(s, 'db-1', { ...stateOf(live), status: 'pending-cleanup' });
  return { ...s, serial: 4, resources: [resourceRecord(ns('a'))] };
}

describe('makePlan, hasChanges, hasDrift', () => {
  it('assembles a plan from state, resources and host plans', () => {
    const state = appliedState();
    const p = planFixture(state);
    expect(p.format_version).toBe(PLAN_FORMAT_VERSION);
    expect(p.microseg_version).toBe(PACKAGE_VERSION);
    expect(p.created_at).toBe('2025-02-03T04:05:06.000Z');
    expect(p.lineage).toBe(state.lineage);
    expect(p.serial).toBe(4);
    expect(p.resource_changes).toEqual([expect.objectContaining({ address: 'namespace.a', action: 'noop' })]);
    expect(p.hosts.map((h) => `${h.enforcer}:${h.action}:${h.reachable}`)).toEqual(['db-1:cleanup-pending:false', 'web-1:update:true']);
    expect(p.diagnostics.map((d) => d.code)).toEqual([PlanCodes.cleanupPending]);
    expect(hasChanges(p)).toBe(true);
    expect(hasDrift(p)).toBe(true); // rules p2, p3 removed by hand
    expect(hasErrors(p)).toBe(false);
  });

  it('a plan with no state has empty lineage and serial 0', () => {
    const p = planFixture(undefined);
    expect(p.lineage).toBe('');
    expect(p.serial).toBe(0);
    expect(p.resource_changes[0].action).toBe('create');
    expect(p.hosts.find((h) => h.enforcer === 'db-1')!.action).toBe('noop');
  });

  it('nothing to do: hasChanges and hasDrift are false', () => {
    const d = desiredWeb();
    const live = liveOf(d);
    const state = { ...withHost(newState(), 'web-1', stateOf(live)), resources: [resourceRecord(ns('a'))] };
    const p = makePlan({ state, resources: [ns('a')], desired: { 'web-1': d }, hosts: [diffHost(d, live, state.hosts['web-1'])], connections: {} });
    expect(hasChanges(p)).toBe(false);
    expect(hasDrift(p)).toBe(false);
  });

  it('carries compile diagnostics of desired rulesets, and refuses to replace a prevent_destroy resource', () => {
    const warn: Diagnostic = { severity: 'warning', code: 'MSEG5001', summary: 'ineffective rule' };
    const d = desiredWeb({ diagnostics: [warn] });
    const state = { ...newState(), resources: [resourceRecord(ns('a', { namespace: '/x' }))] };
    const p = makePlan({
      state,
      resources: [ns('a', { namespace: '/y', lifecycle: { preventDestroy: true }, pos: { file: 'main.hcl', line: 4, column: 1 } })],
      desired: { 'web-1': d },
      hosts: [],
      connections: {},
    });
    // A host's compile diagnostic says which host it concerns (address), so apply can match it by code and address.
    expect(p.diagnostics[0]).toEqual({ ...warn, address: 'enforcer.web-1' });
    expect(p.diagnostics[1]).toMatchObject({ severity: 'error', code: PlanCodes.preventDestroy, file: 'main.hcl', line: 4 });
    expect(p.diagnostics[1].summary).toContain('namespace.a has lifecycle.prevent_destroy');
    expect(hasErrors(p)).toBe(true);
  });
});

describe('plan files', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'mseg-plan-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  async function diagnosticsOf(p: Promise<unknown>): Promise<Diagnostic[]> {
    try {
      await p;
    } catch (e) {
      if (DiagnosticsError.isInstance(e)) return e.diagnostics;
      throw e;
    }
    throw new Error('expected DiagnosticsError');
  }

  it('round-trips exactly, desired rulesets and fingerprints included, mode 0600', async () => {
    const plan = planFixture(appliedState());
    const file = path.join(dir, 'tfplan.json');
    await writePlanFile(file, plan);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const back = await readPlanFile(file);
    expect(back).toEqual(plan);
    expect(back.desired['web-1'].chains[2].rules[0].id).toBe('p1');
    expect(back.hosts.find((h) => h.enforcer === 'web-1')!.live_fingerprint).toBe('fp-live-web');
    expect(JSON.parse(readFileSync(file, 'utf8')).format_version).toBe(PLAN_FORMAT_VERSION);
  });

  it('refuses garbage, a non-plan, and another format version', async () => {
    const file = path.join(dir, 'p.json');
    writeFileSync(file, 'not json');
    expect((await diagnosticsOf(readPlanFile(file)))[0].code).toBe(PlanCodes.planFileUnreadable);
    writeFileSync(file, JSON.stringify({ hello: 1 }));
    expect((await diagnosticsOf(readPlanFile(file)))[0].detail).toContain('no format_version');
    writeFileSync(file, JSON.stringify({ format_version: '1', microseg_version: '9.9.9' }));
    const v = await diagnosticsOf(readPlanFile(file));
    expect(v[0].code).toBe(PlanCodes.planFileVersion);
    expect(v[0].detail).toContain('9.9.9');
    writeFileSync(file, JSON.stringify({ ...planFixture(undefined), hosts: [{ enforcer: 'x' }] }));
    expect((await diagnosticsOf(readPlanFile(file)))[0].detail).toContain('hosts: expected an array of host plans');
    expect((await diagnosticsOf(readPlanFile(path.join(dir, 'missing.json'))))[0].code).toBe(PlanCodes.planFileUnreadable);
  });
});

describe('checkPlanFresh', () => {
  const state = appliedState();
  const plan = planFixture(state);
  const fps = { 'web-1': 'fp-live-web' };

  it('a plan is fresh when state serial and every reachable host fingerprint are unchanged', () => {
    expect(checkPlanFresh(plan, state, fps)).toEqual([]);
    expect(checkPlanFresh(plan, state, new Map(Object.entries(fps)))).toEqual([]);
  });

  it('stale when the state serial moved', () => {
    const ds = checkPlanFresh(plan, { ...state, serial: 5 }, fps);
    expect(ds).toHaveLength(1);
    expect(ds[0]).toMatchObject({ severity: 'error', code: PlanCodes.stalePlan, summary: 'Saved plan is stale' });
    expect(ds[0].detail).toContain('the state changed: serial 4 when planned, 5 now');
  });

  it('stale when a host changed since, naming the host and both fingerprints', () => {
    const ds = checkPlanFresh(plan, state, { 'web-1': 'fp-other' });
    expect(ds[0].summary).toBe('Saved plan is stale');
    expect(ds[0].detail).toContain('enforcer "web-1" changed on the host: live fingerprint fp-live-web when planned, fp-other now');
  });

  it('stale when a planned host cannot be read now', () => {
    expect(checkPlanFresh(plan, state, {})[0].detail).toContain('enforcer "web-1" could not be read back now');
  });

  it('lists every reason at once', () => {
    const ds = checkPlanFresh({ ...plan, microseg_version: '0.0.1' }, { ...state, serial: 9 }, { 'web-1': 'x' });
    expect(ds).toHaveLength(1);
    expect(ds[0].detail!.split('\n').filter((l) => l.startsWith('- '))).toHaveLength(3);
    expect(ds[0].detail).toContain(`made by microseg 0.0.1; this is microseg ${PACKAGE_VERSION}`);
  });

  it('a different lineage is its own error', () => {
    const ds = checkPlanFresh(plan, { ...state, lineage: 'aaaaaaaa-2222-4333-8444-555555555555' }, fps);
    expect(ds).toEqual([expect.objectContaining({ code: PlanCodes.planLineageMismatch, summary: 'Saved plan does not match the current state' })]);
  });

  it('stale when a state appeared or disappeared since', () => {
    expect(checkPlanFresh(planFixture(undefined), state, fps)[0].detail).toContain('a state was created since the plan (now serial 4)');
    expect(checkPlanFresh(plan, undefined, fps)[0].detail).toContain('the state (serial 4) no longer exists');
    expect(checkPlanFresh(planFixture(undefined), undefined, fps)).toEqual([]);
  });

  it('hosts that were unreachable at plan time are not checked', () => {
    expect(plan.hosts.find((h) => h.enforcer === 'db-1')!.reachable).toBe(false);
    expect(checkPlanFresh(plan, state, { 'web-1': 'fp-live-web', 'db-1': 'anything' })).toEqual([]);
  });
});
