/**
 * Type checking of a user's TypeScript configuration before it runs.
 *
 * jiti only strips types, so without this step `action: "alow"` or a missing `enforcer` would run
 * and surface later as a vaguer validation error, or not at all. A type error in a configuration
 * is an error in that configuration, so the loader checks by default, with the strict options
 * below and `microseg` resolved to this package's own declarations (the same module the loader
 * hands the program at run time).
 *
 * Speed: only the user's files, lib.es2022 and our small public API are in the program (about
 * half a second cold). @types/node alone would triple that, so it is added only when the first
 * pass shows the program needs it (`process`, `require`, `import "fs"`): the user's own copy when
 * their directory resolves one, else microseg's. Library source files are cached for the life of the process, so a second check
 * (tests, a watch loop) re-parses only the user's files.
 */
import * as fs from 'fs';
import { builtinModules } from 'module';
import * as path from 'path';
import * as ts from 'typescript';
import type { Diagnostic } from '../../diagnostics';
import { makeDiagnostic } from '../../diagnostics';

/** Diagnostic code of a TypeScript compile error in the user's configuration. */
export const TYPE_ERROR_CODE = 'MSEG4001';

/** Parsed library files (lib.*.d.ts, our API, @types/node), shared by every check in this process. */
const libraryCache = new Map<string, ts.SourceFile>();

export interface TypeCheckInput {
  /** Absolute path of main.ts. */
  mainFile: string;
  /** Absolute path of the module `microseg` resolves to (a .ts source or a .d.ts declaration). */
  apiTypes: string;
  /** Whether a file is the user's (its diagnostics are reported) rather than a library's. */
  isUserFile: (absFile: string) => boolean;
  /** The file name to put in diagnostics for an absolute path. */
  displayName: (absFile: string) => string;
}

/** typeCheck returns the syntax and type errors of the user's files, positioned at file:line:column. */
export function typeCheck(input: TypeCheckInput): Diagnostic[] {
  const first = check(input, [input.mainFile]);
  if (!first.some(needsNodeTypes)) return first.map((d) => toDiagnostic(d, input.displayName));
  const nodeTypes = resolveNodeTypes(path.dirname(input.mainFile));
  const final = nodeTypes ? check(input, [input.mainFile, nodeTypes]) : first;
  return final.map((d) => toDiagnostic(d, input.displayName));
}

/** TS2580/TS2591: "Cannot find name 'process'. Do you need to install type definitions for node?" */
const NODE_NAME_CODES = new Set([2580, 2591]);
const BUILTIN_MODULES = new Set(builtinModules);

/** needsNodeTypes recognises errors that only mean "this program uses Node's API". */
function needsNodeTypes(d: ts.Diagnostic): boolean {
  if (NODE_NAME_CODES.has(d.code)) return true;
  if (d.code !== 2307 || !d.file || d.start === undefined) return false;
  const m = /^["'](.*)["']$/.exec(d.file.text.slice(d.start, d.start + (d.length ?? 0)));
  return m !== null && (m[1].startsWith('node:') || BUILTIN_MODULES.has(m[1]));
}

function check(input: TypeCheckInput, rootNames: string[]): ts.Diagnostic[] {
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    lib: ['lib.es2022.d.ts'],
    module: ts.ModuleKind.CommonJS,
    moduleResolution: ts.ModuleResolutionKind.Node10,
    esModuleInterop: true,
    resolveJsonModule: true,
    skipLibCheck: true,
    types: [],
    paths: { microseg: [input.apiTypes] },
  };

  const host = ts.createCompilerHost(options, true);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (fileName, languageVersion, onError, shouldCreate) => {
    const abs = path.resolve(fileName);
    if (input.isUserFile(abs)) return getSourceFile(fileName, languageVersion, onError, shouldCreate);
    const key = `${abs}\0${JSON.stringify(languageVersion)}`;
    let sf = libraryCache.get(key);
    if (!sf) {
      sf = getSourceFile(fileName, languageVersion, onError, shouldCreate);
      if (sf) libraryCache.set(key, sf);
    }
    return sf;
  };

  const program = ts.createProgram({ rootNames, options, host });
  const out: ts.Diagnostic[] = [];
  for (const sf of program.getSourceFiles()) {
    if (!input.isUserFile(path.resolve(sf.fileName))) continue;
    out.push(...program.getSyntacticDiagnostics(sf), ...program.getSemanticDiagnostics(sf));
  }
  return out;
}

function toDiagnostic(d: ts.Diagnostic, displayName: (abs: string) => string): Diagnostic {
  const text = ts.flattenDiagnosticMessageText(d.messageText, '\n');
  const [first, ...rest] = text.split('\n');
  const detail = [...rest.map((l) => l.trim()), `TypeScript error TS${d.code}.`].join('\n');
  const severity = d.category === ts.DiagnosticCategory.Warning ? 'warning' : 'error';
  if (!d.file || d.start === undefined) return makeDiagnostic(severity, TYPE_ERROR_CODE, first, detail);
  const lc = d.file.getLineAndCharacterOfPosition(d.start);
  return makeDiagnostic(severity, TYPE_ERROR_CODE, first, detail, {
    file: displayName(path.resolve(d.file.fileName)),
    line: lc.line + 1,
    column: lc.character + 1,
  });
}

/**
 * resolveNodeTypes finds @types/node from the user's directory upwards (the version they chose),
 * else microseg's own (a dependency for this reason): the MSEG0004 hint tells users to read inputs
 * from process.env, which must type-check in a directory that has no node_modules at all.
 */
function resolveNodeTypes(fromDir: string): string | undefined {
  for (let dir = fromDir; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'node_modules', '@types', 'node', 'index.d.ts');
    if (fs.existsSync(candidate)) return candidate;
    if (path.dirname(dir) === dir) break;
  }
  try {
    return require.resolve('@types/node/index.d.ts');
  } catch {
    return undefined;
  }
}
