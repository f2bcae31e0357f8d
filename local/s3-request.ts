import type * as http from 'node:http';
import type { AuthenticatedRequest, SignedRequestView } from './s3-auth';
import { S3Error } from './s3-errors';
import type { S3Operation } from './s3-operations';
import { parseQuery, type QueryParam } from './sigv4';

/**
 * What the proxy reads off an incoming request (path-style target, query, headers), and the
 * request once authenticated and authorized, as the operation handlers carry it out.
 */

/** A request header, its values joined by commas; undefined when absent. */
export type HeaderReader = (name: string) => string | undefined;

/** Where a request points, from its URL. */
export interface RequestTarget {
  /** The path as sent, still percent-encoded (SigV4 signs it so). */
  readonly rawPath: string;
  /** The query string as sent, without the `?`. */
  readonly rawQuery: string;
  /** The decoded bucket name; undefined for `/`. */
  readonly bucket?: string;
  /** The decoded key; undefined for a bucket request. */
  readonly key?: string;
  /** `/<bucket>/<key>`: the `Resource` of an error answer. */
  readonly resource: string;
}

/** A request that passed authentication and authorization, ready to be carried out. */
export interface AuthorizedRequest {
  /** The S3 operation, with the checks it passed. */
  readonly op: S3Operation;
  /** What the signature established: the session and how the payload was declared. */
  readonly auth: AuthenticatedRequest;
  /** The decoded query, in the order sent. */
  readonly query: readonly QueryParam[];
  readonly headerOf: HeaderReader;
  /** CORS headers every answer to the request carries. */
  readonly extraHeaders: Readonly<Record<string, string>>;
}

const invalidUri = () => new S3Error('InvalidURI', "Couldn't parse the specified URI.");

/** Splits a request URL (path-style: `/<bucket>/<key>?<query>`) into its target. */
export function parseRequestTarget(url: string): RequestTarget {
  if (!url.startsWith('/')) throw invalidUri();
  const q = url.indexOf('?');
  const rawPath = q === -1 ? url : url.slice(0, q);
  const rawQuery = q === -1 ? '' : url.slice(q + 1);
  const { bucket, key } = parseTarget(rawPath);
  const resource = '/' + [bucket, key].filter((p) => p !== undefined).join('/');
  return { rawPath, rawQuery, bucket, key, resource };
}

/** The decoded query; S3's InvalidURI when it cannot be decoded. */
export function parseRequestQuery(rawQuery: string): QueryParam[] {
  try {
    return parseQuery(rawQuery);
  } catch {
    throw invalidUri();
  }
}

export const headerReader =
  (req: http.IncomingMessage): HeaderReader =>
  (name) =>
    req.headersDistinct[name]?.join(',');

/** The parts of the request SigV4 covers, as the authenticator reads them. */
export function signedRequestView(
  req: http.IncomingMessage,
  method: string,
  rawPath: string,
  query: readonly QueryParam[],
): SignedRequestView {
  return {
    method,
    rawPath,
    query,
    header: (name) => req.headersDistinct[name],
    headerNames: Object.keys(req.headersDistinct),
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
    throw invalidUri();
  }
}
