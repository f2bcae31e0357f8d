import type * as http from 'node:http';
import type { Authorization } from './s3-authorization';
import type { Backend } from './s3-backend';
import { S3Error } from './s3-errors';
import { listObjectsXml } from './s3-listing';
import { checkUpload } from './s3-preconditions';
import { forward } from './s3-proxy';
import type { AuthorizedRequest } from './s3-request';
import { prepareBody } from './s3-request-body';
import { deleteResultXml, listPartsXml, parseDeleteRequest } from './s3-xml';

/**
 * Carries out an authorized request by its operation's handler: what the proxy answers
 * itself from s3rver's store (listings, HeadBucket, ListParts, AbortMultipartUpload,
 * DeleteObjects key by key) or what it forwards to s3rver.
 */

/** What the handlers work with. */
export interface HandlerServices {
  /** s3rver and its store. */
  readonly backend: Backend;
  /** Decides the keys of DeleteObjects, which are only known once the body is read. */
  readonly authorization: Authorization;
}

export async function execute(
  services: HandlerServices,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  x: AuthorizedRequest,
): Promise<void> {
  const { backend } = services;
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
      const uploadId = await checkUpload(backend, op, queryMap);
      const marker = Number(queryMap.get('part-number-marker') ?? '0');
      const maxParts = Math.min(1000, Number(queryMap.get('max-parts') ?? '1000'));
      if (!Number.isInteger(marker) || marker < 0 || !Number.isInteger(maxParts) || maxParts < 0) {
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
      const uploadId = await checkUpload(backend, op, queryMap);
      await backend.abortUpload(op.bucket, uploadId);
      return send(204);
    }
    case 'delete-objects':
      return send(200, await deleteObjects(services, req, x));
    case 'forward':
      return forward(backend, req, res, x, queryMap);
  }
}

/** DeleteObjects: each key authorized and deleted on its own; the answer's XML. */
async function deleteObjects(
  { backend, authorization }: HandlerServices,
  req: http.IncomingMessage,
  x: AuthorizedRequest,
): Promise<string> {
  const { op } = x;
  const body = (await prepareBody(req, x, true)) as Buffer;
  const request = parseDeleteRequest(body.toString('utf8'));
  const deleted: { key: string; versionId?: string }[] = [];
  const errors: { key: string; versionId?: string; code: string; message: string }[] = [];
  for (const object of request.objects) {
    const refusal = authorization.deleteRefusal(x.auth.session, op.bucket, object);
    if (refusal !== undefined) {
      errors.push({ ...object, code: 'AccessDenied', message: refusal });
      continue;
    }
    await backend.withKeyLock(op.bucket, object.key, () =>
      backend.deleteObject(op.bucket, object.key),
    );
    if (!request.quiet) deleted.push(object);
  }
  return deleteResultXml(deleted, errors);
}
