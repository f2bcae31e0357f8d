import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ListedObject } from './s3-listing';
import { STORED_KEY_MD5 } from './s3-sse-c';
import { SegmentStore, storageKey, storagePrefix } from './s3-storage-keys';
import type { StoredPart } from './s3-xml';

/**
 * s3rver behind the proxy: started on a random 127.0.0.1 port over plain HTTP, storing in
 * `dataDir` (so data survives a restart), with the template's buckets created up front. The
 * proxy forwards only authorized, verified requests to it, and reads its file store directly
 * for what s3rver lacks or gets wrong (listing, ListParts, AbortMultipartUpload, the
 * existence checks of conditional writes).
 *
 * Keys reach s3rver as storage keys (`s3-storage-keys.ts`), so every key S3 accepts fits its
 * file tree; the methods here take and return keys, never storage keys.
 */

/** The parts of s3rver's FilesystemStore the proxy uses (s3rver ships no types). */
interface S3rverStore {
  getResourcePath(bucket: string, key: string | undefined, resource: string): string;
  existsObject(bucket: string, key: string): Promise<boolean>;
  getMetadata(bucket: string, key: string): Promise<Record<string, string | number>>;
  listObjects(
    bucket: string,
    options: { prefix?: string; maxKeys?: number },
  ): Promise<{
    objects: {
      key: string;
      size: number;
      lastModifiedDate: Date;
      metadata: Record<string, string>;
    }[];
  }>;
  deleteObject(bucket: string, key: string): Promise<void>;
  putMetadata(
    bucket: string,
    key: string,
    metadata: Record<string, string>,
    md5?: string,
  ): Promise<void>;
  putObject(object: S3rverObject): Promise<{ size: number; md5: string }>;
  putPart(
    bucket: string,
    uploadId: string,
    partNumber: number | string,
    content: Readable,
  ): Promise<{ size: number; md5: string }>;
}

/** The object s3rver's controllers hand its store. */
interface S3rverObject {
  readonly bucket: string;
  readonly key: string;
  readonly content: Buffer | Readable;
  readonly metadata: Record<string, string>;
}

interface S3rverInstance {
  readonly store: S3rverStore;
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}

type S3rverConstructor = new (options: {
  address: string;
  port: number;
  silent: boolean;
  directory: string;
  vhostBuckets: boolean;
  resetOnClose: boolean;
  configureBuckets: { name: string }[];
}) => S3rverInstance;

// eslint-disable-next-line @typescript-eslint/no-require-imports
const S3rver = require('s3rver') as S3rverConstructor;

/** s3rver's upload ids: 16 random bytes, hex. Anything else could walk its file tree. */
const UPLOAD_ID = /^[0-9a-f]{32}$/;

export class Backend {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  private readonly locks = new Map<string, Promise<void>>();

  private constructor(
    private readonly s3rver: S3rverInstance,
    public readonly port: number,
    private readonly segments: SegmentStore,
  ) {}

  static async start(dataDir: string, bucketNames: readonly string[]): Promise<Backend> {
    const directory = path.resolve(dataDir);
    fs.mkdirSync(directory, { recursive: true });
    // A name no bucket can have (bucket names never start with a dot).
    const segments = new SegmentStore(path.join(directory, '.key-segments'));
    const s3rver = new S3rver({
      address: '127.0.0.1',
      port: 0,
      silent: true,
      directory,
      vhostBuckets: false,
      resetOnClose: false,
      configureBuckets: bucketNames.map((name) => ({ name })),
    });
    guardWrites(s3rver.store);
    const address = await s3rver.run();
    return new Backend(s3rver, address.port, segments);
  }

  /** The key s3rver stores `key` under (the proxy sends it in paths and copy sources). */
  storageKey(key: string): string {
    return storageKey(key);
  }

  /** Makes `key` listable again from its storage key; call before writing it. */
  recordKey(key: string): Promise<void> {
    return this.segments.record(key);
  }

  async close(): Promise<void> {
    this.agent.destroy();
    await this.s3rver.close();
  }

  /** Sends a request to s3rver; the caller relays the response. */
  request(options: {
    method: string;
    path: string;
    headers: http.OutgoingHttpHeaders;
    body?: Buffer | Readable;
  }): Promise<http.IncomingMessage> {
    return new Promise((resolve, reject) => {
      const upstream = http.request(
        {
          host: '127.0.0.1',
          port: this.port,
          method: options.method,
          path: options.path,
          headers: { ...options.headers, host: `127.0.0.1:${this.port}` },
          agent: this.agent,
        },
        resolve,
      );
      upstream.on('error', reject);
      if (options.body === undefined) upstream.end();
      else if (Buffer.isBuffer(options.body)) upstream.end(options.body);
      else {
        options.body.on('error', (e) => upstream.destroy(e));
        options.body.pipe(upstream);
      }
    });
  }

  /**
   * Runs `work` while holding the key's lock, so a conditional write's existence check and
   * the write itself are not interleaved with another write of the same key.
   */
  async withKeyLock<T>(bucket: string, key: string, work: () => Promise<T>): Promise<T> {
    const id = `${bucket}/${key}`;
    const previous = this.locks.get(id) ?? Promise.resolve();
    let release!: () => void;
    const current = new Promise<void>((r) => (release = r));
    const chained = previous.then(() => current);
    this.locks.set(id, chained);
    await previous;
    try {
      return await work();
    } finally {
      release();
      if (this.locks.get(id) === chained) this.locks.delete(id);
    }
  }

  exists(bucket: string, key: string): Promise<boolean> {
    return this.s3rver.store.existsObject(bucket, storageKey(key));
  }

  /** The object's quoted ETag, or undefined when it does not exist. */
  async etag(bucket: string, key: string): Promise<string | undefined> {
    try {
      return String((await this.s3rver.store.getMetadata(bucket, storageKey(key))).etag);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  /** The MD5 of the SSE-C key the object was stored with; undefined for none (or no object). */
  async customerKeyMd5(bucket: string, key: string): Promise<string | undefined> {
    try {
      const metadata = await this.s3rver.store.getMetadata(bucket, storageKey(key));
      const md5 = metadata[STORED_KEY_MD5];
      return md5 === undefined ? undefined : String(md5);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  async deleteObject(bucket: string, key: string): Promise<void> {
    const stored = storageKey(key);
    if (await this.s3rver.store.existsObject(bucket, stored)) {
      await this.s3rver.store.deleteObject(bucket, stored);
    }
  }

  /** Every object under `prefix` (unsorted; the listing sorts). */
  async objects(bucket: string, prefix: string): Promise<ListedObject[]> {
    const { objects } = await this.s3rver.store.listObjects(bucket, {
      prefix: storagePrefix(prefix),
      maxKeys: Infinity,
    });
    const listed: ListedObject[] = [];
    for (const o of objects) {
      // Unknown segments (a damaged record) leave the object out rather than misnamed.
      const key = await this.segments.keyOf(o.key);
      if (key === undefined || !key.startsWith(prefix)) continue;
      listed.push({
        key,
        etag: String(o.metadata.etag),
        size: o.size,
        lastModified: o.lastModifiedDate,
      });
    }
    return listed;
  }

  private uploadDir(bucket: string, uploadId: string): string | undefined {
    if (!UPLOAD_ID.test(uploadId)) return undefined;
    return path.join(this.s3rver.store.getResourcePath(bucket, undefined, 'uploads'), uploadId);
  }

  /**
   * The key a multipart upload was created for, or undefined when there is no such upload.
   * s3rver completes an upload into the key it was created with, whatever key the Complete
   * request names: the proxy checks they agree, or a request authorized for one key could
   * write another.
   */
  async uploadKey(bucket: string, uploadId: string): Promise<string | undefined> {
    const dir = this.uploadDir(bucket, uploadId);
    if (!dir) return undefined;
    try {
      return await this.segments.keyOf(await fs.promises.readFile(path.join(dir, 'key'), 'utf8'));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  /** The MD5 of the SSE-C key a multipart upload was created with; undefined for none. */
  async uploadCustomerKeyMd5(bucket: string, uploadId: string): Promise<string | undefined> {
    const dir = this.uploadDir(bucket, uploadId);
    if (!dir) return undefined;
    try {
      // s3rver keeps the headers of CreateMultipartUpload there, as JSON.
      const headers = JSON.parse(
        await fs.promises.readFile(path.join(dir, 'metadata'), 'utf8'),
      ) as Record<string, unknown>;
      const md5 = headers[STORED_KEY_MD5];
      return typeof md5 === 'string' ? md5 : undefined;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  async parts(bucket: string, uploadId: string): Promise<StoredPart[]> {
    const dir = this.uploadDir(bucket, uploadId);
    if (!dir) return [];
    const names = (await fs.promises.readdir(dir)).filter((n) => /^\d+$/.test(n));
    return Promise.all(
      names.map(async (n) => {
        const [stat, md5] = await Promise.all([
          fs.promises.stat(path.join(dir, n)),
          fs.promises.readFile(path.join(dir, `${n}.md5`), 'utf8').catch(() => ''),
        ]);
        return {
          partNumber: Number(n),
          etag: md5.trim(),
          size: stat.size,
          lastModified: stat.mtime,
        };
      }),
    );
  }

  async abortUpload(bucket: string, uploadId: string): Promise<void> {
    const dir = this.uploadDir(bucket, uploadId);
    if (dir) await fs.promises.rm(dir, { recursive: true, force: true });
  }
}

/**
 * Replaces s3rver's two file writers, which leave the write stream's errors unhandled: one
 * failed write (a name the file system refuses, a full disk, a directory in the way) would
 * be an uncaught exception that ends the whole sandbox. Here every stream of the write is
 * watched, and a failure rejects, so s3rver answers that one request with a 500.
 */
function guardWrites(store: S3rverStore): void {
  store.putObject = async (object) => {
    const file = store.getResourcePath(object.bucket, object.key, 'object');
    const { size, md5 } = await writeFile(file, object.content);
    await store.putMetadata(object.bucket, object.key, object.metadata, md5);
    return { size, md5 };
  };
  store.putPart = async (bucket, uploadId, partNumber, content) => {
    const file = path.join(
      store.getResourcePath(bucket, undefined, 'uploads'),
      uploadId,
      String(partNumber),
    );
    const written = await writeFile(file, content);
    await fs.promises.writeFile(`${file}.md5`, written.md5);
    return written;
  };
}

/** Writes `content` to `file` (creating its directory); its size and MD5 (hex). */
async function writeFile(
  file: string,
  content: Buffer | Readable,
): Promise<{ size: number; md5: string }> {
  await fs.promises.mkdir(path.dirname(file), { recursive: true });
  const md5 = createHash('md5');
  if (Buffer.isBuffer(content)) {
    await fs.promises.writeFile(file, content);
    return { size: content.length, md5: md5.update(content).digest('hex') };
  }
  let size = 0;
  await pipeline(
    content,
    new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        md5.update(chunk);
        size += chunk.length;
        callback(null, chunk);
      },
    }),
    fs.createWriteStream(file),
  );
  return { size, md5: md5.digest('hex') };
}
