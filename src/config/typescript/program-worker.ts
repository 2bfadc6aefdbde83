/**
 * The worker side of runProgram (program.ts): load the user's main.ts with jiti, take its
 * default export (an App, or a function returning one, possibly async), synthesise it here and
 * post the RawConfig back as data. Runs only inside a worker thread.
 *
 * "microseg" in the user's program must be the very module instance this worker's App checks
 * against: jiti's `alias` maps it to this package's entry and `virtualModules` pins the bare
 * specifier to the module object already loaded here.
 */
import { parentPort } from 'worker_threads';
import { createJiti } from 'jiti';
import * as api from '../../index';
import { App } from './app';
import type { ProgramInput, ProgramOutcome, SerializedError } from './program';

/** runInWorker runs the program and posts exactly one ProgramOutcome (or an `exiting` note). */
export async function runInWorker(input: ProgramInput): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error('runInWorker runs only in a worker thread');
  // process.exit in a worker ends only the worker; say where it was called from first, so the
  // diagnostic can point at the line.
  const realExit = process.exit.bind(process);
  process.exit = ((code?: number | string | null) => {
    port.postMessage({ kind: 'exiting', stack: new Error('process.exit').stack });
    return realExit(code as number | undefined);
  }) as typeof process.exit;
  port.postMessage(await outcomeOf(input));
}

async function outcomeOf(input: ProgramInput): Promise<ProgramOutcome> {
  let app: unknown;
  try {
    const jiti = createJiti(input.mainAbs, {
      alias: { microseg: input.runtime },
      virtualModules: { microseg: api },
      // Write no cache files into the user's tree.
      moduleCache: false,
      fsCache: false,
      interopDefault: true,
    });
    const mod = await jiti.import<Record<string, unknown>>(input.mainAbs);
    let exported: unknown = mod && typeof mod === 'object' && 'default' in mod ? mod.default : mod;
    if (typeof exported === 'function') exported = await (exported as () => unknown)();
    app = exported;
  } catch (e) {
    return { kind: 'thrown', error: serializeError(e) };
  }
  // Another copy of the package (imported by path): its resources would not be recognised.
  if (App.isApp(app) && !(app instanceof App)) return { kind: 'other-copy' };
  if (!(app instanceof App)) return { kind: 'not-an-app', description: describe(app) };
  try {
    const synth = app.synth();
    return { kind: 'synth', resources: synth.resources, outputs: synth.outputs, diagnostics: synth.diagnostics, ...(synth.settings ? { settings: synth.settings } : {}) };
  } catch (e) {
    return { kind: 'thrown', error: serializeError(e) };
  }
}

function serializeError(e: unknown): SerializedError {
  const err = e as { message?: unknown; stack?: unknown; loc?: { line?: unknown; column?: unknown }; name?: unknown };
  const out: SerializedError = {
    name: typeof err?.name === 'string' ? err.name : 'Error',
    message: typeof err?.message === 'string' ? err.message : String(e),
  };
  if (typeof err?.stack === 'string') out.stack = err.stack;
  if (err?.loc && typeof err.loc.line === 'number') out.loc = { line: err.loc.line, column: typeof err.loc.column === 'number' ? err.loc.column : 0 };
  return out;
}

function describe(v: unknown): string {
  if (v === undefined) return 'undefined (is there an `export default`?)';
  if (v === null) return 'null';
  if (typeof v === 'object') return `an object with keys ${JSON.stringify(Object.keys(v as object).slice(0, 5))}`;
  return `a ${typeof v}`;
}
