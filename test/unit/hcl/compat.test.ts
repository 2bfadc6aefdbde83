/**
 * HCL that HashiCorp's parser accepts (or rejects) and microseg used to get wrong, found over
 * thousands of public files (issue 10 item 11). Syntax is compared with hcl2json in
 * differential.test.ts; this file pins what microseg does with it.
 */
import { brief, run, value } from './helpers';

const NFC_ANOS = 'a\u00f1os';
const NFD_ANOS = 'an\u0303os';

describe('splats as HCL nests them', () => {
  const pre = 'locals {\n  l = [{ b = [{ c = 1 }, { c = 2 }] }, { b = [{ c = 3 }] }]\n  m = [[1, 2], [3]]\n  y = [{ y = [{ z = 1 }, { z = 2 }] }, { y = [] }]\n  o = { a = 1 }\n  n = null\n}\n';

  test.each([
    ['local.l[*].b[*].c', [[1, 2], [3]]],
    ['local.m[*][*]', [[1, 2], [3]]],
    ['local.y[*].y.*.z', [[1, 2], []]],
    ['local.y.*.y[0]', [{ z: 1 }, { z: 2 }]],
    ['local.l[*].b[0].c', [1, 3]],
    ['local.o[*].a', [1]],
    ['local.n[*].a', []],
    ['[for x in local.l : x.b[*].c]', [[1, 2], [3]]],
  ])('%s', (expr, want) => {
    expect(value(expr, pre)).toEqual({ v: want, d: [] });
  });

  test('a missing attribute inside a splat is reported at the attribute', () => {
    expect(value('local.l[*].b[*].d', pre).d).toEqual(['10:27 MSEG2013 Unsupported attribute "d"']);
  });
});

describe('provider-defined functions', () => {
  test('parse, and calling one is an error at the call saying microseg has no providers', () => {
    const r = value('provider::aws::arn_parse("arn:aws:iam::1:role/x").account_id');
    expect(r.d).toEqual(['3:11 MSEG2006 Call to provider function "provider::aws::arn_parse"']);
    const cfg = run('output "o" {\n  value = provider::aws::arn_parse(var.nope)\n}\n');
    // The arguments are still evaluated, so their own mistakes are reported in the same run.
    expect(brief(cfg.diagnostics)).toEqual(['2:11 MSEG2006 Call to provider function "provider::aws::arn_parse"', '2:36 MSEG2002 Reference to undeclared input variable "nope"']);
    expect(cfg.diagnostics[0].detail).toMatch(/^microseg has no providers: provider-defined functions .* exist only in Terraform and OpenTofu/);
  });

  test('another namespace names the bare function when microseg has it', () => {
    const r = run('output "o" {\n  value = core::upper("x")\n}\n');
    expect(brief(r.diagnostics)).toEqual(['2:11 MSEG2006 Call to unknown function "core::upper"']);
    expect(r.diagnostics[0].detail).toBe("microseg's functions have no namespace: write upper(...).");
  });
});

describe('strings are NFC-normalised, as every HCL string is', () => {
  test('a decomposed literal equals the composed one', () => {
    expect(value(`"${NFD_ANOS}" == "${NFC_ANOS}"`)).toEqual({ v: true, d: [] });
    expect(value(`"${NFD_ANOS}"`).v).toBe(NFC_ANOS);
    expect(value('"n\\u0303"').v).toBe('\u00f1');
  });

  test('interpolation, functions, heredocs and object keys produce NFC', () => {
    expect(value('"${"n"}\\u0303"').v).toBe('\u00f1');
    expect(value('join("", ["n", "\\u0303"])').v).toBe('\u00f1');
    expect(value(`<<EOT\n${NFD_ANOS}\nEOT\n`).v).toBe(`${NFC_ANOS}\n`);
    expect(value(`{"${NFD_ANOS}" = 1}`).v).toEqual({ [NFC_ANOS]: 1 });
  });

  test('variable values from outside are normalised too', () => {
    const cfg = run('variable "v" {\n  type = string\n}\noutput "o" {\n  value = var.v\n}\n', { vars: { v: NFD_ANOS } });
    expect(cfg.outputs.o).toBe(NFC_ANOS);
  });

  test('a tag written decomposed matches one written composed', () => {
    const cfg = run(`processing_unit "p" {\n  enforcer = "e"\n  tags = ["team=${NFD_ANOS}"]\n}\n`);
    expect((cfg.resources[0].body.tags as string[])[0]).toBe(`team=${NFC_ANOS}`);
  });
});

describe('<<- heredocs strip leading whitespace as HCL does', () => {
  test.each([
    ['no-break spaces', '\u00a0\u00a0x\n\u00a0\u00a0\u00a0y\n', 'x\n\u00a0y\n'],
    ['ideographic space and tab', '\u3000\tx\n\u3000\t\ty\n', 'x\n\ty\n'],
    ['mixed kinds count as characters', ' \tx\n\t y\n', 'x\ny\n'],
    ['whitespace-only lines do not count and stay', '    x\n \n      y\n', 'x\n \n  y\n'],
    ['an interpolation at the start of a line means no indentation', '  x\n${"i"}\n', '  x\ni\n'],
  ])('%s', (_, body, want) => {
    expect(value(`<<-EOT\n${body}EOT\n`)).toEqual({ v: want, d: [] });
  });
});

describe('single-line blocks follow HCL', () => {
  test('one argument on one line is a block', () => {
    const cfg = run('enforcer "e" {\n  connection { type = "local" }\n  lifecycle { prevent_destroy = true }\n}\n');
    expect(cfg.diagnostics).toEqual([]);
    expect(cfg.resources[0].body).toEqual({ connection: { type: 'local' }, lifecycle: { prevent_destroy: true } });
  });

  test.each([
    ['a nested block', 'enforcer "e" { connection { type = "local" } }\n', '1:16 MSEG1018 Argument definition required', /To define a nested block, place it on a line of its own/],
    ['a second argument', 'enforcer "e" {\n  connection { type = "netns", netns = "x" }\n}\n', '2:30 MSEG1018 Invalid single-argument block definition', /one argument definition per line/],
    ['a close on another line', 'enforcer "e" {\n  connection { type = "local"\n  }\n}\n', '2:30 MSEG1018 Invalid single-argument block definition', /must also be closed on the same line/],
  ])('%s is rejected with HCL\'s message, and the rest of the file is still read', (_, text, want, detail) => {
    const cfg = run(`${text}namespace "/after" {}\n`);
    expect(brief(cfg.diagnostics)).toEqual([want]);
    expect(cfg.diagnostics[0].detail).toMatch(detail);
    expect(cfg.resources.map((r) => r.address)).toContain('namespace./after');
  });
});

describe('Terraform, Nomad and Packer blocks', () => {
  test('a file of them gets one "not a microseg resource type" per block, naming the tool', () => {
    const cfg = run(
      [
        'terraform {',
        '  required_version = ">= 1.5"',
        '}',
        'provider "aws" {',
        '  region = "eu-west-1"',
        '}',
        'resource "aws_instance" "x" {',
        '  ami = data.aws_ami.a.id',
        '}',
        'data "aws_ami" "a" {}',
        'module "m" {',
        '  source = "./m"',
        '}',
        'job "web" {',
        '  group "g" {}',
        '}',
        'source "amazon-ebs" "b" {}',
        '',
      ].join('\n'),
    );
    expect(brief(cfg.diagnostics)).toEqual([
      '1:1 MSEG3001 "terraform" is not a microseg resource type',
      '4:1 MSEG3001 "provider" is not a microseg resource type',
      '7:1 MSEG3001 "resource" is not a microseg resource type',
      '10:1 MSEG3001 "data" is not a microseg resource type',
      '11:1 MSEG3001 "module" is not a microseg resource type',
      '14:1 MSEG3001 "job" is not a microseg resource type',
      '17:1 MSEG3001 "source" is not a microseg resource type',
    ]);
    expect(cfg.diagnostics[2].detail).toMatch(/^resource "aws_instance" "x" \{ \.\.\. \} is a Terraform block\. microseg reads every \*\.hcl/);
    expect(cfg.diagnostics[5].detail).toMatch(/^job "web" \{ \.\.\. \} is a Nomad block/);
    expect(cfg.diagnostics[6].detail).toMatch(/is a Packer block/);
    expect(cfg.diagnostics[0].detail).toMatch(/microseg's blocks are: namespace, enforcer, .*, variable, locals, output, microseg\.$/);
    expect(cfg.resources).toEqual([]);
  });

  test('a microseg type written Terraform-style gets the spelling microseg expects', () => {
    const cfg = run('resource "network_policy" "web" {}\nresource "microseg_enforcer" "e" {}\n');
    expect(cfg.diagnostics.map((d) => d.detail?.split('\n')[0])).toEqual([
      'microseg resources are blocks of their own: write network_policy "web" { ... }.',
      'microseg resources are blocks of their own: write enforcer "e" { ... }.',
    ]);
  });

  test('a typo of a microseg type gets "did you mean", not a label-count error', () => {
    const cfg = run('network_polcy "a" "b" {}\n');
    expect(brief(cfg.diagnostics)).toEqual(['1:1 MSEG3001 "network_polcy" is not a microseg resource type']);
    expect(cfg.diagnostics[0].detail).toMatch(/^Did you mean "network_policy"\?/);
  });
});
