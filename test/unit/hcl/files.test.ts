/**
 * What the loaders read: only regular files (and links to them), never more than the size limit,
 * and never blocking. Each case used to hang, exhaust memory or pass as "valid".
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { BufferIo } from '../../../src/cli/io';
import { main } from '../../../src/cli/main';
import { loadHclDir } from '../../../src/config/hcl';
import { loadConfig } from '../../../src/config/load';
import { DEFAULT_MAX_FILE_BYTES, LIMIT_ENV, readInputFile } from '../../../src/config/read-file';
import { brief } from './helpers';

const ENFORCER = 'enforcer "e" {\n  connection {\n    type = "local"\n  }\n}\n';

describe('reading input files', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mseg-files-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const codes = (ds: { code: string }[]): string[] => ds.map((d) => d.code);

  test('a FIFO named *.hcl is an error at once, not a hang', () => {
    fs.writeFileSync(path.join(dir, 'a.hcl'), ENFORCER);
    execFileSync('mkfifo', [path.join(dir, 'b.hcl')]);
    const cfg = loadHclDir(dir, {});
    expect(brief(cfg.diagnostics)).toEqual([`-:- MSEG0005 Configuration file "${path.join(dir, 'b.hcl')}" is a FIFO (named pipe)`]);
    expect(cfg.diagnostics[0].file).toBe(path.join(dir, 'b.hcl'));
    expect(cfg.diagnostics[0].detail).toMatch(/only regular files .*rename it or move it/);
    // The regular file beside it is still read.
    expect(cfg.resources.map((r) => r.name)).toEqual(['e']);
  });

  test('a symbolic link to /dev/zero is refused, naming the link', () => {
    fs.symlinkSync('/dev/zero', path.join(dir, 'zero.hcl'));
    const cfg = loadHclDir(dir, {});
    expect(brief(cfg.diagnostics)).toEqual([`-:- MSEG0005 Configuration file "${path.join(dir, 'zero.hcl')}" is a character device (through a symbolic link)`]);
  });

  test('a directory named a.hcl is an error, so a directory holding only it is not "valid"', async () => {
    fs.mkdirSync(path.join(dir, 'a.hcl'));
    const cfg = await loadConfig(dir, {});
    expect(brief(cfg.diagnostics)).toEqual([`-:- MSEG0005 Configuration file "${path.join(dir, 'a.hcl')}" is a directory`]);
  });

  test('a symbolic link to a regular file is read like the file', () => {
    const shared = fs.mkdtempSync(path.join(os.tmpdir(), 'mseg-shared-'));
    try {
      fs.writeFileSync(path.join(shared, 'enforcers.hcl'), ENFORCER);
      fs.symlinkSync(path.join(shared, 'enforcers.hcl'), path.join(dir, 'enforcers.hcl'));
      const cfg = loadHclDir(dir, {});
      expect(cfg.diagnostics).toEqual([]);
      expect(cfg.resources.map((r) => r.name)).toEqual(['e']);
    } finally {
      fs.rmSync(shared, { recursive: true, force: true });
    }
  });

  test('a file over the limit is refused with the file, the limit and how to split or raise it', () => {
    fs.writeFileSync(path.join(dir, 'big.hcl'), `# ${'x'.repeat(3000)}\n`);
    fs.writeFileSync(path.join(dir, 'small.hcl'), ENFORCER);
    const cfg = loadHclDir(dir, { env: { [LIMIT_ENV]: '2K' } });
    expect(brief(cfg.diagnostics)).toEqual([`-:- MSEG0006 Configuration file "${path.join(dir, 'big.hcl')}" is larger than 2 KiB (2.9 KiB)`]);
    const detail = cfg.diagnostics[0].detail ?? '';
    expect(detail).toMatch(/at most 2 KiB/);
    expect(detail).toMatch(/Split it into several files in the same directory/);
    expect(detail).toMatch(new RegExp(`${LIMIT_ENV}=\\d+M`));
    expect(cfg.resources.map((r) => r.name)).toEqual(['e']);
  });

  test('the default limit is 16 MiB and an unusable limit is an error', () => {
    expect(DEFAULT_MAX_FILE_BYTES).toBe(16 * 1024 * 1024);
    fs.writeFileSync(path.join(dir, 'a.hcl'), ENFORCER);
    const cfg = loadHclDir(dir, { env: { [LIMIT_ENV]: 'lots' } });
    expect(codes(cfg.diagnostics)).toEqual(['MSEG0007']);
    expect(cfg.diagnostics[0].detail).toMatch(/for example MICROSEG_MAX_FILE_BYTES=64M/);
  });

  test('var files: FIFOs and oversized files are refused like configuration files', () => {
    fs.writeFileSync(path.join(dir, 'a.hcl'), 'variable "x" {\n  default = 1\n}\n');
    execFileSync('mkfifo', [path.join(dir, 'vals.fifo')]);
    const big = path.join(dir, 'big.tfvars');
    fs.writeFileSync(big, `x = "${'y'.repeat(5000)}"\n`);
    const cfg = loadHclDir(dir, { varFiles: [path.join(dir, 'vals.fifo'), big], env: { [LIMIT_ENV]: '4K' } });
    expect(brief(cfg.diagnostics)).toEqual([
      `-:- MSEG0005 Var file "${path.join(dir, 'vals.fifo')}" is a FIFO (named pipe)`,
      `-:- MSEG0006 Var file "${big}" is larger than 4 KiB (4.9 KiB)`,
    ]);
    expect(cfg.diagnostics[1].detail).toMatch(/each given with its own --var-file/);
  });

  test('main.ts that is a FIFO is refused before the TypeScript loader opens it', async () => {
    execFileSync('mkfifo', [path.join(dir, 'main.ts')]);
    const cfg = await loadConfig(dir, {});
    expect(brief(cfg.diagnostics)).toEqual([`-:- MSEG0005 Configuration file "${path.join(dir, 'main.ts')}" is a FIFO (named pipe)`]);
  });

  test('migrate refuses a FIFO import file and writes nothing', async () => {
    const fifo = path.join(dir, 'import.yaml');
    execFileSync('mkfifo', [fifo]);
    const io = new BufferIo();
    const code = await main(['node', 'microseg', 'migrate', fifo], io);
    expect(code).toBe(1);
    expect(io.stderr).toMatch(/Import file ".*import\.yaml" is a FIFO \(named pipe\) \[MSEG0005\]/);
    expect(io.stdout).toBe('');
  });

  test('a file of exactly the limit is read; one byte more is refused', () => {
    const f = path.join(dir, 'grow.hcl');
    fs.writeFileSync(f, 'a'.repeat(100));
    const r = readInputFile(f, { what: 'configuration file', readErrorCode: 'X', splitHint: '', notRegularHint: '', maxBytes: 99 });
    expect('diagnostic' in r && r.diagnostic.code).toBe('MSEG0006');
    const ok = readInputFile(f, { what: 'configuration file', readErrorCode: 'X', splitHint: '', notRegularHint: '', maxBytes: 100 });
    expect('text' in ok && ok.text.length).toBe(100);
  });
});
