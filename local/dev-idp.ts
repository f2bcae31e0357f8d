import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as path from 'node:path';
import * as jose from 'jose';
import {
  BUILT_IN_PROVIDERS,
  accessTokenFamilyOf,
  callbackPath,
  issuerKeyPrefix,
} from '../common/provider-facts';
import Provider, { type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import {
  TokenRefused,
  type RunningServer,
  type TlsOptions,
  type VerifiedWebIdentity,
  type WebIdentityVerifier,
} from './contracts';
import {
  devIdpEndpoints,
  OIDC_ROUTES,
  sandboxClientOf,
  scriptedSignIn,
  type DevIdpEndpoints,
  type DevIdpFamily,
} from './dev-idp-client';
import { HttpError, json, OAuth2Providers } from './dev-idp-oauth2';
import { createSandboxServer, listenOnHost, type ServerTimeouts } from './listen';
import {
  emailOf,
  googleSubject,
  PAGE_HEADERS,
  parseUserName,
  renderErrorPage,
  renderSignInPage,
  sendPage,
} from './dev-idp-pages';
import {
  GOOGLE_ISSUER,
  HOST,
  IDP_PATHS,
  oidcIssuer,
  SANDBOX_OTHER_APP,
  urlOf,
  type SandboxPorts,
} from './sandbox-config';

/**
 * The sandbox's identity provider: one HTTPS server on 127.0.0.1 that plays all four
 * provider families, so every code path of the app and of STS runs without the internet.
 *
 * - `/google`: a Google-like OpenID provider (oidc-provider). Its ID tokens say
 *   `iss: https://accounts.google.com` and carry `azp`, like Google's; its endpoints are
 *   local (the app is configured with them explicitly; Google's discovery is not used).
 * - `/oidc`: a generic OpenID provider (oidc-provider), issuer `<idp url>/oidc`, with
 *   discovery, RFC 9207 `iss` in authorization responses and PKCE required.
 * - `/amazon`, `/facebook`: Login with Amazon and Facebook look-alikes (opaque access
 *   tokens and a profile endpoint), see local/dev-idp-oauth2.ts.
 *
 * Every family shows a "sign in as any user" page. `verifier` is what the local STS uses
 * to check web identity tokens, and `mintToken` gets a fresh token through the real flow.
 */

export interface DevIdpOptions {
  /** The port on 127.0.0.1; 0 picks a free one (the OIDC issuer then carries the real port). */
  readonly port: number;
  readonly tls: TlsOptions;
  /**
   * The sandbox's ports: `app` is where the clients' registered redirect URIs point
   * (`https://127.0.0.1:<app>/oauth2callback/<amazon|google|facebook|devidp>`); `idp` is
   * not used (the issuer takes the port actually listened on).
   */
  readonly ports: SandboxPorts;
  /**
   * A directory the dev IdP owns: signing keys and Amazon/Facebook access tokens are kept
   * there, so tokens stay valid across restarts.
   * @default - fresh keys in memory on every start
   */
  readonly dataDir?: string;
  /**
   * ms since the epoch, for the verifier and the OAuth 2.0 providers' token expiry
   * (oidc-provider always uses the system clock). For tests.
   * @default Date.now
   */
  readonly clock?: () => number;
  /**
   * Where server errors go (never tokens or secrets).
   * @default console.error
   */
  readonly log?: (message: string) => void;
  /** @default DEFAULT_TIMEOUTS */
  readonly timeouts?: ServerTimeouts;
}

export interface RunningDevIdp extends RunningServer {
  /** For the local STS: verifies ID tokens and Amazon/Facebook access tokens. */
  readonly verifier: WebIdentityVerifier;
  /** A fresh token of `user` through the real authorization code flow (ID token or access token). */
  mintToken(
    provider: DevIdpFamily,
    user: string,
    options?: { otherApp?: boolean },
  ): Promise<string>;
  /** Every endpoint, for the app's sandbox configuration. */
  readonly endpoints: DevIdpEndpoints;
  /** The generic OIDC issuer (`<url>/oidc`). */
  readonly oidcIssuer: string;
}

const ID_TOKEN_ALGORITHMS = ['RS256'];

/**
 * Redirect URIs every sandbox client may use: the app's callbacks on any loopback port
 * over HTTPS, and anything on http://127.0.0.1 (tests and the token script, RFC 8252 style).
 * Never another host, never a fragment or user info.
 */
export function isSandboxRedirectUri(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  if (url.hostname !== HOST || url.username || url.password || value.includes('#')) return false;
  if (url.protocol === 'http:') return true;
  return url.protocol === 'https:' && url.pathname.startsWith('/oauth2callback/');
}

/** The app's registered callback URL of a family (`<app>/oauth2callback/<name>`). */
const appCallback = (ports: SandboxPorts, name: string): string =>
  urlOf(ports.app) + callbackPath(name);

interface StoredKeys {
  google: jose.JWK;
  oidc: jose.JWK;
  cookieKey: string;
}

async function newSigningKey(): Promise<jose.JWK> {
  const { privateKey } = await jose.generateKeyPair('RS256', { extractable: true });
  const jwk = await jose.exportJWK(privateKey);
  return { ...jwk, kid: await jose.calculateJwkThumbprint(jwk), alg: 'RS256', use: 'sig' };
}

/** Signing keys (and the cookie key), from `dataDir` when there, else new (and saved there). */
async function loadKeys(dataDir: string | undefined): Promise<StoredKeys> {
  const file = dataDir && path.join(dataDir, 'keys.json');
  if (file && fs.existsSync(file)) {
    try {
      const stored = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<StoredKeys>;
      if (stored.google?.d && stored.oidc?.d && stored.cookieKey) return stored as StoredKeys;
    } catch {
      // Damaged: new keys below; tokens signed before only need signing in again.
    }
  }
  const keys: StoredKeys = {
    google: await newSigningKey(),
    oidc: await newSigningKey(),
    cookieKey: randomBytes(32).toString('base64url'),
  };
  if (file) {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    fs.writeFileSync(file, JSON.stringify(keys), { mode: 0o600 });
  }
  return keys;
}

const publicJwk = ({ kty, n, e, kid, alg, use }: jose.JWK): jose.JWK => ({
  kty,
  n,
  e,
  kid,
  alg,
  use,
});

interface OidcFamily {
  readonly family: 'google' | 'oidc';
  /** Where it is served, e.g. `/google`. */
  readonly mount: string;
  readonly issuer: string;
  readonly key: jose.JWK;
}

/**
 * Who signs in as `user` at an oidc-provider issuer: the account id is the `sub`. Google's
 * is numeric, so its user names are remembered (in memory: only userinfo needs them back,
 * and its access tokens do not outlive the process either).
 */
class OidcAccounts {
  private readonly googleUsers = new Map<string, string>();

  accountIdOf(family: 'google' | 'oidc', user: string): string {
    if (family === 'oidc') return user;
    const sub = googleSubject(user);
    this.googleUsers.set(sub, user);
    return sub;
  }

  userOf(family: 'google' | 'oidc', accountId: string): string {
    return family === 'oidc' ? accountId : (this.googleUsers.get(accountId) ?? accountId);
  }
}

type AdapterPayload = Record<string, unknown> & {
  grantId?: string;
  uid?: string;
  userCode?: string;
};

/**
 * oidc-provider's storage (sessions, interactions, codes, grants, access tokens), in
 * memory and per provider instance. Its built-in memory adapter does the same but warns
 * on every start; codes and sessions need not outlive the sandbox.
 */
function memoryAdapter(): (model: string) => object {
  const items = new Map<string, { payload: AdapterPayload; expiresAt: number }>();
  const live = (key: string): AdapterPayload | undefined => {
    const item = items.get(key);
    if (item && item.expiresAt <= Date.now()) items.delete(key);
    return item && item.expiresAt > Date.now() ? item.payload : undefined;
  };
  const each = function* (model: string, match: (p: AdapterPayload) => boolean) {
    for (const key of items.keys()) {
      const payload = live(key);
      if (payload && key.startsWith(`${model}:`) && match(payload)) yield key;
    }
  };
  return (model) => ({
    async upsert(id: string, payload: AdapterPayload, expiresIn?: number) {
      const now = Date.now();
      for (const [key, item] of items) if (item.expiresAt <= now) items.delete(key);
      items.set(`${model}:${id}`, {
        payload,
        expiresAt: expiresIn ? now + expiresIn * 1000 : Infinity,
      });
    },
    find: async (id: string) => live(`${model}:${id}`),
    findByUid: async (uid: string) => {
      for (const key of each(model, (p) => p.uid === uid)) return live(key);
      return undefined;
    },
    findByUserCode: async (userCode: string) => {
      for (const key of each(model, (p) => p.userCode === userCode)) return live(key);
      return undefined;
    },
    async consume(id: string) {
      const payload = live(`${model}:${id}`);
      if (payload) payload.consumed = Math.floor(Date.now() / 1000);
    },
    destroy: async (id: string) => void items.delete(`${model}:${id}`),
    // oidc-provider calls this on every model; e.g. a replayed code revokes its grant's tokens.
    async revokeByGrantId(grantId: string) {
      for (const key of [...items.keys()]) {
        if (items.get(key)?.payload.grantId === grantId) items.delete(key);
      }
    },
  });
}

/** One oidc-provider instance, configured as a sandbox issuer of `family`. */
function createOidcProvider(
  spec: OidcFamily,
  ports: SandboxPorts,
  cookieKey: string,
  accounts: OidcAccounts,
  log: (message: string) => void,
): Provider {
  const { family, mount } = spec;
  const client = sandboxClientOf(family);
  const callbackName = family === 'oidc' ? 'devidp' : family;
  const configuration: Configuration = {
    adapter: memoryAdapter(),
    clients: [
      {
        client_id: client.clientId,
        client_secret: client.clientSecret,
        redirect_uris: [appCallback(ports, callbackName)],
        response_types: ['code'],
        grant_types: ['authorization_code'],
        // oidc-provider v9 accepts client_secret_post for this client as well.
        token_endpoint_auth_method: 'client_secret_basic',
        id_token_signed_response_alg: 'RS256',
      },
      {
        // Another app at the same issuer: STS must refuse its tokens for our roles.
        client_id: SANDBOX_OTHER_APP[family].clientId,
        client_secret: SANDBOX_OTHER_APP[family].clientSecret,
        redirect_uris: [appCallback(ports, callbackName)],
        response_types: ['code'],
        grant_types: ['authorization_code'],
        token_endpoint_auth_method: 'client_secret_basic',
        id_token_signed_response_alg: 'RS256',
      },
    ],
    jwks: { keys: [spec.key] },
    cookies: {
      keys: [cookieKey],
      names: {
        session: `_devidp_${family}_session`,
        interaction: `_devidp_${family}_interaction`,
        resume: `_devidp_${family}_resume`,
      },
    },
    // Google's ID tokens carry azp (the client id) next to aud; STS reads it for `:aud`.
    claims: {
      openid: family === 'google' ? ['sub', 'azp'] : ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name'],
    },
    scopes: ['openid', 'email', 'profile'],
    responseTypes: ['code'],
    // email and name go into the ID token too, as Google does, not only to userinfo.
    conformIdTokenClaims: false,
    clientBasedCORS: () => false,
    features: {
      devInteractions: { enabled: false },
      revocation: { enabled: false },
      introspection: { enabled: false },
      rpInitiatedLogout: { enabled: false },
    },
    enabledJWA: { idTokenSigningAlgValues: ID_TOKEN_ALGORITHMS },
    pkce: { required: () => true },
    routes: {
      authorization: OIDC_ROUTES.authorization,
      token: OIDC_ROUTES.token,
      jwks: OIDC_ROUTES.jwks,
      userinfo: OIDC_ROUTES.userinfo,
    },
    // Access tokens die with their grant and session (no offline_access): all live an hour,
    // so userinfo works as long as the ID token does.
    ttl: {
      AccessToken: 3600,
      AuthorizationCode: 60,
      IdToken: 3600,
      Interaction: 600,
      Session: 3600,
      Grant: 3600,
    },
    interactions: { url: (_ctx, interaction) => `${mount}/interaction/${interaction.uid}` },
    // The account id is the ID token's `sub` (oidc-provider sets sub = accountId).
    findAccount: (ctx, accountId) => {
      const user = accounts.userOf(family, accountId);
      return {
        accountId,
        claims: (use) => ({
          sub: accountId,
          ...(family === 'google' && use === 'id_token'
            ? { azp: ctx.oidc.client?.clientId ?? client.clientId }
            : {}),
          email: emailOf(user),
          email_verified: true,
          name: user,
        }),
      };
    },
    // Consent is implied for the sandbox's own clients: every sign-in gets a grant.
    loadExistingGrant: async (ctx) => {
      const { client: rp, account, session, result, provider } = ctx.oidc;
      if (!rp || !account) return undefined;
      const id = result?.consent?.grantId ?? session.grantIdFor(rp.clientId);
      const existing = id ? await provider.Grant.find(id) : undefined;
      if (existing?.accountId === account.accountId && existing.clientId === rp.clientId) {
        return existing;
      }
      const grant = new provider.Grant({ accountId: account.accountId, clientId: rp.clientId });
      grant.addOIDCScope('openid email profile');
      await grant.save();
      return grant;
    },
    renderError: (ctx: KoaContextWithOIDC, out) => {
      for (const [name, value] of Object.entries(PAGE_HEADERS)) ctx.set(name, value);
      ctx.body = renderErrorPage(
        'Sign-in refused',
        String(out.error_description ?? out.error),
        `error: ${out.error}`,
      );
    },
  };
  const provider = new Provider(spec.issuer, configuration);
  // Redirect URIs: the registered one, and the loopback patterns of isSandboxRedirectUri.
  provider.Client.prototype.redirectUriAllowed = (value: string) => isSandboxRedirectUri(value);
  provider.on('server_error', (_ctx, error) => log(`dev IdP ${family}: ${error.message}`));
  return provider;
}

/** Serves an oidc-provider below `mount`, the way Express's `app.use(mount, ...)` would. */
function mounted(provider: Provider, mount: string, family: string) {
  const callback = provider.callback();
  const sessionCookie = `_devidp_${family}_session`;
  return (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    // oidc-provider builds its endpoint URLs from the request's origin and the part of
    // originalUrl that url lacks: so discovery names 127.0.0.1:<port>/google/..., even for
    // the issuer https://accounts.google.com.
    const original = req.url ?? '/';
    (req as IncomingMessage & { originalUrl?: string }).originalUrl = original;
    const rest = original.slice(mount.length);
    req.url = rest.startsWith('/') ? rest : `/${rest}`;
    // No single sign-on session: every authorization shows the sign-in page, so one browser
    // can sign in as alice, then as bob (oidc-provider would otherwise keep alice, or ask
    // to log out first).
    const cookie = req.headers.cookie;
    if (cookie) {
      req.headers.cookie = cookie
        .split(/;\s*/)
        .filter((c) => !c.startsWith(`${sessionCookie}=`) && !c.startsWith(`${sessionCookie}.sig=`))
        .join('; ');
    }
    return callback(req, res);
  };
}

/** GET and POST `<mount>/interaction/<uid>`: the sign-in page of an oidc-provider issuer. */
async function interaction(
  provider: Provider,
  family: 'google' | 'oidc',
  mount: string,
  accounts: OidcAccounts,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
): Promise<void> {
  const uid = url.pathname.slice(`${mount}/interaction/`.length);
  let details;
  try {
    details = await provider.interactionDetails(req, res);
  } catch {
    return sendPage(
      res,
      400,
      renderErrorPage(
        'Sign-in expired',
        'This sign-in is no longer pending (or was started in another browser). Go back to the app and start again.',
      ),
    );
  }
  if (details.uid !== uid) {
    return sendPage(
      res,
      400,
      renderErrorPage('Sign-in refused', 'This is not the pending sign-in.'),
    );
  }
  if (details.prompt.name !== 'login') {
    return sendPage(
      res,
      500,
      renderErrorPage(
        'Unexpected prompt',
        `The dev IdP does not handle the ${details.prompt.name} prompt.`,
      ),
    );
  }
  const params = details.params;
  const page = {
    family,
    action: url.pathname,
    client: String(params.client_id ?? ''),
    redirectUri: typeof params.redirect_uri === 'string' ? params.redirect_uri : undefined,
  };
  if (req.method === 'GET') {
    const hint = typeof params.login_hint === 'string' ? params.login_hint : '';
    return sendPage(res, 200, renderSignInPage({ ...page, user: hint }));
  }
  if (req.method !== 'POST') throw new HttpError(405, 'method not allowed');
  const form = await readForm(req);
  const parsed = parseUserName(form.get('as') ?? form.get('user'));
  if ('error' in parsed) {
    return sendPage(
      res,
      400,
      renderSignInPage({ ...page, user: form.get('user') ?? '', error: parsed.error }),
    );
  }
  await provider.interactionFinished(
    req,
    res,
    { login: { accountId: accounts.accountIdOf(family, parsed.user), remember: false } },
    { mergeWithLastSubmission: false },
  );
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > 16 * 1024) throw new HttpError(413, 'request body too large');
    chunks.push(chunk);
  }
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') {
    throw new HttpError(415, 'expected application/x-www-form-urlencoded');
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

interface KnownIssuer {
  readonly provider: string;
  /** Prefix of the STS condition keys: the issuer without `https://`. */
  readonly keyPrefix: string;
  readonly google: boolean;
  readonly keys: ReturnType<typeof jose.createLocalJWKSet>;
}

const refuse = (message: string): TokenRefused => new TokenRefused('InvalidIdentityToken', message);

/** The verifier the local STS uses: the dev IdP's own keys and token store, checked like AWS STS. */
function createVerifier(
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
        `ProviderId ${providerId} is not an OAuth 2.0 provider of the sandbox (www.amazon.com, graph.facebook.com)`,
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
    const profile = OAuth2Providers.profileOf(family, record.user);
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
    const p = issuer.keyPrefix;
    return {
      provider: issuer.provider,
      subject: sub,
      audience,
      contextKeys: issuer.google
        ? { [`${p}:sub`]: sub, [`${p}:aud`]: audience, [`${p}:oaud`]: String(aud[0]) }
        : { [`${p}:sub`]: sub, [`${p}:aud`]: audience },
    };
  }

  return {
    async verify(token, providerId) {
      if (typeof token !== 'string' || token === '') throw refuse('no token');
      return providerId === undefined ? verifyIdToken(token) : verifyAccessToken(token, providerId);
    },
  };
}

/** Starts the dev IdP on 127.0.0.1 (see the module comment). */
export async function startDevIdp(options: DevIdpOptions): Promise<RunningDevIdp> {
  const clock = options.clock ?? Date.now;
  const log = options.log ?? ((message: string) => console.error(message));
  const keys = await loadKeys(options.dataDir);

  // Listen first: with port 0 the OIDC issuer must carry the real port.
  const app: { handler?: (req: IncomingMessage, res: ServerResponse) => Promise<void> } = {};
  const server = createSandboxServer(
    options.tls,
    (req, res) => {
      if (!app.handler) {
        json(res, 503, { error: 'starting' });
        return;
      }
      app.handler(req, res).catch((err: unknown) => {
        const status = err instanceof HttpError ? err.status : 500;
        if (status === 500) log(`dev IdP: ${(err as Error).message}`);
        if (res.headersSent) {
          res.destroy();
          return;
        }
        json(res, status, { error: status === 500 ? 'server_error' : (err as Error).message });
      });
    },
    options.timeouts,
  );
  const port = await listenOnHost(server, options.port);
  const url = urlOf(port);
  const issuerOfOidc = oidcIssuer({ ...options.ports, idp: port });

  const families: OidcFamily[] = [
    { family: 'google', mount: IDP_PATHS.google, issuer: GOOGLE_ISSUER, key: keys.google },
    { family: 'oidc', mount: IDP_PATHS.oidc, issuer: issuerOfOidc, key: keys.oidc },
  ];
  const accounts = new OidcAccounts();
  const oidcProviders = families.map((spec) => {
    const provider = createOidcProvider(spec, options.ports, keys.cookieKey, accounts, log);
    return { ...spec, provider, serve: mounted(provider, spec.mount, spec.family) };
  });
  const oauth2 = new OAuth2Providers({
    redirectUriAllowed: isSandboxRedirectUri,
    clock,
    tokenFile: options.dataDir && path.join(options.dataDir, 'oauth2-tokens.json'),
  });
  const endpoints = devIdpEndpoints(url);

  app.handler = async (req, res) => {
    const requestUrl = new URL(req.url ?? '/', url);
    const pathname = requestUrl.pathname;
    for (const p of oidcProviders) {
      if (pathname !== p.mount && !pathname.startsWith(`${p.mount}/`)) continue;
      if (pathname.startsWith(`${p.mount}/interaction/`)) {
        return interaction(p.provider, p.family, p.mount, accounts, req, res, requestUrl);
      }
      return p.serve(req, res);
    }
    if (await oauth2.handle(req, res, requestUrl)) return;
    if (pathname === '/' && req.method === 'GET') return json(res, 200, endpoints);
    json(res, 404, { error: 'not_found' });
  };

  const issuers = new Map<string, KnownIssuer>(
    families.map((f) => [
      f.issuer,
      {
        provider: f.family === 'google' ? BUILT_IN_PROVIDERS.google.keyPrefix : f.issuer,
        keyPrefix: issuerKeyPrefix(f.issuer),
        google: f.family === 'google',
        keys: jose.createLocalJWKSet({ keys: [publicJwk(f.key)] }),
      },
    ]),
  );

  return {
    url,
    port,
    endpoints,
    oidcIssuer: issuerOfOidc,
    verifier: createVerifier(issuers, oauth2, clock),
    mintToken: (provider, user, mint = {}) =>
      scriptedSignIn(url, provider, user, {
        ca: options.tls.ca,
        client:
          mint.otherApp && (provider === 'google' || provider === 'oidc')
            ? SANDBOX_OTHER_APP[provider]
            : undefined,
      }),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
