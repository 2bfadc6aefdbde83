/**
 * Item 4 — compile and validate at scale: time and peak memory per size.
 *
 * Each measurement is one fresh child process (`--child SPEC`) that generates the configuration
 * (bench/generate.ts), parses+evaluates it (evaluateHcl), validates it (validateConfig) and
 * compiles it (compile), timing each stage, and reports its peak RSS (getrusage maxrss): so the
 * memory of one size never inherits the heap of another. Sizes of a sweep alternate run by run
 * (all sizes once, then again), medians are taken per size.
 *
 * Two sweeps, because compile's output is policies × matching PUs: policies grow with the fleet
 * fixed (10 enforcers × 5 PUs), then PUs grow (10 per enforcer) with 100 policies fixed. Growth is
 * judged per rule emitted (µs/rule) and by the log-log slope between neighbouring sizes (1.0 is
 * linear). Target: 100 enforcers × 50 PUs × 2,000 policies (+500 external networks) compiles in
 * under 2 s.
 *
 * Usage: node dist/bench/compile-scale.js [--full]
 */
import { spawnSync } from 'child_process';
import { compile } from '../src/compile';
import { evaluateHcl } from '../src/config/hcl';
import { validateConfig } from '../src/model/validate';
import { generateHcl, type ScaleSpec } from './generate';
import { BENCH_NOW } from './host-ruleset';
import { defaultLog, median, newResult, nowMs, round, writeResult, type BenchOptions, type Result } from './util';

export interface ChildMeasure {
  spec: ScaleSpec;
  bytes: number;
  parseMs: number;
  validateMs: number;
  compileMs: number;
  rules: number;
  sets: number;
  errors: number;
  peakRssMb: number;
}

export interface ScaleRow {
  sweep: 'policies' | 'pus' | 'target';
  policies: number;
  pus: number;
  enforcers: number;
  externalNetworks: number;
  runs: number;
  rules: number;
  parseMs: number;
  validateMs: number;
  compileMs: number;
  totalMs: number;
  peakRssMb: number;
  /** compile µs per rule emitted. */
  usPerRule: number;
  /** (parse+validate) µs per policy + PU. */
  usPerInput: number;
  /** log(total_i/total_{i-1}) / log(size_i/size_{i-1}) against the previous size of the sweep (1 = linear). */
  slope: number | null;
  /** the same slope measured against rules emitted instead of the input size. */
  slopeRules: number | null;
}

/** measureOnce runs the whole pipeline for one spec in this process (what a child does). */
export function measureOnce(spec: ScaleSpec): ChildMeasure {
  const text = generateHcl(spec);
  const t0 = nowMs();
  const raw = evaluateHcl([{ name: 'bench.hcl', text }], { vars: {}, varFiles: [], env: {} });
  const t1 = nowMs();
  const v = validateConfig(raw);
  const t2 = nowMs();
  let errors = [...raw.diagnostics, ...v.diagnostics].filter((d) => d.severity === 'error').length;
  let rules = 0;
  let sets = 0;
  let t3 = t2;
  if (v.model && errors === 0) {
    const c = compile(v.model, { now: BENCH_NOW });
    t3 = nowMs();
    errors += c.diagnostics.filter((d) => d.severity === 'error').length;
    for (const r of c.rulesets) {
      sets += r.sets.length;
      for (const ch of r.chains) rules += ch.rules.length;
    }
  }
  return {
    spec,
    bytes: text.length,
    parseMs: t1 - t0,
    validateMs: t2 - t1,
    compileMs: t3 - t2,
    rules,
    sets,
    errors,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
  };
}

/** inChild measures one spec in a fresh node process running this file with `--child`. */
export function inChild(spec: ScaleSpec, timeoutMs = 600_000): ChildMeasure {
  const r = spawnSync(process.execPath, ['--max-old-space-size=16384', __filename, '--child', JSON.stringify(spec)], {
    encoding: 'utf8',
    timeout: timeoutMs,
    maxBuffer: 1 << 20,
  });
  if (r.status !== 0) throw new Error(`compile-scale child for ${JSON.stringify(spec)} failed (${r.status ?? r.signal}): ${(r.stderr || '').slice(0, 500)}`);
  return JSON.parse(r.stdout) as ChildMeasure;
}

export interface Sweep {
  sweep: ScaleRow['sweep'];
  specs: ScaleSpec[];
  size: (s: ScaleSpec) => number;
}

export function sweeps(quick: boolean): Sweep[] {
  const pol = quick ? [10, 100, 1000, 3000] : [10, 100, 1000, 10000, 100000];
  const pus = quick ? [10, 100, 1000] : [10, 100, 1000, 10000];
  return [
    {
      sweep: 'policies',
      specs: pol.map((p) => ({ enforcers: 10, pusPerEnforcer: 5, policies: p, externalNetworks: Math.min(500, Math.floor(p / 4)) })),
      size: (s) => s.policies,
    },
    {
      sweep: 'pus',
      specs: pus.map((n) => ({ enforcers: Math.max(1, n / 10), pusPerEnforcer: Math.min(10, n), policies: 100, externalNetworks: 25 })),
      size: (s) => s.enforcers * s.pusPerEnforcer,
    },
    { sweep: 'target', specs: [TARGET_SPEC], size: (s) => s.policies },
  ];
}

export const TARGET_SPEC: ScaleSpec = { enforcers: 100, pusPerEnforcer: 50, policies: 2000, externalNetworks: 500 };

const METHOD =
  'bench/generate.ts fleets; each measurement is a fresh child process (generate, evaluateHcl, validateConfig, compile), peak RSS from getrusage. ' +
  'Sweep "policies": 10 enforcers x 5 PUs, policies grow (external networks = min(500, policies/4)). Sweep "pus": 10 PUs per enforcer, 100 policies, 25 external networks. ' +
  'Generator selectivity: most policies are app to app (5 PUs each side), every 4th targets external networks (ext=eK), every 20th is broad (object = a third of all PUs); ' +
  'so rules emitted grow with the PUs each policy matches, not policies x all PUs. Sizes alternate run by run; medians per size. ' +
  'slope = log-log growth of total time against input size between neighbouring sizes (1.0 = linear); slope/rules = against rules emitted.';

export async function runCompileScale(
  opts: BenchOptions & { runs?: number; sweeps?: Sweep[]; measure?: (spec: ScaleSpec) => ChildMeasure },
): Promise<Result<ScaleRow>> {
  const measure = opts.measure ?? inChild;
  const result = newResult<ScaleRow>('compile-scale', 'Compile and validate at scale', opts, METHOD);
  const runs = opts.runs ?? (opts.quick ? 3 : 5);
  for (const sw of opts.sweeps ?? sweeps(opts.quick)) {
    const samples = sw.specs.map(() => [] as ChildMeasure[]);
    const failed = new Set<number>();
    for (let r = 0; r < runs; r++) {
      for (let i = 0; i < sw.specs.length; i++) {
        // A size that already took over 20 s once is not repeated: its median is that run.
        if (samples[i].length > 0 && samples[i][0].parseMs + samples[i][0].validateMs + samples[i][0].compileMs > 20_000) continue;
        if (failed.has(i)) continue;
        let m: ChildMeasure;
        try {
          m = measure(sw.specs[i]);
        } catch (e) {
          // A size that cannot finish in the child's time budget (10 min) is reported, not fatal.
          failed.add(i);
          result.notes.push(`${sw.sweep} ${JSON.stringify(sw.specs[i])}: not measured: ${(e as Error).message.slice(0, 200)}`);
          continue;
        }
        if (m.errors > 0) throw new Error(`generated configuration ${JSON.stringify(m.spec)} has ${m.errors} errors`);
        samples[i].push(m);
        opts.log(`compile ${sw.sweep} ${JSON.stringify(m.spec)}: parse ${m.parseMs.toFixed(0)} validate ${m.validateMs.toFixed(0)} compile ${m.compileMs.toFixed(0)} ms, ${m.rules} rules, ${m.peakRssMb.toFixed(0)} MB`);
      }
    }
    let prev: ScaleRow | undefined;
    for (let i = 0; i < sw.specs.length; i++) {
      const ms = samples[i];
      const s = sw.specs[i];
      if (ms.length === 0) continue;
      const med = (f: (m: ChildMeasure) => number) => median(ms.map(f));
      const total = med((m) => m.parseMs + m.validateMs + m.compileMs);
      const pus = s.enforcers * s.pusPerEnforcer;
      const row: ScaleRow = {
        sweep: sw.sweep,
        policies: s.policies,
        pus,
        enforcers: s.enforcers,
        externalNetworks: s.externalNetworks,
        runs: ms.length,
        rules: ms[0].rules,
        parseMs: round(med((m) => m.parseMs), 1),
        validateMs: round(med((m) => m.validateMs), 1),
        compileMs: round(med((m) => m.compileMs), 1),
        totalMs: round(total, 1),
        peakRssMb: round(med((m) => m.peakRssMb), 0),
        usPerRule: round((med((m) => m.compileMs) * 1000) / Math.max(1, ms[0].rules), 2),
        usPerInput: round((med((m) => m.parseMs + m.validateMs) * 1000) / (s.policies + pus), 1),
        slope: prev ? round(Math.log(total / prev.totalMs) / Math.log(sw.size(s) / (sw.sweep === 'pus' ? prev.pus : prev.policies)), 2) : null,
        slopeRules: prev && prev.rules > 0 ? round(Math.log(total / prev.totalMs) / Math.log(ms[0].rules / prev.rules), 2) : null,
      };
      result.rows.push(row);
      prev = row;
    }
  }
  const t = result.rows.find((r) => r.sweep === 'target');
  result.targets.push({
    what: 'compile of 100 enforcers x 50 PUs x 2,000 policies (+500 external networks)',
    measured: t ? round(t.compileMs / 1000, 2) : null,
    limit: '< 2 s',
    met: t ? t.compileMs < 2000 : null,
    note: t
      ? `compile ${(t.compileMs / 1000).toFixed(1)} s for ${t.rules.toLocaleString('en-US')} rules (${t.usPerRule} µs/rule); parse+validate ${((t.parseMs + t.validateMs) / 1000).toFixed(1)} s; peak RSS ${t.peakRssMb} MB`
      : 'not measured',
  });
  return result;
}

if (require.main === module) {
  const i = process.argv.indexOf('--child');
  if (i >= 0) {
    process.stdout.write(JSON.stringify(measureOnce(JSON.parse(process.argv[i + 1]) as ScaleSpec)));
  } else {
    const quick = !process.argv.includes('--full');
    runCompileScale({ quick, log: defaultLog })
      .then((r) => defaultLog(`wrote ${writeResult(r)}`))
      .catch((e) => {
        console.error(e);
        process.exitCode = 1;
      });
  }
}
