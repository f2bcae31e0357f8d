import * as oidc from 'openid-client';
import type { ProviderSettings } from '../../common/app-config';
import { createBudget } from './budget';
import { fail, toSignInError } from './idp-errors';
import { finishOAuth2, oauth2Scopes, oauth2Server } from './idp-oauth2';
import { finishOidc, oidcScopes, oidcServerMetadata } from './idp-oidc';
import { configuration, isOidc, type IdpContext, type ProviderCache } from './idp-shared';
import type {
  AuthorizationStart,
  Budget,
  Clock,
  ExpectedAuthorization,
  IdentityProviders,
  SecretStore,
  SignedInIdentity,
} from './ports';

/**
 * OAuth 2.0 / OpenID Connect relying party for the four provider families, on top of
 * `openid-client`. All use of openid-client stays in this module and its `idp-*`
 * modules: it is ESM-only, and keeping it behind one port keeps the core and its tests
 * free of it.
 *
 * - `google`, `oidc` (idp-oidc.ts): discovery, authorization code flow with PKCE (S256),
 *   state and nonce, ID token validated by openid-client (signature included, see
 *   `enableNonRepudiationChecks`), plus the checks it leaves out (see `checkAudience`).
 * - `amazon`, `facebook` (idp-oauth2.ts): plain OAuth 2.0 code flow with PKCE (S256) and
 *   state; the subject comes from the provider's profile endpoint; STS gets the access token.
 */

export interface IdentityProviderDeps {
  /** Reads the OAuth client secrets (`ProviderSettings.clientSecretId`). */
  readonly secrets: SecretStore;
  /**
   * Time for token expiry checks and call budgets.
   * @default - the system clock
   */
  readonly clock?: Clock;
  /**
   * Used for every request to an IdP.
   * @default - the global `fetch`
   */
  readonly fetch?: typeof fetch;
  /**
   * Allow http:// IdP endpoints. Only for tests against mock servers on 127.0.0.1;
   * the sandbox uses HTTPS with a local CA and leaves this off.
   * @default false
   */
  readonly allowInsecureRequests?: boolean;
}

export function createIdentityProviders(deps: IdentityProviderDeps): IdentityProviders {
  // Per container: discovery and JWKS per provider. A failed lookup is forgotten, so
  // one IdP hiccup does not stick. Client secrets are not kept here: the secret store's
  // cache decides how long they live, so a rotated one is picked up.
  const providers = new Map<string, ProviderCache>();

  const clock: Clock = deps.clock ?? { now: () => Date.now() };
  const noDeadline = createBudget(clock);
  const ctx: IdpContext = {
    fetch: deps.fetch ?? ((input, init) => fetch(input, init)),
    allowInsecureRequests: deps.allowInsecureRequests === true,
    now: () => clock.now(),
    cacheOf(provider) {
      const key = `${provider.family}|${provider.name}|${provider.issuer ?? ''}`;
      let entry = providers.get(key);
      if (!entry) {
        entry = {};
        providers.set(key, entry);
      }
      return entry;
    },
  };

  function serverMetadata(
    provider: ProviderSettings,
    budget: Budget,
  ): Promise<oidc.ServerMetadata> {
    const cache = ctx.cacheOf(provider);
    if (!cache.server) {
      const server = isOidc(provider)
        ? oidcServerMetadata(ctx, provider, budget)
        : Promise.resolve(oauth2Server(provider));
      cache.server = server;
      server.catch(() => {
        if (cache.server === server) delete cache.server;
      });
    }
    return cache.server;
  }

  async function start(
    provider: ProviderSettings,
    redirectUri: string,
    budget: Budget = noDeadline,
  ): Promise<AuthorizationStart> {
    const server = await serverMetadata(provider, budget);
    const config = configuration(ctx, provider, server, {
      phase: 'discovery',
      keepTokenResponse: false,
      budget,
    });
    const state = oidc.randomState();
    const codeVerifier = oidc.randomPKCECodeVerifier();
    const parameters: Record<string, string> = {
      // response_type=code is openid-client's default; the implicit grant is never used (code-flow-with-pkce).
      response_type: 'code',
      redirect_uri: normalizedRedirectUri(redirectUri),
      scope: (isOidc(provider) ? oidcScopes(provider) : oauth2Scopes(provider)).join(' '),
      state,
      code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
    };
    let nonce: string | undefined;
    if (isOidc(provider)) {
      nonce = oidc.randomNonce();
      parameters.nonce = nonce;
    }
    let url: URL;
    try {
      url = oidc.buildAuthorizationUrl(config, parameters);
    } catch (err) {
      throw toSignInError(err, 'discovery', provider);
    }
    return { url: url.href, state, codeVerifier, ...(nonce === undefined ? {} : { nonce }) };
  }

  async function finish(
    provider: ProviderSettings,
    callbackUrl: URL,
    expected: ExpectedAuthorization,
    redirectUri: string,
    budget: Budget = noDeadline,
  ): Promise<SignedInIdentity> {
    if (!nonEmpty(expected.state) || !nonEmpty(expected.codeVerifier)) {
      throw fail('bad_request', provider, 'no state or code verifier for this sign-in');
    }
    if (isOidc(provider) && !nonEmpty(expected.nonce)) {
      throw fail('bad_request', provider, 'no nonce for this OpenID Connect sign-in');
    }
    const server = await serverMetadata(provider, budget);
    const secret = await deps.secrets.get(provider.clientSecretId, budget);
    // The token request's redirect_uri is the configured one, whatever host the request
    // came in on (redirect-uri-from-config); only the query of the callback is taken.
    const currentUrl = new URL(normalizedRedirectUri(redirectUri));
    currentUrl.search = callbackUrl.search;
    return isOidc(provider)
      ? finishOidc(ctx, provider, server, secret, currentUrl, expected, budget)
      : finishOAuth2(ctx, provider, server, secret, currentUrl, expected, budget);
  }

  return { start, finish };
}

/** The same string in the authorization and the token request (the IdP compares them exactly). */
function normalizedRedirectUri(redirectUri: string): string {
  return new URL(redirectUri).href;
}

function nonEmpty(value: string | undefined): value is string {
  return typeof value === 'string' && value.length > 0;
}
