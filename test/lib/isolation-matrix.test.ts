/**
 * Per-user isolation and role trust, proven on the synthesized template with
 * iam-simulate: every provider role x several users x every granted S3 action x every
 * kind of resource, and every role's trust policy against right, wrong, missing and
 * foreign tokens. The expectations come from IAM's documented provider keys (the table in
 * docs/architecture.md), written out here rather than taken from lib/ or common/: only
 * the client ids are read from the test config.
 */
import { synthTemplate, testConfig, testRawConfig } from '../support/helpers';
import { evaluateS3, evaluateTrust, type S3Request, type TrustRequest } from '../../local/policy';
import {
  runMatrix,
  type Expectation,
  type MatrixCase,
  type MatrixReport,
} from '../../local/policy-matrix';
import { loadPolicyModel, roleTrusting, type PolicyModel } from '../../local/policy-model';

const ENV = { accountId: '123456789012', region: 'eu-west-1' };
const COGNITO_ISSUER_KEY = 'cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123';

/* eslint-disable no-template-curly-in-string */
const AMAZON_SUBJECT = '${www.amazon.com:user_id}';
const FACEBOOK_SUBJECT = '${graph.facebook.com:id}';
const GOOGLE_SUBJECT = '${accounts.google.com:sub}';
const oidcSubjectVariable = (issuerKey: string): string => '${' + issuerKey + ':sub}';
/* eslint-enable no-template-curly-in-string */

/** One provider family as IAM documents it. */
interface ProviderSpec {
  readonly namespace: string;
  /** The trust principal, and the request principal of its tokens. */
  readonly federated: string;
  /** The key binding the subject policy variable. */
  readonly subjectKey: string;
  /** The policy variable, to build a literal, unsubstituted key. */
  readonly subjectVariable: string;
  /** Every audience key with our app's client id. */
  readonly audience: Readonly<Record<string, string>>;
  /** A client id of another app at the same identity provider. */
  readonly otherAppClientId: string;
}

function clientIdOf(type: string): string {
  const entry = testRawConfig().providers.find((p) => p.type === type);
  if (!entry) throw new Error(`test config has no ${type} provider`);
  return 'appId' in entry ? entry.appId : entry.clientIds[0];
}

const SPECS: readonly ProviderSpec[] = [
  {
    namespace: 'amazon',
    federated: 'www.amazon.com',
    subjectKey: 'www.amazon.com:user_id',
    subjectVariable: AMAZON_SUBJECT,
    audience: { 'www.amazon.com:app_id': clientIdOf('amazon') },
    otherAppClientId: 'amzn1.application-oa2-client.ffffffffffffffffffffffffffffffff',
  },
  {
    namespace: 'google',
    federated: 'accounts.google.com',
    subjectKey: 'accounts.google.com:sub',
    subjectVariable: GOOGLE_SUBJECT,
    // `aud` carries the token's azp, `oaud` its aud: both must name our client.
    audience: {
      'accounts.google.com:aud': clientIdOf('google'),
      'accounts.google.com:oaud': clientIdOf('google'),
    },
    otherAppClientId: '999999999999-otherappotherapp.apps.googleusercontent.com',
  },
  {
    namespace: 'facebook',
    federated: 'graph.facebook.com',
    subjectKey: 'graph.facebook.com:id',
    subjectVariable: FACEBOOK_SUBJECT,
    audience: { 'graph.facebook.com:app_id': clientIdOf('facebook') },
    otherAppClientId: '6543210987654321',
  },
  {
    namespace: 'cognito',
    federated: `arn:aws:iam::${ENV.accountId}:oidc-provider/${COGNITO_ISSUER_KEY}`,
    subjectKey: `${COGNITO_ISSUER_KEY}:sub`,
    subjectVariable: oidcSubjectVariable(COGNITO_ISSUER_KEY),
    audience: { [`${COGNITO_ISSUER_KEY}:aud`]: clientIdOf('oidc') },
    otherAppClientId: '9otherclient8765432abcdefg',
  },
];

/**
 * Subjects of every shape providers issue: `alice` is a prefix of `alice2`; the others
 * carry `|`, `-`, `.` as Auth0, Login with Amazon and Cognito subjects do.
 */
const USERS = [
  'alice',
  'alice2',
  'auth0|abc-123.x',
  'amzn1.account.AF2DEXAMPLE7Q',
  '3f0c8c4e-0a3b-4d7e-9b8e-1a2b3c4d5e6f',
];

/** Everything a user may do on their own prefix (multipart parts upload as s3:PutObject). */
const OBJECT_ACTIONS = [
  's3:GetObject',
  's3:PutObject',
  's3:DeleteObject',
  's3:AbortMultipartUpload',
  's3:ListMultipartUploadParts',
];

/**
 * Actions outside the role's grant, tried on the user's own prefix. This pins the grant
 * list: granting one of them on purpose means updating this list.
 */
const UNGRANTED_OBJECT_ACTIONS = [
  's3:PutObjectAcl',
  's3:DeleteObjectVersion',
  's3:PutObjectRetention',
];
const UNGRANTED_BUCKET_ACTIONS = [
  's3:ListBucketVersions',
  's3:ListBucketMultipartUploads',
  's3:PutBucketPolicy',
  's3:DeleteBucket',
];

interface S3Case extends MatrixCase {
  /** The trust principal of the role whose session makes the request. */
  readonly federated: string;
  readonly request: S3Request;
}

interface TrustCase extends MatrixCase {
  /** The trust principal of the role being assumed. */
  readonly federated: string;
  readonly request: TrustRequest;
}

/** The buckets of the template, found from the model. */
interface Buckets {
  /** The user data bucket every role points at. */
  readonly data: string;
  /** Other buckets: the template's log bucket, a foreign one, one named like the data bucket. */
  readonly others: readonly string[];
}

function bucketsOf(model: PolicyModel): Buckets {
  const named = [...new Set(model.roles.flatMap((r) => r.bucketNames))];
  if (named.length !== 1) throw new Error(`roles should name one bucket, got ${named.join(', ')}`);
  const data = named[0];
  return {
    data,
    others: [
      ...model.buckets.filter((b) => b.name !== data).map((b) => b.name),
      'some-other-bucket',
      `${data}-archive`,
    ],
  };
}

const objectArn = (bucket: string, key: string) => `arn:aws:s3:::${bucket}/${key}`;
const bucketArn = (bucket: string) => `arn:aws:s3:::${bucket}`;
const verb = (expect: Expectation) => (expect === 'allow' ? 'allows' : 'denies');
const short = (action: string) => action.replace(/^s3:/, '');

/** A user's session keys: the subject plus the token's audience, as STS records them. */
const claimsOf = (spec: ProviderSpec, user: string): Record<string, string> => ({
  ...spec.audience,
  [spec.subjectKey]: user,
});

/** Cases for `actions` on one object key, one per action. */
function objectCases(
  spec: ProviderSpec,
  user: string,
  expect: Expectation,
  actions: readonly string[],
  bucket: string,
  key: string,
  label: string,
  extra: Partial<S3Request> = {},
): S3Case[] {
  return actions.map((action) => ({
    name: `${verb(expect)} ${spec.namespace} user ${user} ${short(action)} on ${label} (${key})`,
    expect,
    federated: spec.federated,
    request: {
      action,
      resource: objectArn(bucket, key),
      claims: claimsOf(spec, user),
      ...extra,
    },
  }));
}

/** One bucket-level case (ListBucket unless told otherwise) with an optional `s3:prefix`. */
function bucketCase(
  spec: ProviderSpec,
  user: string,
  expect: Expectation,
  bucket: string,
  prefix: string | undefined,
  label: string,
  extra: Partial<S3Request> & { action?: string } = {},
): S3Case {
  const action = extra.action ?? 's3:ListBucket';
  const shown = prefix === undefined ? 'no prefix' : `prefix ${JSON.stringify(prefix)}`;
  return {
    name: `${verb(expect)} ${spec.namespace} user ${user} ${short(action)} on ${label} (${shown})`,
    expect,
    federated: spec.federated,
    request: {
      resource: bucketArn(bucket),
      claims: claimsOf(spec, user),
      prefix,
      ...extra,
      action,
    },
  };
}

const own = (spec: ProviderSpec, user: string) => `users/${spec.namespace}/${user}/`;

/** One Jest test per role and kind of resource; each evaluates many cases. */
interface S3Group {
  readonly title: string;
  readonly build: (spec: ProviderSpec, buckets: Buckets) => S3Case[];
}

const S3_GROUPS: readonly S3Group[] = [
  {
    title: 'allows each user every granted action on their own prefix',
    build: (spec, { data }) =>
      USERS.flatMap((u) => [
        ...objectCases(
          spec,
          u,
          'allow',
          OBJECT_ACTIONS,
          data,
          own(spec, u) + 'notes.txt',
          'own prefix',
        ),
        ...objectCases(
          spec,
          u,
          'allow',
          OBJECT_ACTIONS,
          data,
          own(spec, u) + 'photos/2024/cat.jpg',
          'own prefix',
        ),
        bucketCase(spec, u, 'allow', data, own(spec, u), 'own prefix'),
        bucketCase(spec, u, 'allow', data, own(spec, u) + 'photos/', 'own prefix'),
      ]),
  },
  {
    title:
      "denies each user every other user's prefix, including prefix siblings (alice vs alice2)",
    build: (spec, { data }) =>
      USERS.flatMap((u) => [
        ...USERS.filter((v) => v !== u).flatMap((v) => [
          ...objectCases(
            spec,
            u,
            'deny',
            OBJECT_ACTIONS,
            data,
            own(spec, v) + 'notes.txt',
            `${v}'s prefix`,
          ),
          bucketCase(spec, u, 'deny', data, own(spec, v), `${v}'s prefix`),
        ]),
        // Without the trailing slash the listing would include alice2/ for alice.
        bucketCase(
          spec,
          u,
          'deny',
          data,
          `users/${spec.namespace}/${u}`,
          'own prefix without its slash',
        ),
      ]),
  },
  {
    title: "denies each user their own subject in another provider's namespace",
    build: (spec, { data }) =>
      USERS.flatMap((u) =>
        SPECS.filter((o) => o !== spec).flatMap((o) => [
          ...objectCases(
            spec,
            u,
            'deny',
            OBJECT_ACTIONS,
            data,
            own(o, u) + 'notes.txt',
            `the ${o.namespace} namespace`,
          ),
          bucketCase(spec, u, 'deny', data, own(o, u), `the ${o.namespace} namespace`),
        ]),
      ),
  },
  {
    title: 'denies the namespace root users/<namespace>/ and users/ (list-bound-to-prefix)',
    build: (spec, { data }) =>
      USERS.flatMap((u) => [
        ...objectCases(
          spec,
          u,
          'deny',
          OBJECT_ACTIONS,
          data,
          `users/${spec.namespace}/notes.txt`,
          'the namespace root',
        ),
        ...objectCases(
          spec,
          u,
          'deny',
          OBJECT_ACTIONS,
          data,
          `users/${spec.namespace}/${u}`,
          'an object named like the own prefix',
        ),
        ...objectCases(spec, u, 'deny', OBJECT_ACTIONS, data, 'users/notes.txt', 'the users/ root'),
        bucketCase(spec, u, 'deny', data, `users/${spec.namespace}/`, 'the namespace root'),
        bucketCase(spec, u, 'deny', data, `users/${spec.namespace}`, 'the namespace root'),
        bucketCase(spec, u, 'deny', data, 'users/', 'the users/ root'),
      ]),
  },
  {
    title: 'denies the bucket root, and ListBucket without a prefix (list-bound-to-prefix)',
    build: (spec, { data }) =>
      USERS.flatMap((u) => [
        ...objectCases(spec, u, 'deny', OBJECT_ACTIONS, data, 'notes.txt', 'the bucket root'),
        ...objectCases(spec, u, 'deny', OBJECT_ACTIONS, data, `${u}/notes.txt`, 'the bucket root'),
        ...OBJECT_ACTIONS.map((action) =>
          bucketCase(spec, u, 'deny', data, undefined, 'the bucket itself', { action }),
        ),
        bucketCase(spec, u, 'deny', data, undefined, 'the bucket root'),
        bucketCase(spec, u, 'deny', data, '', 'the bucket root'),
        bucketCase(spec, u, 'deny', data, `${u}/`, 'the bucket root'),
      ]),
  },
  {
    title: 'denies other buckets, including the access log bucket',
    build: (spec, { others }) =>
      USERS.flatMap((u) =>
        others.flatMap((bucket) => [
          ...objectCases(
            spec,
            u,
            'deny',
            OBJECT_ACTIONS,
            bucket,
            own(spec, u) + 'notes.txt',
            `bucket ${bucket}`,
          ),
          bucketCase(spec, u, 'deny', bucket, own(spec, u), `bucket ${bucket}`),
        ]),
      ),
  },
  {
    title:
      'denies requests without TLS, even on the own prefix (bucket policy Deny; bucket-tls-only)',
    build: (spec, { data }) =>
      USERS.flatMap((u) => [
        ...objectCases(
          spec,
          u,
          'explicit-deny',
          OBJECT_ACTIONS,
          data,
          own(spec, u) + 'notes.txt',
          'own prefix without TLS',
          {
            secureTransport: false,
          },
        ),
        bucketCase(spec, u, 'explicit-deny', data, own(spec, u), 'own prefix without TLS', {
          secureTransport: false,
        }),
      ]),
  },
  {
    title: 'denies when the subject variable has no value, fails closed (missing-variable-denies)',
    build: (spec, { data }) =>
      USERS.flatMap((u) => {
        const withoutSubject = { ...spec.audience };
        // Another provider's subject key naming the same user must not bind this role's variable.
        const foreignSubject = { ...spec.audience, [SPECS.find((o) => o !== spec)!.subjectKey]: u };
        const literal = `users/${spec.namespace}/${spec.subjectVariable}/`;
        return [
          ...objectCases(
            spec,
            u,
            'deny',
            OBJECT_ACTIONS,
            data,
            own(spec, u) + 'notes.txt',
            'own prefix with no subject',
            {
              claims: withoutSubject,
            },
          ),
          bucketCase(spec, u, 'deny', data, own(spec, u), 'own prefix with no subject', {
            claims: withoutSubject,
          }),
          ...objectCases(
            spec,
            u,
            'deny',
            OBJECT_ACTIONS,
            data,
            own(spec, u) + 'notes.txt',
            "own prefix with another provider's subject key",
            {
              claims: foreignSubject,
            },
          ),
          // The unsubstituted variable spelled out in the key is a literal key, never a match.
          ...objectCases(
            spec,
            u,
            'deny',
            OBJECT_ACTIONS,
            data,
            literal + 'notes.txt',
            'the literal variable prefix with no subject',
            {
              claims: withoutSubject,
            },
          ),
          ...objectCases(
            spec,
            u,
            'deny',
            ['s3:GetObject'],
            data,
            literal + 'notes.txt',
            'the literal variable prefix',
          ),
        ];
      }),
  },
  {
    title: 'denies actions the role does not grant, even on the own prefix',
    build: (spec, { data }) =>
      USERS.flatMap((u) => [
        ...objectCases(
          spec,
          u,
          'deny',
          UNGRANTED_OBJECT_ACTIONS,
          data,
          own(spec, u) + 'notes.txt',
          'own prefix',
        ),
        ...UNGRANTED_BUCKET_ACTIONS.map((action) =>
          bucketCase(spec, u, 'deny', data, own(spec, u), 'own prefix', { action }),
        ),
      ]),
  },
];

function allS3Cases(buckets: Buckets): S3Case[] {
  return SPECS.flatMap((spec) => S3_GROUPS.flatMap((g) => g.build(spec, buckets)));
}

function runS3(model: PolicyModel, cases: readonly S3Case[]): MatrixReport {
  return runMatrix(cases, (c) => evaluateS3(model, roleTrusting(model, c.federated), c.request));
}

/** Subjects that would nest into, or pattern-match, another user's prefix. */
const UNSAFE_SUBJECTS = ['bob/evil', '/', 'a\\b', 'bob*', 'bo?', 'x$' + '{aws:username}', 'a$b'];

/** A valid token of `spec`'s provider for our app, as STS turns it into condition keys. */
const tokenOf = (spec: ProviderSpec, user = 'alice'): TrustRequest => ({
  principal: spec.federated,
  context: claimsOf(spec, user),
});

function trustCases(spec: ProviderSpec, model: PolicyModel): TrustCase[] {
  const role = `the ${spec.namespace} role`;
  const token = tokenOf(spec);
  const keys = Object.keys(spec.audience);
  const cases: TrustCase[] = [];
  const add = (expect: Expectation, what: string, request: TrustRequest) =>
    cases.push({
      name: `${verb(expect)} ${what} assuming ${role}`,
      expect,
      federated: spec.federated,
      request,
    });
  const withContext = (context: Record<string, string>): TrustRequest => ({ ...token, context });
  const without = (...drop: string[]) =>
    Object.fromEntries(Object.entries(token.context).filter(([k]) => !drop.includes(k))) as Record<
      string,
      string
    >;

  add('allow', `a ${spec.namespace} token for our app`, token);
  for (const key of keys) {
    add(
      'deny',
      `a token for another app (${key} = ${spec.otherAppClientId})`,
      withContext({ ...token.context, [key]: spec.otherAppClientId } as Record<string, string>),
    );
    add('deny', `a token without ${key}`, withContext(without(key)));
    const upper = spec.audience[key].toUpperCase();
    if (upper !== spec.audience[key]) {
      add(
        'deny',
        `a token whose ${key} differs only in case`,
        withContext({ ...token.context, [key]: upper } as Record<string, string>),
      );
    }
  }
  // A subject is a segment of the user's prefix: IAM refuses one that could leave it
  // (subject-safe-for-prefix), whatever the app checks.
  const withSubject = (subject: string) =>
    withContext({ ...token.context, [spec.subjectKey]: subject } as Record<string, string>);
  for (const subject of UNSAFE_SUBJECTS) {
    add('deny', `a token whose subject is ${JSON.stringify(subject)}`, withSubject(subject));
  }
  add(
    'allow',
    'a token whose subject has dots, dashes, @ and pipes',
    withSubject('auth0|a.b-c@d_e'),
  );
  if (keys.length > 1) {
    const allWrong = Object.fromEntries(keys.map((k) => [k, spec.otherAppClientId]));
    add(
      'deny',
      'a token for another app in every audience key',
      withContext({ ...token.context, ...allWrong } as Record<string, string>),
    );
    add('deny', 'a token without any audience key', withContext(without(...keys)));
  }
  for (const other of SPECS.filter((o) => o !== spec)) {
    add('deny', `a ${other.namespace} token`, tokenOf(other));
    add('deny', `a ${other.namespace} token that also carries our audience keys`, {
      principal: other.federated,
      context: { ...tokenOf(other).context, ...spec.audience },
    });
  }
  const otherRole = roleTrusting(model, SPECS.find((o) => o !== spec)!.federated);
  const callers: [string, string][] = [
    ['an IAM user', `arn:aws:iam::${ENV.accountId}:user/mallory`],
    ['the account root', `arn:aws:iam::${ENV.accountId}:root`],
    [
      `a session of ${otherRole.logicalId} (role chaining)`,
      `arn:aws:sts::${ENV.accountId}:assumed-role/${otherRole.roleName}/alice`,
    ],
    ['the Lambda service', 'lambda.amazonaws.com'],
  ];
  for (const [who, principal] of callers) {
    add('deny', `${who} calling sts:AssumeRole with valid-looking keys`, {
      principal,
      action: 'sts:AssumeRole',
      context: token.context,
    });
  }
  // Session tags and source identity are off in the test config.
  for (const action of ['sts:TagSession', 'sts:SetSourceIdentity']) {
    add('deny', `a valid token calling ${action}`, { ...token, action });
  }
  return cases;
}

function runTrust(model: PolicyModel, cases: readonly TrustCase[]): MatrixReport {
  return runMatrix(cases, (c) => evaluateTrust(model, roleTrusting(model, c.federated), c.request));
}

function allTrustCases(model: PolicyModel): TrustCase[] {
  return SPECS.flatMap((spec) => trustCases(spec, model));
}

type JsonObject = Record<string, unknown>;
type Template = { Resources: Record<string, { Type: string; Properties: JsonObject }> };

let template: Template;
let model: PolicyModel;
let buckets: Buckets;
const evaluated = { s3: 0, trust: 0, mutated: 0 };

/** A deep copy of the template, to mutate. */
const copy = (): Template => structuredClone(template);

/** The AWS::IAM::Policy attached to the role trusting `federated`. */
function policyOf(t: Template, federated: string): JsonObject {
  const roleId = roleTrusting(model, federated).logicalId;
  const found = Object.values(t.Resources).filter(
    (r) =>
      r.Type === 'AWS::IAM::Policy' &&
      (r.Properties.Roles as JsonObject[]).some((ref) => ref.Ref === roleId),
  );
  expect(found).toHaveLength(1);
  return found[0].Properties;
}

function statementOf(t: Template, federated: string, sid: string): JsonObject {
  const statements = (policyOf(t, federated).PolicyDocument as { Statement: JsonObject[] })
    .Statement;
  const statement = statements.find((s) => s.Sid === sid);
  if (!statement) throw new Error(`no statement ${sid}`);
  return statement;
}

function trustOf(t: Template, federated: string): JsonObject[] {
  const role = t.Resources[roleTrusting(model, federated).logicalId].Properties;
  return (role.AssumeRolePolicyDocument as { Statement: JsonObject[] }).Statement;
}

/** Replaces `from` by `to` in every string under `value`. */
function replaceStrings(value: unknown, from: string, to: string): unknown {
  if (typeof value === 'string') return value.split(from).join(to);
  if (Array.isArray(value)) return value.map((v) => replaceStrings(v, from, to));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, replaceStrings(v, from, to)]),
    );
  }
  return value;
}

const google = SPECS.find((s) => s.namespace === 'google')!;
const amazon = SPECS.find((s) => s.namespace === 'amazon')!;

beforeAll(() => {
  template = synthTemplate(testConfig()).toJSON() as Template;
  model = loadPolicyModel(template, ENV);
  buckets = bucketsOf(model);
});

afterAll(() => {
  process.stdout.write(
    `isolation matrix: ${evaluated.s3} S3 cases, ${evaluated.trust} trust cases evaluated ` +
      `(+ ${evaluated.mutated} on mutated templates)\n`,
  );
});

describe('the policy model of the synthesized template', () => {
  test('has one web identity role per provider, each confined to the data bucket', () => {
    expect(model.roles).toHaveLength(SPECS.length);
    for (const spec of SPECS) {
      const role = roleTrusting(model, spec.federated);
      expect(role.identityPolicies.length).toBeGreaterThan(0);
      expect(role.bucketNames).toEqual([buckets.data]);
    }
    expect(roleTrusting(model, SPECS[3].federated).federated[0].conditionKeyPrefix).toBe(
      COGNITO_ISSUER_KEY,
    );
    expect(model.buckets.find((b) => b.name === buckets.data)?.policy).toBeDefined();
  });
});

describe.each(SPECS)('S3 isolation of the $namespace role', (spec) => {
  test.each(S3_GROUPS.map((g) => [g.title, g] as const))('%s', (_title, group) => {
    const cases = group.build(spec, buckets);
    const report = runS3(model, cases);
    evaluated.s3 += report.evaluated;
    expect(report.evaluated).toBeGreaterThan(0);
    expect(report.failures).toEqual([]);
  });
});

describe.each(SPECS)('trust of the $namespace role', (spec) => {
  test('admits only tokens of its provider for our app, through AssumeRoleWithWebIdentity', () => {
    const report = runTrust(model, trustCases(spec, model));
    evaluated.trust += report.evaluated;
    expect(report.failures).toEqual([]);
  });
});

describe('the matrix catches a broken policy', () => {
  function expectFailures(report: MatrixReport, expected: string, prefix: string) {
    evaluated.mutated += report.evaluated;
    expect(report.failures.length).toBeGreaterThan(0);
    expect(report.failures).toContainEqual(expect.stringContaining(expected));
    // Only the mutated role breaks.
    expect(report.failures.filter((f) => !f.startsWith(prefix))).toEqual([]);
  }

  test('finds cross-user access when the object statement loses the subject variable', () => {
    const t = copy();
    const statement = statementOf(t, google.federated, 'OwnPrefixObjects');
    const before = JSON.stringify(statement);
    statement.Resource = replaceStrings(statement.Resource, `/${GOOGLE_SUBJECT}/`, '/');
    expect(JSON.stringify(statement)).not.toBe(before);
    const report = runS3(loadPolicyModel(t, ENV), allS3Cases(buckets));
    expectFailures(
      report,
      "denies google user alice GetObject on alice2's prefix (users/google/alice2/notes.txt): expected deny, got Allowed",
      'denies google user',
    );
  });

  test('finds listing of other prefixes when ListBucket loses its s3:prefix condition (list-bound-to-prefix)', () => {
    const t = copy();
    delete statementOf(t, amazon.federated, 'ListOwnPrefix').Condition;
    const report = runS3(loadPolicyModel(t, ENV), allS3Cases(buckets));
    expectFailures(
      report,
      'denies amazon user alice ListBucket on the bucket root (no prefix)',
      'denies amazon user',
    );
  });

  test('finds plain-HTTP access when the bucket policy loses its TLS Deny (bucket-tls-only)', () => {
    const t = copy();
    const bucketId = model.buckets.find((b) => b.name === buckets.data)!.logicalId;
    const bucketPolicy = Object.values(t.Resources).find(
      (r) =>
        r.Type === 'AWS::S3::BucketPolicy' && (r.Properties.Bucket as JsonObject).Ref === bucketId,
    )!;
    const document = bucketPolicy.Properties.PolicyDocument as { Statement: JsonObject[] };
    document.Statement = document.Statement.filter(
      (s) => !JSON.stringify(s.Condition ?? {}).includes('aws:SecureTransport'),
    );
    const report = runS3(loadPolicyModel(t, ENV), allS3Cases(buckets));
    expectFailures(report, 'own prefix without TLS', 'denies ');
    expect(report.failures.every((f) => f.includes('without TLS'))).toBe(true);
  });

  test('finds unsafe subjects admitted when a trust policy loses its StringNotLike refusal', () => {
    const t = copy();
    const statements = trustOf(t, google.federated);
    delete (statements[0].Condition as Record<string, unknown>).StringNotLike;
    const report = runTrust(loadPolicyModel(t, ENV), allTrustCases(model));
    expectFailures(report, 'denies a token whose subject is', 'denies ');
    expect(report.failures).toHaveLength(UNSAFE_SUBJECTS.length);
  });

  test('finds tokens of other apps admitted when a trust policy loses its audience condition', () => {
    const t = copy();
    const statements = trustOf(t, google.federated);
    expect(statements).toHaveLength(1);
    delete statements[0].Condition;
    const report = runTrust(loadPolicyModel(t, ENV), allTrustCases(model));
    expectFailures(report, 'denies a token for another app (accounts.google.com:aud', 'denies ');
    expect(report.failures.every((f) => f.includes('assuming the google role'))).toBe(true);
  });
});

describe('the policy model refuses what iam-simulate would get wrong', () => {
  test.each([
    [
      'a trust policy',
      (t: Template) => trustOf(t, google.federated)[0],
      'StringEquals',
      'StringEqualsFoo',
    ],
    [
      'an identity policy',
      (t: Template) => statementOf(t, amazon.federated, 'ListOwnPrefix'),
      'StringLike',
      'StringLikeIfExist',
    ],
    [
      'the bucket policy',
      (t: Template) =>
        (
          Object.values(t.Resources).find((r) => r.Type === 'AWS::S3::BucketPolicy')!.Properties
            .PolicyDocument as { Statement: JsonObject[] }
        ).Statement[0],
      'Bool',
      'BoolFoo',
    ],
  ])('throws on an unknown condition operator in %s', (_where, find, from, to) => {
    const t = copy();
    const statement = find(t);
    const condition = statement.Condition as JsonObject;
    expect(condition[from]).toBeDefined();
    statement.Condition = { [to]: condition[from] };
    expect(() => loadPolicyModel(t, ENV)).toThrow(new RegExp(`Statement\\[\\d+\\]: ${to}\\b`));
  });

  test("refuses an S3 key containing '*', which iam-simulate would match as a wildcard", () => {
    const role = roleTrusting(model, google.federated);
    expect(() =>
      evaluateS3(model, role, {
        action: 's3:GetObject',
        resource: objectArn(buckets.data, 'users/google/*'),
        claims: claimsOf(google, 'alice'),
      }),
    ).toThrow(/containing '\*'/);
  });
});
