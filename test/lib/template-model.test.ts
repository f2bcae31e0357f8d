import {
  federatedKeyPrefix,
  flatten,
  isWebIdentityRole,
  keysFor,
  oidcProviderId,
  templateModel,
  type CfnTemplate,
} from '../../lib/template/model';

const doc = (action: string) => ({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Action: action, Resource: '*' }],
});

const template: CfnTemplate = {
  Resources: {
    Role: {
      Type: 'AWS::IAM::Role',
      Properties: {
        AssumeRolePolicyDocument: {
          Statement: {
            Effect: 'Allow',
            Action: 'sts:AssumeRoleWithWebIdentity',
            Principal: { Federated: { 'Fn::GetAtt': ['Provider', 'Arn'] } },
          },
        },
        Policies: [{ PolicyName: 'Own', PolicyDocument: doc('s3:GetObject') }],
        ManagedPolicyArns: [
          { Ref: 'ByArn' },
          { Ref: 'ByRoles' },
          'arn:aws:iam::aws:policy/ReadOnlyAccess',
        ],
      },
    },
    Other: { Type: 'AWS::IAM::Role', Properties: {} },
    ByRoles: {
      Type: 'AWS::IAM::ManagedPolicy',
      Properties: { Roles: [{ Ref: 'Role' }], PolicyDocument: doc('s3:PutObject') },
    },
    Attached: {
      Type: 'AWS::IAM::Policy',
      Properties: { Roles: [{ Ref: 'Role' }], PolicyDocument: doc('s3:ListBucket') },
    },
    ByArn: { Type: 'AWS::IAM::ManagedPolicy', Properties: { PolicyDocument: doc('kms:Decrypt') } },
    Provider: {
      Type: 'AWS::IAM::OIDCProvider',
      Properties: { Url: 'https://idp.example.org/tenant' },
    },
    Bucket: { Type: 'AWS::S3::Bucket' },
    BucketPolicy: {
      Type: 'AWS::S3::BucketPolicy',
      Properties: { Bucket: { Ref: 'Bucket' }, PolicyDocument: doc('s3:*') },
    },
  },
};

test('flatten: references, attributes, joins; anything else marked unresolved', () => {
  expect(flatten({ Ref: 'X' })).toBe('@X');
  expect(flatten({ 'Fn::GetAtt': ['X', 'Arn'] })).toBe('@X.Arn');
  expect(flatten({ 'Fn::Join': ['/', [{ Ref: 'AWS::Region' }, 'a']] })).toBe('@AWS::Region/a');
  expect(flatten({ 'Fn::If': ['C', 'a', 'b'] })).toBe('@?{"Fn::If":["C","a","b"]}');
});

test('a role with every kind of policy, in order, and the ARNs outside the template', () => {
  const model = templateModel(template);
  expect(model.roles.map((r) => r.id)).toEqual(['Role', 'Other']);
  const role = model.roles[0];
  expect(role.policies.map((p) => [p.kind, p.name, p.byArn])).toEqual([
    ['inline', 'Own', false],
    ['managed', 'ByRoles', false],
    ['policy', 'Attached', false],
    ['managed', 'ByArn', true],
  ]);
  expect(role.externalPolicyArns).toEqual(['arn:aws:iam::aws:policy/ReadOnlyAccess']);
  expect(role.trustStatements).toHaveLength(1);
  expect(model.roles[1].trust).toEqual({});
  expect(model.roles.map(isWebIdentityRole)).toEqual([true, false]);
  expect(model.buckets).toEqual(['Bucket']);
  expect(model.bucketPolicies.map((p) => [p.id, p.bucket])).toEqual([['BucketPolicy', '@Bucket']]);
});

test('federated principals: a provider name, an OIDC provider of the template, or unknown', () => {
  const { resources } = templateModel(template);
  expect(federatedKeyPrefix({ Federated: 'accounts.google.com' }, resources)).toBe(
    'accounts.google.com',
  );
  const oidc = { 'Fn::GetAtt': ['Provider', 'Arn'] };
  expect(oidcProviderId(oidc, resources)).toBe('Provider');
  expect(federatedKeyPrefix({ Federated: oidc }, resources)).toBe('idp.example.org/tenant');
  expect(federatedKeyPrefix({ Federated: { Ref: 'Bucket' } }, resources)).toBeUndefined();
  expect(keysFor('idp.example.org/tenant')).toEqual({
    audienceKey: 'idp.example.org/tenant:aud',
    subjectKey: 'idp.example.org/tenant:sub',
    subjectVariable: '$' + '{idp.example.org/tenant:sub}',
  });
  expect(keysFor('www.amazon.com').audienceKey).toBe('www.amazon.com:app_id');
});
