import { App, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { AwsSolutionsChecks } from 'cdk-nag';
import { parseStageConfig } from '../../lib/config';
import { buildStage } from '../../lib/stage';
import { exampleRawConfig, testApp, testConfig, testRawConfig } from '../support/helpers';

/** Synthesizes with cdk-nag AwsSolutions; returns the unacknowledged findings (the synth error). */
function unacknowledgedFindings(app: App): string {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  try {
    const dir = app.synth().directory;
    const report = JSON.parse(fs.readFileSync(path.join(dir, 'validation-report.json'), 'utf8'));
    return report.pluginReports.length === 0 ? '' : JSON.stringify(report.pluginReports, null, 1);
  } catch (e) {
    return (e as Error).message;
  }
}

/** Every acknowledgement recorded in the construct tree, as "<path> <id>: <reason>". */
function acknowledgements(app: App): { path: string; id: string; reason: string }[] {
  return app.node.findAll().flatMap((c) =>
    c.node.metadata
      .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((m) => Object.entries(m.data as Record<string, string>))
      .map(([id, reason]) => ({ path: c.node.path, id: id.replace(/^Annotation::/, ''), reason })),
  );
}

describe('cdk-nag AwsSolutions', () => {
  const withDomain = testRawConfig({
    app: {
      origins: ['https://files.example.com'],
      domain: {
        name: 'files.example.com',
        hostedZoneId: 'Z0123456789ABCDEFGHIJ',
        hostedZoneName: 'example.com',
      },
    },
  });
  withDomain.providers[1] = {
    ...withDomain.providers[1],
    clientSecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:google-AbC123',
  } as never;

  test.each([
    ['S3-managed encryption', testConfig()],
    ['KMS encryption', testConfig({ bucket: { encryption: 'kms' } })],
    ['custom domain, an existing client secret', parseStageConfig('test', withDomain)],
  ])('zero unacknowledged findings (%s)', (_name, config) => {
    const app = testApp();
    buildStage(app, config);
    expect(unacknowledgedFindings(app)).toBe('');
  });

  test('each acknowledgement names the exact finding and gives a reason', () => {
    const app = testApp();
    buildStage(app, testConfig());
    const acks = acknowledgements(app);
    expect(acks.map((a) => `${a.path} ${a.id}`).sort()).toEqual(
      [
        'WebIdFederation-test/AmazonUsers AwsSolutions-IAM5[Resource::<UserDataBucket2CB32F9C.Arn>/users/amazon/<www.amazon.com:user_id>/*]',
        // Callback app: public sign-in routes, IdP-issued client secrets, a cookie key ring,
        // a deliberately pinned runtime (reasons in lib/callback-app.ts).
        'WebIdFederation-test/CallbackApp/Api/GET-- AwsSolutions-APIG4',
        'WebIdFederation-test/CallbackApp/Api/ANY--{proxy+} AwsSolutions-APIG4',
        'WebIdFederation-test/CallbackApp/AmazonClientSecret AwsSolutions-SMG4',
        'WebIdFederation-test/CallbackApp/GoogleClientSecret AwsSolutions-SMG4',
        'WebIdFederation-test/CallbackApp/FacebookClientSecret AwsSolutions-SMG4',
        'WebIdFederation-test/CallbackApp/CognitoClientSecret AwsSolutions-SMG4',
        'WebIdFederation-test/CallbackApp/CookieKeySecret AwsSolutions-SMG4',
        'WebIdFederation-test/CallbackApp/Function AwsSolutions-L1',
        'WebIdFederation-test/CognitoUsers AwsSolutions-IAM5[Resource::<UserDataBucket2CB32F9C.Arn>/users/cognito/<cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123:sub>/*]',
        'WebIdFederation-test/FacebookUsers AwsSolutions-IAM5[Resource::<UserDataBucket2CB32F9C.Arn>/users/facebook/<graph.facebook.com:id>/*]',
        'WebIdFederation-test/GoogleUsers AwsSolutions-IAM5[Resource::<UserDataBucket2CB32F9C.Arn>/users/google/<accounts.google.com:sub>/*]',
        'WebIdFederation-test/UserData/AccessLogs AwsSolutions-S1',
      ].sort(),
    );
    for (const a of acks) expect(a.reason.length).toBeGreaterThan(30);
  });

  test('an acknowledgement covers its own construct only: an unacknowledged secret is a finding', () => {
    const app = testApp();
    const { federation } = buildStage(app, testConfig());
    new secretsmanager.Secret(federation.callbackApp, 'Extra');
    expect(unacknowledgedFindings(app)).toMatch(/AwsSolutions-SMG4/);
  });

  test('a wildcard outside the acknowledged own prefix is still a finding', () => {
    const app = testApp();
    const { federation } = buildStage(app, testConfig());
    // Not a web identity role, so the federation guards let it through; nag must not.
    const role = new iam.Role(federation, 'Other', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    });
    role.addToPolicy(new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: ['*'] }));
    expect(unacknowledgedFindings(app)).toMatch(/AwsSolutions-IAM5\[Resource::\*\]/);
  });
});

/** Removes what changes without a meaningful change: asset hashes. */
function normalize(template: Record<string, unknown>): unknown {
  return JSON.parse(
    JSON.stringify(template).replace(/[0-9a-f]{64}(\.zip|\.json)?/g, '<asset-hash>$1'),
  );
}

test('snapshot: federation stack of the example stage', () => {
  const app = testApp();
  const { federation } = buildStage(app, parseStageConfig('example', exampleRawConfig()));
  expect(normalize(Template.fromStack(federation).toJSON())).toMatchSnapshot();
});
