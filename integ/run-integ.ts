/**
 * The integration test against a real AWS account (integ/README.md). NOT part of
 * `npm test`: it deploys, creates users and costs a little. Usage:
 *
 *   AWS_PROFILE=<profile> npx tsx integ/run-integ.ts --yes-deploy
 *
 * 1. deploys the issuer stack (a Cognito user pool and app client), then the federation
 *    stack trusting that pool, with the local CDK CLI;
 * 2. creates two users with random passwords, signs each in (USER_PASSWORD_AUTH) and
 *    exchanges the ID tokens at STS (AssumeRoleWithWebIdentity) for the role;
 * 3. checks with each user's temporary credentials that user A reaches
 *    `users/cognito/<A's sub>/` and gets AccessDenied on B's prefix, the namespace root
 *    and the bucket root;
 * 4. always cleans up: empties both buckets (every version), destroys both stacks.
 *
 * Cognito calls go through the AWS CLI (`@aws-sdk/client-cognito-identity-provider` is
 * not a dependency), with the credentials the SDK resolved in its environment and its
 * input (passwords) in 0600 files, never on the command line. No password, token or
 * credential is ever printed.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import {
  AssumeRoleWithWebIdentityCommand,
  GetCallerIdentityCommand,
  STSClient,
} from '@aws-sdk/client-sts';
import {
  CLIENT_ID_CONTEXT,
  INTEG_IDP_STACK_NAME,
  INTEG_PROVIDER_NAME,
  INTEG_STACK_NAME,
  USER_POOL_ID_CONTEXT,
} from './integ-app';

const REPO_ROOT = path.resolve(__dirname, '..');
const APP_COMMAND = 'npx tsx integ/integ-app.ts';
const YES_FLAG = '--yes-deploy';
/** Exit code of a refusal: nothing was deployed, nothing was called. */
export const REFUSED = 2;

export const USAGE = [
  'Usage: AWS_PROFILE=<profile> npx tsx integ/run-integ.ts --yes-deploy',
  '',
  `Deploys ${INTEG_IDP_STACK_NAME} (a Cognito user pool) and ${INTEG_STACK_NAME} (the`,
  'federation core) into the account and region of your AWS credentials, runs the',
  'isolation checks with two test users, then empties the buckets and destroys both',
  'stacks. The account and region must be bootstrapped (npx cdk bootstrap). See',
  'integ/README.md.',
].join('\n');

/**
 * Why the runner must not start, or undefined when it may. Pure: looks at the arguments
 * and the environment only, so a refusal never reaches AWS.
 */
export function refusal(argv: readonly string[], env: NodeJS.ProcessEnv): string | undefined {
  const unknown = argv.filter((a) => a !== YES_FLAG);
  if (unknown.length > 0) {
    return `Unknown argument(s): ${unknown.join(' ')}.\n\n${USAGE}`;
  }
  if (!argv.includes(YES_FLAG)) {
    return (
      `Refusing to run without ${YES_FLAG}: this deploys real resources into your AWS ` +
      `account (and destroys them afterwards).\n\n${USAGE}`
    );
  }
  const hasKeys = Boolean(env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY);
  if (!env.AWS_PROFILE && !hasKeys) {
    return (
      'Refusing to run without AWS credentials: set AWS_PROFILE=<profile> (or ' +
      'AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) for the account to test in.\n\n' +
      USAGE
    );
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------
// Results

class Report {
  private readonly results: { name: string; ok: boolean }[] = [];

  pass(name: string): void {
    this.results.push({ name, ok: true });
    console.log(`PASS  ${name}`);
  }

  fail(name: string, reason: string): void {
    this.results.push({ name, ok: false });
    console.log(`FAIL  ${name}: ${reason}`);
  }

  /** Runs one check; returns its value, or undefined when it failed. */
  async check<T>(name: string, fn: () => Promise<T>): Promise<T | undefined> {
    try {
      const value = await fn();
      this.pass(name);
      return value;
    } catch (e) {
      this.fail(name, describe(e));
      return undefined;
    }
  }

  get failed(): number {
    return this.results.filter((r) => !r.ok).length;
  }

  summary(): string {
    const total = this.results.length;
    return this.failed === 0
      ? `RESULT: PASS (${total} checks)`
      : `RESULT: FAIL (${this.failed} of ${total} checks failed)`;
  }
}

function describe(e: unknown): string {
  if (e instanceof Error) {
    const status = (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    return `${e.name}${status ? ` (HTTP ${status})` : ''}: ${e.message}`;
  }
  return String(e);
}

function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

/** Expects S3 to answer AccessDenied (403); anything else, success included, fails. */
async function expectAccessDenied(call: () => Promise<unknown>): Promise<void> {
  try {
    await call();
  } catch (e) {
    const status = (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if ((e as Error).name === 'AccessDenied' && status === 403) return;
    throw new Error(`expected AccessDenied, got ${describe(e)}`);
  }
  throw new Error('expected AccessDenied, but the request was allowed');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Retries while IAM propagates a new provider, role or policy (seconds, not minutes). */
async function retryWhile<T>(
  transient: (e: unknown) => boolean,
  fn: () => Promise<T>,
  attempts = 8,
): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (e) {
      if (i >= attempts || !transient(e)) throw e;
      await sleep(5000);
    }
  }
}

// ---------------------------------------------------------------------------------------
// Processes: the CDK CLI and the AWS CLI

let interrupted = false;

function stopIfInterrupted(): void {
  if (interrupted) throw new Error('interrupted');
}

/** Runs the local CDK CLI (aws-cdk 2.1148.x reads aws-cdk-lib 2.276 assemblies). */
function cdk(args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  console.log(`\n$ npx cdk ${args.map((a) => (/\s/.test(a) ? `'${a}'` : a)).join(' ')}`);
  const bin = require.resolve('aws-cdk/bin/cdk');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], {
      cwd: REPO_ROOT,
      env,
      // No stdin: the CLI must never wait for an answer.
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    child.on('error', reject);
    child.on('exit', (code, signal) =>
      code === 0
        ? resolve()
        : reject(new Error(`cdk ${args[0]} failed (${signal ?? `exit code ${code}`})`)),
    );
  });
}

const execFileAsync = promisify(execFile);

/**
 * Calls the AWS CLI with its input as a JSON file (mode 0600, deleted right after), so
 * passwords never appear in the process list; returns the parsed output, never printed.
 */
async function awsCli(
  ctx: Context,
  service: string,
  operation: string,
  input: object,
): Promise<Record<string, unknown>> {
  const file = path.join(ctx.workDir, `input-${randomBytes(6).toString('hex')}.json`);
  fs.writeFileSync(file, JSON.stringify(input), { mode: 0o600 });
  // The credentials the SDK resolved (SSO and assume-role profiles included, which AWS CLI
  // v1 cannot read), in the child's environment only.
  const c = await ctx.credentials();
  const env: NodeJS.ProcessEnv = {
    ...ctx.env,
    AWS_ACCESS_KEY_ID: c.accessKeyId,
    AWS_SECRET_ACCESS_KEY: c.secretAccessKey,
  };
  delete env.AWS_PROFILE;
  delete env.AWS_SESSION_TOKEN;
  if (c.sessionToken) env.AWS_SESSION_TOKEN = c.sessionToken;
  try {
    const { stdout } = await execFileAsync(
      'aws',
      [
        service,
        operation,
        '--cli-input-json',
        `file://${file}`,
        '--region',
        ctx.region,
        '--output',
        'json',
      ],
      { env, maxBuffer: 1 << 20 },
    );
    return stdout.trim() === '' ? {} : (JSON.parse(stdout) as Record<string, unknown>);
  } catch (e) {
    // The CLI's stderr names the error ("An error occurred (NotAuthorizedException) ...");
    // its stdout, which may hold tokens, is dropped.
    const stderr = String((e as { stderr?: string }).stderr ?? '').trim();
    throw new Error(`aws ${service} ${operation} failed: ${stderr || (e as Error).message}`);
  } finally {
    fs.rmSync(file, { force: true });
  }
}

// ---------------------------------------------------------------------------------------
// The run

interface Context {
  readonly region: string;
  readonly workDir: string;
  /** The environment of every child process: the resolved region, no pager. */
  readonly env: NodeJS.ProcessEnv;
  /** The operator's credentials, as the SDK resolves (and refreshes) them. */
  readonly credentials: STSClient['config']['credentials'];
}

type Outputs = Record<string, string>;

function readOutputs(file: string, stack: string): Outputs {
  const all = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, Outputs>;
  const outputs = all[stack];
  assert(outputs, `${file} has no outputs of ${stack}`);
  return outputs;
}

interface SignedInUser {
  readonly label: string;
  readonly sub: string;
  readonly idToken: string;
  readonly accessToken: string;
  readonly claims: Record<string, unknown>;
}

function jwtClaims(jwt: string): Record<string, unknown> {
  const payload = jwt.split('.')[1];
  assert(payload, 'the ID token is not a JWT');
  return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
}

/** Meets Cognito's default password policy: lower, upper, digit, symbol, 8+ characters. */
function randomPassword(): string {
  return `${randomBytes(24).toString('base64url')}aA1!`;
}

async function createAndSignIn(ctx: Context, idp: Outputs, label: string): Promise<SignedInUser> {
  const username = `integ-${label.toLowerCase()}-${randomBytes(4).toString('hex')}`;
  const password = randomPassword();
  const UserPoolId = idp.UserPoolId;
  await awsCli(ctx, 'cognito-idp', 'admin-create-user', {
    UserPoolId,
    Username: username,
    MessageAction: 'SUPPRESS',
  });
  await awsCli(ctx, 'cognito-idp', 'admin-set-user-password', {
    UserPoolId,
    Username: username,
    Password: password,
    Permanent: true,
  });
  const auth = await awsCli(ctx, 'cognito-idp', 'initiate-auth', {
    AuthFlow: 'USER_PASSWORD_AUTH',
    ClientId: idp.UserPoolClientId,
    AuthParameters: { USERNAME: username, PASSWORD: password },
  });
  const result = auth.AuthenticationResult as { IdToken?: string; AccessToken?: string };
  assert(
    result?.IdToken && result.AccessToken,
    `InitiateAuth returned no tokens for user ${label} (challenge: ${String(auth.ChallengeName)})`,
  );
  const claims = jwtClaims(result.IdToken);
  assert(typeof claims.sub === 'string', `user ${label}'s ID token has no sub`);
  return {
    label,
    sub: claims.sub,
    idToken: result.IdToken,
    accessToken: result.AccessToken,
    claims,
  };
}

interface Session {
  readonly user: SignedInUser;
  readonly s3: S3Client;
  readonly prefix: string;
}

async function assumeRole(
  ctx: Context,
  fed: Outputs,
  user: SignedInUser,
  token = user.idToken,
): Promise<{ s3: S3Client; subject?: string; audience?: string }> {
  // The SDK sends this call unsigned: the web identity token is the only credential.
  const sts = new STSClient({ region: ctx.region });
  const out = await sts.send(
    new AssumeRoleWithWebIdentityCommand({
      RoleArn: fed.RoleArn,
      RoleSessionName: `integ-${user.label.toLowerCase()}`,
      WebIdentityToken: token,
      DurationSeconds: 900,
    }),
  );
  const c = out.Credentials;
  assert(c?.AccessKeyId && c.SecretAccessKey && c.SessionToken, 'STS returned no credentials');
  const s3 = new S3Client({
    region: ctx.region,
    credentials: {
      accessKeyId: c.AccessKeyId,
      secretAccessKey: c.SecretAccessKey,
      sessionToken: c.SessionToken,
    },
  });
  return { s3, subject: out.SubjectFromWebIdentityToken, audience: out.Audience };
}

/** STS errors while a new OIDC provider or trust policy propagates. */
const iamNotReady = (e: unknown) =>
  ['InvalidIdentityTokenException', 'InvalidIdentityToken', 'AccessDenied'].includes(
    (e as Error).name,
  );
/** S3 denies while a new role policy propagates; only retried for expected successes. */
const policyNotReady = (e: unknown) => (e as Error).name === 'AccessDenied';

async function bodyOf(s3: S3Client, bucket: string, key: string): Promise<string> {
  const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return (await out.Body?.transformToString()) ?? '';
}

async function runChecks(ctx: Context, idp: Outputs, fed: Outputs, report: Report): Promise<void> {
  const bucket = fed.BucketName;
  const namespace = `users/${INTEG_PROVIDER_NAME}/`;

  const users: SignedInUser[] = [];
  for (const label of ['A', 'B']) {
    stopIfInterrupted();
    const user = await report.check(
      `user ${label} is created and signs in with USER_PASSWORD_AUTH`,
      () => createAndSignIn(ctx, idp, label),
    );
    if (!user) return;
    users.push(user);
  }
  const [a, b] = users;
  await report.check('the ID tokens name the trusted issuer and the app client', async () => {
    for (const u of users) {
      assert(u.claims.iss === fed.IssuerUrl, `iss ${String(u.claims.iss)} != ${fed.IssuerUrl}`);
      assert(
        u.claims.aud === fed.UserPoolClientId,
        `aud ${String(u.claims.aud)} is not the client`,
      );
      assert(u.claims.token_use === 'id', `token_use ${String(u.claims.token_use)}`);
    }
    assert(a.sub !== b.sub, 'both users have the same sub');
  });

  const sessions: Session[] = [];
  for (const user of users) {
    stopIfInterrupted();
    const assumed = await report.check(
      `user ${user.label} assumes the role with its ID token (AssumeRoleWithWebIdentity)`,
      async () => {
        const r = await retryWhile(iamNotReady, () => assumeRole(ctx, fed, user));
        assert(r.subject === user.sub, `SubjectFromWebIdentityToken ${r.subject} != sub`);
        assert(r.audience === fed.UserPoolClientId, `Audience ${r.audience} is not the client`);
        return r;
      },
    );
    if (!assumed) return;
    sessions.push({ user, s3: assumed.s3, prefix: `${namespace}${user.sub}/` });
  }
  const [sa, sb] = sessions;
  stopIfInterrupted();

  await report.check('STS refuses the access token (it has no aud claim)', async () => {
    try {
      await assumeRole(ctx, fed, a, a.accessToken);
    } catch (e) {
      const status = (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      assert(status === 400 || status === 403, `expected an STS refusal, got ${describe(e)}`);
      return;
    }
    throw new Error('STS accepted an access token');
  });

  const keyA = `${sa.prefix}integ.txt`;
  const keyB = `${sb.prefix}integ.txt`;
  const bodyA = `user A ${randomBytes(8).toString('hex')}`;
  const put = (s: Session, key: string, body: string) =>
    s.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
  const list = (s: Session, prefix?: string) =>
    s.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));

  const ownPut = await report.check('user A puts an object under its own prefix', () =>
    retryWhile(policyNotReady, () => put(sa, keyA, bodyA)),
  );
  if (!ownPut) return;
  await report.check('user A reads its own object back', async () => {
    const body = await bodyOf(sa.s3, bucket, keyA);
    assert(body === bodyA, 'the body differs from what was put');
  });
  await report.check('user A lists its own prefix', async () => {
    const out = await list(sa, sa.prefix);
    const keys = (out.Contents ?? []).map((o) => o.Key);
    assert(keys.includes(keyA), `the listing misses ${keyA}: ${JSON.stringify(keys)}`);
  });
  const bPut = await report.check('user B puts an object under its own prefix', () =>
    retryWhile(policyNotReady, () => put(sb, keyB, 'user B')),
  );
  stopIfInterrupted();

  if (bPut) {
    await report.check("user A is denied reading user B's object", () =>
      expectAccessDenied(() => bodyOf(sa.s3, bucket, keyB)),
    );
    await report.check("user A is denied deleting user B's object", () =>
      expectAccessDenied(() => sa.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: keyB }))),
    );
  }
  await report.check("user B is denied reading user A's object", () =>
    expectAccessDenied(() => bodyOf(sb.s3, bucket, keyA)),
  );
  await report.check("user A is denied writing under user B's prefix", () =>
    expectAccessDenied(() => put(sa, `${sb.prefix}from-a.txt`, 'x')),
  );
  await report.check("user A is denied listing user B's prefix", () =>
    expectAccessDenied(() => list(sa, sb.prefix)),
  );
  await report.check(`user A is denied listing the namespace root ${namespace}`, () =>
    expectAccessDenied(() => list(sa, namespace)),
  );
  await report.check(`user A is denied writing to the namespace root ${namespace}`, () =>
    expectAccessDenied(() => put(sa, `${namespace}from-a.txt`, 'x')),
  );
  await report.check('user A is denied listing the bucket root', () =>
    expectAccessDenied(() => list(sa)),
  );
  await report.check('user A is denied writing to the bucket root', () =>
    expectAccessDenied(() => put(sa, 'from-a.txt', 'x')),
  );
  await report.check('user A deletes its own object', async () => {
    await sa.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: keyA }));
  });
}

// ---------------------------------------------------------------------------------------
// Cleanup

/** Deletes every object version and delete marker, with the operator's credentials. */
async function emptyBucket(ctx: Context, bucket: string): Promise<number> {
  const s3 = new S3Client({ region: ctx.region });
  let deleted = 0;
  for (;;) {
    const page = await s3
      .send(new ListObjectVersionsCommand({ Bucket: bucket }))
      .catch((e: unknown) => {
        // Already gone, with a rolled-back or half-deleted stack.
        if ((e as Error).name === 'NoSuchBucket') return undefined;
        throw e;
      });
    if (!page) return deleted;
    const objects = [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])].map((v) => ({
      Key: v.Key!,
      VersionId: v.VersionId,
    }));
    if (objects.length === 0) return deleted;
    const out = await s3.send(
      new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: objects, Quiet: true } }),
    );
    if (out.Errors && out.Errors.length > 0) {
      throw new Error(`could not delete ${out.Errors.length} object(s) of ${bucket}`);
    }
    deleted += objects.length;
  }
}

/** What was (or may have been) created, so cleanup knows what to remove. */
interface Created {
  idpStack: boolean;
  federation?: { context: string[]; outputsFile: string };
}

async function stackOutputsFromCloudFormation(ctx: Context, stack: string): Promise<Outputs> {
  const out = await awsCli(ctx, 'cloudformation', 'describe-stacks', { StackName: stack });
  const outputs =
    (out.Stacks as { Outputs?: { OutputKey: string; OutputValue: string }[] }[])?.[0]?.Outputs ??
    [];
  return Object.fromEntries(outputs.map((o) => [o.OutputKey, o.OutputValue]));
}

async function cleanup(ctx: Context, created: Created, common: string[]): Promise<boolean> {
  console.log('\nCleaning up');
  let ok = true;
  if (created.federation) {
    const { context, outputsFile } = created.federation;
    let buckets: string[] = [];
    try {
      const outputs = fs.existsSync(outputsFile)
        ? readOutputs(outputsFile, INTEG_STACK_NAME)
        : await stackOutputsFromCloudFormation(ctx, INTEG_STACK_NAME);
      buckets = [outputs.BucketName, outputs.LogBucketName].filter(Boolean);
    } catch (e) {
      // A stack that failed on creation was rolled back with its (empty) buckets.
      console.log(`  no outputs of ${INTEG_STACK_NAME} (${describe(e)}); nothing to empty`);
    }
    // Access logs keep arriving for a while: empty again and retry if the delete races them.
    let destroyed = false;
    for (let attempt = 1; attempt <= 3 && !destroyed; attempt++) {
      try {
        for (const bucket of buckets) {
          console.log(`  emptied ${bucket}: ${await emptyBucket(ctx, bucket)} version(s)`);
        }
        await cdk(['destroy', INTEG_STACK_NAME, '--force', ...context, ...common], ctx.env);
        destroyed = true;
      } catch (e) {
        console.log(`  attempt ${attempt} to remove ${INTEG_STACK_NAME}: ${describe(e)}`);
        if (attempt < 3) await sleep(15000);
      }
    }
    if (destroyed) {
      console.log(`PASS  cleanup: ${INTEG_STACK_NAME} destroyed, buckets deleted`);
    } else {
      ok = false;
      console.log(
        `FAIL  cleanup: ${INTEG_STACK_NAME} is left over. Remove it with:\n` +
          buckets
            .map((b) => `  aws s3 rb s3://${b} --force  # versions: empty it in the console\n`)
            .join('') +
          `  aws cloudformation delete-stack --stack-name ${INTEG_STACK_NAME}`,
      );
    }
  }
  if (created.idpStack) {
    try {
      await cdk(['destroy', INTEG_IDP_STACK_NAME, '--force', ...common], ctx.env);
      console.log(`PASS  cleanup: ${INTEG_IDP_STACK_NAME} destroyed (the pool and its users)`);
    } catch (e) {
      ok = false;
      console.log(
        `FAIL  cleanup: ${INTEG_IDP_STACK_NAME} is left over (${describe(e)}). Remove it with:\n` +
          `  aws cloudformation delete-stack --stack-name ${INTEG_IDP_STACK_NAME}`,
      );
    }
  }
  return ok;
}

// ---------------------------------------------------------------------------------------

async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(USAGE);
    return 0;
  }
  const refused = refusal(argv, process.env);
  if (refused) {
    console.error(refused);
    return REFUSED;
  }

  // The SDK resolves the region like the CDK CLI and the AWS CLI (env, then the profile);
  // it is then pinned for all three so the stacks, the users and the checks agree.
  const region = await new STSClient({}).config.region().catch(() => undefined);
  if (!region) {
    console.error(
      'Refusing to run without a region: set AWS_REGION or a region in your AWS profile.',
    );
    return REFUSED;
  }
  const operator = new STSClient({ region });
  const identity = await operator
    .send(new GetCallerIdentityCommand({}))
    .catch((e: unknown) => e as Error);
  if (identity instanceof Error) {
    console.error(`Your AWS credentials do not work: ${describe(identity)}`);
    return REFUSED;
  }
  const env = { ...process.env, AWS_REGION: region, AWS_DEFAULT_REGION: region, AWS_PAGER: '' };
  try {
    await execFileAsync('aws', ['--version'], { env });
  } catch {
    console.error('The AWS CLI (aws) is needed for the Cognito calls; install it and retry.');
    return REFUSED;
  }
  // Private to this run (0700): the CLI input files, the outputs, the cloud assembly.
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wif-integ-'));
  const ctx: Context = {
    region,
    workDir,
    env,
    credentials: () => operator.config.credentials(),
  };
  console.log(`Integration test in account ${identity.Account}, region ${region}`);
  console.log(
    `Deploying ${INTEG_IDP_STACK_NAME} and ${INTEG_STACK_NAME}; both are destroyed at the end.`,
  );

  process.on('SIGINT', () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    console.error('\nInterrupted: cleaning up (press Ctrl-C again to leave the stacks behind).');
  });

  const report = new Report();
  const created: Created = { idpStack: false };
  // The synthesized assembly goes to the work directory, not the repository's cdk.out.
  const common = ['--app', APP_COMMAND, '--output', path.join(workDir, 'cdk.out'), '--no-notices'];
  try {
    const idpOutputsFile = path.join(workDir, 'idp-outputs.json');
    created.idpStack = true;
    await cdk(
      [
        'deploy',
        INTEG_IDP_STACK_NAME,
        '--require-approval',
        'never',
        '--outputs-file',
        idpOutputsFile,
        ...common,
      ],
      ctx.env,
    );
    const idp = readOutputs(idpOutputsFile, INTEG_IDP_STACK_NAME);
    stopIfInterrupted();

    const context = [
      '-c',
      `${USER_POOL_ID_CONTEXT}=${idp.UserPoolId}`,
      '-c',
      `${CLIENT_ID_CONTEXT}=${idp.UserPoolClientId}`,
    ];
    const fedOutputsFile = path.join(workDir, 'outputs.json');
    created.federation = { context, outputsFile: fedOutputsFile };
    await cdk(
      [
        'deploy',
        INTEG_STACK_NAME,
        '--require-approval',
        'never',
        '--outputs-file',
        fedOutputsFile,
        ...context,
        ...common,
      ],
      ctx.env,
    );
    const fed = readOutputs(fedOutputsFile, INTEG_STACK_NAME);
    stopIfInterrupted();
    console.log('');
    await report.check('both stacks are in the chosen region', async () => {
      assert(idp.Region === region && fed.Region === region, `${idp.Region}, ${fed.Region}`);
    });
    await runChecks(ctx, idp, fed, report);
  } catch (e) {
    report.fail('setup', describe(e));
  }
  // Reached after any failure above too: every thrown error was recorded as a FAIL.
  const cleaned = await cleanup(ctx, created, common);
  fs.rmSync(workDir, { recursive: true, force: true });
  console.log(`\n${report.summary()}${cleaned ? '' : '; cleanup FAILED, see above'}`);
  return report.failed === 0 && cleaned ? 0 : 1;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      console.error(e);
      process.exit(1);
    },
  );
}
