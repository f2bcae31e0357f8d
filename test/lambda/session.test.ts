import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CookieSealer } from '../../lambda/callback/cookies';
import type { HttpRequest } from '../../lambda/callback/http';
import { SignInError } from '../../lambda/callback/ports';
import { createSecretsManagerStore, SECRET_TTL_MS } from '../../lambda/callback/secrets';
import {
  credentialsOf,
  expiresSoon,
  isExpiredCredentials,
  prefixOf,
  type SessionCookie,
  SessionCookies,
} from '../../lambda/callback/session';
import { FakeClock } from '../support/fake-clock';
import { GOOGLE_SETTINGS, testAppConfig } from '../support/app-config';

const KEY = 's'.repeat(40);
const NOW = Date.UTC(2026, 10, 22, 12);

const config = (baseUrl: string) =>
  testAppConfig({ baseUrl, sandbox: baseUrl.startsWith('http://'), providers: [GOOGLE_SETTINGS] });

const session: SessionCookie = {
  p: 'google',
  sub: '1001',
  dn: 'Alice',
  ak: 'ASIA',
  sk: 'secret',
  st: 'token',
  exp: NOW + 3600_000,
  csrf: 'the-csrf-token',
};

const request = (cookies: Record<string, string>, headers = {}): HttpRequest => ({
  method: 'POST',
  path: '/',
  rawQuery: '',
  headers,
  cookies,
  body: '',
  requestId: 'req-1',
});

/** The name=value pair of a Set-Cookie value. */
const pair = (setCookie: string) => {
  const [first] = setCookie.split('; ');
  const i = first.indexOf('=');
  return { [first.slice(0, i)]: decodeURIComponent(first.slice(i + 1)) };
};

function cookies(secure = true, get: (id: string) => Promise<string> = async () => KEY) {
  return new SessionCookies({
    config: config(secure ? 'https://files.example.com' : 'http://localhost:3000'),
    secrets: { get },
    secure,
    providers: new Set(['google']),
  });
}

describe('SessionCookies', () => {
  test('__Host- names over https, plain names on http', () => {
    expect([cookies().loginName, cookies().sessionName]).toEqual([
      '__Host-wif-login',
      '__Host-wif-session',
    ]);
    expect([cookies(false).loginName, cookies(false).sessionName]).toEqual([
      'wif-login',
      'wif-session',
    ]);
  });

  test('a sealed session reads back; the cookie is HttpOnly, Secure, Lax, for the whole site', async () => {
    const jar = cookies();
    const setCookie = await jar.sealSession(session, 3540);
    expect(setCookie).toMatch(/; Max-Age=3540; Path=\/; HttpOnly; Secure; SameSite=Lax$/);
    expect(await jar.readSession(request(pair(setCookie)))).toEqual(session);
  });

  test('a session of a provider no longer configured counts as signed out', async () => {
    const jar = cookies();
    const setCookie = await jar.sealSession({ ...session, p: 'amazon' }, 60);
    expect(await jar.readSession(request(pair(setCookie)))).toBeUndefined();
  });

  test('a login cookie never opens as a session, nor the other way round', async () => {
    const jar = cookies();
    const login = pair(
      await jar.sealLogin({ p: 'google', s: 'st', v: 'ver', r: '/', exp: NOW + 600_000 }),
    );
    expect(
      await jar.readSession(request({ '__Host-wif-session': login['__Host-wif-login'] })),
    ).toBeUndefined();
    const sealed = pair(await jar.sealSession(session, 60));
    expect(
      await jar.openLogin(request({ '__Host-wif-login': sealed['__Host-wif-session'] })),
    ).toBeUndefined();
    expect(await jar.openLogin(request(login))).toMatchObject({ p: 'google', s: 'st' });
  });

  test('no session cookie: no secret is fetched', async () => {
    const get = jest.fn(async () => KEY);
    expect(await cookies(true, get).readSession(request({}))).toBeUndefined();
    expect(get).not.toHaveBeenCalled();
  });

  test('the cookie key is asked of the secret store on every use (its cache sets the TTL); keys are derived once per value', async () => {
    const get = jest
      .fn<Promise<string>, [string]>()
      .mockRejectedValueOnce(new Error('unavailable'))
      .mockResolvedValue(KEY);
    const derive = jest.spyOn(CookieSealer, 'fromSecret');
    try {
      const jar = cookies(true, get);
      await expect(jar.sealSession(session, 60)).rejects.toThrow('unavailable');
      await jar.sealSession(session, 60);
      await jar.sealSession(session, 60);
      expect(get.mock.calls).toEqual([['cookie-key'], ['cookie-key'], ['cookie-key']]);
      expect(derive).toHaveBeenCalledTimes(1);
    } finally {
      derive.mockRestore();
    }
  });

  test('clearing sets an empty value that expires now', () => {
    expect(cookies().clearSession()).toMatch(/^__Host-wif-session=; Max-Age=0; /);
    expect(cookies(false).clearLogin()).toMatch(
      /^wif-login=; Max-Age=0; Path=\/; HttpOnly; SameSite=Lax$/,
    );
  });

  test.each([
    ['the token, no Origin', true, 'csrf=the-csrf-token', {}],
    [
      'the token, same Origin',
      true,
      'csrf=the-csrf-token',
      { origin: 'https://files.example.com' },
    ],
    ['the token, Origin null', true, 'csrf=the-csrf-token', { origin: 'null' }],
    ['the token, another Origin', false, 'csrf=the-csrf-token', { origin: 'https://evil.example' }],
    ['a wrong token', false, 'csrf=the-csrf-tokeN', {}],
    ['a longer token', false, 'csrf=the-csrf-token2', {}],
    ['no token', false, 'name=a', {}],
  ])('csrfOk: %s -> %s', (_, expected, body, headers) => {
    expect(cookies().csrfOk(request({}, headers), session, new URLSearchParams(body))).toBe(
      expected,
    );
  });
});

describe('cookie key rotation, through the secret store and its TTL', () => {
  const OLD_KEY = 'o'.repeat(40);
  const NEW_KEY = 'n'.repeat(40);

  test('past the TTL new cookies are sealed with the new key; cookies sealed before still open', async () => {
    const clock = new FakeClock(NOW);
    let stored = OLD_KEY;
    const send = jest.fn(async () => ({ SecretString: stored }));
    const store = createSecretsManagerStore(config('https://files.example.com'), clock, {
      send,
    } as unknown as SecretsManagerClient);
    const jar = new SessionCookies({
      config: config('https://files.example.com'),
      secrets: store,
      secure: true,
      providers: new Set(['google']),
    });
    // Another container that only knows the new key line.
    const newOnly = cookies(true, async () => NEW_KEY);

    const before = pair(await jar.sealSession(session, 60));
    // Rotation: the new key goes first, the old one stays below it.
    stored = `${NEW_KEY}\n${OLD_KEY}`;
    clock.advance(SECRET_TTL_MS - 1);
    const cached = pair(await jar.sealSession(session, 60));
    expect(await newOnly.readSession(request(cached))).toBeUndefined();

    clock.advance(1);
    const after = pair(await jar.sealSession(session, 60));
    expect(await newOnly.readSession(request(after))).toEqual(session);
    expect(await newOnly.readSession(request(before))).toBeUndefined();
    // The old line still opens what was sealed before the rotation.
    expect(await jar.readSession(request(before))).toEqual(session);
    expect(send).toHaveBeenCalledTimes(2);
  });
});

describe('session helpers', () => {
  test('a session expiring within a minute counts as ended', () => {
    expect(expiresSoon({ ...session, exp: NOW + 60_001 }, NOW)).toBe(false);
    expect(expiresSoon({ ...session, exp: NOW + 60_000 }, NOW)).toBe(true);
  });

  test('credentials and prefix come from the session', () => {
    expect(credentialsOf(session)).toEqual({
      accessKeyId: 'ASIA',
      secretAccessKey: 'secret',
      sessionToken: 'token',
      expiration: session.exp,
    });
    expect(prefixOf(session)).toBe('users/google/1001/');
  });

  test.each([
    [Object.assign(new Error('x'), { name: 'ExpiredToken' }), true],
    [Object.assign(new Error('x'), { name: 'ExpiredTokenException' }), true],
    [Object.assign(new Error('x'), { name: 'TokenRefreshRequired' }), true],
    [new SignInError('restart', 'again'), true],
    [new SignInError('idp_unavailable', 'down'), false],
    [new Error('AccessDenied'), false],
    [undefined, false],
  ])('isExpiredCredentials(%p) -> %p', (err, expected) => {
    expect(isExpiredCredentials(err)).toBe(expected);
  });
});
