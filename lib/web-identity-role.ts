import { Construct } from 'constructs';
import { Duration, Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as kms from 'aws-cdk-lib/aws-kms';
import {
  MAX_MAX_SESSION_SECONDS,
  MIN_MAX_SESSION_SECONDS,
  MIN_SESSION_SECONDS,
} from '../common/app-config';
import { UNSAFE_SUBJECT_PATTERNS } from '../common/policy-variables';
import { Provider, ProviderFamily } from './providers';

/**
 * The object-level actions a user has on their own prefix, and nothing else. Listed in the
 * order IAM policy minimization (a recommended feature flag in cdk.json) sorts them to.
 */
export const USER_OBJECT_ACTIONS = [
  's3:AbortMultipartUpload',
  's3:DeleteObject',
  's3:GetObject',
  's3:ListMultipartUploadParts',
  's3:PutObject',
] as const;

/** The one bucket-level action, confined to the user's prefix by `s3:prefix`. */
export const USER_BUCKET_ACTIONS = ['s3:ListBucket'] as const;

export interface WebIdentityRoleProps {
  /** The identity provider whose users may assume this role. */
  readonly provider: Provider;
  /** The bucket holding every user's prefix. */
  readonly bucket: s3.IBucket;
  /**
   * The bucket's KMS key, when it is KMS-encrypted; users may then use it only for
   * objects under their own prefix, only through S3.
   * @default - no KMS permissions (S3-managed encryption)
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * Only these subjects may assume the role (for a private beta or a test user).
   * @default - every user of the provider's audience
   */
  readonly allowedSubjects?: string[];
  /**
   * Required `amr` values (OIDC issuers that send an `amr` claim), matched with
   * `ForAnyValue:StringEquals`.
   * @default - no `amr` condition
   */
  readonly amr?: string[];
  /**
   * Allow `sts:TagSession` so the app may pass session tags.
   * @default false
   */
  readonly allowTagSession?: boolean;
  /**
   * Allow `sts:SetSourceIdentity` so the app may set a source identity.
   * @default false
   */
  readonly allowSetSourceIdentity?: boolean;
  /**
   * The longest session STS may grant.
   * @default Duration.hours(1)
   */
  readonly maxSessionDuration?: Duration;
  /**
   * The `DurationSeconds` the app asks for; recorded for the app and checked to be
   * in 900..maxSessionDuration here, at synth time, not by STS at run time.
   * @default - the max session duration
   */
  readonly sessionDuration?: Duration;
  /**
   * ARNs of managed policies the app passes as session policies (`PolicyArns`),
   * which can only narrow the role's access.
   * @default - none
   */
  readonly sessionPolicyArns?: string[];
}

/**
 * An IAM role that users of one web identity provider assume with
 * `AssumeRoleWithWebIdentity`, granting access to their own bucket prefix only.
 */
export class WebIdentityRole extends Construct {
  /** The role. */
  public readonly role: iam.Role;
  /** The provider this role trusts. */
  public readonly provider: Provider;
  /** The IAM OIDC provider created for a generic issuer. */
  public readonly oidcProvider?: iam.IOidcProvider;
  /** The `DurationSeconds` the app should request. */
  public readonly sessionDurationSeconds: number;
  /** Managed session policy ARNs the app should pass. */
  public readonly sessionPolicyArns: readonly string[];
  /** The user's prefix, with the provider's subject variable. */
  public readonly prefixTemplate: string;

  constructor(scope: Construct, id: string, props: WebIdentityRoleProps) {
    super(scope, id);
    const { provider, bucket } = props;
    const maxSession = props.maxSessionDuration ?? Duration.hours(1);
    const maxSeconds = maxSession.toSeconds();
    const sessionSeconds = props.sessionDuration?.toSeconds() ?? maxSeconds;
    const errors = [
      ...validateSessionOptions({
        maxSessionDurationSeconds: maxSeconds,
        durationSeconds: sessionSeconds,
        sessionPolicyArns: props.sessionPolicyArns ?? [],
      }),
      ...validateTrustExtras({
        family: provider.family,
        amr: props.amr,
        allowedSubjects: props.allowedSubjects,
      }),
    ];
    if (errors.length > 0) throw new Error(errors.join('\n'));

    this.provider = provider;
    this.sessionDurationSeconds = sessionSeconds;
    this.sessionPolicyArns = [...(props.sessionPolicyArns ?? [])];
    this.prefixTemplate = provider.prefixTemplate;

    const binding = provider.bind(Stack.of(this));
    this.oidcProvider = binding.oidcProvider;
    const federated = (binding.principal as iam.FederatedPrincipal).federated;

    // Every audience key must equal one of our client ids: a token minted for another
    // app at the same IdP must never get in (foreign-token-refused, trust-audience-required).
    const stringEquals: Record<string, string | string[]> = {};
    for (const key of provider.audienceKeys) {
      stringEquals[key] = oneOrMany(provider.audiences);
    }
    if (props.allowedSubjects && props.allowedSubjects.length > 0) {
      stringEquals[provider.conditionKeyPrefix + ':' + provider.subjectClaim] = oneOrMany(
        props.allowedSubjects,
      );
    }
    const conditions: Record<string, Record<string, string | string[]>> = {
      StringEquals: stringEquals,
      // The subject becomes a path segment of the user's prefix. IAM itself refuses one
      // that could reach beyond it (a `/` would nest into another user's prefix), so
      // isolation does not rest on the app's own check (subject-safe-for-prefix).
      StringNotLike: {
        [provider.conditionKeyPrefix + ':' + provider.subjectClaim]: [...UNSAFE_SUBJECT_PATTERNS],
      },
    };
    if (props.amr && props.amr.length > 0) {
      conditions['ForAnyValue:StringEquals'] = {
        [provider.conditionKeyPrefix + ':amr']: oneOrMany(props.amr),
      };
    }
    const trustActions = ['sts:AssumeRoleWithWebIdentity'];
    if (props.allowTagSession) trustActions.push('sts:TagSession');
    if (props.allowSetSourceIdentity) trustActions.push('sts:SetSourceIdentity');

    this.role = new iam.Role(this, 'Role', {
      description: `Web identity role for ${provider.displayName} users: own prefix ${provider.namespace} only`,
      assumedBy: new iam.PrincipalWithConditions(
        new iam.FederatedPrincipal(federated, {}, trustActions[0]),
        conditions,
      ),
      maxSessionDuration: maxSession,
    });
    if (trustActions.length > 1) {
      // Extra session actions share the principal and every condition of the main one.
      this.role.assumeRolePolicy?.addStatements(
        new iam.PolicyStatement({
          actions: trustActions.slice(1),
          principals: [new iam.FederatedPrincipal(federated, {})],
          conditions,
        }),
      );
    }

    // The subject variable keys both statements: a session without that claim matches neither
    // (missing-variable-denies), and a listing needs the own prefix (list-bound-to-prefix).
    const prefix = provider.prefixTemplate;
    const policy = new iam.Policy(this, 'OwnPrefixAccess', {
      statements: [
        new iam.PolicyStatement({
          sid: 'OwnPrefixObjects',
          actions: [...USER_OBJECT_ACTIONS],
          resources: [bucket.arnForObjects(prefix + '*')],
        }),
        new iam.PolicyStatement({
          sid: 'ListOwnPrefix',
          actions: [...USER_BUCKET_ACTIONS],
          resources: [bucket.bucketArn],
          // The same constant as the Resource above, so the spelling cannot drift (one-prefix-constant).
          conditions: { StringLike: { 's3:prefix': prefix + '*' } },
        }),
      ],
    });
    if (props.encryptionKey) {
      policy.addStatements(
        new iam.PolicyStatement({
          sid: 'OwnPrefixKmsThroughS3',
          actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
          resources: [props.encryptionKey.keyArn],
          conditions: {
            StringEquals: { 'kms:ViaService': `s3.${Stack.of(this).region}.amazonaws.com` },
            // Without an S3 Bucket Key the context is the object ARN, so this stays per user.
            StringLike: { 'kms:EncryptionContext:aws:s3:arn': bucket.arnForObjects(prefix + '*') },
          },
        }),
      );
    }
    policy.attachToRole(this.role);
  }
}

function oneOrMany(values: readonly string[]): string | string[] {
  return values.length === 1 ? values[0] : [...values];
}

export interface SessionOptionsToValidate {
  readonly maxSessionDurationSeconds: number;
  readonly durationSeconds: number;
  readonly sessionPolicyArns: readonly string[];
}

export interface TrustExtrasToValidate {
  readonly family: ProviderFamily;
  readonly amr?: readonly string[];
  readonly allowedSubjects?: readonly string[];
}

/**
 * Checks session options; returns messages with the bad value and the fix. Run by the
 * construct and by config loading, so a bad duration never synthesizes (session-duration-at-synth).
 */
export function validateSessionOptions(o: SessionOptionsToValidate): string[] {
  const errors: string[] = [];
  const max = o.maxSessionDurationSeconds;
  if (!Number.isInteger(max) || max < MIN_MAX_SESSION_SECONDS || max > MAX_MAX_SESSION_SECONDS) {
    errors.push(
      `maxSessionDurationSeconds must be an integer from ${MIN_MAX_SESSION_SECONDS} to ${MAX_MAX_SESSION_SECONDS} (IAM's limits), got ${max}.`,
    );
  }
  const d = o.durationSeconds;
  if (!Number.isInteger(d) || d < MIN_SESSION_SECONDS || d > max) {
    errors.push(
      `durationSeconds must be an integer from ${MIN_SESSION_SECONDS} to maxSessionDurationSeconds (${max}), got ${d}; ` +
        'STS would refuse every sign-in with it. Lower durationSeconds or raise maxSessionDurationSeconds.',
    );
  }
  if (o.sessionPolicyArns.length > 10) {
    errors.push(
      `at most 10 managed session policy ARNs can be passed to STS, got ${o.sessionPolicyArns.length}.`,
    );
  }
  for (const arn of o.sessionPolicyArns) {
    if (
      !Token.isUnresolved(arn) &&
      !/^arn:aws[a-z-]*:iam::(aws|\d{12}):policy\/[\w+=,.@/-]+$/.test(arn)
    ) {
      errors.push(
        `session policy ARN must look like arn:aws:iam::<account>:policy/<name>, got ${JSON.stringify(arn)}.`,
      );
    }
  }
  return errors;
}

/** Checks the optional extra trust conditions of one provider. */
export function validateTrustExtras(o: TrustExtrasToValidate): string[] {
  const errors: string[] = [];
  if (o.amr && o.amr.length > 0 && o.family !== 'oidc') {
    errors.push(
      `amr conditions apply only to generic OIDC providers (their tokens carry amr), not to ${o.family}; remove "amr".`,
    );
  }
  for (const s of o.allowedSubjects ?? []) {
    if (typeof s !== 'string' || s.length === 0 || /[*?$]/.test(s)) {
      errors.push(
        `allowedSubjects entries must be exact subject ids without wildcards or '$', got ${JSON.stringify(s)}.`,
      );
    }
  }
  return errors;
}
