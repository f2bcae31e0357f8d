import { randomBytes } from 'node:crypto';
import * as http from 'node:http';
import * as https from 'node:https';
import { isIP } from 'node:net';
import * as tls from 'node:tls';
import { type Check, header, type HttpResult } from './smoke-http';

import {
  cliAuthorizePath,
  cliCommandCheck,
  cliLoopbackErrorCheck,
  cliForgedCodeCheck,
  cliRefusedCheck,
  cliSignInFirstCheck,
  clientCredentialsSignedOutCheck,
  forgedTokenRequest,
} from './smoke-cli';

/**
 * Black-box smoke checks of a deployed sign-in endpoint, with no credentials: TLS,
 * security headers, the authorization request each login link starts (code flow, PKCE,
 * state, nonce, login cookie), refusal of forged callbacks, and sign-out. Each rule is a
 * pure function of what the endpoint answered, so a failing rule can be shown with a
 * hand-made response; `runSmoke` only fetches and applies them.
 *
 * TLS verification is always on. An extra CA (the sandbox's) is added to the public
 * roots, never substituted by an "insecure" switch.
 */

export interface SmokeOptions {
  /** The endpoint's origin, `https://host[:port]`. */
  readonly endpoint: string;
  /**
   * PEM of extra CA certificates to trust besides Node's public roots (the sandbox CA).
   * @default - public roots only
   */
  readonly ca?: string;
  /**
   * Time limit of each request and TLS handshake, in milliseconds.
   * @default 10000
   */
  readonly timeoutMs?: number;
  /**
   * Called with each check as soon as it is decided (the CLI prints it).
   * @default - nothing is called
   */
  readonly onCheck?: (check: Check) => void;
}

export interface SmokeReport {
  readonly endpoint: string;
  readonly checks: readonly Check[];
  readonly failed: number;
  /** Set when the run stopped early (no verified TLS connection). */
  readonly stopped?: string;
}

export class UsageError extends Error {}

/** The endpoint as an origin: HTTPS only, no path, query, fragment or user info. */
export function parseEndpoint(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`endpoint must be an absolute URL like https://example.com, got '${raw}'`);
  }
  if (url.protocol !== 'https:') {
    throw new UsageError(
      `endpoint must use https:// (the smoke test checks HTTPS only), got '${raw}'`,
    );
  }
  if (
    url.username ||
    url.password ||
    url.search ||
    url.hash ||
    (url.pathname !== '/' && url.pathname !== '')
  ) {
    throw new UsageError(
      `endpoint must be an origin like https://example.com, without path, query or credentials; got '${raw}'`,
    );
  }
  return new URL(url.origin);
}

export const formatCheck = (c: Check): string =>
  `${c.ok ? 'PASS' : 'FAIL'}  ${c.name} -- ${c.seen}`;

export const formatSummary = (r: SmokeReport): string =>
  `smoke: ${r.checks.length} checks, ${r.failed} failed`;

// ---------------------------------------------------------------------------
// What was observed

export interface SetCookie {
  readonly name: string;
  readonly value: string;
  /** Attribute names lower-cased; flags map to `true`. */
  readonly attributes: ReadonlyMap<string, string | true>;
}

export function parseSetCookie(line: string): SetCookie {
  const [pair, ...rest] = line.split(';');
  const eq = pair.indexOf('=');
  const attributes = new Map<string, string | true>();
  for (const part of rest) {
    const i = part.indexOf('=');
    const key = (i < 0 ? part : part.slice(0, i)).trim().toLowerCase();
    if (key) attributes.set(key, i < 0 ? true : part.slice(i + 1).trim());
  }
  return {
    name: (eq < 0 ? pair : pair.slice(0, eq)).trim(),
    value: eq < 0 ? '' : pair.slice(eq + 1).trim(),
    attributes,
  };
}

/** True when the cookie stores something (as opposed to clearing a cookie). */
export function storesValue(cookie: SetCookie, now = Date.now()): boolean {
  if (cookie.value === '') return false;
  const maxAge = cookie.attributes.get('max-age');
  if (typeof maxAge === 'string' && Number(maxAge) <= 0) return false;
  const expires = cookie.attributes.get('expires');
  if (typeof expires === 'string' && Date.parse(expires) <= now) return false;
  return true;
}

function describeCookies(lines: readonly string[]): string {
  if (lines.length === 0) return 'no cookies';
  return lines
    .map(parseSetCookie)
    .map((c) => `${c.name} ${storesValue(c) ? 'SET' : 'cleared'}`)
    .join(', ');
}

const statusOf = (res: HttpResult): string =>
  res.error ? `request failed: ${res.error}` : `${res.status}`;
const clip = (s: string, n = 120): string => (s.length > n ? `${s.slice(0, n)}...` : s);

// ---------------------------------------------------------------------------
// Rules: pure functions from observations to checks

/** no-referrer-leak, no-framing-strict-csp: the headers every page must carry. */
export function securityHeaderChecks(label: string, res: HttpResult): Check[] {
  const at = `headers on ${label}`;
  const names = {
    csp: `${at}: CSP default-src 'none' + frame-ancestors 'none'`,
    frame: `${at}: X-Frame-Options DENY`,
    sniff: `${at}: X-Content-Type-Options nosniff`,
    referrer: `${at}: Referrer-Policy no-referrer`,
    hsts: `${at}: Strict-Transport-Security max-age >= 1 year`,
    cache: `${at}: Cache-Control no-store`,
  };
  if (res.error) {
    return Object.values(names).map((name) => ({ name, ok: false, seen: statusOf(res) }));
  }
  const show = (name: string) => {
    const v = header(res, name);
    return v === undefined ? `no ${name} header` : `${name}: ${clip(v)}`;
  };
  const checks: Check[] = [];

  const csp = header(res, 'content-security-policy');
  const cspProblems: string[] = [];
  let cspSummary = '';
  if (csp === undefined) {
    cspProblems.push('no Content-Security-Policy header');
  } else {
    // Several policies are all enforced, so a requirement met by any one of them holds.
    const directives = csp
      .split(',')
      .flatMap((policy) => policy.split(';'))
      .map((d) => d.trim().toLowerCase().split(/\s+/))
      .filter((d) => d[0]);
    const has = (name: string, value: string) =>
      directives.some((d) => d[0] === name && d.length === 2 && d[1] === value);
    if (!has('default-src', "'none'")) cspProblems.push("no default-src 'none'");
    if (!has('frame-ancestors', "'none'")) cspProblems.push("no frame-ancestors 'none'");
    cspSummary = directives
      .filter((d) => ['default-src', 'script-src', 'frame-ancestors'].includes(d[0]))
      .map((d) => d.join(' '))
      .join('; ');
    const scriptSources = directives
      .filter((d) => d[0] === 'script-src' || d[0] === 'default-src')
      .flatMap((d) => d.slice(1));
    for (const weak of ["'unsafe-inline'", "'unsafe-eval'", '*', 'http:', 'https:', 'data:']) {
      if (scriptSources.includes(weak)) cspProblems.push(`scripts allow ${weak}`);
    }
  }
  checks.push({
    name: names.csp,
    ok: cspProblems.length === 0,
    seen: [...cspProblems, cspSummary].filter(Boolean).join('; '),
  });

  const exact = (checkName: string, name: string, expected: string) => {
    const v = header(res, name)?.trim();
    checks.push({
      name: checkName,
      ok: v !== undefined && v.toLowerCase() === expected.toLowerCase(),
      seen: show(name),
    });
  };
  exact(names.frame, 'X-Frame-Options', 'DENY');
  exact(names.sniff, 'X-Content-Type-Options', 'nosniff');

  // A comma list is allowed; browsers apply the last policy they understand.
  const referrer = header(res, 'referrer-policy');
  checks.push({
    name: names.referrer,
    ok: referrer?.split(',').pop()?.trim().toLowerCase() === 'no-referrer',
    seen: show('Referrer-Policy'),
  });

  const hsts = header(res, 'strict-transport-security');
  const maxAge = Number(/(?:^|;)\s*max-age\s*=\s*"?(\d+)"?/i.exec(hsts ?? '')?.[1] ?? NaN);
  checks.push({
    name: names.hsts,
    ok: maxAge >= 31_536_000,
    seen: show('Strict-Transport-Security'),
  });

  const cacheControl = header(res, 'cache-control');
  checks.push({
    name: names.cache,
    ok: (cacheControl ?? '')
      .toLowerCase()
      .split(',')
      .some((d) => d.trim() === 'no-store'),
    seen: show('Cache-Control'),
  });
  return checks;
}

export function healthCheck(res: HttpResult): Check {
  const type = header(res, 'content-type') ?? '';
  let status: unknown;
  try {
    status = (JSON.parse(res.body) as { status?: unknown } | null)?.status;
  } catch {
    status = undefined;
  }
  return {
    name: "GET /healthz: 200 JSON {status: 'ok'}",
    ok: res.status === 200 && /^application\/json\b/i.test(type) && status === 'ok',
    seen: res.error
      ? statusOf(res)
      : `${res.status} ${type || 'no content-type'} ${clip(res.body.trim(), 80)}`,
  };
}

export function notFoundCheck(path: string, res: HttpResult): Check {
  const type = header(res, 'content-type') ?? '';
  return {
    name: 'unknown path: 404 page',
    ok: res.status === 404 && /^text\/html\b/i.test(type),
    seen: res.error ? statusOf(res) : `GET ${path}: ${res.status} ${type || 'no content-type'}`,
  };
}

/** Providers linked from the sign-in page as `href="/login/<name>"`. */
export function providersOf(html: string): string[] {
  const names = new Set<string>();
  for (const m of html.matchAll(/href\s*=\s*["']\/login\/([^"'/?#]+)["']/gi)) {
    try {
      names.add(decodeURIComponent(m[1].replace(/&amp;/g, '&')));
    } catch {
      names.add(m[1]);
    }
  }
  return [...names];
}

export function providersCheck(res: HttpResult, providers: readonly string[]): Check {
  return {
    name: 'GET /: 200 sign-in page linking providers',
    ok: res.status === 200 && providers.length > 0,
    seen: res.error
      ? statusOf(res)
      : `${res.status}, ${providers.length} linked: ${providers.join(', ') || 'none'}`,
  };
}

/** The authorization request the login redirect starts, or why there is none. */
export interface AuthorizationRequest {
  readonly url?: URL;
  readonly problem?: string;
}

export function authorizationRequestOf(res: HttpResult): AuthorizationRequest {
  if (res.error) return { problem: statusOf(res) };
  const location = header(res, 'location');
  if (!location) return { problem: `${res.status} without Location` };
  try {
    return { url: new URL(location) };
  } catch {
    return { problem: `${res.status}, Location is not an absolute URL: ${clip(location)}` };
  }
}

/** One value of a parameter; a repeated parameter is a problem on its own (callback-params-unique). */
function single(url: URL, name: string): { value?: string; problem?: string } {
  const values = url.searchParams.getAll(name);
  if (values.length === 0) return { problem: `no ${name}` };
  if (values.length > 1) return { problem: `${name} repeated ${values.length} times` };
  return { value: values[0] };
}

/** Estimated entropy of a random-looking token from its alphabet. */
export function randomnessProblem(value: string, minChars = 22): string | undefined {
  if (value.length < minChars) return `only ${value.length} chars (need >= ${minChars})`;
  const bitsPerChar = /^[0-9a-f]+$/i.test(value) ? 4 : /^[A-Za-z0-9_\-+/=.~]+$/.test(value) ? 6 : 5;
  const bits = value.length * bitsPerChar;
  if (bits < 128) return `~${bits} bits (need >= 128)`;
  // A random 22-char token has about 19 distinct characters; this catches 'aaaa...'.
  if (new Set(value).size < 8) return `only ${new Set(value).size} distinct characters`;
  return undefined;
}

const describeRandom = (value: string) => `${value.length} chars, ${new Set(value).size} distinct`;

export function isOpenIdConnect(url: URL): boolean {
  return url.searchParams.getAll('scope').some((s) => s.split(/\s+/).includes('openid'));
}

/** redirect-uri-from-config, code-flow-with-pkce, id-token-nonce: what one `GET /login/<name>` must start. */
export function authorizationChecks(endpoint: URL, provider: string, res: HttpResult): Check[] {
  const at = `login ${provider}`;
  const auth = authorizationRequestOf(res);
  const checks: Check[] = [];
  const { url } = auth;
  const selfOrigin = endpoint.origin;
  checks.push({
    name: `${at}: 302 to an external HTTPS authorization endpoint`,
    ok:
      res.status === 302 &&
      url !== undefined &&
      url.protocol === 'https:' &&
      url.origin !== selfOrigin &&
      url.hash === '',
    seen: url
      ? `${res.status} -> ${url.origin}${url.pathname}${url.hash ? ' (with a fragment)' : ''}`
      : auth.problem!,
  });
  const param = (name: string, rule: (u: URL) => { ok: boolean; seen: string }) => {
    checks.push(
      url
        ? { name: `${at}: ${name}`, ...rule(url) }
        : { name: `${at}: ${name}`, ok: false, seen: auth.problem! },
    );
  };

  param('response_type=code (code flow, never implicit)', (u) => {
    const r = single(u, 'response_type');
    return r.problem
      ? { ok: false, seen: r.problem }
      : { ok: r.value === 'code', seen: `response_type=${r.value}` };
  });
  param('client_id', (u) => {
    const r = single(u, 'client_id');
    return r.problem
      ? { ok: false, seen: r.problem }
      : { ok: r.value !== '', seen: `client_id=${clip(r.value!, 80)}` };
  });
  const expectedRedirect = `${selfOrigin}/oauth2callback/${provider}`;
  param(`redirect_uri = ${expectedRedirect}`, (u) => {
    const r = single(u, 'redirect_uri');
    return r.problem
      ? { ok: false, seen: r.problem }
      : { ok: r.value === expectedRedirect, seen: `redirect_uri=${clip(r.value!)}` };
  });
  param('state high entropy', (u) => {
    const r = single(u, 'state');
    if (r.problem) return { ok: false, seen: r.problem };
    const problem = randomnessProblem(r.value!);
    return { ok: !problem, seen: problem ?? describeRandom(r.value!) };
  });
  param('PKCE code_challenge with S256', (u) => {
    const c = single(u, 'code_challenge');
    const m = single(u, 'code_challenge_method');
    const problems = [c.problem, m.problem].filter((p): p is string => Boolean(p));
    if (c.value !== undefined && !/^[A-Za-z0-9_-]{43}$/.test(c.value))
      problems.push(`code_challenge is not a base64url SHA-256 (${c.value.length} chars)`);
    if (m.value !== undefined && m.value !== 'S256')
      problems.push(`code_challenge_method=${m.value}`);
    return problems.length
      ? { ok: false, seen: problems.join('; ') }
      : { ok: true, seen: `code_challenge ${c.value!.length} chars, code_challenge_method=S256` };
  });
  param('nonce when OpenID Connect', (u) => {
    const scope = u.searchParams.getAll('scope').join(' ') || '(none)';
    if (!isOpenIdConnect(u))
      return { ok: true, seen: `not OpenID Connect (scope ${scope}): no nonce needed` };
    const r = single(u, 'nonce');
    if (r.problem) return { ok: false, seen: `scope ${scope} but ${r.problem}` };
    const problem = randomnessProblem(r.value!);
    return { ok: !problem, seen: `scope ${scope}, nonce ${problem ?? describeRandom(r.value!)}` };
  });
  checks.push({
    name: `${at}: login cookie __Host-, Secure, HttpOnly, SameSite=Lax, short Max-Age`,
    ...loginCookieRule(res),
  });
  return checks;
}

/** cookie-attributes: the cookie binding the sign-in attempt to this browser. */
export function loginCookieRule(res: HttpResult): { ok: boolean; seen: string } {
  if (res.error) return { ok: false, seen: statusOf(res) };
  const stored = res.setCookies.map((line) => parseSetCookie(line)).filter((c) => storesValue(c));
  if (stored.length === 0)
    return { ok: false, seen: 'no cookie set: the state is not bound to the browser' };
  const problems: string[] = [];
  const seen: string[] = [];
  for (const c of stored) {
    const a = c.attributes;
    const maxAge = a.get('max-age');
    if (!c.name.startsWith('__Host-')) problems.push(`${c.name} lacks the __Host- prefix`);
    if (a.get('secure') !== true) problems.push(`${c.name} not Secure`);
    if (a.get('httponly') !== true) problems.push(`${c.name} not HttpOnly`);
    const sameSite = a.get('samesite');
    if (typeof sameSite !== 'string' || sameSite.toLowerCase() !== 'lax')
      problems.push(`${c.name} SameSite=${sameSite === undefined ? '(none)' : String(sameSite)}`);
    if (a.get('path') !== '/') problems.push(`${c.name} Path is not /`);
    if (a.has('domain')) problems.push(`${c.name} has a Domain`);
    if (typeof maxAge !== 'string' || !(Number(maxAge) > 0 && Number(maxAge) <= 3600))
      problems.push(
        `${c.name} Max-Age=${typeof maxAge === 'string' ? maxAge : '(none)'} (need 1..3600)`,
      );
    const flags = ['secure', 'httponly']
      .filter((f) => a.get(f) === true)
      .map((f) => (f === 'secure' ? 'Secure' : 'HttpOnly'));
    seen.push(
      `${c.name}; ${[...flags, `SameSite=${String(sameSite ?? '-')}`, `Path=${String(a.get('path') ?? '-')}`, `Max-Age=${String(maxAge ?? '-')}`].join('; ')}`,
    );
  }
  return {
    ok: problems.length === 0,
    seen: problems.length ? `${problems.join('; ')} (${seen.join(' | ')})` : seen.join(' | '),
  };
}

/** Two logins must not share state, nonce, PKCE challenge or login cookie. */
export function freshnessCheck(provider: string, first: HttpResult, second: HttpResult): Check {
  const name = `login ${provider}: two logins give different state, nonce, code_challenge, cookie`;
  const a = authorizationRequestOf(first).url;
  const b = authorizationRequestOf(second).url;
  if (!a || !b) return { name, ok: false, seen: 'no authorization request to compare' };
  const same: string[] = [];
  const compared: string[] = [];
  for (const p of ['state', 'nonce', 'code_challenge']) {
    const x = a.searchParams.get(p);
    const y = b.searchParams.get(p);
    if (x === null && y === null) continue;
    compared.push(p);
    if (x === y) same.push(p);
  }
  const cookieValues = (r: HttpResult) =>
    r.setCookies
      .map((l) => parseSetCookie(l))
      .filter((c) => storesValue(c))
      .map((c) => `${c.name}=${c.value}`);
  const ca = cookieValues(first);
  if (ca.length > 0) {
    compared.push('cookie');
    if (ca.some((v) => cookieValues(second).includes(v))) same.push('cookie');
  }
  return {
    name,
    ok: same.length === 0 && compared.includes('state'),
    seen: same.length
      ? `repeated: ${same.join(', ')}`
      : `compared ${compared.join(', ') || 'nothing'}: all different`,
  };
}

/** state-required, state-single-use, callback-params-unique: a refused callback is a 400 that signs nobody in. */
export function refusedCallbackCheck(name: string, res: HttpResult): Check {
  const stored = res.setCookies.map((l) => parseSetCookie(l)).filter((c) => storesValue(c));
  const location = header(res, 'location');
  return {
    name,
    ok: res.status === 400 && stored.length === 0,
    seen: res.error
      ? statusOf(res)
      : `${res.status}${location ? ` -> ${clip(location, 60)}` : ''}; ${describeCookies(res.setCookies)}`,
  };
}

/** sign-out-post-csrf, csrf-on-state-changes: a cross-site sign-out without the CSRF token changes nothing. */
export function logoutPostCheck(endpoint: URL, res: HttpResult): Check {
  const location = header(res, 'location');
  let target: string | undefined;
  try {
    target = location === undefined ? undefined : new URL(location, endpoint).href;
  } catch {
    target = undefined;
  }
  const toHome =
    (res.status === 303 || res.status === 302) && target === new URL('/', endpoint).href;
  const stored = res.setCookies.map((l) => parseSetCookie(l)).filter((c) => storesValue(c));
  return {
    name: 'POST /logout without CSRF token: 403, or 303 to / when signed out; sets no cookie',
    ok: (res.status === 403 || toHome) && stored.length === 0,
    seen: res.error
      ? statusOf(res)
      : `${res.status}${location ? ` -> ${clip(location, 60)}` : ''}; ${describeCookies(res.setCookies)}`,
  };
}

export function logoutGetCheck(res: HttpResult): Check {
  const allow = header(res, 'allow');
  return {
    name: 'GET /logout: 405',
    ok: res.status === 405,
    seen: res.error ? statusOf(res) : `${res.status}${allow ? `, Allow: ${allow}` : ''}`,
  };
}

// ---------------------------------------------------------------------------
// Transport

interface Transport {
  readonly endpoint: URL;
  readonly ca?: (string | Buffer)[];
  readonly timeoutMs: number;
  readonly agent: https.Agent;
}

function request(
  t: Transport,
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<HttpResult> {
  return new Promise((resolve) => {
    const failed = (err: Error) =>
      resolve({ status: 0, headers: {}, setCookies: [], body: '', error: errorText(err) });
    const req = https.request(
      new URL(path, t.endpoint),
      {
        method: init.method ?? 'GET',
        agent: t.agent,
        headers: {
          'user-agent': 'wif-smoke/1',
          accept: 'text/html,application/json',
          ...init.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size <= 1024 * 1024) chunks.push(c);
        });
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            setCookies: res.headers['set-cookie'] ?? [],
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', failed);
      },
    );
    req.setTimeout(t.timeoutMs, () => req.destroy(new Error(`no answer within ${t.timeoutMs} ms`)));
    req.on('error', failed);
    req.end(init.body);
  });
}

function errorText(err: unknown): string {
  const e = err as { code?: string; message?: string };
  return [e.code, e.message].filter(Boolean).join(' ').split('\n')[0] || String(err);
}

const portOf = (u: URL): number => Number(u.port || 443);
const serverName = (u: URL): string | undefined => (isIP(u.hostname) ? undefined : u.hostname);

interface Handshake {
  readonly protocol?: string;
  readonly cipher?: string;
  readonly cert?: tls.PeerCertificate;
  readonly error?: { code?: string; text: string };
}

function handshake(t: Transport, extra: tls.ConnectionOptions = {}): Promise<Handshake> {
  return new Promise((resolve) => {
    const socket = tls.connect({
      host: t.endpoint.hostname,
      port: portOf(t.endpoint),
      servername: serverName(t.endpoint),
      ...(t.ca ? { ca: t.ca } : {}),
      ...extra,
    });
    socket.setTimeout(t.timeoutMs, () =>
      socket.destroy(
        Object.assign(new Error(`no handshake within ${t.timeoutMs} ms`), { code: 'ETIMEDOUT' }),
      ),
    );
    socket.once('secureConnect', () => {
      const result = {
        protocol: socket.getProtocol() ?? undefined,
        cipher: socket.getCipher()?.name,
        cert: socket.getPeerCertificate(),
      };
      socket.end();
      resolve(result);
    });
    socket.once('error', (err: Error & { code?: string }) =>
      resolve({ error: { code: err.code, text: errorText(err) } }),
    );
  });
}

function certificateCheck(endpoint: URL, h: Handshake): Check {
  const name = `TLS certificate verified for ${endpoint.hostname}`;
  if (h.error || !h.cert) return { name, ok: false, seen: h.error?.text ?? 'no certificate' };
  const c = h.cert;
  const days = Math.floor((Date.parse(c.valid_to) - Date.now()) / 86_400_000);
  const issuer = [c.issuer?.CN, c.issuer?.O].filter(Boolean).join(', ');
  return {
    name,
    ok: true,
    seen: `subject CN=${c.subject?.CN ?? '-'}, SAN ${c.subjectaltname ?? '-'}, issuer ${issuer || '-'}, expires ${new Date(c.valid_to).toISOString().slice(0, 10)} (${days} days)`,
  };
}

function protocolCheck(h: Handshake): Check {
  const ok = h.protocol === 'TLSv1.2' || h.protocol === 'TLSv1.3';
  return {
    name: 'TLS 1.2 or newer negotiated',
    ok,
    seen: h.protocol
      ? `${h.protocol}, ${h.cipher ?? 'unknown cipher'}`
      : 'no verified TLS connection',
  };
}

/**
 * Offers only TLS 1.0, then only 1.1. The client's security level is lowered for the
 * probe alone, or this client would refuse first and hide a server that accepts them.
 */
async function legacyTlsCheck(t: Transport): Promise<Check> {
  const seen: string[] = [];
  let ok = true;
  for (const version of ['TLSv1', 'TLSv1.1'] as const) {
    const h = await handshake(t, {
      minVersion: version,
      maxVersion: version,
      ciphers: 'DEFAULT:@SECLEVEL=0',
    });
    const code = h.error?.code ?? '';
    if (!h.error) {
      ok = false;
      seen.push(`${version}: negotiated ${h.protocol}`);
    } else if (
      /ALERT|UNSUPPORTED_PROTOCOL|WRONG_VERSION_NUMBER|ECONNRESET|EPIPE|ETIMEDOUT/.test(code)
    ) {
      seen.push(`${version}: refused (${code})`);
    } else if (/^ERR_SSL_/.test(code) || code === '') {
      // This client could not make the offer: nothing was learnt about the server.
      ok = false;
      seen.push(`${version}: could not test (${h.error.text})`);
    } else {
      // A certificate error comes after the handshake: the server agreed to the version.
      ok = false;
      seen.push(`${version}: negotiated, then ${code}`);
    }
  }
  return { name: 'TLS 1.0 and 1.1 refused', ok, seen: seen.join('; ') };
}

/** Plain HTTP on the same host must not serve the app (no answer, an error, or a redirect to https). */
function plainHttpCheck(t: Transport): Promise<Check> {
  const port = t.endpoint.port ? Number(t.endpoint.port) : 80;
  const target = `http://${t.endpoint.hostname}:${port}/healthz`;
  const name = 'HTTPS only: plain HTTP does not serve the app';
  const timeoutMs = Math.min(t.timeoutMs, 3000);
  return new Promise((resolve) => {
    const req = http.get(target, { timeout: timeoutMs, agent: false }, (res) => {
      res.resume();
      const location = res.headers.location ?? '';
      const status = res.statusCode ?? 0;
      const redirectsToHttps = status >= 300 && status < 400 && location.startsWith('https://');
      resolve({
        name,
        ok: redirectsToHttps || status >= 400,
        seen: `${target}: ${status}${location ? ` -> ${clip(location, 60)}` : ''}`,
      });
    });
    req.on('timeout', () =>
      req.destroy(
        Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' }),
      ),
    );
    req.on('error', (err) =>
      resolve({ name, ok: true, seen: `${target}: no HTTP answer (${errorText(err)})` }),
    );
  });
}

// ---------------------------------------------------------------------------
// The run

export async function runSmoke(options: SmokeOptions): Promise<SmokeReport> {
  const endpoint = parseEndpoint(options.endpoint);
  const checks: Check[] = [];
  const add = (...cs: Check[]) => {
    for (const c of cs) {
      checks.push(c);
      options.onCheck?.(c);
    }
  };
  const ca = options.ca ? [...tls.rootCertificates, options.ca] : undefined;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const agent = new https.Agent({ keepAlive: true, maxSockets: 4, ...(ca ? { ca } : {}) });
  const t: Transport = { endpoint, ca, timeoutMs, agent };
  const report = (stopped?: string): SmokeReport => ({
    endpoint: endpoint.origin,
    checks,
    failed: checks.filter((c) => !c.ok).length,
    ...(stopped ? { stopped } : {}),
  });
  const get = (path: string, headers?: Record<string, string>) => request(t, path, { headers });

  try {
    add(await plainHttpCheck(t));
    const h = await handshake(t);
    add(certificateCheck(endpoint, h), protocolCheck(h));
    // Nothing an unverified server says is worth checking.
    if (h.error) return report(`no verified TLS connection to ${endpoint.host}`);
    add(await legacyTlsCheck(t));

    add(healthCheck(await get('/healthz')));

    const home = await get('/');
    const providers = home.status === 200 ? providersOf(home.body) : [];
    add(providersCheck(home, providers));
    add(...securityHeaderChecks('/', home));

    const missingPath = `/smoke-not-found-${randomBytes(6).toString('hex')}`;
    const missing = await get(missingPath);
    add(notFoundCheck(missingPath, missing));
    add(...securityHeaderChecks('404', missing));

    for (const provider of providers) {
      const path = encodeURIComponent(provider);
      const first = await get(`/login/${path}`);
      add(...authorizationChecks(endpoint, provider, first));
      const second = await get(`/login/${path}`);
      add(freshnessCheck(provider, first, second));

      const callback = `/oauth2callback/${path}`;
      const forged = `${callback}?code=forged&state=forged`;
      add(
        refusedCallbackCheck(
          `callback ${provider}: forged code+state without login cookie -> 400, no cookie set`,
          await get(forged),
        ),
      );
      add(
        refusedCallbackCheck(
          `callback ${provider}: forged code+state with the login cookie -> 400, no cookie set`,
          await get(forged, cookieHeader(first)),
        ),
      );
      // The real state and cookie of the second login, so the repetition is the only defect.
      const state = authorizationRequestOf(second).url?.searchParams.get('state') ?? 'forged';
      add(
        refusedCallbackCheck(
          `callback ${provider}: duplicated code -> 400, no cookie set`,
          await get(
            `${callback}?code=forged-1&code=forged-2&state=${encodeURIComponent(state)}`,
            cookieHeader(second),
          ),
        ),
      );
    }

    add(
      logoutPostCheck(
        endpoint,
        await request(t, '/logout', {
          method: 'POST',
          body: '',
          // A cross-site form post, the shape of a CSRF attack.
          headers: {
            'content-type': 'application/x-www-form-urlencoded',
            origin: 'https://smoke.invalid',
          },
        }),
      ),
    );
    add(logoutGetCheck(await get('/logout')));

    // The credential broker for the command line and for client-side code.
    add(cliCommandCheck(await get('/cli/wif-login.cjs')));
    add(cliRefusedCheck('port=80', await get(cliAuthorizePath({ port: '80' }))));
    add(
      cliRefusedCheck('port=evil.example', await get(cliAuthorizePath({ port: 'evil.example' }))),
    );
    add(
      cliLoopbackErrorCheck(
        'PKCE plain',
        await get(cliAuthorizePath({ code_challenge_method: 'plain' })),
      ),
    );
    add(cliSignInFirstCheck(await get(cliAuthorizePath())));
    add(
      cliForgedCodeCheck(
        await request(t, '/cli/token', {
          method: 'POST',
          body: forgedTokenRequest(),
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
        }),
      ),
    );
    add(clientCredentialsSignedOutCheck(await get('/api/credentials')));
    return report();
  } finally {
    agent.destroy();
  }
}

/** The cookies a login response stored, sent back as a browser would. */
function cookieHeader(res: HttpResult): Record<string, string> {
  const pairs = res.setCookies
    .map((l) => parseSetCookie(l))
    .filter((c) => storesValue(c))
    .map((c) => `${c.name}=${c.value}`);
  return pairs.length ? { cookie: pairs.join('; ') } : {};
}
