/**
 * batch.ts: the script runMany sends in one transport round trip, and the splitter that gives each
 * command its own result back. The splitter is tested on outputs built exactly as `sh` prints
 * them; the script is also run through a real local `sh`, so builder and splitter are tested together.
 */
import * as fs from 'fs';
import { batchScript, newMark, runAll, runBatch, runSequence, sequenceScript, shellQuote, splitBatch } from '../../../src/hosts/batch';
import { HostCommandError, runProcess } from '../../../src/hosts/exec';
import { LocalHost } from '../../../src/hosts/local';
import type { CommandResult, Host } from '../../../src/hosts/types';

const MARK = 'microseg-batch-0123456789abcdef0123456789abcdef';

/** framed is what the batch script prints for commands with these results (the printf lines included). */
function framed(results: CommandResult[], mark = MARK): CommandResult {
  return {
    code: 0,
    stdout: results.map((r) => `${r.stdout}\n${mark} ${r.code}\n`).join(''),
    stderr: results.map((r) => `${r.stderr}\n${mark}\n`).join(''),
  };
}

describe('batchScript', () => {
  it('quotes every argv element, runs each command with stdin /dev/null and prints its status after a marker line', () => {
    expect(batchScript([['nft', '-j', 'list', 'chains'], ['ipset', 'save']], MARK)).toBe(
      `'nft' '-j' 'list' 'chains' </dev/null; printf '\\n%s %d\\n' ${MARK} $?; printf '\\n%s\\n' ${MARK} >&2\n` +
        `'ipset' 'save' </dev/null; printf '\\n%s %d\\n' ${MARK} $?; printf '\\n%s\\n' ${MARK} >&2\n`,
    );
  });

  it('refuses an empty batch, an empty argv, NUL in an argument and a marker that is not a plain word', () => {
    expect(() => batchScript([], MARK)).toThrow(/empty batch/);
    expect(() => batchScript([[]], MARK)).toThrow(/empty argv/);
    expect(() => batchScript([['echo', 'a\0b']], MARK)).toThrow(/NUL/);
    expect(() => batchScript([['true']], "x'; rm -rf / #")).toThrow(/invalid batch marker/);
    expect(() => batchScript([['true']], 'short')).toThrow(/invalid batch marker/);
  });

  it('newMark is fresh per call and a plain word', () => {
    const a = newMark();
    expect(a).toMatch(/^microseg-batch-[0-9a-f]{32}$/);
    expect(newMark()).not.toBe(a);
  });
});

describe('splitBatch', () => {
  it('gives each command its own code, stdout and stderr, byte for byte', () => {
    const want: CommandResult[] = [
      { code: 0, stdout: '{"nftables": []}\n', stderr: '' },
      { code: 0, stdout: '', stderr: '' },
      { code: 1, stdout: 'no trailing newline', stderr: 'Error: No such file or directory\n' },
      { code: 127, stdout: '', stderr: 'sh: 1: ipset: not found\n' },
      { code: 0, stdout: '\n\n', stderr: 'warning without newline' },
      { code: 137, stdout: `looks like a marker: \nmicroseg-batch-ffff 0\n`, stderr: '\n' },
    ];
    expect(splitBatch(framed(want), want.length, MARK)).toEqual(want);
  });

  it('appends stderr printed after the last marker (by the shell or transport) to the last command', () => {
    const out = framed([{ code: 0, stdout: 'a', stderr: '' }, { code: 2, stdout: '', stderr: 'x\n' }]);
    out.stderr += 'ssh: warning\n';
    expect(splitBatch(out, 2, MARK)[1]).toEqual({ code: 2, stdout: '', stderr: 'x\nssh: warning\n' });
  });

  it('throws HostCommandError with the whole output when the script did not run to its end', () => {
    const gone: CommandResult = { code: 1, stdout: '', stderr: 'Cannot open network namespace "x": No such file or directory\n' };
    let e: unknown;
    try {
      splitBatch(gone, 2, MARK);
    } catch (err) {
      e = err;
    }
    expect(HostCommandError.isInstance(e)).toBe(true);
    expect((e as HostCommandError).partial).toBe(gone);
    expect((e as Error).message).toMatch(/0 of 2 stdout markers.*Cannot open network namespace/);
    // One of two commands finished, then the shell died.
    const half = framed([{ code: 0, stdout: 'a\n', stderr: '' }]);
    expect(() => splitBatch({ ...half, code: 137 }, 2, MARK)).toThrow(/1 of 2 stdout markers/);
    // All stdout markers but a stderr one missing; output after the last marker.
    const all = framed([{ code: 0, stdout: 'a', stderr: '' }]);
    expect(() => splitBatch({ ...all, stderr: '' }, 1, MARK)).toThrow(/0 of 1 stderr markers/);
    expect(() => splitBatch({ ...all, stdout: `${all.stdout}junk` }, 1, MARK)).toThrow(/output after the last marker/);
    // A marker from another batch does not count.
    expect(() => splitBatch(framed([{ code: 0, stdout: '', stderr: '' }], `${MARK}0`), 1, MARK)).toThrow(HostCommandError);
  });
});

describe('the script run by a real sh', () => {
  const run = (argvs: string[][]) => runBatch(argvs, {}, (sh, o) => runProcess(sh, o));

  it('returns per-command results: empty output, no trailing newline, non-zero codes, 127, stderr per command', async () => {
    const got = await run([
      ['true'],
      ['printf', 'abc'],
      ['sh', '-c', 'printf "out\\n"; printf "err\\n" >&2; exit 3'],
      ['no-such-tool-mseg-batch'],
      ['sh', '-c', 'printf "only err" >&2'],
      ['printf', '\\n\\n'],
    ]);
    expect(got.map((r) => r.code)).toEqual([0, 0, 3, 127, 0, 0]);
    expect(got.map((r) => r.stdout)).toEqual(['', 'abc', 'out\n', '', '', '\n\n']);
    expect(got[2].stderr).toBe('err\n');
    expect(got[3].stderr).toMatch(/no-such-tool-mseg-batch: (command )?not found/);
    expect(got[4].stderr).toBe('only err');
    expect(got.filter((_r, i) => i !== 2 && i !== 3 && i !== 4).every((r) => r.stderr === '')).toBe(true);
  });

  it('passes hostile bytes as literal arguments: nothing is interpreted by the shell', async () => {
    const hostile = ["it's", '$(touch /tmp/mseg-batch-pwned)', '`id`', '"q"', '', '*', '; exit 7', '$HOME', 'a\nb', '\\', "'\\''", '>&2', '&& false'];
    const [r, after] = await run([['printf', '%s|', ...hostile], ['echo', 'still here']]);
    expect(r).toEqual({ code: 0, stdout: `${hostile.join('|')}|`, stderr: '' });
    expect(after).toEqual({ code: 0, stdout: 'still here\n', stderr: '' });
    expect(fs.existsSync('/tmp/mseg-batch-pwned')).toBe(false);
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
  });

  it('gives every command /dev/null on stdin, so a reader cannot swallow the rest of the script', async () => {
    const [cat, next] = await run([['cat'], ['echo', 'next']]);
    expect(cat).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(next.stdout).toBe('next\n');
  });

  it('LocalHost.runMany is one sh for all commands', async () => {
    const got = await new LocalHost().runMany([['sh', '-c', 'echo $PPID'], ['sh', '-c', 'echo $PPID']]);
    expect(got[0].code).toBe(0);
    expect(got[0].stdout).toBe(got[1].stdout); // the same parent shell
  });
});

describe('runAll', () => {
  const recording = (withMany: boolean) => {
    const calls: string[] = [];
    const host: Host = {
      description: 'rec',
      run: async (argv) => (calls.push(`run ${argv.join(' ')}`), { code: 0, stdout: argv.join(' '), stderr: '' }),
    };
    if (withMany) host.runMany = async (argvs) => (calls.push(`many ${argvs.map((a) => a.join(' ')).join(',')}`), argvs.map((a) => ({ code: 0, stdout: a.join(' '), stderr: '' })));
    return { host, calls };
  };

  it('falls back to run, one command after another, on a host without runMany (fakes)', async () => {
    const { host, calls } = recording(false);
    const got = await runAll(host, [['a'], ['b'], ['c']]);
    expect(got.map((r) => r.stdout)).toEqual(['a', 'b', 'c']);
    expect(calls).toEqual(['run a', 'run b', 'run c']);
  });

  it('uses one runMany for the whole list, or one per slice with concurrency, results in order', async () => {
    const one = recording(true);
    expect((await runAll(one.host, [['a'], ['b'], ['c']])).map((r) => r.stdout)).toEqual(['a', 'b', 'c']);
    expect(one.calls).toEqual(['many a,b,c']);
    const four = recording(true);
    const argvs = ['a', 'b', 'c', 'd', 'e', 'f', 'g'].map((x) => [x]);
    expect((await runAll(four.host, argvs, { concurrency: 4 })).map((r) => r.stdout)).toEqual(argvs.map((a) => a[0]));
    expect(four.calls.sort()).toEqual(['many a,b', 'many c,d', 'many e,f', 'run g']);
    const single = recording(true);
    await runAll(single.host, [['a']]);
    expect(single.calls).toEqual(['run a']);
    expect(await runAll(single.host, [])).toEqual([]);
  });
});

describe('runSequence', () => {
  const local = new LocalHost();
  const tricky = "line with $HOME and `id` and $(id) and 'quotes' and \\backslash\nEOF\n\tindented\nno final newline";

  it('runs every step in ONE shell, feeds each its stdin byte for byte (a newline added where missing), and expands nothing', async () => {
    let scripts = 0;
    const counted: Host = { description: 'local', run: (a, o) => local.run(a, o), runScript: (s, o) => ((scripts += 1), local.runScript(s, o)) };
    const out = await runSequence(counted, [
      { argv: ['cat'], stdin: tricky },
      { argv: ['sh', '-c', 'printf "%s" "$0"', 'plain arg'] },
      { argv: ['cat'], stdin: '' },
    ]);
    expect(scripts).toBe(1);
    expect(out).toEqual([
      { code: 0, stdout: `${tricky}\n`, stderr: '' },
      { code: 0, stdout: 'plain arg', stderr: '' },
      { code: 0, stdout: '', stderr: '' },
    ]);
  });

  it('stops after the first failing step: later steps do not run', async () => {
    const dir = fs.mkdtempSync('/tmp/mseg-seq-');
    try {
      const out = await runSequence(local, [
        { argv: ['sh', '-c', 'echo one'] },
        { argv: ['sh', '-c', 'echo bad >&2; exit 3'] },
        { argv: ['touch', `${dir}/must-not-exist`] },
      ]);
      expect(out).toEqual([
        { code: 0, stdout: 'one\n', stderr: '' },
        { code: 3, stdout: '', stderr: 'bad\n' },
      ]);
      expect(fs.existsSync(`${dir}/must-not-exist`)).toBe(false);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses input that holds its own here-document delimiter, and a shell that died mid-way', async () => {
    expect(() => sequenceScript([{ argv: ['cat'], stdin: `x\n${MARK}-in-0\ny` }], MARK)).toThrow(/delimiter/);
    const dying: Host = { description: 'x', run: () => Promise.reject(new Error('unused')), runScript: async () => ({ code: 137, stdout: `a\n${MARK.replace(/./g, 'z')}`, stderr: 'Killed' }) };
    await expect(runSequence(dying, [{ argv: ['a'] }, { argv: ['b'] }])).rejects.toThrow(HostCommandError);
  });

  it('with `after`, the shell starts at once but runs the steps only once it resolves; a rejected `after` runs nothing', async () => {
    const dir = fs.mkdtempSync('/tmp/mseg-seq-');
    try {
      const flag = `${dir}/flag`;
      let open!: () => void;
      const gate = new Promise<void>((r) => (open = r));
      let scripts = 0;
      const counted: Host = { description: 'local', run: (a, o) => local.run(a, o), runScript: (s, o) => ((scripts += 1), local.runScript(s, o)) };
      // One step with `after` still goes through the shell, which is what starts early.
      const running = runSequence(counted, [{ argv: ['cat', flag] }], { after: gate });
      expect(scripts).toBe(1);
      await new Promise((r) => setTimeout(r, 50));
      fs.writeFileSync(flag, 'written before the gate opened\n');
      open();
      expect(await running).toEqual([{ code: 0, stdout: 'written before the gate opened\n', stderr: '' }]);

      const refused = new Error('begin could not be written');
      const never = runSequence(local, [{ argv: ['touch', `${dir}/must-not-exist`] }, { argv: ['touch', `${dir}/nor-this`] }], { after: Promise.reject(refused) });
      await expect(never).rejects.toBe(refused);
      expect(fs.readdirSync(dir)).toEqual(['flag']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('without runScript, runs the steps one by one and still stops at the first failure', async () => {
    const calls: string[] = [];
    const host: Host = { description: 'x', run: async (argv) => (calls.push(argv[0]), { code: argv[0] === 'b' ? 1 : 0, stdout: '', stderr: '' }) };
    expect((await runSequence(host, [{ argv: ['a'] }, { argv: ['b'] }, { argv: ['c'] }])).map((r) => r.code)).toEqual([0, 1]);
    expect(calls).toEqual(['a', 'b']);
  });
});
