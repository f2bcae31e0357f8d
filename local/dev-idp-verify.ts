import * as jose from 'jose';
import {
  ACCESS_TOKEN_PROVIDER_IDS,
  BUILT_IN_PROVIDERS,
  accessTokenFamilyOf,
  type ProviderFacts,
} from '../common/provider-facts';
import { TokenRefused, type VerifiedWebIdentity, type WebIdentityVerifier } from './contracts';
import type { OAuth2Providers } from './dev-idp-oauth2';
import { profileOf } from './dev-idp-oauth2-profile';
import { ID_TOKEN_ALGORITHMS } from './dev-idp-store';

/**
 * The dev IdP's token verifier, what the local STS calls: ID tokens against the sandbox
 * issuers' keys, Amazon and Facebook access tokens against the dev IdP's token store, each
 * refused with the error AWS STS would give, and turned into the condition keys of the
 * provider-facts table.
 */

export interface KnownIssuer {
  readonly provider: string;
  /** Its condition keys (Google's, or a generic issuer's named after its URL). */
  readonly facts: ProviderFacts;
  readonly keys: ReturnType<typeof jose.createLocalJWKSet>;
}

const refuse = (message: string): TokenRefused => new TokenRefused('InvalidIdentityToken', message);

/** The verifier the local STS uses: the dev IdP's own keys and token store, checked like AWS STS. */
export function createVerifier(
  issuers: ReadonlyMap<string, KnownIssuer>,
  oauth2: OAuth2Providers,
  clock: () => number,
): WebIdentityVerifier {
  const looksLikeJwt = (token: string): boolean => {
    try {
      jose.decodeJwt(token);
      return true;
    } catch {
      return false;
    }
  };

  async function verifyAccessToken(
    token: string,
    providerId: string,
  ): Promise<VerifiedWebIdentity> {
    const family = accessTokenFamilyOf(providerId);
    if (!family) {
      throw refuse(
        `ProviderId ${providerId} is not an OAuth 2.0 provider of the sandbox (${ACCESS_TOKEN_PROVIDER_IDS.join(', ')})`,
      );
    }
    if (looksLikeJwt(token)) {
      throw refuse('an OpenID Connect ID token is passed without ProviderId');
    }
    const record = oauth2.lookup(family, token);
    if (!record) throw refuse(`the access token is not valid for ${providerId}`);
    if (record.expiresAt <= clock()) {
      throw new TokenRefused('ExpiredTokenException', `the ${providerId} access token has expired`);
    }
    const profile = profileOf(family, record.user);
    const facts = BUILT_IN_PROVIDERS[family];
    const subject = profile[facts.subjectClaim];
    return {
      provider: providerId,
      subject,
      audience: record.clientId,
      contextKeys: {
        [facts.subjectKey]: subject,
        [facts.audienceKeys[0]]: record.clientId,
      },
    };
  }

  async function verifyIdToken(token: string): Promise<VerifiedWebIdentity> {
    let iss: unknown;
    try {
      iss = jose.decodeJwt(token).iss;
    } catch {
      throw refuse('the token is not a JWT (an OAuth 2.0 access token needs ProviderId)');
    }
    const issuer = typeof iss === 'string' ? issuers.get(iss) : undefined;
    if (!issuer)
      throw refuse(`issuer ${JSON.stringify(iss)} is not an identity provider of the sandbox`);
    let claims: jose.JWTPayload;
    try {
      ({ payload: claims } = await jose.jwtVerify(token, issuer.keys, {
        issuer: iss as string,
        algorithms: ID_TOKEN_ALGORITHMS,
        requiredClaims: ['sub', 'aud', 'exp', 'iat'],
        currentDate: new Date(clock()),
      }));
    } catch (err) {
      if ((err as { code?: string }).code === 'ERR_JWT_EXPIRED') {
        throw new TokenRefused(
          'ExpiredTokenException',
          'Token expired: current date/time must be before the expiration date/time',
        );
      }
      throw refuse(`the ID token is not valid: ${(err as Error).message}`);
    }
    const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    const azp = typeof claims.azp === 'string' ? claims.azp : undefined;
    if (aud.length !== 1 && azp === undefined) throw refuse('several audiences and no azp');
    const sub = String(claims.sub);
    const audience = azp ?? String(aud[0]);
    const [audKey, oaudKey] = issuer.facts.audienceKeys;
    return {
      provider: issuer.provider,
      subject: sub,
      audience,
      contextKeys: {
        [issuer.facts.subjectKey]: sub,
        [audKey]: audience,
        // Google's `:oaud` carries the `aud` claim (its `:aud` the azp).
        ...(oaudKey ? { [oaudKey]: String(aud[0]) } : {}),
      },
    };
  }

  return {
    async verify(token, providerId) {
      if (typeof token !== 'string' || token === '') throw refuse('no token');
      return providerId === undefined ? verifyIdToken(token) : verifyAccessToken(token, providerId);
    },
  };
}
