import type { AppConfig } from '../../common/app-config';
import type { HttpResponse } from './http';
import type { SignInError } from './ports';
import * as views from './views';

/**
 * How the app answers: every response carries the security headers, pages are HTML,
 * the upload script gets JSON, and failures become pages that never show details.
 */

export interface Responses {
  /** An HTML response (unless `extra.headers` says otherwise) with the security headers. */
  respond(status: number, body: string, extra?: Partial<HttpResponse>): HttpResponse;
  /** A redirect (302 unless told; 303 after a POST), optionally setting cookies. */
  redirect(location: string, cookies?: string[], status?: number): HttpResponse;
  /** A JSON answer for the upload script. */
  json(status: number, value: unknown, extra?: Partial<HttpResponse>): HttpResponse;
  /** A short page with a title, a message and a link home. */
  page(status: number, title: string, message: string): HttpResponse;
  /** 405 with the one method the path accepts. */
  methodNotAllowed(allow: string): HttpResponse;
  /** 404 for a path the app does not serve. */
  notFound(): HttpResponse;
  /** 403 for a state change without a valid CSRF token or from another origin. */
  notAllowed(): HttpResponse;
  /**
   * The page for a sign-in failure, by kind; `clearLogin` always goes, `clearSession` too
   * when the user must sign in again. Undefined for a kind this app does not know.
   */
  signInError(err: SignInError, clearLogin: string, clearSession: string): HttpResponse | undefined;
  /** The generic 500: details only in logs (idp-failure-502). */
  internalError(): HttpResponse;
  /** 503 with Retry-After: a dependency (S3, Secrets Manager) is busy or failing for now (dependency-busy-503). */
  unavailable(): HttpResponse;
  /**
   * The page CSP, with one more origin its forms may post (and be redirected) to: the CLI's
   * loopback server on the consent page (`form-action` also governs the redirect after a post).
   */
  cspWithFormTarget(origin: string): string;
}

/** Seconds a client should wait before trying again after a 503. */
export const RETRY_AFTER_SECONDS = '5';

/**
 * True for an AWS service failing or throttling for now (S3 `SlowDown`, a 5xx, Secrets
 * Manager `ThrottlingException`) or unreachable: worth "try again in a moment", not a 500.
 * The SDK has already retried these by the time the app sees them (dependency-busy-503).
 */
export function isServiceUnavailable(err: unknown): boolean {
  const e = err as { name?: string; code?: string; $metadata?: { httpStatusCode?: number } };
  if (!e || typeof e !== 'object') return false;
  if ((e.$metadata?.httpStatusCode ?? 0) >= 500) return true;
  return UNAVAILABLE_NAMES.has(e.name ?? '') || UNAVAILABLE_NAMES.has(e.code ?? '');
}

const UNAVAILABLE_NAMES = new Set([
  'SlowDown',
  'ServiceUnavailable',
  'InternalError',
  'InternalServiceError',
  'RequestTimeout',
  'Throttling',
  'ThrottlingException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'TimeoutError',
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
]);

/** @param secure whether the app is served over https (adds HSTS) */
export function createResponses(config: AppConfig, secure: boolean): Responses {
  const baseHeaders = securityHeaders(config, secure);

  function respond(status: number, body: string, extra: Partial<HttpResponse> = {}): HttpResponse {
    return {
      status,
      body,
      cookies: extra.cookies ?? [],
      headers: { 'content-type': 'text/html; charset=utf-8', ...baseHeaders, ...extra.headers },
    };
  }
  const page = (status: number, title: string, message: string) =>
    respond(status, views.messagePage(title, message));

  return {
    respond,
    redirect: (location, cookies = [], status = 302) =>
      respond(status, '', { headers: { location }, cookies }),
    json: (status, value, extra = {}) =>
      respond(status, JSON.stringify(value), {
        ...extra,
        headers: { 'content-type': 'application/json', ...extra.headers },
      }),
    page,
    methodNotAllowed: (allow) =>
      respond(
        405,
        views.messagePage('Method not allowed', 'This page does not accept that request.'),
        { headers: { allow } },
      ),
    notFound: () => page(404, 'Not found', 'There is no such page.'),
    notAllowed: () =>
      page(403, 'Not allowed', 'This request was not allowed. Reload the page and try again.'),
    signInError(err, clearLogin, clearSession) {
      const clear = [clearLogin];
      switch (err.kind) {
        case 'bad_request':
        case 'token_rejected':
          return respond(400, views.messagePage('Sign-in failed', err.message), { cookies: clear });
        case 'too_large':
          return respond(400, views.messagePage('Sign-in failed', err.message), { cookies: clear });
        case 'not_allowed':
          // foreign-token-refused: a token for another app; retrying cannot help.
          return respond(
            403,
            views.messagePage('This account is not allowed', err.message, { retry: false }),
            { cookies: clear },
          );
        case 'restart':
          // Also S3 refusing expired session credentials: the session cookie goes too.
          return respond(401, views.messagePage('Please sign in again', err.message), {
            cookies: [...clear, clearSession],
          });
        case 'idp_unavailable':
          return respond(502, views.messagePage('Sign-in is unavailable', err.message), {
            cookies: clear,
          });
        case 'sts_unavailable':
          return respond(503, views.messagePage('Sign-in is busy', err.message), {
            cookies: clear,
            headers: { 'retry-after': RETRY_AFTER_SECONDS },
          });
      }
      return undefined;
    },
    internalError: () =>
      respond(500, views.messagePage('Something went wrong', 'Please try again in a moment.')),
    unavailable: () =>
      respond(503, views.messagePage('Busy right now', 'Please try again in a moment.'), {
        headers: { 'retry-after': RETRY_AFTER_SECONDS },
      }),
    cspWithFormTarget: (origin) => contentSecurityPolicy(config, [origin]),
  };
}

/** The page CSP (no-framing-strict-csp); `formTargets` are origins forms may post to besides the app. */
function contentSecurityPolicy(config: AppConfig, formTargets: readonly string[] = []): string {
  const s3Origin = config.endpoints?.s3
    ? new URL(config.endpoints.s3).origin
    : `https://${config.bucket}.s3.${config.region}.amazonaws.com`;
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    `connect-src 'self' ${s3Origin}`,
    ["form-action 'self'", ...formTargets].join(' '),
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; ');
}

/** Headers on every response (no-referrer-leak, no-framing-strict-csp). */
function securityHeaders(config: AppConfig, secure: boolean): Record<string, string> {
  return { 'content-security-policy': contentSecurityPolicy(config), ...pageHeaders(secure) };
}

/**
 * The headers every page carries besides its CSP: no framing, no referrer, no caching,
 * isolation, and HSTS when served over https. The sandbox's own pages use them too.
 */
export function pageHeaders(secure: boolean): Record<string, string> {
  return {
    'x-frame-options': 'DENY',
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'cache-control': 'no-store',
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-resource-policy': 'same-origin',
    'permissions-policy': 'camera=(), microphone=(), geolocation=()',
    ...(secure ? { 'strict-transport-security': 'max-age=63072000; includeSubDomains' } : {}),
  };
}
