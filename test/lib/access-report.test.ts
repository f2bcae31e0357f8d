import { buildAccessReport } from '../../lib/review/access-report';
import { synthTemplate } from '../support/helpers';

interface Res {
  Type: string;
  Properties?: Record<string, unknown>;
}
interface Tpl {
  Resources: Record<string, Res>;
  Outputs: Record<string, { Value: unknown }>;
}

const ISSUER = 'cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123';

/** A fresh copy of the synthesized federation template of the test config. */
const freshTemplate = (): Tpl => JSON.parse(JSON.stringify(synthTemplate().toJSON()));
const report = (t: Tpl) => buildAccessReport(t, { stackName: 'WebIdFederation-test' });

/** Logical id of the role a web identity provider's users assume (ids are generated). */
function roleOf(t: Tpl, federated: string): string {
  const id = Object.keys(t.Resources).find((k) => {
    const doc = t.Resources[k].Properties?.AssumeRolePolicyDocument;
    return t.Resources[k].Type === 'AWS::IAM::Role' && JSON.stringify(doc).includes(federated);
  });
  if (!id) throw new Error(`no role trusts ${federated}`);
  return id;
}

const idOfType = (t: Tpl, type: string): string => {
  const id = Object.keys(t.Resources).find((k) => t.Resources[k].Type === type);
  if (!id) throw new Error(`no ${type}`);
  return id;
};

/** The text between a heading and the next heading of the same level. */
function section(md: string, heading: string): string {
  const start = md.indexOf(heading + '\n');
  expect(start).toBeGreaterThanOrEqual(0);
  const level = heading.split(' ')[0];
  const rest = md.slice(start + heading.length);
  const end = rest.search(new RegExp(`\\n${level} `));
  return end < 0 ? rest : rest.slice(0, end);
}

/** The labelled edges of the report's mermaid block, as `from -> to` label pairs. */
function mermaidEdges(md: string): string[] {
  const block = /```mermaid\nflowchart LR\n([\s\S]*?)```/.exec(md)?.[1] ?? '';
  const labels = new Map<string, string>();
  for (const m of block.matchAll(/^\s+(\w+)\["(.*)"\]$/gm)) labels.set(m[1], m[2]);
  return [...block.matchAll(/^\s+(\w+) --> (\w+)$/gm)].map(
    (m) => `${labels.get(m[1])} -> ${labels.get(m[2])}`,
  );
}

describe('access report', () => {
  const template = freshTemplate();
  const md = report(template);

  test('is deterministic and names the stack', () => {
    expect(md).toContain('# Access review: WebIdFederation-test');
    expect(report(freshTemplate())).toBe(md);
  });

  test('shows policy variables only as readable placeholders, never raw (IAM literal characters excepted)', () => {
    for (const p of [
      '<amazon user id>',
      '<google subject>',
      '<facebook user id>',
      '<cognito subject>',
    ]) {
      expect(md).toContain(p);
    }
    expect(md).not.toMatch(/\$\{(?![*?$]\})/);
  });

  test.each([
    [
      'www.amazon.com',
      'Login with Amazon (www.amazon.com)',
      'www.amazon.com:app_id',
      'amazon',
      '<amazon user id>',
    ],
    [
      'accounts.google.com',
      'Google (accounts.google.com)',
      'accounts.google.com:aud',
      'google',
      '<google subject>',
    ],
    [
      'graph.facebook.com',
      'Facebook (graph.facebook.com)',
      'graph.facebook.com:app_id',
      'facebook',
      '<facebook user id>',
    ],
  ])(
    '%s role: principal, audience condition, actions, own prefix only',
    (fed, who, audKey, ns, user) => {
      const id = roleOf(template, fed);
      const body = section(md, `### ${id.replace(/[0-9A-F]{8}$/, '')}`);
      expect(body).toContain(`| Role | \`${id}\` |`);
      expect(body).toContain(`| Assumed by | ${who} |`);
      expect(body).toMatch(new RegExp(`\`${audKey}\` must equal one of: \``));
      expect(body).toContain('| Trust actions | `sts:AssumeRoleWithWebIdentity` |');
      expect(body).toContain('| Max session | 3600 s (1 h) |');
      expect(body).toContain(
        `| Allow | \`s3:AbortMultipartUpload\` \`s3:DeleteObject\` \`s3:GetObject\` \`s3:ListMultipartUploadParts\` \`s3:PutObject\` | \`arn:aws:s3:::<UserDataBucket bucket>/users/${ns}/${user}/*\` | always |`,
      );
      expect(body).toContain(
        `| Allow | \`s3:ListBucket\` | \`arn:aws:s3:::<UserDataBucket bucket>\` | \`s3:prefix\` is like \`users/${ns}/${user}/*\` |`,
      );
    },
  );

  test('google trust pins both aud (azp) and oaud to the client id', () => {
    const body = section(md, '### GoogleUsersRole');
    const client = '`123456789012-abcdefghijklmnop.apps.googleusercontent.com`';
    expect(body).toContain(`\`accounts.google.com:aud\` must equal one of: ${client}`);
    expect(body).toContain(`\`accounts.google.com:oaud\` must equal one of: ${client}`);
  });

  test('OIDC role: issuer resolved through the IAM OIDC provider, issuer-keyed conditions', () => {
    const providerId = idOfType(template, 'AWS::IAM::OIDCProvider');
    const body = section(md, '### CognitoUsersRole');
    expect(body).toContain(
      `| Assumed by | OIDC issuer https://${ISSUER} (IAM OIDC provider ${providerId}) |`,
    );
    expect(body).toContain(`\`${ISSUER}:aud\` must equal one of: \`1example23456789abcdefghij\``);
    expect(body).toContain(
      '`arn:aws:s3:::<UserDataBucket bucket>/users/cognito/<cognito subject>/*`',
    );
  });

  test('lists the buckets, TLS-only bucket policy and outputs', () => {
    const buckets = section(md, '## Buckets');
    expect(buckets).toMatch(
      /\| UserDataBucket \| all 4 blocks on \| SSE-S3 \| Enabled \| to `<UserDataAccessLogs bucket>` prefix `user-data\/` \|/,
    );
    expect(buckets).toContain(
      '- UserDataBucket: **Deny** `s3:*` to anyone (`*`) on `arn:aws:s3:::<UserDataBucket bucket>`, `arn:aws:s3:::<UserDataBucket bucket>/*` if `aws:SecureTransport` is `false`: **TLS only**',
    );
    const outputs = section(md, '## Outputs');
    expect(outputs).toContain('| GooglePrefixTemplate | `users/google/<google subject>/` |');
    expect(outputs).toContain('| BucketName | `<UserDataBucket bucket>` |');
  });

  test('the mermaid diagram links each provider to its role and the role to its prefix', () => {
    const edges = mermaidEdges(md);
    const cases = [
      ['Login with Amazon (www.amazon.com)', 'AmazonUsersRole', 'amazon/‹amazon user id›'],
      ['Google (accounts.google.com)', 'GoogleUsersRole', 'google/‹google subject›'],
      ['Facebook (graph.facebook.com)', 'FacebookUsersRole', 'facebook/‹facebook user id›'],
      [
        `OIDC issuer https://${ISSUER} (IAM OIDC provider ${idOfType(template, 'AWS::IAM::OIDCProvider')})`,
        'CognitoUsersRole',
        'cognito/‹cognito subject›',
      ],
    ];
    for (const [provider, role, prefix] of cases) {
      expect(edges).toContain(`${provider} -> ${role}`);
      expect(edges).toContain(`${role} -> ‹UserDataBucket bucket›/users/${prefix}/*`);
    }
    expect(edges).toHaveLength(8);
  });

  test('the guards pass; the only other role is the app execution role, with no S3 access', () => {
    expect(md).toContain('**Synth-time guards: pass**');
    const others = section(md, '## Other roles');
    expect(others.match(/^### /gm)).toHaveLength(1);
    expect(others).toContain('### CallbackAppExecutionRole');
    expect(others).toContain('AWS service `lambda.amazonaws.com`');
    expect(others).toContain('`secretsmanager:GetSecretValue`');
    expect(others).not.toMatch(/`s3:/);
  });

  test('a role added to the template shows up under other roles, and the guards flag it', () => {
    const t = freshTemplate();
    const bucketId = (t.Outputs.BucketName.Value as { Ref: string }).Ref;
    t.Resources.ReportTestFunctionRole = {
      Type: 'AWS::IAM::Role',
      Properties: {
        AssumeRolePolicyDocument: {
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Principal: { Service: 'lambda.amazonaws.com' },
              Action: 'sts:AssumeRole',
            },
          ],
        },
        ManagedPolicyArns: [
          {
            'Fn::Join': [
              '',
              [
                'arn:',
                { Ref: 'AWS::Partition' },
                ':iam::aws:policy/service-role/AWSLambdaBasicExecutionRole',
              ],
            ],
          },
        ],
        Policies: [
          {
            PolicyName: 'ReadConfig',
            PolicyDocument: {
              Version: '2012-10-17',
              Statement: [{ Effect: 'Allow', Action: 'ssm:GetParameter', Resource: '*' }],
            },
          },
        ],
      },
    };
    t.Resources.ReportTestFunctionPolicy = {
      Type: 'AWS::IAM::Policy',
      Properties: {
        PolicyName: 'ReportTestFunctionPolicy',
        Roles: [{ Ref: 'ReportTestFunctionRole' }],
        PolicyDocument: {
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Action: 's3:GetObject',
              Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucketId, 'Arn'] }, '/*']] },
            },
          ],
        },
      },
    };
    const mutated = report(t);
    const other = section(mutated, '## Other roles');
    expect(other).toContain('### ReportTestFunctionRole');
    expect(other).toContain('| Assumed by | AWS service `lambda.amazonaws.com` |');
    expect(other).toContain(
      '| Allow | `s3:GetObject` | `arn:aws:s3:::<UserDataBucket bucket>/*` | always | ReportTestFunctionPolicy |',
    );
    expect(other).toContain('| Allow | `ssm:GetParameter` | `*` | always | inline ReadConfig |');
    expect(other).toContain(
      '**Managed policies not in this template** (review their content separately): `arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole`',
    );
    expect(section(mutated, '## Web identity roles')).not.toContain('ReportTestFunctionRole');
    expect(mutated).toMatch(/\*\*Synth-time guards: 1 finding\*\*/);
    expect(mutated).toMatch(/\[lambda-role-no-data-access\] ReportTestFunctionRole/);
  });

  test('a NotAction or NotResource statement reads "all except", never as the listed actions', () => {
    const t = freshTemplate();
    t.Resources.ReportTestNotRole = {
      Type: 'AWS::IAM::Role',
      Properties: {
        AssumeRolePolicyDocument: {
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Principal: { Service: 'lambda.amazonaws.com' },
              Action: 'sts:AssumeRole',
            },
          ],
        },
        Policies: [
          {
            PolicyName: 'Broad',
            PolicyDocument: {
              Version: '2012-10-17',
              Statement: [
                { Effect: 'Allow', NotAction: ['iam:*', 'sts:*'], Resource: '*' },
                { Effect: 'Deny', Action: 's3:DeleteObject', NotResource: ['arn:aws:s3:::a/*'] },
              ],
            },
          },
        ],
      },
    };
    const other = section(report(t), '## Other roles');
    expect(other).toContain('| Allow | all except `iam:*` `sts:*` | `*` | always | inline Broad |');
    expect(other).toContain(
      '| **Deny** | `s3:DeleteObject` | all except `arn:aws:s3:::a/*` | always | inline Broad |',
    );
  });

  test('a trust policy without its audience condition is reported by the guards', () => {
    const t = freshTemplate();
    const doc = t.Resources[roleOf(t, 'accounts.google.com')].Properties!
      .AssumeRolePolicyDocument as { Statement: { Condition?: Record<string, unknown> }[] };
    delete doc.Statement[0].Condition!.StringEquals;
    const mutated = report(t);
    expect(mutated).toMatch(/\*\*Synth-time guards: 1 finding\*\*/);
    expect(mutated).toMatch(
      /\[trust-audience-required\] GoogleUsersRole\w+: the web identity trust for accounts\.google\.com has no StringEquals condition/,
    );
    expect(section(mutated, '### GoogleUsersRole')).not.toContain('must equal');
  });

  test('shows the unsafe-subject refusal with IAM literal characters as written', () => {
    expect(section(report(freshTemplate()), '### GoogleUsersRole')).toContain(
      '`accounts.google.com:sub` must not be like any of: `*/*`, `*\\*`, `*$' +
        '{*}*`, `*$' +
        '{?}*`, `*$' +
        '{$}*`',
    );
  });
});
