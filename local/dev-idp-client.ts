import { randomBytes } from 'node:crypto';
import { browseSignIn } from './dev-idp-browse';
import {
  basicAuthorization,
  DEV_IDP_FAMILIES,
  devIdpEndpoints,
  pkceChallenge,
  sandboxClientOf,
  type DevIdpFamily,
} from './dev-idp-endpoints';
import { explained, fetchTrusting } from './dev-idp-fetch';

/**
 * The client side of the dev IdP: a relying party that signs in through the REAL
 * authorization code flow (redirects, sign-in form, code + PKCE at the token endpoint) and
 * returns the token the app would give STS. Used by `startDevIdp().mintToken`,
 * `scripts/sandbox-token.ts` and tests.
 *
 * Deliberately free of `oidc-provider`, so the token script starts fast and quietly.
 */

/** Scopes the scripted sign-in asks for, as the app does. */
const SCOPES: Record<DevIdpFamily, string> = {
  google: 'openid email profile',
  oidc: 'openid email profile',
  amazon: 'profile',
  facebook: 'public_profile',
};

/**
 * The redirect URI of scripted sign-ins: a loopback URL that is never contacted (the
 * scripted browser stops when it is sent there), accepted by the dev IdP for every client.
 */
export const SCRIPTED_REDIRECT_URI = 'http://127.0.0.1/sandbox-token/callback';

const base64url = (bytes: Buffer): string => bytes.toString('base64url');

export interface ScriptedSignInOptions {
  /** The CA that signed the dev IdP's certificate (PEM); or give `fetch`. */
  readonly ca?: string | Buffer;
  /** @default - fetchTrusting(ca) */
  readonly fetch?: typeof fetch;
  /** @default SCRIPTED_REDIRECT_URI */
  readonly redirectUri?: string;
  /** Sign in as another registered client (OpenID issuers only). @default the sandbox client */
  readonly client?: { readonly clientId: string; readonly clientSecret: string };
}

/**
 * Signs `user` in at the dev IdP at `idpUrl` through the real authorization code flow with
 * PKCE (S256), state and nonce, as the sandbox client of `family`, and returns what the app
 * would give STS: the ID token (google, oidc) or the access token (amazon, facebook).
 */
export async function scriptedSignIn(
  idpUrl: string,
  family: DevIdpFamily,
  user: string,
  options: ScriptedSignInOptions,
): Promise<string> {
  if (!DEV_IDP_FAMILIES.includes(family)) {
    throw new TypeError(`provider must be one of ${DEV_IDP_FAMILIES.join(', ')}, got '${family}'`);
  }
  const given = options.fetch ?? (options.ca ? fetchTrusting(options.ca) : undefined);
  if (!given) throw new TypeError('scriptedSignIn needs ca or fetch');
  const fetcher = explained(given, idpUrl);
  const endpoints = devIdpEndpoints(idpUrl)[family];
  const client = options.client ?? sandboxClientOf(family);
  const redirectUri = options.redirectUri ?? SCRIPTED_REDIRECT_URI;
  const verifier = base64url(randomBytes(32));
  const state = base64url(randomBytes(16));
  const nonce = base64url(randomBytes(16));
  const oidc = family === 'google' || family === 'oidc';

  const authorization = new URL(endpoints.authorization);
  authorization.search = new URLSearchParams({
    client_id: client.clientId,
    redirect_uri: redirectUri,
    response_type: 'code',
    scope: SCOPES[family],
    state,
    code_challenge: pkceChallenge(verifier),
    code_challenge_method: 'S256',
    ...(oidc ? { nonce } : {}),
  }).toString();

  const callback = await browseSignIn(authorization, user, { fetch: fetcher, redirectUri });
  const error = callback.searchParams.get('error');
  if (error) {
    const description = callback.searchParams.get('error_description');
    throw new Error(
      `dev IdP refused the sign-in: ${error}${description ? ` (${description})` : ''}`,
    );
  }
  if (callback.searchParams.get('state') !== state)
    throw new Error('dev IdP returned another state');
  const code = callback.searchParams.get('code');
  if (!code) throw new Error('dev IdP returned no code');

  const response = await fetcher(endpoints.token, {
    method: 'POST',
    headers: {
      authorization: basicAuthorization(client.clientId, client.clientSecret),
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
    },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: redirectUri,
      code_verifier: verifier,
    }),
    redirect: 'manual',
  });
  const tokens = (await response.json().catch(() => ({}))) as Record<string, unknown>;
  if (response.status !== 200) {
    throw new Error(
      `dev IdP token endpoint answered ${response.status}: ${String(tokens.error ?? 'no error code')}`,
    );
  }
  const token = oidc ? tokens.id_token : tokens.access_token;
  if (typeof token !== 'string' || !token) {
    throw new Error(`dev IdP token response has no ${oidc ? 'id_token' : 'access_token'}`);
  }
  if (oidc) {
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString());
    if (payload.nonce !== nonce) throw new Error('dev IdP ID token carries another nonce');
  }
  return token;
}
