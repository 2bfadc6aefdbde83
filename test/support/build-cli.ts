/**
 * buildOnce compiles the repository with tsc into a temp directory (once per test process) so a
 * test can run microseg as a real child process: what `kill -9` and "two runners" need. Type
 * errors elsewhere in a work tree do not stop it (tsc emits regardless); a missing output does.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { runTmpDir } from './tmp';

const REPO = path.resolve(__dirname, '../..');
let built: { root: string; mainJs: string } | undefined;

export function buildOnce(): { root: string; mainJs: string } {
  if (built) return built;
  // Under the run's own temporary directory, which jest's global teardown removes (run-tmp.js);
  // the exit hook covers a use outside jest.
  const root = runTmpDir('mseg-build-');
  process.once('exit', () => fs.rmSync(root, { recursive: true, force: true }));
  spawnSync(process.execPath, [path.join(REPO, 'node_modules/typescript/bin/tsc'), '-p', path.join(REPO, 'tsconfig.json'), '--outDir', root, '--incremental', 'false'], {
    cwd: REPO,
    stdio: 'ignore',
  });
  // src/version.ts reads the release from the package.json above it.
  fs.copyFileSync(path.join(REPO, 'package.json'), path.join(root, 'package.json'));
  const mainJs = path.join(root, 'src/cli/main.js');
  if (!fs.existsSync(mainJs)) throw new Error(`tsc did not produce ${mainJs}`);
  built = { root, mainJs };
  return built;
}

/** childEnv is the environment for a built microseg child: it resolves packages from the repository. */
export function childEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { ...process.env, NODE_PATH: path.join(REPO, 'node_modules'), ...extra };
}

/** cliArgs are node's arguments to run the built CLI with `args`. */
export function cliArgs(mainJs: string, args: string[]): string[] {
  return ['-e', `require(${JSON.stringify(mainJs)}).main(process.argv).then((c) => { process.exitCode = c; })`, 'microseg', ...args];
}
