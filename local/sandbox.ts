import type { AppConfig } from '../common/app-config';
import { issuerKeyPrefix } from '../common/provider-facts';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { parseStageConfig, type StageConfig } from '../lib/config';
import { buildStage, federationStackName } from '../lib/stage';
import type { RunningServer } from './contracts';
import { SessionStore } from './contracts';
import { startDevIdp } from './dev-idp';
import { cdkFeatureFlags } from './feature-flags';
import { devIdpEndpoints } from './dev-idp-endpoints';
import { functionTimeoutMs, startLocalHttpApi } from './http-api';
import { isPortFree } from './listen';
import { loadPolicyModel, roleTrusting, type PolicyModel } from './policy-model';
import { startLocalS3 } from './s3';
import { buildSdkExampleScript } from './sdk-example/bundle';
import { sdkExampleRoute } from './sdk-example/routes';
import {
  DEFAULT_PORTS,
  GOOGLE_ISSUER,
  HOST,
  SANDBOX_ACCOUNT,
  SANDBOX_CLIENTS,
  SANDBOX_REGION,
  type SandboxPorts,
  oidcIssuer,
  sandboxStageConfig,
  urlOf,
} from './sandbox-config';
import { startLocalSts } from './sts';
import { ensureLocalTls, type LocalTls } from './tls';

/**
 * The whole system on one machine: synthesizes the CDK app with the sandbox stage,
 * then serves the dev IdP, the local STS and S3 (enforcing the synthesized IAM) and the
 * local HTTP API running the synthesized Lambda bundle, all on 127.0.0.1 over HTTPS.
 */

export interface SandboxOptions {
  /** Data directory: TLS material, S3 objects, cloud assembly. */
  readonly dataDir: string;
  /** Ports; `'free'` picks free ports (tests). @default DEFAULT_PORTS */
  readonly ports?: SandboxPorts | 'free';
  /** Wipe the data directory first. */
  readonly reset?: boolean;
  readonly log?: (entry: Record<string, unknown>) => void;
  /**
   * The clock of the dev IdP's token checks and of the local STS (tests move it to
   * expire tokens; S3 keeps the real clock, as SigV4 clients sign with it).
   * @default Date.now
   */
  readonly tokenClock?: () => number;
}

export interface Sandbox {
  readonly ports: SandboxPorts;
  readonly urls: {
    readonly app: string;
    readonly idp: string;
    readonly sts: string;
    readonly s3: string;
  };
  readonly tls: LocalTls;
  readonly config: StageConfig;
  readonly model: PolicyModel;
  readonly template: Record<string, unknown>;
  readonly bucket: string;
  /** Role ARN per provider namespace (amazon, google, facebook, devidp). */
  readonly roleArns: Readonly<Record<string, string>>;
  readonly sessions: SessionStore;
  readonly idp: Awaited<ReturnType<typeof startDevIdp>>;
  close(): Promise<void>;
}

export async function startSandbox(options: SandboxOptions): Promise<Sandbox> {
  const log = options.log ?? (() => undefined);
  const dataDir = path.resolve(options.dataDir);
  if (options.reset) fs.rmSync(dataDir, { recursive: true, force: true });
  fs.mkdirSync(dataDir, { recursive: true });

  // esbuild bundles the SDK example's script in its own process while the app synthesizes.
  const sdkExampleScript = buildSdkExampleScript();
  sdkExampleScript.catch(() => undefined); // awaited below; not unhandled if startup fails first
  const ports = options.ports === 'free' ? await freePorts() : (options.ports ?? DEFAULT_PORTS);
  await assertPortsFree(ports);
  const tls = await ensureLocalTls(path.join(dataDir, 'tls'));
  const tlsOptions = { cert: tls.cert, key: tls.key, ca: tls.ca };

  // The same CDK app `cdk deploy` uses, with the sandbox stage. The built-in
  // CloudFormation validation is off here: it costs seconds and `cdk synth` runs it.
  const config = parseStageConfig('local', sandboxStageConfig(ports), 'the sandbox stage');
  const assemblyDir = path.join(dataDir, 'cdk.out');
  fs.rmSync(assemblyDir, { recursive: true, force: true });
  const app = new App({
    outdir: assemblyDir,
    builtinCloudFormationValidation: false,
    context: { ...cdkFeatureFlags(), 'aws:cdk:enable-asset-metadata': true },
  });
  buildStage(app, config);
  app.synth();
  const stackName = federationStackName('local');
  const template = JSON.parse(
    fs.readFileSync(path.join(assemblyDir, `${stackName}.template.json`), 'utf8'),
  ) as Record<string, unknown>;
  const model = loadPolicyModel(template, {
    accountId: SANDBOX_ACCOUNT,
    region: SANDBOX_REGION,
    stackName,
  });
  const bundle = lambdaBundle(template, assemblyDir);
  const bucket = userBucket(model);

  const started: RunningServer[] = [];
  try {
    const sessions = new SessionStore();
    const idp = await startDevIdp({
      port: ports.idp,
      tls: tlsOptions,
      ports,
      dataDir: path.join(dataDir, 'idp'),
      clock: options.tokenClock,
      log: (message) => log({ idp: message }),
    });
    started.push(idp);
    const sts = await startLocalSts({
      port: ports.sts,
      tls: tlsOptions,
      template,
      model,
      sessions,
      verifier: idp.verifier,
      log,
      clock: options.tokenClock,
    });
    started.push(sts);
    const s3 = await startLocalS3({
      port: ports.s3,
      tls: tlsOptions,
      dataDir: path.join(dataDir, 's3'),
      template,
      model,
      sessions,
      log,
    });
    started.push(s3);
    const roleArns = roleArnsByProvider(config, model, ports);
    const api = await startLocalHttpApi({
      port: ports.app,
      tls: tlsOptions,
      bundle,
      environment: {
        APP_CONFIG: JSON.stringify(sandboxAppConfig(config, ports, bucket, roleArns)),
        APP_SECRETS: JSON.stringify(sandboxSecrets(dataDir)),
        NODE_EXTRA_CA_CERTS: tls.caFile,
      },
      functionTimeoutMs: functionTimeoutMs(template, bundle),
      routes: [sdkExampleRoute({ s3Origin: s3.url, script: await sdkExampleScript })],
      log,
    });
    started.push(api);
    return {
      ports,
      urls: { app: api.url, idp: idp.url, sts: sts.url, s3: s3.url },
      tls,
      config,
      model,
      template,
      bucket,
      roleArns,
      sessions,
      idp,
      close: async () => {
        // Every service is closed even when one fails (a test may have closed it already);
        // the first failure is reported after all are down.
        const failures: unknown[] = [];
        for (const s of [...started].reverse()) await s.close().catch((e) => failures.push(e));
        if (failures.length > 0) throw failures[0];
      },
    };
  } catch (err) {
    for (const s of [...started].reverse()) await s.close().catch(() => undefined);
    throw err;
  }
}

/** The app's runtime configuration in the sandbox: the dev IdP, local STS and S3. */
export function sandboxAppConfig(
  config: StageConfig,
  ports: SandboxPorts,
  bucket: string,
  roleArns: Readonly<Record<string, string>>,
): AppConfig {
  const idp = devIdpEndpoints(urlOf(ports.idp));
  return {
    baseUrl: urlOf(ports.app),
    sandbox: true,
    region: SANDBOX_REGION,
    bucket,
    durationSeconds: config.session.durationSeconds,
    sessionPolicyArns: [...config.session.sessionPolicyArns],
    cookieKeySecretId: 'cookie-key',
    endpoints: { sts: urlOf(ports.sts), s3: urlOf(ports.s3) },
    ...(config.app.clientCredentials ? { clientCredentials: true } : {}),
    providers: config.providers.map(({ provider }) => {
      const common = {
        name: provider.namespace,
        family: provider.family,
        displayName:
          provider.displayName === SANDBOX_CLIENTS.oidc.name ? 'Dev OIDC' : provider.displayName,
        clientId: provider.audiences[0],
        clientSecretId: `${provider.namespace}-client-secret`,
        roleArn: roleArns[provider.namespace],
        providerId: provider.providerId,
      };
      switch (provider.family) {
        case 'google':
          // Google's issuer served from 127.0.0.1: metadata given, not discovered.
          return {
            ...common,
            issuer: GOOGLE_ISSUER,
            authorizationEndpoint: idp.google.authorization,
            tokenEndpoint: idp.google.token,
            jwksUri: idp.google.jwks,
            userinfoEndpoint: idp.google.userinfo,
          };
        case 'oidc':
          return { ...common, issuer: oidcIssuer(ports) };
        case 'amazon':
        case 'facebook':
          return {
            ...common,
            authorizationEndpoint: idp[provider.family].authorization,
            tokenEndpoint: idp[provider.family].token,
            profileEndpoint: idp[provider.family].profile,
          };
      }
    }),
  };
}

/** Client secrets of the dev IdP's clients, and a cookie key kept across restarts. */
function sandboxSecrets(dataDir: string): Record<string, string> {
  const keyFile = path.join(dataDir, 'cookie-key');
  if (!fs.existsSync(keyFile))
    fs.writeFileSync(keyFile, randomBytes(36).toString('base64url'), { mode: 0o600 });
  return {
    'cookie-key': fs.readFileSync(keyFile, 'utf8').trim(),
    'amazon-client-secret': SANDBOX_CLIENTS.amazon.clientSecret,
    'google-client-secret': SANDBOX_CLIENTS.google.clientSecret,
    'facebook-client-secret': SANDBOX_CLIENTS.facebook.clientSecret,
    [`${SANDBOX_CLIENTS.oidc.name}-client-secret`]: SANDBOX_CLIENTS.oidc.clientSecret,
  };
}

function roleArnsByProvider(
  config: StageConfig,
  model: PolicyModel,
  ports: SandboxPorts,
): Record<string, string> {
  const arns: Record<string, string> = {};
  for (const { provider } of config.providers) {
    const principal =
      provider.family === 'oidc'
        ? `arn:aws:iam::${SANDBOX_ACCOUNT}:oidc-provider/${issuerKeyPrefix(oidcIssuer(ports))}`
        : provider.conditionKeyPrefix;
    arns[provider.namespace] = roleTrusting(model, principal).roleArn;
  }
  return arns;
}

function userBucket(model: PolicyModel): string {
  const names = new Set(model.roles.flatMap((r) => r.bucketNames));
  if (names.size !== 1)
    throw new Error(`expected one user data bucket, found ${[...names].join(', ')}`);
  return [...names][0];
}

/** The callback function's bundle in the cloud assembly: what `cdk deploy` uploads. */
function lambdaBundle(template: Record<string, unknown>, assemblyDir: string): string {
  const resources = template.Resources as Record<
    string,
    { Type: string; Metadata?: Record<string, string> }
  >;
  for (const r of Object.values(resources)) {
    const asset = r.Metadata?.['aws:asset:path'];
    if (r.Type === 'AWS::Lambda::Function' && asset) {
      const file = path.join(assemblyDir, asset, 'index.js');
      if (fs.existsSync(file)) return file;
    }
  }
  throw new Error('the cloud assembly has no bundled Lambda function (index.js)');
}

/**
 * Free ports for tests, picked at random below Linux's ephemeral range (32768-60999):
 * a port the kernel hands out for listen(0) is also a source port for outgoing
 * connections, so between probing it and binding it a busy test run's own client
 * sockets could take it.
 */
async function freePorts(): Promise<SandboxPorts> {
  const chosen = new Set<number>();
  const one = async (): Promise<number> => {
    for (let attempt = 0; attempt < 100; attempt++) {
      const port = FREE_PORT_LOW + Math.floor(Math.random() * (FREE_PORT_HIGH - FREE_PORT_LOW));
      if (!chosen.has(port) && (await isPortFree(port))) {
        chosen.add(port);
        return port;
      }
    }
    throw new Error(`no free port found between ${FREE_PORT_LOW} and ${FREE_PORT_HIGH}`);
  };
  return { app: await one(), idp: await one(), sts: await one(), s3: await one() };
}

const FREE_PORT_LOW = 20_000;
const FREE_PORT_HIGH = 32_000;

/** Refuses to start when a port is taken (for example a sandbox already running). */
async function assertPortsFree(ports: SandboxPorts): Promise<void> {
  const busy: string[] = [];
  for (const [name, port] of Object.entries(ports)) {
    if (!(await isPortFree(port))) busy.push(`${name} ${HOST}:${port}`);
  }
  if (busy.length > 0) {
    throw new PortsBusyError(
      `ports busy: ${busy.join(', ')}. Is the sandbox already running? Stop it (Ctrl-C) or set SANDBOX_PORT_BASE to use other ports.`,
    );
  }
}

export class PortsBusyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PortsBusyError';
  }
}
