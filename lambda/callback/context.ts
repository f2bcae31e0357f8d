import type { AppConfig, ProviderSettings } from '../../common/app-config';
import type { HttpRequest, HttpResponse } from './http';
import type { Clock, IdentityProviders, SecretStore, TokenExchange, UserStorage } from './ports';
import type { Responses } from './responses';
import type { SessionCookie, SessionCookies } from './session';
import type { ProviderButton } from './views';

/** What the route modules share: the injected ports, and the shapes of handlers and guards. */

/** Structured log sink; receives outcomes and request ids, never tokens or cookies. */
export type Log = (entry: Record<string, unknown>) => void;

/** The ports the app is built from; Lambda, the sandbox and tests each inject their own. */
export interface AppDeps {
  readonly config: AppConfig;
  readonly clock: Clock;
  /** Holds the cookie key. */
  readonly secrets: SecretStore;
  /** OAuth 2.0 / OpenID Connect with the configured providers. */
  readonly idp: IdentityProviders;
  /** Identity to temporary AWS credentials. */
  readonly sts: TokenExchange;
  /** S3, always as the signed-in user. */
  readonly storage: UserStorage;
  /** Where log entries go; dropped when absent. */
  readonly log?: Log;
}

/** Everything a route handler may use, built once per app. */
export interface AppContext {
  readonly config: AppConfig;
  readonly clock: Clock;
  readonly idp: IdentityProviders;
  readonly sts: TokenExchange;
  readonly storage: UserStorage;
  readonly log: Log;
  /** The configured providers by name. */
  readonly providers: ReadonlyMap<string, ProviderSettings>;
  /** One sign-in button per provider, in configuration order. */
  readonly buttons: readonly ProviderButton[];
  readonly responses: Responses;
  readonly sessions: SessionCookies;
}

/** Answers a GET (and HEAD) or any-method route; `params` holds what its `:name`s matched. */
export type PageHandler = (
  req: HttpRequest,
  params: Readonly<Record<string, string>>,
) => HttpResponse | Promise<HttpResponse>;

/** Answers a POST whose sender passed its route's {@link SessionGuard}. */
export type FormHandler = (
  req: HttpRequest,
  form: URLSearchParams,
  session: SessionCookie,
) => Promise<HttpResponse>;

/** Answers a POST that needs no session (the CLI's token request proves itself). */
export type OpenFormHandler = (req: HttpRequest, form: URLSearchParams) => Promise<HttpResponse>;

/**
 * A POST needs a session and the CSRF check (sign-out-post-csrf, csrf-on-state-changes) before its handler runs;
 * the guard says what to answer otherwise (a page, or JSON for the upload script).
 */
export interface SessionGuard {
  /** Whether a session about to expire still counts (signing out needs no live credentials). */
  readonly allowExpiring: boolean;
  /** The answer without a (live enough) session. */
  signedOut(req: HttpRequest): HttpResponse;
  /** The answer when the CSRF token or the Origin is wrong. */
  forbidden(): HttpResponse;
}
