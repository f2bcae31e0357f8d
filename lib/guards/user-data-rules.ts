import { asArray, flatten, type TemplateModel } from '../template/model';
import type { GuardRule } from './rule';
import {
  actionsOf,
  bucketStatements,
  resourcesOf,
  roleStatements,
  userBuckets,
  webIdentityRoles,
} from './web-identity';

/** The rules about the user data buckets: who else reaches them, and their own protections. */

const S3_DATA_ACTION = /^s3:(\*|get|put|delete|list|abort|restore|replicate|select|object)/;
function isDataAction(action: string): boolean {
  const a = action.toLowerCase();
  return a === '*' || S3_DATA_ACTION.test(a);
}

const BROAD_AWS_MANAGED_POLICY =
  /:iam::aws:policy\/(.*\/)?(AdministratorAccess|PowerUserAccess|AmazonS3[A-Za-z]*Access)$/;

const isBucket = (model: TemplateModel, id: string): boolean =>
  model.resources[id]?.Type === 'AWS::S3::Bucket';

export const lambdaRoleNoDataAccess: GuardRule = {
  id: 'lambda-role-no-data-access',
  description:
    "No role but the web identity roles (the app's execution role included) and no bucket policy Allow reaches user data: only the web identity roles are confined to one user's prefix by their policy variables.",
  check: (model) => {
    const errors: string[] = [];
    const buckets = userBuckets(model);
    const webRoles = new Set(webIdentityRoles(model).map((w) => w.role.id));
    for (const role of model.roles) {
      if (webRoles.has(role.id)) continue;
      for (const arn of role.externalPolicyArns.map(flatten)) {
        // AWS managed policies are not in the template; these names grant S3 data access.
        if (BROAD_AWS_MANAGED_POLICY.test(arn)) {
          errors.push(
            `${role.id}: managed policy ${arn} gives a non-user role access to user data; only the web identity roles, confined by their policy variables, may touch it.`,
          );
        }
      }
      for (const { policy, statement: s } of roleStatements(role, { includeByArn: true })) {
        if (s.Effect !== 'Allow') continue;
        const actions = s.NotAction !== undefined ? ['*'] : actionsOf(s);
        const data = actions.filter(isDataAction);
        if (data.length === 0) continue;
        const reaches = resourcesOf(s).filter(
          (r) =>
            r === '*' ||
            buckets.some((b) => r === `@${b}.Arn` || r.startsWith(`@${b}.Arn/`) || r === `@${b}`),
        );
        if (s.NotResource !== undefined || reaches.length > 0) {
          errors.push(
            `${role.id} (${policy}): ${JSON.stringify(data)} on ${JSON.stringify(reaches)} gives a non-user role access to user data; only the web identity roles, confined by their policy variables, may touch it.`,
          );
        }
      }
    }
    for (const b of buckets.filter((id) => isBucket(model, id))) {
      for (const s of bucketStatements(model, b)) {
        if (s.Effect === 'Allow') {
          errors.push(
            `${b}: bucket policy Allow for ${JSON.stringify(s.Principal)} grants user data outside the web identity roles; remove it.`,
          );
        }
      }
    }
    return errors;
  },
};

const PUBLIC_ACCESS_BLOCKS = [
  'BlockPublicAcls',
  'BlockPublicPolicy',
  'IgnorePublicAcls',
  'RestrictPublicBuckets',
];

export const bucketBaseline: GuardRule = {
  id: 'bucket-baseline',
  description:
    'Every bucket the web identity roles reach is a bucket of this stack with all four public access blocks, default encryption, and a bucket policy that denies every request without TLS.',
  check: (model) => {
    const errors: string[] = [];
    for (const b of userBuckets(model)) {
      if (!isBucket(model, b)) {
        errors.push(`web identity roles point at ${b}, which is not a bucket of this stack.`);
        continue;
      }
      const p = model.resources[b].Properties ?? {};
      const pab = (p.PublicAccessBlockConfiguration ?? {}) as Record<string, unknown>;
      const missing = PUBLIC_ACCESS_BLOCKS.filter((k) => pab[k] !== true);
      if (missing.length > 0) {
        errors.push(
          `${b}: public access blocks ${missing.join(', ')} must all be true (BlockPublicAccess.BLOCK_ALL).`,
        );
      }
      const sse = asArray(
        (p.BucketEncryption as { ServerSideEncryptionConfiguration?: unknown[] } | undefined)
          ?.ServerSideEncryptionConfiguration as {
          ServerSideEncryptionByDefault?: { SSEAlgorithm?: string };
        }[],
      );
      if (!sse.some((r) => r.ServerSideEncryptionByDefault?.SSEAlgorithm)) {
        errors.push(`${b}: default encryption is missing; set encryption to S3-managed or KMS.`);
      }
      // bucket-tls-only: the Deny enforceSSL writes, on the bucket and its objects.
      const tlsOnly = bucketStatements(model, b).some((s) => {
        const resources = asArray(s.Resource as unknown[]).map(flatten);
        const principal = s.Principal === '*' || (s.Principal as { AWS?: unknown })?.AWS === '*';
        return (
          s.Effect === 'Deny' &&
          principal &&
          asArray(s.Action as string[]).includes('s3:*') &&
          String(s.Condition?.Bool?.['aws:SecureTransport']) === 'false' &&
          resources.includes(`@${b}.Arn`) &&
          resources.includes(`@${b}.Arn/*`)
        );
      });
      if (!tlsOnly) {
        errors.push(`${b}: bucket policy must deny every request without TLS (enforceSSL: true).`);
      }
    }
    return errors;
  },
};
