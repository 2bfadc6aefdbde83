/**
 * The rule property, run per backend on real namespaces (rule-property.test.ts) and on the fake
 * (test/unit/fake/rule-property-fake.test.ts): after ONE apply of a two-host configuration, for
 * EVERY owned kernel rule of both hosts (on iptables every rule of each family), deleting that one
 * rule by hand, and separately replacing its verdict under the same comment, is drift that names
 * that rule, and apply repairs it (the next iteration's drift naming only its own rule proves the
 * repair; a last drift must be clean).
 *
 * Cost is bounded: one apply to program the hosts, then per rule and tampering one plan of the
 * tampered host only (`targets`, reading that host alone) and one apply of that plan (a delta of
 * one chain). Drift is checked through planRun's plan, which is what `microseg drift` prints.
 *
 * Before the fix, on iptables a family-neutral rule (the conntrack accept first in a PU chain, the
 * final reject) deleted from one family was hidden by the merged rule ids, and on every backend a
 * verdict replaced under the rule's own comment was "no drift".
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { applyPlan } from '../../src/apply';
import { planRun } from '../../src/plan';
import { LocalStateStore } from '../../src/state';
import type { BackendName } from '../../providers/types';
import { BASE, NODES, cli, cliWith, configHcl, type ReconcileEnv } from './reconcile-suite';

const HOSTS = ['web', 'api'];

export function defineRuleProperty(backend: BackendName, tag: string, env: ReconcileEnv): void {
  env.describe(`rule property on ${backend}: every owned rule deleted or with its verdict replaced is drift naming it, and apply repairs it`, () => {
    let dir = '';
    const deps = env.connect ? { connect: env.connect } : {};
    const run = (...args: string[]) => (env.connect ? cliWith(deps, ...args) : cli(...args));
    const store = () => new LocalStateStore(dir);

    beforeAll(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), `mseg-prop-${tag}-`));
      await env.create(tag, NODES.filter((n) => HOSTS.includes(n.name)));
      fs.writeFileSync(path.join(dir, 'main.hcl'), configHcl({ nsName: (n) => env.nsName(n) }, backend, { ...BASE, hosts: HOSTS }));
      const a = await run('apply', dir, '--auto-approve');
      if (a.code !== 0) throw new Error(`apply failed: ${a.err}`);
    }, 120_000);
    afterAll(async () => {
      await env.teardown();
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    it('a verdict replaced under its own comment lets a refused connection through until apply', async () => {
      await env.listen('api', 'tcp', 9999, 4);
      expect(await env.tcpConnect('web', '198.18.0.12', 9999)).toBe('refused');
      // Both ends enforce (default reject both ways): web's egress and api's ingress PU chains each
      // end with the tcp catch-all reject, then the final reject; replace the tcp one on both.
      const tampered: string[] = [];
      for (const [node, chain] of [['web', /^pu-web-o/], ['api', /^pu-api-i/]] as const) {
        const own = (await env.ownedRules(node)).filter((r) => chain.test(r.chain) && (r.family ?? 4) === 4);
        const tcpReject = own[own.length - 2];
        await env.tamperRule(node, tcpReject, 'verdict');
        tampered.push(`rule ${tcpReject.id} in chain ${tcpReject.chain}`);
      }
      expect(await env.tcpConnect('web', '198.18.0.12', 9999)).toBe('open');
      const d = await run('drift', dir);
      expect(d.code).toBe(2);
      for (const t of tampered) expect(d.out).toContain(t);
      const a = await run('apply', dir, '--auto-approve');
      expect(a.code).toBe(0);
      expect(await env.tcpConnect('web', '198.18.0.12', 9999)).toBe('refused');
      expect((await run('drift', dir)).code).toBe(0);
    }, 120_000);

    for (const how of ['delete', 'verdict'] as const) {
      it(`every owned rule of both hosts: ${how === 'delete' ? 'deleted' : 'verdict replaced'} → drift names it → apply repairs it`, async () => {
        const checked: string[] = [];
        for (const node of HOSTS) {
          const rules = await env.ownedRules(node);
          expect(rules.length).toBeGreaterThan(5);
          for (const r of rules) {
            const id = r.id.replace(/#\d+\/\d+$/, '');
            const label = `${node} ${r.chain} ${id}${r.family ? ` ipv${r.family}` : ''}`;
            await env.tamperRule(node, r, how);
            const p = await planRun(dir, { store: store(), connect: env.connect, targets: [`enforcer.${node}`] });
            const host = p.plan!.hosts.find((h) => h.enforcer === node)!;
            // A chain's only rule deleted is reported as the chain flushed, with the rule's id.
            const named = host.drift.filter((x) => x.object === `rule ${id} in chain ${r.chain}` || (x.kind === 'chain-flushed' && x.object === `chain ${r.chain}` && x.detail.includes(id)));
            // Every drift item is about this rule's chain, and one names the rule.
            expect({ label, named: named.length > 0, others: host.drift.filter((x) => !x.object.endsWith(`chain ${r.chain}`)) }).toEqual({ label, named: true, others: [] });
            // Plan (desired vs live) changes exactly that chain, naming the rule.
            const chain = host.chains.find((c) => c.name === r.chain);
            expect({ label, changes: host.chains.map((c) => c.name), names: chain ? [...chain.rules_added, ...chain.rules_changed].includes(id) : false }).toEqual({
              label,
              changes: [r.chain],
              names: true,
            });
            const result = await applyPlan(p.plan!, { store: store(), reads: p.reads, connect: env.connect });
            expect({ label, failed: result.hosts.filter((h) => h.status === 'failed') }).toEqual({ label, failed: [] });
            checked.push(label);
          }
        }
        expect(checked.length).toBeGreaterThan(10);
        const d = await run('drift', dir);
        expect([d.code, d.out]).toEqual([0, expect.stringMatching(/No drift/)]);
      }, 600_000);
    }
  });
}
