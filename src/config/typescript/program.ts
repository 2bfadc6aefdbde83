/**
 * runProgram runs a user's main.ts in a worker thread and returns what it synthesised, as data.
 *
 * The user's program is arbitrary code. Run in microseg's own thread, `process.exit(0)` ended
 * `validate` or `plan --detailed-exitcode` with exit 0 and no output (a plan also left its lock),
 * a default export that never settled let the event loop drain into the same silent exit 0, and
 * `while (true) {}` hung forever. In a worker: `process.exit` ends only the worker (Node's
 * documented behaviour for workers), a drained event loop ends it without a result, and a timeout
 * terminates it even in a busy loop (V8 TerminateExecution). Every one of these, and a throw or
 * an export that is not an App, comes back as a ProgramOutcome the loader turns into a
 * diagnostic at the file. The App is synthesised inside the worker; only its RawConfig (plain
 * data: resources, outputs, diagnostics) crosses back by structured clone.
 *
 * The worker's stdout is forwarded to stderr: a program's console.log must not corrupt a
 * `--json` document on stdout.
 */
import * as path from 'path';
import { Worker } from 'worker_threads';
import type { Diagnostic } from '../../diagnostics';
import type { RawConfig, RawResource, Value } from '../types';

/** DEFAULT_PROGRAM_TIMEOUT_MS bounds a TypeScript configuration's run (MICROSEG_TS_TIMEOUT overrides). */
export const DEFAULT_PROGRAM_TIMEOUT_MS = 60_000;

/** SerializedError is a thrown value as it crosses from the worker. */
export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  loc?: { line?: number; column?: number };
}

/** ProgramOutcome is how a run of the user's program ended. */
export type ProgramOutcome =
  | { kind: 'synth'; resources: RawResource[]; outputs: { [name: string]: Value }; diagnostics: Diagnostic[]; settings?: RawConfig['settings'] }
  | { kind: 'thrown'; error: SerializedError }
  | { kind: 'not-an-app'; description: string }
  | { kind: 'other-copy' }
  | { kind: 'exit'; code: number; stack?: string }
  | { kind: 'timeout'; ms: number }
  | { kind: 'no-result'; code: number };

export interface ProgramInput {
  mainAbs: string;
  /** The module "microseg" resolves to (src/index.ts under ts-jest, dist/src/index.js built). */
  runtime: string;
}

/**
 * programTimeoutMs reads MICROSEG_TS_TIMEOUT (milliseconds, or a number with s/ms), else the default.
 * An unreadable value falls back to the default rather than to no limit.
 */
export function programTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.MICROSEG_TS_TIMEOUT?.trim();
  const m = raw ? /^(\d+(?:\.\d+)?)\s*(ms|s)?$/.exec(raw) : null;
  if (!m) return DEFAULT_PROGRAM_TIMEOUT_MS;
  const n = Number(m[1]) * (m[2] === 's' ? 1000 : 1);
  return n > 0 ? n : DEFAULT_PROGRAM_TIMEOUT_MS;
}

/** runProgram runs `input.mainAbs` in a worker; see the module comment. Never rejects for the program's sake. */
export function runProgram(input: ProgramInput, timeoutMs: number = programTimeoutMs()): Promise<ProgramOutcome> {
  const ext = path.extname(__filename);
  const workerModule = path.join(__dirname, `program-worker${ext}`);
  // The worker entry must be JavaScript: built, it is program-worker.js; from source (ts-jest),
  // jiti transpiles program-worker.ts and everything it imports.
  const bootstrap = `
    const { workerData } = require('worker_threads');
    const load = workerData.workerModule.endsWith('.ts')
      ? require(workerData.jiti).createJiti(workerData.workerModule, { moduleCache: true, fsCache: false })
      : require;
    load(workerData.workerModule).runInWorker(workerData.input);
  `;
  return new Promise((resolve) => {
    let settled = false;
    let outcome: ProgramOutcome | undefined;
    let exitStack: string | undefined;
    const worker = new Worker(bootstrap, {
      eval: true,
      workerData: { workerModule, jiti: require.resolve('jiti'), input },
      stdout: true,
      env: process.env,
    });
    worker.stdout.on('data', (d: Buffer) => process.stderr.write(d));
    const done = (o: ProgramOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(o);
    };
    const timer = setTimeout(() => {
      void worker.terminate();
      done({ kind: 'timeout', ms: timeoutMs });
    }, timeoutMs);
    worker.on('message', (m: ProgramOutcome | { kind: 'exiting'; stack?: string }) => {
      if (m.kind === 'exiting') exitStack = m.stack;
      else outcome = m;
    });
    worker.on('error', (e) => {
      const err = e as Partial<SerializedError>;
      done({ kind: 'thrown', error: { name: String(err.name ?? 'Error'), message: String(err.message ?? e), stack: typeof err.stack === 'string' ? err.stack : undefined } });
    });
    worker.on('exit', (code) => {
      if (outcome) return done(outcome);
      if (exitStack !== undefined || code !== 0) return done({ kind: 'exit', code, stack: exitStack });
      done({ kind: 'no-result', code });
    });
  });
}
