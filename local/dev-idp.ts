import type { IncomingMessage, ServerResponse } from 'node:http';
import * as path from 'node:path';
import * as jose from 'jose';
import { BUILT_IN_PROVIDERS, providerFacts } from '../common/provider-facts';
import type { RunningServer, TlsOptions, WebIdentityVerifier } from './contracts';
import { scriptedSignIn } from './dev-idp-client';
import { devIdpEndpoints, type DevIdpEndpoints, type DevIdpFamily } from './dev-idp-endpoints';
import { interaction, OidcAccounts } from './dev-idp-interaction';
import { HttpError, json } from './dev-idp-http';
import { OAuth2Providers } from './dev-idp-oauth2';
import { createOidcProvider, isSandboxRedirectUri, mounted, type OidcFamily } from './dev-idp-oidc';
import { loadKeys, publicJwk } from './dev-idp-store';
import { createVerifier, type KnownIssuer } from './dev-idp-verify';
import { createSandboxServer, listenOnHost, type ServerTimeouts } from './listen';
import {
  GOOGLE_ISSUER,
  IDP_PATHS,
  oidcIssuer,
  SANDBOX_OTHER_APP,
  urlOf,
  type SandboxPorts,
} from './sandbox-config';

/**
 * The sandbox's identity provider: one HTTPS server on 127.0.0.1 that plays all four
 * provider families, so every code path of the app and of STS runs without the internet.
 * This module starts it; the parts live in local/dev-idp-*.ts (oidc-provider setup in
 * dev-idp-oidc.ts, its sign-in page in dev-idp-interaction.ts, keys and storage in
 * dev-idp-store.ts, the verifier in dev-idp-verify.ts).
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
        facts: providerFacts(f.family, f.issuer),
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
