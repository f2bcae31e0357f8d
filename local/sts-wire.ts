import { createHash, randomBytes } from 'node:crypto';

/**
 * The AWS Query wire format of the local STS: the XML the AWS SDKs, the AWS CLI and boto3
 * parse, the error envelope, and credential material shaped like AWS's. No policy logic.
 */

export const STS_VERSION = '2011-06-15';
export const STS_XML_NAMESPACE = 'https://sts.amazonaws.com/doc/2011-06-15/';

/** An STS error as it goes on the wire: code, HTTP status, message. */
export class StsError extends Error {
  constructor(
    public readonly code: string,
    public readonly status: number,
    message: string,
    /** `Sender` for the caller's fault, `Receiver` for ours (the SDKs retry those). */
    public readonly type: 'Sender' | 'Receiver' = 'Sender',
  ) {
    super(message);
    this.name = 'StsError';
  }
}

/**
 * Escapes text for an XML element (text only: no value ever goes into an attribute, so
 * quotes stay readable, as in STS's own messages). Characters XML 1.0 cannot carry at all (controls,
 * lone surrogates), which a refused RoleSessionName may echo, become U+FFFD: one bad
 * character must not make the SDK's parser drop the whole error.
 */
export function xmlEscape(value: string | number): string {
  return String(value)
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, '\uFFFD')
    .replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;');
}

const element = (name: string, value: string | number): string =>
  `<${name}>${xmlEscape(value)}</${name}>`;

/** What one successful `AssumeRoleWithWebIdentity` returns. */
export interface WebIdentityAssumption {
  readonly subjectFromWebIdentityToken: string;
  readonly audience: string;
  readonly provider: string;
  readonly assumedRoleArn: string;
  readonly assumedRoleId: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string;
  /** ms since the epoch, whole seconds */
  readonly expiration: number;
  /** Percent of the packed policy limit; only when a session policy was passed. */
  readonly packedPolicySize?: number;
}

/** ISO 8601 without milliseconds, as STS writes `Expiration`. */
export const isoSeconds = (ms: number): string =>
  new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/**
 * The success body. Element names are the contract: a misspelled
 * `AssumeRoleWithWebIdentityResult` parses to `Credentials: undefined` without any error.
 */
export function assumptionXml(result: WebIdentityAssumption, requestId: string): string {
  return (
    `<AssumeRoleWithWebIdentityResponse xmlns="${STS_XML_NAMESPACE}">` +
    '<AssumeRoleWithWebIdentityResult>' +
    element('SubjectFromWebIdentityToken', result.subjectFromWebIdentityToken) +
    element('Audience', result.audience) +
    '<AssumedRoleUser>' +
    element('Arn', result.assumedRoleArn) +
    element('AssumedRoleId', result.assumedRoleId) +
    '</AssumedRoleUser>' +
    '<Credentials>' +
    element('AccessKeyId', result.accessKeyId) +
    element('SecretAccessKey', result.secretAccessKey) +
    element('SessionToken', result.sessionToken) +
    element('Expiration', isoSeconds(result.expiration)) +
    '</Credentials>' +
    element('Provider', result.provider) +
    (result.packedPolicySize !== undefined
      ? element('PackedPolicySize', result.packedPolicySize)
      : '') +
    '</AssumeRoleWithWebIdentityResult>' +
    `<ResponseMetadata>${element('RequestId', requestId)}</ResponseMetadata>` +
    '</AssumeRoleWithWebIdentityResponse>'
  );
}

/** The error body; the SDKs map `Code` to their exception classes. */
export function errorXml(error: StsError, requestId: string): string {
  return (
    `<ErrorResponse xmlns="${STS_XML_NAMESPACE}">` +
    '<Error>' +
    element('Type', error.type) +
    element('Code', error.code) +
    element('Message', error.message) +
    '</Error>' +
    element('RequestId', requestId) +
    '</ErrorResponse>'
  );
}

const UPPER_ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/** `length` characters drawn uniformly from `alphabet` (rejection sampling, no modulo bias). */
function randomString(length: number, alphabet: string): string {
  const limit = 256 - (256 % alphabet.length);
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < limit && out.length < length) out += alphabet[byte % alphabet.length];
    }
  }
  return out;
}

/** Fresh temporary credentials, shaped like AWS's so clients and validators accept them. */
export function newCredentials(): {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
} {
  return {
    // `ASIA` marks temporary credentials (permanent ones start `AKIA`).
    accessKeyId: `ASIA${randomString(16, UPPER_ALPHANUMERIC)}`,
    // 30 random bytes are exactly 40 base64 characters, AWS's secret length and alphabet.
    secretAccessKey: randomBytes(30).toString('base64'),
    // Real session tokens are long opaque base64 (with `+`, `/`): clients must URL-encode
    // them in presigned URLs, so the sandbox makes them just as awkward.
    sessionToken: randomBytes(384).toString('base64'),
  };
}

/**
 * A role's unique id (`AROA` + 17 characters), stable per role ARN like the real one, so
 * `AssumedRoleId` (`<role id>:<session name>`) is the same for every session of a role.
 */
export function roleUniqueId(roleArn: string): string {
  const digest = createHash('sha256').update(roleArn).digest();
  let id = 'AROA';
  for (let i = 0; id.length < 21; i++) id += UPPER_ALPHANUMERIC[digest[i] % 36];
  return id;
}
