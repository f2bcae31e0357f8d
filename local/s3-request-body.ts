import type * as http from 'node:http';
import type { Readable } from 'node:stream';
import { S3Error } from './s3-errors';
import { CHECKSUM_HEADER, decodeAwsChunked, readBody, verifyBody } from './s3-payload';
import type { AuthorizedRequest } from './s3-request';
import type { QueryParam } from './sigv4';

/**
 * The request body, checked: a Buffer when anything had to be verified (or `buffer`), the
 * request stream itself for unsigned payloads without checksums, undefined when empty.
 */
export async function prepareBody(
  req: http.IncomingMessage,
  x: AuthorizedRequest,
  buffer: boolean,
): Promise<Buffer | Readable | undefined> {
  const { auth, headerOf } = x;
  const checksums = declaredChecksums(req, x);
  const contentMd5 = headerOf('content-md5');
  const payload = auth.payload;
  const hasBody =
    (headerOf('content-length') !== undefined && headerOf('content-length') !== '0') ||
    headerOf('transfer-encoding') !== undefined;
  if (
    payload.kind === 'unsigned' &&
    checksums.length === 0 &&
    contentMd5 === undefined &&
    !buffer
  ) {
    if (hasBody) return req;
    req.resume();
    return undefined;
  }
  const raw = await readBody(req);
  let data = raw;
  if (payload.kind === 'streaming') {
    const decoded = decodeAwsChunked(
      raw,
      payload,
      payload.signedChunks
        ? {
            key: auth.signingKey,
            amzDate: auth.amzDate,
            scope: auth.scope,
            seedSignature: auth.signature,
          }
        : undefined,
    );
    const declared = (headerOf('x-amz-trailer') ?? '')
      .split(',')
      .map((t) => t.trim().toLowerCase())
      .filter((t) => t !== '');
    const names = decoded.trailers.map(([n]) => n);
    if (names.some((n) => !declared.includes(n)) || declared.some((d) => !names.includes(d))) {
      throw new S3Error(
        'InvalidRequest',
        `The trailing headers (${names.join(', ') || 'none'}) do not match x-amz-trailer (${declared.join(', ') || 'none'}).`,
      );
    }
    checksums.push(...decoded.trailers.filter(([n]) => CHECKSUM_HEADER.test(n)));
    const decodedLength = headerOf('x-amz-decoded-content-length');
    if (decodedLength === undefined) {
      throw new S3Error(
        'MissingContentLength',
        'You must provide x-amz-decoded-content-length with aws-chunked bodies.',
      );
    }
    if (Number(decodedLength) !== decoded.data.length) {
      throw new S3Error(
        'IncompleteBody',
        'You did not provide the number of bytes specified by the x-amz-decoded-content-length HTTP header',
      );
    }
    data = decoded.data;
  }
  verifyBody(data, {
    sha256: payload.kind === 'hash' ? payload.sha256 : undefined,
    contentMd5,
    checksums,
  });
  return data;
}

/**
 * The `x-amz-checksum-*` values of the request: headers, then query parameters (presigned
 * URLs) for algorithms no header declared.
 */
function declaredChecksums(req: http.IncomingMessage, x: AuthorizedRequest): QueryParam[] {
  const checksums: QueryParam[] = [];
  for (const name of Object.keys(req.headersDistinct)) {
    if (CHECKSUM_HEADER.test(name)) checksums.push([name, x.headerOf(name)!]);
  }
  for (const [name, value] of x.query) {
    const lower = name.toLowerCase();
    if (CHECKSUM_HEADER.test(lower) && !checksums.some(([n]) => n === lower))
      checksums.push([lower, value]);
  }
  return checksums;
}
