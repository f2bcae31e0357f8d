import type * as http from 'node:http';
import type { Readable } from 'node:stream';
import { PRESIGN_PARAMS } from './s3-auth';
import type { Backend } from './s3-backend';
import type { S3Operation } from './s3-operations';
import { element } from './s3-errors';
import { CHECKSUM_HEADER } from './s3-payload';
import {
  checkReadKey,
  isSseCHeader,
  planSseC,
  sseCResponseHeaders,
  STORED_KEY_MD5,
  type SseCPlan,
} from './s3-sse-c';
import { checkConditions, checkParts, checkUpload } from './s3-preconditions';
import type { AuthorizedRequest } from './s3-request';
import { prepareBody } from './s3-request-body';

/**
 * Carries an authorized operation out through s3rver: the body checked first, only the
 * headers and query parameters s3rver should see (no credentials, nothing handled here),
 * writes serialized per key, and s3rver's answer relayed with S3's own headers.
 */

/** Headers that never go from the client to s3rver (auth, hop-by-hop, handled here). */
const DROPPED_REQUEST_HEADERS = new Set([
  'host',
  'authorization',
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'expect',
  'origin',
  'access-control-request-method',
  'access-control-request-headers',
  'content-length',
  'content-md5',
  'x-amz-security-token',
  'x-amz-content-sha256',
  'x-amz-date',
  'x-amz-decoded-content-length',
  'x-amz-trailer',
  'x-amz-sdk-checksum-algorithm',
  'x-amz-user-agent',
  'x-amz-copy-source',
]);

/** Response headers of s3rver not relayed (hop-by-hop, or set here). */
const DROPPED_RESPONSE_HEADERS = new Set([
  // s3rver's own error details (S3 sends none); they would name the storage key.
  'x-amz-error-code',
  'x-amz-error-message',
  'connection',
  'keep-alive',
  'transfer-encoding',
  'date',
  'vary',
  'x-amz-request-id',
  'x-amz-id-2',
]);

const RESPONSE_OVERRIDES: Readonly<Record<string, string>> = {
  'response-cache-control': 'Cache-Control',
  'response-content-disposition': 'Content-Disposition',
  'response-content-encoding': 'Content-Encoding',
  'response-content-language': 'Content-Language',
  'response-content-type': 'Content-Type',
  'response-expires': 'Expires',
};

/** Operations that write a key: serialized per key, so conditional writes are atomic. */
const WRITES = new Set(['PutObject', 'CopyObject', 'CompleteMultipartUpload', 'DeleteObject']);

/** Operations that create a key in s3rver's store: its storage key must be listable. */
const CREATES = new Set([
  'PutObject',
  'CopyObject',
  'CreateMultipartUpload',
  'CompleteMultipartUpload',
]);

export async function forward(
  backend: Backend,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  x: AuthorizedRequest,
  query: ReadonlyMap<string, string>,
): Promise<void> {
  const { op, headerOf } = x;
  if (op.name === 'UploadPart' || op.name === 'CompleteMultipartUpload')
    await checkUpload(backend, op, query);
  const sse = await planSseC(backend, op, headerOf, query);
  const carriesBody = ['PUT', 'POST'].includes(req.method!.toUpperCase());
  const body = await prepareBody(req, x, op.name === 'CompleteMultipartUpload');
  if (op.name === 'CompleteMultipartUpload') await checkParts(backend, op, query, body as Buffer);

  const headers = {
    ...upstreamHeaders(backend, req, x, query, body, carriesBody),
    ...sse.upstream,
  };
  const path = upstreamPath(backend, op, query);
  const send = () =>
    backend.request({
      method: req.method!.toUpperCase(),
      path,
      headers,
      body: carriesBody ? body : undefined,
    });
  if (CREATES.has(op.name)) await backend.recordKey(op.key!);
  const upstream = WRITES.has(op.name)
    ? await backend.withKeyLock(op.bucket, op.key!, async () => {
        await checkConditions(backend, op, headerOf);
        return send();
      })
    : await send();
  relay(backend, upstream, res, x, query, sse);
}

/** The client's headers s3rver may see, plus what the proxy sets for it. */
function upstreamHeaders(
  backend: Backend,
  req: http.IncomingMessage,
  x: AuthorizedRequest,
  query: ReadonlyMap<string, string>,
  body: Buffer | Readable | undefined,
  carriesBody: boolean,
): http.OutgoingHttpHeaders {
  const { op, headerOf } = x;
  const headers: http.OutgoingHttpHeaders = {};
  for (const [name, values] of Object.entries(req.headersDistinct)) {
    if (values === undefined || DROPPED_REQUEST_HEADERS.has(name) || name.startsWith('amz-sdk-'))
      continue;
    // The customer key never reaches s3rver (it would store the headers of an upload).
    if (CHECKSUM_HEADER.test(name) || isSseCHeader(name)) continue;
    if (carriesBody && (name === 'if-none-match' || name === 'if-match')) continue;
    if (name === 'content-encoding') {
      const rest = values
        .join(',')
        .split(',')
        .map((v) => v.trim())
        .filter((v) => v !== '' && v.toLowerCase() !== 'aws-chunked');
      if (rest.length > 0) headers[name] = rest.join(', ');
      continue;
    }
    headers[name] = values.join(', ');
  }
  // Presigned URLs carry x-amz-meta-* in the query; S3 stores them as metadata.
  for (const [name, value] of query) {
    const lower = name.toLowerCase();
    if (lower.startsWith('x-amz-meta-') && !isSseCHeader(lower)) headers[lower] = value;
  }
  if (op.copySource) {
    // s3rver reads the copy source with decodeURI; encodeURI round-trips through it
    // exactly, so it copies the very object that was authorized.
    const source = backend.storageKey(op.copySource.key);
    headers['x-amz-copy-source'] = '/' + encodeURI(`${op.copySource.bucket}/${source}`);
  }
  if (Buffer.isBuffer(body)) headers['content-length'] = String(body.length);
  else if (body !== undefined && headerOf('content-length') !== undefined) {
    headers['content-length'] = headerOf('content-length');
  } else if (body === undefined && carriesBody) headers['content-length'] = '0';
  return headers;
}

/**
 * The path is rebuilt from the decoded names, so s3rver decodes exactly the bucket and key
 * that were authorized (it decodes `%2F` inside a key back to `/`).
 */
function upstreamPath(
  backend: Backend,
  op: S3Operation,
  query: ReadonlyMap<string, string>,
): string {
  const forwardedQuery = [...query.entries()]
    .filter(
      ([n]) =>
        !PRESIGN_PARAMS.includes(n) &&
        n !== 'x-id' &&
        !n.toLowerCase().startsWith('x-amz-') &&
        !(n in RESPONSE_OVERRIDES),
    )
    .map(([n, v]) => `${encodeURIComponent(n)}=${encodeURIComponent(v)}`)
    .join('&');
  return (
    `/${encodeURIComponent(op.bucket)}` +
    (op.key !== undefined ? `/${encodeURIComponent(backend.storageKey(op.key))}` : '') +
    (forwardedQuery ? `?${forwardedQuery}` : '')
  );
}

/** s3rver's answer to the client, with the CORS headers and any `response-*` overrides. */
function relay(
  backend: Backend,
  upstream: http.IncomingMessage,
  res: http.ServerResponse,
  x: AuthorizedRequest,
  query: ReadonlyMap<string, string>,
  sse: SseCPlan,
): void {
  const { op } = x;
  const status = upstream.statusCode ?? 502;
  const read = op.name === 'GetObject' || op.name === 'HeadObject';
  const storedMd5 = upstream.headers[STORED_KEY_MD5] as string | undefined;
  if (read && (status === 200 || status === 206)) {
    try {
      // Checked on the answer itself: the key is that of the very object being served.
      checkReadKey(storedMd5, sse.given);
    } catch (e) {
      upstream.destroy();
      throw e;
    }
  }
  res.statusCode = status;
  for (const [name, value] of Object.entries(upstream.headers)) {
    if (
      value === undefined ||
      isSseCHeader(name) ||
      DROPPED_RESPONSE_HEADERS.has(name) ||
      name.startsWith('x-amz-error-detail-') ||
      name.startsWith('access-control-')
    )
      continue;
    res.setHeader(name, value);
  }
  for (const [name, value] of Object.entries(x.extraHeaders)) res.setHeader(name, value);
  const sseMd5 = read ? storedMd5 : status < 300 ? sse.given : undefined;
  if (sseMd5 !== undefined) {
    for (const [name, value] of Object.entries(sseCResponseHeaders(sseMd5)))
      res.setHeader(name, value);
  }
  if ((op.name === 'GetObject' || op.name === 'HeadObject') && (status === 200 || status === 206)) {
    for (const [param, header] of Object.entries(RESPONSE_OVERRIDES)) {
      const value = query.get(param);
      if (value !== undefined) res.setHeader(header, value);
    }
  }
  upstream.on('error', (e) => res.destroy(e));
  const named = op.name === 'CopyObject' ? op.copySource!.key : op.key;
  const stored = named === undefined ? undefined : backend.storageKey(named);
  const isDocument = status >= 300 || op.name.endsWith('MultipartUpload');
  if (stored !== undefined && stored !== named && isDocument) {
    renameKeyInDocument(upstream, res, op.bucket, stored, named!);
  } else {
    upstream.pipe(res);
  }
}

/**
 * s3rver names the storage key in its XML (the `Key` of a multipart answer or of NoSuchKey,
 * the path of `Location`): the client must read its own key there. These documents are small.
 */
function renameKeyInDocument(
  upstream: http.IncomingMessage,
  res: http.ServerResponse,
  bucket: string,
  stored: string,
  key: string,
): void {
  const chunks: Buffer[] = [];
  upstream.on('data', (c: Buffer) => chunks.push(c));
  upstream.on('end', () => {
    const path = (k: string) => `/${encodeURIComponent(bucket)}/${encodeURIComponent(k)}`;
    const body = Buffer.from(
      Buffer.concat(chunks)
        .toString('utf8')
        .replace(/<Key>[^<]*<\/Key>/g, () => element('Key', key))
        .split(path(stored))
        .join(path(key)),
      'utf8',
    );
    if (res.hasHeader('content-length')) res.setHeader('content-length', body.length);
    res.end(body);
  });
}
