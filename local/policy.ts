/**
 * Evaluates S3 requests and role assumptions on a `PolicyModel` with
 * `@cloud-copilot/iam-simulate`, so tests and the sandbox decide on what CloudFormation
 * would deploy, not on what the constructs meant to produce. Usage: `loadPolicyModel`
 * (`policy-model.ts`) once, then `evaluateS3` / `evaluateTrust` as often as needed.
 *
 * A `*` in a request resource is treated by iam-simulate as a wildcard pattern, not as a
 * literal key character: `users/google/*` is "allowed" for every Google user. S3 keys may
 * contain `*`, so `evaluateS3` refuses such resources instead of answering wrongly.
 */
import { runUnsafeSimulation, type EvaluationResult } from '@cloud-copilot/iam-simulate';
import { validateIdentityPolicy } from '@cloud-copilot/iam-policy';
import {
  sessionArn,
  WEB_IDENTITY_ACTION,
  type PolicyModel,
  type WebIdentityRoleModel,
} from './policy-model';
import { validated } from './policy-validation';

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
