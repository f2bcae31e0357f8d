import { element, S3Error, S3_XMLNS, XML_DECLARATION, xmlUnescape } from './s3-errors';

/**
 * The small XML request bodies the proxy must read itself (DeleteObjects keys are
 * authorized one by one; CompleteMultipartUpload parts are checked before s3rver assembles
 * them) and the answers it writes for what it implements.
 */

const malformed = () =>
  new S3Error(
    'MalformedXML',
    'The XML you provided was not well-formed or did not validate against our published schema',
  );

/** The text of every `<name>` element directly in `xml` (no nesting of the same name). */
function elements(xml: string, name: string): string[] {
  const found: string[] = [];
  const re = new RegExp(
    `<${name}(?:\\s[^>]*)?>([\\s\\S]*?)</${name}>|<${name}(?:\\s[^>]*)?/>`,
    'g',
  );
  for (let m = re.exec(xml); m; m = re.exec(xml)) found.push(m[1] ?? '');
  return found;
}

function one(xml: string, name: string): string | undefined {
  const all = elements(xml, name);
  if (all.length > 1) throw malformed();
  return all[0] === undefined ? undefined : xmlUnescape(all[0]);
}

export interface DeleteRequest {
  readonly quiet: boolean;
  readonly objects: { readonly key: string; readonly versionId?: string }[];
}

/** Parses a DeleteObjects body: `<Delete><Object><Key>..</Key></Object>...<Quiet>..</Quiet></Delete>`. */
export function parseDeleteRequest(body: string): DeleteRequest {
  const deletes = elements(body, 'Delete');
  if (deletes.length !== 1) throw malformed();
  const objects = elements(deletes[0], 'Object').map((o) => {
    const key = one(o, 'Key');
    if (key === undefined || key === '') throw malformed();
    const versionId = one(o, 'VersionId');
    return versionId === undefined ? { key } : { key, versionId };
  });
  if (objects.length === 0 || objects.length > 1000) throw malformed();
  return { quiet: one(deletes[0], 'Quiet') === 'true', objects };
}

export function deleteResultXml(
  deleted: readonly { key: string; versionId?: string }[],
  errors: readonly { key: string; versionId?: string; code: string; message: string }[],
): string {
  const versionOf = (v?: string) => (v !== undefined ? element('VersionId', v) : '');
  return (
    `${XML_DECLARATION}<DeleteResult xmlns="${S3_XMLNS}">` +
    deleted
      .map((d) => `<Deleted>${element('Key', d.key)}${versionOf(d.versionId)}</Deleted>`)
      .join('') +
    errors
      .map(
        (e) =>
          `<Error>${element('Key', e.key)}${versionOf(e.versionId)}${element('Code', e.code)}${element('Message', e.message)}</Error>`,
      )
      .join('') +
    '</DeleteResult>'
  );
}

export interface CompletedPart {
  readonly partNumber: number;
  /** Without quotes. */
  readonly etag: string;
}

/** Parses a CompleteMultipartUpload body into its parts, in the order given. */
export function parseCompleteRequest(body: string): CompletedPart[] {
  const roots = elements(body, 'CompleteMultipartUpload');
  if (roots.length !== 1) throw malformed();
  const parts = elements(roots[0], 'Part').map((p) => {
    const number = one(p, 'PartNumber');
    const etag = one(p, 'ETag');
    if (number === undefined || !/^\d{1,5}$/.test(number.trim()) || etag === undefined)
      throw malformed();
    return { partNumber: Number(number.trim()), etag: etag.trim().replace(/"/g, '') };
  });
  if (parts.length === 0) throw malformed();
  return parts;
}

export interface StoredPart {
  readonly partNumber: number;
  readonly etag: string;
  readonly size: number;
  readonly lastModified: Date;
}

export function listPartsXml(
  upload: { bucket: string; key: string; uploadId: string },
  parts: readonly StoredPart[],
  marker: number,
  maxParts: number,
): string {
  const after = parts
    .filter((p) => p.partNumber > marker)
    .sort((a, b) => a.partNumber - b.partNumber);
  const page = after.slice(0, maxParts);
  const truncated = after.length > page.length;
  return (
    `${XML_DECLARATION}<ListPartsResult xmlns="${S3_XMLNS}">` +
    element('Bucket', upload.bucket) +
    element('Key', upload.key) +
    element('UploadId', upload.uploadId) +
    element('PartNumberMarker', marker) +
    (page.length > 0 ? element('NextPartNumberMarker', page[page.length - 1].partNumber) : '') +
    element('MaxParts', maxParts) +
    element('IsTruncated', truncated) +
    element('StorageClass', 'STANDARD') +
    page
      .map(
        (p) =>
          '<Part>' +
          element('PartNumber', p.partNumber) +
          element('LastModified', p.lastModified.toISOString()) +
          element('ETag', `"${p.etag}"`) +
          element('Size', p.size) +
          '</Part>',
      )
      .join('') +
    '</ListPartsResult>'
  );
}
