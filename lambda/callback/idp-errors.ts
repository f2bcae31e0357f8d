import * as oidc from 'openid-client';
import type { ProviderSettings } from '../../common/app-config';
import { isObject, type Phase } from './idp-shared';
import { SignInError } from './ports';

/** What the user sees; the reason goes to `detail` (logs only). */
const MESSAGES = {
  bad_request: 'The sign-in response was not valid. Please sign in again.',
  token_rejected: 'The identity provider did not confirm your sign-in. Please sign in again.',
  idp_unavailable:
    'The identity provider cannot be reached right now. Please try again in a few minutes.',
} as const;

type Kind = keyof typeof MESSAGES;

export function fail(kind: Kind, provider: ProviderSettings, detail: string): SignInError {
  return new SignInError(kind, MESSAGES[kind], `${provider.name}: ${detail}`);
}

/**
 * Maps an openid-client failure to what the user sees (idp-failure-502, pkce-verifier-mismatch):
 * - before any request in `finish`: the callback itself is wrong (state, iss, error=,
 *   duplicated or missing parameters) -> bad_request;
 * - discovery: the IdP cannot be used -> idp_unavailable;
 * - afterwards: network, timeouts, 5xx, non-JSON or malformed bodies -> idp_unavailable;
 *   an OAuth error (`invalid_grant`...), a refused token or ID token -> token_rejected.
 */
export function toSignInError(err: unknown, phase: Phase, provider: ProviderSettings): SignInError {
  if (err instanceof SignInError) return err;
  const detail = `${phase}: ${describe(err)}`;
  if (phase === 'discovery') return fail('idp_unavailable', provider, detail);
  if (phase === 'callback' || err instanceof oidc.AuthorizationResponseError) {
    return fail('bad_request', provider, detail);
  }
  return fail(isUnavailable(err) ? 'idp_unavailable' : 'token_rejected', provider, detail);
}

const UNAVAILABLE_CODES = new Set([
  'OAUTH_TIMEOUT',
  'OAUTH_ABORT',
  'OAUTH_RESPONSE_IS_NOT_JSON',
  'OAUTH_PARSE_ERROR',
  'OAUTH_HTTP_REQUEST_FORBIDDEN',
  'OAUTH_REQUEST_PROTOCOL_FORBIDDEN',
]);

function isUnavailable(err: unknown): boolean {
  if (err instanceof oidc.ResponseBodyError) return err.status >= 500;
  if (err instanceof oidc.WWWAuthenticateChallengeError) return err.status >= 500;
  const code = (err as { code?: unknown } | undefined)?.code;
  // fetch() rejects with a plain TypeError when the connection fails.
  if (err instanceof TypeError)
    return !(typeof code === 'string' && code.startsWith('ERR_INVALID_ARG'));
  if (typeof code !== 'string') return true;
  if (UNAVAILABLE_CODES.has(code)) return true;
  const cause = (err as Error).cause;
  if (code === 'OAUTH_RESPONSE_IS_NOT_CONFORM') {
    // An error status without a standard OAuth error body (Facebook's { error: {...} }):
    // 400/401/403 is a refusal, anything else is the IdP misbehaving.
    const status = cause instanceof Response ? cause.status : 0;
    return ![400, 401, 403].includes(status);
  }
  if (code === 'OAUTH_INVALID_RESPONSE') {
    // A malformed response body (no access_token, not an object...) carries `body`;
    // a malformed or refused JWT carries `claims`, a key, or the JWT itself.
    const details = (cause as { cause?: unknown } | undefined)?.cause;
    return isObject(details) && 'body' in details && !('claims' in details);
  }
  return false;
}

/**
 * A reason for the logs: messages, codes and the failed claim's name along the cause
 * chain. These are the libraries' fixed texts; the causes' other fields (bodies, claims,
 * parameters) hold tokens and codes and are never copied.
 */
function describe(err: unknown): string {
  const parts: string[] = [];
  let current: unknown = err;
  for (let depth = 0; depth < 4 && isErrorLike(current); depth++) {
    if (current instanceof oidc.ResponseBodyError)
      parts.push(`IdP answered ${current.status} ${current.error}`);
    else parts.push(current.message);
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') parts.push(`(${code})`);
    const cause: unknown = current.cause;
    if (isObject(cause) && typeof cause.claim === 'string') parts.push(`[claim ${cause.claim}]`);
    if (isObject(cause) && typeof cause.attribute === 'string')
      parts.push(`[attribute ${cause.attribute}]`);
    if (cause instanceof Response) parts.push(`[status ${cause.status}]`);
    current = cause;
  }
  return parts.length > 0 ? parts.join(' ') : 'unknown error';
}

/** Duck-typed: errors from fetch come from another realm under Jest. */
function isErrorLike(value: unknown): value is Error {
  return isObject(value) && typeof value.message === 'string' && typeof value.name === 'string';
}
