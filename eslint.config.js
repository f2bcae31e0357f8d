// @ts-check
const js = require('@eslint/js');
const tseslint = require('typescript-eslint');
const prettier = require('eslint-config-prettier');

/** Forbids imports from the given top-level folders in the matched files. */
function layer(files, forbidden) {
  return {
    files: [files],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: forbidden.map((folder) => ({
            group: [`**/${folder}`, `**/${folder}/**`],
            message: `${files.split('/')[0]}/ must not import from ${folder}/ (layer boundary, see README "Layout").`,
          })),
        },
      ],
    },
  };
}

module.exports = tseslint.config(
  {
    ignores: [
      'node_modules/**',
      'cdk.out/**',
      'dist/**',
      'coverage/**',
      '**/*.d.ts',
      'test-artifacts/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  prettier,
  {
    files: ['**/*.ts'],
    rules: {
      // IAM policy variables look like template placeholders; they are built only by
      // common/policy-variables.ts (tests that spell them out on purpose disable this).
      'no-template-curly-in-string': 'error',
      // Input validation here rejects control characters on purpose.
      'no-control-regex': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  // Layer boundaries: common/ is bundled into the Lambda and used everywhere, so it depends
  // on nothing of ours; the Lambda app never pulls in the CDK constructs or the sandbox;
  // the constructs never depend on the sandbox or the app's code (only its entry path).
  layer('common/**/*.ts', ['lib', 'lambda', 'local', 'scripts', 'test', 'integ', 'bin', 'cli']),
  layer('lambda/**/*.ts', ['lib', 'local', 'scripts', 'test', 'integ', 'bin', 'cli']),
  // The command-line tool ships as one file with no dependencies: only common/ and Node.
  layer('cli/**/*.ts', ['lib', 'lambda', 'local', 'scripts', 'test', 'integ', 'bin']),
  layer('lib/**/*.ts', ['lambda', 'local', 'scripts', 'test', 'integ', 'bin', 'cli']),
  layer('local/**/*.ts', ['scripts', 'test', 'integ']),
  {
    files: ['lambda/callback/static/*.js'],
    languageOptions: {
      sourceType: 'script',
      globals: {
        document: 'readonly',
        window: 'readonly',
        fetch: 'readonly',
        XMLHttpRequest: 'readonly',
        URLSearchParams: 'readonly',
      },
    },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    ignores: ['lambda/callback/static/*.js'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: {
        module: 'writable',
        require: 'readonly',
        process: 'readonly',
        __dirname: 'readonly',
      },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
