import { createHmac } from 'node:crypto';
import * as jose from 'jose';
import * as oidc from 'openid-client';
import type { ProviderSettings } from '../../common/app-config';
import {
  type AccessTokenFamily,
  BUILT_IN_PROVIDERS,
  isOidcFamily,
} from '../../common/provider-facts';
import { isSafeSubject } from './names';
import {
  SignInError,
  type AuthorizationStart,
  type Clock,
  type ExpectedAuthorization,
  type IdentityProviders,
  type SecretStore,
  type SignedInIdentity,
} from './ports';

/**
 * OAuth 2.0 / OpenID Connect relying party for the four provider families, on top of
 * `openid-client`. All use of openid-client stays in this module: it is ESM-only, and
 * keeping it behind one port keeps the core and its tests free of it.
 *
 * - `google`, `oidc`: discovery, authorization code flow with PKCE (S256), state and
 *   nonce, ID token validated by openid-client (signature included, see
 *   `enableNonRepudiationChecks`), plus the checks it leaves out (see `checkAudience`).
 * - `amazon`, `facebook`: plain OAuth 2.0 code flow with PKCE (S256) and state; the
 *   subject comes from the provider's profile endpoint; STS gets the access token.
 */

export interface IdentityProviderDeps {
  /** Reads the OAuth client secrets (`ProviderSettings.clientSecretId`). */
  readonly secrets: SecretStore;
  /**
   * Time for token expiry checks.
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

/** `openid` is required; `email profile` give a display name without a userinfo call. */
const OIDC_DEFAULT_SCOPES = ['openid', 'email', 'profile'];

/** Per request to an IdP; API Gateway gives the whole Lambda invocation 29 s. */
const HTTP_TIMEOUT_SECONDS = 10;

/** Allowed clock difference with the IdP for `exp` / `nbf` (catalog 21). */
const CLOCK_TOLERANCE_SECONDS = 30;

/** Cap on what we keep for display (it ends up in the session cookie). */
const MAX_DISPLAY_NAME_LENGTH = 200;

/** What the user sees; the reason goes to `detail` (logs only). */
const MESSAGES = {
  bad_request: 'The sign-in response was not valid. Please sign in again.',
  token_rejected: 'The identity provider did not confirm your sign-in. Please sign in again.',
  idp_unavailable:
    'The identity provider cannot be reached right now. Please try again in a few minutes.',
} as const;

type Kind = keyof typeof MESSAGES;

function fail(kind: Kind, provider: ProviderSettings, detail: string): SignInError {
  return new SignInError(kind, MESSAGES[kind], `${provider.name}: ${detail}`);
}

/** Where a call to the IdP is; decides how an openid-client error is reported. */
type Phase = 'discovery' | 'callback' | 'token' | 'userinfo' | 'profile';

interface CallState {
  phase: Phase;
  /** A copy of the token endpoint response, kept only for Google's issuer alias. */
  tokenResponse?: Response;
  keepTokenResponse: boolean;
}

interface ProviderCache {
  /** Discovered (google, oidc) or built (amazon, facebook) server metadata. */
  server?: Promise<oidc.ServerMetadata>;
  /** JWKS fetched by openid-client, carried from one Configuration to the next. */
  jwks?: oidc.ExportedJWKSCache;
}

export function createIdentityProviders(deps: IdentityProviderDeps): IdentityProviders {
  const baseFetch: typeof fetch = deps.fetch ?? ((input, init) => fetch(input, init));
  const insecure = deps.allowInsecureRequests === true;
  const now = (): number => deps.clock?.now() ?? Date.now();

  // Per container: discovery and JWKS per provider, client secrets per id. A failed
  // lookup is forgotten, so one IdP or Secrets Manager hiccup does not stick.
  const providers = new Map<string, ProviderCache>();
  const secrets = new Map<string, Promise<string>>();

  function cacheOf(provider: ProviderSettings): ProviderCache {
    const key = `${provider.family}|${provider.name}|${provider.issuer ?? ''}`;
    let entry = providers.get(key);
    if (!entry) {
      entry = {};
      providers.set(key, entry);
    }
    return entry;
  }

  function clientSecret(provider: ProviderSettings): Promise<string> {
    let secret = secrets.get(provider.clientSecretId);
    if (!secret) {
      secret = deps.secrets.get(provider.clientSecretId);
      secrets.set(provider.clientSecretId, secret);
      const pending = secret;
      pending.catch(() => {
        if (secrets.get(provider.clientSecretId) === pending)
          secrets.delete(provider.clientSecretId);
      });
    }
    return secret;
  }

  function serverMetadata(provider: ProviderSettings): Promise<oidc.ServerMetadata> {
    const cache = cacheOf(provider);
    if (!cache.server) {
      const server = isOidc(provider)
        ? (explicitOidcServer(provider) ?? discover(provider))
        : Promise.resolve(oauth2Server(provider));
      cache.server = server;
      server.catch(() => {
        if (cache.server === server) delete cache.server;
      });
    }
    return cache.server;
  }

  /**
   * OIDC metadata given in full by configuration (the sandbox's Google-like issuer is
   * `https://accounts.google.com` served from 127.0.0.1, so it cannot be discovered);
   * undefined means discover.
   */
  function explicitOidcServer(
    provider: ProviderSettings,
  ): Promise<oidc.ServerMetadata> | undefined {
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

  async function discover(provider: ProviderSettings): Promise<oidc.ServerMetadata> {
    const issuer = provider.issuer;
    if (!issuer)
      throw fail('idp_unavailable', provider, `family ${provider.family} needs an issuer`);
    let config: oidc.Configuration;
    try {
      // openid-client refuses a document whose issuer is not the URL we asked (catalog 24).
      config = await oidc.discovery(new URL(issuer), provider.clientId, undefined, undefined, {
        [oidc.customFetch]: toCustomFetch(baseFetch),
        timeout: HTTP_TIMEOUT_SECONDS,
        execute: insecure ? [oidc.allowInsecureRequests] : [],
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

  /**
   * A Configuration per call (cheap; the costly parts, discovery, JWKS and the secret,
   * are cached): it carries call-scoped state (the phase-tracking fetch, the clock skew).
   */
  function configuration(
    provider: ProviderSettings,
    server: oidc.ServerMetadata,
    call: CallState,
    secret?: string,
  ): oidc.Configuration {
    const metadata: Partial<oidc.ClientMetadata> = {
      [oidc.clockSkew]: Math.round((now() - Date.now()) / 1000),
      [oidc.clockTolerance]: CLOCK_TOLERANCE_SECONDS,
    };
    const auth =
      secret === undefined ? oidc.None() : clientAuthentication(provider, server, secret);
    const config = new oidc.Configuration(server, provider.clientId, metadata, auth);
    if (insecure) oidc.allowInsecureRequests(config);
    config.timeout = HTTP_TIMEOUT_SECONDS;
    config[oidc.customFetch] = async (url, options) => {
      // The first request after the callback checks is the token request: from here on a
      // failure is the IdP's answer, not a forged callback.
      if (call.phase === 'callback') call.phase = 'token';
      const response = await baseFetch(url, options as RequestInit);
      if (call.keepTokenResponse && call.phase === 'token' && !call.tokenResponse) {
        call.tokenResponse = response.clone();
      }
      return response;
    };
    if (isOidc(provider)) {
      // Without this openid-client trusts the TLS channel and does not verify the
      // signature of an ID token from the token endpoint (catalog 23).
      oidc.enableNonRepudiationChecks(config);
      const jwks = cacheOf(provider).jwks;
      if (jwks) oidc.setJwksCache(config, jwks);
    }
    return config;
  }

  function rememberJwks(provider: ProviderSettings, config: oidc.Configuration): void {
    const jwks = oidc.getJwksCache(config);
    if (jwks) cacheOf(provider).jwks = jwks;
  }

  async function start(
    provider: ProviderSettings,
    redirectUri: string,
  ): Promise<AuthorizationStart> {
    const server = await serverMetadata(provider);
    const config = configuration(provider, server, {
      phase: 'discovery',
      keepTokenResponse: false,
    });
    const state = oidc.randomState();
    const codeVerifier = oidc.randomPKCECodeVerifier();
    const parameters: Record<string, string> = {
      // response_type=code is openid-client's default; the implicit grant is never used (catalog 12).
      response_type: 'code',
      redirect_uri: normalizedRedirectUri(redirectUri),
      scope: scopesOf(provider).join(' '),
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
  ): Promise<SignedInIdentity> {
    if (!nonEmpty(expected.state) || !nonEmpty(expected.codeVerifier)) {
      throw fail('bad_request', provider, 'no state or code verifier for this sign-in');
    }
    if (isOidc(provider) && !nonEmpty(expected.nonce)) {
      throw fail('bad_request', provider, 'no nonce for this OpenID Connect sign-in');
    }
    const server = await serverMetadata(provider);
    const secret = await clientSecret(provider);
    // The token request's redirect_uri is the configured one, whatever host the request
    // came in on (catalog 8); only the query of the callback is taken.
    const currentUrl = new URL(normalizedRedirectUri(redirectUri));
    currentUrl.search = callbackUrl.search;
    return isOidc(provider)
      ? finishOidc(provider, server, secret, currentUrl, expected)
      : finishOAuth2(provider, server, secret, currentUrl, expected);
  }

  async function finishOidc(
    provider: ProviderSettings,
    server: oidc.ServerMetadata,
    secret: string,
    currentUrl: URL,
    expected: ExpectedAuthorization,
  ): Promise<SignedInIdentity> {
    const call: CallState = { phase: 'callback', keepTokenResponse: provider.family === 'google' };
    const config = configuration(provider, server, call, secret);
    let idToken: string;
    let accessToken: string;
    let claims: jose.JWTPayload;
    try {
      // Checks state and RFC 9207 `iss` in the callback (catalog 1, 5), sends the PKCE
      // verifier (catalog 25), then validates the ID token: iss, aud, azp when several
      // audiences, sub, iat, exp (catalog 18-21), nonce (22), signature (23).
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
        provider,
        server,
        call.tokenResponse,
        alias,
        expected,
      ));
    } finally {
      rememberJwks(provider, config);
    }

    checkAudience(provider, claims);
    const subject = claims.sub;
    if (!isSafeSubject(subject))
      throw fail('token_rejected', provider, 'ID token subject is not usable as a key');

    let displayName = displayNameOf(claims);
    if (displayName === undefined && server.userinfo_endpoint) {
      call.phase = 'userinfo';
      try {
        // expectedSubject: a userinfo answer for another user is refused (catalog 26).
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

  async function finishOAuth2(
    provider: ProviderSettings,
    server: oidc.ServerMetadata,
    secret: string,
    currentUrl: URL,
    expected: ExpectedAuthorization,
  ): Promise<SignedInIdentity> {
    const family = oauth2Family(provider);
    const call: CallState = { phase: 'callback', keepTokenResponse: false };
    const config = configuration(provider, server, call, secret);
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

  /**
   * Google documents two spellings of its ID tokens' `iss`: `https://accounts.google.com`
   * and `accounts.google.com`. openid-client compares `iss` strictly with the discovered
   * issuer and offers no hook for a second value, so when (and only when) it refuses a
   * Google ID token because `iss` is exactly the scheme-less spelling, the token is
   * validated again here with jose: the same JWKS (jwks_uri of the discovered metadata),
   * the same algorithms, audience, azp, nonce, required claims and clock tolerance.
   */
  async function verifyGoogleAlias(
    provider: ProviderSettings,
    server: oidc.ServerMetadata,
    tokenResponse: Response,
    alias: string,
    expected: ExpectedAuthorization,
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
    const keys = await fetchJwks(provider, server);
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
        currentDate: new Date(now()),
      }));
    } catch (err) {
      throw fail(
        'token_rejected',
        provider,
        `ID token (issuer ${alias}): ${(err as Error).message}`,
      );
    }
    if (claims.nonce !== expected.nonce)
      throw fail('token_rejected', provider, 'ID token nonce mismatch');
    return { idToken: body.id_token, accessToken: body.access_token, claims };
  }

  async function fetchJwks(provider: ProviderSettings, server: oidc.ServerMetadata) {
    if (!server.jwks_uri) throw fail('idp_unavailable', provider, 'no jwks_uri in discovery');
    const url = new URL(server.jwks_uri);
    if (url.protocol !== 'https:' && !(insecure && url.protocol === 'http:')) {
      throw fail('idp_unavailable', provider, 'jwks_uri is not https');
    }
    let jwks: unknown;
    try {
      const response = await baseFetch(url, {
        headers: { accept: 'application/json' },
        redirect: 'manual',
        signal: AbortSignal.timeout(HTTP_TIMEOUT_SECONDS * 1000),
      });
      if (response.status !== 200) throw new Error(`status ${response.status}`);
      jwks = await response.json();
      return jose.createLocalJWKSet(jwks as jose.JSONWebKeySet);
    } catch (err) {
      throw fail('idp_unavailable', provider, `jwks: ${(err as Error).message}`);
    }
  }

  return { start, finish };
}

/**
 * Checks openid-client leaves out. It checks `azp` only when `aud` has several values;
 * OpenID Connect Core 3.1.3.7 also says: reject additional audiences the client does not
 * trust (we trust none) and, when `azp` is present, it must be our client id (catalog 19).
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

/** Google's second issuer spelling: the configured issuer without its scheme. */
function googleIssuerAlias(
  provider: ProviderSettings,
  server: oidc.ServerMetadata,
): string | undefined {
  if (provider.family !== 'google') return undefined;
  const alias = server.issuer.replace(/^https?:\/\//, '');
  return alias === server.issuer ? undefined : alias;
}

/** openid-client refused the ID token because `iss` is exactly `alias`, and for nothing else. */
function isIssuerMismatch(err: unknown, alias: string): boolean {
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

/**
 * Maps an openid-client failure to what the user sees (catalog 15, 25):
 * - before any request in `finish`: the callback itself is wrong (state, iss, error=,
 *   duplicated or missing parameters) -> bad_request;
 * - discovery: the IdP cannot be used -> idp_unavailable;
 * - afterwards: network, timeouts, 5xx, non-JSON or malformed bodies -> idp_unavailable;
 *   an OAuth error (`invalid_grant`...), a refused token or ID token -> token_rejected.
 */
function toSignInError(err: unknown, phase: Phase, provider: ProviderSettings): SignInError {
  if (err instanceof SignInError) return err;
  const detail = `${phase}: ${describe(err)}`;
  if (phase === 'discovery') return fail('idp_unavailable', provider, detail);
  if (phase === 'callback' || err instanceof oidc.AuthorizationResponseError) {
    return fail('bad_request', provider, detail);
  }
  return fail(isUnavailable(err) ? 'idp_unavailable' : 'token_rejected', provider, detail);
}

const UNAVAILABLE_CODES = new Set([
  'OAUTH_TIMEOUT',
  'OAUTH_ABORT',
  'OAUTH_RESPONSE_IS_NOT_JSON',
  'OAUTH_PARSE_ERROR',
  'OAUTH_HTTP_REQUEST_FORBIDDEN',
  'OAUTH_REQUEST_PROTOCOL_FORBIDDEN',
]);

function isUnavailable(err: unknown): boolean {
  if (err instanceof oidc.ResponseBodyError) return err.status >= 500;
  if (err instanceof oidc.WWWAuthenticateChallengeError) return err.status >= 500;
  const code = (err as { code?: unknown } | undefined)?.code;
  // fetch() rejects with a plain TypeError when the connection fails.
  if (err instanceof TypeError)
    return !(typeof code === 'string' && code.startsWith('ERR_INVALID_ARG'));
  if (typeof code !== 'string') return true;
  if (UNAVAILABLE_CODES.has(code)) return true;
  const cause = (err as Error).cause;
  if (code === 'OAUTH_RESPONSE_IS_NOT_CONFORM') {
    // An error status without a standard OAuth error body (Facebook's { error: {...} }):
    // 400/401/403 is a refusal, anything else is the IdP misbehaving.
    const status = cause instanceof Response ? cause.status : 0;
    return ![400, 401, 403].includes(status);
  }
  if (code === 'OAUTH_INVALID_RESPONSE') {
    // A malformed response body (no access_token, not an object...) carries `body`;
    // a malformed or refused JWT carries `claims`, a key, or the JWT itself.
    const details = (cause as { cause?: unknown } | undefined)?.cause;
    return isObject(details) && 'body' in details && !('claims' in details);
  }
  return false;
}

/**
 * A reason for the logs: messages, codes and the failed claim's name along the cause
 * chain. These are the libraries' fixed texts; the causes' other fields (bodies, claims,
 * parameters) hold tokens and codes and are never copied.
 */
function describe(err: unknown): string {
  const parts: string[] = [];
  let current: unknown = err;
  for (let depth = 0; depth < 4 && isErrorLike(current); depth++) {
    if (current instanceof oidc.ResponseBodyError)
      parts.push(`IdP answered ${current.status} ${current.error}`);
    else parts.push(current.message);
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') parts.push(`(${code})`);
    const cause: unknown = current.cause;
    if (isObject(cause) && typeof cause.claim === 'string') parts.push(`[claim ${cause.claim}]`);
    if (isObject(cause) && typeof cause.attribute === 'string')
      parts.push(`[attribute ${cause.attribute}]`);
    if (cause instanceof Response) parts.push(`[status ${cause.status}]`);
    current = cause;
  }
  return parts.length > 0 ? parts.join(' ') : 'unknown error';
}

/** Duck-typed: errors from fetch come from another realm under Jest. */
function isErrorLike(value: unknown): value is Error {
  return isObject(value) && typeof value.message === 'string' && typeof value.name === 'string';
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

function oauth2Server(provider: ProviderSettings): oidc.ServerMetadata {
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

function scopesOf(provider: ProviderSettings): string[] {
  if (!isOidc(provider))
    return [...(provider.scopes ?? OAUTH2_DEFAULTS[oauth2Family(provider)].scopes)];
  const scopes = provider.scopes ?? OIDC_DEFAULT_SCOPES;
  return scopes.includes('openid') ? [...scopes] : ['openid', ...scopes];
}

function isOidc(provider: ProviderSettings): boolean {
  return isOidcFamily(provider.family);
}

function oauth2Family(provider: ProviderSettings): AccessTokenFamily {
  if (provider.family !== 'amazon' && provider.family !== 'facebook') {
    throw new Error(`provider ${provider.name} is not an OAuth 2.0 provider`);
  }
  return provider.family;
}

/** The same string in the authorization and the token request (the IdP compares them exactly). */
function normalizedRedirectUri(redirectUri: string): string {
  return new URL(redirectUri).href;
}

function displayNameOf(claims: Record<string, unknown>): string | undefined {
  for (const key of ['name', 'preferred_username', 'email']) {
    const value = claims[key];
    if (typeof value === 'string' && value.trim())
      return value.trim().slice(0, MAX_DISPLAY_NAME_LENGTH);
  }
  return undefined;
}

function nonEmpty(value: string | undefined): value is string {
  return typeof value === 'string' && value.length > 0;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function toCustomFetch(f: typeof fetch): oidc.CustomFetch {
  return (url, options) => f(url, options as RequestInit);
}
