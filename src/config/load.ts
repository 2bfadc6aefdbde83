/**
 * loadConfig picks the front end for a configuration directory: `main.ts` means TypeScript,
 * otherwise every `*.hcl` / `*.hcl.json` file is read. Both at once is refused, since two sources
 * of truth for one set of hosts is how firewalls drift.
 */
import * as fs from 'fs';
import * as path from 'path';
import { makeDiagnostic } from '../diagnostics';
import type { RawConfig } from './types';
import { loadHclDir } from './hcl';
import { readInputFile } from './read-file';
import type { ProgressSink } from '../progress';

/** LoadOptions carries the variable inputs of the CLI (`--var`, `--var-file`, environment). */
export interface LoadOptions {
  vars?: Record<string, string>;
  varFiles?: string[];
  env?: NodeJS.ProcessEnv;
  /** Told as each HCL file is parsed. */
  progress?: ProgressSink;
}

function emptyConfig(): RawConfig {
  return { resources: [], outputs: {}, sources: new Map(), diagnostics: [] };
}

export async function loadConfig(dir: string, opts: LoadOptions = {}): Promise<RawConfig> {
  let entries: string[];
  try {
    if (!fs.statSync(dir).isDirectory()) throw new Error('not a directory');
    entries = fs.readdirSync(dir);
  } catch (e) {
    const cfg = emptyConfig();
    cfg.diagnostics.push(
      makeDiagnostic(
        'error',
        'MSEG0001',
        `Cannot read configuration directory "${dir}"`,
        `${(e as Error).message}. Pass the directory that holds your *.hcl files or main.ts, e.g. \`microseg validate examples/quickstart\`.`,
      ),
    );
    return cfg;
  }
  const hasTs = entries.includes('main.ts');
  const hasHcl = entries.some((f) => f.endsWith('.hcl') || f.endsWith('.hcl.json'));
  if (hasTs && hasHcl) {
    const cfg = emptyConfig();
    cfg.diagnostics.push(
      makeDiagnostic(
        'error',
        'MSEG0002',
        `Configuration directory "${dir}" holds both main.ts and *.hcl files`,
        'A configuration is written in one language. Move the HCL files or main.ts into a directory of their own.',
      ),
    );
    return cfg;
  }
  if (hasTs) {
    // The TypeScript loader hands main.ts to the compiler and jiti, which read it with blocking
    // reads of any size: check it here first (a FIFO would hang them, /dev/zero exhaust memory).
    const mainFile = path.join(dir, 'main.ts');
    const checked = readInputFile(mainFile, {
      what: 'configuration file',
      readErrorCode: 'MSEG4002',
      env: opts.env ?? process.env,
      splitHint: 'Split it into modules that main.ts imports.',
      notRegularHint: 'A TypeScript configuration is a main.ts file whose default export is a microseg App.',
    });
    if ('diagnostic' in checked) {
      const cfg = emptyConfig();
      cfg.diagnostics.push(checked.diagnostic);
      return cfg;
    }
    // Loaded only for TypeScript configurations: the loader pulls in the TypeScript compiler and
    // jiti (~65 MB of heap and ~0.2 s of start-up), which an HCL run never needs, and every
    // process microseg starts forks that heap.
    const { loadTypeScriptDir } = await import('./typescript/loader');
    const cfg = await loadTypeScriptDir(dir);
    // A program that did not compile or run synthesised only part of its resources, or none:
    // validation must not report references to the rest as undeclared.
    if (cfg.diagnostics.some((d) => d.severity === 'error')) cfg.incomplete = ['*'];
    if (opts.vars && Object.keys(opts.vars).length > 0) {
      cfg.diagnostics.push(
        makeDiagnostic('warning', 'MSEG0004', '--var has no effect on a TypeScript configuration', 'Read inputs with process.env in main.ts instead.'),
      );
    }
    return cfg;
  }
  if (!hasHcl) {
    const cfg = emptyConfig();
    cfg.diagnostics.push(
      makeDiagnostic(
        'error',
        'MSEG0003',
        `No configuration found in "${path.resolve(dir)}"`,
        'Expected *.hcl or *.hcl.json files, or a main.ts whose default export is a microseg App.',
      ),
    );
    return cfg;
  }
  return loadHclDir(dir, opts);
}
