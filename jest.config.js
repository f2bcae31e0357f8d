/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.tsx?$': ['ts-jest', { diagnostics: false }],
  },
  // Synthesizing CDK apps is CPU bound; two workers match the 2-core machine.
  maxWorkers: 2,
  testTimeout: 60000,
  verbose: false,
};
