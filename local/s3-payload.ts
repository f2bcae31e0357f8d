import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import * as zlib from 'node:zlib';
import { S3Error } from './s3-errors';
import {
  chunkStringToSign,
  sha256Hex,
  signaturesEqual,
  signHex,
  trailerStringToSign,
  type CredentialScope,
  type QueryParam,
} from './sigv4';

/**
 * Request bodies as S3 checks them before storing anything: the declared SHA-256
 * (`x-amz-content-sha256`), `aws-chunked` framing (which s3rver would store raw) with its
 * chained chunk signatures and trailing checksum, `Content-MD5` and `x-amz-checksum-*`.
 * A body that needs any check is read whole first, so a bad one never reaches the store.
 */

/** How the client declared its payload in `x-amz-content-sha256`. */
export type PayloadMode =
  | { readonly kind: 'hash'; readonly sha256: string }
  | { readonly kind: 'unsigned' }
  | { readonly kind: 'streaming'; readonly signedChunks: boolean; readonly trailer: boolean };

/** Parses an `x-amz-content-sha256` value; undefined when S3 would refuse it. */
export function payloadMode(value: string): PayloadMode | undefined {
  if (/^[0-9a-fA-F]{64}$/.test(value)) return { kind: 'hash', sha256: value.toLowerCase() };
  switch (value) {
    case 'UNSIGNED-PAYLOAD':
      return { kind: 'unsigned' };
    case 'STREAMING-UNSIGNED-PAYLOAD-TRAILER':
      return { kind: 'streaming', signedChunks: false, trailer: true };
    case 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD':
      return { kind: 'streaming', signedChunks: true, trailer: false };
    case 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER':
      return { kind: 'streaming', signedChunks: true, trailer: true };
    default:
      return undefined;
  }
}

/**
 * The largest body the proxy holds in memory to verify it (hashes and chunk signatures
 * must be checked before s3rver writes anything). `UNSIGNED-PAYLOAD` bodies without
 * checksums stream through with no limit.
 */
export const MAX_VERIFIED_BODY_BYTES = 256 * 1024 * 1024;

/** Reads a request body whole, refusing more than `limit` bytes. */
export async function readBody(req: Readable, limit = MAX_VERIFIED_BODY_BYTES): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      req.resume();
      throw new S3Error(
        'EntityTooLarge',
        `Your proposed upload exceeds the maximum the sandbox verifies in memory (${limit} bytes); send it as a multipart upload.`,
        { MaxSizeAllowed: String(limit) },
      );
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** What verifies the chunk signatures of `STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]`. */
export interface ChunkSigning {
  readonly key: Buffer;
  readonly amzDate: string;
  readonly scope: CredentialScope;
  /** The request's own signature: the first chunk's signature chains on it. */
  readonly seedSignature: string;
}

export interface DecodedChunks {
  readonly data: Buffer;
  /** Trailing headers, names lower-cased, without `x-amz-trailer-signature`. */
  readonly trailers: QueryParam[];
}

const CRLF = Buffer.from('\r\n');
const incomplete = (why: string) =>
  new S3Error('IncompleteBody', `The aws-chunked body is malformed: ${why}.`);

/**
 * Decodes an `aws-chunked` body: `<hex size>[;chunk-signature=<sig>]\r\n<data>\r\n` ...
 * then a zero-size chunk, optional trailing headers (`name:value\r\n`, with
 * `x-amz-trailer-signature` when signed) and a final `\r\n`.
 */
export function decodeAwsChunked(
  raw: Buffer,
  mode: { readonly signedChunks: boolean; readonly trailer: boolean },
  signing?: ChunkSigning,
): DecodedChunks {
  if (mode.signedChunks && !signing) throw new Error('signed chunks need the signing context');
  const parts: Buffer[] = [];
  let previous = signing?.seedSignature ?? '';
  let pos = 0;
  for (;;) {
    const lineEnd = raw.indexOf(CRLF, pos);
    if (lineEnd === -1 || lineEnd - pos > 4096)
      throw incomplete('a chunk header is not terminated');
    const header = raw.subarray(pos, lineEnd).toString('latin1');
    const m = /^([0-9a-fA-F]{1,16})(?:;chunk-signature=([0-9a-f]{64}))?$/.exec(header);
    if (!m) throw incomplete(`bad chunk header '${header.slice(0, 100)}'`);
    const size = parseInt(m[1], 16);
    const start = lineEnd + 2;
    if (start + size > raw.length) throw incomplete('a chunk is shorter than its declared size');
    const data = raw.subarray(start, start + size);
    if (mode.signedChunks) {
      if (!m[2]) throw incomplete('a chunk has no chunk-signature');
      const s = signing!;
      const expected = signHex(s.key, chunkStringToSign(s.amzDate, s.scope, previous, data));
      if (!signaturesEqual(expected, m[2])) {
        throw new S3Error(
          'SignatureDoesNotMatch',
          'The chunk signature we calculated does not match the signature you provided.',
        );
      }
      previous = m[2];
    } else if (m[2]) {
      throw incomplete('an unsigned payload carries chunk signatures');
    }
    if (size > 0) {
      if (!raw.subarray(start + size, start + size + 2).equals(CRLF)) {
        throw incomplete('a chunk is not followed by CRLF');
      }
      parts.push(data);
      pos = start + size + 2;
      continue;
    }
    pos = start;
    break;
  }
  const trailers: QueryParam[] = [];
  let trailerSignature: string | undefined;
  for (;;) {
    const lineEnd = raw.indexOf(CRLF, pos);
    if (lineEnd === -1) throw incomplete('the body does not end with an empty line');
    const line = raw.subarray(pos, lineEnd).toString('latin1');
    pos = lineEnd + 2;
    if (line === '') break;
    if (!mode.trailer) throw incomplete('trailing headers without x-amz-trailer');
    const colon = line.indexOf(':');
    if (colon <= 0) throw incomplete(`bad trailing header '${line.slice(0, 100)}'`);
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'x-amz-trailer-signature') trailerSignature = value;
    else trailers.push([name, value]);
  }
  if (pos !== raw.length) throw incomplete('there are bytes after the final chunk');
  if (mode.signedChunks && mode.trailer) {
    const s = signing!;
    const expected = signHex(s.key, trailerStringToSign(s.amzDate, s.scope, previous, trailers));
    if (trailerSignature === undefined || !signaturesEqual(expected, trailerSignature)) {
      throw new S3Error(
        'SignatureDoesNotMatch',
        'The trailer signature we calculated does not match the signature you provided.',
      );
    }
  }
  return { data: Buffer.concat(parts), trailers };
}

/** CRC-32C (Castagnoli), reflected, as S3's `x-amz-checksum-crc32c`. */
const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    table[i] = c >>> 0;
  }
  return table;
})();

export function crc32c(data: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of data) crc = CRC32C_TABLE[(crc ^ byte) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};

/** Headers (and presigned query parameters) that carry a whole-body checksum. */
export const CHECKSUM_HEADER = /^x-amz-checksum-(crc32|crc32c|crc64nvme|sha1|sha256)$/;

/** The checksums S3 accepts, as base64 of the big-endian digest; undefined when unsupported. */
export function checksum(algorithm: string, data: Buffer): string | undefined {
  switch (algorithm) {
    case 'crc32':
      return u32(zlib.crc32(data)).toString('base64');
    case 'crc32c':
      return u32(crc32c(data)).toString('base64');
    case 'sha1':
    case 'sha256':
      return createHash(algorithm).update(data).digest('base64');
    default:
      return undefined;
  }
}

/**
 * Checks a body against what the request claims about it: `x-amz-content-sha256`,
 * `Content-MD5` and `x-amz-checksum-<algorithm>` values (from headers, the query of a
 * presigned URL, or the aws-chunked trailer). Throws S3's error for the first mismatch.
 */
export function verifyBody(
  data: Buffer,
  claims: {
    readonly sha256?: string;
    readonly contentMd5?: string;
    readonly checksums: readonly QueryParam[];
  },
): void {
  if (claims.sha256 !== undefined && sha256Hex(data) !== claims.sha256) {
    throw new S3Error(
      'XAmzContentSHA256Mismatch',
      "The provided 'x-amz-content-sha256' header does not match what was computed.",
      { ClientComputedContentSHA256: claims.sha256, S3ComputedContentSHA256: sha256Hex(data) },
    );
  }
  if (claims.contentMd5 !== undefined) {
    const decoded = Buffer.from(claims.contentMd5, 'base64');
    if (decoded.length !== 16 || decoded.toString('base64') !== claims.contentMd5) {
      throw new S3Error('InvalidDigest', 'The Content-MD5 you specified was invalid.');
    }
    if (!createHash('md5').update(data).digest().equals(decoded)) {
      throw new S3Error(
        'BadDigest',
        'The Content-MD5 you specified did not match what we received.',
      );
    }
  }
  for (const [name, claimed] of claims.checksums) {
    const algorithm = name.replace(/^x-amz-checksum-/, '');
    const actual = checksum(algorithm, data);
    if (actual === undefined) {
      // Fail closed: a checksum the sandbox cannot compute is not silently accepted.
      throw new S3Error(
        'InvalidRequest',
        `The sandbox cannot verify ${name}; use CRC32, CRC32C, SHA1 or SHA256 checksums.`,
      );
    }
    if (actual !== claimed) {
      throw new S3Error(
        'BadDigest',
        `The ${algorithm.toUpperCase()} you specified did not match the calculated checksum.`,
      );
    }
  }
}
