import type { Command } from './args';
import { expiresAt, readCache, removeCache } from './cache';
import { configure } from './configure';
import {
  commandLine,
  type CommandContext,
  describe,
  freshSignIn,
  printSummary,
  signInAndCache,
} from './context';

/** `login`: always signs in, caches, and prints a summary on standard error. */
async function login(ctx: CommandContext): Promise<number> {
  const entry = await signInAndCache(ctx, true);
  printSummary(ctx, entry);
  return 0;
}

/** `credentials`: only the AWS `credential_process` JSON on standard output. */
async function credentials(ctx: CommandContext): Promise<number> {
  const { entry } = await freshSignIn(ctx);
  const c = entry.credentials;
  const json = {
    Version: 1,
    AccessKeyId: c.AccessKeyId,
    SecretAccessKey: c.SecretAccessKey,
    SessionToken: c.SessionToken,
    Expiration: new Date(expiresAt(entry)).toISOString(),
  };
  ctx.deps.stdout(`${JSON.stringify(json)}\n`);
  return 0;
}

/** `whoami`: the cached sign-in on standard output; exit 1 when there is no unexpired one. */
function whoami(ctx: CommandContext): number {
  const { deps, options } = ctx;
  const entry = readCache(options, deps);
  const now = deps.now();
  if (!entry || expiresAt(entry) <= now) {
    deps.stderr(
      `Not signed in at ${options.endpoint}${options.provider ? ` with ${options.provider}` : ''} (no unexpired cached credentials). Sign in with: ${commandLine(ctx, 'login')}\n`,
    );
    return 1;
  }
  if (options.json) {
    const { provider, bucket, region, prefix, s3Endpoint } = entry;
    const expiration = new Date(expiresAt(entry)).toISOString();
    deps.stdout(
      `${JSON.stringify({ provider, bucket, region, prefix, s3Endpoint, expiration })}\n`,
    );
  } else {
    deps.stdout(
      describe(entry, now)
        .map((line) => `${line}\n`)
        .join(''),
    );
  }
  return 0;
}

/** `logout`: forgets the cached credentials; they stay valid until they expire. */
function logout(ctx: CommandContext): number {
  const { deps, options } = ctx;
  const entry = readCache(options, deps);
  if (!removeCache(options, deps)) {
    deps.stderr(`No cached credentials for ${options.endpoint}; nothing to remove.\n`);
    return 0;
  }
  const until = entry ? ` (${new Date(expiresAt(entry)).toISOString()})` : '';
  deps.stderr(
    `Removed the cached credentials for ${options.endpoint}. Temporary AWS credentials cannot be withdrawn early: any copy stays valid until it expires${until}.\n`,
  );
  return 0;
}

/** Runs `command`; resolves with the exit code. */
export function run(command: Command, ctx: CommandContext): Promise<number> {
  switch (command) {
    case 'login':
      return login(ctx);
    case 'credentials':
      return credentials(ctx);
    case 'configure':
      return configure(ctx);
    case 'whoami':
      return Promise.resolve(whoami(ctx));
    case 'logout':
      return Promise.resolve(logout(ctx));
  }
}
