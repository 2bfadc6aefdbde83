/**
 * loadTypeScriptDir runs a TypeScript configuration (`DIR/main.ts`) with no build step and
 * returns the RawConfig its App synthesises.
 *
 * Steps: type-check main.ts against our public API (a type error is a configuration error, so
 * this is on by default), load it with jiti, take its default export (an App, or a function
 * returning one, possibly async), synthesise, then point positions at the user's own source.
 * Every failure, including an exception thrown by the user's program, becomes a Diagnostic at the
 * user's file and line; the loader itself never throws for the user's mistakes.
 *
 * "microseg" in the user's program must be the very module instance this loader uses, or an App
 * built by the program would fail `App.isApp` / `instanceof` here. jiti's `alias` maps
 * `microseg` to this package's entry (src/index.ts under ts-jest, dist/src/index.js when built),
 * which resolves the specifier in both layouts; `virtualModules` additionally pins the bare
 * specifier to the already-loaded module object, because under jest the loader's own modules
 * live in jest's registry, not in the Node require cache jiti would otherwise load a second copy
 * into.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { Diagnostic, SourcePos } from '../../diagnostics';
import { makeDiagnostic } from '../../diagnostics';
import { readInputFile } from '../read-file';
import type { RawConfig } from '../types';
import { runProgram, type SerializedError } from './program';
import { isLibraryFile, parseStack } from './callsite';
import { refinePositions, SourceIndex } from './source-positions';
import { typeCheck } from './typecheck';

/** Diagnostic codes of the TypeScript front end. */
export const TS_CODES = {
  typeError: 'MSEG4001',
  missingMain: 'MSEG4002',
  thrown: 'MSEG4003',
  notAnApp: 'MSEG4004',
  otherCopy: 'MSEG4005',
  /** The program called process.exit (or its worker ended with a non-zero code) before exporting an App. */
  exited: 'MSEG0030',
  /** The program did not finish within the time limit (MICROSEG_TS_TIMEOUT). */
  timedOut: 'MSEG0031',
  /** The program's event loop drained with the default export never settled. */
  neverSettled: 'MSEG0032',
  invalidValue: 'MSEG4101',
} as const;

export interface LoadTypeScriptOptions {
  /**
   * Type-check main.ts before running it (default true). Turning it off saves about a second
   * per load for callers that have already checked, e.g. an editor.
   */
  typeCheck?: boolean;
  /** How long the program may run (default: MICROSEG_TS_TIMEOUT, else 60 s). */
  timeoutMs?: number;
}

/** ENTRY is the file `microseg` resolves to: src/index.ts (ts-jest) or dist/src/index.js (built). */
export function packageEntry(): { runtime: string; types: string } {
  const ext = path.extname(__filename) === '.ts' ? '.ts' : '.js';
  const runtime = path.resolve(__dirname, '..', '..', `index${ext}`);
  const dts = path.resolve(__dirname, '..', '..', 'index.d.ts');
  return { runtime, types: ext === '.ts' || !fs.existsSync(dts) ? runtime : dts };
}

/** loadTypeScriptDir loads `dir/main.ts`; see the module comment. */
export async function loadTypeScriptDir(dir: string, opts: LoadTypeScriptOptions = {}): Promise<RawConfig> {
  const absDir = path.resolve(dir);
  const mainAbs = path.join(absDir, 'main.ts');
  const mainName = path.join(dir, 'main.ts');
  const isUserFile = (abs: string): boolean => !isLibraryFile(abs) && !isOurs(abs);
  // Files under the directory are named as the HCL front end names them (dir joined with the
  // relative path), so diagnostics read the same whichever language the user chose.
  const absOf = new Map<string, string>();
  const displayName = (abs: string): string => {
    const rel = path.relative(absDir, abs);
    const name = rel.startsWith('..') || path.isAbsolute(rel) ? abs : path.join(dir, rel);
    absOf.set(name, abs);
    return name;
  };
  const readReported = (ds: readonly Diagnostic[]): void => {
    for (const d of ds) {
      const abs = d.file === undefined ? undefined : absOf.get(d.file);
      if (abs) readSource(abs);
    }
  };
  const cfg: RawConfig = { resources: [], outputs: {}, sources: new Map(), diagnostics: [] };
  const readSource = (abs: string): string | undefined => {
    const name = displayName(abs);
    if (!cfg.sources.has(name)) {
      // Only regular files of bounded size (src/config/read-file.ts): this shows source lines.
      const r = readInputFile(abs, { what: 'source file', readErrorCode: TS_CODES.missingMain, splitHint: '', notRegularHint: '' });
      if (!('text' in r)) return undefined;
      cfg.sources.set(name, r.text);
    }
    return cfg.sources.get(name);
  };

  if (readSource(mainAbs) === undefined) {
    cfg.diagnostics.push(
      makeDiagnostic(
        'error',
        TS_CODES.missingMain,
        `Cannot read "${mainName}"`,
        'A TypeScript configuration is a main.ts whose default export is a microseg App (or a function returning one).',
      ),
    );
    return cfg;
  }

  const entry = packageEntry();
  if (opts.typeCheck !== false) {
    const errors = typeCheck({ mainFile: mainAbs, apiTypes: entry.types, isUserFile, displayName });
    readReported(errors);
    cfg.diagnostics.push(...errors);
    // Running a program that does not compile would only add confusing follow-on errors.
    if (errors.some((d) => d.severity === 'error')) return cfg;
  }

  // The program runs isolated (program.ts): an exit, a hang, a throw or anything but an App is
  // a diagnostic at the file, never the end of microseg.
  const outcome = await runProgram({ mainAbs, runtime: entry.runtime }, opts.timeoutMs);
  const atMain = { file: mainName, line: 1, column: 1 };
  switch (outcome.kind) {
    case 'thrown':
      cfg.diagnostics.push(thrownDiagnostic(outcome.error, mainAbs, displayName, isUserFile, absDir));
      readReported(cfg.diagnostics);
      return cfg;
    case 'other-copy':
      cfg.diagnostics.push(
        makeDiagnostic(
          'error',
          TS_CODES.otherCopy,
          `The App exported by "${mainName}" comes from another copy of microseg`,
          `Import the API as \`import { App } from "microseg"\`, not by file path, so the program and microseg share one copy (this one is ${entry.runtime}).`,
          atMain,
        ),
      );
      return cfg;
    case 'not-an-app':
      cfg.diagnostics.push(
        makeDiagnostic(
          'error',
          TS_CODES.notAnApp,
          `The default export of "${mainName}" is not a microseg App`,
          `It is ${outcome.description}. Write \`export default app\` (an \`new App()\` from "microseg") or a function that returns the App.`,
          atMain,
        ),
      );
      return cfg;
    case 'exit': {
      const pos = userFrame(outcome.stack, displayName, isUserFile, absDir, 1) ?? atMain;
      cfg.diagnostics.push(
        makeDiagnostic(
          'error',
          TS_CODES.exited,
          `"${mainName}" ended the process (exit code ${outcome.code}) instead of exporting an App`,
          'A TypeScript configuration must not call process.exit: microseg runs it and needs its App back. Throw an Error to report a problem; it becomes a diagnostic at its line.',
          pos,
        ),
      );
      readReported(cfg.diagnostics);
      return cfg;
    }
    case 'timeout':
      cfg.diagnostics.push(
        makeDiagnostic(
          'error',
          TS_CODES.timedOut,
          `"${mainName}" did not produce an App within ${outcome.ms / 1000} s`,
          'The program was stopped. It loops, or waits for something that never comes (a promise that never settles, a timer, a socket). ' +
            'If it is only slow, raise the limit with MICROSEG_TS_TIMEOUT (e.g. MICROSEG_TS_TIMEOUT=120s).',
          atMain,
        ),
      );
      return cfg;
    case 'no-result':
      cfg.diagnostics.push(
        makeDiagnostic(
          'error',
          TS_CODES.neverSettled,
          `"${mainName}" finished without producing an App`,
          'Its default export (or the promise the exported function returned) never settled, and nothing else was left to run. Resolve the promise with the App, or export the App directly.',
          atMain,
        ),
      );
      return cfg;
    case 'synth':
      break;
  }
  const synth = outcome;

  const index = new SourceIndex((file) => readSource(file));
  const rename = (p: SourcePos): SourcePos => ({ ...p, file: displayName(path.resolve(p.file)) });
  for (const res of synth.resources) {
    refinePositions(res, index);
    res.pos = rename(res.pos);
    for (const k of Object.keys(res.positions)) res.positions[k] = rename(res.positions[k]);
  }
  for (const d of synth.diagnostics) if (d.file) d.file = displayName(path.resolve(d.file));
  cfg.resources = synth.resources;
  cfg.outputs = synth.outputs;
  if (synth.settings) cfg.settings = synth.settings.backend.pos ? { backend: { ...synth.settings.backend, pos: rename(synth.settings.backend.pos) } } : synth.settings;
  cfg.diagnostics.push(...synth.diagnostics);
  return cfg;
}

/** The package's own source or build directory (src/ or dist/src/): never the user's code. */
function isOurs(abs: string): boolean {
  const root = path.resolve(__dirname, '..', '..');
  return abs === root || abs.startsWith(root + path.sep);
}

/**
 * thrownDiagnostic reports an exception from the user's program at the innermost frame in the
 * user's directory (else any user frame, else main.ts itself). A syntax error from jiti's
 * transpiler carries its location in `loc` instead of the stack.
 */
function thrownDiagnostic(
  e: SerializedError,
  mainAbs: string,
  displayName: (abs: string) => string,
  isUserFile: (abs: string) => boolean,
  absDir: string,
): Diagnostic {
  const message = e.message;
  const name = e.name;
  let pos: SourcePos | undefined;
  if (e.loc && typeof e.loc.line === 'number') {
    pos = { file: displayName(mainAbs), line: e.loc.line, column: (e.loc.column ?? 0) + 1 };
  } else {
    pos = userFrame(e.stack, displayName, isUserFile, absDir, 0);
  }
  const summary = `${name}: ${message.split('\n')[0]}`;
  const detail = [
    ...message.split('\n').slice(1),
    'Raised while running the TypeScript configuration; it produced no resources.',
  ].join('\n');
  return makeDiagnostic('error', TS_CODES.thrown, summary, detail, pos ?? { file: displayName(mainAbs), line: 1, column: 1 });
}

/** userFrame is the innermost stack frame in the user's directory (else any user frame), skipping `skip` frames of our own. */
function userFrame(
  stack: string | undefined,
  displayName: (abs: string) => string,
  isUserFile: (abs: string) => boolean,
  absDir: string,
  skip: number,
): SourcePos | undefined {
  const frames = parseStack(stack).slice(skip).filter((f) => isUserFile(path.resolve(f.file)));
  const frame = frames.find((f) => path.resolve(f.file).startsWith(absDir + path.sep)) ?? frames[0];
  return frame ? { file: displayName(path.resolve(frame.file)), line: frame.line, column: frame.column } : undefined;
}
