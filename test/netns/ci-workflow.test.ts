/**
 * examples/ci/microseg.yml run for real: the `run:` scripts of its jobs, taken from the YAML and
 * executed with bash as GitHub runs them (`bash --noprofile --norc -eo pipefail`), with `microseg`
 * the built CLI, against real namespaces and a throwaway PostgreSQL (PG_CONN_STR). Steps that only
 * prepare a hosted runner (npm install, the ssh key) are skipped; `gh` is a stand-in that records
 * the comment it was asked to post. What GitHub evaluates (`${{ … }}`) is substituted from the
 * step outputs the scripts wrote to GITHUB_OUTPUT.
 *
 * Addresses: the reconcile suite's (reconcile-suite.ts), web 198.18.0.11, api 198.18.0.12,
 * db 198.18.0.13, on one bridge.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parse } from 'yaml';
import { buildOnce, childEnv } from '../support/build-cli';
import { describeWithPg, startPgCluster, type PgCluster } from '../support/pg-cluster';
import { rootSkipReason } from './harness';
import { BASE, NODES, configHcl, netnsEnv } from './reconcile-suite';

const WORKFLOW = path.join(__dirname, '../../examples/ci/microseg.yml');
const HOSTS = ['web', 'api', 'db'];
const PG_BLOCK = 'microseg {\n  backend "pg" {}\n}\n';

interface Step {
  id?: string;
  run?: string;
  uses?: string;
  env?: Record<string, string>;
}

describeWithPg(
  'examples/ci/microseg.yml, its scripts run against real hosts and PostgreSQL',
  () => {
    const wf = parse(fs.readFileSync(WORKFLOW, 'utf8')) as { env: Record<string, string>; jobs: Record<string, { steps: Step[] }> };
    const env = netnsEnv('nftables');
    let pg: PgCluster;
    let repo: string;
    let bin: string;
    let spec = { ...BASE, hosts: HOSTS };

    const writeConfig = () => fs.writeFileSync(path.join(repo, 'infra/microseg/main.hcl'), configHcl(env, 'nftables', spec) + PG_BLOCK);

    /** runJob runs a job's scripts in order, as a runner would; returns each step's exit code and outputs. */
    const runJob = (job: string): { failed?: string; outputs: Record<string, Record<string, string>>; summary: string; comments: string } => {
      const outputs: Record<string, Record<string, string>> = {};
      const summary = path.join(repo, `summary-${job}.md`);
      fs.writeFileSync(summary, '');
      const comments = path.join(repo, 'gh.log');
      fs.writeFileSync(comments, '');
      const expr = (s: string): string =>
        s.replace(/\$\{\{\s*(.+?)\s*\}\}/g, (_, e: string) => {
          const m = /^steps\.(\w+)\.outputs\.(\w+)$/.exec(e);
          if (m) return outputs[m[1]]?.[m[2]] ?? '';
          if (e === 'secrets.PG_CONN_STR') return pg.connStr;
          if (e === 'github.event.pull_request.number') return '7';
          if (e === 'github.token' || e.startsWith('secrets.') || e.startsWith('vars.')) return '';
          throw new Error(`expression the test does not know: ${e}`);
        });
      const base: NodeJS.ProcessEnv = { ...childEnv(), PATH: `${bin}:${process.env.PATH}`, GITHUB_STEP_SUMMARY: summary, HOME: repo };
      for (const [k, v] of Object.entries(wf.env)) base[k] = expr(v);
      for (const step of wf.jobs[job].steps) {
        if (!step.run || /npm install|~\/\.ssh/.test(step.run)) continue;
        const out = path.join(repo, 'github-output');
        fs.writeFileSync(out, '');
        const stepEnv: NodeJS.ProcessEnv = { ...base, GITHUB_OUTPUT: out };
        for (const [k, v] of Object.entries(step.env ?? {})) stepEnv[k] = expr(v);
        const r = spawnSync('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', expr(step.run)], { cwd: repo, env: stepEnv, encoding: 'utf8', timeout: 600_000 });
        if (step.id) outputs[step.id] = Object.fromEntries(fs.readFileSync(out, 'utf8').split('\n').filter(Boolean).map((l) => l.split(/=(.*)/s).slice(0, 2) as [string, string]));
        if (r.status !== 0) return { failed: `${step.id ?? step.run.split('\n')[0]} exited ${r.status}: ${r.stdout}${r.stderr}`, outputs, summary: fs.readFileSync(summary, 'utf8'), comments: fs.readFileSync(comments, 'utf8') };
      }
      return { outputs, summary: fs.readFileSync(summary, 'utf8'), comments: fs.readFileSync(comments, 'utf8') };
    };

    beforeAll(async () => {
      pg = await startPgCluster();
      await env.create('ciwf', NODES.filter((n) => HOSTS.includes(n.name)));
      await env.listen('api', 'tcp', 8000, 4);
      await env.listen('api', 'tcp', 8001, 4);
      repo = fs.mkdtempSync(path.join(os.tmpdir(), 'mseg-ci-'));
      fs.mkdirSync(path.join(repo, 'infra/microseg'), { recursive: true });
      bin = path.join(repo, 'bin');
      fs.mkdirSync(bin);
      const { mainJs } = buildOnce();
      fs.writeFileSync(
        path.join(bin, 'microseg'),
        `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} -e 'require(${JSON.stringify(mainJs)}).main(process.argv).then((c) => { process.exitCode = c; })' microseg "$@"\n`,
        { mode: 0o755 },
      );
      // gh: records the comment instead of posting it; `--edit-last` fails as on a first comment.
      fs.writeFileSync(path.join(bin, 'gh'), `#!/bin/sh\ncase "$*" in *--edit-last*) exit 1;; esac\necho "gh $*" >> gh.log\nwhile [ $# -gt 0 ]; do [ "$1" = --body-file ] && cat "$2" >> gh.log; shift; done\n`, { mode: 0o755 });
      writeConfig();
    }, 300_000);

    afterAll(async () => {
      await env.teardown();
      await pg?.destroy();
      if (repo) fs.rmSync(repo, { recursive: true, force: true });
    });

    it('on merge: plan-main saves a plan with changes and apply runs exactly it; the hosts enforce the configuration', () => {
      const p = runJob('plan-main');
      expect(p.failed).toBeUndefined();
      expect(p.outputs.plan.code).toBe('2');
      expect(p.summary).toMatch(/^## microseg plan: changes/);
      expect(p.summary).toContain('`+` program');
      const a = runJob('apply');
      expect(a.failed).toBeUndefined();
      expect(fs.existsSync(path.join(repo, 'infra/microseg/.microseg/state.json'))).toBe(false);
    });

    it('the applied rules hold: real packets', async () => {
      expect(await env.tcpConnect('web', '198.18.0.12', 8000)).toBe('open');
      expect(await env.tcpConnect('db', '198.18.0.12', 8000)).toBe('refused');
    });

    it('scheduled drift passes while nothing changed; a pull request with a change is planned and commented in Markdown; check passes', () => {
      expect(runJob('drift').failed).toBeUndefined();
      spec = { ...spec, apiPorts: 'tcp/8001' };
      writeConfig();
      const c = runJob('check');
      expect(c.failed).toBeUndefined();
      for (const f of ['validate.sarif', 'test.sarif']) expect(JSON.parse(fs.readFileSync(path.join(repo, f), 'utf8')).version).toBe('2.1.0');
      const p = runJob('plan');
      expect(p.failed).toBeUndefined();
      expect(p.outputs.plan.code).toBe('2');
      expect(p.comments).toMatch(/^gh pr comment 7 --body-file plan\.md\n## microseg plan: changes/);
      expect(p.comments).toContain('`network_policy.web-to-api`');
      expect(p.summary).toBe(fs.readFileSync(path.join(repo, 'plan.md'), 'utf8'));
    });

    it('a change made by hand on a host fails the scheduled drift job', async () => {
      // Back to what is applied, so only the hand-made change differs.
      spec = { ...BASE, hosts: HOSTS };
      writeConfig();
      const planned = runJob('plan-main');
      expect(planned.outputs.plan.code).toBe('0');
      // api's input base chain emptied behind microseg's back.
      await env.flushChain('api', 'in');
      const d = runJob('drift');
      expect(d.failed).toMatch(/exited 2/);
      expect(d.summary).toMatch(/api/);
    });
  },
  rootSkipReason,
);
