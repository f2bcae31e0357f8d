/**
 * The synthesized federation template as the policy evaluations need it: the roles users
 * assume with `AssumeRoleWithWebIdentity` (trust policy, federated principals, identity
 * policies), the buckets with their bucket policies and Object Ownership, and the
 * template's managed policies, resolved (intrinsics) and validated once by
 * `loadPolicyModel`.
 *
 * iam-simulate's `runSimulation` drops provider condition keys such as
 * `accounts.google.com:sub` (docs/architecture.md, tool facts), so every evaluation goes
 * through `runUnsafeSimulation`, which evaluates them but validates nothing: the
 * validation happens here, once (`policy-validation.ts`).
 */
import {
  validateIdentityPolicy,
  validateResourcePolicy,
  validateTrustPolicy,
} from '@cloud-copilot/iam-policy';
import { issuerKeyPrefix } from '../common/provider-facts';
import { wildcardMatches } from '../common/wildcard';
import {
  IntrinsicResolver,
  isObject,
  withDefaults,
  type CfnResource,
  type JsonObject,
  type TemplateEnvironment,
} from '../lib/template/intrinsics';
import { asArray } from '../lib/template/model';
import {
  assertKnownConditionOperators,
  validated,
  type SimulationPolicy,
} from './policy-validation';

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

export const WEB_IDENTITY_ACTION = 'sts:AssumeRoleWithWebIdentity';

/** True when an IAM action pattern (`sts:*`, `sts:AssumeRoleWith*`) covers `action`. */
function actionPatternMatches(pattern: string, action: string): boolean {
  return wildcardMatches(pattern, action, { ignoreCase: true });
}

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
        issuerKeyPrefix(String(resolver.resolve(r.Properties?.Url))),
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
