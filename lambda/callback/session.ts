import { randomBytes, timingSafeEqual } from 'node:crypto';
import { serialize, type SerializeOptions } from 'cookie';
import type { AppConfig } from '../../common/app-config';
import type { UserLocation } from '../../common/cli-protocol';
import { userPrefix } from '../../common/provider-facts';
import { CookieSealer } from './cookies';
import type { HttpRequest } from './http';
import { type SecretStore, SignInError, type TemporaryCredentials } from './ports';

/**
 * The app keeps no server-side state: what it must remember lives in two cookies sealed by
 * {@link CookieSealer}, the login cookie (from /login to the callback) and the session
 * cookie (after sign-in). Field names are one or two letters because the session cookie
 * travels on every request and already carries an STS session token of a few KB.
 */

/** How long a sign-in may take from /login to the callback. */
export const LOGIN_MAX_AGE_SECONDS = 600;
/** Credentials this close to expiry count as expired: the next S3 call could fail. */
const EXPIRY_MARGIN_MS = 60_000;

/** What the callback needs to check and finish the sign-in that /login started. */
export interface LoginCookie {
  /** Name of the provider the sign-in started with (mix-up defence, state-bound-to-provider). */
  readonly p: string;
  /** The OAuth `state` sent to the IdP; the callback's must match it. */
  readonly s: string;
  /** The OIDC nonce the ID token must carry; absent for OAuth 2.0-only providers. */
  readonly n?: string;
  /** The PKCE code verifier for redeeming the code. */
  readonly v: string;
  /** Where to go once signed in: a path already checked by `safeReturnTo` (return-to-same-origin). */
  readonly r: string;
  /** When this sign-in attempt expires, ms since the epoch. */
  readonly exp: number;
}

/** A signed-in user: who they are, and their own temporary AWS credentials. */
export interface SessionCookie {
  /** Name of the configured provider they signed in with; with `sub` it names the prefix. */
  readonly p: string;
  /** The provider's immutable subject for them (passed `isSafeSubject`). */
  readonly sub: string;
  /** Display name from the IdP, at most 100 characters; shown, never used for access. */
  readonly dn?: string;
  /** STS access key id. */
  readonly ak: string;
  /** STS secret access key. */
  readonly sk: string;
  /** STS session token. */
  readonly st: string;
  /** When the credentials (and so the session) expire, ms since the epoch. */
  readonly exp: number;
  /** This session's CSRF token, required on every POST that changes something (sign-out-post-csrf). */
  readonly csrf: string;
}

/**
 * What a CLI code carries from the consent page to `POST /cli/token` (cli-code-sealed):
 * the signed-in user's identity and credentials, bound to the CLI's PKCE challenge and
 * redirect URI, for at most `CLI_CODE_MAX_AGE_SECONDS`. Sealed like the cookies (purpose
 * `cli-code`), so only this app can read it, and useless without the CLI's verifier.
 */
export interface CliCode extends Omit<SessionCookie, 'csrf'> {
  /** The S256 PKCE challenge the CLI sent to /cli/authorize. */
  readonly ch: string;
  /** The redirect URI the code was issued for: the CLI's loopback callback, or paste mode's. */
  readonly ru: string;
  /** When the code expires, ms since the epoch. */
  readonly cx: number;
}

export interface SessionCookiesOptions {
  readonly config: AppConfig;
  /** Holds the cookie key (`config.cookieKeySecretId`). */
  readonly secrets: SecretStore;
  /** Served over https: `__Host-` names and the Secure flag. */
  readonly secure: boolean;
  /** Configured provider names; a session of any other provider counts as signed out. */
  readonly providers: ReadonlySet<string>;
}

/** Reads, writes and clears the login and session cookies. */
export class SessionCookies {
  readonly loginName: string;
  readonly sessionName: string;
  /** The sealer of the last cookie-key value seen, so keys are derived once per value. */
  private sealer: { readonly secret: string; readonly sealer: CookieSealer } | undefined;

  constructor(private readonly options: SessionCookiesOptions) {
    this.loginName = options.secure ? '__Host-wif-login' : 'wif-login';
    this.sessionName = options.secure ? '__Host-wif-session' : 'wif-session';
  }

  /** The Set-Cookie value carrying a sealed login cookie. */
  async sealLogin(cookie: LoginCookie): Promise<string> {
    const sealed = (await this.getSealer()).seal('login', cookie);
    return serialize(this.loginName, sealed, this.cookieOptions(LOGIN_MAX_AGE_SECONDS));
  }

  /** The request's login cookie, unchecked beyond its seal; undefined when absent or forged. */
  async openLogin(req: HttpRequest): Promise<LoginCookie | undefined> {
    return (await this.getSealer()).open('login', req.cookies[this.loginName]) as
      LoginCookie | undefined;
  }

  /** The Set-Cookie value carrying a sealed session cookie that lives `maxAge` seconds. */
  async sealSession(session: SessionCookie, maxAge: number): Promise<string> {
    const sealed = (await this.getSealer()).seal('session', session);
    return serialize(this.sessionName, sealed, this.cookieOptions(maxAge));
  }

  /** The request's session, expired or not; undefined when absent, forged or foreign (bad-cookie-signed-out). */
  async readSession(req: HttpRequest): Promise<SessionCookie | undefined> {
    const raw = req.cookies[this.sessionName];
    if (!raw) return undefined;
    const value = (await this.getSealer()).open('session', raw) as SessionCookie | undefined;
    if (!value || typeof value !== 'object' || typeof value.exp !== 'number') return undefined;
    if (!this.options.providers.has(value.p)) return undefined;
    return value;
  }

  /** A sealed CLI code (cli-code-sealed). */
  async sealCliCode(code: CliCode): Promise<string> {
    return (await this.getSealer()).seal('cli-code', code);
  }

  /** A CLI code, unchecked beyond its seal and shape; undefined when forged, foreign or garbled. */
  async openCliCode(value: string): Promise<CliCode | undefined> {
    const code = (await this.getSealer()).open('cli-code', value) as CliCode | undefined;
    if (!code || typeof code !== 'object') return undefined;
    const strings = [code.p, code.sub, code.ak, code.sk, code.st, code.ch, code.ru];
    if (strings.some((v) => typeof v !== 'string')) return undefined;
    if (typeof code.exp !== 'number' || typeof code.cx !== 'number') return undefined;
    return code;
  }

  /** Whether the request carries a session cookie at all, valid or not. */
  hasSessionCookie(req: HttpRequest): boolean {
    return Boolean(req.cookies[this.sessionName]);
  }

  clearLogin(): string {
    return serialize(this.loginName, '', this.cookieOptions(0));
  }

  clearSession(): string {
    return serialize(this.sessionName, '', this.cookieOptions(0));
  }

  /** sign-out-post-csrf, csrf-on-state-changes: state changes need the session's CSRF token and a same-origin request. */
  csrfOk(req: HttpRequest, session: SessionCookie, form: URLSearchParams): boolean {
    const origin = req.headers['origin'];
    if (
      origin !== undefined &&
      origin !== 'null' &&
      origin !== new URL(this.options.config.baseUrl).origin
    )
      return false;
    const token = form.get('csrf');
    return token !== null && safeEqual(token, session.csrf);
  }

  /**
   * Asks the secret store every time: its cache (secrets.ts) decides how long a value
   * lives, so a rotated key (a new first line) seals new cookies within that TTL, while
   * the old lines kept below it still open the cookies sealed before.
   */
  private async getSealer(): Promise<CookieSealer> {
    const secret = await this.options.secrets.get(this.options.config.cookieKeySecretId);
    if (this.sealer?.secret !== secret)
      this.sealer = { secret, sealer: CookieSealer.fromSecret(secret) };
    return this.sealer.sealer;
  }

  /** cookie-attributes: HttpOnly, SameSite=Lax, path /; Secure (and `__Host-` names) over https. */
  private cookieOptions(maxAge: number): SerializeOptions {
    return { httpOnly: true, secure: this.options.secure, sameSite: 'lax', path: '/', maxAge };
  }
}

/** expired-session-signs-in-again: a session whose credentials expire within the margin counts as ended. */
export function expiresSoon(session: Pick<SessionCookie, 'exp'>, now: number): boolean {
  return session.exp - EXPIRY_MARGIN_MS <= now;
}

export function credentialsOf(s: SessionCookie): TemporaryCredentials {
  return { accessKeyId: s.ak, secretAccessKey: s.sk, sessionToken: s.st, expiration: s.exp };
}

/** The user's own S3 prefix; every key the app builds starts with it. */
export function prefixOf(s: SessionCookie): string {
  return userPrefix(s.p, s.sub);
}

/** Where a user's files are, for the CLI and for client-side code. */
export function userLocation(config: AppConfig, provider: string, subject: string): UserLocation {
  return {
    provider,
    bucket: config.bucket,
    region: config.region,
    prefix: userPrefix(provider, subject),
    ...(config.endpoints?.s3 ? { s3Endpoint: config.endpoints.s3 } : {}),
  };
}

export function newCsrfToken(): string {
  return randomBytes(32).toString('base64url');
}

/** Constant-time string comparison for secrets (state, CSRF token). */
export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Whether a storage failure means the session's credentials expired (sign in again). */
export function isExpiredCredentials(err: unknown): boolean {
  if (err instanceof SignInError) return err.kind === 'restart';
  const name = (err as { name?: string } | undefined)?.name;
  // A key the service no longer knows (InvalidAccessKeyId, InvalidToken) means the same for
  // the user: these credentials are over, sign in again.
  return (
    name === 'ExpiredToken' ||
    name === 'ExpiredTokenException' ||
    name === 'TokenRefreshRequired' ||
    name === 'InvalidAccessKeyId' ||
    name === 'InvalidToken'
  );
}
