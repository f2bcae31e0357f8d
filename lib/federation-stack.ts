import { Construct } from 'constructs';
import {
  Annotations,
  Aws,
  CfnOutput,
  Duration,
  Stack,
  StackProps,
  Validations,
  CfnElement,
} from 'aws-cdk-lib';
import { StageConfig } from './config';
import { pascal } from './providers';
import { UserDataBucket } from './user-data-bucket';
import { WebIdentityRole } from './web-identity-role';
import { addFederationGuards } from './guards';

export interface FederationStackProps extends StackProps {
  /** The validated stage configuration. */
  readonly config: StageConfig;
}

/**
 * The federation core: the user data bucket and one web identity role per provider,
 * each confined to `users/<provider>/<subject>/`.
 */
export class FederationStack extends Stack {
  /** The user data bucket and its log bucket. */
  public readonly userData: UserDataBucket;
  /** One role per configured provider, by namespace. */
  public readonly roles: ReadonlyMap<string, WebIdentityRole>;

  constructor(scope: Construct, id: string, props: FederationStackProps) {
    super(scope, id, props);
    const { config } = props;
    const namespaces = config.providers.map((p) => p.provider.namespace);
    const duplicate = namespaces.find((n, i) => namespaces.indexOf(n) !== i);
    if (duplicate) {
      // 52: the config parser reports this too; constructs used directly must not allow it either.
      throw new Error(`provider "${duplicate}" is configured twice; merge the entries into one.`);
    }

    this.userData = new UserDataBucket(this, 'UserData', {
      encryption: config.bucket.encryption,
      noncurrentVersionExpirationDays: config.bucket.noncurrentVersionExpirationDays,
      abortIncompleteMultipartUploadDays: config.bucket.abortIncompleteMultipartUploadDays,
      accessLogRetentionDays: config.bucket.accessLogRetentionDays,
      corsOrigins: [...config.app.origins],
      destroyOnDelete: config.bucket.destroyOnDelete,
    });

    const roles = new Map<string, WebIdentityRole>();
    for (const entry of config.providers) {
      const { provider } = entry;
      const name = pascal(provider.namespace);
      const role = new WebIdentityRole(this, `${name}Users`, {
        provider,
        bucket: this.userData.bucket,
        encryptionKey: this.userData.encryptionKey,
        allowedSubjects: entry.allowedSubjects,
        amr: entry.amr,
        allowTagSession: config.session.allowTagSession,
        allowSetSourceIdentity: config.session.allowSetSourceIdentity,
        maxSessionDuration: Duration.seconds(config.session.maxSessionDurationSeconds),
        sessionDuration: Duration.seconds(config.session.durationSeconds),
        sessionPolicyArns: [...config.session.sessionPolicyArns],
      });
      roles.set(provider.namespace, role);
      if (provider.usesPlaceholderIds) {
        Annotations.of(role).addWarningV2(
          'wif:placeholder-ids',
          `${provider.displayName} uses placeholder ids (${provider.audiences.join(', ')}); replace them with your app's real ids in config/${config.stage}.json before deploying.`,
        );
      }
      new CfnOutput(this, `${name}RoleArn`, {
        description: `Role that ${provider.displayName} users assume with AssumeRoleWithWebIdentity`,
        value: role.role.roleArn,
      });
      new CfnOutput(this, `${name}PrefixTemplate`, {
        description: `Each ${provider.displayName} user's prefix; the variable is their ${provider.subjectClaim}`,
        value: provider.prefixTemplate,
      });
      // The one acknowledged finding per role: the object wildcard below the user's own
      // prefix. It cannot reach another user, because the prefix ends in their subject.
      const bucketId = this.getLogicalId(this.userData.bucket.node.defaultChild as CfnElement);
      Validations.of(role).acknowledge({
        // cdk-nag names a finding with policy variables written as <key> instead of ${key}.
        id: `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/${provider.prefixTemplate.replace(/\$\{([^}]+)\}/g, '<$1>')}*]`,
        reason: `Objects below the user's own prefix only (${provider.prefixTemplate}); the subject variable confines each user.`,
      });
    }
    this.roles = roles;

    new CfnOutput(this, 'BucketName', {
      description: 'The user data bucket',
      value: this.userData.bucket.bucketName,
    });
    new CfnOutput(this, 'Region', {
      description: 'Region of the bucket and roles',
      value: Aws.REGION,
    });
    new CfnOutput(this, 'SessionDurationSeconds', {
      description: 'DurationSeconds the app requests from STS',
      value: String(config.session.durationSeconds),
    });
    if (config.session.sessionPolicyArns.length > 0) {
      new CfnOutput(this, 'SessionPolicyArns', {
        description: 'Managed session policies the app passes to STS (PolicyArns)',
        value: config.session.sessionPolicyArns.join(','),
      });
    }

    Validations.of(this.userData.logBucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'This is the server access log bucket; logging it into itself would loop.',
    });

    addFederationGuards(this);
  }
}
