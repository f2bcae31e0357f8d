import { createHash } from 'node:crypto';

/**
 * The credential broker's wire contract, shared by the app (lambda/callback/routes-cli.ts,
 * routes-api.ts) and the command-line tool (cli/): paths, parameter formats, and the
 * JSON each side sends. The flow is OAuth 2.0 for native apps (RFC 8252: loopback
 * redirect) with PKCE S256 (RFC 7636); docs/cli-sign-in.md walks through it.
 *
 * This module depends on nothing but Node's crypto: the CLI is bundled from it into one
 * file with no dependencies.
 */

/** The app's routes for the command line and for client-side code. */
export const CLI_PATHS = {
  /** GET: the command itself, one CommonJS file (`node wif-login.cjs ...`). */
  command: '/cli/wif-login.cjs',
  /**
   * GET, opened in the browser: `?port=&state=&code_challenge=&code_challenge_method=S256`
   * (loopback), or `?mode=paste&state=&code_challenge=&code_challenge_method=S256` (no
   * browser on the CLI's machine); optional `provider=<name>` picks the sign-in provider.
   */
  authorize: '/cli/authorize',
  /** POST from the consent page (session + CSRF): `decision=allow|deny`. */
  consent: '/cli/consent',
  /** POST from the CLI: form `grant_type=authorization_code&code=&code_verifier=&redirect_uri=`. */
  token: '/cli/token',
} as const;

/** Routes for same-origin client-side code, when the stage turns client-side credentials on. */
export const API_PATHS = {
  /** GET: `{ provider, displayName?, expiresAt, csrfToken }` for the signed-in session, else 401. */
  session: '/api/session',
  /** GET with header `X-CSRF-Token: <csrfToken>`: {@link ClientCredentialsResponse}. */
  credentials: '/api/credentials',
} as const;

/** The header that carries the session's CSRF token on `/api/credentials`. */
export const CSRF_HEADER = 'x-csrf-token';

/** The only host the app redirects a CLI sign-in to (loopback-redirect-only). */
export const LOOPBACK_HOST = '127.0.0.1';
/** The path on the CLI's loopback server that receives `?code=&state=` (or `?error=&state=`). */
export const LOOPBACK_CALLBACK_PATH = '/callback';
/** What `redirect_uri` is in the token request of a paste-mode sign-in (no redirect). */
export const PASTE_REDIRECT_URI = 'urn:ietf:wg:oauth:2.0:oob';
/** How long a CLI code lives once the consent page issued it (cli-code-short-lived). */
export const CLI_CODE_MAX_AGE_SECONDS = 60;
/** The CLI reuses cached credentials until this close to their expiry, then signs in again. */
export const CLI_REFRESH_MARGIN_MS = 5 * 60_000;

/** A provider name as the app configures it: `/login/<name>`, `users/<name>/...`. */
export const PROVIDER_NAME = /^[a-z][a-z0-9-]{0,30}[a-z0-9]$/;

/** A loopback port: digits only, no leading zero, 1024-65535 (never a privileged port). */
export function parseLoopbackPort(value: string | null | undefined): number | undefined {
  if (!value || !/^[1-9][0-9]{3,4}$/.test(value)) return undefined;
  const port = Number(value);
  return port >= 1024 && port <= 65535 ? port : undefined;
}

/** The loopback redirect URI for a port. */
export const loopbackRedirectUri = (port: number): string =>
  `http://${LOOPBACK_HOST}:${port}${LOOPBACK_CALLBACK_PATH}`;

/** `state`: 16-128 base64url characters (the CLI sends 32 random bytes, 43 characters). */
export const isValidState = (value: string | null | undefined): value is string =>
  typeof value === 'string' && /^[A-Za-z0-9_-]{16,128}$/.test(value);

/** An S256 `code_challenge`: the base64url SHA-256 of the verifier, exactly 43 characters. */
export const isValidCodeChallenge = (value: string | null | undefined): value is string =>
  typeof value === 'string' && /^[A-Za-z0-9_-]{43}$/.test(value);

/** A PKCE `code_verifier` (RFC 7636 section 4.1): 43-128 unreserved characters. */
export const isValidCodeVerifier = (value: string | null | undefined): value is string =>
  typeof value === 'string' && /^[A-Za-z0-9._~-]{43,128}$/.test(value);

/** The S256 challenge of a verifier. */
export const s256 = (verifier: string): string =>
  createHash('sha256').update(verifier).digest('base64url');

/** Hosts that count as this computer: plain `http` is allowed only to them (https-endpoints-only). */
export function isLoopbackHost(hostname: string): boolean {
  return (
    hostname === 'localhost' ||
    hostname === '[::1]' ||
    hostname === '::1' ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname)
  );
}

/**
 * Checks a broker endpoint for the CLI: an absolute `https` URL, or `http` to this computer
 * (the sandbox), with no credentials, query or fragment. Returns its origin, or throws a
 * message saying what is wrong and how to fix it (cli-https-endpoints-only).
 */
export function checkEndpoint(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`--endpoint ${JSON.stringify(value)} is not a URL; give https://<host>.`);
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) {
    throw new Error(
      `--endpoint ${JSON.stringify(value)} must use https:// (plain http is only allowed to 127.0.0.1 or localhost).`,
    );
  }
  if (url.username || url.password || url.search || url.hash) {
    throw new Error(
      `--endpoint ${JSON.stringify(value)} must be just scheme://host[:port], without credentials, query or fragment.`,
    );
  }
  if (url.pathname !== '/' && url.pathname !== '') {
    throw new Error(
      `--endpoint ${JSON.stringify(value)} must be the app's base URL, without a path (got ${url.pathname}).`,
    );
  }
  return url.origin;
}

/** What the AWS CLI and SDKs expect from a `credential_process` (Version 1). */
export interface ProcessCredentials {
  readonly Version: 1;
  readonly AccessKeyId: string;
  readonly SecretAccessKey: string;
  readonly SessionToken: string;
  /** ISO 8601, UTC. */
  readonly Expiration: string;
}

/** Where the signed-in user's files are. */
export interface UserLocation {
  /** The configured provider name the user signed in with. */
  readonly provider: string;
  readonly bucket: string;
  readonly region: string;
  /** The user's own prefix, `users/<provider>/<subject>/`; everything outside is refused. */
  readonly prefix: string;
  /** The S3 endpoint when it is not AWS's own (the sandbox), to pass as `--endpoint-url`. */
  readonly s3Endpoint?: string;
}

/** `POST /cli/token` answers 200 with this. */
export interface CliTokenResponse extends UserLocation {
  readonly credentials: ProcessCredentials;
}

/** `POST /cli/token` answers 400 with this (RFC 6749 section 5.2 error codes). */
export interface CliTokenError {
  readonly error: 'invalid_request' | 'invalid_grant' | 'unsupported_grant_type';
  readonly error_description: string;
}

/** `GET /api/credentials` answers 200 with this; shaped for the AWS SDK for JavaScript. */
export interface ClientCredentialsResponse extends UserLocation {
  readonly credentials: {
    readonly accessKeyId: string;
    readonly secretAccessKey: string;
    readonly sessionToken: string;
    /** ISO 8601, UTC. */
    readonly expiration: string;
  };
  /** True for the sandbox's S3, which is addressed by path, not by bucket host name. */
  readonly forcePathStyle: boolean;
}

/** `GET /api/session` answers 200 with this. */
export interface ClientSessionResponse {
  readonly provider: string;
  readonly displayName?: string;
  /** ISO 8601, when the session's credentials expire. */
  readonly expiresAt: string;
  /** Send it as `X-CSRF-Token` to `/api/credentials`. */
  readonly csrfToken: string;
}
