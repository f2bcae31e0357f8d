import type { ServerResponse } from 'node:http';
import { OAUTH2_SIGN_IN_PATHS, sandboxClientOf } from './dev-idp-endpoints';
import { redirect, withParams } from './dev-idp-http';
import type { OAuth2Family, OAuth2Grants } from './dev-idp-oauth2-grants';
import { parseUserName, renderErrorPage, renderSignInPage, sendPage } from './dev-idp-pages';

/**
 * The front channel of the dev IdP's OAuth 2.0 providers: the authorization endpoint
 * (client, redirect URI, state and PKCE checked, then the sign-in page) and the sign-in
 * form's target (a single-use code, sent back to the redirect URI with the state).
 */

/** Authorization endpoint: checks the request, then shows the sign-in page. */
export function authorize(
  grants: OAuth2Grants,
  redirectUriAllowed: (redirectUri: string) => boolean,
  family: OAuth2Family,
  url: URL,
  res: ServerResponse,
): void {
  const q = url.searchParams;
  const client = sandboxClientOf(family);
  const clientId = q.get('client_id');
  const redirectUri = q.get('redirect_uri');
  // RFC 6749 4.1.2.1: with an unknown client or redirect URI, tell the user, never redirect.
  if (clientId !== client.clientId) {
    return sendPage(
      res,
      400,
      renderErrorPage('Sign-in refused', 'Unknown client_id.', `Expected ${client.clientId}.`),
    );
  }
  if (!redirectUri || !redirectUriAllowed(redirectUri)) {
    return sendPage(
      res,
      400,
      renderErrorPage('Sign-in refused', 'This redirect_uri is not registered for the client.'),
    );
  }
  const state = q.get('state');
  const fail = (error: string, description: string) =>
    redirect(
      res,
      withParams(redirectUri, {
        error,
        error_description: description,
        ...(state ? { state } : {}),
      }),
    );
  if (q.get('response_type') !== 'code') {
    return fail('unsupported_response_type', 'only response_type=code is supported');
  }
  if (!state) return fail('invalid_request', 'state is required');
  const codeChallenge = q.get('code_challenge');
  if (
    q.get('code_challenge_method') !== 'S256' ||
    !codeChallenge ||
    !/^[A-Za-z0-9_-]{43}$/.test(codeChallenge)
  ) {
    return fail(
      'invalid_request',
      'PKCE is required: code_challenge with code_challenge_method=S256',
    );
  }
  const id = grants.startSignIn({
    family,
    clientId,
    redirectUri,
    state,
    codeChallenge,
    scope: q.get('scope') ?? '',
  });
  sendPage(
    res,
    200,
    renderSignInPage({
      family,
      action: OAUTH2_SIGN_IN_PATHS[family],
      hidden: { request: id },
      client: clientId,
      redirectUri,
      user: q.get('login_hint') ?? '',
    }),
  );
}

/** The sign-in form's target: issues a code for the user and sends the browser back. */
export function signIn(
  grants: OAuth2Grants,
  family: OAuth2Family,
  form: URLSearchParams,
  res: ServerResponse,
): void {
  const id = form.get('request') ?? '';
  const pending = grants.pendingSignIn(id, family);
  if (!pending) {
    return sendPage(
      res,
      400,
      renderErrorPage(
        'Sign-in expired',
        'This sign-in is no longer pending. Go back to the app and start again.',
      ),
    );
  }
  const parsed = parseUserName(form.get('as') ?? form.get('user'));
  if ('error' in parsed) {
    return sendPage(
      res,
      400,
      renderSignInPage({
        family,
        action: OAUTH2_SIGN_IN_PATHS[family],
        hidden: { request: id },
        client: pending.clientId,
        redirectUri: pending.redirectUri,
        user: form.get('user') ?? '',
        error: parsed.error,
      }),
    );
  }
  const code = grants.issueCode(id, pending, parsed.user);
  const params: Record<string, string> = { code, state: pending.state };
  if (family === 'amazon' && pending.scope) params.scope = pending.scope;
  redirect(res, withParams(pending.redirectUri, params));
}
