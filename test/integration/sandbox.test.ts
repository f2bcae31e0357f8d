/**
 * The whole system on one machine, started by the test: the dev IdP, the local STS
 * and S3 enforcing the synthesized IAM policies, and the Lambda bundle behind the local
 * HTTP API. Every case goes through real HTTP, real tokens and real SigV4.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { AssumeRoleWithWebIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { parseAppConfig } from '../../common/app-config';
import {
  type TemporaryCredentials,
  UploadRefusedError,
  type UserStorage,
} from '../../lambda/callback/ports';
import { createUserStorage } from '../../lambda/callback/storage';
import { sandboxAppConfig, startSandbox, type Sandbox } from '../../local/sandbox';
import { ScriptedBrowser, decodeEntities, type Page } from '../../local/scripted-browser';

jest.setTimeout(120_000);

let sandbox: Sandbox;
let dataDir: string;
let clockOffset = 0;

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wif-sandbox-'));
  sandbox = await startSandbox({
    dataDir,
    ports: 'free',
    reset: true,
    tokenClock: () => Date.now() + clockOffset,
  });
});

afterAll(async () => {
  await sandbox?.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

const PROVIDERS = ['google', 'amazon', 'facebook', 'devidp'] as const;
type ProviderName = (typeof PROVIDERS)[number];
const FAMILY: Record<ProviderName, 'google' | 'amazon' | 'facebook' | 'oidc'> = {
  google: 'google',
  amazon: 'amazon',
  facebook: 'facebook',
  devidp: 'oidc',
};

function agent(): https.Agent {
  return new https.Agent({ ca: sandbox.tls.ca });
}

function s3With(credentials: {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
}): S3Client {
  return new S3Client({
    region: 'us-east-1',
    endpoint: sandbox.urls.s3,
    forcePathStyle: true,
    credentials,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: { httpsAgent: agent() },
  });
}

function sts(): STSClient {
  return new STSClient({
    region: 'us-east-1',
    endpoint: sandbox.urls.sts,
    requestHandler: { httpsAgent: agent() },
    maxAttempts: 1,
  });
}

/** Signs in through the app and the dev IdP like a browser; returns the signed-in page. */
async function signIn(
  browser: ScriptedBrowser,
  provider: ProviderName,
  user: string,
): Promise<Page> {
  const login = await browser.go(`${sandbox.urls.app}/login/${provider}`);
  expect(login.status).toBe(200);
  expect(login.url.startsWith(sandbox.urls.idp)).toBe(true);
  const page = await browser.submit(login, { user });
  expect(page.url).toBe(`${sandbox.urls.app}/`);
  expect(page.status).toBe(200);
  return page;
}

const csrfOf = (page: Page) => decodeEntities(/name="csrf" value="([^"]+)"/.exec(page.body)![1]);

/** Upload through the app: presigned PUT from /upload-url, then the PUT to S3. */
async function upload(
  browser: ScriptedBrowser,
  page: Page,
  name: string,
  data: Buffer,
): Promise<number> {
  const res = await browser.request(`${sandbox.urls.app}/upload-url`, {
    method: 'POST',
    body: new URLSearchParams({
      csrf: csrfOf(page),
      name,
      type: 'application/octet-stream',
    }).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: sandbox.urls.app },
  });
  expect(res.status).toBe(200);
  const target = JSON.parse(res.body) as { url: string; headers: Record<string, string> };
  expect(target.url.startsWith(`${sandbox.urls.s3}/${sandbox.bucket}/users/`)).toBe(true);
  const put = await rawRequest(target.url, { method: 'PUT', headers: target.headers, body: data });
  return put.status;
}

function rawRequest(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: Buffer } = {},
): Promise<{
  status: number;
  body: Buffer;
  headers: Record<string, string | string[] | undefined>;
}> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      { method: init.method ?? 'GET', headers: init.headers, ca: sandbox.tls.ca },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks),
            headers: res.headers,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(init.body);
  });
}

async function webIdentityCredentials(provider: ProviderName, user: string) {
  const token = await sandbox.idp.mintToken(FAMILY[provider], user);
  const out = await sts().send(
    new AssumeRoleWithWebIdentityCommand({
      RoleArn: sandbox.roleArns[provider],
      RoleSessionName: `${provider}-${user}`.replace(/[^\w+=,.@-]/g, '-'),
      WebIdentityToken: token,
      ProviderId:
        provider === 'amazon'
          ? 'www.amazon.com'
          : provider === 'facebook'
            ? 'graph.facebook.com'
            : undefined,
    }),
  );
  return {
    subject: out.SubjectFromWebIdentityToken!,
    credentials: {
      accessKeyId: out.Credentials!.AccessKeyId!,
      secretAccessKey: out.Credentials!.SecretAccessKey!,
      sessionToken: out.Credentials!.SessionToken!,
    },
  };
}

describe.each(PROVIDERS)('%s users through the app', (provider) => {
  let alice: ScriptedBrowser;
  let bob: ScriptedBrowser;
  const data = randomBytes(200_000);
  const name = `report ${provider}.bin`;
  let alicePage: Page;
  let downloadUrl: string;

  beforeAll(async () => {
    alice = new ScriptedBrowser(sandbox.tls.ca);
    bob = new ScriptedBrowser(sandbox.tls.ca);
    alicePage = await signIn(alice, provider, 'alice');
  });

  test('signs in and sees an empty files page', () => {
    expect(alicePage.body).toContain('Signed in with');
    expect(alicePage.body).toContain('as alice');
  });

  test('uploads by presigned PUT, lists, downloads byte-identical', async () => {
    expect(await upload(alice, alicePage, name, data)).toBe(200);
    const list = await alice.go(`${sandbox.urls.app}/`);
    expect(list.body).toContain(`>${name}<`);
    const download = await alice.request(
      `${sandbox.urls.app}/download?name=${encodeURIComponent(name)}`,
    );
    expect(download.status).toBe(302);
    downloadUrl = download.headers.get('location')!;
    const file = await rawRequest(downloadUrl);
    expect(file.status).toBe(200);
    expect(createHash('sha256').update(file.body).digest('hex')).toBe(
      createHash('sha256').update(data).digest('hex'),
    );
  });

  test('an upload to an existing name is refused, not overwritten (412)', async () => {
    expect(await upload(alice, alicePage, name, Buffer.from('other'))).toBe(412);
  });

  test("another user does not see, read, overwrite or delete alice's file through the app", async () => {
    const bobPage = await signIn(bob, provider, 'bob');
    expect(bobPage.body).not.toContain(name);
    const read = await bob.request(`${sandbox.urls.app}/download?name=${encodeURIComponent(name)}`);
    expect(read.status).toBe(404);
    // Bob's upload of the same name lands in bob's prefix, not over alice's file.
    expect(await upload(bob, bobPage, name, Buffer.from('bob'))).toBe(200);
    const del = await bob.request(`${sandbox.urls.app}/delete`, {
      method: 'POST',
      body: new URLSearchParams({ csrf: csrfOf(bobPage), name }).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: sandbox.urls.app },
    });
    expect(del.status).toBe(303);
    const stillThere = await rawRequest(downloadUrl);
    expect(createHash('sha256').update(stillThere.body).digest('hex')).toBe(
      createHash('sha256').update(data).digest('hex'),
    );
  });

  test("a presigned URL made for alice's key cannot be bent to another key", async () => {
    const u = new URL(downloadUrl);
    u.pathname = u.pathname.replace(/\/[^/]+$/, '/other.bin');
    const res = await rawRequest(u.toString());
    expect(res.status).toBe(403);
    expect(res.body.toString()).toContain('<Code>SignatureDoesNotMatch</Code>');
  });

  test('a forged session cookie is signed out', async () => {
    const forger = new ScriptedBrowser(sandbox.tls.ca);
    const cookieName = '__Host-wif-session';
    const real = alice.cookie(sandbox.urls.app, cookieName)!;
    forger.setCookie(sandbox.urls.app, cookieName, real.slice(0, -4) + 'AAAA');
    const page = await forger.go(`${sandbox.urls.app}/`);
    expect(page.status).toBe(200);
    expect(page.body).toContain('Your session ended');
    expect(page.body).not.toContain(name);
  });

  test('deletes the file and signs out; afterwards the files page needs sign-in', async () => {
    const page = await alice.go(`${sandbox.urls.app}/`);
    const del = await alice.submit(page, { name }, /\/delete$/);
    expect(del.status).toBe(200);
    expect(del.body).not.toContain(`>${name}<`);
    const out = await alice.submit(del, {}, /\/logout$/);
    expect(out.body).toContain('Sign in with');
    expect((await alice.request(`${sandbox.urls.app}/download?name=x`)).status).toBe(401);
  });
});

describe('raw AWS SDK calls with temporary credentials from the local STS', () => {
  test('alice works in her own prefix; bob cannot read, list, overwrite or delete it', async () => {
    const a = await webIdentityCredentials('google', 'alice');
    const b = await webIdentityCredentials('google', 'bob');
    expect(a.subject).not.toBe(b.subject);
    const aliceS3 = s3With(a.credentials);
    const bobS3 = s3With(b.credentials);
    const key = `users/google/${a.subject}/sdk.txt`;
    await aliceS3.send(new PutObjectCommand({ Bucket: sandbox.bucket, Key: key, Body: 'hello' }));
    const got = await aliceS3.send(new GetObjectCommand({ Bucket: sandbox.bucket, Key: key }));
    expect(await got.Body!.transformToString()).toBe('hello');
    const listed = await aliceS3.send(
      new ListObjectsV2Command({ Bucket: sandbox.bucket, Prefix: `users/google/${a.subject}/` }),
    );
    expect(listed.Contents?.map((c) => c.Key)).toContain(key);

    for (const command of [
      new GetObjectCommand({ Bucket: sandbox.bucket, Key: key }),
      new PutObjectCommand({ Bucket: sandbox.bucket, Key: key, Body: 'overwritten' }),
      new DeleteObjectCommand({ Bucket: sandbox.bucket, Key: key }),
      new ListObjectsV2Command({ Bucket: sandbox.bucket, Prefix: `users/google/${a.subject}/` }),
      new ListObjectsV2Command({ Bucket: sandbox.bucket, Prefix: 'users/google/' }),
      new ListObjectsV2Command({ Bucket: sandbox.bucket }),
    ]) {
      await expect(bobS3.send(command as never)).rejects.toMatchObject({
        name: 'AccessDenied',
        $metadata: { httpStatusCode: 403 },
      });
    }
    // A URL bob presigns for alice's key is refused by IAM.
    const bobUrl = await getSignedUrl(
      bobS3,
      new GetObjectCommand({ Bucket: sandbox.bucket, Key: key }),
      { expiresIn: 60 },
    );
    const res = await rawRequest(bobUrl);
    expect(res.status).toBe(403);
    expect(res.body.toString()).toContain('<Code>AccessDenied</Code>');
    // Still alice's.
    const again = await aliceS3.send(new GetObjectCommand({ Bucket: sandbox.bucket, Key: key }));
    expect(await again.Body!.transformToString()).toBe('hello');
  });

  test("a user of one provider cannot reach the same subject in another provider's namespace", async () => {
    const a = await webIdentityCredentials('devidp', 'alice');
    await expect(
      s3With(a.credentials).send(
        new PutObjectCommand({
          Bucket: sandbox.bucket,
          Key: `users/google/${a.subject}/x`,
          Body: 'x',
        }),
      ),
    ).rejects.toMatchObject({ name: 'AccessDenied' });
  });

  test("STS refuses a token minted for another app (Google-like: AccessDenied by the trust policy's audience)", async () => {
    const token = await sandbox.idp.mintToken('google', 'alice', { otherApp: true });
    await expect(
      sts().send(
        new AssumeRoleWithWebIdentityCommand({
          RoleArn: sandbox.roleArns.google,
          RoleSessionName: 'x0',
          WebIdentityToken: token,
        }),
      ),
    ).rejects.toMatchObject({ name: 'AccessDenied', $metadata: { httpStatusCode: 403 } });
  });

  test('STS refuses a generic OIDC token for another app (Incorrect token audience)', async () => {
    const token = await sandbox.idp.mintToken('oidc', 'alice', { otherApp: true });
    await expect(
      sts().send(
        new AssumeRoleWithWebIdentityCommand({
          RoleArn: sandbox.roleArns.devidp,
          RoleSessionName: 'x5',
          WebIdentityToken: token,
        }),
      ),
    ).rejects.toMatchObject({
      name: 'InvalidIdentityTokenException',
      message: expect.stringMatching(/Incorrect token audience/),
    });
  });

  test("STS refuses another provider's token for a role (AccessDenied)", async () => {
    const token = await sandbox.idp.mintToken('oidc', 'alice');
    await expect(
      sts().send(
        new AssumeRoleWithWebIdentityCommand({
          RoleArn: sandbox.roleArns.google,
          RoleSessionName: 'x1',
          WebIdentityToken: token,
        }),
      ),
    ).rejects.toMatchObject({ name: 'AccessDenied', $metadata: { httpStatusCode: 403 } });
  });

  test('STS refuses an Amazon token without ProviderId, and a forged ID token', async () => {
    const token = await sandbox.idp.mintToken('amazon', 'alice');
    await expect(
      sts().send(
        new AssumeRoleWithWebIdentityCommand({
          RoleArn: sandbox.roleArns.amazon,
          RoleSessionName: 'x2',
          WebIdentityToken: token,
        }),
      ),
    ).rejects.toMatchObject({ name: 'InvalidIdentityTokenException' });
    const idToken = await sandbox.idp.mintToken('google', 'alice');
    const [h, p] = idToken.split('.');
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), sub: 'mallory' })).toString('base64url')}.${idToken.split('.')[2]}`;
    await expect(
      sts().send(
        new AssumeRoleWithWebIdentityCommand({
          RoleArn: sandbox.roleArns.google,
          RoleSessionName: 'x3',
          WebIdentityToken: forged,
        }),
      ),
    ).rejects.toMatchObject({ name: 'InvalidIdentityTokenException' });
  });

  test('STS refuses an expired token (ExpiredTokenException)', async () => {
    const token = await sandbox.idp.mintToken('google', 'alice');
    clockOffset = 3 * 3600_000;
    try {
      await expect(
        sts().send(
          new AssumeRoleWithWebIdentityCommand({
            RoleArn: sandbox.roleArns.google,
            RoleSessionName: 'x4',
            WebIdentityToken: token,
          }),
        ),
      ).rejects.toMatchObject({ name: 'ExpiredTokenException' });
    } finally {
      clockOffset = 0;
    }
  });

  test('S3 refuses unsigned requests (AccessDenied)', async () => {
    const anonymous = await rawRequest(`${sandbox.urls.s3}/${sandbox.bucket}/users/google/x/y`);
    expect(anonymous.status).toBe(403);
    expect(anonymous.body.toString()).toContain('<Code>AccessDenied</Code>');
  });
});

describe('multipart uploads against the local S3', () => {
  const MiB = 1024 * 1024;
  const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
  let storage: UserStorage;
  let alice: { subject: string; credentials: TemporaryCredentials };
  let bob: { subject: string; credentials: TemporaryCredentials };

  const user = async (name: string) => {
    const { subject, credentials } = await webIdentityCredentials('google', name);
    return { subject, credentials: { ...credentials, expiration: Date.now() + 3_600_000 } };
  };
  /** PUTs the parts to their presigned URLs like the browser; returns the completion list. */
  async function putParts(urls: string[], parts: Buffer[]) {
    const done: { partNumber: number; etag: string }[] = [];
    for (const [i, body] of parts.entries()) {
      const res = await rawRequest(urls[i], { method: 'PUT', body });
      expect(res.status).toBe(200);
      const etag = res.headers.etag as string;
      // The form the app's /upload-complete accepts.
      expect(etag).toMatch(/^"[0-9a-f]{32}"$/);
      done.push({ partNumber: i + 1, etag });
    }
    return done;
  }

  beforeAll(async () => {
    const config = parseAppConfig(
      JSON.stringify(
        sandboxAppConfig(sandbox.config, sandbox.ports, sandbox.bucket, sandbox.roleArns),
      ),
    );
    storage = createUserStorage({ config, ca: sandbox.tls.ca });
    alice = await user('alice');
    bob = await user('bob');
  });

  test('storage: 2 x 5 MiB + a small last part, completed, reads back byte-identical; a second completion is refused (412)', async () => {
    const key = `users/google/${alice.subject}/multipart.bin`;
    const parts = [randomBytes(5 * MiB), randomBytes(5 * MiB), randomBytes(1234)];
    const uploadId = await storage.createMultipart(alice.credentials, key, 'video/mp4');
    const urls = await Promise.all(
      parts.map((_, i) => storage.presignUploadPart(alice.credentials, key, uploadId, i + 1, 300)),
    );
    await storage.completeMultipart(alice.credentials, key, uploadId, await putParts(urls, parts));
    const file = await rawRequest(
      await storage.presignGet(alice.credentials, key, 'multipart.bin', 60),
    );
    expect(file.status).toBe(200);
    expect(file.body.length).toBe(10 * MiB + 1234);
    expect(sha(file.body)).toBe(sha(Buffer.concat(parts)));

    // A second upload to the same key cannot replace it (no-silent-overwrite), and can be aborted.
    const second = await storage.createMultipart(alice.credentials, key, 'text/plain');
    const url = await storage.presignUploadPart(alice.credentials, key, second, 1, 300);
    const list = await putParts([url], [Buffer.from('overwrite')]);
    const refused = await storage
      .completeMultipart(alice.credentials, key, second, list)
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(UploadRefusedError);
    expect(refused).toMatchObject({ status: 412 });
    await storage.abortMultipart(alice.credentials, key, second);
    await expect(storage.abortMultipart(alice.credentials, key, second)).rejects.toMatchObject({
      status: 404,
    });
    const still = await rawRequest(
      await storage.presignGet(alice.credentials, key, 'multipart.bin', 60),
    );
    expect(sha(still.body)).toBe(sha(Buffer.concat(parts)));
  });

  test("storage: bob cannot upload parts into, complete, abort or start alice's upload", async () => {
    const key = `users/google/${alice.subject}/target.bin`;
    const uploadId = await storage.createMultipart(alice.credentials, key, 'text/plain');
    const bobUrl = await storage.presignUploadPart(bob.credentials, key, uploadId, 1, 300);
    const put = await rawRequest(bobUrl, { method: 'PUT', body: Buffer.from('planted') });
    expect(put.status).toBe(403);
    expect(put.body.toString()).toContain('<Code>AccessDenied</Code>');
    const aliceUrl = await storage.presignUploadPart(alice.credentials, key, uploadId, 1, 300);
    const parts = await putParts([aliceUrl], [Buffer.from('alice')]);
    for (const attempt of [
      storage.completeMultipart(bob.credentials, key, uploadId, parts),
      storage.abortMultipart(bob.credentials, key, uploadId),
      storage.createMultipart(bob.credentials, `users/google/${alice.subject}/bob.bin`, 'a/b'),
    ]) {
      await expect(attempt).rejects.toMatchObject({ name: 'AccessDenied' });
    }
    // Alice's upload is untouched and completes.
    await storage.completeMultipart(alice.credentials, key, uploadId, parts);
    const file = await rawRequest(await storage.presignGet(alice.credentials, key, 't', 60));
    expect(file.body.toString()).toBe('alice');
  });

  test('through the app: /upload-url plans parts, the browser PUTs them, /upload-complete finishes (412 the second time)', async () => {
    const browser = new ScriptedBrowser(sandbox.tls.ca);
    const page = await signIn(browser, 'devidp', 'carol');
    const post = async (path: string, fields: Record<string, string>) => {
      const res = await browser.request(`${sandbox.urls.app}${path}`, {
        method: 'POST',
        body: new URLSearchParams({ csrf: csrfOf(page), ...fields }).toString(),
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          origin: sandbox.urls.app,
        },
      });
      return { status: res.status, json: JSON.parse(res.body) as Record<string, unknown> };
    };
    const name = 'big upload.bin';
    // The app plans 2 parts of 64 MiB for 65 MiB; S3 only needs non-last parts of 5 MiB, so
    // the test sends 5 MiB + a small last part and keeps the bytes moved small.
    const start = await post('/upload-url', { name, size: String(65 * MiB) });
    expect(start.status).toBe(200);
    const target = start.json as {
      multipart: boolean;
      uploadId: string;
      partSize: number;
      parts: { partNumber: number; url: string }[];
    };
    expect(target).toMatchObject({ multipart: true, partSize: 64 * MiB });
    expect(target.parts.map((p) => p.partNumber)).toEqual([1, 2]);
    for (const p of target.parts)
      expect(p.url.startsWith(`${sandbox.urls.s3}/${sandbox.bucket}/users/devidp/`)).toBe(true);
    const data = [randomBytes(5 * MiB), randomBytes(100)];
    const parts = await putParts(
      target.parts.map((p) => p.url),
      data,
    );
    const done = await post('/upload-complete', {
      name,
      uploadId: target.uploadId,
      parts: JSON.stringify(parts),
    });
    expect(done).toEqual({ status: 200, json: { name } });
    const download = await browser.request(
      `${sandbox.urls.app}/download?name=${encodeURIComponent(name)}`,
    );
    const file = await rawRequest(download.headers.get('location')!);
    expect(sha(file.body)).toBe(sha(Buffer.concat(data)));

    // Again to the same name: S3's 412 comes back as a clear JSON error; abort cleans up.
    const again = (await post('/upload-url', { name, size: String(65 * MiB) })).json as {
      uploadId: string;
      parts: { url: string }[];
    };
    const list = await putParts([again.parts[0].url], [Buffer.from('x')]);
    const refused = await post('/upload-complete', {
      name,
      uploadId: again.uploadId,
      parts: JSON.stringify(list),
    });
    expect(refused.status).toBe(412);
    expect(refused.json.error).toMatch(/already exists/);
    const aborted = await post('/upload-abort', { name, uploadId: again.uploadId });
    expect(aborted).toEqual({ status: 200, json: { name, aborted: true } });
  });
});
