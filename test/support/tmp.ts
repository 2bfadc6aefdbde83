/**
 * runTmpDir makes a temporary directory under the test run's own directory (run-tmp.js), which
 * jest's global teardown removes: for helpers that hand out directories no test deletes.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export function runTmpDir(prefix: string): string {
  return fs.mkdtempSync(path.join(process.env.MICROSEG_TEST_RUN_TMP || os.tmpdir(), prefix));
}
