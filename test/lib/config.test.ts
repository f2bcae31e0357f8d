import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigError, parseStageConfig } from '../../lib/config';
import { UserDataEncryption } from '../../lib/user-data-bucket';
import { TokenKind } from '../../lib/providers';
import { exampleRawConfig, testRawConfig } from '../support/helpers';

function problems(raw: unknown, stage = 'test'): string[] {
  try {
    parseStageConfig(stage, raw);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  throw new Error('expected a ConfigError, the config was accepted');
}

describe('stage config', () => {
  test('the checked-in example config is valid and marks its ids as placeholders', () => {
    const config = parseStageConfig('example', exampleRawConfig());
    expect(config.providers.map((p) => p.provider.family)).toEqual([
      'amazon',
      'google',
      'facebook',
      'oidc',
    ]);
    expect(config.providers.every((p) => p.provider.usesPlaceholderIds)).toBe(true);
  });

  test('defaults: S3-managed encryption, retained buckets, 1 h sessions', () => {
    const config = parseStageConfig('t', {
      providers: [{ type: 'facebook', appId: '1234567890' }],
    });
    expect(config.bucket).toEqual({
      encryption: UserDataEncryption.S3_MANAGED,
      noncurrentVersionExpirationDays: 30,
      abortIncompleteMultipartUploadDays: 7,
      accessLogRetentionDays: 365,
      destroyOnDelete: false,
    });
    expect(config.session.durationSeconds).toBe(3600);
    expect(config.session.maxSessionDurationSeconds).toBe(3600);
    expect(config.sandbox).toBe(false);
  });

  test('provider families carry their token kind and ProviderId (provider-id-oauth-only)', () => {
    const config = parseStageConfig('t', testRawConfig());
    const byFamily = Object.fromEntries(
      config.providers.map((p) => [p.provider.family, p.provider]),
    );
    expect(byFamily.amazon).toMatchObject({
      tokenKind: TokenKind.ACCESS_TOKEN,
      providerId: 'www.amazon.com',
    });
    expect(byFamily.facebook).toMatchObject({
      tokenKind: TokenKind.ACCESS_TOKEN,
      providerId: 'graph.facebook.com',
    });
    expect(byFamily.google).toMatchObject({ tokenKind: TokenKind.ID_TOKEN, providerId: undefined });
    expect(byFamily.oidc).toMatchObject({ tokenKind: TokenKind.ID_TOKEN, providerId: undefined });
  });

  test('cognito entries become an OIDC provider on the user pool issuer', () => {
    const config = parseStageConfig('t', {
      providers: [{ type: 'cognito', userPoolId: 'us-east-1_Abc123', clientIds: ['client1'] }],
    });
    expect(config.providers[0].provider).toMatchObject({
      family: 'oidc',
      namespace: 'cognito',
      issuerUrl: 'https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Abc123',
      audienceKeys: ['cognito-idp.us-east-1.amazonaws.com/us-east-1_Abc123:aud'],
    });
  });

  test('reports every problem at once, each with the bad value and the fix', () => {
    const found = problems({
      providers: [
        { type: 'amazon', appId: 'abc' },
        { type: 'google', clientIds: ['my-client'] },
        { type: 'facebook', appId: 'fb-app' },
        { type: 'oidc', name: 'Corp', issuerUrl: 'http://idp.example.org/', clientIds: [] },
      ],
      session: { maxSessionDurationSeconds: 3600, durationSeconds: 600 },
      bucket: { noncurrentVersionExpirationDays: 0 },
      app: { origins: ['http://files.example.com'] },
    });
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /^providers\[0\]: Amazon appId must look like amzn1\.application-oa2-client\.<32 hex digits>, got "abc"\. Copy the Client ID/,
        ),
        expect.stringMatching(/^providers\[1\]: Google client id must look like .*got "my-client"/),
        expect.stringMatching(
          /^providers\[2\]: Facebook appId must be the numeric App ID .*got "fb-app"/,
        ),
        expect.stringMatching(/^providers\[3\]: OIDC provider name must be .*got "Corp"/),
        expect.stringMatching(
          /^providers\[3\]: OIDC issuerUrl must be an https:\/\/ URL .*got "http:\/\/idp.example.org\/"/,
        ),
        expect.stringMatching(/^providers\[3\]: OIDC provider "Corp" needs at least one client id/),
        expect.stringMatching(
          /^session: durationSeconds must be an integer from 900 to maxSessionDurationSeconds \(3600\), got 600/,
        ),
        expect.stringMatching(
          /^bucket: noncurrentVersionExpirationDays must be a whole number of days from 1 to 3650, got 0/,
        ),
        expect.stringMatching(/^app.origins: "http:\/\/files.example.com" is not HTTPS/),
      ]),
    );
    expect(found).toHaveLength(9);
  });

  test('the error message names the file and lists the problems', () => {
    expect(() =>
      parseStageConfig('prod', { providers: [{ type: 'amazon', appId: 'x' }] }, 'config/prod.json'),
    ).toThrow(
      /^Invalid configuration in config\/prod.json \(1 problem\):\n {2}- providers\[0\]: Amazon appId/,
    );
  });

  test('shape errors: unknown keys, wrong types, unknown provider type, missing providers', () => {
    const found = problems({
      providers: [
        { type: 'twitter', id: 'x' },
        { type: 'facebook', appID: '123456' },
      ],
      bucket: { encryption: 'aes' },
      session: { maxSessionDurationSeconds: '3600' },
      extra: 1,
    });
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /^providers\[0\].type: provider "type" must be one of "amazon", "facebook", "google", "oidc", "cognito"/,
        ),
        expect.stringMatching(
          /^providers\[1\]: unknown setting "appID"; remove it or fix the spelling/,
        ),
        expect.stringMatching(/^providers\[1\].appId: required string setting is missing/),
        expect.stringMatching(/^bucket.encryption: .*got "aes"/),
        expect.stringMatching(/^session.maxSessionDurationSeconds: .*expected number.*got "3600"/),
        expect.stringMatching(/^\(top level\): unknown setting "extra"/),
      ]),
    );
    expect(problems({})).toEqual([
      expect.stringMatching(/^providers: required array setting is missing/),
    ]);
    expect(problems({ providers: [] })).toEqual([
      expect.stringMatching(/configure at least one provider/),
    ]);
  });

  test('session limits: max 3600..43200, duration 900..max, valid session policy ARNs (session-duration-at-synth)', () => {
    expect(problems(testRawConfig({ session: { maxSessionDurationSeconds: 50000 } }))).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /maxSessionDurationSeconds must be an integer from 3600 to 43200.*got 50000/,
        ),
      ]),
    );
    expect(
      problems(
        testRawConfig({ session: { maxSessionDurationSeconds: 3600, durationSeconds: 7200 } }),
      ),
    ).toEqual([
      expect.stringMatching(/durationSeconds .* got 7200; STS would refuse every sign-in/),
    ]);
    expect(problems(testRawConfig({ session: { sessionPolicyArns: ['ReadOnly'] } }))).toEqual([
      expect.stringMatching(
        /session policy ARN must look like arn:aws:iam::<account>:policy\/<name>, got "ReadOnly"/,
      ),
    ]);
  });

  test('trust extras: amr only on OIDC, subjects exact', () => {
    const raw = testRawConfig();
    raw.providers[1] = { ...raw.providers[1], amr: ['mfa'] } as never;
    expect(problems(raw)).toEqual(
      expect.arrayContaining([expect.stringMatching(/providers\[1\]: unknown setting "amr"/)]),
    );
    const raw2 = testRawConfig();
    raw2.providers[2] = { ...raw2.providers[2], allowedSubjects: ['12*'] } as never;
    expect(problems(raw2)).toEqual([
      expect.stringMatching(/providers\[2\]: allowedSubjects entries must be exact .*got "12\*"/),
    ]);
  });

  test('reserved and Google-issuer OIDC entries point to the built-in provider', () => {
    const raw = testRawConfig({
      providers: [
        {
          type: 'oidc',
          name: 'google',
          issuerUrl: 'https://accounts.google.com',
          clientIds: ['x'],
        },
      ],
    });
    expect(problems(raw)).toEqual([
      expect.stringMatching(/name "google" is reserved/),
      expect.stringMatching(/is Google's: use the built-in google provider/),
    ]);
  });

  test('app defaults: no domain, 20/s throttle with bursts of 40, 30 days of logs', () => {
    const config = parseStageConfig('t', {
      providers: [{ type: 'facebook', appId: '1234567890' }],
    });
    expect(config.app).toEqual({
      origins: [],
      domain: undefined,
      throttle: { rateLimit: 20, burstLimit: 40 },
      logRetentionDays: 30,
      baseUrl: undefined,
      clientCredentials: false,
    });
    expect(config.providers[0].clientSecretArn).toBeUndefined();
  });

  test('app settings: domain with a hosted zone or a certificate, throttle, retention, base URL', () => {
    const raw = testRawConfig({
      app: {
        origins: ['https://files.example.com'],
        domain: {
          name: 'files.example.com',
          hostedZoneId: 'Z0123456789ABCDEFGHIJ',
          hostedZoneName: 'example.com',
        },
        throttle: { rateLimit: 5.5 },
        logRetentionDays: 90,
        baseUrl: 'https://files.example.com',
      },
    });
    raw.providers[2] = {
      ...raw.providers[2],
      clientSecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:fb-client-a1B2c3',
    } as never;
    const config = parseStageConfig('t', raw);
    expect(config.app).toEqual({
      origins: ['https://files.example.com'],
      domain: {
        name: 'files.example.com',
        hostedZone: { id: 'Z0123456789ABCDEFGHIJ', name: 'example.com' },
        certificateArn: undefined,
      },
      throttle: { rateLimit: 5.5, burstLimit: 40 },
      logRetentionDays: 90,
      baseUrl: 'https://files.example.com',
      clientCredentials: false,
    });
    expect(config.providers[2].clientSecretArn).toBe(
      'arn:aws:secretsmanager:eu-west-1:123456789012:secret:fb-client-a1B2c3',
    );
  });

  test('domain: needs a hosted zone (both id and name) or a certificate, and must be in the zone', () => {
    const domain = (d: Record<string, string>) =>
      problems(testRawConfig({ app: { domain: d as never } }));
    expect(domain({ name: 'files.example.com' })).toEqual([
      expect.stringMatching(
        /^app\.domain: "files\.example\.com" needs a certificate; give hostedZoneId and hostedZoneName .* or certificateArn/,
      ),
    ]);
    expect(domain({ name: 'files.example.com', hostedZoneId: 'Z0123456789ABCDEFGHIJ' })).toEqual([
      expect.stringMatching(
        /^app\.domain: hostedZoneId and hostedZoneName go together, got only hostedZoneId/,
      ),
    ]);
    expect(
      domain({ name: 'files.example.org', hostedZoneId: 'Z0123', hostedZoneName: 'example.com' }),
    ).toEqual([
      expect.stringMatching(
        /^app\.domain: "files\.example\.org" is not in the hosted zone "example\.com"/,
      ),
    ]);
    expect(
      domain({
        name: 'Files.Example.com/',
        hostedZoneId: '/hostedzone/Z0123',
        hostedZoneName: 'example.com.',
      }),
    ).toEqual([
      expect.stringMatching(
        /^app\.domain\.name: must be a lower-case host name .*got "Files\.Example\.com\/"/,
      ),
      expect.stringMatching(
        /^app\.domain\.hostedZoneId: must look like Z0123456789ABCDEFGHIJ \(without "\/hostedzone\/"\), got "\/hostedzone\/Z0123"/,
      ),
      expect.stringMatching(
        /^app\.domain\.hostedZoneName: must be a lower-case host name .*got "example\.com\."/,
      ),
    ]);
    expect(domain({ name: 'files.example.com', certificateArn: 'cert-123' })).toEqual([
      expect.stringMatching(
        /^app\.domain\.certificateArn: must be an ACM certificate ARN, .*got "cert-123"/,
      ),
    ]);
  });

  test('throttle, log retention and base URL are checked with the fix in the message', () => {
    const found = problems(
      testRawConfig({
        app: {
          throttle: { rateLimit: 0, burstLimit: 2.5 },
          logRetentionDays: 31,
          baseUrl: 'https://files.example.com/app/',
        },
      }),
    );
    expect(found).toEqual([
      expect.stringMatching(
        /^app\.throttle: rateLimit must be requests per second above 0 and at most 10000 .*got 0/,
      ),
      expect.stringMatching(
        /^app\.throttle: burstLimit must be a whole number of requests from 1 to 5000 .*got 2\.5/,
      ),
      expect.stringMatching(
        /^app\.logRetentionDays: must be one of the periods CloudWatch Logs accepts \(1, 3, 5, 7, 14, 30, 60, 90, .*3653\), got 31/,
      ),
      expect.stringMatching(
        /^app\.baseUrl: must be scheme:\/\/host\[:port\] without path, query or trailing slash .*got "https:\/\/files\.example\.com\/app\/"/,
      ),
    ]);
  });

  test('clientSecretArn: a complete Secrets Manager ARN in the stack region', () => {
    const withSecret = (arn: string) => {
      const raw = testRawConfig();
      raw.providers[0] = { ...raw.providers[0], clientSecretArn: arn } as never;
      return problems(raw);
    };
    expect(withSecret('arn:aws:secretsmanager:eu-west-1:123456789012:secret:amazon')).toEqual([
      expect.stringMatching(
        /^providers\[0\]\.clientSecretArn: must be the complete ARN of a Secrets Manager secret, .*<name>-<6 characters>.*got "arn:aws:secretsmanager:eu-west-1:123456789012:secret:amazon"/,
      ),
    ]);
    expect(
      withSecret('arn:aws:secretsmanager:us-east-1:123456789012:secret:amazon-AbC123'),
    ).toEqual([
      expect.stringMatching(
        /^providers\[0\]\.clientSecretArn: the secret is in us-east-1, but the app runs in eu-west-1/,
      ),
    ]);
  });

  test('stage names must be usable in a stack name', () => {
    expect(problems(testRawConfig(), 'Prod Stage')).toEqual([
      expect.stringMatching(/stage name "Prod Stage" must be/),
    ]);
  });
});

describe('bin/app.ts (cdk synth entry)', () => {
  const run = (context: Record<string, string | string[]>, validation = false) => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'wif-synth-'));
    const result = spawnSync(
      process.execPath,
      ['--import', 'tsx', path.join(__dirname, '..', '..', 'bin', 'app.ts')],
      {
        env: {
          ...process.env,
          CDK_OUTDIR: out,
          CDK_CONTEXT_JSON: JSON.stringify(context),
          CDK_VALIDATION: validation ? 'true' : 'false',
        },
        encoding: 'utf8',
        timeout: 60_000,
      },
    );
    return { ...result, out };
  };

  test('fails with every config problem and no stack trace', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wif-config-'));
    const file = path.join(dir, 'bad.json');
    fs.writeFileSync(
      file,
      JSON.stringify({
        providers: [
          { type: 'amazon', appId: 'abc' },
          { type: 'facebook', appId: 'x' },
        ],
      }),
    );
    const r = run({ stage: 'bad', configFile: file });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/Invalid configuration in .*bad.json \(2 problems\)/);
    expect(r.stderr).toMatch(/got "abc"/);
    expect(r.stderr).toMatch(/got "x"/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(fs.existsSync(path.join(r.out, 'manifest.json'))).toBe(false);
  });

  test('names the known stages when the stage has no config', () => {
    const r = run({ stage: 'nope' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/No config for stage "nope".*Known stages: .*example/);
  });

  test("synthesizes the example stage, and aws-cdk-lib's CloudFormation validation finds nothing", () => {
    // Bundling is proven once, in test/callback-app.test.ts. The built-in validation is
    // opt-in (CDK_VALIDATION=true); this is where npm test runs it.
    const r = run({ stage: 'example', 'aws:cdk:bundling-stacks': [] }, true);
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.status).toBe(0);
    expect(fs.existsSync(path.join(r.out, 'WebIdFederation-example.template.json'))).toBe(true);
    const report = JSON.parse(fs.readFileSync(path.join(r.out, 'validation-report.json'), 'utf8'));
    const violations = report.pluginReports.flatMap(
      (p: { violations?: unknown[] }) => p.violations ?? [],
    );
    expect(violations).toEqual([]);
  });
});
