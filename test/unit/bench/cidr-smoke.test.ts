/**
 * Smoke test of bench item 7 (bench/cidr-containment.ts): the smallest sizes run end to end and the
 * result has its rows and target. No timing is asserted; timings belong to `npm run bench`.
 */
import { pairedList, runCidrContainment } from '../../../bench/cidr-containment';

it('measures two small sizes and reports a slope', async () => {
  expect(pairedList(3)).toEqual(['10.0.0.0/24', '!10.0.0.128/25', '10.0.1.0/24', '!10.0.1.128/25', '10.0.2.0/24', '!10.0.2.128/25']);
  const r = await runCidrContainment({ quick: true, log: () => undefined, runs: 1, sizes: [100, 200] });
  expect(r.rows.map((x) => x.pairs)).toEqual([100, 200]);
  expect(r.rows[1].slope).not.toBeNull();
  expect(r.targets).toHaveLength(1);
  expect(r.targets[0].met).not.toBeNull();
});
