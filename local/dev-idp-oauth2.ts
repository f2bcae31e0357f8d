import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import * as fs from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as path from 'node:path';
import { BUILT_IN_PROVIDERS, type AccessTokenFamily } from '../common/provider-facts';
import { OAUTH2_SIGN_IN_PATHS, pkceChallenge, sandboxClientOf } from './dev-idp-client';
import {
  amazonUserId,
  emailOf,
  facebookId,
  parseUserName,
  renderErrorPage,
  renderSignInPage,
  sendPage,
} from './dev-idp-pages';
import { IDP_PATHS } from './sandbox-config';

/**
 * The Amazon-like and Facebook-like OAuth 2.0 providers of the dev IdP: authorization
 * code flow with PKCE (S256) and state, confidential clients, opaque access tokens and a
 * profile endpoint, with the shapes of Login with Amazon and the Graph API.
 */

export type OAuth2Family = AccessTokenFamily;

/** A live access token (stored by hash, in memory and optionally in a file). */
export interface AccessTokenRecord {
  readonly family: OAuth2Family;
  /** The client it was issued to (STS `app_id`). */
  readonly clientId: string;
  readonly user: string;
  /** ms since the epoch */
  readonly expiresAt: number;
}

interface PendingAuthorization {
  readonly family: OAuth2Family;
  readonly clientId: string;
  readonly redirectUri: string;
  readonly state: string;
  readonly codeChallenge: string;
  readonly scope: string;
  readonly expiresAt: number;
}

interface AuthorizationCode {
  readonly family: OAuth2Family;
  readonly clientId: string;
  readonly redirectUri: string;
  readonly codeChallenge: string;
  readonly user: string;
  readonly expiresAt: number;
}

const ACCESS_TOKEN_TTL_SECONDS = 3600;
const CODE_TTL_MS = 60_000;
const SIGN_IN_TTL_MS = 10 * 60_000;
const MAX_FORM_BYTES = 16 * 1024;

const PATHS = {
  amazon: { ...IDP_PATHS.amazon, signIn: OAUTH2_SIGN_IN_PATHS.amazon },
  facebook: { ...IDP_PATHS.facebook, signIn: OAUTH2_SIGN_IN_PATHS.facebook },
} as const;

const sha256 = (s: string): string => createHash('sha256').update(s).digest('base64url');
const random = (bytes: number): string => randomBytes(bytes).toString('base64url');

/** Constant-time string comparison (hashes first, so lengths do not leak either). */
function safeEqual(a: string, b: string): boolean {
  return timingSafeEqual(
    createHash('sha256').update(a).digest(),
    createHash('sha256').update(b).digest(),
  );
}

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
  private readonly pending = new Map<string, PendingAuthorization>();
  private readonly codes = new Map<string, AuthorizationCode>();
  private readonly tokens = new Map<string, AccessTokenRecord>();

  constructor(private readonly options: OAuth2ProvidersOptions) {
    this.load();
  }

  /** The record of a live or expired access token of `family`, or undefined. */
  lookup(family: OAuth2Family, token: string): AccessTokenRecord | undefined {
    const record = this.tokens.get(sha256(token));
    return record && record.family === family ? record : undefined;
  }

  /** The profile `family`'s profile endpoint answers for `user`. */
  static profileOf(family: OAuth2Family, user: string): Record<string, string> {
    const field = BUILT_IN_PROVIDERS[family].subjectClaim;
    return family === 'amazon'
      ? { [field]: amazonUserId(user), name: user, email: emailOf(user) }
      : { [field]: facebookId(user), name: user };
  }

  async handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
    for (const family of ['amazon', 'facebook'] as const) {
      const paths = PATHS[family];
      switch (url.pathname) {
        case paths.authorize:
          if (req.method !== 'GET') return methodNotAllowed(res, 'GET');
          this.authorize(family, url, res);
          return true;
        case paths.signIn:
          if (req.method !== 'POST') return methodNotAllowed(res, 'POST');
          this.signIn(family, await readForm(req), res);
          return true;
        case paths.token:
          if (req.method !== 'POST') return methodNotAllowed(res, 'POST');
          this.token(family, req, await readForm(req), res);
          return true;
        case paths.profile:
          if (req.method !== 'GET') return methodNotAllowed(res, 'GET');
          this.profile(family, req, url, res);
          return true;
      }
    }
    return false;
  }

  /** Authorization endpoint: checks the request, then shows the sign-in page. */
  private authorize(family: OAuth2Family, url: URL, res: ServerResponse): void {
    const q = url.searchParams;
    const client = sandboxClientOf(family);
    const clientId = q.get('client_id');
    const redirectUri = q.get('redirect_uri');
    // RFC 6749 4.1.2.1: with an unknown client or redirect URI, tell the user, never redirect.
    if (clientId !== client.clientId) {
      return sendPage(
        res,
        400,
        renderErrorPage('Sign-in refused', 'Unknown client_id.', `Expected ${client.clientId}.`),
      );
    }
    if (!redirectUri || !this.options.redirectUriAllowed(redirectUri)) {
      return sendPage(
        res,
        400,
        renderErrorPage('Sign-in refused', 'This redirect_uri is not registered for the client.'),
      );
    }
    const state = q.get('state');
    const fail = (error: string, description: string) =>
      redirect(
        res,
        withParams(redirectUri, {
          error,
          error_description: description,
          ...(state ? { state } : {}),
        }),
      );
    if (q.get('response_type') !== 'code') {
      return fail('unsupported_response_type', 'only response_type=code is supported');
    }
    if (!state) return fail('invalid_request', 'state is required');
    const codeChallenge = q.get('code_challenge');
    if (
      q.get('code_challenge_method') !== 'S256' ||
      !codeChallenge ||
      !/^[A-Za-z0-9_-]{43}$/.test(codeChallenge)
    ) {
      return fail(
        'invalid_request',
        'PKCE is required: code_challenge with code_challenge_method=S256',
      );
    }
    this.prune();
    const id = random(24);
    this.pending.set(id, {
      family,
      clientId,
      redirectUri,
      state,
      codeChallenge,
      scope: q.get('scope') ?? '',
      expiresAt: this.options.clock() + SIGN_IN_TTL_MS,
    });
    sendPage(
      res,
      200,
      renderSignInPage({
        family,
        action: PATHS[family].signIn,
        hidden: { request: id },
        client: clientId,
        redirectUri,
        user: q.get('login_hint') ?? '',
      }),
    );
  }

  /** The sign-in form's target: issues a code for the user and sends the browser back. */
  private signIn(family: OAuth2Family, form: URLSearchParams, res: ServerResponse): void {
    const id = form.get('request') ?? '';
    const pending = this.pending.get(id);
    if (!pending || pending.family !== family || pending.expiresAt <= this.options.clock()) {
      return sendPage(
        res,
        400,
        renderErrorPage(
          'Sign-in expired',
          'This sign-in is no longer pending. Go back to the app and start again.',
        ),
      );
    }
    const parsed = parseUserName(form.get('as') ?? form.get('user'));
    if ('error' in parsed) {
      return sendPage(
        res,
        400,
        renderSignInPage({
          family,
          action: PATHS[family].signIn,
          hidden: { request: id },
          client: pending.clientId,
          redirectUri: pending.redirectUri,
          user: form.get('user') ?? '',
          error: parsed.error,
        }),
      );
    }
    // The request id is single use: it is what ties this form post to the authorization request.
    this.pending.delete(id);
    const code = random(32);
    this.codes.set(code, {
      family,
      clientId: pending.clientId,
      redirectUri: pending.redirectUri,
      codeChallenge: pending.codeChallenge,
      user: parsed.user,
      expiresAt: this.options.clock() + CODE_TTL_MS,
    });
    const params: Record<string, string> = { code, state: pending.state };
    if (family === 'amazon' && pending.scope) params.scope = pending.scope;
    redirect(res, withParams(pending.redirectUri, params));
  }

  /** Token endpoint: client secret (basic or post), single-use code bound to client, redirect URI and PKCE. */
  private token(
    family: OAuth2Family,
    req: IncomingMessage,
    form: URLSearchParams,
    res: ServerResponse,
  ): void {
    const client = sandboxClientOf(family);
    const auth = clientCredentials(req, form);
    if ('error' in auth)
      return json(res, 400, { error: 'invalid_request', error_description: auth.error });
    if (auth.clientId !== client.clientId || !safeEqual(auth.clientSecret, client.clientSecret)) {
      res.setHeader('www-authenticate', 'Basic realm="dev-idp"');
      return json(res, 401, {
        error: 'invalid_client',
        error_description: 'client authentication failed',
      });
    }
    if (form.get('grant_type') !== 'authorization_code') {
      return json(res, 400, { error: 'unsupported_grant_type' });
    }
    const presented = form.get('code') ?? '';
    const code = this.codes.get(presented);
    // Single use: a code is gone once presented by its client, whatever happens next.
    if (code && code.clientId === auth.clientId) this.codes.delete(presented);
    const verifier = form.get('code_verifier') ?? '';
    const refusal = !code
      ? 'unknown or already used code'
      : code.family !== family || code.clientId !== auth.clientId
        ? 'code issued to another client'
        : code.expiresAt <= this.options.clock()
          ? 'code expired'
          : form.get('redirect_uri') !== code.redirectUri
            ? 'redirect_uri differs from the authorization request'
            : !/^[A-Za-z0-9._~-]{43,128}$/.test(verifier) ||
                !safeEqual(pkceChallenge(verifier), code.codeChallenge)
              ? 'PKCE verification failed'
              : undefined;
    if (refusal || !code)
      return json(res, 400, { error: 'invalid_grant', error_description: refusal });

    const accessToken =
      family === 'amazon' ? `Atza|${random(48)}` : `EAA${random(48).replace(/[-_]/g, 'Z')}`;
    this.tokens.set(sha256(accessToken), {
      family,
      clientId: code.clientId,
      user: code.user,
      expiresAt: this.options.clock() + ACCESS_TOKEN_TTL_SECONDS * 1000,
    });
    this.save();
    json(res, 200, {
      access_token: accessToken,
      token_type: 'bearer',
      expires_in: ACCESS_TOKEN_TTL_SECONDS,
    });
  }

  /** Profile endpoint: `Authorization: Bearer <access token>`. */
  private profile(family: OAuth2Family, req: IncomingMessage, url: URL, res: ServerResponse): void {
    const match = /^Bearer ([^\s]+)$/i.exec(req.headers.authorization ?? '');
    const record = match ? this.lookup(family, match[1]) : undefined;
    if (!match || !record || record.expiresAt <= this.options.clock()) {
      const why = !match
        ? 'no bearer token'
        : !record
          ? 'unknown access token'
          : 'access token expired';
      res.setHeader('www-authenticate', `Bearer error="invalid_token", error_description="${why}"`);
      return json(
        res,
        401,
        family === 'amazon'
          ? { error: 'invalid_token', error_description: why }
          : { error: { message: why, type: 'OAuthException', code: 190 } },
      );
    }
    if (family === 'facebook') {
      // Graph API: when given, appsecret_proof must be HMAC-SHA256(app secret, token).
      const proof = url.searchParams.get('appsecret_proof');
      const expected = createHmac('sha256', sandboxClientOf('facebook').clientSecret)
        .update(match[1])
        .digest('hex');
      if (proof !== null && !safeEqual(proof, expected)) {
        return json(res, 400, {
          error: {
            message: 'Invalid appsecret_proof provided in the API argument',
            type: 'GraphMethodException',
            code: 100,
          },
        });
      }
    }
    json(res, 200, OAuth2Providers.profileOf(family, record.user));
  }

  private prune(): void {
    const now = this.options.clock();
    for (const [k, v] of this.pending) if (v.expiresAt <= now) this.pending.delete(k);
    for (const [k, v] of this.codes) if (v.expiresAt <= now) this.codes.delete(k);
  }

  private load(): void {
    const file = this.options.tokenFile;
    if (!file || !fs.existsSync(file)) return;
    try {
      const stored = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, AccessTokenRecord>;
      // Expired tokens are kept for a day, so STS can still say "expired" rather than "unknown".
      const cutoff = this.options.clock() - 24 * 3600_000;
      for (const [hash, record] of Object.entries(stored)) {
        if (record.expiresAt > cutoff) this.tokens.set(hash, record);
      }
    } catch {
      // A damaged token file only means signing in again.
    }
  }

  private save(): void {
    const file = this.options.tokenFile;
    if (!file) return;
    const cutoff = this.options.clock() - 24 * 3600_000;
    for (const [k, v] of this.tokens) if (v.expiresAt <= cutoff) this.tokens.delete(k);
    const tmp = `${file}.${process.pid}.tmp`;
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    fs.writeFileSync(tmp, JSON.stringify(Object.fromEntries(this.tokens)), { mode: 0o600 });
    fs.renameSync(tmp, file);
  }
}

/** Client id and secret from HTTP Basic (RFC 6749 2.3.1) or the form, never both. */
function clientCredentials(
  req: IncomingMessage,
  form: URLSearchParams,
): { clientId: string; clientSecret: string } | { error: string } {
  const header = req.headers.authorization;
  const inForm = form.has('client_secret');
  if (header !== undefined) {
    if (inForm) return { error: 'client authentication must use only one mechanism' };
    const match = /^Basic ([A-Za-z0-9+/=]+)$/i.exec(header);
    const decoded = match ? Buffer.from(match[1], 'base64').toString('utf8') : '';
    const i = decoded.indexOf(':');
    if (i < 0) return { error: 'invalid Authorization header' };
    try {
      const dec = (s: string) => decodeURIComponent(s.replace(/\+/g, ' '));
      const clientId = dec(decoded.slice(0, i));
      if (form.has('client_id') && form.get('client_id') !== clientId) {
        return { error: 'client_id differs from the Authorization header' };
      }
      return { clientId, clientSecret: dec(decoded.slice(i + 1)) };
    } catch {
      return { error: 'invalid Authorization header encoding' };
    }
  }
  if (!inForm || !form.has('client_id')) return { error: 'client authentication required' };
  return { clientId: form.get('client_id') ?? '', clientSecret: form.get('client_secret') ?? '' };
}

export async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_FORM_BYTES) throw new HttpError(413, 'request body too large');
    chunks.push(chunk);
  }
  if (type !== 'application/x-www-form-urlencoded') {
    throw new HttpError(415, 'expected application/x-www-form-urlencoded');
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

/** An error with the HTTP status to answer (the message is safe to show). */
export class HttpError extends Error {
  constructor(
    public readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function withParams(uri: string, params: Record<string, string>): string {
  const url = new URL(uri);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return url.href;
}

function redirect(res: ServerResponse, location: string): void {
  res.writeHead(303, { location, 'cache-control': 'no-store', 'content-length': 0 });
  res.end();
}

export function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    pragma: 'no-cache',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

function methodNotAllowed(res: ServerResponse, allow: string): true {
  res.writeHead(405, { allow, 'content-length': 0 });
  res.end();
  return true;
}
