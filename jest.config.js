/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.tsx?$': ['ts-jest', { diagnostics: false }],
    // openid-client, oauth4webapi and jose ship ESM only; Jest runs CommonJS, so
    // these (and oidc-provider, for the sandbox tests) are transpiled to CommonJS for tests (the Lambda bundle uses esbuild).
    '^.+\\.m?js$': [
      'ts-jest',
      {
        diagnostics: false,
        tsconfig: { allowJs: true, module: 'commonjs', target: 'ES2022', isolatedModules: true },
      },
    ],
  },
  transformIgnorePatterns: ['/node_modules/(?!(openid-client|oauth4webapi|jose|oidc-provider)/)'],
  // Synthesizing CDK apps is CPU bound; two workers match the 2-core machine.
  maxWorkers: 2,
  testTimeout: 60000,
};
