import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { isBuiltin } from 'node:module';
import * as path from 'node:path';
import { CfnElement, CfnResource, Duration, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { parseAppConfig } from '../../common/app-config';
import { ACCESS_LOG_FIELDS, CallbackApp, CallbackAppProps } from '../../lib/callback-app';
import { DEFAULT_CALLBACK_ENTRY } from '../../lib/callback-app-bundling';
import {
  CLI_ASSET_FILE,
  CLI_ENTRY,
  cliBuildArgs,
  esbuildCommand,
  shellCommand,
} from '../../lib/cli-command';
import { ConfigError, parseStageConfig, RawStageConfig } from '../../lib/config';
import { FederationStack } from '../../lib/federation-stack';
import { findUnsafeAppEndpoints } from '../../lib/guards';
import { Provider } from '../../lib/providers';
import { buildTestStack, testApp, testConfig, testRawConfig } from '../support/helpers';

type Json = Record<string, unknown>;
interface Resource {
  Type: string;
  Properties?: Json;
  DependsOn?: string | string[];
}

const PROJECT = path.join(__dirname, '..', '..');
const ACCOUNT = '123456789012';
const REGION = 'eu-west-1';
const ZONE_ID = 'Z0123456789ABCDEFGHIJ';
const ZONE_DOMAIN = {
  name: 'files.example.com',
  hostedZoneId: ZONE_ID,
  hostedZoneName: 'example.com',
};
const CERT_ARN = `arn:aws:acm:${REGION}:${ACCOUNT}:certificate/0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9`;
const SECRET_ARN = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:wif/google-client-AbC123`;

const withApp = (app: Partial<NonNullable<RawStageConfig['app']>>): RawStageConfig =>
  testRawConfig({ app: { origins: ['https://files.example.com'], ...app } });

function build(raw: RawStageConfig = testRawConfig()) {
  const { app, stack } = buildTestStack(parseStageConfig('test', raw));
  return { app, stack, template: Template.fromStack(stack) };
}

const logicalId = (stack: Stack, c: { node: { defaultChild?: unknown } }): string =>
  stack.getLogicalId(c.node.defaultChild as CfnElement);

function resources(template: Template, type?: string): [string, Resource][] {
  const all = template.toJSON().Resources as Record<string, Resource>;
  return Object.entries(all).filter(([, r]) => type === undefined || r.Type === type);
}

/** Every statement of every policy attached to a role (inline, default policy, managed). */
function statementsOf(template: Template, roleId: string): Json[] {
  const role = template.toJSON().Resources[roleId] as Resource;
  const inline = ((role.Properties?.Policies as { PolicyDocument: Json }[]) ?? []).map(
    (p) => p.PolicyDocument,
  );
  const attached = resources(template)
    .filter(([, r]) => r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy')
    .filter(([, r]) => JSON.stringify(r.Properties?.Roles ?? []).includes(`"${roleId}"`))
    .map(([, r]) => r.Properties!.PolicyDocument as Json);
  return [...inline, ...attached].flatMap((d) => [d.Statement].flat() as Json[]);
}

const actionsOf = (statements: Json[]): string[] =>
  statements.flatMap((s) => [s.Action].flat() as string[]);

/** The function's APP_CONFIG with every token replaced by a plausible deployed value. */
function resolvedAppConfig(template: Template): { json: string; refs: string[] } {
  const [, fn] = resources(template, 'AWS::Lambda::Function')[0];
  const raw = (fn.Properties!.Environment as { Variables: Json }).Variables.APP_CONFIG;
  const all = template.toJSON().Resources as Record<string, Resource>;
  const refs: string[] = [];
  const value = (part: unknown): string => {
    if (typeof part === 'string') return part;
    const o = part as Json;
    if (o.Ref === 'AWS::Region') return REGION;
    if (typeof o.Ref === 'string') {
      refs.push(`${all[o.Ref].Type} Ref`);
      switch (all[o.Ref].Type) {
        case 'AWS::SecretsManager::Secret':
          return `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${o.Ref}-Ab12Cd`;
        case 'AWS::S3::Bucket':
          return 'wif-test-userdatabucket-1a2b3c4d5e6f';
      }
    }
    if (Array.isArray(o['Fn::GetAtt'])) {
      const [id, attr] = o['Fn::GetAtt'] as [string, string];
      refs.push(`${all[id].Type} ${attr}`);
      if (all[id].Type === 'AWS::IAM::Role' && attr === 'Arn') {
        return `arn:aws:iam::${ACCOUNT}:role/${id}`;
      }
      if (all[id].Type === 'AWS::ApiGatewayV2::Api' && attr === 'ApiEndpoint') {
        return `https://a1b2c3d4e5.execute-api.${REGION}.amazonaws.com`;
      }
    }
    throw new Error(`APP_CONFIG references something unexpected: ${JSON.stringify(part)}`);
  };
  if (typeof raw === 'string') return { json: raw, refs };
  const [sep, parts] = (raw as { 'Fn::Join': [string, unknown[]] })['Fn::Join'];
  return { json: parts.map(value).join(sep), refs };
}

/** Logical ids each resource references (Ref, GetAtt, Sub, DependsOn). */
function dependencies(r: Resource): Set<string> {
  const deps = new Set<string>([r.DependsOn ?? []].flat());
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) return v.forEach(walk);
    if (v === null || typeof v !== 'object') return;
    const o = v as Json;
    if (typeof o.Ref === 'string' && !o.Ref.startsWith('AWS::')) deps.add(o.Ref);
    if (Array.isArray(o['Fn::GetAtt'])) deps.add((o['Fn::GetAtt'] as string[])[0]);
    if (typeof o['Fn::Sub'] === 'string') {
      for (const m of (o['Fn::Sub'] as string).matchAll(/\$\{([A-Za-z0-9]+)[.}]/g)) deps.add(m[1]);
    }
    Object.values(o).forEach(walk);
  };
  walk(r.Properties);
  return deps;
}

function findCycle(template: Template): string[] | undefined {
  const all = template.toJSON().Resources as Record<string, Resource>;
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (id: string, trail: string[]): string[] | undefined => {
    if (state.get(id) === 'done' || !all[id]) return undefined;
    if (state.get(id) === 'visiting') return [...trail, id];
    state.set(id, 'visiting');
    for (const dep of dependencies(all[id])) {
      const cycle = visit(dep, [...trail, id]);
      if (cycle) return cycle;
    }
    state.set(id, 'done');
    return undefined;
  };
  for (const id of Object.keys(all)) {
    const cycle = visit(id, []);
    if (cycle) return cycle;
  }
  return undefined;
}

function configProblems(raw: unknown): string[] {
  try {
    parseStageConfig('test', raw);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  throw new Error('expected a ConfigError, the config was accepted');
}

describe('execution role (lambda-role-no-data-access)', () => {
  const { stack, template } = build();
  const roleId = logicalId(stack, stack.callbackApp.executionRole);
  const statements = statementsOf(template, roleId);

  test('is assumed by Lambda only and carries no managed policy', () => {
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [
          {
            Effect: 'Allow',
            Action: 'sts:AssumeRole',
            Principal: { Service: 'lambda.amazonaws.com' },
          },
        ],
      },
      ManagedPolicyArns: Match.absent(),
    });
    const fn = resources(template, 'AWS::Lambda::Function')[0][1];
    expect(fn.Properties!.Role).toEqual({ 'Fn::GetAtt': [roleId, 'Arn'] });
  });

  test('has no S3 access at all: the user acts with their own temporary credentials', () => {
    const actions = actionsOf(statements);
    expect(actions.filter((a) => /^(s3|s3-object-lambda|kms):|^\*$/i.test(a))).toEqual([]);
    expect(statements.every((s) => s.NotAction === undefined && s.NotResource === undefined)).toBe(
      true,
    );
    expect(JSON.stringify(statements)).not.toMatch(/UserDataBucket/);
  });

  test('holds exactly GetSecretValue on its secrets and write access to its own log group', () => {
    expect(statements).toHaveLength(2);
    const logGroupId = logicalId(stack, stack.callbackApp.functionLogGroup);
    expect(statements).toContainEqual({
      Sid: 'WriteOwnLogs',
      Effect: 'Allow',
      Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      Resource: { 'Fn::GetAtt': [logGroupId, 'Arn'] },
    });
    const secrets = resources(template, 'AWS::SecretsManager::Secret').map(([id]) => ({ Ref: id }));
    expect(secrets).toHaveLength(5); // four client secrets and the cookie key
    const read = statements.find((s) => s.Sid === 'ReadAppSecrets')!;
    expect(read.Action).toBe('secretsmanager:GetSecretValue');
    expect(read.Condition).toBeUndefined();
    expect([read.Resource].flat()).toEqual(expect.arrayContaining(secrets));
    expect([read.Resource].flat()).toHaveLength(secrets.length);
  });

  test('an existing client secret from the config is read by exact ARN and not created', () => {
    const raw = testRawConfig();
    raw.providers[1] = { ...raw.providers[1], clientSecretArn: SECRET_ARN } as never;
    const { stack: s, template: t } = build(raw);
    const read = statementsOf(t, logicalId(s, s.callbackApp.executionRole)).find(
      (x) => x.Sid === 'ReadAppSecrets',
    )!;
    expect([read.Resource].flat()).toContain(SECRET_ARN);
    expect([read.Resource].flat()).toHaveLength(5);
    expect(resources(t, 'AWS::SecretsManager::Secret')).toHaveLength(4);
    t.hasOutput('GoogleClientSecretArn', { Value: SECRET_ARN });
  });

  test('granting it read access to the user bucket fails synth (lambda-role-no-data-access)', () => {
    const { app, stack: s } = buildTestStack();
    s.userData.bucket.grantRead(s.callbackApp.executionRole);
    expect(() => app.synth()).toThrow(
      /\[lambda-role-no-data-access\] CallbackAppExecutionRole[0-9A-F]{8} \(CallbackAppExecutionRoleDefaultPolicy[0-9A-F]{8}\): \[[^\]]*"s3:GetObject\*"/,
    );
  });

  test('an escape-hatch s3:GetObject on * fails synth too', () => {
    const { app, stack: s } = buildTestStack();
    s.callbackApp.executionRole.addToPolicy(
      new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: ['*'] }),
    );
    expect(() => app.synth()).toThrow(/\[lambda-role-no-data-access\] CallbackAppExecutionRole/);
  });
});

describe('secrets', () => {
  const { stack, template } = build();

  test('each provider gets a client secret holding the obvious placeholder SET-ME', () => {
    for (const ns of ['amazon', 'google', 'facebook', 'cognito']) {
      const secret = stack.callbackApp.clientSecrets.get(ns)!;
      const r = template.toJSON().Resources[logicalId(stack, secret)] as Resource;
      expect(r.Properties).toMatchObject({ SecretString: 'SET-ME' });
      expect(r.Properties!.GenerateSecretString).toBeUndefined();
    }
  });

  test('the cookie key is generated: 64 characters, no punctuation, no spaces', () => {
    const r = template.toJSON().Resources[
      logicalId(stack, stack.callbackApp.cookieKeySecret)
    ] as Resource;
    expect(r.Properties!.SecretString).toBeUndefined();
    expect(r.Properties!.GenerateSecretString).toEqual({
      PasswordLength: 64,
      ExcludePunctuation: true,
      IncludeSpace: false,
    });
  });
});

describe('logs', () => {
  test('the function and the access logs each have a log group with 30 days retention', () => {
    const { stack, template } = build();
    const fnLogs = logicalId(stack, stack.callbackApp.functionLogGroup);
    const accessLogs = logicalId(stack, stack.callbackApp.accessLogGroup);
    expect(resources(template, 'AWS::Logs::LogGroup').map(([id, r]) => [id, r.Properties])).toEqual(
      expect.arrayContaining([
        [fnLogs, { RetentionInDays: 30 }],
        [accessLogs, { RetentionInDays: 30 }],
      ]),
    );
    template.hasResourceProperties('AWS::Lambda::Function', {
      LoggingConfig: { LogGroup: { Ref: fnLogs } },
    });
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      AccessLogSettings: { DestinationArn: { 'Fn::GetAtt': [accessLogs, 'Arn'] } },
    });
    // No LogRetention custom resource (and its Lambda) is needed.
    template.resourceCountIs('Custom::LogRetention', 0);
  });

  test('logRetentionDays applies to both log groups', () => {
    const { template } = build(withApp({ logRetentionDays: 365 }));
    const retention = resources(template, 'AWS::Logs::LogGroup').map(
      ([, r]) => r.Properties!.RetentionInDays,
    );
    expect(retention).toEqual([365, 365]);
  });

  test('the access log is JSON of $context fields that never carry query strings, cookies or tokens', () => {
    const { template } = build();
    const stage = resources(template, 'AWS::ApiGatewayV2::Stage')[0][1];
    const format = (stage.Properties!.AccessLogSettings as { Format: string }).Format;
    const fields = JSON.parse(format) as Record<string, string>;
    expect(fields).toEqual(ACCESS_LOG_FIELDS);
    expect(fields.requestId).toBe('$context.requestId');
    for (const v of Object.values(fields)) {
      expect(v).toMatch(/^\$context\.[A-Za-z.]+$/);
      expect(v).not.toMatch(/query|cookie|header|authoriz|token|jwt|claims|body|caller|user\b/i);
    }
    expect(format).not.toMatch(/\$request\.|\$input\.|\$stageVariables/);
  });
});

describe('HTTP API', () => {
  const { stack, template } = build();
  const fnId = logicalId(stack, stack.callbackApp.function);

  test('routes GET / and ANY /{proxy+} to the function, payload format 2.0, no authorizer', () => {
    const routes = resources(template, 'AWS::ApiGatewayV2::Route').map(([, r]) => r.Properties!);
    expect(routes.map((r) => r.RouteKey).sort()).toEqual(['ANY /{proxy+}', 'GET /']);
    const [integrationId, integration] = resources(template, 'AWS::ApiGatewayV2::Integration')[0];
    expect(resources(template, 'AWS::ApiGatewayV2::Integration')).toHaveLength(1);
    expect(integration.Properties).toMatchObject({
      IntegrationType: 'AWS_PROXY',
      PayloadFormatVersion: '2.0',
      IntegrationUri: { 'Fn::GetAtt': [fnId, 'Arn'] },
    });
    for (const r of routes) {
      expect(r.Target).toEqual({ 'Fn::Join': ['', ['integrations/', { Ref: integrationId }]] });
      expect(r.AuthorizationType).toBe('NONE');
    }
    // API Gateway may invoke the function, for these routes only.
    const permissions = resources(template, 'AWS::Lambda::Permission').map(
      ([, r]) => r.Properties!,
    );
    expect(permissions).toHaveLength(2);
    for (const p of permissions) {
      expect(p).toMatchObject({
        Action: 'lambda:InvokeFunction',
        Principal: 'apigateway.amazonaws.com',
        FunctionName: { 'Fn::GetAtt': [fnId, 'Arn'] },
      });
    }
  });

  test('one $default stage, auto-deployed, throttled 20/s with bursts of 40', () => {
    template.resourceCountIs('AWS::ApiGatewayV2::Stage', 1);
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 20, ThrottlingBurstLimit: 40 },
    });
  });

  test('throttle comes from the config', () => {
    const { template: t } = build(withApp({ throttle: { rateLimit: 5, burstLimit: 10 } }));
    t.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      DefaultRouteSettings: { ThrottlingRateLimit: 5, ThrottlingBurstLimit: 10 },
    });
  });

  test('without a domain the execute-api endpoint serves the app', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Api', {
      ProtocolType: 'HTTP',
      DisableExecuteApiEndpoint: false,
    });
    template.resourceCountIs('AWS::ApiGatewayV2::DomainName', 0);
    template.resourceCountIs('AWS::CertificateManager::Certificate', 0);
  });
});

describe('function', () => {
  test('Node.js 22 on arm64, 512 MB, 15 s, source maps on', () => {
    const { template } = build();
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      MemorySize: 512,
      Timeout: 15,
      Handler: 'index.handler',
      Environment: { Variables: { NODE_OPTIONS: '--enable-source-maps' } },
    });
  });

  // NodejsFunction passes its Bundling (a private class) to Code.fromAsset; spying there
  // shows the options it was built with and the esbuild command line.
  function capturedBundling(build: () => void): { props: Json; command: string } {
    const spy = jest.spyOn(lambda.Code, 'fromAsset');
    try {
      build();
      const bundling = spy.mock.calls[0][1]!.bundling as unknown as {
        props: Json;
        command: string[];
      };
      return { props: bundling.props, command: bundling.command.join(' ') };
    } finally {
      spy.mockRestore();
    }
  }

  test('bundles the handler minified with source maps, everything included, with local esbuild', () => {
    const { props, command } = capturedBundling(() => buildTestStack());
    expect(props).toMatchObject({
      entry: DEFAULT_CALLBACK_ENTRY,
      minify: true,
      sourceMap: true,
      externalModules: ['@aws-sdk/*'],
      forceDockerBundling: false,
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
    });
    expect(command).toContain("'--bundle' '/asset-input/lambda/callback/handler.ts'");
    expect(command).toMatch(/'--minify' '--sourcemap'/);
    // Only the AWS SDK v3 is left to the Lambda runtime.
    expect(command).toContain("'--external:@aws-sdk/*'");
    expect(command.match(/--external/g)).toHaveLength(1);
  });

  test('after bundling, the static files are copied and the command-line tool is built next to them', () => {
    const { props } = capturedBundling(() => buildTestStack());
    const hooks = props.commandHooks as { afterBundling(i: string, o: string): string[] };
    const commands = hooks.afterBundling('/in', '/out');
    expect(commands).toHaveLength(2);
    expect(commands[0]).toContain('"/in/lambda/callback/static" "/out/static"');
    expect(commands[1]).toBe(
      shellCommand([
        ...esbuildCommand(PROJECT),
        ...cliBuildArgs(CLI_ENTRY, path.join('/out', CLI_ASSET_FILE)),
      ]),
    );
  });

  test('bundling options can be overridden, the rest of the defaults stay', () => {
    const { props } = capturedBundling(
      () =>
        new FederationStack(testApp(), 'Custom', {
          config: testConfig(),
          callbackApp: { bundling: { minify: false } },
        }),
    );
    expect(props).toMatchObject({
      minify: false,
      sourceMap: true,
      externalModules: ['@aws-sdk/*'],
    });
  });
});

describe('APP_CONFIG', () => {
  const { template } = build();
  const { json, refs } = resolvedAppConfig(template);

  test("parses with the Lambda code's own parseAppConfig once deployed values are in", () => {
    const config = parseAppConfig(json);
    expect(config).toMatchObject({
      baseUrl: `https://a1b2c3d4e5.execute-api.${REGION}.amazonaws.com`,
      region: REGION,
      bucket: 'wif-test-userdatabucket-1a2b3c4d5e6f',
      durationSeconds: 3600,
      sessionPolicyArns: [],
    });
    expect(config.sandbox).toBeUndefined();
    expect(config.endpoints).toBeUndefined();
    expect(config.cookieKeySecretId).toMatch(/:secret:CallbackAppCookieKeySecret[0-9A-F]{8}-/);
  });

  test('describes each provider as the runtime needs it (provider-id-oauth-only: ProviderId only for OAuth 2.0)', () => {
    const { providers } = parseAppConfig(json);
    const secret = (ns: string) =>
      expect.stringMatching(new RegExp(`:secret:CallbackApp${ns}ClientSecret[0-9A-F]{8}-`));
    const role = (ns: string) =>
      expect.stringMatching(new RegExp(`^arn:aws:iam::${ACCOUNT}:role/${ns}UsersRole[0-9A-F]{8}$`));
    expect(providers).toEqual([
      {
        name: 'amazon',
        family: 'amazon',
        displayName: 'Amazon',
        clientId: 'amzn1.application-oa2-client.0123456789abcdef0123456789abcdef',
        clientSecretId: secret('Amazon'),
        roleArn: role('Amazon'),
        providerId: 'www.amazon.com',
      },
      {
        name: 'google',
        family: 'google',
        displayName: 'Google',
        clientId: '123456789012-abcdefghijklmnop.apps.googleusercontent.com',
        clientSecretId: secret('Google'),
        issuer: 'https://accounts.google.com',
        roleArn: role('Google'),
      },
      {
        name: 'facebook',
        family: 'facebook',
        displayName: 'Facebook',
        clientId: '1234567890123456',
        clientSecretId: secret('Facebook'),
        roleArn: role('Facebook'),
        providerId: 'graph.facebook.com',
      },
      {
        name: 'cognito',
        family: 'oidc',
        displayName: 'cognito',
        clientId: '1example23456789abcdefghij',
        clientSecretId: secret('Cognito'),
        issuer: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123',
        roleArn: role('Cognito'),
      },
    ]);
  });

  test('references only the Api, the bucket name, the secrets and the roles: no cycle', () => {
    expect([...new Set(refs)].sort()).toEqual([
      'AWS::ApiGatewayV2::Api ApiEndpoint',
      'AWS::IAM::Role Arn',
      'AWS::S3::Bucket Ref',
      'AWS::SecretsManager::Secret Ref',
    ]);
    expect(findCycle(template)).toBeUndefined();
  });

  test('with a domain, the base URL is the domain and the stack has no cycle either', () => {
    const { template: t } = build(withApp({ domain: ZONE_DOMAIN }));
    const resolved = resolvedAppConfig(t);
    expect(parseAppConfig(resolved.json).baseUrl).toBe('https://files.example.com');
    expect(resolved.refs).not.toContain('AWS::ApiGatewayV2::Api ApiEndpoint');
    expect(findCycle(t)).toBeUndefined();
  });

  test('the sandbox stage may use http:// and says so', () => {
    const { template: t } = build({
      ...withApp({ origins: ['http://127.0.0.1:8443'], baseUrl: 'http://127.0.0.1:8443' }),
      sandbox: true,
    });
    const config = parseAppConfig(resolvedAppConfig(t).json);
    expect(config).toMatchObject({ baseUrl: 'http://127.0.0.1:8443', sandbox: true });
  });

  test('warns when APP_CONFIG would exceed the 4 KB Lambda environment limit', () => {
    const many = Array.from({ length: 14 }, (_, i) => ({
      type: 'oidc' as const,
      name: `issuer-number-${i}`,
      issuerUrl: `https://login${i}.example.org/realms/a-rather-long-realm-name`,
      clientIds: ['a-client-id-of-some-length'],
    }));
    const sizeWarnings = (raw: RawStageConfig) => {
      const { stack } = buildTestStack(parseStageConfig('test', raw));
      return Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('APP_CONFIG'));
    };
    expect(sizeWarnings(testRawConfig({ providers: many }))).toHaveLength(1);
    expect(sizeWarnings(testRawConfig())).toHaveLength(0);
  });

  test('a base URL override is used as is', () => {
    const { template: t } = build(
      withApp({ origins: ['https://cdn.example.com'], baseUrl: 'https://cdn.example.com' }),
    );
    expect(parseAppConfig(resolvedAppConfig(t).json).baseUrl).toBe('https://cdn.example.com');
    t.hasOutput('GoogleRedirectUri', { Value: 'https://cdn.example.com/oauth2callback/google' });
  });
});

describe('custom domain', () => {
  test('with a hosted zone: DNS-validated certificate, TLS 1.2 domain, mapping, A and AAAA alias', () => {
    const { stack, template } = build(withApp({ domain: ZONE_DOMAIN }));
    const { callbackApp } = stack;
    const certId = logicalId(stack, callbackApp.certificate as acm.Certificate);
    const domainId = logicalId(stack, callbackApp.domainName!);
    template.hasResourceProperties('AWS::CertificateManager::Certificate', {
      DomainName: 'files.example.com',
      ValidationMethod: 'DNS',
      DomainValidationOptions: [{ DomainName: 'files.example.com', HostedZoneId: ZONE_ID }],
    });
    template.hasResourceProperties('AWS::ApiGatewayV2::DomainName', {
      DomainName: 'files.example.com',
      DomainNameConfigurations: [
        {
          CertificateArn: { Ref: certId },
          EndpointType: 'REGIONAL',
          SecurityPolicy: 'TLS_1_2',
          IpAddressType: 'dualstack',
        },
      ],
    });
    template.hasResourceProperties('AWS::ApiGatewayV2::ApiMapping', {
      ApiId: { Ref: logicalId(stack, callbackApp.api) },
      DomainName: { Ref: domainId },
      Stage: '$default',
    });
    template.hasResource('AWS::ApiGatewayV2::ApiMapping', {
      DependsOn: [logicalId(stack, callbackApp.stage)],
    });
    for (const type of ['A', 'AAAA']) {
      template.hasResourceProperties('AWS::Route53::RecordSet', {
        Name: 'files.example.com.',
        Type: type,
        HostedZoneId: ZONE_ID,
        AliasTarget: {
          DNSName: { 'Fn::GetAtt': [domainId, 'RegionalDomainName'] },
          HostedZoneId: { 'Fn::GetAtt': [domainId, 'RegionalHostedZoneId'] },
        },
      });
    }
    template.resourceCountIs('AWS::Route53::RecordSet', 2);
    // One origin: the execute-api endpoint is off, so the redirect URIs and cookies bind to the domain.
    template.hasResourceProperties('AWS::ApiGatewayV2::Api', { DisableExecuteApiEndpoint: true });
    template.hasOutput('Endpoint', { Value: 'https://files.example.com' });
    template.hasOutput('GoogleRedirectUri', {
      Value: 'https://files.example.com/oauth2callback/google',
    });
    expect(template.findOutputs('DomainTarget')).toEqual({});
  });

  test('with an existing certificate ARN: no certificate or records created, the target is an output', () => {
    const { stack, template } = build(
      withApp({ domain: { name: 'files.example.com', certificateArn: CERT_ARN } }),
    );
    template.resourceCountIs('AWS::CertificateManager::Certificate', 0);
    template.resourceCountIs('AWS::Route53::RecordSet', 0);
    template.hasResourceProperties('AWS::ApiGatewayV2::DomainName', {
      DomainNameConfigurations: [{ CertificateArn: CERT_ARN, SecurityPolicy: 'TLS_1_2' }],
    });
    template.resourceCountIs('AWS::ApiGatewayV2::ApiMapping', 1);
    template.hasOutput('DomainTarget', {
      Value: {
        'Fn::GetAtt': [logicalId(stack, stack.callbackApp.domainName!), 'RegionalDomainName'],
      },
    });
  });

  test('with both a hosted zone and a certificate ARN: that certificate, and the alias records', () => {
    const { template } = build(withApp({ domain: { ...ZONE_DOMAIN, certificateArn: CERT_ARN } }));
    template.resourceCountIs('AWS::CertificateManager::Certificate', 0);
    template.hasResourceProperties('AWS::ApiGatewayV2::DomainName', {
      DomainNameConfigurations: [{ CertificateArn: CERT_ARN }],
    });
    template.resourceCountIs('AWS::Route53::RecordSet', 2);
  });
});

describe('refusals', () => {
  const domainRaw = (certificateArn: string, env?: RawStageConfig['env']) => ({
    ...withApp({ domain: { name: 'files.example.com', certificateArn } }),
    env,
  });

  test('certificate-region: a certificate in another region than the stack', () => {
    const usEast1 = CERT_ARN.replace(REGION, 'us-east-1');
    expect(configProblems(domainRaw(usEast1, { account: ACCOUNT, region: REGION }))).toEqual([
      expect.stringMatching(
        /^app\.domain\.certificateArn: \[certificate-region\] the certificate is in us-east-1, but the stack deploys to eu-west-1: HTTP API custom domains are regional/,
      ),
    ]);
  });

  test('certificate-region: a certificate ARN while the stack region is not set', () => {
    expect(configProblems(domainRaw(CERT_ARN, {}))).toEqual([
      expect.stringMatching(
        /^app\.domain\.certificateArn: \[certificate-region\] .*the stack's region is not set.*Set "env": \{ "region": "eu-west-1" \}/,
      ),
    ]);
  });

  test('certificate-region: the construct refuses a certificate from another region', () => {
    const stack = new Stack(testApp(), 'Direct', { env: { account: ACCOUNT, region: REGION } });
    const props: CallbackAppProps = {
      bucket: new s3.Bucket(stack, 'Bucket'),
      providers: [
        {
          provider: Provider.facebook('1234567890'),
          role: iam.Role.fromRoleArn(stack, 'Role', `arn:aws:iam::${ACCOUNT}:role/facebook`),
        },
      ],
      sessionDuration: Duration.hours(1),
      domain: {
        domainName: 'files.example.com',
        certificate: acm.Certificate.fromCertificateArn(
          stack,
          'Cert',
          CERT_ARN.replace(REGION, 'us-west-2'),
        ),
      },
    };
    expect(() => new CallbackApp(stack, 'App', props)).toThrow(
      /certificate: \[certificate-region\] the certificate is in us-west-2, but the stack deploys to eu-west-1/,
    );
  });

  test('certificate-region: the guard refuses an escape hatch that swaps in a foreign certificate', () => {
    const { app, stack } = buildTestStack(
      parseStageConfig(
        'test',
        withApp({ domain: { name: 'files.example.com', certificateArn: CERT_ARN } }),
      ),
    );
    (stack.callbackApp.domainName!.node.defaultChild as CfnResource).addPropertyOverride(
      'DomainNameConfigurations.0.CertificateArn',
      CERT_ARN.replace(REGION, 'us-east-1'),
    );
    expect(() => app.synth()).toThrow(
      /\[certificate-region\] CallbackAppDomainName[0-9A-F]{8}: a regional custom domain uses a certificate in us-east-1, but the stack is in eu-west-1/,
    );
  });

  test('certificate-region: edge and CloudFront certificates must be in us-east-1', () => {
    expect(
      findUnsafeAppEndpoints({
        Resources: {
          Edge: {
            Type: 'AWS::ApiGateway::DomainName',
            Properties: { CertificateArn: CERT_ARN },
          },
          Cdn: {
            Type: 'AWS::CloudFront::Distribution',
            Properties: {
              DistributionConfig: { ViewerCertificate: { AcmCertificateArn: CERT_ARN } },
            },
          },
        },
      }),
    ).toEqual([
      expect.stringMatching(
        /^\[certificate-region\] Edge: .*needs a certificate in us-east-1, got one in eu-west-1/,
      ),
      expect.stringMatching(/^\[certificate-region\] Cdn: .*needs a certificate in us-east-1/),
    ]);
  });

  test('providers-unique-https: an http:// base URL outside the sandbox', () => {
    expect(configProblems(withApp({ baseUrl: 'http://files.example.com' }))).toEqual([
      expect.stringMatching(
        /^app\.baseUrl: \[providers-unique-https\] "http:\/\/files\.example\.com" is not HTTPS; outside the sandbox/,
      ),
    ]);
  });

  test('providers-unique-https: the guard refuses an APP_CONFIG whose base URL an escape hatch made http://', () => {
    const { app, stack } = buildTestStack();
    const fn = stack.callbackApp.function.node.defaultChild as CfnResource;
    fn.addPropertyOverride(
      'Environment.Variables.APP_CONFIG',
      JSON.stringify({ baseUrl: 'http://files.example.com', providers: [] }),
    );
    expect(() => app.synth()).toThrow(
      /\[providers-unique-https\] CallbackAppFunction[0-9A-F]{8}: APP_CONFIG baseUrl "http:\/\/files\.example\.com" is not HTTPS/,
    );
  });

  test('providers-unique-https: the construct refuses an http:// base URL outside the sandbox', () => {
    const stack = new Stack(testApp(), 'Direct', { env: { account: ACCOUNT, region: REGION } });
    expect(
      () =>
        new CallbackApp(stack, 'App', {
          bucket: new s3.Bucket(stack, 'Bucket'),
          providers: [
            {
              provider: Provider.facebook('1234567890'),
              role: iam.Role.fromRoleArn(stack, 'Role', `arn:aws:iam::${ACCOUNT}:role/facebook`),
            },
          ],
          baseUrl: 'http://files.example.com',
        }),
    ).toThrow(/baseUrl: \[providers-unique-https\]/);
  });
});

describe('bucket CORS and the app origin', () => {
  const warnings = (raw: RawStageConfig) => {
    const { stack } = buildTestStack(parseStageConfig('test', raw));
    Template.fromStack(stack);
    return Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('app.origins'));
  };

  test('warns when the app origin is known and browsers could not upload from it', () => {
    expect(
      warnings(withApp({ origins: ['https://other.example.com'], domain: ZONE_DOMAIN })),
    ).toEqual([
      expect.objectContaining({
        entry: expect.objectContaining({
          data: expect.stringMatching(
            /app\.origins does not list the app's own origin https:\/\/files\.example\.com/,
          ),
        }),
      }),
    ]);
    expect(warnings(withApp({ domain: ZONE_DOMAIN }))).toEqual([]);
  });
});

describe('outputs', () => {
  const { stack, template } = build();
  const apiEndpoint = { 'Fn::GetAtt': [logicalId(stack, stack.callbackApp.api), 'ApiEndpoint'] };

  test('Endpoint, the exact redirect URI of each provider, the secrets to set', () => {
    template.hasOutput('Endpoint', { Value: apiEndpoint });
    for (const [name, ns] of [
      ['Amazon', 'amazon'],
      ['Google', 'google'],
      ['Facebook', 'facebook'],
      ['Cognito', 'cognito'],
    ]) {
      template.hasOutput(`${name}RedirectUri`, {
        Description: Match.stringLikeRegexp('^Register this exact redirect URI at '),
        Value: { 'Fn::Join': ['', [apiEndpoint, `/oauth2callback/${ns}`]] },
      });
      template.hasOutput(`${name}ClientSecretArn`, {
        Description: Match.stringLikeRegexp(
          "set it with: aws secretsmanager put-secret-value --secret-id <arn> --secret-string '<client secret>'$",
        ),
        Value: { Ref: logicalId(stack, stack.callbackApp.clientSecrets.get(ns)!) },
      });
    }
    template.hasOutput('CookieKeySecretArn', {
      Value: { Ref: logicalId(stack, stack.callbackApp.cookieKeySecret) },
    });
  });
});

describe('real bundling with the local esbuild', () => {
  test('cdk synth of the example stage bundles a loadable, minified handler with everything inside', () => {
    const entry = path.relative(process.cwd(), DEFAULT_CALLBACK_ENTRY);
    expect(fs.existsSync(DEFAULT_CALLBACK_ENTRY) ? entry : `${entry} is missing`).toBe(entry);
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'wif-bundle-'));
    const synth = spawnSync(
      process.execPath,
      ['--import', 'tsx', path.join(__dirname, '..', '..', 'bin', 'app.ts')],
      {
        env: {
          ...process.env,
          CDK_OUTDIR: out,
          CDK_CONTEXT_JSON: JSON.stringify({ stage: 'example' }),
        },
        encoding: 'utf8',
        timeout: 120_000,
      },
    );
    expect(synth.stderr).not.toMatch(/Error|docker/i);
    expect(synth.status).toBe(0);

    const template = JSON.parse(
      fs.readFileSync(path.join(out, 'WebIdFederation-example.template.json'), 'utf8'),
    );
    const fn = Object.values(template.Resources as Record<string, Resource>).find(
      (r) => r.Type === 'AWS::Lambda::Function',
    )!;
    const key = (fn.Properties!.Code as { S3Key: string }).S3Key;
    const asset = path.join(out, `asset.${key.replace(/\.zip$/, '')}`);
    expect(fs.readdirSync(asset).sort()).toEqual(['index.js', 'index.js.map', 'static']);
    // The app's own static files, next to the bundle where lambda/callback/assets.ts reads
    // them, and the command-line tool the app serves.
    expect(fs.readdirSync(path.join(asset, 'static')).sort()).toEqual(
      [
        ...fs.readdirSync(path.join(path.dirname(DEFAULT_CALLBACK_ENTRY), 'static')),
        'wif-login.cjs',
      ].sort(),
    );
    const cli = fs.readFileSync(path.join(asset, CLI_ASSET_FILE), 'utf8');
    // One readable CommonJS file: the shebang, nothing left to require but Node built-ins.
    expect(cli.startsWith('#!/usr/bin/env node\n')).toBe(true);
    expect(cli).toContain('// cli/wif-login.ts');
    expect(
      [...cli.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]).filter((m) => !isBuiltin(m)),
    ).toEqual([]);
    const run = spawnSync(process.execPath, [path.join(asset, CLI_ASSET_FILE), '--help'], {
      encoding: 'utf8',
      timeout: 30_000,
      env: { PATH: process.env.PATH },
    });
    expect(run.error).toBeUndefined();
    expect(run.stdout + run.stderr).toMatch(/wif-login/);
    const code = fs.readFileSync(path.join(asset, 'index.js'), 'utf8');
    // Minified: long lines (a few template literals of the views keep their newlines).
    expect(code.length / code.split('\n').length).toBeGreaterThan(1000);
    // AWS SDK v3 clients are required from the runtime; everything else is inside.
    expect(code).toMatch(/require\("@aws-sdk\/client-sts"\)/);
    expect(code).not.toMatch(/require\("(openid-client|jose|oauth4webapi|zod|cookie|escape-html)/);
    expect(code.length).toBeLessThan(250 * 1024);
    expect(code).toContain('AssumeRoleWithWebIdentity');

    const load = spawnSync(
      process.execPath,
      ['-e', `process.stdout.write(typeof require(${JSON.stringify(asset)}).handler)`],
      {
        encoding: 'utf8',
        timeout: 30_000,
        // The runtime provides the AWS SDK; here it comes from the project's node_modules.
        env: {
          PATH: process.env.PATH,
          NODE_PATH: path.join(__dirname, '..', '..', 'node_modules'),
        },
      },
    );
    expect(load.stderr).toBe('');
    expect(load.stdout).toBe('function');
  });
});
