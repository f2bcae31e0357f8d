import { Construct } from 'constructs';
import {
  Annotations,
  Aws,
  CfnOutput,
  Duration,
  Stack,
  StackProps,
  Token,
  Validations,
  CfnElement,
} from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { CallbackApp, CallbackAppDomain } from './callback-app';
import { StageConfig } from './config';
import { pascal } from './providers';
import { UserDataBucket } from './user-data-bucket';
import { WebIdentityRole } from './web-identity-role';
import { addFederationGuards } from './guards';

export interface FederationStackProps extends StackProps {
  /** The validated stage configuration. */
  readonly config: StageConfig;
  /**
   * How the callback app's function is built (tests, the sandbox).
   * @default - lambda/callback/handler.ts with the default bundling
   */
  readonly callbackApp?: CallbackAppBuildOptions;
}

/** Build options of the callback app's function. */
export interface CallbackAppBuildOptions {
  /**
   * The function's entry file.
   * @default lambda/callback/handler.ts
   */
  readonly entry?: string;
  /**
   * Bundling options merged over the defaults (minified, source maps, everything bundled).
   * @default - DEFAULT_CALLBACK_BUNDLING
   */
  readonly bundling?: nodejs.BundlingOptions;
}

/**
 * The federation core: the user data bucket and one web identity role per provider,
 * each confined to `users/<provider>/<subject>/`, and the callback app that signs users
 * in. The app lives in the same stack so the guards see its role next to the bucket
 * (lambda-role-no-data-access: it must have no access to user data).
 */
export class FederationStack extends Stack {
  /** The user data bucket and its log bucket. */
  public readonly userData: UserDataBucket;
  /** One role per configured provider, by namespace. */
  public readonly roles: ReadonlyMap<string, WebIdentityRole>;
  /** The sign-in callback app. */
  public readonly callbackApp: CallbackApp;

  constructor(scope: Construct, id: string, props: FederationStackProps) {
    super(scope, id, props);
    const { config } = props;
    const namespaces = config.providers.map((p) => p.provider.namespace);
    const duplicate = namespaces.find((n, i) => namespaces.indexOf(n) !== i);
    if (duplicate) {
      // providers-unique-https: the config parser reports this too; constructs used directly must not allow it either.
      throw new Error(`provider "${duplicate}" is configured twice; merge the entries into one.`);
    }

    this.userData = new UserDataBucket(this, 'UserData', {
      encryption: config.bucket.encryption,
      noncurrentVersionExpirationDays: config.bucket.noncurrentVersionExpirationDays,
      abortIncompleteMultipartUploadDays: config.bucket.abortIncompleteMultipartUploadDays,
      accessLogRetentionDays: config.bucket.accessLogRetentionDays,
      corsOrigins: [...config.app.origins],
      clientCredentials: config.app.clientCredentials,
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

    this.callbackApp = this.addCallbackApp(config, props.callbackApp ?? {});

    Validations.of(this.userData.logBucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'This is the server access log bucket; logging it into itself would loop.',
    });

    addFederationGuards(this);
  }

  private addCallbackApp(config: StageConfig, build: CallbackAppBuildOptions): CallbackApp {
    const { app: appConfig } = config;
    let domain: CallbackAppDomain | undefined;
    if (appConfig.domain) {
      const { name, hostedZone, certificateArn } = appConfig.domain;
      domain = {
        domainName: name,
        hostedZone:
          hostedZone &&
          route53.PublicHostedZone.fromPublicHostedZoneAttributes(this, 'HostedZone', {
            hostedZoneId: hostedZone.id,
            zoneName: hostedZone.name,
          }),
        certificate:
          certificateArn !== undefined
            ? acm.Certificate.fromCertificateArn(this, 'Certificate', certificateArn)
            : undefined,
      };
    }
    const app = new CallbackApp(this, 'CallbackApp', {
      bucket: this.userData.bucket,
      providers: config.providers.map((entry) => ({
        provider: entry.provider,
        role: this.roles.get(entry.provider.namespace)!.role,
        clientSecret:
          entry.clientSecretArn !== undefined
            ? secretsmanager.Secret.fromSecretCompleteArn(
                this,
                `${pascal(entry.provider.namespace)}ClientSecret`,
                entry.clientSecretArn,
              )
            : undefined,
      })),
      sessionDuration: Duration.seconds(config.session.durationSeconds),
      sessionPolicyArns: [...config.session.sessionPolicyArns],
      domain,
      baseUrl: appConfig.baseUrl,
      throttle: appConfig.throttle,
      logRetention: appConfig.logRetentionDays as logs.RetentionDays,
      sandbox: config.sandbox,
      clientCredentials: appConfig.clientCredentials,
      entry: build.entry,
      bundling: build.bundling,
    });

    new CfnOutput(this, 'Endpoint', {
      description: 'Open this URL to sign in; the app is served only here',
      value: app.baseUrl,
    });
    for (const { provider, clientSecretArn } of config.providers) {
      const name = pascal(provider.namespace);
      new CfnOutput(this, `${name}RedirectUri`, {
        description: `Register this exact redirect URI at ${provider.displayName} (allowed callback / return URL of client ${provider.audiences[0]})`,
        value: app.redirectUri(provider),
      });
      new CfnOutput(this, `${name}ClientSecretArn`, {
        description:
          `${provider.displayName} OAuth client secret${clientSecretArn ? ' (existing secret from the config)' : ''}; ` +
          "set it with: aws secretsmanager put-secret-value --secret-id <arn> --secret-string '<client secret>'",
        value: app.clientSecrets.get(provider.namespace)!.secretArn,
      });
    }
    new CfnOutput(this, 'CookieKeySecretArn', {
      description:
        'Keys of the encrypted cookies (generated); to rotate, put a new key as the first line and keep the old ones below it for a session lifetime',
      value: app.cookieKeySecret.secretArn,
    });
    if (appConfig.domain && !appConfig.domain.hostedZone && app.domainTarget) {
      new CfnOutput(this, 'DomainTarget', {
        description: `Point ${appConfig.domain.name} here (CNAME, or alias A/AAAA records) in your DNS`,
        value: app.domainTarget,
      });
    }

    // Browsers upload with presigned URLs from the app's pages (and, with client-side
    // credentials, call S3 with the SDK), so the bucket's CORS must allow the app's own
    // origin; say so when it is known and missing.
    const knownOrigin = !Token.isUnresolved(app.baseUrl);
    if (appConfig.clientCredentials && appConfig.origins.length === 0) {
      Annotations.of(app).addWarningV2(
        'wif:client-credentials-without-cors',
        `app.clientCredentials is true but app.origins is empty, so the bucket has no CORS rule and the AWS SDK on the app's pages cannot call S3 with the credentials from /api/credentials. Add the app's origin (${knownOrigin ? app.baseUrl : 'the Endpoint output, once deployed'}) to app.origins in config/${config.stage}.json, or set app.clientCredentials to false.`,
      );
    } else if (knownOrigin && !appConfig.origins.includes(app.baseUrl)) {
      Annotations.of(app).addWarningV2(
        'wif:app-origin-not-in-cors',
        `app.origins does not list the app's own origin ${app.baseUrl}; browsers on its pages cannot upload to the bucket with presigned URLs${appConfig.clientCredentials ? ' or call S3 with the AWS SDK (app.clientCredentials)' : ''}. Add it to app.origins in config/${config.stage}.json.`,
      );
    }
    return app;
  }
}
