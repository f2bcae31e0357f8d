import { Construct } from 'constructs';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as kms from 'aws-cdk-lib/aws-kms';

/** How objects are encrypted at rest. */
export enum UserDataEncryption {
  /** SSE-S3. */
  S3_MANAGED = 's3',
  /** SSE-KMS with a customer managed key created here (rotation on). */
  KMS = 'kms',
}

export interface UserDataBucketProps {
  /**
   * Encryption at rest.
   * @default UserDataEncryption.S3_MANAGED
   */
  readonly encryption?: UserDataEncryption;
  /**
   * Days after which overwritten or deleted versions are removed.
   * @default 30
   */
  readonly noncurrentVersionExpirationDays?: number;
  /**
   * Days after which incomplete multipart uploads are aborted.
   * @default 7
   */
  readonly abortIncompleteMultipartUploadDays?: number;
  /**
   * Days the server access logs are kept.
   * @default 365
   */
  readonly accessLogRetentionDays?: number;
  /**
   * Origins of the web app allowed to upload and download directly with presigned URLs.
   * @default - no CORS rule: browsers cannot call the bucket directly
   */
  readonly corsOrigins?: string[];
  /**
   * Pages on `corsOrigins` also call S3 with the AWS SDK and the user's temporary
   * credentials (the app's client-side credentials): CORS then also allows `DELETE` and
   * exposes the response headers the SDK reports ({@link CLIENT_SDK_EXPOSED_HEADERS}).
   * @default false - presigned uploads and downloads only
   */
  readonly clientCredentials?: boolean;
  /**
   * Delete the buckets with the stack. They must be empty then: no auto-delete custom
   * resource is added, because its Lambda would need data access to every user's files.
   * @default false - the buckets are retained
   */
  readonly destroyOnDelete?: boolean;
}

/** The bucket that holds every user's files under `users/<provider>/<subject>/`. */
export class UserDataBucket extends Construct {
  /** The user data bucket. */
  public readonly bucket: s3.Bucket;
  /** The bucket receiving the data bucket's server access logs. */
  public readonly logBucket: s3.Bucket;
  /** The KMS key, with `UserDataEncryption.KMS`. */
  public readonly encryptionKey?: kms.Key;

  constructor(scope: Construct, id: string, props: UserDataBucketProps = {}) {
    super(scope, id);
    // Log delivery authorised by a bucket policy on the log bucket, not by the legacy
    // LogDeliveryWrite ACL (ACLs are off with BucketOwnerEnforced).
    this.node.setContext('@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy', true);
    const errors = validateBucketOptions(props);
    if (errors.length > 0) throw new Error(errors.join('\n'));
    const removalPolicy = props.destroyOnDelete ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;

    this.logBucket = new s3.Bucket(this, 'AccessLogs', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      // Log delivery writes with SSE-S3 only; the logs hold no user content.
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ expiration: Duration.days(props.accessLogRetentionDays ?? 365) }],
      removalPolicy,
    });

    if ((props.encryption ?? UserDataEncryption.S3_MANAGED) === UserDataEncryption.KMS) {
      this.encryptionKey = new kms.Key(this, 'Key', {
        description: 'Encrypts the user data bucket',
        enableKeyRotation: true,
        removalPolicy,
      });
    }

    this.bucket = new s3.Bucket(this, 'Bucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      // A bucket policy Deny on aws:SecureTransport false (bucket-tls-only).
      enforceSSL: true,
      encryption: this.encryptionKey ? s3.BucketEncryption.KMS : s3.BucketEncryption.S3_MANAGED,
      encryptionKey: this.encryptionKey,
      // No S3 Bucket Key: with one, the KMS encryption context is the bucket ARN and the
      // users' key permissions could not be narrowed to their own prefix.
      bucketKeyEnabled: false,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned: true,
      serverAccessLogsBucket: this.logBucket,
      serverAccessLogsPrefix: 'user-data/',
      lifecycleRules: [
        {
          id: 'ExpireNoncurrentVersions',
          noncurrentVersionExpiration: Duration.days(props.noncurrentVersionExpirationDays ?? 30),
        },
        {
          id: 'AbortIncompleteMultipartUploads',
          abortIncompleteMultipartUploadAfter: Duration.days(
            props.abortIncompleteMultipartUploadDays ?? 7,
          ),
        },
      ],
      cors:
        props.corsOrigins && props.corsOrigins.length > 0
          ? [corsRule(props.corsOrigins, props.clientCredentials ?? false)]
          : undefined,
      removalPolicy,
    });
  }
}

/**
 * Response headers browsers may read besides the CORS-safelisted ones, when pages call S3
 * with the AWS SDK: `x-amz-version-id` is the `VersionId` of PutObject, GetObject and
 * DeleteObject (the bucket is versioned: it names the version to read or restore);
 * `x-amz-request-id` and `x-amz-id-2` are the SDK's `$metadata.requestId` and
 * `extendedRequestId`, what AWS Support needs to trace a failed call.
 */
export const CLIENT_SDK_EXPOSED_HEADERS: readonly string[] = [
  'x-amz-version-id',
  'x-amz-request-id',
  'x-amz-id-2',
];

/** The one CORS rule for the app's origins. */
function corsRule(origins: readonly string[], clientCredentials: boolean): s3.CorsRule {
  return {
    allowedOrigins: [...origins],
    allowedMethods: [
      s3.HttpMethods.GET,
      s3.HttpMethods.PUT,
      s3.HttpMethods.POST,
      s3.HttpMethods.HEAD,
      // DeleteObject from the SDK; the app's own pages delete through the app.
      ...(clientCredentials ? [s3.HttpMethods.DELETE] : []),
    ],
    allowedHeaders: ['*'],
    // The browser needs the ETag of each part to complete a multipart upload.
    exposedHeaders: ['ETag', ...(clientCredentials ? CLIENT_SDK_EXPOSED_HEADERS : [])],
    maxAge: 3000,
  };
}

/** Checks bucket options; messages carry the bad value and the fix. */
export function validateBucketOptions(props: UserDataBucketProps): string[] {
  const errors: string[] = [];
  const days = (name: string, v: number | undefined, min: number, max: number) => {
    if (v !== undefined && (!Number.isInteger(v) || v < min || v > max)) {
      errors.push(`${name} must be a whole number of days from ${min} to ${max}, got ${v}.`);
    }
  };
  days('noncurrentVersionExpirationDays', props.noncurrentVersionExpirationDays, 1, 3650);
  days('abortIncompleteMultipartUploadDays', props.abortIncompleteMultipartUploadDays, 1, 365);
  days('accessLogRetentionDays', props.accessLogRetentionDays, 1, 3650);
  for (const origin of props.corsOrigins ?? []) {
    if (!isOrigin(origin)) {
      errors.push(
        `CORS origin must be a scheme://host[:port] origin without path or wildcard, got ${JSON.stringify(origin)}.`,
      );
    }
  }
  return errors;
}

function isOrigin(value: string): boolean {
  try {
    const u = new URL(value);
    return (u.protocol === 'https:' || u.protocol === 'http:') && u.origin === value;
  } catch {
    return false;
  }
}
