import * as z from 'zod/mini';
import { PROVIDER_NAME } from './cli-protocol';
import { PROVIDER_FAMILIES, callbackPath } from './provider-facts';

/**
 * The callback app's runtime configuration: one JSON document in the APP_CONFIG
 * environment variable, written by the CDK app (lib/callback-app.ts, typed by `AppConfig`)
 * or the sandbox, and read by the Lambda function (lambda/callback/handler.ts).
 * Nothing secret is in it: secrets are referenced by id and read from the SecretStore.
 */

/** STS accepts 900 s up to the role's MaxSessionDuration, which itself is 3600..43200 s. */
export const MIN_SESSION_SECONDS = 900;
export const MIN_MAX_SESSION_SECONDS = 3600;
export const MAX_MAX_SESSION_SECONDS = 43200;

const url = z.string().check(z.regex(/^https?:\/\/[^\s]+$/, 'must be an http(s) URL'));

const providerSchema = z.object({
  /** Namespace and route name: /login/<name>, users/<name>/<subject>/. */
  name: z.string().check(z.regex(PROVIDER_NAME)),
  family: z.enum(PROVIDER_FAMILIES),
  displayName: z.string().check(z.minLength(1)),
  clientId: z.string().check(z.minLength(1)),
  /** SecretStore id of the OAuth client secret. */
  clientSecretId: z.string().check(z.minLength(1)),
  /** OIDC issuer (google, oidc). */
  issuer: z.optional(url),
  /** OAuth 2.0 endpoints (amazon, facebook); defaults are the real providers'. */
  authorizationEndpoint: z.optional(url),
  tokenEndpoint: z.optional(url),
  profileEndpoint: z.optional(url),
  /**
   * OIDC families: with issuer, authorizationEndpoint, tokenEndpoint and jwksUri all
   * given, the metadata is taken as configured instead of discovered (the sandbox).
   */
  jwksUri: z.optional(url),
  userinfoEndpoint: z.optional(url),
  scopes: z.optional(z.array(z.string())),
  /** The provider's web identity role. */
  roleArn: z.string().check(z.regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/)),
  /** STS ProviderId: only for OAuth 2.0 access-token providers. */
  providerId: z.optional(z.string()),
});

const configSchema = z.object({
  /** Public base URL of the app, without trailing slash; redirect URIs derive from it (redirect-uri-from-config). */
  baseUrl: z.string().check(z.regex(/^https?:\/\/[^/\s]+$/, 'must be scheme://host[:port]')),
  region: z.string().check(z.minLength(1)),
  bucket: z.string().check(z.minLength(3)),
  durationSeconds: z.number().check(z.gte(MIN_SESSION_SECONDS), z.lte(MAX_MAX_SESSION_SECONDS)),
  sessionPolicyArns: z.optional(z.array(z.string())),
  /** SecretStore id of the cookie keys (one or more lines; the first encrypts, all decrypt). */
  cookieKeySecretId: z.string().check(z.minLength(1)),
  /** Endpoint overrides, for the sandbox. */
  endpoints: z.optional(
    z.object({ sts: z.optional(url), s3: z.optional(url), secretsManager: z.optional(url) }),
  ),
  /**
   * Serve `/api/session` and `/api/credentials` (common/cli-protocol.ts API_PATHS) to
   * same-origin pages, so browser or mobile code can call S3 with the AWS SDK directly;
   * absent or false, those routes answer 404. Set from the stage's `app.clientCredentials`.
   */
  clientCredentials: z.optional(z.boolean()),
  /** Sandbox only: http:// base URLs allowed. */
  sandbox: z.optional(z.boolean()),
  providers: z.array(providerSchema).check(z.minLength(1)),
});

export type ProviderSettings = z.infer<typeof providerSchema>;
export type AppConfig = z.infer<typeof configSchema>;

/** Parses and checks APP_CONFIG; throws one error naming every bad field (never a secret). */
export function parseAppConfig(json: string | undefined): AppConfig {
  if (!json) throw new Error('APP_CONFIG is not set; the CDK app or the sandbox sets it.');
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    throw new Error('APP_CONFIG is not valid JSON.');
  }
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const lines = result.error.issues.map(
      (i) => `${i.path.join('.') || '(top level)'}: ${i.message}`,
    );
    throw new Error(`APP_CONFIG is invalid:\n  - ${lines.join('\n  - ')}`);
  }
  const config = result.data;
  if (!config.sandbox && !config.baseUrl.startsWith('https://')) {
    throw new Error(
      `APP_CONFIG baseUrl must be https:// outside the sandbox, got ${config.baseUrl}`,
    );
  }
  const names = new Set<string>();
  for (const p of config.providers) {
    if (names.has(p.name)) throw new Error(`APP_CONFIG lists provider "${p.name}" twice.`);
    names.add(p.name);
    if ((p.family === 'google' || p.family === 'oidc') && !p.issuer) {
      throw new Error(`APP_CONFIG provider "${p.name}" (${p.family}) needs an issuer.`);
    }
  }
  return config;
}

/** The redirect URI registered at the IdP: from configuration only, never from the Host header. */
export function redirectUri(config: AppConfig, provider: ProviderSettings): string {
  return config.baseUrl + callbackPath(provider.name);
}
