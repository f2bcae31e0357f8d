/**
 * The AWS CLI (Debian package `awscli`) against the sandbox: assume a role with a web
 * identity token, then `aws s3 cp` into the own prefix (allowed) and into another user's
 * prefix (AccessDenied). The CLI trusts the sandbox CA through AWS_CA_BUNDLE.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { startSandbox, type Sandbox } from '../../local/sandbox';

jest.setTimeout(120_000);
const run = promisify(execFile);

// Debian's package (/usr/bin/aws), which .ci/run installs; not some other aws on PATH.
const AWS = fs.existsSync('/usr/bin/aws') ? '/usr/bin/aws' : 'aws';

let sandbox: Sandbox;
let dir: string;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wif-cli-'));
  sandbox = await startSandbox({ dataDir: path.join(dir, 'data'), ports: 'free', reset: true });
});
afterAll(async () => {
  await sandbox?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function aws(args: string[], env: Record<string, string> = {}) {
  return run(AWS, args, {
    env: {
      PATH: process.env.PATH ?? '',
      HOME: dir,
      AWS_CA_BUNDLE: sandbox.tls.caFile,
      AWS_REGION: 'us-east-1',
      AWS_DEFAULT_REGION: 'us-east-1',
      AWS_CONFIG_FILE: path.join(dir, 'none'),
      AWS_SHARED_CREDENTIALS_FILE: path.join(dir, 'none'),
      AWS_PAGER: '',
      ...env,
    },
    timeout: 60_000,
  });
}

test('aws sts assume-role-with-web-identity, then aws s3 cp: own prefix allowed, another user denied', async () => {
  const token = await sandbox.idp.mintToken('google', 'alice');
  const { stdout } = await aws([
    'sts',
    'assume-role-with-web-identity',
    '--endpoint-url',
    sandbox.urls.sts,
    '--role-arn',
    sandbox.roleArns.google,
    '--role-session-name',
    'alice-cli',
    '--web-identity-token',
    token,
    '--output',
    'json',
  ]);
  const out = JSON.parse(stdout);
  expect(out.AssumedRoleUser.Arn).toMatch(/:assumed-role\/GoogleUsersRole[^/]*\/alice-cli$/);
  const subject = out.SubjectFromWebIdentityToken as string;
  const creds = {
    AWS_ACCESS_KEY_ID: out.Credentials.AccessKeyId,
    AWS_SECRET_ACCESS_KEY: out.Credentials.SecretAccessKey,
    AWS_SESSION_TOKEN: out.Credentials.SessionToken,
  };
  const file = path.join(dir, 'hello.txt');
  fs.writeFileSync(file, 'hello from the AWS CLI\n');

  const own = `s3://${sandbox.bucket}/users/google/${subject}/hello.txt`;
  await aws(['s3', 'cp', file, own, '--endpoint-url', sandbox.urls.s3], creds);
  const back = path.join(dir, 'back.txt');
  await aws(['s3', 'cp', own, back, '--endpoint-url', sandbox.urls.s3], creds);
  expect(fs.readFileSync(back, 'utf8')).toBe('hello from the AWS CLI\n');

  const other = `s3://${sandbox.bucket}/users/google/someone-else/hello.txt`;
  const denied = aws(['s3', 'cp', file, other, '--endpoint-url', sandbox.urls.s3], creds);
  await expect(denied).rejects.toMatchObject({ stderr: expect.stringMatching(/AccessDenied/) });
});

test('the CLI sees STS errors by their codes (wrong provider token: AccessDenied)', async () => {
  const token = await sandbox.idp.mintToken('oidc', 'alice');
  const call = aws([
    'sts',
    'assume-role-with-web-identity',
    '--endpoint-url',
    sandbox.urls.sts,
    '--role-arn',
    sandbox.roleArns.amazon,
    '--role-session-name',
    'x-cli',
    '--web-identity-token',
    token,
  ]);
  await expect(call).rejects.toMatchObject({ stderr: expect.stringMatching(/\(AccessDenied\)/) });
});
