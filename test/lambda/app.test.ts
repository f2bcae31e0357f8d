import { FILES_PER_PAGE } from '../../lambda/callback/routes-files';
import { safeReturnTo } from '../../lambda/callback/routes-sign-in';
import { filesPage } from '../../lambda/callback/views';
import { downloadHref, filesPageControls } from '../support/files-page';
import { decodeEntities } from '../../local/scripted-browser';
import {
  MAX_PLANNED_PARTS,
  MIN_PART_BYTES,
  MULTIPART_THRESHOLD_BYTES,
  planParts,
} from '../../lambda/callback/uploads';
import { CookieSealer } from '../../lambda/callback/cookies';
import { SignInError, type StoredObject, UploadRefusedError } from '../../lambda/callback/ports';
import {
  COOKIE_KEY,
  config,
  harness,
  type Harness,
  ID_TOKEN,
  OTHER_KEY,
  SECRET_ACCESS_KEY,
  SESSION_TOKEN,
  setCookies,
  signIn,
  startLogin,
} from '../support/app-harness';

describe('sign-in flow', () => {
  test('signs in: login redirect, callback exchanges once, session cookie, files page', async () => {
    const h = harness();
    const { res, session } = await signIn(h);
    expect(res.headers.location).toBe('/');
    expect(h.calls.finish).toHaveLength(1);
    expect(h.calls.sts).toEqual(['google']);
    const page = await h.app({ cookies: { '__Host-wif-session': session } });
    expect(page.status).toBe(200);
    expect(page.body).toContain('Signed in with Google as Alice');
    expect(h.calls.storage).toContain('list ASIAUSER users/google/1001/');
  });

  test('zero STS calls on page views after sign-in', async () => {
    const h = harness();
    const { cookies } = await signIn(h);
    for (let i = 0; i < 5; i++) expect((await h.app({ cookies })).status).toBe(200);
    expect(h.calls.sts).toHaveLength(1);
  });

  test('the callback passes the stored state, nonce and PKCE verifier to the IdP client', async () => {
    const h = harness();
    await signIn(h);
    expect(h.calls.finish[0].expected).toEqual({
      state: 'state-google-1',
      nonce: 'nonce-1',
      codeVerifier: 'verifier-1',
    });
  });

  test('state-required: missing or wrong state -> 400 and no token request', async () => {
    const h = harness();
    const { loginCookie } = await startLogin(h);
    for (const rawQuery of ['code=c', 'code=c&state=', 'code=c&state=forged']) {
      const res = await h.app({
        path: '/oauth2callback/google',
        rawQuery,
        cookies: { '__Host-wif-login': loginCookie },
      });
      expect(res.status).toBe(400);
    }
    const noCookie = await h.app({
      path: '/oauth2callback/google',
      rawQuery: 'code=c&state=state-google-1',
    });
    expect(noCookie.status).toBe(400);
    expect(h.calls.finish).toHaveLength(0);
    expect(h.calls.sts).toHaveLength(0);
  });

  test('state-single-use: a replayed code+state -> 400, exchanged only once', async () => {
    const h = harness();
    const { state, loginCookie } = await startLogin(h);
    const req = {
      path: '/oauth2callback/google',
      rawQuery: `code=c&state=${state}`,
      cookies: { '__Host-wif-login': loginCookie },
    };
    expect((await h.app(req)).status).toBe(302);
    const replay = await h.app(req);
    expect(replay.status).toBe(400);
    expect(replay.body).toContain('already used');
    expect(h.calls.finish).toHaveLength(1);
  });

  test('idp-error-escaped: an IdP error is shown HTML-escaped', async () => {
    const h = harness();
    const { state, loginCookie } = await startLogin(h);
    const res = await h.app({
      path: '/oauth2callback/google',
      rawQuery: `error=access_denied&error_description=${encodeURIComponent('<script>alert(1)</script>')}&state=${state}`,
      cookies: { '__Host-wif-login': loginCookie },
    });
    expect(res.status).toBe(400);
    expect(res.body).toContain('Sign-in failed');
    expect(res.body).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(res.body).not.toContain('<script>alert');
    expect(h.calls.finish).toHaveLength(0);
  });

  test('callback-params-unique: duplicated parameters, or code and error together -> 400', async () => {
    const h = harness();
    const { state, loginCookie } = await startLogin(h);
    for (const rawQuery of [
      `code=a&code=b&state=${state}`,
      `code=a&state=${state}&state=${state}`,
      `code=a&error=x&state=${state}`,
    ]) {
      const res = await h.app({
        path: '/oauth2callback/google',
        rawQuery,
        cookies: { '__Host-wif-login': loginCookie },
      });
      expect(res.status).toBe(400);
    }
    expect(h.calls.finish).toHaveLength(0);
  });

  test('callback-iss-checked: an authorization response the IdP client rejects (e.g. wrong iss) -> 400, no STS call', async () => {
    const h = harness();
    h.setIdentity(
      new SignInError('bad_request', 'The sign-in response was not valid.', 'iss mismatch'),
    );
    const { state, loginCookie } = await startLogin(h);
    const res = await h.app({
      path: '/oauth2callback/google',
      rawQuery: `code=c&state=${state}&iss=https://evil`,
      cookies: { '__Host-wif-login': loginCookie },
    });
    expect(res.status).toBe(400);
    expect(h.calls.sts).toHaveLength(0);
    // The iss parameter reaches the IdP client, which validates it (RFC 9207).
    expect(new URL(h.calls.finish[0].url).searchParams.get('iss')).toBe('https://evil');
  });

  test("state-bound-to-provider: a response with Google's state at Amazon's callback is rejected", async () => {
    const h = harness();
    const { state, loginCookie } = await startLogin(h, 'google');
    const res = await h.app({
      path: '/oauth2callback/amazon',
      rawQuery: `code=c&state=${state}`,
      cookies: { '__Host-wif-login': loginCookie },
    });
    expect(res.status).toBe(400);
    expect(res.body).toContain('does not belong to this provider');
    expect(h.calls.finish).toHaveLength(0);
  });

  test.each([
    'https://evil.example',
    '//evil.example',
    '/\\evil.example',
    '%2F%2Fevil.example',
    '/%2F%2Fevil.example',
    '/\\/evil',
    'javascript:alert(1)',
    '/ok\r\nx',
    '/.//evil.example',
    '/%2e//evil.example',
    '/a/..//evil.example',
  ])('return-to-same-origin: return_to %p is ignored, the user lands on /', async (target) => {
    const h = harness();
    const { state, loginCookie } = await startLogin(
      h,
      'google',
      `return_to=${encodeURIComponent(target)}`,
    );
    const res = await h.app({
      path: '/oauth2callback/google',
      rawQuery: `code=c&state=${state}`,
      cookies: { '__Host-wif-login': loginCookie },
    });
    expect(res.headers.location).toBe('/');
  });

  test('return-to-same-origin: a same-origin relative return_to is kept', async () => {
    expect(safeReturnTo('/?uploaded=a')).toBe('/?uploaded=a');
    const h = harness();
    const { state, loginCookie } = await startLogin(
      h,
      'google',
      `return_to=${encodeURIComponent('/privacy')}`,
    );
    const res = await h.app({
      path: '/oauth2callback/google',
      rawQuery: `code=c&state=${state}`,
      cookies: { '__Host-wif-login': loginCookie },
    });
    expect(res.headers.location).toBe('/privacy');
  });

  test('redirect-uri-from-config: redirect_uri comes from configuration, never from the Host header', async () => {
    const h = harness();
    const { state, loginCookie } = await startLogin(h);
    await h.app({
      path: '/oauth2callback/google',
      rawQuery: `code=c&state=${state}`,
      headers: { host: 'evil.example', 'x-forwarded-host': 'evil.example' },
      cookies: { '__Host-wif-login': loginCookie },
    });
    expect(h.calls.start).toEqual(['https://files.example.com/oauth2callback/google']);
    expect(h.calls.finish[0].redirectUri).toBe('https://files.example.com/oauth2callback/google');
    expect(
      h.calls.finish[0].url.startsWith('https://files.example.com/oauth2callback/google?'),
    ).toBe(true);
  });

  test('no-referrer-leak: the callback answers 302 to a clean URL with no-referrer', async () => {
    const h = harness();
    const { res } = await signIn(h);
    expect(res.headers['referrer-policy']).toBe('no-referrer');
    expect(res.headers.location).not.toMatch(/code|state/);
    expect(res.body).toBe('');
  });

  test('cookie-attributes: cookies are __Host-, Secure, HttpOnly, SameSite=Lax; the login cookie is short-lived', async () => {
    const h = harness();
    const { res: loginRes } = await startLogin(h);
    const login = setCookies(loginRes)['__Host-wif-login'].attrs;
    expect(login).toMatch(/Max-Age=600/);
    for (const attrs of [login, setCookies((await signIn(h)).res)['__Host-wif-session'].attrs]) {
      expect(attrs).toMatch(/HttpOnly/);
      expect(attrs).toMatch(/Secure/);
      expect(attrs).toMatch(/SameSite=Lax/);
      expect(attrs).toMatch(/Path=\//);
      expect(attrs).not.toMatch(/Domain=/);
    }
  });

  test('cookie-attributes: the session cookie lives no longer than the credentials', async () => {
    const h = harness();
    const { res } = await signIn(h);
    expect(setCookies(res)['__Host-wif-session'].attrs).toMatch(/Max-Age=3600/);
  });

  test('sandbox on plain http: no Secure flag and no __Host- prefix', async () => {
    const h = harness(config({ baseUrl: 'http://127.0.0.1:8080', sandbox: true }));
    const res = await h.app({ path: '/login/google' });
    expect(res.cookies[0]).toMatch(/^wif-login=/);
    expect(res.cookies[0]).not.toMatch(/Secure/);
    expect(res.headers['strict-transport-security']).toBeUndefined();
  });

  test('subject-safe-for-prefix: an unsafe subject is refused before STS', async () => {
    for (const subject of ['a/b', 'a*', 'a?', '$x', '', 'x'.repeat(256), 'a\u0000b']) {
      const h = harness();
      h.setIdentity({ subject, webIdentityToken: ID_TOKEN });
      const { state, loginCookie } = await startLogin(h);
      const res = await h.app({
        path: '/oauth2callback/google',
        rawQuery: `code=c&state=${state}`,
        cookies: { '__Host-wif-login': loginCookie },
      });
      expect(res.status).toBe(400);
      expect(h.calls.sts).toHaveLength(0);
    }
  });

  test('unknown provider -> 404; POST to /login -> 405', async () => {
    const h = harness();
    expect((await h.app({ path: '/login/twitter' })).status).toBe(404);
    expect((await h.app({ path: '/oauth2callback/twitter' })).status).toBe(404);
    const post = await h.app({ path: '/login/google', method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET');
  });
});

describe('errors become pages', () => {
  async function callbackWith(error: Error) {
    const h = harness();
    h.setIdentity({ subject: '1001', webIdentityToken: ID_TOKEN });
    h.setSts(error);
    const { state, loginCookie } = await startLogin(h);
    const res = await h.app({
      path: '/oauth2callback/google',
      rawQuery: `code=c&state=${state}`,
      cookies: { '__Host-wif-login': loginCookie },
    });
    return { h, res };
  }

  test('idp-failure-502: IdP down -> 502 with a generic message; the detail only in logs', async () => {
    const h = harness();
    h.setIdentity(
      new SignInError(
        'idp_unavailable',
        'The sign-in provider is not answering. Try again later.',
        'ECONNREFUSED 10.0.0.1:443',
      ),
    );
    const { state, loginCookie } = await startLogin(h);
    const res = await h.app({
      path: '/oauth2callback/google',
      rawQuery: `code=c&state=${state}`,
      cookies: { '__Host-wif-login': loginCookie },
    });
    expect(res.status).toBe(502);
    expect(res.body).not.toContain('ECONNREFUSED');
    expect(JSON.stringify(h.logs)).toContain('ECONNREFUSED');
  });

  test('pkce-verifier-mismatch: invalid_grant from the IdP (PKCE mismatch) -> 400, no STS call', async () => {
    const h = harness();
    h.setIdentity(
      new SignInError('token_rejected', 'The sign-in could not be completed.', 'invalid_grant'),
    );
    const { state, loginCookie } = await startLogin(h);
    const res = await h.app({
      path: '/oauth2callback/google',
      rawQuery: `code=c&state=${state}`,
      cookies: { '__Host-wif-login': loginCookie },
    });
    expect(res.status).toBe(400);
    expect(h.calls.sts).toHaveLength(0);
  });

  test('foreign-token-refused: a token for another app -> 403 "not allowed"', async () => {
    const { res } = await callbackWith(
      new SignInError('not_allowed', 'This account is not allowed to use this app.'),
    );
    expect(res.status).toBe(403);
    expect(res.body).toContain('not allowed');
  });

  test('expired-token-restarts-sign-in: expired or rejected token -> sign in again (401)', async () => {
    const { res } = await callbackWith(
      new SignInError('restart', 'Your sign-in expired. Please sign in again.'),
    );
    expect(res.status).toBe(401);
    expect(res.body).toContain('href="/"');
  });

  test('sts-retry-then-503: STS unavailable after retries -> 503 with Retry-After', async () => {
    const { res } = await callbackWith(
      new SignInError('sts_unavailable', 'Sign-in is busy. Try again in a moment.'),
    );
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('5');
  });

  test('oversized-token-refused: too large -> 400 with a clear message', async () => {
    const { res } = await callbackWith(
      new SignInError('too_large', 'Your sign-in token is too large for AWS.'),
    );
    expect(res.status).toBe(400);
    expect(res.body).toContain('too large');
  });

  test('an unexpected error -> 500 generic page, message only in logs', async () => {
    const { res, h } = await callbackWith(new Error('boom at 10.1.2.3'));
    expect(res.status).toBe(500);
    expect(res.body).not.toContain('boom');
    expect(JSON.stringify(h.logs)).toContain('boom');
  });

  test('credentials-never-exposed: credentials and tokens never reach the page, headers or logs in clear', async () => {
    const h = harness();
    const { res, cookies, csrf } = await signIn(h);
    const pages = [
      res,
      await h.app({ cookies }),
      await h.app({
        path: '/upload-url',
        method: 'POST',
        cookies,
        body: `csrf=${csrf}&name=a.txt`,
      }),
    ];
    const everything = JSON.stringify(pages) + JSON.stringify(h.logs);
    for (const secret of [
      SECRET_ACCESS_KEY,
      SESSION_TOKEN.slice(0, 30),
      ID_TOKEN,
      'thecode',
      'ASIAUSER',
    ]) {
      expect(everything).not.toContain(secret);
    }
  });
});

describe('session', () => {
  test('bad-cookie-signed-out: a tampered, foreign or garbage session cookie = signed out, never a 500', async () => {
    const h = harness();
    const { session } = await signIn(h);
    const flipped = session.slice(0, -3) + (session.endsWith('A') ? 'BBB' : 'AAA');
    const foreign = CookieSealer.fromSecret(OTHER_KEY).seal('session', {
      p: 'google',
      sub: 'evil',
      exp: Date.now() + 1e9,
    });
    for (const value of [flipped, foreign, 'garbage', 'v1.x.y.z', '', 'v1..AAAA.AAAA']) {
      const res = await h.app({ cookies: { '__Host-wif-session': value } });
      expect(res.status).toBe(200);
      expect(res.body).toContain('Sign in with Google');
    }
  });

  test('bad-cookie-signed-out: a login cookie cannot be used as a session cookie (purpose-bound)', async () => {
    const h = harness();
    const { loginCookie } = await startLogin(h);
    const res = await h.app({ cookies: { '__Host-wif-session': loginCookie } });
    expect(res.body).toContain('Sign in with Google');
  });

  test('expired-session-signs-in-again: expired credentials -> sign in again, cookie cleared, never a 500', async () => {
    const h = harness();
    const { cookies } = await signIn(h);
    h.clock.t += 3600_000;
    const res = await h.app({ cookies });
    expect(res.status).toBe(200);
    expect(res.body).toContain('Your session expired');
    expect(res.cookies[0]).toMatch(/^__Host-wif-session=;.*Max-Age=0/);
    const download = await h.app({ path: '/download', rawQuery: 'name=a', cookies });
    expect(download.status).toBe(401);
  });

  test('expired-session-signs-in-again: S3 saying ExpiredToken -> sign in again', async () => {
    const h = harness();
    const { cookies } = await signIn(h);
    h.storageError.list = Object.assign(new Error('expired'), { name: 'ExpiredToken' });
    const res = await h.app({ cookies });
    expect(res.status).toBe(200);
    expect(res.body).toContain('Your session expired');
  });

  test('cookie keys rotate: a cookie sealed with an older key still opens', () => {
    const old = CookieSealer.fromSecret(OTHER_KEY);
    const rotated = CookieSealer.fromSecret(`${COOKIE_KEY}\n${OTHER_KEY}`);
    const sealed = old.seal('session', { a: 1 });
    expect(rotated.open('session', sealed)).toEqual({ a: 1 });
    expect(rotated.open('login', sealed)).toBeUndefined();
    expect(CookieSealer.fromSecret(COOKIE_KEY).open('session', sealed)).toBeUndefined();
    expect(() => CookieSealer.fromSecret('short')).toThrow(/at least 32 characters/);
  });

  test('sign-out-post-csrf: sign-out is a POST with CSRF; afterwards the files page needs sign-in', async () => {
    const h = harness();
    const { cookies, csrf } = await signIn(h);
    expect((await h.app({ path: '/logout', cookies })).status).toBe(405);
    const res = await h.app({ path: '/logout', method: 'POST', cookies, body: `csrf=${csrf}` });
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/');
    expect(res.cookies[0]).toMatch(/^__Host-wif-session=;.*Max-Age=0/);
  });
});

describe('files', () => {
  async function signedIn() {
    const h = harness();
    const s = await signIn(h);
    h.objects.set('users/google/1001/report.pdf', {
      name: 'report.pdf',
      size: 2048,
      lastModified: new Date('2026-11-01T10:00:00Z'),
    });
    h.objects.set('users/google/2002/secret.txt', {
      name: 'secret.txt',
      size: 1,
      lastModified: new Date(),
    });
    /** GET /download of `name` (URL-encoded once, as the page's links have it). */
    const downloadOf = (name: string) =>
      h.app({
        path: '/download',
        rawQuery: `name=${encodeURIComponent(name)}`,
        cookies: s.cookies,
      });
    /** POST /delete of `name` with the CSRF token, as the page's form has it. */
    const remove = (name: string) =>
      h.app({
        path: '/delete',
        method: 'POST',
        cookies: s.cookies,
        body: new URLSearchParams({ csrf: s.csrf, name }).toString(),
      });
    return { h, ...s, downloadOf, remove };
  }

  test('lists only the own prefix, with download and delete controls', async () => {
    const { h, cookies } = await signedIn();
    const res = await h.app({ cookies });
    expect(res.body).toContain('report.pdf');
    expect(res.body).toContain('2.0 KB');
    expect(res.body).not.toContain('secret.txt');
    expect(res.body).toContain('href="/download?name=report.pdf"');
  });

  test('download redirects to a presigned URL for the own key only', async () => {
    const { h, cookies } = await signedIn();
    const res = await h.app({ path: '/download', rawQuery: 'name=report.pdf', cookies });
    expect(res.status).toBe(302);
    expect(res.headers.location).toContain('users/google/1001/report.pdf');
    expect(h.calls.storage).toContain('presignGet users/google/1001/report.pdf');
  });

  test("other-users-object-404: another user's or a missing object -> 404 without telling which", async () => {
    const { h, cookies } = await signedIn();
    const missing = await h.app({ path: '/download', rawQuery: 'name=secret.txt', cookies });
    expect(missing.status).toBe(404);
    expect(h.calls.storage).toContain('exists users/google/1001/secret.txt');
    expect(h.calls.storage.some((c) => c.includes('2002'))).toBe(false);
  });

  test.each([
    ['../2002/secret.txt'],
    ['/etc/passwd'],
    ['a/b'],
    ['a\\b'],
    ['%2F..%2F2002'],
    ['%41.txt'],
    ['nul\u0000byte'],
    ['tab\tname'],
    ['..'],
    ['star*'],
    ['what?'],
    [' leading space'],
    ['trailing space '],
    ['x'.repeat(1100)],
    [''],
  ])(
    'object-name-validated: a new name %p from the upload page -> 400, no S3 call',
    async (name) => {
      const { h, cookies, csrf } = await signedIn();
      const before = h.calls.storage.length;
      const upload = await h.app({
        path: '/upload-url',
        method: 'POST',
        cookies,
        body: new URLSearchParams({ csrf, name }).toString(),
      });
      expect(upload.status).toBe(400);
      expect(JSON.parse(upload.body).error).toMatch(/name/);
      expect(h.calls.storage.length).toBe(before);
    },
  );

  test.each([['x'.repeat(1100)], ['']])(
    'object-name-validated: download and delete of %p -> 400 with a readable page, no S3 call',
    async (name) => {
      const { h, cookies, remove } = await signedIn();
      const before = h.calls.storage.length;
      for (const rawQuery of [
        `name=${encodeURIComponent(name)}`,
        // The same name arriving URL-encoded once more (%2F decoded by the query parser).
        `name=${name.replace(/\//g, '%2F')}`,
      ]) {
        const download = await h.app({ path: '/download', rawQuery, cookies });
        expect(download.status).toBe(400);
        expect(download.body).toContain('<h1>Invalid file name</h1>');
        expect(download.body).toContain('Back to your files');
      }
      const del = await remove(name);
      expect(del.status).toBe(400);
      expect(del.body).toContain('<h1>Invalid file name</h1>');
      expect(h.calls.storage.length).toBe(before);
    },
  );

  test.each([['../2002/secret.txt'], ['a/../../2002/secret.txt'], ['./x'], ['a/.'], ['..']])(
    'listed-names-round-trip: %p is not downloaded (a browser would resolve its dot segment), and a delete asks only for the exact own key',
    async (name) => {
      const { h, downloadOf, remove } = await signedIn();
      const before = h.calls.storage.length;
      const download = await downloadOf(name);
      expect(download.status).toBe(400);
      expect(download.body).toContain('A browser cannot download a name with a');
      expect(h.calls.storage.length).toBe(before);
      const del = await remove(name);
      // Not there: S3 keys are flat, so the `..` reaches no other user's key.
      expect(del.status).toBe(404);
      expect(h.calls.storage.slice(before)).toEqual([`exists users/google/1001/${name}`]);
    },
  );

  test('other-users-object-404: names that only look like a path stay inside the own prefix', async () => {
    const { h, downloadOf, remove } = await signedIn();
    for (const name of ['/2002/secret.txt', '%2F..%2F2002%2Fsecret.txt', '..\\2002\\secret.txt']) {
      const download = await downloadOf(name);
      expect(download.status).toBe(404);
      const del = await remove(name);
      expect(del.status).toBe(404);
      expect(h.calls.storage).toContain(`exists users/google/1001/${name}`);
    }
    expect(h.calls.storage.filter((c) => !c.includes('users/google/1001/'))).toEqual([]);
    expect(h.objects.has('users/google/2002/secret.txt')).toBe(true);
  });

  test('large-uploads-direct-to-s3: upload-url returns a presigned S3 PUT (the file never goes through the Lambda)', async () => {
    const { h, cookies, csrf } = await signedIn();
    const res = await h.app({
      path: '/upload-url',
      method: 'POST',
      cookies,
      body: `csrf=${csrf}&name=${encodeURIComponent('big movie.mp4')}&type=video/mp4`,
      headers: { origin: 'https://files.example.com' },
    });
    expect(res.status).toBe(200);
    const body = JSON.parse(res.body);
    expect(body.url).toMatch(
      /^https:\/\/user-data-bucket\.s3\.eu-west-1\.amazonaws\.com\/users\/google\/1001\/big%20movie\.mp4\?/,
    );
    expect(body.headers).toEqual({ 'content-type': 'video/mp4', 'if-none-match': '*' });
    const tooBig = await h.app({
      path: '/upload-url',
      method: 'POST',
      cookies,
      body: `csrf=${csrf}&name=a&pad=${'x'.repeat(20_000)}`,
    });
    expect(tooBig.status).toBe(413);
  });

  test('an odd content type is replaced by application/octet-stream', async () => {
    const { h, cookies, csrf } = await signedIn();
    await h.app({
      path: '/upload-url',
      method: 'POST',
      cookies,
      body: `csrf=${csrf}&name=a.html&type=${encodeURIComponent('text/html; charset="x"\r\nX-Evil: 1')}`,
    });
    expect(h.calls.storage).toContain(
      'presignPut users/google/1001/a.html application/octet-stream',
    );
  });

  test('delete removes the own key and redirects with 303', async () => {
    const { h, cookies, csrf } = await signedIn();
    const res = await h.app({
      path: '/delete',
      method: 'POST',
      cookies,
      body: `csrf=${csrf}&name=report.pdf`,
    });
    expect(res.status).toBe(303);
    expect(h.objects.has('users/google/1001/report.pdf')).toBe(false);
  });

  test('csrf-on-state-changes: upload-url, delete and sign-out without a valid CSRF token -> 403, nothing done', async () => {
    const { h, cookies, csrf } = await signedIn();
    for (const path of ['/upload-url', '/delete', '/logout']) {
      for (const body of [
        'name=report.pdf',
        'csrf=wrong&name=report.pdf',
        `csrf=${csrf.slice(0, -1)}&name=report.pdf`,
      ]) {
        const res = await h.app({ path, method: 'POST', cookies, body });
        expect(res.status).toBe(403);
        expect(res.cookies).toEqual([]);
      }
      const crossSite = await h.app({
        path,
        method: 'POST',
        cookies,
        body: `csrf=${csrf}&name=report.pdf`,
        headers: { origin: 'https://evil.example' },
      });
      expect(crossSite.status).toBe(403);
    }
    expect(h.objects.has('users/google/1001/report.pdf')).toBe(true);
    expect(
      h.calls.storage.filter((c) => c.startsWith('presignPut') || c.startsWith('delete')),
    ).toEqual([]);
  });

  test('without a session, file routes ask to sign in', async () => {
    const h = harness();
    expect((await h.app({ path: '/download', rawQuery: 'name=a' })).status).toBe(401);
    expect((await h.app({ path: '/upload-url', method: 'POST', body: 'name=a' })).status).toBe(401);
    expect((await h.app({ path: '/delete', method: 'POST', body: 'name=a' })).status).toBe(401);
  });
});

describe('file manager: exact names, folders, pages, notices', () => {
  const OWN = 'users/google/1001/';
  const file = (size = 1): StoredObject => ({
    name: 'ignored: the fake lists by key',
    size,
    lastModified: new Date('2026-11-01T10:00:00Z'),
  });

  async function withFiles(...names: string[]) {
    const h = harness();
    const s = await signIn(h);
    for (const name of names) h.objects.set(OWN + name, file());
    const get = (href: string) => {
      const u = new URL(href, 'https://files.example.com');
      return h.app({ path: u.pathname, rawQuery: u.search.slice(1), cookies: s.cookies });
    };
    const remove = (name: string) =>
      h.app({
        path: '/delete',
        method: 'POST',
        cookies: s.cookies,
        body: new URLSearchParams({ csrf: s.csrf, name }).toString(),
      });
    return { h, ...s, get, remove };
  }

  const controls = filesPageControls;

  // As the AWS CLI or an SDK can put them under the own prefix (macOS writes NFD names).
  const ODD_NAMES = [
    'cafe\u0301.txt',
    'back\\slash.txt',
    'what?.txt',
    '%41.txt',
    '%2F..%2Fx',
    ' leading space.txt',
    'trailing space.txt ',
    'plus+and space.txt',
    '#hash&x=y;z.txt',
    'star*.txt',
    '<i>"quoted" & \'single\'',
  ];

  test.each(ODD_NAMES)(
    'listed-names-round-trip: %p is listed, downloaded and deleted by its exact key',
    async (name) => {
      const { h, cookies, get, remove } = await withFiles(name, 'other.txt');
      const page = await h.app({ cookies });
      const { downloads, deletes } = controls(page.body);
      expect(downloads).toContain(name);
      expect(deletes).toContain(name);
      // Shown as text, escaped: never markup.
      expect(page.body).not.toContain('<i>"quoted"');

      const href = downloadHref(page.body, name)!;
      const download = await get(href);
      expect(download.status).toBe(302);
      expect(h.calls.storage).toContain(`presignGet ${OWN}${name}`);

      const del = await remove(name);
      expect(del.status).toBe(303);
      expect(del.headers.location).toBe('/?done=deleted');
      expect(h.calls.storage).toContain(`delete ${OWN}${name}`);
      expect([...h.objects.keys()]).toEqual([`${OWN}other.txt`]);
    },
  );

  test('listed-names-round-trip: NFD and NFC spellings are two files, each reached exactly', async () => {
    const nfd = 'cafe\u0301.txt';
    const nfc = 'caf\u00e9.txt';
    const { h, cookies, remove } = await withFiles(nfd, nfc);
    expect(controls((await h.app({ cookies })).body).deletes.sort()).toEqual([nfd, nfc].sort());
    expect((await remove(nfd)).status).toBe(303);
    expect([...h.objects.keys()]).toEqual([OWN + nfc]);
    expect((await remove(nfd)).status).toBe(404);
    expect([...h.objects.keys()]).toEqual([OWN + nfc]);
  });

  test('listed-names-round-trip: a download is offered under the last segment of its name', async () => {
    const { h, get } = await withFiles('docs/2025/q1 report.pdf');
    const res = await get(`/download?name=${encodeURIComponent('docs/2025/q1 report.pdf')}`);
    expect(res.status).toBe(302);
    expect(h.calls.storage).toContain(`presignGet ${OWN}docs/2025/q1 report.pdf`);
    expect(h.calls.storage).toContain('downloadName q1 report.pdf');
  });

  test.each([
    'bell\u0007.txt',
    'cr\rlf\n.txt',
    'crlf\r\n.txt',
    'nul\u0000.txt',
    'del\u007f c1\u0085.txt',
    // A percent sign in the name itself: name_pct is decoded exactly once.
    'pct%41%25 bell\u0007.txt',
  ])(
    'listed-names-round-trip: %j (control characters) is downloaded and deleted by its exact key, through the controls the page carries',
    async (name) => {
      const { h, cookies, csrf, get } = await withFiles(name, `${name}x`, 'other.txt');
      const page = await h.app({ cookies });
      // Shown with visible symbols, never raw; the form carries it percent-encoded.
      expect(page.body).not.toMatch(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/);
      const { downloads, deletes } = controls(page.body);
      expect(downloads).toContain(name);
      expect(deletes).toContain(name);

      const download = await get(downloadHref(page.body, name)!);
      expect(download.status).toBe(302);
      expect(h.calls.storage).toContain(`presignGet ${OWN}${name}`);
      expect(h.calls.storage).toContain(`downloadName ${name}`);

      // The delete form's fields exactly as the page has them, as a browser posts them.
      const field = [
        ...page.body.matchAll(/<input type="hidden" name="name_pct" value="([^"]*)">/g),
      ].find((m) => decodeURIComponent(decodeEntities(m[1])) === name)!;
      const del = await h.app({
        path: '/delete',
        method: 'POST',
        cookies,
        body: new URLSearchParams({ csrf, name_pct: decodeEntities(field[1]) }).toString(),
      });
      expect(del.status).toBe(303);
      expect(h.calls.storage).toContain(`delete ${OWN}${name}`);
      expect([...h.objects.keys()].sort()).toEqual([`${OWN}${name}x`, `${OWN}other.txt`].sort());
      // Logs never carry the name.
      expect(JSON.stringify(h.logs)).not.toContain(name);
    },
  );

  test('listed-names-round-trip: a name with a "." or ".." segment is listed with Delete and no download link, with the reason', async () => {
    const { h, cookies, remove } = await withFiles('ok.txt', '..', 'dir/.', 'dir/keep.txt');
    const page = await h.app({ cookies });
    expect(controls(page.body)).toMatchObject({
      downloads: ['ok.txt'],
      deletes: ['..', 'ok.txt'],
      folders: ['/?prefix=dir%2F'],
    });
    expect(page.body).toContain('A browser cannot download a name with a');
    const dir = await h.app({ cookies, rawQuery: 'prefix=dir%2F' });
    expect(controls(dir.body)).toMatchObject({
      downloads: ['dir/keep.txt'],
      deletes: ['dir/.', 'dir/keep.txt'],
    });
    // Deleted by its exact key, and back to the folder it was in.
    const del = await remove('dir/.');
    expect(del.status).toBe(303);
    expect(del.headers.location).toBe('/?prefix=dir%2F&done=deleted');
    expect(h.calls.storage).toContain(`delete ${OWN}dir/.`);
    const top = await remove('..');
    expect(top.status).toBe(303);
    expect(top.headers.location).toBe('/?done=deleted');
    expect([...h.objects.keys()].sort()).toEqual([`${OWN}dir/keep.txt`, `${OWN}ok.txt`]);
  });

  test('listed-names-round-trip: a name in a folder that cannot be opened goes back to the top once deleted', async () => {
    const { h, remove } = await withFiles('dots/../x.txt');
    const del = await remove('dots/../x.txt');
    expect(del.status).toBe(303);
    expect(del.headers.location).toBe('/?done=deleted');
    expect(h.objects.size).toBe(0);
  });

  test('folder-within-prefix: a folder with a ".." segment or a control character is listed without a link, with a hint', async () => {
    const { h, cookies } = await withFiles('dots/../x.txt', 'bell\u0007/y.txt');
    const top = await h.app({ cookies });
    expect(controls(top.body).folders).toEqual(['/?prefix=dots%2F']);
    expect(top.body).toContain('\u2407/');
    expect(top.body).toContain('This folder name has control characters');
    const dots = await h.app({ cookies, rawQuery: 'prefix=dots%2F' });
    expect(controls(dots.body).folders).toEqual([]);
    expect(dots.body).toContain('../');
  });

  test('delete-missing-404: deleting a name that is not there says so and claims nothing', async () => {
    const { h, remove } = await withFiles('present.txt');
    const res = await remove('absent.txt');
    expect(res.status).toBe(404);
    expect(res.body).toContain('not found, so nothing was deleted');
    expect(res.body).not.toMatch(/\bDeleted\b/);
    expect(res.body).toContain('href="/"');
    expect(h.calls.storage).toContain(`exists ${OWN}absent.txt`);
    expect(h.calls.storage.some((c) => c.startsWith('delete'))).toBe(false);
    expect(h.logs.some((l) => l.event === 'delete_missing')).toBe(true);
    // A missing name in a folder leads back to that folder.
    expect((await remove('docs/absent.txt')).body).toContain('href="/?prefix=docs%2F"');
  });

  test('delete-missing-404: another user\'s file is "not found" too, and stays', async () => {
    const { h, remove } = await withFiles();
    h.objects.set('users/google/2002/secret.txt', file());
    expect((await remove('secret.txt')).status).toBe(404);
    expect(h.objects.has('users/google/2002/secret.txt')).toBe(true);
  });

  test.each([
    ['deleted=%3Cb%3EYour%20account%20is%20locked%3C%2Fb%3E', 'account is locked'],
    ['uploaded=Call%20%2B1-555-0100%20to%20restore', 'Call +1-555-0100'],
    ['done=uploaded&name=Call%20%2B1-555-0100', 'Call +1-555-0100'],
    ['done=deleted&name=Call%20%2B1-555-0100', 'Call +1-555-0100'],
    ['done=%3Cscript%3Ealert(1)', 'alert(1)'],
    ['done=constructor&name=x', 'function'],
  ])(
    'messages-from-app: ?%s puts no text of the URL on the page',
    async (rawQuery, attackerText) => {
      const { h, cookies } = await withFiles('report.pdf');
      const res = await h.app({ cookies, rawQuery });
      expect(res.status).toBe(200);
      expect(res.body).not.toContain(attackerText);
      expect(res.body).toContain('report.pdf');
    },
  );

  test("messages-from-app: the notice is the app's text for a known code; a name only when listed", async () => {
    const { h, cookies } = await withFiles('report.pdf', 'docs/q1.pdf');
    const notice = async (rawQuery: string) =>
      /<p class="notice" role="status">([^<]*)<\/p>/.exec(
        (await h.app({ cookies, rawQuery })).body,
      )?.[1];
    expect(await notice('done=uploaded&name=report.pdf')).toBe('Uploaded report.pdf.');
    expect(await notice('done=uploaded&name=missing.pdf')).toBe('Your file was uploaded.');
    expect(await notice('prefix=docs%2F&done=uploaded&name=docs%2Fq1.pdf')).toBe(
      'Uploaded q1.pdf.',
    );
    expect(await notice('done=deleted&name=report.pdf')).toBe('The file was deleted.');
    expect(await notice('done=nothing')).toBeUndefined();
    expect(await notice('')).toBeUndefined();
  });

  test('messages-from-app: delete goes back to the folder with a message code only', async () => {
    const { remove } = await withFiles('docs/a b?.txt');
    const res = await remove('docs/a b?.txt');
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/?prefix=docs%2F&done=deleted');
  });

  test('folder-within-prefix: folders are listed as links that open them, with breadcrumbs', async () => {
    const { h, cookies, get } = await withFiles(
      'top.txt',
      'docs/a.txt',
      'docs/2025/q1.pdf',
      'we?ird %41/b.txt',
    );
    const root = await h.app({ cookies });
    expect(h.calls.storage).toContain(`list ASIAUSER ${OWN}`);
    const { folders, downloads } = controls(root.body);
    expect(downloads).toEqual(['top.txt']);
    expect(folders).toEqual(['/?prefix=docs%2F', '/?prefix=we%3Fird%20%2541%2F']);

    const weird = await get(folders[1]);
    expect(h.calls.storage).toContain(`list ASIAUSER ${OWN}we?ird %41/`);
    expect(controls(weird.body).downloads).toEqual(['we?ird %41/b.txt']);

    const docs = await get(folders[0]);
    expect(docs.status).toBe(200);
    expect(controls(docs.body).downloads).toEqual(['docs/a.txt']);
    expect(controls(docs.body).folders).toEqual(['/?prefix=docs%2F2025%2F']);
    expect(docs.body).toContain(
      '<nav class="breadcrumbs" aria-label="Folder"><a href="/">Your files</a>',
    );
    const deep = await get('/?prefix=docs%2F2025%2F');
    expect(controls(deep.body).downloads).toEqual(['docs/2025/q1.pdf']);
    expect(deep.body).toContain('<a href="/?prefix=docs%2F"><span class="name">docs</span></a>');
    // Uploads from a folder's page go into that folder.
    expect(deep.body).toContain('data-folder="docs/2025/"');
  });

  test.each([
    ['../2002/'],
    ['docs'],
    ['docs/../../2002/'],
    ['./'],
    ['a/./'],
    ['nul\u0000/'],
    ['x'.repeat(1100) + '/'],
  ])('folder-within-prefix: ?prefix=%p -> 400 with a readable page, no S3 call', async (folder) => {
    const { h, cookies } = await withFiles('a.txt');
    const before = h.calls.storage.length;
    const res = await h.app({ cookies, rawQuery: `prefix=${encodeURIComponent(folder)}` });
    expect(res.status).toBe(400);
    expect(res.body).toContain('<h1>Invalid folder</h1>');
    expect(res.body).toContain('Back to your files');
    expect(h.calls.storage.length).toBe(before);
  });

  test('folder-within-prefix: an empty-named folder ("//" in a key) is listed and opens', async () => {
    const { h, cookies, get } = await withFiles('a//b.txt');
    const a = await get('/?prefix=a%2F');
    expect(controls(a.body).folders).toEqual(['/?prefix=a%2F%2F']);
    await get('/?prefix=a%2F%2F');
    expect(h.calls.storage).toContain(`list ASIAUSER ${OWN}a//`);
    expect(controls((await h.app({ cookies, rawQuery: 'prefix=a%2F%2F' })).body).downloads).toEqual(
      ['a//b.txt'],
    );
  });

  test(`folder-within-prefix: pages of ${FILES_PER_PAGE}: a long list is never cut silently; "Next page" walks it all, once each`, async () => {
    const names = Array.from(
      { length: 2 * FILES_PER_PAGE + 50 },
      (_, i) => `f${String(i).padStart(4, '0')}.txt`,
    );
    const { h, cookies, get } = await withFiles(...names, 'sub/x.txt');
    const seen: string[] = [];
    let page = await h.app({ cookies });
    let pages = 1;
    expect(page.body).not.toContain('First page');
    for (;;) {
      const c = controls(page.body);
      expect(c.downloads.length + c.folders.length).toBeLessThanOrEqual(FILES_PER_PAGE);
      seen.push(...c.downloads, ...c.folders);
      if (!c.next) break;
      expect(page.body).toContain('More files than fit on this page.');
      expect(pages).toBeLessThan(10);
      page = await get(c.next);
      expect(page.status).toBe(200);
      expect(page.body).toContain('<a href="/">First page</a>');
      pages++;
    }
    expect(pages).toBe(3);
    expect(seen).toEqual([...names, '/?prefix=sub%2F']);
    expect(new Set(seen).size).toBe(seen.length);
  });

  test('folder-within-prefix: a bogus page token -> 400 with a readable page, never a 500', async () => {
    const { h, cookies } = await withFiles('a.txt');
    // One S3 refuses (forged but well-formed), then ones the app refuses without asking S3.
    const forged = await h.app({ cookies, rawQuery: 'after=Tforged' });
    expect(forged.status).toBe(400);
    expect(forged.body).toContain('<h1>Invalid page</h1>');
    expect(forged.body).toContain('not valid');
    const calls = h.calls.storage.length;
    for (const after of ['', 'with space', 'nul\u0000', 'é', 'x'.repeat(5000)]) {
      const res = await h.app({ cookies, rawQuery: `after=${encodeURIComponent(after)}` });
      expect(res.status).toBe(400);
      expect(res.body).toContain('<h1>Invalid page</h1>');
    }
    expect(h.calls.storage.length).toBe(calls);
    // In a folder, the way back is that folder's first page.
    const inFolder = await h.app({ cookies, rawQuery: 'prefix=d%2F&after=Tforged' });
    expect(inFolder.body).toContain('href="/?prefix=d%2F"');
  });

  test('folder-within-prefix: a next-page token the app would refuse back gets no link, and the page still says there is more', () => {
    const view = {
      providerName: 'Google',
      folder: '',
      folders: [],
      files: [],
      firstPage: true,
      csrf: 'c',
      expiresAt: 0,
    };
    for (const nextPage of ['with space', 'é', 'nul\u0000', 'x'.repeat(4097)]) {
      const body = filesPage({ ...view, nextPage });
      expect(body).toContain('More files than fit on this page.');
      expect(controls(body).next).toBeUndefined();
    }
    expect(controls(filesPage({ ...view, nextPage: 'Tok~en' })).next).toBe('/?after=Tok~en');
  });

  test("folder-within-prefix: an upload from a folder's page lands in that folder, nowhere else", async () => {
    const { h, csrf, cookies } = await withFiles();
    const post = (path: string, fields: Record<string, string>) =>
      h.app({
        path,
        method: 'POST',
        cookies,
        body: new URLSearchParams({ csrf, ...fields }).toString(),
      });
    const ok = await post('/upload-url', { folder: 'docs/we?ird %41/', name: 'a.txt' });
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body).name).toBe('a.txt');
    expect(h.calls.storage).toContain(
      `presignPut ${OWN}docs/we?ird %41/a.txt application/octet-stream`,
    );
    await post('/upload-complete', {
      folder: 'docs/',
      name: 'b.bin',
      uploadId: 'u1',
      parts: '[{"partNumber":1,"etag":"\\"0123456789abcdef0123456789abcdef\\""}]',
    });
    await post('/upload-abort', { folder: 'docs/', name: 'c.bin', uploadId: 'u2' });
    expect(h.calls.storage).toContain(`abortMultipart ASIAUSER ${OWN}docs/c.bin u2`);
    expect(
      h.calls.storage.some((c) => c.startsWith(`completeMultipart ASIAUSER ${OWN}docs/b.bin u1`)),
    ).toBe(true);
    const before = h.calls.storage.length;
    for (const folder of ['../2002/', 'docs', '/../', 'a/./', 'nul\u0000/']) {
      for (const path of ['/upload-url', '/upload-complete', '/upload-abort']) {
        const res = await post(path, { folder, name: 'a.txt', uploadId: 'u1', parts: '[]' });
        expect(res.status).toBe(400);
        expect(JSON.parse(res.body).error).toMatch(/Folder|folder/);
      }
    }
    expect(h.calls.storage.length).toBe(before);
  });
});

describe('pages and headers', () => {
  test('no-framing-strict-csp: every response forbids framing and carries a strict CSP', async () => {
    const h = harness();
    const responses = [
      await h.app({}),
      await h.app({ path: '/nope' }),
      await h.app({ path: '/privacy' }),
      await h.app({ path: '/healthz' }),
      await h.app({ path: '/login/google' }),
      await h.app({ path: '/static/app.js' }),
      await h.app({ path: '/oauth2callback/google' }),
    ];
    for (const res of responses) {
      expect(res.headers['content-security-policy']).toMatch(/frame-ancestors 'none'/);
      expect(res.headers['content-security-policy']).toMatch(
        /default-src 'none'; script-src 'self'/,
      );
      expect(res.headers['x-frame-options']).toBe('DENY');
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['referrer-policy']).toBe('no-referrer');
      expect(res.headers['strict-transport-security']).toMatch(/max-age=\d+/);
    }
  });

  test('CSP lets the page upload to the bucket and nowhere else', async () => {
    const res = await harness().app({});
    expect(res.headers['content-security-policy']).toContain(
      "connect-src 'self' https://user-data-bucket.s3.eu-west-1.amazonaws.com;",
    );
  });

  test('home lists a sign-in button per provider; no third-party content', async () => {
    const res = await harness().app({});
    expect(res.body).toContain('href="/login/google"');
    expect(res.body).toContain('href="/login/amazon"');
    expect(res.body).not.toMatch(/(src|href)="(https?:)?\/\//);
    expect(res.body).toMatch(/<html lang="en">/);
  });

  test('/privacy, /healthz, static assets, 404, HEAD', async () => {
    const h = harness();
    expect((await h.app({ path: '/privacy' })).body).toContain('We keep no user database');
    const health = await h.app({ path: '/healthz' });
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body)).toEqual({ status: 'ok' });
    const js = await h.app({ path: '/static/app.js' });
    expect(js.headers['content-type']).toMatch(/javascript/);
    expect(js.body).toContain('XMLHttpRequest');
    expect((await h.app({ path: '/static/../config.ts' })).status).toBe(404);
    expect((await h.app({ path: '/static/secrets.ts' })).status).toBe(404);
    expect((await h.app({ path: '/nope' })).status).toBe(404);
    const head = await h.app({ method: 'HEAD', path: '/privacy' });
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
  });
});

describe('multipart uploads (files over one PUT, straight from the browser to S3)', () => {
  const MiB = 1024 * 1024;
  const etag = (n: number) => `"${n.toString(16).padStart(32, '0')}"`;
  const partsJson = (count: number) =>
    JSON.stringify(Array.from({ length: count }, (_, i) => ({ partNumber: i + 1, etag: etag(i) })));

  async function signedIn() {
    const h = harness();
    const s = await signIn(h);
    const post = (path: string, fields: Record<string, string>, headers = {}) =>
      h.app({
        path,
        method: 'POST',
        cookies: s.cookies,
        body: new URLSearchParams(fields).toString(),
        headers,
      });
    return { h, ...s, post };
  }
  const multipartCalls = (h: Harness) =>
    h.calls.storage.filter((c) => /^(createMultipart|presign|completeMultipart|abort)/.test(c));

  test('a file up to the threshold (or of unknown size) gets the single presigned PUT', async () => {
    const { h, csrf, post } = await signedIn();
    for (const size of [undefined, '0', '1', String(MULTIPART_THRESHOLD_BYTES)]) {
      const res = await post('/upload-url', { csrf, name: 'a.bin', ...(size ? { size } : {}) });
      expect(res.status).toBe(200);
      expect(JSON.parse(res.body)).toEqual({
        name: 'a.bin',
        url: expect.stringContaining('/users/google/1001/a.bin?'),
        headers: { 'content-type': 'application/octet-stream', 'if-none-match': '*' },
      });
    }
    expect(h.calls.storage.some((c) => c.startsWith('createMultipart'))).toBe(false);
  });

  test('a larger file gets an upload id and one presigned URL per part, in its own prefix', async () => {
    const { h, csrf, post } = await signedIn();
    const size = 200 * MiB; // 64 + 64 + 64 + 8
    const res = await post(
      '/upload-url',
      { csrf, name: 'big movie.mp4', type: 'video/mp4', size: String(size) },
      { origin: 'https://files.example.com' },
    );
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json');
    const body = JSON.parse(res.body);
    expect(body).toEqual({
      name: 'big movie.mp4',
      multipart: true,
      uploadId: 'upload-id-1',
      partSize: 64 * MiB,
      parts: [1, 2, 3, 4].map((n) => ({
        partNumber: n,
        url: expect.stringContaining(`partNumber=${n}&uploadId=upload-id-1`),
      })),
    });
    for (const part of body.parts) {
      expect(part.url).toMatch(
        /^https:\/\/user-data-bucket\.s3\.eu-west-1\.amazonaws\.com\/users\/google\/1001\/big%20movie\.mp4\?/,
      );
    }
    expect(h.calls.storage).toContain(
      'createMultipart ASIAUSER users/google/1001/big movie.mp4 video/mp4',
    );
    // Part URLs live as long as the session's credentials (3,600 s here), not 5 minutes.
    expect(h.calls.storage).toContain(
      'presignUploadPart users/google/1001/big movie.mp4 upload-id-1 4 3600',
    );
  });

  test.each([
    [MULTIPART_THRESHOLD_BYTES + 1, 64 * MiB, 2],
    [10 * 1024 * MiB, 64 * MiB, 160],
    [MAX_PLANNED_PARTS * MIN_PART_BYTES, 64 * MiB, MAX_PLANNED_PARTS],
    [MAX_PLANNED_PARTS * MIN_PART_BYTES + 1, 65 * MiB, 1970],
    [5 * 1024 * 1024 * MiB, 2622 * MiB, 2000],
  ])('part math: %d bytes -> parts of %d bytes, %d parts', (size, partSize, count) => {
    const plan = planParts(size)!;
    expect(plan).toEqual({ partSize, count });
    // Every byte is covered, no part is empty, sizes are within S3's limits.
    expect(plan.count * plan.partSize).toBeGreaterThanOrEqual(size);
    expect((plan.count - 1) * plan.partSize).toBeLessThan(size);
    expect(plan.partSize).toBeGreaterThanOrEqual(5 * MiB);
    expect(plan.partSize).toBeLessThanOrEqual(5 * 1024 * MiB);
    expect(plan.count).toBeLessThanOrEqual(10_000);
  });

  test.each([
    '-1',
    '1.5',
    'abc',
    '',
    '1e9',
    '0x10',
    ' 5',
    String(5 * 1024 ** 4 + 1),
    '9'.repeat(20),
  ])('size %p -> 400, no S3 call', async (size) => {
    const { h, csrf, post } = await signedIn();
    const before = h.calls.storage.length;
    const res = await post('/upload-url', { csrf, name: 'a.bin', size });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body).error).toMatch(/whole number of bytes/);
    expect(h.calls.storage.length).toBe(before);
  });

  test('csrf-on-state-changes: upload-url, upload-complete and upload-abort without CSRF or cross-origin -> 403, nothing done', async () => {
    const { h, csrf, post } = await signedIn();
    const fields = {
      name: 'big.bin',
      size: String(1024 * MiB),
      uploadId: 'u1',
      parts: partsJson(2),
    };
    for (const path of ['/upload-url', '/upload-complete', '/upload-abort']) {
      for (const token of [undefined, 'wrong', csrf.slice(0, -1)]) {
        const res = await post(path, token === undefined ? fields : { ...fields, csrf: token });
        expect(res.status).toBe(403);
        expect(JSON.parse(res.body).error).toMatch(/not allowed/);
      }
      const crossSite = await post(path, { ...fields, csrf }, { origin: 'https://evil.example' });
      expect(crossSite.status).toBe(403);
      expect((await h.app({ path, method: 'GET', cookies: {} })).status).toBe(405);
    }
    expect(multipartCalls(h)).toEqual([]);
  });

  test('without a session the multipart routes answer 401 JSON', async () => {
    const h = harness();
    for (const path of ['/upload-complete', '/upload-abort']) {
      const res = await h.app({ path, method: 'POST', body: 'name=a&uploadId=u' });
      expect(res.status).toBe(401);
      expect(JSON.parse(res.body).error).toMatch(/sign in/);
    }
  });

  test.each([['../2002/x'], ['a/b'], ['%2F..'], ['nul\u0000'], ['..'], ['x'.repeat(1100)], ['']])(
    'object-name-validated: name %p on the multipart routes -> 400, no S3 call',
    async (name) => {
      const { h, csrf, post } = await signedIn();
      const fields = { csrf, name, size: String(1024 * MiB), uploadId: 'u1', parts: partsJson(1) };
      for (const path of ['/upload-url', '/upload-complete', '/upload-abort'])
        expect((await post(path, fields)).status).toBe(400);
      expect(multipartCalls(h)).toEqual([]);
    },
  );

  test('complete and abort act on the own prefix + validated name only, as the user', async () => {
    const { h, csrf, post } = await signedIn();
    const parts = partsJson(3);
    const done = await post('/upload-complete', {
      csrf,
      name: 'big.bin',
      uploadId: 'Up.Id-_~x',
      parts,
    });
    expect(done.status).toBe(200);
    expect(JSON.parse(done.body)).toEqual({ name: 'big.bin' });
    const aborted = await post('/upload-abort', { csrf, name: 'other.bin', uploadId: 'u2' });
    expect(aborted.status).toBe(200);
    expect(JSON.parse(aborted.body)).toEqual({ name: 'other.bin', aborted: true });
    expect(multipartCalls(h)).toEqual([
      `completeMultipart ASIAUSER users/google/1001/big.bin Up.Id-_~x ${parts}`,
      'abortMultipart ASIAUSER users/google/1001/other.bin u2',
    ]);
  });

  test.each([
    ['missing', undefined],
    ['empty', ''],
    ['with a space', 'a b'],
    ['with a tab', 'a\tb'],
    ['non-ASCII', 'upload-é'],
    ['too long', 'x'.repeat(1025)],
  ])('an upload id %s -> 400 on complete and abort, no S3 call', async (_, uploadId) => {
    const { h, csrf, post } = await signedIn();
    const fields = { csrf, name: 'big.bin', parts: partsJson(1) };
    const withId = uploadId === undefined ? fields : { ...fields, uploadId };
    for (const path of ['/upload-complete', '/upload-abort']) {
      const res = await post(path, withId);
      expect(res.status).toBe(400);
      expect(JSON.parse(res.body).error).toMatch(/upload id/);
    }
    expect(multipartCalls(h)).toEqual([]);
  });

  test('an upload id of 1,024 printable characters is accepted', async () => {
    const { csrf, post } = await signedIn();
    const res = await post('/upload-abort', { csrf, name: 'b', uploadId: '~'.repeat(1024) });
    expect(res.status).toBe(200);
  });

  test.each([
    ['missing', undefined],
    ['not JSON', 'parts'],
    ['an object', '{}'],
    ['empty', '[]'],
    ['part 0', JSON.stringify([{ partNumber: 0, etag: etag(0) }])],
    ['part 10,001', JSON.stringify([{ partNumber: 10_001, etag: etag(0) }])],
    ['not an integer', JSON.stringify([{ partNumber: 1.5, etag: etag(0) }])],
    ['a string number', JSON.stringify([{ partNumber: '1', etag: etag(0) }])],
    [
      'descending',
      JSON.stringify([
        { partNumber: 2, etag: etag(2) },
        { partNumber: 1, etag: etag(1) },
      ]),
    ],
    [
      'a duplicate',
      JSON.stringify([
        { partNumber: 1, etag: etag(1) },
        { partNumber: 1, etag: etag(1) },
      ]),
    ],
    ['an unquoted etag', JSON.stringify([{ partNumber: 1, etag: etag(1).slice(1, -1) }])],
    ['a short etag', JSON.stringify([{ partNumber: 1, etag: '"abc"' }])],
    [
      'an etag with markup',
      JSON.stringify([{ partNumber: 1, etag: `"</ETag>${'a'.repeat(25)}"` }]),
    ],
    ['a null entry', '[null]'],
    ['over 10,000 parts', partsJson(10_001)],
  ])('a part list %s -> 400, no S3 call', async (_, parts) => {
    const { h, csrf, post } = await signedIn();
    const fields = { csrf, name: 'big.bin', uploadId: 'u1' };
    const res = await post('/upload-complete', parts === undefined ? fields : { ...fields, parts });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body).error).toMatch(/parts/);
    expect(multipartCalls(h)).toEqual([]);
  });

  test('a 10,000-part completion list fits the raised body limit of /upload-complete only', async () => {
    const { h, csrf, post } = await signedIn();
    const fields = { csrf, name: 'big.bin', uploadId: 'u1', parts: partsJson(10_000) };
    expect(new URLSearchParams(fields).toString().length).toBeGreaterThan(16 * 1024);
    expect((await post('/upload-complete', fields)).status).toBe(200);
    expect(multipartCalls(h)).toHaveLength(1);
    // The other routes keep the 16 KB limit; /upload-complete stops at 2 MiB.
    expect((await post('/upload-abort', fields)).status).toBe(413);
    expect((await post('/upload-url', fields)).status).toBe(413);
    const huge = { ...fields, pad: 'x'.repeat(2 * MiB) };
    expect((await post('/upload-complete', huge)).status).toBe(413);
  });

  test.each([
    [412, 'already exists'],
    [409, 'Another upload'],
    [404, 'no longer in progress'],
    [400, 'did not match'],
  ] as const)(
    'no-silent-overwrite: S3 refusing the completion -> %d JSON with a clear message',
    async (status, message) => {
      const { h, csrf, post } = await signedIn();
      const messages = {
        412: 'A file with this name already exists. Delete it first or rename yours.',
        409: 'Another upload to this name is in progress or just finished. Try again.',
        404: 'This upload is no longer in progress (finished, cancelled or expired). Start again.',
        400: 'The uploaded parts did not match what S3 received. Start the upload again.',
      };
      h.storageError.complete = new UploadRefusedError(status, messages[status]);
      const res = await post('/upload-complete', {
        csrf,
        name: 'big.bin',
        uploadId: 'u1',
        parts: partsJson(2),
      });
      expect(res.status).toBe(status);
      expect(res.headers['content-type']).toBe('application/json');
      expect(JSON.parse(res.body).error).toContain(message);
    },
  );

  test('expired credentials during a multipart step -> 401 JSON and the session cookie cleared', async () => {
    const { h, csrf, post } = await signedIn();
    h.storageError.create = new SignInError('restart', 'Your session has expired.');
    const res = await post('/upload-url', { csrf, name: 'big.bin', size: String(1024 * MiB) });
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body).error).toMatch(/sign in again/);
    expect(res.cookies[0]).toMatch(/^__Host-wif-session=;.*Max-Age=0/);
  });

  test('an unexpected S3 failure is a generic 500, details only in logs', async () => {
    const { h, csrf, post } = await signedIn();
    h.storageError.abort = new Error('socket hang up at 10.0.0.9');
    const res = await post('/upload-abort', { csrf, name: 'big.bin', uploadId: 'u1' });
    expect(res.status).toBe(500);
    expect(res.body).not.toContain('10.0.0.9');
    expect(JSON.stringify(h.logs)).toContain('10.0.0.9');
  });
});
