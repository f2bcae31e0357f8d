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
