/**
 * examples/ci/microseg.yml is documentation people copy: it must be valid YAML shaped like a
 * GitHub Actions workflow, and every `microseg` command in it must exist with the flags it uses,
 * checked against the CLI's own definition (buildProgram), so a renamed flag breaks this test
 * rather than a user's pipeline.
 */
import * as fs from 'fs';
import * as path from 'path';
import { parse, parseDocument } from 'yaml';
import type { Command, Option } from 'commander';
import { BufferIo } from '../../../src/cli/io';
import { buildProgram } from '../../../src/cli/main';

const EXAMPLE = path.join(__dirname, '../../../examples/ci');
const WORKFLOW = path.join(EXAMPLE, 'microseg.yml');

interface Step {
  name?: string;
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
}
interface Job {
  'runs-on': string;
  if?: string;
  needs?: string | string[];
  steps: Step[];
}
interface Workflow {
  on: { pull_request?: unknown; push?: { branches?: string[] }; schedule?: Array<{ cron: string }> };
  env: Record<string, string>;
  jobs: Record<string, Job>;
}

/** Shell words of one script, with operators (`|`, `;`, `&&`, `>`, ...) as their own tokens. */
function words(script: string): string[] {
  const out: string[] = [];
  const s = script.replace(/\\\n/g, ' ');
  let i = 0;
  let cur: string | undefined;
  const flush = () => {
    if (cur !== undefined) out.push(cur);
    cur = undefined;
  };
  while (i < s.length) {
    const c = s[i];
    if (c === '\n' || c === ';') {
      flush();
      out.push(';');
      i++;
    } else if (/\s/.test(c)) {
      flush();
      i++;
    } else if (c === '#' && cur === undefined) {
      while (i < s.length && s[i] !== '\n') i++;
    } else if (c === "'") {
      const end = s.indexOf("'", i + 1);
      cur = (cur ?? '') + s.slice(i + 1, end);
      i = end + 1;
    } else if (c === '"') {
      let j = i + 1;
      let v = '';
      while (s[j] !== '"') {
        if (s[j] === '\\') j++;
        v += s[j++];
      }
      cur = (cur ?? '') + v;
      i = j + 1;
    } else if ('|&<>()'.includes(c)) {
      flush();
      let op = c;
      while (i + op.length < s.length && '|&<>'.includes(s[i + op.length]) && op.length < 2) op += s[i + op.length];
      out.push(op);
      i += op.length;
    } else {
      cur = (cur ?? '') + c;
      i++;
    }
  }
  flush();
  return out;
}

const SEPARATORS = new Set([';', '|', '||', '&&', '&', '(', ')']);
const REDIRECTS = new Set(['>', '>>', '<', '2>', '&>']);

/** microsegCalls finds every `microseg ...` command in a script: its arguments up to the next operator. */
function microsegCalls(script: string): string[][] {
  const ws = words(script);
  const calls: string[][] = [];
  for (let i = 0; i < ws.length; i++) {
    const atStart = i === 0 || SEPARATORS.has(ws[i - 1]) || ws[i - 1] === 'then' || ws[i - 1] === 'else' || ws[i - 1] === 'do';
    if (ws[i] !== 'microseg' || !atStart) continue;
    const args: string[] = [];
    for (let j = i + 1; j < ws.length && !SEPARATORS.has(ws[j]); j++) {
      if (REDIRECTS.has(ws[j])) {
        j++; // the redirect's target
        continue;
      }
      args.push(ws[j]);
    }
    calls.push(args);
  }
  return calls;
}

/** checkCall returns what is wrong with `microseg ARGS` according to the CLI's definition. */
function checkCall(program: Command, args: string[]): string[] {
  const problems: string[] = [];
  let cmd = program;
  let k = 0;
  while (k < args.length) {
    const sub = cmd.commands.find((c) => c.name() === args[k] || c.aliases().includes(args[k]));
    if (!sub) break;
    cmd = sub;
    k++;
  }
  if (cmd === program) return [`no such command: microseg ${args[0] ?? ''}`];
  const where = `microseg ${args.slice(0, k).join(' ')}`;
  let positionals = 0;
  for (; k < args.length; k++) {
    const a = args[k];
    if (a.startsWith('-') && a !== '-') {
      // main() reads Terraform's `-out FILE` as --out.
      const [flag, inline] = a === '-out' ? ['--out', undefined] : a.startsWith('-out=') ? ['--out', a.slice(5)] : (a.split(/=(.*)/s) as [string, string | undefined]);
      const opt: Option | undefined = cmd.options.find((o) => o.long === flag || o.short === flag) ?? (flag === '--help' || flag === '-h' ? ({ required: false, optional: false } as Option) : undefined);
      if (!opt) {
        problems.push(`${where}: no option ${flag}`);
        continue;
      }
      if (opt.required || opt.optional) {
        const value = inline ?? args[++k];
        if (value === undefined && opt.required) problems.push(`${where}: ${flag} needs a value`);
        if (value !== undefined && opt.argChoices && !value.includes('$') && !opt.argChoices.includes(value)) problems.push(`${where}: ${flag} ${value} is not one of ${opt.argChoices.join(', ')}`);
      }
    } else positionals++;
  }
  const declared = cmd.registeredArguments;
  if (positionals > declared.length && !declared.some((d) => d.variadic)) problems.push(`${where}: ${positionals} arguments, takes at most ${declared.length}`);
  const required = declared.filter((d) => d.required).length;
  if (positionals < required) problems.push(`${where}: ${positionals} arguments, needs ${required}`);
  return problems;
}

describe('examples/ci: the GitHub Actions workflow', () => {
  const text = fs.readFileSync(WORKFLOW, 'utf8');
  const wf = parse(text) as Workflow;
  const program = buildProgram(new BufferIo(), () => undefined);
  const runs = Object.entries(wf.jobs).flatMap(([job, j]) => j.steps.filter((s) => s.run).map((s) => ({ job, run: s.run! })));
  const calls = runs.flatMap(({ job, run }) => microsegCalls(run).map((args) => ({ job, args })));

  it('is valid YAML (no duplicate keys, no errors) shaped like a workflow', () => {
    const doc = parseDocument(text, { uniqueKeys: true });
    expect(doc.errors).toEqual([]);
    expect(doc.warnings).toEqual([]);
    expect(wf.on.pull_request).toBeDefined();
    expect(wf.on.push?.branches).toContain('main');
    expect(wf.on.schedule?.[0].cron.split(/\s+/)).toHaveLength(5);
    expect(Object.keys(wf.jobs).length).toBeGreaterThan(0);
    for (const [name, job] of Object.entries(wf.jobs)) {
      expect([name, typeof job['runs-on']]).toEqual([name, 'string']);
      expect(job.steps.length).toBeGreaterThan(0);
      for (const needed of [job.needs ?? []].flat()) expect(Object.keys(wf.jobs)).toContain(needed);
      for (const step of job.steps) expect([name, step.uses === undefined, step.run === undefined].filter((x) => x === true)).toHaveLength(1);
    }
  });

  it('takes PG_CONN_STR from a secret, and the README explains every secret it uses', () => {
    expect(wf.env.PG_CONN_STR).toBe('${{ secrets.PG_CONN_STR }}');
    const readme = fs.readFileSync(path.join(EXAMPLE, 'README.md'), 'utf8');
    const secrets = [...new Set([...text.matchAll(/\$\{\{\s*(secrets|vars)\.(\w+)\s*\}\}/g)].map((m) => m[2]))];
    expect(secrets).toContain('PG_CONN_STR');
    for (const s of secrets) expect(readme).toContain(`\`${s}\``);
  });

  it('uses only microseg commands and flags that exist (checked against the CLI definition)', () => {
    expect(calls.length).toBeGreaterThanOrEqual(8);
    const problems = calls.flatMap((c) => checkCall(program, c.args).map((p) => `${c.job}: ${p}`));
    expect(problems).toEqual([]);
  });

  it('plans with --detailed-exitcode on pull requests, comments the Markdown plan, applies the saved plan on merge and checks drift on a schedule', () => {
    const jobOf = (pred: (args: string[]) => boolean) => calls.filter((c) => pred(c.args)).map((c) => c.job);
    const prJobs = Object.entries(wf.jobs).filter(([, j]) => j.if?.includes("'pull_request'")).map(([n]) => n);
    const planJobs = jobOf((a) => a[0] === 'plan' && a.includes('--detailed-exitcode') && a.includes('-out'));
    expect(planJobs.some((j) => prJobs.includes(j))).toBe(true);
    const showJobs = jobOf((a) => a[0] === 'show' && a[1] === 'microseg.plan' && a.includes('--format') && a[a.indexOf('--format') + 1] === 'markdown');
    expect(showJobs.some((j) => prJobs.includes(j))).toBe(true);
    expect(runs.some((r) => prJobs.includes(r.job) && /gh pr comment .*--body-file plan\.md/.test(r.run))).toBe(true);
    const applyJobs = jobOf((a) => a[0] === 'apply' && a[1] === 'microseg.plan');
    expect(applyJobs).toHaveLength(1);
    expect(wf.jobs[applyJobs[0]].steps.some((s) => s.uses?.startsWith('actions/download-artifact'))).toBe(true);
    const driftJobs = jobOf((a) => a[0] === 'drift');
    expect(driftJobs.length).toBe(1);
    expect(wf.jobs[driftJobs[0]].if).toContain("'schedule'");
    const sarif = jobOf((a) => (a[0] === 'validate' || a[0] === 'test') && a[a.indexOf('--format') + 1] === 'sarif');
    expect(new Set(sarif).size).toBeGreaterThan(0);
  });

  it('the checker is not vacuous: it finds microseg in scripts and refuses made-up commands, flags and values', () => {
    const script = 'set +e\nmicroseg plan "$D" -out p --detailed-exit-code > x\ncode=$?; echo ok && microseg show p --format pdf | tee y\nmicroseg frobnicate\nmicroseg state list --dir .';
    const found = microsegCalls(script);
    expect(found).toEqual([['plan', '$D', '-out', 'p', '--detailed-exit-code'], ['show', 'p', '--format', 'pdf'], ['frobnicate'], ['state', 'list', '--dir', '.']]);
    expect(found.map((c) => checkCall(program, c))).toEqual([
      ['microseg plan: no option --detailed-exit-code'],
      ['microseg show: --format pdf is not one of human, json, markdown'],
      ['no such command: microseg frobnicate'],
      [],
    ]);
    expect(checkCall(program, ['import'])).toEqual(['microseg import: 0 arguments, needs 1']);
  });
});
