import { randomBytes } from 'node:crypto';
import type * as http from 'node:http';
import type { SessionStore } from './contracts';
import type { PolicyModel } from './policy-model';
import { authenticate } from './s3-auth';
import { checkedActions } from './s3-authorization';
import { corsHeaders, preflight, type CorsRule } from './s3-cors';
import { errorXml, S3Error } from './s3-errors';
import { execute, type HandlerServices } from './s3-handlers';
import { checkAcl, classify } from './s3-operations';
import {
  headerReader,
  parseRequestQuery,
  parseRequestTarget,
  signedRequestView,
} from './s3-request';

/**
 * One request through the sandbox's S3, in S3's order: target, CORS preflight (no
 * credentials), query, SigV4 authentication, classification, authorization, and only then
 * the operation. Any refusal becomes S3's error answer; every request leaves one log entry.
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

/** What the pipeline works with. */
export interface S3PipelineServices extends HandlerServices {
  /** The roles, policies and buckets that decide access. */
  readonly model: PolicyModel;
  /** Sessions issued by the local STS. */
  readonly sessions: SessionStore;
  /** CORS rules per bucket name. */
  readonly cors: ReadonlyMap<string, CorsRule[]>;
  /** ms since the epoch; signatures, presigned URLs and sessions are checked against it. */
  readonly clock: () => number;
  /** Receives one entry per request. */
  readonly log: (entry: S3LogEntry) => void;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** The server's request listener: every request answered through the pipeline. */
export function s3RequestListener(services: S3PipelineServices): http.RequestListener {
  return (req, res) => {
    handle(services, req, res).catch((e) => {
      // Only reached when the answer could not even be started; never leaves a request hanging.
      if (!res.headersSent) {
        res.statusCode = 500;
        res.end();
      } else res.destroy(e as Error);
    });
  };
}

async function handle(
  services: S3PipelineServices,
  req: http.IncomingMessage,
  res: http.ServerResponse,
): Promise<void> {
  const { model, sessions, cors, authorization } = services;
  const requestId = randomBytes(8).toString('hex').toUpperCase();
  const now = services.clock();
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
  res.once('close', () => services.log({ ...entry, status: res.statusCode }));

  let resource = '/';
  let extraHeaders: Record<string, string> = {};
  try {
    const target = parseRequestTarget(req.url ?? '/');
    const { bucket, key } = target;
    entry.bucket = bucket;
    entry.key = key;
    resource = target.resource;
    const headerOf = headerReader(req);
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

    const query = parseRequestQuery(target.rawQuery);
    const auth = authenticate(signedRequestView(req, method, target.rawPath, query), sessions, now);
    entry.role = auth.session.roleLogicalId;
    entry.sessionName = auth.session.sessionName;

    const op = classify(model, { method, bucket, key, query, header: headerOf });
    entry.operation = op.name;
    entry.actions = checkedActions(op);
    const denied = authorization.firstDenied(auth.session, op.checks);
    if (denied) {
      entry.decision = 'deny';
      entry.reason = denied.reason;
      throw denied.error;
    }
    entry.decision = 'allow';
    checkAcl(model, op, headerOf, new Map(query));
    await execute(services, req, res, { op, auth, query, headerOf, extraHeaders });
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

function sendError(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  error: S3Error,
  resource: string,
  requestId: string,
  extraHeaders: Readonly<Record<string, string>>,
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
