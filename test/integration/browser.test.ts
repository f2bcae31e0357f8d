/**
 * End to end in a real browser (Debian chromium driven by playwright-core) against the
 * sandbox: choose a provider, sign in as alice at the dev IdP, upload with the page's
 * upload control (presigned PUT straight to the local S3, CORS and CSP included), see the
 * file listed, download it byte-identical, sign out; bob does not see it.
 * Screenshots go to test-artifacts/browser/.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as https from 'node:https';
import { HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { AssumeRoleWithWebIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import type { BrowserContext, Page } from 'playwright-core';
import { startSandbox, type Sandbox } from '../../local/sandbox';
import { browserTrusting, requireChromium, signInAtDevIdp } from '../support/browser';

jest.setTimeout(180_000);

const ARTIFACTS = path.join(__dirname, '..', '..', 'test-artifacts', 'browser');

let sandbox: Sandbox;
let dir: string;

beforeAll(async () => {
  requireChromium();
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wif-browser-'));
  sandbox = await startSandbox({ dataDir: path.join(dir, 'data'), ports: 'free', reset: true });
});

afterAll(async () => {
  await sandbox?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A fresh browser profile that trusts exactly the sandbox's certificate key. */
function browserFor(name: string): Promise<BrowserContext> {
  return browserTrusting(sandbox, path.join(dir, `profile-${name}`));
}

async function signIn(page: Page, provider: string, user: string): Promise<void> {
  await page.goto(`${sandbox.urls.app}/`);
  await page.getByRole('link', { name: `Sign in with ${provider}` }).click();
  await signInAtDevIdp(page, user);
  await page.waitForURL(`${sandbox.urls.app}/`);
}

test('alice signs in, uploads, sees, downloads byte-identical and signs out; bob does not see her file', async () => {
  const data = randomBytes(300_000);
  const file = path.join(dir, 'holiday photo.bin');
  fs.writeFileSync(file, data);

  const aliceContext = await browserFor('alice');
  try {
    const page = aliceContext.pages()[0] ?? (await aliceContext.newPage());
    const consoleErrors: string[] = [];
    page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
    await signIn(page, 'Google', 'alice');
    await page.screenshot({ path: path.join(ARTIFACTS, '1-signed-in.png'), fullPage: true });
    await expect(page.getByText('Signed in with Google as alice')).toBeVisibleSoon();

    await page.setInputFiles('#file', file);
    await page.getByRole('button', { name: 'Upload' }).click();
    await page.waitForURL(/done=uploaded/, { timeout: 30_000 });
    await expect(page.getByRole('link', { name: 'holiday photo.bin' })).toBeVisibleSoon();
    await page.screenshot({ path: path.join(ARTIFACTS, '2-uploaded.png'), fullPage: true });

    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: 'holiday photo.bin' }).click(),
    ]);
    const saved = path.join(dir, 'downloaded.bin');
    await download.saveAs(saved);
    expect(download.suggestedFilename()).toBe('holiday photo.bin');
    expect(createHash('sha256').update(fs.readFileSync(saved)).digest('hex')).toBe(
      createHash('sha256').update(data).digest('hex'),
    );

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(`${sandbox.urls.app}/`);
    await expect(page.getByRole('link', { name: 'Sign in with Google' })).toBeVisibleSoon();
    await page.screenshot({ path: path.join(ARTIFACTS, '3-signed-out.png'), fullPage: true });
    expect(consoleErrors).toEqual([]);
  } finally {
    await aliceContext.close();
  }

  const bobContext = await browserFor('bob');
  try {
    const page = bobContext.pages()[0] ?? (await bobContext.newPage());
    await signIn(page, 'Google', 'bob');
    await expect(page.getByText('Signed in with Google as bob')).toBeVisibleSoon();
    expect(await page.content()).not.toContain('holiday photo.bin');
    await page.screenshot({ path: path.join(ARTIFACTS, '4-bob.png'), fullPage: true });
  } finally {
    await bobContext.close();
  }
});

test('a file above the multipart threshold goes up in parts from the page and comes back byte-identical', async () => {
  const data = randomBytes(65 * 1024 * 1024 + 12345);
  const file = path.join(dir, 'big.bin');
  fs.writeFileSync(file, data);
  const context = await browserFor('carol');
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    await signIn(page, 'Google', 'carol');
    const partPuts: string[] = [];
    page.on('request', (r) => {
      if (r.method() === 'PUT' && /[?&]partNumber=\d+/.test(r.url())) partPuts.push(r.url());
    });
    await page.setInputFiles('#file', file);
    await page.getByRole('button', { name: 'Upload' }).click();
    await page.waitForURL(/done=uploaded/, { timeout: 120_000 });
    // It really went up in parts, straight to S3.
    expect(partPuts.length).toBeGreaterThanOrEqual(2);
    expect(partPuts.every((u) => u.startsWith(sandbox.urls.s3))).toBe(true);
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: 'big.bin' }).click(),
    ]);
    const saved = path.join(dir, 'big-back.bin');
    await download.saveAs(saved);
    expect(createHash('sha256').update(fs.readFileSync(saved)).digest('hex')).toBe(
      createHash('sha256').update(data).digest('hex'),
    );
  } finally {
    await context.close();
  }
});

/** A user's own S3 client, with the credentials `aws sts assume-role-with-web-identity` gives. */
async function cliFor(user: string): Promise<{ s3: S3Client; prefix: string }> {
  const agent = new https.Agent({ ca: sandbox.tls.ca });
  const out = await new STSClient({
    region: 'us-east-1',
    endpoint: sandbox.urls.sts,
    requestHandler: { httpsAgent: agent },
  }).send(
    new AssumeRoleWithWebIdentityCommand({
      RoleArn: sandbox.roleArns.google,
      RoleSessionName: `${user}-cli`,
      WebIdentityToken: await sandbox.idp.mintToken('google', user),
    }),
  );
  const s3 = new S3Client({
    region: 'us-east-1',
    endpoint: sandbox.urls.s3,
    forcePathStyle: true,
    credentials: {
      accessKeyId: out.Credentials!.AccessKeyId!,
      secretAccessKey: out.Credentials!.SecretAccessKey!,
      sessionToken: out.Credentials!.SessionToken!,
    },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: { httpsAgent: agent },
  });
  return { s3, prefix: `users/google/${out.SubjectFromWebIdentityToken}/` };
}

test('listed-names-round-trip: files the CLI named in NFD, with ?, %41 and spaces, download and delete with clicks', async () => {
  const { s3, prefix } = await cliFor('dave');
  const names = ['cafe\u0301 what? %41.txt', ' spaced both ends.txt '];
  for (const name of names)
    await s3.send(
      new PutObjectCommand({ Bucket: sandbox.bucket, Key: prefix + name, Body: `data of ${name}` }),
    );
  const context = await browserFor('dave');
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    await signIn(page, 'Google', 'dave');
    for (const name of names) {
      // The row whose delete form carries exactly this key (CSS matches the value byte for byte).
      const row = page.locator('tr', {
        has: page.locator(`input[name="name"][value="${name.replace(/"/g, '\\"')}"]`),
      });
      await expect(row).toBeVisibleSoon();
      const [download] = await Promise.all([
        page.waitForEvent('download'),
        row.getByRole('link').click(),
      ]);
      const saved = path.join(dir, 'cli-name.bin');
      await download.saveAs(saved);
      expect(fs.readFileSync(saved, 'utf8')).toBe(`data of ${name}`);

      await row.getByRole('button', { name: /^Delete/ }).click();
      await page.waitForURL(/done=deleted/);
      await expect(page.getByText('The file was deleted.')).toBeVisibleSoon();
      expect(await row.count()).toBe(0);
      await expect(
        s3.send(new HeadObjectCommand({ Bucket: sandbox.bucket, Key: prefix + name })),
      ).rejects.toMatchObject({ name: 'NotFound' });
    }
    await page.screenshot({
      path: path.join(ARTIFACTS, '5-cli-names-deleted.png'),
      fullPage: true,
    });
  } finally {
    await context.close();
    s3.destroy();
  }
});
