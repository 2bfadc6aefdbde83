/** readSettings: the I/O edge of settings.ts. */
import * as fs from 'fs';
import * as path from 'path';
import { makeDiagnostic, type Diagnostic } from '../diagnostics';
import { Codes as HclCodes } from './hcl/codes';
import { parseHcl } from './hcl/parse';
import { hclSettingsBlock, settingsFromRaw, SettingsCodes, type RawSettingsBlock, type Settings } from './settings';

/**
 * readSettings finds the settings of the configuration in `dir` without evaluating it: for HCL the
 * files are parsed only (a syntax error anywhere is reported, since it may hide the block); for a
 * TypeScript configuration the program is loaded. Errors mean: choose no backend, touch nothing.
 */
export async function readSettings(dir: string): Promise<{ settings?: Settings; diagnostics: Diagnostic[]; sources: Map<string, string> }> {
  const sources = new Map<string, string>();
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (e) {
    return { diagnostics: [makeDiagnostic('error', 'MSEG0001', `Cannot read configuration directory "${dir}"`, (e as Error).message)], sources };
  }
  if (names.includes('main.ts')) {
    const { loadConfig } = await import('./load');
    const cfg = await loadConfig(dir);
    for (const [k, v] of cfg.sources) sources.set(k, v);
    const errors = cfg.diagnostics.filter((d) => d.severity === 'error');
    if (cfg.settings) return { settings: cfg.settings, diagnostics: errors, sources };
    return { diagnostics: errors.length ? errors : [makeDiagnostic('error', SettingsCodes.invalidBlock, 'Cannot read the settings of the TypeScript configuration', 'Fix the errors of main.ts first.')], sources };
  }
  const diagnostics: Diagnostic[] = [];
  const blocks: RawSettingsBlock[] = [];
  for (const n of names.filter((x) => x.endsWith('.hcl') || x.endsWith('.hcl.json')).sort()) {
    const p = path.join(dir, n);
    let text: string;
    try {
      text = fs.readFileSync(p, 'utf8');
    } catch (e) {
      diagnostics.push(makeDiagnostic('error', HclCodes.readError, `Cannot read configuration file ${p}`, (e as Error).message));
      continue;
    }
    // Only files that mention the block are parsed: most of a large configuration never does.
    if (!text.includes('microseg')) continue;
    sources.set(p, text);
    const parsed = parseHcl(p, text);
    diagnostics.push(...parsed.diagnostics.filter((d) => d.severity === 'error'));
    for (const blk of parsed.file.body.blocks) if (blk.type === 'microseg') blocks.push(hclSettingsBlock(blk, diagnostics));
  }
  const r = settingsFromRaw(blocks);
  diagnostics.push(...r.diagnostics);
  return diagnostics.length ? { diagnostics, sources } : { settings: r.settings, diagnostics, sources };
}

