/**
 * The files page against the whole sandbox (real HTTP, real SigV4, the synthesized IAM
 * policies, the exact Lambda bundle): objects put under the user's prefix with the raw S3
 * SDK and the user's own credentials, as the AWS CLI would, are listed, downloaded and
 * deleted through the app by their exact keys; long folders are paged, folders open.
 */
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { AssumeRoleWithWebIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { FILES_PER_PAGE } from '../../lambda/callback/routes-files';
import { startSandbox, type Sandbox } from '../../local/sandbox';
import { ScriptedBrowser, decodeEntities, type Page } from '../../local/scripted-browser';
import { downloadHref, filesPageControls } from '../support/files-page';

jest.setTimeout(120_000);

let sandbox: Sandbox;
let dataDir: string;
let alice: ScriptedBrowser;
let s3: S3Client;
/** Alice's own prefix, `users/google/<subject>/`. */
let own: string;

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wif-files-'));
  sandbox = await startSandbox({ dataDir, ports: 'free', reset: true });
  alice = new ScriptedBrowser(sandbox.tls.ca);
  expect((await signIn(alice, 'alice')).body).toContain('Signed in with Google as alice');
  // Alice's own temporary credentials, as `aws sts assume-role-with-web-identity` gets them.
  const agent = new https.Agent({ ca: sandbox.tls.ca });
  const out = await new STSClient({
    region: 'us-east-1',
    endpoint: sandbox.urls.sts,
    requestHandler: { httpsAgent: agent },
    maxAttempts: 1,
  }).send(
    new AssumeRoleWithWebIdentityCommand({
      RoleArn: sandbox.roleArns.google,
      RoleSessionName: 'alice-cli',
      WebIdentityToken: await sandbox.idp.mintToken('google', 'alice'),
    }),
  );
  own = `users/google/${out.SubjectFromWebIdentityToken}/`;
  s3 = new S3Client({
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
});

afterAll(async () => {
  s3?.destroy();
  await sandbox?.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

async function signIn(browser: ScriptedBrowser, user: string): Promise<Page> {
  const login = await browser.go(`${sandbox.urls.app}/login/google`);
  expect(login.url.startsWith(sandbox.urls.idp)).toBe(true);
  const page = await browser.submit(login, { user });
  expect(page.url).toBe(`${sandbox.urls.app}/`);
  return page;
}

const app = (pathAndQuery: string) => `${sandbox.urls.app}${pathAndQuery}`;
const csrfOf = (page: Page) => decodeEntities(/name="csrf" value="([^"]+)"/.exec(page.body)![1]);
const put = (name: string, body = `content of ${name}`) =>
  s3.send(new PutObjectCommand({ Bucket: sandbox.bucket, Key: own + name, Body: body }));
const stored = (name: string) =>
  s3.send(new HeadObjectCommand({ Bucket: sandbox.bucket, Key: own + name })).then(
    () => true,
    (err: { name?: string }) => {
      if (err.name === 'NotFound') return false;
      throw err;
    },
  );

/** GET from a URL with no cookie, as the browser follows the app's redirect to S3. */
function fetchS3(url: string): Promise<{ status: number; body: string; disposition?: string }> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { ca: sandbox.tls.ca }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString('utf8'),
            disposition: res.headers['content-disposition'],
          }),
        );
      })
      .on('error', reject);
  });
}

/**
 * The app's delete form for `name`, posted with the field the page carries (a plain `name`
 * when the page has none for it); redirects followed.
 */
function deleteThrough(page: Page, name: string): Promise<Page> {
  // `name`, or `name_pct` (percent-encoded) for a name with control characters.
  const [, field, value] = [
    ...page.body.matchAll(/<input type="hidden" name="(name|name_pct)" value="([^"]*)">/g),
  ]
    .map((m) => [m[0], m[1], decodeEntities(m[2])])
    .find(([, f, v]) => (f === 'name' ? v : decodeURIComponent(v)) === name) ?? ['', 'name', name];
  return alice.go(app('/delete'), {
    method: 'POST',
    body: new URLSearchParams({ csrf: csrfOf(page), [field]: value }).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: sandbox.urls.app },
  });
}

// What the AWS CLI or an SDK puts under a prefix and the page's upload check refuses for new
// names; macOS hands the CLI NFD names. Keys with an empty segment (`a//b`, a leading `/`)
// are kept apart by the sandbox's store as by S3 (local/s3-storage-keys.ts), and control
// characters travel URL-encoded in listings (XML 1.0 cannot carry them).
const CLI_NAMES = [
  'cafe\u0301.txt',
  'back\\slash.txt',
  'what?.txt',
  '%41.txt',
  ' leading space.txt',
  'trailing space.txt ',
  'plus+and space.txt',
  '#hash&x=y;z.txt',
  'bell\u0007 tab\t.txt',
  'a//b',
  '/leading slash.txt',
];

/** The page of the folder a name is in (`a//b` is in `a/`, then `a//`), by its links. */
async function folderPage(name: string): Promise<Page> {
  let page = await alice.go(app('/'));
  const folder = name.slice(0, name.lastIndexOf('/') + 1);
  for (let end = folder.indexOf('/'); end !== -1; end = folder.indexOf('/', end + 1)) {
    const href = `/?prefix=${encodeURIComponent(folder.slice(0, end + 1))}`;
    expect(filesPageControls(page.body).folders).toContain(href);
    page = await alice.go(app(href));
  }
  return page;
}

test('listed-names-round-trip: names the CLI puts under the own prefix are listed, downloaded byte-identical and deleted by their exact keys', async () => {
  for (const name of CLI_NAMES) await put(name);
  for (const name of CLI_NAMES) {
    let page = await folderPage(name);
    expect(page.status).toBe(200);
    const { downloads, deletes } = filesPageControls(page.body);
    expect(downloads).toContain(name);
    expect(deletes).toContain(name);

    const redirect = await alice.request(app(downloadHref(page.body, name)!));
    expect(redirect.status).toBe(302);
    const file = await fetchS3(redirect.headers.get('location')!);
    expect(file).toMatchObject({ status: 200, body: `content of ${name}` });
    // Saved under its own last segment (RFC 5987), exactly.
    expect(file.disposition).toContain(`filename*=UTF-8''`);
    expect(decodeURIComponent(file.disposition!.split("filename*=UTF-8''")[1])).toBe(
      name.slice(name.lastIndexOf('/') + 1),
    );

    page = await deleteThrough(page, name);
    expect(page.status).toBe(200);
    expect(filesPageControls(page.body).notice).toBe('The file was deleted.');
    expect(filesPageControls(page.body).deletes).not.toContain(name);
    expect(await stored(name)).toBe(false);
  }
});

test('folder-within-prefix: folders the CLI made open from the page; a file deep inside round-trips', async () => {
  const deep = 'dir/sub ?%41/deep name?.txt';
  await put(deep);
  await put('dir/top.txt');
  let page = await alice.go(app('/'));
  expect(filesPageControls(page.body).folders).toEqual(['/?prefix=dir%2F']);
  page = await alice.go(app('/?prefix=dir%2F'));
  expect(filesPageControls(page.body)).toMatchObject({
    downloads: ['dir/top.txt'],
    folders: ['/?prefix=dir%2Fsub%20%3F%2541%2F'],
  });
  page = await alice.go(app(filesPageControls(page.body).folders[0]));
  expect(page.status).toBe(200);
  expect(filesPageControls(page.body).downloads).toEqual([deep]);

  const redirect = await alice.request(app(downloadHref(page.body, deep)!));
  const file = await fetchS3(redirect.headers.get('location')!);
  expect(file).toMatchObject({ status: 200, body: `content of ${deep}` });
  expect(file.disposition).toContain(`filename*=UTF-8''deep%20name%3F.txt`);

  page = await deleteThrough(page, deep);
  // Back in the same folder, which S3 no longer has: nothing in it.
  expect(page.url).toBe(app('/?prefix=dir%2Fsub%20%3F%2541%2F&done=deleted'));
  expect(page.body).toContain('Nothing here.');
  expect(await stored(deep)).toBe(false);
  expect(await stored('dir/top.txt')).toBe(true);

  for (const bad of ['..%2F', 'dir', '.%2F', 'dir%2F..%2F..%2F']) {
    const res = await alice.go(app(`/?prefix=${bad}`));
    expect(res.status).toBe(400);
    expect(res.body).toContain('<h1>Invalid folder</h1>');
  }
});

test('folder-within-prefix: an upload from a folder page lands in that folder', async () => {
  const page = await alice.go(app('/?prefix=dir%2F'));
  const res = await alice.request(app('/upload-url'), {
    method: 'POST',
    body: new URLSearchParams({
      csrf: csrfOf(page),
      folder: 'dir/',
      name: 'from the page.txt',
    }).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: sandbox.urls.app },
  });
  expect(res.status).toBe(200);
  const target = JSON.parse(res.body) as { url: string; headers: Record<string, string> };
  const upload = await new Promise<number>((resolve, reject) => {
    const req = https.request(
      target.url,
      { method: 'PUT', headers: target.headers, ca: sandbox.tls.ca },
      (r) => {
        r.resume();
        r.on('end', () => resolve(r.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end('hello');
  });
  expect(upload).toBe(200);
  expect(await stored('dir/from the page.txt')).toBe(true);
  const back = await alice.go(
    app(`/?prefix=dir%2F&done=uploaded&name=${encodeURIComponent('dir/from the page.txt')}`),
  );
  expect(filesPageControls(back.body).notice).toBe('Uploaded from the page.txt.');
});

test('delete-missing-404: deleting a name that is not there says "not found", never "deleted"', async () => {
  const page = await alice.go(app('/'));
  const res = await deleteThrough(page, 'never-there.txt');
  expect(res.status).toBe(404);
  expect(res.body).toContain('not found, so nothing was deleted');
  expect(res.body).not.toContain('The file was deleted.');
});

test('messages-from-app: text in the URL never reaches the page', async () => {
  for (const query of [
    'deleted=Your%20account%20is%20locked',
    'uploaded=Your%20account%20is%20locked',
    'done=deleted&name=Your%20account%20is%20locked',
    'done=Your%20account%20is%20locked',
  ]) {
    const page = await alice.go(app(`/?${query}`));
    expect(page.status).toBe(200);
    expect(page.body).not.toContain('account is locked');
  }
});

test(`folder-within-prefix: a folder of ${2 * FILES_PER_PAGE + 20} files is paged by ${FILES_PER_PAGE}: every file once, a clear 400 for a bogus page`, async () => {
  const names = Array.from(
    { length: 2 * FILES_PER_PAGE + 20 },
    (_, i) => `many/file ${String(i).padStart(4, '0')}.txt`,
  );
  // The CLI's way: many PUTs at once, a few at a time.
  for (let i = 0; i < names.length; i += 20)
    await Promise.all(names.slice(i, i + 20).map((n) => put(n, 'x')));
  const listed = await s3.send(
    new ListObjectsV2Command({ Bucket: sandbox.bucket, Prefix: `${own}many/` }),
  );
  expect(listed.KeyCount).toBe(names.length);

  const seen: string[] = [];
  let page = await alice.go(app('/?prefix=many%2F'));
  let pages = 1;
  for (;;) {
    expect(page.status).toBe(200);
    const { downloads, next } = filesPageControls(page.body);
    expect(downloads.length).toBeLessThanOrEqual(FILES_PER_PAGE);
    seen.push(...downloads);
    if (!next) break;
    expect(pages).toBeLessThan(10);
    page = await alice.go(app(next));
    pages++;
  }
  expect(pages).toBe(3);
  expect(seen).toEqual(names);

  // A token S3 did not issue: a page that says so, not a 500.
  const bogus = await alice.go(app('/?prefix=many%2F&after=bogus!'));
  expect(bogus.status).toBe(400);
  expect(bogus.body).toContain('<h1>Invalid page</h1>');
  expect(bogus.body).toContain('href="/?prefix=many%2F"');

  // Bob opening the same folder sees only his own (empty) one.
  const bob = new ScriptedBrowser(sandbox.tls.ca);
  await signIn(bob, 'bob');
  const bobs = await bob.go(app('/?prefix=many%2F'));
  expect(bobs.status).toBe(200);
  expect(filesPageControls(bobs.body).downloads).toEqual([]);
  expect(bobs.body).toContain('Nothing here.');
});
