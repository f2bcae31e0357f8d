import type { VerifiedWebIdentity } from './contracts';
import type { PolicyModel, WebIdentityRoleModel } from './policy-model';
import {
  BUILT_IN_PROVIDERS,
  TokenKind,
  builtInByPrincipal,
  issuerKeyPrefix,
} from '../common/provider-facts';
import { isObject, resolveIntrinsics, type JsonObject } from '../lib/template/intrinsics';
import { StsError } from './sts-wire';

/**
 * Who a verified token speaks for, as STS decides it from the template: the web identity
 * roles (with their MaxSessionDuration) and the IAM OIDC providers (whose ClientIdList
 * gates the audience), read once; then the trust principal and condition-key prefix of a
 * token, checking `ProviderId` like STS. The trust policy itself is evaluated by
 * `evaluateTrust`.
 */

/** IAM's default when a role sets no MaxSessionDuration. */
const DEFAULT_MAX_SESSION_DURATION = 3600;

/** What the STS needs from the template beyond the policy model. */
export interface Directory {
  readonly roles: ReadonlyMap<string, { model: WebIdentityRoleModel; maxSessionDuration: number }>;
  /** IAM OIDC providers by URL without `https://`. */
  readonly oidcProviders: ReadonlyMap<string, { arn: string; clientIds: readonly string[] }>;
}

/** Reads the roles and IAM OIDC providers of the template the STS decides on. */
export function readDirectory(template: object, model: PolicyModel): Directory {
  const resources = (
    template as { Resources?: Record<string, { Type: string; Properties?: JsonObject }> }
  ).Resources;
  if (!isObject(resources)) {
    throw new Error('the STS needs a CloudFormation template with Resources');
  }
  const resolve = (value: unknown): unknown =>
    resolveIntrinsics(value, template as JsonObject, model.env);

  const roles = new Map<string, { model: WebIdentityRoleModel; maxSessionDuration: number }>();
  for (const role of model.roles) {
    const raw = resources[role.logicalId]?.Properties?.MaxSessionDuration;
    const maxSessionDuration =
      raw === undefined ? DEFAULT_MAX_SESSION_DURATION : Number(resolve(raw));
    if (!Number.isInteger(maxSessionDuration)) {
      throw new Error(
        `${role.logicalId}: MaxSessionDuration ${JSON.stringify(raw)} is not an integer`,
      );
    }
    roles.set(role.roleArn, { model: role, maxSessionDuration });
  }

  const oidcProviders = new Map<string, { arn: string; clientIds: readonly string[] }>();
  for (const [id, resource] of Object.entries(resources)) {
    if (resource.Type !== 'AWS::IAM::OIDCProvider') continue;
    const url = String(resolve(resource.Properties?.Url));
    const clientIds = resolve(resource.Properties?.ClientIdList ?? []);
    oidcProviders.set(issuerKeyPrefix(url), {
      arn: String(resolve({ Ref: id })),
      clientIds: Array.isArray(clientIds) ? clientIds.map(String) : [],
    });
  }
  return { roles, oidcProviders };
}

/**
 * The trust principal of a verified token and the prefix of its condition keys, checking
 * ProviderId and the OIDC audience like STS.
 */
export function trustPrincipal(
  verified: VerifiedWebIdentity,
  providerId: string | undefined,
  directory: Directory,
): { principal: string; keyPrefix: string } {
  const provider = verified.provider;
  const builtIn = builtInByPrincipal(provider);
  if (builtIn) {
    const accessToken = builtIn.tokenKind === TokenKind.ACCESS_TOKEN;
    if (accessToken && providerId !== builtIn.providerId) {
      // STS cannot know who issued an opaque access token without ProviderId.
      throw new StsError(
        'InvalidIdentityToken',
        400,
        `An OAuth 2.0 access token of ${provider} needs ProviderId=${provider}`,
      );
    }
    if (!accessToken && providerId !== undefined) {
      throw new StsError(
        'InvalidIdentityToken',
        400,
        'ProviderId is only for OAuth 2.0 access tokens',
      );
    }
    return { principal: provider, keyPrefix: provider };
  }
  if (providerId !== undefined) {
    throw new StsError(
      'InvalidIdentityToken',
      400,
      'ProviderId is only for OAuth 2.0 access tokens',
    );
  }
  const oidc = provider.startsWith('https://')
    ? directory.oidcProviders.get(issuerKeyPrefix(provider))
    : undefined;
  if (!oidc) {
    // Google's ID tokens may say `https://accounts.google.com`; STS treats both as Google.
    const google = BUILT_IN_PROVIDERS.google;
    if (provider === google.issuer) {
      return { principal: google.keyPrefix, keyPrefix: google.keyPrefix };
    }
    throw new StsError(
      'InvalidIdentityToken',
      400,
      `No OpenIDConnect provider found in your account for ${provider}`,
    );
  }
  if (!oidc.clientIds.includes(verified.audience)) {
    throw new StsError('InvalidIdentityToken', 400, 'Incorrect token audience');
  }
  // IAM names an OIDC provider's condition keys after its URL without the scheme.
  return { principal: oidc.arn, keyPrefix: issuerKeyPrefix(provider) };
}
