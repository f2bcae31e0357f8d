import { BUILT_IN_PROVIDERS, cognitoIssuer } from '../common/provider-facts';
import {
  validateAmazonAppId,
  validateCognitoUserPoolId,
  validateFacebookAppId,
  validateGoogleClientIds,
  validateOidcOptions,
} from './providers';
import { validateSessionOptions, validateTrustExtras } from './web-identity-role';
import { validateBucketOptions } from './user-data-bucket';
import {
  validateBaseUrl,
  validateCertificateArn,
  validateDomainName,
  validateLogRetentionDays,
  validateThrottle,
  validateClientSecretArn,
} from './callback-app-validation';
import type { ParsedConfig } from './config-schema';

/**
 * What a stage config must satisfy beyond the shape of its schema: provider ids, duplicate
 * providers and issuers, session, bucket and callback app settings, HTTPS origins. Each
 * problem names where it is, the bad value and the fix.
 */

/** Every problem of a config whose shape is valid, each with the bad value and the fix. */
export function domainProblems(cfg: ParsedConfig): string[] {
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
    // providers-unique-https: two entries for one provider would create two roles (or two OIDC providers
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
    // providers-unique-https: outside the sandbox, cookies marked Secure and the IdPs need HTTPS.
    if (!cfg.sandbox && origin.startsWith('http://')) {
      problems.push(
        `app.origins: ${JSON.stringify(origin)} is not HTTPS; outside the sandbox the app must be served over https:// (set "sandbox": true only for the local stage).`,
      );
    }
  }
  return problems;
}

/** The callback app's settings: domain and certificate (certificate-region), base URL (providers-unique-https), limits. */
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
