/**
 * Progress of long work (issue 10, "smaller truths"): `validate` of a large directory and
 * `plan`/`apply` over many hosts draw one redrawn line on stderr when stderr is a terminal and the
 * output is not --json; otherwise nothing extra is printed at all. Checked in process by injecting
 * the terminal flag (Io.errIsTTY, with the fake firewall for hosts), and end to end under a real
 * pseudo-terminal (`script`) against the same command with stderr a pipe.
 */
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { FakeFirewall } from '../../../providers/fake';
import { BufferIo } from '../../../src/cli/io';
import { main } from '../../../src/cli/main';
import { progressLine, terminalProgress } from '../../../src/cli/views/progress';

const repo = path.resolve(__dirname, '../../..');
const ERASE = '\r\x1b[K';
/** withoutProgress removes what the progress line draws: every erase and the text drawn after it up to the next line break or erase. */
const withoutProgress = (s: string) => s.replace(/\r\x1b\[K[^\r\n\x1b]*/g, '');

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

/** project writes `hosts` netns enforcers, each with one PU, in `files` HCL files. */
function project(hosts: number, files: number): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mseg-progress-'));
  dirs.push(dir);
  const blocks: string[][] = Array.from({ length: files }, () => []);
  for (let h = 0; h < hosts; h++) {
    blocks[h % files].push(
      `enforcer "h${h}" {\n  backend = "nftables"\n  connection {\n    type  = "netns"\n    netns = "prog-h${h}"\n  }\n}\n` +
        `processing_unit "p${h}" {\n  enforcer  = "h${h}"\n  addresses = ["198.18.${h}.1"]\n  tags      = ["app=p${h}"]\n}\n`,
    );
  }
  blocks[0].push('network_policy "all" {\n  subject = [["app=*"]]\n  object  = [["app=*"]]\n  ports   = ["tcp/80"]\n}\n');
  blocks.forEach((b, i) => fs.writeFileSync(path.join(dir, `f${String(i).padStart(3, '0')}.hcl`), b.join('')));
  return dir;
}

async function run(args: string[], tty: boolean, fake?: FakeFirewall): Promise<{ code: number; out: string; err: string }> {
  const io = new BufferIo();
  io.errIsTTY = tty;
  const code = await main(['node', 'microseg', ...args], io, fake ? { connect: (c) => fake.connect(c) } : {});
  return { code, out: io.stdout, err: io.stderr };
}

function fleet(hosts: number): FakeFirewall {
  const fake = new FakeFirewall();
  // Each host holds its PU's address (host facts): its PU is local, as on a real fleet.
  for (let h = 0; h < hosts; h++) fake.addHost(`prog-h${h}`, { detect: 'nftables', addresses: [`198.18.${h}.1`] });
  return fake;
}

describe('terminalProgress', () => {
  it('draws and erases one line on a terminal, and does nothing otherwise or with --json', () => {
    for (const [tty, json] of [
      [false, false],
      [true, true],
      [false, true],
    ] as const) {
      const io = new BufferIo();
      io.errIsTTY = tty;
      const p = terminalProgress(io, json);
      p.report({ phase: 'refresh', done: 1, total: 3, item: 'h1' });
      p.clear();
      expect(p.enabled).toBe(false);
      expect(io.stderr + io.stdout).toBe('');
    }
    const io = new BufferIo();
    io.errIsTTY = true;
    const p = terminalProgress(io, false);
    p.report({ phase: 'refresh', done: 1, total: 3, item: 'h1' });
    p.report({ phase: 'refresh', done: 2, total: 3, item: 'h2' });
    p.clear();
    p.clear(); // nothing drawn since: nothing to erase
    expect(io.stderr).toBe(`${ERASE}Reading hosts 1/3 · h1…${ERASE}Reading hosts 2/3 · h2…${ERASE}`);
    expect(io.stdout).toBe('');
  });

  it('keeps the line within a terminal width', () => {
    expect(progressLine({ phase: 'parse', done: 1, total: 2, item: 'x'.repeat(200) }).length).toBeLessThanOrEqual(78);
    expect(progressLine({ phase: 'validate', done: 0, total: 120 })).toBe('Validating 120 resources…');
  });
});

describe('validate of a large directory', () => {
  it('counts files on a terminal, and prints exactly the same without one or with --json', async () => {
    const dir = project(40, 40);
    const tty = await run(['validate', dir], true);
    const pipe = await run(['validate', dir], false);
    expect(tty.code).toBe(0);
    expect(tty.err).toContain(`${ERASE}Reading configuration 0/40 · ${path.join(dir, 'f000.hcl')}…`);
    expect(tty.err).toContain(`Reading configuration 39/40`);
    expect(tty.err).toContain(`${ERASE}Validating 81 resources…`);
    expect(tty.err.endsWith(ERASE)).toBe(true); // erased before the result is printed
    expect(pipe.err).toBe('');
    expect(tty.out).toBe(pipe.out);
    expect(withoutProgress(tty.err)).toBe(pipe.err);
    const json = await run(['validate', dir, '--json'], true);
    expect(json.err).toBe('');
    expect(JSON.parse(json.out).valid).toBe(true);
  });
});

describe('plan and apply over many hosts', () => {
  it('count hosts read and applied on a terminal; identical output otherwise', async () => {
    const dir = project(12, 3);
    const tty = await run(['plan', dir], true, fleet(12));
    const pipe = await run(['plan', dir], false, fleet(12));
    expect(tty.code).toBe(0);
    expect(tty.err).toContain(`${ERASE}Reading hosts 0/12…`);
    expect(tty.err).toContain('Reading hosts 12/12 · h');
    expect(tty.out).toBe(pipe.out);
    expect(withoutProgress(tty.err)).toBe(pipe.err);
    expect(pipe.err).not.toContain('\x1b');

    // apply: its per-host lines go to stdout as before; the count stays on stderr, erased
    // around each of them, so a terminal shows clean lines.
    // Each apply in a project of its own: the first one's state must not meet the second fleet.
    const applyTty = await run(['apply', project(12, 3), '--auto-approve'], true, fleet(12));
    const applyPipe = await run(['apply', project(12, 3), '--auto-approve'], false, fleet(12));
    expect(applyTty.code).toBe(0);
    expect(applyTty.err).toMatch(/Applying \d+\/12 · h\d+…/);
    expect(applyTty.err.endsWith(ERASE)).toBe(true);
    expect(withoutProgress(applyTty.err)).toBe(withoutProgress(applyPipe.err));
    expect(applyPipe.err).not.toContain('\x1b');
    // Hosts are applied in parallel, so their lines come in any order: compare them sorted.
    const strip = (s: string) =>
      s
        .replace(/fingerprint [0-9a-f]+/g, 'fingerprint F')
        .replace(/run [0-9a-f-]+/g, 'run R')
        .split('\n')
        .sort()
        .join('\n');
    expect(strip(applyTty.out)).toBe(strip(applyPipe.out));

    const json = await run(['plan', dir, '--json'], true, fleet(12));
    expect(json.err).toBe('');
    expect(() => JSON.parse(json.out)).not.toThrow();
  });
});

describe('under a real pseudo-terminal', () => {
  const runner = (dir: string) =>
    `const { createJiti } = require('jiti'); const j = createJiti(${JSON.stringify(path.join(repo, 'x.js'))});` +
    `j.import(${JSON.stringify(path.join(repo, 'src/cli/main.ts'))}).then((m) => m.main(['node', 'microseg', 'validate', ${JSON.stringify(dir)}])).then((c) => { process.exitCode = c; });`;

  it('draws progress when stderr is a terminal, and nothing when it is a pipe', () => {
    try {
      execFileSync('script', ['--version'], { stdio: 'ignore' });
    } catch {
      throw new Error('script (bsdutils) is missing: scripts/setup-system.sh installs it');
    }
    const dir = project(30, 30);
    const js = runner(dir);
    // script gives the child a pseudo-terminal for stdin, stdout and stderr.
    const pty = spawnSync('script', ['-qec', `${process.execPath} -e ${shq(js)}`, '/dev/null'], { cwd: repo, encoding: 'utf8', timeout: 600_000 });
    expect(pty.status).toBe(0);
    expect(pty.stdout).toContain(`${ERASE}Reading configuration 29/30`);
    expect(pty.stdout).toContain('Success! The configuration is valid');
    const pipe = spawnSync(process.execPath, ['-e', js], { cwd: repo, encoding: 'utf8', timeout: 600_000 });
    expect(pipe.status).toBe(0);
    expect(pipe.stderr).toBe('');
    expect(pipe.stdout).toMatch(/^Success! The configuration is valid/);
  }, 600_000);
});

function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
