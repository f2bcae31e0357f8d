import {
  APP_ENDPOINT_RULES,
  FEDERATION_RULES,
  findUnsafeAppEndpoints,
  findUnsafeFederation,
} from '../../lib/guards';
import { certificateRegion, providersUniqueHttps } from '../../lib/guards/app-endpoint-rules';
import { noForAllValuesAllow, policyVersion2012 } from '../../lib/guards/policy-document-rules';
import type { GuardRule, TemplateContext } from '../../lib/guards/rule';
import { bucketBaseline, lambdaRoleNoDataAccess } from '../../lib/guards/user-data-rules';
import {
  accessWithinPrefix,
  prefixOnImmutableSubject,
  subjectSafeForPrefix,
  trustAudienceRequired,
} from '../../lib/guards/web-identity-rules';
import { templateModel } from '../../lib/template/model';
import { UNSAFE_SUBJECT_PATTERNS, policyVariable } from '../../common/policy-variables';

/*
 * Each rule on its own, on small hand-written templates: one that passes and one that
 * fails. The templates are rendered CloudFormation (intrinsics unresolved), as the
 * guards see them at synth time.
 */

type Json = Record<string, unknown>;
interface Tpl {
  Resources: Record<string, { Type: string; Properties: Json }>;
}

const V = '2012-10-17';
const SUB = policyVariable('accounts.google.com', 'sub');
const ISSUER = 'idp.example.org/tenant';
const bucketArn = { 'Fn::GetAtt': ['Bucket', 'Arn'] };
const under = (path: string) => ({ 'Fn::Join': ['', [bucketArn, path]] });

/**
 * A web identity role trusting `federated`, with an audience condition on `audienceKey`
 * and the unsafe-subject refusal on the `sub` key of the same provider.
 */
function webIdentityRole(federated: unknown, audienceKey: string): Json {
  const subjectKey = audienceKey.replace(/:[a-z_]+$/, ':sub');
  return {
    AssumeRolePolicyDocument: {
      Version: V,
      Statement: [
        {
          Effect: 'Allow',
          Action: 'sts:AssumeRoleWithWebIdentity',
          Principal: { Federated: federated },
          Condition: {
            StringEquals: { [audienceKey]: 'client-1' },
            StringNotLike: { [subjectKey]: [...UNSAFE_SUBJECT_PATTERNS] },
          },
        },
      ],
    },
  };
}

/**
 * A template every rule accepts: a Google role confined to its own prefix, an app role
 * that only writes logs, a protected bucket, an HTTPS app and a regional certificate.
 */
function safeTemplate(): Tpl {
  return {
    Resources: {
      Bucket: {
        Type: 'AWS::S3::Bucket',
        Properties: {
          PublicAccessBlockConfiguration: {
            BlockPublicAcls: true,
            BlockPublicPolicy: true,
            IgnorePublicAcls: true,
            RestrictPublicBuckets: true,
          },
          BucketEncryption: {
            ServerSideEncryptionConfiguration: [
              { ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } },
            ],
          },
        },
      },
      BucketPolicy: {
        Type: 'AWS::S3::BucketPolicy',
        Properties: {
          Bucket: { Ref: 'Bucket' },
          PolicyDocument: {
            Version: V,
            Statement: [
              {
                Effect: 'Deny',
                Principal: { AWS: '*' },
                Action: 's3:*',
                Resource: [bucketArn, under('/*')],
                Condition: { Bool: { 'aws:SecureTransport': 'false' } },
              },
            ],
          },
        },
      },
      GoogleRole: {
        Type: 'AWS::IAM::Role',
        Properties: webIdentityRole('accounts.google.com', 'accounts.google.com:aud'),
      },
      GooglePolicy: {
        Type: 'AWS::IAM::Policy',
        Properties: {
          Roles: [{ Ref: 'GoogleRole' }],
          PolicyDocument: {
            Version: V,
            Statement: [
              {
                Sid: 'Objects',
                Effect: 'Allow',
                Action: ['s3:GetObject', 's3:PutObject'],
                Resource: under(`/users/google/${SUB}/*`),
              },
              {
                Sid: 'List',
                Effect: 'Allow',
                Action: 's3:ListBucket',
                Resource: bucketArn,
                Condition: { StringLike: { 's3:prefix': `users/google/${SUB}/*` } },
              },
            ],
          },
        },
      },
      AppRole: {
        Type: 'AWS::IAM::Role',
        Properties: {
          AssumeRolePolicyDocument: {
            Version: V,
            Statement: [
              {
                Effect: 'Allow',
                Action: 'sts:AssumeRole',
                Principal: { Service: 'lambda.amazonaws.com' },
              },
            ],
          },
          Policies: [
            {
              PolicyName: 'Logs',
              PolicyDocument: {
                Version: V,
                Statement: [{ Effect: 'Allow', Action: 'logs:PutLogEvents', Resource: '*' }],
              },
            },
          ],
        },
      },
      Function: {
        Type: 'AWS::Lambda::Function',
        Properties: {
          Environment: { Variables: { APP_CONFIG: '{"baseUrl":"https://files.example.com"}' } },
        },
      },
      Domain: {
        Type: 'AWS::ApiGatewayV2::DomainName',
        Properties: {
          DomainNameConfigurations: [
            { CertificateArn: 'arn:aws:acm:eu-west-1:123456789012:certificate/abc' },
          ],
        },
      },
    },
  };
}

const EU = { region: 'eu-west-1' };

/** The rule's findings on `template`, untagged. */
const check = (rule: GuardRule, template: Tpl, context: TemplateContext = EU): string[] =>
  rule.check(templateModel(template), context);

/** The safe template after `change`. */
function safeAfter(change: (r: Tpl['Resources']) => void): Tpl {
  const t = safeTemplate();
  change(t.Resources);
  return t;
}

type Statements = Json[];
const statementsOf = (doc: unknown): Statements => (doc as { Statement: Statements }).Statement;
const googleStatements = (r: Tpl['Resources']) =>
  statementsOf(r.GooglePolicy.Properties.PolicyDocument);
const googleTrust = (r: Tpl['Resources']) =>
  statementsOf(r.GoogleRole.Properties.AssumeRolePolicyDocument)[0];
const appStatements = (r: Tpl['Resources']) =>
  statementsOf((r.AppRole.Properties.Policies as { PolicyDocument: unknown }[])[0].PolicyDocument);

test('the safe template passes every rule', () => {
  for (const rule of [...FEDERATION_RULES, ...APP_ENDPOINT_RULES]) {
    expect([rule.id, check(rule, safeTemplate())]).toEqual([rule.id, []]);
  }
});

test('every rule has a unique kebab-case id and a description', () => {
  const rules = [...FEDERATION_RULES, ...APP_ENDPOINT_RULES];
  expect(rules.map((r) => r.id).sort()).toEqual([
    'access-within-prefix',
    'bucket-baseline',
    'certificate-region',
    'lambda-role-no-data-access',
    'no-forallvalues-allow',
    'policy-version-2012',
    'prefix-on-immutable-subject',
    'providers-unique-https',
    'subject-safe-for-prefix',
    'trust-audience-required',
  ]);
  for (const rule of rules) expect(rule.description.length).toBeGreaterThan(40);
});

test('the runners tag each finding with its rule id', () => {
  const t = safeAfter((r) => {
    delete (googleTrust(r).Condition as Json).StringEquals;
    r.Function.Properties.Environment = {
      Variables: { APP_CONFIG: '{"baseUrl":"http://files.example.com"}' },
    };
  });
  expect(findUnsafeFederation(t)).toEqual([
    expect.stringMatching(/^\[trust-audience-required\] GoogleRole: /),
  ]);
  expect(findUnsafeAppEndpoints(t, EU)).toEqual([
    expect.stringMatching(/^\[providers-unique-https\] Function: /),
  ]);
});

describe('subject-safe-for-prefix', () => {
  test("passes: the trust refuses every unsafe pattern on the provider's subject key", () => {
    const t = safeAfter((r) => {
      r.Provider = { Type: 'AWS::IAM::OIDCProvider', Properties: { Url: `https://${ISSUER}` } };
      r.GoogleRole.Properties = webIdentityRole(
        { 'Fn::GetAtt': ['Provider', 'Arn'] },
        `${ISSUER}:aud`,
      );
    });
    expect(check(subjectSafeForPrefix, t)).toEqual([]);
  });

  test('fails: no StringNotLike, one pattern missing, or the refusal on another key', () => {
    expect(
      check(
        subjectSafeForPrefix,
        safeAfter((r) => {
          delete (googleTrust(r).Condition as Json).StringNotLike;
        }),
      ),
    ).toEqual([
      expect.stringMatching(
        /^GoogleRole: the web identity trust for accounts\.google\.com does not refuse unsafe subjects; add StringNotLike "accounts\.google\.com:sub"/,
      ),
    ]);
    expect(
      check(
        subjectSafeForPrefix,
        safeAfter((r) => {
          (googleTrust(r).Condition as Json).StringNotLike = {
            'accounts.google.com:sub': UNSAFE_SUBJECT_PATTERNS.filter((p) => p !== '*/*'),
          };
        }),
      ),
    ).toEqual([expect.stringContaining('(missing ["*/*"])')]);
    expect(
      check(
        subjectSafeForPrefix,
        safeAfter((r) => {
          (googleTrust(r).Condition as Json).StringNotLike = {
            'accounts.google.com:email': [...UNSAFE_SUBJECT_PATTERNS],
          };
        }),
      ),
    ).toHaveLength(1);
  });
});

describe('trust-audience-required', () => {
  test('passes: an OIDC provider of the stack, audience pinned to a client id', () => {
    const t = safeAfter((r) => {
      r.Provider = { Type: 'AWS::IAM::OIDCProvider', Properties: { Url: `https://${ISSUER}` } };
      r.GoogleRole.Properties = webIdentityRole(
        { 'Fn::GetAtt': ['Provider', 'Arn'] },
        `${ISSUER}:aud`,
      );
    });
    expect(check(trustAudienceRequired, t)).toEqual([]);
  });

  test('fails: a wildcard audience, a missing audience, an unknown provider', () => {
    expect(
      check(
        trustAudienceRequired,
        safeAfter((r) => {
          googleTrust(r).Condition = { StringEquals: { 'accounts.google.com:aud': 'client-*' } };
        }),
      ),
    ).toEqual([
      'GoogleRole: audience "accounts.google.com:aud" must be exact client ids, got ["client-*"].',
    ]);
    expect(
      check(
        trustAudienceRequired,
        safeAfter((r) => {
          delete googleTrust(r).Condition;
        }),
      ),
    ).toEqual([
      expect.stringMatching(
        /^GoogleRole: the web identity trust for accounts\.google\.com has no StringEquals condition on "accounts\.google\.com:aud"/,
      ),
    ]);
    expect(
      check(
        trustAudienceRequired,
        safeAfter((r) => {
          googleTrust(r).Principal = { Federated: { Ref: 'Elsewhere' } };
        }),
      ),
    ).toEqual([
      expect.stringMatching(
        /^GoogleRole: cannot tell which identity provider \{"Ref":"Elsewhere"\}/,
      ),
    ]);
  });
});

describe('no-forallvalues-allow', () => {
  test('passes: ForAnyValue: in an Allow, ForAllValues: in a Deny', () => {
    const t = safeAfter((r) => {
      googleTrust(r).Condition = {
        StringEquals: { 'accounts.google.com:aud': 'client-1' },
        'ForAnyValue:StringLike': { 'accounts.google.com:amr': 'mfa' },
      };
      googleStatements(r).push({
        Effect: 'Deny',
        Action: 's3:DeleteObject',
        Resource: '*',
        Condition: { 'ForAllValues:StringEquals': { 'aws:TagKeys': 'x' } },
      });
    });
    expect(check(noForAllValuesAllow, t)).toEqual([]);
  });

  test('fails: ForAllValues: in an Allow statement', () => {
    const t = safeAfter((r) => {
      (googleTrust(r).Condition as Json)['ForAllValues:StringEquals'] = {
        'accounts.google.com:amr': 'mfa',
      };
    });
    expect(check(noForAllValuesAllow, t)).toEqual([
      'GoogleRole trust policy: "ForAllValues:StringEquals" in an Allow statement matches when the claim is missing; use ForAnyValue: or a single-valued operator.',
    ]);
  });
});

describe('policy-version-2012', () => {
  test('passes: every document at 2012-10-17, a role without a trust document skipped', () => {
    const t = safeAfter((r) => {
      r.Bare = { Type: 'AWS::IAM::Role', Properties: {} };
    });
    expect(check(policyVersion2012, t)).toEqual([]);
  });

  test('fails: an old or missing Version, named by where the document is', () => {
    const t = safeAfter((r) => {
      (r.BucketPolicy.Properties.PolicyDocument as Json).Version = '2008-10-17';
      const inline = (r.AppRole.Properties.Policies as { PolicyDocument: Json }[])[0];
      delete inline.PolicyDocument.Version;
    });
    expect(check(policyVersion2012, t)).toEqual([
      expect.stringMatching(
        /^BucketPolicy: policy Version must be "2012-10-17" .*got "2008-10-17"\.$/,
      ),
      expect.stringMatching(/^AppRole inline policy Logs: policy Version .*got undefined\.$/),
    ]);
  });
});

describe('prefix-on-immutable-subject', () => {
  test("passes: only the provider's subject variable", () => {
    expect(check(prefixOnImmutableSubject, safeTemplate())).toEqual([]);
  });

  test("fails: a mutable claim, another provider's variable, two providers on one role", () => {
    const email = policyVariable('accounts.google.com', 'email');
    const facebook = policyVariable('graph.facebook.com', 'id');
    const t = safeAfter((r) => {
      googleStatements(r)[0].Resource = under(`/users/google/${email}/*`);
      (googleStatements(r)[1].Condition as { StringLike: Json }).StringLike['s3:prefix'] =
        `users/google/${facebook}/*`;
    });
    expect(check(prefixOnImmutableSubject, t)).toEqual([
      `GoogleRole (GooglePolicy Objects): ${email} is a mutable claim; key prefixes on ${SUB} only.`,
      `GoogleRole (GooglePolicy List): ${facebook} is not this role's subject variable; this role trusts accounts.google.com, whose users are ${SUB}.`,
    ]);
    const twoProviders = safeAfter((r) => {
      statementsOf(r.GoogleRole.Properties.AssumeRolePolicyDocument).push({
        ...googleTrust(r),
        Principal: { Federated: 'graph.facebook.com' },
      });
    });
    expect(check(prefixOnImmutableSubject, twoProviders)).toEqual([
      'GoogleRole: one web identity role must trust one provider, got accounts.google.com, graph.facebook.com.',
    ]);
  });
});

describe('access-within-prefix', () => {
  test('passes: the own prefix, and KMS through S3 on one key', () => {
    const t = safeAfter((r) => {
      googleStatements(r).push({
        Effect: 'Allow',
        Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
        Resource: { 'Fn::GetAtt': ['Key', 'Arn'] },
        Condition: { StringEquals: { 'kms:ViaService': 's3.eu-west-1.amazonaws.com' } },
      });
    });
    expect(check(accessWithinPrefix, t)).toEqual([]);
  });

  test('fails: broader actions and resources, a listing without s3:prefix, managed policies', () => {
    const t = safeAfter((r) => {
      googleStatements(r)[0].Action = 's3:*';
      googleStatements(r)[0].Resource = under('/users/google/*');
      delete googleStatements(r)[1].Condition;
      r.GoogleRole.Properties.ManagedPolicyArns = [
        'arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess',
      ];
    });
    expect(check(accessWithinPrefix, t)).toEqual([
      'GoogleRole: web identity roles must not carry managed policies (arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess); their access is the own-prefix policy only.',
      expect.stringMatching(
        /^GoogleRole \(GooglePolicy Objects\): actions \["s3:\*"\] are not allowed for web identity users/,
      ),
      expect.stringMatching(
        /^GoogleRole \(GooglePolicy Objects\): resource "@Bucket\.Arn\/users\/google\/\*" is broader than the user's prefix/,
      ),
      expect.stringMatching(
        /^GoogleRole \(GooglePolicy List\): s3:ListBucket needs a StringLike s3:prefix condition on users\/<provider>\/.*, got \[\]\.$/,
      ),
    ]);
  });
});

describe('lambda-role-no-data-access', () => {
  test('passes: another role without S3 data actions on the user bucket', () => {
    const t = safeAfter((r) => {
      appStatements(r).push({
        Effect: 'Allow',
        Action: 's3:GetObject',
        Resource: 'arn:aws:s3:::some-other-bucket/*',
      });
    });
    expect(check(lambdaRoleNoDataAccess, t)).toEqual([]);
  });

  test('fails: the app role reading user data, a bucket policy Allow', () => {
    const t = safeAfter((r) => {
      appStatements(r).push({ Effect: 'Allow', Action: 's3:GetObject', Resource: under('/*') });
      statementsOf(r.BucketPolicy.Properties.PolicyDocument).push({
        Effect: 'Allow',
        Principal: { AWS: 'arn:aws:iam::123456789012:root' },
        Action: 's3:GetObject',
        Resource: under('/*'),
      });
    });
    expect(check(lambdaRoleNoDataAccess, t)).toEqual([
      'AppRole (AppRole inline Logs): ["s3:GetObject"] on ["@Bucket.Arn/*"] gives a non-user role access to user data; only the web identity roles, confined by their policy variables, may touch it.',
      'Bucket: bucket policy Allow for {"AWS":"arn:aws:iam::123456789012:root"} grants user data outside the web identity roles; remove it.',
    ]);
  });
});

test('lambda-role-no-data-access fails: a managed policy attached only by ARN, or a broad AWS managed policy', () => {
  const t = safeAfter((r) => {
    r.Reader = {
      Type: 'AWS::IAM::ManagedPolicy',
      Properties: {
        PolicyDocument: {
          Version: V,
          Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: under('/*') }],
        },
      },
    };
    r.AppRole.Properties.ManagedPolicyArns = [
      { Ref: 'Reader' },
      'arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess',
      'arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole',
    ];
  });
  expect(check(lambdaRoleNoDataAccess, t)).toEqual([
    'AppRole: managed policy arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess gives a non-user role access to user data; only the web identity roles, confined by their policy variables, may touch it.',
    'AppRole (Reader): ["s3:GetObject"] on ["@Bucket.Arn/*"] gives a non-user role access to user data; only the web identity roles, confined by their policy variables, may touch it.',
  ]);
});

describe('bucket-baseline', () => {
  test('passes: a bucket the web identity roles do not reach is not judged', () => {
    const t = safeAfter((r) => {
      r.Other = { Type: 'AWS::S3::Bucket', Properties: {} };
    });
    expect(check(bucketBaseline, t)).toEqual([]);
  });

  test('fails: a public access block off, no encryption, no TLS-only policy', () => {
    const t = safeAfter((r) => {
      (r.Bucket.Properties.PublicAccessBlockConfiguration as Json).BlockPublicPolicy = false;
      delete r.Bucket.Properties.BucketEncryption;
      delete r.BucketPolicy;
    });
    expect(check(bucketBaseline, t)).toEqual([
      'Bucket: public access blocks BlockPublicPolicy must all be true (BlockPublicAccess.BLOCK_ALL).',
      'Bucket: default encryption is missing; set encryption to S3-managed or KMS.',
      'Bucket: bucket policy must deny every request without TLS (enforceSSL: true).',
    ]);
  });
});

describe('certificate-region', () => {
  test("passes: a regional certificate in the stack's region, an edge one in us-east-1", () => {
    const t = safeAfter((r) => {
      r.Cdn = {
        Type: 'AWS::CloudFront::Distribution',
        Properties: {
          DistributionConfig: {
            ViewerCertificate: {
              AcmCertificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/def',
            },
          },
        },
      };
    });
    expect(check(certificateRegion, t)).toEqual([]);
  });

  test('fails: a regional certificate elsewhere, or when the region is unknown', () => {
    const t = safeTemplate();
    expect(check(certificateRegion, t, { region: 'us-west-2' })).toEqual([
      expect.stringMatching(
        /^Domain: a regional custom domain uses a certificate in eu-west-1, but the stack is in us-west-2;/,
      ),
    ]);
    expect(check(certificateRegion, t, {})).toEqual([
      expect.stringMatching(/^Domain: .* the stack's region is not known at synth time;/),
    ]);
  });
});

describe('providers-unique-https', () => {
  test('passes: an http:// base URL in the sandbox, a base URL from an intrinsic', () => {
    const t = safeAfter((r) => {
      r.Function.Properties.Environment = {
        Variables: { APP_CONFIG: '{"baseUrl":"http://127.0.0.1:8443","sandbox":true}' },
      };
      r.Api = {
        Type: 'AWS::Lambda::Function',
        Properties: {
          Environment: {
            Variables: {
              APP_CONFIG: {
                'Fn::Join': ['', ['{"baseUrl":"', { 'Fn::GetAtt': ['Http', 'ApiEndpoint'] }, '"}']],
              },
            },
          },
        },
      };
    });
    expect(check(providersUniqueHttps, t)).toEqual([]);
  });

  test('fails: an http:// base URL outside the sandbox', () => {
    const t = safeAfter((r) => {
      r.Function.Properties.Environment = {
        Variables: { APP_CONFIG: '{"baseUrl":"http://files.example.com","sandbox":false}' },
      };
    });
    expect(check(providersUniqueHttps, t)).toEqual([
      expect.stringMatching(
        /^Function: APP_CONFIG baseUrl "http:\/\/files\.example\.com" is not HTTPS outside the sandbox;/,
      ),
    ]);
  });
});
