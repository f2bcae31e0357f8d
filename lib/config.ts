import { z } from 'zod';
import { BUILT_IN_PROVIDERS, cognitoIssuer } from '../common/provider-facts';
import {
  Provider,
  validateAmazonAppId,
  validateCognitoUserPoolId,
  validateFacebookAppId,
  validateGoogleClientIds,
  validateOidcOptions,
} from './providers';
import { validateSessionOptions, validateTrustExtras } from './web-identity-role';
import { UserDataEncryption, validateBucketOptions } from './user-data-bucket';
import { DEFAULT_LOG_RETENTION_DAYS, DEFAULT_THROTTLE } from './callback-app';
import {
  validateBaseUrl,
  validateCertificateArn,
  validateDomainName,
  validateLogRetentionDays,
  validateThrottle,
  validateClientSecretArn,
} from './callback-app-validation';

/**
 * The configuration of one stage (`config/<stage>.json`), validated as a whole: every
 * problem is reported at once, each with the bad value and the fix.
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

const configSchema = z.strictObject({
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
type ParsedConfig = z.output<typeof configSchema>;
type ProviderEntry = z.output<typeof providerSchema>;

/** One provider as the stacks use it. */
export interface ProviderConfig {
  readonly provider: Provider;
  readonly allowedSubjects?: string[];
  readonly amr?: string[];
  /** An existing secret with the OAuth client secret; otherwise the stack creates one. */
  readonly clientSecretArn?: string;
}

/** The callback app's custom domain. */
export interface AppDomainConfig {
  /** The host name, e.g. `files.example.com`. */
  readonly name: string;
  /** A Route 53 public hosted zone for the DNS validation and the alias records. */
  readonly hostedZone?: { readonly id: string; readonly name: string };
  /** An existing ACM certificate in the stack's region. */
  readonly certificateArn?: string;
}

/** The validated, typed configuration of one stage. */
export interface StageConfig {
  readonly stage: string;
  readonly sandbox: boolean;
  readonly env: { readonly account?: string; readonly region?: string };
  readonly providers: readonly ProviderConfig[];
  readonly bucket: {
    readonly encryption: UserDataEncryption;
    readonly noncurrentVersionExpirationDays: number;
    readonly abortIncompleteMultipartUploadDays: number;
    readonly accessLogRetentionDays: number;
    readonly destroyOnDelete: boolean;
  };
  readonly app: {
    readonly origins: readonly string[];
    readonly domain?: AppDomainConfig;
    readonly throttle: { readonly rateLimit: number; readonly burstLimit: number };
    readonly logRetentionDays: number;
    readonly baseUrl?: string;
    /**
     * The app serves /api/session and /api/credentials to same-origin pages, so browser
     * or mobile code can call S3 with the AWS SDK and the user's temporary credentials.
     */
    readonly clientCredentials: boolean;
  };
  readonly session: {
    readonly maxSessionDurationSeconds: number;
    readonly durationSeconds: number;
    readonly sessionPolicyArns: readonly string[];
    readonly allowTagSession: boolean;
    readonly allowSetSourceIdentity: boolean;
  };
}

/** Thrown with every problem of a config, one per line. */
export class ConfigError extends Error {
  constructor(
    public readonly source: string,
    public readonly problems: string[],
  ) {
    super(
      `Invalid configuration in ${source} (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` +
        problems.map((p) => `  - ${p}`).join('\n'),
    );
    this.name = 'ConfigError';
  }
}

const STAGE_PATTERN = /^[a-z][a-z0-9-]{0,20}$/;

/**
 * Validates raw JSON for a stage. Throws a `ConfigError` listing every problem.
 * @param source the file name, for messages
 */
export function parseStageConfig(
  stage: string,
  raw: unknown,
  source = `config/${stage}.json`,
): StageConfig {
  const problems: string[] = [];
  if (!STAGE_PATTERN.test(stage)) {
    problems.push(
      `stage name ${JSON.stringify(stage)} must be 1-21 lower-case letters, digits or dashes, starting with a letter (it becomes part of the stack name).`,
    );
  }
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    for (const issue of result.error.issues) {
      problems.push(formatIssue(issue, raw));
    }
    throw new ConfigError(source, problems);
  }
  const cfg = result.data;
  problems.push(...domainProblems(cfg));
  if (problems.length > 0) throw new ConfigError(source, problems);

  const durationSeconds = cfg.session.durationSeconds ?? cfg.session.maxSessionDurationSeconds;
  return {
    stage,
    sandbox: cfg.sandbox,
    env: cfg.env,
    providers: cfg.providers.map((p) => ({
      provider: toProvider(p),
      allowedSubjects: p.allowedSubjects,
      amr: 'amr' in p ? p.amr : undefined,
      clientSecretArn: p.clientSecretArn,
    })),
    bucket: {
      ...cfg.bucket,
      encryption:
        cfg.bucket.encryption === 'kms' ? UserDataEncryption.KMS : UserDataEncryption.S3_MANAGED,
    },
    app: {
      origins: cfg.app.origins,
      domain: cfg.app.domain && {
        name: cfg.app.domain.name,
        hostedZone:
          cfg.app.domain.hostedZoneId !== undefined && cfg.app.domain.hostedZoneName !== undefined
            ? { id: cfg.app.domain.hostedZoneId, name: cfg.app.domain.hostedZoneName }
            : undefined,
        certificateArn: cfg.app.domain.certificateArn,
      },
      throttle: cfg.app.throttle,
      logRetentionDays: cfg.app.logRetentionDays,
      baseUrl: cfg.app.baseUrl,
      clientCredentials: cfg.app.clientCredentials,
    },
    session: { ...cfg.session, durationSeconds },
  };
}

function toProvider(p: ProviderEntry): Provider {
  switch (p.type) {
    case 'amazon':
      return Provider.amazon(p.appId);
    case 'facebook':
      return Provider.facebook(p.appId);
    case 'google':
      return Provider.google(p.clientIds);
    case 'oidc':
      return Provider.oidc({
        name: p.name,
        issuerUrl: p.issuerUrl,
        clientIds: p.clientIds,
        thumbprints: p.thumbprints,
      });
    case 'cognito':
      return Provider.cognitoUserPool({
        name: p.name,
        userPoolId: p.userPoolId,
        clientIds: p.clientIds,
      });
  }
}

function domainProblems(cfg: ParsedConfig): string[] {
  const problems: string[] = [];
  const at = (i: number, msgs: string[]) => msgs.map((m) => `providers[${i}]: ${m}`);
  const namespaces = new Map<string, number>();
  const issuers = new Map<string, number>();
  cfg.providers.forEach((p, i) => {
    let namespace: string = p.type;
    let issuer: string | undefined;
    switch (p.type) {
      case 'amazon':
        problems.push(...at(i, validateAmazonAppId(p.appId)));
        break;
      case 'facebook':
        problems.push(...at(i, validateFacebookAppId(p.appId)));
        break;
      case 'google':
        problems.push(...at(i, validateGoogleClientIds(p.clientIds)));
        issuer = BUILT_IN_PROVIDERS.google.issuer;
        break;
      case 'oidc':
        problems.push(...at(i, validateOidcOptions(p)));
        namespace = p.name;
        issuer = p.issuerUrl;
        break;
      case 'cognito': {
        const idProblems = validateCognitoUserPoolId(p.userPoolId);
        problems.push(...at(i, idProblems));
        namespace = p.name ?? 'cognito';
        if (idProblems.length === 0) {
          issuer = cognitoIssuer(p.userPoolId);
          problems.push(
            ...at(
              i,
              validateOidcOptions({ name: namespace, issuerUrl: issuer, clientIds: p.clientIds }),
            ),
          );
        }
        break;
      }
    }
    if (p.clientSecretArn !== undefined) {
      problems.push(
        ...validateClientSecretArn(p.clientSecretArn, cfg.env.region).map(
          (m) => `providers[${i}].clientSecretArn: ${m}`,
        ),
      );
    }
    problems.push(
      ...at(
        i,
        validateTrustExtras({
          family: p.type === 'cognito' ? 'oidc' : p.type,
          amr: 'amr' in p ? p.amr : undefined,
          allowedSubjects: p.allowedSubjects,
        }),
      ),
    );
    // 52: two entries for one provider would create two roles (or two OIDC providers
    // for one issuer, which IAM refuses at deploy time); say it now.
    const sameName = namespaces.get(namespace);
    if (sameName !== undefined) {
      problems.push(
        `providers[${i}]: duplicates providers[${sameName}] (both are "${namespace}"); merge their client ids into one entry, or give OIDC entries distinct names.`,
      );
    } else {
      namespaces.set(namespace, i);
    }
    if (issuer) {
      const sameIssuer = issuers.get(issuer);
      if (sameIssuer !== undefined && sameName === undefined) {
        problems.push(
          `providers[${i}]: issuer ${issuer} is already configured by providers[${sameIssuer}]; IAM allows one OIDC provider per issuer, so list all client ids in one entry.`,
        );
      } else {
        issuers.set(issuer, i);
      }
    }
  });

  problems.push(
    ...validateSessionOptions({
      maxSessionDurationSeconds: cfg.session.maxSessionDurationSeconds,
      durationSeconds: cfg.session.durationSeconds ?? cfg.session.maxSessionDurationSeconds,
      sessionPolicyArns: cfg.session.sessionPolicyArns,
    }).map((m) => `session: ${m}`),
  );
  problems.push(
    ...validateBucketOptions({
      ...cfg.bucket,
      encryption: undefined,
      corsOrigins: cfg.app.origins,
    }).map((m) => (m.startsWith('CORS') ? `app.origins: ${m}` : `bucket: ${m}`)),
  );
  problems.push(...appProblems(cfg));
  for (const origin of cfg.app.origins) {
    // 52: outside the sandbox, cookies marked Secure and the IdPs need HTTPS.
    if (!cfg.sandbox && origin.startsWith('http://')) {
      problems.push(
        `app.origins: ${JSON.stringify(origin)} is not HTTPS; outside the sandbox the app must be served over https:// (set "sandbox": true only for the local stage).`,
      );
    }
  }
  return problems;
}

/** The callback app's settings: domain and certificate (51), base URL (52), limits. */
function appProblems(cfg: ParsedConfig): string[] {
  const { app, sandbox, env } = cfg;
  const problems: string[] = [];
  const domain = app.domain;
  if (domain) {
    problems.push(...validateDomainName(domain.name).map((m) => `app.domain.name: ${m}`));
    const { hostedZoneId, hostedZoneName, certificateArn } = domain;
    const zone = hostedZoneId !== undefined || hostedZoneName !== undefined;
    if (!zone && certificateArn === undefined) {
      problems.push(
        `app.domain: ${JSON.stringify(domain.name)} needs a certificate; give hostedZoneId and hostedZoneName (a Route 53 public hosted zone of the domain: a DNS-validated certificate and the alias records are created), or certificateArn (an existing ACM certificate in the stack's region).`,
      );
    }
    if (zone && (hostedZoneId === undefined || hostedZoneName === undefined)) {
      problems.push(
        `app.domain: hostedZoneId and hostedZoneName go together, got ${hostedZoneId === undefined ? 'only hostedZoneName' : 'only hostedZoneId'}; copy both from the Route 53 console (Hosted zone details).`,
      );
    }
    if (hostedZoneId !== undefined && !/^Z[A-Z0-9]{1,31}$/.test(hostedZoneId)) {
      problems.push(
        `app.domain.hostedZoneId: must look like Z0123456789ABCDEFGHIJ (without "/hostedzone/"), got ${JSON.stringify(hostedZoneId)}.`,
      );
    }
    if (hostedZoneName !== undefined) {
      const nameProblems = validateDomainName(hostedZoneName);
      problems.push(...nameProblems.map((m) => `app.domain.hostedZoneName: ${m}`));
      if (
        nameProblems.length === 0 &&
        domain.name !== hostedZoneName &&
        !domain.name.endsWith('.' + hostedZoneName)
      ) {
        problems.push(
          `app.domain: ${JSON.stringify(domain.name)} is not in the hosted zone ${JSON.stringify(hostedZoneName)}; use the zone that holds the domain (the certificate is validated and the records are created there).`,
        );
      }
    }
    if (certificateArn !== undefined) {
      problems.push(
        ...validateCertificateArn(certificateArn, env.region).map(
          (m) => `app.domain.certificateArn: ${m}`,
        ),
      );
    }
  }
  problems.push(...validateThrottle(app.throttle).map((m) => `app.throttle: ${m}`));
  problems.push(
    ...validateLogRetentionDays(app.logRetentionDays).map((m) => `app.logRetentionDays: ${m}`),
  );
  if (app.baseUrl !== undefined) {
    problems.push(...validateBaseUrl(app.baseUrl, sandbox).map((m) => `app.baseUrl: ${m}`));
  }
  return problems;
}

function formatIssue(issue: z.core.$ZodIssue, raw: unknown): string {
  const path = issue.path
    .map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`))
    .join('')
    .replace(/^\./, '');
  const where = path === '' ? '(top level)' : path;
  if (issue.code === 'unrecognized_keys') {
    return `${where}: unknown setting${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}; remove ${issue.keys.length > 1 ? 'them' : 'it'} or fix the spelling (see config/example.json).`;
  }
  const value = issue.path.reduce<unknown>(
    (o, k) =>
      o !== null && typeof o === 'object' ? (o as Record<PropertyKey, unknown>)[k] : undefined,
    raw,
  );
  if (value === undefined && issue.code === 'invalid_type') {
    return `${where}: required ${issue.expected} setting is missing; add it (see config/example.json).`;
  }
  return `${where}: ${issue.message}, got ${JSON.stringify(value)}.`;
}
