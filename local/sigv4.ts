import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/**
 * AWS Signature Version 4 as S3 verifies it, hand-written so every step is visible and
 * testable on its own (the tests check it against AWS's published examples and against the
 * real AWS SDK): canonical request, string to sign, signing key, and the chained signatures
 * of `aws-chunked` payloads. No I/O and no S3 error codes here; `local/s3-auth.ts` maps
 * failures to S3's answers.
 *
 * S3 specifics (they differ from the other services):
 * - the canonical URI is the path exactly as sent: S3 clients encode each key once and S3
 *   does not encode it again, nor normalize `.` / `..` segments or double slashes;
 * - the payload hash is the `x-amz-content-sha256` header (or `UNSIGNED-PAYLOAD`,
 *   `STREAMING-...`), not a hash the server computes for the canonical request.
 */

export const ALGORITHM = 'AWS4-HMAC-SHA256';
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';

/** The `<date>/<region>/<service>/aws4_request` part of a credential. */
export interface CredentialScope {
  /** `YYYYMMDD` */
  readonly date: string;
  readonly region: string;
  readonly service: string;
}

export const scopeString = (scope: CredentialScope): string =>
  `${scope.date}/${scope.region}/${scope.service}/aws4_request`;

export const sha256Hex = (data: string | Buffer): string =>
  createHash('sha256').update(data).digest('hex');

/**
 * RFC 3986 percent-encoding as SigV4 defines it: unreserved characters
 * (`A-Z a-z 0-9 - . _ ~`) stay, every other UTF-8 byte becomes `%XX` (upper case).
 */
export function uriEncode(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase(),
  );
}

/** One query parameter, decoded. Order and duplicates are kept as sent. */
export type QueryParam = readonly [name: string, value: string];

/**
 * Splits a raw query string (without `?`) into decoded parameters. `+` stays a plus sign:
 * SigV4 clients encode spaces as `%20`. Throws URIError on malformed percent-encoding.
 */
export function parseQuery(raw: string): QueryParam[] {
  const params: QueryParam[] = [];
  for (const piece of raw.split('&')) {
    if (piece === '') continue;
    const eq = piece.indexOf('=');
    const name = eq === -1 ? piece : piece.slice(0, eq);
    const value = eq === -1 ? '' : piece.slice(eq + 1);
    params.push([decodeURIComponent(name), decodeURIComponent(value)]);
  }
  return params;
}

/** The canonical query string: every parameter re-encoded, sorted by name then value. */
export function canonicalQueryString(params: readonly QueryParam[]): string {
  return params
    .map(([name, value]) => [uriEncode(name), uriEncode(value)] as const)
    .sort(([an, av], [bn, bv]) => compareBytes(an, bn) || compareBytes(av, bv))
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
}

/** Code-point order of two ASCII strings, as SigV4 sorts (encoded names are ASCII). */
function compareBytes(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** `trimall`: leading/trailing whitespace removed, inner runs collapsed to one space. */
const canonicalHeaderValue = (value: string): string => value.trim().replace(/\s+/g, ' ');

/**
 * The canonical headers block (each line ends with `\n`). `values(name)` returns every value
 * of a header as received (several lines of the same header are joined with `,`); an absent
 * signed header contributes an empty value, so the signature simply does not match.
 */
export function canonicalHeaders(
  signedHeaders: readonly string[],
  values: (name: string) => readonly string[] | undefined,
): string {
  return signedHeaders
    .map((name) => `${name}:${(values(name) ?? []).map(canonicalHeaderValue).join(',')}\n`)
    .join('');
}

export interface CanonicalRequestInput {
  readonly method: string;
  /** The path exactly as it was sent (still percent-encoded). */
  readonly rawPath: string;
  /** The query without `X-Amz-Signature`. */
  readonly query: readonly QueryParam[];
  readonly signedHeaders: readonly string[];
  readonly headerValues: (name: string) => readonly string[] | undefined;
  /** `x-amz-content-sha256`, `UNSIGNED-PAYLOAD` or a `STREAMING-...` marker. */
  readonly payloadHash: string;
}

export function canonicalRequest(input: CanonicalRequestInput): string {
  return [
    input.method.toUpperCase(),
    input.rawPath === '' ? '/' : input.rawPath,
    canonicalQueryString(input.query),
    canonicalHeaders(input.signedHeaders, input.headerValues),
    input.signedHeaders.join(';'),
    input.payloadHash,
  ].join('\n');
}

export function stringToSign(amzDate: string, scope: CredentialScope, canonical: string): string {
  return [ALGORITHM, amzDate, scopeString(scope), sha256Hex(canonical)].join('\n');
}

const hmac = (key: Buffer | string, data: string): Buffer =>
  createHmac('sha256', key).update(data, 'utf8').digest();

/** `kSigning` = HMAC chain over date, region, service and `aws4_request`. */
export function signingKey(secretAccessKey: string, scope: CredentialScope): Buffer {
  const kDate = hmac(`AWS4${secretAccessKey}`, scope.date);
  const kRegion = hmac(kDate, scope.region);
  const kService = hmac(kRegion, scope.service);
  return hmac(kService, 'aws4_request');
}

export const signHex = (key: Buffer, toSign: string): string => hmac(key, toSign).toString('hex');

/**
 * String to sign of one `aws-chunked` chunk (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD`): each
 * chunk's signature chains on the previous one, starting from the request's signature.
 */
export function chunkStringToSign(
  amzDate: string,
  scope: CredentialScope,
  previousSignature: string,
  chunk: Buffer,
): string {
  return [
    'AWS4-HMAC-SHA256-PAYLOAD',
    amzDate,
    scopeString(scope),
    previousSignature,
    EMPTY_SHA256,
    sha256Hex(chunk),
  ].join('\n');
}

/** String to sign of the trailing headers (`...-PAYLOAD-TRAILER`), chained on the last chunk. */
export function trailerStringToSign(
  amzDate: string,
  scope: CredentialScope,
  previousSignature: string,
  trailer: readonly QueryParam[],
): string {
  const canonical = trailer.map(([name, value]) => `${name}:${value.trim()}\n`).join('');
  return [
    'AWS4-HMAC-SHA256-TRAILER',
    amzDate,
    scopeString(scope),
    previousSignature,
    sha256Hex(canonical),
  ].join('\n');
}

/** Constant-time comparison of two hex signatures (false when either is not 64 hex digits). */
export function signaturesEqual(expected: string, provided: string): boolean {
  if (!/^[0-9a-f]{64}$/.test(provided) || !/^[0-9a-f]{64}$/.test(expected)) return false;
  return timingSafeEqual(Buffer.from(expected, 'hex'), Buffer.from(provided, 'hex'));
}

/** `YYYYMMDDTHHMMSSZ` -> ms since the epoch, or NaN. */
export function parseAmzDate(value: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return NaN;
  const [, y, mo, d, h, mi, s] = m.map(Number);
  const ms = Date.UTC(y, mo - 1, d, h, mi, s);
  // Reject impossible dates that Date.UTC would roll over (20240231).
  return new Date(ms).getUTCDate() === d ? ms : NaN;
}

/** ms since the epoch -> `YYYYMMDDTHHMMSSZ`. */
export const formatAmzDate = (ms: number): string =>
  new Date(ms).toISOString().replace(/[-:]|\.\d{3}/g, '');

/** The parts of `Credential=AKID/20130524/us-east-1/s3/aws4_request`. */
export interface ParsedCredential {
  readonly accessKeyId: string;
  readonly scope: CredentialScope;
}

/** Parses a credential; undefined when it does not have the five parts. */
export function parseCredential(value: string): ParsedCredential | undefined {
  const parts = value.split('/');
  if (parts.length !== 5 || parts[4] !== 'aws4_request' || parts[0] === '') return undefined;
  const [accessKeyId, date, region, service] = parts;
  if (!/^\d{8}$/.test(date)) return undefined;
  return { accessKeyId, scope: { date, region, service } };
}

/** The three components of a SigV4 `Authorization` header. */
export interface ParsedAuthorization {
  readonly credential: ParsedCredential;
  readonly signedHeaders: string[];
  readonly signature: string;
}

/**
 * Parses `AWS4-HMAC-SHA256 Credential=..., SignedHeaders=a;b, Signature=hex`. Returns a
 * string saying what is wrong when it is malformed.
 */
export function parseAuthorizationHeader(value: string): ParsedAuthorization | string {
  const space = value.indexOf(' ');
  const algorithm = space === -1 ? value : value.slice(0, space);
  if (algorithm !== ALGORITHM) return `unsupported authorization type '${algorithm}'`;
  const components = new Map<string, string>();
  for (const part of value.slice(space + 1).split(',')) {
    const eq = part.indexOf('=');
    if (eq === -1) return 'the authorization header is malformed';
    const name = part.slice(0, eq).trim();
    if (components.has(name)) return `the authorization header repeats ${name}`;
    components.set(name, part.slice(eq + 1).trim());
  }
  for (const name of ['Credential', 'SignedHeaders', 'Signature']) {
    if (!components.has(name)) return `the authorization header is missing ${name}`;
  }
  if (components.size !== 3) return 'the authorization header has unexpected components';
  const credential = parseCredential(components.get('Credential')!);
  if (!credential)
    return 'the Credential is malformed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request"';
  const signedHeaders = parseSignedHeaders(components.get('SignedHeaders')!);
  if (typeof signedHeaders === 'string') return signedHeaders;
  return { credential, signedHeaders, signature: components.get('Signature')! };
}

/** `host;x-amz-date` -> names; lower case, sorted and unique as SigV4 requires. */
export function parseSignedHeaders(value: string): string[] | string {
  const names = value.split(';');
  if (names.some((n) => n === '' || n !== n.toLowerCase() || /\s/.test(n))) {
    return `SignedHeaders must be lower-case names separated by ';', got '${value}'`;
  }
  const sorted = [...names].sort();
  if (sorted.some((n, i) => n !== names[i] || (i > 0 && n === sorted[i - 1]))) {
    return `SignedHeaders must be sorted and unique, got '${value}'`;
  }
  return names;
}
