import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import {
  AssumeRoleWithWebIdentityCommand,
  ExpiredTokenException,
  IDPCommunicationErrorException,
  IDPRejectedClaimException,
  InvalidIdentityTokenException,
  MalformedPolicyDocumentException,
  PackedPolicyTooLargeException,
  STSClient,
  STSServiceException,
} from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import type { AppConfig, ProviderSettings } from '../../common/app-config';
import { SignInError, type SignedInIdentity } from '../../lambda/callback/ports';
import {
  createTokenExchange,
  MAX_WEB_IDENTITY_TOKEN_LENGTH,
  roleSessionName,
} from '../../lambda/callback/sts';
import { createBudget, MIN_CALL_MS, RESERVE_MS } from '../../lambda/callback/budget';
import { listenOnHost } from '../../local/listen';
import { FakeClock } from '../support/fake-clock';

const ACCOUNT = '123456789012';
const SESSION_POLICY = `arn:aws:iam::${ACCOUNT}:policy/extra-guardrail`;
const SESSION_NAME = /^[\w+=,.@-]{2,64}$/;

function provider(family: ProviderSettings['family'], extra: Partial<ProviderSettings> = {}) {
  return {
    name: family,
    family,
    displayName: family,
    clientId: `${family}-client`,
    clientSecretId: `${family}-secret`,
    roleArn: `arn:aws:iam::${ACCOUNT}:role/web-identity-${family}`,
    ...(family === 'google' ? { issuer: 'https://accounts.google.com' } : {}),
    ...(family === 'oidc' ? { issuer: 'https://idp.example.com/realms/users' } : {}),
    ...extra,
  } as ProviderSettings;
}

const amazon = provider('amazon', { providerId: 'www.amazon.com' });
const facebook = provider('facebook', { providerId: 'graph.facebook.com' });
const google = provider('google');
const oidc = provider('oidc');

const config: AppConfig = {
  baseUrl: 'https://files.example.com',
  region: 'eu-west-1',
  bucket: 'user-data',
  durationSeconds: 1800,
  sessionPolicyArns: [SESSION_POLICY],
  cookieKeySecretId: 'cookie-keys',
  providers: [amazon, facebook, google, oidc],
};

// Token shapes of the families: an Amazon access token, a JWT-looking ID token.
const AMAZON_TOKEN = `Atza|IwEBI${'Q'.repeat(300)}`;
const ID_TOKEN = `eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjMifQ.${'s'.repeat(342)}`;

function identity(
  webIdentityToken: string,
  subject = 'amzn1.account.AF2ZSUBJECT',
): SignedInIdentity {
  return { subject, webIdentityToken };
}

const EXPIRATION = new Date('2030-01-02T03:04:05Z');
const GRANTED = {
  Credentials: {
    AccessKeyId: 'ASIAUSERACCESSKEY',
    SecretAccessKey: 'user-secret-access-key',
    SessionToken: 'user-session-token',
    Expiration: EXPIRATION,
  },
  $metadata: {},
};

const sts = new STSClient({ region: 'eu-west-1' });
const stsMock = mockClient(sts);
const sleep = jest.fn(async (_ms: number) => undefined);

function exchange(options: { maxAttempts?: number; random?: () => number } = {}) {
  return createTokenExchange({ config, sts, sleep, random: () => 0.5, ...options });
}

async function failure(promise: Promise<unknown>): Promise<SignInError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SignInError);
  return error as SignInError;
}

function stsError(name: string, message: string, httpStatusCode: number): STSServiceException {
  return new STSServiceException({
    name,
    message,
    $fault: httpStatusCode >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode, requestId: 'req-1' },
  });
}

const meta = { $metadata: { httpStatusCode: 400, requestId: 'req-1' } };

beforeEach(() => {
  stsMock.reset();
  sleep.mockClear();
});

describe('AssumeRoleWithWebIdentity parameters per provider family', () => {
  test.each([
    ['amazon', amazon, 'www.amazon.com'],
    ['facebook', facebook, 'graph.facebook.com'],
  ])(
    '%s sends its OAuth 2.0 access token with ProviderId (provider-id-oauth-only)',
    async (_, p, id) => {
      stsMock.on(AssumeRoleWithWebIdentityCommand).resolves(GRANTED);
      await exchange().assume(p, identity(AMAZON_TOKEN, 'subject-1'));
      expect(stsMock).toHaveReceivedCommandTimes(AssumeRoleWithWebIdentityCommand, 1);
      expect(stsMock).toHaveReceivedCommandWith(AssumeRoleWithWebIdentityCommand, {
        RoleArn: p.roleArn,
        WebIdentityToken: AMAZON_TOKEN,
        ProviderId: id,
        DurationSeconds: 1800,
        PolicyArns: [{ arn: SESSION_POLICY }],
        RoleSessionName: roleSessionName(p.name, 'subject-1'),
      });
    },
  );

  test.each([
    ['google', google],
    ['oidc', oidc],
  ])('%s sends its ID token without ProviderId (provider-id-oauth-only)', async (_, p) => {
    stsMock.on(AssumeRoleWithWebIdentityCommand).resolves(GRANTED);
    await exchange().assume(p, identity(ID_TOKEN, 'subject-2'));
    const input = stsMock.commandCalls(AssumeRoleWithWebIdentityCommand)[0].args[0].input;
    expect(input).toEqual({
      RoleArn: p.roleArn,
      WebIdentityToken: ID_TOKEN,
      DurationSeconds: 1800,
      PolicyArns: [{ arn: SESSION_POLICY }],
      RoleSessionName: roleSessionName(p.name, 'subject-2'),
    });
    expect(input).not.toHaveProperty('ProviderId');
  });

  test('an ID-token provider never sends ProviderId, even when one is configured by mistake', async () => {
    stsMock.on(AssumeRoleWithWebIdentityCommand).resolves(GRANTED);
    await exchange().assume(
      provider('oidc', { providerId: 'idp.example.com' }),
      identity(ID_TOKEN),
    );
    const input = stsMock.commandCalls(AssumeRoleWithWebIdentityCommand)[0].args[0].input;
    expect(input).not.toHaveProperty('ProviderId');
  });

  test('an access-token provider without a configured ProviderId gets its family default', async () => {
    stsMock.on(AssumeRoleWithWebIdentityCommand).resolves(GRANTED);
    await exchange().assume(provider('facebook'), identity(AMAZON_TOKEN));
    expect(stsMock).toHaveReceivedCommandWith(AssumeRoleWithWebIdentityCommand, {
      ProviderId: 'graph.facebook.com',
    });
  });

  test('no session policies configured -> no PolicyArns parameter', async () => {
    stsMock.on(AssumeRoleWithWebIdentityCommand).resolves(GRANTED);
    const withoutPolicies: AppConfig = { ...config, sessionPolicyArns: undefined };
    await createTokenExchange({ config: withoutPolicies, sts, sleep }).assume(
      google,
      identity(ID_TOKEN),
    );
    const input = stsMock.commandCalls(AssumeRoleWithWebIdentityCommand)[0].args[0].input;
    expect(input).not.toHaveProperty('PolicyArns');
  });

  test('returns the temporary credentials with the expiry in milliseconds', async () => {
    stsMock.on(AssumeRoleWithWebIdentityCommand).resolves(GRANTED);
    await expect(exchange().assume(google, identity(ID_TOKEN))).resolves.toEqual({
      accessKeyId: 'ASIAUSERACCESSKEY',
      secretAccessKey: 'user-secret-access-key',
      sessionToken: 'user-session-token',
      expiration: EXPIRATION.getTime(),
    });
  });

  test('an answer without complete credentials is an error, not a half signed-in user', async () => {
    stsMock.on(AssumeRoleWithWebIdentityCommand).resolves({
      Credentials: { ...GRANTED.Credentials, SessionToken: undefined } as never,
      $metadata: {},
    });
    const error = await failure(exchange().assume(google, identity(ID_TOKEN)));
    expect(error.kind).toBe('sts_unavailable');
    expect(error.detail).not.toContain('user-secret-access-key');
    expect(error.detail).not.toContain('ASIAUSERACCESSKEY');
  });
});

describe('roleSessionName (session-name-safe)', () => {
  const awkward = [
    'alice@example.com',
    'Alice Smith <alice@example.com>',
    'a/b/../c',
    '*?$%{}[]|\\"\'',
    'émilie-生日-🎉',
    'line\nbreak\0nul',
    '',
    'x',
    's'.repeat(10_000),
  ];

  const label = (s: string) => (s.length > 40 ? `${s.length} characters` : JSON.stringify(s));
  test.each(awkward.map((s) => [label(s), s]))(
    'a valid STS session name for subject %s',
    (_, subject) => {
      for (const p of ['google', 'amazon', 'a'.repeat(32), 'weird provider/name']) {
        expect(roleSessionName(p, subject)).toMatch(SESSION_NAME);
      }
    },
  );

  test('is the provider name plus a hash, never the raw subject', () => {
    const name = roleSessionName('google', 'alice@example.com');
    expect(name).toMatch(/^google-[0-9a-f]{31}$/);
    expect(name).not.toContain('alice');
    expect(name).not.toContain('example');
  });

  test('is stable for one user and differs between users and providers', () => {
    expect(roleSessionName('google', '1234')).toBe(roleSessionName('google', '1234'));
    expect(roleSessionName('google', '1234')).not.toBe(roleSessionName('google', '1235'));
    expect(roleSessionName('google', '1234').slice(-31)).not.toBe(
      roleSessionName('oidc', '1234').slice(-31),
    );
    // The provider/subject boundary is part of the hash.
    expect(roleSessionName('ab', 'c').slice(-31)).not.toBe(roleSessionName('a', 'bc').slice(-31));
  });

  test('the session name sent to STS is derived from an email-like subject safely', async () => {
    stsMock.on(AssumeRoleWithWebIdentityCommand).resolves(GRANTED);
    await exchange().assume(oidc, identity(ID_TOKEN, 'bob+files@example.com'));
    const input = stsMock.commandCalls(AssumeRoleWithWebIdentityCommand)[0].args[0].input;
    expect(input.RoleSessionName).toMatch(SESSION_NAME);
    expect(input.RoleSessionName).not.toContain('bob');
  });
});

describe('STS errors -> SignInError kinds (foreign-token-refused, expired-token-restarts-sign-in, sts-retry-then-503, oversized-token-refused)', () => {
  test.each([
    [
      'InvalidIdentityToken "Incorrect token audience"',
      'not_allowed',
      () => new InvalidIdentityTokenException({ message: 'Incorrect token audience', ...meta }),
    ],
    [
      'AccessDenied',
      'not_allowed',
      () =>
        stsError('AccessDenied', 'Not authorized to perform sts:AssumeRoleWithWebIdentity', 403),
    ],
    [
      'AccessDeniedException',
      'not_allowed',
      () => stsError('AccessDeniedException', 'Not authorized', 403),
    ],
    [
      'ExpiredTokenException',
      'restart',
      () => new ExpiredTokenException({ message: 'Token expired: current date/time ...', ...meta }),
    ],
    [
      'IDPRejectedClaim',
      'restart',
      () => new IDPRejectedClaimException({ message: 'Token rejected', ...meta }),
    ],
    [
      'other InvalidIdentityToken',
      'restart',
      () =>
        new InvalidIdentityTokenException({
          message: "Couldn't retrieve verification key from your identity provider",
          ...meta,
        }),
    ],
    [
      'PackedPolicyTooLarge',
      'too_large',
      () => new PackedPolicyTooLargeException({ message: 'Packed policy too large', ...meta }),
    ],
    [
      'MalformedPolicyDocument (not retryable, not the user)',
      'sts_unavailable',
      () => new MalformedPolicyDocumentException({ message: 'bad policy', ...meta }),
    ],
  ] as const)('%s -> %s after one call, no retry', async (_, kind, error) => {
    stsMock.on(AssumeRoleWithWebIdentityCommand).rejects(error());
    const e = await failure(exchange().assume(google, identity(ID_TOKEN)));
    expect(e.kind).toBe(kind);
    expect(stsMock).toHaveReceivedCommandTimes(AssumeRoleWithWebIdentityCommand, 1);
    expect(sleep).not.toHaveBeenCalled();
  });

  test.each([
    [
      'IDPCommunicationError',
      () => new IDPCommunicationErrorException({ message: 'IdP timed out', ...meta }),
    ],
    ['Throttling', () => stsError('Throttling', 'Rate exceeded', 400)],
    ['ThrottlingException', () => stsError('ThrottlingException', 'Rate exceeded', 400)],
    ['HTTP 429', () => stsError('TooManyRequests', 'slow down', 429)],
    ['HTTP 503', () => stsError('ServiceUnavailable', 'unavailable', 503)],
    ['connection reset', () => Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })],
    [
      'request timeout',
      () => Object.assign(new Error('timed out'), { name: 'TimeoutError', code: 'ETIMEDOUT' }),
    ],
  ])(
    '%s is retried 3 times in all, then sts_unavailable (sts-retry-then-503)',
    async (_, error) => {
      stsMock.on(AssumeRoleWithWebIdentityCommand).rejects(error());
      const e = await failure(exchange().assume(google, identity(ID_TOKEN)));
      expect(e.kind).toBe('sts_unavailable');
      expect(e.message).toMatch(/try again/);
      expect(stsMock).toHaveReceivedCommandTimes(AssumeRoleWithWebIdentityCommand, 3);
      expect(sleep).toHaveBeenCalledTimes(2);
    },
  );

  test('IDPCommunicationError twice, then success -> signed in after 3 calls', async () => {
    stsMock
      .on(AssumeRoleWithWebIdentityCommand)
      .rejectsOnce(new IDPCommunicationErrorException({ message: 'IdP timed out', ...meta }))
      .rejectsOnce(new IDPCommunicationErrorException({ message: 'IdP timed out', ...meta }))
      .resolves(GRANTED);
    const credentials = await exchange().assume(amazon, identity(AMAZON_TOKEN));
    expect(credentials.accessKeyId).toBe('ASIAUSERACCESSKEY');
    expect(stsMock).toHaveReceivedCommandTimes(AssumeRoleWithWebIdentityCommand, 3);
  });

  test('backoff is full-jitter exponential from 100 ms, capped at 1 s', async () => {
    stsMock.on(AssumeRoleWithWebIdentityCommand).rejects(stsError('Throttling', 'Rate', 400));
    await failure(exchange({ random: () => 0.5 }).assume(google, identity(ID_TOKEN)));
    expect(sleep.mock.calls.map(([ms]) => ms)).toEqual([50, 100]);

    sleep.mockClear();
    await failure(
      exchange({ random: () => 0.999999, maxAttempts: 7 }).assume(google, identity(ID_TOKEN)),
    );
    expect(sleep.mock.calls.map(([ms]) => ms)).toEqual([99, 199, 399, 799, 999, 999]);

    sleep.mockClear();
    await failure(exchange({ random: () => 0 }).assume(google, identity(ID_TOKEN)));
    expect(sleep.mock.calls.map(([ms]) => ms)).toEqual([0, 0]);
  });

  test('a token over 20,000 characters is refused before any call (oversized-token-refused)', async () => {
    stsMock.on(AssumeRoleWithWebIdentityCommand).resolves(GRANTED);
    const huge = `eyJhbGciOiJSUzI1NiJ9.${'A'.repeat(MAX_WEB_IDENTITY_TOKEN_LENGTH)}.sig`;
    const e = await failure(exchange().assume(google, identity(huge)));
    expect(e.kind).toBe('too_large');
    expect(stsMock).not.toHaveReceivedCommand(AssumeRoleWithWebIdentityCommand);
    expect(e.detail).toContain('characters');
    expect(e.detail).not.toContain('AAAAAAAAAA');
  });

  test('a token of exactly 20,000 characters is sent', async () => {
    stsMock.on(AssumeRoleWithWebIdentityCommand).resolves(GRANTED);
    await exchange().assume(google, identity('A'.repeat(MAX_WEB_IDENTITY_TOKEN_LENGTH)));
    expect(stsMock).toHaveReceivedCommandTimes(AssumeRoleWithWebIdentityCommand, 1);
  });
});

describe('the request deadline bounds the retries (sts-retry-then-503)', () => {
  /**
   * An STS that throttles after `takesMs`, or sooner when the attempt's abort signal
   * fires; records the time each attempt was given.
   */
  function slowSts(clock: FakeClock, takesMs: number) {
    const allotted: number[] = [];
    const client = {
      send: async (_command: unknown, options?: { abortSignal?: AbortSignal }) => {
        allotted.push((clock.abortsAt(options?.abortSignal) ?? Infinity) - clock.t);
        await clock.spend(takesMs, options?.abortSignal);
        throw stsError('Throttling', 'Rate exceeded', 400);
      },
    } as unknown as STSClient;
    return { client, allotted };
  }

  function budgeted(clock: FakeClock, client: STSClient) {
    return createTokenExchange({
      config,
      sts: client,
      clock,
      random: () => 0.5,
      sleep: async (ms) => clock.advance(ms),
    });
  }

  test('slow attempts: the third gets only what is left, and it ends before the deadline', async () => {
    const clock = new FakeClock();
    const deadline = clock.t + 15_000;
    // Just inside each attempt's 6 s cap: three in a row would take 18 s.
    const { client, allotted } = slowSts(clock, 5_999);
    const e = await failure(
      budgeted(clock, client).assume(google, identity(ID_TOKEN), createBudget(clock, deadline)),
    );
    expect(e.kind).toBe('sts_unavailable');
    expect(e.detail).toMatch(
      /stopped after 3 attempt\(s\): no time left before the request deadline/,
    );
    // 5.999 s, backoff 50 ms, 5.999 s, backoff 100 ms: the third gets what is left before the reserve.
    expect(allotted).toEqual([6_000, 6_000, 15_000 - RESERVE_MS - (2 * 5_999 + 50 + 100)]);
    expect(clock.t).toBe(deadline - RESERVE_MS);
  });

  test('no attempt when the deadline is already too close', async () => {
    const clock = new FakeClock();
    const { client, allotted } = slowSts(clock, 10);
    const e = await failure(
      budgeted(clock, client).assume(
        google,
        identity(ID_TOKEN),
        createBudget(clock, clock.t + RESERVE_MS + MIN_CALL_MS - 1),
      ),
    );
    expect(e.kind).toBe('sts_unavailable');
    expect(e.detail).toMatch(/not tried after 0 attempt\(s\): no time left/);
    expect(allotted).toEqual([]);
  });

  test('no backoff that would leave too little for the next attempt: 503 at once', async () => {
    const clock = new FakeClock();
    const { client, allotted } = slowSts(clock, 800);
    const sleepSpy = jest.fn(async (ms: number) => clock.advance(ms));
    const e = await failure(
      createTokenExchange({
        config,
        sts: client,
        clock,
        random: () => 0.5,
        sleep: sleepSpy,
      }).assume(google, identity(ID_TOKEN), createBudget(clock, clock.t + RESERVE_MS + 1_000)),
    );
    expect(e.kind).toBe('sts_unavailable');
    expect(e.detail).toMatch(/not tried again after 1 attempt\(s\)/);
    expect(allotted).toEqual([1_000]);
    expect(sleepSpy).not.toHaveBeenCalled();
  });

  test('a deadline far enough away changes nothing: 3 attempts of their full 6 s', async () => {
    const clock = new FakeClock();
    const { client, allotted } = slowSts(clock, 10);
    await failure(
      budgeted(clock, client).assume(
        google,
        identity(ID_TOKEN),
        createBudget(clock, clock.t + 60_000),
      ),
    );
    expect(allotted).toEqual([6_000, 6_000, 6_000]);
  });
});

describe('errors never carry the token (oversized-token-refused, credentials-never-exposed)', () => {
  /** Every 16-character piece of the secret: catches partial leaks too. */
  function expectNoPieceOf(secret: string, text: string) {
    for (let i = 0; i + 16 <= secret.length; i += 8) {
      expect(text).not.toContain(secret.slice(i, i + 16));
    }
  }

  const tokens = [
    ['ID token', ID_TOKEN],
    ['Amazon access token', AMAZON_TOKEN],
    ['short opaque token', 'EAAGm0PX4ZCpsBAuniqueOpaque'],
  ];

  test.each(tokens)(
    '%s echoed by an STS error message stays out of message and detail',
    async (_, token) => {
      for (const error of [
        new InvalidIdentityTokenException({ message: `Invalid token ${token}`, ...meta }),
        new IDPCommunicationErrorException({ message: `IdP said no to ${token}`, ...meta }),
        new PackedPolicyTooLargeException({ message: `too large for ${token}`, ...meta }),
        stsError('AccessDenied', `Not authorized for token ${token}`, 403),
        Object.assign(new Error(`connect failed sending ${token}`), { code: 'ECONNREFUSED' }),
      ]) {
        stsMock.reset();
        stsMock.on(AssumeRoleWithWebIdentityCommand).rejects(error);
        const e = await failure(exchange().assume(amazon, identity(token)));
        const everything = [e.message, e.detail ?? '', String(e), JSON.stringify(e), e.stack ?? ''];
        for (const text of everything) expectNoPieceOf(token, text);
        expect(e.detail).toContain(error.name.replace(/Exception$/, ''));
        expect(e.cause).toBeUndefined();
      }
    },
  );
});

describe('the default STS client on the wire', () => {
  let server: Server;
  let endpoint: string;
  let requests: { headers: IncomingHttpHeaders; body: URLSearchParams }[];
  let answer: { status: number; body: string };

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => (body += chunk));
      req.on('end', () => {
        requests.push({ headers: req.headers, body: new URLSearchParams(body) });
        res.writeHead(answer.status, { 'content-type': 'text/xml', 'x-amzn-requestid': 'wire-1' });
        res.end(answer.body);
      });
    });
    endpoint = `http://127.0.0.1:${await listenOnHost(server, 0)}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
  beforeEach(() => {
    requests = [];
  });

  const wireConfig = () => ({ ...config, endpoints: { sts: endpoint } });
  const granted = `<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <Credentials>
      <AccessKeyId>ASIAWIRE</AccessKeyId><SecretAccessKey>wire-secret</SecretAccessKey>
      <SessionToken>wire-token</SessionToken><Expiration>2030-01-02T03:04:05Z</Expiration>
    </Credentials>
  </AssumeRoleWithWebIdentityResult>
</AssumeRoleWithWebIdentityResponse>`;
  const stsFault = (status: number, code: string, message: string) => ({
    status,
    body: `<ErrorResponse><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error></ErrorResponse>`,
  });

  test('goes out unsigned and never asks for credentials, whatever the auth-scheme preference', async () => {
    answer = { status: 200, body: granted };
    const saved = process.env.AWS_AUTH_SCHEME_PREFERENCE;
    process.env.AWS_AUTH_SCHEME_PREFERENCE = 'sigv4a,sigv4';
    try {
      // The default client's credential provider throws: success proves it was never consulted.
      const credentials = await createTokenExchange({ config: wireConfig(), sleep }).assume(
        facebook,
        identity(AMAZON_TOKEN, 'fb-user'),
      );
      expect(credentials).toEqual({
        accessKeyId: 'ASIAWIRE',
        secretAccessKey: 'wire-secret',
        sessionToken: 'wire-token',
        expiration: Date.parse('2030-01-02T03:04:05Z'),
      });
    } finally {
      if (saved === undefined) delete process.env.AWS_AUTH_SCHEME_PREFERENCE;
      else process.env.AWS_AUTH_SCHEME_PREFERENCE = saved;
    }
    expect(requests).toHaveLength(1);
    const { headers, body } = requests[0];
    expect(headers.authorization).toBeUndefined();
    expect(headers['x-amz-security-token']).toBeUndefined();
    expect(headers['x-amz-date']).toBeUndefined();
    expect(Object.fromEntries(body)).toEqual({
      Action: 'AssumeRoleWithWebIdentity',
      Version: '2011-06-15',
      RoleArn: facebook.roleArn,
      RoleSessionName: roleSessionName('facebook', 'fb-user'),
      WebIdentityToken: AMAZON_TOKEN,
      ProviderId: 'graph.facebook.com',
      DurationSeconds: '1800',
      'PolicyArns.member.1.arn': SESSION_POLICY,
    });
  });

  test('the SDK does not retry on its own: 3 attempts reach STS, not 3 x 3', async () => {
    answer = stsFault(400, 'IDPCommunicationError', 'IdP did not answer');
    const e = await failure(
      createTokenExchange({ config: wireConfig(), sleep }).assume(google, identity(ID_TOKEN)),
    );
    expect(e.kind).toBe('sts_unavailable');
    expect(requests).toHaveLength(3);
    expect(requests[0].body.has('ProviderId')).toBe(false);
  });

  test.each([
    [
      403,
      'AccessDenied',
      'Not authorized to perform sts:AssumeRoleWithWebIdentity',
      'not_allowed',
      1,
    ],
    [400, 'InvalidIdentityToken', 'Incorrect token audience', 'not_allowed', 1],
    [400, 'InvalidIdentityToken', 'No OpenIDConnect provider found', 'restart', 1],
    [400, 'ExpiredTokenException', 'Token expired', 'restart', 1],
    [400, 'IDPRejectedClaim', 'Token rejected', 'restart', 1],
    [400, 'PackedPolicyTooLarge', 'Policy too large', 'too_large', 1],
    [400, 'Throttling', 'Rate exceeded', 'sts_unavailable', 3],
    [503, 'ServiceUnavailable', 'Service unavailable', 'sts_unavailable', 3],
  ])('HTTP %i %s "%s" -> %s after %i request(s)', async (status, code, message, kind, calls) => {
    answer = stsFault(status, code, message);
    const e = await failure(
      createTokenExchange({ config: wireConfig(), sleep }).assume(google, identity(ID_TOKEN)),
    );
    expect(e.kind).toBe(kind);
    expect(requests).toHaveLength(calls);
    expect(e.detail).toContain('wire-1');
  });

  test('an unreachable STS is a network error: retried, then sts_unavailable', async () => {
    const closed = createServer();
    const port = await listenOnHost(closed, 0);
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const e = await failure(
      createTokenExchange({
        config: { ...config, endpoints: { sts: `http://127.0.0.1:${port}` } },
        sleep,
      }).assume(google, identity(ID_TOKEN)),
    );
    expect(e.kind).toBe('sts_unavailable');
    expect(e.detail).toMatch(/network error.*ECONNREFUSED/);
    expect(sleep).toHaveBeenCalledTimes(2);
  });
});
