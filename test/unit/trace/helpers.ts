/**
 * Helpers of the trace tests: models come from real HCL through the front end and validation
 * (what users write), compiled at a fixed instant. Extra HCL files are written beside a copy of
 * the quickstart, or alone, in a temporary directory per call.
 */
import * as fs from 'fs';
import * as path from 'path';
import { loadAndValidate } from '../../../src/cli/commands/common';
import { BufferIo } from '../../../src/cli/io';
import { main } from '../../../src/cli/main';
import { compile } from '../../../src/compile';
import type { DesiredRuleset } from '../../../src/compile/ir';
import type { Model } from '../../../src/model/types';
import { runTmpDir } from '../../support/tmp';

export const REPO = path.resolve(__dirname, '../../..');
export const QUICKSTART = path.join(REPO, 'examples/quickstart');
export const NOW = new Date('2025-01-15T12:00:00Z');

/** writeDir writes `files` into a fresh temp dir, after copying `base`'s *.hcl when given. */
export function writeDir(files: Record<string, string>, base?: string): string {
  const dir = runTmpDir('mseg-trace-');
  if (base) for (const f of fs.readdirSync(base)) if (f.endsWith('.hcl')) fs.copyFileSync(path.join(base, f), path.join(dir, f));
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  return dir;
}

/** load validates and compiles a directory, failing the test on any error. */
export async function load(dir: string): Promise<{ model: Model; rulesets: DesiredRuleset[] }> {
  const { model, diagnostics } = await loadAndValidate(dir, {});
  const errors = diagnostics.filter((d) => d.severity === 'error');
  if (!model || errors.length) throw new Error(`invalid test config ${dir}: ${JSON.stringify(errors, null, 2)}`);
  const compiled = compile(model, { now: NOW });
  const hostErrors = compiled.diagnostics.filter((d) => d.severity === 'error');
  if (hostErrors.length) throw new Error(`compile errors in ${dir}: ${JSON.stringify(hostErrors, null, 2)}`);
  return { model, rulesets: compiled.rulesets };
}

/** loadHcl is load() of HCL given as text. */
export function loadHcl(files: Record<string, string>, base?: string): Promise<{ model: Model; rulesets: DesiredRuleset[] }> {
  return load(writeDir(files, base));
}

/** run runs the CLI in process. */
export async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = new BufferIo();
  const code = await main(['node', 'microseg', ...args], io);
  return { code, out: io.stdout, err: io.stderr };
}

/** ruleById finds a rule of an enforcer's ruleset, to check that attributions name real rules. */
export function ruleById(rulesets: DesiredRuleset[], enforcer: string, chain: string, id: string) {
  return rulesets.find((r) => r.enforcer === enforcer)?.chains.find((c) => c.name === chain)?.rules.find((r) => r.id === id);
}

/** Two hosts, one namespace with reject defaults: the base of the hand-written scenarios. */
export const TWO_HOSTS = `
namespace "/t" {
  default_incoming_action = "reject"
  default_outgoing_action = "reject"
}
enforcer "h1" {
  namespace = "/t"
  connection { type = "local" }
}
enforcer "h2" {
  namespace = "/t"
  connection {
    type  = "netns"
    netns = "h2"
  }
}
processing_unit "a" {
  namespace = "/t"
  enforcer  = "h1"
  addresses = ["198.18.1.1"]
  tags      = ["app=a"]
}
processing_unit "b" {
  namespace = "/t"
  enforcer  = "h2"
  addresses = ["198.18.2.1", "2001:db8:2::1"]
  tags      = ["app=b"]
}
`;

/** The policies of issue 10's external network x1 (a PU's address): a may reach x1 and x1 may reach a, on tcp/80. */
export const X1_POLICIES = `
network_policy "a-x1" {
  namespace = "/t"
  subject   = "app=a"
  object    = "$name=x1"
  ports     = ["tcp/80"]
}
network_policy "x1-a" {
  namespace = "/t"
  subject   = "$name=x1"
  object    = "app=a"
  ports     = ["tcp/80"]
}
`;
