/**
 * loadHclDir is the I/O edge of the HCL front end: it reads a directory's `*.hcl` and `*.hcl.json`
 * files and the var files, then hands their text to the pure `evaluateHcl`.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { Diagnostic } from '../../diagnostics';
import type { RawConfig } from '../types';
import { maxFileBytes, readInputFile } from '../read-file';
import type { ProgressSink } from '../../progress';
import { Codes } from './codes';
import { evaluateHcl, type HclInputs } from './config';

/** LoadHclOptions are the CLI's variable inputs; `varFiles` are paths. */
export interface LoadHclOptions {
  vars?: Record<string, string>;
  varFiles?: string[];
  env?: NodeJS.ProcessEnv;
  progress?: ProgressSink;
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
  const varFiles: { name: string; text: string }[] = [];
  const unreadable: string[] = [];
  const limit = maxFileBytes(opts.env ?? process.env);
  if (typeof limit !== 'number') {
    diags.push(limit.diagnostic);
  } else {
    let names: string[] = [];
    try {
      // Every entry with a configuration name, whatever its type: a directory or FIFO named
      // a.hcl is reported by readInputFile instead of being skipped (or hanging).
      names = fs
        .readdirSync(dir)
        .filter((n) => isHclFile(n))
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
      const r = readInputFile(p, {
        what: 'configuration file',
        readErrorCode: Codes.readError,
        maxBytes: limit,
        splitHint: 'Split it into several files in the same directory (microseg reads every *.hcl and *.hcl.json file there).',
        notRegularHint: 'Every *.hcl and *.hcl.json entry of a configuration directory is read: rename it or move it out of the directory.',
      });
      if ('text' in r) files.push({ name: p, text: r.text });
      else {
        diags.push(r.diagnostic);
        unreadable.push(p);
      }
    }
    for (const vf of opts.varFiles ?? []) {
      const r = readInputFile(vf, {
        what: 'var file',
        readErrorCode: Codes.readError,
        maxBytes: limit,
        splitHint: 'Split the values over several files, each given with its own --var-file.',
        notRegularHint: 'Check the --var-file path; it must name a file of name = value lines or a JSON object.',
      });
      if ('text' in r) varFiles.push({ name: vf, text: r.text });
      else diags.push({ ...r.diagnostic, detail: `${r.diagnostic.detail ?? ''}${r.diagnostic.code === Codes.readError ? '. Check the --var-file path.' : ''}` });
    }
  }
  const inputs: HclInputs = { vars: opts.vars ?? {}, varFiles, env: opts.env ?? {}, unreadable, progress: opts.progress };
  const cfg = evaluateHcl(files, inputs);
  cfg.diagnostics.unshift(...diags);
  return cfg;
}
