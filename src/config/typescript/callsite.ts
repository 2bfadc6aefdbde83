/**
 * Where in the user's program a resource was declared.
 *
 * A TypeScript configuration has no parser of ours to record positions, so each resource
 * captures a stack trace when it is constructed and keeps the first frame that is not microseg
 * or a library: the user's `new ProcessingUnit(...)` line. Validation then reports problems there,
 * exactly as it does for an HCL block.
 *
 * The stack is read as text (`new Error().stack`) rather than as V8 CallSite objects on purpose:
 * the text is what the runtime's source-map support rewrites (jest's, Node's
 * `--enable-source-maps`), so positions follow the user's original lines whenever the runtime can.
 * jiti (the loader's transpiler) keeps line numbers of the original file, so no map is needed
 * there; columns can shift when type annotations are stripped, which the loader corrects.
 *
 * This module deliberately uses no Node APIs: it is part of the public API graph that user
 * programs are type-checked against, which does not include @types/node.
 */
import type { SourcePos } from '../../diagnostics';

/** StackFrame is one parsed `at ...` line of a V8 stack trace. */
export interface StackFrame {
  file: string;
  line: number;
  column: number;
}

/**
 * The directory of this module, normalised to `/` separators; frames under it are ours. It is
 * read from the module's own stack frame rather than `__filename`, which would need @types/node.
 */
const OUR_DIR = dirnameOf(toPosix(parseStack(new Error().stack)[0]?.file ?? ''));

/**
 * parseStack extracts file:line:column frames from a V8 stack trace text. Lines without a
 * location (`at new Promise (<anonymous>)`, `native`) are skipped. `file://` URLs become paths.
 */
export function parseStack(stack: string | undefined): StackFrame[] {
  const frames: StackFrame[] = [];
  if (!stack) return frames;
  for (const raw of stack.split('\n')) {
    const line = raw.trim();
    if (!line.startsWith('at ')) continue;
    // `at fn (file:1:2)` or `at file:1:2`; the location is always the last `:L:C` of the line.
    const m = /\(?([^()]*?):(\d+):(\d+)\)?$/.exec(line.slice(3));
    if (!m) continue;
    let file = m[1].trim();
    if (file.startsWith('async ')) file = file.slice(6);
    if (file.startsWith('file://')) file = decodeURIComponent(file.slice('file://'.length));
    if (file === '' || file.startsWith('node:') || file === '<anonymous>' || file.startsWith('internal/')) continue;
    frames.push({ file, line: Number(m[2]), column: Number(m[3]) });
  }
  return frames;
}

/**
 * isLibraryFile says whether a frame belongs to microseg's TypeScript front end or a dependency
 * rather than to the user's program.
 */
export function isLibraryFile(file: string): boolean {
  const f = toPosix(file);
  if (f.startsWith('internal/') || f.startsWith('node:')) return true;
  if (OUR_DIR !== '' && f.startsWith(OUR_DIR + '/')) return true;
  return f.includes('/node_modules/');
}

/**
 * captureUserPos returns the position of the innermost stack frame in user code, or undefined
 * when every frame is ours (e.g. a resource built by microseg itself).
 */
export function captureUserPos(): SourcePos | undefined {
  const ctor = Error as unknown as { stackTraceLimit?: number };
  const saved = ctor.stackTraceLimit;
  // Users may wrap resources in their own constructs and helpers; look deep enough to get out.
  ctor.stackTraceLimit = 64;
  let stack: string | undefined;
  try {
    stack = new Error().stack;
  } finally {
    ctor.stackTraceLimit = saved;
  }
  const frame = parseStack(stack).find((f) => !isLibraryFile(f.file));
  return frame ? { file: frame.file, line: frame.line, column: frame.column } : undefined;
}

function toPosix(p: string): string {
  return p.replace(/\\/g, '/');
}

function dirnameOf(p: string): string {
  const i = p.lastIndexOf('/');
  return i <= 0 ? '' : p.slice(0, i);
}
