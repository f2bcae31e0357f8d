import { element, S3Error, S3_XMLNS, XML_DECLARATION } from './s3-errors';

/**
 * ListObjects and ListObjectsV2, answered by the proxy from s3rver's store. s3rver's own
 * listing cannot page: its V2 continuation tokens use DES, which OpenSSL 3 (Node 17+) only
 * has with `--openssl-legacy-provider`, and it walks the file tree in directory order,
 * which is not S3's key order (`a/b` before `a-b`), so pages could skip or repeat keys.
 * Here keys are sorted by UTF-8 bytes as S3 does, common prefixes count toward MaxKeys,
 * and a continuation token is the last entry returned.
 */

export interface ListedObject {
  readonly key: string;
  /** Quoted, as S3 writes it. */
  readonly etag: string;
  readonly size: number;
  readonly lastModified: Date;
}

export interface ListRequest {
  readonly prefix: string;
  readonly delimiter?: string;
  readonly maxKeys: number;
  /** V2 `start-after`: only keys after it. */
  readonly startAfter?: string;
  /** V1 `marker` or a V2 continuation token: only entries (keys or common prefixes) after it. */
  readonly marker?: string;
}

export interface ListPage {
  readonly contents: ListedObject[];
  readonly commonPrefixes: string[];
  readonly isTruncated: boolean;
  /** The last entry returned, when truncated. */
  readonly nextMarker?: string;
}

const compare = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));

export function listPage(objects: readonly ListedObject[], request: ListRequest): ListPage {
  const { prefix, delimiter, maxKeys, startAfter, marker } = request;
  if (maxKeys === 0) return { contents: [], commonPrefixes: [], isTruncated: false };
  const keys = objects
    .filter((o) => o.key.startsWith(prefix))
    .filter((o) => startAfter === undefined || startAfter === '' || compare(o.key, startAfter) > 0)
    .map((o) => ({ o, bytes: Buffer.from(o.key) }))
    .sort((a, b) => Buffer.compare(a.bytes, b.bytes))
    .map(({ o }) => o);
  const contents: ListedObject[] = [];
  const commonPrefixes: string[] = [];
  let last: string | undefined;
  let count = 0;
  for (const object of keys) {
    const at = delimiter ? object.key.indexOf(delimiter, prefix.length) : -1;
    const entry = at === -1 ? object.key : object.key.slice(0, at + delimiter!.length);
    // Keys under one common prefix are contiguous in sorted order.
    if (at !== -1 && entry === commonPrefixes[commonPrefixes.length - 1]) continue;
    if (marker !== undefined && marker !== '' && compare(entry, marker) <= 0) continue;
    if (count === maxKeys) return { contents, commonPrefixes, isTruncated: true, nextMarker: last };
    if (at === -1) contents.push(object);
    else commonPrefixes.push(entry);
    last = entry;
    count++;
  }
  return { contents, commonPrefixes, isTruncated: false };
}

/** Continuation tokens are opaque to clients; this one is the last entry, base64url. */
export const encodeToken = (marker: string): string =>
  Buffer.from(marker, 'utf8').toString('base64url');

export function decodeToken(token: string): string {
  const marker = Buffer.from(token, 'base64url').toString('utf8');
  if (token === '' || encodeToken(marker) !== token) {
    throw new S3Error('InvalidArgument', 'The continuation token provided is incorrect', {
      ArgumentName: 'continuation-token',
    });
  }
  return marker;
}

export function parseMaxKeys(value: string | undefined): number {
  if (value === undefined) return 1000;
  if (!/^\d{1,10}$/.test(value) || Number(value) > 2147483647) {
    throw new S3Error(
      'InvalidArgument',
      'Provided max-keys not an integer or within integer range',
      {
        ArgumentName: 'max-keys',
        ArgumentValue: value,
      },
    );
  }
  return Math.min(1000, Number(value));
}

const OWNER = '<Owner><ID>sandbox</ID><DisplayName>sandbox</DisplayName></Owner>';

/** Parameters of a ListObjects (V1) or ListObjectsV2 request, decoded. */
export interface ListQuery {
  readonly v2: boolean;
  readonly bucket: string;
  readonly query: ReadonlyMap<string, string>;
}

/** Turns the request into a `ListRequest` and renders its page as S3's XML. */
export function listObjectsXml(objects: readonly ListedObject[], list: ListQuery): string {
  const q = list.query;
  const encodingType = q.get('encoding-type');
  if (encodingType !== undefined && encodingType !== 'url') {
    throw new S3Error('InvalidArgument', 'Invalid Encoding Method specified in Request', {
      ArgumentName: 'encoding-type',
      ArgumentValue: encodingType,
    });
  }
  const enc = (s: string) => (encodingType === 'url' ? encodeURIComponent(s) : s);
  const prefix = q.get('prefix') ?? '';
  const delimiter = q.get('delimiter') || undefined;
  const maxKeys = parseMaxKeys(q.get('max-keys'));
  const token = list.v2 ? q.get('continuation-token') : undefined;
  const startAfter = list.v2 && token === undefined ? q.get('start-after') : undefined;
  const marker = list.v2 ? (token !== undefined ? decodeToken(token) : undefined) : q.get('marker');
  const page = listPage(objects, { prefix, delimiter, maxKeys, startAfter, marker });
  const withOwner = !list.v2 || q.get('fetch-owner') === 'true';
  const body = [
    element('Name', list.bucket),
    element('Prefix', enc(prefix)),
    delimiter !== undefined ? element('Delimiter', enc(delimiter)) : '',
    element('MaxKeys', maxKeys),
    encodingType ? element('EncodingType', encodingType) : '',
    list.v2
      ? element('KeyCount', page.contents.length + page.commonPrefixes.length) +
        (token !== undefined ? element('ContinuationToken', token) : '') +
        (page.isTruncated ? element('NextContinuationToken', encodeToken(page.nextMarker!)) : '') +
        (startAfter !== undefined ? element('StartAfter', enc(startAfter)) : '')
      : element('Marker', enc(marker ?? '')) +
        (page.isTruncated ? element('NextMarker', enc(page.nextMarker!)) : ''),
    element('IsTruncated', page.isTruncated),
    ...page.contents.map(
      (o) =>
        '<Contents>' +
        element('Key', enc(o.key)) +
        element('LastModified', o.lastModified.toISOString()) +
        element('ETag', o.etag) +
        element('Size', o.size) +
        (withOwner ? OWNER : '') +
        element('StorageClass', 'STANDARD') +
        '</Contents>',
    ),
    ...page.commonPrefixes.map(
      (p) => `<CommonPrefixes>${element('Prefix', enc(p))}</CommonPrefixes>`,
    ),
  ].join('');
  return `${XML_DECLARATION}<ListBucketResult xmlns="${S3_XMLNS}">${body}</ListBucketResult>`;
}
