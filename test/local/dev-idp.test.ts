import { createHmac, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as jose from 'jose';
import * as oidc from 'openid-client';
import { TokenRefused } from '../../local/contracts';
import { startDevIdp, type RunningDevIdp } from '../../local/dev-idp';
import { browseSignIn, CookieJar } from '../../local/dev-idp-browse';
import { scriptedSignIn } from '../../local/dev-idp-client';
import {
  basicAuthorization,
  DEV_IDP_FAMILIES,
  pkceChallenge,
  sandboxClientOf,
  type DevIdpFamily,
} from '../../local/dev-idp-endpoints';
import { fetchTrusting } from '../../local/dev-idp-fetch';
import { amazonUserId, emailOf, facebookId, googleSubject } from '../../local/dev-idp-pages';
import { createLocalTls } from '../../local/tls';
import { GOOGLE_ISSUER, SANDBOX_CLIENTS, type SandboxPorts } from '../../local/sandbox-config';
import { FAST_TIMEOUTS, slowClient } from '../support/slow-client';

// The dev IdP is a real HTTPS server on 127.0.0.1 with a certificate of a fresh local CA;
// every client here trusts exactly that CA (fetchTrusting), nothing turns TLS checks off.

const APP_PORT = 18443;
const PORTS: SandboxPorts = { app: APP_PORT, idp: 0, sts: 0, s3: 0 };
const CALLBACK_NAMES: Record<DevIdpFamily, string> = {
  google: 'google',
  oidc: 'devidp',
  amazon: 'amazon',
  facebook: 'facebook',
};
const appRedirectUri = (family: DevIdpFamily) =>
  `https://127.0.0.1:${APP_PORT}/oauth2callback/${CALLBACK_NAMES[family]}`;
const PROVIDER_IDS: Partial<Record<DevIdpFamily, string>> = {
  amazon: 'www.amazon.com',
  facebook: 'graph.facebook.com',
};

let tls: { ca: string; cert: string; key: string };
let idp: RunningDevIdp;
let trustedFetch: typeof fetch;
/** The same, in the shape openid-client takes. */
const rpFetch: oidc.CustomFetch = (url, options) => trustedFetch(url, options as RequestInit);
let clockOffset = 0;

beforeAll(async () => {
  tls = await createLocalTls();
  trustedFetch = fetchTrusting(tls.ca);
  idp = await startDevIdp({
    port: 0,
    tls,
    ports: PORTS,
    clock: () => Date.now() + clockOffset,
    log: () => undefined,
  });
});

afterAll(async () => {
  await idp?.close();
});

afterEach(() => {
  clockOffset = 0;
});

const random = () => randomBytes(32).toString('base64url');

/** The authorization URL of `family` for the sandbox client, with PKCE S256 and state. */
function authorizationUrl(
  family: DevIdpFamily,
  extra: Record<string, string> = {},
  verifier = random(),
): URL {
  const url = new URL(idp.endpoints[family].authorization);
  url.search = new URLSearchParams({
    client_id: sandboxClientOf(family).clientId,
    redirect_uri: appRedirectUri(family),
    response_type: 'code',
    scope: family === 'google' || family === 'oidc' ? 'openid email profile' : 'profile',
    state: random(),
    code_challenge: pkceChallenge(verifier),
    code_challenge_method: 'S256',
    ...(family === 'google' || family === 'oidc' ? { nonce: random() } : {}),
    ...extra,
  }).toString();
  return url;
}

/** Signs `user` in with a scripted browser and returns the authorization code. */
async function codeFor(family: DevIdpFamily, user: string, verifier: string): Promise<string> {
  const callback = await browseSignIn(authorizationUrl(family, {}, verifier), user, {
    fetch: trustedFetch,
    redirectUri: appRedirectUri(family),
  });
  const code = callback.searchParams.get('code');
  if (!code) throw new Error(`no code: ${callback.href}`);
  return code;
}

/** A raw token request, to see exactly what the token endpoint answers. */
async function redeem(
  family: DevIdpFamily,
  code: string,
  verifier: string,
  {
    auth = 'basic',
    secret = sandboxClientOf(family).clientSecret,
    redirectUri = appRedirectUri(family),
  }: { auth?: 'basic' | 'post'; secret?: string; redirectUri?: string } = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const { clientId } = sandboxClientOf(family);
  const form = new URLSearchParams({
    grant_type: 'authorization_code',
    code,
    redirect_uri: redirectUri,
    code_verifier: verifier,
  });
  const headers: Record<string, string> = { accept: 'application/json' };
  if (auth === 'basic') headers.authorization = basicAuthorization(clientId, secret);
  else {
    form.set('client_id', clientId);
    form.set('client_secret', secret);
  }
  const response = await trustedFetch(idp.endpoints[family].token, {
    method: 'POST',
    headers,
    body: form,
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

const jsonOf = async (url: string) => {
  const response = await trustedFetch(url);
  expect(response.status).toBe(200);
  return (await response.json()) as Record<string, unknown>;
};

describe('discovery', () => {
  test('the generic OIDC issuer is its own URL, with the real port, and openid-client accepts it', async () => {
    expect(idp.oidcIssuer).toBe(`${idp.url}/oidc`);
    expect(idp.url).toBe(`https://127.0.0.1:${idp.port}`);
    const doc = await jsonOf(`${idp.url}/oidc/.well-known/openid-configuration`);
    expect(doc).toMatchObject({
      issuer: `${idp.url}/oidc`,
      authorization_endpoint: `${idp.url}/oidc/auth`,
      token_endpoint: `${idp.url}/oidc/token`,
      jwks_uri: `${idp.url}/oidc/jwks`,
      userinfo_endpoint: `${idp.url}/oidc/me`,
      response_types_supported: ['code'],
      code_challenge_methods_supported: ['S256'],
      id_token_signing_alg_values_supported: ['RS256'],
      authorization_response_iss_parameter_supported: true,
    });
    expect(doc.token_endpoint_auth_methods_supported).toEqual(
      expect.arrayContaining(['client_secret_basic', 'client_secret_post']),
    );
    // openid-client refuses a document whose issuer is not the URL it asked.
    const config = await oidc.discovery(
      new URL(idp.oidcIssuer),
      SANDBOX_CLIENTS.oidc.clientId,
      undefined,
      oidc.ClientSecretBasic(SANDBOX_CLIENTS.oidc.clientSecret),
      { [oidc.customFetch]: rpFetch },
    );
    expect(config.serverMetadata().issuer).toBe(idp.oidcIssuer);
  });

  test('the Google-like issuer says https://accounts.google.com but every endpoint is on 127.0.0.1', async () => {
    const doc = await jsonOf(`${idp.url}/google/.well-known/openid-configuration`);
    expect(doc.issuer).toBe(GOOGLE_ISSUER);
    expect(doc).toMatchObject({
      authorization_endpoint: idp.endpoints.google.authorization,
      token_endpoint: idp.endpoints.google.token,
      jwks_uri: idp.endpoints.google.jwks,
      userinfo_endpoint: idp.endpoints.google.userinfo,
    });
    for (const [name, value] of Object.entries(doc)) {
      if (name.endsWith('_endpoint') || name === 'jwks_uri') {
        expect(String(value)).toMatch(new RegExp(`^${idp.url}/google/`));
      }
    }
    expect(JSON.stringify(doc)).not.toMatch(/googleapis|\/\/accounts\.google\.com\//);
    const jwks = await jsonOf(idp.endpoints.google.jwks);
    expect(jwks.keys).toEqual([expect.objectContaining({ kty: 'RSA', alg: 'RS256', use: 'sig' })]);
    expect(JSON.stringify(jwks)).not.toMatch(/"d"|"p"|"q"/);
  });

  test('the index lists every endpoint', async () => {
    expect(await jsonOf(`${idp.url}/`)).toEqual(JSON.parse(JSON.stringify(idp.endpoints)));
  });
});

describe('authorization code flow with openid-client as the relying party', () => {
  async function oidcFlow(config: oidc.Configuration, family: 'google' | 'oidc', user: string) {
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: appRedirectUri(family),
      scope: 'openid email profile',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    const callback = await browseSignIn(url, user, {
      fetch: trustedFetch,
      redirectUri: appRedirectUri(family),
    });
    // RFC 9207: the authorization response names its issuer.
    expect(callback.searchParams.get('iss')).toBe(config.serverMetadata().issuer);
    const tokens = await oidc.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: verifier,
      expectedState: state,
      expectedNonce: nonce,
      idTokenExpected: true,
    });
    return { tokens, nonce };
  }

  test('generic OIDC: discovery, code + PKCE, ID token with sub = the user name as typed', async () => {
    const config = await oidc.discovery(
      new URL(idp.oidcIssuer),
      SANDBOX_CLIENTS.oidc.clientId,
      undefined,
      oidc.ClientSecretPost(SANDBOX_CLIENTS.oidc.clientSecret),
      { [oidc.customFetch]: rpFetch },
    );
    oidc.enableNonRepudiationChecks(config);
    const { tokens, nonce } = await oidcFlow(config, 'oidc', 'carol|dev.team');
    expect(tokens.claims()).toMatchObject({
      iss: idp.oidcIssuer,
      aud: SANDBOX_CLIENTS.oidc.clientId,
      sub: 'carol|dev.team',
      name: 'carol|dev.team',
      email: emailOf('carol|dev.team'),
      nonce,
    });
    const header = jose.decodeProtectedHeader(tokens.id_token!);
    expect(header.alg).toBe('RS256');
    const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, 'carol|dev.team');
    expect(userinfo).toMatchObject({ sub: 'carol|dev.team', name: 'carol|dev.team' });
  });

  function googleConfig(jwksUri = idp.endpoints.google.jwks): oidc.Configuration {
    const config = new oidc.Configuration(
      {
        issuer: GOOGLE_ISSUER,
        authorization_endpoint: idp.endpoints.google.authorization,
        token_endpoint: idp.endpoints.google.token,
        jwks_uri: jwksUri,
        userinfo_endpoint: idp.endpoints.google.userinfo,
        id_token_signing_alg_values_supported: ['RS256'],
        authorization_response_iss_parameter_supported: true,
      },
      SANDBOX_CLIENTS.google.clientId,
      undefined,
      oidc.ClientSecretBasic(SANDBOX_CLIENTS.google.clientSecret),
    );
    config[oidc.customFetch] = rpFetch;
    oidc.enableNonRepudiationChecks(config);
    return config;
  }

  test('Google-like: explicit endpoints, ID token from https://accounts.google.com with a numeric sub and azp', async () => {
    const { tokens, nonce } = await oidcFlow(googleConfig(), 'google', 'alice');
    const claims = tokens.claims();
    expect(claims).toMatchObject({
      iss: GOOGLE_ISSUER,
      aud: SANDBOX_CLIENTS.google.clientId,
      azp: SANDBOX_CLIENTS.google.clientId,
      sub: googleSubject('alice'),
      email: emailOf('alice'),
      name: 'alice',
      nonce,
    });
    expect(claims?.sub).toMatch(/^1\d{20}$/);
    expect(typeof claims?.iat).toBe('number');
    expect(claims!.exp - claims!.iat).toBe(3600);
    const userinfo = await oidc.fetchUserInfo(googleConfig(), tokens.access_token, claims!.sub);
    expect(userinfo).toMatchObject({ sub: googleSubject('alice'), name: 'alice' });
  });

  test('Google-like: the ID token signature is checked (a JWKS with other keys refuses it)', async () => {
    // The generic issuer's JWKS holds a different key: a token that validates above can
    // only fail here on its signature.
    await expect(
      oidcFlow(googleConfig(idp.endpoints.oidc.jwks), 'google', 'alice'),
    ).rejects.toThrow(/no applicable key|signature/i);
  });

  test.each([
    ['amazon', 'Atza|', { user_id: amazonUserId('alice'), name: 'alice', email: emailOf('alice') }],
    ['facebook', 'EAA', { id: facebookId('alice'), name: 'alice' }],
  ] as const)(
    '%s-like: code + PKCE, opaque access token, profile endpoint',
    async (family, prefix, profile) => {
      const endpoints = idp.endpoints[family];
      const config = new oidc.Configuration(
        {
          issuer: `${idp.url}/${family}`,
          authorization_endpoint: endpoints.authorization,
          token_endpoint: endpoints.token,
        },
        SANDBOX_CLIENTS[family].clientId,
        undefined,
        oidc.ClientSecretPost(SANDBOX_CLIENTS[family].clientSecret),
      );
      config[oidc.customFetch] = rpFetch;
      const verifier = oidc.randomPKCECodeVerifier();
      const state = oidc.randomState();
      const url = oidc.buildAuthorizationUrl(config, {
        redirect_uri: appRedirectUri(family),
        scope: family === 'amazon' ? 'profile' : 'public_profile',
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state,
      });
      const callback = await browseSignIn(url, 'alice', {
        fetch: trustedFetch,
        redirectUri: appRedirectUri(family),
      });
      const tokens = await oidc.authorizationCodeGrant(config, callback, {
        pkceCodeVerifier: verifier,
        expectedState: state,
      });
      expect(tokens.access_token.startsWith(prefix)).toBe(true);
      expect(tokens.token_type).toBe('bearer');
      expect(tokens.expires_in).toBe(3600);
      const profileUrl = new URL(endpoints.profile);
      if (family === 'facebook') {
        profileUrl.searchParams.set(
          'appsecret_proof',
          createHmac('sha256', SANDBOX_CLIENTS.facebook.clientSecret)
            .update(tokens.access_token)
            .digest('hex'),
        );
      }
      const response = await oidc.fetchProtectedResource(
        config,
        tokens.access_token,
        profileUrl,
        'GET',
      );
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual(profile);
    },
  );
});

describe('the token endpoints refuse what they must', () => {
  test.each(DEV_IDP_FAMILIES)(
    '%s: PKCE is enforced (a wrong code_verifier is invalid_grant)',
    async (family) => {
      const code = await codeFor(family, 'alice', random());
      const answer = await redeem(family, code, random());
      expect(answer.status).toBe(400);
      expect(answer.body.error).toBe('invalid_grant');
    },
  );

  test.each(DEV_IDP_FAMILIES)(
    '%s: an authorization request without code_challenge is refused',
    async (family) => {
      const url = authorizationUrl(family);
      url.searchParams.delete('code_challenge');
      url.searchParams.delete('code_challenge_method');
      const callback = await browseSignIn(url, 'alice', {
        fetch: trustedFetch,
        redirectUri: appRedirectUri(family),
      });
      expect(callback.searchParams.get('error')).toBe('invalid_request');
      expect(callback.searchParams.get('code')).toBeNull();
    },
  );

  test.each(DEV_IDP_FAMILIES)(
    '%s: a code is single use (basic and post client auth)',
    async (family) => {
      const verifier = random();
      const code = await codeFor(family, 'alice', verifier);
      const first = await redeem(family, code, verifier, { auth: 'post' });
      expect(first.status).toBe(200);
      const second = await redeem(family, code, verifier);
      expect(second.status).toBe(400);
      expect(second.body.error).toBe('invalid_grant');
    },
  );

  test.each(DEV_IDP_FAMILIES)('%s: a wrong client secret is invalid_client', async (family) => {
    const verifier = random();
    const code = await codeFor(family, 'alice', verifier);
    for (const auth of ['basic', 'post'] as const) {
      const answer = await redeem(family, code, verifier, { auth, secret: 'not-the-secret' });
      expect(answer.status).toBe(401);
      expect(answer.body.error).toBe('invalid_client');
    }
    // The refused attempts did not burn the code of the real client.
    expect((await redeem(family, code, verifier)).status).toBe(200);
  });

  test.each(DEV_IDP_FAMILIES)(
    '%s: the token request must repeat the redirect_uri of the code',
    async (family) => {
      const verifier = random();
      const code = await codeFor(family, 'alice', verifier);
      const answer = await redeem(family, code, verifier, {
        redirectUri: 'http://127.0.0.1:9/elsewhere',
      });
      expect(answer.status).toBe(400);
      expect(answer.body.error).toBe('invalid_grant');
    },
  );

  test.each(DEV_IDP_FAMILIES)(
    '%s: an unregistered redirect_uri is refused on a page, never redirected to',
    async (family) => {
      for (const redirectUri of [
        'https://evil.example/oauth2callback/google',
        'https://127.0.0.1:8443/not-a-callback',
        'https://localhost:8443/oauth2callback/google',
      ]) {
        const response = await trustedFetch(
          authorizationUrl(family, { redirect_uri: redirectUri }),
          { redirect: 'manual' },
        );
        expect(response.status).toBe(400);
        expect(response.headers.get('location')).toBeNull();
        expect(response.headers.get('content-type')).toMatch(/text\/html/);
        await response.text();
      }
    },
  );

  test.each(['amazon', 'facebook'] as const)(
    '%s: the profile endpoint answers 401 for unknown and expired tokens',
    async (family) => {
      const unknown = await trustedFetch(idp.endpoints[family].profile, {
        headers: { authorization: `Bearer ${family === 'amazon' ? 'Atza|' : 'EAA'}unknown` },
      });
      expect(unknown.status).toBe(401);
      await unknown.text();
      const token = await idp.mintToken(family, 'alice');
      clockOffset = 2 * 3600_000;
      const expired = await trustedFetch(idp.endpoints[family].profile, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(expired.status).toBe(401);
      await expired.text();
    },
  );
});

describe('verifier (used by the local STS)', () => {
  const expectRefused = async (promise: Promise<unknown>, code: TokenRefused['code']) => {
    const error = await promise.then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(TokenRefused);
    expect((error as TokenRefused).code).toBe(code);
  };

  test('derives the context keys as AWS STS does, per family', async () => {
    const issuerKey = idp.oidcIssuer.replace('https://', '');
    const expected: Record<DevIdpFamily, object> = {
      google: {
        provider: 'accounts.google.com',
        subject: googleSubject('alice'),
        audience: SANDBOX_CLIENTS.google.clientId,
        contextKeys: {
          'accounts.google.com:sub': googleSubject('alice'),
          'accounts.google.com:aud': SANDBOX_CLIENTS.google.clientId,
          'accounts.google.com:oaud': SANDBOX_CLIENTS.google.clientId,
        },
      },
      oidc: {
        provider: idp.oidcIssuer,
        subject: 'alice',
        audience: SANDBOX_CLIENTS.oidc.clientId,
        contextKeys: {
          [`${issuerKey}:sub`]: 'alice',
          [`${issuerKey}:aud`]: SANDBOX_CLIENTS.oidc.clientId,
        },
      },
      amazon: {
        provider: 'www.amazon.com',
        subject: amazonUserId('alice'),
        audience: SANDBOX_CLIENTS.amazon.clientId,
        contextKeys: {
          'www.amazon.com:user_id': amazonUserId('alice'),
          'www.amazon.com:app_id': SANDBOX_CLIENTS.amazon.clientId,
        },
      },
      facebook: {
        provider: 'graph.facebook.com',
        subject: facebookId('alice'),
        audience: SANDBOX_CLIENTS.facebook.clientId,
        contextKeys: {
          'graph.facebook.com:id': facebookId('alice'),
          'graph.facebook.com:app_id': SANDBOX_CLIENTS.facebook.clientId,
        },
      },
    };
    for (const family of DEV_IDP_FAMILIES) {
      const token = await idp.mintToken(family, 'alice');
      await expect(idp.verifier.verify(token, PROVIDER_IDS[family])).resolves.toEqual(
        expected[family],
      );
    }
    expect(amazonUserId('alice')).toMatch(/^amzn1\.account\.[A-Z2-7]{28}$/);
    expect(facebookId('alice')).toMatch(/^1\d{16}$/);
    expect(googleSubject('bob')).not.toBe(googleSubject('alice'));
  });

  test.each(DEV_IDP_FAMILIES)('%s: an expired token is ExpiredTokenException', async (family) => {
    const token = await idp.mintToken(family, 'alice');
    clockOffset = 3600_000 + 1000;
    await expectRefused(idp.verifier.verify(token, PROVIDER_IDS[family]), 'ExpiredTokenException');
  });

  test.each(['google', 'oidc'] as const)(
    '%s: a tampered ID token is InvalidIdentityToken',
    async (family) => {
      const token = await idp.mintToken(family, 'alice');
      const [header, payload, signature] = token.split('.');
      const middle = Math.floor(signature.length / 2);
      const flipped = signature[middle] === 'A' ? 'B' : 'A';
      const badSignature = `${signature.slice(0, middle)}${flipped}${signature.slice(middle + 1)}`;
      await expectRefused(
        idp.verifier.verify(`${header}.${payload}.${badSignature}`),
        'InvalidIdentityToken',
      );
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
      const otherPayload = Buffer.from(JSON.stringify({ ...claims, sub: 'bob' })).toString(
        'base64url',
      );
      await expectRefused(
        idp.verifier.verify(`${header}.${otherPayload}.${signature}`),
        'InvalidIdentityToken',
      );
    },
  );

  test('an ID token of an unknown issuer, or signed with another key, is InvalidIdentityToken', async () => {
    const { privateKey } = await jose.generateKeyPair('RS256');
    const sign = (iss: string) =>
      new jose.SignJWT({ sub: 'alice', aud: SANDBOX_CLIENTS.google.clientId })
        .setProtectedHeader({ alg: 'RS256' })
        .setIssuer(iss)
        .setIssuedAt()
        .setExpirationTime('1h')
        .sign(privateKey);
    await expectRefused(
      idp.verifier.verify(await sign('https://evil.example')),
      'InvalidIdentityToken',
    );
    await expectRefused(idp.verifier.verify(await sign(GOOGLE_ISSUER)), 'InvalidIdentityToken');
    await expectRefused(idp.verifier.verify(await sign(idp.oidcIssuer)), 'InvalidIdentityToken');
  });

  test('unknown access tokens, and tokens of the other provider, are InvalidIdentityToken', async () => {
    await expectRefused(
      idp.verifier.verify('Atza|unknown', 'www.amazon.com'),
      'InvalidIdentityToken',
    );
    await expectRefused(
      idp.verifier.verify('EAAunknown', 'graph.facebook.com'),
      'InvalidIdentityToken',
    );
    const amazon = await idp.mintToken('amazon', 'alice');
    await expectRefused(idp.verifier.verify(amazon, 'graph.facebook.com'), 'InvalidIdentityToken');
    await expectRefused(idp.verifier.verify(amazon, 'accounts.google.com'), 'InvalidIdentityToken');
  });

  test('an ID token with a ProviderId, or an access token without one, is InvalidIdentityToken', async () => {
    const idToken = await idp.mintToken('google', 'alice');
    await expectRefused(idp.verifier.verify(idToken, 'www.amazon.com'), 'InvalidIdentityToken');
    const accessToken = await idp.mintToken('facebook', 'alice');
    await expectRefused(idp.verifier.verify(accessToken), 'InvalidIdentityToken');
    await expectRefused(idp.verifier.verify(''), 'InvalidIdentityToken');
  });
});

describe('the sign-in page', () => {
  async function signInPage(url: URL): Promise<Response> {
    let response = await trustedFetch(url, { redirect: 'manual' });
    const cookies: string[] = [];
    while (response.status === 303 || response.status === 302) {
      cookies.push(...response.headers.getSetCookie().map((c) => c.split(';')[0]));
      await response.arrayBuffer();
      response = await trustedFetch(new URL(response.headers.get('location')!, url), {
        redirect: 'manual',
        headers: { cookie: cookies.join('; ') },
      });
    }
    return response;
  }

  test.each(DEV_IDP_FAMILIES)(
    '%s: is accessible, has no script, and escapes a user name like <script>',
    async (family) => {
      const hostile = '"><script>alert(1)</script>';
      const response = await signInPage(authorizationUrl(family, { login_hint: hostile }));
      expect(response.status).toBe(200);
      const csp = response.headers.get('content-security-policy') ?? '';
      expect(csp).toMatch(/default-src 'none'/);
      expect(csp).not.toMatch(/script-src|unsafe-inline/);
      expect(csp).toMatch(/frame-ancestors 'none'/);
      const html = await response.text();
      expect(html).not.toContain('<script');
      expect(html).toContain('value="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"');
      expect(html).toMatch(/<label for="user">/);
      expect(html).toMatch(/<input id="user" name="user" type="text"/);
      expect(html).toMatch(/<button type="submit" name="as" value="alice"[^>]*>Sign in as alice/);
      expect(html).toMatch(/<button type="submit" name="as" value="bob"[^>]*>Sign in as bob/);
      expect(html).toMatch(/<html lang="en">/);
    },
  );

  test.each(DEV_IDP_FAMILIES)(
    '%s: a user named <script> can sign in, and comes back unchanged',
    async (family) => {
      const token = await idp.mintToken(family, '<script>');
      const verified = await idp.verifier.verify(token, PROVIDER_IDS[family]);
      if (family === 'oidc') expect(verified.subject).toBe('<script>');
      if (family === 'google') expect(verified.subject).toBe(googleSubject('<script>'));
    },
  );

  test.each(['google', 'oidc'] as const)(
    '%s: one browser can sign in as alice, then as bob (no single sign-on session is kept)',
    async (family) => {
      const jar = new CookieJar();
      const subjects: string[] = [];
      for (const user of ['alice', 'bob']) {
        const verifier = random();
        const callback = await browseSignIn(authorizationUrl(family, {}, verifier), user, {
          fetch: trustedFetch,
          redirectUri: appRedirectUri(family),
          jar,
        });
        const answer = await redeem(family, callback.searchParams.get('code') ?? '', verifier);
        subjects.push(String(jose.decodeJwt(String(answer.body.id_token)).sub));
      }
      expect(subjects).toEqual(
        family === 'google' ? [googleSubject('alice'), googleSubject('bob')] : ['alice', 'bob'],
      );
    },
  );

  test('a user name with control characters is refused on the page, escaped', async () => {
    const url = authorizationUrl('amazon');
    await expect(
      browseSignIn(url, '<b>x</b>\u0007', {
        fetch: trustedFetch,
        redirectUri: appRedirectUri('amazon'),
      }),
    ).rejects.toThrow(/control characters/);
  });
});

describe('scripted sign-in and restarts', () => {
  test('scriptedSignIn explains a dev IdP that is not running', async () => {
    await expect(
      scriptedSignIn('https://127.0.0.1:9', 'google', 'alice', { ca: tls.ca }),
    ).rejects.toThrow(
      'no dev IdP is listening at https://127.0.0.1:9 (connection refused): is the sandbox running?',
    );
  });

  test('scriptedSignIn refuses a dev IdP whose certificate the given CA did not sign', async () => {
    const other = await createLocalTls();
    await expect(scriptedSignIn(idp.url, 'oidc', 'alice', { ca: other.ca })).rejects.toThrow(
      /certificate the given CA does not vouch for/,
    );
  });

  test('with a dataDir, tokens of every family stay valid across a restart', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dev-idp-'));
    try {
      const first = await startDevIdp({
        port: 0,
        tls,
        ports: PORTS,
        dataDir,
        log: () => undefined,
      });
      const tokens = new Map<DevIdpFamily, string>();
      for (const family of DEV_IDP_FAMILIES)
        tokens.set(family, await first.mintToken(family, 'alice'));
      await first.close();
      expect(fs.statSync(path.join(dataDir, 'keys.json')).mode & 0o077).toBe(0);

      // Same port: the generic issuer's URL (and so its tokens' iss) includes it.
      const second = await startDevIdp({
        port: first.port,
        tls,
        ports: PORTS,
        dataDir,
        log: () => undefined,
      });
      try {
        for (const family of DEV_IDP_FAMILIES) {
          await expect(
            second.verifier.verify(tokens.get(family)!, PROVIDER_IDS[family]),
          ).resolves.toMatchObject({ contextKeys: expect.any(Object) });
        }
      } finally {
        await second.close();
      }
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('slow clients', () => {
  test('a client that sends its request line slowly is cut off within the bound', async () => {
    const fast = await startDevIdp({
      port: 0,
      tls,
      ports: PORTS,
      log: () => undefined,
      timeouts: FAST_TIMEOUTS,
    });
    try {
      const outcome = await slowClient(fast.port, tls.ca);
      expect(outcome.closedAfterMs).toBeLessThan(FAST_TIMEOUTS.headersMs + 1_000);
      expect(outcome.answer).toMatch(/^HTTP\/1\.1 408 /);
    } finally {
      await fast.close();
    }
  });
});
