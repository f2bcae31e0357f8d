import { createHash, timingSafeEqual } from 'node:crypto';
import type { SandboxSession, SessionStore } from './contracts';
import { accessDenied, S3Error } from './s3-errors';
import { payloadMode, type PayloadMode } from './s3-payload';
import {
  ALGORITHM,
  canonicalRequest,
  parseAmzDate,
  parseAuthorizationHeader,
  parseCredential,
  parseSignedHeaders,
  signaturesEqual,
  signHex,
  signingKey,
  stringToSign,
  UNSIGNED_PAYLOAD,
  type CredentialScope,
  type QueryParam,
} from './sigv4';

/**
 * Authenticates an S3 request signed with SigV4, in the `Authorization` header or as a
 * presigned URL, against the sessions the local STS issued. The answers follow S3's:
 * `InvalidAccessKeyId`, `InvalidToken`, `ExpiredToken`, `RequestTimeTooSkewed`,
 * `SignatureDoesNotMatch`, `AccessDenied` "Request has expired"...
 */

export const S3_REGION = 'us-east-1';
export const S3_SERVICE = 's3';
/** S3 refuses header-signed requests more than 15 minutes off its clock. */
export const MAX_SKEW_MS = 15 * 60 * 1000;
/** Presigned URLs live at most 7 days. */
export const MAX_PRESIGNED_EXPIRES_S = 604800;

/** What the authenticator needs to see of a request. */
export interface SignedRequestView {
  readonly method: string;
  /** The path as sent, still percent-encoded. */
  readonly rawPath: string;
  /** The decoded query, in the order sent. */
  readonly query: readonly QueryParam[];
  /** Every value of a header (lower-case name), or undefined when absent. */
  readonly header: (name: string) => readonly string[] | undefined;
  /** Lower-case names of every header present. */
  readonly headerNames: readonly string[];
}

/** A request whose signature checked out. */
export interface AuthenticatedRequest {
  readonly session: SandboxSession;
  readonly presigned: boolean;
  /** The declared payload (`x-amz-content-sha256`, or unsigned for presigned URLs). */
  readonly payload: PayloadMode;
  readonly amzDate: string;
  readonly scope: CredentialScope;
  readonly signature: string;
  /** The derived signing key, for chunk signatures; never logged or echoed. */
  readonly signingKey: Buffer;
}

/** Query parameters of SigV4 presigned URLs; stripped before the request goes to s3rver. */
export const PRESIGN_PARAMS = [
  'X-Amz-Algorithm',
  'X-Amz-Credential',
  'X-Amz-Date',
  'X-Amz-Expires',
  'X-Amz-SignedHeaders',
  'X-Amz-Signature',
  'X-Amz-Security-Token',
  'X-Amz-Content-Sha256',
];

const single = (view: SignedRequestView, name: string): string | undefined => {
  const values = view.header(name);
  return values === undefined ? undefined : values.join(',');
};

function queryValue(query: readonly QueryParam[], name: string): string | undefined {
  const found = query.filter(([n]) => n === name);
  if (found.length > 1) {
    throw new S3Error('AuthorizationQueryParametersError', `${name} is given more than once.`);
  }
  return found[0]?.[1];
}

/** Secrets are compared by hash so their lengths do not leak through the timing either. */
function secretEquals(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

export function authenticate(
  view: SignedRequestView,
  sessions: SessionStore,
  now: number,
): AuthenticatedRequest {
  const authorization = single(view, 'authorization');
  const hasQueryAuth = view.query.some(
    ([n]) => n === 'X-Amz-Algorithm' || n === 'X-Amz-Credential' || n === 'X-Amz-Signature',
  );
  const hasV2 = view.query.some(([n]) => n === 'Signature' || n === 'AWSAccessKeyId');
  if (authorization !== undefined && (hasQueryAuth || hasV2)) {
    throw new S3Error(
      'InvalidArgument',
      'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified',
    );
  }
  if (hasV2 || authorization?.startsWith('AWS ')) {
    throw new S3Error(
      'InvalidRequest',
      'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.',
    );
  }
  if (authorization !== undefined) return fromHeader(view, authorization, sessions, now);
  if (hasQueryAuth) return fromQuery(view, sessions, now);
  // S3 answers an anonymous request for a private bucket with a plain AccessDenied.
  throw accessDenied('Access Denied: the request is not signed (anonymous access is not allowed)');
}

function fromHeader(
  view: SignedRequestView,
  authorization: string,
  sessions: SessionStore,
  now: number,
): AuthenticatedRequest {
  const parsed = parseAuthorizationHeader(authorization);
  if (typeof parsed === 'string') {
    throw new S3Error(
      'AuthorizationHeaderMalformed',
      `The authorization header is malformed; ${parsed}.`,
    );
  }
  const amzDate = single(view, 'x-amz-date');
  const date = amzDate === undefined ? NaN : parseAmzDate(amzDate);
  if (amzDate === undefined || Number.isNaN(date)) {
    throw accessDenied('AWS authentication requires a valid Date or x-amz-date header');
  }
  checkScope(parsed.credential.scope, amzDate, 'AuthorizationHeaderMalformed');
  const declared = single(view, 'x-amz-content-sha256');
  if (declared === undefined) {
    throw new S3Error(
      'InvalidRequest',
      'Missing required header for this request: x-amz-content-sha256',
    );
  }
  const payload = payloadMode(declared);
  if (!payload) {
    throw new S3Error(
      'InvalidArgument',
      'x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER], or a valid sha256 value.',
      { ArgumentName: 'x-amz-content-sha256', ArgumentValue: declared },
    );
  }
  checkSignedHeaderSet(view, parsed.signedHeaders);
  const session = sessionFor(
    sessions,
    parsed.credential.accessKeyId,
    single(view, 'x-amz-security-token'),
    now,
  );
  if (Math.abs(now - date) > MAX_SKEW_MS) {
    throw new S3Error(
      'RequestTimeTooSkewed',
      'The difference between the request time and the current time is too large.',
      {
        RequestTime: amzDate,
        ServerTime: iso(now),
        MaxAllowedSkewMilliseconds: String(MAX_SKEW_MS),
      },
    );
  }
  return verify(view, {
    session,
    presigned: false,
    payload,
    amzDate,
    scope: parsed.credential.scope,
    signature: parsed.signature,
    signedHeaders: parsed.signedHeaders,
    payloadHash: declared,
    query: view.query,
  });
}

function fromQuery(
  view: SignedRequestView,
  sessions: SessionStore,
  now: number,
): AuthenticatedRequest {
  const get = (name: string) => queryValue(view.query, name);
  const algorithm = get('X-Amz-Algorithm');
  if (algorithm !== ALGORITHM) {
    throw new S3Error(
      'AuthorizationQueryParametersError',
      'X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"',
    );
  }
  const credentialValue = get('X-Amz-Credential');
  const amzDate = get('X-Amz-Date');
  const expiresValue = get('X-Amz-Expires');
  const signedHeadersValue = get('X-Amz-SignedHeaders');
  const signature = get('X-Amz-Signature');
  if (
    credentialValue === undefined ||
    amzDate === undefined ||
    expiresValue === undefined ||
    signedHeadersValue === undefined ||
    signature === undefined
  ) {
    throw new S3Error(
      'AuthorizationQueryParametersError',
      'Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.',
    );
  }
  const credential = parseCredential(credentialValue);
  if (!credential) {
    throw new S3Error(
      'AuthorizationQueryParametersError',
      'Error parsing the X-Amz-Credential parameter; the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".',
    );
  }
  const date = parseAmzDate(amzDate);
  if (Number.isNaN(date)) {
    throw new S3Error(
      'AuthorizationQueryParametersError',
      "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"",
    );
  }
  if (!/^\d{1,7}$/.test(expiresValue)) {
    throw new S3Error('AuthorizationQueryParametersError', 'X-Amz-Expires should be a number');
  }
  const expires = Number(expiresValue);
  if (expires > MAX_PRESIGNED_EXPIRES_S) {
    throw new S3Error(
      'AuthorizationQueryParametersError',
      'X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than 604800 seconds',
    );
  }
  checkScope(credential.scope, amzDate, 'AuthorizationQueryParametersError');
  const signedHeaders = parseSignedHeaders(signedHeadersValue);
  if (typeof signedHeaders === 'string') {
    throw new S3Error('AuthorizationQueryParametersError', signedHeaders);
  }
  checkSignedHeaderSet(view, signedHeaders);
  const session = sessionFor(sessions, credential.accessKeyId, get('X-Amz-Security-Token'), now);
  if (now > date + expires * 1000) {
    throw new S3Error('AccessDenied', 'Request has expired', {
      'X-Amz-Expires': expiresValue,
      Expires: iso(date + expires * 1000),
      ServerTime: iso(now),
    });
  }
  if (date - now > MAX_SKEW_MS) {
    throw new S3Error('AccessDenied', 'Request is not valid yet', {
      'X-Amz-Date': amzDate,
      ServerTime: iso(now),
    });
  }
  // A presigned request signs `UNSIGNED-PAYLOAD` (or what X-Amz-Content-Sha256 says); a
  // body hash the client adds as a header is still checked against the body.
  const payloadHash = get('X-Amz-Content-Sha256') ?? UNSIGNED_PAYLOAD;
  const payload = payloadMode(single(view, 'x-amz-content-sha256') ?? payloadHash);
  if (!payload) {
    throw new S3Error(
      'InvalidArgument',
      'x-amz-content-sha256 is not a valid payload declaration.',
    );
  }
  return verify(view, {
    session,
    presigned: true,
    payload,
    amzDate,
    scope: credential.scope,
    signature,
    signedHeaders,
    payloadHash,
    query: view.query.filter(([n]) => n !== 'X-Amz-Signature'),
  });
}

function checkScope(scope: CredentialScope, amzDate: string, code: string): void {
  if (scope.date !== amzDate.slice(0, 8)) {
    throw new S3Error(
      code,
      `Invalid credential date "${scope.date}". This date is not the same as X-Amz-Date: "${amzDate.slice(0, 8)}".`,
    );
  }
  if (scope.region !== S3_REGION) {
    throw new S3Error(
      code,
      `The authorization header is malformed; the region '${scope.region}' is wrong; expecting '${S3_REGION}'`,
      {
        Region: S3_REGION,
      },
    );
  }
  if (scope.service !== S3_SERVICE) {
    throw new S3Error(
      code,
      `The authorization header is malformed; incorrect service "${scope.service}". This endpoint belongs to "${S3_SERVICE}".`,
    );
  }
}

/**
 * `host` must be signed, and so must every `x-amz-*` header that is present: otherwise a
 * header that changes what the request does (`x-amz-copy-source`, `x-amz-metadata-directive`)
 * could be added to a signed request or a presigned URL.
 */
function checkSignedHeaderSet(view: SignedRequestView, signedHeaders: readonly string[]): void {
  if (!signedHeaders.includes('host')) {
    throw accessDenied('The host header must be signed (SignedHeaders must include host).');
  }
  const unsigned = view.headerNames.filter(
    (n) => n.startsWith('x-amz-') && !signedHeaders.includes(n),
  );
  if (unsigned.length > 0) {
    throw new S3Error(
      'AccessDenied',
      'There were headers present in the request which were not signed',
      {
        HeadersNotSigned: unsigned.join(', '),
      },
    );
  }
}

function sessionFor(
  sessions: SessionStore,
  accessKeyId: string,
  token: string | undefined,
  now: number,
): SandboxSession {
  const session = sessions.get(accessKeyId);
  // S3 looks a temporary access key up only together with its session token: without the
  // token the key does not exist (403 InvalidAccessKeyId); a wrong token is InvalidToken.
  if (!session || token === undefined) {
    throw new S3Error(
      'InvalidAccessKeyId',
      'The AWS Access Key Id you provided does not exist in our records.',
      {
        AWSAccessKeyId: accessKeyId,
      },
    );
  }
  if (!secretEquals(token, session.sessionToken)) {
    throw new S3Error('InvalidToken', 'The provided token is malformed or otherwise invalid.');
  }
  if (now >= session.expiration) {
    throw new S3Error('ExpiredToken', 'The provided token has expired.');
  }
  return session;
}

interface VerifyInput {
  readonly session: SandboxSession;
  readonly presigned: boolean;
  readonly payload: PayloadMode;
  readonly amzDate: string;
  readonly scope: CredentialScope;
  readonly signature: string;
  readonly signedHeaders: readonly string[];
  readonly payloadHash: string;
  readonly query: readonly QueryParam[];
}

const REDACTED = '[session token]';

function verify(view: SignedRequestView, input: VerifyInput): AuthenticatedRequest {
  const canonicalFor = (redact: boolean) =>
    canonicalRequest({
      method: view.method,
      rawPath: view.rawPath,
      query: redact
        ? input.query.map(([n, v]) => [n, n === 'X-Amz-Security-Token' ? REDACTED : v] as const)
        : input.query,
      signedHeaders: input.signedHeaders,
      headerValues: (name) =>
        redact && name === 'x-amz-security-token' ? [REDACTED] : view.header(name),
      payloadHash: input.payloadHash,
    });
  const toSign = stringToSign(input.amzDate, input.scope, canonicalFor(false));
  const key = signingKey(input.session.secretAccessKey, input.scope);
  if (!signaturesEqual(signHex(key, toSign), input.signature)) {
    throw new S3Error(
      'SignatureDoesNotMatch',
      'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
      {
        AWSAccessKeyId: input.session.accessKeyId,
        StringToSign: toSign,
        // The session token is replaced: this element exists to debug clients, not to leak.
        CanonicalRequestRedacted: canonicalFor(true),
      },
    );
  }
  return {
    session: input.session,
    presigned: input.presigned,
    payload: input.payload,
    amzDate: input.amzDate,
    scope: input.scope,
    signature: input.signature,
    signingKey: key,
  };
}
