import type { IncomingMessage, ServerResponse } from 'node:http';
import type * as jose from 'jose';
import Provider, { type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import { callbackPath } from '../common/provider-facts';
import { OIDC_ROUTES, sandboxClientOf } from './dev-idp-endpoints';
import type { OidcAccounts } from './dev-idp-interaction';
import { emailOf, PAGE_HEADERS, renderErrorPage } from './dev-idp-pages';
import { ID_TOKEN_ALGORITHMS, memoryAdapter } from './dev-idp-store';
import { HOST, SANDBOX_OTHER_APP, urlOf, type SandboxPorts } from './sandbox-config';

/** The dev IdP's two OpenID providers (Google-like and generic), on oidc-provider. */

export interface OidcFamily {
  readonly family: 'google' | 'oidc';
  /** Where it is served, e.g. `/google`. */
  readonly mount: string;
  readonly issuer: string;
  readonly key: jose.JWK;
}

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
  return url.protocol === 'https:' && url.pathname.startsWith(callbackPath(''));
}

/** The app's registered callback URL of a family (`<app>/oauth2callback/<name>`). */
const appCallback = (ports: SandboxPorts, name: string): string =>
  urlOf(ports.app) + callbackPath(name);

/** One oidc-provider instance, configured as a sandbox issuer of `family`. */
export function createOidcProvider(
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
export function mounted(provider: Provider, mount: string, family: string) {
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
