import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import {
  CLI_ASSET_FILE,
  CLI_ENTRY,
  cliBuildArgs,
  esbuildCommand,
  shellCommand,
} from './cli-command';

/**
 * How the callback app's Lambda function is built: its entry in `lambda/`, the esbuild
 * options, and the hooks that put the app's static files and the command-line tool next
 * to the bundle. The construct (`lib/callback-app.ts`) uses these.
 */

/** The repository root: the esbuild project root and the home of package-lock.json. */
export const PROJECT_ROOT = path.join(__dirname, '..');

/** The callback app's Lambda entry; `lib/` refers to `lambda/` only by this path. */
export const DEFAULT_CALLBACK_ENTRY = path.join(PROJECT_ROOT, 'lambda', 'callback', 'handler.ts');

/** The bundling the app is built with; `CallbackAppProps.bundling` is merged over it. */
export const DEFAULT_CALLBACK_BUNDLING: nodejs.BundlingOptions = {
  minify: true,
  sourceMap: true,
  // Stack traces map to file and line without shipping the sources in the bundle.
  sourcesContent: false,
  target: 'node22',
  // The AWS SDK v3 clients come from the Lambda runtime (Node.js 22 ships SDK v3):
  // bundling them would add about 650 KB (766 KB instead of 113 KB minified). The app
  // uses no SDK feature newer than the runtime's. To pin exact SDK versions instead,
  // pass `bundling: { externalModules: [] }`.
  externalModules: ['@aws-sdk/*'],
  // Bundle with the local esbuild (a devDependency); never fall back to Docker.
  forceDockerBundling: false,
};

/**
 * What goes next to `index.js` in the asset, after esbuild bundled the function:
 * - the app's own static files (no third-party hosts, no-referrer-leak) from `static/` next
 *   to its entry, copied with node, not `cp`, so local bundling works on any OS;
 * - the command-line tool, built by the project's esbuild into `static/wif-login.cjs`
 *   (lib/cli-command.ts), which the app serves for download.
 */
export function bundlingHooks(entry: string): nodejs.ICommandHooks {
  const source = path.join(path.dirname(entry), 'static');
  const relative = path.relative(PROJECT_ROOT, source).split(path.sep).join('/');
  return {
    beforeBundling: () => [],
    beforeInstall: () => [],
    afterBundling: (inputDir: string, outputDir: string) => [
      ...(fs.existsSync(source)
        ? [
            `node -e "require('fs').cpSync(process.argv[1], process.argv[2], { recursive: true })" "${inputDir}/${relative}" "${outputDir}/static"`,
          ]
        : []),
      shellCommand([
        ...esbuildCommand(PROJECT_ROOT),
        ...cliBuildArgs(CLI_ENTRY, path.join(outputDir, CLI_ASSET_FILE)),
      ]),
    ],
  };
}
