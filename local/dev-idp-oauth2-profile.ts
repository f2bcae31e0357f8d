import { createHmac } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { BUILT_IN_PROVIDERS } from '../common/provider-facts';
import { sandboxClientOf } from './dev-idp-endpoints';
import { json } from './dev-idp-http';
import { safeEqual, type OAuth2Family, type OAuth2Grants } from './dev-idp-oauth2-grants';
import { amazonUserId, emailOf, facebookId } from './dev-idp-pages';

/**
 * The profile endpoint of the dev IdP's OAuth 2.0 providers (bearer access token, errors
 * and fields shaped like Login with Amazon and the Graph API, Graph's `appsecret_proof`),
 * and the profile it answers, which the token verifier reuses.
 */

/** The profile `family`'s profile endpoint answers for `user`. */
export function profileOf(family: OAuth2Family, user: string): Record<string, string> {
  const field = BUILT_IN_PROVIDERS[family].subjectClaim;
  return family === 'amazon'
    ? { [field]: amazonUserId(user), name: user, email: emailOf(user) }
    : { [field]: facebookId(user), name: user };
}

/** Profile endpoint: `Authorization: Bearer <access token>`. */
export function profile(
  grants: OAuth2Grants,
  family: OAuth2Family,
  req: IncomingMessage,
  url: URL,
  res: ServerResponse,
): void {
  const match = /^Bearer ([^\s]+)$/i.exec(req.headers.authorization ?? '');
  const record = match ? grants.lookup(family, match[1]) : undefined;
  if (!match || !record || record.expiresAt <= grants.now()) {
    const why = !match
      ? 'no bearer token'
      : !record
        ? 'unknown access token'
        : 'access token expired';
    res.setHeader('www-authenticate', `Bearer error="invalid_token", error_description="${why}"`);
    return json(
      res,
      401,
      family === 'amazon'
        ? { error: 'invalid_token', error_description: why }
        : { error: { message: why, type: 'OAuthException', code: 190 } },
    );
  }
  if (family === 'facebook') {
    // Graph API: when given, appsecret_proof must be HMAC-SHA256(app secret, token).
    const proof = url.searchParams.get('appsecret_proof');
    const expected = createHmac('sha256', sandboxClientOf('facebook').clientSecret)
      .update(match[1])
      .digest('hex');
    if (proof !== null && !safeEqual(proof, expected)) {
      return json(res, 400, {
        error: {
          message: 'Invalid appsecret_proof provided in the API argument',
          type: 'GraphMethodException',
          code: 100,
        },
      });
    }
  }
  json(res, 200, profileOf(family, record.user));
}
