import { randomBytes } from 'node:crypto';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Readable } from 'node:stream';
import type { RunningServer, SandboxSession, SessionStore, TlsOptions } from './contracts';
import { sessionArn, type PolicyModel } from './policy';
import {
  authenticate,
  PRESIGN_PARAMS,
  type AuthenticatedRequest,
  type SignedRequestView,
} from './s3-auth';
import { Backend } from './s3-backend';
import { corsHeaders, corsRulesFromTemplate, preflight } from './s3-cors';
import { accessDenied, errorXml, S3Error } from './s3-errors';
import { listObjectsXml } from './s3-listing';
import {
  Authorizer,
  keyProblem,
  objectArn,
  classify,
  type AccessCheck,
  type S3Operation,
} from './s3-operations';
import { CHECKSUM_HEADER, decodeAwsChunked, readBody, verifyBody } from './s3-payload';
import { deleteResultXml, listPartsXml, parseCompleteRequest, parseDeleteRequest } from './s3-xml';
import { parseQuery, type QueryParam } from './sigv4';

/**
 * The sandbox's S3: an HTTPS endpoint on 127.0.0.1 in front of s3rver that does what s3rver
 * does not: verifies SigV4 (header and presigned, session token, expiry, payload hashes,
 * aws-chunked signatures and checksums), authorizes every request against the synthesized
 * policies of the session's role (plus its session policy), enforces conditional writes and
 * the template's CORS rules, and only then lets s3rver store or serve anything.
 *
 * Path-style only (`https://127.0.0.1:<port>/<bucket>/<key>`): clients set
 * `forcePathStyle: true`.
 */

/**
 * One line of the access log. Never carries credentials, tokens or signatures. (A type
 * alias, so it is assignable to `Record<string, unknown>` loggers.)
 */
export type S3LogEntry = {
  readonly time: string;
  readonly requestId: string;
  readonly method: string;
  readonly bucket?: string;
  readonly key?: string;
  /** The S3 operation, e.g. `PutObject`. */
  readonly operation?: string;
  /** The IAM actions checked. */
  readonly actions?: readonly string[];
  /** The role (logical id) and session name of the caller, once authenticated. */
  readonly role?: string;
  readonly sessionName?: string;
  /** `allow` / `deny` by policy; `refused` before authorization (signature, token...); `preflight`. */
  readonly decision: 'allow' | 'deny' | 'refused' | 'preflight';
  readonly status: number;
  /** The S3 error code of an error answer. */
  readonly code?: string;
  /** Why a request was denied or refused. */
  readonly reason?: string;
};

export interface LocalS3Options {
  /** Port on 127.0.0.1; 0 picks a free one. */
  readonly port: number;
  readonly tls: TlsOptions;
  /** s3rver's storage directory; objects survive restarts. */
  readonly dataDir: string;
  /** The synthesized federation template (buckets and their CORS rules). */
  readonly template: object;
  /** `loadPolicyModel(template, ...)`: the roles, policies and buckets that decide access. */
  readonly model: PolicyModel;
  /** Sessions issued by the local STS. */
  readonly sessions: SessionStore;
  /**
   * ms since the epoch; signatures, presigned URLs and sessions are checked against it.
   * @default Date.now
   */
  readonly clock?: () => number;
  /**
   * Receives one entry per request.
   * @default - no logging
   */
  readonly log?: (entry: S3LogEntry) => void;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

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

const MIN_PART_SIZE = 5 * 1024 * 1024;

/** Operations that write a key: serialized per key, so conditional writes are atomic. */
const WRITES = new Set(['PutObject', 'CopyObject', 'CompleteMultipartUpload', 'DeleteObject']);

export async function startLocalS3(options: LocalS3Options): Promise<RunningServer> {
  const { model, sessions } = options;
  const clock = options.clock ?? Date.now;
  const log = options.log ?? (() => undefined);
  const backend = await Backend.start(
    options.dataDir,
    model.buckets.map((b) => b.name),
  );
  const authorizer = new Authorizer(model);
  const cors = corsRulesFromTemplate(options.template, model);

  const server = https.createServer(
    { cert: options.tls.cert, key: options.tls.key },
    (req, res) => {
      handle(req, res).catch((e) => {
        // Only reached when the answer could not even be started; never leaves a request hanging.
        if (!res.headersSent) {
          res.statusCode = 500;
          res.end();
        } else res.destroy(e as Error);
      });
    },
  );

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const requestId = randomBytes(8).toString('hex').toUpperCase();
    const now = clock();
    const method = (req.method ?? 'GET').toUpperCase();
    const entry: Mutable<S3LogEntry> = {
      time: new Date(now).toISOString(),
      requestId,
      method,
      decision: 'refused',
      status: 0,
    };
    res.setHeader('x-amz-request-id', requestId);
    res.setHeader('x-amz-id-2', randomBytes(24).toString('base64'));
    // The SDKs correct their clock from Date on RequestTimeTooSkewed: it must be ours.
    res.setHeader('Date', new Date(now).toUTCString());
    res.setHeader('Server', 'AmazonS3');
    res.once('close', () => log({ ...entry, status: res.statusCode }));

    let resource = '/';
    let extraHeaders: Record<string, string> = {};
    try {
      const url = req.url ?? '/';
      if (!url.startsWith('/'))
        throw new S3Error('InvalidURI', "Couldn't parse the specified URI.");
      const q = url.indexOf('?');
      const rawPath = q === -1 ? url : url.slice(0, q);
      const rawQuery = q === -1 ? '' : url.slice(q + 1);
      const { bucket, key } = parseTarget(rawPath);
      entry.bucket = bucket;
      entry.key = key;
      resource = '/' + [bucket, key].filter((p) => p !== undefined).join('/');
      const headerOf = (name: string) => req.headersDistinct[name]?.join(',');
      const origin = headerOf('origin');
      const rules = bucket !== undefined ? cors.get(bucket) : undefined;

      if (method === 'OPTIONS') {
        // Preflights carry no credentials; S3 answers them from the CORS rules alone.
        const headers = preflight(rules, {
          origin,
          method: headerOf('access-control-request-method'),
          requestHeaders: headerOf('access-control-request-headers'),
          isObject: key !== undefined,
        });
        entry.decision = 'preflight';
        req.resume();
        res.writeHead(200, headers).end();
        return;
      }
      extraHeaders = corsHeaders(rules, origin, method);

      let query: QueryParam[];
      try {
        query = parseQuery(rawQuery);
      } catch {
        throw new S3Error('InvalidURI', "Couldn't parse the specified URI.");
      }
      const view: SignedRequestView = {
        method,
        rawPath,
        query,
        header: (name) => req.headersDistinct[name],
        headerNames: Object.keys(req.headersDistinct),
      };
      const auth = authenticate(view, sessions, now);
      entry.role = auth.session.roleLogicalId;
      entry.sessionName = auth.session.sessionName;

      const op = classify(model, { method, bucket, key, query, header: headerOf });
      entry.operation = op.name;
      entry.actions =
        op.handler === 'delete-objects' ? ['s3:DeleteObject'] : op.checks.map((c) => c.action);
      const denied = firstDenied(auth.session, op.checks);
      if (denied) {
        entry.decision = 'deny';
        entry.reason = denied.reason;
        throw denied.error;
      }
      entry.decision = 'allow';
      await execute(req, res, { op, auth, query, headerOf, extraHeaders });
    } catch (e) {
      const error =
        e instanceof S3Error
          ? e
          : new S3Error('InternalError', 'We encountered an internal error. Please try again.');
      entry.reason ??= (e as Error).message;
      entry.code = error.code;
      sendError(req, res, error, resource, requestId, extraHeaders, method === 'HEAD');
    }
  }

  /** The first check the session fails, with S3's message for it. */
  function firstDenied(
    session: SandboxSession,
    checks: readonly AccessCheck[],
  ): { error: S3Error; reason: string } | undefined {
    for (const check of checks) {
      const decision = authorizer.decide(session, check);
      if (!decision.allowed) {
        const role = model.roles.find((r) => r.logicalId === session.roleLogicalId);
        const who = role ? sessionArn(model, role, session.sessionName) : session.roleArn;
        return {
          reason: `${check.action} on ${check.resource}: ${decision.reason}`,
          error: accessDenied(
            `User: ${who} is not authorized to perform: ${check.action} on resource: "${check.resource}" (${decision.reason})`,
          ),
        };
      }
    }
    return undefined;
  }

  interface Execution {
    readonly op: S3Operation;
    readonly auth: AuthenticatedRequest;
    readonly query: readonly QueryParam[];
    readonly headerOf: (name: string) => string | undefined;
    readonly extraHeaders: Record<string, string>;
  }

  async function execute(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    x: Execution,
  ): Promise<void> {
    const { op } = x;
    const queryMap = new Map(x.query);
    const send = (status: number, body?: string) => {
      res.writeHead(status, {
        ...x.extraHeaders,
        ...(body !== undefined ? { 'Content-Type': 'application/xml' } : {}),
      });
      res.end(body);
    };
    switch (op.handler) {
      case 'head-bucket':
        await prepareBody(req, x, false);
        res.setHeader('x-amz-bucket-region', 'us-east-1');
        return send(200);
      case 'list-objects':
      case 'list-objects-v2': {
        await prepareBody(req, x, false);
        const objects = await backend.objects(op.bucket, queryMap.get('prefix') ?? '');
        return send(
          200,
          listObjectsXml(objects, {
            v2: op.handler === 'list-objects-v2',
            bucket: op.bucket,
            query: queryMap,
          }),
        );
      }
      case 'list-parts': {
        await prepareBody(req, x, false);
        const uploadId = await checkUpload(op, queryMap);
        const marker = Number(queryMap.get('part-number-marker') ?? '0');
        const maxParts = Math.min(1000, Number(queryMap.get('max-parts') ?? '1000'));
        if (
          !Number.isInteger(marker) ||
          marker < 0 ||
          !Number.isInteger(maxParts) ||
          maxParts < 0
        ) {
          throw new S3Error(
            'InvalidArgument',
            'max-parts and part-number-marker must be non-negative integers',
          );
        }
        const parts = await backend.parts(op.bucket, uploadId);
        return send(
          200,
          listPartsXml({ bucket: op.bucket, key: op.key!, uploadId }, parts, marker, maxParts),
        );
      }
      case 'abort-upload': {
        await prepareBody(req, x, false);
        const uploadId = await checkUpload(op, queryMap);
        await backend.abortUpload(op.bucket, uploadId);
        return send(204);
      }
      case 'delete-objects': {
        const body = (await prepareBody(req, x, true)) as Buffer;
        const request = parseDeleteRequest(body.toString('utf8'));
        const deleted: { key: string; versionId?: string }[] = [];
        const errors: { key: string; versionId?: string; code: string; message: string }[] = [];
        for (const object of request.objects) {
          const problem = keyProblem(object.key);
          const check: AccessCheck | undefined = problem
            ? undefined
            : {
                action:
                  object.versionId !== undefined ? 's3:DeleteObjectVersion' : 's3:DeleteObject',
                resource: objectArn(model, op.bucket, object.key),
              };
          const decision = check ? authorizer.decide(x.auth.session, check) : { allowed: false };
          if (!decision.allowed) {
            errors.push({ ...object, code: 'AccessDenied', message: problem ?? 'Access Denied' });
            continue;
          }
          await backend.withKeyLock(op.bucket, object.key, () =>
            backend.deleteObject(op.bucket, object.key),
          );
          if (!request.quiet) deleted.push(object);
        }
        return send(200, deleteResultXml(deleted, errors));
      }
      case 'forward':
        return forward(req, res, x, queryMap);
    }
  }

  /** The upload id of a multipart request, after checking it belongs to the request's key. */
  async function checkUpload(op: S3Operation, query: ReadonlyMap<string, string>): Promise<string> {
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

  /**
   * The request body, checked: a Buffer when anything had to be verified (or `buffer`), the
   * request stream itself for unsigned payloads without checksums, undefined when empty.
   */
  async function prepareBody(
    req: http.IncomingMessage,
    x: Execution,
    buffer: boolean,
  ): Promise<Buffer | Readable | undefined> {
    const { auth, headerOf } = x;
    const checksums: QueryParam[] = [];
    for (const name of Object.keys(req.headersDistinct)) {
      if (CHECKSUM_HEADER.test(name)) checksums.push([name, headerOf(name)!]);
    }
    for (const [name, value] of x.query) {
      const lower = name.toLowerCase();
      if (CHECKSUM_HEADER.test(lower) && !checksums.some(([n]) => n === lower))
        checksums.push([lower, value]);
    }
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

  async function forward(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    x: Execution,
    query: ReadonlyMap<string, string>,
  ): Promise<void> {
    const { op, headerOf } = x;
    if (op.name === 'UploadPart' || op.name === 'CompleteMultipartUpload')
      await checkUpload(op, query);
    const carriesBody = ['PUT', 'POST'].includes(req.method!.toUpperCase());
    const body = await prepareBody(req, x, op.name === 'CompleteMultipartUpload');
    if (op.name === 'CompleteMultipartUpload') await checkParts(op, query, body as Buffer);

    const headers: http.OutgoingHttpHeaders = {};
    for (const [name, values] of Object.entries(req.headersDistinct)) {
      if (values === undefined || DROPPED_REQUEST_HEADERS.has(name) || name.startsWith('amz-sdk-'))
        continue;
      if (CHECKSUM_HEADER.test(name)) continue;
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
      if (name.toLowerCase().startsWith('x-amz-meta-')) headers[name.toLowerCase()] = value;
    }
    if (op.copySource) {
      // s3rver reads the copy source with decodeURI; encodeURI round-trips through it
      // exactly, so it copies the very object that was authorized.
      headers['x-amz-copy-source'] =
        '/' + encodeURI(`${op.copySource.bucket}/${op.copySource.key}`);
    }
    if (Buffer.isBuffer(body)) headers['content-length'] = String(body.length);
    else if (body !== undefined && headerOf('content-length') !== undefined) {
      headers['content-length'] = headerOf('content-length');
    } else if (body === undefined && carriesBody) headers['content-length'] = '0';

    // The path is rebuilt from the decoded names, so s3rver decodes exactly the bucket and
    // key that were authorized (it decodes `%2F` inside a key back to `/`).
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
    const upstreamPath =
      `/${encodeURIComponent(op.bucket)}` +
      (op.key !== undefined ? `/${encodeURIComponent(op.key)}` : '') +
      (forwardedQuery ? `?${forwardedQuery}` : '');

    const send = () =>
      backend.request({
        method: req.method!.toUpperCase(),
        path: upstreamPath,
        headers,
        body: carriesBody ? body : undefined,
      });
    const upstream = WRITES.has(op.name)
      ? await backend.withKeyLock(op.bucket, op.key!, async () => {
          await checkConditions(op, headerOf);
          return send();
        })
      : await send();

    const status = upstream.statusCode ?? 502;
    res.statusCode = status;
    for (const [name, value] of Object.entries(upstream.headers)) {
      if (
        value === undefined ||
        DROPPED_RESPONSE_HEADERS.has(name) ||
        name.startsWith('access-control-')
      )
        continue;
      res.setHeader(name, value);
    }
    for (const [name, value] of Object.entries(x.extraHeaders)) res.setHeader(name, value);
    if (
      (op.name === 'GetObject' || op.name === 'HeadObject') &&
      (status === 200 || status === 206)
    ) {
      for (const [param, header] of Object.entries(RESPONSE_OVERRIDES)) {
        const value = query.get(param);
        if (value !== undefined) res.setHeader(header, value);
      }
    }
    upstream.on('error', (e) => res.destroy(e));
    upstream.pipe(res);
  }

  /** `If-None-Match: *` and `If-Match` on writes, which s3rver ignores. */
  async function checkConditions(op: S3Operation, headerOf: (n: string) => string | undefined) {
    if (op.name !== 'PutObject' && op.name !== 'CompleteMultipartUpload') return;
    const noneMatch = headerOf('if-none-match');
    const match = headerOf('if-match');
    if (noneMatch !== undefined) {
      if (noneMatch.trim() !== '*') {
        throw new S3Error(
          'NotImplemented',
          'A header you provided implies functionality that is not implemented',
          {
            Header: 'If-None-Match',
          },
        );
      }
      if (await backend.exists(op.bucket, op.key!)) {
        throw new S3Error(
          'PreconditionFailed',
          'At least one of the pre-conditions you specified did not hold',
          {
            Condition: 'If-None-Match',
          },
        );
      }
    }
    if (match !== undefined) {
      const etag = await backend.etag(op.bucket, op.key!);
      if (etag === undefined)
        throw new S3Error('NoSuchKey', 'The specified key does not exist.', { Key: op.key! });
      if (match.trim().replace(/"/g, '') !== etag.replace(/"/g, '')) {
        throw new S3Error(
          'PreconditionFailed',
          'At least one of the pre-conditions you specified did not hold',
          {
            Condition: 'If-Match',
          },
        );
      }
    }
  }

  /** What S3 checks on CompleteMultipartUpload and s3rver does not. */
  async function checkParts(op: S3Operation, query: ReadonlyMap<string, string>, body: Buffer) {
    const uploadId = query.get('uploadId')!;
    const requested = parseCompleteRequest(body.toString('utf8'));
    const stored = new Map(
      (await backend.parts(op.bucket, uploadId)).map((p) => [p.partNumber, p]),
    );
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

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (e) {
    await backend.close();
    throw e;
  }
  const port = (server.address() as AddressInfo).port;
  return {
    url: `https://127.0.0.1:${port}`,
    port,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await backend.close();
    },
  };
}

/** `/<bucket>/<key>` -> decoded names; a trailing-slash-only path is a bucket request. */
function parseTarget(rawPath: string): { bucket?: string; key?: string } {
  const path = rawPath.slice(1);
  if (path === '') return {};
  const slash = path.indexOf('/');
  const rawBucket = slash === -1 ? path : path.slice(0, slash);
  const rawKey = slash === -1 ? '' : path.slice(slash + 1);
  try {
    const bucket = decodeURIComponent(rawBucket);
    const key = rawKey === '' ? undefined : decodeURIComponent(rawKey);
    return { bucket, key };
  } catch {
    throw new S3Error('InvalidURI', "Couldn't parse the specified URI.");
  }
}

function sendError(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  error: S3Error,
  resource: string,
  requestId: string,
  extraHeaders: Record<string, string>,
  head: boolean,
): void {
  req.resume();
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = errorXml(error, resource, requestId);
  res.writeHead(error.status, {
    ...extraHeaders,
    'Content-Type': 'application/xml',
    ...(head ? {} : { 'Content-Length': Buffer.byteLength(body) }),
  });
  res.end(head ? undefined : body);
}
