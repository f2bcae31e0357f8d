import * as fs from 'node:fs';
import * as path from 'node:path';
import { Construct } from 'constructs';
import { Annotations, Duration, SecretValue, Stack, Token, Validations } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as targets from 'aws-cdk-lib/aws-route53-targets';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import {
  bundlingHooks,
  DEFAULT_CALLBACK_BUNDLING,
  DEFAULT_CALLBACK_ENTRY,
  PROJECT_ROOT,
} from './callback-app-bundling';
import {
  validateBaseUrl,
  validateCertificateArn,
  validateDomainName,
  validateThrottle,
} from './callback-app-validation';
import { pascal, Provider } from './providers';
import type { AppConfig } from '../common/app-config';
import { callbackPath } from '../common/provider-facts';

/** What a created client-secret secret holds until the operator sets the real one. */
export const CLIENT_SECRET_PLACEHOLDER = 'SET-ME';

/** Default stage throttling: enough for sign-ins and file pages, low enough to cap cost. */
export const DEFAULT_THROTTLE = { rateLimit: 20, burstLimit: 40 } as const;

/** Default retention of the function's logs and of the API access logs. */
export const DEFAULT_LOG_RETENTION_DAYS = 30;

/**
 * The access log line: who called what and how it went. Only `$context` fields that
 * cannot carry secrets: no query string (the callback's has the authorization code and
 * state), no headers or cookies, no authorizer or identity claims. The path is kept;
 * the app never puts tokens in paths.
 */
export const ACCESS_LOG_FIELDS: Readonly<Record<string, string>> = {
  requestId: '$context.requestId',
  requestTime: '$context.requestTime',
  sourceIp: '$context.identity.sourceIp',
  userAgent: '$context.identity.userAgent',
  domainName: '$context.domainName',
  httpMethod: '$context.httpMethod',
  routeKey: '$context.routeKey',
  path: '$context.path',
  protocol: '$context.protocol',
  status: '$context.status',
  responseLength: '$context.responseLength',
  responseLatency: '$context.responseLatency',
  integrationStatus: '$context.integrationStatus',
  integrationLatency: '$context.integrationLatency',
  integrationError: '$context.integrationErrorMessage',
  error: '$context.error.message',
};

/** One provider the app signs users in with. */
export interface CallbackAppProvider {
  /** The identity provider. */
  readonly provider: Provider;
  /** The provider's web identity role, assumed with the user's token. */
  readonly role: iam.IRole;
  /**
   * The secret holding the OAuth client secret issued by the provider.
   * @default - a secret is created holding the placeholder `SET-ME`; set the real value
   * with `aws secretsmanager put-secret-value`
   */
  readonly clientSecret?: secretsmanager.ISecret;
}

/** A custom domain for the app. */
export interface CallbackAppDomain {
  /** The host name users open, e.g. `files.example.com`. */
  readonly domainName: string;
  /**
   * The Route 53 public hosted zone of `domainName`: the certificate is DNS-validated and
   * the alias records (A and AAAA) are created there.
   * @default - no DNS records; point the domain at `CallbackApp.domainTarget` yourself
   */
  readonly hostedZone?: route53.IHostedZone;
  /**
   * An existing ACM certificate for `domainName`, in the stack's region (HTTP API custom
   * domains are regional).
   * @default - a certificate DNS-validated in `hostedZone`
   */
  readonly certificate?: acm.ICertificate;
}

export interface CallbackAppProps {
  /** The user data bucket; the app only names it, it has no access to it. */
  readonly bucket: s3.IBucket;
  /** The providers users sign in with, each with its web identity role. */
  readonly providers: CallbackAppProvider[];
  /**
   * The `DurationSeconds` the app asks STS for.
   * @default Duration.hours(1)
   */
  readonly sessionDuration?: Duration;
  /**
   * Managed session policies the app passes to STS.
   * @default - none
   */
  readonly sessionPolicyArns?: string[];
  /**
   * A custom domain.
   * @default - the app is served on the HTTP API's execute-api endpoint
   */
  readonly domain?: CallbackAppDomain;
  /**
   * The public base URL (`https://host[:port]`, no path), when the app is reached
   * through something else than its domain or API endpoint (a CDN, the sandbox).
   * Redirect URIs derive from it (redirect-uri-from-config).
   * @default - `https://<domainName>`, else the API endpoint
   */
  readonly baseUrl?: string;
  /**
   * Default stage throttling.
   * @default { rateLimit: 20, burstLimit: 40 }
   */
  readonly throttle?: apigwv2.ThrottleSettings;
  /**
   * Retention of the function's logs and the API access logs.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Serve `/api/session` and `/api/credentials` to same-origin pages, so browser or mobile
   * code can call S3 with the AWS SDK and the user's temporary credentials (APP_CONFIG
   * `clientCredentials`). The bucket's CORS must allow the app's origin for that.
   * @default false
   */
  readonly clientCredentials?: boolean;
  /**
   * The local sandbox: allows an `http://` base URL.
   * @default false
   */
  readonly sandbox?: boolean;
  /**
   * The function's entry file, exporting `handler`.
   * @default lambda/callback/handler.ts
   */
  readonly entry?: string;
  /**
   * Bundling options, merged over `DEFAULT_CALLBACK_BUNDLING`.
   * @default - DEFAULT_CALLBACK_BUNDLING
   */
  readonly bundling?: nodejs.BundlingOptions;
}

/**
 * The callback web app: a Lambda function behind an HTTP API that signs users in at
 * their identity provider, trades their token for temporary credentials with STS, and
 * serves their files with those credentials.
 *
 * The function's own role reads the app's secrets and writes its logs, nothing else: it
 * has no access to user data (lambda-role-no-data-access, checked by the federation guards).
 */
export class CallbackApp extends Construct {
  /** The function. */
  public readonly function: nodejs.NodejsFunction;
  /** The function's execution role. */
  public readonly executionRole: iam.Role;
  /** The function's log group. */
  public readonly functionLogGroup: logs.LogGroup;
  /** The HTTP API. */
  public readonly api: apigwv2.HttpApi;
  /** The `$default` stage. */
  public readonly stage: apigwv2.HttpStage;
  /** The access log group of the stage. */
  public readonly accessLogGroup: logs.LogGroup;
  /** The secret holding the cookie encryption keys. */
  public readonly cookieKeySecret: secretsmanager.Secret;
  /** The OAuth client secret of each provider, by provider name. */
  public readonly clientSecrets: ReadonlyMap<string, secretsmanager.ISecret>;
  /** The public base URL, `https://host`, without trailing slash. */
  public readonly baseUrl: string;
  /** The custom domain. */
  public readonly domainName?: apigwv2.DomainName;
  /** The custom domain's certificate. */
  public readonly certificate?: acm.ICertificate;
  /** Where the custom domain must point (its regional domain name). */
  public readonly domainTarget?: string;

  constructor(scope: Construct, id: string, props: CallbackAppProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const sandbox = props.sandbox ?? false;
    const entry = props.entry ?? DEFAULT_CALLBACK_ENTRY;
    const errors = validateCallbackAppProps(props, stack);
    if (!fs.existsSync(entry)) {
      errors.push(
        `the callback app's entry ${path.relative(process.cwd(), entry) || entry} does not exist; it must export "handler" (lambda/callback/handler.ts).`,
      );
    }
    if (errors.length > 0) throw new Error(errors.join('\n'));

    const retention = props.logRetention ?? (DEFAULT_LOG_RETENTION_DAYS as logs.RetentionDays);
    const domain = props.domain;

    // A custom domain is the one origin of the app: the redirect URIs, the __Host- cookies
    // and the CORS origin are bound to it, so the execute-api endpoint is switched off.
    this.api = new apigwv2.HttpApi(this, 'Api', {
      description: 'Web identity federation: sign-in callback and files app',
      createDefaultStage: false,
      disableExecuteApiEndpoint: domain !== undefined,
      ipAddressType: apigwv2.IpAddressType.DUAL_STACK,
    });

    // The base URL comes from configuration or from the Api resource alone (never from
    // the stage, routes or domain resources, which depend on the function): the function
    // depends on the Api, the integration and routes on the function, and there is no cycle.
    this.baseUrl =
      props.baseUrl ?? (domain ? `https://${domain.domainName}` : this.api.apiEndpoint);

    // Secrets: the client secrets are issued by the providers, so the stack only creates
    // placeholders, or uses the existing secrets it is given.
    const clientSecrets = new Map<string, secretsmanager.ISecret>();
    for (const { provider, clientSecret } of props.providers) {
      clientSecrets.set(provider.namespace, clientSecret ?? this.placeholderClientSecret(provider));
    }
    this.clientSecrets = clientSecrets;
    this.cookieKeySecret = new secretsmanager.Secret(this, 'CookieKeySecret', {
      description:
        'Keys of the encrypted login and session cookies (first line encrypts, every line decrypts)',
      generateSecretString: {
        passwordLength: 64,
        // Alphanumerics only: the value is read as lines of key material, not quoted.
        excludePunctuation: true,
        includeSpace: false,
      },
    });
    Validations.of(this.cookieKeySecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'Cookie keys rotate as a key ring: put a new key as the first line and keep the old lines for a session lifetime, so signed-in users stay signed in; a rotation Lambda replacing the value would sign everyone out.',
    });

    this.functionLogGroup = new logs.LogGroup(this, 'FunctionLogs', { retention });
    this.executionRole = new iam.Role(this, 'ExecutionRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description:
        'Callback app: reads its own secrets and writes its logs; no access to user data (users act with their own credentials)',
    });
    // Explicit statements instead of grantRead (which adds DescribeSecret) and instead of
    // AWSLambdaBasicExecutionRole (which may write to any log group).
    this.executionRole.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ReadAppSecrets',
        actions: ['secretsmanager:GetSecretValue'],
        resources: [
          ...[...clientSecrets.values()].map((s) => s.secretArn),
          this.cookieKeySecret.secretArn,
        ],
      }),
    );
    this.executionRole.addToPolicy(
      new iam.PolicyStatement({
        sid: 'WriteOwnLogs',
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [this.functionLogGroup.logGroupArn],
      }),
    );

    // Typed by the schema the function parses it with, so the two cannot drift apart.
    const appConfig: AppConfig = {
      baseUrl: this.baseUrl,
      region: stack.region,
      bucket: props.bucket.bucketName,
      durationSeconds: (props.sessionDuration ?? Duration.hours(1)).toSeconds(),
      sessionPolicyArns: [...(props.sessionPolicyArns ?? [])],
      cookieKeySecretId: this.cookieKeySecret.secretArn,
      ...(sandbox ? { sandbox: true } : {}),
      ...(props.clientCredentials ? { clientCredentials: true } : {}),
      providers: props.providers.map(({ provider, role }) => ({
        name: provider.namespace,
        family: provider.family,
        displayName: provider.displayName,
        // The first audience is the web app's client; others (mobile apps) only call STS.
        clientId: provider.audiences[0],
        clientSecretId: clientSecrets.get(provider.namespace)!.secretArn,
        ...(provider.issuerUrl ? { issuer: provider.issuerUrl } : {}),
        roleArn: role.roleArn,
        ...(provider.providerId ? { providerId: provider.providerId } : {}),
      })),
    };

    const appConfigJson = stack.toJsonString(appConfig);
    const size = estimatedLength(stack.resolve(appConfigJson));
    if (size > LAMBDA_ENVIRONMENT_LIMIT - 100) {
      Annotations.of(this).addWarningV2(
        'wif:app-config-size',
        `APP_CONFIG will be about ${size} bytes once deployed; Lambda refuses environments over ${LAMBDA_ENVIRONMENT_LIMIT} bytes. Configure fewer providers or shorter names.`,
      );
    }

    this.function = new nodejs.NodejsFunction(this, 'Function', {
      description: 'Web identity federation: sign-in callback and files app',
      entry,
      handler: 'handler',
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: path.join(PROJECT_ROOT, 'package-lock.json'),
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 512,
      // Below the HTTP API's 30 s integration limit, above an IdP's slow token endpoint.
      timeout: Duration.seconds(15),
      role: this.executionRole,
      logGroup: this.functionLogGroup,
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        APP_CONFIG: appConfigJson,
      },
      bundling: {
        ...DEFAULT_CALLBACK_BUNDLING,
        commandHooks: bundlingHooks(entry),
        ...props.bundling,
      },
    });
    Validations.of(this.function).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'nodejs22.x (a supported LTS runtime) is pinned on purpose: the same bundle runs in the local sandbox on Node 20 and is tested there; move to a newer runtime deliberately, together with the sandbox.',
    });

    this.accessLogGroup = new logs.LogGroup(this, 'AccessLogs', { retention });
    const throttle = { ...DEFAULT_THROTTLE, ...props.throttle };
    this.stage = new apigwv2.HttpStage(this, 'DefaultStage', {
      httpApi: this.api,
      stageName: '$default',
      autoDeploy: true,
      throttle,
      accessLogSettings: {
        destination: new apigwv2.LogGroupLogDestination(this.accessLogGroup),
        format: AccessLogFormat.custom(JSON.stringify(ACCESS_LOG_FIELDS)),
      },
    });

    const integration = new HttpLambdaIntegration('Function', this.function, {
      payloadFormatVersion: apigwv2.PayloadFormatVersion.VERSION_2_0,
    });
    const routes = [
      ...this.api.addRoutes({ path: '/', methods: [apigwv2.HttpMethod.GET], integration }),
      ...this.api.addRoutes({ path: '/{proxy+}', methods: [apigwv2.HttpMethod.ANY], integration }),
    ];
    for (const route of routes) {
      Validations.of(route).acknowledge({
        id: 'AwsSolutions-APIG4',
        reason:
          "Public sign-in pages by design: nobody is signed in before the IdP callback; the app authenticates every later request with its encrypted session cookie and acts only with the user's own temporary credentials.",
      });
    }

    if (domain) {
      this.certificate =
        domain.certificate ??
        new acm.Certificate(this, 'Certificate', {
          domainName: domain.domainName,
          validation: acm.CertificateValidation.fromDns(domain.hostedZone),
        });
      this.domainName = new apigwv2.DomainName(this, 'DomainName', {
        domainName: domain.domainName,
        certificate: this.certificate,
        endpointType: apigwv2.EndpointType.REGIONAL,
        securityPolicy: apigwv2.SecurityPolicy.TLS_1_2,
        ipAddressType: apigwv2.IpAddressType.DUAL_STACK,
      });
      new apigwv2.ApiMapping(this, 'ApiMapping', {
        api: this.api,
        domainName: this.domainName,
        stage: this.stage,
      });
      this.domainTarget = this.domainName.regionalDomainName;
      if (domain.hostedZone) {
        const target = route53.RecordTarget.fromAlias(
          new targets.ApiGatewayv2DomainProperties(
            this.domainName.regionalDomainName,
            this.domainName.regionalHostedZoneId,
          ),
        );
        new route53.ARecord(this, 'AliasRecord', {
          zone: domain.hostedZone,
          recordName: domain.domainName,
          target,
        });
        new route53.AaaaRecord(this, 'AliasRecordIpv6', {
          zone: domain.hostedZone,
          recordName: domain.domainName,
          target,
        });
      }
    }
  }

  /** A secret with a placeholder for a client secret that only the provider can issue. */
  private placeholderClientSecret(provider: Provider): secretsmanager.Secret {
    const secret = new secretsmanager.Secret(this, `${pascal(provider.namespace)}ClientSecret`, {
      // A fixed description: a template change to this secret could put the placeholder back.
      description: `OAuth client secret of the ${provider.displayName} app; created as ${CLIENT_SECRET_PLACEHOLDER}, set the real value with put-secret-value`,
      // A placeholder, not a secret: the provider issues the real value. A random value
      // would look valid and only fail later at the token endpoint.
      secretStringValue: SecretValue.unsafePlainText(CLIENT_SECRET_PLACEHOLDER),
    });
    Validations.of(secret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason: `The ${provider.displayName} client secret is issued and rotated at the identity provider (its developer console); after rotating there, store the new value with put-secret-value.`,
    });
    return secret;
  }

  /** The exact redirect URI to register at a provider: `<baseUrl>/oauth2callback/<name>`. */
  public redirectUri(provider: Provider): string {
    return this.baseUrl + callbackPath(provider.namespace);
  }
}

/** Lambda's limit on the total size of a function's environment variables. */
const LAMBDA_ENVIRONMENT_LIMIT = 4096;

/** The length of a resolved value once deployed, counting 128 characters per token (an ARN). */
function estimatedLength(resolved: unknown): number {
  if (typeof resolved === 'string') return resolved.length;
  const join = (resolved as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
  if (join) return join[1].reduce<number>((n, part) => n + estimatedLength(part), 0);
  return 128;
}

function validateCallbackAppProps(props: CallbackAppProps, stack: Stack): string[] {
  const errors: string[] = [];
  if (props.providers.length === 0) {
    errors.push('the callback app needs at least one provider.');
  }
  const names = props.providers.map((p) => p.provider.namespace);
  const duplicate = names.find((n, i) => names.indexOf(n) !== i);
  if (duplicate) {
    errors.push(`provider "${duplicate}" is given twice to the callback app; give it once.`);
  }
  if (props.baseUrl !== undefined && !Token.isUnresolved(props.baseUrl)) {
    errors.push(
      ...validateBaseUrl(props.baseUrl, props.sandbox ?? false).map((m) => `baseUrl: ${m}`),
    );
  }
  const domain = props.domain;
  if (domain) {
    if (!Token.isUnresolved(domain.domainName)) {
      errors.push(...validateDomainName(domain.domainName).map((m) => `domainName: ${m}`));
    }
    if (!domain.certificate && !domain.hostedZone) {
      errors.push(
        `domain ${JSON.stringify(domain.domainName)} needs a certificate or a hosted zone to create a DNS-validated one.`,
      );
    }
    const arn = domain.certificate?.certificateArn;
    if (arn !== undefined && !Token.isUnresolved(arn)) {
      const region = Token.isUnresolved(stack.region) ? undefined : stack.region;
      errors.push(...validateCertificateArn(arn, region).map((m) => `certificate: ${m}`));
    }
  }
  if (props.throttle) {
    errors.push(
      ...validateThrottle({ ...DEFAULT_THROTTLE, ...props.throttle }).map((m) => `throttle: ${m}`),
    );
  }
  return errors;
}
