/**
 * Differential test: our parser against HashiCorp's (hcl2json: the Go HCL parser compiled to
 * WASM). Both parses are reduced to the same JSON shape: blocks nest by type and labels into
 * arrays of bodies, literal values stay values, and anything that needs evaluation becomes
 * "<expr>" (hcl2json keeps such expressions as source text, which we do not reproduce).
 */
import * as fs from 'fs';
import * as path from 'path';
import fc from 'fast-check';
import { parse as hcl2json } from '@cdktn/hcl2json';
import { parseHcl } from '../../../src/config/hcl';
import type { Body, Expr } from '../../../src/config/hcl';

type J = null | boolean | number | string | J[] | { [k: string]: J };

const EXPR = '<expr>';

function escapeLiteral(s: string): string {
  return s.replace(/\$\{/g, () => '$${').replace(/%\{/g, () => '%%{');
}

function ours(e: Expr): J {
  switch (e.kind) {
    case 'literal':
      return e.value;
    case 'unary':
      return e.op === '-' && e.operand.kind === 'literal' && typeof e.operand.value === 'number' ? -e.operand.value : EXPR;
    case 'template':
      if (e.parts.every((p) => p.kind === 'lit')) return escapeLiteral(e.parts.map((p) => (p.kind === 'lit' ? p.value : '')).join(''));
      if (e.parts.length === 1 && e.parts[0].kind === 'interp') return ours(e.parts[0].expr);
      return EXPR;
    case 'tuple':
      return e.items.map(ours);
    case 'object': {
      const o: { [k: string]: J } = {};
      for (const it of e.items) {
        const k = it.keyName ?? ours(it.key);
        o[typeof k === 'string' ? k : EXPR] = ours(it.value);
      }
      return o;
    }
    default:
      return EXPR;
  }
}

function bodyJson(b: Body): { [k: string]: J } {
  const out: { [k: string]: J } = {};
  for (const a of b.attributes) out[a.name] = ours(a.expr);
  for (const blk of b.blocks) {
    let cur = out as { [k: string]: J };
    const keys = [blk.type, ...blk.labels.map((l) => l.value)];
    for (let i = 0; i < keys.length - 1; i++) {
      cur[keys[i]] ??= {};
      cur = cur[keys[i]] as { [k: string]: J };
    }
    const last = keys[keys.length - 1];
    cur[last] ??= [];
    (cur[last] as J[]).push(bodyJson(blk.body));
  }
  return out;
}

function theirs(v: J): J {
  if (typeof v === 'string') {
    if (/(^|[^$])\$\{|(^|[^%])%\{/.test(v)) return EXPR;
    return v;
  }
  if (Array.isArray(v)) return v.map(theirs);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, theirs(x)]));
  return v;
}

async function compare(name: string, text: string): Promise<void> {
  const mine = parseHcl(name, text);
  expect(mine.diagnostics).toEqual([]);
  const ref = theirs((await hcl2json(name, text)) as J);
  expect(bodyJson(mine.file.body)).toEqual(ref);
}

const SAMPLES: [string, string][] = [
  [
    'literals',
    'a = 1\nb = 2.5\nc = 1e3\nd = -7\ne = true\nf = null\ng = "s"\nh = ""\ni = "\\u00e9\\t\\"x\\"\\\\"\nj = "$${lit} %%{lit} $ % ~"\n',
  ],
  ['collections', 'a = []\nb = {}\nc = [1, [2, [3]], {k = "v"}]\nd = {\n  x = 1\n  "y z" = 2, w: 3\n  n = { m = [] }\n}\ne = [\n  1,\n  2,\n]\n'],
  ['blocks', 'b {}\nr "x" "y" {\n  a = 1\n  inner { z = 1 }\n  inner {\n    z = 2\n  }\n}\nr "x" "z" {}\nr "x" "y" {\n  a = 2\n}\n'],
  ['heredocs', 'a = <<EOT\n  keep\n\nEOT\nb = <<-EOT\n    hi\n      \n      there\n    EOT\nc = <<-X\n\t\ta\n\t  b\n  X\nd = <<EOT\nEOT\n'],
  ['comments', '# one\n// two\n/* three\n   lines */ a = 1 # tail\nb = [ # c\n  1, /* d */ 2 // e\n]\n'],
  ['expressions', 'a = 1 + 2\nb = "x${var.y}z"\nc = [1, var.x]\nd = upper("x")\ne = "${true}"\nf = "${"lit"}"\ng = web-1.name\nh = [for x in l : x]\n'],
  // Found in public Terraform files that HashiCorp's parser accepts (issue 10 item 11).
  ['provider-defined functions', 'a = provider::aws::arn_parse("arn:aws:iam::1:role/x")\nb = core::upper("x")\nc = provider::ns::f(\n  1,\n  2,\n)\n'],
  ['splats', 'a = x[*].b[*].c\nb = x[*][*]\nc = x[*].y.*.z\nd = x.*.y[0]\ne = x.*.y.0.z\nf = x[*]["k"][0].z\n'],
  ['NFC strings', 'a = "an\u0303os"\nb = {"an\u0303" = "e\u0301"}\nc = <<EOT\nan\u0303os\nEOT\nd = "\\u006e\\u0303"\n'],
  ['heredoc indentation of Unicode spaces', 'a = <<-EOT\n\u00a0\u00a0x\n\u00a0\u00a0\u00a0y\n  EOT\nb = <<-EOT\n\u3000\tx\n\u3000\t\ty\n\nEOT\nc = <<-EOT\n\u2003a\n \u2003b\n \nEOT\n'],
  ['single-line blocks', 'b { x = 1 }\nc {}\nd "l" { y = [1,\n  2] }\ne { /* c */ z = "}" }\n'],
  ['terraform and nomad blocks (syntax)', 'resource "aws_instance" "x" {}\njob "x" {\n  group "g" {}\n}\nprovider "aws" {\n  region = "eu-west-1"\n}\nterraform {\n  required_version = ">= 1.5"\n}\nmodule "m" {\n  source = "./m"\n}\ndata "aws_ami" "a" {}\n'],
];

/** Inputs HashiCorp's parser rejects; microseg must reject them too (it accepted each once). */
const REJECTED: [string, string][] = [
  ['nested block in a single-line block', 'b { c {} }\n'],
  ['labelled nested block in a single-line block', 'b { c "l" {} }\n'],
  ['single-line block not closed on its line', 'b { x = 1\n}\n'],
  ['two arguments in a single-line block', 'b { x = 1, y = 2 }\n'],
  ['two arguments without a comma', 'b { x = 1 y = 2 }\n'],
  ['splat inside an attribute-only splat', 'a = x.*.y.*.z\n'],
  ['namespace without a function name', 'a = provider::aws::\n'],
  ['namespaced name without a call', 'a = provider::aws::f\n'],
];

describe('differential against hcl2json', () => {
  test.each(SAMPLES)('%s', async (name, text) => {
    await compare(`${name}.hcl`, text);
  });

  test.each(REJECTED)('both reject: %s', async (name, text) => {
    await expect(hcl2json(`${name}.hcl`, text)).rejects.toThrow();
    expect(parseHcl(`${name}.hcl`, text).diagnostics.filter((d) => d.severity === 'error').length).toBeGreaterThan(0);
  });

  test('examples/quickstart files', async () => {
    const dir = path.join(__dirname, '../../../examples/quickstart');
    const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.hcl')) : [];
    for (const f of files) await compare(f, fs.readFileSync(path.join(dir, f), 'utf8'));
  });

  test('generated corpus of literals, collections, blocks, heredocs and comments', async () => {
    const comment = fc.constantFrom('', '', '', ' # note', ' // note', ' /* c */');
    const strChar = fc.constantFrom('a', 'Z', ' ', '-', '.', '\\n', '\\t', '\\"', '\\\\', '\\u00e9', 'é', '😀', '$.', '%.', '~', '#', '//', ' {', '}', '$${x}', '%%{y}', 'n\u0303', 'e\\u0301', '\u212b');
    const str = fc.array(strChar, { maxLength: 8 }).map((cs) => `"${cs.join('')}"`);
    const num = fc.oneof(
      fc.nat({ max: 1_000_000 }).map(String),
      fc.tuple(fc.nat({ max: 999 }), fc.nat({ max: 99 })).map(([a, b]) => `${a}.${b}5`),
      fc.nat({ max: 20 }).map((e) => `1e${e}`),
      fc.nat({ max: 1000 }).map((n) => `-${n}`),
    );
    const scalar = fc.oneof(num, str, fc.constantFrom('true', 'false', 'null'));
    const ident = fc.constantFrom('k', 'key', 'web-1', 'a_b', 'x9');
    const { value } = fc.letrec<{ value: string; list: string; obj: string }>((tie) => ({
      value: fc.oneof({ maxDepth: 3, depthIdentifier: 'v' }, scalar, scalar, tie('list'), tie('obj')),
      list: fc
        .tuple(fc.array(tie('value'), { maxLength: 4 }), fc.boolean(), fc.boolean())
        .map(([items, nl, trailing]) => {
          const sep = nl ? ',\n' : ', ';
          return `[${nl ? '\n' : ''}${items.join(sep)}${trailing && items.length ? ',' : ''}${nl ? '\n' : ''}]`;
        }),
      obj: fc
        .tuple(fc.uniqueArray(fc.tuple(ident, tie('value'), fc.constantFrom(' = ', ': ', ' = '), fc.boolean()), { maxLength: 4, selector: (x) => x[0] }), fc.boolean())
        .map(([items, nl]) => {
          const rendered = items.map(([k, v, eq, quote]) => `${quote ? `"${k}"` : k}${eq}${v}`);
          return nl ? `{\n${rendered.join('\n')}\n}` : `{${rendered.join(', ')}}`;
        }),
    }));
    const heredoc = fc
      .tuple(
        fc.boolean(),
        // Indentation of any Unicode spaces: HCL strips every leading whitespace character.
        fc.array(fc.tuple(fc.array(fc.constantFrom(' ', ' ', '\t', '\u00a0', '\u3000'), { maxLength: 4 }).map((cs) => cs.join('')), fc.constantFrom('x', 'a b', '', '$${lit}', 'tab\there', '"q"', 'an\u0303')), { maxLength: 4 }),
        fc.nat({ max: 3 }),
      )
      .map(([strip, lines, endIndent]) => `<<${strip ? '-' : ''}EOT\n${lines.map(([ind, t]) => ind + t + '\n').join('')}${' '.repeat(endIndent)}EOT`);
    const attr = fc.tuple(fc.oneof(value, value, heredoc), comment).map(([v, c]) => `${v}${v.startsWith('<<') ? '' : c}`);
    const body = (depth: number): fc.Arbitrary<string> =>
      fc
        .tuple(
          fc.uniqueArray(fc.tuple(fc.constantFrom('a0', 'a1', 'a2', 'a3', 'n-1'), attr), { maxLength: 5, selector: (x) => x[0] }),
          depth > 0
            ? fc.array(
                fc.tuple(
                  // hcl2json's JSON cannot mix label counts within one block type, so each type has a fixed count.
                  fc.constantFrom<[string, number]>(['b0', 0], ['b1', 1], ['b2', 2]),
                  fc.array(fc.constantFrom('"l1"', '"l2"', 'id'), { minLength: 2, maxLength: 2 }),
                  body(depth - 1),
                ).map(([[t, n], labels, inner]): [string, string[], string] => [t, labels.slice(0, n), inner]),
                { maxLength: 3 },
              )
            : fc.constant([] as [string, string[], string][]),
          comment,
        )
        .map(([attrs, blocks, c]) => {
          const lines = attrs.map(([n, v]) => `${n} = ${v}`);
          for (const [t, labels, inner] of blocks) lines.push(`${t} ${labels.join(' ')}${labels.length ? ' ' : ''}{${c}\n${inner}}`);
          return lines.map((l) => `${l}\n`).join('');
        });
    await fc.assert(
      fc.asyncProperty(body(2), async (text) => {
        await compare('gen.hcl', text);
      }),
      { seed: 20240611, numRuns: 200 },
    );
  });
});
