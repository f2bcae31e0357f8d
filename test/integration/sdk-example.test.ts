/**
 * The sandbox's AWS SDK example page (/sandbox/sdk-example) in a real browser (Debian
 * chromium driven by playwright-core): the page asks the app for the signed-in user's
 * temporary credentials and calls the local S3 with the AWS SDK for JavaScript, through the
 * bucket's CORS and the page's CSP. It lists the user's folder, uploads a text file into
 * it, and shows S3 refusing another user's folder.
 *
 * "against the broker contract" answers /api/session and /api/credentials in the browser
 * (as common/cli-protocol.ts specifies them, with real credentials from the local STS);
 * "end to end" signs in at the dev IdP and uses the app's own routes.
 * Screenshots go to test-artifacts/sdk-example/.
 */
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { AssumeRoleWithWebIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import type { BrowserContext, Page } from 'playwright-core';
import {
  API_PATHS,
  CSRF_HEADER,
  type ClientCredentialsResponse,
  type ClientSessionResponse,
} from '../../common/cli-protocol';
import { startSandbox, type Sandbox } from '../../local/sandbox';
import { SDK_EXAMPLE_PATHS } from '../../local/sdk-example/routes';
import { browserTrusting, firstPage, requireChromium } from '../support/browser';
import { httpsText } from '../support/https-request';

jest.setTimeout(180_000);

const ARTIFACTS = path.join(__dirname, '..', '..', 'test-artifacts', 'sdk-example');
const SOON = { timeout: 15_000 };

let sandbox: Sandbox;
let dir: string;

beforeAll(async () => {
  requireChromium();
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wif-sdk-example-'));
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

/** The first tab, recording what the console reports (CSP violations among it). */
async function watchedPage(context: BrowserContext): Promise<{ page: Page; problems: string[] }> {
  const page = await firstPage(context);
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(e.message));
  page.on('console', (m) => {
    // A refused request (401, 403) is reported too; that is what some steps are about.
    if (m.type() === 'error' && !/^Failed to load resource/.test(m.text())) {
      problems.push(m.text());
    }
  });
  return { page, problems };
}

function get(url: string, headers: Record<string, string> = {}, method = 'GET') {
  return httpsText(url, { ca: sandbox.tls.ca, headers, method });
}

/** Real temporary credentials for a Google user of the sandbox, as the app would get them. */
async function credentialsFor(user: string): Promise<ClientCredentialsResponse> {
  const out = await new STSClient({
    region: 'us-east-1',
    endpoint: sandbox.urls.sts,
    requestHandler: { httpsAgent: new https.Agent({ ca: sandbox.tls.ca }) },
  }).send(
    new AssumeRoleWithWebIdentityCommand({
      RoleArn: sandbox.roleArns.google,
      RoleSessionName: user,
      WebIdentityToken: await sandbox.idp.mintToken('google', user),
    }),
  );
  const c = out.Credentials!;
  return {
    provider: 'google',
    bucket: sandbox.bucket,
    region: 'us-east-1',
    prefix: `users/google/${out.SubjectFromWebIdentityToken}/`,
    s3Endpoint: sandbox.urls.s3,
    forcePathStyle: true,
    credentials: {
      accessKeyId: c.AccessKeyId!,
      secretAccessKey: c.SecretAccessKey!,
      sessionToken: c.SessionToken!,
      expiration: c.Expiration!.toISOString(),
    },
  };
}

/** What the user's own S3 client reads at `key`. */
async function readObject(where: ClientCredentialsResponse, key: string): Promise<string> {
  const s3 = new S3Client({
    region: where.region,
    endpoint: where.s3Endpoint,
    forcePathStyle: true,
    credentials: { ...where.credentials, expiration: new Date(where.credentials.expiration) },
    requestHandler: { httpsAgent: new https.Agent({ ca: sandbox.tls.ca }) },
  });
  try {
    const out = await s3.send(new GetObjectCommand({ Bucket: where.bucket, Key: key }));
    return await out.Body!.transformToString();
  } finally {
    s3.destroy();
  }
}

/** Lists, uploads `name`, and is refused another user's folder, on the open example page. */
async function listUploadAndBeRefused(page: Page, name: string, shot: string): Promise<void> {
  await page.getByText(/^No files yet\.$/).waitFor(SOON);
  await page.getByLabel('Name').fill(name);
  await page.getByLabel('Text').fill(`written by the SDK in the page: ${name}`);
  await page.getByRole('button', { name: 'Upload' }).click();
  await page.getByText(`Uploaded ${name}`, { exact: true }).waitFor(SOON);
  await page.getByRole('listitem').filter({ hasText: name }).waitFor(SOON);
  await page.getByText(/^1 file:$/).waitFor(SOON);

  await page.getByRole('button', { name: "Try another user's folder" }).click();
  await page.getByText(/^S3 refused: AccessDenied/).waitFor(SOON);
  await page.screenshot({ path: path.join(ARTIFACTS, shot), fullPage: true });
}

describe('served by the sandbox', () => {
  test("the page and its script carry the app's security headers and a strict CSP naming the sandbox S3", async () => {
    const app = await get(`${sandbox.urls.app}/`);
    const page = await get(`${sandbox.urls.app}${SDK_EXAMPLE_PATHS.page}`);
    const script = await get(`${sandbox.urls.app}${SDK_EXAMPLE_PATHS.script}`);
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['content-security-policy']).toBe(
      `default-src 'none'; script-src 'self'; connect-src 'self' ${sandbox.urls.s3}; style-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'`,
    );
    const security = (h: Record<string, unknown>) =>
      Object.fromEntries(
        [
          'x-frame-options',
          'x-content-type-options',
          'referrer-policy',
          'cache-control',
          'cross-origin-opener-policy',
          'cross-origin-resource-policy',
          'permissions-policy',
          'strict-transport-security',
        ].map((k) => [k, h[k]]),
      );
    expect(security(app.headers)['x-frame-options']).toBe('DENY');
    expect(security(page.headers)).toEqual(security(app.headers));
    expect(script.status).toBe(200);
    expect(script.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(security(script.headers)).toEqual(security(app.headers));
    expect(script.body.length).toBeGreaterThan(100 * 1024);
  });

  test("the bucket's CORS lets the app's pages call S3 with the SDK, DELETE included", async () => {
    for (const method of ['GET', 'PUT', 'DELETE']) {
      const preflight = await get(
        `${sandbox.urls.s3}/${sandbox.bucket}/users/google/x/a.txt`,
        {
          origin: sandbox.urls.app,
          'access-control-request-method': method,
          'access-control-request-headers': 'authorization,x-amz-date,x-amz-security-token',
        },
        'OPTIONS',
      );
      expect(preflight.status).toBe(200);
      expect(preflight.headers['access-control-allow-origin']).toBe(sandbox.urls.app);
    }
  });
});

describe('in chromium, against the broker contract (the /api answers given in the browser)', () => {
  test('signed out: "Sign in first", with a link to sign in; the script runs under the CSP', async () => {
    const context = await browserFor('signed-out');
    try {
      await context.route(
        (url) => url.pathname === API_PATHS.session,
        (route) => route.fulfill({ status: 401, json: { message: 'Sign in first.' } }),
      );
      const { page, problems } = await watchedPage(context);
      await page.goto(`${sandbox.urls.app}${SDK_EXAMPLE_PATHS.page}`);
      await page.getByText('Sign in first.').waitFor(SOON);
      expect(await page.getByRole('link', { name: 'Sign in' }).getAttribute('href')).toBe('/');
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  });

  test("signed in: lists the user's folder, uploads into it, and S3 refuses another user's folder", async () => {
    const where = await credentialsFor('erin');
    const session: ClientSessionResponse = {
      provider: 'google',
      displayName: 'erin',
      expiresAt: where.credentials.expiration,
      csrfToken: 'the-session-csrf-token',
    };
    const credentialRequests: string[] = [];
    const context = await browserFor('contract');
    try {
      await context.route(
        (url) => url.pathname === API_PATHS.session,
        (route) => route.fulfill({ json: session }),
      );
      await context.route(
        (url) => url.pathname === API_PATHS.credentials,
        async (route) => {
          const token = (await route.request().allHeaders())[CSRF_HEADER];
          credentialRequests.push(token);
          // Said to expire in a minute: the SDK asks the page for fresh ones before each call.
          const expiring = {
            ...where,
            credentials: {
              ...where.credentials,
              expiration: new Date(Date.now() + 60_000).toISOString(),
            },
          };
          return token === session.csrfToken
            ? route.fulfill({ json: expiring })
            : route.fulfill({ status: 403, json: { message: 'Forbidden' } });
        },
      );
      const { page, problems } = await watchedPage(context);
      await page.goto(`${sandbox.urls.app}${SDK_EXAMPLE_PATHS.page}`);
      await page.getByText(where.prefix, { exact: true }).waitFor(SOON);
      await page.getByText(/^Signed in with google as erin;/).waitFor(SOON);
      await listUploadAndBeRefused(page, 'notes.txt', '1-contract.png');
      expect(await readObject(where, `${where.prefix}notes.txt`)).toBe(
        'written by the SDK in the page: notes.txt',
      );
      // Fetched again through the app as they expire, the session's CSRF token with each.
      expect(credentialRequests.length).toBeGreaterThanOrEqual(3);
      expect(new Set(credentialRequests)).toEqual(new Set([session.csrfToken]));
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  });
});

// Needs the app's /api/session and /api/credentials (lambda/callback) and a stage with
// app.clientCredentials on, as the sandbox's is.
describe('end to end: signed in at the dev IdP, the app gives the page its credentials', () => {
  test("alice lists her folder, uploads into it, and S3 refuses another user's folder", async () => {
    const context = await browserFor('alice');
    try {
      const { page, problems } = await watchedPage(context);
      await page.goto(`${sandbox.urls.app}/`);
      await page.getByRole('link', { name: 'Sign in with Google' }).click();
      await page.getByLabel(/user/i).fill('alice');
      await page.getByRole('button', { name: /^Sign in$/ }).click();
      await page.waitForURL(`${sandbox.urls.app}/`);

      await page.goto(`${sandbox.urls.app}${SDK_EXAMPLE_PATHS.page}`);
      await page
        .getByText(/^users\/google\/[^/]+\/$/)
        .waitFor(SOON)
        .catch(async (e: Error) => {
          // Say what the page says (say, that the app does not serve /api/session yet).
          throw new Error(
            `${e.message}\nThe page says: ${await page.locator('#status').textContent()}`,
          );
        });
      await listUploadAndBeRefused(page, 'from-the-sdk.txt', '2-end-to-end.png');
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
