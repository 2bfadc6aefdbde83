/**
 * Every problem in one run (README): mistakes of every phase (syntax, evaluation, validation,
 * cross-references) are reported together, and what failed is unknown rather than missing, so
 * checks that depend on it are skipped instead of echoing the first error.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { BufferIo } from '../../../src/cli/io';
import { main } from '../../../src/cli/main';
import { evaluateHcl } from '../../../src/config/hcl';
import { validateConfig } from '../../../src/model/validate';

interface JsonDiag {
  severity: string;
  code: string;
  summary: string;
  file: string | null;
  line: number | null;
}

async function validateDir(files: Record<string, string>): Promise<{ code: number; diags: JsonDiag[]; dir: string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mseg-onerun-'));
  try {
    for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
    const io = new BufferIo();
    const code = await main(['node', 'microseg', 'validate', dir, '--json'], io);
    const doc = JSON.parse(io.stdout) as { diagnostics: JsonDiag[] };
    return { code, diags: doc.diagnostics, dir };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** at renders a diagnostic as `file:line CODE summary` with the file's base name. */
const at = (d: JsonDiag): string => `${path.basename(d.file ?? '-')}:${d.line ?? '-'} ${d.code} ${d.summary}`;

const MAIN = `namespace "/acme" {}

enforcer "web-1" {
  connection {
    type = "local"
  }
  tags = [var.undeclared]
}

processing_unit "web" {
  enforcer  = enforcer.web-1.name
  addresses = ["198.18.0.10"]
  tags      = ["app=web"]
}

processing_unit "db" {
  enforcer  = "db-9"
  namespace = "/nope"
  addresses = ["198.18.0.11"]
  tags      = ["app=db"]
}

processing_unit "api" {
  enforcer  = local.missing
  addresses = ["198.18.0.12"]
}

network_policy "web-db" {
  subject = [["app=web"]]
  object  = [["app=db"]]
  ports   = ["tcp/80/90"]
  acton   = "allow"
}

expect "web-db" {
  from    = "web"
  to      = "nosuch"
  port    = "tcp/5432"
  verdict = "allow"
}
`;

const BROKEN = `processing_unit "cache" {
  enforcer  = "web-1"
  addresses = ["198.18.0.13"]
  tags      = ["app=cache" "tier=x"]
}
`;

describe('one run reports every problem', () => {
  test('syntax, evaluation, validation and reference errors of independent mistakes, all at once', async () => {
    const r = await validateDir({ 'main.hcl': MAIN, 'broken.hcl': BROKEN });
    expect(r.code).toBe(1);
    expect(r.diags.map(at)).toEqual([
      'broken.hcl:4 MSEG1012 Expected "," or "]" in list, found string',
      'main.hcl:7 MSEG2002 Reference to undeclared input variable "undeclared"',
      'main.hcl:17 MSEG3052 Unknown enforcer "db-9"',
      'main.hcl:18 MSEG3050 Unknown namespace "/nope"',
      'main.hcl:24 MSEG2003 Reference to undeclared local value "missing"',
      'main.hcl:31 MSEG3010 Invalid service port "tcp/80/90"',
      'main.hcl:32 MSEG3002 Unknown attribute "acton" in network_policy "web-db"',
      'main.hcl:37 MSEG3054 Unknown to "nosuch" in expect "web-db"',
    ]);
  });

  test('what failed is unknown, not missing: no follow-on errors', () => {
    // api's enforcer failed to evaluate: no "missing enforcer". web names web-1's name although
    // web-1's tags failed. cache lost its tags to a syntax error: no "missing" or tag errors.
    const raw = evaluateHcl(
      [
        { name: 'main.hcl', text: MAIN },
        { name: 'broken.hcl', text: BROKEN },
      ],
      {},
    );
    const web = raw.resources.find((x) => x.name === 'web')!;
    expect(web.body.enforcer).toBe('web-1');
    expect(raw.resources.find((x) => x.name === 'api')!.unknown).toEqual(['enforcer']);
    expect(raw.resources.find((x) => x.name === 'cache')!.unknown).toEqual(['tags']);
    expect(raw.resources.find((x) => x.name === 'web-1')!.unknown).toEqual(['tags']);
    const v = validateConfig(raw);
    expect(v.model).toBeUndefined();
    expect(v.diagnostics.filter((d) => d.code === 'MSEG3003')).toEqual([]);
  });

  test('a for_each that failed makes its type\'s names unknown, and only references to that type go unchecked', () => {
    const raw = evaluateHcl(
      [
        {
          name: 'fleet.hcl',
          text: `enforcer "fleet" {
  for_each = var.hosts
  connection {
    type = "local"
  }
}

processing_unit "a" {
  enforcer  = "fleet[a]"
  namespace = "/nope"
  addresses = ["198.18.0.20"]
}
`,
        },
      ],
      {},
    );
    expect(raw.incomplete).toEqual(['enforcer']);
    const v = validateConfig(raw);
    expect(v.diagnostics.map((d) => `${d.line} ${d.code}`)).toEqual(['10 MSEG3050']);
  });

  test.each([
    ['lost to a syntax error', 'enforcer "e" = {', '1 MSEG1012'],
    ['with the wrong number of labels', 'enforcer "e" oops {', '1 MSEG2030'],
  ])('a resource block %s: references to its type are not reported, others are', (_, header, syntaxError) => {
    const raw = evaluateHcl(
      [
        {
          name: 'x.hcl',
          text: `${header}
  connection {
    type = "local"
  }
}

processing_unit "a" {
  enforcer  = "e"
  addresses = ["198.18.0.21"]
}

external_network "n" {
  entries = ["10.0.0.0/33"]
}

expect "x" {
  from    = "a"
  to      = "ghost"
  port    = "tcp/1"
  verdict = "allow"
}
`,
        },
      ],
      {},
    );
    const v = validateConfig(raw);
    expect(raw.diagnostics.map((d) => `${d.line} ${d.code}`)).toEqual([syntaxError]);
    expect(v.diagnostics.map((d) => `${d.line} ${d.code} ${d.summary}`)).toEqual([
      '13 MSEG3030 Invalid CIDR "10.0.0.0/33"',
      '18 MSEG3054 Unknown to "ghost" in expect "x"',
    ]);
  });
});
