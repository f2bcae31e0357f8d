import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { writeCache } from '../cli/cache';
import { CLI_ENTRY, cliBuildArgs, esbuildCommand } from '../lib/cli-command';
import {
  type BenchOptions,
  type BenchRow,
  type BenchSection,
  medianOf,
  timeProcess,
  withTempDir,
} from './bench-lib';

/**
 * What `credential_process` costs the AWS CLI: it runs `wif-login.cjs credentials` before
 * every command (the CLI keeps no credentials between runs). Measured with a fresh cache
 * entry, so no sign-in: the command's start, its cache read and its JSON, against a bare
 * `node -e 0` in the same invocation (the part no command can save).
 */

const ENDPOINT = 'https://files.example.com';

/** Builds the command as the app serves it; returns its path. */
function buildCommand(dir: string, opts: BenchOptions): string {
  const outfile = path.join(dir, 'wif-login.cjs');
  const [command, ...args] = [...esbuildCommand(opts.cwd), ...cliBuildArgs(CLI_ENTRY, outfile)];
  const r = spawnSync(command, args, { cwd: opts.cwd, stdio: 'pipe' });
  if (r.status !== 0) throw new Error(`esbuild failed: ${String(r.stderr)}`);
  return outfile;
}

export const credentialProcessSection: BenchSection = {
  id: 'credential-process',
  title: 'wif-login credentials (credential_process) from a fresh cache',
  run(opts): BenchRow[] {
    return withTempDir((dir) => {
      const command = buildCommand(dir, opts);
      const cacheDir = path.join(dir, 'cache');
      writeCache(
        { endpoint: ENDPOINT, provider: 'google' },
        {
          provider: 'google',
          bucket: 'user-data-bucket',
          region: 'eu-west-1',
          prefix: 'users/google/1001/',
          credentials: {
            Version: 1,
            AccessKeyId: 'ASIABENCHBENCHBENCH0',
            SecretAccessKey: 'b'.repeat(40),
            SessionToken: 't'.repeat(900),
            Expiration: new Date(Date.now() + 3600_000).toISOString(),
          },
        },
        {
          env: { WIF_CACHE_DIR: cacheDir },
          homedir: os.homedir(),
          cwd: dir,
          platform: process.platform,
        },
      );
      const node = (args: string[]) => () =>
        timeProcess({
          command: process.execPath,
          args,
          cwd: dir,
          env: { WIF_CACHE_DIR: cacheDir, BROWSER: 'none' },
          timeoutMs: opts.timeoutMs,
        });
      const bare = medianOf(opts.runs, node(['-e', '0']));
      const cached = medianOf(
        opts.runs,
        node([command, 'credentials', '--endpoint', ENDPOINT, '--provider', 'google']),
      );
      const overheadMs = (cached.median - bare.median) * 1000;
      return [
        { name: 'node -e 0 (baseline: starting Node)', stats: bare },
        { name: 'node wif-login.cjs credentials (cache hit)', stats: cached },
        {
          name: 'the command beyond starting Node',
          value: `${overheadMs.toFixed(0)} ms`,
          target: { text: 'under 100 ms', ok: overheadMs < 100 },
        },
        {
          name: 'wif-login.cjs size',
          value: `${(fs.statSync(command).size / 1024).toFixed(0)} KB`,
        },
      ];
    });
  },
};
