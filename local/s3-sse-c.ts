import { createHash } from 'node:crypto';
import { accessDenied, S3Error } from './s3-errors';
import { amzValue, type S3Operation } from './s3-operations';
import type { HeaderReader } from './s3-request';

/**
 * Server-side encryption with customer-provided keys (SSE-C), as S3 checks it. s3rver knows
 * nothing of it, so the proxy validates the key of a write, keeps only the key's MD5 with
 * the object (never the key), and refuses a read that does not bring the same key: 400
 * InvalidRequest without one, 403 AccessDenied with another. Objects are not actually
 * encrypted on disk; the sandbox reproduces what clients see.
 */

const PREFIX = 'x-amz-server-side-encryption-customer-';
const COPY_PREFIX = 'x-amz-copy-source-server-side-encryption-customer-';

/**
 * Where the key's MD5 is kept: s3rver stores `x-amz-meta-*` with the object, copies it
 * with the object's metadata and hands it back on every read. Never shown to clients.
 */
export const STORED_KEY_MD5 = 'x-amz-meta-sandbox-sse-c-key-md5';

/** Whether a request or response header belongs to SSE-C or to the stored MD5. */
export const isSseCHeader = (name: string): boolean =>
  name.startsWith(PREFIX) || name.startsWith(COPY_PREFIX) || name === STORED_KEY_MD5;

const ALGORITHM = 'AES256';

/**
 * The customer key a request gives (as its base64 MD5), undefined when it gives none;
 * S3's errors for an incomplete or inconsistent one.
 */
export function customerKeyMd5(
  header: HeaderReader,
  query: ReadonlyMap<string, string>,
  prefix = PREFIX,
): string | undefined {
  const algorithm = amzValue(`${prefix}algorithm`, header, query);
  const key = amzValue(`${prefix}key`, header, query);
  const md5 = amzValue(`${prefix}key-md5`, header, query);
  if (algorithm === undefined && key === undefined && md5 === undefined) return undefined;
  if (algorithm === undefined) {
    throw new S3Error(
      'InvalidArgument',
      'Requests specifying Server Side Encryption with Customer provided keys must provide a valid encryption algorithm.',
      { ArgumentName: `${prefix}algorithm` },
    );
  }
  if (algorithm !== ALGORITHM) {
    throw new S3Error(
      'InvalidEncryptionAlgorithmError',
      'The encryption request you specified is not valid. Supported value: AES256.',
      { ArgumentName: `${prefix}algorithm`, ArgumentValue: algorithm },
    );
  }
  const bytes = key === undefined ? undefined : Buffer.from(key, 'base64');
  if (bytes === undefined || bytes.length !== 32 || bytes.toString('base64') !== key) {
    throw new S3Error(
      'InvalidArgument',
      'The secret key was invalid for the specified algorithm.',
      { ArgumentName: `${prefix}key` },
    );
  }
  const actual = createHash('md5').update(bytes).digest('base64');
  if (md5 === undefined) {
    throw new S3Error(
      'InvalidArgument',
      'Requests specifying Server Side Encryption with Customer provided keys must provide the client calculated MD5 of the secret key.',
      { ArgumentName: `${prefix}key-MD5` },
    );
  }
  if (md5 !== actual) {
    throw new S3Error(
      'InvalidArgument',
      'The calculated MD5 hash of the key did not match the hash that was provided.',
      { ArgumentName: `${prefix}key-MD5` },
    );
  }
  return actual;
}

/** What a read must bring, given the stored MD5 (undefined: not an SSE-C object). */
export function checkReadKey(stored: string | undefined, given: string | undefined): void {
  if (stored === undefined && given !== undefined) {
    throw new S3Error(
      'InvalidRequest',
      'The encryption parameters are not applicable to this object.',
    );
  }
  if (stored !== undefined && given === undefined) {
    throw new S3Error(
      'InvalidRequest',
      'The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object.',
    );
  }
  if (stored !== given) throw accessDenied();
}

/** The headers S3 answers about an SSE-C object. */
export const sseCResponseHeaders = (md5: string): Record<string, string> => ({
  [`${PREFIX}algorithm`]: ALGORITHM,
  [`${PREFIX}key-MD5`]: md5,
});

/** What the proxy does with a request's SSE-C parameters before forwarding it. */
export interface SseCPlan {
  /** The MD5 of the key the request gives, if any. */
  readonly given?: string;
  /** Headers for s3rver (the MD5 to store with a new object). */
  readonly upstream: Readonly<Record<string, string>>;
}

/**
 * Where the stored key MD5s are read back (`STORED_KEY_MD5`): the local S3's `Backend`. Only
 * what SSE-C needs, so this module does not depend on the store.
 */
export interface StoredKeyMd5s {
  /** The MD5 of the SSE-C key the object was stored with; undefined for none (or no object). */
  customerKeyMd5(bucket: string, key: string): Promise<string | undefined>;
  /** The MD5 of the SSE-C key a multipart upload was created with; undefined for none. */
  uploadCustomerKeyMd5(bucket: string, uploadId: string): Promise<string | undefined>;
}

/**
 * Checks a request's SSE-C parameters against what it touches (an upload's key, a copy
 * source) and says what to store. Reads are checked on s3rver's answer (`checkReadKey`),
 * which names the MD5 of exactly the object it serves.
 */
export async function planSseC(
  backend: StoredKeyMd5s,
  op: S3Operation,
  header: HeaderReader,
  query: ReadonlyMap<string, string>,
): Promise<SseCPlan> {
  const given = customerKeyMd5(header, query);
  if (op.name === 'CopyObject') {
    const source = op.copySource!;
    const sourceGiven = customerKeyMd5(header, query, COPY_PREFIX);
    const sourceMd5 = await backend.customerKeyMd5(source.bucket, source.key);
    if (given !== undefined || sourceGiven !== undefined || sourceMd5 !== undefined) {
      throw new S3Error(
        'NotImplemented',
        'The sandbox does not copy objects encrypted with customer-provided keys (SSE-C).',
      );
    }
    return { upstream: {} };
  }
  if (given !== undefined && amzValue('x-amz-server-side-encryption', header, query)) {
    throw new S3Error(
      'InvalidArgument',
      'Server Side Encryption with Customer provided key is incompatible with the encryption method specified',
      { ArgumentName: 'x-amz-server-side-encryption' },
    );
  }
  if (op.name === 'UploadPart') {
    const stored = await backend.uploadCustomerKeyMd5(op.bucket, query.get('uploadId') ?? '');
    if (stored !== given) {
      throw new S3Error(
        'InvalidRequest',
        stored === undefined
          ? 'The multipart upload initiate did not request encryption; its parts must not carry encryption parameters.'
          : 'The multipart upload initiate requested encryption. Subsequent part requests must include the appropriate encryption parameters.',
      );
    }
  }
  const stores = op.name === 'PutObject' || op.name === 'CreateMultipartUpload';
  return {
    given,
    upstream: stores && given !== undefined ? { [STORED_KEY_MD5]: given } : {},
  };
}
