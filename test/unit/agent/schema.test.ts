/**
 * The agent's gate on pulled documents: everything compile produces passes it unchanged, and every
 * kind of bad document is refused with a coded diagnostic naming its JSON path (all problems at
 * once), before anything could reach a kernel.
 */
import * as path from 'path';
import { AGENT_DESIRED_FORMAT, type AgentDesired } from '../../../src/control/desired';
import type { DesiredRuleset } from '../../../src/compile/ir';
import { parseAgentDesired } from '../../../src/agent/schema';
import { runPipeline } from '../../../src/pipeline';

function doc(ruleset: DesiredRuleset | undefined, over: Partial<AgentDesired> = {}): AgentDesired {
  return {
    format: AGENT_DESIRED_FORMAT,
    enforcer: ruleset?.enforcer ?? 'web-1',
    workspace: 'default',
    lineage: 'l-1',
    serial: 3,
    action: ruleset ? 'apply' : 'decommission',
    backend: 'auto',
    ...(ruleset ? { ruleset } : {}),
    published_at: '2026-12-06T05:00:00.000Z',
    ...over,
  };
}

const small: DesiredRuleset = {
  enforcer: 'web-1',
  sets: [{ name: 'p-db', family: 4, elements: ['198.18.0.2/32'], comment: 'pus matching app=db' }],
  chains: [
    { name: 'in', hook: 'input', rules: [{ id: 'r1', match: { ctState: ['established', 'related'] }, verdict: { kind: 'accept' } }, { id: 'r2', match: {}, verdict: { kind: 'jump', chain: 'pu-web' } }] },
    {
      name: 'pu-web',
      rules: [
        { id: 'r3', match: { srcSet: { set: 'p-db' }, protocol: 'tcp', dports: [{ from: 80, to: 80 }] }, verdict: { kind: 'accept' } },
        { id: 'r4', match: {}, verdict: { kind: 'log', group: 42, prefix: 'mseg:0123abcd:d:i', limit: { perSecond: 50, burst: 100 } } },
        { id: 'r5', match: {}, verdict: { kind: 'reject' } },
      ],
    },
  ],
  diagnostics: [],
};

describe('parseAgentDesired', () => {
  it('accepts every ruleset compile produces for the examples, unchanged', async () => {
    let n = 0;
    for (const dir of ['examples/quickstart', 'examples/aporeto-import', 'examples/typescript']) {
      const p = await runPipeline(path.join(__dirname, '../../..', dir), { compile: true, now: new Date('2026-12-06T00:00:00Z') });
      for (const rs of p.compiled?.rulesets ?? []) {
        if (rs.diagnostics.some((d) => d.severity === 'error')) continue;
        const d = JSON.parse(JSON.stringify(doc(rs))) as AgentDesired;
        const r = parseAgentDesired(d, rs.enforcer);
        if (!r.ok) throw new Error(`${dir} ${rs.enforcer}: ${r.diagnostics.map((x) => x.summary).join('\n')}`);
        expect(r.desired).toEqual(d);
        n++;
      }
    }
    expect(n).toBeGreaterThan(2);
  });

  it('accepts a decommission document without a ruleset', () => {
    expect(parseAgentDesired(doc(undefined), 'web-1').ok).toBe(true);
  });

  const refused = (value: unknown, enforcer = 'web-1') => {
    const r = parseAgentDesired(value, enforcer, { url: 'https://cp:8443/v1/ruleset', etag: 'e1' });
    if (r.ok) throw new Error('accepted');
    for (const d of r.diagnostics) {
      expect(d.severity).toBe('error');
      expect(d.file).toBe('https://cp:8443/v1/ruleset (etag e1)');
      expect(d.detail).toMatch(/Nothing was changed on this host/);
    }
    return r.diagnostics.map((d) => `${d.code} ${d.summary}`);
  };

  it('refuses text where data is expected: a script field, shell in a name, quotes in a comment or log prefix', () => {
    expect(refused({ ...doc(small), script: 'nft flush ruleset' })).toEqual([expect.stringMatching(/^MSEG9840 .*\$: Unrecognized key.*script/)]);
    const evil = JSON.parse(JSON.stringify(small)) as DesiredRuleset;
    evil.chains[1].name = 'pu-web; flush ruleset';
    evil.sets[0].comment = 'x" ; flush ruleset ; "';
    (evil.chains[1].rules[1].verdict as { prefix: string }).prefix = 'a"b';
    evil.chains[1].rules[0].match.iif = 'eth0 accept';
    const got = refused(doc(evil));
    expect(got).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^MSEG9840 .*\$\.ruleset\.chains\[1\]\.name: an IR name/),
        expect.stringMatching(/^MSEG9840 .*\$\.ruleset\.sets\[0\]\.comment: printable ASCII/),
        expect.stringMatching(/^MSEG9840 .*\$\.ruleset\.chains\[1\]\.rules\[1\]\.verdict\.prefix/),
        expect.stringMatching(/^MSEG9840 .*\$\.ruleset\.chains\[1\]\.rules\[0\]\.match\.iif/),
      ]),
    );
    expect(got).toHaveLength(4); // every problem at once
  });

  it('refuses bad addresses, ports and verdicts', () => {
    const bad = JSON.parse(JSON.stringify(small)) as DesiredRuleset;
    bad.sets[0].elements = ['198.18.0.2/24', 'not-an-address'];
    bad.chains[1].rules[0].match.dports = [{ from: 90, to: 80 }, { from: 1, to: 70000 }];
    (bad.chains[1].rules[2] as { verdict: unknown }).verdict = { kind: 'masquerade' };
    const got = refused(doc(bad));
    expect(got.join('\n')).toMatch(/elements\[0\]: 198\.18\.0\.2\/24 is not canonical \(198\.18\.0\.0\/24\)/);
    expect(got.join('\n')).toMatch(/elements\[1\]: "not-an-address" is not a CIDR/);
    expect(got.join('\n')).toMatch(/dports\[0\]: from must not exceed to/);
    expect(got.join('\n')).toMatch(/dports\[1\]\.to/);
    expect(got.join('\n')).toMatch(/rules\[2\]\.verdict\.kind/);
  });

  it('refuses another enforcer, an unknown format, compile errors and action/ruleset mismatches', () => {
    expect(refused(doc(small), 'db-1')).toEqual([expect.stringMatching(/^MSEG9841 .*"web-1", but this agent is "db-1"/)]);
    expect(refused({ ...doc(small), format: 'microseg.agent-desired/2' })).toEqual([expect.stringMatching(/^MSEG9842 /)]);
    expect(refused(doc({ ...small, diagnostics: [{ severity: 'error', code: 'MSEG2001', summary: 'bad' }] }))).toEqual([expect.stringMatching(/^MSEG9843 .*MSEG2001 bad/)]);
    expect(refused(doc(undefined, { action: 'apply' }))).toEqual([expect.stringMatching(/^MSEG9840 .*must carry a ruleset/)]);
    expect(refused(doc(small, { action: 'decommission' }))).toEqual([expect.stringMatching(/^MSEG9840 .*carries no ruleset/)]);
    expect(refused('nft flush ruleset')).toEqual([expect.stringMatching(/^MSEG9840 /)]);
  });

  it('refuses rulesets whose references do not resolve', () => {
    const bad = JSON.parse(JSON.stringify(small)) as DesiredRuleset;
    bad.chains[0].rules[1].verdict = { kind: 'jump', chain: 'pu-gone' };
    bad.chains[1].rules[0].match.srcSet = { set: 'p-gone' };
    bad.chains[1].rules.push({ id: 'r6', match: {}, verdict: { kind: 'jump', chain: 'pu-web' } });
    bad.chains.push({ name: 'in2', hook: 'input', rules: [] });
    bad.sets.push({ name: 'p-v6', family: 6, elements: ['198.18.0.9/32'] });
    const got = refused(doc(bad)).join('\n');
    expect(got).toMatch(/MSEG9844 .*jumps to chain pu-gone/);
    expect(got).toMatch(/MSEG9844 .*matches set p-gone/);
    expect(got).toMatch(/MSEG9844 .*cycle: pu-web → pu-web/);
    expect(got).toMatch(/MSEG9844 .*hook input is claimed by chains in and in2/);
    expect(got).toMatch(/MSEG9844 .*set p-v6 \(ipv6\) holds 198\.18\.0\.9\/32/);
  });
});
