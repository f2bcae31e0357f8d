import type { Backend } from './s3-backend';
import { S3Error } from './s3-errors';
import type { S3Operation } from './s3-operations';
import type { HeaderReader } from './s3-request';
import { parseCompleteRequest } from './s3-xml';

/**
 * What S3 checks before a multipart step or a write and s3rver does not: that the upload
 * belongs to the request's key, conditional writes (`If-None-Match: *`, `If-Match`), and the
 * part list of CompleteMultipartUpload. Each refusal is S3's error for it.
 */

const MIN_PART_SIZE = 5 * 1024 * 1024;

const preconditionFailed = (condition: string) =>
  new S3Error(
    'PreconditionFailed',
    'At least one of the pre-conditions you specified did not hold',
    { Condition: condition },
  );

/** The upload id of a multipart request, after checking it belongs to the request's key. */
export async function checkUpload(
  backend: Backend,
  op: S3Operation,
  query: ReadonlyMap<string, string>,
): Promise<string> {
  const uploadId = query.get('uploadId') ?? '';
  const uploadKey = await backend.uploadKey(op.bucket, uploadId);
  if (uploadKey === undefined || uploadKey !== op.key) {
    throw new S3Error(
      'NoSuchUpload',
      'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.',
      { UploadId: uploadId },
    );
  }
  return uploadId;
}

/** `If-None-Match: *` and `If-Match` on writes, which s3rver ignores. */
export async function checkConditions(
  backend: Backend,
  op: S3Operation,
  headerOf: HeaderReader,
): Promise<void> {
  if (op.name !== 'PutObject' && op.name !== 'CompleteMultipartUpload') return;
  const noneMatch = headerOf('if-none-match');
  const match = headerOf('if-match');
  if (noneMatch !== undefined) {
    if (noneMatch.trim() !== '*') {
      throw new S3Error(
        'NotImplemented',
        'A header you provided implies functionality that is not implemented',
        { Header: 'If-None-Match' },
      );
    }
    if (await backend.exists(op.bucket, op.key!)) throw preconditionFailed('If-None-Match');
  }
  if (match !== undefined) {
    const etag = await backend.etag(op.bucket, op.key!);
    if (etag === undefined)
      throw new S3Error('NoSuchKey', 'The specified key does not exist.', { Key: op.key! });
    if (match.trim().replace(/"/g, '') !== etag.replace(/"/g, ''))
      throw preconditionFailed('If-Match');
  }
}

/** What S3 checks on CompleteMultipartUpload and s3rver does not. */
export async function checkParts(
  backend: Backend,
  op: S3Operation,
  query: ReadonlyMap<string, string>,
  body: Buffer,
): Promise<void> {
  const uploadId = query.get('uploadId')!;
  const requested = parseCompleteRequest(body.toString('utf8'));
  const stored = new Map((await backend.parts(op.bucket, uploadId)).map((p) => [p.partNumber, p]));
  let previous = 0;
  requested.forEach((part, i) => {
    if (part.partNumber <= previous) {
      throw new S3Error(
        'InvalidPartOrder',
        'The list of parts was not in ascending order. The parts list must be specified in order by part number.',
      );
    }
    previous = part.partNumber;
    const found = stored.get(part.partNumber);
    if (!found || found.etag !== part.etag) {
      throw new S3Error(
        'InvalidPart',
        "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.",
        { UploadId: uploadId, PartNumber: String(part.partNumber), ETag: part.etag },
      );
    }
    if (i < requested.length - 1 && found.size < MIN_PART_SIZE) {
      throw new S3Error(
        'EntityTooSmall',
        'Your proposed upload is smaller than the minimum allowed object size.',
        {
          ProposedSize: String(found.size),
          MinSizeAllowed: String(MIN_PART_SIZE),
          PartNumber: String(part.partNumber),
        },
      );
    }
  });
}
