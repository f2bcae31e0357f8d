import type { z } from 'zod';
import { Provider } from './providers';
import { UserDataEncryption } from './user-data-bucket';
import { domainProblems } from './config-problems';
import { configSchema, type ProviderEntry } from './config-schema';

/**
 * The configuration of one stage (`config/<stage>.json`), validated as a whole: every
 * problem is reported at once, each with the bad value and the fix. The schema is in
 * `config-schema.ts`, the checks beyond it in `config-problems.ts`.
 */

export type { RawStageConfig } from './config-schema';

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
