/**
 * `microseg show PLANFILE --format markdown`: a golden document for a plan with every kind of
 * change (hosts to program, update and decommission, drift, resource changes), made by the real
 * planner against the in-memory firewall at a fixed instant, and checks that it is the same data
 * as the human and JSON views. Regenerate deliberately with
 * `UPDATE_GOLDEN=1 npx jest test/unit/cli/plan-markdown` and review the diff.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { createTwoFilesPatch } from 'diff';
import { planRun, writePlanFile, type Plan } from '../../../src/plan';
import { LocalStateStore } from '../../../src/state';
import { PACKAGE_VERSION } from '../../../src/version';
import { renderPlanMarkdown, MAX_CHARS } from '../../../src/cli/views/plan-markdown';
import { BASE, NODES, cliWith, configHcl } from '../../netns/reconcile-suite';
import { fakeEnv } from '../fake/reconcile-env';

const GOLDEN = path.join(__dirname, '../../golden/cli/plan.md');
const NOW = new Date('2026-01-02T03:04:05.000Z');

describe('show PLANFILE --format markdown', () => {
  const env = fakeEnv('nftables');
  const cli = (...args: string[]) => cliWith({ connect: env.connect }, ...args);
  let dir: string;
  let planFile: string;
  let plan: Plan;

  beforeAll(async () => {
    await env.create('md', NODES.filter((n) => ['web', 'api', 'db', 'tmp1'].includes(n.name)));
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mseg-md-'));
    fs.writeFileSync(path.join(dir, 'main.hcl'), configHcl(env, 'nftables', { ...BASE, hosts: ['web', 'api', 'db', 'tmp1'] }));
    expect((await cli('apply', dir, '--auto-approve')).code).toBe(0);
    // Drift on db: one of its rules deleted behind microseg's back.
    const db = (await new LocalStateStore(dir).load())!.hosts.db.owned.chains.find((c) => c.ruleIds.length > 0)!;
    await env.deleteRule('db', db.name, db.ruleIds[0]);
    // The change under review: api on another port, one more policy, tmp1 decommissioned.
    fs.writeFileSync(path.join(dir, 'main.hcl'), configHcl(env, 'nftables', { ...BASE, apiPorts: 'tcp/8001', extraPolicy: true, hosts: ['web', 'api', 'db'] }));
    const r = await planRun(dir, { store: new LocalStateStore(dir), connect: env.connect, now: NOW });
    plan = r.plan!;
    planFile = path.join(dir, 'pr.plan');
    await writePlanFile(planFile, plan);
  });

  afterAll(async () => {
    await env.teardown();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('matches the golden document', async () => {
    const r = await cli('show', planFile, '--format', 'markdown');
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
    // The version would make every release rewrite the golden file.
    const got = r.out.split(planFile).join('pr.plan').split(`microseg ${PACKAGE_VERSION} `).join('microseg VERSION ');
    if (process.env.UPDATE_GOLDEN === '1' || !fs.existsSync(GOLDEN)) {
      fs.mkdirSync(path.dirname(GOLDEN), { recursive: true });
      fs.writeFileSync(GOLDEN, got);
      if (process.env.UPDATE_GOLDEN !== '1') throw new Error(`golden file ${GOLDEN} did not exist and was written; review and commit it`);
    }
    const want = fs.readFileSync(GOLDEN, 'utf8');
    if (got !== want) throw new Error(`Markdown differs from ${GOLDEN} (UPDATE_GOLDEN=1 to accept):\n${createTwoFilesPatch('golden', 'rendered', want, got)}`);
  });

  it('is the same data as the human and JSON views', async () => {
    const md = (await cli('show', planFile, '--format', 'markdown')).out;
    const human = (await cli('show', planFile)).out;
    const json = JSON.parse((await cli('show', planFile, '--format', 'json')).out) as Plan;
    expect(json).toEqual(JSON.parse(JSON.stringify(plan)));
    // Every change line the human view prints for a host is in the Markdown, in a diff block
    // whose first column is the change's sign.
    const humanLines = human.slice(0, human.indexOf('Apply will run exactly')).split('\n');
    const hostLines = humanLines
      .slice(humanLines.findIndex((l) => /^\S+ enforcer /.test(l)))
      .filter((l) => /^ {2}\S/.test(l))
      .map((l) => l.slice(2));
    expect(hostLines.length).toBeGreaterThan(5);
    const mdLines = md.split('\n').map((l) => l.slice(1).trim());
    for (const l of hostLines) expect(mdLines).toContain(l.replace(/^[+-](?!\/)/, '').trim());
    for (const c of json.resource_changes.filter((c) => c.action !== 'noop')) expect(md).toContain(`\`${c.address}\``);
    for (const h of json.hosts.filter((h) => h.action !== 'noop')) expect(md).toMatch(new RegExp(`\\| \`${h.enforcer}\` \\|`));
    expect(md).toContain(human.split('\n').find((l) => l.startsWith('Plan: '))!);
    const txs = json.hosts.reduce((n, h) => n + (h.transactions ?? []).length, 0);
    expect(md).toContain(`Apply will run ${txs} transactions`);
  });

  it('tables escape what would break them, and diagnostics carry code and position', () => {
    const p: Plan = {
      ...plan,
      diagnostics: [{ severity: 'warning', code: 'MSEG8250', summary: 'a | b <script>', address: 'enforcer.web', file: 'main.hcl', line: 3, column: 7 }],
    };
    const md = renderPlanMarkdown(p);
    expect(md).toContain('| ⚠️ warning | `MSEG8250` | enforcer.web main.hcl:3:7 | a \\| b &lt;script&gt; |');
  });

  it('a plan with nothing to do says so and lists no host', () => {
    const noop: Plan = { ...plan, diagnostics: [], resource_changes: [], hosts: plan.hosts.map((h) => ({ ...h, action: 'noop', chains: [], sets: [], hooks: [], drift: [], orphans: [], transactions: [] })) };
    const md = renderPlanMarkdown(noop);
    expect(md).toMatch(/^## microseg plan: no changes\n/);
    expect(md).toContain('No changes. Hosts match the configuration.');
    expect(md).not.toContain('<details>');
    expect(md).toContain('Apply will send nothing to any host.');
  });

  it('a plan too long for a comment is cut with its fences closed, and says where the rest is', () => {
    const many = Array.from({ length: 400 }, (_, i) => ({ ...plan.hosts.find((h) => h.action === 'update')!, enforcer: `host-${String(i).padStart(3, '0')}` }));
    const md = renderPlanMarkdown({ ...plan, hosts: many }, 'big.plan');
    expect(md.length).toBeLessThan(MAX_CHARS);
    expect((md.match(/^```/gm) ?? []).length % 2).toBe(0);
    expect((md.match(/<details>/g) ?? []).length).toBe((md.match(/<\/details>/g) ?? []).length);
    expect(md).toContain('`microseg show big.plan` prints all of it.');
  });
});
