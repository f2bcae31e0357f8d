import * as fs from 'node:fs';
import * as path from 'node:path';
import { CLI_PATHS } from '../common/cli-protocol';
import {
  awsConfigPath,
  credentialProcessLine,
  profileSections,
  upsertSections,
  writeConfigFile,
} from './aws-config';
import { type CommandContext, freshSignIn, printSummary } from './context';
import { CliError } from './errors';

/** The profile `configure` writes: `--profile`, else `wif-<provider>` or `wif-default`. */
export const profileName = (ctx: CommandContext): string =>
  ctx.options.profile ?? `wif-${ctx.options.provider ?? 'default'}`;

/**
 * The file `credential_process` will run: the built command. From source (a `.ts` file)
 * there is nothing stable to point the profile at, so configure refuses.
 */
function builtCommand(ctx: CommandContext): string {
  const file = ctx.deps.commandPath;
  if (!file || /\.[cm]?ts$/.test(file)) {
    throw new CliError(
      `configure needs the built command: run \`npm run login -- configure ...\` (builds it) or download ${ctx.options.endpoint}${CLI_PATHS.command} and run \`node wif-login.cjs configure ...\`.`,
    );
  }
  return path.resolve(ctx.deps.cwd, file);
}

/** `text` as one word for a POSIX shell, in single quotes when it needs them (examples only). */
export const shellWord = (text: string): string =>
  /^[A-Za-z0-9._/:@=+,%-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;

/**
 * `configure`: signs in unless the cache is fresh, then writes (or rewrites) an AWS CLI
 * profile whose `credential_process` runs this command's `credentials`. Every other
 * section and comment of the config file stays as it was.
 */
export async function configure(ctx: CommandContext): Promise<number> {
  const { deps, options } = ctx;
  const commandPath = builtCommand(ctx);
  const name = profileName(ctx);
  // Built before signing in: a path the profile cannot carry fails first.
  const credentialProcess = credentialProcessLine({
    execPath: deps.execPath,
    commandPath,
    endpoint: options.endpoint,
    provider: options.provider,
    caPath: options.caPath,
    noBrowser: options.noBrowser,
    platform: deps.platform,
  });
  const { entry, signedIn } = await freshSignIn(ctx);
  if (signedIn) printSummary(ctx, entry);

  const sections = profileSections({
    name,
    region: entry.region,
    credentialProcess,
    s3Endpoint: entry.s3Endpoint,
    caBundle: options.caPath,
  });
  const file = awsConfigPath(deps);
  let text = '';
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new CliError(
        `Cannot read the AWS config file ${file} (${(error as NodeJS.ErrnoException).code}); fix its permissions or set AWS_CONFIG_FILE.`,
      );
    }
  }
  writeConfigFile(file, upsertSections(text, sections), deps.platform);

  const endpointUrl = entry.s3Endpoint === undefined ? '' : ` --endpoint-url ${entry.s3Endpoint}`;
  const base = shellWord(`s3://${entry.bucket}/${entry.prefix}`);
  const target = shellWord(`s3://${entry.bucket}/${entry.prefix}notes.txt`);
  deps.stderr(
    [
      `Wrote profile ${name} to ${file}.`,
      'Try:',
      `  aws --profile ${name}${endpointUrl} s3 ls ${base}`,
      `  aws --profile ${name}${endpointUrl} s3 cp ./notes.txt ${target}`,
      'Everything outside your prefix is refused. When the credentials run out, the profile',
      `signs in again by itself (${options.noBrowser ? 'asking for a pasted code' : 'a browser opens'}).`,
      '',
    ].join('\n'),
  );
  return 0;
}
