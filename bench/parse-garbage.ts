/**
 * Item 6 — error recovery on garbage: time to read, evaluate, validate and render the diagnostics
 * of a file that is not HCL at all, at 4,000 / 16,000 / 64,000 lines (and 256,000 with --full),
 * side by side in one run.
 *
 * This is the path `microseg validate` takes over a wrong file (a binary, a log, a corrupted
 * merge), minus process start-up: evaluateHcl, validateConfig, and the human rendering of every
 * diagnostic into a buffer. It was quadratic (4k lines 1.7 s, 16k lines 12 s, 5 MB 473 s and
 * 38 MB of output), mostly because each printed diagnostic split the whole file into lines again.
 * Growth is judged by the log-log slope between neighbouring sizes (1.0 = linear, 2.0 =
 * quadratic), which cancels the machine's speed; output size should not grow at all, since each
 * file shows at most 50 diagnostics and a count.
 *
 * Three kinds of garbage, because each stresses different recovery: random bytes (invalid
 * characters), token soup (brackets, quotes, heredoc and template openers in random order, so
 * recovery must skip nested structure) and a valid configuration with 30% of its attribute lines cut short.
 *
 * Usage: node dist/bench/parse-garbage.js [--full]
 */
import { BufferIo } from '../src/cli/io';
import { renderDiagnosticsHuman } from '../src/cli/views/diagnostics';
import { evaluateHcl } from '../src/config/hcl';
import { countOf } from '../src/diagnostics';
import { validateConfig } from '../src/model/validate';
import { generateHcl } from './generate';
import { defaultLog, linearGrowthTarget, logSlope, median, newResult, nowMs, round, writeResult, type BenchOptions, type Result } from './util';

export type GarbageKind = 'bytes' | 'tokens' | 'truncated';

export interface GarbageRow {
  kind: GarbageKind;
  lines: number;
  bytes: number;
  runs: number;
  /** Median ms of evaluate + validate + render. */
  ms: number;
  usPerLine: number;
  /** log-log growth of ms against lines from the previous size of this kind (1 = linear). */
  slope: number | null;
  /** Diagnostics counted (shown or not) and bytes of rendered output. */
  diagnostics: number;
  outputBytes: number;
}

/** rng is a small deterministic generator (the same garbage every run). */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

const SOUP = ['{', '}', '[', ']', '(', ')', '"', '"${', '}"', '%{if x}', '<<EOT\n', 'EOT\n', '=', ',', '.', '*', 'a', 'b1', '42', '#', '//', '/*', '*/', '\\', '$', '?', ':', '=>', ' ', ' ', 'for', 'in', '...'];

/** garbage returns `lines` lines of the given kind. */
export function garbage(kind: GarbageKind, lines: number, seed = 42): string {
  const r = rng(seed);
  const out: string[] = [];
  if (kind === 'bytes') {
    for (let l = 0; l < lines; l++) {
      let s = '';
      for (let i = 0; i < 40; i++) {
        const c = Math.floor(r() * 256);
        s += String.fromCharCode(c === 10 ? 32 : c);
      }
      out.push(s);
    }
  } else if (kind === 'tokens') {
    for (let l = 0; l < lines; l++) {
      let s = '';
      for (let i = 0; i < 12; i++) s += SOUP[Math.floor(r() * SOUP.length)];
      out.push(s.replace(/\n/g, ' '));
    }
  } else {
    const valid = generateHcl({ enforcers: 10, pusPerEnforcer: 5, policies: 200, externalNetworks: 20 }).split('\n');
    for (let l = 0; l < lines; l++) {
      const line = valid[l % valid.length];
      // Attribute lines only: cutting a lone "}" would leave one block open to the end of the
      // file, and everything after it would parse as (valid) nested blocks.
      out.push(line.includes('=') && r() < 0.3 ? line.slice(0, Math.floor(r() * line.length)) : line);
    }
  }
  return out.join('\n');
}

/** measureOnce runs the validate path over one text and returns ms, diagnostics and output size. */
export function measureOnce(text: string): { ms: number; diagnostics: number; outputBytes: number } {
  const t0 = nowMs();
  const raw = evaluateHcl([{ name: 'garbage.hcl', text }], {});
  const v = validateConfig(raw);
  const all = [...raw.diagnostics, ...v.diagnostics];
  const io = new BufferIo();
  renderDiagnosticsHuman(io, all, raw.sources);
  const ms = nowMs() - t0;
  const c = countOf(all);
  return { ms, diagnostics: c.errors + c.warnings, outputBytes: Buffer.byteLength(io.stderr) };
}

const METHOD =
  'bench/parse-garbage.ts: one garbage file per kind and size (deterministic), run in this process through evaluateHcl, validateConfig and the human diagnostics rendering into a buffer (what `microseg validate` does after reading the file). ' +
  'Every sample covers as many lines as the largest size (a smaller file is run that many times and the mean taken), after one warm-up pass; sizes alternate run by run (smallest to largest, then largest to smallest); medians per size. slope = log(ms_i/ms_{i-1}) / log(lines_i/lines_{i-1}) between neighbouring sizes of a kind: 1.0 is linear, 2.0 quadratic.';

export async function runParseGarbage(opts: BenchOptions & { runs?: number; sizes?: number[]; kinds?: GarbageKind[] }): Promise<Result<GarbageRow>> {
  const result = newResult<GarbageRow>('parse-garbage', 'Error recovery on garbage input', opts, METHOD);
  const sizes = opts.sizes ?? (opts.quick ? [4000, 16000, 64000] : [4000, 16000, 64000, 256000]);
  const runs = opts.runs ?? (opts.quick ? 3 : 5);
  for (const kind of opts.kinds ?? (['bytes', 'tokens', 'truncated'] as GarbageKind[])) {
    const texts = sizes.map((n) => garbage(kind, n));
    const samples = sizes.map(() => [] as ReturnType<typeof measureOnce>[]);
    // Every sample covers as many lines as the largest size (the 4k file 16 times when the
    // largest is 64k), so small sizes are not lost in timer and scheduler noise; one warm-up
    // pass first, so the first size does not pay for the JIT.
    const largest = Math.max(...sizes);
    for (const t of texts) measureOnce(t);
    for (let r = 0; r < runs; r++) {
      const order = sizes.map((_, i) => i);
      if (r % 2 === 1) order.reverse();
      for (const i of order) {
        const reps = Math.max(1, Math.round(largest / sizes[i]));
        let m = measureOnce(texts[i]);
        let total = m.ms;
        for (let k = 1; k < reps; k++) {
          m = measureOnce(texts[i]);
          total += m.ms;
        }
        m = { ...m, ms: total / reps };
        samples[i].push(m);
        opts.log(`garbage ${kind} ${sizes[i]} lines: ${m.ms.toFixed(1)} ms (mean of ${reps}), ${m.diagnostics} diagnostics, ${m.outputBytes} bytes out`);
      }
    }
    let prev: GarbageRow | undefined;
    sizes.forEach((lines, i) => {
      const ms = median(samples[i].map((m) => m.ms));
      const row: GarbageRow = {
        kind,
        lines,
        bytes: Buffer.byteLength(texts[i]),
        runs: samples[i].length,
        ms: round(ms, 1),
        usPerLine: round((ms * 1000) / lines, 2),
        slope: prev ? logSlope(prev.lines, prev.ms, lines, ms) : null,
        diagnostics: samples[i][0].diagnostics,
        outputBytes: samples[i][0].outputBytes,
      };
      result.rows.push(row);
      prev = row;
    });
  }
  result.targets.push(linearGrowthTarget('time grows linearly with garbage size (largest log-log slope between neighbouring sizes)', result.rows, (r) => `${r.kind} ${r.lines / 1000}k`, 'slopes per step: '));
  const maxOut = Math.max(...result.rows.map((r) => r.outputBytes));
  result.targets.push({
    what: 'rendered output stays bounded (50 diagnostics per file and a count)',
    measured: maxOut,
    limit: '≤ 64 KiB whatever the size',
    met: maxOut <= 64 * 1024,
    note: `largest output ${maxOut} bytes for up to ${Math.max(...result.rows.map((r) => r.diagnostics)).toLocaleString('en-US')} diagnostics`,
  });
  return result;
}

if (require.main === module) {
  const quick = !process.argv.includes('--full');
  runParseGarbage({ quick, log: defaultLog })
    .then((r) => {
      defaultLog(`wrote ${writeResult(r)}`);
      for (const t of r.targets) defaultLog(`${t.met ? 'MET' : 'NOT MET'} ${t.what}: ${t.measured} (${t.limit})`);
    })
    .catch((e) => {
      console.error(e);
      process.exitCode = 1;
    });
}
