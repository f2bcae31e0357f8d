import { randomBytes } from 'node:crypto';
import { CLI_PATHS, type CliTokenResponse, PASTE_REDIRECT_URI, s256 } from '../common/cli-protocol';
import type { CliDeps } from './deps';
import { CliError } from './errors';
import { isWellFormedCode, startLoopback } from './loopback';
import { redeemCode } from './token';

/** What one sign-in needs from the command line. */
export interface SignInOptions {
  /** The app's origin. */
  readonly endpoint: string;
  readonly provider?: string;
  /** Extra CA certificate (PEM) for the token request. */
  readonly ca?: string;
  /** Paste mode: print a URL for any device and read the code the app shows. */
  readonly noBrowser: boolean;
}

/** The secrets of one sign-in: the PKCE verifier (kept here) and `state`. */
export interface SignInSecrets {
  /** 32 random bytes, base64url (43 characters); only ever sent to `/cli/token`. */
  readonly verifier: string;
  /** `s256(verifier)`, sent in the authorize URL. */
  readonly challenge: string;
  /** 32 random bytes, base64url; ties the callback to this sign-in. */
  readonly state: string;
}

/** Fresh PKCE verifier, challenge and state. */
export function newSignInSecrets(): SignInSecrets {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: s256(verifier), state: randomBytes(32).toString('base64url') };
}

/**
 * The URL the user opens: `/cli/authorize` with the loopback port (or `mode=paste`),
 * `state`, the S256 challenge and, when chosen, the provider. Never the verifier.
 */
export function authorizeUrl(
  endpoint: string,
  secrets: SignInSecrets,
  target: { port: number } | 'paste',
  provider?: string,
): string {
  const url = new URL(CLI_PATHS.authorize, endpoint);
  if (target === 'paste') url.searchParams.set('mode', 'paste');
  else url.searchParams.set('port', String(target.port));
  url.searchParams.set('state', secrets.state);
  url.searchParams.set('code_challenge', secrets.challenge);
  url.searchParams.set('code_challenge_method', 'S256');
  if (provider !== undefined) url.searchParams.set('provider', provider);
  return url.toString();
}

/** Tells the user where to sign in, on standard error and, if that is captured, the terminal. */
function announce(url: string, deps: CliDeps): void {
  const line = `Open this URL to sign in: ${url}\n`;
  deps.stderr(line);
  deps.showOnTerminal(line);
}

/** Loopback sign-in (RFC 8252): the browser brings the code back to 127.0.0.1. */
async function loopbackSignIn(
  options: SignInOptions,
  secrets: SignInSecrets,
  deps: CliDeps,
): Promise<{ code: string; redirectUri: string }> {
  const receiver = await startLoopback(secrets.state);
  try {
    const url = authorizeUrl(options.endpoint, secrets, { port: receiver.port }, options.provider);
    announce(url, deps);
    deps.openBrowser(url);
    const code = await receiver.waitForCode(deps.loopbackTimeoutMs);
    return { code, redirectUri: receiver.redirectUri };
  } finally {
    receiver.close();
  }
}

/** Paste-mode sign-in: the user signs in on any device and pastes the code shown there. */
async function pasteSignIn(
  options: SignInOptions,
  secrets: SignInSecrets,
  deps: CliDeps,
): Promise<{ code: string; redirectUri: string }> {
  announce(authorizeUrl(options.endpoint, secrets, 'paste', options.provider), deps);
  const pasted = await deps.readCode('Paste the code the page shows after you allow access: ');
  const code = pasted.trim();
  if (code === '') throw new CliError('No code was pasted; run the command again.');
  if (!isWellFormedCode(code)) {
    throw new CliError(
      'That is not a sign-in code (it has characters a code never has); copy the whole code from the page and run the command again.',
    );
  }
  return { code, redirectUri: PASTE_REDIRECT_URI };
}

/**
 * Runs one sign-in at the app and returns the checked token response: PKCE S256 and a
 * fresh `state`, a browser on this computer with the loopback redirect, or paste mode
 * with `noBrowser`. The verifier goes only into the token request's body.
 */
export async function signIn(options: SignInOptions, deps: CliDeps): Promise<CliTokenResponse> {
  const secrets = newSignInSecrets();
  const { code, redirectUri } = options.noBrowser
    ? await pasteSignIn(options, secrets, deps)
    : await loopbackSignIn(options, secrets, deps);
  return redeemCode({
    endpoint: options.endpoint,
    code,
    verifier: secrets.verifier,
    redirectUri,
    ca: options.ca,
    timeoutMs: deps.tokenTimeoutMs,
  });
}
