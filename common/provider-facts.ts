import { oidcSubjectVariable, policyVariable } from './policy-variables';

/**
 * What IAM, STS and the IdPs say about each provider family, in one table.
 *
 * The CDK constructs (lib/), the Lambda app (lambda/) and the sandbox (local/) all read
 * these facts from here, so a provider's principal, condition keys, subject variable and
 * `ProviderId` are spelled once. This module has no CDK dependency: it is bundled into the
 * Lambda function.
 */

/** The four provider families; each is a distinct code path in the IaC and in the app. */
export const PROVIDER_FAMILIES = ['amazon', 'facebook', 'google', 'oidc'] as const;
export type ProviderFamily = (typeof PROVIDER_FAMILIES)[number];
/** The families IAM trusts by name, without an IAM OIDC provider. */
export type BuiltInFamily = Exclude<ProviderFamily, 'oidc'>;
/** The OAuth 2.0 families: STS gets their opaque access token together with `ProviderId`. */
export type AccessTokenFamily = 'amazon' | 'facebook';

/** What the app hands to STS `AssumeRoleWithWebIdentity` as `WebIdentityToken`. */
export enum TokenKind {
  /** An OpenID Connect ID token (a JWT). */
  ID_TOKEN = 'id_token',
  /** An opaque OAuth 2.0 access token, sent together with `ProviderId`. */
  ACCESS_TOKEN = 'access_token',
}

/** The IAM side of one provider: how its role's trust and access policies name the user. */
export interface ProviderFacts {
  readonly family: ProviderFamily;
  /**
   * Prefix of the provider's IAM condition keys: `accounts.google.com`, or the issuer URL
   * without its scheme for a generic OIDC issuer. For the built-in families it is also the
   * role's `Federated` trust principal.
   */
  readonly keyPrefix: string;
  /** Condition keys that must equal one of the app's client ids in the trust policy. */
  readonly audienceKeys: readonly string[];
  /** The claim (ID token) or profile field (OAuth 2.0) that holds the user's immutable id. */
  readonly subjectClaim: string;
  /** The condition key of the subject: `<keyPrefix>:<subjectClaim>`. */
  readonly subjectKey: string;
  /** The IAM policy variable of the subject, e.g. `${accounts.google.com:sub}`. */
  readonly subjectVariable: string;
  /** What the app sends to STS. */
  readonly tokenKind: TokenKind;
  /** STS `ProviderId`: only for the OAuth 2.0 access-token families. */
  readonly providerId?: string;
}

/** A built-in family's facts, plus the names people read. */
export interface BuiltInProviderFacts extends ProviderFacts {
  readonly family: BuiltInFamily;
  /** Short name for pages (`Google`). */
  readonly displayName: string;
  /** The provider's own product name, for the access report (`Login with Amazon`). */
  readonly productName: string;
  /** The issuer of its ID tokens (Google only). */
  readonly issuer?: string;
}

/** The ID token claim that holds the user's immutable id (Google's and any OIDC issuer's). */
export const ID_TOKEN_SUBJECT_CLAIM = 'sub';

function facts(
  family: ProviderFamily,
  keyPrefix: string,
  audienceClaims: readonly string[],
  subjectClaim: string,
  tokenKind: TokenKind,
): ProviderFacts {
  return {
    family,
    keyPrefix,
    audienceKeys: audienceClaims.map((claim) => keyPrefix + ':' + claim),
    subjectClaim,
    subjectKey: keyPrefix + ':' + subjectClaim,
    subjectVariable:
      subjectClaim === ID_TOKEN_SUBJECT_CLAIM && family === 'oidc'
        ? oidcSubjectVariable(keyPrefix)
        : policyVariable(keyPrefix, subjectClaim),
    tokenKind,
    ...(tokenKind === TokenKind.ACCESS_TOKEN ? { providerId: keyPrefix } : {}),
  };
}

/**
 * The built-in families. Amazon and Facebook: STS validates an opaque access token with the
 * provider named by `ProviderId` and exposes `app_id` and the profile's user id. Google: an
 * ID token; `accounts.google.com:aud` carries `azp` when present and `:oaud` the `aud` claim,
 * so both audience keys are checked.
 */
export const BUILT_IN_PROVIDERS: Readonly<Record<BuiltInFamily, BuiltInProviderFacts>> = {
  amazon: {
    ...facts('amazon', 'www.amazon.com', ['app_id'], 'user_id', TokenKind.ACCESS_TOKEN),
    family: 'amazon',
    displayName: 'Amazon',
    productName: 'Login with Amazon',
  },
  facebook: {
    ...facts('facebook', 'graph.facebook.com', ['app_id'], 'id', TokenKind.ACCESS_TOKEN),
    family: 'facebook',
    displayName: 'Facebook',
    productName: 'Facebook',
  },
  google: {
    ...facts(
      'google',
      'accounts.google.com',
      ['aud', 'oaud'],
      ID_TOKEN_SUBJECT_CLAIM,
      TokenKind.ID_TOKEN,
    ),
    family: 'google',
    displayName: 'Google',
    productName: 'Google',
    issuer: 'https://accounts.google.com',
  },
};

/**
 * The spellings of `iss` a Google issuer's ID tokens may carry: the issuer as configured,
 * and (when it has one) without its scheme, as Google sometimes writes `accounts.google.com`.
 */
export function googleIssuerSpellings(issuer: string): readonly string[] {
  const alias = issuer.replace(/^https?:\/\//, '');
  return alias === issuer ? [issuer] : [issuer, alias];
}

/** Google's ID tokens may say `iss: accounts.google.com` too; STS and the app accept both. */
export const GOOGLE_ISSUER_SPELLINGS: readonly string[] = googleIssuerSpellings(
  BUILT_IN_PROVIDERS.google.issuer!,
);

/** The `ProviderId`s STS accepts with an OAuth 2.0 access token (`www.amazon.com`, ...). */
export const ACCESS_TOKEN_PROVIDER_IDS: readonly string[] = Object.values(
  BUILT_IN_PROVIDERS,
).flatMap((p) => (p.providerId ? [p.providerId] : []));

/** The profile fields that hold an OAuth 2.0 user's id (Amazon's `user_id`, Facebook's `id`). */
export const PROFILE_SUBJECT_FIELDS: readonly string[] = Object.values(BUILT_IN_PROVIDERS)
  .filter((p) => p.tokenKind === TokenKind.ACCESS_TOKEN)
  .map((p) => p.subjectClaim);

/** IAM names an OIDC provider's condition keys after its issuer URL without the scheme. */
export function issuerKeyPrefix(issuerUrl: string): string {
  return issuerUrl.replace(/^https:\/\//, '');
}

/** The issuer URL of an Amazon Cognito user pool; the region is read from its id (`<region>_<id>`). */
export function cognitoIssuer(userPoolId: string): string {
  const region = userPoolId.split('_')[0];
  return 'https://cognito-idp.' + region + '.amazonaws.com/' + userPoolId;
}

/** The facts of a generic OpenID Connect issuer. */
export function oidcProviderFacts(issuerUrl: string): ProviderFacts {
  return facts(
    'oidc',
    issuerKeyPrefix(issuerUrl),
    ['aud'],
    ID_TOKEN_SUBJECT_CLAIM,
    TokenKind.ID_TOKEN,
  );
}

/** The facts of a family; a generic OIDC provider needs its issuer. */
export function providerFacts(family: ProviderFamily, issuerUrl?: string): ProviderFacts {
  if (family !== 'oidc') return BUILT_IN_PROVIDERS[family];
  if (!issuerUrl) throw new Error('A generic OIDC provider needs its issuer URL.');
  return oidcProviderFacts(issuerUrl);
}

/** The built-in family whose trust principal (and key prefix) this is, if any. */
export function builtInByPrincipal(principal: string): BuiltInProviderFacts | undefined {
  return Object.values(BUILT_IN_PROVIDERS).find((p) => p.keyPrefix === principal);
}

/** The OAuth 2.0 family that STS's `ProviderId` names, if any. */
export function accessTokenFamilyOf(providerId: string): AccessTokenFamily | undefined {
  const found = Object.values(BUILT_IN_PROVIDERS).find((p) => p.providerId === providerId);
  return found ? (found.family as AccessTokenFamily) : undefined;
}

/** True for the families whose ID token (not an access token) goes to STS. */
export function isOidcFamily(family: ProviderFamily): family is 'google' | 'oidc' {
  return family === 'google' || family === 'oidc';
}

/**
 * The one place a user's prefix is spelled: `users/<namespace>/<subject>/`. IAM gets it
 * with the subject variable (Resource and the `s3:prefix` condition alike), the app and the
 * sandbox with the subject's value.
 */
export function userPrefix(namespace: string, subject: string): string {
  return 'users/' + namespace + '/' + subject + '/';
}

/**
 * The app's routes for one provider; the callback path is the registered redirect URI's.
 * `loginPath(':provider')` is the route pattern; `callbackPath('')` the prefix of every callback.
 */
export const loginPath = (name: string): string => '/login/' + name;
export const callbackPath = (name: string): string => '/oauth2callback/' + name;
