/**
 * Smoke test of the benchmark harness: the smallest size runs end to end and the generated
 * configuration is valid, so the benchmark cannot rot between releases. No timing is asserted
 * here; timings belong to `npm run bench`.
 */
import { measure } from '../../../bench/parse-validate';

it('parses and validates the smallest generated configuration without errors', () => {
  const r = measure({ enforcers: 2, pusPerEnforcer: 5, policies: 20, externalNetworks: 4 }, 1);
  expect(r.errors).toBe(0);
  expect(r.policies).toBe(20);
  expect(r.pus).toBe(10);
  expect(r.bytes).toBeGreaterThan(1000);
});
