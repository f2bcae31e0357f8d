import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { AppConfig } from '../../common/app-config';
import {
  BadListTokenError,
  type FileListing,
  type ListRequest,
  SignInError,
  type StoredObject,
  type TemporaryCredentials,
  UploadRefusedError,
  type UserStorage,
} from './ports';

/**
 * The user's files on S3. Every request is signed with the USER's temporary
 * credentials, never the Lambda's: IAM and the role's policy variables confine each
 * user to their prefix, so a bug here cannot reach another user's files.
 */

export interface UserStorageDeps {
  readonly config: AppConfig;
  /** S3 clients kept for reuse, one per set of credentials. @default 50 */
  readonly maxClients?: number;
  /**
   * Certificate authority (PEM) to trust for the S3 endpoint, for tests against the
   * sandbox's local CA in-process. @default - the system's trust store
   */
  readonly ca?: string;
}

export function createUserStorage(deps: UserStorageDeps): UserStorage {
  const { config } = deps;
  const clients = new S3ClientCache(config, Math.max(1, deps.maxClients ?? 50), deps.ca);
  const Bucket = config.bucket;

  return {
    async list(credentials: TemporaryCredentials, request: ListRequest): Promise<FileListing> {
      const { prefix, folder, maxKeys, continuationToken } = request;
      const Prefix = prefix + folder;
      let out;
      try {
        out = await clients.get(credentials).send(
          new ListObjectsV2Command({
            Bucket,
            Prefix,
            Delimiter: '/',
            MaxKeys: maxKeys,
            ContinuationToken: continuationToken,
            // XML 1.0 cannot carry control characters: keys come percent-encoded, and are
            // decoded below, so a key with one lists like any other (listed-names-round-trip).
            EncodingType: 'url',
          }),
        );
      } catch (err) {
        // S3's answer to a token it did not issue for this listing; the page says so (400).
        if (continuationToken !== undefined && isInvalidArgument(err))
          throw new BadListTokenError();
        throw mapError(err);
      }
      // Only entries strictly below the folder; the folder's own marker object is no file.
      const below = (key: string | undefined): key is string =>
        key !== undefined && key.startsWith(Prefix) && key.length > Prefix.length;
      // Decoded only when S3 says it encoded them (a store may ignore the request).
      const keyOf = (raw: string | undefined) =>
        raw !== undefined && out.EncodingType === 'url' ? urlDecoded(raw) : raw;
      const files: StoredObject[] = [];
      for (const o of out.Contents ?? []) {
        const key = keyOf(o.Key);
        if (!below(key)) continue;
        files.push({
          name: key.slice(prefix.length),
          size: o.Size ?? 0,
          lastModified: o.LastModified ?? new Date(0),
        });
      }
      const folders = (out.CommonPrefixes ?? [])
        .map((p) => keyOf(p.Prefix))
        .filter(below)
        .map((p) => p.slice(prefix.length));
      // Never a silently shortened list: a truncated page must say where the rest is.
      if (out.IsTruncated && !out.NextContinuationToken)
        throw new Error('ListObjectsV2 was truncated but returned no continuation token');
      return {
        files,
        folders,
        ...(out.IsTruncated ? { nextToken: out.NextContinuationToken } : {}),
      };
    },

    async exists(credentials: TemporaryCredentials, key: string): Promise<boolean> {
      try {
        await clients.get(credentials).send(new HeadObjectCommand({ Bucket, Key: key }));
        return true;
      } catch (err) {
        // Denied and missing look the same to the user (other-users-object-404): S3 answers 403 for a
        // missing key too when the caller may not list, so the two cannot be told apart anyway.
        const status = httpStatus(err);
        if (status === 403 || status === 404) return false;
        throw mapError(err);
      }
    },

    async presignGet(
      credentials: TemporaryCredentials,
      key: string,
      downloadName: string,
      expiresInSeconds: number,
    ): Promise<string> {
      const command = new GetObjectCommand({
        Bucket,
        Key: key,
        // Always a download, never rendered inline from the bucket's origin.
        ResponseContentDisposition: attachmentDisposition(downloadName),
      });
      return getSignedUrl(clients.get(credentials), command, { expiresIn: expiresInSeconds });
    },

    async presignPut(
      credentials: TemporaryCredentials,
      key: string,
      contentType: string,
      expiresInSeconds: number,
    ): Promise<{ url: string; headers: Record<string, string> }> {
      const command = new PutObjectCommand({
        Bucket,
        Key: key,
        ContentType: contentType,
        // no-silent-overwrite: a second upload to the same key gets 412, never a silent overwrite.
        // `If-None-Match` stays a signed header, so the browser cannot drop it.
        IfNoneMatch: '*',
      });
      const url = await getSignedUrl(clients.get(credentials), command, {
        expiresIn: expiresInSeconds,
        // Binds the content type too: the upload cannot change what the object claims to be.
        signableHeaders: new Set(['content-type']),
      });
      return { url, headers: { 'content-type': contentType, 'if-none-match': '*' } };
    },

    async createMultipart(
      credentials: TemporaryCredentials,
      key: string,
      contentType: string,
    ): Promise<string> {
      const out = await call(() =>
        clients
          .get(credentials)
          .send(new CreateMultipartUploadCommand({ Bucket, Key: key, ContentType: contentType })),
      );
      if (!out.UploadId) throw new Error('CreateMultipartUpload returned no UploadId');
      return out.UploadId;
    },

    async presignUploadPart(
      credentials: TemporaryCredentials,
      key: string,
      uploadId: string,
      partNumber: number,
      expiresInSeconds: number,
    ): Promise<string> {
      const command = new UploadPartCommand({
        Bucket,
        Key: key,
        UploadId: uploadId,
        PartNumber: partNumber,
      });
      // Only `host` is signed: the browser sends the part with no extra headers. Checksums
      // stay off (client config), or the URL would carry the checksum of an empty body.
      return getSignedUrl(clients.get(credentials), command, { expiresIn: expiresInSeconds });
    },

    async completeMultipart(
      credentials: TemporaryCredentials,
      key: string,
      uploadId: string,
      parts: readonly { readonly partNumber: number; readonly etag: string }[],
    ): Promise<void> {
      try {
        await clients.get(credentials).send(
          new CompleteMultipartUploadCommand({
            Bucket,
            Key: key,
            UploadId: uploadId,
            MultipartUpload: {
              Parts: parts.map((p) => ({ PartNumber: p.partNumber, ETag: p.etag })),
            },
            // no-silent-overwrite: completing never silently replaces an existing object.
            IfNoneMatch: '*',
          }),
        );
      } catch (err) {
        throw mapUploadError(err);
      }
    },

    async abortMultipart(
      credentials: TemporaryCredentials,
      key: string,
      uploadId: string,
    ): Promise<void> {
      try {
        await clients
          .get(credentials)
          .send(new AbortMultipartUploadCommand({ Bucket, Key: key, UploadId: uploadId }));
      } catch (err) {
        throw mapUploadError(err);
      }
    },

    async delete(credentials: TemporaryCredentials, key: string): Promise<void> {
      await call(() =>
        clients.get(credentials).send(new DeleteObjectCommand({ Bucket, Key: key })),
      );
    },
  };
}

/** A value of a listing with `EncodingType: url`: percent-escapes, and `+` for a space. */
export function urlDecoded(value: string): string {
  return decodeURIComponent(value.replace(/\+/g, '%20'));
}

/**
 * `Content-Disposition: attachment` with the name in both forms of RFC 6266: a plain
 * ASCII `filename` for old clients and the exact UTF-8 name as RFC 5987 `filename*`.
 */
export function attachmentDisposition(name: string): string {
  // encodeURIComponent throws on lone surrogates; they become U+FFFD first.
  const wellFormed = (name || 'download').replace(
    /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g,
    '\ufffd',
  );
  const fallback = wellFormed.replace(/[^\x20-\x7e]|["\\%/]/g, '_');
  // RFC 5987 attr-char excludes ' ( ) * which encodeURIComponent leaves as they are.
  const encoded = encodeURIComponent(wellFormed).replace(
    /['()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return `attachment; filename="${fallback}"; filename*=UTF-8''${encoded}`;
}

/**
 * One S3 client per set of user credentials, least recently used first out. The clients
 * share one pair of keep-alive agents, so evicting a client leaves no sockets behind and
 * users reuse warm TLS connections to S3.
 */
class S3ClientCache {
  private readonly entries = new Map<
    string,
    { client: S3Client; credentials: TemporaryCredentials }
  >();
  private readonly requestHandler;

  constructor(
    private readonly config: AppConfig,
    private readonly max: number,
    ca?: string,
  ) {
    this.requestHandler = {
      httpAgent: new HttpAgent({ keepAlive: true, maxSockets: 50 }),
      httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets: 50, ...(ca ? { ca } : {}) }),
      connectionTimeout: 3_000,
    };
  }

  get(credentials: TemporaryCredentials): S3Client {
    const id = credentials.accessKeyId;
    const hit = this.entries.get(id);
    this.entries.delete(id);
    // STS never reuses an access key id, but a client is only reused for the very same
    // secret and token: a client never signs with anyone else's credentials.
    if (
      hit &&
      hit.credentials.secretAccessKey === credentials.secretAccessKey &&
      hit.credentials.sessionToken === credentials.sessionToken
    ) {
      this.entries.set(id, hit);
      return hit.client;
    }
    const client = this.create(credentials);
    this.entries.set(id, { client, credentials });
    while (this.entries.size > this.max) {
      // Not destroy(): that would close the shared agents.
      this.entries.delete(this.entries.keys().next().value as string);
    }
    return client;
  }

  private create(credentials: TemporaryCredentials): S3Client {
    const endpoint = this.config.endpoints?.s3;
    return new S3Client({
      region: this.config.region,
      credentials: {
        accessKeyId: credentials.accessKeyId,
        secretAccessKey: credentials.secretAccessKey,
        sessionToken: credentials.sessionToken,
      },
      // The sandbox's S3 serves buckets by path on one host.
      ...(endpoint ? { endpoint, forcePathStyle: true } : {}),
      // With the defaults, presigned PUT URLs carry x-amz-checksum-crc32 of an EMPTY body
      // (so every real upload fails) and GET URLs carry x-amz-checksum-mode (docs/architecture.md, wire facts).
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: this.requestHandler,
    });
  }
}

function httpStatus(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
}

function isInvalidArgument(err: unknown): boolean {
  return (err as { name?: unknown } | null)?.name === 'InvalidArgument' && httpStatus(err) === 400;
}

/** Expired user credentials mean "sign in again" (expired-session-signs-in-again), never a 500. */
function mapError(err: unknown): unknown {
  const name = (err as { name?: unknown } | null)?.name;
  if (name === 'ExpiredToken' || name === 'TokenRefreshRequired') {
    return new SignInError(
      'restart',
      'Your session has expired. Please sign in again.',
      `S3 refused the session credentials: ${name}`,
    );
  }
  return err;
}

/** S3's refusals of a multipart step that the user can act on; everything else as `mapError`. */
function mapUploadError(err: unknown): unknown {
  const name = (err as { name?: unknown } | null)?.name;
  switch (name) {
    case 'PreconditionFailed':
      return new UploadRefusedError(
        412,
        'A file with this name already exists. Delete it first or rename yours.',
      );
    case 'ConditionalRequestConflict':
      return new UploadRefusedError(
        409,
        'Another upload to this name is in progress or just finished. Try again.',
      );
    case 'NoSuchUpload':
      return new UploadRefusedError(
        404,
        'This upload is no longer in progress (finished, cancelled or expired). Start again.',
      );
    case 'InvalidPart':
    case 'InvalidPartOrder':
    case 'EntityTooSmall':
      return new UploadRefusedError(
        400,
        'The uploaded parts did not match what S3 received. Start the upload again.',
      );
  }
  return mapError(err);
}

async function call<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw mapError(err);
  }
}
