/**
 * The command line against the sandbox, end to end: the command as the app serves it
 * (`/cli/wif-login.cjs`), its loopback sign-in driven in Debian chromium (dev IdP, consent
 * page, redirect to the command's 127.0.0.1 server), `configure` writing an AWS profile
 * whose `credential_process` is the command, then the Debian AWS CLI and boto3 using that
 * profile on the user's own prefix (allowed) and another user's (AccessDenied). The cache
 * is reused while fresh and renewed through the browser once the clock (moved with
 * libfaketime) nears the credentials' expiry. Paste mode (`--no-browser`) too. Every
 * provider family (amazon, google, facebook, generic OIDC) signs in and reaches its own
 * prefix only; an unknown provider ends the command at once with the app's reason; the
 * app's own logs (the Lambda's output) hold no credential.
 * Screenshots of the consent and code pages go to test-artifacts/cli-sign-in/.
 */
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import type { BrowserContext, Page } from 'playwright-core';
import { startSandbox, type Sandbox } from '../../local/sandbox';
import { browserTrusting, firstPage, requireChromium, signInAtDevIdp } from '../support/browser';
import { httpsText } from '../support/https-request';

jest.setTimeout(120_000);
const run = promisify(execFile);

// Debian's packages, which .ci/run installs; not some other aws or python on PATH.
const AWS = fs.existsSync('/usr/bin/aws') ? '/usr/bin/aws' : 'aws';
const FAKETIME = '/usr/bin/faketime';
const ARTIFACTS = path.join(__dirname, '..', '..', 'test-artifacts', 'cli-sign-in');

let sandbox: Sandbox;
let dir: string;
let command: string;
let browser: BrowserContext;
let page: Page;
/** Where the command's browser opener (`BROWSER`) writes each URL it is asked to open. */
let urlsFile: string;
/** Every process a test started; any still running at the end is stopped. */
const children: ChildProcess[] = [];
/** Everything the sandbox logged; the app's own lines are the `function` entries. */
const sandboxLogs: Record<string, unknown>[] = [];
/** Credentials the command printed, to look for in the app's logs. */
const printed: { AccessKeyId: string; SecretAccessKey: string; SessionToken: string }[] = [];

beforeAll(async () => {
  requireChromium();
  if (!fs.existsSync(FAKETIME)) {
    throw new Error(`${FAKETIME} is missing: apt-get install -y faketime (.ci/run does it)`);
  }
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wif-cli-login-'));
  sandbox = await startSandbox({
    dataDir: path.join(dir, 'data'),
    ports: 'free',
    reset: true,
    log: (entry) => sandboxLogs.push(entry),
  });
  command = path.join(dir, 'bin', 'wif-login.cjs');
  fs.mkdirSync(path.dirname(command), { recursive: true });
  fs.writeFileSync(command, await fetchText(`${sandbox.urls.app}/cli/wif-login.cjs`));
  urlsFile = path.join(dir, 'opened-urls.txt');
  const opener = path.join(dir, 'bin', 'open-url');
  fs.writeFileSync(opener, `#!/bin/sh\nprintf '%s\\n' "$1" >> '${urlsFile}'\n`, { mode: 0o755 });
  browser = await browserTrusting(sandbox, path.join(dir, 'profile'));
  page = await firstPage(browser);
});

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill();
  await browser?.close();
  await sandbox?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/** The body of a 200 answer from the sandbox. */
async function fetchText(url: string): Promise<string> {
  const res = await httpsText(url, { ca: sandbox.tls.ca });
  if (res.status !== 200) throw new Error(`${res.status} ${url}`);
  return res.body;
}

/** The environment the command and the AWS tools run in: a home of their own. */
function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? '',
    HOME: dir,
    AWS_CONFIG_FILE: path.join(dir, 'aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: path.join(dir, 'aws-credentials-none'),
    AWS_CA_BUNDLE: sandbox.tls.caFile,
    AWS_PAGER: '',
    WIF_CACHE_DIR: path.join(dir, 'cache'),
    BROWSER: path.join(dir, 'bin', 'open-url'),
    ...extra,
  };
}

const endpointArgs = (provider = 'google') => [
  '--endpoint',
  sandbox.urls.app,
  '--provider',
  provider,
  '--ca',
  sandbox.tls.caFile,
];

interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Starts a command; resolves when it exits (bounded by the test's timeout). */
function start(
  file: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; stdin?: boolean } = {},
): { child: ChildProcess; done: Promise<Finished>; stderr: () => string } {
  const child = spawn(file, args, {
    env: options.env ?? env(),
    stdio: [options.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c) => (stdout += c));
  child.stderr!.on('data', (c) => (stderr += c));
  const done = new Promise<Finished>((resolve) =>
    child.on('close', (code) => resolve({ code, stdout, stderr })),
  );
  return { child, done, stderr: () => stderr };
}

/** Waits (bounded) for the opener to be asked for its `n`th URL. */
async function openedUrl(n: number): Promise<string> {
  const until = Date.now() + 30_000;
  while (Date.now() < until) {
    const urls = fs.existsSync(urlsFile)
      ? fs.readFileSync(urlsFile, 'utf8').trim().split('\n').filter(Boolean)
      : [];
    if (urls.length >= n) return urls[n - 1];
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the command did not open URL #${n}`);
}

const openedCount = () =>
  fs.existsSync(urlsFile) ? fs.readFileSync(urlsFile, 'utf8').trim().split('\n').length : 0;

/** Opens `url` in the browser and signs in at the dev IdP when asked: the consent page. */
async function reachConsent(url: string, user: string): Promise<void> {
  await page.goto(url);
  const consent = page.getByRole('heading', { name: /Allow the command line on this computer/ });
  const idpForm = page.getByLabel(/user/i);
  await Promise.race([
    consent.waitFor({ state: 'visible', timeout: 30_000 }),
    idpForm.waitFor({ state: 'visible', timeout: 30_000 }),
  ]);
  if (await idpForm.isVisible()) await signInAtDevIdp(page, user);
  await consent.waitFor({ state: 'visible', timeout: 30_000 });
}

/** The user's part of a loopback sign-in: sign in when asked, Allow, back to the command. */
async function approve(url: string, user: string): Promise<void> {
  await reachConsent(url, user);
  await page.screenshot({ path: path.join(ARTIFACTS, 'consent.png'), fullPage: true });
  await page.getByRole('button', { name: 'Allow' }).click();
  await page.waitForURL(/^http:\/\/127\.0\.0\.1:\d+\/callback\?/, { timeout: 30_000 });
}

function aws(args: string[], profile: string) {
  return run(AWS, ['--profile', profile, '--endpoint-url', sandbox.urls.s3, ...args], {
    env: env(),
    timeout: 60_000,
  });
}

/** Who the cached sign-in is, from the command itself. */
async function whoami(
  provider = 'google',
): Promise<{ prefix: string; bucket: string; region: string }> {
  const { stdout } = await run(
    process.execPath,
    [command, 'whoami', '--json', ...endpointArgs(provider)],
    { env: env() },
  );
  return JSON.parse(stdout);
}

describe('the command from the app, signed in through the browser', () => {
  const profile = 'wif-alice';

  test('configure: loopback sign-in in chromium, then an AWS profile with credential_process', async () => {
    const configure = start(process.execPath, [
      command,
      'configure',
      '--profile',
      profile,
      ...endpointArgs(),
    ]);
    const url = await openedUrl(1);
    expect(url.startsWith(`${sandbox.urls.app}/cli/authorize?`)).toBe(true);
    expect(new URL(url).searchParams.get('code_challenge_method')).toBe('S256');
    await approve(url, 'alice');
    await expect(page.getByText(/You can close this tab/)).toBeVisibleSoon();
    const result = await configure.done;
    expect(result.code).toBe(0);

    const config = fs.readFileSync(path.join(dir, 'aws-config'), 'utf8');
    expect(config).toContain(`[profile ${profile}]`);
    expect(config).toMatch(/^credential_process = .*wif-login\.cjs.* credentials --endpoint /m);
    // no-credentials-in-urls, and none on the terminal either.
    for (const output of [result.stdout, result.stderr, url]) expect(output).not.toMatch(/ASIA/);
    const cached = fs.readdirSync(path.join(dir, 'cache'));
    expect(cached).toHaveLength(1);
    expect(fs.statSync(path.join(dir, 'cache', cached[0])).mode & 0o777).toBe(0o600);
  });

  test('the AWS CLI with the profile: cp and ls on the own prefix, AccessDenied on another user', async () => {
    const { prefix, bucket } = await whoami();
    expect(prefix).toMatch(/^users\/google\/[^/]+\/$/);
    const file = path.join(dir, 'from-cli.txt');
    fs.writeFileSync(file, 'hello from credential_process\n');
    await aws(['s3', 'cp', file, `s3://${bucket}/${prefix}from-cli.txt`], profile);
    const { stdout } = await aws(['s3', 'ls', `s3://${bucket}/${prefix}`], profile);
    expect(stdout).toContain('from-cli.txt');
    const back = path.join(dir, 'back.txt');
    await aws(['s3', 'cp', `s3://${bucket}/${prefix}from-cli.txt`, back], profile);
    expect(fs.readFileSync(back, 'utf8')).toBe('hello from credential_process\n');

    const other = `s3://${bucket}/users/google/someone-else/`;
    await expect(aws(['s3', 'ls', other], profile)).rejects.toMatchObject({
      stderr: expect.stringMatching(/AccessDenied/),
    });
    await expect(aws(['s3', 'cp', file, `${other}planted.txt`], profile)).rejects.toMatchObject({
      stderr: expect.stringMatching(/AccessDenied/),
    });
    // The cache served every call: no second sign-in.
    expect(openedCount()).toBe(1);
  });

  test('boto3 with the profile: own prefix allowed, another user denied', async () => {
    const python = ['/usr/bin/python3', 'python3'].find((p) => {
      try {
        execFileSync(p, ['-c', 'import boto3'], { stdio: 'ignore' });
        return true;
      } catch {
        return false;
      }
    });
    if (!python) {
      console.warn('boto3 is not installed (apt-get install -y python3-boto3): skipped');
      return;
    }
    const { prefix, bucket } = await whoami();
    const script = `
import sys, boto3, botocore
s3 = boto3.Session(profile_name=sys.argv[1]).client('s3', endpoint_url=sys.argv[2])
s3.put_object(Bucket=sys.argv[3], Key=sys.argv[4] + 'from-boto3.txt', Body=b'hello from boto3')
body = s3.get_object(Bucket=sys.argv[3], Key=sys.argv[4] + 'from-boto3.txt')['Body'].read()
assert body == b'hello from boto3', body
try:
    s3.list_objects_v2(Bucket=sys.argv[3], Prefix='users/google/someone-else/')
    print('OTHER-ALLOWED')
except botocore.exceptions.ClientError as e:
    print('OTHER-' + e.response['Error']['Code'])
`;
    const { stdout } = await run(python, ['-c', script, profile, sandbox.urls.s3, bucket, prefix], {
      env: env(),
      timeout: 60_000,
    });
    expect(stdout.trim()).toBe('OTHER-AccessDenied');
  });

  test('the AWS SDK for JavaScript with the profile: own prefix allowed, another user denied', async () => {
    const { prefix, bucket } = await whoami();
    // The README's example: region and credentials (credential_process) from the profile.
    const script = `
const { ListObjectsV2Command, PutObjectCommand, S3Client } = require('@aws-sdk/client-s3');
const [profile, endpoint, bucket, prefix] = process.argv.slice(1);
const s3 = new S3Client({ profile, endpoint, forcePathStyle: true });
(async () => {
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: prefix + 'from-js.txt', Body: 'hi' }));
  const own = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  console.log(own.Contents.map((o) => o.Key.slice(prefix.length)).sort().join(','));
  await s3
    .send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'users/google/someone-else/' }))
    .then(() => console.log('OTHER-ALLOWED'), (e) => console.log('OTHER-' + e.name));
})();
`;
    const { stdout } = await run(
      process.execPath,
      ['-e', script, profile, sandbox.urls.s3, bucket, prefix],
      {
        env: env({ NODE_EXTRA_CA_CERTS: sandbox.tls.caFile }),
        cwd: path.resolve(__dirname, '..', '..'),
        timeout: 60_000,
      },
    );
    expect(stdout.trim().split('\n')).toEqual([
      expect.stringContaining('from-js.txt'),
      'OTHER-AccessDenied',
    ]);
  });

  test('credentials reuses the cache while fresh; with the clock 56 minutes on, it signs in again', async () => {
    const cachedRun = await run(process.execPath, [command, 'credentials', ...endpointArgs()], {
      env: env(),
    });
    const cached = JSON.parse(cachedRun.stdout);
    printed.push(cached);
    expect(Object.keys(cached).sort()).toEqual([
      'AccessKeyId',
      'Expiration',
      'SecretAccessKey',
      'SessionToken',
      'Version',
    ]);
    const before = openedCount();
    // Fresh: served from the cache, no browser.
    await run(process.execPath, [command, 'credentials', ...endpointArgs()], { env: env() });
    expect(openedCount()).toBe(before);

    // libfaketime moves the command's clock: 4 minutes before a one-hour credential expires.
    // By then the browser's session (holding the same credentials) has run out too: its
    // cookies go, so the app signs the user in again and hands out fresh credentials.
    const later = start(FAKETIME, [
      '-f',
      '+56m',
      process.execPath,
      command,
      'credentials',
      ...endpointArgs(),
    ]);
    const url = await openedUrl(before + 1);
    await browser.clearCookies();
    await approve(url, 'alice');
    const result = await later.done;
    expect(result.code).toBe(0);
    const renewed = JSON.parse(result.stdout);
    printed.push(renewed);
    expect(renewed.Version).toBe(1);
    expect(renewed.AccessKeyId).not.toBe(cached.AccessKeyId);
  });
});

test('paste mode (--no-browser): the code shown after consent, pasted into the command', async () => {
  const login = start(process.execPath, [command, 'login', '--no-browser', ...endpointArgs()], {
    env: env({ WIF_CACHE_DIR: path.join(dir, 'cache-paste'), BROWSER: 'none' }),
    stdin: true,
  });
  const until = Date.now() + 30_000;
  let url: string | undefined;
  while (!url && Date.now() < until) {
    url = /(https:\/\/\S+\/cli\/authorize\?\S+)/.exec(login.stderr())?.[1];
    if (!url) await new Promise((r) => setTimeout(r, 100));
  }
  expect(url).toBeDefined();
  expect(new URL(url!).searchParams.get('mode')).toBe('paste');
  await reachConsent(url!, 'alice');
  await page.getByRole('button', { name: 'Allow' }).click();
  const code = await page.locator('#cli-code').inputValue();
  await page.screenshot({ path: path.join(ARTIFACTS, 'paste-code.png'), fullPage: true });
  login.child.stdin!.end(`${code}\n`);
  const result = await login.done;
  expect(result.stderr).not.toMatch(/ASIA/);
  expect(result.code).toBe(0);
  expect(fs.readdirSync(path.join(dir, 'cache-paste'))).toHaveLength(1);
});

describe('every provider family through the command and the AWS CLI', () => {
  test.each([
    ['amazon', 'amazon'],
    ['google', 'google'],
    ['facebook', 'facebook'],
    ['oidc', 'devidp'],
  ])(
    'the %s family (provider %s): configure, then cp and ls on its own prefix, AccessDenied on another user',
    async (_family, provider) => {
      const profile = `wif-family-${provider}`;
      // A sign-in of its own: no cached entry, no session at the app or the dev IdP.
      await run(process.execPath, [command, 'logout', ...endpointArgs(provider)], { env: env() });
      await browser.clearCookies();
      const n = openedCount() + 1;
      const configure = start(process.execPath, [
        command,
        'configure',
        '--profile',
        profile,
        ...endpointArgs(provider),
      ]);
      const url = await openedUrl(n);
      expect(new URL(url).searchParams.get('provider')).toBe(provider);
      await approve(url, `carol-${provider}`);
      const result = await configure.done;
      expect(result.code).toBe(0);

      const { prefix, bucket } = await whoami(provider);
      expect(prefix).toMatch(new RegExp(`^users/${provider}/[^/]+/$`));
      const file = path.join(dir, `from-${provider}.txt`);
      fs.writeFileSync(file, `hello from ${provider}\n`);
      await aws(['s3', 'cp', file, `s3://${bucket}/${prefix}from-${provider}.txt`], profile);
      const { stdout } = await aws(['s3', 'ls', `s3://${bucket}/${prefix}`], profile);
      expect(stdout).toContain(`from-${provider}.txt`);
      const other = `s3://${bucket}/users/${provider}/someone-else/`;
      await expect(aws(['s3', 'ls', other], profile)).rejects.toMatchObject({
        stderr: expect.stringMatching(/AccessDenied/),
      });
      await expect(aws(['s3', 'cp', file, `${other}planted.txt`], profile)).rejects.toMatchObject({
        stderr: expect.stringMatching(/AccessDenied/),
      });
      // Every AWS CLI call above was served from the cache: one sign-in for the family.
      expect(openedCount()).toBe(n);
      const creds = await run(
        process.execPath,
        [command, 'credentials', ...endpointArgs(provider)],
        {
          env: env(),
        },
      );
      printed.push(JSON.parse(creds.stdout));
    },
  );
});

test('an unknown provider: the app sends the refusal to the command, which stops at once and says why', async () => {
  const n = openedCount() + 1;
  const login = start(process.execPath, [command, 'login', ...endpointArgs('nosuch')]);
  const url = await openedUrl(n);
  const opened = Date.now();
  await page.goto(url);
  const result = await login.done;
  expect(Date.now() - opened).toBeLessThan(15_000);
  expect(result.code).toBe(1);
  expect(result.stderr).toContain(
    'Sign-in did not complete: the app answered "invalid_request": There is no sign-in provider "nosuch" here; use one of: ',
  );
  expect(result.stderr).toMatch(/use one of: .*google.*devidp/);
});

test("no-credentials-in-urls: no secret in the app's logs after the command's sign-ins", () => {
  const appLines = sandboxLogs
    .filter((entry) => 'function' in entry || 'functionError' in entry)
    .map((entry) => JSON.stringify(entry))
    .join('\n');
  // The app did log the sign-ins: the check below looks at something.
  expect(appLines).toContain('cli_token_issued');
  expect(printed.length).toBeGreaterThanOrEqual(6);
  for (const creds of printed) {
    for (const secret of [creds.AccessKeyId, creds.SecretAccessKey, creds.SessionToken]) {
      expect(secret.length).toBeGreaterThan(10);
      expect(appLines).not.toContain(secret);
    }
  }
});
