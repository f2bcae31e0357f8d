import type * as jose from 'jose';
import * as oidc from 'openid-client';
import type { ProviderSettings } from '../../common/app-config';
import { fail, toSignInError } from './idp-errors';
import { googleIssuerAlias, isIssuerMismatch, verifyGoogleAlias } from './idp-google';
import {
  budgetedFetch,
  configuration,
  displayNameOf,
  HTTP_TIMEOUT_SECONDS,
  rememberJwks,
  type CallState,
  type IdpContext,
} from './idp-shared';
import { isSafeSubject } from './names';
import {
  type Budget,
  SignInError,
  type ExpectedAuthorization,
  type SignedInIdentity,
} from './ports';

/**
 * The OpenID Connect families (`google`, `oidc`): server metadata, scopes, and the
 * callback, whose ID token is the subject's source and what STS gets.
 */

/** `openid` is required; `email profile` give a display name without a userinfo call. */
const OIDC_DEFAULT_SCOPES = ['openid', 'email', 'profile'];

export function oidcScopes(provider: ProviderSettings): string[] {
  const scopes = provider.scopes ?? OIDC_DEFAULT_SCOPES;
  return scopes.includes('openid') ? [...scopes] : ['openid', ...scopes];
}

/** The configured metadata when given in full, otherwise discovered. */
export function oidcServerMetadata(
  ctx: IdpContext,
  provider: ProviderSettings,
  budget: Budget,
): Promise<oidc.ServerMetadata> {
  return explicitOidcServer(provider) ?? discover(ctx, provider, budget);
}

/**
 * OIDC metadata given in full by configuration (the sandbox's Google-like issuer is
 * `https://accounts.google.com` served from 127.0.0.1, so it cannot be discovered);
 * undefined means discover.
 */
function explicitOidcServer(provider: ProviderSettings): Promise<oidc.ServerMetadata> | undefined {
  const { issuer, authorizationEndpoint, tokenEndpoint, jwksUri } = provider;
  if (!issuer || !authorizationEndpoint || !tokenEndpoint || !jwksUri) return undefined;
  return Promise.resolve({
    issuer,
    authorization_endpoint: authorizationEndpoint,
    token_endpoint: tokenEndpoint,
    jwks_uri: jwksUri,
    userinfo_endpoint: provider.userinfoEndpoint,
  });
}

async function discover(
  ctx: IdpContext,
  provider: ProviderSettings,
  budget: Budget,
): Promise<oidc.ServerMetadata> {
  const issuer = provider.issuer;
  if (!issuer) throw fail('idp_unavailable', provider, `family ${provider.family} needs an issuer`);
  let config: oidc.Configuration;
  try {
    // openid-client refuses a document whose issuer is not the URL we asked (discovery-issuer-match).
    config = await oidc.discovery(new URL(issuer), provider.clientId, undefined, undefined, {
      [oidc.customFetch]: toCustomFetch(budgetedFetch(ctx, budget)),
      timeout: HTTP_TIMEOUT_SECONDS,
      execute: ctx.allowInsecureRequests ? [oidc.allowInsecureRequests] : [],
    });
  } catch (err) {
    throw toSignInError(err, 'discovery', provider);
  }
  const server = config.serverMetadata();
  // Also exactly the configured string: ID tokens are compared with it, and so are the
  // IAM OIDC provider's keys (`<issuer host/path>:sub`), so 'x/' for 'x' is not the same.
  if (server.issuer !== issuer) {
    throw fail(
      'idp_unavailable',
      provider,
      `discovery: issuer is '${server.issuer}', configured '${issuer}'`,
    );
  }
  return server;
}

export async function finishOidc(
  ctx: IdpContext,
  provider: ProviderSettings,
  server: oidc.ServerMetadata,
  secret: string,
  currentUrl: URL,
  expected: ExpectedAuthorization,
  budget: Budget,
): Promise<SignedInIdentity> {
  const call: CallState = {
    phase: 'callback',
    keepTokenResponse: provider.family === 'google',
    budget,
  };
  const config = configuration(ctx, provider, server, call, secret);
  let idToken: string;
  let accessToken: string;
  let claims: jose.JWTPayload;
  try {
    // Checks state and RFC 9207 `iss` in the callback (state-required, callback-iss-checked), sends the PKCE
    // verifier (pkce-verifier-mismatch), then validates the ID token: iss, aud, azp when several
    // audiences, sub, iat, exp (id-token-issuer, id-token-audience, id-token-claims-required, id-token-expiry), nonce (id-token-nonce), signature (id-token-signature).
    const tokens = await oidc.authorizationCodeGrant(config, currentUrl, {
      expectedState: expected.state,
      expectedNonce: expected.nonce,
      pkceCodeVerifier: expected.codeVerifier,
      idTokenExpected: true,
    });
    const validated = tokens.claims();
    if (!tokens.id_token || !validated)
      throw fail('token_rejected', provider, 'token response without ID token');
    idToken = tokens.id_token;
    accessToken = tokens.access_token;
    claims = validated;
  } catch (err) {
    if (err instanceof SignInError) throw err;
    const alias = googleIssuerAlias(provider, server);
    if (alias === undefined || !isIssuerMismatch(err, alias) || !call.tokenResponse) {
      throw toSignInError(err, call.phase, provider);
    }
    ({ idToken, accessToken, claims } = await verifyGoogleAlias(
      ctx,
      provider,
      server,
      call.tokenResponse,
      alias,
      expected,
      budget,
    ));
  } finally {
    rememberJwks(ctx, provider, config);
  }

  checkAudience(provider, claims);
  const subject = claims.sub;
  if (!isSafeSubject(subject))
    throw fail('token_rejected', provider, 'ID token subject is not usable as a key');

  let displayName = displayNameOf(claims);
  if (displayName === undefined && server.userinfo_endpoint) {
    call.phase = 'userinfo';
    try {
      // expectedSubject: a userinfo answer for another user is refused (userinfo-sub-match).
      const userinfo = await oidc.fetchUserInfo(config, accessToken, subject);
      displayName = displayNameOf(userinfo);
    } catch (err) {
      throw toSignInError(err, 'userinfo', provider);
    }
  }
  return {
    subject,
    webIdentityToken: idToken,
    ...(displayName === undefined ? {} : { displayName }),
  };
}

/**
 * Checks openid-client leaves out. It checks `azp` only when `aud` has several values;
 * OpenID Connect Core 3.1.3.7 also says: reject additional audiences the client does not
 * trust (we trust none) and, when `azp` is present, it must be our client id (id-token-audience).
 * STS keys Google's audience condition on `azp` when present, so this matters there too.
 */
function checkAudience(provider: ProviderSettings, claims: jose.JWTPayload): void {
  const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!audiences.includes(provider.clientId)) {
    throw fail('token_rejected', provider, 'ID token audience is not this client');
  }
  if (audiences.some((aud) => aud !== provider.clientId)) {
    throw fail('token_rejected', provider, 'ID token has an additional untrusted audience');
  }
  if (claims.azp !== undefined && claims.azp !== provider.clientId) {
    throw fail('token_rejected', provider, 'ID token azp is not this client');
  }
}

function toCustomFetch(
  f: (url: string, init?: RequestInit) => Promise<Response>,
): oidc.CustomFetch {
  return (url, options) => f(url, options as RequestInit);
}
