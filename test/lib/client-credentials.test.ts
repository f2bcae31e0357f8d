import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { parseAppConfig } from '../../common/app-config';
import { ConfigError, parseStageConfig, type RawStageConfig } from '../../lib/config';
import { CLIENT_SDK_EXPOSED_HEADERS } from '../../lib/user-data-bucket';
import { sandboxAppConfig } from '../../local/sandbox';
import { DEFAULT_PORTS, sandboxStageConfig } from '../../local/sandbox-config';
import { buildTestStack, testRawConfig } from '../support/helpers';

/**
 * app.clientCredentials: off by default; on, the app is told (APP_CONFIG) and the bucket's
 * CORS lets the AWS SDK on the app's pages do what it does (DELETE, the headers it reports).
 */

const ORIGIN = 'https://files.example.com';
const DOMAIN = {
  name: 'files.example.com',
  hostedZoneId: 'Z0123456789ABCDEFGHIJ',
  hostedZoneName: 'example.com',
};

const withApp = (app: NonNullable<RawStageConfig['app']>): RawStageConfig => testRawConfig({ app });

function build(raw: RawStageConfig) {
  const { stack } = buildTestStack(parseStageConfig('test', raw));
  const template = Template.fromStack(stack);
  const fn = Object.values(template.findResources('AWS::Lambda::Function'))[0];
  return {
    stack,
    template,
    /** APP_CONFIG as written (a join of strings and tokens); the keys are in the strings. */
    appConfigText: JSON.stringify(fn.Properties.Environment.Variables.APP_CONFIG),
    cors: Object.values(template.findResources('AWS::S3::Bucket'))
      .map((b) => b.Properties.CorsConfiguration)
      .filter(Boolean),
  };
}

const warnings = (stack: ReturnType<typeof build>['stack']) =>
  Annotations.fromStack(stack)
    .findWarning('*', Match.anyValue())
    .map((w) => String(w.entry.data))
    .filter((m) => /app\.origins|clientCredentials/.test(m));

describe('app.clientCredentials', () => {
  test('off by default: APP_CONFIG does not have it, the CORS rule is the presigned-URL one', () => {
    const config = parseStageConfig('test', withApp({ origins: [ORIGIN] }));
    expect(config.app.clientCredentials).toBe(false);
    const { appConfigText, cors } = build(withApp({ origins: [ORIGIN] }));
    expect(appConfigText).not.toContain('clientCredentials');
    expect(cors).toEqual([
      {
        CorsRules: [
          {
            AllowedOrigins: [ORIGIN],
            AllowedMethods: ['GET', 'PUT', 'POST', 'HEAD'],
            AllowedHeaders: ['*'],
            ExposedHeaders: ['ETag'],
            MaxAge: 3000,
          },
        ],
      },
    ]);
  });

  test('on: APP_CONFIG says so, CORS also allows DELETE and exposes what the SDK reports', () => {
    const { appConfigText, cors, stack } = build(
      withApp({ origins: [ORIGIN], domain: DOMAIN, clientCredentials: true }),
    );
    expect(appConfigText).toContain('\\"clientCredentials\\":true');
    expect(cors).toEqual([
      {
        CorsRules: [
          {
            AllowedOrigins: [ORIGIN],
            AllowedMethods: ['GET', 'PUT', 'POST', 'HEAD', 'DELETE'],
            AllowedHeaders: ['*'],
            ExposedHeaders: ['ETag', ...CLIENT_SDK_EXPOSED_HEADERS],
            MaxAge: 3000,
          },
        ],
      },
    ]);
    expect(CLIENT_SDK_EXPOSED_HEADERS).toEqual([
      'x-amz-version-id',
      'x-amz-request-id',
      'x-amz-id-2',
    ]);
    expect(warnings(stack)).toEqual([]);
  });

  test("the app's parser takes the field, and only a boolean", () => {
    const base = {
      baseUrl: ORIGIN,
      region: 'eu-west-1',
      bucket: 'bucket',
      durationSeconds: 3600,
      cookieKeySecretId: 'cookie-key',
      providers: [
        {
          name: 'google',
          family: 'google',
          displayName: 'Google',
          clientId: 'id',
          clientSecretId: 'secret',
          issuer: 'https://accounts.google.com',
          roleArn: 'arn:aws:iam::123456789012:role/google',
        },
      ],
    };
    expect(parseAppConfig(JSON.stringify(base)).clientCredentials).toBeUndefined();
    expect(
      parseAppConfig(JSON.stringify({ ...base, clientCredentials: true })).clientCredentials,
    ).toBe(true);
    expect(() => parseAppConfig(JSON.stringify({ ...base, clientCredentials: 'yes' }))).toThrow(
      /clientCredentials/,
    );
  });

  test('a stage config with a non-boolean value is refused with the value', () => {
    let error: unknown;
    try {
      parseStageConfig('test', withApp({ origins: [ORIGIN], clientCredentials: 'yes' as never }));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([
      expect.stringMatching(/^app\.clientCredentials: .*boolean.*, got "yes"\.$/),
    ]);
  });

  describe('validation: the SDK on the app pages needs the bucket CORS', () => {
    test('on with no origins: warns, naming the known app origin and both fixes', () => {
      const { stack, cors } = build(withApp({ domain: DOMAIN, clientCredentials: true }));
      expect(cors).toEqual([]);
      expect(warnings(stack)).toEqual([
        `app.clientCredentials is true but app.origins is empty, so the bucket has no CORS rule and the AWS SDK on the app's pages cannot call S3 with the credentials from /api/credentials. Add the app's origin (${ORIGIN}) to app.origins in config/test.json, or set app.clientCredentials to false. [ack: wif:client-credentials-without-cors]`,
      ]);
    });

    test('on with no origins and the endpoint not known before deploy: points at the Endpoint output', () => {
      const { stack } = build(withApp({ origins: [], clientCredentials: true }));
      expect(warnings(stack)).toEqual([
        expect.stringContaining("Add the app's origin (the Endpoint output, once deployed)"),
      ]);
    });

    test("on with origins that miss the app's own: the usual warning says the SDK needs it too", () => {
      const { stack } = build(
        withApp({
          origins: ['https://other.example.com'],
          domain: DOMAIN,
          clientCredentials: true,
        }),
      );
      expect(warnings(stack)).toEqual([
        expect.stringMatching(
          /^app\.origins does not list the app's own origin https:\/\/files\.example\.com; browsers on its pages cannot upload to the bucket with presigned URLs or call S3 with the AWS SDK \(app\.clientCredentials\)\./,
        ),
      ]);
    });
  });

  test('the sandbox turns it on, in the stage and in the APP_CONFIG it runs the bundle with', () => {
    const config = parseStageConfig('local', sandboxStageConfig(DEFAULT_PORTS));
    expect(config.app.clientCredentials).toBe(true);
    expect(sandboxAppConfig(config, DEFAULT_PORTS, 'bucket', {}).clientCredentials).toBe(true);
  });
});
