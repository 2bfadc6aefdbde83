/**
 * Benchmark: parse + evaluate + validate a generated configuration at growing sizes.
 * Target (issue 2): 10,000 policies under 2 s on this machine. Reported as medians of several
 * runs, with time per policy alongside so near-linear growth is visible despite machine noise.
 *
 * Usage: node dist/bench/parse-validate.js [--quick]
 */
import { evaluateHcl } from '../src/config/hcl';
import { validateConfig } from '../src/model/validate';
import { generateHcl, ScaleSpec } from './generate';

export interface ParseValidateResult {
  policies: number;
  pus: number;
  bytes: number;
  parseMs: number;
  validateMs: number;
  totalMs: number;
  heapMb: number;
  errors: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** measure runs one size `runs` times and returns the medians. */
export function measure(spec: ScaleSpec, runs: number): ParseValidateResult {
  const text = generateHcl(spec);
  const parse: number[] = [];
  const validate: number[] = [];
  let errors = 0;
  let heap = 0;
  for (let r = 0; r < runs; r++) {
    const t0 = process.hrtime.bigint();
    const raw = evaluateHcl([{ name: 'bench.hcl', text }], { vars: {}, varFiles: [], env: {} });
    const t1 = process.hrtime.bigint();
    const res = validateConfig(raw);
    const t2 = process.hrtime.bigint();
    parse.push(Number(t1 - t0) / 1e6);
    validate.push(Number(t2 - t1) / 1e6);
    errors = [...raw.diagnostics, ...res.diagnostics].filter((d) => d.severity === 'error').length;
    heap = Math.max(heap, process.memoryUsage().heapUsed / 2 ** 20);
  }
  const p = median(parse);
  const v = median(validate);
  return {
    policies: spec.policies,
    pus: spec.enforcers * spec.pusPerEnforcer,
    bytes: text.length,
    parseMs: p,
    validateMs: v,
    totalMs: p + v,
    heapMb: heap,
    errors,
  };
}

export function runParseValidate(quick: boolean): ParseValidateResult[] {
  const sizes = quick ? [100, 1000, 10000] : [10, 100, 1000, 10000, 100000];
  return sizes.map((policies) =>
    measure({ enforcers: 10, pusPerEnforcer: 50, policies, externalNetworks: Math.min(500, policies / 4) }, quick ? 3 : 5),
  );
}

if (require.main === module) {
  const quick = process.argv.includes('--quick');
  const rows = runParseValidate(quick);
  console.log('policies   PUs  bytes      parse ms  validate ms  total ms  µs/policy  heap MB  errors');
  for (const r of rows) {
    console.log(
      `${String(r.policies).padStart(8)} ${String(r.pus).padStart(5)}  ${String(r.bytes).padStart(9)}  ${r.parseMs.toFixed(1).padStart(8)}  ${r.validateMs
        .toFixed(1)
        .padStart(11)}  ${r.totalMs.toFixed(1).padStart(8)}  ${((r.totalMs * 1000) / r.policies).toFixed(1).padStart(9)}  ${r.heapMb
        .toFixed(0)
        .padStart(7)}  ${r.errors}`,
    );
  }
  const big = rows.find((r) => r.policies === 10000);
  if (big) console.log(`\n10,000 policies: ${big.totalMs.toFixed(0)} ms (target < 2000 ms) -> ${big.totalMs < 2000 ? 'MET' : 'NOT MET'}`);
}
