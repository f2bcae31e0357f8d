import { createHash } from 'node:crypto';
import { type ProviderSettings, redirectUri } from '../../common/app-config';
import type { AppContext, FormHandler, SessionGuard } from './context';
import type { HttpRequest, HttpResponse } from './http';
import { isSafeSubject } from './names';
import { type Clock, SignInError } from './ports';
import {
  LOGIN_MAX_AGE_SECONDS,
  type LoginCookie,
  newCsrfToken,
  safeEqual,
  type SessionCookie,
} from './session';
import * as views from './views';

/** Signing in (login redirect, OAuth callback) and signing out. */

export interface SignInRoutes {
  /** GET /login/<provider>: remembers the attempt in the login cookie, redirects to the IdP. */
  login(req: HttpRequest, provider: ProviderSettings): Promise<HttpResponse>;
  /** GET /oauth2callback/<provider>: checks the response, redeems the code, starts a session. */
  callback(req: HttpRequest, provider: ProviderSettings): Promise<HttpResponse>;
  /** POST /logout: drops the session cookie. */
  readonly logout: FormHandler;
  /** Who may sign out: any readable session, even an expiring one. */
  readonly logoutGuard: SessionGuard;
}

export function signInRoutes(ctx: AppContext): SignInRoutes {
  const { config, clock, log, responses: r, sessions } = ctx;
  const usedStates = new UsedStates(clock);

  async function login(req: HttpRequest, provider: ProviderSettings): Promise<HttpResponse> {
    const returnTo = safeReturnTo(new URLSearchParams(req.rawQuery).get('return_to'));
    const start = await ctx.idp.start(provider, redirectUri(config, provider));
    const cookie: LoginCookie = {
      p: provider.name,
      s: start.state,
      n: start.nonce,
      v: start.codeVerifier,
      r: returnTo,
      exp: clock.now() + LOGIN_MAX_AGE_SECONDS * 1000,
    };
    const setCookie = await sessions.sealLogin(cookie);
    log({ requestId: req.requestId, event: 'login_started', provider: provider.name });
    return r.redirect(start.url, [setCookie]);
  }

  async function callback(req: HttpRequest, provider: ProviderSettings): Promise<HttpResponse> {
    const query = new URLSearchParams(req.rawQuery);
    const refuse = (reason: string, message: string, title = 'Sign-in failed') => {
      log({
        requestId: req.requestId,
        event: 'sign_in_refused',
        provider: provider.name,
        reason,
        status: 400,
      });
      return r.respond(400, views.messagePage(title, message), {
        cookies: [sessions.clearLogin()],
      });
    };
    const malformed = 'The sign-in response was malformed. Please try again.';
    // callback-params-unique: one value per parameter, and never both a code and an error.
    const names = [...query.keys()];
    if (new Set(names).size !== names.length) return refuse('duplicate_parameter', malformed);
    if (query.has('code') && query.has('error')) return refuse('code_and_error', malformed);
    const cookie = await sessions.openLogin(req);
    if (!cookie || typeof cookie.s !== 'string' || cookie.exp <= clock.now()) {
      return refuse(
        'no_login_cookie',
        'This sign-in attempt is unknown or expired. Please start again.',
        'Sign-in expired',
      );
    }
    // state-bound-to-provider: the state was issued for this provider's callback, not another's.
    if (cookie.p !== provider.name) {
      return refuse(
        'provider_mismatch',
        'This sign-in response does not belong to this provider. Please start again.',
      );
    }
    const state = query.get('state');
    if (!state || !safeEqual(state, cookie.s)) {
      return refuse(
        'state_mismatch',
        'The sign-in response did not match your sign-in attempt. Please start again.',
      );
    }
    if (!usedStates.claim(state, cookie.exp)) {
      return refuse(
        'state_replayed',
        'This sign-in response was already used. Please start again.',
      );
    }

    const error = query.get('error');
    if (error !== null) {
      log({ requestId: req.requestId, event: 'sign_in_denied_by_idp', provider: provider.name });
      return r.respond(
        400,
        views.signInFailedPage(
          provider.displayName,
          error,
          query.get('error_description') ?? undefined,
        ),
        { cookies: [sessions.clearLogin()] },
      );
    }
    if (!query.get('code')) {
      return refuse('no_code', 'The sign-in response had no authorization code.');
    }

    const callbackUrl = new URL(`${redirectUri(config, provider)}?${req.rawQuery}`);
    const identity = await ctx.idp.finish(
      provider,
      callbackUrl,
      { state: cookie.s, nonce: cookie.n, codeVerifier: cookie.v },
      redirectUri(config, provider),
    );
    if (!isSafeSubject(identity.subject)) {
      throw new SignInError(
        'token_rejected',
        'This account cannot be used here.',
        'unsafe subject',
      );
    }
    const credentials = await ctx.sts.assume(provider, identity);
    const session: SessionCookie = {
      p: provider.name,
      sub: identity.subject,
      dn: identity.displayName?.slice(0, 100),
      ak: credentials.accessKeyId,
      sk: credentials.secretAccessKey,
      st: credentials.sessionToken,
      exp: credentials.expiration,
      csrf: newCsrfToken(),
    };
    const maxAge = Math.max(0, Math.floor((credentials.expiration - clock.now()) / 1000));
    const setCookie = await sessions.sealSession(session, maxAge);
    log({ requestId: req.requestId, event: 'signed_in', provider: provider.name });
    // no-referrer-leak: a 302 to a clean URL, so the code never lingers in history or Referer.
    return r.redirect(cookie.r, [sessions.clearLogin(), setCookie]);
  }

  const logout: FormHandler = async (req, _form, session) => {
    log({ requestId: req.requestId, event: 'signed_out', provider: session.p });
    return r.redirect('/', [sessions.clearSession()], 303);
  };

  const logoutGuard: SessionGuard = {
    allowExpiring: true,
    signedOut: () => r.redirect('/', [sessions.clearSession()], 303),
    forbidden: () => r.notAllowed(),
  };

  return { login, callback, logout, logoutGuard };
}

/**
 * State is single use (state-single-use): remembered per container for the login cookie's
 * lifetime. A replay on another container still fails, because the IdP redeems a
 * code once and the browser's login cookie is cleared on first use.
 */
export class UsedStates {
  /** Hash of each used state -> when its login cookie expires, oldest first. */
  private readonly used = new Map<string, number>();

  constructor(
    private readonly clock: Clock,
    /** Past this many, the oldest are forgotten so memory stays bounded. */
    private readonly max = 10_000,
  ) {}

  /** Records `state` as used until `expiresAt`; false when it already was. */
  claim(state: string, expiresAt: number): boolean {
    const key = createHash('sha256').update(state).digest('base64url');
    this.prune();
    if (this.used.has(key)) return false;
    this.used.set(key, expiresAt);
    return true;
  }

  private prune(): void {
    const now = this.clock.now();
    for (const [key, exp] of this.used) {
      if (exp <= now || this.used.size > this.max) this.used.delete(key);
      else break;
    }
  }
}

/** return-to-same-origin: only same-origin relative paths; everything else goes to `/`. */
export function safeReturnTo(value: string | null): string {
  if (!value || value.length > 512 || !isPlainPath(value)) return '/';
  // Resolve against a dummy origin: a different origin means an escape.
  const url = new URL(value, 'https://app.invalid');
  if (url.origin !== 'https://app.invalid') return '/';
  // Dot segments normalise away: `/.//evil`, `/%2e//evil` and `/a/..//evil` all become
  // `//evil`, which a browser reads as another host, and `/../%2F%2Fevil` becomes
  // `/%2F%2Fevil`. Judge the path we would send, by the same rules as the input.
  const target = url.pathname + url.search;
  return isPlainPath(target) ? target : '/';
}

/** Starts with one `/`, and has no control characters or `\`, also once percent-decoded. */
function isPlainPath(value: string): boolean {
  if (!value.startsWith('/') || value.startsWith('//') || value.startsWith('/\\')) return false;
  if (/[\u0000-\u001f\u007f\\]/.test(value)) return false;
  let decoded: string;
  try {
    decoded = decodeURIComponent(value);
  } catch {
    return false;
  }
  return !(
    decoded.startsWith('//') ||
    decoded.startsWith('/\\') ||
    /[\u0000-\u001f\\]/.test(decoded)
  );
}
