import type { CliTokenResponse } from '../common/cli-protocol';
import type { Options } from './args';
import { cacheFile, expiresAt, isFresh, readCache, writeCache } from './cache';
import type { CliDeps } from './deps';
import { loadCa } from './http';
import { withLock } from './lock';
import { signIn } from './sign-in';

/*
 * What the commands share: their context, signing in with the cache, and how a sign-in
 * is shown to the user.
 */

/** A command's inputs: the checked command line and the surroundings. */
export interface CommandContext {
  readonly options: Options;
  readonly deps: CliDeps;
}

/** "in 59 minutes", "in 2 h 5 min", or "expired" for the time left until `at`. */
export function timeLeft(at: number, now: number): string {
  const minutes = Math.floor((at - now) / 60_000);
  if (at <= now) return 'expired';
  if (minutes < 1) return 'in less than a minute';
  if (minutes < 120) return `in ${minutes} minute${minutes === 1 ? '' : 's'}`;
  return `in ${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** Who is signed in where, one field a line (for login's summary and whoami). */
export function describe(entry: CliTokenResponse, now: number): string[] {
  const expiry = expiresAt(entry);
  return [
    `provider:    ${entry.provider}`,
    `bucket:      ${entry.bucket}`,
    `region:      ${entry.region}`,
    `prefix:      ${entry.prefix}`,
    ...(entry.s3Endpoint === undefined ? [] : [`s3 endpoint: ${entry.s3Endpoint}`]),
    `expires:     ${new Date(expiry).toISOString()} (${timeLeft(expiry, now)})`,
  ];
}

/** `wif-login <command> --endpoint <origin> [--provider <p>]`, for messages. */
export function commandLine({ options }: CommandContext, command: string): string {
  const provider = options.provider === undefined ? '' : ` --provider ${options.provider}`;
  return `wif-login ${command} --endpoint ${options.endpoint}${provider}`;
}

/**
 * Signs in and caches the result. A cache that cannot be written fails `login`, but only
 * warns otherwise (the credentials are still good for this one use).
 */
export async function signInAndCache(
  ctx: CommandContext,
  cacheRequired: boolean,
): Promise<CliTokenResponse> {
  const { options, deps } = ctx;
  const ca = options.caPath === undefined ? undefined : loadCa(options.caPath);
  const response = await signIn(
    { endpoint: options.endpoint, provider: options.provider, ca, noBrowser: options.noBrowser },
    deps,
  );
  try {
    writeCache(options, response, deps);
  } catch (error) {
    if (cacheRequired) throw error;
    deps.stderr(`Warning: ${(error as Error).message}\n`);
  }
  return response;
}

/**
 * The cached sign-in while it has more than 5 minutes left, else a new one. Runs that
 * find the cache stale at the same time sign in once: the others wait for the first and
 * take what it cached (cli/lock.ts).
 */
export async function freshSignIn(
  ctx: CommandContext,
): Promise<{ entry: CliTokenResponse; signedIn: boolean }> {
  const { options, deps } = ctx;
  const fresh = () => {
    const cached = readCache(options, deps);
    return cached && isFresh(cached, deps.now()) ? cached : undefined;
  };
  const cached = fresh();
  if (cached) return { entry: cached, signedIn: false };
  const lock = {
    staleMs: deps.loopbackTimeoutMs + 60_000,
    onWait: () => deps.stderr('Another wif-login is signing in; waiting for it...\n'),
  };
  return withLock(`${cacheFile(options, deps)}.lock`, lock, async () => {
    const theirs = fresh();
    if (theirs) return { entry: theirs, signedIn: false };
    return { entry: await signInAndCache(ctx, false), signedIn: true };
  });
}

/** Tells the user on standard error who signed in where. */
export function printSummary(ctx: CommandContext, entry: CliTokenResponse): void {
  const lines = describe(entry, ctx.deps.now()).map((line) => `  ${line}\n`);
  ctx.deps.stderr(`Signed in at ${ctx.options.endpoint}.\n${lines.join('')}`);
}
