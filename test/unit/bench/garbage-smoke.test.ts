/**
 * Smoke test of bench item 6 (bench/parse-garbage.ts): the smallest sizes run end to end and the
 * result has its rows and targets. No timing is asserted; timings belong to `npm run bench`.
 */
import { garbage, runParseGarbage } from '../../../bench/parse-garbage';

it('generates each kind of garbage deterministically with the asked number of lines', () => {
  for (const kind of ['bytes', 'tokens', 'truncated'] as const) {
    expect(garbage(kind, 300).split('\n')).toHaveLength(300);
    expect(garbage(kind, 300)).toBe(garbage(kind, 300));
  }
});

it('measures two small sizes per kind and reports slopes and bounded output', async () => {
  const r = await runParseGarbage({ quick: true, log: () => undefined, runs: 1, sizes: [200, 400] });
  expect(r.rows.map((x) => `${x.kind} ${x.lines}`)).toEqual(['bytes 200', 'bytes 400', 'tokens 200', 'tokens 400', 'truncated 200', 'truncated 400']);
  for (const row of r.rows) {
    expect(row.diagnostics).toBeGreaterThan(0);
    expect(row.outputBytes).toBeLessThan(64 * 1024);
  }
  expect(r.rows.filter((x) => x.slope !== null)).toHaveLength(3);
  expect(r.targets.map((t) => t.met)).not.toContain(null);
});
