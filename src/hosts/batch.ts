/**
 * Batches: several commands in ONE transport round trip (Host.runMany), and runAll, the helper
 * callers use so that a Host without runMany (fakes, test doubles, wrappers) still works.
 *
 * Why: on a netns host every `run` is a Node spawn plus `ip netns exec` (which also unshares a
 * mount namespace and remounts /sys); over ssh it is a whole session. A provider's read runs 2–3
 * listings back to back, so most of its cost was transport, not the tools.
 *
 * How: the transport runs `sh -c SCRIPT` where SCRIPT runs each command in order, each followed
 * by a marker line on stdout carrying its exit status and a marker line on stderr:
 *
 *     'nft' '-j' 'list' 'chains' </dev/null; printf '\n%s %d\n' MARK $?; printf '\n%s\n' MARK >&2
 *
 * MARK is a fresh random nonce per batch (crypto), so no tool output can contain it by accident
 * (and nothing microseg runs echoes attacker-chosen text near 128 random bits anyway). The
 * splitter cuts stdout and stderr at the markers and strips exactly the one '\n' each printf puts
 * before its marker, so a command's output comes back byte for byte: empty stays empty, output
 * without a trailing newline stays without one.
 *
 * Why this is still "no shell interpolation" (see types.ts): the script is built only from
 * fixed text, the nonce (hex digits) and argv elements passed through shellQuote, which single-
 * quotes EVERY element. Inside single quotes a POSIX shell interprets nothing — `$(...)`,
 * backticks, `;`, `*`, spaces, newlines are literal — and a `'` inside is written `'\''`. So each
 * argv element reaches the command as exactly one argument, as with an argv spawn; a value from
 * configuration cannot become shell syntax. An element holding NUL cannot be passed and is
 * refused. Commands read /dev/null on stdin (runMany takes no stdin).
 */
import { randomBytes } from 'crypto';
import { DEFAULT_TIMEOUT_MS, HostCommandError, type RunOptions } from './exec';
import type { CommandResult, Host, ScriptOptions } from './types';

/**
 * shellQuote returns `s` as one single-quoted POSIX shell word: `'…'` with each `'` written as
 * `'\''`. Every element is quoted, even plain words, so there is no "safe characters" list to get
 * wrong. Throws on NUL, which no shell word can hold.
 */
export function shellQuote(s: string): string {
  if (s.includes('\0')) throw new Error('an argument for a remote command cannot contain NUL');
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** newMark is a fresh batch marker: a fixed prefix and 128 random bits in hex (only [a-z0-9-]). */
export function newMark(): string {
  return `microseg-batch-${randomBytes(16).toString('hex')}`;
}

const MARK_SHAPE = /^[A-Za-z0-9_-]{16,}$/;

/**
 * batchScript is the `sh -c` script that runs `argvs` one after another (see the module comment).
 * `mark` must be fresh per call (newMark); it is a parameter only so tests can pin the text.
 */
export function batchScript(argvs: readonly (readonly string[])[], mark: string): string {
  if (!MARK_SHAPE.test(mark)) throw new Error(`invalid batch marker ${JSON.stringify(mark)}`);
  if (argvs.length === 0) throw new Error('empty batch');
  return argvs
    .map((argv) => {
      if (argv.length === 0) throw new Error('empty argv in batch');
      return `${argv.map(shellQuote).join(' ')} </dev/null; printf '\\n%s %d\\n' ${mark} $?; printf '\\n%s\\n' ${mark} >&2\n`;
    })
    .join('');
}

/**
 * splitBatch cuts the output of one batch run into its `count` commands' results. Throws a
 * HostCommandError (kind 'spawn', the whole output as `partial`) when the markers are not all
 * there: the script did not run to its end (no `sh`, the transport failed before running it, a
 * command killed the shell), so no command's status can be trusted as complete.
 */
export function splitBatch(out: CommandResult, count: number, mark: string, argv: readonly string[] = ['sh', '-c', '<batch>']): CommandResult[] {
  const fail = (why: string) =>
    new HostCommandError('spawn', argv, `batch of ${count} commands did not complete (${why}; exit ${out.code}): ${out.stderr.trim().split('\n').slice(-3).join(' | ') || 'no message'}`, out);
  const codes: number[] = [];
  const stdouts: string[] = [];
  let at = 0;
  const outMark = `\n${mark} `;
  for (let i = 0; i < count; i++) {
    const j = out.stdout.indexOf(outMark, at);
    const eol = j < 0 ? -1 : out.stdout.indexOf('\n', j + outMark.length);
    const code = eol < 0 ? '' : out.stdout.slice(j + outMark.length, eol);
    if (!/^\d{1,3}$/.test(code)) throw fail(`${i} of ${count} stdout markers`);
    stdouts.push(out.stdout.slice(at, j));
    codes.push(Number(code));
    at = eol + 1;
  }
  if (at !== out.stdout.length) throw fail('output after the last marker');
  const stderrs: string[] = [];
  const errMark = `\n${mark}\n`;
  at = 0;
  for (let i = 0; i < count; i++) {
    const j = out.stderr.indexOf(errMark, at);
    if (j < 0) throw fail(`${i} of ${count} stderr markers`);
    stderrs.push(out.stderr.slice(at, j));
    at = j + errMark.length;
  }
  // Anything on stderr after the last marker came from the shell or transport itself (e.g. an ssh
  // warning); it belongs to no command, so it is appended to the last one rather than dropped.
  if (at < out.stderr.length) stderrs[count - 1] += out.stderr.slice(at);
  return codes.map((code, i) => ({ code, stdout: stdouts[i], stderr: stderrs[i] }));
}

/** RunManyOptions: runMany takes no stdin (every command reads /dev/null); the timeout bounds the whole batch. */
export type RunManyOptions = Pick<RunOptions, 'timeoutMs'>;

/**
 * runBatch is runMany for a transport: build the script with a fresh marker, let `runScript` run
 * it as ONE command (`sh -c SCRIPT` through the transport), and split its output. Without an
 * explicit timeout the batch gets DEFAULT_TIMEOUT_MS per command, the budget `run` one by one
 * would have had.
 */
export async function runBatch(
  argvs: readonly (readonly string[])[],
  opts: RunManyOptions,
  runScript: (shArgv: readonly string[], opts: RunOptions) => Promise<CommandResult>,
): Promise<CommandResult[]> {
  if (argvs.length === 0) return [];
  const mark = newMark();
  const sh = ['sh', '-c', batchScript(argvs, mark)];
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS * argvs.length;
  return splitBatch(await runScript(sh, { timeoutMs }), argvs.length, mark, sh);
}

/** SequenceStep is one command of a sequence: its argv and, optionally, what it reads on stdin. */
export interface SequenceStep {
  argv: readonly string[];
  stdin?: string;
  /** A step whose failure does not stop the sequence (a listing that may find nothing). */
  mayFail?: boolean;
}

/**
 * sequenceScript is the POSIX sh script that runs `steps` one after another and stops after the
 * first that fails (exit status not 0), read by `sh` on ITS stdin (a step's input can be megabytes,
 * beyond what one argv element may hold). A step's stdin is a here-document with a quoted
 * delimiter (`<<'DELIM'`: the shell expands nothing in it, not `$`, not backquotes, not
 * backslashes) named after the batch marker and the step, so no input line can end it early (the
 * script refuses input holding that line); input without a final newline gets one, which the
 * tools microseg feeds do not mind. Each step's status and output are marked like batchScript's.
 */
export function sequenceScript(steps: readonly SequenceStep[], mark: string): string {
  if (!MARK_SHAPE.test(mark)) throw new Error(`invalid batch marker ${JSON.stringify(mark)}`);
  if (steps.length === 0) throw new Error('empty sequence');
  return steps
    .map((step, i) => {
      if (step.argv.length === 0) throw new Error('empty argv in sequence');
      const cmd = step.argv.map(shellQuote).join(' ');
      let input = ' </dev/null\n';
      if (step.stdin !== undefined) {
        const delim = `${mark}-in-${i}`;
        if (step.stdin.includes('\0')) throw new Error('a step\'s input cannot contain NUL');
        if (step.stdin.split('\n').includes(delim)) throw new Error('a step\'s input holds its here-document delimiter');
        input = ` <<'${delim}'\n${step.stdin}${step.stdin.endsWith('\n') || step.stdin === '' ? '' : '\n'}${delim}\n`;
      }
      const stop = step.mayFail ? '' : ' [ "$rc" -eq 0 ] || exit 0';
      return `${cmd}${input}rc=$?; printf '\\n%s %d\\n' ${mark} $rc; printf '\\n%s\\n' ${mark} >&2;${stop}\n`;
    })
    .join('');
}

/**
 * SequenceOptions: with `after`, the steps reach the host only once it resolves (with runScript the
 * transport starts meanwhile, see Host.runScript); if it rejects, none runs and runSequence rejects
 * with its reason.
 */
export type SequenceOptions = RunManyOptions & Pick<ScriptOptions, 'after'>;

/**
 * runSequence runs `steps` on `host` in order and stops after the first that fails (unless it
 * `mayFail`): the results of the steps that ran (a failed one last). With Host.runScript it is ONE transport round trip
 * (one `ip netns exec`, one ssh session) for all of them; otherwise one `run` per step. Rejects
 * (HostCommandError) when the sequence did not run to a status it can trust: markers missing
 * while no step had failed.
 */
export async function runSequence(host: Host, steps: readonly SequenceStep[], opts: SequenceOptions = {}): Promise<CommandResult[]> {
  if (steps.length === 0) return [];
  // One step goes as itself (no shell), unless it must wait for `after`: the shell then starts
  // meanwhile.
  if (!host.runScript || (steps.length === 1 && !opts.after)) {
    await opts.after;
    const out: CommandResult[] = [];
    for (const step of steps) {
      const r = await host.run(step.argv, { stdin: step.stdin, timeoutMs: opts.timeoutMs });
      out.push(r);
      if (r.code !== 0 && !step.mayFail) break;
    }
    return out;
  }
  const mark = newMark();
  const script = sequenceScript(steps, mark);
  const out = await host.runScript(script, { timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS * steps.length, after: opts.after });
  let ran = 0;
  for (let at = 0; (at = out.stdout.indexOf(`\n${mark} `, at)) >= 0; at += mark.length) ran++;
  const results = splitBatch(out, Math.max(1, ran), mark, ['sh', '<sequence>']);
  if (ran < steps.length && (results[results.length - 1].code === 0 || steps[ran - 1]?.mayFail)) {
    throw new HostCommandError('spawn', ['sh', '<sequence>'], `sequence of ${steps.length} commands stopped after ${ran} without a failing step (exit ${out.code}): ${out.stderr.trim().split('\n').slice(-3).join(' | ') || 'no message'}`, out);
  }
  return results;
}

/**
 * runAll runs `argvs` on `host` and returns each command's own result, in order. When the host
 * offers runMany, the commands go in `concurrency` batches (default 1: one round trip, one after
 * another on the host), each batch a contiguous slice, the batches run at once. Otherwise one `run`
 * per command, up to `concurrency` at once. Providers call this, never runMany directly, so hosts
 * that implement only `run` (fakes, wrappers) keep working. Use concurrency > 1 only for commands
 * that do not depend on each other's effects.
 */
export async function runAll(
  host: Host,
  argvs: readonly (readonly string[])[],
  opts: RunManyOptions & { concurrency?: number } = {},
): Promise<CommandResult[]> {
  if (argvs.length === 0) return [];
  const { concurrency = 1, ...runOpts } = opts;
  const lanes = Math.max(1, Math.min(concurrency, argvs.length));
  if (host.runMany && argvs.length > 1) {
    const runMany = host.runMany.bind(host);
    const size = Math.ceil(argvs.length / lanes);
    const slices: (readonly string[])[][] = [];
    for (let i = 0; i < argvs.length; i += size) slices.push(argvs.slice(i, i + size));
    const parts = await Promise.all(slices.map((slice) => (slice.length === 1 ? host.run(slice[0], runOpts).then((r) => [r]) : runMany(slice, runOpts))));
    return parts.flat();
  }
  const out = new Array<CommandResult>(argvs.length);
  let next = 0;
  const worker = async () => {
    while (next < argvs.length) {
      const i = next++;
      out[i] = await host.run(argvs[i], runOpts);
    }
  };
  await Promise.all(Array.from({ length: lanes }, worker));
  return out;
}
