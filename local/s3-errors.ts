/**
 * S3's error answers: the code, the HTTP status S3 uses for it, and the XML body the AWS
 * SDKs parse (`<Error><Code>..</Code><Message>..</Message><Resource>..</Resource>
 * <RequestId>..</RequestId></Error>`; the SDK names its exception after `Code`).
 */

const STATUS: Readonly<Record<string, number>> = {
  AccessControlListNotSupported: 400,
  AccessDenied: 403,
  AccessForbidden: 403,
  AuthorizationHeaderMalformed: 400,
  AuthorizationQueryParametersError: 400,
  BadRequest: 400,
  BadDigest: 400,
  EntityTooLarge: 400,
  EntityTooSmall: 400,
  ExpiredToken: 400,
  IncompleteBody: 400,
  InternalError: 500,
  InvalidAccessKeyId: 403,
  InvalidArgument: 400,
  InvalidDigest: 400,
  InvalidEncryptionAlgorithmError: 400,
  InvalidPart: 400,
  InvalidPartOrder: 400,
  InvalidRequest: 400,
  InvalidToken: 400,
  InvalidURI: 400,
  KeyTooLongError: 400,
  MalformedXML: 400,
  MethodNotAllowed: 405,
  MissingContentLength: 411,
  NoSuchBucket: 404,
  NoSuchKey: 404,
  NoSuchUpload: 404,
  NotImplemented: 501,
  PreconditionFailed: 412,
  RequestTimeTooSkewed: 403,
  SignatureDoesNotMatch: 403,
  XAmzContentSHA256Mismatch: 400,
};

/** An S3 error answer. `detail` adds elements after `Message` (no secrets: they reach the client). */
export class S3Error extends Error {
  public readonly status: number;
  constructor(
    public readonly code: string,
    message: string,
    public readonly detail: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = 'S3Error';
    this.status = STATUS[code] ?? 500;
  }
}

export const accessDenied = (message = 'Access Denied'): S3Error =>
  new S3Error('AccessDenied', message);

/**
 * Escapes text for an XML element. Characters XML 1.0 cannot carry (controls, lone
 * surrogates), which S3 keys may contain, become U+FFFD so one odd key cannot make the
 * client's parser drop the whole document.
 */
export function xmlEscape(value: string | number | boolean): string {
  return String(value)
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, '\uFFFD')
    .replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

export const element = (name: string, value: string | number | boolean): string =>
  `<${name}>${xmlEscape(value)}</${name}>`;

export const XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n';
export const S3_XMLNS = 'http://s3.amazonaws.com/doc/2006-03-01/';

export function errorXml(error: S3Error, resource: string, requestId: string): string {
  return (
    XML_DECLARATION +
    '<Error>' +
    element('Code', error.code) +
    element('Message', error.message) +
    Object.entries(error.detail)
      .map(([name, value]) => element(name, value))
      .join('') +
    element('Resource', resource) +
    element('RequestId', requestId) +
    '</Error>'
  );
}

/** Decodes the five XML entities and numeric character references. */
export function xmlUnescape(value: string): string {
  return value.replace(
    /&(?:(amp|lt|gt|quot|apos)|#(\d+)|#x([0-9a-fA-F]+));/g,
    (m, named, dec, hex) => {
      if (named) return { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }[named as string]!;
      const code = dec !== undefined ? Number(dec) : parseInt(hex as string, 16);
      return code <= 0x10ffff ? String.fromCodePoint(code) : m;
    },
  );
}
