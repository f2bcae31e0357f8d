import type { IncomingMessage, ServerResponse } from 'node:http';
import { pkceChallenge, sandboxClientOf } from './dev-idp-endpoints';
import { json } from './dev-idp-http';
import {
  ACCESS_TOKEN_TTL_SECONDS,
  safeEqual,
  type OAuth2Family,
  type OAuth2Grants,
} from './dev-idp-oauth2-grants';

/**
 * The token endpoint of the dev IdP's OAuth 2.0 providers: confidential client
 * authentication (HTTP Basic or form, never both) and a single-use code bound to its
 * client, redirect URI and PKCE verifier, exchanged for an opaque access token.
 */

/** Token endpoint: client secret (basic or post), single-use code bound to client, redirect URI and PKCE. */
export function token(
  grants: OAuth2Grants,
  family: OAuth2Family,
  req: IncomingMessage,
  form: URLSearchParams,
  res: ServerResponse,
): void {
  const client = sandboxClientOf(family);
  const auth = clientCredentials(req, form);
  if ('error' in auth)
    return json(res, 400, { error: 'invalid_request', error_description: auth.error });
  if (auth.clientId !== client.clientId || !safeEqual(auth.clientSecret, client.clientSecret)) {
    res.setHeader('www-authenticate', 'Basic realm="dev-idp"');
    return json(res, 401, {
      error: 'invalid_client',
      error_description: 'client authentication failed',
    });
  }
  if (form.get('grant_type') !== 'authorization_code') {
    return json(res, 400, { error: 'unsupported_grant_type' });
  }
  const code = grants.takeCode(form.get('code') ?? '', auth.clientId);
  const verifier = form.get('code_verifier') ?? '';
  const refusal = !code
    ? 'unknown or already used code'
    : code.family !== family || code.clientId !== auth.clientId
      ? 'code issued to another client'
      : code.expiresAt <= grants.now()
        ? 'code expired'
        : form.get('redirect_uri') !== code.redirectUri
          ? 'redirect_uri differs from the authorization request'
          : !/^[A-Za-z0-9._~-]{43,128}$/.test(verifier) ||
              !safeEqual(pkceChallenge(verifier), code.codeChallenge)
            ? 'PKCE verification failed'
            : undefined;
  if (refusal || !code)
    return json(res, 400, { error: 'invalid_grant', error_description: refusal });

  json(res, 200, {
    access_token: grants.issueAccessToken(family, code.clientId, code.user),
    token_type: 'bearer',
    expires_in: ACCESS_TOKEN_TTL_SECONDS,
  });
}

/** Client id and secret from HTTP Basic (RFC 6749 2.3.1) or the form, never both. */
function clientCredentials(
  req: IncomingMessage,
  form: URLSearchParams,
): { clientId: string; clientSecret: string } | { error: string } {
  const header = req.headers.authorization;
  const inForm = form.has('client_secret');
  if (header !== undefined) {
    if (inForm) return { error: 'client authentication must use only one mechanism' };
    const match = /^Basic ([A-Za-z0-9+/=]+)$/i.exec(header);
    const decoded = match ? Buffer.from(match[1], 'base64').toString('utf8') : '';
    const i = decoded.indexOf(':');
    if (i < 0) return { error: 'invalid Authorization header' };
    try {
      const dec = (s: string) => decodeURIComponent(s.replace(/\+/g, ' '));
      const clientId = dec(decoded.slice(0, i));
      if (form.has('client_id') && form.get('client_id') !== clientId) {
        return { error: 'client_id differs from the Authorization header' };
      }
      return { clientId, clientSecret: dec(decoded.slice(i + 1)) };
    } catch {
      return { error: 'invalid Authorization header encoding' };
    }
  }
  if (!inForm || !form.has('client_id')) return { error: 'client authentication required' };
  return { clientId: form.get('client_id') ?? '', clientSecret: form.get('client_secret') ?? '' };
}
