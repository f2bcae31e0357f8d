import * as oidc from 'openid-client';
import type { ProviderSettings } from '../../common/app-config';
import { isOidcFamily } from '../../common/provider-facts';
import type { Budget } from './ports';

/**
 * What the OpenID Connect and the OAuth 2.0 sign-ins share: the per-container context,
 * the per-call openid-client Configuration and client authentication, small helpers.
 */

/**
 * Per request to an IdP, at most: a sign-in makes up to three (token, JWKS, userinfo or
 * profile) and the function has 15 s, so each also stops at the request's budget
 * (budget.ts) to leave time for the 502 page.
 */
export const HTTP_TIMEOUT_SECONDS = 10;

/** Allowed clock difference with the IdP for `exp` / `nbf` (id-token-expiry). */
export const CLOCK_TOLERANCE_SECONDS = 30;

/** Cap on what we keep for display (it ends up in the session cookie). */
const MAX_DISPLAY_NAME_LENGTH = 200;

/** Where a call to the IdP is; decides how an openid-client error is reported. */
export type Phase = 'discovery' | 'callback' | 'token' | 'userinfo' | 'profile';

/** One sign-in's progress; mutable, the Configuration's fetch advances it. */
export interface CallState {
  /** Where the call is now. */
  phase: Phase;
  /** A copy of the token endpoint response, kept only for Google's issuer alias. */
  tokenResponse?: Response;
  /** Whether to keep `tokenResponse` (Google only). */
  keepTokenResponse: boolean;
  /** The request's time budget: every IdP request of this call gets at most what it allows. */
  readonly budget: Budget;
}

/** Per provider and container; mutable, filled on first use. */
export interface ProviderCache {
  /** Discovered (google, oidc) or built (amazon, facebook) server metadata. */
  server?: Promise<oidc.ServerMetadata>;
  /** JWKS fetched by openid-client, carried from one Configuration to the next. */
  jwks?: oidc.ExportedJWKSCache;
}

/** What one `createIdentityProviders` (one container) hands to the sign-in flows. */
export interface IdpContext {
  /** Used for every request to an IdP. */
  readonly fetch: typeof fetch;
  /** Allow http:// IdP endpoints (tests against mock servers only). */
  readonly allowInsecureRequests: boolean;
  /** Current time in milliseconds, from the injected clock. */
  readonly now: () => number;
  /** The provider's cache entry, created on first use. */
  readonly cacheOf: (provider: ProviderSettings) => ProviderCache;
}

/**
 * A Configuration per call (cheap; the costly parts, discovery, JWKS and the secret,
 * are cached): it carries call-scoped state (the phase-tracking fetch, the clock skew).
 */
export function configuration(
  ctx: IdpContext,
  provider: ProviderSettings,
  server: oidc.ServerMetadata,
  call: CallState,
  secret?: string,
): oidc.Configuration {
  const metadata: Partial<oidc.ClientMetadata> = {
    [oidc.clockSkew]: Math.round((ctx.now() - Date.now()) / 1000),
    [oidc.clockTolerance]: CLOCK_TOLERANCE_SECONDS,
  };
  const auth = secret === undefined ? oidc.None() : clientAuthentication(provider, server, secret);
  const config = new oidc.Configuration(server, provider.clientId, metadata, auth);
  if (ctx.allowInsecureRequests) oidc.allowInsecureRequests(config);
  config.timeout = HTTP_TIMEOUT_SECONDS;
  const fetchWithin = budgetedFetch(ctx, call.budget);
  config[oidc.customFetch] = async (url, options) => {
    // The first request after the callback checks is the token request: from here on a
    // failure is the IdP's answer, not a forged callback.
    if (call.phase === 'callback') call.phase = 'token';
    const response = await fetchWithin(url, options as RequestInit);
    if (call.keepTokenResponse && call.phase === 'token' && !call.tokenResponse) {
      call.tokenResponse = response.clone();
    }
    return response;
  };
  if (isOidc(provider)) {
    // Without this openid-client trusts the TLS channel and does not verify the
    // signature of an ID token from the token endpoint (id-token-signature).
    oidc.enableNonRepudiationChecks(config);
    const jwks = ctx.cacheOf(provider).jwks;
    if (jwks) oidc.setJwksCache(config, jwks);
  }
  return config;
}

/**
 * `ctx.fetch` with each request aborted at {@link HTTP_TIMEOUT_SECONDS} or at what the
 * budget allows, whichever comes first; with too little left it is not sent at all. Both
 * fail as a timeout, which is idp_unavailable (idp-failure-502).
 */
export function budgetedFetch(
  ctx: IdpContext,
  budget: Budget,
): (url: string | URL, init?: RequestInit) => Promise<Response> {
  return async (url, init) => {
    const ms = budget.callMs(HTTP_TIMEOUT_SECONDS * 1000);
    if (ms === 0)
      throw new DOMException('no time left before the request deadline', 'TimeoutError');
    // Replaces openid-client's own timeout signal, which is the cap alone.
    return ctx.fetch(url, { ...init, signal: budget.abortAfter(ms) });
  };
}

/** Keeps the JWKS openid-client fetched during this call for the next Configuration. */
export function rememberJwks(
  ctx: IdpContext,
  provider: ProviderSettings,
  config: oidc.Configuration,
): void {
  const jwks = oidc.getJwksCache(config);
  if (jwks) ctx.cacheOf(provider).jwks = jwks;
}

function clientAuthentication(
  provider: ProviderSettings,
  server: oidc.ServerMetadata,
  secret: string,
): oidc.ClientAuth {
  if (!isOidc(provider)) return oidc.ClientSecretPost(secret); // Amazon and Facebook take it in the body.
  // OIDC Discovery: an absent list means client_secret_basic; prefer post when offered.
  const methods = server.token_endpoint_auth_methods_supported;
  const basic =
    methods === undefined ||
    (methods.includes('client_secret_basic') && !methods.includes('client_secret_post'));
  return basic ? oidc.ClientSecretBasic(secret) : oidc.ClientSecretPost(secret);
}

export function isOidc(provider: ProviderSettings): boolean {
  return isOidcFamily(provider.family);
}

export function displayNameOf(claims: Record<string, unknown>): string | undefined {
  for (const key of ['name', 'preferred_username', 'email']) {
    const value = claims[key];
    if (typeof value === 'string' && value.trim())
      return value.trim().slice(0, MAX_DISPLAY_NAME_LENGTH);
  }
  return undefined;
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
