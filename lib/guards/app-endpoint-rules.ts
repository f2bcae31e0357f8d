import { asArray, flatten } from '../template/model';
import type { GuardRule } from './rule';

/** The rules about the app's endpoints: custom domain certificates and the app's base URL. */

const ACM_ARN_REGION = /^arn:aws[a-z-]*:acm:([a-z0-9-]+):/;

const regionOf = (arn: unknown): string | undefined =>
  typeof arn === 'string' ? ACM_ARN_REGION.exec(arn)?.[1] : undefined;

export const certificateRegion: GuardRule = {
  id: 'certificate-region',
  description:
    "A regional custom domain (HTTP API) uses a certificate in the stack's own region; an edge-optimized or CloudFront one uses a certificate in us-east-1. Otherwise the deployment fails, or the domain serves nothing.",
  check: (model, context) => {
    const errors: string[] = [];
    // A certificate created in this template is in the stack's region: only literal ARNs
    // (imported certificates) can be wrong.
    const regional = (where: string, arn: unknown) => {
      const region = regionOf(arn);
      if (region === undefined) return;
      if (context.region === undefined) {
        errors.push(
          `${where}: a regional custom domain uses a certificate in ${region}, but the stack's region is not known at synth time; set the stack's env.region so it can be checked (regional endpoints such as HTTP APIs need a certificate in their own region).`,
        );
      } else if (region !== context.region) {
        errors.push(
          `${where}: a regional custom domain uses a certificate in ${region}, but the stack is in ${context.region}; regional endpoints such as HTTP APIs need a certificate in their own region. Use a certificate from ${context.region}.`,
        );
      }
    };
    const edge = (where: string, arn: unknown) => {
      const region = regionOf(arn);
      if (region !== undefined && region !== 'us-east-1') {
        errors.push(
          `${where}: an edge-optimized or CloudFront custom domain needs a certificate in us-east-1, got one in ${region}.`,
        );
      }
    };
    for (const [id, r] of Object.entries(model.resources)) {
      const p = r.Properties ?? {};
      switch (r.Type) {
        case 'AWS::ApiGatewayV2::DomainName':
          for (const c of asArray(
            p.DomainNameConfigurations as { EndpointType?: string; CertificateArn?: unknown }[],
          )) {
            if (String(c.EndpointType ?? 'REGIONAL').toUpperCase() === 'EDGE') {
              edge(id, c.CertificateArn);
            } else {
              regional(id, c.CertificateArn);
            }
          }
          break;
        case 'AWS::ApiGateway::DomainName':
          regional(id, p.RegionalCertificateArn);
          edge(id, p.CertificateArn);
          break;
        case 'AWS::CloudFront::Distribution': {
          const config = p.DistributionConfig as
            { ViewerCertificate?: { AcmCertificateArn?: unknown } } | undefined;
          edge(id, config?.ViewerCertificate?.AcmCertificateArn);
          break;
        }
      }
    }
    return errors;
  },
};

export const providersUniqueHttps: GuardRule = {
  id: 'providers-unique-https',
  description:
    "Outside the sandbox, the app's APP_CONFIG baseUrl is https://: the app derives its redirect URIs (<baseUrl>/oauth2callback/<provider>) from it, and its cookies are Secure.",
  check: (model) => {
    const errors: string[] = [];
    for (const [id, r] of Object.entries(model.resources)) {
      if (r.Type !== 'AWS::Lambda::Function') continue;
      const env = r.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined;
      const appConfig = env?.Variables?.APP_CONFIG;
      if (appConfig === undefined) continue;
      const text = flatten(appConfig);
      const baseUrl = /"baseUrl":"([^"]*)"/.exec(text)?.[1];
      // A base URL starting with an intrinsic (the HTTP API's own endpoint, always https://)
      // is not judged.
      const literal = baseUrl !== undefined && !baseUrl.startsWith('@');
      if (literal && !/^https:\/\//.test(baseUrl) && !/"sandbox":true[,}]/.test(text)) {
        errors.push(
          `${id}: APP_CONFIG baseUrl ${JSON.stringify(baseUrl)} is not HTTPS outside the sandbox; the redirect URIs (<baseUrl>/oauth2callback/<provider>) and the Secure cookies need https://.`,
        );
      }
    }
    return errors;
  },
};
