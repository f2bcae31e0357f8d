import { execFile, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  AssumeRoleWithWebIdentityCommand,
  type AssumeRoleWithWebIdentityCommandInput,
  GetCallerIdentityCommand,
  STSClient,
} from '@aws-sdk/client-sts';
import { parseStageConfig } from '../../lib/config';
import {
  type RunningServer,
  type SandboxSession,
  SessionStore,
  TokenRefused,
  type VerifiedWebIdentity,
  type WebIdentityVerifier,
} from '../../local/contracts';
import { loadPolicyModel, roleTrusting, type PolicyModel } from '../../local/policy-model';
import {
  DEFAULT_PORTS,
  GOOGLE_ISSUER,
  oidcIssuer,
  SANDBOX_ACCOUNT,
  SANDBOX_CLIENTS,
  SANDBOX_REGION,
  sandboxStageConfig,
} from '../../local/sandbox-config';
import { startLocalSts, type StsLogEntry } from '../../local/sts';
import { createLocalTls } from '../../local/tls';
import { synthTemplate } from '../support/helpers';
import {
  READ_ONLY_SESSION_POLICY_ARN,
  withManagedSessionPolicy,
} from '../support/session-policies';
import { FAST_TIMEOUTS, slowClient } from '../support/slow-client';

/**
 * The local STS against the real `@aws-sdk/client-sts` over HTTPS (trusting only the
 * sandbox CA), on the template the sandbox synthesizes. The verifier is a fake: tokens are
 * looked up in a table, so each case states exactly what the dev IdP would have verified.
 */

const OIDC_ISSUER = oidcIssuer(DEFAULT_PORTS);
const OIDC_PREFIX = OIDC_ISSUER.replace(/^https:\/\//, '');
const NOW = Date.parse('2030-01-02T03:04:05.678Z');

const identities: Record<string, VerifiedWebIdentity> = {
  'google-alice': {
    provider: 'accounts.google.com',
    subject: '110000000000000000001',
    audience: SANDBOX_CLIENTS.google.clientId,
    contextKeys: {
      'accounts.google.com:sub': '110000000000000000001',
      'accounts.google.com:aud': SANDBOX_CLIENTS.google.clientId,
      'accounts.google.com:oaud': SANDBOX_CLIENTS.google.clientId,
    },
  },
  'google-other-client': {
    provider: 'accounts.google.com',
    subject: '110000000000000000002',
    audience: '999999999999-other.apps.googleusercontent.com',
    contextKeys: {
      'accounts.google.com:sub': '110000000000000000002',
      'accounts.google.com:aud': '999999999999-other.apps.googleusercontent.com',
      'accounts.google.com:oaud': '999999999999-other.apps.googleusercontent.com',
    },
  },
  'google-https-issuer': {
    provider: GOOGLE_ISSUER,
    subject: '110000000000000000003',
    audience: SANDBOX_CLIENTS.google.clientId,
    contextKeys: {
      'accounts.google.com:sub': '110000000000000000003',
      'accounts.google.com:aud': SANDBOX_CLIENTS.google.clientId,
      'accounts.google.com:oaud': SANDBOX_CLIENTS.google.clientId,
    },
  },
  'amazon-bob': {
    provider: 'www.amazon.com',
    subject: 'amzn1.account.BOB',
    audience: SANDBOX_CLIENTS.amazon.clientId,
    contextKeys: {
      'www.amazon.com:user_id': 'amzn1.account.BOB',
      'www.amazon.com:app_id': SANDBOX_CLIENTS.amazon.clientId,
    },
  },
  'facebook-carol': {
    provider: 'graph.facebook.com',
    subject: '10200000000000003',
    audience: SANDBOX_CLIENTS.facebook.clientId,
    contextKeys: {
      'graph.facebook.com:id': '10200000000000003',
      'graph.facebook.com:app_id': SANDBOX_CLIENTS.facebook.clientId,
    },
  },
  'oidc-dave': {
    provider: OIDC_ISSUER,
    subject: 'dave',
    audience: SANDBOX_CLIENTS.oidc.clientId,
    contextKeys: {
      [`${OIDC_PREFIX}:sub`]: 'dave',
      [`${OIDC_PREFIX}:aud`]: SANDBOX_CLIENTS.oidc.clientId,
    },
  },
  'oidc-with-google-keys': {
    provider: OIDC_ISSUER,
    subject: 'mallory',
    audience: SANDBOX_CLIENTS.oidc.clientId,
    contextKeys: {
      [`${OIDC_PREFIX}:sub`]: 'mallory',
      [`${OIDC_PREFIX}:aud`]: SANDBOX_CLIENTS.oidc.clientId,
      'accounts.google.com:sub': '110000000000000000001',
    },
  },
  'oidc-other-client': {
    provider: OIDC_ISSUER,
    subject: 'dave',
    audience: 'another-app',
    contextKeys: { [`${OIDC_PREFIX}:sub`]: 'dave', [`${OIDC_PREFIX}:aud`]: 'another-app' },
  },
  'oidc-unknown-issuer': {
    provider: 'https://idp.example.com',
    subject: 'eve',
    audience: SANDBOX_CLIENTS.oidc.clientId,
    contextKeys: { 'idp.example.com:sub': 'eve', 'idp.example.com:aud': 'sandbox-app' },
  },
};

/**
 * The four provider families as the verifier reports them: issuer, the key that holds the
 * subject (the trust policy's StringNotLike key), the audience keys, and the ProviderId an
 * access token needs.
 */
const FAMILIES = [
  {
    family: 'google',
    role: 'google',
    provider: 'accounts.google.com',
    subjectKey: 'accounts.google.com:sub',
    audienceKeys: ['accounts.google.com:aud', 'accounts.google.com:oaud'],
    audience: SANDBOX_CLIENTS.google.clientId,
  },
  {
    family: 'amazon',
    role: 'amazon',
    provider: 'www.amazon.com',
    providerId: 'www.amazon.com',
    subjectKey: 'www.amazon.com:user_id',
    audienceKeys: ['www.amazon.com:app_id'],
    audience: SANDBOX_CLIENTS.amazon.clientId,
  },
  {
    family: 'facebook',
    role: 'facebook',
    provider: 'graph.facebook.com',
    providerId: 'graph.facebook.com',
    subjectKey: 'graph.facebook.com:id',
    audienceKeys: ['graph.facebook.com:app_id'],
    audience: SANDBOX_CLIENTS.facebook.clientId,
  },
  {
    family: 'oidc',
    role: 'oidc',
    provider: OIDC_ISSUER,
    subjectKey: `${OIDC_PREFIX}:sub`,
    audienceKeys: [`${OIDC_PREFIX}:aud`],
    audience: SANDBOX_CLIENTS.oidc.clientId,
  },
] as const;
type Family = (typeof FAMILIES)[number];

/** One subject per character IAM must refuse (subject-safe-for-prefix): / \ * ? $. */
const UNSAFE_SUBJECTS = ['bob/evil', 'bob\\evil', 'bob*', 'bo?', '$' + '{x}'];
const SAFE_SUBJECT = 'bob.evil_1-2@x';

/**
 * Registers, for the fake verifier, a token of `family` whose subject is `subject`, and
 * returns the AssumeRoleWithWebIdentity input that presents it to the family's role.
 */
function subjectToken(
  family: Family,
  subject: string,
): Partial<AssumeRoleWithWebIdentityCommandInput> {
  const token = `${family.family}-subject-${Buffer.from(subject).toString('hex')}`;
  identities[token] = {
    provider: family.provider,
    subject,
    audience: family.audience,
    contextKeys: {
      [family.subjectKey]: subject,
      ...Object.fromEntries(family.audienceKeys.map((k) => [k, family.audience])),
    },
  };
  return {
    RoleArn: roles[family.role],
    WebIdentityToken: token,
    ...('providerId' in family ? { ProviderId: family.providerId } : {}),
  };
}

const refusals: Record<string, Error> = {
  'expired-token': new TokenRefused(
    'ExpiredTokenException',
    'Token expired: current date/time 1893553445 must be before the expiration date/time 1893549845',
  ),
  'rejected-claim': new TokenRefused('IDPRejectedClaim', 'Subject is not allowed'),
  'forged-token': new TokenRefused('InvalidIdentityToken', "Couldn't verify the token signature"),
  // A verifier bug, not a refusal; its message quotes the token it choked on.
  'crash-token-SECRETPART': new Error('unexpected JWKS answer for crash-token-SECRETPART'),
};

class FakeVerifier implements WebIdentityVerifier {
  readonly calls: { token: string; providerId?: string }[] = [];
  async verify(token: string, providerId?: string): Promise<VerifiedWebIdentity> {
    this.calls.push({ token, providerId });
    if (token in refusals) throw refusals[token];
    const identity = identities[token];
    if (!identity) throw new TokenRefused('InvalidIdentityToken', 'Unknown token');
    return identity;
  }
}

/** A SessionStore that also remembers what it was given, to prove what was (not) issued. */
class RecordingSessionStore extends SessionStore {
  readonly issued: SandboxSession[] = [];
  put(session: SandboxSession): void {
    this.issued.push(session);
    super.put(session);
  }
}

let tls: { ca: string; cert: string; key: string };
let model: PolicyModel;
let template: Record<string, unknown>;
let server: RunningServer;
let sessions: RecordingSessionStore;
let verifier: FakeVerifier;
let logs: StsLogEntry[];
let agent: https.Agent;
let client: STSClient;
let roles: { google: string; amazon: string; facebook: string; oidc: string; oidcProvider: string };

beforeAll(async () => {
  template = withManagedSessionPolicy(
    synthTemplate(parseStageConfig('local', sandboxStageConfig(DEFAULT_PORTS))).toJSON(),
  );
  model = loadPolicyModel(template, { accountId: SANDBOX_ACCOUNT, region: SANDBOX_REGION });
  const oidcProvider = `arn:aws:iam::${SANDBOX_ACCOUNT}:oidc-provider/${OIDC_PREFIX}`;
  roles = {
    google: roleTrusting(model, 'accounts.google.com').roleArn,
    amazon: roleTrusting(model, 'www.amazon.com').roleArn,
    facebook: roleTrusting(model, 'graph.facebook.com').roleArn,
    oidc: roleTrusting(model, oidcProvider).roleArn,
    oidcProvider,
  };
  tls = await createLocalTls();
  sessions = new RecordingSessionStore();
  verifier = new FakeVerifier();
  logs = [];
  server = await startLocalSts({
    port: 0,
    tls,
    template,
    model,
    sessions,
    verifier,
    clock: () => NOW,
    log: (entry) => logs.push(entry),
  });
  agent = new https.Agent({ ca: tls.ca, keepAlive: true });
  client = new STSClient({
    region: 'us-east-1',
    endpoint: server.url,
    // Options of the SDK's NodeHttpHandler: verification stays on, against the sandbox CA.
    requestHandler: { httpsAgent: agent },
  });
});

afterAll(async () => {
  client?.destroy();
  agent?.destroy();
  await server?.close();
});

beforeEach(() => {
  sessions.issued.length = 0;
  verifier.calls.length = 0;
  logs.length = 0;
});

const assume = (input: Partial<AssumeRoleWithWebIdentityCommandInput>) =>
  client.send(
    new AssumeRoleWithWebIdentityCommand({
      RoleArn: roles.google,
      RoleSessionName: 'web-identity-session',
      WebIdentityToken: 'google-alice',
      ...input,
    }),
  );

/** The error the SDK throws, for assertions on its class name, message and status. */
async function refusal(input: Partial<AssumeRoleWithWebIdentityCommandInput>) {
  const error = await assume(input).then(
    () => {
      throw new Error('expected the STS to refuse');
    },
    (e: unknown) => e as Error & { $metadata: { httpStatusCode?: number; requestId?: string } },
  );
  return { name: error.name, message: error.message, status: error.$metadata?.httpStatusCode };
}

/** A raw HTTPS request to the STS (no SDK), trusting the sandbox CA. */
function raw(
  body: string,
  options: { method?: string; path?: string; contentType?: string } = {},
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      `${server.url}${options.path ?? '/'}`,
      {
        method: options.method ?? 'POST',
        ca: tls.ca,
        headers: { 'content-type': options.contentType ?? 'application/x-www-form-urlencoded' },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const form = (params: Record<string, string>) => new URLSearchParams(params).toString();

describe('issues credentials to each provider family', () => {
  test('Google ID token: credentials, assumed-role ARN, subject, audience; the session is stored', async () => {
    const out = await assume({ RoleSessionName: 'alice-session' });
    const c = out.Credentials!;
    expect(c.AccessKeyId).toMatch(/^ASIA[A-Z0-9]{16}$/);
    expect(c.SecretAccessKey).toMatch(/^[A-Za-z0-9+/]{40}$/);
    expect(c.SessionToken!.length).toBeGreaterThan(400);
    // Whole seconds after the injected clock, default DurationSeconds 3600.
    expect(c.Expiration).toEqual(new Date('2030-01-02T04:04:05Z'));
    const roleName = roleTrusting(model, 'accounts.google.com').roleName;
    expect(out.AssumedRoleUser).toEqual({
      Arn: `arn:aws:sts::${SANDBOX_ACCOUNT}:assumed-role/${roleName}/alice-session`,
      AssumedRoleId: expect.stringMatching(/^AROA[A-Z0-9]{17}:alice-session$/),
    });
    expect(out.SubjectFromWebIdentityToken).toBe('110000000000000000001');
    expect(out.Audience).toBe(SANDBOX_CLIENTS.google.clientId);
    expect(out.Provider).toBe('accounts.google.com');
    expect(out.PackedPolicySize).toBeUndefined();
    expect(verifier.calls).toEqual([{ token: 'google-alice', providerId: undefined }]);

    expect(sessions.get(c.AccessKeyId!)).toEqual({
      accessKeyId: c.AccessKeyId,
      secretAccessKey: c.SecretAccessKey,
      sessionToken: c.SessionToken,
      expiration: c.Expiration!.getTime(),
      roleArn: roles.google,
      roleLogicalId: roleTrusting(model, 'accounts.google.com').logicalId,
      sessionName: 'alice-session',
      contextKeys: identities['google-alice'].contextKeys,
    });
  });

  test('every session gets fresh credentials and the same role id', async () => {
    const a = await assume({});
    const b = await assume({});
    expect(a.Credentials!.AccessKeyId).not.toBe(b.Credentials!.AccessKeyId);
    expect(a.Credentials!.SecretAccessKey).not.toBe(b.Credentials!.SecretAccessKey);
    expect(a.Credentials!.SessionToken).not.toBe(b.Credentials!.SessionToken);
    expect(a.AssumedRoleUser!.AssumedRoleId).toBe(b.AssumedRoleUser!.AssumedRoleId);
  });

  test('Amazon access token with ProviderId www.amazon.com', async () => {
    const out = await assume({
      RoleArn: roles.amazon,
      WebIdentityToken: 'amazon-bob',
      ProviderId: 'www.amazon.com',
    });
    expect(verifier.calls).toEqual([{ token: 'amazon-bob', providerId: 'www.amazon.com' }]);
    expect(out.Provider).toBe('www.amazon.com');
    expect(out.SubjectFromWebIdentityToken).toBe('amzn1.account.BOB');
    expect(out.Audience).toBe(SANDBOX_CLIENTS.amazon.clientId);
    const session = sessions.get(out.Credentials!.AccessKeyId!)!;
    expect(session.roleArn).toBe(roles.amazon);
    expect(session.contextKeys).toEqual({
      'www.amazon.com:user_id': 'amzn1.account.BOB',
      'www.amazon.com:app_id': SANDBOX_CLIENTS.amazon.clientId,
    });
  });

  test('Facebook access token with ProviderId graph.facebook.com', async () => {
    const out = await assume({
      RoleArn: roles.facebook,
      WebIdentityToken: 'facebook-carol',
      ProviderId: 'graph.facebook.com',
    });
    expect(out.Provider).toBe('graph.facebook.com');
    expect(out.SubjectFromWebIdentityToken).toBe('10200000000000003');
    const session = sessions.get(out.Credentials!.AccessKeyId!)!;
    expect(session.roleLogicalId).toBe(roleTrusting(model, 'graph.facebook.com').logicalId);
    expect(session.contextKeys['graph.facebook.com:id']).toBe('10200000000000003');
  });

  test('generic OIDC ID token: the issuer maps to the IAM OIDC provider of the template', async () => {
    const out = await assume({ RoleArn: roles.oidc, WebIdentityToken: 'oidc-dave' });
    expect(out.Provider).toBe(roles.oidcProvider);
    expect(out.SubjectFromWebIdentityToken).toBe('dave');
    expect(out.Audience).toBe(SANDBOX_CLIENTS.oidc.clientId);
    const session = sessions.get(out.Credentials!.AccessKeyId!)!;
    expect(session.roleArn).toBe(roles.oidc);
    expect(session.contextKeys).toEqual({
      [`${OIDC_PREFIX}:sub`]: 'dave',
      [`${OIDC_PREFIX}:aud`]: SANDBOX_CLIENTS.oidc.clientId,
    });
  });

  test("keys of another provider are dropped from the session: they would bind that provider's policy variables", async () => {
    const out = await assume({ RoleArn: roles.oidc, WebIdentityToken: 'oidc-with-google-keys' });
    expect(sessions.get(out.Credentials!.AccessKeyId!)!.contextKeys).toEqual({
      [`${OIDC_PREFIX}:sub`]: 'mallory',
      [`${OIDC_PREFIX}:aud`]: SANDBOX_CLIENTS.oidc.clientId,
    });
    expect(logs[0].detail).toBe(
      `dropped context keys outside ${OIDC_PREFIX}: accounts.google.com:sub`,
    );
  });

  test('a Google token whose issuer is written https://accounts.google.com is Google', async () => {
    const out = await assume({ WebIdentityToken: 'google-https-issuer' });
    expect(out.Provider).toBe('accounts.google.com');
  });

  test('DurationSeconds sets the expiry (900 is the minimum)', async () => {
    const out = await assume({ DurationSeconds: 900 });
    expect(out.Credentials!.Expiration).toEqual(new Date('2030-01-02T03:19:05Z'));
  });

  test('also answers GET with the parameters in the query string, as STS does', async () => {
    const query = form({
      Action: 'AssumeRoleWithWebIdentity',
      Version: '2011-06-15',
      RoleArn: roles.google,
      RoleSessionName: 'by-get',
      WebIdentityToken: 'google-alice',
    });
    const res = await raw('', { method: 'GET', path: `/?${query}` });
    expect(res.status).toBe(200);
    expect(res.body).toContain('<SubjectFromWebIdentityToken>110000000000000000001<');
  });
});

describe('refuses like STS', () => {
  test('a Google token for another client id fails the trust policy: AccessDenied, 403, nothing issued', async () => {
    expect(await refusal({ WebIdentityToken: 'google-other-client' })).toEqual({
      name: 'AccessDenied',
      message: 'Not authorized to perform sts:AssumeRoleWithWebIdentity',
      status: 403,
    });
    expect(sessions.issued).toEqual([]);
  });

  test('a generic OIDC token for a client id outside ClientIdList: Incorrect token audience', async () => {
    expect(await refusal({ RoleArn: roles.oidc, WebIdentityToken: 'oidc-other-client' })).toEqual({
      name: 'InvalidIdentityTokenException',
      message: 'Incorrect token audience',
      status: 400,
    });
  });

  describe.each(FAMILIES)('subject-safe-for-prefix on the $family role', (family) => {
    test.each(UNSAFE_SUBJECTS)(
      'a subject %j (it could reach beyond its own prefix) fails the trust policy: AccessDenied, nothing issued',
      async (subject) => {
        expect(await refusal(subjectToken(family, subject))).toEqual({
          name: 'AccessDenied',
          message: 'Not authorized to perform sts:AssumeRoleWithWebIdentity',
          status: 403,
        });
        expect(sessions.issued).toEqual([]);
      },
    );

    test('a safe subject of the same shape is accepted', async () => {
      const out = await assume(subjectToken(family, SAFE_SUBJECT));
      expect(out.SubjectFromWebIdentityToken).toBe(SAFE_SUBJECT);
      expect(sessions.issued.map((s) => s.roleArn)).toEqual([roles[family.role]]);
    });
  });

  test("another provider's token for a role: AccessDenied", async () => {
    expect((await refusal({ RoleArn: roles.amazon, WebIdentityToken: 'google-alice' })).name).toBe(
      'AccessDenied',
    );
    expect((await refusal({ RoleArn: roles.google, WebIdentityToken: 'oidc-dave' })).name).toBe(
      'AccessDenied',
    );
    expect(
      (
        await refusal({
          RoleArn: roles.oidc,
          WebIdentityToken: 'facebook-carol',
          ProviderId: 'graph.facebook.com',
        })
      ).name,
    ).toBe('AccessDenied');
    expect(sessions.issued).toEqual([]);
  });

  test('an unknown role, or a role that does not trust web identities: AccessDenied', async () => {
    const denied = {
      name: 'AccessDenied',
      message: 'Not authorized to perform sts:AssumeRoleWithWebIdentity',
      status: 403,
    };
    expect(await refusal({ RoleArn: `arn:aws:iam::${SANDBOX_ACCOUNT}:role/NoSuchRole` })).toEqual(
      denied,
    );
    const executionRole = Object.entries(
      template.Resources as Record<string, { Type: string; Properties?: { Description?: string } }>,
    ).find(
      ([id, r]) => r.Type === 'AWS::IAM::Role' && !model.roles.some((m) => m.logicalId === id),
    );
    expect(executionRole).toBeDefined();
    expect(
      await refusal({ RoleArn: `arn:aws:iam::${SANDBOX_ACCOUNT}:role/${executionRole![0]}` }),
    ).toEqual(denied);
  });

  test('an expired token: ExpiredTokenException with the verifier message', async () => {
    expect(await refusal({ WebIdentityToken: 'expired-token' })).toEqual({
      name: 'ExpiredTokenException',
      message: expect.stringMatching(/^Token expired: current date\/time/),
      status: 400,
    });
  });

  test('a rejected claim: IDPRejectedClaimException, 403', async () => {
    expect(await refusal({ WebIdentityToken: 'rejected-claim' })).toEqual({
      name: 'IDPRejectedClaimException',
      message: 'Subject is not allowed',
      status: 403,
    });
  });

  test('a forged token: InvalidIdentityTokenException', async () => {
    expect((await refusal({ WebIdentityToken: 'forged-token' })).name).toBe(
      'InvalidIdentityTokenException',
    );
  });

  test('a token of an issuer without IAM OIDC provider: InvalidIdentityToken naming the issuer', async () => {
    expect(await refusal({ WebIdentityToken: 'oidc-unknown-issuer' })).toEqual({
      name: 'InvalidIdentityTokenException',
      message: 'No OpenIDConnect provider found in your account for https://idp.example.com',
      status: 400,
    });
  });

  test('an Amazon or Facebook access token without ProviderId, or an ID token with one: InvalidIdentityToken', async () => {
    expect((await refusal({ RoleArn: roles.amazon, WebIdentityToken: 'amazon-bob' })).name).toBe(
      'InvalidIdentityTokenException',
    );
    expect(
      (
        await refusal({
          RoleArn: roles.facebook,
          WebIdentityToken: 'facebook-carol',
          ProviderId: 'www.amazon.com',
        })
      ).name,
    ).toBe('InvalidIdentityTokenException');
    expect((await refusal({ ProviderId: 'www.amazon.com' })).name).toBe(
      'InvalidIdentityTokenException',
    );
  });

  test('a verifier failure: IDPCommunicationError, and the log keeps the token out', async () => {
    expect(await refusal({ WebIdentityToken: 'crash-token-SECRETPART' })).toEqual({
      name: 'IDPCommunicationErrorException',
      message: expect.stringMatching(/^Couldn't retrieve verification key/),
      status: 400,
    });
    // The SDK models IDPCommunicationError as retryable: its default 3 attempts all arrive.
    expect(logs.map((l) => [l.code, l.outcome])).toEqual(
      Array(3).fill(['IDPCommunicationError', 'refused']),
    );
    expect(logs[0].detail).toBe('Error: unexpected JWKS answer for [token]');
    expect(JSON.stringify(logs)).not.toContain('SECRETPART');
  });

  test('DurationSeconds 899 and 3601 (above the role MaxSessionDuration): ValidationError', async () => {
    expect(await refusal({ DurationSeconds: 899 })).toEqual({
      name: 'ValidationError',
      message:
        "1 validation error detected: Value '899' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900",
      status: 400,
    });
    expect(await refusal({ DurationSeconds: 3601 })).toEqual({
      name: 'ValidationError',
      message: 'The requested DurationSeconds exceeds the MaxSessionDuration set for this role.',
      status: 400,
    });
    expect((await refusal({ DurationSeconds: 43201 })).message).toMatch(
      /less than or equal to 43200/,
    );
    expect(sessions.issued).toEqual([]);
  });

  test('RoleSessionName with a space, or too short: ValidationError; the token is not verified', async () => {
    expect(await refusal({ RoleSessionName: 'alice smith' })).toEqual({
      name: 'ValidationError',
      message:
        "1 validation error detected: Value 'alice smith' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*",
      status: 400,
    });
    expect((await refusal({ RoleSessionName: 'a' })).message).toMatch(/greater than or equal to 2/);
    expect((await refusal({ RoleSessionName: 'a'.repeat(65) })).message).toMatch(
      /less than or equal to 64/,
    );
    expect(verifier.calls).toEqual([]);
  });

  test('echoed values are XML-escaped and come back intact', async () => {
    expect((await refusal({ RoleSessionName: `<a href="x">&'` })).message).toContain(
      `Value '<a href="x">&'' at 'roleSessionName'`,
    );
  });

  test('a token of 20001 characters: ValidationError that does not echo the token', async () => {
    const token = 'x'.repeat(20_001);
    const { name, message, status } = await refusal({ WebIdentityToken: token });
    expect({ name, status }).toEqual({ name: 'ValidationError', status: 400 });
    expect(message).toBe(
      "1 validation error detected: Value at 'webIdentityToken' failed to satisfy constraint: Member must have length less than or equal to 20000",
    );
    expect(verifier.calls).toEqual([]);
  });

  test('a malformed RoleArn: ValidationError', async () => {
    expect((await refusal({ RoleArn: 'GoogleUsersRole' })).message).toMatch(
      /at 'roleArn' failed to satisfy constraint: Member must have length greater than or equal to 20/,
    );
    expect(await refusal({ RoleArn: 'arn:aws:s3:::a-bucket-not-a-role' })).toEqual({
      name: 'ValidationError',
      message: 'Request ARN is invalid',
      status: 400,
    });
  });

  test('missing parameters: one ValidationError naming each', async () => {
    const res = await raw(form({ Action: 'AssumeRoleWithWebIdentity', Version: '2011-06-15' }));
    expect(res.status).toBe(400);
    expect(res.body).toContain('<Code>ValidationError</Code>');
    expect(res.body).toContain(
      "3 validation errors detected: Value null at 'roleArn' failed to satisfy constraint: Member must not be null; Value null at 'roleSessionName'",
    );
    expect(res.body).toContain("Value null at 'webIdentityToken'");
  });

  test('an unknown action: InvalidAction (the SDK names the error after the code)', async () => {
    const signed = new STSClient({
      region: 'us-east-1',
      endpoint: server.url,
      requestHandler: { httpsAgent: agent },
      credentials: { accessKeyId: 'ASIAEXAMPLEEXAMPLE00', secretAccessKey: 'x'.repeat(40) },
    });
    try {
      await expect(signed.send(new GetCallerIdentityCommand({}))).rejects.toMatchObject({
        name: 'InvalidAction',
        message: expect.stringMatching(
          /^Could not find operation GetCallerIdentity for version 2011-06-15/,
        ),
        $metadata: { httpStatusCode: 400 },
      });
    } finally {
      signed.destroy();
    }
    const res = await raw(form({ Version: '2011-06-15' }));
    expect(res.body).toContain('<Code>MissingAction</Code>');
  });
});

describe('session policies', () => {
  const readOnly = {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }],
  };

  test('Policy and PolicyArns are stored on the session; PackedPolicySize is returned', async () => {
    const managed = READ_ONLY_SESSION_POLICY_ARN;
    const out = await assume({
      Policy: JSON.stringify(readOnly, null, 2),
      PolicyArns: [{ arn: managed }],
    });
    const packed = JSON.stringify(readOnly).length + managed.length;
    expect(out.PackedPolicySize).toBe(Math.ceil((packed * 100) / 2048));
    const session = sessions.get(out.Credentials!.AccessKeyId!)!;
    expect(session.sessionPolicy).toEqual(readOnly);
    expect(session.sessionPolicyArns).toEqual([managed]);
  });

  test('PolicyArns naming a managed policy the template does not define: refused, no session', async () => {
    expect(
      await refusal({
        PolicyArns: [
          { arn: READ_ONLY_SESSION_POLICY_ARN },
          { arn: 'arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess' },
        ],
      }),
    ).toEqual({
      name: 'InvalidParameterValue',
      message: expect.stringContaining('arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess'),
      status: 400,
    });
    expect(sessions.issued).toHaveLength(0);
  });

  test('Policy with whitespace-free JSON plus ARNs over 2048 characters: PackedPolicyTooLarge', async () => {
    // 2000 characters of policy, whitespace-free: fits alone, not with a managed policy ARN.
    const filler = 'x'.repeat(2000 - JSON.stringify({ ...readOnly, Id: '' }).length);
    const policy = JSON.stringify({ ...readOnly, Id: filler });
    expect(policy).toHaveLength(2000);
    await expect(assume({ Policy: policy })).resolves.toMatchObject({ PackedPolicySize: 98 });
    expect(
      await refusal({
        Policy: policy,
        PolicyArns: [{ arn: `arn:aws:iam::${SANDBOX_ACCOUNT}:policy/ReadOnlySessionPolicy` }],
      }),
    ).toEqual({
      name: 'PackedPolicyTooLargeException',
      message: 'Packed policy consumes 101% of allotted space, please use smaller policy.',
      status: 400,
    });
  });

  test('Policy text over 2048 characters: ValidationError, as the STS API model constrains it', async () => {
    const policy = JSON.stringify({ ...readOnly, Id: 'x'.repeat(2048) });
    expect(await refusal({ Policy: policy })).toEqual({
      name: 'ValidationError',
      message: expect.stringMatching(
        /at 'policy' failed to satisfy constraint: Member must have length less than or equal to 2048$/,
      ),
      status: 400,
    });
  });

  test('malformed Policy: MalformedPolicyDocumentException', async () => {
    expect(await refusal({ Policy: '{"Version":"2012-10-17",' })).toEqual({
      name: 'MalformedPolicyDocumentException',
      message: 'This policy contains invalid Json',
      status: 400,
    });
    const withPrincipal = {
      Statement: [{ Effect: 'Allow', Principal: '*', Action: 's3:*', Resource: '*' }],
    };
    expect(await refusal({ Policy: JSON.stringify(withPrincipal) })).toEqual({
      name: 'MalformedPolicyDocumentException',
      message: expect.stringMatching(/^Syntax errors in policy\. .*Principal/),
      status: 400,
    });
    expect((await refusal({ Policy: 'null' })).name).toBe('MalformedPolicyDocumentException');
  });

  test('a condition operator iam-simulate would ignore is refused, not stored', async () => {
    const policy = {
      Statement: [
        {
          Effect: 'Deny',
          Action: 's3:*',
          Resource: '*',
          Condition: { StringEqualz: { 'aws:username': 'x' } },
        },
      ],
    };
    expect(await refusal({ Policy: JSON.stringify(policy) })).toEqual({
      name: 'MalformedPolicyDocumentException',
      message: expect.stringContaining('StringEqualz'),
      status: 400,
    });
  });

  test('a PolicyArns entry that is not a managed policy ARN: ValidationError', async () => {
    expect(
      (await refusal({ PolicyArns: [{ arn: 'arn:aws:s3:::some-bucket/some-key' }] })).message,
    ).toMatch(/at 'policyArns\.1\.member\.arn' failed to satisfy constraint/);
    expect(
      (
        await refusal({
          PolicyArns: Array.from({ length: 11 }, (_, i) => ({
            arn: `arn:aws:iam::aws:policy/P${i}`,
          })),
        })
      ).message,
    ).toMatch(
      /at 'policyArns' failed to satisfy constraint: Member must have length less than or equal to 10/,
    );
  });
});

describe('wire format', () => {
  test('the SDK request id is the x-amzn-requestid header, for answers and errors', async () => {
    const ok = await assume({});
    expect(ok.$metadata.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(ok.$metadata.httpStatusCode).toBe(200);
    const failed = await assume({ WebIdentityToken: 'expired-token' }).catch(
      (e: { $metadata: { requestId?: string } }) => e,
    );
    expect(logs.map((l) => l.requestId)).toEqual([
      ok.$metadata.requestId,
      (failed as { $metadata: { requestId?: string } }).$metadata.requestId,
    ]);
    expect(logs.map((l) => [l.outcome, l.code, l.roleArn])).toEqual([
      ['issued', undefined, roles.google],
      ['refused', 'ExpiredTokenException', roles.google],
    ]);
  });

  test('the logs never hold the token or the credentials', async () => {
    const out = await assume({});
    const text = JSON.stringify(logs);
    expect(text).not.toContain('google-alice');
    expect(text).not.toContain(out.Credentials!.AccessKeyId);
    expect(text).not.toContain(out.Credentials!.SecretAccessKey);
    expect(text).not.toContain(out.Credentials!.SessionToken);
  });

  test('the raw answer has exactly the shape the SDKs parse', async () => {
    const res = await raw(
      form({
        Action: 'AssumeRoleWithWebIdentity',
        Version: '2011-06-15',
        RoleArn: roles.oidc,
        RoleSessionName: 'raw-session',
        WebIdentityToken: 'oidc-dave',
        Policy: JSON.stringify({
          Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }],
        }),
      }),
    );
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/xml');
    const requestId = res.headers['x-amzn-requestid'];
    expect(requestId).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    const roleName = roleTrusting(model, roles.oidcProvider).roleName;
    // The random parts, checked by pattern, become placeholders; the rest must match exactly.
    const normalized = res.body
      .replace(/<AssumedRoleId>AROA[A-Z0-9]{17}:/, '<AssumedRoleId>{ROLE_ID}:')
      .replace(/<AccessKeyId>ASIA[A-Z0-9]{16}</, '<AccessKeyId>{AKID}<')
      .replace(/<SecretAccessKey>[A-Za-z0-9+/]{40}</, '<SecretAccessKey>{SECRET}<')
      .replace(/<SessionToken>[A-Za-z0-9+/=]{400,}</, '<SessionToken>{TOKEN}<');
    expect(normalized).toBe(
      [
        '<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">',
        '<AssumeRoleWithWebIdentityResult>',
        '<SubjectFromWebIdentityToken>dave</SubjectFromWebIdentityToken>',
        '<Audience>sandbox-app</Audience>',
        '<AssumedRoleUser>',
        `<Arn>arn:aws:sts::${SANDBOX_ACCOUNT}:assumed-role/${roleName}/raw-session</Arn>`,
        '<AssumedRoleId>{ROLE_ID}:raw-session</AssumedRoleId>',
        '</AssumedRoleUser>',
        '<Credentials>',
        '<AccessKeyId>{AKID}</AccessKeyId>',
        '<SecretAccessKey>{SECRET}</SecretAccessKey>',
        '<SessionToken>{TOKEN}</SessionToken>',
        '<Expiration>2030-01-02T04:04:05Z</Expiration>',
        '</Credentials>',
        `<Provider>${roles.oidcProvider}</Provider>`,
        '<PackedPolicySize>4</PackedPolicySize>',
        '</AssumeRoleWithWebIdentityResult>',
        `<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata>`,
        '</AssumeRoleWithWebIdentityResponse>',
      ].join(''),
    );
  });

  test('the raw error has the ErrorResponse shape and its status', async () => {
    const res = await raw(
      form({
        Action: 'AssumeRoleWithWebIdentity',
        Version: '2011-06-15',
        RoleArn: roles.amazon,
        RoleSessionName: 'raw-session',
        WebIdentityToken: 'google-alice',
      }),
    );
    expect(res.status).toBe(403);
    expect(res.body).toBe(
      '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>' +
        '<Code>AccessDenied</Code><Message>Not authorized to perform sts:AssumeRoleWithWebIdentity</Message>' +
        `</Error><RequestId>${res.headers['x-amzn-requestid']}</RequestId></ErrorResponse>`,
    );
  });
});

/** boto3 (and so the AWS CLI, which shares botocore) parses the same answers. */
const hasBoto3 = spawnSync('python3', ['-c', 'import boto3'], { stdio: 'ignore' }).status === 0;

describe('botocore', () => {
  const script = `
import json, sys, boto3, botocore
sts = boto3.client('sts', endpoint_url=sys.argv[1], region_name='us-east-1')
ok = sts.assume_role_with_web_identity(RoleArn=sys.argv[2], RoleSessionName='boto3-session',
    WebIdentityToken='amazon-bob', ProviderId='www.amazon.com', DurationSeconds=900)
try:
    sts.assume_role_with_web_identity(RoleArn=sys.argv[2], RoleSessionName='boto3-session',
        WebIdentityToken='google-alice')
    denied = None
except botocore.exceptions.ClientError as e:
    denied = [e.response['Error']['Code'], e.response['ResponseMetadata']['HTTPStatusCode']]
print(json.dumps({'arn': ok['AssumedRoleUser']['Arn'], 'key': ok['Credentials']['AccessKeyId'],
    'expiration': ok['Credentials']['Expiration'].isoformat(), 'provider': ok['Provider'],
    'requestId': ok['ResponseMetadata']['RequestId'], 'denied': denied}))
`;

  (hasBoto3 ? test : test.skip)('boto3 assumes a role and reads an STS error', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wif-sts-'));
    const caFile = path.join(dir, 'ca.pem');
    fs.writeFileSync(caFile, tls.ca);
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile(
        'python3',
        ['-c', script, server.url, roles.amazon],
        {
          timeout: 20_000,
          env: {
            PATH: process.env.PATH,
            HOME: dir,
            AWS_CA_BUNDLE: caFile,
            AWS_CONFIG_FILE: path.join(dir, 'none'),
            AWS_SHARED_CREDENTIALS_FILE: path.join(dir, 'none'),
            AWS_EC2_METADATA_DISABLED: 'true',
          },
        },
        (error, out, err) => (error ? reject(new Error(`${error.message}\n${err}`)) : resolve(out)),
      ),
    );
    const result = JSON.parse(stdout);
    const roleName = roleTrusting(model, 'www.amazon.com').roleName;
    expect(result).toEqual({
      arn: `arn:aws:sts::${SANDBOX_ACCOUNT}:assumed-role/${roleName}/boto3-session`,
      key: expect.stringMatching(/^ASIA/),
      expiration: '2030-01-02T03:19:05+00:00',
      provider: 'www.amazon.com',
      requestId: logs[0].requestId,
      denied: ['AccessDenied', 403],
    });
    expect(sessions.get(result.key)?.roleArn).toBe(roles.amazon);
  });
});

describe('slow clients', () => {
  test('a client that sends its request line slowly is cut off within the bound', async () => {
    const fast = await startLocalSts({
      port: 0,
      tls,
      template,
      model,
      sessions,
      verifier,
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
