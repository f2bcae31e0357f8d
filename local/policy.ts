/**
 * Evaluates the IAM policies of a synthesized federation template with
 * `@cloud-copilot/iam-simulate`, so tests can prove per-user isolation and role trust on
 * what CloudFormation would deploy, not on what the constructs meant to produce.
 *
 * Usage: `loadPolicyModel(template.toJSON(), env)` once (it resolves intrinsics, validates
 * every policy and refuses unknown condition operators), then `evaluateS3` / `evaluateTrust`
 * (or `runMatrix`) as often as needed.
 *
 * iam-simulate facts this module works around (docs/architecture.md, tool facts):
 * - `runSimulation` drops provider condition keys such as `accounts.google.com:sub`, so
 *   every request goes through `runUnsafeSimulation`, which evaluates them but validates
 *   nothing: the validation happens here, once, in `loadPolicyModel`.
 * - It fails OPEN on an unknown condition operator: such a condition never matches, so a
 *   Deny statement using it silently stops denying (and `validateResourcePolicy` accepts
 *   it). `loadPolicyModel` therefore throws on any operator outside `KNOWN_OPERATOR`.
 * - A resource policy without metadata crashes it (`metadata().name`) as soon as one of
 *   its statements matches: resource and trust policies are passed as validated
 *   policies (`createValidatedPolicy`) that carry a name.
 * - A `*` in a request resource is treated as a wildcard pattern, not as a literal key
 *   character: `users/google/*` is "allowed" for every Google user. S3 keys may contain
 *   `*`, so `evaluateS3` refuses such resources instead of answering wrongly.
 */
import { runUnsafeSimulation, type EvaluationResult } from '@cloud-copilot/iam-simulate';
import {
  createValidatedPolicy,
  validateIdentityPolicy,
  validateResourcePolicy,
  validateTrustPolicy,
  type ValidatedPolicy,
  type ValidationError,
} from '@cloud-copilot/iam-policy';
import { wildcardMatches } from '../common/wildcard';
import {
  IntrinsicResolver,
  isObject,
  withDefaults,
  type CfnResource,
  type Json,
  type JsonObject,
  type TemplateEnvironment,
} from '../lib/template/intrinsics';

// Re-exported so the sandbox modules that import them from here need no change.

/** A policy checked once and ready for iam-simulate; `metadata.name` names it in results. */
export type SimulationPolicy = ValidatedPolicy<{ name: string }>;

/** One `Federated` principal a role trusts for `sts:AssumeRoleWithWebIdentity`. */
export interface FederatedTrust {
  /** The principal as STS sees it: `accounts.google.com`, or an OIDC provider ARN. */
  readonly principal: string;
  /** Prefix of the provider's condition keys: the principal, or the issuer host/path. */
  readonly conditionKeyPrefix: string;
}

/** A role that web identity users assume, with every policy that decides their access. */
export interface WebIdentityRoleModel {
  readonly logicalId: string;
  readonly roleName: string;
  readonly roleArn: string;
  /** The resolved trust policy, passed to iam-simulate as the resource policy. */
  readonly trustPolicy: SimulationPolicy;
  readonly federated: readonly FederatedTrust[];
  /** Inline policies, `AWS::IAM::Policy` / `RolePolicy` / `ManagedPolicy` attached to the role. */
  readonly identityPolicies: readonly { name: string; policy: SimulationPolicy }[];
  /** Names of the buckets the identity policies name in `Resource`. */
  readonly bucketNames: readonly string[];
}

/** A bucket of the template and its bucket policy. */
export interface BucketModel {
  readonly logicalId: string;
  readonly name: string;
  readonly arn: string;
  readonly policy?: SimulationPolicy;
  /**
   * The bucket's S3 Object Ownership (`OwnershipControls`); S3's default for new buckets,
   * `BucketOwnerEnforced` (ACLs disabled), when the template sets none.
   */
  readonly objectOwnership: string;
}

/** Everything the evaluations need, resolved and validated once. */
export interface PolicyModel {
  readonly env: Required<TemplateEnvironment>;
  readonly roles: readonly WebIdentityRoleModel[];
  readonly buckets: readonly BucketModel[];
  /**
   * The template's customer managed policies (`AWS::IAM::ManagedPolicy`) by ARN: the only
   * managed policies whose documents the sandbox knows, so the only ones a session may name
   * in `PolicyArns`.
   */
  readonly managedPolicies: ReadonlyMap<string, SimulationPolicy>;
}

/** Base condition operators iam-simulate implements (plus `Null`, handled on its own). */
const BASE_OPERATORS = [
  'StringEquals',
  'StringNotEquals',
  'StringEqualsIgnoreCase',
  'StringNotEqualsIgnoreCase',
  'StringLike',
  'StringNotLike',
  'NumericEquals',
  'NumericNotEquals',
  'NumericLessThan',
  'NumericLessThanEquals',
  'NumericGreaterThan',
  'NumericGreaterThanEquals',
  'DateEquals',
  'DateNotEquals',
  'DateLessThan',
  'DateLessThanEquals',
  'DateGreaterThan',
  'DateGreaterThanEquals',
  'Bool',
  'BinaryEquals',
  'IpAddress',
  'NotIpAddress',
  'ArnEquals',
  'ArnLike',
  'ArnNotEquals',
  'ArnNotLike',
];

/**
 * Operators this module lets through to iam-simulate, spelled exactly as AWS documents
 * them: an optional set prefix, a base operator, an optional `IfExists`; or bare `Null`.
 */
export const KNOWN_OPERATOR = new RegExp(
  `^(?:(?:ForAnyValue:|ForAllValues:)?(?:${BASE_OPERATORS.join('|')})(?:IfExists)?|Null)$`,
);

const asArray = <T>(v: T | T[] | undefined): T[] =>
  v === undefined ? [] : Array.isArray(v) ? v : [v];

/**
 * Condition operators in the policy documents under `value` that are not in
 * `KNOWN_OPERATOR`, each with where it is (`Resources.X...Statement[0]: StringEqualsFoo`).
 * A Condition that is not a plain object (an intrinsic such as `Fn::If`) is reported too.
 */
export function unknownConditionOperators(value: Json, path = ''): string[] {
  const found: string[] = [];
  if (Array.isArray(value)) {
    value.forEach((v, i) => found.push(...unknownConditionOperators(v, `${path}[${i}]`)));
    return found;
  }
  if (!isObject(value)) return found;
  if ('Statement' in value) {
    asArray(value.Statement).forEach((statement, i) => {
      const where = `${path}.Statement[${i}]`;
      if (!isObject(statement) || statement.Condition === undefined) return;
      if (!isObject(statement.Condition)) {
        found.push(`${where}: Condition is not an object (${JSON.stringify(statement.Condition)})`);
        return;
      }
      for (const operator of Object.keys(statement.Condition)) {
        if (!KNOWN_OPERATOR.test(operator)) found.push(`${where}: ${operator}`);
      }
    });
  }
  for (const [key, child] of Object.entries(value)) {
    if (key !== 'Statement') found.push(...unknownConditionOperators(child, `${path}.${key}`));
  }
  return found;
}

/** Throws when any policy under `value` uses a condition operator iam-simulate would ignore. */
export function assertKnownConditionOperators(value: Json, where = 'template'): void {
  const unknown = unknownConditionOperators(value);
  if (unknown.length > 0) {
    // iam-simulate treats an unknown operator as "condition does not match": an Allow
    // would fail closed, but a Deny would fail OPEN. Refuse rather than guess.
    throw new Error(
      `${where} uses condition operators iam-simulate does not implement (it would ignore them, failing open for Deny statements):\n` +
        unknown.map((u) => `  - ${u}`).join('\n'),
    );
  }
}

function validated(
  document: unknown,
  validate: (policy: unknown) => ValidationError[],
  name: string,
): SimulationPolicy {
  const policy = createValidatedPolicy(document, validate, { name });
  if (policy.errors.length > 0) {
    throw new Error(
      `policy ${name} is invalid:\n` +
        policy.errors.map((e) => `  - ${e.path}: ${e.message}`).join('\n') +
        `\n${JSON.stringify(document, null, 2)}`,
    );
  }
  return policy;
}

/** True when an IAM action pattern (`sts:*`, `sts:AssumeRoleWith*`) covers `action`. */
function actionPatternMatches(pattern: string, action: string): boolean {
  return wildcardMatches(pattern, action, { ignoreCase: true });
}

const WEB_IDENTITY_ACTION = 'sts:AssumeRoleWithWebIdentity';

/**
 * Resolves a synthesized template into the roles users assume with
 * `AssumeRoleWithWebIdentity`, their identity policies and the bucket policies.
 * Throws on anything it cannot evaluate faithfully: an unknown condition operator, an
 * unresolvable intrinsic, an invalid policy, a managed policy or permissions boundary
 * that is not in the template.
 */
export function loadPolicyModel(template: unknown, env: TemplateEnvironment): PolicyModel {
  if (!isObject(template) || !isObject(template.Resources)) {
    throw new Error('expected a CloudFormation template with Resources');
  }
  assertKnownConditionOperators(template.Resources, 'the template');
  const fullEnv = withDefaults(env);
  const resolver = new IntrinsicResolver(template, fullEnv);
  const resources = Object.entries(template.Resources as Record<string, CfnResource>);
  const resolveDocument = (document: unknown, where: string): unknown => {
    try {
      return resolver.resolve(document);
    } catch (e) {
      throw new Error(`${where}: ${(e as Error).message}`);
    }
  };

  const bucketPolicies = new Map<string, SimulationPolicy>();
  for (const [id, r] of resources) {
    if (r.Type !== 'AWS::S3::BucketPolicy') continue;
    const bucket = String(resolveDocument(r.Properties?.Bucket, id));
    const document = resolveDocument(r.Properties?.PolicyDocument, id);
    if (bucketPolicies.has(bucket)) throw new Error(`bucket ${bucket} has two bucket policies`);
    bucketPolicies.set(bucket, validated(document, validateResourcePolicy, id));
  }
  const buckets: BucketModel[] = resources
    .filter(([, r]) => r.Type === 'AWS::S3::Bucket')
    .map(([id, r]) => {
      const name = resolver.resourceName(id);
      const ownership = resolveDocument(r.Properties?.OwnershipControls, id) as
        { Rules?: { ObjectOwnership?: string }[] } | undefined;
      return {
        logicalId: id,
        name,
        arn: `arn:${fullEnv.partition}:s3:::${name}`,
        policy: bucketPolicies.get(name),
        objectOwnership: ownership?.Rules?.[0]?.ObjectOwnership ?? 'BucketOwnerEnforced',
      };
    });

  const roles: WebIdentityRoleModel[] = [];
  for (const [roleId, role] of resources) {
    if (role.Type !== 'AWS::IAM::Role') continue;
    const props = role.Properties ?? {};
    const trust = resolveDocument(props.AssumeRolePolicyDocument, roleId);
    const federated = webIdentityTrusts(
      trust,
      template.Resources as Record<string, CfnResource>,
      resolver,
    );
    if (federated.length === 0) continue;
    const roleName = resolver.resourceName(roleId);

    const identityPolicies: { name: string; policy: SimulationPolicy }[] = [];
    asArray(props.Policies as JsonObject[] | undefined).forEach((p, i) => {
      const name = `${roleId}.Policies[${i}]`;
      identityPolicies.push({
        name,
        policy: validated(resolveDocument(p.PolicyDocument, name), validateIdentityPolicy, name),
      });
    });
    const managedArns = asArray(resolveDocument(props.ManagedPolicyArns, roleId) as string[]);
    for (const [id, r] of resources) {
      const p = r.Properties ?? {};
      const attached =
        (r.Type === 'AWS::IAM::Policy' &&
          asArray(resolveDocument(p.Roles, id) as string[]).includes(roleName)) ||
        (r.Type === 'AWS::IAM::RolePolicy' && resolveDocument(p.RoleName, id) === roleName) ||
        (r.Type === 'AWS::IAM::ManagedPolicy' &&
          (asArray(resolveDocument(p.Roles, id) as string[]).includes(roleName) ||
            managedArns.includes(String(resolver.resolve({ Ref: id })))));
      if (attached) {
        identityPolicies.push({
          name: id,
          policy: validated(resolveDocument(p.PolicyDocument, id), validateIdentityPolicy, id),
        });
      }
    }
    const inTemplate = resources
      .filter(([, r]) => r.Type === 'AWS::IAM::ManagedPolicy')
      .map(([id]) => String(resolver.resolve({ Ref: id })));
    const foreign = managedArns.filter((arn) => !inTemplate.includes(arn));
    if (foreign.length > 0) {
      throw new Error(
        `${roleId} has managed policies outside the template (${foreign.join(', ')}); the matrix cannot see what they grant.`,
      );
    }
    if (props.PermissionsBoundary !== undefined) {
      throw new Error(`${roleId} has a permissions boundary; the matrix does not model it yet.`);
    }

    roles.push({
      logicalId: roleId,
      roleName,
      roleArn: String(resolver.resolve({ 'Fn::GetAtt': [roleId, 'Arn'] })),
      trustPolicy: validated(trust, validateTrustPolicy, `${roleId} trust policy`),
      federated,
      identityPolicies,
      bucketNames: bucketNamesIn(identityPolicies.map((p) => p.policy.policyDocument)),
    });
  }
  const managedPolicies = new Map<string, SimulationPolicy>();
  for (const [id, r] of resources) {
    if (r.Type !== 'AWS::IAM::ManagedPolicy') continue;
    const p = r.Properties ?? {};
    const policy = validated(resolveDocument(p.PolicyDocument, id), validateIdentityPolicy, id);
    managedPolicies.set(String(resolver.resolve({ Ref: id })), policy);
    if (p.ManagedPolicyName !== undefined) {
      // A named policy's ARN is known before deployment: its path and name.
      const name = String(resolveDocument(p.ManagedPolicyName, id));
      const policyPath = String(resolveDocument(p.Path ?? '/', id));
      managedPolicies.set(
        `arn:${fullEnv.partition}:iam::${fullEnv.accountId}:policy${policyPath}${name}`,
        policy,
      );
    }
  }
  return { env: fullEnv, roles, buckets, managedPolicies };
}

/** The Federated principals of Allow statements that grant `sts:AssumeRoleWithWebIdentity`. */
function webIdentityTrusts(
  trust: unknown,
  resources: Record<string, CfnResource>,
  resolver: IntrinsicResolver,
): FederatedTrust[] {
  if (!isObject(trust)) return [];
  const oidcPrefixes = new Map<string, string>();
  for (const [id, r] of Object.entries(resources)) {
    if (r.Type === 'AWS::IAM::OIDCProvider') {
      oidcPrefixes.set(
        String(resolver.resolve({ Ref: id })),
        String(resolver.resolve(r.Properties?.Url)).replace(/^https:\/\//, ''),
      );
    }
  }
  const found = new Map<string, FederatedTrust>();
  for (const statement of asArray(trust.Statement)) {
    if (!isObject(statement) || statement.Effect !== 'Allow') continue;
    const actions = asArray(statement.Action as string | string[]);
    if (!actions.some((a) => actionPatternMatches(a, WEB_IDENTITY_ACTION))) continue;
    const principal = statement.Principal;
    if (!isObject(principal)) continue;
    for (const p of asArray(principal.Federated as string | string[])) {
      // IAM names an OIDC provider's condition keys after its URL without the scheme;
      // the built-in providers' keys carry the principal's own name.
      const arnPrefix = /^arn:[^:]+:iam::\d{12}:oidc-provider\/(.+)$/.exec(p);
      found.set(p, {
        principal: p,
        conditionKeyPrefix: oidcPrefixes.get(p) ?? arnPrefix?.[1] ?? p,
      });
    }
  }
  return [...found.values()];
}

function bucketNamesIn(documents: unknown[]): string[] {
  const names = new Set<string>();
  for (const document of documents) {
    for (const statement of asArray((document as JsonObject).Statement)) {
      for (const r of asArray((statement as JsonObject).Resource as string | string[])) {
        const match = /^arn:[^:]+:s3:::([^/]+)/.exec(r);
        if (match) names.add(match[1]);
      }
    }
  }
  return [...names];
}

/** The one web identity role that trusts `principal` (a provider name or OIDC provider ARN). */
export function roleTrusting(model: PolicyModel, principal: string): WebIdentityRoleModel {
  const roles = model.roles.filter((r) => r.federated.some((f) => f.principal === principal));
  if (roles.length !== 1) {
    throw new Error(
      `expected exactly one role trusting ${principal}, found ${roles.length} (${roles.map((r) => r.logicalId).join(', ')}); roles trust: ` +
        model.roles.map((r) => r.federated.map((f) => f.principal).join('+')).join(', '),
    );
  }
  return roles[0];
}

/** The ARN of a session of `role`, as S3 sees the caller. */
export function sessionArn(
  model: PolicyModel,
  role: WebIdentityRoleModel,
  sessionName = 'web-identity-session',
): string {
  return `arn:${model.env.partition}:sts::${model.env.accountId}:assumed-role/${role.roleName}/${sessionName}`;
}

/** An S3 request made with a role session's temporary credentials. */
export interface S3Request {
  /** For example `s3:GetObject`. UploadPart, CreateMultipartUpload and CompleteMultipartUpload authorize as `s3:PutObject`. */
  readonly action: string;
  /** An object ARN (`arn:aws:s3:::bucket/key`) or a bucket ARN. A literal `*` is refused. */
  readonly resource: string;
  /**
   * The session's web identity keys, which bind the policy variables, for example
   * `{ 'accounts.google.com:sub': 'alice' }`. Leave a key out to model a missing value.
   */
  readonly claims: Readonly<Record<string, string>>;
  /** `s3:prefix` of a ListBucket request; absent when undefined. */
  readonly prefix?: string;
  /**
   * `aws:SecureTransport`.
   * @default true
   */
  readonly secureTransport?: boolean;
  /** @default 'web-identity-session' */
  readonly sessionName?: string;
}

/**
 * Evaluates an S3 request by a session of `role` against the role's identity policies
 * and the bucket policy of the requested bucket (none for a bucket outside the template).
 */
export function evaluateS3(
  model: PolicyModel,
  role: WebIdentityRoleModel,
  request: S3Request,
): EvaluationResult {
  if (request.resource.includes('*')) {
    // iam-simulate would treat it as a pattern, not as the literal key character.
    throw new Error(`cannot evaluate a resource containing '*': ${request.resource}`);
  }
  const bucketName = /^arn:[^:]+:s3:::([^/]+)/.exec(request.resource)?.[1];
  if (!bucketName) throw new Error(`not an S3 ARN: ${request.resource}`);
  const bucket = model.buckets.find((b) => b.name === bucketName);
  const contextVariables: Record<string, string> = {
    ...request.claims,
    'aws:SecureTransport': String(request.secureTransport ?? true),
  };
  if (request.prefix !== undefined) contextVariables['s3:prefix'] = request.prefix;
  return runUnsafeSimulation(
    {
      request: {
        principal: sessionArn(model, role, request.sessionName),
        action: request.action,
        resource: { resource: request.resource, accountId: model.env.accountId },
        contextVariables,
      },
      identityPolicies: role.identityPolicies.map((p) => ({ ...p })),
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      resourcePolicy: bucket?.policy,
    },
    {},
  );
}

/**
 * The caller side of a trust request. Web identity callers have no identity policies, and
 * iam-simulate treats a principal that is not an ARN (`accounts.google.com`) as another
 * account, which needs an identity-side Allow besides the resource (trust) policy. This
 * allow-everything policy supplies it for every caller (also for IAM users: the strongest
 * caller), so the trust policy alone decides.
 */
const CALLER_SIDE_ALLOWS_ALL = validated(
  {
    Version: '2012-10-17',
    Statement: [{ Sid: 'CallerSideAllowsAll', Effect: 'Allow', Action: '*', Resource: '*' }],
  },
  validateIdentityPolicy,
  'caller-side-allows-all',
);

/** A request to assume a role. */
export interface TrustRequest {
  /**
   * Who calls. iam-simulate matches a `Federated` trust principal by plain string
   * equality with the request principal, so a web identity caller is the provider
   * itself: `accounts.google.com`, `www.amazon.com`, `graph.facebook.com`, or the
   * OIDC provider ARN. Other callers are ARNs (IAM user, account root, assumed role) or
   * service principals.
   */
  readonly principal: string;
  /** @default 'sts:AssumeRoleWithWebIdentity' */
  readonly action?: string;
  /** The token's keys as STS derives them (`accounts.google.com:aud`, `<issuer>:sub`...). */
  readonly context: Readonly<Record<string, string | string[]>>;
}

/** Evaluates a request to assume `role` against its trust policy. */
export function evaluateTrust(
  model: PolicyModel,
  role: WebIdentityRoleModel,
  request: TrustRequest,
): EvaluationResult {
  return runUnsafeSimulation(
    {
      request: {
        principal: request.principal,
        action: request.action ?? WEB_IDENTITY_ACTION,
        resource: { resource: role.roleArn, accountId: model.env.accountId },
        contextVariables: { ...request.context },
      },
      identityPolicies: [{ name: 'caller-side-allows-all', policy: CALLER_SIDE_ALLOWS_ALL }],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      resourcePolicy: role.trustPolicy,
    },
    {},
  );
}

/** What a case must come to: `explicit-deny` requires a matching Deny statement. */
export type Expectation = 'allow' | 'deny' | 'explicit-deny';

/** One named case of a matrix. */
export interface MatrixCase {
  /** Says the behaviour: "denies google user alice GetObject on alice2's prefix". */
  readonly name: string;
  readonly expect: Expectation;
}

/** The outcome of a matrix: how many cases ran, and one line per case that went wrong. */
export interface MatrixReport {
  readonly evaluated: number;
  readonly failures: string[];
}

/** Evaluates every case and lists the ones whose decision differs from the expectation. */
export function runMatrix<C extends MatrixCase>(
  cases: readonly C[],
  evaluate: (c: C) => EvaluationResult,
): MatrixReport {
  const failures: string[] = [];
  for (const c of cases) {
    const decision = evaluate(c);
    const ok =
      c.expect === 'allow'
        ? decision === 'Allowed'
        : c.expect === 'deny'
          ? decision !== 'Allowed'
          : decision === 'ExplicitlyDenied';
    if (!ok) failures.push(`${c.name}: expected ${c.expect}, got ${decision}`);
  }
  return { evaluated: cases.length, failures };
}
