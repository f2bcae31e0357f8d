import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import fc from 'fast-check';
import { userPrefix } from '../../common/provider-facts';
import { type AppDeps, createApp, createContext } from '../../lambda/callback/app';
import { createBudget } from '../../lambda/callback/budget';
import { toRequest } from '../../lambda/callback/handler';
import type { HttpRequest, HttpResponse } from '../../lambda/callback/http';
import { isSafeSubject } from '../../lambda/callback/names';
import { matchRoute, routeTable } from '../../lambda/callback/routes';
import {
  BadListTokenError,
  type FileListing,
  SignInError,
  type SignedInIdentity,
  type ListRequest,
  type TemporaryCredentials,
  UploadRefusedError,
  type UserStorage,
} from '../../lambda/callback/ports';
import { encodeLoose, formText, nasty, runs, XSS } from '../support/fuzz';
import {
  AMAZON_SETTINGS,
  FACEBOOK_SETTINGS,
  GOOGLE_SETTINGS,
  OIDC_SETTINGS,
  testAppConfig,
} from '../support/app-config';

/**
 * Property-based fuzz of every route of the app, through the API Gateway adapter: any
 * method, path, query, body, Origin, Content-Type and Cookie, signed in or not, with and
 * without a valid CSRF token. Whatever comes in, the app answers (never throws), never
 * with a 500 unless a port failed, always with the security headers, never with input
 * unescaped in a page, never redirecting off-site, and never touching a key outside the
 * signed-in user's own prefix (a spy on the storage port sees every key).
 */

const BASE_URL = 'https://files.example.com';
const NOW = Date.UTC(2026, 10, 22, 12);
const HOUR = 3600_000;
const SECRET_ACCESS_KEY = 'SECRETsecretSECRETsecret0000000000000000';
const SESSION_TOKEN = 'SESSIONTOKEN-'.repeat(40);
const SESSION = '__Host-wif-session';
const LOGIN = '__Host-wif-login';
const IDP_URL = 'https://idp.test/';
const PRESIGNED_URL = 'https://user-data-bucket.s3.eu-west-1.amazonaws.com/presigned';
/** In failures' messages: must reach logs only, never a page (idp-failure-502). */
const DETAIL = 'INTERNAL-DETAIL';
/** Names the fake bucket lists: uploaded names are attacker text too. */
const LISTED = [`${XSS}>"'&.txt`, '<script>alert(1)</script>.html', 'ok.txt'];
/** The listing the sign-in helper sees; each fuzzed request lists one of {@link listing}. */
const PLAIN_LISTING: FileListing = {
  files: LISTED.map((name) => ({ name, size: 1234, lastModified: new Date(NOW) })),
  folders: [],
};

// Every family: Google and a generic OIDC provider (ID tokens), Amazon and Facebook (access tokens).
const config = testAppConfig({
  baseUrl: BASE_URL,
  clientCredentials: true,
  providers: [GOOGLE_SETTINGS, AMAZON_SETTINGS, FACEBOOK_SETTINGS, OIDC_SETTINGS],
});
const PROVIDERS = ['google', 'amazon', 'facebook', 'devidp'] as const;
type Provider = (typeof PROVIDERS)[number];
const SUBJECTS: Record<Provider, string> = {
  google: '1001',
  amazon: 'amzn1.account.AAA',
  facebook: '10158000000000001',
  devidp: 'auth0|5f1c0ffee',
};

/** One storage call as the spy saw it. */
interface StorageCall {
  readonly op: keyof UserStorage;
  readonly accessKeyId: string;
  /** The key, or the prefix for `list`. */
  readonly key: string;
}

/** Which port fails, and how; failures show up as `threw`. */
interface Failure {
  port?: 'secrets' | 'start' | 'finish' | 'sts' | keyof UserStorage;
  error?: Error;
  threw?: boolean;
}

/** The app with fakes for every port and a spy on storage. */
function harness() {
  const clock = { t: NOW };
  const storageCalls: StorageCall[] = [];
  const stsCalls: string[] = [];
  const failure: Failure = {};
  /** What the fake bucket's `list` answers: a listing, or an error it throws. */
  const listing: { value: FileListing | Error } = { value: PLAIN_LISTING };
  const identity: { value: SignedInIdentity } = {
    value: { subject: SUBJECTS.google, displayName: 'Alice', webIdentityToken: 'tok' },
  };
  let n = 0;
  const fail = (port: Failure['port']) => {
    if (failure.port === port && failure.error) {
      failure.threw = true;
      throw failure.error;
    }
  };
  /** A fake storage operation: recorded, maybe failing, then `result`. */
  const op =
    <T>(name: keyof UserStorage, result: T) =>
    async (credentials: TemporaryCredentials, target: string | ListRequest): Promise<T> => {
      // A listing's reach is its prefix plus the folder inside it.
      const key = typeof target === 'string' ? target : target.prefix + target.folder;
      storageCalls.push({ op: name, accessKeyId: credentials.accessKeyId, key });
      fail(name);
      return result;
    };
  const listed = op('list', undefined);
  const storage: UserStorage = {
    async list(credentials, request) {
      await listed(credentials, request);
      if (listing.value instanceof Error) throw listing.value;
      return listing.value;
    },
    exists: op('exists', true),
    presignGet: op('presignGet', PRESIGNED_URL),
    presignPut: op('presignPut', { url: PRESIGNED_URL, headers: { 'if-none-match': '*' } }),
    createMultipart: op('createMultipart', 'upload-id-1'),
    presignUploadPart: op('presignUploadPart', PRESIGNED_URL),
    completeMultipart: op('completeMultipart', undefined),
    abortMultipart: op('abortMultipart', undefined),
    delete: op('delete', undefined),
  };
  const deps: AppDeps = {
    config,
    clock: { now: () => clock.t },
    secrets: {
      get: async (id) => {
        fail('secrets');
        return id === 'cookie-key' ? 'k'.repeat(40) : 'client-secret';
      },
    },
    idp: {
      async start(provider) {
        fail('start');
        const state = `state-${provider.name}-${++n}`;
        return { url: `${IDP_URL}authorize?state=${state}`, state, nonce: 'n', codeVerifier: 'v' };
      },
      async finish() {
        fail('finish');
        return identity.value;
      },
    },
    sts: {
      async assume(provider) {
        stsCalls.push(provider.name);
        fail('sts');
        return {
          accessKeyId: `ASIA${provider.name.toUpperCase()}`,
          secretAccessKey: SECRET_ACCESS_KEY,
          sessionToken: SESSION_TOKEN,
          expiration: clock.t + HOUR,
        };
      },
    },
    storage,
  };
  const app = createApp(deps);
  return { app, deps, clock, storageCalls, stsCalls, failure, identity, listing };
}
type Harness = ReturnType<typeof harness>;

/** What one generated request is made of, before it becomes an API Gateway event. */
interface Input {
  method: string;
  path: string;
  query: string;
  body: string;
  base64: boolean;
  headers: Record<string, string>;
  /** Cookie pairs, in order, as `name=value`. */
  cookies: string[];
  /** The `cookies` array (as API Gateway sends it) or one Cookie header. */
  cookiesIn: 'array' | 'header';
}

/** Sends an input through the API Gateway adapter into the app. */
async function send(h: Harness, input: Input): Promise<{ req: HttpRequest; res: HttpResponse }> {
  const headers = { ...input.headers };
  if (input.cookiesIn === 'header' && input.cookies.length)
    headers.Cookie = input.cookies.join('; ');
  const req = toRequest({
    version: '2.0',
    rawPath: input.path,
    rawQueryString: input.query,
    headers,
    ...(input.cookiesIn === 'array' ? { cookies: input.cookies } : {}),
    body: input.base64 ? Buffer.from(input.body, 'utf8').toString('base64') : input.body,
    isBase64Encoded: input.base64,
    requestContext: { http: { method: input.method }, requestId: 'fuzz' },
  } as unknown as APIGatewayProxyEventV2);
  return { req, res: await h.app(req) };
}

/** Set-Cookie values by name. */
function setCookies(res: HttpResponse): Record<string, string> {
  return Object.fromEntries(
    res.cookies.map((c) => {
      const pair = c.split(';')[0];
      const i = pair.indexOf('=');
      return [pair.slice(0, i), pair.slice(i + 1)];
    }),
  );
}

/** Signs in through the app itself: the session cookie and its CSRF token. */
async function signIn(h: Harness, provider: Provider) {
  h.identity.value = { subject: SUBJECTS[provider], displayName: 'A', webIdentityToken: 't' };
  const base: Input = {
    method: 'GET',
    path: `/login/${provider}`,
    query: '',
    body: '',
    base64: false,
    headers: {},
    cookies: [],
    cookiesIn: 'array',
  };
  const login = (await send(h, base)).res;
  const state = new URL(login.headers.location).searchParams.get('state')!;
  const callback = (
    await send(h, {
      ...base,
      path: `/oauth2callback/${provider}`,
      query: `code=c&state=${state}`,
      cookies: [`${LOGIN}=${setCookies(login)[LOGIN]}`],
    })
  ).res;
  const session = setCookies(callback)[SESSION];
  const page = (await send(h, { ...base, path: '/', cookies: [`${SESSION}=${session}`] })).res;
  const csrf = /name="csrf" value="([^"]+)"/.exec(page.body)![1];
  return { session, csrf, login: setCookies(login)[LOGIN] };
}

const SECURITY_HEADERS: Record<string, RegExp> = {
  'content-security-policy': /default-src 'none'.*frame-ancestors 'none'/,
  'x-frame-options': /^DENY$/,
  'x-content-type-options': /^nosniff$/,
  'referrer-policy': /^no-referrer$/,
  'strict-transport-security': /^max-age=\d+/,
  'cross-origin-opener-policy': /^same-origin$/,
  'cross-origin-resource-policy': /^same-origin$/,
  'permissions-policy': /camera=\(\)/,
  'cache-control': /./,
};
/** The one script tag the app writes itself. */
const OWN_SCRIPT = '<script src="/static/app.js" defer></script>';

/**
 * What every answer must satisfy, whatever the request. `errorPath`: a port threw, and the
 * app's error handler answered; it keeps a HEAD answer's body (pinned by a failing test below).
 */
function checkResponse(req: HttpRequest, res: HttpResponse, errorPath = false): void {
  expect(Number.isInteger(res.status)).toBe(true);
  expect(res.status).toBeGreaterThanOrEqual(200);
  expect(res.status).toBeLessThan(600);
  for (const [name, value] of Object.entries(SECURITY_HEADERS))
    expect(res.headers[name]).toMatch(value);
  if (req.method === 'HEAD' && !errorPath) expect(res.body).toBe('');
  const type = res.headers['content-type'];
  expect(type).toBeDefined();
  if (type.startsWith('text/html')) {
    // idp-error-escaped: no input survives as markup.
    const markup = res.body.split(OWN_SCRIPT).join('');
    expect(markup).not.toContain(XSS);
    expect(markup).not.toMatch(/<script/i);
  }
  if (type === 'application/json' && req.method !== 'HEAD')
    expect(() => JSON.parse(res.body)).not.toThrow();
  // credentials-never-exposed, and no failure detail on any page.
  for (const secret of [SECRET_ACCESS_KEY, SESSION_TOKEN, DETAIL])
    expect(res.body).not.toContain(secret);
  const location = res.headers.location;
  if (location !== undefined) {
    expect(location).not.toMatch(/[\u0000-\u0020\u007f]/);
    // return-to-same-origin: only the IdP, a presigned S3 URL, or a path here;
    // loopback-redirect-only: or the CLI's callback on this computer, by port.
    if (location.startsWith('http://127.0.0.1:')) {
      expect(location).toMatch(/^http:\/\/127\.0\.0\.1:[1-9]\d{3,4}\/callback\?/);
    } else if (!location.startsWith(IDP_URL) && location !== PRESIGNED_URL) {
      expect(location).toMatch(/^\/(?![/\\])/);
      expect(new URL(location, `${BASE_URL}/oauth2callback/google`).origin).toBe(BASE_URL);
    }
  }
  for (const cookie of res.cookies) {
    expect(cookie).toMatch(/^__Host-wif-(session|login)=[^;\s]*; /);
    expect(cookie).not.toMatch(/[\r\n]/);
  }
}

/** C0 controls (NUL included), DEL and C1 controls. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const hasDotSegment = (text: string) => text.split('/').some((s) => s === '.' || s === '..');

/** A folder the app may list or upload into (folder-within-prefix). */
const plainFolder = (folder: string) =>
  folder === '' || (folder.endsWith('/') && !hasDotSegment(folder) && !CONTROL.test(folder));

/**
 * Every key the spy saw lies inside the prefix of the session whose credentials signed it;
 * `provider`, when given, is the only session that may have signed anything.
 */
function checkStorageCalls(calls: readonly StorageCall[], provider?: Provider): void {
  const prefixes = Object.fromEntries(
    PROVIDERS.map((p) => [`ASIA${p.toUpperCase()}`, userPrefix(p, SUBJECTS[p])]),
  );
  // Plain checks, one assertion: a multipart upload makes up to 2,000 calls.
  const outside = calls.filter((call) => {
    const prefix = prefixes[call.accessKeyId];
    if (!prefix) return true;
    if (provider !== undefined && call.accessKeyId !== `ASIA${provider.toUpperCase()}`) return true;
    if (!call.key.startsWith(prefix) || Buffer.byteLength(call.key, 'utf8') > 1024) return true;
    const name = call.key.slice(prefix.length);
    if (call.op === 'list') return !plainFolder(name);
    // listed-names-round-trip: an existing name, byte-exact; a browser download never has a
    // dot segment (it would resolve it out of the signed path).
    if (call.op === 'exists' || call.op === 'delete') return name === '';
    if (call.op === 'presignGet') return name === '' || hasDotSegment(name);
    // object-name-validated: a new name is one plain segment in a plain folder.
    const leaf = name.slice(name.lastIndexOf('/') + 1);
    return (
      !plainFolder(name.slice(0, name.length - leaf.length)) ||
      /[\\]/.test(leaf) ||
      CONTROL.test(leaf) ||
      ['', '.', '..'].includes(leaf)
    );
  });
  expect(outside).toEqual([]);
}

// ---- Generators ----------------------------------------------------------------------

/** The fuzzed routes by method; a test below checks they reach every entry of the table. */
const GET_ROUTES = [
  '/',
  '/healthz',
  '/privacy',
  '/download',
  ...PROVIDERS.flatMap((p) => [`/login/${p}`, `/oauth2callback/${p}`]),
  '/cli/authorize',
  '/cli/wif-login.cjs',
  '/api/session',
  '/api/credentials',
];
const POST_ROUTES = [
  '/delete',
  '/upload-url',
  '/upload-complete',
  '/upload-abort',
  '/logout',
  '/cli/consent',
  '/cli/token',
];
const ANY_ROUTES = [
  '/favicon.ico',
  '/static/app.css',
  '/static/app.js',
  '/login/nobody',
  '/oauth2callback/nobody',
];
const MUTATING: readonly (keyof UserStorage)[] = [
  'presignPut',
  'createMultipart',
  'presignUploadPart',
  'completeMultipart',
  'abortMultipart',
  'delete',
];

const path = fc.oneof(
  { weight: 10, arbitrary: fc.constantFrom(...GET_ROUTES, ...POST_ROUTES, ...ANY_ROUTES) },
  {
    weight: 3,
    arbitrary: fc
      .tuple(fc.constantFrom('/static/', '/login/', '/oauth2callback/', '/'), nasty)
      .map(([p, s]) => p + s),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '/sign-out',
      '',
      '//',
      '/download/',
      '/DOWNLOAD',
      '/static/',
      '/static/../app.js',
      '/static/constructor',
      '/static/__proto__',
      '/login/constructor',
    ),
  },
  { weight: 1, arbitrary: nasty },
);

const method = fc.oneof(
  { weight: 4, arbitrary: fc.constant('GET') },
  { weight: 4, arbitrary: fc.constant('POST') },
  { weight: 1, arbitrary: fc.constant('HEAD') },
  {
    weight: 1,
    arbitrary: fc.constantFrom('PUT', 'DELETE', 'OPTIONS', 'PATCH', 'TRACE', 'get', 'post'),
  },
  { weight: 1, arbitrary: nasty },
);

const FIELDS = [
  'name',
  'return_to',
  'code',
  'state',
  'error',
  'error_description',
  'prefix',
  'after',
  'done',
  'folder',
  'name_pct',
  'size',
  'type',
  'uploadId',
  'parts',
  'port',
  'mode',
  'code_challenge',
  'code_challenge_method',
  'code_verifier',
  'grant_type',
  'redirect_uri',
  'decision',
  'provider',
] as const;
const fieldName = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom<string>(...FIELDS) },
  { weight: 1, arbitrary: nasty },
);
const partsJson = fc
  .uniqueArray(fc.integer({ min: 1, max: 10_000 }), { minLength: 1, maxLength: 5 })
  .map((ns) =>
    JSON.stringify(
      [...ns]
        .sort((a, b) => a - b)
        .map((partNumber) => ({ partNumber, etag: `"${'a'.repeat(32)}"` })),
    ),
  );
/** Values that reach each field's own validation, and hostile ones. */
function fieldValue(name: string): fc.Arbitrary<string> {
  switch (name) {
    case 'name':
      return fc.oneof(
        nasty,
        fc.constantFrom(
          'report.pdf',
          'a b.txt',
          '..',
          '.',
          'a/b',
          '%2F',
          'é.txt',
          'x'.repeat(1100),
        ),
      );
    case 'prefix':
    case 'folder':
      return fc.oneof(
        nasty,
        nasty.map((f) => `${f}/`),
        fc.constantFrom(...HOSTILE_FOLDERS, 'docs/', 'docs/2025/', 'no-slash', 'a%2Fb/'),
      );
    case 'after':
      return fc.oneof(
        nasty,
        // As S3 issues them: base64 text.
        fc.stringMatching(/^[A-Za-z0-9+/]{20,120}={0,2}$/),
        fc.constantFrom(
          '1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=',
          'x'.repeat(4096),
          'x'.repeat(4097),
          `"><${XSS.slice(1)}>`,
          'a b',
          'a\u0000b',
          '%00',
          '',
        ),
      );
    case 'done':
      return fc.oneof(
        fc.constantFrom('uploaded', 'deleted', 'constructor', '__proto__', 'toString'),
        nasty,
      );
    case 'name_pct':
      return fc.oneof(
        nasty,
        nasty.map(encodeLoose),
        fc.constantFrom('bell%07.txt', 'cr%0D%0Alf', '%00', '%E0%A4%A', '%', '..', 'a%2F..%2Fb'),
      );
    case 'size':
      return fc.oneof(
        fc.bigInt({ min: 0n, max: 10n ** 16n }).map(String),
        fc.constantFrom('0', '67108864', '67108865', '5497558138880', '5497558138881', '-1', '1e9'),
        nasty,
      );
    case 'parts':
      return fc.oneof(partsJson, fc.json(), nasty);
    case 'uploadId':
      return fc.oneof(fc.stringMatching(/^[\x21-\x7e]{1,40}$/), nasty);
    case 'type':
      return fc.oneof(fc.constantFrom('text/plain', 'image/png', 'a/b\r\nX-Evil: 1'), nasty);
    case 'port':
      return fc.oneof(fc.integer({ min: -1, max: 70_000 }).map(String), nasty);
    case 'state':
    case 'code_challenge':
    case 'code_verifier':
      return fc.oneof(fc.stringMatching(/^[A-Za-z0-9_-]{16,50}$/), nasty);
    case 'code_challenge_method':
      return fc.oneof(fc.constantFrom('S256', 'plain', 's256'), nasty);
    case 'mode':
      return fc.oneof(fc.constant('paste'), nasty);
    case 'grant_type':
      return fc.oneof(fc.constant('authorization_code'), nasty);
    case 'decision':
      return fc.oneof(fc.constantFrom('allow', 'deny'), nasty);
    case 'provider':
      return fc.oneof(fc.constantFrom(...PROVIDERS, 'constructor'), nasty);
    default:
      return nasty;
  }
}
const query = formText(fieldName, fieldValue);

/** Folder names as S3 may list them: dot segments, empty segments, controls, escapes. */
const HOSTILE_FOLDERS = [
  '../',
  './',
  'a/../',
  'a/./b/',
  'a//',
  '//',
  '/',
  'bell\u0007/',
  'nul\u0000/',
  'cr\r\nlf/',
  '%2e%2e/',
  '%2F/',
  `${XSS}>"'&/`,
  '\ud800/',
  `${'x'.repeat(1100)}/`,
];
/** What S3 lists for a fuzzed request: hostile names, folders, a next page, or a bad token. */
const listing: fc.Arbitrary<FileListing | Error> = fc.oneof(
  { weight: 1, arbitrary: fc.constant(new BadListTokenError()) },
  {
    weight: 6,
    arbitrary: fc.record({
      files: fc
        .array(
          fc.oneof(
            fc.constantFrom(...LISTED, 'bell\u0007.txt', 'cr\r\n.txt', '..', 'a/.', 'a//b'),
            nasty,
          ),
          { maxLength: 4 },
        )
        .map((names) => names.map((name) => ({ name, size: 1234, lastModified: new Date(NOW) }))),
      folders: fc.array(
        fc.oneof(
          fc.constantFrom(...HOSTILE_FOLDERS),
          nasty.map((f) => `${f}/`),
          nasty,
        ),
        { maxLength: 3 },
      ),
      nextToken: fc.option(
        fc.oneof(
          fc.stringMatching(/^[A-Za-z0-9+/]{20,120}={0,2}$/),
          fc.constant(`"><${XSS.slice(1)}>`),
          nasty,
        ),
        { nil: undefined },
      ),
    }),
  },
);

/** Whose CSRF token the form carries, and where. */
type CsrfMode = 'own' | 'own-then-wrong' | 'wrong-then-own' | 'other-session' | 'wrong' | 'none';
const csrfMode = fc.constantFrom<CsrfMode>(
  'own',
  'own',
  'own',
  'own-then-wrong',
  'wrong-then-own',
  'other-session',
  'wrong',
  'none',
);

/**
 * Just over the form limit, and over /upload-complete's (rarer: it costs ~30 ms a run).
 * Generated as markers and expanded in `inputOf`, so a counterexample stays readable.
 */
const OVERSIZED = new Map([
  ['<16 KiB + 1>', 'a'.repeat(16 * 1024 + 1)],
  ['<2 MiB + 7>', `parts=${'a'.repeat(2 * 1024 * 1024)}`],
]);
const oversized = fc.oneof(
  { weight: 4, arbitrary: fc.constant('<16 KiB + 1>') },
  { weight: 1, arbitrary: fc.constant('<2 MiB + 7>') },
);
const body = fc.oneof(
  { weight: 8, arbitrary: fc.tuple(formText(fieldName, fieldValue), csrfMode) },
  { weight: 1, arbitrary: fc.tuple(fc.json(), fc.constant<CsrfMode>('none')) },
  { weight: 1, arbitrary: fc.tuple(nasty, fc.constant<CsrfMode>('none')) },
  { weight: 1, arbitrary: fc.tuple(oversized, csrfMode) },
);

/** Which session cookie the browser sends, if any, and what that should count as. */
type CookieMode =
  | 'none'
  | 'google'
  | 'amazon'
  | 'facebook'
  | 'devidp'
  | 'google-then-garbage'
  | 'garbage-then-google'
  | 'garbage'
  | 'tampered'
  | 'login-as-session'
  | 'no-host-prefix';
const cookieMode = fc.constantFrom<CookieMode>(
  'none',
  'google',
  'google',
  'amazon',
  'facebook',
  'devidp',
  'google-then-garbage',
  'garbage-then-google',
  'garbage',
  'tampered',
  'login-as-session',
  'no-host-prefix',
);
const SESSION_OF: Partial<Record<CookieMode, Provider>> = {
  google: 'google',
  amazon: 'amazon',
  facebook: 'facebook',
  devidp: 'devidp',
  'google-then-garbage': 'google',
};

const origin = fc.oneof(
  { weight: 3, arbitrary: fc.constant(undefined) },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      BASE_URL,
      'null',
      'https://evil.example',
      'http://files.example.com',
      'https://files.example.com.evil.example',
      `${BASE_URL}/`,
      '',
    ),
  },
  { weight: 1, arbitrary: nasty },
);
const contentType = fc.option(
  fc.oneof(
    fc.constantFrom(
      'application/x-www-form-urlencoded',
      'application/json',
      'multipart/form-data; boundary=x',
      'text/plain',
    ),
    nasty,
  ),
  { nil: undefined },
);
/** 0: live; just inside the 60 s margin; past expiry (login cookies expired too). */
const clockOffset = fc.constantFrom(0, 0, 0, 10 * 60_000 + 1, HOUR - 59_999, HOUR + 1);

const request = fc.record({
  method,
  path,
  query,
  body,
  base64: fc.boolean(),
  origin,
  contentType,
  cookieMode,
  junkCookies: fc.array(nasty, { maxLength: 3 }),
  cookiesIn: fc.constantFrom<Input['cookiesIn']>('array', 'header'),
  clockOffset,
  listing,
});
type Request = typeof request extends fc.Arbitrary<infer T> ? T : never;

describe('every route, any input (fuzz)', () => {
  const h = harness();
  let sessions: Record<Provider, Awaited<ReturnType<typeof signIn>>>;

  beforeAll(async () => {
    sessions = {
      google: await signIn(h, 'google'),
      amazon: await signIn(h, 'amazon'),
      facebook: await signIn(h, 'facebook'),
      devidp: await signIn(h, 'devidp'),
    };
  });

  beforeEach(() => {
    h.clock.t = NOW;
    h.failure.port = undefined;
    h.listing.value = PLAIN_LISTING;
  });

  /** The input for a generated request, given the real sessions and their tokens. */
  function inputOf(r: Request): { input: Input; provider?: Provider } {
    const provider = SESSION_OF[r.cookieMode];
    const own = sessions[provider ?? 'google'];
    const other = sessions[provider === 'amazon' ? 'google' : 'amazon'];
    const [generated, csrf] = r.body;
    const form = OVERSIZED.get(generated) ?? generated;
    const wrong = 'x'.repeat(own.csrf.length);
    const csrfPairs: Record<CsrfMode, string[]> = {
      own: [`csrf=${own.csrf}`],
      'own-then-wrong': [`csrf=${own.csrf}`, `csrf=${wrong}`],
      'wrong-then-own': [`csrf=${wrong}`, `csrf=${own.csrf}`],
      'other-session': [`csrf=${other.csrf}`],
      wrong: [`csrf=${wrong}`],
      none: [],
    };
    const bodyText = [form, ...csrfPairs[csrf]].filter(Boolean).join('&');
    // Character 40 lies inside the ciphertext (`v1.<id>.<iv>.` takes 29).
    const flipped = [...own.session];
    flipped[40] = flipped[40] === 'A' ? 'B' : 'A';
    const garbage = `${SESSION}=${encodeLoose(r.junkCookies[0] ?? 'garbage')}`;
    const cookiesByMode: Record<CookieMode, string[]> = {
      none: [],
      google: [`${SESSION}=${sessions.google.session}`],
      amazon: [`${SESSION}=${sessions.amazon.session}`],
      facebook: [`${SESSION}=${sessions.facebook.session}`],
      devidp: [`${SESSION}=${sessions.devidp.session}`],
      'google-then-garbage': [`${SESSION}=${sessions.google.session}`, garbage],
      'garbage-then-google': [garbage, `${SESSION}=${sessions.google.session}`],
      garbage: [garbage],
      tampered: [`${SESSION}=${flipped.join('')}`],
      'login-as-session': [`${SESSION}=${own.login}`],
      'no-host-prefix': [`wif-session=${sessions.google.session}`],
    };
    const headers: Record<string, string> = {};
    if (r.origin !== undefined) headers.Origin = r.origin;
    if (r.contentType !== undefined) headers['Content-Type'] = r.contentType;
    return {
      provider,
      input: {
        method: r.method,
        path: r.path,
        query: r.query,
        body: bodyText,
        base64: r.base64,
        headers,
        // Junk goes after the session cookie: the first value of a name wins.
        cookies: [...cookiesByMode[r.cookieMode], ...r.junkCookies],
        cookiesIn: r.cookiesIn,
      },
    };
  }

  test('answers every request safely; storage only within the own prefix, changes only with CSRF', async () => {
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        h.clock.t = NOW + r.clockOffset;
        h.storageCalls.length = 0;
        h.listing.value = r.listing;
        const { input, provider } = inputOf(r);
        const { req, res } = await send(h, input);

        checkResponse(req, res);
        // No port failed, so nothing may be a server error.
        expect(res.status).toBeLessThan(500);
        checkStorageCalls(h.storageCalls, provider);
        const live = provider !== undefined && r.clockOffset < HOUR - 60_000;
        if (provider === undefined) expect(h.storageCalls).toEqual([]);

        // The dispatch's order of refusals (csrf-on-state-changes, sign-out-post-csrf).
        if (GET_ROUTES.includes(req.path) && req.method !== 'GET' && req.method !== 'HEAD')
          expect([res.status, res.headers.allow]).toEqual([405, 'GET']);
        if (!POST_ROUTES.includes(req.path)) return;
        if (req.method !== 'POST') {
          expect([res.status, res.headers.allow]).toEqual([405, 'POST']);
          return;
        }
        const limit = req.path === '/upload-complete' ? 2 * 1024 * 1024 : 16 * 1024;
        if (req.path === '/cli/token') {
          // No session guard: no fuzzed code is sealed by the app, so never a 200.
          const tooLarge = Buffer.byteLength(req.body) > limit;
          expect(tooLarge ? [413] : [400, 403]).toContain(res.status);
          return;
        }
        const form = new URLSearchParams(req.body);
        const originOk = [undefined, 'null', BASE_URL].includes(req.headers.origin);
        const csrfOk =
          originOk && provider !== undefined && form.get('csrf') === sessions[provider].csrf;
        const guardPassed = req.path === '/logout' ? provider !== undefined : live;
        if (Buffer.byteLength(req.body) > limit) expect(res.status).toBe(413);
        else if (!guardPassed) expect(res.status).toBe(req.path === '/logout' ? 303 : 401);
        else if (!csrfOk) expect(res.status).toBe(403);
        if (h.storageCalls.some((c) => MUTATING.includes(c.op))) {
          expect(csrfOk && live).toBe(true);
        }
      }),
      runs(1200),
    );
  });

  test('a failing port gives a generic error page with the security headers, never its details', async () => {
    const failure = fc.record({
      port: fc.constantFrom<NonNullable<Failure['port']>>(
        'secrets',
        'start',
        'finish',
        'sts',
        'list',
        'exists',
        'presignGet',
        'presignPut',
        'createMultipart',
        'presignUploadPart',
        'completeMultipart',
        'abortMultipart',
        'delete',
      ),
      error: fc.constantFrom(
        new Error(`${DETAIL} ${XSS}>`),
        new TypeError(DETAIL),
        Object.assign(new Error(DETAIL), { name: 'ExpiredToken' }),
        new SignInError('idp_unavailable', 'The sign-in service is unavailable.', DETAIL),
        new SignInError('restart', 'Please sign in again.', DETAIL),
        new UploadRefusedError(412, 'That file already exists.'),
      ),
    });
    await fc.assert(
      fc.asyncProperty(request, failure, async (r, f) => {
        h.clock.t = NOW + r.clockOffset;
        h.storageCalls.length = 0;
        h.listing.value = r.listing;
        Object.assign(h.failure, f, { threw: false });
        const { req, res } = await send(h, inputOf(r).input);
        checkResponse(req, res, h.failure.threw);
        if (!h.failure.threw) expect(res.status).toBeLessThan(500);
        checkStorageCalls(h.storageCalls);
      }),
      runs(500),
    );
  });

  test('the files page with any listing, folder, page token and notice: no 500, nothing raw, listing only inside the own prefix', async () => {
    const pageQuery = formText(fc.constantFrom('prefix', 'after', 'done', 'name'), fieldValue);
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...PROVIDERS), pageQuery, listing, async (p, q, l) => {
        h.listing.value = l;
        h.storageCalls.length = 0;
        const { req, res } = await send(h, {
          method: 'GET',
          path: '/',
          query: q,
          body: '',
          base64: false,
          headers: {},
          cookies: [`${SESSION}=${sessions[p].session}`],
          cookiesIn: 'array',
        });
        checkResponse(req, res);
        checkStorageCalls(h.storageCalls, p);
        expect([200, 400]).toContain(res.status);
        // folder-within-prefix: a page token S3 refuses is a 400 page, never a 500.
        if (l instanceof BadListTokenError && h.storageCalls.length) expect(res.status).toBe(400);
        // Control characters in listed names are shown as symbols, never raw.
        expect(res.body).not.toMatch(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/);
      }),
      runs(400),
    );
  });

  test("the fuzzed paths reach every entry of the app's route table, each under its own method", () => {
    const table = routeTable(createContext(h.deps, () => createBudget(h.deps.clock)));
    const fuzzed = { GET: GET_ROUTES, POST: POST_ROUTES, ANY: ANY_ROUTES };
    // A route no fuzzed path reaches first: a new route must join the lists above.
    const unfuzzed = table
      .filter((route) => !fuzzed[route.method].some((p) => matchRoute(table, p)?.route === route))
      .map((route) => `${route.method} ${route.path}`);
    expect(unfuzzed).toEqual([]);
    // And no fuzzed path is stale: each reaches a route of the method it is listed under.
    const stale = Object.entries(fuzzed).flatMap(([method, paths]) =>
      paths.filter((p) => matchRoute(table, p)?.route.method !== method),
    );
    expect(stale).toEqual([]);
    expect(table.length).toBeGreaterThan(20);
  });

  test.each(['constructor', '__proto__', 'toString', 'hasOwnProperty'])(
    'GET /static/%s is 404, not 500 (a fuzz finding: names were looked up on a plain object)',
    async (name) => {
      const { req, res } = await send(h, {
        method: 'GET',
        path: `/static/${name}`,
        query: '',
        body: '',
        base64: false,
        headers: {},
        cookies: [],
        cookiesIn: 'array',
      });
      checkResponse(req, res);
      expect(res.status).toBe(404);
    },
  );

  // Found by the property above: a HEAD answered by the error handler used to keep its
  // page as the body.
  test('a HEAD answered by the error handler has no body', async () => {
    h.failure.port = 'start';
    h.failure.error = new Error(DETAIL);
    const { res } = await send(h, {
      method: 'HEAD',
      path: '/login/google',
      query: '',
      body: '',
      base64: false,
      headers: {},
      cookies: [],
      cookiesIn: 'array',
    });
    expect(res.status).toBe(500);
    expect(res.body).toBe('');
  });
});

describe('sign-in with any query, state, cookie and identity (fuzz)', () => {
  const h = harness();
  const send1 = (p: Partial<Input>) =>
    send(h, {
      method: 'GET',
      path: '/',
      query: '',
      body: '',
      base64: false,
      headers: {},
      cookies: [],
      cookiesIn: 'header',
      ...p,
    });

  const returnTo = fc.oneof(
    nasty,
    fc.constantFrom('/a/b?c=d', '//evil.example', '/../%2F%2Fevil.example', 'https://evil.example'),
  );
  const callbackParam = fc.oneof(
    formText(fc.constantFrom('error', 'error_description', 'iss', 'code', 'state'), () => nasty),
    fc.constant(''),
  );

  test('the callback answers 302 to a same-origin path or refuses with 400, whatever it gets', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...PROVIDERS),
        fc.option(returnTo, { nil: undefined }),
        fc.constantFrom('own', 'missing', 'twice', 'wrong', 'other-provider'),
        fc.option(nasty, { nil: undefined }),
        callbackParam,
        fc.constantFrom('own', 'none', 'other-provider', 'garbage'),
        fc.constantFrom(0, 0, 10 * 60_000 + 1),
        async (provider, back, stateMode, code, extra, loginMode, delay) => {
          h.clock.t = NOW;
          h.identity.value = { subject: 'sub-1', displayName: `${XSS}>`, webIdentityToken: 't' };
          const other = provider === 'google' ? 'amazon' : 'google';
          const query = back === undefined ? '' : `return_to=${encodeLoose(back)}`;
          const login = (await send1({ path: `/login/${provider}`, query })).res;
          checkResponse({ method: 'GET' } as HttpRequest, login);
          expect(login.status).toBe(302);
          expect(login.headers.location.startsWith(IDP_URL)).toBe(true);
          const otherLogin = (await send1({ path: `/login/${other}` })).res;
          const state = new URL(login.headers.location).searchParams.get('state')!;
          const otherState = new URL(otherLogin.headers.location).searchParams.get('state')!;
          const states: Record<typeof stateMode, string[]> = {
            own: [state],
            missing: [],
            twice: [state, state],
            wrong: [`${state}x`],
            'other-provider': [otherState],
          };
          const loginCookies: Record<typeof loginMode, string[]> = {
            own: [`${LOGIN}=${setCookies(login)[LOGIN]}`],
            none: [],
            'other-provider': [`${LOGIN}=${setCookies(otherLogin)[LOGIN]}`],
            garbage: [`${LOGIN}=garbage`],
          };
          const parts = [
            ...states[stateMode].map((s) => `state=${encodeLoose(s)}`),
            ...(code === undefined ? [] : [`code=${encodeLoose(code)}`]),
            extra,
          ].filter(Boolean);
          h.clock.t = NOW + delay;
          const { req, res } = await send1({
            path: `/oauth2callback/${provider}`,
            query: parts.join('&'),
            cookies: loginCookies[loginMode],
          });
          checkResponse(req, res);
          expect([302, 400]).toContain(res.status);
          if (res.status === 302) {
            expect(stateMode).toBe('own');
            expect(loginMode).toBe('own');
            expect(setCookies(res)[SESSION]).toBeTruthy();
          }
        },
      ),
      runs(400),
    );
  });

  test('any subject from the IdP: refused before STS, or one segment of the user prefix', async () => {
    const subject = fc.oneof(
      nasty,
      fc.stringMatching(/^[A-Za-z0-9|._:@-]{1,40}$/),
      fc.string({ unit: 'binary', minLength: 1, maxLength: 300 }),
    );
    await fc.assert(
      fc.asyncProperty(
        subject,
        fc.option(nasty, { nil: undefined }),
        fieldValue('name'),
        async (sub, displayName, name) => {
          h.clock.t = NOW;
          h.identity.value = { subject: sub, displayName, webIdentityToken: 't' };
          h.stsCalls.length = 0;
          h.storageCalls.length = 0;
          const login = (await send1({ path: '/login/google' })).res;
          const state = new URL(login.headers.location).searchParams.get('state')!;
          const { req, res } = await send1({
            path: '/oauth2callback/google',
            query: `code=c&state=${state}`,
            cookies: [`${LOGIN}=${setCookies(login)[LOGIN]}`],
          });
          checkResponse(req, res);
          if (!isSafeSubject(sub)) {
            // subject-safe-for-prefix: refused at sign-in, STS never asked.
            expect(res.status).toBe(400);
            expect(h.stsCalls).toEqual([]);
            return;
          }
          expect(res.status).toBe(302);
          const cookies = [`${SESSION}=${setCookies(res)[SESSION]}`];
          const page = await send1({ path: '/', cookies });
          checkResponse(page.req, page.res);
          expect(page.res.status).toBe(200);
          const csrf = /name="csrf" value="([^"]+)"/.exec(page.res.body)![1];
          const removed = await send1({
            method: 'POST',
            path: '/delete',
            body: `csrf=${csrf}&name=${encodeLoose(name)}`,
            cookies,
          });
          checkResponse(removed.req, removed.res);
          expect(removed.res.status).toBeLessThan(500);
          const prefix = userPrefix('google', sub);
          expect(prefix.split('/')).toEqual(['users', 'google', sub, '']);
          expect(h.storageCalls[0]).toEqual({ op: 'list', accessKeyId: 'ASIAGOOGLE', key: prefix });
          // listed-names-round-trip: a delete asks for exactly own prefix + the name, dot
          // segments and all (S3 keys are flat); only a download refuses those.
          const sent = new URLSearchParams(removed.req.body).get('name');
          for (const call of h.storageCalls.slice(1))
            expect(call).toEqual({ op: call.op, accessKeyId: 'ASIAGOOGLE', key: prefix + sent });
        },
      ),
      runs(300),
    );
  });
});
