/**
 * One temporary directory per test run, removed when the run ends (jest globalSetup/Teardown).
 * A jest worker's `process.once('exit')` does not reliably fire (workers are torn down, and a
 * test's `process` is the environment's), so the CLI builds of test/support/build-cli.ts were
 * left in /tmp, one per test file that spawns microseg. Workers inherit the variable set here.
 */
const fs = require('fs');
const os = require('os');
const path = require('path');

const VAR = 'MICROSEG_TEST_RUN_TMP';

async function setup() {
  if (!process.env[VAR]) process.env[VAR] = fs.mkdtempSync(path.join(os.tmpdir(), 'mseg-test-run-'));
}

async function teardown() {
  const dir = process.env[VAR];
  if (dir && path.basename(dir).startsWith('mseg-test-run-')) fs.rmSync(dir, { recursive: true, force: true });
}

module.exports = { setup, teardown, VAR };
