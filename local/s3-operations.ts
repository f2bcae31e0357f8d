import type { PolicyModel } from './policy-model';
import { accessDenied, S3Error } from './s3-errors';
import { checkKey, parseCopySource } from './s3-keys';
import { RULES, SELECTORS, type Handler, type RequestFacts } from './s3-operation-table';
import type { QueryParam } from './sigv4';

/**
 * Which S3 operation a request is and which IAM checks it needs.
 *
 * The request is classified the way S3 (and, for what is forwarded, s3rver) reads it: by
 * method, by whether it names a key, and by its sub-resource query parameter (`?uploads`,
 * `?uploadId`, `?delete`...), against the table in `s3-operation-table.ts`. Anything outside
 * the table is refused with AccessDenied, and so is any query parameter the operation does
 * not know: s3rver picks its handler from the query too, so an unexpected parameter could
 * make it run something that was not authorized. The checks are decided in
 * `s3-authorization.ts`.
 */

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
