import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { parseStageConfig } from '../../lib/config';
import { SessionStore, type RunningServer, type SandboxSession } from '../../local/contracts';
import { loadPolicyModel, roleTrusting, type PolicyModel } from '../../local/policy-model';
import { startLocalS3 } from '../../local/s3';
import type { S3LogEntry } from '../../local/s3-pipeline';
import { listPage, type ListedObject } from '../../local/s3-listing';
import { crc32c, decodeAwsChunked } from '../../local/s3-payload';
import {
  DEFAULT_PORTS,
  SANDBOX_ACCOUNT,
  SANDBOX_CLIENTS,
  SANDBOX_REGION,
  sandboxStageConfig,
} from '../../local/sandbox-config';
import {
  canonicalQueryString,
  canonicalRequest,
  chunkStringToSign,
  formatAmzDate,
  parseAuthorizationHeader,
  signHex,
  signingKey,
  stringToSign,
  uriEncode,
  type CredentialScope,
} from '../../local/sigv4';
import { createLocalTls } from '../../local/tls';
import { synthTemplate } from '../support/helpers';
import {
  READ_ONLY_SESSION_POLICY_ARN,
  withManagedSessionPolicy,
} from '../support/session-policies';
import { FAST_TIMEOUTS, slowClient } from '../support/slow-client';

/**
 * The local S3 against the real `@aws-sdk/client-s3` and `@aws-sdk/s3-request-presigner`
 * over HTTPS (trusting only the sandbox CA), on the template the sandbox synthesizes.
 * Sessions are put in the store directly, as the local STS would.
 */

// AWS's published SigV4 examples for S3 (AWS S3 API reference, "Signature Calculations").
const EXAMPLE_KEY_ID = 'AKIAIOSFODNN7EXAMPLE';
const EXAMPLE_SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const EXAMPLE_DATE = '20130524T000000Z';
const EXAMPLE_SCOPE: CredentialScope = { date: '20130524', region: 'us-east-1', service: 's3' };

const headerMap = (h: Record<string, string>) => (name: string) =>
  h[name] === undefined ? undefined : [h[name]];

describe('SigV4 (hand-written) against AWS published examples', () => {
  test('GET object with the Authorization header', () => {
    const headers = {
      host: 'examplebucket.s3.amazonaws.com',
      range: 'bytes=0-9',
      'x-amz-content-sha256': 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
      'x-amz-date': EXAMPLE_DATE,
    };
    const canonical = canonicalRequest({
      method: 'GET',
      rawPath: '/test.txt',
      query: [],
      signedHeaders: ['host', 'range', 'x-amz-content-sha256', 'x-amz-date'],
      headerValues: headerMap(headers),
      payloadHash: headers['x-amz-content-sha256'],
    });
    const toSign = stringToSign(EXAMPLE_DATE, EXAMPLE_SCOPE, canonical);
    expect(toSign.split('\n')[3]).toBe(
      '7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972',
    );
    expect(signHex(signingKey(EXAMPLE_SECRET, EXAMPLE_SCOPE), toSign)).toBe(
      'f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41',
    );
  });

  test('presigned GET (query parameters, UNSIGNED-PAYLOAD)', () => {
    const canonical = canonicalRequest({
      method: 'GET',
      rawPath: '/test.txt',
      query: [
        ['X-Amz-Algorithm', 'AWS4-HMAC-SHA256'],
        ['X-Amz-Credential', `${EXAMPLE_KEY_ID}/20130524/us-east-1/s3/aws4_request`],
        ['X-Amz-Date', EXAMPLE_DATE],
        ['X-Amz-Expires', '86400'],
        ['X-Amz-SignedHeaders', 'host'],
      ],
      signedHeaders: ['host'],
      headerValues: headerMap({ host: 'examplebucket.s3.amazonaws.com' }),
      payloadHash: 'UNSIGNED-PAYLOAD',
    });
    expect(
      signHex(
        signingKey(EXAMPLE_SECRET, EXAMPLE_SCOPE),
        stringToSign(EXAMPLE_DATE, EXAMPLE_SCOPE, canonical),
      ),
    ).toBe('aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404');
  });

  const SEED = '4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9';
  const CHUNK_SIGNATURES = [
    'ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648',
    '0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497',
    'b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9',
  ];
  const exampleBody = (corrupt = false) => {
    const sizes = [65536, 1024, 0];
    return Buffer.concat(
      sizes.flatMap((size, i) => {
        const data = Buffer.alloc(size, 'a');
        if (corrupt && size === 1024) data[10] = 0x62;
        return [
          Buffer.from(`${size.toString(16)};chunk-signature=${CHUNK_SIGNATURES[i]}\r\n`),
          data,
          Buffer.from('\r\n'),
        ];
      }),
    );
  };

  test('streaming PUT: seed signature and chained chunk signatures', () => {
    const headers = {
      'content-encoding': 'aws-chunked',
      'content-length': '66824',
      host: 's3.amazonaws.com',
      'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
      'x-amz-date': EXAMPLE_DATE,
      'x-amz-decoded-content-length': '66560',
      'x-amz-storage-class': 'REDUCED_REDUNDANCY',
    };
    const key = signingKey(EXAMPLE_SECRET, EXAMPLE_SCOPE);
    const canonical = canonicalRequest({
      method: 'PUT',
      rawPath: '/examplebucket/chunkObject.txt',
      query: [],
      signedHeaders: Object.keys(headers).sort(),
      headerValues: headerMap(headers),
      payloadHash: headers['x-amz-content-sha256'],
    });
    expect(signHex(key, stringToSign(EXAMPLE_DATE, EXAMPLE_SCOPE, canonical))).toBe(SEED);
    expect(
      signHex(key, chunkStringToSign(EXAMPLE_DATE, EXAMPLE_SCOPE, SEED, Buffer.alloc(65536, 'a'))),
    ).toBe(CHUNK_SIGNATURES[0]);

    const body = exampleBody();
    expect(body.length).toBe(66824);
    const signing = { key, amzDate: EXAMPLE_DATE, scope: EXAMPLE_SCOPE, seedSignature: SEED };
    const mode = { signedChunks: true, trailer: false };
    const decoded = decodeAwsChunked(body, mode, signing);
    expect(decoded.data.equals(Buffer.alloc(66560, 'a'))).toBe(true);
    expect(() => decodeAwsChunked(exampleBody(true), mode, signing)).toThrow(/chunk signature/);
    expect(() =>
      decodeAwsChunked(body, mode, { ...signing, seedSignature: CHUNK_SIGNATURES[0] }),
    ).toThrow(/chunk signature/);
    expect(() => decodeAwsChunked(body.subarray(0, body.length - 2), mode, signing)).toThrow(
      /malformed/,
    );
  });

  test('decodes unsigned aws-chunked bodies with a trailing checksum', () => {
    const body = Buffer.from(
      '6\r\nhello \r\n5\r\nworld\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n',
    );
    const decoded = decodeAwsChunked(body, { signedChunks: false, trailer: true });
    expect(decoded.data.toString()).toBe('hello world');
    expect(decoded.trailers).toEqual([['x-amz-checksum-crc32', 'DUoRhQ==']]);
    expect(() =>
      decodeAwsChunked(Buffer.from('6\r\nhello \r\n'), { signedChunks: false, trailer: true }),
    ).toThrow(/malformed/);
  });

  test('RFC 3986 encoding and the sorted canonical query', () => {
    expect(uriEncode("a b/c+d~e*f!'()")).toBe('a%20b%2Fc%2Bd~e%2Af%21%27%28%29');
    expect(
      canonicalQueryString([
        ['prefix', 'users/x y'],
        ['list-type', '2'],
        ['delete', ''],
        ['a', 'b'],
        ['a', 'a'],
      ]),
    ).toBe('a=a&a=b&delete=&list-type=2&prefix=users%2Fx%20y');
  });

  test('parses the Authorization header and refuses malformed ones', () => {
    const parsed = parseAuthorizationHeader(
      'AWS4-HMAC-SHA256 Credential=AK/20240101/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc',
    );
    expect(parsed).toEqual({
      credential: {
        accessKeyId: 'AK',
        scope: { date: '20240101', region: 'us-east-1', service: 's3' },
      },
      signedHeaders: ['host', 'x-amz-date'],
      signature: 'abc',
    });
    expect(parseAuthorizationHeader('AWS AK:sig')).toMatch(/unsupported/);
    expect(
      parseAuthorizationHeader(
        'AWS4-HMAC-SHA256 Credential=AK/x/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=a',
      ),
    ).toMatch(/Credential/);
    expect(
      parseAuthorizationHeader(
        'AWS4-HMAC-SHA256 Credential=AK/20240101/us-east-1/s3/aws4_request, SignedHeaders=x-amz-date;host, Signature=a',
      ),
    ).toMatch(/sorted/);
  });

  test('CRC-32C check value', () => {
    expect(crc32c(Buffer.from('123456789')).toString(16)).toBe('e3069283');
  });
});

describe('listing in S3 order', () => {
  const objects = (keys: string[]): ListedObject[] =>
    keys.map((key) => ({ key, etag: '"x"', size: 1, lastModified: new Date(0) }));

  test('sorts by UTF-8 bytes, not by s3rver directory order', () => {
    const page = listPage(objects(['a/b', 'a-b', 'é', 'z']), { prefix: '', maxKeys: 10 });
    expect(page.contents.map((o) => o.key)).toEqual(['a-b', 'a/b', 'z', 'é']);
  });

  test('pages through keys and common prefixes exactly once, counting prefixes toward MaxKeys', () => {
    const all = objects(['p/a', 'p/b/1', 'p/b/2', 'p/c', 'p/d/1', 'p/e', 'q']);
    const seen: string[] = [];
    let marker: string | undefined;
    for (let i = 0; i < 10; i++) {
      const page = listPage(all, { prefix: 'p/', delimiter: '/', maxKeys: 2, marker });
      seen.push(...page.contents.map((o) => o.key), ...page.commonPrefixes);
      expect(page.contents.length + page.commonPrefixes.length).toBeLessThanOrEqual(2);
      if (!page.isTruncated) break;
      marker = page.nextMarker;
    }
    expect(seen).toEqual(['p/a', 'p/b/', 'p/c', 'p/d/', 'p/e']);
  });
});

const CLIENT = SANDBOX_CLIENTS.google.clientId;
const ALICE = 'alice';
const BOB = 'bob';

describe('local S3 with the real AWS SDK', () => {
  let template: Record<string, unknown>;
  let model: PolicyModel;
  let bucket: string;
  let tls: { ca: string; cert: string; key: string };
  let agent: https.Agent;
  let dataDir: string;
  let server: RunningServer;
  const sessions = new SessionStore();
  const logs: S3LogEntry[] = [];
  let googleRole: string;
  let amazonRole: string;

  let n = 0;
  function session(
    roleLogicalId: string,
    contextKeys: Record<string, string>,
    extra: Partial<SandboxSession> = {},
  ): SandboxSession {
    n++;
    const s: SandboxSession = {
      accessKeyId: `ASIASANDBOXTEST${String(n).padStart(5, '0')}`,
      secretAccessKey: `secret-${n}-${'x'.repeat(20)}`,
      sessionToken: `token-${n}-${'t'.repeat(40)}`,
      expiration: Date.now() + 3600_000,
      roleArn: `arn:aws:iam::${SANDBOX_ACCOUNT}:role/${roleLogicalId}`,
      roleLogicalId,
      sessionName: `session-${n}`,
      contextKeys,
      ...extra,
    };
    sessions.put(s);
    return s;
  }
  const google = (sub: string, extra: Partial<SandboxSession> = {}) =>
    session(
      googleRole,
      {
        'accounts.google.com:sub': sub,
        'accounts.google.com:aud': CLIENT,
        'accounts.google.com:oaud': CLIENT,
      },
      extra,
    );

  function client(
    s: Pick<SandboxSession, 'accessKeyId' | 'secretAccessKey' | 'sessionToken'>,
    extra: S3ClientConfig = {},
  ) {
    return new S3Client({
      endpoint: server.url,
      forcePathStyle: true,
      region: 'us-east-1',
      credentials: {
        accessKeyId: s.accessKeyId,
        secretAccessKey: s.secretAccessKey,
        sessionToken: s.sessionToken,
      },
      requestHandler: { httpsAgent: agent },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: 1,
      ...extra,
    });
  }

  /** A raw HTTPS request (browsers, curl): what the presigned URLs are for. */
  function fetchRaw(
    url: string,
    init: { method?: string; headers?: Record<string, string>; body?: Buffer | string } = {},
  ): Promise<{
    status: number;
    headers: Record<string, string | string[] | undefined>;
    body: string;
  }> {
    return new Promise((resolve, reject) => {
      const req = https.request(
        url,
        { method: init.method ?? 'GET', headers: init.headers, ca: tls.ca },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: Buffer.concat(chunks).toString(),
            }),
          );
        },
      );
      req.on('error', reject);
      req.end(init.body);
    });
  }

  const s3Error = (code: string, status: number) =>
    expect.objectContaining({
      name: code,
      $metadata: expect.objectContaining({ httpStatusCode: status }),
    });

  const start = () =>
    startLocalS3({
      port: 0,
      tls,
      dataDir,
      template,
      model,
      sessions,
      log: (e) => logs.push(e),
    });

  let alice: SandboxSession;
  let bob: SandboxSession;
  let aliceS3: S3Client;
  let bobS3: S3Client;
  const own = (key: string) => `users/google/${ALICE}/${key}`;
  const bobs = (key: string) => `users/google/${BOB}/${key}`;

  beforeAll(async () => {
    template = withManagedSessionPolicy(
      synthTemplate(parseStageConfig('local', sandboxStageConfig(DEFAULT_PORTS))).toJSON(),
    );
    model = loadPolicyModel(template, { accountId: SANDBOX_ACCOUNT, region: SANDBOX_REGION });
    const googleModel = roleTrusting(model, 'accounts.google.com');
    googleRole = googleModel.logicalId;
    amazonRole = roleTrusting(model, 'www.amazon.com').logicalId;
    bucket = googleModel.bucketNames[0];
    tls = await createLocalTls();
    agent = new https.Agent({ ca: tls.ca, keepAlive: true });
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wif-s3-'));
    server = await start();
    alice = google(ALICE);
    bob = google(BOB);
    aliceS3 = client(alice);
    bobS3 = client(bob);
    await bobS3.send(
      new PutObjectCommand({ Bucket: bucket, Key: bobs('secret.txt'), Body: 'bob only' }),
    );
  });

  afterAll(async () => {
    agent.destroy();
    await server?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  describe('own prefix', () => {
    test('alice puts, gets, heads, lists and deletes her own objects', async () => {
      const key = own('docs/hello wörld+1~(x).txt');
      await aliceS3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: 'hello',
          ContentType: 'text/plain',
        }),
      );
      const got = await aliceS3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      expect(await got.Body!.transformToString()).toBe('hello');
      expect(got.ContentType).toBe('text/plain');
      const head = await aliceS3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      expect(head.ContentLength).toBe(5);
      const listed = await aliceS3.send(
        new ListObjectsV2Command({ Bucket: bucket, Prefix: own('docs/') }),
      );
      expect(listed.Contents?.map((o) => o.Key)).toEqual([key]);
      expect(listed.KeyCount).toBe(1);
      await aliceS3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
      await expect(
        aliceS3.send(new GetObjectCommand({ Bucket: bucket, Key: key })),
      ).rejects.toEqual(s3Error('NoSuchKey', 404));
    });

    test('ListObjectsV2 pages through keys and common prefixes (no DES tokens)', async () => {
      const keys = ['a', 'b/1', 'b/2', 'c', 'd/1', 'e'].map((k) => own(`paging/${k}`));
      for (const key of keys)
        await aliceS3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: key }));
      const seen: string[] = [];
      let token: string | undefined;
      for (let i = 0; i < 10; i++) {
        const page = await aliceS3.send(
          new ListObjectsV2Command({
            Bucket: bucket,
            Prefix: own('paging/'),
            Delimiter: '/',
            MaxKeys: 2,
            ContinuationToken: token,
          }),
        );
        seen.push(
          ...(page.Contents ?? []).map((o) => o.Key!),
          ...(page.CommonPrefixes ?? []).map((p) => p.Prefix!),
        );
        if (!page.IsTruncated) break;
        token = page.NextContinuationToken;
      }
      expect(seen).toEqual(['a', 'b/', 'c', 'd/', 'e'].map((k) => own(`paging/${k}`)));
      const v1 = await aliceS3.send(
        new ListObjectsCommand({
          Bucket: bucket,
          Prefix: own('paging/'),
          Delimiter: '/',
          MaxKeys: 3,
        }),
      );
      expect(v1.Contents?.map((o) => o.Key)).toEqual([own('paging/a'), own('paging/c')]);
      expect(v1.CommonPrefixes?.map((p) => p.Prefix)).toEqual([own('paging/b/')]);
      expect(v1).toMatchObject({ IsTruncated: true, NextMarker: own('paging/c') });
    });

    test('stores the decoded bytes of aws-chunked uploads (default checksum settings)', async () => {
      const s3 = client(alice, { requestChecksumCalculation: 'WHEN_SUPPORTED' });
      const key = own('chunked.txt');
      await s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: Readable.from([Buffer.from('hello '), Buffer.from('world')]),
          ContentLength: 11,
        }),
      );
      await s3.send(
        new PutObjectCommand({ Bucket: bucket, Key: own('crc.txt'), Body: 'with a crc32 header' }),
      );
      const got = await aliceS3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      expect(await got.Body!.transformToString()).toBe('hello world');
    });

    test('verifies signed aws-chunked uploads chunk by chunk (STREAMING-AWS4-HMAC-SHA256-PAYLOAD)', async () => {
      const put = (key: string, corrupt: boolean) => {
        const url = new URL(`${server.url}/${bucket}/${key}`);
        const amzDate = formatAmzDate(Date.now());
        const scope = { date: amzDate.slice(0, 8), region: 'us-east-1', service: 's3' };
        const data = [Buffer.alloc(70000, 'x'), Buffer.alloc(100, 'y')];
        const headers: Record<string, string> = {
          'content-encoding': 'aws-chunked',
          host: url.host,
          'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
          'x-amz-date': amzDate,
          'x-amz-decoded-content-length': '70100',
          'x-amz-security-token': alice.sessionToken,
        };
        const signedHeaders = Object.keys(headers).sort();
        const signing = signingKey(alice.secretAccessKey, scope);
        const seed = signHex(
          signing,
          stringToSign(
            amzDate,
            scope,
            canonicalRequest({
              method: 'PUT',
              rawPath: url.pathname,
              query: [],
              signedHeaders,
              headerValues: headerMap(headers),
              payloadHash: headers['x-amz-content-sha256'],
            }),
          ),
        );
        let previous = seed;
        const framed: Buffer[] = [];
        for (const chunk of [...data, Buffer.alloc(0)]) {
          previous = signHex(signing, chunkStringToSign(amzDate, scope, previous, chunk));
          const sent = corrupt && chunk.length === 100 ? Buffer.alloc(100, 'z') : chunk;
          framed.push(
            Buffer.from(`${chunk.length.toString(16)};chunk-signature=${previous}\r\n`),
            sent,
            Buffer.from('\r\n'),
          );
        }
        return fetchRaw(url.toString(), {
          method: 'PUT',
          headers: {
            ...headers,
            authorization: `AWS4-HMAC-SHA256 Credential=${alice.accessKeyId}/${scope.date}/us-east-1/s3/aws4_request, SignedHeaders=${signedHeaders.join(';')}, Signature=${seed}`,
          },
          body: Buffer.concat(framed),
        });
      };
      expect((await put(own('signed-chunks.bin'), false)).status).toBe(200);
      const got = await aliceS3.send(
        new GetObjectCommand({ Bucket: bucket, Key: own('signed-chunks.bin') }),
      );
      expect((await got.Body!.transformToByteArray()).length).toBe(70100);
      const corrupt = await put(own('corrupt-chunks.bin'), true);
      expect(corrupt.status).toBe(403);
      expect(corrupt.body).toContain('<Code>SignatureDoesNotMatch</Code>');
      await expect(
        aliceS3.send(new HeadObjectCommand({ Bucket: bucket, Key: own('corrupt-chunks.bin') })),
      ).rejects.toEqual(s3Error('NotFound', 404));
    });

    test('copies within her own prefix', async () => {
      await aliceS3.send(
        new PutObjectCommand({ Bucket: bucket, Key: own('copy-src.txt'), Body: 'copy me' }),
      );
      await aliceS3.send(
        new CopyObjectCommand({
          Bucket: bucket,
          Key: own('copy-dst.txt'),
          CopySource: `${bucket}/${own('copy-src.txt')}`,
        }),
      );
      const got = await aliceS3.send(
        new GetObjectCommand({ Bucket: bucket, Key: own('copy-dst.txt') }),
      );
      expect(await got.Body!.transformToString()).toBe('copy me');
    });
  });

  describe('long keys', () => {
    /** A key under alice's prefix of exactly `bytes` UTF-8 bytes, filled with `fill`. */
    const ownKeyOf = (bytes: number, dir = 'long/', fill = 'k') => {
      const base = own(dir);
      const room = bytes - Buffer.byteLength(base);
      const unit = Buffer.byteLength(fill);
      const key = base + fill.repeat(Math.floor(room / unit)) + 'x'.repeat(room % unit);
      expect(Buffer.byteLength(key)).toBe(bytes);
      return key;
    };
    const listKeys = async (prefix: string, delimiter?: string) => {
      const page = await aliceS3.send(
        new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, Delimiter: delimiter }),
      );
      return {
        keys: (page.Contents ?? []).map((o) => o.Key),
        prefixes: (page.CommonPrefixes ?? []).map((p) => p.Prefix),
      };
    };

    async function roundTrip(key: string, listPrefix: string): Promise<void> {
      const body = randomBytes(3000);
      await aliceS3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
      const got = await aliceS3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      expect(Buffer.from(await got.Body!.transformToByteArray()).equals(body)).toBe(true);
      const head = await aliceS3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      expect(head.ContentLength).toBe(3000);
      expect((await listKeys(listPrefix)).keys).toEqual([key]);
      await aliceS3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
      await expect(
        aliceS3.send(new HeadObjectCommand({ Bucket: bucket, Key: key })),
      ).rejects.toEqual(s3Error('NotFound', 404));
      expect((await listKeys(listPrefix)).keys).toEqual([]);
    }

    test('a 1,024-byte key: put, get byte-identical, head, list by prefix, delete', async () => {
      const key = ownKeyOf(1024);
      // The prefix ends inside the long segment: the listing still matches the real key.
      await roundTrip(key, key.slice(0, 900));
    });

    test('a multibyte UTF-8 key of 1,023 bytes', async () => {
      const key = ownKeyOf(1023, 'long-utf8/', 'ö😀');
      await roundTrip(key, own('long-utf8/'));
    });

    test('a directory segment over 255 bytes: listed as the real common prefix', async () => {
      // Not hex digits: the log test looks for anything hash-like.
      const dir = `${'q'.repeat(300)}/`;
      const key = own(`long-dir/${dir}file.txt`);
      await aliceS3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'in a long dir' }));
      expect(await listKeys(own('long-dir/'), '/')).toEqual({
        keys: [],
        prefixes: [own(`long-dir/${dir}`)],
      });
      expect((await listKeys(own(`long-dir/${dir}`))).keys).toEqual([key]);
      const got = await aliceS3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      expect(await got.Body!.transformToString()).toBe('in a long dir');
      await roundTrip(own(`long-dir/${dir}${'g'.repeat(400)}`), own(`long-dir/${dir}gg`));
    });

    test('long keys in copies and multipart uploads; the answers name the real key', async () => {
      const source = ownKeyOf(1000, 'long-copy/', 's');
      const target = ownKeyOf(1000, 'long-copy/', 't');
      await aliceS3.send(new PutObjectCommand({ Bucket: bucket, Key: source, Body: 'copied' }));
      await aliceS3.send(
        new CopyObjectCommand({
          Bucket: bucket,
          Key: target,
          CopySource: `${bucket}/${encodeURIComponent(source)}`,
        }),
      );
      const copied = await aliceS3.send(new GetObjectCommand({ Bucket: bucket, Key: target }));
      expect(await copied.Body!.transformToString()).toBe('copied');

      const key = ownKeyOf(1024, 'long-multipart/', 'm');
      const created = await aliceS3.send(
        new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }),
      );
      expect(created.Key).toBe(key);
      const part = await aliceS3.send(
        new UploadPartCommand({
          Bucket: bucket,
          Key: key,
          UploadId: created.UploadId,
          PartNumber: 1,
          Body: 'one part',
        }),
      );
      const parts = await aliceS3.send(
        new ListPartsCommand({ Bucket: bucket, Key: key, UploadId: created.UploadId }),
      );
      expect(parts.Parts?.map((p) => p.ETag)).toEqual([part.ETag]);
      const done = await aliceS3.send(
        new CompleteMultipartUploadCommand({
          Bucket: bucket,
          Key: key,
          UploadId: created.UploadId,
          MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] },
        }),
      );
      expect(done.Key).toBe(key);
      expect(done.Location).toContain(encodeURIComponent(key));
      expect((await listKeys(own('long-multipart/'))).keys).toEqual([key]);

      const missing = ownKeyOf(1024, 'long-missing/', 'n');
      const res = await fetchRaw(
        await getSignedUrl(aliceS3, new GetObjectCommand({ Bucket: bucket, Key: missing })),
      );
      expect(res.status).toBe(404);
      expect(res.body).toContain(`<Key>${missing}</Key>`);
    });

    test('keys the file system would merge or nest stay distinct', async () => {
      const keys = [
        own('merge/a/b'),
        own('merge/a//b'),
        own('merge//a/b'),
        own('merge/~~x'),
        own('merge/c._S3rver_object/d'),
        own('merge/c'),
      ];
      for (const key of keys)
        await aliceS3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: key }));
      for (const key of keys) {
        const got = await aliceS3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        expect(await got.Body!.transformToString()).toBe(key);
      }
      expect((await listKeys(own('merge'))).keys).toEqual(
        [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))),
      );
    });

    test('a 1,025-byte key is KeyTooLongError', async () => {
      await expect(
        aliceS3.send(new PutObjectCommand({ Bucket: bucket, Key: ownKeyOf(1025), Body: 'x' })),
      ).rejects.toEqual(s3Error('KeyTooLongError', 400));
    });

    test('a failed write is a 500 InternalError for that request; the sandbox keeps serving', async () => {
      // A directory where the object's file goes: the file system refuses the write.
      const blocked = own('blocked');
      fs.mkdirSync(path.join(dataDir, bucket, `${blocked}._S3rver_object`), { recursive: true });
      const res = await fetchRaw(
        await getSignedUrl(aliceS3, new PutObjectCommand({ Bucket: bucket, Key: blocked })),
        { method: 'PUT', body: 'x'.repeat(100_000) },
      );
      expect(res.status).toBe(500);
      expect(res.body).toMatch(/<Code>InternalError<\/Code>/);
      await aliceS3.send(
        new PutObjectCommand({ Bucket: bucket, Key: own('after-failure'), Body: 'still up' }),
      );
      const got = await aliceS3.send(
        new GetObjectCommand({ Bucket: bucket, Key: own('after-failure') }),
      );
      expect(await got.Body!.transformToString()).toBe('still up');
    });
  });

  describe('isolation', () => {
    test("denies alice getting, putting and deleting bob's objects", async () => {
      const denied = s3Error('AccessDenied', 403);
      await expect(
        aliceS3.send(new GetObjectCommand({ Bucket: bucket, Key: bobs('secret.txt') })),
      ).rejects.toEqual(denied);
      await expect(
        aliceS3.send(new PutObjectCommand({ Bucket: bucket, Key: bobs('planted.txt'), Body: 'x' })),
      ).rejects.toEqual(denied);
      await expect(
        aliceS3.send(new DeleteObjectCommand({ Bucket: bucket, Key: bobs('secret.txt') })),
      ).rejects.toEqual(denied);
      const still = await bobS3.send(
        new GetObjectCommand({ Bucket: bucket, Key: bobs('secret.txt') }),
      );
      expect(await still.Body!.transformToString()).toBe('bob only');
    });

    test("denies alice listing bob's prefix, the namespace root and the bucket root", async () => {
      for (const Prefix of [bobs(''), 'users/google/', 'users/', '', undefined]) {
        await expect(
          aliceS3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix })),
        ).rejects.toEqual(s3Error('AccessDenied', 403));
      }
    });

    test('denies the Google alice the Amazon alice prefix, which the Amazon alice may use', async () => {
      const amazonAlice = client(
        session(amazonRole, {
          'www.amazon.com:user_id': ALICE,
          'www.amazon.com:app_id': SANDBOX_CLIENTS.amazon.clientId,
        }),
      );
      const key = `users/amazon/${ALICE}/a.txt`;
      await amazonAlice.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'amazon' }));
      const denied = s3Error('AccessDenied', 403);
      await expect(
        aliceS3.send(new GetObjectCommand({ Bucket: bucket, Key: key })),
      ).rejects.toEqual(denied);
      await expect(
        aliceS3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'x' })),
      ).rejects.toEqual(denied);
      await expect(
        aliceS3.send(
          new ListObjectsV2Command({ Bucket: bucket, Prefix: `users/amazon/${ALICE}/` }),
        ),
      ).rejects.toEqual(denied);
    });

    test("DeleteObjects deletes alice's keys and reports bob's as AccessDenied", async () => {
      await aliceS3.send(
        new PutObjectCommand({ Bucket: bucket, Key: own('batch.txt'), Body: 'x' }),
      );
      const result = await aliceS3.send(
        new DeleteObjectsCommand({
          Bucket: bucket,
          Delete: { Objects: [{ Key: own('batch.txt') }, { Key: bobs('secret.txt') }] },
        }),
      );
      expect(result.Deleted?.map((d) => d.Key)).toEqual([own('batch.txt')]);
      expect(result.Errors).toEqual([
        expect.objectContaining({ Key: bobs('secret.txt'), Code: 'AccessDenied' }),
      ]);
      await expect(
        bobS3.send(new HeadObjectCommand({ Bucket: bucket, Key: bobs('secret.txt') })),
      ).resolves.toBeDefined();
    });

    test("denies copying bob's object into alice's prefix", async () => {
      await expect(
        aliceS3.send(
          new CopyObjectCommand({
            Bucket: bucket,
            Key: own('stolen.txt'),
            CopySource: `${bucket}/${bobs('secret.txt')}`,
          }),
        ),
      ).rejects.toEqual(s3Error('AccessDenied', 403));
    });

    test("refuses keys with '*' or '..' segments, which the policy engine or the file store would misread", async () => {
      await expect(
        aliceS3.send(new PutObjectCommand({ Bucket: bucket, Key: own('a*b'), Body: 'x' })),
      ).rejects.toThrow(/refuses object keys containing '\*'/);
      await expect(
        aliceS3.send(new GetObjectCommand({ Bucket: bucket, Key: own(`../${BOB}/secret.txt`) })),
      ).rejects.toEqual(
        expect.objectContaining({ name: 'AccessDenied', message: expect.stringMatching(/'\.\.'/) }),
      );
      await expect(
        aliceS3.send(
          new PutObjectCommand({ Bucket: bucket, Key: own(`../${BOB}/planted.txt`), Body: 'x' }),
        ),
      ).rejects.toEqual(s3Error('AccessDenied', 403));
    });

    test('refuses operations and query parameters outside its table, even when signed', async () => {
      const withQuery = (extra: Record<string, string>) => {
        const s3 = client(alice);
        s3.middlewareStack.add(
          (next) => async (args) => {
            const request = args.request as { query: Record<string, string> };
            Object.assign(request.query, extra);
            return next(args);
          },
          { step: 'build', name: 'addQuery' },
        );
        return s3.send(new GetObjectCommand({ Bucket: bucket, Key: own('copy-src.txt') }));
      };
      await expect(withQuery({ attributes: '' })).rejects.toEqual(
        expect.objectContaining({
          name: 'AccessDenied',
          message: expect.stringMatching(/does not support this operation/),
        }),
      );
      await expect(withQuery({ foo: 'bar' })).rejects.toEqual(
        expect.objectContaining({
          name: 'AccessDenied',
          message: expect.stringMatching(/query parameter\(s\) foo/),
        }),
      );
    });
  });

  describe('authentication', () => {
    test('a wrong secret is SignatureDoesNotMatch', async () => {
      const s3 = client({ ...alice, secretAccessKey: 'not-the-secret' });
      await expect(
        s3.send(new GetObjectCommand({ Bucket: bucket, Key: own('copy-src.txt') })),
      ).rejects.toEqual(s3Error('SignatureDoesNotMatch', 403));
    });

    test('an unknown access key is InvalidAccessKeyId', async () => {
      const s3 = client({ ...alice, accessKeyId: 'ASIAUNKNOWNKEY000000' });
      await expect(
        s3.send(new GetObjectCommand({ Bucket: bucket, Key: own('copy-src.txt') })),
      ).rejects.toEqual(s3Error('InvalidAccessKeyId', 403));
    });

    test('a temporary access key without its session token is InvalidAccessKeyId', async () => {
      const withoutToken = {
        accessKeyId: alice.accessKeyId,
        secretAccessKey: alice.secretAccessKey,
      };
      const s3 = new S3Client({
        endpoint: server.url,
        forcePathStyle: true,
        region: 'us-east-1',
        credentials: withoutToken,
        requestHandler: { httpsAgent: agent },
        maxAttempts: 1,
      });
      await expect(
        s3.send(new GetObjectCommand({ Bucket: bucket, Key: own('copy-src.txt') })),
      ).rejects.toEqual(s3Error('InvalidAccessKeyId', 403));
      const presigned = await getSignedUrl(
        s3,
        new GetObjectCommand({ Bucket: bucket, Key: own('copy-src.txt') }),
      );
      expect(presigned).not.toContain('X-Amz-Security-Token');
      const res = await fetchRaw(presigned);
      expect(res.status).toBe(403);
      expect(res.body).toMatch(/<Code>InvalidAccessKeyId<\/Code>/);
    });

    test('a wrong session token is InvalidToken; an expired session is ExpiredToken', async () => {
      await expect(
        client({ ...alice, sessionToken: 'forged' }).send(
          new GetObjectCommand({ Bucket: bucket, Key: own('copy-src.txt') }),
        ),
      ).rejects.toEqual(s3Error('InvalidToken', 400));
      const expired = google(ALICE, { expiration: Date.now() - 1000 });
      await expect(
        client(expired).send(new GetObjectCommand({ Bucket: bucket, Key: own('copy-src.txt') })),
      ).rejects.toEqual(s3Error('ExpiredToken', 400));
    });

    test('an unsigned request is AccessDenied', async () => {
      const res = await fetchRaw(`${server.url}/${bucket}/${own('copy-src.txt')}`);
      expect(res.status).toBe(403);
      expect(res.body).toMatch(/<Code>AccessDenied<\/Code>/);
      expect(res.body).toMatch(/<RequestId>[0-9A-F]{16}<\/RequestId>/);
      expect(res.headers['x-amz-request-id']).toMatch(/^[0-9A-F]{16}$/);
    });

    test('a payload that does not match x-amz-content-sha256 is refused and not stored', async () => {
      const s3 = client(alice);
      s3.middlewareStack.add(
        (next) => async (args) => {
          const request = args.request as { headers: Record<string, string> };
          request.headers['x-amz-content-sha256'] = createHash('sha256')
            .update('something else')
            .digest('hex');
          return next(args);
        },
        { step: 'build', name: 'lieAboutPayload' },
      );
      await expect(
        s3.send(new PutObjectCommand({ Bucket: bucket, Key: own('lie.txt'), Body: 'the truth' })),
      ).rejects.toEqual(s3Error('XAmzContentSHA256Mismatch', 400));
      await expect(
        aliceS3.send(new HeadObjectCommand({ Bucket: bucket, Key: own('lie.txt') })),
      ).rejects.toEqual(s3Error('NotFound', 404));
    });

    test('a request signed 20 minutes ago is RequestTimeTooSkewed', async () => {
      const s3 = client(alice, { systemClockOffset: -20 * 60 * 1000, maxAttempts: 1 });
      await expect(
        s3.send(new GetObjectCommand({ Bucket: bucket, Key: own('copy-src.txt') })),
      ).rejects.toEqual(s3Error('RequestTimeTooSkewed', 403));
    });
  });

  describe('presigned URLs', () => {
    const presignPut = (key: string, extra: { signingDate?: Date; expiresIn?: number } = {}) =>
      getSignedUrl(aliceS3, new PutObjectCommand({ Bucket: bucket, Key: key, IfNoneMatch: '*' }), {
        expiresIn: 60,
        signableHeaders: new Set(['if-none-match']),
        ...extra,
      });

    test('GET works for her own key and is refused for bob’s', async () => {
      const url = await getSignedUrl(
        aliceS3,
        new GetObjectCommand({ Bucket: bucket, Key: own('copy-src.txt') }),
        {
          expiresIn: 60,
        },
      );
      const ok = await fetchRaw(url);
      expect(ok).toMatchObject({ status: 200, body: 'copy me' });
      const theirs = await getSignedUrl(
        aliceS3,
        new GetObjectCommand({ Bucket: bucket, Key: bobs('secret.txt') }),
        {
          expiresIn: 60,
        },
      );
      const denied = await fetchRaw(theirs);
      expect(denied.status).toBe(403);
      expect(denied.body).toContain('<Code>AccessDenied</Code>');
      expect(denied.body).not.toContain('bob only');
    });

    test('GET honours response-content-disposition', async () => {
      const url = await getSignedUrl(
        aliceS3,
        new GetObjectCommand({
          Bucket: bucket,
          Key: own('copy-src.txt'),
          ResponseContentDisposition: 'attachment; filename="x.txt"',
        }),
        { expiresIn: 60 },
      );
      const res = await fetchRaw(url);
      expect(res.status).toBe(200);
      expect(res.headers['content-disposition']).toBe('attachment; filename="x.txt"');
    });

    test('is refused after expiry and when tampered with', async () => {
      const old = await getSignedUrl(
        aliceS3,
        new GetObjectCommand({ Bucket: bucket, Key: own('copy-src.txt') }),
        {
          expiresIn: 60,
          signingDate: new Date(Date.now() - 120_000),
        },
      );
      const expired = await fetchRaw(old);
      expect(expired.status).toBe(403);
      expect(expired.body).toMatch(
        /<Code>AccessDenied<\/Code><Message>Request has expired<\/Message>/,
      );

      const url = await getSignedUrl(
        aliceS3,
        new GetObjectCommand({ Bucket: bucket, Key: own('copy-src.txt') }),
        {
          expiresIn: 60,
        },
      );
      for (const tampered of [
        url.replace('copy-src.txt', 'copy-dst.txt'),
        url.replace('X-Amz-Expires=60', 'X-Amz-Expires=600'),
      ]) {
        const res = await fetchRaw(tampered);
        expect(res.status).toBe(403);
        expect(res.body).toContain('<Code>SignatureDoesNotMatch</Code>');
        expect(res.body).not.toContain(alice.sessionToken);
      }
    });

    test('PUT with a signed If-None-Match: * creates once, then answers 412', async () => {
      const key = own('upload-once.txt');
      const url = await presignPut(key);
      expect(url).toContain('SignedHeaders=host%3Bif-none-match');
      const first = await fetchRaw(url, {
        method: 'PUT',
        headers: { 'if-none-match': '*' },
        body: 'first',
      });
      expect(first.status).toBe(200);
      const second = await fetchRaw(url, {
        method: 'PUT',
        headers: { 'if-none-match': '*' },
        body: 'second',
      });
      expect(second.status).toBe(412);
      expect(second.body).toContain('<Code>PreconditionFailed</Code>');
      const got = await aliceS3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      expect(await got.Body!.transformToString()).toBe('first');
      // Leaving out the signed header breaks the signature.
      const without = await fetchRaw(await presignPut(own('other.txt')), {
        method: 'PUT',
        body: 'x',
      });
      expect(without.status).toBe(403);
      expect(without.body).toContain('<Code>SignatureDoesNotMatch</Code>');
    });

    test('PUT presigned as the app does it (content type signed), sent from the app origin', async () => {
      const appOrigin = `https://127.0.0.1:${DEFAULT_PORTS.app}`;
      const url = await getSignedUrl(
        aliceS3,
        new PutObjectCommand({
          Bucket: bucket,
          Key: own('app.txt'),
          ContentType: 'text/plain',
          IfNoneMatch: '*',
        }),
        { expiresIn: 60, signableHeaders: new Set(['content-type']) },
      );
      const headers = { 'content-type': 'text/plain', 'if-none-match': '*', origin: appOrigin };
      const res = await fetchRaw(url, { method: 'PUT', headers, body: 'from the browser' });
      expect(res.status).toBe(200);
      expect(res.headers).toMatchObject({
        'access-control-allow-origin': appOrigin,
        etag: expect.any(String),
      });
      const head = await aliceS3.send(
        new HeadObjectCommand({ Bucket: bucket, Key: own('app.txt') }),
      );
      expect(head.ContentType).toBe('text/plain');
      const relabel = await fetchRaw(url, {
        method: 'PUT',
        headers: { ...headers, 'content-type': 'text/html' },
        body: 'x',
      });
      expect(relabel.status).toBe(403);
    });

    test('refuses x-amz-* headers the URL did not sign', async () => {
      const res = await fetchRaw(await presignPut(own('meta.txt')), {
        method: 'PUT',
        headers: { 'if-none-match': '*', 'x-amz-meta-added': 'by the holder' },
        body: 'x',
      });
      expect(res.status).toBe(403);
      expect(res.body).toMatch(/<HeadersNotSigned>x-amz-meta-added<\/HeadersNotSigned>/);
    });

    test("PUT is refused for bob's prefix and after expiry", async () => {
      const theirs = await fetchRaw(await presignPut(bobs('planted.txt')), {
        method: 'PUT',
        headers: { 'if-none-match': '*' },
        body: 'x',
      });
      expect(theirs.status).toBe(403);
      expect(theirs.body).toContain('<Code>AccessDenied</Code>');
      const late = await fetchRaw(
        await presignPut(own('late.txt'), {
          signingDate: new Date(Date.now() - 120_000),
          expiresIn: 60,
        }),
        { method: 'PUT', headers: { 'if-none-match': '*' }, body: 'x' },
      );
      expect(late.status).toBe(403);
      expect(late.body).toContain('Request has expired');
    });

    test('PUT URLs made with default checksums carry the CRC of an empty body: S3 answers BadDigest', async () => {
      const s3 = client(alice, { requestChecksumCalculation: 'WHEN_SUPPORTED' });
      const url = await getSignedUrl(
        s3,
        new PutObjectCommand({ Bucket: bucket, Key: own('crc-url.txt') }),
        {
          expiresIn: 60,
        },
      );
      expect(url).toContain('x-amz-checksum-crc32=AAAAAA%3D%3D');
      const res = await fetchRaw(url, { method: 'PUT', body: 'not empty' });
      expect(res.status).toBe(400);
      expect(res.body).toContain('<Code>BadDigest</Code>');
    });
  });

  describe('conditional writes and multipart uploads', () => {
    test('PutObject with If-None-Match: * on an existing key is PreconditionFailed', async () => {
      const key = own('exists.txt');
      await aliceS3.send(
        new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'v1', IfNoneMatch: '*' }),
      );
      await expect(
        aliceS3.send(
          new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'v2', IfNoneMatch: '*' }),
        ),
      ).rejects.toEqual(s3Error('PreconditionFailed', 412));
      const got = await aliceS3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      expect(await got.Body!.transformToString()).toBe('v1');
    });

    test('a 2 x 5 MiB multipart upload works in her own prefix', async () => {
      const key = own('big.bin');
      const parts = [Buffer.alloc(5 * 1024 * 1024, 1), Buffer.alloc(5 * 1024 * 1024, 2)];
      const { UploadId } = await aliceS3.send(
        new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }),
      );
      const etags: string[] = [];
      for (const [i, Body] of parts.entries()) {
        const { ETag } = await aliceS3.send(
          new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: i + 1, Body }),
        );
        etags.push(ETag!);
      }
      const listed = await aliceS3.send(
        new ListPartsCommand({ Bucket: bucket, Key: key, UploadId }),
      );
      expect(listed.Parts?.map((p) => [p.PartNumber, p.Size, p.ETag])).toEqual([
        [1, 5 * 1024 * 1024, etags[0]],
        [2, 5 * 1024 * 1024, etags[1]],
      ]);
      await aliceS3.send(
        new CompleteMultipartUploadCommand({
          Bucket: bucket,
          Key: key,
          UploadId,
          MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
        }),
      );
      const got = await aliceS3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      const bytes = Buffer.from(await got.Body!.transformToByteArray());
      expect(createHash('sha256').update(bytes).digest('hex')).toBe(
        createHash('sha256').update(Buffer.concat(parts)).digest('hex'),
      );
    });

    test('checks parts, binds upload ids to their key, and aborts', async () => {
      const key = own('mp-checks.bin');
      const { UploadId } = await aliceS3.send(
        new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }),
      );
      const { ETag } = await aliceS3.send(
        new UploadPartCommand({
          Bucket: bucket,
          Key: key,
          UploadId,
          PartNumber: 1,
          Body: Buffer.alloc(10),
        }),
      );
      // An upload id only works with the key it was created for.
      await expect(
        aliceS3.send(
          new UploadPartCommand({
            Bucket: bucket,
            Key: own('elsewhere.bin'),
            UploadId,
            PartNumber: 1,
            Body: 'x',
          }),
        ),
      ).rejects.toEqual(s3Error('NoSuchUpload', 404));
      await expect(
        aliceS3.send(
          new CompleteMultipartUploadCommand({
            Bucket: bucket,
            Key: key,
            UploadId,
            MultipartUpload: { Parts: [{ ETag: '"0000"', PartNumber: 1 }] },
          }),
        ),
      ).rejects.toEqual(s3Error('InvalidPart', 400));
      expect(ETag).toBeDefined();
      await aliceS3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId }));
      await expect(
        aliceS3.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId })),
      ).rejects.toEqual(s3Error('NoSuchUpload', 404));
    });

    test('CompleteMultipartUpload with If-None-Match: * never replaces an existing object', async () => {
      const key = own('mp-exists.bin');
      const start = async () => {
        const { UploadId } = await aliceS3.send(
          new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }),
        );
        const { ETag } = await aliceS3.send(
          new UploadPartCommand({
            Bucket: bucket,
            Key: key,
            UploadId,
            PartNumber: 1,
            Body: Buffer.from('new'),
          }),
        );
        return {
          Bucket: bucket,
          Key: key,
          UploadId,
          IfNoneMatch: '*',
          MultipartUpload: { Parts: [{ ETag, PartNumber: 1 }] },
        };
      };
      // The first completion creates the object; a second one to the same key is refused.
      const first = await start();
      const second = await start();
      await aliceS3.send(new CompleteMultipartUploadCommand(first));
      await expect(aliceS3.send(new CompleteMultipartUploadCommand(second))).rejects.toEqual(
        s3Error('PreconditionFailed', 412),
      );
      await aliceS3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'v2' }));
      await expect(aliceS3.send(new CompleteMultipartUploadCommand(second))).rejects.toEqual(
        s3Error('PreconditionFailed', 412),
      );
      const got = await aliceS3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      expect(await got.Body!.transformToString()).toBe('v2');
      await aliceS3.send(
        new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: second.UploadId }),
      );
    });

    test("CreateMultipartUpload on bob's prefix is denied", async () => {
      await expect(
        aliceS3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: bobs('big.bin') })),
      ).rejects.toEqual(s3Error('AccessDenied', 403));
    });
  });

  describe('write options S3 checks', () => {
    test('x-amz-tagging on PutObject and CreateMultipartUpload also needs s3:PutObjectTagging', async () => {
      const tagged = own('tagged.txt');
      const denied = expect.objectContaining({
        name: 'AccessDenied',
        message: expect.stringContaining('s3:PutObjectTagging'),
        $metadata: expect.objectContaining({ httpStatusCode: 403 }),
      });
      await expect(
        aliceS3.send(
          new PutObjectCommand({ Bucket: bucket, Key: tagged, Body: 'x', Tagging: 'team=a' }),
        ),
      ).rejects.toEqual(denied);
      await expect(
        aliceS3.send(
          new CreateMultipartUploadCommand({ Bucket: bucket, Key: tagged, Tagging: 'team=a' }),
        ),
      ).rejects.toEqual(denied);
      const url = await getSignedUrl(
        aliceS3,
        new PutObjectCommand({ Bucket: bucket, Key: tagged, Tagging: 'team=a' }),
      );
      expect((await fetchRaw(url, { method: 'PUT', body: 'x' })).status).toBe(403);
      await expect(
        aliceS3.send(new HeadObjectCommand({ Bucket: bucket, Key: tagged })),
      ).rejects.toEqual(s3Error('NotFound', 404));
      expect(logs).toContainEqual(
        expect.objectContaining({
          operation: 'PutObject',
          actions: ['s3:PutObject', 's3:PutObjectTagging'],
          decision: 'deny',
        }),
      );
    });

    test('an ACL on a BucketOwnerEnforced bucket is AccessControlListNotSupported', async () => {
      const key = own('acl.txt');
      const refused = expect.objectContaining({
        name: 'AccessControlListNotSupported',
        message: 'The bucket does not allow ACLs',
        $metadata: expect.objectContaining({ httpStatusCode: 400 }),
      });
      await expect(
        aliceS3.send(
          new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'x', ACL: 'public-read' }),
        ),
      ).rejects.toEqual(refused);
      await expect(
        aliceS3.send(
          new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'x', GrantRead: 'uri=x' }),
        ),
      ).rejects.toEqual(refused);
      await expect(
        aliceS3.send(
          new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ACL: 'private' }),
        ),
      ).rejects.toEqual(refused);
      await expect(
        aliceS3.send(new HeadObjectCommand({ Bucket: bucket, Key: key })),
      ).rejects.toEqual(s3Error('NotFound', 404));
      // The one ACL S3 accepts there: it changes nothing.
      await aliceS3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: 'x',
          ACL: 'bucket-owner-full-control',
        }),
      );
      // Authorization comes first: bob's prefix is AccessDenied, ACL or not.
      await expect(
        aliceS3.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: bobs('acl.txt'),
            Body: 'x',
            ACL: 'public-read',
          }),
        ),
      ).rejects.toEqual(s3Error('AccessDenied', 403));
    });

    describe('SSE-C', () => {
      const customerKey = randomBytes(32).toString('base64');
      const otherKey = randomBytes(32).toString('base64');
      const md5Of = (key: string) =>
        createHash('md5').update(Buffer.from(key, 'base64')).digest('base64');
      const withKey = (key = customerKey) => ({
        SSECustomerAlgorithm: 'AES256',
        SSECustomerKey: key,
      });
      const status = (code: number) =>
        expect.objectContaining({ $metadata: expect.objectContaining({ httpStatusCode: code }) });

      test('an object stored with a customer key is served only with that key', async () => {
        const key = own('ssec/secret.txt');
        const put = await aliceS3.send(
          new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'sealed', ...withKey() }),
        );
        expect(put).toMatchObject({
          SSECustomerAlgorithm: 'AES256',
          SSECustomerKeyMD5: md5Of(customerKey),
        });
        await expect(
          aliceS3.send(new GetObjectCommand({ Bucket: bucket, Key: key })),
        ).rejects.toEqual(s3Error('InvalidRequest', 400));
        await expect(
          aliceS3.send(new HeadObjectCommand({ Bucket: bucket, Key: key })),
        ).rejects.toEqual(status(400));
        await expect(
          aliceS3.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...withKey(otherKey) })),
        ).rejects.toEqual(s3Error('AccessDenied', 403));
        await expect(
          aliceS3.send(new HeadObjectCommand({ Bucket: bucket, Key: key, ...withKey(otherKey) })),
        ).rejects.toEqual(status(403));
        const got = await aliceS3.send(
          new GetObjectCommand({ Bucket: bucket, Key: key, ...withKey() }),
        );
        expect(await got.Body!.transformToString()).toBe('sealed');
        expect(got.SSECustomerKeyMD5).toBe(md5Of(customerKey));
        expect(got.Metadata).toEqual({});
        const head = await aliceS3.send(
          new HeadObjectCommand({ Bucket: bucket, Key: key, ...withKey() }),
        );
        expect(head).toMatchObject({ ContentLength: 6, SSECustomerAlgorithm: 'AES256' });
        // Parameters for an object that has no customer key are refused too.
        await aliceS3.send(
          new PutObjectCommand({ Bucket: bucket, Key: own('ssec/plain.txt'), Body: 'p' }),
        );
        await expect(
          aliceS3.send(
            new GetObjectCommand({ Bucket: bucket, Key: own('ssec/plain.txt'), ...withKey() }),
          ),
        ).rejects.toEqual(s3Error('InvalidRequest', 400));
        // A copy of it is not something the sandbox does.
        await expect(
          aliceS3.send(
            new CopyObjectCommand({
              Bucket: bucket,
              Key: own('ssec/copy.txt'),
              CopySource: `${bucket}/${key}`,
            }),
          ),
        ).rejects.toEqual(s3Error('NotImplemented', 501));
      });

      test('a key whose MD5 does not match is InvalidArgument, and nothing is stored', async () => {
        const s3 = client(alice);
        s3.middlewareStack.add(
          (next) => async (args) => {
            const request = args.request as { headers: Record<string, string> };
            request.headers['x-amz-server-side-encryption-customer-key-md5'] = md5Of(otherKey);
            return next(args);
          },
          { step: 'build', name: 'wrongKeyMd5' },
        );
        const key = own('ssec/bad-md5.txt');
        await expect(
          s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'x', ...withKey() })),
        ).rejects.toEqual(s3Error('InvalidArgument', 400));
        await expect(
          aliceS3.send(
            new PutObjectCommand({
              Bucket: bucket,
              Key: key,
              Body: 'x',
              SSECustomerAlgorithm: 'AES256',
              SSECustomerKey: 'too short',
            }),
          ),
        ).rejects.toEqual(s3Error('InvalidArgument', 400));
        await expect(
          aliceS3.send(new HeadObjectCommand({ Bucket: bucket, Key: key })),
        ).rejects.toEqual(s3Error('NotFound', 404));
      });

      test('multipart uploads keep the key; parts must bring it; the key is never stored', async () => {
        const key = own('ssec/multipart.bin');
        const { UploadId } = await aliceS3.send(
          new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ...withKey() }),
        );
        await expect(
          aliceS3.send(
            new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 1, Body: 'p' }),
          ),
        ).rejects.toEqual(s3Error('InvalidRequest', 400));
        const part = await aliceS3.send(
          new UploadPartCommand({
            Bucket: bucket,
            Key: key,
            UploadId,
            PartNumber: 1,
            Body: 'part one',
            ...withKey(),
          }),
        );
        // s3rver keeps the headers of an upload on disk until it completes.
        const stored = (dir: string): string[] =>
          fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
            const p = path.join(dir, e.name);
            return e.isDirectory() ? stored(p) : [fs.readFileSync(p, 'utf8')];
          });
        expect(stored(dataDir).join('\n')).not.toContain(customerKey);
        await aliceS3.send(
          new CompleteMultipartUploadCommand({
            Bucket: bucket,
            Key: key,
            UploadId,
            MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] },
          }),
        );
        await expect(
          aliceS3.send(new GetObjectCommand({ Bucket: bucket, Key: key })),
        ).rejects.toEqual(s3Error('InvalidRequest', 400));
        const got = await aliceS3.send(
          new GetObjectCommand({ Bucket: bucket, Key: key, ...withKey() }),
        );
        expect(await got.Body!.transformToString()).toBe('part one');
      });
    });
  });

  describe('session policies', () => {
    const narrow = {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: 's3:GetObject',
          Resource: `arn:aws:s3:::*/users/google/${ALICE}/public/*`,
        },
      ],
    };

    test('a session policy narrows what the role allows', async () => {
      await aliceS3.send(
        new PutObjectCommand({ Bucket: bucket, Key: own('public/p.txt'), Body: 'public' }),
      );
      const narrowed = client(google(ALICE, { sessionPolicy: narrow }));
      const got = await narrowed.send(
        new GetObjectCommand({ Bucket: bucket, Key: own('public/p.txt') }),
      );
      expect(await got.Body!.transformToString()).toBe('public');
      await expect(
        narrowed.send(new GetObjectCommand({ Bucket: bucket, Key: own('copy-src.txt') })),
      ).rejects.toEqual(s3Error('AccessDenied', 403));
      await expect(
        narrowed.send(
          new PutObjectCommand({ Bucket: bucket, Key: own('public/p.txt'), Body: 'x' }),
        ),
      ).rejects.toEqual(s3Error('AccessDenied', 403));
    });

    test('a session policy cannot widen the role', async () => {
      const wide = client(
        google(ALICE, {
          sessionPolicy: {
            Version: '2012-10-17',
            Statement: [{ Effect: 'Allow', Action: 's3:*', Resource: '*' }],
          },
        }),
      );
      await expect(
        wide.send(new GetObjectCommand({ Bucket: bucket, Key: bobs('secret.txt') })),
      ).rejects.toEqual(s3Error('AccessDenied', 403));
    });

    test('a session policy with an unknown condition operator denies instead of being ignored', async () => {
      const odd = client(
        google(ALICE, {
          sessionPolicy: {
            Version: '2012-10-17',
            Statement: [
              { Effect: 'Allow', Action: 's3:GetObject', Resource: '*' },
              {
                Effect: 'Deny',
                Action: 's3:GetObject',
                Resource: '*',
                Condition: { StringEqualsFancy: { 's3:x': 'y' } },
              },
            ],
          },
        }),
      );
      await expect(
        odd.send(new GetObjectCommand({ Bucket: bucket, Key: own('copy-src.txt') })),
      ).rejects.toEqual(
        expect.objectContaining({
          name: 'AccessDenied',
          message: expect.stringMatching(/StringEqualsFancy/),
        }),
      );
      const unknown = client(
        google(ALICE, { sessionPolicyArns: ['arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess'] }),
      );
      await expect(
        unknown.send(new GetObjectCommand({ Bucket: bucket, Key: own('copy-src.txt') })),
      ).rejects.toEqual(s3Error('AccessDenied', 403));
    });

    test('a managed session policy from the template narrows the session, never beyond the role', async () => {
      const readOnly = client(google(ALICE, { sessionPolicyArns: [READ_ONLY_SESSION_POLICY_ARN] }));
      const got = await readOnly.send(
        new GetObjectCommand({ Bucket: bucket, Key: own('copy-src.txt') }),
      );
      expect(await got.Body!.transformToString()).toBe('copy me');
      // The role allows alice's PutObject; the session policy does not.
      await expect(
        readOnly.send(new PutObjectCommand({ Bucket: bucket, Key: own('ro.txt'), Body: 'x' })),
      ).rejects.toEqual(s3Error('AccessDenied', 403));
      // The policy allows GetObject on '*'; the role does not allow bob's objects.
      await expect(
        readOnly.send(new GetObjectCommand({ Bucket: bucket, Key: bobs('secret.txt') })),
      ).rejects.toEqual(s3Error('AccessDenied', 403));
    });

    test('the inline and managed session policies are one set: an Allow in either counts, a Deny in either wins', async () => {
      const putOwn = {
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Action: 's3:PutObject',
            Resource: `arn:aws:s3:::*/users/google/${ALICE}/*`,
          },
          {
            Effect: 'Deny',
            Action: 's3:GetObject',
            Resource: `arn:aws:s3:::*/users/google/${ALICE}/private/*`,
          },
        ],
      };
      const both = client(
        google(ALICE, { sessionPolicy: putOwn, sessionPolicyArns: [READ_ONLY_SESSION_POLICY_ARN] }),
      );
      await both.send(
        new PutObjectCommand({ Bucket: bucket, Key: own('private/both.txt'), Body: 'both' }),
      );
      const got = await both.send(
        new GetObjectCommand({ Bucket: bucket, Key: own('copy-src.txt') }),
      );
      expect(await got.Body!.transformToString()).toBe('copy me');
      await expect(
        both.send(new GetObjectCommand({ Bucket: bucket, Key: own('private/both.txt') })),
      ).rejects.toEqual(s3Error('AccessDenied', 403));
      await expect(
        both.send(new DeleteObjectCommand({ Bucket: bucket, Key: own('private/both.txt') })),
      ).rejects.toEqual(s3Error('AccessDenied', 403));
    });
  });

  describe('CORS', () => {
    const appOrigin = `https://127.0.0.1:${DEFAULT_PORTS.app}`;
    const preflight = (origin: string, method = 'PUT') =>
      fetchRaw(`${server.url}/${bucket}/${own('upload.txt')}`, {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': method,
          'access-control-request-headers': 'content-type,if-none-match',
        },
      });

    test('answers the preflight of the configured origin and refuses others', async () => {
      const ok = await preflight(appOrigin);
      expect(ok.status).toBe(200);
      // The sandbox stage has client-side credentials on: the SDK in its pages may DELETE
      // and read the version and request ids.
      expect(ok.headers).toMatchObject({
        'access-control-allow-origin': appOrigin,
        'access-control-allow-methods': 'GET, PUT, POST, HEAD, DELETE',
        'access-control-allow-headers': 'content-type, if-none-match',
        'access-control-expose-headers': 'ETag, x-amz-version-id, x-amz-request-id, x-amz-id-2',
        'access-control-max-age': '3000',
      });
      const foreign = await preflight('https://evil.example');
      expect(foreign.status).toBe(403);
      expect(foreign.headers['access-control-allow-origin']).toBeUndefined();
      expect((await preflight(appOrigin, 'DELETE')).status).toBe(200);
      expect((await preflight(appOrigin, 'PATCH')).status).toBe(403);
    });

    test('adds CORS headers to answers for the configured origin only', async () => {
      const url = await getSignedUrl(
        aliceS3,
        new GetObjectCommand({ Bucket: bucket, Key: own('copy-src.txt') }),
        {
          expiresIn: 60,
        },
      );
      const mine = await fetchRaw(url, { headers: { origin: appOrigin } });
      expect(mine.status).toBe(200);
      expect(mine.headers['access-control-allow-origin']).toBe(appOrigin);
      expect(mine.headers['access-control-expose-headers']).toBe(
        'ETag, x-amz-version-id, x-amz-request-id, x-amz-id-2',
      );
      const foreign = await fetchRaw(url, { headers: { origin: 'https://evil.example' } });
      expect(foreign.status).toBe(200);
      expect(foreign.headers['access-control-allow-origin']).toBeUndefined();
    });
  });

  test('logs decisions without secrets', () => {
    expect(logs.length).toBeGreaterThan(20);
    expect(logs).toContainEqual(
      expect.objectContaining({
        operation: 'GetObject',
        decision: 'deny',
        status: 403,
        key: bobs('secret.txt'),
      }),
    );
    expect(logs).toContainEqual(
      expect.objectContaining({ operation: 'PutObject', decision: 'allow', status: 200 }),
    );
    const text = JSON.stringify(logs);
    for (const secret of [alice.secretAccessKey, alice.sessionToken, bob.sessionToken])
      expect(text).not.toContain(secret);
    expect(text).not.toMatch(/[0-9a-f]{64}/);
  });

  test('a client that sends its request line slowly is cut off within the bound', async () => {
    const fastDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wif-s3-fast-'));
    const fast = await startLocalS3({
      port: 0,
      tls,
      dataDir: fastDir,
      template,
      model,
      sessions,
      timeouts: FAST_TIMEOUTS,
    });
    try {
      const outcome = await slowClient(fast.port, tls.ca);
      expect(outcome.closedAfterMs).toBeLessThan(FAST_TIMEOUTS.headersMs + 1_000);
      expect(outcome.answer).toMatch(/^HTTP\/1\.1 408 /);
    } finally {
      await fast.close();
      fs.rmSync(fastDir, { recursive: true, force: true });
    }
  });

  test('refuses to start on a busy port, with a clear error', async () => {
    await expect(
      startLocalS3({ port: server.port, tls, dataDir, template, model, sessions }),
    ).rejects.toThrow(`port ${server.port} on 127.0.0.1 is busy`);
  });

  test('data survives a restart on the same data directory', async () => {
    await server.close();
    server = await start();
    const s3 = client(alice);
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: own('copy-src.txt') }));
    expect(await got.Body!.transformToString()).toBe('copy me');
  });
});
