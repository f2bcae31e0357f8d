import { parseAppConfig, type AppConfig } from '../../common/app-config';

/** The Google provider of the unit tests' APP_CONFIG. */
export const GOOGLE_SETTINGS = {
  name: 'google',
  family: 'google',
  displayName: 'Google',
  clientId: 'gclient',
  clientSecretId: 'google-secret',
  issuer: 'https://accounts.google.com',
  roleArn: 'arn:aws:iam::123456789012:role/google-users',
} as const;

/** The Amazon provider of the unit tests' APP_CONFIG. */
export const AMAZON_SETTINGS = {
  name: 'amazon',
  family: 'amazon',
  displayName: 'Amazon',
  clientId: 'aclient',
  clientSecretId: 'amazon-secret',
  roleArn: 'arn:aws:iam::123456789012:role/amazon-users',
  providerId: 'www.amazon.com',
} as const;

/** A Facebook provider (OAuth 2.0 access tokens), for tests that cover every family. */
export const FACEBOOK_SETTINGS = {
  name: 'facebook',
  family: 'facebook',
  displayName: 'Facebook',
  clientId: 'fclient',
  clientSecretId: 'facebook-secret',
  roleArn: 'arn:aws:iam::123456789012:role/facebook-users',
  providerId: 'graph.facebook.com',
} as const;

/** A generic OpenID Connect provider, for tests that cover every family. */
export const OIDC_SETTINGS = {
  name: 'corp',
  family: 'oidc',
  displayName: 'Corp SSO',
  clientId: 'corp-client',
  clientSecretId: 'corp-secret',
  issuer: 'https://sso.corp.example',
  roleArn: 'arn:aws:iam::123456789012:role/corp-users',
} as const;

/**
 * The app's configuration for unit tests, parsed by the same schema as in Lambda:
 * Google and Amazon at https://files.example.com unless `overrides` say otherwise.
 */
export function testAppConfig(overrides: Record<string, unknown> = {}): AppConfig {
  return parseAppConfig(
    JSON.stringify({
      baseUrl: 'https://files.example.com',
      region: 'eu-west-1',
      bucket: 'user-data-bucket',
      durationSeconds: 3600,
      cookieKeySecretId: 'cookie-key',
      providers: [GOOGLE_SETTINGS, AMAZON_SETTINGS],
      ...overrides,
    }),
  );
}
