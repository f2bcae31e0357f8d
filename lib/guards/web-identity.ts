import {
  asArray,
  federatedKeyPrefix,
  flatten,
  isWebIdentityRole,
  keysFor,
  type PolicyStatement,
  type RoleModel,
  type TemplateModel,
} from '../template/model';

/**
 * What several guards need to know about the web identity roles: which provider each
 * trusts, the statements of its policies named for messages, and the buckets that hold
 * user data (the ones those roles reach through their own prefix).
 */

/** A role web identity users can assume, with the provider its trust names. */
export interface WebIdentityRole {
  readonly role: RoleModel;
  /** Key prefixes of the providers its federated trust statements name, without repeats. */
  readonly prefixes: readonly string[];
  /** The first of them: the provider whose users the role serves. */
  readonly prefix?: string;
  /** That provider's subject variable, e.g. `${accounts.google.com:sub}`. */
  readonly subjectVariable?: string;
}

/** A statement of one of a role's policies. */
export interface RoleStatement {
  /** The policy, named as findings name it: `<role> inline <name>` or the policy's id. */
  readonly policy: string;
  /** `<role> (<policy> <Sid>)`, where a finding about this statement points. */
  readonly where: string;
  readonly statement: PolicyStatement;
}

/** Allow statements of a role's trust with a `Federated` principal, whatever their action. */
export function federatedTrusts(role: RoleModel): PolicyStatement[] {
  return role.trustStatements.filter(
    (s) =>
      s.Effect === 'Allow' &&
      (s.Principal as { Federated?: unknown } | undefined)?.Federated !== undefined,
  );
}

/** The roles web identity users can assume, in template order. */
export function webIdentityRoles(model: TemplateModel): WebIdentityRole[] {
  return model.roles.filter(isWebIdentityRole).map((role) => {
    const prefixes = new Set<string>();
    for (const s of federatedTrusts(role)) {
      const prefix = federatedKeyPrefix(s.Principal, model.resources);
      if (prefix) prefixes.add(prefix);
    }
    const prefix = [...prefixes][0];
    return {
      role,
      prefixes: [...prefixes],
      prefix,
      subjectVariable: prefix === undefined ? undefined : keysFor(prefix).subjectVariable,
    };
  });
}

/**
 * The statements of a role's inline policies and of the policies that name it in `Roles`,
 * and with `includeByArn` also of this template's managed policies attached only through
 * `ManagedPolicyArns` (access-within-prefix refuses any of those on a web identity role
 * outright, so it leaves them out).
 */
export function roleStatements(
  role: RoleModel,
  options: { readonly includeByArn?: boolean } = {},
): RoleStatement[] {
  return role.policies
    .filter((p) => options.includeByArn || !p.byArn)
    .flatMap((p) => {
      const policy = p.kind === 'inline' ? `${role.id} inline ${p.name}` : p.name;
      return asArray(p.document?.Statement).map((statement) => ({
        policy,
        where: `${role.id} (${policy}${statement.Sid ? ' ' + statement.Sid : ''})`,
        statement,
      }));
    });
}

/** A statement's actions as strings. */
export const actionsOf = (s: PolicyStatement): string[] =>
  asArray(s.Action as string[]).map(String);

/** A statement's resources, flattened. */
export const resourcesOf = (s: PolicyStatement): string[] =>
  asArray(s.Resource as unknown[]).map(flatten);

/** True when every action is a KMS one (also for none): the statement is about the key. */
export const isKmsOnly = (actions: readonly string[]): boolean =>
  actions.every((a) => a.toLowerCase().startsWith('kms:'));

/** True when the actions reach objects, not only the bucket listing. */
export const hasObjectActions = (actions: readonly string[]): boolean =>
  actions.some((a) => a.toLowerCase() !== 's3:listbucket');

/** An own-prefix resource of a web identity role: the bucket, and the namespace for objects. */
export type OwnPrefixTarget =
  | { readonly kind: 'objects'; readonly bucket: string; readonly namespace: string }
  | { readonly kind: 'bucket'; readonly bucket: string };

/**
 * What a resource of a web identity role's statement reaches when it is the user's own
 * prefix: `<bucket ARN>/users/<namespace>/<subject variable>/*` for object actions, the
 * bucket ARN for the listing. Undefined for anything broader or elsewhere.
 */
export function ownPrefixTarget(
  resource: string,
  objectActions: boolean,
  subjectVariable: string,
): OwnPrefixTarget | undefined {
  const objects = new RegExp(
    `^@([A-Za-z0-9]+)\\.Arn/users/([a-z0-9-]+)/${escapeRegExp(subjectVariable)}/\\*$`,
  ).exec(resource);
  if (objects && objectActions)
    return { kind: 'objects', bucket: objects[1], namespace: objects[2] };
  const bucket = /^@([A-Za-z0-9]+)\.Arn$/.exec(resource);
  if (bucket && !objectActions) return { kind: 'bucket', bucket: bucket[1] };
  return undefined;
}

/**
 * Logical ids the web identity roles reach through their own prefix: the user data
 * buckets, whose protections and other principals the bucket rules judge.
 */
export function userBuckets(model: TemplateModel): string[] {
  const buckets = new Set<string>();
  for (const { role, subjectVariable } of webIdentityRoles(model)) {
    if (subjectVariable === undefined) continue;
    for (const { statement: s } of roleStatements(role)) {
      if (s.Effect !== 'Allow' || s.NotAction !== undefined || s.NotResource !== undefined)
        continue;
      const actions = actionsOf(s);
      if (isKmsOnly(actions)) continue;
      for (const r of resourcesOf(s)) {
        const target = ownPrefixTarget(r, hasObjectActions(actions), subjectVariable);
        if (target) buckets.add(target.bucket);
      }
    }
  }
  return [...buckets];
}

/** The statements of the bucket policies of bucket `id`. */
export function bucketStatements(model: TemplateModel, id: string): PolicyStatement[] {
  return model.bucketPolicies
    .filter((p) => p.bucket === '@' + id)
    .flatMap((p) => asArray(p.document?.Statement));
}

/** `s` as a literal inside a regular expression (policy variables carry `$`, `{`, `.`). */
export function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
