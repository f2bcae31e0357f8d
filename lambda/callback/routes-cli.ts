import {
  CLI_CODE_MAX_AGE_SECONDS,
  CLI_PATHS,
  type CliTokenError,
  type CliTokenResponse,
  isValidCodeChallenge,
  isValidCodeVerifier,
  isValidState,
  LOOPBACK_HOST,
  loopbackRedirectUri,
  parseLoopbackPort,
  PASTE_REDIRECT_URI,
  PROVIDER_NAME,
  s256,
} from '../../common/cli-protocol';
import { loginPath } from '../../common/provider-facts';
import { commandFile } from './assets';
import type {
  AppContext,
  FormHandler,
  OpenFormHandler,
  PageHandler,
  SessionGuard,
} from './context';
import { safeReturnTo, UsedStates } from './routes-sign-in';
import {
  type CliCode,
  expiresSoon,
  prefixOf,
  safeEqual,
  type SessionCookie,
  userLocation,
} from './session';
import * as views from './views';

/**
 * The app as a credential broker for the user's own command line (RFC 8252 loopback
 * redirect with PKCE S256; docs/cli-sign-in.md): /cli/authorize signs the user in as
 * usual and asks for consent; /cli/consent hands a short-lived sealed code to the CLI's
 * loopback server (or shows it, in paste mode); /cli/token trades it, with the PKCE
 * verifier, for the session's temporary credentials. No server-side store: the code
 * carries what it needs, sealed.
 */

export interface CliRoutes {
  /** GET /cli/wif-login.cjs: the command itself. */
  readonly command: PageHandler;
  /** GET /cli/authorize: sign in if needed, then the consent page. */
  readonly authorize: PageHandler;
  /** POST /cli/consent: allow (a code for the CLI) or deny. */
  readonly consent: FormHandler;
  /** Who may consent: a live session with its CSRF token (consent-not-forgeable). */
  readonly consentGuard: SessionGuard;
  /** POST /cli/token: the code and its PKCE verifier for the credentials. */
  readonly token: OpenFormHandler;
}

/** What the CLI asked for, checked. */
interface CliRequest {
  /** The loopback port to redirect to; undefined in paste mode. */
  readonly port?: number;
  readonly state: string;
  readonly codeChallenge: string;
  /** The provider to sign in with, when the CLI named one. */
  readonly provider?: string;
}

/** A request refused: why, and where the CLI hears it once its port and state checked out. */
interface Refusal {
  readonly message: string;
  /** The loopback port and the CLI's state, when both were valid (cli-request-checked). */
  readonly tell?: { readonly port: number; readonly state: string };
}

/** The longest-lived credentials a CLI sign-in needs to hand out fresh: see `freshEnough`. */
const FRESH_MS = 15 * 60_000;

export function cliRoutes(ctx: AppContext): CliRoutes {
  const { config, clock, log, providers, buttons, responses: r, sessions } = ctx;
  const usedCodes = new UsedStates(clock);
  // The CLI signs in again 5 minutes before its credentials expire; credentials handed out
  // with less left than this would send it straight back. A fresh sign-in gets new ones.
  const minRemaining = Math.min(FRESH_MS, (config.durationSeconds * 1000) / 2);
  const freshEnough = (s: SessionCookie) => s.exp - clock.now() >= minRemaining;

  const badRequest = (message: string) => r.page(400, 'Command-line sign-in failed', message);

  /** A redirect to the CLI's loopback server with `params`: the code, or an OAuth error. */
  const toLoopback = (port: number, params: Record<string, string>, status?: number) =>
    r.redirect(
      `${loopbackRedirectUri(port)}?${new URLSearchParams(params).toString()}`,
      [],
      status,
    );

  /**
   * cli-request-checked: a numeric loopback port (or paste mode), state, and an S256
   * challenge. The port and state are checked first: once both are valid, a later refusal
   * can be sent to the CLI's loopback server instead of leaving it waiting.
   */
  function parseRequest(params: URLSearchParams): CliRequest | Refusal {
    const names = [...params.keys()];
    if (new Set(names).size !== names.length) return { message: 'A parameter was given twice.' };
    const port = params.get('port');
    const paste = params.get('mode') === 'paste';
    if (paste === (port !== null)) return { message: 'Give either a loopback port or mode=paste.' };
    const parsedPort = port === null ? undefined : parseLoopbackPort(port);
    if (port !== null && parsedPort === undefined)
      return { message: 'The port must be a number from 1024 to 65535 on this computer.' };
    const state = params.get('state');
    if (!isValidState(state)) return { message: 'The state is missing or malformed.' };
    const tell = parsedPort === undefined ? undefined : { port: parsedPort, state };
    if (params.get('code_challenge_method') !== 'S256')
      return { message: 'Only PKCE with code_challenge_method=S256 is accepted.', tell };
    const codeChallenge = params.get('code_challenge');
    if (!isValidCodeChallenge(codeChallenge))
      return { message: 'The code_challenge is missing or malformed.', tell };
    const provider = params.get('provider') ?? undefined;
    if (provider !== undefined && !providers.has(provider)) {
      // Only a well-formed name is repeated back; the configured ones are public (the home page).
      const named = PROVIDER_NAME.test(provider) ? ` "${provider}"` : '';
      const known = [...providers.keys()].join(', ');
      return { message: `There is no sign-in provider${named} here; use one of: ${known}.`, tell };
    }
    return { port: parsedPort, state, codeChallenge, provider };
  }

  /**
   * A refused /cli/authorize: a 400 page, and, when the port and state were valid,
   * `error=invalid_request` to the CLI's loopback server (RFC 6749 section 4.1.2.1), so the
   * command stops at once and says why instead of waiting for a sign-in that cannot come.
   */
  function refuseAuthorize(requestId: string, refusal: Refusal) {
    log({ requestId, event: 'cli_authorize_refused', reason: refusal.message });
    if (refusal.tell === undefined) return badRequest(refusal.message);
    const { port, state } = refusal.tell;
    return toLoopback(port, {
      error: 'invalid_request',
      error_description: refusal.message,
      state,
    });
  }

  const command: PageHandler = () => {
    const body = commandFile();
    if (body === undefined) {
      return r.page(404, 'Not found', 'The command-line tool is not part of this build.');
    }
    return r.respond(200, body, {
      headers: {
        'content-type': 'text/javascript; charset=utf-8',
        'content-disposition': 'attachment; filename="wif-login.cjs"',
        'cache-control': 'public, max-age=300',
      },
    });
  };

  const authorize: PageHandler = async (req) => {
    const request = parseRequest(new URLSearchParams(req.rawQuery));
    if ('message' in request) return refuseAuthorize(req.requestId, request);
    const session = await sessions.readSession(req);
    const wanted = request.provider;
    if (session && freshEnough(session) && (wanted === undefined || wanted === session.p)) {
      const consent = views.consentPage({
        providerName: providers.get(session.p)?.displayName ?? session.p,
        displayName: session.dn,
        prefix: prefixOf(session),
        expiresAt: session.exp,
        port: request.port,
        state: request.state,
        codeChallenge: request.codeChallenge,
        csrf: session.csrf,
      });
      // The consent form's post is redirected to the loopback server: form-action must allow it.
      const headers =
        request.port === undefined
          ? undefined
          : {
              'content-security-policy': r.cspWithFormTarget(
                `http://${LOOPBACK_HOST}:${request.port}`,
              ),
            };
      return r.respond(200, consent, { headers });
    }
    // Sign in (again: credentials fresh enough for the CLI), then come back here.
    const back = safeReturnTo(`${CLI_PATHS.authorize}?${req.rawQuery}`);
    if (back === '/') {
      const { port, state } = request;
      const tell = port === undefined ? undefined : { port, state };
      return refuseAuthorize(req.requestId, { message: 'The request is too long.', tell });
    }
    // The named provider, else the one of the session being renewed, else the only one.
    const provider =
      wanted ?? session?.p ?? (providers.size === 1 ? [...providers.keys()][0] : undefined);
    if (provider !== undefined) {
      return r.redirect(`${loginPath(provider)}?return_to=${encodeURIComponent(back)}`);
    }
    return r.respond(
      200,
      views.homePage(buttons, 'Sign in to let the command line use your files.', back),
    );
  };

  const consent: FormHandler = async (req, form, session) => {
    const request = parseRequest(withoutFormFields(form));
    if ('message' in request) return badRequest(request.message);
    const decision = form.get('decision');
    const { port } = request;
    const loopback = port === undefined ? undefined : loopbackRedirectUri(port);
    if (decision === 'deny') {
      log({ requestId: req.requestId, event: 'cli_consent_denied', provider: session.p });
      if (port !== undefined)
        return toLoopback(port, { error: 'access_denied', state: request.state }, 303);
      return r.page(200, 'Denied', 'The command line was not given access to your files.');
    }
    if (decision !== 'allow') return badRequest('Choose Allow or Deny.');
    if (!freshEnough(session)) {
      // The session aged on the consent page: sign in again for fresh credentials.
      const query = new URLSearchParams(withoutFormFields(form)).toString();
      return r.redirect(`${CLI_PATHS.authorize}?${query}`, [], 303);
    }
    const code: CliCode = {
      p: session.p,
      sub: session.sub,
      ...(session.dn ? { dn: session.dn } : {}),
      ak: session.ak,
      sk: session.sk,
      st: session.st,
      exp: session.exp,
      ch: request.codeChallenge,
      ru: loopback ?? PASTE_REDIRECT_URI,
      cx: clock.now() + CLI_CODE_MAX_AGE_SECONDS * 1000,
    };
    // Only the sealed code goes into the redirect, never a credential (no-credentials-in-urls).
    const sealed = await sessions.sealCliCode(code);
    log({
      requestId: req.requestId,
      event: 'cli_code_issued',
      provider: session.p,
      mode: loopback ? 'loopback' : 'paste',
    });
    if (port !== undefined) return toLoopback(port, { code: sealed, state: request.state }, 303);
    return r.respond(200, views.cliCodePage(sealed, CLI_CODE_MAX_AGE_SECONDS));
  };

  const consentGuard: SessionGuard = {
    allowExpiring: false,
    signedOut: () =>
      r.page(401, 'Please sign in again', 'Your session ended. Run the command again.'),
    forbidden: () => r.notAllowed(),
  };

  const token: OpenFormHandler = async (req, form) => {
    const refuse = (error: CliTokenError['error'], description: string, reason: string) => {
      log({ requestId: req.requestId, event: 'cli_token_refused', reason });
      const body: CliTokenError = { error, error_description: description };
      return r.json(400, body);
    };
    // Never from a web page: the CLI sends no Origin, a browser always does on a POST.
    if (req.headers['origin'] !== undefined) {
      log({ requestId: req.requestId, event: 'cli_token_refused', reason: 'browser_origin' });
      return r.json(403, { error: 'invalid_request', error_description: 'Not from a browser.' });
    }
    const names = [...form.keys()];
    if (new Set(names).size !== names.length)
      return refuse('invalid_request', 'A parameter was given twice.', 'duplicate_parameter');
    if (form.get('grant_type') !== 'authorization_code')
      return refuse('unsupported_grant_type', 'Use grant_type=authorization_code.', 'grant_type');
    const rawCode = form.get('code');
    const verifier = form.get('code_verifier');
    const redirectUri = form.get('redirect_uri');
    if (!rawCode || !isValidCodeVerifier(verifier) || !redirectUri)
      return refuse(
        'invalid_request',
        'Send code, code_verifier (43-128 characters) and redirect_uri.',
        'missing_parameter',
      );
    const again = 'Run the command again to sign in.';
    const code = await sessions.openCliCode(rawCode);
    if (!code) return refuse('invalid_grant', `The code is not valid. ${again}`, 'unreadable');
    const now = clock.now();
    // cli-code-short-lived: a minute from consent, and never past the credentials.
    if (code.cx <= now || expiresSoon(code, now))
      return refuse('invalid_grant', `The code has expired. ${again}`, 'expired');
    // pkce-s256-checked: only the program that started the sign-in holds the verifier.
    if (!safeEqual(s256(verifier), code.ch))
      return refuse('invalid_grant', `The code verifier does not match. ${again}`, 'pkce');
    if (!safeEqual(redirectUri, code.ru))
      return refuse('invalid_grant', `The redirect_uri does not match. ${again}`, 'redirect_uri');
    if (!providers.has(code.p))
      return refuse('invalid_grant', `The provider is no longer configured.`, 'provider');
    // Single use per container, as the sign-in state is (state-single-use).
    if (!usedCodes.claim(rawCode, code.cx))
      return refuse('invalid_grant', `The code was already used. ${again}`, 'replayed');
    log({ requestId: req.requestId, event: 'cli_token_issued', provider: code.p });
    const body: CliTokenResponse = {
      ...userLocation(config, code.p, code.sub),
      credentials: {
        Version: 1,
        AccessKeyId: code.ak,
        SecretAccessKey: code.sk,
        SessionToken: code.st,
        Expiration: new Date(code.exp).toISOString(),
      },
    };
    return r.json(200, body, { headers: { pragma: 'no-cache' } });
  };

  return { command, authorize, consent, consentGuard, token };
}

/** The consent form's fields that are not the CLI's request. */
function withoutFormFields(form: URLSearchParams): URLSearchParams {
  const params = new URLSearchParams(form);
  params.delete('csrf');
  params.delete('decision');
  return params;
}
