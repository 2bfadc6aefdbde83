/** Unit, golden and real-kernel (netns) tests. Type checking is `npm run build`'s job, so ts-jest only transpiles. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json', diagnostics: false }] },
  // Real-kernel tests share the host's network stack; they create uniquely named namespaces, but
  // running them one file at a time keeps timing-sensitive packet checks stable on 2 cores.
  maxWorkers: 2,
  testTimeout: 60000,
  // A temporary directory per run for what the tests build (test/support/run-tmp.js).
  globalSetup: '<rootDir>/test/support/global-setup.js',
  globalTeardown: '<rootDir>/test/support/global-teardown.js',
};
