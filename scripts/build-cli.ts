import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { CLI_ENTRY, cliBuildArgs, esbuildCommand } from '../lib/cli-command';

/**
 * `npm run build:cli`: builds the command-line tool into `dist/cli/wif-login.cjs` with the
 * same esbuild options as the copy the app serves (lib/cli-command.ts).
 * `npm run login -- <command> [options]` builds it and runs it.
 */
const PROJECT_ROOT = path.join(__dirname, '..');
const OUTFILE = path.join(PROJECT_ROOT, 'dist', 'cli', 'wif-login.cjs');

const [command, ...args] = [...esbuildCommand(PROJECT_ROOT), ...cliBuildArgs(CLI_ENTRY, OUTFILE)];
const result = spawnSync(command, args, { cwd: PROJECT_ROOT, stdio: 'inherit' });
if (result.error) {
  console.error(`esbuild did not run: ${result.error.message}`);
  process.exit(1);
}
if (result.status !== 0) process.exit(result.status ?? 1);
