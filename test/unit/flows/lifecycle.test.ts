import type { DesiredRuleset } from '../../../src/compile/ir';
import { collectorDiagnostics, collectorNote, collectorSteps, hasLogRules, runCollectorSteps } from '../../../src/flows/lifecycle';
import type { Host } from '../../../src/hosts/types';
import type { Plan } from '../../../src/plan/types';

const ruleset = (enforcer: string, log: boolean): DesiredRuleset => ({
  enforcer,
  sets: [],
  diagnostics: [],
  chains: [{ name: 'pu-a-i-abcdef', rules: [...(log ? [{ id: 'l', match: {}, verdict: { kind: 'log' as const, group: 42, prefix: 'mseg:x:DR:i' } }] : []), { id: 'v', match: {}, verdict: { kind: 'reject' as const } }] }],
});

function plan(hosts: Array<{ e: string; action: string; log?: boolean; reachable?: boolean }>): Plan {
  return {
    hosts: hosts.map((h) => ({ enforcer: h.e, action: h.action, reachable: h.reachable ?? true })),
    desired: Object.fromEntries(hosts.filter((h) => h.log !== undefined).map((h) => [h.e, ruleset(h.e, h.log!)])),
    connections: Object.fromEntries(hosts.map((h) => [h.e, { type: 'netns', netns: `ns-${h.e}` }])),
  } as unknown as Plan;
}

describe('collector lifecycle', () => {
  it('hasLogRules sees any log verdict', () => {
    expect(hasLogRules(ruleset('a', true))).toBe(true);
    expect(hasLogRules(ruleset('a', false))).toBe(false);
    expect(hasLogRules(undefined)).toBe(false);
  });

  it('after apply: run where rules log, stop where they no longer do, remove on decommission; failed and unreached hosts are left alone', () => {
    const p = plan([
      { e: 'logs', action: 'update', log: true },
      { e: 'quiet', action: 'update', log: false },
      { e: 'same', action: 'noop', log: true },
      { e: 'same-quiet', action: 'noop', log: false },
      { e: 'gone', action: 'delete' },
      { e: 'broken', action: 'update', log: true },
      { e: 'away', action: 'update', log: true, reachable: false },
    ]);
    const steps = collectorSteps(p, [
      { enforcer: 'logs', status: 'applied' },
      { enforcer: 'quiet', status: 'applied' },
      { enforcer: 'same', status: 'unchanged' },
      { enforcer: 'same-quiet', status: 'unchanged' },
      { enforcer: 'gone', status: 'removed' },
      { enforcer: 'broken', status: 'failed' },
      { enforcer: 'away', status: 'pending-cleanup' },
    ]);
    expect(steps.map((s) => [s.enforcer, s.want])).toEqual([
      ['logs', 'run'],
      ['quiet', 'stop'],
      ['same', 'run'],
      ['gone', 'remove'],
    ]);
    expect(steps[3].connection).toEqual({ type: 'netns', netns: 'ns-gone' });
  });

  it('agent enforcers are left to their agent', () => {
    const p = plan([{ e: 'a', action: 'update', log: true }]);
    p.connections.a = { type: 'agent' };
    expect(collectorSteps(p, [{ enforcer: 'a', status: 'applied' }])).toEqual([]);
  });

  it('with nothing to apply, hosts whose rules log still get their collector (one stopped by hand comes back)', () => {
    const steps = collectorSteps(plan([{ e: 'a', action: 'noop', log: true }, { e: 'b', action: 'noop', log: false }]));
    expect(steps.map((s) => [s.enforcer, s.want])).toEqual([['a', 'run']]);
  });

  it('a collector that cannot start is a warning saying how to start it', () => {
    const [d] = collectorDiagnostics([{ enforcer: 'a', want: 'run', ok: false, error: 'ulogd2 with its JSON output plugin is not installed' }, { enforcer: 'b', want: 'run', ok: true }]);
    expect(d).toMatchObject({ severity: 'warning', code: 'MSEG9770' });
    expect(d.detail).toMatch(/microseg collector start DIR --enforcer a/);
  });

  it('the note tells what changed: stopping a collector that never ran says nothing', async () => {
    // A host whose collector pid file names no live process: collectorStatus says not running.
    const ran: string[][] = [];
    const idle: Host = {
      description: 'fake',
      run: async (argv) => {
        ran.push([...argv]);
        return { code: 1, stdout: '', stderr: '' };
      },
    };
    const steps = collectorSteps(plan([{ e: 'quiet', action: 'update', log: false }]), [{ enforcer: 'quiet', status: 'applied' }]);
    const results = await runCollectorSteps(steps, () => idle);
    expect(results).toEqual([{ enforcer: 'quiet', want: 'stop', ok: true, changed: false }]);
    expect(collectorNote(results)).toBeUndefined();
    // Nothing was killed: only the status question was asked.
    expect(ran.some((a) => a[0] === 'kill')).toBe(false);
    expect(collectorNote([{ enforcer: 'q', want: 'stop', ok: true, changed: true }])).toBe('Flow-log collector (ulogd2): stopped on q (no log rules; records kept).');
  });
});
