/**
 * Upload planning: which uploads go in one presigned PUT and which in parts, how big the
 * parts are, and the checks on what the upload script sends back. Pure; S3's limits here.
 */

const MiB = 1024 * 1024;
/** Lifetime of a presigned URL for one whole object (a download, or an upload in one PUT). */
export const PRESIGN_SECONDS = 300;
/** Above this size the browser uploads in parts (one PUT is capped at 5 GB by S3). */
export const MULTIPART_THRESHOLD_BYTES = 64 * MiB;
/** Smallest part the app plans; S3 allows 5 MiB, larger parts mean fewer requests. */
export const MIN_PART_BYTES = 64 * MiB;
/**
 * Most parts the app plans for one upload (S3 allows 10,000). Every part gets a presigned URL
 * of about 1.5 KB in the /upload-url answer; 2,000 of them stay well inside Lambda's 6 MB
 * response limit. 5 TiB / 2,000 is 2.5 GiB a part, inside S3's 5 GiB.
 */
export const MAX_PLANNED_PARTS = 2_000;
/** S3's limits: object size, part count, part size (the last part may be smaller). */
export const MAX_OBJECT_BYTES = 5 * 1024 * 1024 * MiB;
const MAX_PARTS = 10_000;
const S3_MIN_PART_BYTES = 5 * MiB;
const S3_MAX_PART_BYTES = 5 * 1024 * MiB;
/** SigV4 presigned URLs live at most 7 days. */
const MAX_PRESIGN_SECONDS = 7 * 24 * 3600;
/** S3 upload ids are opaque; printable ASCII without spaces, bounded. */
const UPLOAD_ID = /^[\x21-\x7e]{1,1024}$/;
/** A part's ETag as S3 returns it to the browser: a quoted MD5-sized hex string. */
const PART_ETAG = /^"[0-9a-fA-F]{32}"$/;

/** One uploaded part, as CompleteMultipartUpload wants it. */
export interface UploadedPart {
  readonly partNumber: number;
  readonly etag: string;
}

/** The announced file size: absent, or whole bytes within S3's 5 TiB object limit. */
export function parseSize(raw: string | null): number | undefined | 'invalid' {
  if (raw === null) return undefined;
  if (!/^\d{1,16}$/.test(raw)) return 'invalid';
  const size = Number(raw);
  return size <= MAX_OBJECT_BYTES ? size : 'invalid';
}

/** The announced MIME type when it looks like one; anything else is stored as bytes. */
export function contentTypeOf(raw: string | null): string {
  const type = raw ?? 'application/octet-stream';
  return /^[\w.+-]+\/[\w.+-]+$/.test(type) ? type : 'application/octet-stream';
}

/**
 * Part size and count for a multipart upload: parts of at least MIN_PART_BYTES, whole MiB,
 * and no more than MAX_PLANNED_PARTS of them. Undefined when S3 could not take it.
 */
export function planParts(size: number): { partSize: number; count: number } | undefined {
  const partSize = Math.max(MIN_PART_BYTES, Math.ceil(size / MAX_PLANNED_PARTS / MiB) * MiB);
  const count = Math.max(1, Math.ceil(size / partSize));
  if (partSize < S3_MIN_PART_BYTES || partSize > S3_MAX_PART_BYTES || count > MAX_PARTS)
    return undefined;
  return { partSize, count };
}

/**
 * Part URLs live as long as the credentials that sign them (S3 refuses them afterwards
 * anyway): a large upload takes longer than the few minutes a single PUT URL gets.
 * At least one second, at most SigV4's 7 days.
 */
export function partUrlSeconds(credentialsExpireAt: number, now: number): number {
  return Math.min(MAX_PRESIGN_SECONDS, Math.max(1, Math.floor((credentialsExpireAt - now) / 1000)));
}

/** The completion list: 1..10,000 parts in ascending order, each with a part ETag. */
export function parseParts(raw: string | null): UploadedPart[] | string {
  const bad = 'The list of uploaded parts is missing or malformed.';
  if (raw === null) return bad;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return bad;
  }
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_PARTS) return bad;
  const parts: UploadedPart[] = [];
  let previous = 0;
  for (const item of value as unknown[]) {
    const { partNumber, etag } = (item ?? {}) as { partNumber?: unknown; etag?: unknown };
    if (
      typeof partNumber !== 'number' ||
      !Number.isInteger(partNumber) ||
      partNumber <= previous ||
      partNumber > MAX_PARTS ||
      typeof etag !== 'string' ||
      !PART_ETAG.test(etag)
    )
      return bad;
    previous = partNumber;
    parts.push({ partNumber, etag });
  }
  return parts;
}

/** The form's `uploadId` when well formed (printable, no whitespace, bounded). */
export function uploadIdOf(form: URLSearchParams): string | undefined {
  const uploadId = form.get('uploadId');
  return uploadId !== null && UPLOAD_ID.test(uploadId) ? uploadId : undefined;
}
