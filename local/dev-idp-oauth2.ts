import type { IncomingMessage, ServerResponse } from 'node:http';
import { OAUTH2_SIGN_IN_PATHS } from './dev-idp-endpoints';
import { methodNotAllowed, readForm } from './dev-idp-http';
import { authorize, signIn } from './dev-idp-oauth2-authorize';
import { OAuth2Grants, type AccessTokenRecord, type OAuth2Family } from './dev-idp-oauth2-grants';
import { profile } from './dev-idp-oauth2-profile';
import { token } from './dev-idp-oauth2-token';
import { IDP_PATHS } from './sandbox-config';

/**
 * The Amazon-like and Facebook-like OAuth 2.0 providers of the dev IdP: authorization
 * code flow with PKCE (S256) and state, confidential clients, opaque access tokens and a
 * profile endpoint, with the shapes of Login with Amazon and the Graph API. This module
 * routes; the endpoints are in `dev-idp-oauth2-authorize.ts`, `-token.ts` and
 * `-profile.ts`, what they keep in `dev-idp-oauth2-grants.ts`.
 */

const PATHS = {
  amazon: { ...IDP_PATHS.amazon, signIn: OAUTH2_SIGN_IN_PATHS.amazon },
  facebook: { ...IDP_PATHS.facebook, signIn: OAUTH2_SIGN_IN_PATHS.facebook },
} as const;

export interface OAuth2ProvidersOptions {
  /** Decides which redirect URIs clients may use. */
  readonly redirectUriAllowed: (redirectUri: string) => boolean;
  /** ms since the epoch */
  readonly clock: () => number;
  /** @default - tokens in memory only */
  readonly tokenFile?: string;
}

/** Both OAuth 2.0 providers; `handle` answers their routes and returns false for others. */
export class OAuth2Providers {
  private readonly grants: OAuth2Grants;

  constructor(private readonly options: OAuth2ProvidersOptions) {
    this.grants = new OAuth2Grants({ clock: options.clock, tokenFile: options.tokenFile });
  }

  /** The record of a live or expired access token of `family`, or undefined. */
  lookup(family: OAuth2Family, token: string): AccessTokenRecord | undefined {
    return this.grants.lookup(family, token);
  }

  async handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
    for (const family of ['amazon', 'facebook'] as const) {
      const paths = PATHS[family];
      switch (url.pathname) {
        case paths.authorize:
          if (req.method !== 'GET') return methodNotAllowed(res, 'GET');
          authorize(this.grants, this.options.redirectUriAllowed, family, url, res);
          return true;
        case paths.signIn:
          if (req.method !== 'POST') return methodNotAllowed(res, 'POST');
          signIn(this.grants, family, await readForm(req), res);
          return true;
        case paths.token:
          if (req.method !== 'POST') return methodNotAllowed(res, 'POST');
          token(this.grants, family, req, await readForm(req), res);
          return true;
        case paths.profile:
          if (req.method !== 'GET') return methodNotAllowed(res, 'GET');
          profile(this.grants, family, req, url, res);
          return true;
      }
    }
    return false;
  }
}
