/**
 * examples/typescript/main.ts is the quickstart policy in TypeScript. Both front ends must hand
 * validation the same resources, and `inspect` must print the same text for both, byte for byte.
 *
 * The HCL front end, validation and inspect are other modules; they are required at run time so
 * that a missing one fails this test with a message that says which, instead of being skipped.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { RawConfig } from '../../../src/config/types';
import type { Model } from '../../../src/model/types';
import type { Diagnostic } from '../../../src/diagnostics';
import { loadTypeScriptDir } from '../../../src/config/typescript/loader';

const ROOT = path.resolve(__dirname, '..', '..', '..');

/** need loads a module of the repo, failing with a clear message when it does not exist yet. */
function need<T>(rel: string): T {
  const abs = path.join(ROOT, rel);
  if (!fs.existsSync(`${abs}.ts`) && !fs.existsSync(path.join(abs, 'index.ts'))) {
    throw new Error(`${rel} does not exist: the HCL/TypeScript equivalence cannot be checked without it`);
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(abs) as T;
}

type LoadHclDir = (dir: string) => Promise<RawConfig> | RawConfig;
type ValidateConfig = (raw: RawConfig) => { model?: Model; diagnostics: Diagnostic[] };
type InspectJson = (model: Model) => string;

function shape(cfg: RawConfig): unknown {
  return {
    resources: [...cfg.resources]
      .map((r) => ({ type: r.type, name: r.name, address: r.address, body: r.body, blockKeys: [...(r.blockKeys ?? [])].sort() }))
      .sort((a, b) => a.address.localeCompare(b.address)),
    outputs: cfg.outputs,
  };
}

const errorsOf = (cfg: { diagnostics: Diagnostic[] }): Diagnostic[] => cfg.diagnostics.filter((d) => d.severity === 'error');

describe('examples/typescript is examples/quickstart', () => {
  let hcl: RawConfig;
  let ts: RawConfig;

  beforeAll(async () => {
    const { loadHclDir } = need<{ loadHclDir: LoadHclDir }>('src/config/hcl');
    hcl = await loadHclDir(path.join('examples', 'quickstart'));
    ts = await loadTypeScriptDir(path.join('examples', 'typescript'));
  });

  test('both front ends load without errors', () => {
    expect(errorsOf(hcl)).toEqual([]);
    expect(errorsOf(ts)).toEqual([]);
  });

  test('both front ends produce the same resources and outputs', () => {
    expect(shape(ts)).toEqual(shape(hcl));
  });

  test('inspect prints the same model, byte for byte', () => {
    const { validateConfig } = need<{ validateConfig: ValidateConfig }>('src/model/validate');
    const { inspectJson } = need<{ inspectJson: InspectJson }>('src/model/inspect');
    const a = validateConfig(hcl);
    const b = validateConfig(ts);
    expect(errorsOf(a)).toEqual([]);
    expect(errorsOf(b)).toEqual([]);
    const textA = inspectJson(a.model!);
    const textB = inspectJson(b.model!);
    expect(typeof textA).toBe('string');
    expect(textB).toBe(textA);
  });
});
