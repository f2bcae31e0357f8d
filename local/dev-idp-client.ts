import { createHash, randomBytes } from 'node:crypto';
import * as http from 'node:http';
import * as https from 'node:https';
import { GOOGLE_ISSUER, IDP_PATHS, SANDBOX_CLIENTS } from './sandbox-config';

/**
 * The client side of the dev IdP: where its endpoints are, an HTTPS `fetch` that trusts
 * the sandbox CA (and nothing else), and a scripted browser that signs in through the
 * REAL authorization code flow (redirects, sign-in form, code + PKCE at the token
 * endpoint). Used by `startDevIdp().mintToken`, `scripts/sandbox-token.ts` and tests.
 *
 * Deliberately free of `oidc-provider`, so the token script starts fast and quietly.
 */

/** The provider families the dev IdP plays. */
export type DevIdpFamily = 'google' | 'oidc' | 'amazon' | 'facebook';
export const DEV_IDP_FAMILIES: readonly DevIdpFamily[] = ['google', 'oidc', 'amazon', 'facebook'];

/** Routes of both oidc-provider issuers, below their mount path (`/google`, `/oidc`). */
export const OIDC_ROUTES = {
  authorization: '/auth',
  token: '/token',
  jwks: '/jwks',
  userinfo: '/me',
  discovery: '/.well-known/openid-configuration',
} as const;

/** Where the Amazon-like and Facebook-like sign-in forms post (the dev IdP's own path). */
export const OAUTH2_SIGN_IN_PATHS = { amazon: '/amazon/signin', facebook: '/facebook/signin' };

export interface OidcEndpoints {
  /** The `iss` of its ID tokens. */
  readonly issuer: string;
  readonly discovery: string;
  readonly authorization: string;
  readonly token: string;
  readonly jwks: string;
  readonly userinfo: string;
}

export interface OAuth2Endpoints {
  readonly authorization: string;
  readonly token: string;
  readonly profile: string;
}

export interface DevIdpEndpoints {
  readonly google: OidcEndpoints;
  readonly oidc: OidcEndpoints;
  readonly amazon: OAuth2Endpoints;
  readonly facebook: OAuth2Endpoints;
}

/** Every endpoint of the dev IdP at `idpUrl` (e.g. `https://127.0.0.1:8444`). */
export function devIdpEndpoints(idpUrl: string): DevIdpEndpoints {
  const base = idpUrl.replace(/\/+$/, '');
  const oidcAt = (mount: string, issuer: string): OidcEndpoints => ({
    issuer,
    discovery: `${base}${mount}${OIDC_ROUTES.discovery}`,
    authorization: `${base}${mount}${OIDC_ROUTES.authorization}`,
    token: `${base}${mount}${OIDC_ROUTES.token}`,
    jwks: `${base}${mount}${OIDC_ROUTES.jwks}`,
    userinfo: `${base}${mount}${OIDC_ROUTES.userinfo}`,
  });
  return {
    // The Google-like issuer says it is Google; only its endpoints are local.
    google: oidcAt(IDP_PATHS.google, GOOGLE_ISSUER),
    oidc: oidcAt(IDP_PATHS.oidc, `${base}${IDP_PATHS.oidc}`),
    amazon: {
      authorization: `${base}${IDP_PATHS.amazon.authorize}`,
      token: `${base}${IDP_PATHS.amazon.token}`,
      profile: `${base}${IDP_PATHS.amazon.profile}`,
    },
    facebook: {
      authorization: `${base}${IDP_PATHS.facebook.authorize}`,
      token: `${base}${IDP_PATHS.facebook.token}`,
      profile: `${base}${IDP_PATHS.facebook.profile}`,
    },
  };
}

/** The dev IdP's client of each family (`SANDBOX_CLIENTS`). */
export function sandboxClientOf(family: DevIdpFamily): { clientId: string; clientSecret: string } {
  const { clientId, clientSecret } = SANDBOX_CLIENTS[family];
  return { clientId, clientSecret };
}

/** Scopes the scripted sign-in asks for, as the app does. */
const SCOPES: Record<DevIdpFamily, string> = {
  google: 'openid email profile',
  oidc: 'openid email profile',
  amazon: 'profile',
  facebook: 'public_profile',
};

/**
 * The redirect URI of scripted sign-ins: a loopback URL that is never contacted (the
 * scripted browser stops when it is sent there), accepted by the dev IdP for every client.
 */
export const SCRIPTED_REDIRECT_URI = 'http://127.0.0.1/sandbox-token/callback';

const REQUEST_TIMEOUT_MS = 10_000;

/**
 * A `fetch` over node:https that trusts exactly `ca` (the sandbox CA), so nothing turns
 * TLS verification off. It never follows redirects: 3xx answers are returned as they are
 * (what openid-client asks for with `redirect: 'manual'`, and what a scripted browser needs).
 */
export function fetchTrusting(ca: string | Buffer): typeof fetch {
  const agent = new https.Agent({ ca, keepAlive: false });
  return async (input, init) => {
    const request = new Request(input, init);
    const url = new URL(request.url);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw new TypeError(`fetchTrusting: unsupported URL scheme ${url.protocol}`);
    }
    const body = request.body === null ? undefined : Buffer.from(await request.arrayBuffer());
    const headers: http.OutgoingHttpHeaders = {};
    request.headers.forEach((value, name) => {
      headers[name] = value;
    });
    if (body !== undefined) headers['content-length'] = String(body.length);
    const transport = url.protocol === 'https:' ? https : http;
    return new Promise<Response>((resolve, reject) => {
      const req = transport.request(
        url,
        {
          method: request.method,
          headers,
          ...(url.protocol === 'https:' ? { agent } : {}),
          signal: init?.signal ?? undefined,
          timeout: REQUEST_TIMEOUT_MS,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', reject);
          res.on('end', () => {
            const responseHeaders = new Headers();
            for (const [name, value] of Object.entries(res.headers)) {
              if (value === undefined) continue;
              for (const v of Array.isArray(value) ? value : [value])
                responseHeaders.append(name, v);
            }
            const status = res.statusCode ?? 500;
            const nullBody = [101, 204, 205, 304].includes(status) || request.method === 'HEAD';
            resolve(
              new Response(nullBody ? null : Buffer.concat(chunks), {
                status,
                statusText: res.statusMessage,
                headers: responseHeaders,
              }),
            );
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`request to ${url.origin} timed out`)));
      req.on('error', reject);
      req.end(body);
    });
  };
}

/** Cookies of one scripted browser session (host-only, path-scoped, as RFC 6265 says). */
export class CookieJar {
  private readonly cookies = new Map<string, { value: string; path: string; expires: number }>();

  store(url: URL, setCookies: string[]): void {
    for (const line of setCookies) {
      const [pair, ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      let path = url.pathname.replace(/\/[^/]*$/, '') || '/';
      let expires = Infinity;
      for (const attribute of attributes) {
        const [key, ...rest] = attribute.split('=');
        const v = rest.join('=').trim();
        switch (key.trim().toLowerCase()) {
          case 'path':
            if (v.startsWith('/')) path = v;
            break;
          case 'expires':
            expires = Math.min(expires, Date.parse(v));
            break;
          case 'max-age':
            expires = Math.min(expires, Date.now() + Number(v) * 1000);
            break;
        }
      }
      const key = `${name};${path}`;
      if (value === '' || expires <= Date.now()) this.cookies.delete(key);
      else this.cookies.set(key, { value, path, expires });
    }
  }

  header(url: URL): string | undefined {
    const now = Date.now();
    const pairs: string[] = [];
    for (const [key, cookie] of this.cookies) {
      if (cookie.expires <= now) continue;
      const p = cookie.path;
      const matches =
        url.pathname === p ||
        (url.pathname.startsWith(p) && (p.endsWith('/') || url.pathname[p.length] === '/'));
      if (matches) pairs.push(`${key.slice(0, key.indexOf(';'))}=${cookie.value}`);
    }
    return pairs.length ? pairs.join('; ') : undefined;
  }
}

const HTML_ENTITIES: Record<string, string> = {
  '&amp;': '&',
  '&lt;': '<',
  '&gt;': '>',
  '&quot;': '"',
  '&#39;': "'",
};
const unescapeHtml = (s: string): string =>
  s.replace(/&(?:amp|lt|gt|quot|#39);/g, (entity) => HTML_ENTITIES[entity]);

/** The dev IdP's sign-in form: action and hidden fields (the page is the dev IdP's own markup). */
function parseSignInForm(html: string, pageUrl: URL): { action: URL; fields: URLSearchParams } {
  const form = /<form\b[^>]*\bid="sign-in"[^>]*>/.exec(html);
  const action = form && /\baction="([^"]*)"/.exec(form[0]);
  if (!action) {
    const alert = /<p[^>]*role="alert"[^>]*>([\s\S]*?)<\/p>/.exec(html);
    const reason = alert
      ? unescapeHtml(alert[1].replace(/<[^>]*>/g, '')).trim()
      : 'no sign-in form';
    throw new Error(`dev IdP page at ${pageUrl.pathname}: ${reason}`);
  }
  const fields = new URLSearchParams();
  for (const m of html.matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)">/g)) {
    fields.append(unescapeHtml(m[1]), unescapeHtml(m[2]));
  }
  return { action: new URL(unescapeHtml(action[1]), pageUrl), fields };
}

const isAt = (url: URL, target: URL): boolean =>
  url.origin === target.origin && url.pathname === target.pathname;

export interface BrowseOptions {
  /** The CA to trust (PEM); or give `fetch`. */
  readonly ca?: string | Buffer;
  /** @default - fetchTrusting(ca) */
  readonly fetch?: typeof fetch;
  /** Where the flow ends: the redirect URI in the authorization URL. */
  readonly redirectUri: string;
  /**
   * The browser's cookies, to sign in several times in one browser.
   * @default - a new, empty jar
   */
  readonly jar?: CookieJar;
}

/**
 * A scripted browser: opens `authorizationUrl`, follows redirects with its own cookie jar,
 * submits the dev IdP's sign-in form as `user`, and returns the URL the IdP finally sends
 * the browser to (the redirect URI with `code` and `state`, or with `error`). It never
 * requests the redirect URI itself.
 */
export async function browseSignIn(
  authorizationUrl: URL | string,
  user: string,
  options: BrowseOptions,
): Promise<URL> {
  const fetcher = options.fetch ?? (options.ca ? fetchTrusting(options.ca) : undefined);
  if (!fetcher) throw new TypeError('browseSignIn needs ca or fetch');
  const target = new URL(options.redirectUri);
  const jar = options.jar ?? new CookieJar();
  let url = new URL(authorizationUrl);
  let method = 'GET';
  let body: URLSearchParams | undefined;
  let submitted = false;
  for (let hop = 0; hop < 12; hop++) {
    if (isAt(url, target)) return url;
    const headers = new Headers({ accept: 'text/html' });
    const cookie = jar.header(url);
    if (cookie) headers.set('cookie', cookie);
    const response = await fetcher(url, { method, headers, body, redirect: 'manual' });
    jar.store(url, response.headers.getSetCookie());
    const location = response.headers.get('location');
    if (response.status >= 300 && response.status < 400 && location) {
      await response.arrayBuffer();
      url = new URL(location, url);
      method = 'GET';
      body = undefined;
      continue;
    }
    const text = await response.text();
    if (response.status !== 200 || submitted) {
      let reason = `answered ${response.status}`;
      const alert = /role="alert"[^>]*>([\s\S]*?)<\/(?:p|div)>/.exec(text);
      if (alert)
        reason += `: ${unescapeHtml(alert[1].replace(/<[^>]*>/g, ' '))
          .replace(/\s+/g, ' ')
          .trim()}`;
      throw new Error(`dev IdP ${url.pathname} ${reason}`);
    }
    const form = parseSignInForm(text, url);
    form.fields.set('user', user);
    url = form.action;
    method = 'POST';
    body = form.fields;
    submitted = true;
  }
  throw new Error('dev IdP sign-in: too many redirects');
}

const base64url = (bytes: Buffer): string => bytes.toString('base64url');

/** PKCE S256 challenge of a verifier (RFC 7636). */
export const pkceChallenge = (verifier: string): string =>
  base64url(createHash('sha256').update(verifier).digest());

/** RFC 6749 2.3.1: client id and secret are form-urlencoded before Basic encoding. */
export function basicAuthorization(clientId: string, clientSecret: string): string {
  const enc = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${enc(clientId)}:${enc(clientSecret)}`).toString('base64')}`;
}

const CERTIFICATE_ERRORS = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
  'CERT_HAS_EXPIRED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** `fetcher`, with network failures explained in terms of the sandbox. */
function explained(fetcher: typeof fetch, idpUrl: string): typeof fetch {
  return async (input, init) => {
    try {
      return await fetcher(input, init);
    } catch (err) {
      const code = (err as { code?: string }).code ?? '';
      if (code === 'ECONNREFUSED') {
        throw new Error(
          `no dev IdP is listening at ${idpUrl} (connection refused): is the sandbox running?`,
        );
      }
      if (CERTIFICATE_ERRORS.has(code)) {
        throw new Error(
          `the server at ${idpUrl} presents a certificate the given CA does not vouch for (${code}): use the CA of the running sandbox`,
        );
      }
      throw new Error(`cannot reach the dev IdP at ${idpUrl}: ${(err as Error).message}`);
    }
  };
}

export interface ScriptedSignInOptions {
  /** The CA that signed the dev IdP's certificate (PEM); or give `fetch`. */
  readonly ca?: string | Buffer;
  /** @default - fetchTrusting(ca) */
  readonly fetch?: typeof fetch;
  /** @default SCRIPTED_REDIRECT_URI */
  readonly redirectUri?: string;
  /** Sign in as another registered client (OpenID issuers only). @default the sandbox client */
  readonly client?: { readonly clientId: string; readonly clientSecret: string };
}

/**
 * Signs `user` in at the dev IdP at `idpUrl` through the real authorization code flow with
 * PKCE (S256), state and nonce, as the sandbox client of `family`, and returns what the app
 * would give STS: the ID token (google, oidc) or the access token (amazon, facebook).
 */
export async function scriptedSignIn(
  idpUrl: string,
  family: DevIdpFamily,
  user: string,
  options: ScriptedSignInOptions,
): Promise<string> {
  if (!DEV_IDP_FAMILIES.includes(family)) {
    throw new TypeError(`provider must be one of ${DEV_IDP_FAMILIES.join(', ')}, got '${family}'`);
  }
  const given = options.fetch ?? (options.ca ? fetchTrusting(options.ca) : undefined);
  if (!given) throw new TypeError('scriptedSignIn needs ca or fetch');
  const fetcher = explained(given, idpUrl);
  const endpoints = devIdpEndpoints(idpUrl)[family];
  const client = options.client ?? sandboxClientOf(family);
  const redirectUri = options.redirectUri ?? SCRIPTED_REDIRECT_URI;
  const verifier = base64url(randomBytes(32));
  const state = base64url(randomBytes(16));
  const nonce = base64url(randomBytes(16));
  const oidc = family === 'google' || family === 'oidc';

  const authorization = new URL(endpoints.authorization);
  authorization.search = new URLSearchParams({
    client_id: client.clientId,
    redirect_uri: redirectUri,
    response_type: 'code',
    scope: SCOPES[family],
    state,
    code_challenge: pkceChallenge(verifier),
    code_challenge_method: 'S256',
    ...(oidc ? { nonce } : {}),
  }).toString();

  const callback = await browseSignIn(authorization, user, { fetch: fetcher, redirectUri });
  const error = callback.searchParams.get('error');
  if (error) {
    const description = callback.searchParams.get('error_description');
    throw new Error(
      `dev IdP refused the sign-in: ${error}${description ? ` (${description})` : ''}`,
    );
  }
  if (callback.searchParams.get('state') !== state)
    throw new Error('dev IdP returned another state');
  const code = callback.searchParams.get('code');
  if (!code) throw new Error('dev IdP returned no code');

  const response = await fetcher(endpoints.token, {
    method: 'POST',
    headers: {
      authorization: basicAuthorization(client.clientId, client.clientSecret),
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
    },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: redirectUri,
      code_verifier: verifier,
    }),
    redirect: 'manual',
  });
  const tokens = (await response.json().catch(() => ({}))) as Record<string, unknown>;
  if (response.status !== 200) {
    throw new Error(
      `dev IdP token endpoint answered ${response.status}: ${String(tokens.error ?? 'no error code')}`,
    );
  }
  const token = oidc ? tokens.id_token : tokens.access_token;
  if (typeof token !== 'string' || !token) {
    throw new Error(`dev IdP token response has no ${oidc ? 'id_token' : 'access_token'}`);
  }
  if (oidc) {
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString());
    if (payload.nonce !== nonce) throw new Error('dev IdP ID token carries another nonce');
  }
  return token;
}
