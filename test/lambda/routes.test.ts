import type { AppContext, SessionGuard } from '../../lambda/callback/context';
import { CookieSealer } from '../../lambda/callback/cookies';
import type { HttpRequest } from '../../lambda/callback/http';
import type { IdentityProviders, TokenExchange, UserStorage } from '../../lambda/callback/ports';
import { createResponses } from '../../lambda/callback/responses';
import { dispatch, matchRoute, type Route, routeTable } from '../../lambda/callback/routes';
import { type SessionCookie, SessionCookies } from '../../lambda/callback/session';
import { GOOGLE_SETTINGS, testAppConfig } from '../support/app-config';

const KEY = 'r'.repeat(40);
const NOW = Date.UTC(2026, 10, 22, 12);

const config = testAppConfig({ providers: [GOOGLE_SETTINGS] });

function context(): AppContext {
  const unused = () => {
    throw new Error('not used');
  };
  const providers = new Map(config.providers.map((p) => [p.name, p]));
  return {
    config,
    clock: { now: () => NOW },
    idp: { start: unused, finish: unused } as IdentityProviders,
    sts: { assume: unused } as TokenExchange,
    storage: {} as UserStorage,
    log: () => undefined,
    providers,
    buttons: [{ name: 'google', displayName: 'Google' }],
    responses: createResponses(config, true),
    sessions: new SessionCookies({
      config,
      secrets: { get: async () => KEY },
      secure: true,
      providers: new Set(providers.keys()),
    }),
  };
}

const request = (req: Partial<HttpRequest>): HttpRequest => ({
  method: 'GET',
  path: '/',
  rawQuery: '',
  headers: {},
  cookies: {},
  body: '',
  requestId: 'req-1',
  ...req,
});

function sessionCookie(exp: number): Record<string, string> {
  const session: SessionCookie = {
    p: 'google',
    sub: '1001',
    ak: 'ASIA',
    sk: 'secret',
    st: 'token',
    exp,
    csrf: 'the-csrf-token',
  };
  return { '__Host-wif-session': CookieSealer.fromSecret(KEY).seal('session', session) };
}

describe('matchRoute', () => {
  const handle = () => ({ status: 200, headers: {}, cookies: [], body: '' });
  const routes: Route[] = [
    { method: 'GET', path: '/', handle },
    { method: 'GET', path: '/login/google', handle },
    { method: 'ANY', path: '/login/:provider', handle },
    { method: 'ANY', path: '/static/:name', handle },
  ];

  test('literal paths match exactly', () => {
    expect(matchRoute(routes, '/')?.route).toBe(routes[0]);
    expect(matchRoute(routes, '/login/google')?.route).toBe(routes[1]);
    for (const path of ['', '//', '/login', '/login/google/', '/Login/google', '/static'])
      expect(matchRoute(routes, path)).toBeUndefined();
  });

  test('a :name matches any one segment, even an empty one, and is returned', () => {
    expect(matchRoute(routes, '/static/app.css')).toEqual({
      route: routes[3],
      params: { name: 'app.css' },
    });
    expect(matchRoute(routes, '/login/')).toEqual({ route: routes[2], params: { provider: '' } });
    expect(matchRoute(routes, '/static/a/b')).toBeUndefined();
  });

  test('the first matching route wins', () => {
    expect(matchRoute(routes, '/login/amazon')?.route).toBe(routes[2]);
    expect(matchRoute(routes, '/login/google')?.route).toBe(routes[1]);
  });
});

describe('routeTable', () => {
  test('lists every route; each configured provider gets its own sign-in paths', () => {
    expect(routeTable(context()).map((r) => `${r.method} ${r.path}`)).toEqual([
      'GET /healthz',
      'GET /',
      'ANY /favicon.ico',
      'GET /privacy',
      'ANY /static/:name',
      'GET /login/google',
      'GET /oauth2callback/google',
      'ANY /login/:provider',
      'ANY /oauth2callback/:provider',
      'GET /download',
      'POST /upload-url',
      'POST /upload-complete',
      'POST /upload-abort',
      'POST /delete',
      'POST /logout',
      'GET /cli/wif-login.cjs',
      'GET /cli/authorize',
      'POST /cli/consent',
      'POST /cli/token',
    ]);
  });

  test('client-credentials-opt-in: /api/session and /api/credentials only when the stage turns them on', () => {
    const on = { ...context(), config: { ...config, clientCredentials: true } };
    const paths = (ctx: AppContext) => routeTable(ctx).map((r) => r.path);
    expect(paths(context())).not.toContain('/api/credentials');
    expect(paths(on).slice(-2)).toEqual(['/api/session', '/api/credentials']);
  });

  test('only /upload-complete takes more than 16 KB', () => {
    const limits = routeTable(context()).flatMap((r) =>
      r.method === 'POST' ? [[r.path, r.maxBodyBytes]] : [],
    );
    expect(Object.fromEntries(limits)).toEqual({
      '/upload-url': 16 * 1024,
      '/upload-complete': 2 * 1024 * 1024,
      '/upload-abort': 16 * 1024,
      '/delete': 16 * 1024,
      '/logout': 16 * 1024,
      '/cli/consent': 16 * 1024,
      '/cli/token': 16 * 1024,
    });
  });
});

describe('dispatch', () => {
  const calls: string[] = [];
  const guard = (allowExpiring: boolean): SessionGuard => ({
    allowExpiring,
    signedOut: () => ({ status: 401, headers: {}, cookies: [], body: 'signed out' }),
    forbidden: () => ({ status: 403, headers: {}, cookies: [], body: 'forbidden' }),
  });
  const ok = (body: string) => ({ status: 200, headers: {}, cookies: [], body });
  const routes: Route[] = [
    { method: 'GET', path: '/page', handle: () => ok('page') },
    { method: 'ANY', path: '/any/:x', handle: (_req, { x }) => ok(`any ${x}`) },
    {
      method: 'POST',
      path: '/change',
      maxBodyBytes: 100,
      guard: guard(false),
      handle: async (_req, form, session) => {
        calls.push(`change ${form.get('name')} ${session.sub}`);
        return ok('changed');
      },
    },
    {
      method: 'POST',
      path: '/leave',
      maxBodyBytes: 100,
      guard: guard(true),
      handle: async () => ok('left'),
    },
  ];
  const run = (req: Partial<HttpRequest>) => dispatch(context(), routes, request(req));
  const live = sessionCookie(NOW + 3600_000);
  const expiring = sessionCookie(NOW + 30_000);

  beforeEach(() => (calls.length = 0));

  test('no route -> 404', async () => {
    expect((await run({ path: '/nope' })).status).toBe(404);
  });

  test('GET routes answer GET and HEAD; other methods get 405 with Allow: GET', async () => {
    expect((await run({ path: '/page' })).body).toBe('page');
    expect((await run({ path: '/page', method: 'HEAD' })).body).toBe('page');
    const res = await run({ path: '/page', method: 'POST' });
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe('GET');
  });

  test('ANY routes answer every method, with their path parameters', async () => {
    expect((await run({ path: '/any/y', method: 'DELETE' })).body).toBe('any y');
  });

  test('POST routes refuse other methods with Allow: POST', async () => {
    for (const method of ['GET', 'HEAD', 'PUT']) {
      const res = await run({ path: '/change', method });
      expect(res.status).toBe(405);
      expect(res.headers.allow).toBe('POST');
    }
  });

  test('a POST passes the body limit, the session and the CSRF token, in that order', async () => {
    const post = (body: string, cookies: Record<string, string>, origin?: string) =>
      run({
        path: '/change',
        method: 'POST',
        body,
        cookies,
        headers: origin ? { origin } : {},
      });
    const good = 'csrf=the-csrf-token&name=a';
    expect((await post(good + 'x'.repeat(100), {})).status).toBe(413);
    expect((await post(good, {})).status).toBe(401);
    expect((await post(good, expiring)).status).toBe(401);
    expect((await post('csrf=wrong&name=a', live)).status).toBe(403);
    expect((await post(good, live, 'https://evil.example')).status).toBe(403);
    expect(calls).toEqual([]);
    expect((await post(good, live, 'https://files.example.com')).body).toBe('changed');
    expect((await post(good, live)).body).toBe('changed');
    expect(calls).toEqual(['change a 1001', 'change a 1001']);
  });

  test('a guard that allows expiring sessions takes one about to expire', async () => {
    const res = await run({
      path: '/leave',
      method: 'POST',
      body: 'csrf=the-csrf-token',
      cookies: expiring,
    });
    expect(res.body).toBe('left');
  });
});
