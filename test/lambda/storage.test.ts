import { createHash, createHmac } from 'node:crypto';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import type { AppConfig } from '../../common/app-config';
import {
  BadListTokenError,
  SignInError,
  type TemporaryCredentials,
  UploadRefusedError,
} from '../../lambda/callback/ports';
import { attachmentDisposition, createUserStorage } from '../../lambda/callback/storage';

const config: AppConfig = {
  baseUrl: 'https://files.example.com',
  region: 'eu-west-1',
  bucket: 'user-data-bucket',
  durationSeconds: 3600,
  cookieKeySecretId: 'cookie-keys',
  providers: [
    {
      name: 'google',
      family: 'google',
      displayName: 'Google',
      clientId: 'client',
      clientSecretId: 'secret-id',
      issuer: 'https://accounts.google.com',
      roleArn: 'arn:aws:iam::123456789012:role/web-identity-google',
    },
  ],
};
const sandboxConfig: AppConfig = {
  ...config,
  sandbox: true,
  endpoints: { s3: 'https://127.0.0.1:4566' },
};

function user(id: string): TemporaryCredentials {
  return {
    accessKeyId: `ASIA${id.toUpperCase()}KEYID`,
    secretAccessKey: `${id}-secret-access-key`,
    sessionToken: `${id}-session-token/with+odd=chars`,
    expiration: Date.now() + 3_600_000,
  };
}
const alice = user('alice');
const bob = user('bob');
const PREFIX = 'users/google/alice-sub/';

const s3Mock = mockClient(S3Client);
beforeEach(() => s3Mock.reset());

function s3Error(name: string, httpStatusCode: number): S3ServiceException {
  return new S3ServiceException({
    name,
    message: name,
    $fault: httpStatusCode >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode },
  });
}

/** The S3 client instance that made call `n`, and the credentials it signs with. */
async function signer(n: number) {
  const client = s3Mock.call(n).thisValue as S3Client;
  return { client, credentials: await client.config.credentials() };
}

describe('list (one page of one folder)', () => {
  const first = { prefix: PREFIX, folder: '', maxKeys: 100 };

  test('one ListObjectsV2 call with the delimiter: files and folders relative to the prefix, exact bytes', async () => {
    const t1 = new Date('2025-01-01T00:00:00Z');
    const t2 = new Date('2025-02-01T00:00:00Z');
    s3Mock.on(ListObjectsV2Command).resolves({
      IsTruncated: false,
      Contents: [
        { Key: PREFIX, Size: 0, LastModified: t1 },
        { Key: `${PREFIX} lead and trail `, Size: 5, LastModified: t1 },
        { Key: `${PREFIX}cafe\u0301 %41 a\\b?.txt`, Size: 7, LastModified: t2 },
      ],
      CommonPrefixes: [{ Prefix: `${PREFIX}dir/` }, { Prefix: `${PREFIX}?x/` }],
    });

    const listing = await createUserStorage({ config }).list(alice, first);

    expect(listing).toEqual({
      files: [
        { name: ' lead and trail ', size: 5, lastModified: t1 },
        { name: 'cafe\u0301 %41 a\\b?.txt', size: 7, lastModified: t2 },
      ],
      folders: ['dir/', '?x/'],
    });
    expect(s3Mock).toHaveReceivedCommandTimes(ListObjectsV2Command, 1);
    expect(s3Mock).toHaveReceivedCommandWith(ListObjectsV2Command, {
      Bucket: 'user-data-bucket',
      Prefix: PREFIX,
      Delimiter: '/',
      MaxKeys: 100,
      ContinuationToken: undefined,
    });
  });

  test('a folder: the S3 prefix is the own prefix + the folder; names stay relative to the own prefix, its marker is left out', async () => {
    s3Mock.on(ListObjectsV2Command).resolves({
      IsTruncated: false,
      Contents: [
        { Key: `${PREFIX}docs/`, Size: 0 },
        { Key: `${PREFIX}docs/a.txt`, Size: 1 },
      ],
      CommonPrefixes: [{ Prefix: `${PREFIX}docs/2025/` }],
    });
    const listing = await createUserStorage({ config }).list(alice, { ...first, folder: 'docs/' });
    expect(listing.files.map((f) => f.name)).toEqual(['docs/a.txt']);
    expect(listing.folders).toEqual(['docs/2025/']);
    expect(s3Mock).toHaveReceivedCommandWith(ListObjectsV2Command, { Prefix: `${PREFIX}docs/` });
  });

  test('a truncated page says where the rest is; the next page sends that token', async () => {
    s3Mock
      .on(ListObjectsV2Command, { ContinuationToken: undefined })
      .resolves({
        IsTruncated: true,
        NextContinuationToken: 'page-2',
        Contents: [{ Key: `${PREFIX}a`, Size: 1 }],
      })
      .on(ListObjectsV2Command, { ContinuationToken: 'page-2' })
      .resolves({ IsTruncated: false, Contents: [{ Key: `${PREFIX}b`, Size: 1 }] });
    const storage = createUserStorage({ config });
    const one = await storage.list(alice, first);
    expect(one.nextToken).toBe('page-2');
    const two = await storage.list(alice, { ...first, continuationToken: one.nextToken });
    expect(two.files.map((f) => f.name)).toEqual(['b']);
    expect(two.nextToken).toBeUndefined();
  });

  test('never a silently shortened list: truncated without a token is an error', async () => {
    s3Mock.on(ListObjectsV2Command).resolves({ IsTruncated: true, Contents: [] });
    await expect(createUserStorage({ config }).list(alice, first)).rejects.toThrow(
      /no continuation token/,
    );
  });

  test('listed-names-round-trip: keys come URL-encoded (XML 1.0 cannot carry control characters) and are decoded exactly once', async () => {
    const names = ['bell\u0007 cr\r\n.txt', 'plus+space %41.txt', 'nul\u0000'];
    const enc = (text: string) => encodeURIComponent(text).replace(/%20/g, '+');
    s3Mock.on(ListObjectsV2Command).resolves({
      EncodingType: 'url',
      IsTruncated: false,
      Contents: names.map((n) => ({ Key: enc(PREFIX + n), Size: 1, LastModified: new Date(0) })),
      CommonPrefixes: [{ Prefix: enc(`${PREFIX}tab\t dir/`) }],
    });
    const listing = await createUserStorage({ config }).list(alice, {
      prefix: PREFIX,
      folder: '',
      maxKeys: 100,
    });
    expect(listing.files.map((f) => f.name)).toEqual(names);
    expect(listing.folders).toEqual(['tab\t dir/']);
    expect(s3Mock).toHaveReceivedCommandWith(ListObjectsV2Command, { EncodingType: 'url' });
  });

  test('S3 refusing the continuation token (InvalidArgument) -> BadListTokenError', async () => {
    s3Mock.on(ListObjectsV2Command).rejects(s3Error('InvalidArgument', 400));
    await expect(
      createUserStorage({ config }).list(alice, { ...first, continuationToken: 'forged' }),
    ).rejects.toBeInstanceOf(BadListTokenError);
    // Without a token, the same answer is something else and passes through.
    await expect(createUserStorage({ config }).list(alice, first)).rejects.toThrow(
      'InvalidArgument',
    );
  });

  test('a denied listing is passed on, not turned into an empty list', async () => {
    s3Mock.on(ListObjectsV2Command).rejects(s3Error('AccessDenied', 403));
    await expect(
      createUserStorage({ config }).list(alice, { ...first, prefix: 'users/google/' }),
    ).rejects.toThrow('AccessDenied');
  });

  test('expired user credentials mean "sign in again" (expired-session-signs-in-again)', async () => {
    s3Mock.on(ListObjectsV2Command).rejects(s3Error('ExpiredToken', 400));
    const error = await createUserStorage({ config })
      .list(alice, first)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SignInError);
    expect(error).toMatchObject({ kind: 'restart' });
  });
});

describe('exists (other-users-object-404)', () => {
  test('true when HEAD succeeds', async () => {
    s3Mock.on(HeadObjectCommand).resolves({});
    await expect(createUserStorage({ config }).exists(alice, `${PREFIX}a.txt`)).resolves.toBe(true);
    expect(s3Mock).toHaveReceivedCommandWith(HeadObjectCommand, {
      Bucket: 'user-data-bucket',
      Key: `${PREFIX}a.txt`,
    });
  });

  test.each([
    ['404 NotFound', 'NotFound', 404],
    ['403 Forbidden (denied, or missing without list rights)', 'Forbidden', 403],
  ])('false on %s', async (_, name, status) => {
    s3Mock.on(HeadObjectCommand).rejects(s3Error(name, status));
    await expect(createUserStorage({ config }).exists(alice, 'users/google/bob/x')).resolves.toBe(
      false,
    );
  });

  test('other failures are not hidden as "missing"', async () => {
    s3Mock.on(HeadObjectCommand).rejects(s3Error('InternalError', 500));
    await expect(createUserStorage({ config }).exists(alice, `${PREFIX}a`)).rejects.toThrow(
      'InternalError',
    );
  });
});

describe('delete', () => {
  test('sends the exact key, signed as the user', async () => {
    s3Mock.on(DeleteObjectCommand).resolves({});
    const key = `${PREFIX}dir/ümlaut & space+plus.txt`;
    await createUserStorage({ config }).delete(alice, key);
    expect(s3Mock).toHaveReceivedCommandTimes(DeleteObjectCommand, 1);
    expect(s3Mock).toHaveReceivedCommandWith(DeleteObjectCommand, {
      Bucket: 'user-data-bucket',
      Key: key,
    });
    expect((await signer(0)).credentials.accessKeyId).toBe(alice.accessKeyId);
  });
});

describe("one S3 client per user, signing with that user's credentials", () => {
  test('different users get different clients, each with their own credentials', async () => {
    s3Mock.on(HeadObjectCommand).resolves({});
    const storage = createUserStorage({ config });
    await storage.exists(alice, 'a');
    await storage.exists(bob, 'b');
    await storage.exists(alice, 'c');

    const [first, second, third] = [await signer(0), await signer(1), await signer(2)];
    expect(first.client).not.toBe(second.client);
    expect(third.client).toBe(first.client);
    expect(first.credentials).toMatchObject({
      accessKeyId: alice.accessKeyId,
      secretAccessKey: alice.secretAccessKey,
      sessionToken: alice.sessionToken,
    });
    expect(second.credentials).toMatchObject({
      accessKeyId: bob.accessKeyId,
      secretAccessKey: bob.secretAccessKey,
      sessionToken: bob.sessionToken,
    });
  });

  test('a cached client is reused only for the very same secret and token', async () => {
    s3Mock.on(HeadObjectCommand).resolves({});
    const storage = createUserStorage({ config });
    await storage.exists(alice, 'a');
    const impostor = { ...alice, secretAccessKey: 'other-secret' };
    await storage.exists(impostor, 'a');
    const [first, second] = [await signer(0), await signer(1)];
    expect(second.client).not.toBe(first.client);
    expect(second.credentials.secretAccessKey).toBe('other-secret');
  });

  test('the cache is bounded and drops the least recently used client', async () => {
    s3Mock.on(HeadObjectCommand).resolves({});
    const storage = createUserStorage({ config, maxClients: 2 });
    const carol = user('carol');
    await storage.exists(alice, 'k'); // 0: alice
    await storage.exists(bob, 'k'); // 1: bob
    await storage.exists(alice, 'k'); // 2: alice again, bob is now least recent
    await storage.exists(carol, 'k'); // 3: carol evicts bob
    await storage.exists(alice, 'k'); // 4: alice still cached
    await storage.exists(bob, 'k'); // 5: bob rebuilt
    const c = await Promise.all([0, 1, 2, 3, 4, 5].map(signer));
    expect(c[2].client).toBe(c[0].client);
    expect(c[4].client).toBe(c[0].client);
    expect(c[5].client).not.toBe(c[1].client);
    expect(c[5].credentials.accessKeyId).toBe(bob.accessKeyId);
  });

  test('clients use the configured region, checksums only when required', async () => {
    s3Mock.on(HeadObjectCommand).resolves({});
    await createUserStorage({ config }).exists(alice, 'k');
    const { client } = await signer(0);
    expect(await client.config.region()).toBe('eu-west-1');
    expect(await client.config.requestChecksumCalculation()).toBe('WHEN_REQUIRED');
    expect(await client.config.responseChecksumValidation()).toBe('WHEN_REQUIRED');
    expect(client.config.forcePathStyle).toBe(false);
  });
});

/**
 * Recomputes the SigV4 query-string signature of a presigned S3 URL from its parts and a
 * secret key: proves the URL is a real presigned URL, signed with THAT secret.
 */
function verifyPresigned(
  method: string,
  url: URL,
  secretAccessKey: string,
  headers: Record<string, string>,
): boolean {
  const q = url.searchParams;
  const enc = (s: string) =>
    encodeURIComponent(s).replace(
      /[!'()*]/g,
      (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
    );
  const query = [...q.entries()]
    .filter(([k]) => k !== 'X-Amz-Signature')
    .map(([k, v]) => [enc(k), enc(v)])
    .sort(([a, av], [b, bv]) => (a === b ? (av < bv ? -1 : 1) : a < b ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const signed = q.get('X-Amz-SignedHeaders')!.split(';');
  const all: Record<string, string> = { host: url.host, ...headers };
  const canonicalHeaders = signed.map((h) => `${h}:${all[h].trim()}\n`).join('');
  const canonicalRequest = [
    method,
    url.pathname,
    query,
    canonicalHeaders,
    signed.join(';'),
    'UNSIGNED-PAYLOAD',
  ].join('\n');
  const [, date, region, service, terminal] = q.get('X-Amz-Credential')!.split('/');
  const scope = `${date}/${region}/${service}/${terminal}`;
  const stringToSign = [
    'AWS4-HMAC-SHA256',
    q.get('X-Amz-Date'),
    scope,
    createHash('sha256').update(canonicalRequest).digest('hex'),
  ].join('\n');
  let key: Buffer = createHmac('sha256', `AWS4${secretAccessKey}`).update(date).digest();
  for (const part of [region, service, terminal])
    key = createHmac('sha256', key).update(part).digest();
  return createHmac('sha256', key).update(stringToSign).digest('hex') === q.get('X-Amz-Signature');
}

describe("presigned URLs (local signing with the user's credentials)", () => {
  const key = `${PREFIX}reports/Q1 résumé (final).pdf`;

  test("GET: a SigV4 URL with the user's key id and session token, as a download", async () => {
    const url = new URL(
      await createUserStorage({ config }).presignGet(alice, key, 'Q1 résumé (final).pdf', 300),
    );
    const q = url.searchParams;
    expect(url.origin).toBe('https://user-data-bucket.s3.eu-west-1.amazonaws.com');
    expect(decodeURIComponent(url.pathname)).toBe(`/${key}`);
    expect(q.get('X-Amz-Algorithm')).toBe('AWS4-HMAC-SHA256');
    expect(q.get('X-Amz-Credential')).toMatch(
      new RegExp(`^${alice.accessKeyId}/\\d{8}/eu-west-1/s3/aws4_request$`),
    );
    expect(q.get('X-Amz-Security-Token')).toBe(alice.sessionToken);
    expect(q.get('X-Amz-Expires')).toBe('300');
    expect(q.get('X-Amz-SignedHeaders')).toBe('host');
    expect(q.get('response-content-disposition')).toBe(
      attachmentDisposition('Q1 résumé (final).pdf'),
    );
    expect(q.has('x-amz-checksum-mode')).toBe(false);
    expect(verifyPresigned('GET', url, alice.secretAccessKey, {})).toBe(true);
    expect(verifyPresigned('GET', url, bob.secretAccessKey, {})).toBe(false);
  });

  test('listed-names-round-trip: GET of a key with control characters: encoded in the path, the header names it safely', async () => {
    const name = 'bell\u0007 "cr\r\nlf".txt';
    const raw = await createUserStorage({ config }).presignGet(alice, PREFIX + name, name, 300);
    // A browser sends this URL as it is: nothing raw in it to rewrite.
    expect(raw).not.toMatch(/[\u0000-\u0020\u007f"]/);
    const url = new URL(raw);
    expect(url.href).toBe(raw);
    expect(decodeURIComponent(url.pathname)).toBe(`/${PREFIX}${name}`);
    expect(url.searchParams.get('response-content-disposition')).toBe(
      `attachment; filename="bell_ _cr__lf_.txt"; filename*=UTF-8''bell%07%20%22cr%0D%0Alf%22.txt`,
    );
    expect(verifyPresigned('GET', url, alice.secretAccessKey, {})).toBe(true);
  });

  test('listed-names-round-trip: why a "." or ".." segment is not downloaded: a browser resolves it out of the signed path', async () => {
    for (const name of ['..', 'dir/.', 'a/../b.txt']) {
      const raw = await createUserStorage({ config }).presignGet(alice, PREFIX + name, 'x', 300);
      expect(decodeURIComponent(new URL(raw).pathname)).not.toBe(`/${PREFIX}${name}`);
    }
  });

  test('PUT: signed If-None-Match and Content-Type, no checksum of an empty body (no-silent-overwrite)', async () => {
    const { url: raw, headers } = await createUserStorage({ config }).presignPut(
      bob,
      key,
      'application/pdf',
      900,
    );
    const url = new URL(raw);
    const q = url.searchParams;
    expect(headers).toEqual({ 'content-type': 'application/pdf', 'if-none-match': '*' });
    expect(q.get('X-Amz-Credential')).toMatch(new RegExp(`^${bob.accessKeyId}/`));
    expect(q.get('X-Amz-Security-Token')).toBe(bob.sessionToken);
    expect(q.get('X-Amz-Expires')).toBe('900');
    expect(q.get('X-Amz-SignedHeaders')!.split(';')).toEqual(
      expect.arrayContaining(['host', 'if-none-match', 'content-type']),
    );
    const names = [...q.keys()].map((k) => k.toLowerCase());
    expect(names).not.toContain('x-amz-checksum-crc32');
    expect(names).not.toContain('x-amz-sdk-checksum-algorithm');
    expect(verifyPresigned('PUT', url, bob.secretAccessKey, headers)).toBe(true);
    // A browser that changed the type or dropped the precondition would not match the signature.
    expect(
      verifyPresigned('PUT', url, bob.secretAccessKey, { ...headers, 'content-type': 'text/html' }),
    ).toBe(false);
    expect(
      verifyPresigned('PUT', url, bob.secretAccessKey, { ...headers, 'if-none-match': '' }),
    ).toBe(false);
  });

  test('sandbox: the endpoint override with path-style addressing', async () => {
    const storage = createUserStorage({ config: sandboxConfig });
    const get = new URL(await storage.presignGet(alice, `${PREFIX}a.txt`, 'a.txt', 60));
    const put = new URL((await storage.presignPut(alice, `${PREFIX}b.txt`, 'text/plain', 60)).url);
    for (const url of [get, put]) {
      expect(url.origin).toBe('https://127.0.0.1:4566');
      expect(url.pathname.startsWith(`/user-data-bucket/${PREFIX}`)).toBe(true);
      expect(url.searchParams.get('X-Amz-Credential')).toContain('/eu-west-1/s3/');
    }
    expect(verifyPresigned('GET', get, alice.secretAccessKey, {})).toBe(true);
  });
});

describe('multipart uploads', () => {
  const key = `${PREFIX}big movie.mp4`;
  const parts = [
    { partNumber: 1, etag: `"${'a'.repeat(32)}"` },
    { partNumber: 2, etag: `"${'b'.repeat(32)}"` },
  ];

  test('create: CreateMultipartUpload with the content type, signed as the user', async () => {
    s3Mock.on(CreateMultipartUploadCommand).resolves({ UploadId: 'the-upload' });
    await expect(
      createUserStorage({ config }).createMultipart(alice, key, 'video/mp4'),
    ).resolves.toBe('the-upload');
    expect(s3Mock).toHaveReceivedCommandWith(CreateMultipartUploadCommand, {
      Bucket: 'user-data-bucket',
      Key: key,
      ContentType: 'video/mp4',
    });
    expect((await signer(0)).credentials.accessKeyId).toBe(alice.accessKeyId);
  });

  test('create without an UploadId in the answer fails loudly', async () => {
    s3Mock.on(CreateMultipartUploadCommand).resolves({});
    await expect(
      createUserStorage({ config }).createMultipart(alice, key, 'video/mp4'),
    ).rejects.toThrow(/no UploadId/);
  });

  test("part URL: SigV4 with the user's key, bound to the upload id and part number, no checksum", async () => {
    const storage = createUserStorage({ config });
    const url = new URL(await storage.presignUploadPart(alice, key, 'up/load+id=', 7, 3000));
    const q = url.searchParams;
    expect(url.origin).toBe('https://user-data-bucket.s3.eu-west-1.amazonaws.com');
    expect(decodeURIComponent(url.pathname)).toBe(`/${key}`);
    expect(q.get('uploadId')).toBe('up/load+id=');
    expect(q.get('partNumber')).toBe('7');
    expect(q.get('X-Amz-Credential')).toMatch(
      new RegExp(`^${alice.accessKeyId}/\\d{8}/eu-west-1/s3/aws4_request$`),
    );
    expect(q.get('X-Amz-Security-Token')).toBe(alice.sessionToken);
    expect(q.get('X-Amz-Expires')).toBe('3000');
    expect(q.get('X-Amz-SignedHeaders')).toBe('host');
    const names = [...q.keys()].map((k) => k.toLowerCase());
    expect(names.filter((n) => n.includes('checksum'))).toEqual([]);
    expect(verifyPresigned('PUT', url, alice.secretAccessKey, {})).toBe(true);
    expect(verifyPresigned('PUT', url, bob.secretAccessKey, {})).toBe(false);
    // Another part number or upload id breaks the signature.
    const other = new URL(url);
    other.searchParams.set('partNumber', '8');
    expect(verifyPresigned('PUT', other, alice.secretAccessKey, {})).toBe(false);
    other.searchParams.set('partNumber', '7');
    other.searchParams.set('uploadId', 'another');
    expect(verifyPresigned('PUT', other, alice.secretAccessKey, {})).toBe(false);
  });

  test('complete: sends the parts with If-None-Match: * (no-silent-overwrite)', async () => {
    s3Mock.on(CompleteMultipartUploadCommand).resolves({});
    await createUserStorage({ config }).completeMultipart(alice, key, 'the-upload', parts);
    expect(s3Mock).toHaveReceivedCommandWith(CompleteMultipartUploadCommand, {
      Bucket: 'user-data-bucket',
      Key: key,
      UploadId: 'the-upload',
      IfNoneMatch: '*',
      MultipartUpload: {
        Parts: [
          { PartNumber: 1, ETag: parts[0].etag },
          { PartNumber: 2, ETag: parts[1].etag },
        ],
      },
    });
    expect((await signer(0)).credentials.accessKeyId).toBe(alice.accessKeyId);
  });

  test.each([
    ['PreconditionFailed', 412, 412, /already exists/],
    ['ConditionalRequestConflict', 409, 409, /Another upload/],
    ['NoSuchUpload', 404, 404, /no longer in progress/],
    ['InvalidPart', 400, 400, /did not match/],
    ['InvalidPartOrder', 400, 400, /did not match/],
    ['EntityTooSmall', 400, 400, /did not match/],
  ])('complete: S3 %s (%d) -> UploadRefusedError %d', async (name, s3Status, status, message) => {
    s3Mock.on(CompleteMultipartUploadCommand).rejects(s3Error(name, s3Status));
    const error = await createUserStorage({ config })
      .completeMultipart(alice, key, 'u', parts)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UploadRefusedError);
    expect(error).toMatchObject({ status, message: expect.stringMatching(message) });
  });

  test('complete: expired credentials -> sign in again; other failures pass through', async () => {
    s3Mock
      .on(CompleteMultipartUploadCommand)
      .rejectsOnce(s3Error('ExpiredToken', 400))
      .rejectsOnce(s3Error('InternalError', 500));
    const storage = createUserStorage({ config });
    await expect(storage.completeMultipart(alice, key, 'u', parts)).rejects.toMatchObject({
      kind: 'restart',
    });
    await expect(storage.completeMultipart(alice, key, 'u', parts)).rejects.toThrow(
      'InternalError',
    );
  });

  test('abort: AbortMultipartUpload on the exact key and upload id; a gone upload is a 404', async () => {
    s3Mock
      .on(AbortMultipartUploadCommand)
      .resolvesOnce({})
      .rejectsOnce(s3Error('NoSuchUpload', 404));
    const storage = createUserStorage({ config });
    await storage.abortMultipart(bob, key, 'the-upload');
    expect(s3Mock).toHaveReceivedCommandWith(AbortMultipartUploadCommand, {
      Bucket: 'user-data-bucket',
      Key: key,
      UploadId: 'the-upload',
    });
    expect((await signer(0)).credentials.accessKeyId).toBe(bob.accessKeyId);
    await expect(storage.abortMultipart(bob, key, 'the-upload')).rejects.toMatchObject({
      status: 404,
    });
  });
});

describe('attachmentDisposition (RFC 6266 / RFC 5987)', () => {
  test.each([
    ['report.pdf', `attachment; filename="report.pdf"; filename*=UTF-8''report.pdf`],
    [
      'Q1 résumé (final).pdf',
      `attachment; filename="Q1 r_sum_ (final).pdf"; filename*=UTF-8''Q1%20r%C3%A9sum%C3%A9%20%28final%29.pdf`,
    ],
    ['a"b\\c%d.txt', `attachment; filename="a_b_c_d.txt"; filename*=UTF-8''a%22b%5Cc%25d.txt`],
    ["it's*.txt", `attachment; filename="it's*.txt"; filename*=UTF-8''it%27s%2A.txt`],
    ['日本.txt', `attachment; filename="__.txt"; filename*=UTF-8''%E6%97%A5%E6%9C%AC.txt`],
  ])('%j', (name, expected) => {
    expect(attachmentDisposition(name)).toBe(expected);
  });

  test('no header injection: control characters never appear raw', () => {
    const value = attachmentDisposition('x\r\nSet-Cookie: a=b\u0000.txt');
    expect(value).not.toMatch(/[\u0000-\u001f\u007f]/);
    expect(value).toContain("filename*=UTF-8''x%0D%0ASet-Cookie%3A%20a%3Db%00.txt");
  });

  test('a lone surrogate does not throw', () => {
    expect(attachmentDisposition('bad\ud800name')).toContain('bad%EF%BF%BDname');
  });

  test('an empty name still yields a filename', () => {
    expect(attachmentDisposition('')).toBe(
      `attachment; filename="download"; filename*=UTF-8''download`,
    );
  });
});
