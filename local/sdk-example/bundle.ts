import * as path from 'node:path';
import { build, type BuildOptions } from 'esbuild';

/**
 * Builds the SDK example's browser code (./page.ts) with the project's esbuild when the
 * sandbox starts: the AWS SDK's S3 client bundled for browsers, one self-running script.
 * It takes about 0.1-0.3 s (about 270 KB minified, 90 KB gzipped), so it is not cached.
 */

/** The page's browser code. */
export const SDK_EXAMPLE_ENTRY = path.join(__dirname, 'page.ts');

/** How it is bundled: for browsers, one script (no module loader), minified. */
export const SDK_EXAMPLE_BUILD: Readonly<BuildOptions> = {
  bundle: true,
  platform: 'browser',
  format: 'iife',
  minify: true,
  // Every browser the AWS SDK for JavaScript v3 supports.
  target: 'es2020',
};

/** The bundled script of `entry` (tests pass their own). */
export async function buildSdkExampleScript(entry: string = SDK_EXAMPLE_ENTRY): Promise<string> {
  const result = await build({
    ...SDK_EXAMPLE_BUILD,
    entryPoints: [entry],
    absWorkingDir: path.join(__dirname, '..', '..'),
    write: false,
    logLevel: 'silent',
  });
  return result.outputFiles[0].text;
}
