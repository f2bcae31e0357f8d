/**
 * The table of the S3 operations the local S3 serves: for each, the method, whether it
 * names an object or a bucket, its sub-resource query parameter (`?uploads`, `?uploadId`,
 * `?delete`...), the other query parameters it takes, how the proxy carries it out, and the
 * IAM action it authorizes as. `classify` (`s3-operations.ts`) reads it.
 */

/** Query parameters that select a sub-resource in S3 or in s3rver (its `METHODS`). */
export const SELECTORS = new Set([
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

export interface Rule {
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

export interface RequestFacts {
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
export const RULES: readonly Rule[] = [
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
