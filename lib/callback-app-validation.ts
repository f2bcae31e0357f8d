import * as logs from 'aws-cdk-lib/aws-logs';

/**
 * The checks of the callback app's settings that stand alone: custom domain name, public
 * base URL, certificate and client-secret ARNs, stage throttling, log retention. Each
 * returns messages (the bad value and the fix) rather than throwing, so the config
 * parser's checks (`lib/config-problems.ts`) can collect them all; the construct
 * (`lib/callback-app.ts`) uses the same checks on its props.
 */

const HOST_NAME =
  /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$/;

/** A fully qualified host name, lower case, no wildcard, no trailing dot. */
export function validateDomainName(name: string): string[] {
  if (HOST_NAME.test(name)) return [];
  return [
    `must be a lower-case host name such as files.example.com (no scheme, wildcard, port or trailing dot), got ${JSON.stringify(name)}.`,
  ];
}

/**
 * The public base URL: `scheme://host[:port]`, no path; HTTPS outside the sandbox
 * (providers-unique-https: the redirect URIs derive from it, and cookies are `Secure`).
 */
export function validateBaseUrl(baseUrl: string, sandbox: boolean): string[] {
  let url: URL | undefined;
  try {
    url = new URL(baseUrl);
  } catch {
    url = undefined;
  }
  if (
    !url ||
    (url.protocol !== 'https:' && url.protocol !== 'http:') ||
    `${url.protocol}//${url.host}` !== baseUrl
  ) {
    return [
      `must be scheme://host[:port] without path, query or trailing slash (the redirect URIs are <baseUrl>/oauth2callback/<provider>), got ${JSON.stringify(baseUrl)}.`,
    ];
  }
  if (url.protocol !== 'https:' && !sandbox) {
    return [
      `[providers-unique-https] ${JSON.stringify(baseUrl)} is not HTTPS; outside the sandbox the redirect URIs and the Secure cookies need https:// (set "sandbox": true only for the local stage).`,
    ];
  }
  return [];
}

const CERTIFICATE_ARN =
  /^arn:aws[a-z-]*:acm:([a-z]{2}(?:-[a-z]+)+-\d):\d{12}:certificate\/[0-9a-f-]{36}$/;

/**
 * An existing ACM certificate for the custom domain. HTTP API custom domains are
 * regional, so the certificate must be in the stack's region (certificate-region).
 * @param stackRegion the stack's region; `undefined` when it is not known at synth time
 */
export function validateCertificateArn(arn: string, stackRegion: string | undefined): string[] {
  const m = CERTIFICATE_ARN.exec(arn);
  if (!m) {
    return [
      `must be an ACM certificate ARN, arn:aws:acm:<region>:<account>:certificate/<id>, got ${JSON.stringify(arn)}.`,
    ];
  }
  const region = m[1];
  if (stackRegion === undefined) {
    return [
      `[certificate-region] the certificate is in ${region}, but the stack's region is not set, so it cannot be checked: HTTP API custom domains are regional and need a certificate in the API's own region. Set "env": { "region": "${region}" } (or the region you deploy to).`,
    ];
  }
  if (region !== stackRegion) {
    return [
      `[certificate-region] the certificate is in ${region}, but the stack deploys to ${stackRegion}: HTTP API custom domains are regional and need a certificate in the API's own region (us-east-1 certificates are for CloudFront/edge endpoints only). Request or import the certificate in ${stackRegion}, or give hostedZoneId/hostedZoneName to have one created. Got ${JSON.stringify(arn)}.`,
    ];
  }
  return [];
}

const SECRET_ARN =
  /^arn:aws[a-z-]*:secretsmanager:([a-z]{2}(?:-[a-z]+)+-\d):\d{12}:secret:[\w/+=.@-]+-[A-Za-z0-9]{6}$/;

/**
 * An existing Secrets Manager secret: its complete ARN (with the 6-character suffix), so
 * the function's policy names exactly that secret.
 */
export function validateClientSecretArn(arn: string, stackRegion: string | undefined): string[] {
  const m = SECRET_ARN.exec(arn);
  if (!m) {
    return [
      `must be the complete ARN of a Secrets Manager secret, arn:aws:secretsmanager:<region>:<account>:secret:<name>-<6 characters> (copy it from the console), got ${JSON.stringify(arn)}.`,
    ];
  }
  if (stackRegion !== undefined && m[1] !== stackRegion) {
    return [
      `the secret is in ${m[1]}, but the app runs in ${stackRegion} and reads secrets from its own region; replicate the secret to ${stackRegion} and use that ARN, got ${JSON.stringify(arn)}.`,
    ];
  }
  return [];
}

/** Stage throttling, within API Gateway's default account quotas. */
export function validateThrottle(throttle: { rateLimit?: number; burstLimit?: number }): string[] {
  const errors: string[] = [];
  const { rateLimit, burstLimit } = throttle;
  if (rateLimit !== undefined && !(rateLimit > 0 && rateLimit <= 10000)) {
    errors.push(
      `rateLimit must be requests per second above 0 and at most 10000 (the account quota), got ${rateLimit}.`,
    );
  }
  if (
    burstLimit !== undefined &&
    !(Number.isInteger(burstLimit) && burstLimit >= 1 && burstLimit <= 5000)
  ) {
    errors.push(
      `burstLimit must be a whole number of requests from 1 to 5000 (the account quota), got ${burstLimit}.`,
    );
  }
  return errors;
}

/** The retention periods CloudWatch Logs accepts (never "forever" here). */
export const LOG_RETENTION_DAYS: readonly number[] = Object.values(logs.RetentionDays)
  .filter((v): v is number => typeof v === 'number' && v !== logs.RetentionDays.INFINITE)
  .sort((a, b) => a - b);

export function validateLogRetentionDays(days: number): string[] {
  if (LOG_RETENTION_DAYS.includes(days)) return [];
  return [
    `must be one of the periods CloudWatch Logs accepts (${LOG_RETENTION_DAYS.join(', ')}), got ${days}.`,
  ];
}
