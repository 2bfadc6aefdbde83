/**
 * loadHclDir is the I/O edge of the HCL front end: it reads a directory's `*.hcl` and `*.hcl.json`
 * files and the var files, then hands their text to the pure `evaluateHcl`.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { Diagnostic } from '../../diagnostics';
import type { RawConfig } from '../types';
import { Codes } from './codes';
import { evaluateHcl, type HclInputs } from './config';

/** LoadHclOptions are the CLI's variable inputs; `varFiles` are paths. */
export interface LoadHclOptions {
  vars?: Record<string, string>;
  varFiles?: string[];
  env?: NodeJS.ProcessEnv;
}

/** isHclFile says whether a directory entry belongs to an HCL configuration. */
export function isHclFile(name: string): boolean {
  return name.endsWith('.hcl') || name.endsWith('.hcl.json');
}

/**
 * loadHclDir reads the configuration in `dir`. File names in positions are `path.join(dir, name)`,
 * i.e. relative exactly as the user wrote the directory, so messages point where they look.
 */
export function loadHclDir(dir: string, opts: LoadHclOptions = {}): RawConfig {
  const diags: Diagnostic[] = [];
  const files: { name: string; text: string }[] = [];
  let names: string[] = [];
  try {
    names = fs
      .readdirSync(dir, { withFileTypes: true })
      .filter((e) => !e.isDirectory() && isHclFile(e.name))
      .map((e) => e.name)
      .sort();
  } catch (e) {
    diags.push({
      severity: 'error',
      code: Codes.readError,
      summary: `Cannot read configuration directory "${dir}"`,
      detail: `${(e as Error).message}. Pass the directory holding your *.hcl files.`,
    });
  }
  for (const n of names) {
    const p = path.join(dir, n);
    try {
      files.push({ name: p, text: fs.readFileSync(p, 'utf8') });
    } catch (e) {
      diags.push({ severity: 'error', code: Codes.readError, summary: `Cannot read "${p}"`, detail: (e as Error).message, file: p });
    }
  }
  const varFiles: { name: string; text: string }[] = [];
  for (const vf of opts.varFiles ?? []) {
    try {
      varFiles.push({ name: vf, text: fs.readFileSync(vf, 'utf8') });
    } catch (e) {
      diags.push({ severity: 'error', code: Codes.readError, summary: `Cannot read var file "${vf}"`, detail: `${(e as Error).message}. Check the --var-file path.` });
    }
  }
  const inputs: HclInputs = { vars: opts.vars ?? {}, varFiles, env: opts.env ?? {} };
  const cfg = evaluateHcl(files, inputs);
  cfg.diagnostics.unshift(...diags);
  return cfg;
}
