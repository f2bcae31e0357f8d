import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { parseStageConfig } from '../../lib/config';
import { buildTestStack, exampleRawConfig, synthTemplate, testConfig } from '../support/helpers';

/* eslint-disable no-template-curly-in-string */
const BUCKET_ARN = { 'Fn::GetAtt': [Match.stringLikeRegexp('^UserDataBucket'), 'Arn'] };
const objectArn = (suffix: string) => ({ 'Fn::Join': ['', [BUCKET_ARN, suffix]] });

const FAMILIES = [
  {
    name: 'Amazon',
    principal: 'www.amazon.com',
    conditions: {
      'www.amazon.com:app_id': 'amzn1.application-oa2-client.0123456789abcdef0123456789abcdef',
    },
    prefix: 'users/amazon/${www.amazon.com:user_id}/',
  },
  {
    name: 'Google',
    principal: 'accounts.google.com',
    conditions: {
      'accounts.google.com:aud': '123456789012-abcdefghijklmnop.apps.googleusercontent.com',
      'accounts.google.com:oaud': '123456789012-abcdefghijklmnop.apps.googleusercontent.com',
    },
    prefix: 'users/google/${accounts.google.com:sub}/',
  },
  {
    name: 'Facebook',
    principal: 'graph.facebook.com',
    conditions: { 'graph.facebook.com:app_id': '1234567890123456' },
    prefix: 'users/facebook/${graph.facebook.com:id}/',
  },
  {
    name: 'Cognito',
    principal: { Ref: Match.stringLikeRegexp('^CognitoOidcProvider') },
    conditions: {
      'cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123:aud': '1example23456789abcdefghij',
    },
    prefix: 'users/cognito/${cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123:sub}/',
  },
];

describe('web identity roles', () => {
  const template = synthTemplate();

  test('one role per provider, and only the callback app role besides', () => {
    const roles = Object.values(template.findResources('AWS::IAM::Role'));
    const principals = roles.map(
      (r) => r.Properties.AssumeRolePolicyDocument.Statement[0].Principal,
    );
    expect(principals.filter((p) => p.Federated !== undefined)).toHaveLength(FAMILIES.length);
    // The callback app's function role (no user data access: test/callback-app.test.ts).
    expect(principals.filter((p) => p.Federated === undefined)).toEqual([
      { Service: 'lambda.amazonaws.com' },
    ]);
    template.resourceCountIs('AWS::IAM::Policy', FAMILIES.length + 1);
    template.resourceCountIs('AWS::IAM::ManagedPolicy', 0);
    template.resourceCountIs('AWS::IAM::User', 0);
  });

  test.each(FAMILIES)(
    '$name trust: AssumeRoleWithWebIdentity only, audience pinned with StringEquals',
    (f) => {
      template.hasResourceProperties('AWS::IAM::Role', {
        AssumeRolePolicyDocument: {
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Action: 'sts:AssumeRoleWithWebIdentity',
              Principal: { Federated: f.principal },
              Condition: { StringEquals: f.conditions },
            },
          ],
        },
        MaxSessionDuration: 3600,
        ManagedPolicyArns: Match.absent(),
        Policies: Match.absent(),
      });
    },
  );

  test.each(FAMILIES)(
    '$name access: own prefix objects and a prefix-bound ListBucket, nothing else (one-prefix-constant)',
    (f) => {
      template.hasResourceProperties('AWS::IAM::Policy', {
        PolicyDocument: {
          Version: '2012-10-17',
          Statement: [
            {
              Sid: 'OwnPrefixObjects',
              Effect: 'Allow',
              Action: [
                's3:AbortMultipartUpload',
                's3:DeleteObject',
                's3:GetObject',
                's3:ListMultipartUploadParts',
                's3:PutObject',
              ],
              Resource: objectArn('/' + f.prefix + '*'),
            },
            {
              Sid: 'ListOwnPrefix',
              Effect: 'Allow',
              Action: 's3:ListBucket',
              Resource: BUCKET_ARN,
              Condition: { StringLike: { 's3:prefix': f.prefix + '*' } },
            },
          ],
        },
      });
    },
  );

  test('generic OIDC uses the native AWS::IAM::OIDCProvider, no custom resource Lambda', () => {
    template.hasResourceProperties('AWS::IAM::OIDCProvider', {
      Url: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123',
      ClientIdList: ['1example23456789abcdefghij'],
    });
    // The one function is the callback app's; no custom resource provider.
    template.resourceCountIs('AWS::Lambda::Function', 1);
    template.resourceCountIs('Custom::AWSCDKOpenIdConnectProvider', 0);
  });

  test('opt-in session actions share the audience condition', () => {
    const t = synthTemplate(
      testConfig({
        session: {
          allowTagSession: true,
          allowSetSourceIdentity: true,
          maxSessionDurationSeconds: 7200,
          durationSeconds: 900,
        },
      }),
    );
    t.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [
          Match.objectLike({ Action: 'sts:AssumeRoleWithWebIdentity' }),
          {
            Effect: 'Allow',
            Action: ['sts:SetSourceIdentity', 'sts:TagSession'],
            Principal: { Federated: 'accounts.google.com' },
            Condition: { StringEquals: FAMILIES[1].conditions },
          },
        ],
      },
      MaxSessionDuration: 7200,
    });
  });

  test('allowed subjects and amr become extra trust conditions', () => {
    const t = synthTemplate(
      testConfig({
        providers: [
          {
            type: 'google',
            clientIds: ['123-abc.apps.googleusercontent.com'],
            allowedSubjects: ['1001', '1002'],
          },
          {
            type: 'oidc',
            name: 'corp',
            issuerUrl: 'https://login.example.org/realms/corp',
            clientIds: ['files'],
            amr: ['mfa'],
          },
        ],
      }),
    );
    t.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [
          Match.objectLike({
            Condition: {
              StringEquals: Match.objectLike({ 'accounts.google.com:sub': ['1001', '1002'] }),
            },
          }),
        ],
      },
    });
    t.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [
          Match.objectLike({
            Condition: {
              StringEquals: { 'login.example.org/realms/corp:aud': 'files' },
              'ForAnyValue:StringEquals': { 'login.example.org/realms/corp:amr': 'mfa' },
            },
          }),
        ],
      },
    });
  });

  test('KMS option: users may use the key only through S3 and only for their prefix', () => {
    const t = synthTemplate(testConfig({ bucket: { encryption: 'kms' } }));
    t.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    t.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          {
            BucketKeyEnabled: false,
            ServerSideEncryptionByDefault: {
              SSEAlgorithm: 'aws:kms',
              KMSMasterKeyID: Match.anyValue(),
            },
          },
        ],
      },
    });
    t.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          {
            Sid: 'OwnPrefixKmsThroughS3',
            Effect: 'Allow',
            Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
            Resource: { 'Fn::GetAtt': [Match.stringLikeRegexp('^UserDataKey'), 'Arn'] },
            Condition: {
              StringEquals: { 'kms:ViaService': 's3.eu-west-1.amazonaws.com' },
              StringLike: {
                'kms:EncryptionContext:aws:s3:arn': objectArn(
                  '/users/google/${accounts.google.com:sub}/*',
                ),
              },
            },
          },
        ]),
      },
    });
  });
});

describe('user data bucket', () => {
  const template = synthTemplate();
  const bucket = () =>
    template.findResources('AWS::S3::Bucket', {
      Properties: { VersioningConfiguration: Match.anyValue() },
    });

  test('blocks all public access, encrypts, enforces object ownership, versions', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          Match.objectLike({ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }),
        ],
      },
      OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
      VersioningConfiguration: { Status: 'Enabled' },
      LoggingConfiguration: {
        DestinationBucketName: { Ref: Match.stringLikeRegexp('^UserDataAccessLogs') },
        LogFilePrefix: 'user-data/',
      },
    });
    expect(Object.keys(bucket())).toHaveLength(1);
  });

  test('expires noncurrent versions and aborts incomplete multipart uploads', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          Match.objectLike({
            NoncurrentVersionExpiration: { NoncurrentDays: 30 },
            Status: 'Enabled',
          }),
          Match.objectLike({
            AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 },
            Status: 'Enabled',
          }),
        ]),
      },
    });
  });

  test('CORS only for the configured app origins, exposing ETag for multipart', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      CorsConfiguration: {
        CorsRules: [
          {
            AllowedOrigins: ['https://files.example.com'],
            AllowedMethods: ['GET', 'PUT', 'POST', 'HEAD'],
            AllowedHeaders: ['*'],
            ExposedHeaders: ['ETag'],
            MaxAge: 3000,
          },
        ],
      },
    });
  });

  test('no CORS rule when no origin is configured', () => {
    const t = synthTemplate(testConfig({ app: { origins: [] } }));
    for (const b of Object.values(t.findResources('AWS::S3::Bucket'))) {
      expect(b.Properties.CorsConfiguration).toBeUndefined();
    }
  });

  test('bucket policy denies every non-TLS request and allows nothing', () => {
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: Match.stringLikeRegexp('^UserDataBucket') },
      PolicyDocument: {
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Action: 's3:*',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            Resource: [BUCKET_ARN, objectArn('/*')],
          },
        ],
      },
    });
  });

  test('log bucket is private, TLS-only, lets only S3 log delivery for this bucket write', () => {
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: Match.stringLikeRegexp('^UserDataAccessLogs') },
      PolicyDocument: {
        Statement: [
          Match.objectLike({
            Effect: 'Deny',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
          Match.objectLike({
            Effect: 'Allow',
            Principal: { Service: 'logging.s3.amazonaws.com' },
            Action: 's3:PutObject',
            Condition: Match.objectLike({ ArnLike: { 'aws:SourceArn': BUCKET_ARN } }),
          }),
        ],
      },
    });
  });

  test('buckets are retained on stack deletion by default', () => {
    const buckets = template.findResources('AWS::S3::Bucket');
    for (const b of Object.values(buckets)) {
      expect(b.DeletionPolicy).toBe('Retain');
      expect(b.UpdateReplacePolicy).toBe('Retain');
    }
  });

  test('destroyOnDelete deletes the buckets without an auto-delete Lambda (it would read user data)', () => {
    const t = synthTemplate(testConfig({ bucket: { destroyOnDelete: true } }));
    for (const b of Object.values(t.findResources('AWS::S3::Bucket'))) {
      expect(b.DeletionPolicy).toBe('Delete');
    }
    // The one function is the callback app's; no auto-delete custom resource.
    t.resourceCountIs('AWS::Lambda::Function', 1);
    t.resourceCountIs('Custom::S3AutoDeleteObjects', 0);
  });
});

describe('outputs', () => {
  const template = synthTemplate();
  test('bucket, region, session duration, and each role and prefix template', () => {
    template.hasOutput('BucketName', { Value: { Ref: Match.stringLikeRegexp('^UserDataBucket') } });
    template.hasOutput('Region', { Value: { Ref: 'AWS::Region' } });
    template.hasOutput('SessionDurationSeconds', { Value: '3600' });
    for (const f of FAMILIES) {
      template.hasOutput(`${f.name}RoleArn`, {
        Value: { 'Fn::GetAtt': [Match.stringLikeRegexp(`^${f.name}UsersRole`), 'Arn'] },
      });
      template.hasOutput(`${f.name}PrefixTemplate`, { Value: f.prefix });
    }
  });

  test('session policy ARNs are recorded for the app when configured', () => {
    const t = synthTemplate(
      testConfig({
        session: { sessionPolicyArns: ['arn:aws:iam::123456789012:policy/ReadOnlyFiles'] },
      }),
    );
    t.hasOutput('SessionPolicyArns', { Value: 'arn:aws:iam::123456789012:policy/ReadOnlyFiles' });
  });
});

describe('placeholder ids', () => {
  test('the example config synthesizes and warns about every placeholder id', () => {
    const { stack } = buildTestStack(parseStageConfig('example', exampleRawConfig()));
    Template.fromStack(stack);
    const warnings = Annotations.fromStack(stack).findWarning(
      '*',
      Match.stringLikeRegexp('placeholder ids'),
    );
    expect(warnings).toHaveLength(4);
  });

  test('real-looking ids give no placeholder warning', () => {
    const { stack } = buildTestStack();
    Template.fromStack(stack);
    expect(
      Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('placeholder ids')),
    ).toHaveLength(0);
  });
});
