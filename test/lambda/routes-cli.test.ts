/**
 * The credential broker for the command line, through the app's routes: /cli/authorize,
 * the consent page, /cli/consent and /cli/token (docs/security.md: cli-request-checked,
 * loopback-redirect-only, consent-not-forgeable, cli-code-sealed, cli-code-short-lived,
 * pkce-s256-checked, no-credentials-in-urls).
 */
import { randomBytes } from 'node:crypto';
import {
  loopbackRedirectUri,
  PASTE_REDIRECT_URI,
  s256,
  type CliTokenResponse,
} from '../../common/cli-protocol';
import { CookieSealer } from '../../lambda/callback/cookies';
import type { HttpRequest, HttpResponse } from '../../lambda/callback/http';
import type { CliCode } from '../../lambda/callback/session';
import {
  AMAZON_SETTINGS,
  FACEBOOK_SETTINGS,
  GOOGLE_SETTINGS,
  OIDC_SETTINGS,
} from '../support/app-config';
import {
  config,
  COOKIE_KEY,
  harness,
  type Harness,
  SECRET_ACCESS_KEY,
  SESSION_TOKEN,
  signIn,
} from '../support/app-harness';

const PORT = 49152;
const VERIFIER = randomBytes(32).toString('base64url');
const CHALLENGE = s256(VERIFIER);
const STATE = randomBytes(32).toString('base64url');

/** The CLI's authorize query; `extra` adds or (with undefined) drops parameters. */
function authorizeQuery(extra: Record<string, string | undefined> = {}): string {
  const params: Record<string, string | undefined> = {
    port: String(PORT),
    state: STATE,
    code_challenge: CHALLENGE,
    code_challenge_method: 'S256',
    ...extra,
  };
  return Object.entries(params)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${encodeURIComponent(v!)}`)
    .join('&');
}

/** The consent form's hidden fields, as the browser would post them. */
function consentForm(page: HttpResponse, decision: string): string {
  const fields = [...page.body.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)];
  const form = new URLSearchParams(fields.map(([, k, v]) => [k, v.replace(/&amp;/g, '&')]));
  form.set('decision', decision);
  return form.toString();
}

/** Posts a consent form (`body`) to /cli/consent; `req` adds the cookies or headers. */
const postConsent = (h: Harness, body: string, req: Partial<HttpRequest> = {}) =>
  h.app({ method: 'POST', path: '/cli/consent', body, ...req });

/** Signed in (with `provider`), the consent page for the CLI's request. */
async function consentPage(h: Harness, query = authorizeQuery(), provider = 'google') {
  const signedIn = await signIn(h, provider);
  const page = await h.app({ path: '/cli/authorize', rawQuery: query, cookies: signedIn.cookies });
  return { ...signedIn, page };
}

/** Signed in and consented: the redirect to the CLI and the code it carries. */
async function allowed(h: Harness, query = authorizeQuery(), provider = 'google') {
  const { page, cookies } = await consentPage(h, query, provider);
  expect(page.status).toBe(200);
  const res = await postConsent(h, consentForm(page, 'allow'), { cookies });
  expect(res.status).toBe(303);
  const location = new URL(res.headers.location);
  return { res, location, code: location.searchParams.get('code')! };
}

const redeem = (h: Harness, fields: Record<string, string>, headers: Record<string, string> = {}) =>
  h.app({
    method: 'POST',
    path: '/cli/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      redirect_uri: loopbackRedirectUri(PORT),
      code_verifier: VERIFIER,
      ...fields,
    }).toString(),
  });

describe('/cli/authorize', () => {
  test('signed out: straight to the named provider, coming back to the same request', async () => {
    const h = harness();
    const res = await h.app({
      path: '/cli/authorize',
      rawQuery: authorizeQuery({ provider: 'amazon' }),
    });
    expect(res.status).toBe(302);
    const login = new URL(res.headers.location, 'https://files.example.com');
    expect(login.pathname).toBe('/login/amazon');
    expect(login.searchParams.get('return_to')).toBe(
      `/cli/authorize?${authorizeQuery({ provider: 'amazon' })}`,
    );
  });

  test('signed out, no provider named and several configured: the sign-in buttons lead back here', async () => {
    const h = harness();
    const res = await h.app({ path: '/cli/authorize', rawQuery: authorizeQuery() });
    expect(res.status).toBe(200);
    const back = encodeURIComponent(`/cli/authorize?${authorizeQuery()}`);
    expect(res.body).toContain(`href="/login/google?return_to=${back.replace(/&/g, '&amp;')}"`);
  });

  test('signed in: the consent page, asking about this computer', async () => {
    const h = harness();
    const { page } = await consentPage(h);
    expect(page.status).toBe(200);
    expect(page.body).toContain('Allow the command line on this computer to use your files?');
    expect(page.body).toContain('127.0.0.1:49152');
    expect(page.body).toContain('users/google/1001/');
  });

  test('consent-not-forgeable: the consent page cannot be framed', async () => {
    const h = harness();
    const { page } = await consentPage(h);
    expect(page.headers['x-frame-options']).toBe('DENY');
    expect(page.headers['content-security-policy']).toContain("frame-ancestors 'none'");
  });

  test('consent-not-forgeable: in paste mode neither the consent page nor the code page can be framed', async () => {
    const h = harness();
    const { page, cookies } = await consentPage(
      h,
      authorizeQuery({ port: undefined, mode: 'paste' }),
    );
    expect(page.status).toBe(200);
    const codePage = await postConsent(h, consentForm(page, 'allow'), { cookies });
    expect(codePage.status).toBe(200);
    expect(codePage.body).toContain('id="cli-code"');
    for (const res of [page, codePage]) {
      expect(res.headers['x-frame-options']).toBe('DENY');
      expect(res.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    }
  });

  test('the consent form may post (and be redirected) only to the app and the CLI loopback port', async () => {
    const h = harness();
    const { page } = await consentPage(h);
    const csp = page.headers['content-security-policy'];
    expect(csp).toContain("form-action 'self' http://127.0.0.1:49152;");
    // Every other page keeps the plain rule.
    const home = await h.app({});
    expect(home.headers['content-security-policy']).toContain("form-action 'self';");
  });

  test('a session about to run out is renewed by signing in again before consent', async () => {
    const h = harness();
    const { cookies } = await signIn(h);
    h.clock.t += 50 * 60_000; // 10 minutes of the hour left: too little to hand out
    const res = await h.app({ path: '/cli/authorize', rawQuery: authorizeQuery(), cookies });
    expect(res.status).toBe(302);
    expect(res.headers.location).toMatch(/^\/login\/google\?return_to=%2Fcli%2Fauthorize%3F/);
  });

  test('a session with another provider than the one named signs in with the named one', async () => {
    const h = harness();
    const { cookies } = await signIn(h, 'google');
    const query = authorizeQuery({ provider: 'amazon' });
    const res = await h.app({ path: '/cli/authorize', rawQuery: query, cookies });
    expect(res.headers.location).toMatch(/^\/login\/amazon\?/);
  });

  test.each([
    ['a name, not a port', { port: 'evil.example' }],
    ['a port with a host', { port: '127.0.0.1:8080' }],
    ['a privileged port', { port: '80' }],
    ['the highest privileged port', { port: '1023' }],
    ['port 0', { port: '0' }],
    ['past 65535', { port: '65536' }],
    ['a leading zero', { port: '08080' }],
    ['a decimal', { port: '8080.0' }],
    ['a space', { port: ' 8080' }],
    ['no port and no paste mode', { port: undefined }],
    ['both a port and paste mode', { mode: 'paste' }],
  ])(
    'cli-request-checked, loopback-redirect-only: %s is refused with a page, no redirect',
    async (_name, extra) => {
      const h = harness();
      const signedIn = await signIn(h);
      const res = await h.app({
        path: '/cli/authorize',
        rawQuery: authorizeQuery(extra),
        cookies: signedIn.cookies,
      });
      expect(res.status).toBe(400);
      expect(res.headers.location).toBeUndefined();
      expect(res.body).not.toContain('Allow');
    },
  );

  test.each(['1024', '65535'])(
    'cli-request-checked: port %s, at the edge of the range, gets the consent page',
    async (port) => {
      const h = harness();
      const { page } = await consentPage(h, authorizeQuery({ port }));
      expect(page.status).toBe(200);
      expect(page.body).toContain(`127.0.0.1:${port}`);
      expect(page.headers['content-security-policy']).toContain(
        `form-action 'self' http://127.0.0.1:${port};`,
      );
    },
  );

  test('cli-request-checked: a port given twice is refused', async () => {
    const h = harness();
    const { cookies } = await signIn(h);
    const res = await h.app({
      path: '/cli/authorize',
      rawQuery: `${authorizeQuery()}&port=8081`,
      cookies,
    });
    expect(res.status).toBe(400);
  });

  test.each([
    ['no state', { state: undefined }],
    ['a short state', { state: 'abc' }],
    ['a state with odd characters', { state: `${'a'.repeat(20)}<script>` }],
    ['a bad state and an unknown provider', { state: 'abc', provider: 'nosuch' }],
  ])('cli-request-checked: %s is refused with a page, no redirect', async (_name, extra) => {
    const h = harness();
    const { cookies } = await signIn(h);
    const res = await h.app({ path: '/cli/authorize', rawQuery: authorizeQuery(extra), cookies });
    expect(res.status).toBe(400);
    expect(res.headers.location).toBeUndefined();
  });

  const afterPortAndState: [string, Record<string, string | undefined>, RegExp][] = [
    ['no challenge', { code_challenge: undefined }, /code_challenge is missing/],
    ['a short challenge', { code_challenge: CHALLENGE.slice(1) }, /code_challenge is missing/],
    ['PKCE plain', { code_challenge_method: 'plain' }, /S256/],
    ['no PKCE method', { code_challenge_method: undefined }, /S256/],
    [
      'an unknown provider',
      { provider: 'nosuch' },
      /^There is no sign-in provider "nosuch" here; use one of: google, amazon\.$/,
    ],
  ];

  test.each(afterPortAndState)(
    'cli-request-checked: %s, with a valid port and state, is refused to the loopback (invalid_request), signed in or not',
    async (_name, extra, description) => {
      const h = harness();
      const { cookies } = await signIn(h);
      for (const session of [cookies, {}]) {
        const res = await h.app({
          path: '/cli/authorize',
          rawQuery: authorizeQuery(extra),
          cookies: session,
        });
        expect(res.status).toBe(302);
        const location = new URL(res.headers.location);
        expect(`${location.origin}${location.pathname}`).toBe('http://127.0.0.1:49152/callback');
        expect([...location.searchParams.keys()].sort()).toEqual([
          'error',
          'error_description',
          'state',
        ]);
        expect(location.searchParams.get('error')).toBe('invalid_request');
        expect(location.searchParams.get('state')).toBe(STATE);
        expect(location.searchParams.get('error_description')).toMatch(description);
      }
      expect(h.logs.map((e) => e.event)).toContain('cli_authorize_refused');
    },
  );

  test.each(afterPortAndState)(
    'cli-request-checked: %s in paste mode is a 400 page (nowhere to redirect)',
    async (_name, extra) => {
      const h = harness();
      const { cookies } = await signIn(h);
      const query = authorizeQuery({ ...extra, port: undefined, mode: 'paste' });
      const res = await h.app({ path: '/cli/authorize', rawQuery: query, cookies });
      expect(res.status).toBe(400);
      expect(res.headers.location).toBeUndefined();
    },
  );

  test('cli-request-checked: an unknown provider name that is not a plain name is not repeated back', async () => {
    const h = harness();
    const provider = '<b>Evil</b> "quoted"\nline';
    const res = await h.app({ path: '/cli/authorize', rawQuery: authorizeQuery({ provider }) });
    expect(res.status).toBe(302);
    const description = new URL(res.headers.location).searchParams.get('error_description');
    expect(description).toBe('There is no sign-in provider here; use one of: google, amazon.');
  });

  test('cli-request-checked: a request too long to come back to is refused to the loopback', async () => {
    const h = harness();
    const res = await h.app({
      path: '/cli/authorize',
      rawQuery: authorizeQuery({ pad: 'x'.repeat(5000) }),
    });
    expect(res.status).toBe(302);
    const location = new URL(res.headers.location);
    expect(location.origin).toBe('http://127.0.0.1:49152');
    expect(location.searchParams.get('error_description')).toBe('The request is too long.');
    expect(location.searchParams.get('state')).toBe(STATE);
  });
});

describe('/cli/consent', () => {
  test('allow: a 303 to the loopback callback only, with the code and the state', async () => {
    const h = harness();
    const { location, code } = await allowed(h);
    expect(`${location.origin}${location.pathname}`).toBe('http://127.0.0.1:49152/callback');
    expect(location.searchParams.get('state')).toBe(STATE);
    expect(code.length).toBeGreaterThan(100);
  });

  test('loopback-redirect-only: a redirect_uri slipped into the request changes nothing', async () => {
    const h = harness();
    const { location } = await allowed(
      h,
      `${authorizeQuery()}&redirect_uri=${encodeURIComponent('https://evil.example/cb')}`,
    );
    expect(location.origin).toBe('http://127.0.0.1:49152');
  });

  test.each([
    ['redirect_uri', 'https://evil.example/cb'],
    ['ru', 'https://evil.example/cb'],
    ['redirect', 'https://evil.example/cb'],
  ])(
    'loopback-redirect-only: %s slipped into the consent post changes nothing',
    async (name, value) => {
      const h = harness();
      const { page, cookies } = await consentPage(h);
      const form = new URLSearchParams(consentForm(page, 'allow'));
      expect(form.get('csrf')).toBeTruthy();
      form.append(name, value);
      const res = await postConsent(h, form.toString(), { cookies });
      expect(res.status).toBe(303);
      const location = new URL(res.headers.location);
      expect(`${location.origin}${location.pathname}`).toBe('http://127.0.0.1:49152/callback');
      expect(res.headers.location).not.toContain('evil');
      const code = location.searchParams.get('code')!;
      expect((await redeem(h, { code })).status).toBe(200);
    },
  );

  test('loopback-redirect-only: a second port slipped into the consent post is refused, no redirect', async () => {
    const h = harness();
    const { page, cookies } = await consentPage(h);
    const form = new URLSearchParams(consentForm(page, 'allow'));
    form.append('port', '8080');
    const res = await postConsent(h, form.toString(), { cookies });
    expect(res.status).toBe(400);
    expect(res.headers.location).toBeUndefined();
  });

  test('deny: the CLI hears access_denied with its state, and no code', async () => {
    const h = harness();
    const { page, cookies } = await consentPage(h);
    const res = await postConsent(h, consentForm(page, 'deny'), { cookies });
    expect(res.status).toBe(303);
    const location = new URL(res.headers.location);
    expect(location.searchParams.get('error')).toBe('access_denied');
    expect(location.searchParams.get('state')).toBe(STATE);
    expect(location.searchParams.has('code')).toBe(false);
  });

  test('consent-not-forgeable: without the CSRF token, or from another origin, no code', async () => {
    const h = harness();
    const { page, cookies } = await consentPage(h);
    const form = new URLSearchParams(consentForm(page, 'allow'));
    form.delete('csrf');
    const noToken = await postConsent(h, form.toString(), { cookies });
    expect(noToken.status).toBe(403);
    expect(noToken.headers.location).toBeUndefined();
    const crossSite = await postConsent(h, consentForm(page, 'allow'), {
      cookies,
      headers: { origin: 'https://evil.example' },
    });
    expect(crossSite.status).toBe(403);
    expect(crossSite.headers.location).toBeUndefined();
  });

  test('consent-not-forgeable: signed out, a consent post gets no code', async () => {
    const h = harness();
    const { page } = await consentPage(h);
    const res = await postConsent(h, consentForm(page, 'allow'));
    expect(res.status).toBe(401);
    expect(res.headers.location).toBeUndefined();
  });

  test('no-credentials-in-urls: the redirect carries no credential, in any usual encoding', async () => {
    const h = harness();
    const { res } = await allowed(h);
    const url = decodeURIComponent(res.headers.location);
    for (const secret of [SECRET_ACCESS_KEY, SESSION_TOKEN.slice(0, 40), 'ASIAUSER']) {
      for (const encoded of [
        secret,
        Buffer.from(secret).toString('base64'),
        Buffer.from(secret).toString('base64url'),
        Buffer.from(secret).toString('hex'),
      ])
        expect(url).not.toContain(encoded.slice(0, 16));
    }
  });

  test('paste mode: the code is shown to copy, nothing is redirected', async () => {
    const h = harness();
    const query = authorizeQuery({ port: undefined, mode: 'paste' });
    const { page, cookies } = await consentPage(h, query);
    expect(page.body).toContain('A command line that is waiting for a code');
    expect(page.headers['content-security-policy']).toContain("form-action 'self';");
    const res = await postConsent(h, consentForm(page, 'allow'), { cookies });
    expect(res.status).toBe(200);
    expect(res.headers.location).toBeUndefined();
    expect(res.body).toContain('Never send it to anyone');
    const code = /<textarea id="cli-code"[^>]*>([^<]+)<\/textarea>/.exec(res.body)![1];
    const token = await redeem(h, { code, redirect_uri: PASTE_REDIRECT_URI });
    expect(token.status).toBe(200);
  });
});

describe('/cli/token', () => {
  test('the code and its verifier: the AWS credential_process JSON and where the files are', async () => {
    const h = harness();
    const { code } = await allowed(h);
    const res = await redeem(h, { code });
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    const body = JSON.parse(res.body) as CliTokenResponse;
    expect(body).toEqual({
      provider: 'google',
      bucket: 'user-data-bucket',
      region: 'eu-west-1',
      prefix: 'users/google/1001/',
      credentials: {
        Version: 1,
        AccessKeyId: 'ASIAUSER',
        SecretAccessKey: SECRET_ACCESS_KEY,
        SessionToken: SESSION_TOKEN,
        Expiration: new Date(h.clock.t + 3600_000).toISOString(),
      },
    });
  });

  test.each([
    ['amazon', 'amazon'],
    ['google', 'google'],
    ['facebook', 'facebook'],
    ['oidc', 'devidp'],
  ])(
    "the %s family (provider %s): consent, code and token, with the provider's own prefix",
    async (_family, provider) => {
      const providers = [GOOGLE_SETTINGS, AMAZON_SETTINGS, FACEBOOK_SETTINGS, OIDC_SETTINGS];
      const h = harness(config({ providers }));
      const { code } = await allowed(h, authorizeQuery({ provider }), provider);
      const res = await redeem(h, { code });
      expect(res.status).toBe(200);
      const body = JSON.parse(res.body) as CliTokenResponse;
      expect(body.provider).toBe(provider);
      expect(body.prefix).toBe(`users/${provider}/1001/`);
      expect(body.credentials.AccessKeyId).toBe('ASIAUSER');
      expect(h.calls.sts).toEqual([provider]);
    },
  );

  test('pkce-s256-checked: another verifier gets invalid_grant', async () => {
    const h = harness();
    const { code } = await allowed(h);
    const res = await redeem(h, { code, code_verifier: randomBytes(32).toString('base64url') });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body).error).toBe('invalid_grant');
    expect(res.body).not.toContain(SECRET_ACCESS_KEY);
  });

  test('pkce-s256-checked: the challenge itself as verifier (PKCE plain) is refused', async () => {
    const h = harness();
    const { code } = await allowed(h);
    const res = await redeem(h, { code, code_verifier: CHALLENGE });
    expect(res.status).toBe(400);
  });

  test('cli-code-short-lived: a code redeems within 60 s, not after', async () => {
    const h = harness();
    const first = await allowed(h);
    h.clock.t += 59_000;
    expect((await redeem(h, { code: first.code })).status).toBe(200);
    const second = await allowed(h);
    h.clock.t += 60_000;
    const late = await redeem(h, { code: second.code });
    expect(late.status).toBe(400);
    expect(JSON.parse(late.body).error_description).toMatch(/expired/);
  });

  test('cli-code-short-lived: a live code whose credentials expire within the margin gets invalid_grant', async () => {
    const h = harness();
    const seal = (exp: number) => {
      const code: CliCode = {
        p: 'google',
        sub: '1001',
        ak: 'ASIAUSER',
        sk: SECRET_ACCESS_KEY,
        st: SESSION_TOKEN,
        exp,
        ch: CHALLENGE,
        ru: loopbackRedirectUri(PORT),
        cx: h.clock.t + 60_000,
      };
      return CookieSealer.fromSecret(COOKIE_KEY).seal('cli-code', code);
    };
    // The code itself has a minute left; its credentials only 30 seconds.
    const res = await redeem(h, { code: seal(h.clock.t + 30_000) });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toEqual({
      error: 'invalid_grant',
      error_description: 'The code has expired. Run the command again to sign in.',
    });
    expect(res.body).not.toContain(SECRET_ACCESS_KEY);
    // The same sealing with credentials past the margin redeems: the seal is the app's own.
    expect((await redeem(h, { code: seal(h.clock.t + 10 * 60_000) })).status).toBe(200);
  });

  test('a code is redeemed once (per container)', async () => {
    const h = harness();
    const { code } = await allowed(h);
    expect((await redeem(h, { code })).status).toBe(200);
    const again = await redeem(h, { code });
    expect(again.status).toBe(400);
    expect(JSON.parse(again.body).error_description).toMatch(/already used/);
  });

  test('the redirect_uri must be the one the code was issued for', async () => {
    const h = harness();
    const { code } = await allowed(h);
    const res = await redeem(h, { code, redirect_uri: loopbackRedirectUri(PORT + 1) });
    expect(res.status).toBe(400);
    const paste = await redeem(h, { code, redirect_uri: PASTE_REDIRECT_URI });
    expect(paste.status).toBe(400);
  });

  test('cli-code-sealed: a tampered code, or a session cookie posing as a code, is refused', async () => {
    const h = harness();
    const { code } = await allowed(h);
    const parts = code.split('.');
    const body = Buffer.from(parts[3], 'base64url');
    body[0] ^= 1;
    parts[3] = body.toString('base64url');
    expect((await redeem(h, { code: parts.join('.') })).status).toBe(400);
    const session = CookieSealer.fromSecret(COOKIE_KEY).seal('session', {
      p: 'google',
      sub: '1001',
      ak: 'A',
      sk: 'S',
      st: 'T',
      exp: h.clock.t + 3600_000,
      ch: CHALLENGE,
      ru: loopbackRedirectUri(PORT),
      cx: h.clock.t + 60_000,
    });
    expect((await redeem(h, { code: session })).status).toBe(400);
  });

  test.each([
    ['another grant type', { grant_type: 'refresh_token' }, 'unsupported_grant_type'],
    ['no verifier', { code_verifier: '' }, 'invalid_request'],
    ['a short verifier', { code_verifier: 'short' }, 'invalid_request'],
    ['no redirect_uri', { redirect_uri: '' }, 'invalid_request'],
  ])('%s: 400', async (_name, fields, error) => {
    const h = harness();
    const { code } = await allowed(h);
    const res = await redeem(h, { code, ...fields });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body).error).toBe(error);
  });

  test('never from a web page: a request with an Origin is refused', async () => {
    const h = harness();
    const { code } = await allowed(h);
    const res = await redeem(h, { code }, { origin: 'https://files.example.com' });
    expect(res.status).toBe(403);
  });

  test('no-secrets-in-logs: the whole flow logs no code, verifier or credential', async () => {
    const h = harness();
    const { code } = await allowed(h);
    await redeem(h, { code });
    await redeem(h, { code, code_verifier: 'x'.repeat(43) });
    const logged = JSON.stringify(h.logs);
    for (const secret of [
      code.slice(0, 40),
      VERIFIER,
      'ASIAUSER',
      SECRET_ACCESS_KEY,
      SESSION_TOKEN.slice(0, 40),
    ])
      expect(logged).not.toContain(secret);
    expect(h.logs.map((e) => e.event)).toEqual(
      expect.arrayContaining(['cli_code_issued', 'cli_token_issued', 'cli_token_refused']),
    );
  });
});

describe('/cli/wif-login.cjs', () => {
  test('served from the bundle; a build without it says so with a 404', async () => {
    const h = harness();
    const res = await h.app({ path: '/cli/wif-login.cjs' });
    // The source tree has no built command (the Lambda asset does: the sandbox tests fetch it).
    expect(res.status).toBe(404);
    expect(res.body).toContain('not part of this build');
  });
});

describe('/api/session and /api/credentials (client-side credentials)', () => {
  const on = () => harness(config({ clientCredentials: true }));
  const sameOrigin = { 'sec-fetch-site': 'same-origin' };

  test('client-credentials-opt-in: 404 unless the stage turns them on', async () => {
    const h = harness();
    const { cookies, csrf } = await signIn(h);
    for (const path of ['/api/session', '/api/credentials'])
      expect((await h.app({ path, cookies, headers: { 'x-csrf-token': csrf } })).status).toBe(404);
  });

  test('signed out: 401 JSON', async () => {
    const h = on();
    const res = await h.app({ path: '/api/session', headers: sameOrigin });
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body).error).toBe('signed_out');
  });

  test('the session, then with its CSRF token the credentials, shaped for the AWS SDK', async () => {
    const h = on();
    const { cookies } = await signIn(h);
    const session = await h.app({ path: '/api/session', cookies, headers: sameOrigin });
    expect(session.status).toBe(200);
    const { csrfToken, provider } = JSON.parse(session.body);
    expect(provider).toBe('google');
    const res = await h.app({
      path: '/api/credentials',
      cookies,
      headers: { ...sameOrigin, 'x-csrf-token': csrfToken },
    });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({
      provider: 'google',
      bucket: 'user-data-bucket',
      region: 'eu-west-1',
      prefix: 'users/google/1001/',
      forcePathStyle: false,
      credentials: {
        accessKeyId: 'ASIAUSER',
        secretAccessKey: SECRET_ACCESS_KEY,
        sessionToken: SESSION_TOKEN,
        expiration: new Date(h.clock.t + 3600_000).toISOString(),
      },
    });
    // no-secrets-in-logs: the hand-out is logged, the credentials and the CSRF token are not.
    expect(h.logs.map((e) => e.event)).toContain('client_credentials_issued');
    const logged = JSON.stringify(h.logs);
    for (const secret of ['ASIAUSER', SECRET_ACCESS_KEY, SESSION_TOKEN.slice(0, 40), csrfToken])
      expect(logged).not.toContain(secret);
  });

  test('client-credentials-same-origin: no credentials without the CSRF header, or with a wrong one', async () => {
    const h = on();
    const { cookies, csrf } = await signIn(h);
    for (const headers of [sameOrigin, { ...sameOrigin, 'x-csrf-token': csrf.slice(1) }]) {
      const res = await h.app({ path: '/api/credentials', cookies, headers });
      expect(res.status).toBe(403);
      expect(res.body).not.toContain(SECRET_ACCESS_KEY);
    }
  });

  test('client-credentials-same-origin: another site or origin is refused, even with the token', async () => {
    const h = on();
    const { cookies, csrf } = await signIn(h);
    for (const headers of [
      { 'sec-fetch-site': 'cross-site', 'x-csrf-token': csrf },
      { 'sec-fetch-site': 'same-site', 'x-csrf-token': csrf },
      { origin: 'https://evil.example', 'x-csrf-token': csrf },
    ]) {
      for (const path of ['/api/session', '/api/credentials']) {
        const res = await h.app({ path, cookies, headers });
        expect(res.status).toBe(403);
        expect(res.body).not.toContain(csrf);
      }
    }
  });

  test('an expiring session gets 401: sign in again', async () => {
    const h = on();
    const { cookies, csrf } = await signIn(h);
    h.clock.t += 3600_000 - 30_000;
    const res = await h.app({
      path: '/api/credentials',
      cookies,
      headers: { ...sameOrigin, 'x-csrf-token': csrf },
    });
    expect(res.status).toBe(401);
  });
});
