import { Construct } from 'constructs';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Token } from 'aws-cdk-lib';
import { PROVIDER_NAME } from '../common/cli-protocol';
import {
  BUILT_IN_PROVIDERS,
  type BuiltInProviderFacts,
  type ProviderFamily,
  TokenKind,
  cognitoIssuer,
  oidcProviderFacts,
  userPrefix,
} from '../common/provider-facts';

export { TokenKind, userPrefix };
export type { ProviderFamily };

/** Options for a generic OpenID Connect provider. */
export interface OidcProviderOptions {
  /**
   * Short name of the provider, used for the bucket namespace (`users/<name>/...`),
   * the login route and construct ids. Lower case letters, digits and dashes.
   */
  readonly name: string;
  /** The issuer URL exactly as in the ID tokens' `iss` claim, `https://` and no trailing slash. */
  readonly issuerUrl: string;
  /** OAuth client ids (audiences) of the app registered at this issuer. */
  readonly clientIds: string[];
  /**
   * Thumbprints of the issuer's TLS certificate chain.
   * @default - none: IAM trusts issuers with certificates from public CAs by itself
   */
  readonly thumbprints?: string[];
}

/** Options for an Amazon Cognito user pool as an OpenID Connect issuer. */
export interface CognitoUserPoolOptions {
  /** @default 'cognito' */
  readonly name?: string;
  /** The user pool id, `<region>_<id>`; the region is read from it. */
  readonly userPoolId: string;
  /** App client ids of the user pool. */
  readonly clientIds: string[];
}

/** What a provider binds into a stack: the trust principal of its role. */
export interface ProviderBinding {
  /** The `Federated` principal: a provider name for the built-ins, an OIDC provider ARN otherwise. */
  readonly principal: iam.IPrincipal;
  /** The IAM OIDC provider created for generic issuers. */
  readonly oidcProvider?: iam.IOidcProvider;
}

const PLACEHOLDER = /0{12,}|placeholder/i;

/**
 * One web identity provider: everything IAM and the app need to know about it.
 *
 * Create with the static factories; each validates its ids and throws with the bad
 * value and the fix.
 */
export abstract class Provider {
  /** Login with Amazon. `appId` is the security profile's client id. */
  public static amazon(appId: string): Provider {
    throwIfInvalid(validateAmazonAppId(appId));
    return new BuiltInProvider(BUILT_IN_PROVIDERS.amazon, [appId]);
  }

  /** Facebook Login. `appId` is the numeric app id. */
  public static facebook(appId: string): Provider {
    throwIfInvalid(validateFacebookAppId(appId));
    return new BuiltInProvider(BUILT_IN_PROVIDERS.facebook, [appId]);
  }

  /**
   * Google. `accounts.google.com:aud` carries the `azp` claim when present and
   * `accounts.google.com:oaud` the `aud` claim: both must name one of our clients.
   */
  public static google(clientIds: string | string[]): Provider {
    const ids = typeof clientIds === 'string' ? [clientIds] : clientIds;
    throwIfInvalid(validateGoogleClientIds(ids));
    return new BuiltInProvider(BUILT_IN_PROVIDERS.google, [...ids]);
  }

  /** Any OpenID Connect issuer, trusted through a native `AWS::IAM::OIDCProvider`. */
  public static oidc(options: OidcProviderOptions): Provider {
    throwIfInvalid(validateOidcOptions(options));
    return new OidcProvider(options);
  }

  /** An Amazon Cognito user pool as an OpenID Connect issuer. */
  public static cognitoUserPool(options: CognitoUserPoolOptions): Provider {
    const errors = validateCognitoUserPoolId(options.userPoolId);
    throwIfInvalid(errors);
    return Provider.oidc({
      name: options.name ?? 'cognito',
      issuerUrl: cognitoIssuer(options.userPoolId),
      clientIds: options.clientIds,
    });
  }

  /** The provider family. */
  public abstract readonly family: ProviderFamily;
  /** Bucket namespace and route name, unique per stack: `users/<namespace>/<subject>/`. */
  public abstract readonly namespace: string;
  /** Human name for pages and reports. */
  public abstract readonly displayName: string;
  /** Condition keys that must equal one of `audiences` in the trust policy. */
  public abstract readonly audienceKeys: readonly string[];
  /** The IAM policy variable holding the user's immutable id. */
  public abstract readonly subjectVariable: string;
  /** The claim (or profile field) the subject variable is bound from. */
  public abstract readonly subjectClaim: string;
  /** Key prefix of the provider's condition keys (`accounts.google.com`, issuer host/path). */
  public abstract readonly conditionKeyPrefix: string;
  /** What the app sends to STS. */
  public abstract readonly tokenKind: TokenKind;
  /** `ProviderId` for STS; only for OAuth 2.0 access-token providers. */
  public abstract readonly providerId?: string;
  /** Client ids / app ids that form the audience. */
  public abstract readonly audiences: readonly string[];
  /** The issuer URL (OIDC families). */
  public abstract readonly issuerUrl?: string;

  /** The per-user prefix as an IAM resource fragment: `users/<namespace>/<subject variable>/`. */
  public get prefixTemplate(): string {
    return userPrefix(this.namespace, this.subjectVariable);
  }

  /** True when an id looks like a placeholder from the example config. */
  public get usesPlaceholderIds(): boolean {
    return this.audiences.some((a) => PLACEHOLDER.test(a));
  }

  /** Creates what the stack needs for this provider (an IAM OIDC provider for generic issuers). */
  public abstract bind(scope: Construct): ProviderBinding;
}

class BuiltInProvider extends Provider {
  public readonly family: ProviderFamily;
  public readonly namespace: string;
  public readonly displayName: string;
  public readonly audienceKeys: readonly string[];
  public readonly subjectVariable: string;
  public readonly subjectClaim: string;
  public readonly conditionKeyPrefix: string;
  public readonly tokenKind: TokenKind;
  public readonly providerId?: string;
  public readonly audiences: readonly string[];
  public readonly issuerUrl?: string;

  constructor(facts: BuiltInProviderFacts, audiences: string[]) {
    super();
    this.family = facts.family;
    // A built-in family's namespace is its family name: amazon, facebook, google.
    this.namespace = facts.family;
    this.displayName = facts.displayName;
    this.audienceKeys = facts.audienceKeys;
    this.subjectVariable = facts.subjectVariable;
    this.subjectClaim = facts.subjectClaim;
    this.conditionKeyPrefix = facts.keyPrefix;
    this.tokenKind = facts.tokenKind;
    this.providerId = facts.providerId;
    this.audiences = audiences;
    this.issuerUrl = facts.issuer;
  }

  public bind(_scope: Construct): ProviderBinding {
    return { principal: new iam.FederatedPrincipal(this.conditionKeyPrefix, {}) };
  }
}

class OidcProvider extends Provider {
  public readonly family: ProviderFamily = 'oidc';
  public readonly namespace: string;
  public readonly displayName: string;
  public readonly audienceKeys: readonly string[];
  public readonly subjectVariable: string;
  public readonly subjectClaim: string;
  public readonly conditionKeyPrefix: string;
  public readonly tokenKind: TokenKind;
  public readonly providerId?: string;
  public readonly audiences: readonly string[];
  public readonly issuerUrl: string;
  private readonly thumbprints?: string[];

  constructor(options: OidcProviderOptions) {
    super();
    this.namespace = options.name;
    this.displayName = options.name;
    this.issuerUrl = options.issuerUrl;
    const facts = oidcProviderFacts(options.issuerUrl);
    this.conditionKeyPrefix = facts.keyPrefix;
    this.audienceKeys = facts.audienceKeys;
    this.subjectVariable = facts.subjectVariable;
    this.subjectClaim = facts.subjectClaim;
    this.tokenKind = facts.tokenKind;
    this.providerId = facts.providerId;
    this.audiences = [...options.clientIds];
    this.thumbprints = options.thumbprints ? [...options.thumbprints] : undefined;
  }

  public bind(scope: Construct): ProviderBinding {
    const id = pascal(this.namespace) + 'OidcProvider';
    const existing = scope.node.tryFindChild(id) as iam.OidcProviderNative | undefined;
    const oidcProvider =
      existing ??
      new iam.OidcProviderNative(scope, id, {
        url: this.issuerUrl,
        clientIds: [...this.audiences],
        thumbprints: this.thumbprints,
      });
    return {
      principal: new iam.FederatedPrincipal(oidcProvider.oidcProviderArn, {}),
      oidcProvider,
    };
  }
}

/** PascalCase of a provider name, for construct ids and output names. */
export function pascal(name: string): string {
  return name
    .split(/[^a-zA-Z0-9]+/)
    .filter(Boolean)
    .map((p) => p[0].toUpperCase() + p.slice(1))
    .join('');
}

function throwIfInvalid(errors: string[]): void {
  if (errors.length > 0) {
    throw new Error(errors.join('\n'));
  }
}

const quote = (v: unknown): string => JSON.stringify(v);

// Validators return messages (bad value + fix) so config validation can collect them all.

export function validateAmazonAppId(appId: unknown): string[] {
  if (typeof appId === 'string' && Token.isUnresolved(appId)) return [];
  if (typeof appId !== 'string' || !/^amzn1\.application-oa2-client\.[0-9a-f]{32}$/.test(appId)) {
    return [
      `Amazon appId must look like amzn1.application-oa2-client.<32 hex digits>, got ${quote(appId)}. ` +
        'Copy the Client ID from your Login with Amazon security profile (Web Settings).',
    ];
  }
  return [];
}

export function validateFacebookAppId(appId: unknown): string[] {
  if (typeof appId === 'string' && Token.isUnresolved(appId)) return [];
  if (typeof appId !== 'string' || !/^[0-9]{5,20}$/.test(appId)) {
    return [
      `Facebook appId must be the numeric App ID (5 to 20 digits), got ${quote(appId)}. ` +
        'Copy it from the Facebook app dashboard (Settings > Basic).',
    ];
  }
  return [];
}

export function validateGoogleClientIds(ids: unknown): string[] {
  if (!Array.isArray(ids) || ids.length === 0) {
    return [
      `Google clientIds must list at least one OAuth client id, got ${quote(ids)}. ` +
        'Create a Web application client in Google Cloud console (APIs & Services > Credentials).',
    ];
  }
  return ids.flatMap((id) =>
    typeof id === 'string' &&
    (Token.isUnresolved(id) || /^[0-9]+-[0-9a-z]+\.apps\.googleusercontent\.com$/.test(id))
      ? []
      : [
          `Google client id must look like <number>-<id>.apps.googleusercontent.com, got ${quote(id)}. ` +
            'Copy the Client ID of your Web application client.',
        ],
  );
}

const RESERVED_NAMES: readonly string[] = Object.keys(BUILT_IN_PROVIDERS);

export function validateProviderName(name: unknown): string[] {
  if (typeof name !== 'string' || !PROVIDER_NAME.test(name)) {
    return [
      `OIDC provider name must be 2-32 lower-case letters, digits or dashes, starting with a letter, got ${quote(name)}. ` +
        'It becomes the bucket namespace users/<name>/ and the route /login/<name>.',
    ];
  }
  if (RESERVED_NAMES.includes(name)) {
    return [
      `OIDC provider name ${quote(name)} is reserved for the built-in provider of that name. ` +
        'Use the built-in provider, or choose another name (for example "my-' +
        name +
        '").',
    ];
  }
  return [];
}

const TOKEN_ISSUER =
  'must be known at synth time: IAM names the trust condition keys after the issuer (<issuer>:aud), ' +
  'and CloudFormation cannot resolve a token inside a policy key. Deploy the issuer first and pass its ' +
  'literal value (see integ/ for a two-stack example)';

export function validateIssuerUrl(issuerUrl: unknown): string[] {
  if (typeof issuerUrl === 'string' && Token.isUnresolved(issuerUrl)) {
    return [`OIDC issuerUrl ${TOKEN_ISSUER}.`];
  }
  let url: URL | undefined;
  try {
    url = typeof issuerUrl === 'string' ? new URL(issuerUrl) : undefined;
  } catch {
    url = undefined;
  }
  if (
    !url ||
    url.protocol !== 'https:' ||
    url.search !== '' ||
    url.hash !== '' ||
    url.username !== '' ||
    (issuerUrl as string).endsWith('/')
  ) {
    return [
      `OIDC issuerUrl must be an https:// URL without query, fragment or trailing slash, got ${quote(issuerUrl)}. ` +
        "Use the exact 'issuer' value of the provider's /.well-known/openid-configuration.",
    ];
  }
  if (url.hostname === BUILT_IN_PROVIDERS.google.keyPrefix) {
    return [
      `OIDC issuerUrl ${quote(issuerUrl)} is Google's: use the built-in google provider, which IAM trusts without an OIDC provider.`,
    ];
  }
  return [];
}

export function validateOidcOptions(options: OidcProviderOptions): string[] {
  const errors = [...validateProviderName(options.name), ...validateIssuerUrl(options.issuerUrl)];
  if (!Array.isArray(options.clientIds) || options.clientIds.length === 0) {
    errors.push(
      `OIDC provider ${quote(options.name)} needs at least one client id, got ${quote(options.clientIds)}. ` +
        'Use the client id of the app registered at the issuer; it is the ID tokens\' "aud".',
    );
  } else {
    for (const id of options.clientIds) {
      if (typeof id !== 'string' || (!Token.isUnresolved(id) && !/^[\x21-\x7e]{1,255}$/.test(id))) {
        errors.push(
          `OIDC client id must be 1-255 printable characters without spaces, got ${quote(id)}.`,
        );
      } else if (/[*?]/.test(id)) {
        // A wildcard audience would trust tokens minted for any app at this issuer (trust-audience-required).
        errors.push(`OIDC client id must not contain wildcards, got ${quote(id)}.`);
      }
    }
  }
  for (const t of options.thumbprints ?? []) {
    if (typeof t !== 'string' || !/^[0-9a-fA-F]{40}$/.test(t)) {
      errors.push(
        `OIDC thumbprint must be 40 hex digits (SHA-1 of the top CA certificate), got ${quote(t)}.`,
      );
    }
  }
  return errors;
}

export function validateCognitoUserPoolId(userPoolId: unknown): string[] {
  if (typeof userPoolId === 'string' && Token.isUnresolved(userPoolId)) {
    return [`Cognito userPoolId ${TOKEN_ISSUER}.`];
  }
  if (typeof userPoolId !== 'string' || !/^[a-z]{2}(-[a-z]+)+-\d_[0-9A-Za-z]+$/.test(userPoolId)) {
    return [
      `Cognito userPoolId must look like <region>_<id> (for example eu-west-1_AbCdEf123), got ${quote(userPoolId)}. ` +
        'Copy the User pool ID from the Cognito console.',
    ];
  }
  return [];
}
