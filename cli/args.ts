import * as path from 'node:path';
import { checkEndpoint, CLI_PATHS, PROVIDER_NAME } from '../common/cli-protocol';
import { CliError } from './errors';

/** The commands, in the order the usage text lists them. */
export const COMMANDS = ['login', 'credentials', 'configure', 'whoami', 'logout'] as const;
export type Command = (typeof COMMANDS)[number];

/** An AWS CLI profile name this command writes (it ends up in a `[profile ...]` line). */
const PROFILE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** A command line, checked. */
export interface Options {
  /** The app's origin, `scheme://host[:port]`, as `checkEndpoint` returns it. */
  readonly endpoint: string;
  readonly provider?: string;
  /** Absolute path of the extra PEM CA (`--ca`). */
  readonly caPath?: string;
  readonly noBrowser: boolean;
  /** configure only. */
  readonly profile?: string;
  /** whoami only. */
  readonly json: boolean;
}

export type ParsedArgs =
  | { readonly kind: 'help' }
  | { readonly kind: 'run'; readonly command: Command; readonly options: Options };

/** The usage text (`--help`, `help`, and after every command-line error). */
export const USAGE = `wif-login: sign in at a web identity federation app and use your private S3
storage from the AWS CLI and SDKs.

Usage: node wif-login.cjs <command> --endpoint <url> [options]

Commands:
  login        Sign in in a browser and cache the temporary credentials.
  credentials  Print the credentials as AWS credential_process JSON; signs in again
               when the cached ones expire within 5 minutes.
  configure    Sign in if needed, then write an AWS CLI profile that runs
               \`credentials\` (options: --profile <name>).
  whoami       Show the cached sign-in: provider, bucket, region, prefix, expiry
               (options: --json). Exits 1 when there is none.
  logout       Forget the cached credentials (they stay valid until they expire).
  help         Show this text.

Options:
  --endpoint <url>   The app's base URL: https://<host>, or http:// to 127.0.0.1 or
                     localhost (the local sandbox). Required.
  --provider <name>  Sign in with this provider (for example google); without it
                     the app lets you choose. Cached separately per provider.
  --ca <file>        Also trust this PEM CA certificate (the sandbox's local CA).
  --no-browser       Open no browser here: open the printed URL on any device and
                     paste the code it shows.
  --profile <name>   configure: the profile to write (default wif-<provider>, or
                     wif-default without --provider).
  --json             whoami: print JSON.
  -h, --help         Show this text.

Environment:
  BROWSER            The program that opens the sign-in URL; "none" opens nothing.
  WIF_CACHE_DIR      The credential cache (default $XDG_CACHE_HOME/wif, ~/.cache/wif).
  AWS_CONFIG_FILE    The file configure writes (default ~/.aws/config).

The app serves this command as <endpoint>${CLI_PATHS.command} (one file, Node 18+).
`;

const VALUE_OPTIONS = ['--endpoint', '--provider', '--ca', '--profile'] as const;
const FLAG_OPTIONS = ['--no-browser', '--json'] as const;
/** Options that only some commands take. */
const ONLY_FOR: Record<string, Command> = { '--profile': 'configure', '--json': 'whoami' };

function usageError(message: string): CliError {
  return new CliError(`${message}\nRun \`node wif-login.cjs --help\` for usage.`, 2);
}

/** Splits `argv` into `--name value` pairs and positionals; `--name=value` works too. */
function tokenize(argv: readonly string[]): {
  positionals: string[];
  values: Map<string, string>;
  flags: Set<string>;
} {
  const positionals: string[] = [];
  const values = new Map<string, string>();
  const flags = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('-')) {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    if ((VALUE_OPTIONS as readonly string[]).includes(name)) {
      const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
      if (value === undefined || (eq < 0 && value.startsWith('--'))) {
        throw usageError(`${name} needs a value, for example ${name} <value>.`);
      }
      if (values.has(name)) throw usageError(`${name} is given twice; give it once.`);
      values.set(name, value);
    } else if ((FLAG_OPTIONS as readonly string[]).includes(name) && eq < 0) {
      flags.add(name);
    } else {
      throw usageError(`Unknown option ${JSON.stringify(arg)}.`);
    }
  }
  return { positionals, values, flags };
}

/**
 * Parses and checks a command line (without `node` and the script). Throws a `CliError`
 * with exit code 2 that says what is wrong and how to fix it.
 */
export function parseArgs(argv: readonly string[], cwd: string): ParsedArgs {
  if (argv.includes('--help') || argv.includes('-h') || argv[0] === 'help') return { kind: 'help' };
  const { positionals, values, flags } = tokenize(argv);
  if (positionals.length === 0) throw usageError(`Give a command: ${COMMANDS.join(', ')}.`);
  const [name, ...extra] = positionals;
  if (!(COMMANDS as readonly string[]).includes(name)) {
    throw usageError(`Unknown command ${JSON.stringify(name)}; use one of ${COMMANDS.join(', ')}.`);
  }
  const command = name as Command;
  if (extra.length > 0) throw usageError(`Unexpected argument ${JSON.stringify(extra[0])}.`);
  for (const option of [...values.keys(), ...flags]) {
    const only = ONLY_FOR[option];
    if (only && only !== command) throw usageError(`${option} is for ${only} only.`);
  }

  const rawEndpoint = values.get('--endpoint');
  if (rawEndpoint === undefined) {
    throw usageError(
      "--endpoint <url> is required: the app's base URL, like https://files.example.com.",
    );
  }
  let endpoint: string;
  try {
    endpoint = checkEndpoint(rawEndpoint);
  } catch (error) {
    throw usageError((error as Error).message);
  }
  const provider = values.get('--provider');
  if (provider !== undefined && !PROVIDER_NAME.test(provider)) {
    throw usageError(
      `--provider ${JSON.stringify(provider)} is not a provider name: lower-case letters, digits and dashes, like google.`,
    );
  }
  const profile = values.get('--profile');
  if (profile !== undefined && !PROFILE_NAME.test(profile)) {
    throw usageError(
      `--profile ${JSON.stringify(profile)} is not a usable profile name: letters, digits, ".", "_" and "-", at most 64.`,
    );
  }
  const ca = values.get('--ca');
  if (ca === '') throw usageError('--ca needs a file name, for example --ca ./local-ca.pem.');
  return {
    kind: 'run',
    command,
    options: {
      endpoint,
      provider,
      caPath: ca === undefined ? undefined : path.resolve(cwd, ca),
      noBrowser: flags.has('--no-browser'),
      profile,
      json: flags.has('--json'),
    },
  };
}
