import { IntrinsicResolver, resolveIntrinsics, withDefaults } from '../../lib/template/intrinsics';

/* eslint-disable no-template-curly-in-string */

const template = {
  Resources: {
    Bucket: { Type: 'AWS::S3::Bucket' },
    Named: {
      Type: 'AWS::S3::Bucket',
      Properties: { BucketName: { 'Fn::Sub': '${AWS::StackName}-data' } },
    },
    Role: { Type: 'AWS::IAM::Role' },
    NamedRole: { Type: 'AWS::IAM::Role', Properties: { RoleName: 'fixed-role' } },
    Provider: {
      Type: 'AWS::IAM::OIDCProvider',
      Properties: { Url: 'https://idp.example.org/tenant' },
    },
    Managed: { Type: 'AWS::IAM::ManagedPolicy' },
    Key: { Type: 'AWS::KMS::Key' },
    Queue: { Type: 'AWS::SQS::Queue' },
  },
};
const env = { accountId: '123456789012', region: 'eu-west-1' };
const resolve = (value: unknown, e: Parameters<typeof resolveIntrinsics>[2] = env) =>
  resolveIntrinsics(value, template, e);

test('pseudo parameters, with the defaults and with overrides', () => {
  const pseudo = ['AccountId', 'Region', 'Partition', 'URLSuffix', 'StackName'].map((p) => ({
    Ref: `AWS::${p}`,
  }));
  expect(resolve(pseudo)).toEqual([
    '123456789012',
    'eu-west-1',
    'aws',
    'amazonaws.com',
    'TestStack',
  ]);
  expect(
    resolve(pseudo, {
      ...env,
      partition: 'aws-cn',
      urlSuffix: 'amazonaws.com.cn',
      stackName: 'Prod',
    }),
  ).toEqual(['123456789012', 'eu-west-1', 'aws-cn', 'amazonaws.com.cn', 'Prod']);
  expect(withDefaults(env)).toEqual({
    ...env,
    partition: 'aws',
    urlSuffix: 'amazonaws.com',
    stackName: 'TestStack',
  });
});

test('Ref and Fn::GetAtt of the resource types the policies name', () => {
  expect(
    resolve({
      bucket: { Ref: 'Bucket' },
      named: { Ref: 'Named' },
      bucketArn: { 'Fn::GetAtt': ['Bucket', 'Arn'] },
      role: { Ref: 'Role' },
      namedRoleArn: { 'Fn::GetAtt': 'NamedRole.Arn' },
      provider: { Ref: 'Provider' },
      managed: { Ref: 'Managed' },
      key: { Ref: 'Key' },
      keyArn: { 'Fn::GetAtt': ['Key', 'Arn'] },
    }),
  ).toEqual({
    // A bucket without a name gets a generated one: the lower-cased logical id stands in.
    bucket: 'bucket',
    named: 'TestStack-data',
    bucketArn: 'arn:aws:s3:::bucket',
    role: 'Role',
    namedRoleArn: 'arn:aws:iam::123456789012:role/fixed-role',
    provider: 'arn:aws:iam::123456789012:oidc-provider/idp.example.org/tenant',
    managed: 'arn:aws:iam::123456789012:policy/Managed',
    key: 'Key',
    keyArn: 'arn:aws:kms:eu-west-1:123456789012:key/Key',
  });
});

test('Fn::Join, Fn::Select and Fn::Sub (variables, attributes, the ${! escape)', () => {
  expect(resolve({ 'Fn::Join': ['', [{ 'Fn::GetAtt': ['Bucket', 'Arn'] }, '/users/*']] })).toBe(
    'arn:aws:s3:::bucket/users/*',
  );
  expect(resolve({ 'Fn::Select': [1, ['a', { Ref: 'AWS::Region' }]] })).toBe('eu-west-1');
  expect(
    resolve({
      'Fn::Sub': [
        '${Arn}/users/${Who}/${!aws:username} in ${AWS::Region} of ${Bucket.Arn}',
        { Arn: { 'Fn::GetAtt': ['Bucket', 'Arn'] }, Who: 'alice' },
      ],
    }),
  ).toBe('arn:aws:s3:::bucket/users/alice/${aws:username} in eu-west-1 of arn:aws:s3:::bucket');
});

test('AWS::NoValue drops the array item or property; at the top it is refused', () => {
  expect(resolve({ a: { Ref: 'AWS::NoValue' }, b: ['x', { Ref: 'AWS::NoValue' }] })).toEqual({
    b: ['x'],
  });
  expect(() => resolve({ Ref: 'AWS::NoValue' })).toThrow('AWS::NoValue at the top of a value');
});

test('refuses what it cannot resolve faithfully rather than guess', () => {
  expect(() => resolve({ 'Fn::If': ['IsProd', 'a', 'b'] })).toThrow(/cannot resolve Fn::If/);
  expect(() => resolve({ 'Fn::ImportValue': 'Shared' })).toThrow(/cannot resolve Fn::ImportValue/);
  expect(() => resolve({ Ref: 'Missing' })).toThrow('unknown logical id Missing');
  expect(() => resolve({ Ref: 'Queue' })).toThrow('no Ref rule for Queue (AWS::SQS::Queue)');
  expect(() => resolve({ 'Fn::GetAtt': ['Role', 'RoleId'] })).toThrow(
    'no Fn::GetAtt rule for Role.RoleId (AWS::IAM::Role)',
  );
  expect(() => resolve({ 'Fn::Join': ['', { Ref: 'Role' }] })).toThrow(/Fn::Join of "Role"/);
  expect(() => resolve({ 'Fn::Select': [5, ['a']] })).toThrow('Fn::Select 5 out of range');
});

test('one resolver serves many values, and names buckets and roles', () => {
  const resolver = new IntrinsicResolver(template, withDefaults(env));
  expect(resolver.resourceName('Named')).toBe('TestStack-data');
  expect(resolver.resourceName('NamedRole')).toBe('fixed-role');
  expect(() => resolver.resourceName('Key')).toThrow('no name rule for Key (AWS::KMS::Key)');
  expect(resolver.resolve(['literal', 3, true, null])).toEqual(['literal', 3, true, null]);
});
