import * as jose from 'jose';
import * as oidc from 'openid-client';
import type { ProviderSettings } from '../../common/app-config';
import { googleIssuerSpellings } from '../../common/provider-facts';
import { fail } from './idp-errors';
import { budgetedFetch, CLOCK_TOLERANCE_SECONDS, isObject, type IdpContext } from './idp-shared';
import type { Budget, ExpectedAuthorization } from './ports';

/**
 * Google documents two spellings of its ID tokens' `iss`: `https://accounts.google.com`
 * and `accounts.google.com`. openid-client compares `iss` strictly with the discovered
 * issuer and offers no hook for a second value, so when (and only when) it refuses a
 * Google ID token because `iss` is exactly the scheme-less spelling, the token is
 * validated again here with jose: the same JWKS (jwks_uri of the discovered metadata),
 * the same algorithms, audience, azp, nonce, required claims and clock tolerance.
 */
export async function verifyGoogleAlias(
  ctx: IdpContext,
  provider: ProviderSettings,
  server: oidc.ServerMetadata,
  tokenResponse: Response,
  alias: string,
  expected: ExpectedAuthorization,
  budget: Budget,
): Promise<{ idToken: string; accessToken: string; claims: jose.JWTPayload }> {
  let body: unknown;
  try {
    body = await tokenResponse.json();
  } catch {
    throw fail('idp_unavailable', provider, 'token endpoint answered non-JSON');
  }
  if (
    !isObject(body) ||
    typeof body.id_token !== 'string' ||
    typeof body.access_token !== 'string'
  ) {
    throw fail('idp_unavailable', provider, 'token response without id_token or access_token');
  }
  const keys = await fetchJwks(ctx, provider, server, budget);
  const algorithms = (server.id_token_signing_alg_values_supported ?? ['RS256']).filter(
    (alg) => alg !== 'none' && !alg.startsWith('HS'),
  );
  let claims: jose.JWTPayload;
  try {
    ({ payload: claims } = await jose.jwtVerify(body.id_token, keys, {
      issuer: alias,
      audience: provider.clientId,
      algorithms,
      // openid-client checked presence before it looked at iss; again, in case that changes.
      requiredClaims: ['iss', 'aud', 'sub', 'exp', 'iat', 'nonce'],
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
      currentDate: new Date(ctx.now()),
    }));
  } catch (err) {
    throw fail('token_rejected', provider, `ID token (issuer ${alias}): ${(err as Error).message}`);
  }
  if (claims.nonce !== expected.nonce)
    throw fail('token_rejected', provider, 'ID token nonce mismatch');
  return { idToken: body.id_token, accessToken: body.access_token, claims };
}

async function fetchJwks(
  ctx: IdpContext,
  provider: ProviderSettings,
  server: oidc.ServerMetadata,
  budget: Budget,
) {
  if (!server.jwks_uri) throw fail('idp_unavailable', provider, 'no jwks_uri in discovery');
  const url = new URL(server.jwks_uri);
  if (url.protocol !== 'https:' && !(ctx.allowInsecureRequests && url.protocol === 'http:')) {
    throw fail('idp_unavailable', provider, 'jwks_uri is not https');
  }
  let jwks: unknown;
  try {
    const response = await budgetedFetch(ctx, budget)(url, {
      headers: { accept: 'application/json' },
      redirect: 'manual',
    });
    if (response.status !== 200) throw new Error(`status ${response.status}`);
    jwks = await response.json();
    return jose.createLocalJWKSet(jwks as jose.JSONWebKeySet);
  } catch (err) {
    throw fail('idp_unavailable', provider, `jwks: ${(err as Error).message}`);
  }
}

/** Google's second issuer spelling (googleIssuerSpellings): the configured issuer without its scheme. */
export function googleIssuerAlias(
  provider: ProviderSettings,
  server: oidc.ServerMetadata,
): string | undefined {
  if (provider.family !== 'google') return undefined;
  return googleIssuerSpellings(server.issuer)[1];
}

/** openid-client refused the ID token because `iss` is exactly `alias`, and for nothing else. */
export function isIssuerMismatch(err: unknown, alias: string): boolean {
  if (!(err instanceof oidc.ClientError) || err.code !== 'OAUTH_JWT_CLAIM_COMPARISON_FAILED')
    return false;
  const details = (err.cause as { cause?: unknown } | undefined)?.cause;
  return (
    isObject(details) &&
    details.claim === 'iss' &&
    isObject(details.claims) &&
    details.claims.iss === alias
  );
}
