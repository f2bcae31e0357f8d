import type { STSClient } from '@aws-sdk/client-sts';
import { createApp } from '../../lambda/callback/app';
import { RESERVE_MS } from '../../lambda/callback/budget';
import type { HttpRequest, HttpResponse } from '../../lambda/callback/http';
import { createIdentityProviders } from '../../lambda/callback/idp';
import type { UserStorage } from '../../lambda/callback/ports';
import { createStaticSecretStore } from '../../lambda/callback/secrets';
import { SessionCookies } from '../../lambda/callback/session';
import { createTokenExchange } from '../../lambda/callback/sts';
import { FakeClock } from '../support/fake-clock';
import { AMAZON_SETTINGS, testAppConfig } from '../support/app-config';

/**
 * The whole sign-in with the real IdP client and STS exchange over fakes that take time
 * on a fake clock: whatever is slow, the answer is our page, before the function's
 * deadline (sts-retry-then-503, idp-failure-502).
 */

const FUNCTION_TIMEOUT_MS = 15_000;

const config = testAppConfig({
  providers: [
    {
      ...AMAZON_SETTINGS,
      authorizationEndpoint: 'https://idp.test/authorize',
      tokenEndpoint: 'https://idp.test/token',
      profileEndpoint: 'https://idp.test/profile',
    },
  ],
});

const SECRETS = createStaticSecretStore({
  'cookie-key': 'k'.repeat(40),
  'amazon-secret': 'client-secret',
});

interface Times {
  /** Per IdP token and profile request. */
  readonly token: number;
  readonly profile: number;
  /** Per STS attempt, each answered with throttling. */
  readonly sts: number;
  /** Per S3 ListObjectsV2. */
  readonly list: number;
}

function harness(times: Times) {
  const clock = new FakeClock();
  const logs: Record<string, unknown>[] = [];
  const json = (value: unknown) =>
    new Response(JSON.stringify(value), {
      status: 200,
      headers: { 'content-type': 'application/json' },
    });
  const idpFetch = async (url: string | URL | Request, init?: RequestInit) => {
    const path = new URL(String(url)).pathname;
    await clock.spend(path === '/token' ? times.token : times.profile, init?.signal);
    return path === '/token'
      ? json({ access_token: 'Atza|the-token', token_type: 'bearer', expires_in: 3600 })
      : json({ user_id: 'amzn1.account.AEXAMPLE', name: 'Ann' });
  };
  const sts = {
    send: async (_command: unknown, options?: { abortSignal?: AbortSignal }) => {
      await clock.spend(times.sts, options?.abortSignal);
      throw Object.assign(new Error('Rate exceeded'), {
        name: 'Throttling',
        $metadata: { httpStatusCode: 400 },
      });
    },
  } as unknown as STSClient;
  const calls = { list: 0 };
  const list: UserStorage['list'] = async () => {
    calls.list++;
    // The port takes no signal: a hung S3 call just never answers.
    if (times.list === Infinity) return new Promise<never>(() => undefined);
    await clock.spend(times.list);
    return { files: [], folders: [] };
  };
  const secrets = SECRETS;
  const app = createApp({
    config,
    clock,
    secrets,
    idp: createIdentityProviders({ secrets, clock, fetch: idpFetch as typeof fetch }),
    sts: createTokenExchange({
      config,
      clock,
      sts,
      random: () => 0.5,
      sleep: async (ms) => clock.advance(ms),
    }),
    storage: { list } as UserStorage,
    log: (entry) => logs.push(entry),
  });
  /** One invocation with the function's timeout from now. */
  const invoke = async (req: Partial<HttpRequest>): Promise<HttpResponse> => {
    const started = clock.t;
    const res = await app(
      {
        method: 'GET',
        path: '/',
        rawQuery: '',
        headers: {},
        cookies: {},
        body: '',
        requestId: 'req',
        ...req,
      },
      started + FUNCTION_TIMEOUT_MS,
    );
    return Object.assign(res, { tookMs: clock.t - started });
  };
  return { clock, logs, calls, invoke };
}

async function callback(h: ReturnType<typeof harness>) {
  const login = await h.invoke({ path: '/login/amazon' });
  expect(login.status).toBe(302);
  const state = new URL(login.headers.location).searchParams.get('state');
  const loginCookie = login.cookies[0].split(';')[0].split('=');
  return h.invoke({
    path: '/oauth2callback/amazon',
    rawQuery: `code=the-code&state=${state}`,
    cookies: { [loginCookie[0]]: loginCookie[1] },
  });
}

/** The cookie of a user who signed in before, sealed with the app's key. */
async function sessionCookie(now: number): Promise<Record<string, string>> {
  const jar = new SessionCookies({
    config,
    secrets: SECRETS,
    secure: true,
    providers: new Set(['amazon']),
  });
  const setCookie = await jar.sealSession(
    {
      p: 'amazon',
      sub: 'amzn1.account.AEXAMPLE',
      ak: 'ASIA',
      sk: 'secret',
      st: 'token',
      exp: now + 3_600_000,
      csrf: 'csrf',
    },
    3600,
  );
  const [name, value] = setCookie.split(';')[0].split('=');
  return { [name]: value };
}

/** The outcome if it is there by the next turn of the event loop. */
const settled = <T>(p: Promise<T>) =>
  Promise.race([p, new Promise<'still waiting'>((r) => setImmediate(() => r('still waiting')))]);

const within = (res: HttpResponse) => (res as HttpResponse & { tookMs: number }).tookMs;

describe('the function timeout is never reached: slow dependencies get our page', () => {
  test('STS throttling slowly: 503 with Retry-After before the deadline (sts-retry-then-503)', async () => {
    // The IdP takes 2 s; three STS attempts of 5.9 s would take 17.7 s more.
    const h = harness({ token: 1_000, profile: 1_000, sts: 5_900, list: 0 });
    const res = await callback(h);
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('5');
    expect(res.body).toContain('Sign-in is busy');
    expect(within(res)).toBeLessThanOrEqual(FUNCTION_TIMEOUT_MS - RESERVE_MS);
    expect(h.logs).toContainEqual(
      expect.objectContaining({
        event: 'sign_in_error',
        kind: 'sts_unavailable',
        detail: expect.stringMatching(/no time left before the request deadline/),
      }),
    );
  });

  test('a slow IdP: 502 before the deadline (idp-failure-502)', async () => {
    // 9 s for the token; the profile request would hang for a minute.
    const h = harness({ token: 9_000, profile: 60_000, sts: 0, list: 0 });
    const res = await callback(h);
    expect(res.status).toBe(502);
    expect(res.body).toContain('Sign-in is unavailable');
    expect(within(res)).toBeLessThanOrEqual(FUNCTION_TIMEOUT_MS - RESERVE_MS);
  });

  test('S3 hanging: 503 with Retry-After at the budget, not a bare gateway error', async () => {
    const h = harness({ token: 0, profile: 0, sts: 0, list: Infinity });
    const pending = h.invoke({ path: '/', cookies: await sessionCookie(h.clock.t) });
    for (let turn = 0; turn < 100 && h.calls.list === 0; turn++)
      await new Promise((r) => setImmediate(r));
    expect(h.calls.list).toBe(1);
    h.clock.advance(FUNCTION_TIMEOUT_MS - RESERVE_MS - 1);
    expect(await settled(pending)).toBe('still waiting');
    h.clock.advance(1);
    const res = (await settled(pending)) as HttpResponse;
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('5');
    expect(res.body).toContain('Please try again in a moment');
    expect(within(res)).toBe(FUNCTION_TIMEOUT_MS - RESERVE_MS);
    expect(h.logs).toContainEqual(
      expect.objectContaining({
        event: 'out_of_time',
        detail: expect.stringMatching(/S3 ListObjectsV2/),
      }),
    );
  });
});
