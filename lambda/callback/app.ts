import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { serialize, type SerializeOptions } from 'cookie';
import { type AppConfig, type ProviderSettings, redirectUri } from '../../common/app-config';
import { userPrefix } from '../../common/provider-facts';
import { CookieSealer } from './cookies';
import type { HttpRequest, HttpResponse } from './http';
import { checkObjectName, isSafeSubject } from './names';
import {
  type Clock,
  type IdentityProviders,
  type SecretStore,
  SignInError,
  type TemporaryCredentials,
  type TokenExchange,
  UploadRefusedError,
  type UserStorage,
} from './ports';
import { staticAsset } from './assets';
import * as views from './views';

/**
 * The callback app's core: routes, session and pages. Pure apart from the injected
 * ports, so it runs the same in Lambda, in the sandbox and in tests.
 */

export interface AppDeps {
  readonly config: AppConfig;
  readonly clock: Clock;
  readonly secrets: SecretStore;
  readonly idp: IdentityProviders;
  readonly sts: TokenExchange;
  readonly storage: UserStorage;
  /** Structured log sink; receives outcomes and request ids, never tokens or cookies. */
  readonly log?: (entry: Record<string, unknown>) => void;
}

export type App = (request: HttpRequest) => Promise<HttpResponse>;

const LOGIN_MAX_AGE_SECONDS = 600;
/** Credentials this close to expiry count as expired: the next S3 call could fail. */
const EXPIRY_MARGIN_MS = 60_000;
const PRESIGN_SECONDS = 300;
const MAX_BODY_BYTES = 16 * 1024;
/**
 * /upload-complete carries the part list: up to 10,000 `{"partNumber":n,"etag":"\"<md5>\""}`
 * entries, about 100 bytes each once form-encoded, so about 1 MB. Only that route gets more.
 */
const MAX_COMPLETE_BODY_BYTES = 2 * 1024 * 1024;
const MiB = 1024 * 1024;
/** Above this size the browser uploads in parts (one PUT is capped at 5 GB by S3). */
export const MULTIPART_THRESHOLD_BYTES = 64 * MiB;
/** Smallest part the app plans; S3 allows 5 MiB, larger parts mean fewer requests. */
export const MIN_PART_BYTES = 64 * MiB;
/**
 * Most parts the app plans for one upload (S3 allows 10,000). Every part gets a presigned URL
 * of about 1.5 KB in the /upload-url answer; 2,000 of them stay well inside Lambda's 6 MB
 * response limit. 5 TiB / 2,000 is 2.5 GiB a part, inside S3's 5 GiB.
 */
export const MAX_PLANNED_PARTS = 2_000;
/** S3's limits: object size, part count, part size (the last part may be smaller). */
const MAX_OBJECT_BYTES = 5 * 1024 * 1024 * MiB;
const MAX_PARTS = 10_000;
const S3_MIN_PART_BYTES = 5 * MiB;
const S3_MAX_PART_BYTES = 5 * 1024 * MiB;
/** SigV4 presigned URLs live at most 7 days. */
const MAX_PRESIGN_SECONDS = 7 * 24 * 3600;
/** S3 upload ids are opaque; printable ASCII without spaces, bounded. */
const UPLOAD_ID = /^[\x21-\x7e]{1,1024}$/;
/** A part's ETag as S3 returns it to the browser: a quoted MD5-sized hex string. */
const PART_ETAG = /^"[0-9a-fA-F]{32}"$/;
const MAX_USED_STATES = 10_000;

interface LoginCookie {
  readonly p: string; // provider name (mix-up defence, catalog 6)
  readonly s: string; // state
  readonly n?: string; // nonce
  readonly v: string; // PKCE verifier
  readonly r: string; // validated return-to path
  readonly exp: number;
}

interface SessionCookie {
  readonly p: string;
  readonly sub: string;
  readonly dn?: string;
  readonly ak: string;
  readonly sk: string;
  readonly st: string;
  readonly exp: number;
  readonly csrf: string;
}

export function createApp(deps: AppDeps): App {
  const { config, clock } = deps;
  const log = deps.log ?? (() => undefined);
  const providers = new Map(config.providers.map((p) => [p.name, p]));
  const buttons = config.providers.map((p) => ({ name: p.name, displayName: p.displayName }));
  const secure = config.baseUrl.startsWith('https://');
  const loginCookieName = secure ? '__Host-wif-login' : 'wif-login';
  const sessionCookieName = secure ? '__Host-wif-session' : 'wif-session';
  const baseHeaders = securityHeaders(config, secure);
  // State is single use (catalog 2): remembered per container for the login cookie's
  // lifetime. A replay on another container still fails, because the IdP redeems a
  // code once and the browser's login cookie is cleared on first use.
  const usedStates = new Map<string, number>();
  let sealer: Promise<CookieSealer> | undefined;

  const getSealer = (): Promise<CookieSealer> => {
    sealer ??= deps.secrets.get(config.cookieKeySecretId).then(
      (s) => CookieSealer.fromSecret(s),
      (err) => {
        sealer = undefined;
        throw err;
      },
    );
    return sealer;
  };

  const cookieOptions = (maxAge: number): SerializeOptions => ({
    httpOnly: true,
    secure,
    sameSite: 'lax',
    path: '/',
    maxAge,
  });

  function respond(status: number, body: string, extra: Partial<HttpResponse> = {}): HttpResponse {
    return {
      status,
      body,
      cookies: extra.cookies ?? [],
      headers: { 'content-type': 'text/html; charset=utf-8', ...baseHeaders, ...extra.headers },
    };
  }
  const redirect = (location: string, cookies: string[] = [], status = 302): HttpResponse =>
    respond(status, '', { headers: { location }, cookies });
  const json = (status: number, value: unknown, extra: Partial<HttpResponse> = {}): HttpResponse =>
    respond(status, JSON.stringify(value), {
      ...extra,
      headers: { 'content-type': 'application/json', ...extra.headers },
    });
  const page = (status: number, title: string, message: string) =>
    respond(status, views.messagePage(title, message));

  async function readSession(req: HttpRequest): Promise<SessionCookie | undefined> {
    const raw = req.cookies[sessionCookieName];
    if (!raw) return undefined;
    const value = (await getSealer()).open('session', raw) as SessionCookie | undefined;
    if (!value || typeof value !== 'object' || typeof value.exp !== 'number') return undefined;
    if (!providers.has(value.p)) return undefined;
    return value;
  }
  const clearSession = () => serialize(sessionCookieName, '', cookieOptions(0));
  const clearLogin = () => serialize(loginCookieName, '', cookieOptions(0));
  const credentialsOf = (s: SessionCookie): TemporaryCredentials => ({
    accessKeyId: s.ak,
    secretAccessKey: s.sk,
    sessionToken: s.st,
    expiration: s.exp,
  });
  const prefixOf = (s: SessionCookie) => userPrefix(s.p, s.sub);

  // ---- routes ----

  async function home(req: HttpRequest): Promise<HttpResponse> {
    const session = await readSession(req);
    const query = new URLSearchParams(req.rawQuery);
    if (!session) {
      const hadCookie = Boolean(req.cookies[sessionCookieName]);
      return respond(
        200,
        views.homePage(
          buttons,
          hadCookie ? 'Your session ended. Please sign in again.' : undefined,
        ),
        { cookies: hadCookie ? [clearSession()] : [] },
      );
    }
    if (session.exp - EXPIRY_MARGIN_MS <= clock.now()) {
      // Catalog 14: expired credentials mean signing in again, never a 500.
      return respond(200, views.homePage(buttons, 'Your session expired. Please sign in again.'), {
        cookies: [clearSession()],
      });
    }
    let files;
    try {
      files = await deps.storage.list(credentialsOf(session), prefixOf(session));
    } catch (err) {
      if (isExpiredCredentials(err)) {
        return respond(
          200,
          views.homePage(buttons, 'Your session expired. Please sign in again.'),
          {
            cookies: [clearSession()],
          },
        );
      }
      throw err;
    }
    const uploaded = query.get('uploaded');
    const deleted = query.get('deleted');
    return respond(
      200,
      views.filesPage({
        providerName: providers.get(session.p)!.displayName,
        displayName: session.dn,
        files,
        csrf: session.csrf,
        expiresAt: session.exp,
        notice: uploaded ? `Uploaded ${uploaded}.` : deleted ? `Deleted ${deleted}.` : undefined,
      }),
    );
  }

  async function login(req: HttpRequest, provider: ProviderSettings): Promise<HttpResponse> {
    const returnTo = safeReturnTo(new URLSearchParams(req.rawQuery).get('return_to'));
    const start = await deps.idp.start(provider, redirectUri(config, provider));
    const cookie: LoginCookie = {
      p: provider.name,
      s: start.state,
      n: start.nonce,
      v: start.codeVerifier,
      r: returnTo,
      exp: clock.now() + LOGIN_MAX_AGE_SECONDS * 1000,
    };
    const sealed = (await getSealer()).seal('login', cookie);
    log({ requestId: req.requestId, event: 'login_started', provider: provider.name });
    return redirect(start.url, [
      serialize(loginCookieName, sealed, cookieOptions(LOGIN_MAX_AGE_SECONDS)),
    ]);
  }

  async function callback(req: HttpRequest, provider: ProviderSettings): Promise<HttpResponse> {
    const query = new URLSearchParams(req.rawQuery);
    const fail = (status: number, title: string, message: string, reason: string) => {
      log({
        requestId: req.requestId,
        event: 'sign_in_refused',
        provider: provider.name,
        reason,
        status,
      });
      return respond(status, views.messagePage(title, message), { cookies: [clearLogin()] });
    };
    // Catalog 4: one value per parameter, and never both a code and an error.
    const names = [...query.keys()];
    if (new Set(names).size !== names.length) {
      return fail(
        400,
        'Sign-in failed',
        'The sign-in response was malformed. Please try again.',
        'duplicate_parameter',
      );
    }
    if (query.has('code') && query.has('error')) {
      return fail(
        400,
        'Sign-in failed',
        'The sign-in response was malformed. Please try again.',
        'code_and_error',
      );
    }
    const cookie = (await getSealer()).open('login', req.cookies[loginCookieName]) as
      LoginCookie | undefined;
    if (!cookie || typeof cookie.s !== 'string' || cookie.exp <= clock.now()) {
      return fail(
        400,
        'Sign-in expired',
        'This sign-in attempt is unknown or expired. Please start again.',
        'no_login_cookie',
      );
    }
    // Catalog 6: the state was issued for this provider's callback, not another's.
    if (cookie.p !== provider.name) {
      return fail(
        400,
        'Sign-in failed',
        'This sign-in response does not belong to this provider. Please start again.',
        'provider_mismatch',
      );
    }
    const state = query.get('state');
    if (!state || !safeEqual(state, cookie.s)) {
      return fail(
        400,
        'Sign-in failed',
        'The sign-in response did not match your sign-in attempt. Please start again.',
        'state_mismatch',
      );
    }
    const stateKey = createHash('sha256').update(state).digest('base64url');
    pruneUsedStates();
    if (usedStates.has(stateKey)) {
      return fail(
        400,
        'Sign-in failed',
        'This sign-in response was already used. Please start again.',
        'state_replayed',
      );
    }
    usedStates.set(stateKey, cookie.exp);

    const error = query.get('error');
    if (error !== null) {
      log({ requestId: req.requestId, event: 'sign_in_denied_by_idp', provider: provider.name });
      return respond(
        400,
        views.signInFailedPage(
          provider.displayName,
          error,
          query.get('error_description') ?? undefined,
        ),
        { cookies: [clearLogin()] },
      );
    }
    if (!query.get('code')) {
      return fail(
        400,
        'Sign-in failed',
        'The sign-in response had no authorization code.',
        'no_code',
      );
    }

    const callbackUrl = new URL(`${redirectUri(config, provider)}?${req.rawQuery}`);
    const identity = await deps.idp.finish(
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
    const credentials = await deps.sts.assume(provider, identity);
    const session: SessionCookie = {
      p: provider.name,
      sub: identity.subject,
      dn: identity.displayName?.slice(0, 100),
      ak: credentials.accessKeyId,
      sk: credentials.secretAccessKey,
      st: credentials.sessionToken,
      exp: credentials.expiration,
      csrf: randomBytes(32).toString('base64url'),
    };
    const maxAge = Math.max(0, Math.floor((credentials.expiration - clock.now()) / 1000));
    const sealed = (await getSealer()).seal('session', session);
    log({ requestId: req.requestId, event: 'signed_in', provider: provider.name });
    // Catalog 9: a 302 to a clean URL, so the code never lingers in history or Referer.
    return redirect(cookie.r, [
      clearLogin(),
      serialize(sessionCookieName, sealed, cookieOptions(maxAge)),
    ]);
  }

  async function requireSession(req: HttpRequest): Promise<SessionCookie | HttpResponse> {
    const session = await readSession(req);
    if (!session || session.exp - EXPIRY_MARGIN_MS <= clock.now()) {
      return respond(
        401,
        views.messagePage('Please sign in', 'Your session has ended. Please sign in again.'),
        {
          cookies: req.cookies[sessionCookieName] ? [clearSession()] : [],
        },
      );
    }
    return session;
  }

  /** Catalog 13 and 17: state changes need the session's CSRF token and a same-origin request. */
  function csrfOk(req: HttpRequest, session: SessionCookie, form: URLSearchParams): boolean {
    const origin = req.headers['origin'];
    if (origin !== undefined && origin !== 'null' && origin !== new URL(config.baseUrl).origin)
      return false;
    const token = form.get('csrf');
    return token !== null && safeEqual(token, session.csrf);
  }

  async function download(req: HttpRequest): Promise<HttpResponse> {
    const session = await requireSession(req);
    if (!('csrf' in session)) return session;
    const check = checkObjectName(new URLSearchParams(req.rawQuery).get('name'), prefixOf(session));
    if (!check.ok) return page(400, 'Invalid file name', check.reason);
    const key = prefixOf(session) + check.name;
    const creds = credentialsOf(session);
    // Catalog 35: missing and forbidden look the same.
    if (!(await deps.storage.exists(creds, key)))
      return page(404, 'Not found', 'There is no such file.');
    return redirect(await deps.storage.presignGet(creds, key, check.name, PRESIGN_SECONDS));
  }

  /**
   * Answers for the JSON upload routes: a session and a valid CSRF token (catalog 17), and
   * a validated name, so the key is only ever the own prefix + that name (catalog 37).
   */
  async function uploadRequest(
    req: HttpRequest,
    form: URLSearchParams,
  ): Promise<{ session: SessionCookie; name: string; key: string } | HttpResponse> {
    const session = await requireSession(req);
    if (!('csrf' in session)) return json(401, { error: 'Please sign in again.' });
    if (!csrfOk(req, session, form))
      return json(403, { error: 'This request was not allowed. Reload the page.' });
    const check = checkObjectName(form.get('name'), prefixOf(session));
    if (!check.ok) return json(400, { error: check.reason });
    return { session, name: check.name, key: prefixOf(session) + check.name };
  }

  /** S3 refusals the user can act on, and expired credentials, as JSON for the script. */
  async function uploadStep(run: () => Promise<HttpResponse>): Promise<HttpResponse> {
    try {
      return await run();
    } catch (err) {
      if (err instanceof UploadRefusedError) return json(err.status, { error: err.message });
      if (isExpiredCredentials(err))
        return json(
          401,
          { error: 'Your session has expired. Please sign in again.' },
          { cookies: [clearSession()] },
        );
      throw err;
    }
  }

  async function uploadUrl(req: HttpRequest, form: URLSearchParams): Promise<HttpResponse> {
    const checked = await uploadRequest(req, form);
    if (!('key' in checked)) return checked;
    const { session, name, key } = checked;
    const size = parseSize(form.get('size'));
    if (size === 'invalid') {
      return json(400, {
        error: `The file size must be a whole number of bytes, at most ${MAX_OBJECT_BYTES} (5 TiB).`,
      });
    }
    const type = form.get('type') ?? 'application/octet-stream';
    const contentType = /^[\w.+-]+\/[\w.+-]+$/.test(type) ? type : 'application/octet-stream';
    const creds = credentialsOf(session);
    if (size === undefined || size <= MULTIPART_THRESHOLD_BYTES) {
      const target = await deps.storage.presignPut(creds, key, contentType, PRESIGN_SECONDS);
      log({ requestId: req.requestId, event: 'upload_url', provider: session.p });
      return json(200, { name, url: target.url, headers: target.headers });
    }
    const plan = planParts(size);
    if (!plan) return json(400, { error: 'This file cannot be uploaded in parts.' });
    // Part URLs live as long as the credentials that sign them (S3 refuses them afterwards
    // anyway): a large upload takes longer than the few minutes a single PUT URL gets.
    const expiresIn = Math.min(
      MAX_PRESIGN_SECONDS,
      Math.max(1, Math.floor((session.exp - clock.now()) / 1000)),
    );
    return uploadStep(async () => {
      const uploadId = await deps.storage.createMultipart(creds, key, contentType);
      const parts: { partNumber: number; url: string }[] = [];
      for (let partNumber = 1; partNumber <= plan.count; partNumber++) {
        parts.push({
          partNumber,
          url: await deps.storage.presignUploadPart(creds, key, uploadId, partNumber, expiresIn),
        });
      }
      log({
        requestId: req.requestId,
        event: 'multipart_started',
        provider: session.p,
        parts: plan.count,
      });
      return json(200, { name, multipart: true, uploadId, partSize: plan.partSize, parts });
    });
  }

  async function uploadComplete(req: HttpRequest, form: URLSearchParams): Promise<HttpResponse> {
    const checked = await uploadRequest(req, form);
    if (!('key' in checked)) return checked;
    const { session, name, key } = checked;
    const uploadId = uploadIdOf(form);
    if (uploadId === undefined)
      return json(400, { error: 'The upload id is missing or malformed.' });
    const parts = parseParts(form.get('parts'));
    if (typeof parts === 'string') return json(400, { error: parts });
    return uploadStep(async () => {
      await deps.storage.completeMultipart(credentialsOf(session), key, uploadId, parts);
      log({ requestId: req.requestId, event: 'multipart_completed', provider: session.p });
      return json(200, { name });
    });
  }

  async function uploadAbort(req: HttpRequest, form: URLSearchParams): Promise<HttpResponse> {
    const checked = await uploadRequest(req, form);
    if (!('key' in checked)) return checked;
    const { session, name, key } = checked;
    const uploadId = uploadIdOf(form);
    if (uploadId === undefined)
      return json(400, { error: 'The upload id is missing or malformed.' });
    return uploadStep(async () => {
      await deps.storage.abortMultipart(credentialsOf(session), key, uploadId);
      log({ requestId: req.requestId, event: 'multipart_aborted', provider: session.p });
      return json(200, { name, aborted: true });
    });
  }

  async function remove(req: HttpRequest, form: URLSearchParams): Promise<HttpResponse> {
    const session = await requireSession(req);
    if (!('csrf' in session)) return session;
    if (!csrfOk(req, session, form))
      return page(
        403,
        'Not allowed',
        'This request was not allowed. Reload the page and try again.',
      );
    const check = checkObjectName(form.get('name'), prefixOf(session));
    if (!check.ok) return page(400, 'Invalid file name', check.reason);
    await deps.storage.delete(credentialsOf(session), prefixOf(session) + check.name);
    log({ requestId: req.requestId, event: 'deleted', provider: session.p });
    return redirect(`/?deleted=${encodeURIComponent(check.name)}`, [], 303);
  }

  async function logout(req: HttpRequest, form: URLSearchParams): Promise<HttpResponse> {
    const session = await readSession(req);
    if (!session) return redirect('/', [clearSession()], 303);
    if (!csrfOk(req, session, form))
      return page(
        403,
        'Not allowed',
        'This request was not allowed. Reload the page and try again.',
      );
    log({ requestId: req.requestId, event: 'signed_out', provider: session.p });
    return redirect('/', [clearSession()], 303);
  }

  function pruneUsedStates(): void {
    const now = clock.now();
    for (const [key, exp] of usedStates) {
      if (exp <= now || usedStates.size > MAX_USED_STATES) usedStates.delete(key);
      else break;
    }
  }

  async function route(req: HttpRequest): Promise<HttpResponse> {
    const { method, path } = req;
    const get = method === 'GET' || method === 'HEAD';
    const segments = path.split('/');
    if (path === '/healthz') return get ? json(200, { status: 'ok' }) : methodNotAllowed('GET');
    if (path === '/') return get ? home(req) : methodNotAllowed('GET');
    // Browsers ask for it on every site; no icon, and no 404 noise in their consoles.
    if (path === '/favicon.ico') {
      return respond(204, '', { headers: { 'cache-control': 'public, max-age=86400' } });
    }
    if (path === '/privacy')
      return get ? respond(200, views.privacyPage(buttons)) : methodNotAllowed('GET');
    if (segments.length === 3 && segments[1] === 'static') {
      const asset = staticAsset(segments[2]);
      if (!asset) return page(404, 'Not found', 'There is no such page.');
      return respond(200, asset.body, {
        headers: { 'content-type': asset.contentType, 'cache-control': 'public, max-age=300' },
      });
    }
    if (segments.length === 3 && (segments[1] === 'login' || segments[1] === 'oauth2callback')) {
      const provider = providers.get(segments[2]);
      if (!provider) return page(404, 'Unknown provider', 'There is no such sign-in provider.');
      if (!get) return methodNotAllowed('GET');
      return segments[1] === 'login' ? login(req, provider) : callback(req, provider);
    }
    if (path === '/download') return get ? download(req) : methodNotAllowed('GET');
    if (POST_ROUTES.has(path)) {
      if (method !== 'POST') return methodNotAllowed('POST');
      const limit = path === '/upload-complete' ? MAX_COMPLETE_BODY_BYTES : MAX_BODY_BYTES;
      if (Buffer.byteLength(req.body) > limit)
        return page(413, 'Too large', 'The request was too large.');
      const form = new URLSearchParams(req.body);
      if (path === '/upload-url') return uploadUrl(req, form);
      if (path === '/upload-complete') return uploadComplete(req, form);
      if (path === '/upload-abort') return uploadAbort(req, form);
      if (path === '/delete') return remove(req, form);
      return logout(req, form);
    }
    return page(404, 'Not found', 'There is no such page.');
  }

  function methodNotAllowed(allow: string): HttpResponse {
    return respond(
      405,
      views.messagePage('Method not allowed', 'This page does not accept that request.'),
      {
        headers: { allow },
      },
    );
  }

  return async (req: HttpRequest): Promise<HttpResponse> => {
    try {
      const res = await route(req);
      if (req.method === 'HEAD') res.body = '';
      return res;
    } catch (err) {
      return errorResponse(err, req);
    }
  };

  function errorResponse(err: unknown, req: HttpRequest): HttpResponse {
    if (err instanceof SignInError) {
      log({ requestId: req.requestId, event: 'sign_in_error', kind: err.kind, detail: err.detail });
      const clear = [clearLogin()];
      switch (err.kind) {
        case 'bad_request':
        case 'token_rejected':
          return respond(400, views.messagePage('Sign-in failed', err.message), { cookies: clear });
        case 'too_large':
          return respond(400, views.messagePage('Sign-in failed', err.message), { cookies: clear });
        case 'not_allowed':
          // Catalog 29: a token for another app; retrying cannot help.
          return respond(
            403,
            views.messagePage('This account is not allowed', err.message, { retry: false }),
            {
              cookies: clear,
            },
          );
        case 'restart':
          // Also S3 refusing expired session credentials: the session cookie goes too.
          return respond(401, views.messagePage('Please sign in again', err.message), {
            cookies: [...clear, clearSession()],
          });
        case 'idp_unavailable':
          return respond(502, views.messagePage('Sign-in is unavailable', err.message), {
            cookies: clear,
          });
        case 'sts_unavailable':
          return respond(503, views.messagePage('Sign-in is busy', err.message), {
            cookies: clear,
            headers: { 'retry-after': '5' },
          });
      }
    }
    // Details only in logs (catalog 15); the page stays generic.
    log({
      requestId: req.requestId,
      event: 'error',
      error: err instanceof Error ? err.name : 'unknown',
      message: err instanceof Error ? err.message.slice(0, 300) : undefined,
    });
    return respond(500, views.messagePage('Something went wrong', 'Please try again in a moment.'));
  }
}

const POST_ROUTES = new Set([
  '/upload-url',
  '/upload-complete',
  '/upload-abort',
  '/delete',
  '/logout',
]);

/** The announced file size: absent, or whole bytes within S3's 5 TiB object limit. */
function parseSize(raw: string | null): number | undefined | 'invalid' {
  if (raw === null) return undefined;
  if (!/^\d{1,16}$/.test(raw)) return 'invalid';
  const size = Number(raw);
  return size <= MAX_OBJECT_BYTES ? size : 'invalid';
}

/**
 * Part size and count for a multipart upload: parts of at least MIN_PART_BYTES, whole MiB,
 * and no more than MAX_PLANNED_PARTS of them. Undefined when S3 could not take it.
 */
export function planParts(size: number): { partSize: number; count: number } | undefined {
  const partSize = Math.max(MIN_PART_BYTES, Math.ceil(size / MAX_PLANNED_PARTS / MiB) * MiB);
  const count = Math.max(1, Math.ceil(size / partSize));
  if (partSize < S3_MIN_PART_BYTES || partSize > S3_MAX_PART_BYTES || count > MAX_PARTS)
    return undefined;
  return { partSize, count };
}

/** The completion list: 1..10,000 parts in ascending order, each with a part ETag. */
function parseParts(raw: string | null): { partNumber: number; etag: string }[] | string {
  const bad = 'The list of uploaded parts is missing or malformed.';
  if (raw === null) return bad;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return bad;
  }
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_PARTS) return bad;
  const parts: { partNumber: number; etag: string }[] = [];
  let previous = 0;
  for (const item of value as unknown[]) {
    const { partNumber, etag } = (item ?? {}) as { partNumber?: unknown; etag?: unknown };
    if (
      typeof partNumber !== 'number' ||
      !Number.isInteger(partNumber) ||
      partNumber <= previous ||
      partNumber > MAX_PARTS ||
      typeof etag !== 'string' ||
      !PART_ETAG.test(etag)
    )
      return bad;
    previous = partNumber;
    parts.push({ partNumber, etag });
  }
  return parts;
}

/** Catalog 7: only same-origin relative paths; everything else goes to `/`. */
export function safeReturnTo(value: string | null): string {
  if (!value || value.length > 512) return '/';
  if (!value.startsWith('/') || value.startsWith('//') || value.startsWith('/\\')) return '/';
  if (/[\u0000-\u001f\u007f\\]/.test(value)) return '/';
  let decoded: string;
  try {
    decoded = decodeURIComponent(value);
  } catch {
    return '/';
  }
  if (decoded.startsWith('//') || decoded.startsWith('/\\') || /[\u0000-\u001f\\]/.test(decoded))
    return '/';
  // Resolve against a dummy origin: a different origin means an escape.
  const url = new URL(value, 'https://app.invalid');
  if (url.origin !== 'https://app.invalid') return '/';
  return url.pathname + url.search;
}

/** The form's `uploadId` when well formed (printable, no whitespace, bounded). */
function uploadIdOf(form: URLSearchParams): string | undefined {
  const uploadId = form.get('uploadId');
  return uploadId !== null && UPLOAD_ID.test(uploadId) ? uploadId : undefined;
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function isExpiredCredentials(err: unknown): boolean {
  if (err instanceof SignInError) return err.kind === 'restart';
  const name = (err as { name?: string } | undefined)?.name;
  return (
    name === 'ExpiredToken' || name === 'ExpiredTokenException' || name === 'TokenRefreshRequired'
  );
}

/** Headers on every response (catalog 9, 11). */
function securityHeaders(config: AppConfig, secure: boolean): Record<string, string> {
  const s3Origin = config.endpoints?.s3
    ? new URL(config.endpoints.s3).origin
    : `https://${config.bucket}.s3.${config.region}.amazonaws.com`;
  const headers: Record<string, string> = {
    'content-security-policy': [
      "default-src 'none'",
      "script-src 'self'",
      "style-src 'self'",
      "img-src 'self'",
      `connect-src 'self' ${s3Origin}`,
      "form-action 'self'",
      "frame-ancestors 'none'",
      "base-uri 'none'",
    ].join('; '),
    'x-frame-options': 'DENY',
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'cache-control': 'no-store',
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-resource-policy': 'same-origin',
    'permissions-policy': 'camera=(), microphone=(), geolocation=()',
  };
  if (secure) headers['strict-transport-security'] = 'max-age=63072000; includeSubDomains';
  return headers;
}
