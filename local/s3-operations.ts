import { runUnsafeSimulation } from '@cloud-copilot/iam-simulate';
import { createValidatedPolicy, validateIdentityPolicy } from '@cloud-copilot/iam-policy';
import type { SandboxSession } from './contracts';
import { evaluateS3 } from './policy';
import { sessionArn, type PolicyModel, type WebIdentityRoleModel } from './policy-model';
import { unknownConditionOperators, type SimulationPolicy } from './policy-validation';
import { accessDenied, S3Error } from './s3-errors';
import type { QueryParam } from './sigv4';

/**
 * Which S3 operation a request is, which IAM checks it needs, and the checks themselves.
 *
 * The request is classified the way S3 (and, for what is forwarded, s3rver) reads it: by
 * method, by whether it names a key, and by its sub-resource query parameter (`?uploads`,
 * `?uploadId`, `?delete`...). Anything outside the table is refused with AccessDenied, and
 * so is any query parameter the operation does not know: s3rver picks its handler from the
 * query too, so an unexpected parameter could make it run something that was not authorized.
 */

/** Query parameters that select a sub-resource in S3 or in s3rver (its `METHODS`). */
const SELECTORS = new Set([
  'accelerate',
  'acl',
  'analytics',
  'attributes',
  'cors',
  'delete',
  'encryption',
  'intelligent-tiering',
  'inventory',
  'legal-hold',
  'lifecycle',
  'location',
  'logging',
  'metadataConfiguration',
  'metrics',
  'notification',
  'object-lock',
  'ownershipControls',
  'policy',
  'policyStatus',
  'publicAccessBlock',
  'renameObject',
  'replication',
  'requestPayment',
  'restore',
  'retention',
  'select',
  'session',
  'tagging',
  'torrent',
  'uploadId',
  'uploads',
  'versioning',
  'versions',
  'website',
]);

/** How the proxy carries an operation out. */
export type Handler =
  | 'forward'
  | 'list-objects'
  | 'list-objects-v2'
  | 'head-bucket'
  | 'delete-objects'
  | 'list-parts'
  | 'abort-upload';

/** One IAM question: may the session do `action` on `resource`? */
export interface AccessCheck {
  readonly action: string;
  readonly resource: string;
  /** `s3:prefix` of ListBucket; absent when the request has no prefix. */
  readonly prefix?: string;
}

export interface S3Operation {
  /** The S3 API name, e.g. `PutObject`. */
  readonly name: string;
  readonly handler: Handler;
  readonly bucket: string;
  /** The decoded key; undefined for bucket operations. */
  readonly key?: string;
  /** Every IAM check the request needs before anything reaches the store. */
  readonly checks: readonly AccessCheck[];
  /** The copy source of CopyObject, decoded. */
  readonly copySource?: {
    readonly bucket: string;
    readonly key: string;
    readonly versionId?: string;
  };
}

interface Rule {
  readonly name: string;
  readonly method: string;
  readonly target: 'object' | 'bucket';
  readonly selector?: string;
  /** An extra condition telling two operations with the same method and selector apart. */
  readonly when?: (r: RequestFacts) => boolean;
  /** Other query parameters the operation takes. */
  readonly params: readonly string[];
  readonly handler: Handler;
  /** The IAM action of the main check, from the request. */
  readonly action: (r: RequestFacts) => string;
}

interface RequestFacts {
  readonly query: ReadonlyMap<string, string>;
  readonly header: (name: string) => string | undefined;
}

const RESPONSE_OVERRIDES = [
  'response-cache-control',
  'response-content-disposition',
  'response-content-encoding',
  'response-content-language',
  'response-content-type',
  'response-expires',
];

const versioned = (plain: string, version: string) => (r: RequestFacts) =>
  r.query.has('versionId') ? version : plain;
const fixed = (action: string) => () => action;
const isCopy = (r: RequestFacts) => r.header('x-amz-copy-source') !== undefined;

/**
 * The operation -> IAM action table (the bucket ARN for bucket operations, the object ARN
 * otherwise). Multipart steps authorize as `s3:PutObject`, as AWS documents.
 */
const RULES: readonly Rule[] = [
  {
    name: 'GetObject',
    method: 'GET',
    target: 'object',
    params: ['versionId', 'partNumber', ...RESPONSE_OVERRIDES],
    handler: 'forward',
    action: versioned('s3:GetObject', 's3:GetObjectVersion'),
  },
  {
    name: 'HeadObject',
    method: 'HEAD',
    target: 'object',
    params: ['versionId', 'partNumber', ...RESPONSE_OVERRIDES],
    handler: 'forward',
    action: versioned('s3:GetObject', 's3:GetObjectVersion'),
  },
  {
    name: 'CopyObject',
    method: 'PUT',
    target: 'object',
    when: isCopy,
    params: [],
    handler: 'forward',
    action: fixed('s3:PutObject'),
  },
  {
    name: 'PutObject',
    method: 'PUT',
    target: 'object',
    when: (r) => !isCopy(r),
    params: [],
    handler: 'forward',
    action: fixed('s3:PutObject'),
  },
  {
    name: 'DeleteObject',
    method: 'DELETE',
    target: 'object',
    params: ['versionId'],
    handler: 'forward',
    action: versioned('s3:DeleteObject', 's3:DeleteObjectVersion'),
  },
  {
    name: 'CreateMultipartUpload',
    method: 'POST',
    target: 'object',
    selector: 'uploads',
    params: [],
    handler: 'forward',
    action: fixed('s3:PutObject'),
  },
  {
    name: 'UploadPart',
    method: 'PUT',
    target: 'object',
    selector: 'uploadId',
    when: (r) => !isCopy(r),
    params: ['partNumber'],
    handler: 'forward',
    action: fixed('s3:PutObject'),
  },
  {
    name: 'CompleteMultipartUpload',
    method: 'POST',
    target: 'object',
    selector: 'uploadId',
    params: [],
    handler: 'forward',
    action: fixed('s3:PutObject'),
  },
  {
    name: 'AbortMultipartUpload',
    method: 'DELETE',
    target: 'object',
    selector: 'uploadId',
    params: [],
    handler: 'abort-upload',
    action: fixed('s3:AbortMultipartUpload'),
  },
  {
    name: 'ListParts',
    method: 'GET',
    target: 'object',
    selector: 'uploadId',
    params: ['max-parts', 'part-number-marker'],
    handler: 'list-parts',
    action: fixed('s3:ListMultipartUploadParts'),
  },
  {
    name: 'GetObjectTagging',
    method: 'GET',
    target: 'object',
    selector: 'tagging',
    params: ['versionId'],
    handler: 'forward',
    action: versioned('s3:GetObjectTagging', 's3:GetObjectVersionTagging'),
  },
  {
    name: 'PutObjectTagging',
    method: 'PUT',
    target: 'object',
    selector: 'tagging',
    params: ['versionId'],
    handler: 'forward',
    action: versioned('s3:PutObjectTagging', 's3:PutObjectVersionTagging'),
  },
  {
    name: 'ListObjectsV2',
    method: 'GET',
    target: 'bucket',
    when: (r) => r.query.get('list-type') === '2',
    params: [
      'list-type',
      'prefix',
      'delimiter',
      'max-keys',
      'encoding-type',
      'continuation-token',
      'start-after',
      'fetch-owner',
    ],
    handler: 'list-objects-v2',
    action: fixed('s3:ListBucket'),
  },
  {
    name: 'ListObjects',
    method: 'GET',
    target: 'bucket',
    when: (r) => !r.query.has('list-type'),
    params: ['prefix', 'delimiter', 'max-keys', 'encoding-type', 'marker'],
    handler: 'list-objects',
    action: fixed('s3:ListBucket'),
  },
  {
    name: 'HeadBucket',
    method: 'HEAD',
    target: 'bucket',
    params: [],
    handler: 'head-bucket',
    action: fixed('s3:ListBucket'),
  },
  {
    name: 'GetBucketLocation',
    method: 'GET',
    target: 'bucket',
    selector: 'location',
    params: [],
    handler: 'forward',
    action: fixed('s3:GetBucketLocation'),
  },
  {
    name: 'ListMultipartUploads',
    method: 'GET',
    target: 'bucket',
    selector: 'uploads',
    params: [
      'prefix',
      'delimiter',
      'key-marker',
      'upload-id-marker',
      'max-uploads',
      'encoding-type',
    ],
    handler: 'forward',
    action: fixed('s3:ListBucketMultipartUploads'),
  },
  // Authorized per key (s3:DeleteObject) once the body is read.
  {
    name: 'DeleteObjects',
    method: 'POST',
    target: 'bucket',
    selector: 'delete',
    params: [],
    handler: 'delete-objects',
    action: fixed('s3:DeleteObject'),
  },
];

/** Operations that write an object and may set its tags, ACL or encryption. */
export const OBJECT_WRITES = new Set(['PutObject', 'CopyObject', 'CreateMultipartUpload']);

/**
 * An `x-amz-*` header as the request gives it: as a header, or (presigned URLs) hoisted
 * into the query.
 */
export function amzValue(
  name: string,
  header: (name: string) => string | undefined,
  query: ReadonlyMap<string, string>,
): string | undefined {
  return header(name) ?? [...query].find(([n]) => n.toLowerCase() === name)?.[1];
}

/** Whether a write sets the new object's tags (`x-amz-tagging`). */
function setsTags(operation: string, r: RequestFacts): boolean {
  if (!OBJECT_WRITES.has(operation)) return false;
  if (amzValue('x-amz-tagging', r.header, r.query) === undefined) return false;
  // A copy takes the source's tags unless it asks to replace them.
  return (
    operation !== 'CopyObject' ||
    amzValue('x-amz-tagging-directive', r.header, r.query)?.toUpperCase() === 'REPLACE'
  );
}

/**
 * S3's refusal of an ACL on a write to a bucket whose Object Ownership disables ACLs
 * (`BucketOwnerEnforced`): any `x-amz-grant-*`, or a canned ACL other than
 * `bucket-owner-full-control` (which S3 accepts there).
 */
export function checkAcl(
  model: PolicyModel,
  op: S3Operation,
  header: (name: string) => string | undefined,
  query: ReadonlyMap<string, string>,
): void {
  if (!OBJECT_WRITES.has(op.name)) return;
  const bucket = model.buckets.find((b) => b.name === op.bucket);
  if (bucket?.objectOwnership !== 'BucketOwnerEnforced') return;
  const canned = amzValue('x-amz-acl', header, query);
  const grants = ['read', 'write', 'read-acp', 'write-acp', 'full-control'].filter(
    (g) => amzValue(`x-amz-grant-${g}`, header, query) !== undefined,
  );
  if ((canned !== undefined && canned !== 'bucket-owner-full-control') || grants.length > 0) {
    throw new S3Error('AccessControlListNotSupported', 'The bucket does not allow ACLs');
  }
}

/** Parameters any operation may carry: the SDK's operation hint, auth, hoisted headers. */
const ALWAYS_ALLOWED = (name: string) => name === 'x-id' || name.toLowerCase().startsWith('x-amz-');

export const objectArn = (model: PolicyModel, bucket: string, key: string): string =>
  `arn:${model.env.partition}:s3:::${bucket}/${key}`;
export const bucketArn = (model: PolicyModel, bucket: string): string =>
  `arn:${model.env.partition}:s3:::${bucket}`;

/**
 * Why the sandbox refuses a key, or undefined. Real S3 accepts both, but here they would
 * break a guarantee: iam-simulate treats `*` in a request resource as a wildcard (so
 * `users/google/*` would be "allowed" to every Google user), and s3rver maps keys to file
 * paths, resolving `..` segments (so `users/google/alice/../bob/x` would land in bob's files
 * after being authorized as alice's).
 */
export function keyProblem(key: string): string | undefined {
  if (key.includes('*')) {
    return "Access Denied: the sandbox refuses object keys containing '*' (its policy engine would read '*' in a resource as a wildcard, not as a character).";
  }
  if (key.split('/').some((s) => s === '.' || s === '..')) {
    return "Access Denied: the sandbox refuses object keys with '.' or '..' path segments (its file store would resolve them outside the key's prefix).";
  }
  if (key.includes('\u0000')) {
    return 'Access Denied: the sandbox refuses object keys containing NUL (its file store cannot hold them).';
  }
  return undefined;
}

export function checkKey(key: string): void {
  if (Buffer.byteLength(key) > 1024) {
    throw new S3Error('KeyTooLongError', 'Your key is too long', { MaxSizeAllowed: '1024' });
  }
  const problem = keyProblem(key);
  if (problem) throw accessDenied(problem);
}

/** Parses `x-amz-copy-source` (`[/]bucket/key[?versionId=v]`, URL-encoded). */
export function parseCopySource(value: string): {
  bucket: string;
  key: string;
  versionId?: string;
} {
  const q = value.indexOf('?');
  const path = q === -1 ? value : value.slice(0, q);
  let decoded: string;
  try {
    decoded = decodeURIComponent(path).replace(/^\//, '');
  } catch {
    throw new S3Error(
      'InvalidArgument',
      'Copy Source must mention the source bucket and key: sourcebucket/sourcekey',
      {
        ArgumentName: 'x-amz-copy-source',
      },
    );
  }
  const slash = decoded.indexOf('/');
  let versionId: string | undefined;
  if (q !== -1) {
    const params = new URLSearchParams(value.slice(q + 1));
    versionId = params.get('versionId') ?? undefined;
    if ([...params.keys()].some((k) => k !== 'versionId')) {
      throw new S3Error('InvalidArgument', 'Copy Source may only carry a versionId', {
        ArgumentName: 'x-amz-copy-source',
      });
    }
  }
  if (slash <= 0 || slash === decoded.length - 1) {
    throw new S3Error(
      'InvalidArgument',
      'Copy Source must mention the source bucket and key: sourcebucket/sourcekey',
      {
        ArgumentName: 'x-amz-copy-source',
      },
    );
  }
  return { bucket: decoded.slice(0, slash), key: decoded.slice(slash + 1), versionId };
}

/**
 * Classifies a request into an S3 operation with its IAM checks. Throws AccessDenied for
 * anything outside the table (the sandbox never forwards what it did not authorize).
 */
export function classify(
  model: PolicyModel,
  request: {
    readonly method: string;
    readonly bucket?: string;
    readonly key?: string;
    readonly query: readonly QueryParam[];
    readonly header: (name: string) => string | undefined;
  },
): S3Operation {
  const { method, bucket, key } = request;
  if (bucket === undefined) {
    throw accessDenied(
      'Access Denied: ListBuckets (and every request without a bucket) is not available to web identity sessions.',
    );
  }
  const knownBucket = (name: string) => {
    if (!model.buckets.some((b) => b.name === name)) {
      throw new S3Error('NoSuchBucket', 'The specified bucket does not exist', {
        BucketName: name,
      });
    }
  };
  knownBucket(bucket);
  const query = new Map<string, string>();
  for (const [name, value] of request.query) {
    if (query.has(name) && !ALWAYS_ALLOWED(name)) {
      throw new S3Error('InvalidArgument', `The query parameter ${name} is given more than once.`);
    }
    query.set(name, value);
  }
  const selectors = [...query.keys()].filter((n) => SELECTORS.has(n));
  if (selectors.length > 1) {
    throw new S3Error(
      'InvalidArgument',
      `Conflicting query string parameters: ${selectors.join(', ')}`,
    );
  }
  const facts: RequestFacts = { query, header: request.header };
  const target = key === undefined ? 'bucket' : 'object';
  const rule = RULES.find(
    (r) =>
      r.method === method &&
      r.target === target &&
      r.selector === selectors[0] &&
      (r.when === undefined || r.when(facts)),
  );
  const what = `${method} ${target}${selectors[0] ? ` ?${selectors[0]}` : ''}`;
  if (!rule) {
    throw accessDenied(`Access Denied: the sandbox does not support this operation (${what}).`);
  }
  const unexpected = [...query.keys()].filter(
    (n) => n !== rule.selector && !rule.params.includes(n) && !ALWAYS_ALLOWED(n),
  );
  if (unexpected.length > 0) {
    throw accessDenied(
      `Access Denied: the sandbox does not support the query parameter(s) ${unexpected.join(', ')} on ${rule.name}.`,
    );
  }
  const action = rule.action(facts);
  const checks: AccessCheck[] = [];
  let copySource: S3Operation['copySource'];
  if (key !== undefined) {
    checkKey(key);
    checks.push({ action, resource: objectArn(model, bucket, key) });
  } else if (rule.handler !== 'delete-objects') {
    const prefix =
      action === 's3:ListBucket' && rule.name !== 'HeadBucket' ? query.get('prefix') : undefined;
    checks.push({
      action,
      resource: bucketArn(model, bucket),
      ...(prefix !== undefined ? { prefix } : {}),
    });
  }
  if (key !== undefined && setsTags(rule.name, facts)) {
    // S3 authorizes tags given with a write as PutObjectTagging, on top of the write.
    checks.push({ action: 's3:PutObjectTagging', resource: objectArn(model, bucket, key) });
  }
  if (rule.name === 'CopyObject') {
    copySource = parseCopySource(request.header('x-amz-copy-source')!);
    knownBucket(copySource.bucket);
    checkKey(copySource.key);
    checks.push({
      action: copySource.versionId !== undefined ? 's3:GetObjectVersion' : 's3:GetObject',
      resource: objectArn(model, copySource.bucket, copySource.key),
    });
  }
  return { name: rule.name, handler: rule.handler, bucket, key, checks, copySource };
}

/** Provider keys of a session that bind policy variables; `aws:` and `s3:` keys are the server's. */
function sessionClaims(session: SandboxSession): Record<string, string> {
  const claims: Record<string, string> = {};
  for (const [k, v] of Object.entries(session.contextKeys)) {
    if (!/^(aws|s3):/i.test(k)) claims[k] = v;
  }
  return claims;
}

/** The outcome of one check, with the reason when denied (for the log and the message). */
export interface Decision {
  readonly allowed: boolean;
  readonly reason?: string;
}

/**
 * Evaluates checks for a session: the role's identity policies and the bucket policy with
 * iam-simulate (through `evaluateS3`), then the session policies on their own, since
 * iam-simulate ignores session policies. Effective access is the intersection: a request
 * is allowed only when the role allows it and the session policies allow it. The session
 * policies (the inline `Policy` and each of `PolicyArns`) are one set, as IAM evaluates
 * them: an Allow in any of them counts, a Deny in any of them wins.
 */
const MAX_DECISIONS_PER_SESSION = 1000;

export class Authorizer {
  private readonly sessionPolicies = new WeakMap<
    SandboxSession,
    readonly SimulationPolicy[] | string
  >();

  /**
   * Decisions per session. A decision is a pure function of the (immutable) session, the
   * check and the policy model, so repeated requests (a browser listing, a client reading
   * the same object) skip iam-simulate. Bounded per session.
   */
  private readonly decisions = new WeakMap<SandboxSession, Map<string, Decision>>();

  constructor(private readonly model: PolicyModel) {}

  decide(session: SandboxSession, check: AccessCheck): Decision {
    let memo = this.decisions.get(session);
    if (!memo) {
      memo = new Map();
      this.decisions.set(session, memo);
    }
    const key = JSON.stringify([check.action, check.resource, check.prefix ?? null]);
    const hit = memo.get(key);
    if (hit) return hit;
    let decision: Decision;
    try {
      decision = this.evaluate(session, check);
    } catch (e) {
      // Fail closed: an evaluation that cannot complete is a denial, never an allow.
      decision = { allowed: false, reason: `evaluation failed: ${(e as Error).message}` };
    }
    if (memo.size >= MAX_DECISIONS_PER_SESSION) memo.clear();
    memo.set(key, decision);
    return decision;
  }

  private evaluate(session: SandboxSession, check: AccessCheck): Decision {
    const role = this.model.roles.find((r) => r.logicalId === session.roleLogicalId);
    if (!role)
      return {
        allowed: false,
        reason: `no web identity role ${session.roleLogicalId} in the template`,
      };
    const claims = sessionClaims(session);
    const request = {
      action: check.action,
      resource: check.resource,
      claims,
      prefix: check.prefix,
      sessionName: session.sessionName,
    };
    const identity = evaluateS3(this.model, role, request);
    if (identity !== 'Allowed') return { allowed: false, reason: `role policies: ${identity}` };
    const policies = this.sessionPoliciesOf(session);
    if (typeof policies === 'string') return { allowed: false, reason: policies };
    if (policies.length > 0) {
      const result = this.evaluateSessionPolicies(role, session, policies, check, claims);
      if (result !== 'Allowed') return { allowed: false, reason: `session policies: ${result}` };
    }
    return { allowed: true };
  }

  /** The session's validated policies (none: not narrowed), or why they cannot be used. */
  private sessionPoliciesOf(session: SandboxSession): readonly SimulationPolicy[] | string {
    const cached = this.sessionPolicies.get(session);
    if (cached !== undefined) return cached;
    const result = this.loadSessionPolicies(session);
    this.sessionPolicies.set(session, result);
    return result;
  }

  private loadSessionPolicies(session: SandboxSession): readonly SimulationPolicy[] | string {
    const policies: SimulationPolicy[] = [];
    for (const arn of session.sessionPolicyArns ?? []) {
      const managed = this.model.managedPolicies.get(arn);
      // Ignoring a session policy would widen the session: one the sandbox lacks denies.
      if (!managed) return `the managed session policy ${arn} is not in the template`;
      policies.push(managed);
    }
    if (session.sessionPolicy !== undefined && session.sessionPolicy !== null) {
      const unknown = unknownConditionOperators(session.sessionPolicy);
      if (unknown.length > 0) {
        // iam-simulate would ignore these operators (failing open for Deny): refuse instead.
        return `the session policy uses condition operators the sandbox cannot evaluate: ${unknown.join('; ')}`;
      }
      const policy = createValidatedPolicy(session.sessionPolicy, validateIdentityPolicy, {
        name: 'session-policy',
      });
      if (policy.errors.length > 0) {
        return `the session policy is invalid: ${policy.errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`;
      }
      policies.push(policy);
    }
    return policies;
  }

  private evaluateSessionPolicies(
    role: WebIdentityRoleModel,
    session: SandboxSession,
    policies: readonly SimulationPolicy[],
    check: AccessCheck,
    claims: Record<string, string>,
  ): string {
    const contextVariables: Record<string, string> = { ...claims, 'aws:SecureTransport': 'true' };
    if (check.prefix !== undefined) contextVariables['s3:prefix'] = check.prefix;
    return runUnsafeSimulation(
      {
        request: {
          principal: sessionArn(this.model, role, session.sessionName),
          action: check.action,
          resource: { resource: check.resource, accountId: this.model.env.accountId },
          contextVariables,
        },
        identityPolicies: policies.map((policy, i) => ({ name: `session-policy-${i}`, policy })),
        serviceControlPolicies: [],
        resourceControlPolicies: [],
      },
      {},
    );
  }
}
