import { CfnElement, CfnResource } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { FederationStack } from '../../lib/federation-stack';
import { findUnsafeFederation } from '../../lib/guards';
import { parseStageConfig } from '../../lib/config';
import { Provider } from '../../lib/providers';
import { WebIdentityRole } from '../../lib/web-identity-role';
import { buildTestStack, synthTemplate, testConfig, testRawConfig } from '../support/helpers';

/* eslint-disable no-template-curly-in-string */

/** Builds the test stack, applies an unsafe change, and returns a synth thunk. */
function synthAfter(mutate: (stack: FederationStack) => void): () => void {
  const { app, stack } = buildTestStack();
  mutate(stack);
  return () => app.synth();
}
const cfn = (c: { node: { defaultChild?: unknown } }) => c.node.defaultChild as CfnResource;
const googleRole = (s: FederationStack) => s.roles.get('google')!;
const googlePolicy = (s: FederationStack) =>
  googleRole(s).node.findChild('OwnPrefixAccess').node.defaultChild as CfnResource;

test('the safe stack synthesizes and has no findings', () => {
  expect(synthAfter(() => undefined)).not.toThrow();
  expect(findUnsafeFederation(synthTemplate().toJSON())).toEqual([]);
});

describe('trust-audience-required: audience condition', () => {
  test('refuses a web identity trust without the audience condition', () => {
    expect(
      synthAfter((s) =>
        cfn(googleRole(s).role).addPropertyDeletionOverride(
          'AssumeRolePolicyDocument.Statement.0.Condition',
        ),
      ),
    ).toThrow(
      /\[trust-audience-required\].*no StringEquals condition on "accounts.google.com:aud"/,
    );
  });

  test('refuses a wildcard audience', () => {
    expect(
      synthAfter((s) =>
        cfn(s.roles.get('amazon')!.role).addPropertyOverride(
          'AssumeRolePolicyDocument.Statement.0.Condition.StringEquals',
          { 'www.amazon.com:app_id': 'amzn1.application-oa2-client.*' },
        ),
      ),
    ).toThrow(/\[trust-audience-required\].*www.amazon.com:app_id.*must be exact client ids/);
  });

  test('refuses a hand-made web identity role that trusts any app of the provider', () => {
    expect(
      synthAfter(
        (s) =>
          new iam.Role(s, 'Sloppy', {
            assumedBy: new iam.WebIdentityPrincipal('graph.facebook.com'),
          }),
      ),
    ).toThrow(/\[trust-audience-required\] Sloppy.*graph.facebook.com:app_id/);
  });

  test('an OIDC client id with a wildcard is refused by the provider factory', () => {
    expect(() =>
      Provider.oidc({ name: 'corp', issuerUrl: 'https://idp.example.org', clientIds: ['app-*'] }),
    ).toThrow(/must not contain wildcards, got "app-\*"/);
  });

  test('an OIDC trust whose audience key names another issuer is refused', () => {
    expect(
      synthAfter((s) =>
        cfn(s.roles.get('cognito')!.role).addPropertyOverride(
          'AssumeRolePolicyDocument.Statement',
          [
            {
              Effect: 'Allow',
              Action: 'sts:AssumeRoleWithWebIdentity',
              Principal: {
                Federated: s.resolve(s.roles.get('cognito')!.oidcProvider!.oidcProviderArn),
              },
              Condition: {
                StringEquals: { 'accounts.google.com:aud': '1example23456789abcdefghij' },
              },
            },
          ],
        ),
      ),
    ).toThrow(
      /\[trust-audience-required\].*cognito-idp.eu-west-1.amazonaws.com\/eu-west-1_AbCdEf123:aud/,
    );
  });
});

test('no-forallvalues-allow: refuses ForAllValues: in an Allow on a token claim', () => {
  expect(
    synthAfter((s) =>
      cfn(s.roles.get('cognito')!.role).addPropertyOverride(
        'AssumeRolePolicyDocument.Statement.0.Condition.ForAllValues:StringEquals',
        { 'cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123:amr': 'mfa' },
      ),
    ),
  ).toThrow(/\[no-forallvalues-allow\].*"ForAllValues:StringEquals" in an Allow statement/);
});

test('policy-version-2012: refuses a policy Version other than 2012-10-17', () => {
  expect(
    synthAfter((s) => googlePolicy(s).addPropertyOverride('PolicyDocument.Version', '2008-10-17')),
  ).toThrow(/\[policy-version-2012\].*Version must be "2012-10-17".*got "2008-10-17"/);
});

describe('prefix-on-immutable-subject: prefix keyed on the provider subject only', () => {
  test('refuses a prefix keyed on the email claim', () => {
    expect(
      synthAfter((s) =>
        googlePolicy(s).addPropertyOverride('PolicyDocument.Statement.0.Resource', {
          'Fn::Join': [
            '',
            [
              s.resolve(s.userData.bucket.bucketArn),
              '/users/google/${accounts.google.com:email}/*',
            ],
          ],
        }),
      ),
    ).toThrow(
      /\[prefix-on-immutable-subject\].*\$\{accounts.google.com:email\} is a mutable claim/,
    );
  });

  test("refuses another provider's variable on a role", () => {
    expect(
      synthAfter((s) =>
        googlePolicy(s).addPropertyOverride(
          'PolicyDocument.Statement.1.Condition.StringLike.s3:prefix',
          'users/google/${graph.facebook.com:id}/*',
        ),
      ),
    ).toThrow(
      /\[prefix-on-immutable-subject\].*\$\{graph.facebook.com:id\} is not this role's subject variable/,
    );
  });
});

describe('access-within-prefix: nothing broader than the own prefix', () => {
  const addToGoogle = (statement: iam.PolicyStatement) => (s: FederationStack) =>
    googleRole(s).role.addToPrincipalPolicy(statement);

  test.each([
    [
      's3:*',
      ['s3:*'],
      (s: FederationStack) => [
        s.userData.bucket.arnForObjects('users/google/${accounts.google.com:sub}/*'),
      ],
      /actions \["s3:\*"\] are not allowed/,
    ],
    ['Resource *', ['s3:GetObject'], () => ['*'], /resource "\*" is broader/],
    [
      'bucket/*',
      ['s3:GetObject'],
      (s: FederationStack) => [s.userData.bucket.arnForObjects('*')],
      /resource ".*\/\*" is broader/,
    ],
    [
      'namespace root',
      ['s3:GetObject'],
      (s: FederationStack) => [s.userData.bucket.arnForObjects('users/google/*')],
      /is broader than the user's prefix/,
    ],
    [
      'policy writes',
      ['s3:PutBucketPolicy'],
      (s: FederationStack) => [s.userData.bucket.bucketArn],
      /actions \["s3:PutBucketPolicy"\] are not allowed/,
    ],
    [
      'ACL writes',
      ['s3:PutObjectAcl'],
      (s: FederationStack) => [
        s.userData.bucket.arnForObjects('users/google/${accounts.google.com:sub}/*'),
      ],
      /actions \["s3:PutObjectAcl"\] are not allowed/,
    ],
  ])('refuses %s', (_name, actions, resources, message) => {
    expect(
      synthAfter((s) =>
        addToGoogle(new iam.PolicyStatement({ actions, resources: resources(s) }))(s),
      ),
    ).toThrow(message);
  });

  test('refuses ListBucket without the s3:prefix condition', () => {
    expect(
      synthAfter((s) =>
        googlePolicy(s).addPropertyDeletionOverride('PolicyDocument.Statement.1.Condition'),
      ),
    ).toThrow(/\[access-within-prefix\].*s3:ListBucket needs a StringLike s3:prefix condition/);
  });

  test('refuses a managed policy on a web identity role', () => {
    expect(
      synthAfter((s) =>
        googleRole(s).role.addManagedPolicy(
          iam.ManagedPolicy.fromAwsManagedPolicyName('AmazonS3ReadOnlyAccess'),
        ),
      ),
    ).toThrow(/\[access-within-prefix\].*must not carry managed policies/);
  });
});

describe('lambda-role-no-data-access: no other role reaches user data', () => {
  test('refuses an execution role that can read the bucket', () => {
    expect(
      synthAfter((s) => {
        const role = new iam.Role(s, 'AppFunctionRole', {
          assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
        });
        s.userData.bucket.grantRead(role);
      }),
    ).toThrow(/\[lambda-role-no-data-access\].*AppFunctionRole.*s3:GetObject/);
  });

  test('refuses an execution role with s3:* on Resource *', () => {
    expect(
      synthAfter((s) => {
        const role = new iam.Role(s, 'AppFunctionRole', {
          assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
        });
        role.addToPolicy(new iam.PolicyStatement({ actions: ['s3:*'], resources: ['*'] }));
      }),
    ).toThrow(/\[lambda-role-no-data-access\].*AppFunctionRole/);
  });

  test('allows other roles that do not touch the bucket', () => {
    expect(
      synthAfter((s) => {
        const role = new iam.Role(s, 'AppFunctionRole', {
          assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
        });
        role.addToPolicy(
          new iam.PolicyStatement({ actions: ['sts:AssumeRoleWithWebIdentity'], resources: ['*'] }),
        );
      }),
    ).not.toThrow();
  });

  test('refuses a bucket policy Allow', () => {
    expect(
      synthAfter((s) =>
        s.userData.bucket.addToResourcePolicy(
          new iam.PolicyStatement({
            actions: ['s3:GetObject'],
            principals: [new iam.AccountRootPrincipal()],
            resources: [s.userData.bucket.arnForObjects('*')],
          }),
        ),
      ),
    ).toThrow(/\[lambda-role-no-data-access\].*bucket policy Allow/);
  });
});

describe('bucket-baseline: bucket protections', () => {
  const bucketCfn = (s: FederationStack) => s.userData.bucket.node.defaultChild as s3.CfnBucket;

  test('refuses a bucket without all four public access blocks', () => {
    expect(
      synthAfter((s) =>
        bucketCfn(s).addPropertyOverride(
          'PublicAccessBlockConfiguration.RestrictPublicBuckets',
          false,
        ),
      ),
    ).toThrow(/\[bucket-baseline\].*public access blocks RestrictPublicBuckets must all be true/);
  });

  test('refuses a bucket without encryption', () => {
    expect(synthAfter((s) => bucketCfn(s).addPropertyDeletionOverride('BucketEncryption'))).toThrow(
      /\[bucket-baseline\].*default encryption is missing/,
    );
  });

  test('refuses a bucket without the TLS-only policy', () => {
    expect(
      synthAfter((s) =>
        (s.userData.bucket.policy!.node.defaultChild as CfnResource).addPropertyOverride(
          'PolicyDocument.Statement.0.Condition.Bool.aws:SecureTransport',
          'true',
        ),
      ),
    ).toThrow(/\[bucket-baseline\].*deny every request without TLS/);
  });
});

describe('providers-unique-https: duplicate providers and non-HTTPS origins', () => {
  test('refuses two entries for one provider, with both positions and the fix', () => {
    const raw = testRawConfig();
    raw.providers.push({ type: 'google', clientIds: ['999-other.apps.googleusercontent.com'] });
    expect(() => parseStageConfig('test', raw)).toThrow(
      /providers\[4\]: duplicates providers\[1\] \(both are "google"\); merge their client ids/,
    );
  });

  test('refuses two OIDC entries for one issuer under different names', () => {
    const raw = testRawConfig();
    raw.providers.push({
      type: 'oidc',
      name: 'pool2',
      issuerUrl: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123',
      clientIds: ['other'],
    });
    expect(() => parseStageConfig('test', raw)).toThrow(
      /providers\[4\]: issuer .* already configured by providers\[3\]/,
    );
  });

  test('refuses a plain-http app origin outside the sandbox, allows it in the sandbox', () => {
    expect(() => testConfig({ app: { origins: ['http://files.example.com'] } })).toThrow(
      /app.origins: "http:\/\/files.example.com" is not HTTPS/,
    );
    expect(() =>
      testConfig({ sandbox: true, app: { origins: ['http://127.0.0.1:8443'] } }),
    ).not.toThrow();
  });

  test('the stack refuses duplicate providers passed directly', () => {
    const config = testConfig();
    const doubled = { ...config, providers: [...config.providers, config.providers[0]] };
    expect(() => buildTestStack(doubled)).toThrow(/provider "amazon" is configured twice/);
  });
});

test('every finding is reported at once', () => {
  const { app, stack } = buildTestStack();
  cfn(googleRole(stack).role).addPropertyDeletionOverride(
    'AssumeRolePolicyDocument.Statement.0.Condition',
  );
  googlePolicy(stack).addPropertyOverride('PolicyDocument.Version', '2008-10-17');
  (
    stack.userData.bucket.node.defaultChild as CfnElement as CfnResource
  ).addPropertyDeletionOverride('BucketEncryption');
  const synth = () => app.synth();
  expect(synth).toThrow(/\[trust-audience-required\] GoogleUsersRole/);
  expect(synth).toThrow(/\[policy-version-2012\] GoogleUsersOwnPrefixAccess/);
  expect(synth).toThrow(/\[bucket-baseline\] UserDataBucket/);
});

test('WebIdentityRole refuses a session duration outside 900..max at synth time (session-duration-at-synth)', () => {
  const { stack } = buildTestStack();
  const { Duration } = jest.requireActual('aws-cdk-lib');
  expect(
    () =>
      new WebIdentityRole(stack, 'TooLong', {
        provider: Provider.google('1-a.apps.googleusercontent.com'),
        bucket: stack.userData.bucket,
        maxSessionDuration: Duration.hours(1),
        sessionDuration: Duration.hours(2),
      }),
  ).toThrow(
    /durationSeconds must be an integer from 900 to maxSessionDurationSeconds \(3600\), got 7200/,
  );
});

test('an issuer only known at deploy time (a token) is refused with the reason and the way out', () => {
  const { stack } = buildTestStack();
  const pool = new (jest.requireActual('aws-cdk-lib/aws-cognito').UserPool)(stack, 'Pool');
  expect(() => Provider.cognitoUserPool({ userPoolId: pool.userPoolId, clientIds: ['x'] })).toThrow(
    /userPoolId must be known at synth time: IAM names the trust condition keys after the issuer/,
  );
  expect(() =>
    Provider.oidc({ name: 'pool', issuerUrl: pool.userPoolProviderUrl, clientIds: ['x'] }),
  ).toThrow(/issuerUrl must be known at synth time/);
});
