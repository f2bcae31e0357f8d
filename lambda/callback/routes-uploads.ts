import { RETRY_AFTER_SECONDS, isServiceUnavailable } from './responses';
import type { AppContext, FormHandler, SessionGuard } from './context';
import type { HttpResponse } from './http';
import { checkFolder, checkObjectName } from './names';
import { UploadRefusedError } from './ports';
import { credentialsOf, isExpiredCredentials, prefixOf, type SessionCookie } from './session';
import {
  contentTypeOf,
  MAX_OBJECT_BYTES,
  MULTIPART_THRESHOLD_BYTES,
  parseParts,
  parseSize,
  partUrlSeconds,
  planParts,
  PRESIGN_SECONDS,
  uploadIdOf,
} from './uploads';

/**
 * The JSON routes the upload script calls. The file itself never passes through the app
 * (large-uploads-direct-to-s3): the script gets presigned S3 URLs, one PUT or one per part, and the app
 * completes or aborts a multipart upload when the script is done.
 */

export interface UploadRoutes {
  /** POST /upload-url: a presigned PUT, or a multipart upload with one URL per part. */
  readonly uploadUrl: FormHandler;
  /** POST /upload-complete: completes a multipart upload from the script's part list. */
  readonly uploadComplete: FormHandler;
  /** POST /upload-abort: abandons a multipart upload. */
  readonly uploadAbort: FormHandler;
  /** Who may upload: a live session; JSON errors for the script otherwise (csrf-on-state-changes). */
  readonly uploadGuard: SessionGuard;
}

export function uploadRoutes(ctx: AppContext): UploadRoutes {
  const { clock, log, storage, responses: r, sessions } = ctx;

  /**
   * The key: the own prefix + the folder the page shows (folder-within-prefix) + a new name
   * that passed object-name-validated, and nothing else.
   */
  function target(
    form: URLSearchParams,
    session: SessionCookie,
  ): { name: string; key: string } | HttpResponse {
    const folder = checkFolder(form.get('folder'), prefixOf(session));
    if (!folder.ok) return r.json(400, { error: folder.reason });
    const inFolder = prefixOf(session) + folder.name;
    const check = checkObjectName(form.get('name'), inFolder);
    if (!check.ok) return r.json(400, { error: check.reason });
    return { name: check.name, key: inFolder + check.name };
  }

  /** S3 refusals the user can act on, and expired credentials, as JSON for the script. */
  async function uploadStep(run: () => Promise<HttpResponse>): Promise<HttpResponse> {
    try {
      return await run();
    } catch (err) {
      if (err instanceof UploadRefusedError) return r.json(err.status, { error: err.message });
      if (isExpiredCredentials(err))
        return r.json(
          401,
          { error: 'Your session has expired. Please sign in again.' },
          { cookies: [sessions.clearSession()] },
        );
      // JSON on the upload routes (dependency-busy-503).
      if (isServiceUnavailable(err))
        return r.json(
          503,
          { error: 'Storage is busy right now. Please try again in a moment.' },
          { headers: { 'retry-after': RETRY_AFTER_SECONDS } },
        );
      throw err;
    }
  }

  const uploadUrl: FormHandler = async (req, form, session) => {
    const checked = target(form, session);
    if (!('key' in checked)) return checked;
    const { name, key } = checked;
    const size = parseSize(form.get('size'));
    if (size === 'invalid') {
      return r.json(400, {
        error: `The file size must be a whole number of bytes, at most ${MAX_OBJECT_BYTES} (5 TiB).`,
      });
    }
    const contentType = contentTypeOf(form.get('type'));
    const creds = credentialsOf(session);
    if (size === undefined || size <= MULTIPART_THRESHOLD_BYTES) {
      const put = await storage.presignPut(creds, key, contentType, PRESIGN_SECONDS);
      log({ requestId: req.requestId, event: 'upload_url', provider: session.p });
      return r.json(200, { name, url: put.url, headers: put.headers });
    }
    const plan = planParts(size);
    if (!plan) return r.json(400, { error: 'This file cannot be uploaded in parts.' });
    const expiresIn = partUrlSeconds(session.exp, clock.now());
    return uploadStep(async () => {
      const uploadId = await storage.createMultipart(creds, key, contentType);
      const parts: { partNumber: number; url: string }[] = [];
      for (let partNumber = 1; partNumber <= plan.count; partNumber++) {
        parts.push({
          partNumber,
          url: await storage.presignUploadPart(creds, key, uploadId, partNumber, expiresIn),
        });
      }
      log({
        requestId: req.requestId,
        event: 'multipart_started',
        provider: session.p,
        parts: plan.count,
      });
      return r.json(200, { name, multipart: true, uploadId, partSize: plan.partSize, parts });
    });
  };

  const uploadComplete: FormHandler = async (req, form, session) => {
    const checked = target(form, session);
    if (!('key' in checked)) return checked;
    const { name, key } = checked;
    const uploadId = uploadIdOf(form);
    if (uploadId === undefined)
      return r.json(400, { error: 'The upload id is missing or malformed.' });
    const parts = parseParts(form.get('parts'));
    if (typeof parts === 'string') return r.json(400, { error: parts });
    return uploadStep(async () => {
      await storage.completeMultipart(credentialsOf(session), key, uploadId, parts);
      log({ requestId: req.requestId, event: 'multipart_completed', provider: session.p });
      return r.json(200, { name });
    });
  };

  const uploadAbort: FormHandler = async (req, form, session) => {
    const checked = target(form, session);
    if (!('key' in checked)) return checked;
    const { name, key } = checked;
    const uploadId = uploadIdOf(form);
    if (uploadId === undefined)
      return r.json(400, { error: 'The upload id is missing or malformed.' });
    return uploadStep(async () => {
      await storage.abortMultipart(credentialsOf(session), key, uploadId);
      log({ requestId: req.requestId, event: 'multipart_aborted', provider: session.p });
      return r.json(200, { name, aborted: true });
    });
  };

  const uploadGuard: SessionGuard = {
    allowExpiring: false,
    signedOut: () => r.json(401, { error: 'Please sign in again.' }),
    forbidden: () => r.json(403, { error: 'This request was not allowed. Reload the page.' }),
  };

  return { uploadUrl, uploadComplete, uploadAbort, uploadGuard };
}
