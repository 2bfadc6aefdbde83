/**
 * Smoke test of the benchmark harness pieces that need no kernel: the single-host ruleset
 * generator hits its sizes, compile-scale measures the smallest size end to end, and the report
 * renders tables, targets and plots from results files. No timing is asserted here; timings
 * belong to `npm run bench`.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { hostRuleset, peerAddresses, peerSetHcl, rulesetOf, ruleCount } from '../../../bench/host-ruleset';
import { measureOnce, runCompileScale, sweeps } from '../../../bench/compile-scale';
import { routerRuleset } from '../../../bench/forward-cost';
import { naiveScript } from '../../../bench/packet-cost';
import { BEGIN, END, load, renderResults, updateReadme, writePlots } from '../../../bench/report';
import { logLogChart } from '../../../bench/svg';
import { median, writeResult } from '../../../bench/util';

it('generates a host ruleset of exactly the asked number of rules', () => {
  expect(ruleCount(hostRuleset(100))).toBe(100);
  // One policy edit changes exactly one rule id.
  const a = hostRuleset(100);
  const b = hostRuleset(100, { portShift: 107 });
  const ids = (r: typeof a) => new Set(r.chains.flatMap((c) => c.rules.map((x) => x.id)));
  const ia = ids(a);
  const ib = ids(b);
  expect([...ib].filter((x) => !ia.has(x))).toHaveLength(1);
  expect([...ia].filter((x) => !ib.has(x))).toHaveLength(1);
});

it('puts every identity of the per-packet benchmark in one peer set, and writes a naive chain with the client last', () => {
  const rs = rulesetOf(peerSetHcl(10, '198.18.100.2', '198.18.100.1', 8080), 'srv');
  expect(rs.sets.some((s) => s.elements.length === 10 && s.elements.includes('198.18.100.1/32'))).toBe(true);
  expect(new Set(peerAddresses(1000, '198.18.100.1')).size).toBe(1000);
  const naive = naiveScript(10).split('\n');
  const accepts = naive.filter((l) => l.includes('--dport 8080 -j ACCEPT'));
  expect(accepts).toHaveLength(10);
  expect(accepts[9]).toContain('-s 198.18.100.1/32');
});

it('places both workloads of the forward-path benchmark behind the router, all identities in the server\'s peer set', () => {
  const rs = routerRuleset(10);
  expect(rs.placements?.map((p) => `${p.pu}:${p.placement}`).sort()).toEqual(['client-0:forwarded', 'server:forwarded']);
  const fwd = rs.chains.find((c) => c.hook === 'forward')!;
  // A SYN from the client meets the client's egress chain, then the server's ingress chain.
  expect(fwd.rules.map((r) => (r.verdict.kind === 'jump' ? r.verdict.chain.replace(/-[0-9a-f]+$/, '') : r.verdict.kind))).toEqual([
    'pu-client-0-o',
    'pu-server-o',
    'pu-client-0-i',
    'pu-server-i',
  ]);
  expect(rs.sets.some((s) => s.elements.length === 10 && s.elements.includes('198.18.102.2/32'))).toBe(true);
});

it('measures the smallest compile-scale size and reports it', async () => {
  const small = sweeps(true).map((s) => ({ ...s, specs: s.specs.slice(0, 1) }));
  small[2] = { ...small[2], specs: [{ enforcers: 2, pusPerEnforcer: 5, policies: 20, externalNetworks: 4 }] };
  const r = await runCompileScale({ quick: true, log: () => undefined, runs: 1, sweeps: small, measure: measureOnce });
  expect(r.rows).toHaveLength(3);
  for (const row of r.rows) {
    expect(row.rules).toBeGreaterThan(0);
    expect(row.peakRssMb).toBeGreaterThan(0);
  }
  expect(r.targets[0].met).not.toBeNull();

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-report-'));
  try {
    writeResult(r, dir);
    const l = load(dir);
    expect(l.apply).toBeUndefined();
    const md = renderResults(l);
    expect(md).toContain('### 4. Compile and validate at scale');
    expect(md).toContain('not run');
    const plots = writePlots(l, dir);
    expect(plots.map((p) => path.basename(p))).toEqual(['compile.svg']);
    const readme = path.join(dir, 'README.md');
    fs.writeFileSync(readme, `# B\n\nintro\n\n${BEGIN}\nold\n${END}\n\ntail\n`);
    updateReadme(md, readme);
    const text = fs.readFileSync(readme, 'utf8');
    expect(text).toContain('intro');
    expect(text).toContain('tail');
    expect(text).not.toContain('\nold\n');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

it('draws a log-log chart and takes medians of measured values', () => {
  const svg = logLogChart({ title: 't', xLabel: 'x', yLabel: 'y', series: [{ label: 'a', points: [[10, 1], [100, 10]] }] });
  expect(svg).toContain('<polyline');
  expect(median([3, 1, 2, 4])).toBe(2);
});
