/**
 * The real-AWS integration test app (integ/integ-app.ts), synthesized offline: what
 * the runner deploys, and that the runner refuses to start without being told to.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, CfnElement } from 'aws-cdk-lib';
import { Capture, Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { UNSAFE_SUBJECT_PATTERNS, oidcSubjectVariable } from '../../common/policy-variables';
import { Provider } from '../../lib/providers';
import { cdkFeatureFlags } from '../../local/feature-flags';
import { SKIP_BUNDLING, testApp } from '../support/helpers';
import {
  buildIntegApp,
  CLIENT_ID_CONTEXT,
  INTEG_IDP_STACK_NAME,
  INTEG_STACK_NAME,
  integIdsFromContext,
  USER_POOL_ID_CONTEXT,
} from '../../integ/integ-app';
import { refusal, REFUSED } from '../../integ/run-integ';

const IDS = { userPoolId: 'eu-west-1_AbCdEf123', clientId: '1example23456789abcdefghij' };
/** IAM's name for the pool: its issuer without the scheme. */
const ISSUER_KEY = 'cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123';
const SUB = oidcSubjectVariable(ISSUER_KEY);

function build() {
  const app = testApp();
  const { idp, federation } = buildIntegApp(app, IDS);
  return { app, idp, federation: federation! };
}

const { idp: idpStack, federation: federationStack } = build();
const idp = Template.fromStack(idpStack);
const federation = Template.fromStack(federationStack);

describe('issuer stack (phase 1)', () => {
  test('a user pool nobody can sign up to, deleted with the stack', () => {
    idp.resourceCountIs('AWS::Cognito::UserPool', 1);
    idp.hasResource('AWS::Cognito::UserPool', {
      Properties: Match.objectLike({
        AdminCreateUserConfig: { AllowAdminCreateUserOnly: true },
        DeletionProtection: 'INACTIVE',
        MfaConfiguration: 'OFF',
      }),
      DeletionPolicy: 'Delete',
      UpdateReplacePolicy: 'Delete',
    });
  });

  test('an app client of that pool with USER_PASSWORD_AUTH and no secret', () => {
    const pool = Object.keys(idp.findResources('AWS::Cognito::UserPool'))[0];
    idp.resourceCountIs('AWS::Cognito::UserPoolClient', 1);
    idp.hasResourceProperties('AWS::Cognito::UserPoolClient', {
      UserPoolId: { Ref: pool },
      ExplicitAuthFlows: Match.arrayWith(['ALLOW_USER_PASSWORD_AUTH']),
      GenerateSecret: false,
      AllowedOAuthFlowsUserPoolClient: false,
    });
  });

  test('outputs the pool id, the client id, the issuer URL and the region', () => {
    const pool = Object.keys(idp.findResources('AWS::Cognito::UserPool'))[0];
    const client = Object.keys(idp.findResources('AWS::Cognito::UserPoolClient'))[0];
    idp.hasOutput('UserPoolId', { Value: { Ref: pool } });
    idp.hasOutput('UserPoolClientId', { Value: { Ref: client } });
    idp.hasOutput('IssuerUrl', { Value: { 'Fn::GetAtt': [pool, 'ProviderURL'] } });
    idp.hasOutput('Region', { Value: { Ref: 'AWS::Region' } });
  });
});

describe('federation stack (phase 2)', () => {
  const bucketId = () =>
    federationStack.getLogicalId(federationStack.userData.bucket.node.defaultChild as CfnElement);

  test("its OIDC provider is the pool's issuer, with the app client as the only audience", () => {
    federation.resourceCountIs('AWS::IAM::OIDCProvider', 1);
    federation.hasResourceProperties('AWS::IAM::OIDCProvider', {
      Url: `https://${ISSUER_KEY}`,
      ClientIdList: [IDS.clientId],
    });
  });

  test('the role trusts that provider only, for tokens whose aud is the app client and whose sub is safe', () => {
    const provider = Object.keys(federation.findResources('AWS::IAM::OIDCProvider'))[0];
    const statements = new Capture();
    federation.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: { Statement: statements, Version: '2012-10-17' },
    });
    expect(statements.asArray()).toEqual([
      {
        Action: 'sts:AssumeRoleWithWebIdentity',
        Effect: 'Allow',
        Principal: { Federated: { Ref: provider } },
        Condition: {
          StringEquals: { [`${ISSUER_KEY}:aud`]: IDS.clientId },
          StringNotLike: { [`${ISSUER_KEY}:sub`]: [...UNSAFE_SUBJECT_PATTERNS] },
        },
      },
    ]);
  });

  test("each user reaches only users/cognito/<the pool's sub variable>/", () => {
    const bucket = bucketId();
    federation.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Version: '2012-10-17',
        Statement: [
          Match.objectLike({
            Effect: 'Allow',
            Action: Match.arrayWith(['s3:DeleteObject', 's3:GetObject', 's3:PutObject']),
            Resource: {
              'Fn::Join': ['', [{ 'Fn::GetAtt': [bucket, 'Arn'] }, `/users/cognito/${SUB}/*`]],
            },
          }),
          Match.objectLike({
            Effect: 'Allow',
            Action: 's3:ListBucket',
            Resource: { 'Fn::GetAtt': [bucket, 'Arn'] },
            Condition: { StringLike: { 's3:prefix': `users/cognito/${SUB}/*` } },
          }),
        ],
      },
    });
  });

  test('both buckets go with the stack, without an auto-delete function', () => {
    const buckets = federation.findResources('AWS::S3::Bucket');
    expect(Object.keys(buckets)).toHaveLength(2);
    for (const b of Object.values(buckets)) {
      expect(b).toMatchObject({ DeletionPolicy: 'Delete', UpdateReplacePolicy: 'Delete' });
    }
    federation.resourceCountIs('Custom::S3AutoDeleteObjects', 0);
    federation.resourceCountIs('AWS::Lambda::Function', 0);
  });

  test('outputs what the runner needs', () => {
    const role = Object.keys(federation.findResources('AWS::IAM::Role'))[0];
    federation.hasOutput('RoleArn', { Value: { 'Fn::GetAtt': [role, 'Arn'] } });
    federation.hasOutput('BucketName', { Value: { Ref: bucketId() } });
    federation.hasOutput('LogBucketName', { Value: { Ref: Match.anyValue() } });
    federation.hasOutput('IssuerUrl', { Value: `https://${ISSUER_KEY}` });
    federation.hasOutput('UserPoolId', { Value: IDS.userPoolId });
    federation.hasOutput('UserPoolClientId', { Value: IDS.clientId });
    federation.hasOutput('PrefixTemplate', { Value: `users/cognito/${SUB}/` });
    federation.hasOutput('Region', { Value: { Ref: 'AWS::Region' } });
  });

  test('passes the federation guards', () => {
    expect(() => build().app.synth()).not.toThrow();
  });

  test('is under the federation guards: a grant beyond the own prefix does not synthesize', () => {
    const { app, federation: stack } = build();
    stack.role.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['s3:GetObject'],
        resources: [stack.userData.bucket.arnForObjects('users/cognito/*')],
      }),
    );
    expect(() => app.synth()).toThrow(/\[access-within-prefix\]/);
  });
});

describe('two phases', () => {
  test('without the pool ids the app holds only the issuer stack', () => {
    const app = testApp();
    const { federation: none } = buildIntegApp(app, integIdsFromContext(app));
    expect(none).toBeUndefined();
    expect(app.synth().stacks.map((s) => s.stackName)).toEqual([INTEG_IDP_STACK_NAME]);
  });

  test('with the pool ids as context it holds both stacks', () => {
    const app = new App({
      builtinCloudFormationValidation: false,
      context: {
        ...cdkFeatureFlags(),
        ...SKIP_BUNDLING,
        [USER_POOL_ID_CONTEXT]: IDS.userPoolId,
        [CLIENT_ID_CONTEXT]: IDS.clientId,
      },
    });
    expect(integIdsFromContext(app)).toEqual(IDS);
    buildIntegApp(app, integIdsFromContext(app));
    expect(
      app
        .synth()
        .stacks.map((s) => s.stackName)
        .sort(),
    ).toEqual([INTEG_STACK_NAME, INTEG_IDP_STACK_NAME]);
  });

  test('one id without the other names both context keys', () => {
    const app = new App({ context: { [USER_POOL_ID_CONTEXT]: IDS.userPoolId } });
    expect(() => integIdsFromContext(app)).toThrow(
      new RegExp(`-c ${USER_POOL_ID_CONTEXT}=.*-c ${CLIENT_ID_CONTEXT}=`),
    );
  });

  test('why: the provider catalog needs the pool id at synth time, not a token', () => {
    const { idp: stack } = buildIntegApp(testApp());
    expect(() =>
      Provider.cognitoUserPool({ userPoolId: stack.userPool.userPoolId, clientIds: ['abc'] }),
    ).toThrow(/Cognito userPoolId must be known at synth time/);
  });
});

/** Removes what changes without a meaningful change: asset hashes. */
function normalize(template: Record<string, unknown>): unknown {
  return JSON.parse(
    JSON.stringify(template).replace(/[0-9a-f]{64}(\.zip|\.json)?/g, '<asset-hash>$1'),
  );
}

test.each([
  [INTEG_IDP_STACK_NAME, idp],
  [INTEG_STACK_NAME, federation],
])('snapshot: %s', (_name, template) => {
  expect(normalize(template.toJSON())).toMatchSnapshot();
});

describe('run-integ.ts refuses to start', () => {
  test.each([
    ['without --yes-deploy', [], { AWS_PROFILE: 'integ' }, /without --yes-deploy/],
    ['with an unknown argument', ['--yes'], { AWS_PROFILE: 'integ' }, /Unknown argument.*--yes/],
    ['without credentials', ['--yes-deploy'], {}, /without AWS credentials: set AWS_PROFILE/],
    [
      'with only half of an access key',
      ['--yes-deploy'],
      { AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE' },
      /without AWS credentials/,
    ],
  ])('%s', (_name, argv, env, message) => {
    expect(refusal(argv, env)).toMatch(message);
  });

  test.each([
    ['a profile', { AWS_PROFILE: 'integ' }],
    ['access keys', { AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret' }],
  ])('but starts with --yes-deploy and %s', (_name, env) => {
    expect(refusal(['--yes-deploy'], env)).toBeUndefined();
  });

  describe('as a process, without touching the network', () => {
    const runner = path.join(__dirname, '..', '..', 'integ', 'run-integ.ts');
    let dir: string;
    let sentinel: string;

    beforeAll(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wif-integ-test-'));
      // Preloaded into the runner: any DNS lookup or TCP/TLS connection ends it with 97.
      sentinel = path.join(dir, 'no-network.cjs');
      fs.writeFileSync(
        sentinel,
        `const net = require('node:net');
const dns = require('node:dns');
const caught = (what) => {
  process.stderr.write('NETWORK-ATTEMPT ' + what + '\\n');
  process.exit(97);
};
const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...args) {
  const o = Array.isArray(args[0]) ? args[0][0] : args[0];
  const local = (o && typeof o === 'object' && o.path) || (typeof o === 'string' && isNaN(Number(o)));
  return local
    ? connect.apply(this, args)
    : caught('connect ' + (typeof o === 'object' ? o.host + ':' + o.port : String(o)));
};
dns.lookup = (host) => caught('lookup ' + host);
dns.promises.lookup = async (host) => caught('lookup ' + host);
`,
      );
    });
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

    /** Runs the runner with no AWS configuration but `env`, and the network sentinel. */
    function run(argv: string[], env: Record<string, string> = {}) {
      return spawnSync(
        process.execPath,
        ['--require', sentinel, '--import', 'tsx', runner, ...argv],
        {
          cwd: path.join(__dirname, '..', '..'),
          encoding: 'utf8',
          timeout: 60_000,
          env: {
            PATH: process.env.PATH ?? '',
            HOME: dir,
            AWS_CONFIG_FILE: path.join(dir, 'none'),
            AWS_SHARED_CREDENTIALS_FILE: path.join(dir, 'none'),
            AWS_EC2_METADATA_DISABLED: 'true',
            ...env,
          },
        },
      );
    }

    test('without --yes-deploy: exit code 2, says why, no network', () => {
      const r = run([], { AWS_PROFILE: 'integ', AWS_REGION: 'eu-west-1' });
      expect(r.stderr).toMatch(/Refusing to run without --yes-deploy/);
      expect(r.stderr).not.toMatch(/NETWORK-ATTEMPT/);
      expect(r.status).toBe(REFUSED);
    });

    test('with --yes-deploy but no credentials: exit code 2, says why, no network', () => {
      const r = run(['--yes-deploy'], { AWS_REGION: 'eu-west-1' });
      expect(r.stderr).toMatch(/Refusing to run without AWS credentials/);
      expect(r.stderr).not.toMatch(/NETWORK-ATTEMPT/);
      expect(r.status).toBe(REFUSED);
    });

    test('the sentinel works: with --yes-deploy and credentials the runner calls AWS', () => {
      const r = run(['--yes-deploy'], {
        AWS_REGION: 'eu-west-1',
        AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE',
        AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
      });
      expect(r.stderr).toMatch(/NETWORK-ATTEMPT/);
      expect(r.status).toBe(97);
    });
  });
});
