import { createHash } from 'node:crypto';
import { GOOGLE_ISSUER, IDP_PATHS, SANDBOX_CLIENTS } from './sandbox-config';

/**
 * Where the dev IdP is and who its clients are: the provider families it plays, its routes
 * and endpoint URLs, the sandbox client of each family, and the two encodings both the
 * dev IdP and its clients use (the PKCE S256 challenge, HTTP Basic client authentication).
 * Free of `oidc-provider`, so the token script starts fast and quietly.
 */

/** The provider families the dev IdP plays. */
export type DevIdpFamily = 'google' | 'oidc' | 'amazon' | 'facebook';
export const DEV_IDP_FAMILIES: readonly DevIdpFamily[] = ['google', 'oidc', 'amazon', 'facebook'];

/** Routes of both oidc-provider issuers, below their mount path (`/google`, `/oidc`). */
export const OIDC_ROUTES = {
  authorization: '/auth',
  token: '/token',
  jwks: '/jwks',
  userinfo: '/me',
  discovery: '/.well-known/openid-configuration',
} as const;

/** Where the Amazon-like and Facebook-like sign-in forms post (the dev IdP's own path). */
export const OAUTH2_SIGN_IN_PATHS = { amazon: '/amazon/signin', facebook: '/facebook/signin' };

export interface OidcEndpoints {
  /** The `iss` of its ID tokens. */
  readonly issuer: string;
  readonly discovery: string;
  readonly authorization: string;
  readonly token: string;
  readonly jwks: string;
  readonly userinfo: string;
}

export interface OAuth2Endpoints {
  readonly authorization: string;
  readonly token: string;
  readonly profile: string;
}

export interface DevIdpEndpoints {
  readonly google: OidcEndpoints;
  readonly oidc: OidcEndpoints;
  readonly amazon: OAuth2Endpoints;
  readonly facebook: OAuth2Endpoints;
}

/** Every endpoint of the dev IdP at `idpUrl` (e.g. `https://127.0.0.1:8444`). */
export function devIdpEndpoints(idpUrl: string): DevIdpEndpoints {
  const base = idpUrl.replace(/\/+$/, '');
  const oidcAt = (mount: string, issuer: string): OidcEndpoints => ({
    issuer,
    discovery: `${base}${mount}${OIDC_ROUTES.discovery}`,
    authorization: `${base}${mount}${OIDC_ROUTES.authorization}`,
    token: `${base}${mount}${OIDC_ROUTES.token}`,
    jwks: `${base}${mount}${OIDC_ROUTES.jwks}`,
    userinfo: `${base}${mount}${OIDC_ROUTES.userinfo}`,
  });
  return {
    // The Google-like issuer says it is Google; only its endpoints are local.
    google: oidcAt(IDP_PATHS.google, GOOGLE_ISSUER),
    oidc: oidcAt(IDP_PATHS.oidc, `${base}${IDP_PATHS.oidc}`),
    amazon: {
      authorization: `${base}${IDP_PATHS.amazon.authorize}`,
      token: `${base}${IDP_PATHS.amazon.token}`,
      profile: `${base}${IDP_PATHS.amazon.profile}`,
    },
    facebook: {
      authorization: `${base}${IDP_PATHS.facebook.authorize}`,
      token: `${base}${IDP_PATHS.facebook.token}`,
      profile: `${base}${IDP_PATHS.facebook.profile}`,
    },
  };
}

/** The dev IdP's client of each family (`SANDBOX_CLIENTS`). */
export function sandboxClientOf(family: DevIdpFamily): { clientId: string; clientSecret: string } {
  const { clientId, clientSecret } = SANDBOX_CLIENTS[family];
  return { clientId, clientSecret };
}

/** PKCE S256 challenge of a verifier (RFC 7636). */
export const pkceChallenge = (verifier: string): string =>
  createHash('sha256').update(verifier).digest('base64url');

/** RFC 6749 2.3.1: client id and secret are form-urlencoded before Basic encoding. */
export function basicAuthorization(clientId: string, clientSecret: string): string {
  const enc = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${enc(clientId)}:${enc(clientSecret)}`).toString('base64')}`;
}
