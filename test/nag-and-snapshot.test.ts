import { App, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as iam from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import { parseStageConfig } from '../lib/config';
import { buildStage } from '../lib/stage';
import { exampleRawConfig, testConfig } from './helpers';


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
  test.each([
    ['S3-managed', testConfig()],
    ['KMS', testConfig({ bucket: { encryption: 'kms' } })],
  ])('zero unacknowledged findings (%s encryption)', (_name, config) => {
    const app = new App({ builtinCloudFormationValidation: false });
    buildStage(app, config);
    expect(unacknowledgedFindings(app)).toBe('');
  });

  test('each acknowledgement names the exact finding and gives a reason', () => {
    const app = new App({ builtinCloudFormationValidation: false });
    buildStage(app, testConfig());
    const acks = acknowledgements(app);
    expect(acks.map((a) => `${a.path} ${a.id}`).sort()).toEqual(
      [
        'WebIdFederation-test/AmazonUsers AwsSolutions-IAM5[Resource::<UserDataBucket2CB32F9C.Arn>/users/amazon/<www.amazon.com:user_id>/*]',
        'WebIdFederation-test/CognitoUsers AwsSolutions-IAM5[Resource::<UserDataBucket2CB32F9C.Arn>/users/cognito/<cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123:sub>/*]',
        'WebIdFederation-test/FacebookUsers AwsSolutions-IAM5[Resource::<UserDataBucket2CB32F9C.Arn>/users/facebook/<graph.facebook.com:id>/*]',
        'WebIdFederation-test/GoogleUsers AwsSolutions-IAM5[Resource::<UserDataBucket2CB32F9C.Arn>/users/google/<accounts.google.com:sub>/*]',
        'WebIdFederation-test/UserData/AccessLogs AwsSolutions-S1',
      ].sort(),
    );
    for (const a of acks) expect(a.reason.length).toBeGreaterThan(30);
  });

  test('a wildcard outside the acknowledged own prefix is still a finding', () => {
    const app = new App({ builtinCloudFormationValidation: false });
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
  const app = new App({ builtinCloudFormationValidation: false });
  const { federation } = buildStage(app, parseStageConfig('example', exampleRawConfig()));
  expect(normalize(Template.fromStack(federation).toJSON())).toMatchSnapshot();
});
