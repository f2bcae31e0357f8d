import { createHash, createHmac, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import * as http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSync } from 'esbuild';
import * as jose from 'jose';
import type * as MockServer from 'oauth2-mock-server';
import type { ProviderSettings } from '../../common/app-config';
import { createBudget, MIN_CALL_MS, RESERVE_MS } from '../../lambda/callback/budget';
import { createIdentityProviders } from '../../lambda/callback/idp';
import { isSafeSubject } from '../../lambda/callback/names';
import { SignInError, type IdentityProviders, type SecretStore } from '../../lambda/callback/ports';
import { listenOnHost } from '../../local/listen';
import { FakeClock } from '../support/fake-clock';

// oauth2-mock-server is ESM-only and jest.config.js transpiles only openid-client,
// oauth4webapi and jose; Jest also intercepts createRequire. So the real server is
// bundled to CommonJS with esbuild (0.4 s) and loaded from a temporary directory.
// It is a real IdP on 127.0.0.1, not a mock of openid-client.
function loadOAuth2MockServer(): typeof MockServer {
  const dir = mkdtempSync(join(tmpdir(), 'oauth2-mock-server-'));
  try {
    const outfile = join(dir, 'oauth2-mock-server.cjs');
    buildSync({
      entryPoints: [require.resolve('oauth2-mock-server')],
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      outfile,
      logLevel: 'error',
    });
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(outfile) as typeof MockServer;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
const { OAuth2Issuer, OAuth2Service } = loadOAuth2MockServer();

type Claims = Record<string, unknown>;
type MutableToken = MockServer.MutableToken;
type MutableResponse = MockServer.MutableResponse;

const REDIRECT_URI = 'https://app.example.com/oauth2callback/test';
const CLIENT_ID = 'test-client';
const CLIENT_SECRET = 'test-client-secret';
const ROLE_ARN = 'arn:aws:iam::123456789012:role/test';

const b64u = (input: string | Buffer): string => Buffer.from(input).toString('base64url');
const s256 = (verifier: string): string =>
  createHash('sha256').update(verifier).digest('base64url');
const epoch = (): number => Math.floor(Date.now() / 1000);

/** Starts `server` on a free port of 127.0.0.1; resolves with its base URL. */
async function listen(server: http.Server): Promise<string> {
  return `http://127.0.0.1:${await listenOnHost(server, 0)}`;
}

function close(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

/** Signs a JWT with any key and header, synchronously (mock-server hooks are sync). */
function signJwt(
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
  key?: KeyObject,
): string {
  const input = `${b64u(JSON.stringify(header))}.${b64u(JSON.stringify(payload))}`;
  return `${input}.${key ? sign('sha256', Buffer.from(input), key).toString('base64url') : ''}`;
}

/**
 * A real OpenID provider (oauth2-mock-server: discovery, JWKS, authorize with PKCE and
 * nonce, token, userinfo) behind a thin wrapper that can serve extra discovery variants
 * and replace the token endpoint for one test.
 */
class MockIdp {
  readonly issuer = new OAuth2Issuer();
  readonly service = new OAuth2Service(this.issuer);
  readonly server: http.Server;
  base = '';
  realKid = '';
  discoveryRequests = 0;
  jwksRequests = 0;
  userinfoRequests = 0;
  lastTokenRequest?: { body: Record<string, string>; authorization?: string };
  /** Per test: changes the ID token before the mock signs it. */
  idToken?: (header: Record<string, unknown>, payload: Record<string, unknown>) => void;
  /** Per test: changes the token endpoint's answer (body holds the signed tokens). */
  tokenResponse?: (response: MutableResponse) => void;
  /** Per test: replaces the token endpoint entirely. */
  tokenEndpoint?: (res: http.ServerResponse) => void;
  /** Per test: changes the userinfo answer. */
  userinfo?: (response: MutableResponse) => void;

  constructor() {
    this.server = http.createServer((req, res) => this.handle(req, res));
    this.service.on('beforeTokenSigning', (token: MutableToken) => {
      // The access token has `scope`; the ID token does not.
      if (!('scope' in token.payload)) this.idToken?.(token.header, token.payload);
    });
    this.service.on(
      'beforeResponse',
      (response: MutableResponse, req: http.IncomingMessage & { body: never }) => {
        this.lastTokenRequest = { body: req.body, authorization: req.headers.authorization };
        this.tokenResponse?.(response);
      },
    );
    this.service.on('beforeUserinfo', (response: MutableResponse) => {
      this.userinfoRequests++;
      this.userinfo?.(response);
    });
  }

  async start(): Promise<this> {
    const key = await this.issuer.keys.generate('RS256');
    this.realKid = key.kid as string;
    this.base = await listen(this.server);
    this.issuer.url = this.base;
    return this;
  }

  reset(): void {
    this.idToken = this.tokenResponse = this.tokenEndpoint = this.userinfo = undefined;
    this.lastTokenRequest = undefined;
    this.discoveryRequests = this.jwksRequests = this.userinfoRequests = 0;
  }

  /** A discovery document for an issuer on this server, endpoints served by the mock. */
  document(issuer: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
    return {
      issuer,
      authorization_endpoint: `${this.base}/authorize`,
      token_endpoint: `${this.base}/token`,
      jwks_uri: `${this.base}/jwks`,
      userinfo_endpoint: `${this.base}/userinfo`,
      response_types_supported: ['code'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['RS256'],
      code_challenge_methods_supported: ['S256'],
      token_endpoint_auth_methods_supported: ['client_secret_post'],
      ...extra,
    };
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const path = new URL(req.url ?? '/', this.base).pathname;
    if (path.endsWith('/.well-known/openid-configuration')) this.discoveryRequests++;
    if (path === '/jwks') this.jwksRequests++;
    switch (path) {
      case '/mismatch/.well-known/openid-configuration':
        // Claims to be the root issuer while we asked for /mismatch (discovery-issuer-match).
        return sendJson(res, 200, this.document(this.base));
      case '/garbage/.well-known/openid-configuration':
        res.writeHead(200, { 'content-type': 'text/html' }).end('<html>maintenance</html>');
        return;
      case '/flaky/.well-known/openid-configuration':
        // Down for the first request of each test, then fine.
        if (this.discoveryRequests === 1) return void res.writeHead(503).end();
        return sendJson(res, 200, this.document(`${this.base}/flaky`));
      case '/rfc9207/.well-known/openid-configuration':
        // Advertises RFC 9207 and takes the client secret only by HTTP Basic.
        return sendJson(
          res,
          200,
          this.document(`${this.base}/rfc9207`, {
            authorization_response_iss_parameter_supported: true,
            token_endpoint_auth_methods_supported: ['client_secret_basic'],
          }),
        );
      case '/token':
        if (this.tokenEndpoint) {
          const respond = this.tokenEndpoint;
          this.tokenEndpoint = undefined;
          req.resume();
          return respond(res);
        }
    }
    this.service.requestHandler(req, res);
  }
}

/** Plays Login with Amazon's and Facebook's token and profile endpoints, checking PKCE and client auth. */
class OAuth2Fake {
  readonly server = http.createServer((req, res) => void this.handle(req, res));
  base = '';
  readonly challenges = new Map<string, string>();
  readonly tokenRequests: URLSearchParams[] = [];
  readonly profileRequests: { url: URL; authorization?: string }[] = [];
  accessToken = `Atza|access-${Math.random().toString(36).slice(2)}`;
  profiles: Record<'amazon' | 'facebook', unknown> = {
    amazon: { user_id: 'amzn1.account.AEXAMPLE', name: 'Ann Amazon', email: 'ann@example.com' },
    facebook: { id: '10150000000000001', name: 'Fay Facebook' },
  };
  /** Per test: replaces the answer of the next token or profile request. */
  tokenEndpoint?: (res: http.ServerResponse) => void;
  profileEndpoint?: (res: http.ServerResponse) => void;

  async start(): Promise<this> {
    this.base = await listen(this.server);
    return this;
  }

  reset(): void {
    this.challenges.clear();
    this.tokenRequests.length = 0;
    this.profileRequests.length = 0;
    this.tokenEndpoint = this.profileEndpoint = undefined;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.base);
    const family = url.pathname.split('/')[1] as 'amazon' | 'facebook';
    if (req.method === 'POST' && url.pathname.endsWith('/token')) {
      let raw = '';
      for await (const chunk of req) raw += chunk;
      const body = new URLSearchParams(raw);
      this.tokenRequests.push(body);
      if (this.tokenEndpoint) return this.tokenEndpoint(res);
      const challenge = this.challenges.get(body.get('code') ?? '');
      const verifier = body.get('code_verifier');
      if (body.get('client_id') !== CLIENT_ID || body.get('client_secret') !== CLIENT_SECRET) {
        return sendJson(res, 401, { error: 'invalid_client' });
      }
      if (
        body.get('grant_type') !== 'authorization_code' ||
        body.get('redirect_uri') !== REDIRECT_URI ||
        challenge === undefined ||
        !verifier ||
        s256(verifier) !== challenge
      ) {
        return sendJson(res, 400, {
          error: 'invalid_grant',
          error_description: 'bad code or code_verifier',
        });
      }
      this.challenges.delete(body.get('code') ?? '');
      return sendJson(res, 200, {
        access_token: this.accessToken,
        token_type: 'bearer',
        expires_in: 3600,
      });
    }
    if (req.method === 'GET' && url.pathname.endsWith('/profile')) {
      this.profileRequests.push({ url, authorization: req.headers.authorization });
      if (this.profileEndpoint) return this.profileEndpoint(res);
      if (req.headers.authorization !== `Bearer ${this.accessToken}`)
        return sendJson(res, 401, { error: 'invalid_token' });
      return sendJson(res, 200, this.profiles[family]);
    }
    res.writeHead(404).end();
  }
}

const secrets: SecretStore & { calls: number } = {
  calls: 0,
  async get(id) {
    this.calls++;
    if (id !== 'client-secret') throw new Error(`unknown secret ${id}`);
    return CLIENT_SECRET;
  },
};

function provider(overrides: Partial<ProviderSettings>): ProviderSettings {
  return {
    name: 'test',
    family: 'oidc',
    displayName: 'Test',
    clientId: CLIENT_ID,
    clientSecretId: 'client-secret',
    roleArn: ROLE_ARN,
    ...overrides,
  };
}

let idp: MockIdp;
let oauth2: OAuth2Fake;
let idps: IdentityProviders;
let oidcProvider: ProviderSettings;
let googleProvider: ProviderSettings;
let foreignKey: KeyObject;

beforeAll(async () => {
  [idp, oauth2] = await Promise.all([new MockIdp().start(), new OAuth2Fake().start()]);
  idps = createIdentityProviders({ secrets, allowInsecureRequests: true });
  oidcProvider = provider({ issuer: idp.base });
  googleProvider = provider({ name: 'google', family: 'google', issuer: idp.base });
  foreignKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
});

afterAll(async () => {
  await Promise.all([close(idp.server), close(oauth2.server)]);
});

beforeEach(() => {
  idp.reset();
  oauth2.reset();
});

/** Sign-in against the mock IdP: start, the browser's visit to /authorize, then finish. */
async function signIn(
  p: ProviderSettings,
  options: { idps?: IdentityProviders; callback?: (url: URL) => void; codeVerifier?: string } = {},
) {
  const client = options.idps ?? idps;
  const started = await client.start(p, REDIRECT_URI);
  const redirect = await fetch(started.url, { redirect: 'manual' });
  expect(redirect.status).toBe(302);
  const callback = new URL(redirect.headers.get('location') as string);
  options.callback?.(callback);
  const expected = {
    state: started.state,
    nonce: started.nonce,
    codeVerifier: options.codeVerifier ?? started.codeVerifier,
  };
  return client.finish(p, callback, expected, REDIRECT_URI);
}

async function expectRejected(
  promise: Promise<unknown>,
  kind: SignInError['kind'],
  detail?: RegExp,
) {
  const error = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(SignInError);
  expect(error).toMatchObject({ kind });
  if (detail) expect((error as SignInError).detail).toMatch(detail);
  // The user-facing message is generic; nothing secret in either text.
  const texts = `${(error as SignInError).message} ${(error as SignInError).detail}`;
  expect(texts).not.toContain(CLIENT_SECRET);
  expect(texts).not.toMatch(/eyJ[\w-]+\.eyJ/);
  return error as SignInError;
}

describe('OpenID Connect: authorization request', () => {
  test('uses the code flow with PKCE S256, state and nonce, never the implicit grant (code-flow-with-pkce)', async () => {
    const started = await idps.start(oidcProvider, REDIRECT_URI);
    const url = new URL(started.url);
    expect(url.origin + url.pathname).toBe(`${idp.base}/authorize`);
    const q = url.searchParams;
    expect(q.getAll('response_type')).toEqual(['code']);
    expect(q.get('response_mode')).toBeNull();
    expect(q.get('client_id')).toBe(CLIENT_ID);
    expect(q.get('redirect_uri')).toBe(REDIRECT_URI);
    expect(q.get('scope')?.split(' ')).toEqual(['openid', 'email', 'profile']);
    expect(q.get('code_challenge_method')).toBe('S256');
    expect(q.get('code_challenge')).toBe(s256(started.codeVerifier));
    expect(started.codeVerifier).toMatch(/^[\w-]{43,128}$/);
    expect(q.get('state')).toBe(started.state);
    expect(q.get('nonce')).toBe(started.nonce);
    expect(started.state.length).toBeGreaterThanOrEqual(32);
    expect(started.nonce?.length).toBeGreaterThanOrEqual(32);
    // Nothing secret in the URL the browser sees.
    expect(started.url).not.toContain(CLIENT_SECRET);
    expect(started.url).not.toContain(started.codeVerifier);
  });

  test('each start has its own state, nonce and verifier', async () => {
    const [a, b] = await Promise.all([
      idps.start(oidcProvider, REDIRECT_URI),
      idps.start(oidcProvider, REDIRECT_URI),
    ]);
    expect(a.state).not.toBe(b.state);
    expect(a.nonce).not.toBe(b.nonce);
    expect(a.codeVerifier).not.toBe(b.codeVerifier);
  });

  test('always asks for openid, even when configured scopes forget it', async () => {
    const started = await idps.start({ ...oidcProvider, scopes: ['email'] }, REDIRECT_URI);
    expect(new URL(started.url).searchParams.get('scope')).toBe('openid email');
  });

  test('discovers and fetches the JWKS once per provider per container; the secret comes from the store each time', async () => {
    const fresh = createIdentityProviders({ secrets, allowInsecureRequests: true });
    const before = secrets.calls;
    await signIn(oidcProvider, { idps: fresh });
    await signIn(oidcProvider, { idps: fresh });
    expect(idp.discoveryRequests).toBe(1);
    expect(idp.jwksRequests).toBe(1);
    // The store's cache (secrets.ts, five minutes) decides when a rotated secret is seen.
    expect(secrets.calls - before).toBe(2);
  });
});

describe('OpenID Connect: discovery', () => {
  test('refuses a discovery document whose issuer differs from the configured one (discovery-issuer-match)', async () => {
    const p = provider({ issuer: `${idp.base}/mismatch` });
    await expectRejected(idps.start(p, REDIRECT_URI), 'idp_unavailable', /issuer/);
  });

  test('refuses an issuer that differs from the discovered one only by a trailing slash', async () => {
    const p = provider({ issuer: `${idp.base}/` });
    await expectRejected(idps.start(p, REDIRECT_URI), 'idp_unavailable', /issuer/);
  });

  test('a discovery endpoint answering garbage is idp_unavailable (idp-failure-502)', async () => {
    await expectRejected(
      idps.start(provider({ issuer: `${idp.base}/garbage` }), REDIRECT_URI),
      'idp_unavailable',
    );
  });

  test('an unreachable issuer is idp_unavailable', async () => {
    const down = await new MockIdp().start();
    const p = provider({ issuer: down.base });
    await close(down.server);
    await expectRejected(idps.start(p, REDIRECT_URI), 'idp_unavailable', /discovery/);
  });

  test('a failed discovery is not cached: the next sign-in tries again', async () => {
    const p = provider({ name: 'flaky', issuer: `${idp.base}/flaky` });
    await expectRejected(idps.start(p, REDIRECT_URI), 'idp_unavailable');
    await expect(idps.start(p, REDIRECT_URI)).resolves.toMatchObject({ state: expect.any(String) });
    expect(idp.discoveryRequests).toBe(2);
  });

  test('refuses http:// issuers unless insecure requests are allowed (tests only)', async () => {
    const strict = createIdentityProviders({ secrets });
    await expectRejected(strict.start(oidcProvider, REDIRECT_URI), 'idp_unavailable', /HTTPS/);
  });
});

describe('OpenID Connect: sign-in', () => {
  test('returns the subject and the ID token the IdP issued', async () => {
    let issued: string | undefined;
    idp.tokenResponse = (response) => {
      issued = (response.body as { id_token: string }).id_token;
    };
    const identity = await signIn(oidcProvider);
    expect(identity.subject).toBe('johndoe');
    expect(identity.webIdentityToken).toBe(issued);
    expect(jose.decodeJwt(identity.webIdentityToken)).toMatchObject({
      iss: idp.base,
      aud: CLIENT_ID,
    });
    // Client secret in the body, PKCE verifier sent (the mock checks it against the challenge).
    expect(idp.lastTokenRequest?.body).toMatchObject({
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
    });
    expect(idp.lastTokenRequest?.body.code_verifier).toMatch(/^[\w-]{43,}$/);
  });

  test('sends the configured redirect_uri to the token endpoint, whatever host the callback came in on (redirect-uri-from-config)', async () => {
    await signIn(oidcProvider, {
      callback: (url) => {
        url.host = 'evil.example';
      },
    });
    expect(idp.lastTokenRequest?.body.redirect_uri).toBe(REDIRECT_URI);
  });

  test('takes the display name from the ID token, without a userinfo call', async () => {
    idp.idToken = (_header, payload) => {
      payload.name = 'John Doe';
    };
    const identity = await signIn(oidcProvider);
    expect(identity.displayName).toBe('John Doe');
    expect(idp.userinfoRequests).toBe(0);
  });

  test('otherwise reads the display name from userinfo for the same subject', async () => {
    idp.userinfo = (response) => {
      response.body = { sub: 'johndoe', name: 'John from userinfo' };
    };
    const identity = await signIn(oidcProvider);
    expect(identity.displayName).toBe('John from userinfo');
    expect(idp.userinfoRequests).toBe(1);
  });

  test('refuses userinfo about another subject (userinfo-sub-match)', async () => {
    idp.userinfo = (response) => {
      response.body = { sub: 'someone-else', name: 'Mallory' };
    };
    await expectRejected(signIn(oidcProvider), 'token_rejected', /userinfo/);
  });

  test('accepts a token that expired within the clock tolerance', async () => {
    idp.idToken = (_header, payload) => {
      payload.exp = epoch() - 5;
    };
    await expect(signIn(oidcProvider)).resolves.toMatchObject({ subject: 'johndoe' });
  });

  test('uses the injected clock: a fresh token is expired two hours later', async () => {
    const later = createIdentityProviders({
      secrets,
      allowInsecureRequests: true,
      clock: { now: () => Date.now() + 2 * 3600 * 1000 },
    });
    await expectRejected(signIn(oidcProvider, { idps: later }), 'token_rejected', /exp|timestamp/);
  });
});

describe('OpenID Connect: ID token validation (id-token-issuer, id-token-audience, id-token-claims-required, id-token-expiry, id-token-nonce, id-token-signature, subject-safe-for-prefix)', () => {
  type Mutation = (header: Claims, payload: Claims) => void;
  const sub =
    (value: unknown): Mutation =>
    (_h, p) =>
      void (p.sub = value);
  // Each case names the reason it must be refused for, so one check cannot mask another.
  const cases: [string, Mutation, RegExp][] = [
    ['wrong iss', (_h, p) => void (p.iss = 'https://evil.example'), /claim iss/],
    ['missing iss', (_h, p) => void delete p.iss, /"iss" .* missing/],
    [
      'iss without scheme (only Google has that alias)',
      (_h, p) => void (p.iss = String(p.iss).replace('http://', '')),
      /claim iss/,
    ],
    ['wrong aud', (_h, p) => void (p.aud = 'another-client'), /claim aud/],
    ['missing aud', (_h, p) => void delete p.aud, /"aud" .* missing/],
    [
      'extra untrusted aud without azp',
      (_h, p) => void (p.aud = [CLIENT_ID, 'another-client']),
      /untrusted audiences/,
    ],
    [
      'extra untrusted aud even with azp = client id',
      (_h, p) => void Object.assign(p, { aud: [CLIENT_ID, 'another-client'], azp: CLIENT_ID }),
      /untrusted audience/,
    ],
    ['azp of another client', (_h, p) => void (p.azp = 'another-client'), /azp/],
    [
      'azp mismatch with several audiences',
      (_h, p) => void Object.assign(p, { aud: [CLIENT_ID, 'x'], azp: 'x' }),
      /claim azp/,
    ],
    ['missing sub', (_h, p) => void delete p.sub, /"sub" .* missing/],
    ['missing iat', (_h, p) => void delete p.iat, /"iat" .* missing/],
    ['missing exp', (_h, p) => void delete p.exp, /"exp" .* missing/],
    ['exp in the past beyond the tolerance', (_h, p) => void (p.exp = epoch() - 120), /claim exp/],
    ['nbf in the future', (_h, p) => void (p.nbf = epoch() + 600), /claim nbf/],
    ['missing nonce', (_h, p) => void delete p.nonce, /"nonce" .* missing/],
    ['wrong nonce', (_h, p) => void (p.nonce = 'another-nonce'), /claim nonce/],
    ['sub with /', sub('johndoe/../alice'), /subject is not usable/],
    ['sub with *', sub('john*'), /subject is not usable/],
    ['sub with ?', sub('john?'), /subject is not usable/],
    ['sub with $', sub('john$doe'), /subject is not usable/],
    ['sub with a control character', sub('john\u0000doe'), /subject is not usable/],
    ['empty sub', sub(''), /subject is not usable/],
    ['sub over 255 characters', sub('x'.repeat(256)), /subject is not usable/],
    ['sub that is not a string', sub(12345), /"sub" .* type/],
  ];
  test.each(cases)('rejects an ID token with %s', async (_name, mutate, reason) => {
    idp.idToken = (header, payload) => {
      payload.name = 'Jane'; // no userinfo call: its own sub check must not mask these
      mutate(header, payload);
    };
    await expectRejected(signIn(oidcProvider), 'token_rejected', reason);
    expect(idp.userinfoRequests).toBe(0);
  });

  test('accepts a 255-character subject', async () => {
    // With a name in the ID token, so no userinfo call (whose sub would differ).
    idp.idToken = (_h, p) => void Object.assign(p, { sub: 'x'.repeat(255), name: 'X' });
    await expect(signIn(oidcProvider)).resolves.toMatchObject({ subject: 'x'.repeat(255) });
  });

  /** Replaces the signed ID token in the token response. */
  function replaceIdToken(make: (claims: Claims) => string) {
    idp.tokenResponse = (response) => {
      const body = response.body as { id_token: string };
      body.id_token = make(jose.decodeJwt(body.id_token));
    };
  }

  test('rejects an ID token signed with another key under the real kid (signature checked)', async () => {
    replaceIdToken((claims) =>
      signJwt({ alg: 'RS256', typ: 'JWT', kid: idp.realKid }, claims, foreignKey),
    );
    await expectRejected(signIn(oidcProvider), 'token_rejected', /signature/);
  });

  test('rejects an unsigned ID token (alg: none)', async () => {
    replaceIdToken((claims) => signJwt({ alg: 'none', typ: 'JWT' }, claims));
    await expectRejected(signIn(oidcProvider), 'token_rejected', /alg/);
  });

  test('rejects an ID token MACed with HS256 (algorithm confusion)', async () => {
    replaceIdToken((claims) => {
      const input = `${b64u(JSON.stringify({ alg: 'HS256', kid: idp.realKid }))}.${b64u(JSON.stringify(claims))}`;
      return `${input}.${createHmac('sha256', CLIENT_SECRET).update(input).digest('base64url')}`;
    });
    await expectRejected(signIn(oidcProvider), 'token_rejected', /alg/);
  });

  test('rejects an ID token with an unknown kid', async () => {
    replaceIdToken((claims) =>
      signJwt({ alg: 'RS256', typ: 'JWT', kid: 'unknown-kid' }, claims, foreignKey),
    );
    await expectRejected(signIn(oidcProvider), 'token_rejected', /key/);
  });

  test('rejects a token response without an ID token', async () => {
    idp.tokenResponse = (response) => void delete (response.body as Claims).id_token;
    await expectRejected(signIn(oidcProvider), 'idp_unavailable', /id_token/);
  });
});

describe('OpenID Connect: authorization response (state-required, callback-params-unique, callback-iss-checked)', () => {
  test('state mismatch is bad_request, before any token request', async () => {
    await expectRejected(
      signIn(oidcProvider, { callback: (url) => url.searchParams.set('state', 'forged') }),
      'bad_request',
      /state/,
    );
    expect(idp.lastTokenRequest).toBeUndefined();
  });

  test('missing state is bad_request', async () => {
    await expectRejected(
      signIn(oidcProvider, { callback: (url) => url.searchParams.delete('state') }),
      'bad_request',
    );
  });

  test('duplicated parameters are bad_request', async () => {
    await expectRejected(
      signIn(oidcProvider, { callback: (url) => url.searchParams.append('code', 'another-code') }),
      'bad_request',
    );
  });

  test('an error response is bad_request', async () => {
    await expectRejected(
      signIn(oidcProvider, {
        callback: (url) => {
          url.searchParams.delete('code');
          url.searchParams.set('error', 'access_denied');
        },
      }),
      'bad_request',
    );
    expect(idp.lastTokenRequest).toBeUndefined();
  });

  test('a response without code is bad_request', async () => {
    await expectRejected(
      signIn(oidcProvider, { callback: (url) => url.searchParams.delete('code') }),
      'bad_request',
    );
  });

  test('a wrong iss parameter is refused even when the IdP does not advertise RFC 9207', async () => {
    await expectRejected(
      signIn(oidcProvider, {
        callback: (url) => url.searchParams.set('iss', 'https://evil.example'),
      }),
      'bad_request',
      /iss/,
    );
  });

  describe('IdP advertising authorization_response_iss_parameter_supported (RFC 9207)', () => {
    let p: ProviderSettings;
    beforeAll(() => {
      p = provider({ name: 'rfc9207', issuer: `${idp.base}/rfc9207` });
    });

    test('a missing iss parameter is bad_request', async () => {
      await expectRejected(signIn(p), 'bad_request', /iss/);
      expect(idp.lastTokenRequest).toBeUndefined();
    });

    test('a wrong iss parameter is bad_request (mix-up)', async () => {
      await expectRejected(
        signIn(p, { callback: (url) => url.searchParams.set('iss', idp.base) }),
        'bad_request',
        /iss/,
      );
    });

    test('the right iss parameter is accepted; the secret goes by HTTP Basic as advertised', async () => {
      // The mock takes the client id from Basic auth without form-decoding it (RFC 6749
      // 2.3.1: 'test-client' is sent as 'test%2Dclient'), so aud is set here.
      idp.idToken = (_h, payload) => void Object.assign(payload, { iss: p.issuer, aud: CLIENT_ID });
      const identity = await signIn(p, {
        callback: (url) => url.searchParams.set('iss', p.issuer as string),
      });
      expect(identity.subject).toBe('johndoe');
      expect(idp.lastTokenRequest?.authorization).toMatch(/^Basic /);
      expect(idp.lastTokenRequest?.body.client_secret).toBeUndefined();
    });
  });
});

describe('OpenID Connect: token endpoint failures (idp-failure-502, pkce-verifier-mismatch)', () => {
  test('PKCE verifier mismatch: the IdP refuses the code -> token_rejected', async () => {
    // oauth2-mock-server checks S256(code_verifier) against the challenge, and answers
    // 400 invalid_request (a real IdP says invalid_grant); both are a refusal.
    const other = 'x'.repeat(43);
    await expectRejected(signIn(oidcProvider, { codeVerifier: other }), 'token_rejected', /400/);
  });

  test('invalid_grant -> token_rejected', async () => {
    idp.tokenResponse = (response) => {
      response.statusCode = 400;
      response.body = { error: 'invalid_grant', error_description: 'code already used' };
    };
    await expectRejected(signIn(oidcProvider), 'token_rejected', /invalid_grant/);
  });

  const garbage: [string, (res: http.ServerResponse) => void][] = [
    [
      '500 with an HTML page',
      (res) => res.writeHead(500, { 'content-type': 'text/html' }).end('<h1>oops</h1>'),
    ],
    ['500 with an OAuth error body', (res) => sendJson(res, 500, { error: 'server_error' })],
    ['503 with an empty body', (res) => res.writeHead(503).end()],
    [
      '200 with HTML',
      (res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html></html>'),
    ],
    [
      '200 with broken JSON',
      (res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"access_'),
    ],
    ['200 with a JSON array', (res) => sendJson(res, 200, [])],
    [
      '200 without access_token',
      (res) => sendJson(res, 200, { token_type: 'bearer', id_token: 'x' }),
    ],
    ['302 elsewhere', (res) => res.writeHead(302, { location: 'https://evil.example/' }).end()],
    ['a dropped connection', (res) => res.socket?.destroy()],
  ];
  test.each(garbage)('token endpoint answering %s -> idp_unavailable', async (_name, respond) => {
    idp.tokenEndpoint = respond;
    await expectRejected(signIn(oidcProvider), 'idp_unavailable', /token/);
  });

  test('token endpoint down (server closed) -> idp_unavailable', async () => {
    const down = await new MockIdp().start();
    const p = provider({ name: 'down', issuer: down.base });
    const started = await idps.start(p, REDIRECT_URI); // discovery cached while it was up
    await close(down.server);
    const callback = new URL(`${REDIRECT_URI}?code=some-code&state=${started.state}`);
    const expected = {
      state: started.state,
      nonce: started.nonce,
      codeVerifier: started.codeVerifier,
    };
    await expectRejected(
      idps.finish(p, callback, expected, REDIRECT_URI),
      'idp_unavailable',
      /fetch failed/,
    );
  });
});

describe('Google issuer spellings (id-token-issuer)', () => {
  // Google signs ID tokens with iss `https://accounts.google.com` or `accounts.google.com`.
  // Locally the issuer is http://127.0.0.1:<port>, its scheme-less alias 127.0.0.1:<port>.
  const alias = () => idp.base.replace('http://', '');

  test('accepts the issuer as discovered', async () => {
    await expect(signIn(googleProvider)).resolves.toMatchObject({ subject: 'johndoe' });
  });

  test('accepts the scheme-less spelling, validated with the same JWKS', async () => {
    let issued: string | undefined;
    idp.idToken = (_h, p) => void (p.iss = alias());
    idp.tokenResponse = (response) =>
      void (issued = (response.body as { id_token: string }).id_token);
    const identity = await signIn(googleProvider);
    expect(identity).toMatchObject({ subject: 'johndoe', webIdentityToken: issued });
    expect(jose.decodeJwt(identity.webIdentityToken).iss).toBe(alias());
  });

  const stillChecked: [string, (header: Claims, payload: Claims) => void, RegExp][] = [
    ['wrong nonce', (_h, p) => void (p.nonce = 'another'), /nonce/],
    ['wrong aud', (_h, p) => void (p.aud = 'another-client'), /"aud"/],
    ['azp of another client', (_h, p) => void (p.azp = 'another-client'), /azp/],
    [
      'extra untrusted aud',
      (_h, p) => void (p.aud = [CLIENT_ID, 'another-client']),
      /untrusted audience/,
    ],
    ['expired', (_h, p) => void (p.exp = epoch() - 120), /"exp"/],
    ['missing iat', (_h, p) => void delete p.iat, /"iat"/],
    ['sub with /', (_h, p) => void (p.sub = 'a/b'), /subject is not usable/],
  ];
  test.each(stillChecked)(
    'with the scheme-less spelling, still rejects %s',
    async (_name, mutate, reason) => {
      idp.idToken = (h, p) => {
        Object.assign(p, { iss: alias(), name: 'Jane' }); // name: no userinfo call
        mutate(h, p);
      };
      await expectRejected(signIn(googleProvider), 'token_rejected', reason);
      expect(idp.userinfoRequests).toBe(0);
    },
  );

  test('with the scheme-less spelling, still verifies the signature', async () => {
    idp.tokenResponse = (response) => {
      const body = response.body as { id_token: string };
      const claims = { ...jose.decodeJwt(body.id_token), iss: alias() };
      body.id_token = signJwt({ alg: 'RS256', kid: idp.realKid }, claims, foreignKey);
    };
    await expectRejected(signIn(googleProvider), 'token_rejected', /signature/);
  });

  test.each([['https://127.0.0.1'], ['evil.example'], ['']])('rejects iss %p', async (iss) => {
    idp.idToken = (_h, p) => void (p.iss = iss);
    await expectRejected(signIn(googleProvider), 'token_rejected');
  });
});

describe.each([
  ['amazon', 'amzn1.account.AEXAMPLE', 'Ann Amazon', 'user_id'],
  ['facebook', '10150000000000001', 'Fay Facebook', 'id'],
] as const)('OAuth 2.0 provider %s', (family, subject, name, field) => {
  let p: ProviderSettings;
  beforeAll(() => {
    p = provider({
      name: family,
      family,
      authorizationEndpoint: `${oauth2.base}/${family}/authorize`,
      tokenEndpoint: `${oauth2.base}/${family}/token`,
      profileEndpoint: `${oauth2.base}/${family}/profile${family === 'facebook' ? '?fields=id,name' : ''}`,
    });
  });

  /** start, then the IdP's redirect back with a code bound to the PKCE challenge. */
  async function signInOAuth2(options: { codeVerifier?: string } = {}) {
    const started = await idps.start(p, REDIRECT_URI);
    const challenge = new URL(started.url).searchParams.get('code_challenge') as string;
    oauth2.challenges.set('the-code', challenge);
    const callback = new URL(`${REDIRECT_URI}?code=the-code&state=${started.state}`);
    const expected = {
      state: started.state,
      codeVerifier: options.codeVerifier ?? started.codeVerifier,
    };
    return idps.finish(p, callback, expected, REDIRECT_URI);
  }

  test('authorization request: code flow, PKCE S256, state, no nonce (code-flow-with-pkce)', async () => {
    const started = await idps.start(p, REDIRECT_URI);
    const url = new URL(started.url);
    expect(url.origin + url.pathname).toBe(`${oauth2.base}/${family}/authorize`);
    expect(Object.fromEntries(url.searchParams)).toEqual({
      response_type: 'code',
      client_id: CLIENT_ID,
      redirect_uri: REDIRECT_URI,
      scope: family === 'amazon' ? 'profile' : 'public_profile',
      state: started.state,
      code_challenge: s256(started.codeVerifier),
      code_challenge_method: 'S256',
    });
    expect(started.nonce).toBeUndefined();
  });

  test('a rotated client secret is used by the next sign-in (no cache of its own)', async () => {
    let current = 'the-old-secret';
    const rotating: SecretStore = { get: async () => current };
    const client = createIdentityProviders({ secrets: rotating, allowInsecureRequests: true });
    const signInWith = async () => {
      const started = await client.start(p, REDIRECT_URI);
      oauth2.challenges.set('the-code', new URL(started.url).searchParams.get('code_challenge')!);
      const callback = new URL(`${REDIRECT_URI}?code=the-code&state=${started.state}`);
      const expected = { state: started.state, codeVerifier: started.codeVerifier };
      return client.finish(p, callback, expected, REDIRECT_URI);
    };
    // The IdP knows only the new secret.
    await expectRejected(signInWith(), 'token_rejected');
    current = CLIENT_SECRET;
    await expect(signInWith()).resolves.toMatchObject({ subject });
    expect(oauth2.tokenRequests.map((b) => b.get('client_secret'))).toEqual([
      'the-old-secret',
      CLIENT_SECRET,
    ]);
  });

  test(`returns the access token for STS and the profile ${field} as subject`, async () => {
    const identity = await signInOAuth2();
    expect(identity).toEqual({ subject, displayName: name, webIdentityToken: oauth2.accessToken });
    const token = oauth2.tokenRequests[0];
    expect(token.get('grant_type')).toBe('authorization_code');
    expect(token.get('code')).toBe('the-code');
    expect(token.get('code_verifier')).toMatch(/^[\w-]{43,}$/);
    expect(token.get('client_id')).toBe(CLIENT_ID);
    expect(token.get('client_secret')).toBe(CLIENT_SECRET);
    expect(token.get('redirect_uri')).toBe(REDIRECT_URI);
    expect(oauth2.profileRequests[0].authorization).toBe(`Bearer ${oauth2.accessToken}`);
  });

  test('PKCE verifier mismatch: invalid_grant -> token_rejected (pkce-verifier-mismatch)', async () => {
    await expectRejected(
      signInOAuth2({ codeVerifier: 'y'.repeat(43) }),
      'token_rejected',
      /invalid_grant/,
    );
    expect(oauth2.profileRequests).toHaveLength(0);
  });

  test('state mismatch -> bad_request, no token request (state-required)', async () => {
    const started = await idps.start(p, REDIRECT_URI);
    const callback = new URL(`${REDIRECT_URI}?code=the-code&state=forged`);
    const expected = { state: started.state, codeVerifier: started.codeVerifier };
    await expectRejected(idps.finish(p, callback, expected, REDIRECT_URI), 'bad_request', /state/);
    expect(oauth2.tokenRequests).toHaveLength(0);
  });

  test(`profile without ${field} -> token_rejected`, async () => {
    oauth2.profileEndpoint = (res) => sendJson(res, 200, { name });
    await expectRejected(signInOAuth2(), 'token_rejected', new RegExp(field));
  });

  test(`profile ${field} with / -> token_rejected (subject-safe-for-prefix)`, async () => {
    oauth2.profileEndpoint = (res) => sendJson(res, 200, { [field]: '../other', name });
    await expectRejected(signInOAuth2(), 'token_rejected', new RegExp(field));
  });

  test('profile endpoint refusing the access token -> token_rejected', async () => {
    oauth2.profileEndpoint = (res) => sendJson(res, 401, { error: 'invalid_token' });
    await expectRejected(signInOAuth2(), 'token_rejected', /401/);
  });

  test('error body in a non-standard shape (Facebook) -> token_rejected', async () => {
    oauth2.tokenEndpoint = (res) =>
      sendJson(res, 400, {
        error: { message: 'Invalid verification code', type: 'OAuthException', code: 100 },
      });
    await expectRejected(signInOAuth2(), 'token_rejected', /400/);
  });

  const garbage: [string, 'token' | 'profile', (res: http.ServerResponse) => void][] = [
    [
      'token endpoint HTML',
      'token',
      (res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>'),
    ],
    ['token endpoint 500', 'token', (res) => res.writeHead(500).end('oops')],
    [
      'token endpoint JSON without access_token',
      'token',
      (res) => sendJson(res, 200, { foo: 'bar' }),
    ],
    [
      'profile endpoint HTML',
      'profile',
      (res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<x'),
    ],
    ['profile endpoint 502', 'profile', (res) => res.writeHead(502).end()],
    ['profile endpoint JSON array', 'profile', (res) => sendJson(res, 200, [])],
    ['profile endpoint dropping the connection', 'profile', (res) => res.socket?.destroy()],
  ];
  test.each(garbage)(
    '%s -> idp_unavailable (idp-failure-502)',
    async (_name, endpoint, respond) => {
      if (endpoint === 'token') oauth2.tokenEndpoint = respond;
      else oauth2.profileEndpoint = respond;
      await expectRejected(signInOAuth2(), 'idp_unavailable');
    },
  );
});

describe('OAuth 2.0 provider details', () => {
  test('Amazon and Facebook default to the real endpoints and scopes', async () => {
    const strict = createIdentityProviders({ secrets });
    const amazon = new URL((await strict.start(provider({ family: 'amazon' }), REDIRECT_URI)).url);
    expect(amazon.origin + amazon.pathname).toBe('https://www.amazon.com/ap/oa');
    expect(amazon.searchParams.get('scope')).toBe('profile');
    const facebook = new URL(
      (await strict.start(provider({ family: 'facebook' }), REDIRECT_URI)).url,
    );
    expect(facebook.origin + facebook.pathname).toBe('https://www.facebook.com/v19.0/dialog/oauth');
    expect(facebook.searchParams.get('scope')).toBe('public_profile');
    expect(facebook.searchParams.get('code_challenge_method')).toBe('S256');
  });

  test('Facebook profile requests carry appsecret_proof and keep the configured fields', async () => {
    const p = provider({
      name: 'facebook',
      family: 'facebook',
      authorizationEndpoint: `${oauth2.base}/facebook/authorize`,
      tokenEndpoint: `${oauth2.base}/facebook/token`,
      profileEndpoint: `${oauth2.base}/facebook/profile?fields=id,name`,
    });
    const started = await idps.start(p, REDIRECT_URI);
    oauth2.challenges.set('c', new URL(started.url).searchParams.get('code_challenge') as string);
    const callback = new URL(`${REDIRECT_URI}?code=c&state=${started.state}`);
    await idps.finish(
      p,
      callback,
      { state: started.state, codeVerifier: started.codeVerifier },
      REDIRECT_URI,
    );
    const url = oauth2.profileRequests[0].url;
    expect(url.searchParams.get('fields')).toBe('id,name');
    const proof = createHmac('sha256', CLIENT_SECRET).update(oauth2.accessToken).digest('hex');
    expect(url.searchParams.get('appsecret_proof')).toBe(proof);
  });
});

describe('the request deadline bounds every IdP request (idp-failure-502)', () => {
  const amazon = provider({
    name: 'amazon',
    family: 'amazon',
    authorizationEndpoint: 'https://idp.test/amazon/authorize',
    tokenEndpoint: 'https://idp.test/amazon/token',
    profileEndpoint: 'https://idp.test/amazon/profile',
  });
  const json = (value: unknown) =>
    new Response(JSON.stringify(value), {
      status: 200,
      headers: { 'content-type': 'application/json' },
    });

  /**
   * An IdP whose token and profile endpoints take the given times (or until the request's
   * signal fires); records the time each request was given.
   */
  function slowIdp(clock: FakeClock, times: { token: number; profile: number }) {
    const requests: [string, number][] = [];
    const fake = async (url: string | URL | Request, init?: RequestInit) => {
      const path = new URL(String(url)).pathname;
      requests.push([path, (clock.abortsAt(init?.signal) ?? Infinity) - clock.t]);
      if (path.endsWith('/token')) {
        await clock.spend(times.token, init?.signal);
        return json({ access_token: 'Atza|the-token', token_type: 'bearer', expires_in: 3600 });
      }
      await clock.spend(times.profile, init?.signal);
      return json({ user_id: 'amzn1.account.AEXAMPLE', name: 'Ann' });
    };
    const idps = createIdentityProviders({ secrets, clock, fetch: fake as typeof fetch });
    return { idps, requests };
  }

  async function finishWithin(idps: IdentityProviders, clock: FakeClock, deadline: number) {
    const started = await idps.start(amazon, REDIRECT_URI);
    const callback = new URL(`${REDIRECT_URI}?code=the-code&state=${started.state}`);
    const expected = { state: started.state, codeVerifier: started.codeVerifier };
    return idps.finish(amazon, callback, expected, REDIRECT_URI, createBudget(clock, deadline));
  }

  test('a slow token request leaves the profile request only what is left: idp_unavailable before the deadline', async () => {
    const clock = new FakeClock();
    const deadline = clock.t + 15_000;
    const { idps, requests } = slowIdp(clock, { token: 9_000, profile: 60_000 });
    await expectRejected(finishWithin(idps, clock, deadline), 'idp_unavailable', /profile/);
    expect(requests).toEqual([
      ['/amazon/token', 10_000],
      ['/amazon/profile', 15_000 - RESERVE_MS - 9_000],
    ]);
    expect(clock.t).toBe(deadline - RESERVE_MS);
  });

  test('a hung token request is cut at the 10 s cap, and no profile request follows', async () => {
    const clock = new FakeClock();
    const deadline = clock.t + 15_000;
    const { idps, requests } = slowIdp(clock, { token: 60_000, profile: 10 });
    await expectRejected(finishWithin(idps, clock, deadline), 'idp_unavailable', /token/);
    expect(requests).toEqual([['/amazon/token', 10_000]]);
  });

  test('with too little time left the next request is not sent at all', async () => {
    const clock = new FakeClock();
    const deadline = clock.t + 11_000;
    const token = 11_000 - RESERVE_MS - MIN_CALL_MS + 1;
    const { idps, requests } = slowIdp(clock, { token, profile: 10 });
    await expectRejected(finishWithin(idps, clock, deadline), 'idp_unavailable', /deadline/);
    expect(requests.map(([path]) => path)).toEqual(['/amazon/token']);
    expect(clock.t).toBe(deadline - RESERVE_MS - MIN_CALL_MS + 1);
  });

  test('no discovery request without time for it', async () => {
    const clock = new FakeClock();
    const fake = jest.fn(async () => json({}));
    const idps = createIdentityProviders({ secrets, clock, fetch: fake as typeof fetch });
    const p = provider({ issuer: 'https://issuer.test' });
    await expectRejected(
      idps.start(p, REDIRECT_URI, createBudget(clock, clock.t + RESERVE_MS)),
      'idp_unavailable',
      /discovery.*deadline/,
    );
    expect(fake).not.toHaveBeenCalled();
  });
});

describe('isSafeSubject (subject-safe-for-prefix)', () => {
  test.each([
    'johndoe',
    'amzn1.account.AEXAMPLE',
    '10150000000000001',
    'a|b',
    'auth0|5f7c8ec7c33c6c004bbafe82',
    'x'.repeat(255),
  ])('accepts %p', (s) => expect(isSafeSubject(s)).toBe(true));
  test.each([
    '',
    'a/b',
    'a\\b',
    'a*',
    'a?',
    '$x',
    'a\nb',
    'a\u007fb',
    'a\u0085b',
    'x'.repeat(256),
    'é'.repeat(128),
    42,
    undefined,
  ])('refuses %p', (s) => expect(isSafeSubject(s)).toBe(false));
});
