import { createHmac } from 'node:crypto';
import * as oidc from 'openid-client';
import type { ProviderSettings } from '../../common/app-config';
import { type AccessTokenFamily, BUILT_IN_PROVIDERS } from '../../common/provider-facts';
import { fail, toSignInError } from './idp-errors';
import {
  configuration,
  displayNameOf,
  isObject,
  type CallState,
  type IdpContext,
} from './idp-shared';
import { isSafeSubject } from './names';
import type { Budget, ExpectedAuthorization, SignedInIdentity } from './ports';

/**
 * The plain OAuth 2.0 families (`amazon`, `facebook`): built server metadata, scopes,
 * and the callback, whose subject comes from the provider's profile endpoint.
 */

/** Amazon and Facebook: endpoints and scopes (the profile's subject field is in the provider facts). */
const OAUTH2_DEFAULTS = {
  amazon: {
    authorizationEndpoint: 'https://www.amazon.com/ap/oa',
    tokenEndpoint: 'https://api.amazon.com/auth/o2/token',
    // Answers { user_id, name, email }.
    profileEndpoint: 'https://api.amazon.com/user/profile',
    // `profile` = user_id + name + email; the name is only displayed.
    scopes: ['profile'],
  },
  facebook: {
    authorizationEndpoint: 'https://www.facebook.com/v19.0/dialog/oauth',
    tokenEndpoint: 'https://graph.facebook.com/v19.0/oauth/access_token',
    // Answers { id, name }.
    profileEndpoint: 'https://graph.facebook.com/me?fields=id,name',
    scopes: ['public_profile'],
  },
} as const;

export function oauth2Scopes(provider: ProviderSettings): string[] {
  return [...(provider.scopes ?? OAUTH2_DEFAULTS[oauth2Family(provider)].scopes)];
}

export function oauth2Server(provider: ProviderSettings): oidc.ServerMetadata {
  const defaults = OAUTH2_DEFAULTS[oauth2Family(provider)];
  const authorizationEndpoint = provider.authorizationEndpoint ?? defaults.authorizationEndpoint;
  return {
    // Plain OAuth 2.0 has no issuer; openid-client needs one. Amazon and Facebook send no
    // `iss` in the callback; if one ever comes, it has to be this origin.
    issuer: new URL(authorizationEndpoint).origin,
    authorization_endpoint: authorizationEndpoint,
    token_endpoint: provider.tokenEndpoint ?? defaults.tokenEndpoint,
    code_challenge_methods_supported: ['S256'],
  };
}

export async function finishOAuth2(
  ctx: IdpContext,
  provider: ProviderSettings,
  server: oidc.ServerMetadata,
  secret: string,
  currentUrl: URL,
  expected: ExpectedAuthorization,
  budget: Budget,
): Promise<SignedInIdentity> {
  const family = oauth2Family(provider);
  const call: CallState = { phase: 'callback', keepTokenResponse: false, budget };
  const config = configuration(ctx, provider, server, call, secret);
  let accessToken: string;
  try {
    const tokens = await oidc.authorizationCodeGrant(config, currentUrl, {
      expectedState: expected.state,
      pkceCodeVerifier: expected.codeVerifier,
    });
    accessToken = tokens.access_token;
  } catch (err) {
    throw toSignInError(err, call.phase, provider);
  }

  call.phase = 'profile';
  const profileUrl = new URL(provider.profileEndpoint ?? OAUTH2_DEFAULTS[family].profileEndpoint);
  if (family === 'facebook') {
    // Proves the call comes from the app's server; required when the app enables
    // "Require App Secret", harmless otherwise.
    profileUrl.searchParams.set(
      'appsecret_proof',
      createHmac('sha256', secret).update(accessToken).digest('hex'),
    );
  }
  let response: Response;
  try {
    response = await oidc.fetchProtectedResource(
      config,
      accessToken,
      profileUrl,
      'GET',
      undefined,
      new Headers({ accept: 'application/json' }),
    );
  } catch (err) {
    throw toSignInError(err, 'profile', provider);
  }
  if (response.status === 401 || response.status === 403) {
    throw fail('token_rejected', provider, `profile endpoint answered ${response.status}`);
  }
  if (response.status !== 200) {
    throw fail('idp_unavailable', provider, `profile endpoint answered ${response.status}`);
  }
  let profile: unknown;
  try {
    profile = await response.json();
  } catch {
    throw fail('idp_unavailable', provider, 'profile endpoint answered non-JSON');
  }
  if (!isObject(profile))
    throw fail('idp_unavailable', provider, 'profile endpoint answered a non-object');
  const field = BUILT_IN_PROVIDERS[family].subjectClaim;
  const subject = profile[field];
  if (subject === undefined) throw fail('token_rejected', provider, `profile has no ${field}`);
  if (!isSafeSubject(subject))
    throw fail('token_rejected', provider, `profile ${field} is not usable as a key`);
  const displayName = displayNameOf(profile);
  return {
    subject,
    webIdentityToken: accessToken,
    ...(displayName === undefined ? {} : { displayName }),
  };
}

function oauth2Family(provider: ProviderSettings): AccessTokenFamily {
  if (provider.family !== 'amazon' && provider.family !== 'facebook') {
    throw new Error(`provider ${provider.name} is not an OAuth 2.0 provider`);
  }
  return provider.family;
}
