import {
  builtInByPrincipal,
  issuerKeyPrefix,
  oidcProviderFacts,
} from '../../common/provider-facts';

/**
 * One reading of a rendered CloudFormation template, shared by the synth-time guards and
 * the access report: roles with every policy attached to them, web identity trusts and
 * the providers they name, buckets and their bucket policies. It reads the template as
 * rendered (intrinsics unresolved): what would deploy, escape hatches included, with no
 * need to know the account or region.
 */

/** A rendered CloudFormation template; only the parts the guards and the report read. */
export interface CfnTemplate {
  readonly Description?: string;
  readonly Resources?: Record<string, CfnResourceJson>;
  readonly Outputs?: Record<string, CfnOutputJson>;
}

/** One resource of a rendered template. */
export interface CfnResourceJson {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
  readonly DeletionPolicy?: string;
}

/** One output of a rendered template. */
export interface CfnOutputJson {
  readonly Description?: string;
  readonly Value?: unknown;
}

/** An IAM policy statement; values may still carry intrinsics. */
export interface PolicyStatement {
  readonly Sid?: string;
  readonly Effect?: string;
  readonly Principal?: unknown;
  readonly Action?: unknown;
  readonly NotAction?: unknown;
  readonly Resource?: unknown;
  readonly NotResource?: unknown;
  /** Operator -> condition key -> value(s). */
  readonly Condition?: Record<string, Record<string, unknown>>;
}

/** An IAM policy document. */
export interface PolicyDocument {
  readonly Version?: string;
  readonly Statement?: PolicyStatement | PolicyStatement[];
}

/** A policy document that applies to a role. */
export interface AttachedPolicy {
  /** An inline policy of the role, an `AWS::IAM::Policy` or an `AWS::IAM::ManagedPolicy`. */
  readonly kind: 'inline' | 'policy' | 'managed';
  /** The inline policy's `PolicyName`, or the policy resource's logical id. */
  readonly name: string;
  /** True when only the role's `ManagedPolicyArns` attaches it, not the policy's `Roles`. */
  readonly byArn: boolean;
  readonly document: PolicyDocument;
}

/** An `AWS::IAM::Role` with everything in the template that grants it permissions. */
export interface RoleModel {
  readonly id: string;
  readonly resource: CfnResourceJson;
  /** `AssumeRolePolicyDocument`, `{}` when missing. */
  readonly trust: PolicyDocument;
  readonly trustStatements: readonly PolicyStatement[];
  /** Inline policies, then policies naming the role in `Roles`, then those attached by ARN. */
  readonly policies: readonly AttachedPolicy[];
  /** The role's `ManagedPolicyArns` as written. */
  readonly managedPolicyArns: readonly unknown[];
  /** Managed policy ARNs whose content is not in this template. */
  readonly externalPolicyArns: readonly unknown[];
}

/** An `AWS::S3::BucketPolicy`. */
export interface BucketPolicyModel {
  readonly id: string;
  /** Its `Bucket` property, flattened (`@<logical id>` for a bucket of this template). */
  readonly bucket: string;
  readonly document: PolicyDocument | undefined;
}

/** A template read once. */
export interface TemplateModel {
  readonly resources: Readonly<Record<string, CfnResourceJson>>;
  /** Every `AWS::IAM::Role`, in template order. */
  readonly roles: readonly RoleModel[];
  /** Logical ids of the `AWS::S3::Bucket` resources, in template order. */
  readonly buckets: readonly string[];
  readonly bucketPolicies: readonly BucketPolicyModel[];
}

/** Resource types that are an IAM OIDC provider (CDK's custom resource included). */
export const OIDC_PROVIDER_TYPES: readonly string[] = [
  'AWS::IAM::OIDCProvider',
  'Custom::AWSCDKOpenIdConnectProvider',
];

const WEB_IDENTITY_TRUST_ACTIONS = ['sts:assumerolewithwebidentity', 'sts:*', '*'];

export const asArray = <T>(v: T | T[] | undefined): T[] =>
  v === undefined ? [] : Array.isArray(v) ? v : [v];

/**
 * Flattens an intrinsic-bearing value into a comparable string: `Ref X` -> `@X`,
 * `GetAtt X.Arn` -> `@X.Arn`, `Fn::Join` concatenated, pseudo parameters `@AWS::Region`.
 */
export function flatten(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    if (typeof o.Ref === 'string') return '@' + o.Ref;
    if (Array.isArray(o['Fn::GetAtt'])) return '@' + (o['Fn::GetAtt'] as string[]).join('.');
    if (Array.isArray(o['Fn::Join'])) {
      const [sep, parts] = o['Fn::Join'] as [string, unknown[]];
      return asArray(parts).map(flatten).join(sep);
    }
  }
  return '@?' + JSON.stringify(value);
}

/** The logical id (or `Id.Attr`) a `Ref`/`Fn::GetAtt` names; other values flattened. */
export const refId = (value: unknown): string => flatten(value).replace(/^@/, '');

/** Logical ids of the resources of one type, in template order. */
export function idsOfType(
  resources: Readonly<Record<string, CfnResourceJson>>,
  type: string,
): string[] {
  return Object.keys(resources).filter((id) => resources[id].Type === type);
}

/** Reads a template. */
export function templateModel(template: CfnTemplate): TemplateModel {
  const resources = template.Resources ?? {};
  return {
    resources,
    roles: collectRoles(resources),
    buckets: idsOfType(resources, 'AWS::S3::Bucket'),
    bucketPolicies: idsOfType(resources, 'AWS::S3::BucketPolicy').map((id) => {
      const p = resources[id].Properties ?? {};
      return {
        id,
        bucket: flatten(p.Bucket),
        document: p.PolicyDocument as PolicyDocument | undefined,
      };
    }),
  };
}

function collectRoles(resources: Readonly<Record<string, CfnResourceJson>>): RoleModel[] {
  interface MutableRole extends RoleModel {
    readonly policies: AttachedPolicy[];
    readonly externalPolicyArns: unknown[];
  }
  const roles = new Map<string, MutableRole>();
  for (const id of idsOfType(resources, 'AWS::IAM::Role')) {
    const p = resources[id].Properties ?? {};
    const trust = (p.AssumeRolePolicyDocument ?? {}) as PolicyDocument;
    roles.set(id, {
      id,
      resource: resources[id],
      trust,
      trustStatements: asArray(trust.Statement),
      policies: asArray(p.Policies as { PolicyName: string; PolicyDocument: PolicyDocument }[]).map(
        (x) => ({ kind: 'inline', name: x.PolicyName, byArn: false, document: x.PolicyDocument }),
      ),
      managedPolicyArns: asArray(p.ManagedPolicyArns as unknown[]),
      externalPolicyArns: [],
    });
  }
  const attached = new Set<string>();
  for (const [id, res] of Object.entries(resources)) {
    if (res.Type !== 'AWS::IAM::Policy' && res.Type !== 'AWS::IAM::ManagedPolicy') continue;
    const p = res.Properties ?? {};
    for (const ref of asArray(p.Roles as unknown[])) {
      const role = roles.get(refId(ref));
      if (!role) continue;
      role.policies.push({
        kind: res.Type === 'AWS::IAM::ManagedPolicy' ? 'managed' : 'policy',
        name: id,
        byArn: false,
        document: p.PolicyDocument as PolicyDocument,
      });
      attached.add(`${role.id} ${id}`);
    }
  }
  for (const role of roles.values()) {
    for (const arn of role.managedPolicyArns) {
      const id = refId(arn);
      const managed = resources[id];
      if (managed?.Type !== 'AWS::IAM::ManagedPolicy') {
        role.externalPolicyArns.push(arn);
      } else if (!attached.has(`${role.id} ${id}`)) {
        role.policies.push({
          kind: 'managed',
          name: id,
          byArn: true,
          document: managed.Properties?.PolicyDocument as PolicyDocument,
        });
      }
    }
  }
  return [...roles.values()];
}

/** True for an Allow statement whose actions include `sts:AssumeRoleWithWebIdentity`. */
export const isWebIdentityTrust = (s: PolicyStatement): boolean =>
  s.Effect === 'Allow' &&
  asArray(s.Action as string[]).some((a) =>
    WEB_IDENTITY_TRUST_ACTIONS.includes(String(a).toLowerCase()),
  );

/** True when web identity users can assume the role. */
export const isWebIdentityRole = (role: RoleModel): boolean =>
  role.trustStatements.some(isWebIdentityTrust);

/** The logical id of the OIDC provider a `Federated` value refers to, if it is one of this template. */
export function oidcProviderId(
  federated: unknown,
  resources: Readonly<Record<string, CfnResourceJson>>,
): string | undefined {
  const id = refId(federated).replace(/\.Arn$/, '');
  const type = resources[id]?.Type;
  return type !== undefined && OIDC_PROVIDER_TYPES.includes(type) ? id : undefined;
}

/** The condition-key prefix of a federated principal: `accounts.google.com`, issuer host/path. */
export function federatedKeyPrefix(
  principal: unknown,
  resources: Readonly<Record<string, CfnResourceJson>>,
): string | undefined {
  const federated = (principal as { Federated?: unknown } | undefined)?.Federated;
  if (typeof federated === 'string') return federated;
  const id = oidcProviderId(federated, resources);
  const url = id === undefined ? undefined : resources[id].Properties?.Url;
  return typeof url === 'string' ? issuerKeyPrefix(url) : undefined;
}

/** Audience condition key and subject variable IAM uses for a provider prefix. */
export function keysFor(prefix: string): {
  audienceKey: string;
  subjectKey: string;
  subjectVariable: string;
} {
  // A prefix that is not a built-in provider's is a generic OIDC issuer's host/path.
  const facts = builtInByPrincipal(prefix) ?? oidcProviderFacts('https://' + prefix);
  return {
    audienceKey: facts.audienceKeys[0],
    subjectKey: facts.subjectKey,
    subjectVariable: facts.subjectVariable,
  };
}
