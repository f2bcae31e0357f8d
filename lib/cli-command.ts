import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * How the command-line tool (`cli/wif-login.ts`) is built into one CommonJS file: once
 * here, used by the callback app's bundling (the app serves the file) and by
 * `scripts/build-cli.ts` (`npm run build:cli`, `npm run login`). `lib/` names the entry
 * by path only; it never imports `cli/`.
 */

/** The command's entry. */
export const CLI_ENTRY = path.join(__dirname, '..', 'cli', 'wif-login.ts');

/** Where the command sits in the function's asset, next to `index.js`; the app serves it. */
export const CLI_ASSET_FILE = 'static/wif-login.cjs';

/**
 * The esbuild arguments that build `entry` into `outfile`: one file with everything
 * bundled (the tool uses only `common/` and Node built-ins), CommonJS for Node 18 and
 * later, runnable as `node wif-login.cjs` or directly through its shebang. Not minified,
 * with license comments kept inline: people read what they run.
 */
export function cliBuildArgs(entry: string, outfile: string): string[] {
  return [
    entry,
    '--bundle',
    '--platform=node',
    '--format=cjs',
    '--target=node18',
    '--banner:js=#!/usr/bin/env node',
    '--legal-comments=inline',
    `--outfile=${outfile}`,
    // Errors and warnings only: no size summary in the synth output.
    '--log-level=warning',
  ];
}

/**
 * The project's own esbuild (a devDependency, never Docker), resolved from `projectRoot`:
 * the command that starts it, `[binary]`, or `[node, script]` where its launcher is the
 * JavaScript shim (platforms where the install step did not put the native binary there).
 * Throws, with the fix, when esbuild is not installed.
 */
export function esbuildCommand(projectRoot: string): string[] {
  let manifest: string;
  try {
    manifest = require.resolve('esbuild/package.json', { paths: [projectRoot] });
  } catch {
    throw new Error(
      `esbuild is not installed in ${projectRoot}; it builds the command-line tool and the function bundle. Run npm ci there.`,
    );
  }
  const { bin } = JSON.parse(fs.readFileSync(manifest, 'utf8')) as {
    bin: string | Record<string, string>;
  };
  const launcher = path.join(path.dirname(manifest), typeof bin === 'string' ? bin : bin.esbuild);
  const head = Buffer.alloc(2);
  const fd = fs.openSync(launcher, 'r');
  try {
    fs.readSync(fd, head, 0, 2, 0);
  } finally {
    fs.closeSync(fd);
  }
  return head.toString('latin1') === '#!' ? [process.execPath, launcher] : [launcher];
}

/**
 * A command line for the shell the bundling hooks run in: bash (every argument in single
 * quotes, taken literally) or, on Windows, cmd (double quotes; an argument with `"` cannot
 * be passed there).
 */
export function shellCommand(args: readonly string[], platform = process.platform): string {
  return args
    .map((a) => {
      if (platform !== 'win32') return `'${a.replace(/'/g, `'\\''`)}'`;
      if (a.includes('"')) throw new Error(`cannot pass ${JSON.stringify(a)} to cmd`);
      return `"${a}"`;
    })
    .join(' ');
}
