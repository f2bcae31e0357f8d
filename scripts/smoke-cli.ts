import { createHash, randomBytes } from 'node:crypto';
import { API_PATHS, CLI_PATHS, loopbackRedirectUri } from '../common/cli-protocol';
import { type Check, header, type HttpResult } from './smoke-http';

/**
 * Smoke checks of the credential broker's routes (the command line's sign-in and the
 * client-side credentials), with no credentials: the command is served, bad CLI requests
 * are refused (without a redirect until the port and state check out, then with an error
 * to the loopback), a signed-out request is sent to sign in, a forged code gets nothing.
 * Pure functions of what the endpoint answered, like the rest of the smoke.
 */

/** The loopback port of the smoke's CLI requests (nothing listens there: none is followed). */
const PORT = 49152;

/** A CLI authorize query: a real-looking state and S256 challenge, `extra` on top. */
export function cliAuthorizePath(extra: Record<string, string> = {}): string {
  const verifier = randomBytes(32).toString('base64url');
  const params = new URLSearchParams({
    port: String(PORT),
    state: randomBytes(32).toString('base64url'),
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    ...extra,
  });
  return `${CLI_PATHS.authorize}?${params}`;
}

const seenOf = (res: HttpResult): string => {
  if (res.error) return `request failed: ${res.error}`;
  const location = header(res, 'location');
  return `${res.status}${location ? ` -> ${location.slice(0, 80)}` : ''}`;
};

export function cliCommandCheck(res: HttpResult): Check {
  const type = header(res, 'content-type') ?? '';
  return {
    name: `GET ${CLI_PATHS.command}: 200, the command (node script)`,
    ok: res.status === 200 && res.body.startsWith('#!/usr/bin/env node') && /javascript/.test(type),
    seen: `${seenOf(res)}, ${type || 'no content-type'}, ${res.body.length} bytes`,
  };
}

/** loopback-redirect-only, cli-request-checked: a request the app must refuse, with no redirect. */
export function cliRefusedCheck(what: string, res: HttpResult): Check {
  return {
    name: `GET ${CLI_PATHS.authorize} with ${what}: 400, no redirect`,
    ok: res.status === 400 && header(res, 'location') === undefined,
    seen: seenOf(res),
  };
}

/**
 * cli-request-checked: with a valid port and state, a refused request goes back to the
 * command's loopback as an OAuth error (so the command stops at once), never with a code.
 */
export function cliLoopbackErrorCheck(what: string, res: HttpResult): Check {
  const location = header(res, 'location') ?? '';
  let ok = false;
  try {
    const url = new URL(location);
    ok =
      res.status === 302 &&
      `${url.origin}${url.pathname}` === loopbackRedirectUri(PORT) &&
      url.searchParams.get('error') === 'invalid_request' &&
      url.searchParams.has('state') &&
      !url.searchParams.has('code');
  } catch {
    ok = false;
  }
  return {
    name: `GET ${CLI_PATHS.authorize} with ${what}: invalid_request to the loopback, no code`,
    ok,
    seen: seenOf(res),
  };
}

/** Signed out, a CLI request goes to sign-in and comes back to itself (a same-origin path). */
export function cliSignInFirstCheck(res: HttpResult): Check {
  const name = `GET ${CLI_PATHS.authorize} signed out: sign in first, then back to it`;
  const back = encodeURIComponent(CLI_PATHS.authorize);
  const location = header(res, 'location');
  if (res.status === 302 && location) {
    const ok = location.startsWith('/login/') && location.includes(`return_to=${back}`);
    return { name, ok, seen: seenOf(res) };
  }
  const ok = res.status === 200 && res.body.includes(`return_to=${back}`);
  return { name, ok, seen: `${seenOf(res)}${ok ? ', sign-in links back to it' : ''}` };
}

/** cli-code-sealed: a code the app did not seal gets an OAuth error and no credentials. */
export function cliForgedCodeCheck(res: HttpResult): Check {
  let error: unknown;
  try {
    error = (JSON.parse(res.body) as { error?: unknown }).error;
  } catch {
    error = undefined;
  }
  return {
    name: `POST ${CLI_PATHS.token} with a forged code: 400 invalid_grant, no credentials`,
    ok: res.status === 400 && error === 'invalid_grant' && !res.body.includes('AccessKeyId'),
    seen: `${seenOf(res)}${typeof error === 'string' ? `, ${error}` : ''}`,
  };
}

/** client-credentials-same-origin: without a session, never credentials (401, or 404 when off). */
export function clientCredentialsSignedOutCheck(res: HttpResult): Check {
  return {
    name: `GET ${API_PATHS.credentials} signed out: 401, or 404 when client-side credentials are off`,
    ok: (res.status === 401 || res.status === 404) && !res.body.includes('secretAccessKey'),
    seen: seenOf(res),
  };
}

/** The form body of a token request with a made-up code. */
export function forgedTokenRequest(): string {
  return new URLSearchParams({
    grant_type: 'authorization_code',
    code: `v1.forged.${randomBytes(12).toString('base64url')}.${randomBytes(64).toString('base64url')}`,
    code_verifier: randomBytes(32).toString('base64url'),
    redirect_uri: loopbackRedirectUri(PORT),
  }).toString();
}
