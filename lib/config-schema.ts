import { z } from 'zod';
import { DEFAULT_LOG_RETENTION_DAYS, DEFAULT_THROTTLE } from './callback-app';

/**
 * The zod schema of a stage config file (`config/<stage>.json`): its shape, types and
 * defaults. What the values must satisfy beyond their shape is in `config-problems.ts`.
 */

const strings = z.array(z.string());
const extras = {
  /** Only these subjects may sign in (exact ids). */
  allowedSubjects: strings.optional(),
  /** An existing Secrets Manager secret holding the OAuth client secret; otherwise one is created. */
  clientSecretArn: z.string().optional(),
  /** Free text for humans; ignored. */
  $comment: z.string().optional(),
};

const amazonSchema = z.strictObject({ type: z.literal('amazon'), appId: z.string(), ...extras });
const facebookSchema = z.strictObject({
  type: z.literal('facebook'),
  appId: z.string(),
  ...extras,
});
const googleSchema = z.strictObject({ type: z.literal('google'), clientIds: strings, ...extras });
const oidcSchema = z.strictObject({
  type: z.literal('oidc'),
  name: z.string(),
  issuerUrl: z.string(),
  clientIds: strings,
  thumbprints: strings.optional(),
  amr: strings.optional(),
  ...extras,
});
const cognitoSchema = z.strictObject({
  type: z.literal('cognito'),
  name: z.string().optional(),
  userPoolId: z.string(),
  clientIds: strings,
  amr: strings.optional(),
  ...extras,
});

const providerSchema = z.discriminatedUnion(
  'type',
  [amazonSchema, facebookSchema, googleSchema, oidcSchema, cognitoSchema],
  {
    error: (issue) =>
      issue.code === 'invalid_union'
        ? 'provider "type" must be one of "amazon", "facebook", "google", "oidc", "cognito"'
        : undefined,
  },
);

export const configSchema = z.strictObject({
  $schema: z.string().optional(),
  $comment: z.string().optional(),
  /** True only for the local sandbox stage: allows http:// and 127.0.0.1 origins. */
  sandbox: z.boolean().default(false),
  env: z
    .strictObject({
      account: z
        .string()
        .regex(/^\d{12}$/, 'account must be a 12-digit AWS account id')
        .optional(),
      region: z
        .string()
        .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'region must look like eu-west-1')
        .optional(),
    })
    .default({}),
  providers: z.array(providerSchema).min(1, 'configure at least one provider'),
  bucket: z
    .strictObject({
      encryption: z.enum(['s3', 'kms']).default('s3'),
      noncurrentVersionExpirationDays: z.number().default(30),
      abortIncompleteMultipartUploadDays: z.number().default(7),
      accessLogRetentionDays: z.number().default(365),
      destroyOnDelete: z.boolean().default(false),
    })
    .default({
      encryption: 's3',
      noncurrentVersionExpirationDays: 30,
      abortIncompleteMultipartUploadDays: 7,
      accessLogRetentionDays: 365,
      destroyOnDelete: false,
    }),
  app: z
    .strictObject({
      $comment: z.string().optional(),
      /** Origins of the web app that upload and download with presigned URLs (CORS). */
      origins: strings.default([]),
      /** A custom domain for the callback app. */
      domain: z
        .strictObject({
          $comment: z.string().optional(),
          name: z.string(),
          hostedZoneId: z.string().optional(),
          hostedZoneName: z.string().optional(),
          certificateArn: z.string().optional(),
        })
        .optional(),
      /** Default stage throttling of the HTTP API. */
      throttle: z
        .strictObject({
          rateLimit: z.number().default(DEFAULT_THROTTLE.rateLimit),
          burstLimit: z.number().default(DEFAULT_THROTTLE.burstLimit),
        })
        .default({ ...DEFAULT_THROTTLE }),
      /** Retention of the function's logs and the API access logs. */
      logRetentionDays: z.number().default(DEFAULT_LOG_RETENTION_DAYS),
      /** Public base URL, when the app is reached through something else (a CDN, the sandbox). */
      baseUrl: z.string().optional(),
      /**
       * Serve /api/session and /api/credentials to same-origin pages so browser or mobile
       * code can call S3 with the AWS SDK directly (the bucket's CORS then allows it too).
       */
      clientCredentials: z.boolean().default(false),
    })
    .default({
      origins: [],
      clientCredentials: false,
      throttle: { ...DEFAULT_THROTTLE },
      logRetentionDays: DEFAULT_LOG_RETENTION_DAYS,
    }),
  session: z
    .strictObject({
      maxSessionDurationSeconds: z.number().default(3600),
      durationSeconds: z.number().optional(),
      sessionPolicyArns: strings.default([]),
      allowTagSession: z.boolean().default(false),
      allowSetSourceIdentity: z.boolean().default(false),
    })
    .default({
      maxSessionDurationSeconds: 3600,
      sessionPolicyArns: [],
      allowTagSession: false,
      allowSetSourceIdentity: false,
    }),
});

export type RawStageConfig = z.input<typeof configSchema>;
export type ParsedConfig = z.output<typeof configSchema>;
export type ProviderEntry = z.output<typeof providerSchema>;
