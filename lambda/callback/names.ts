/**
 * Object names and folders (object-name-validated, listed-names-round-trip, folder-within-prefix).
 * A key is only ever built as the user's own prefix plus a name or folder that passed one of
 * these checks, so it always starts with the own prefix; IAM confines the user to it anyway.
 *
 * Two strictnesses: a NEW name from the upload page must be a plain file name; a name that
 * already exists under the own prefix (put there by the AWS CLI or an SDK, and read back from
 * the user's own listing) is taken byte-exact, so every listed object can be deleted, and
 * downloaded unless a browser would rewrite its URL (a `.` or `..` segment).
 */

const MAX_KEY_BYTES = 1024;
// Control characters (incl. NUL): never in a new name or a folder the page opens; an existing
// object's name may hold them (forms and headers carry them encoded, logs never carry names).
export const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
// Path separators, and wildcard characters that IAM resource matching and policy tools would
// read as patterns: fine in an existing key, never put into a new one by the page.
const NOT_IN_NEW_NAMES = /[/\\*?]/;

/** Half a UTF-16 surrogate pair: no S3 key holds one, and URL encoding throws on it. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export type NameCheck = { ok: true; name: string } | { ok: false; reason: string };

/** A `.` or `..` segment: a browser or proxy would resolve it and climb out of the prefix. */
const hasDotSegment = (name: string): boolean =>
  name.split('/').some((segment) => segment === '.' || segment === '..');

function tooLong(prefix: string, name: string): string | undefined {
  if (Buffer.byteLength(prefix + name, 'utf8') <= MAX_KEY_BYTES) return undefined;
  return `That name is too long (at most ${MAX_KEY_BYTES - Buffer.byteLength(prefix, 'utf8')} bytes).`;
}

/**
 * A NEW file name from the upload page (object-name-validated). Normalised to NFC, so the
 * same file picked on macOS and elsewhere gets one key.
 * @param prefix everything the key has before the name (own prefix and folder), for the length
 */
export function checkObjectName(raw: unknown, prefix: string): NameCheck {
  if (typeof raw !== 'string' || raw.length === 0)
    return { ok: false, reason: 'A file name is required.' };
  const name = raw.normalize('NFC');
  if (name === '.' || name === '..') return { ok: false, reason: 'That file name is not allowed.' };
  if (CONTROL.test(name) || NOT_IN_NEW_NAMES.test(name)) {
    return { ok: false, reason: 'File names cannot contain /, \\, *, ? or control characters.' };
  }
  if (name.trim() !== name)
    return { ok: false, reason: 'File names cannot start or end with spaces.' };
  // A percent-escape (%2F) in a new name is an encoded separator waiting for a second
  // decode somewhere downstream; refuse it rather than guess (object-name-validated).
  if (/%[0-9a-f]{2}/i.test(name))
    return { ok: false, reason: 'File names cannot contain percent-escapes such as %2F.' };
  const long = tooLong(prefix, name);
  return long ? { ok: false, reason: long } : { ok: true, name };
}

/** What an existing object's name is checked for: its download link, or its delete form. */
export type StoredNameUse = 'download' | 'delete';

/** Why an existing folder cannot be opened, if it cannot. */
function folderProblem(raw: string, prefix: string): string | undefined {
  if (CONTROL.test(raw)) return 'Folder names with control characters cannot be used here.';
  if (LONE_SURROGATE.test(raw)) return 'That folder name is not valid text.';
  if (hasDotSegment(raw))
    return 'Folder names with a "." or ".." path segment cannot be used here.';
  return tooLong(prefix, raw);
}

/**
 * Why a browser cannot download a name: the presigned URL carries the key in its path, and
 * a browser resolves `.` and `..` segments (also as `%2e%2e`) there before sending, so it
 * would ask S3 for another key. Deleting needs no URL: the key travels in the form's body.
 */
export const NO_BROWSER_DOWNLOAD =
  'A browser cannot download a name with a "." or ".." segment: it resolves the segment in the download URL and would ask for another file. Use the AWS CLI or an SDK to download it; you can delete it here.';

/**
 * The name of an EXISTING object, relative to the own prefix, for download or delete
 * (listed-names-round-trip): taken byte-exact, never normalised, so whatever the listing
 * showed (NFD, `/`, `\`, `?`, `%41`, spaces at either end, control characters) reaches
 * exactly that key. The key is the own prefix + this name, so it starts with the own prefix
 * whatever the name holds: S3 keys are flat, and a `..` segment climbs nowhere there.
 * Only a download refuses a `.` or `..` segment ({@link NO_BROWSER_DOWNLOAD}).
 */
export function checkStoredName(raw: unknown, prefix: string, use: StoredNameUse): NameCheck {
  if (typeof raw !== 'string' || raw.length === 0)
    return { ok: false, reason: 'A file name is required.' };
  if (LONE_SURROGATE.test(raw)) return { ok: false, reason: 'That file name is not valid text.' };
  if (use === 'download' && hasDotSegment(raw)) return { ok: false, reason: NO_BROWSER_DOWNLOAD };
  const long = tooLong(prefix, raw);
  return long ? { ok: false, reason: long } : { ok: true, name: raw };
}

/**
 * A folder below the own prefix (folder-within-prefix): empty for the top, else ending in `/`,
 * as S3 returns common prefixes. Taken byte-exact like stored names.
 */
export function checkFolder(raw: unknown, prefix: string): NameCheck {
  if (raw === null || raw === undefined || raw === '') return { ok: true, name: '' };
  if (typeof raw !== 'string' || !raw.endsWith('/'))
    return { ok: false, reason: 'A folder name ends with "/".' };
  const problem = folderProblem(raw, prefix);
  return problem ? { ok: false, reason: problem } : { ok: true, name: raw };
}

/**
 * A subject becomes part of an S3 prefix through an IAM policy variable
 * (`users/<provider>/${...:sub}/`): `/` or `\` would nest into another user's prefix,
 * `*` `?` are IAM wildcards, `$` starts a policy variable, control characters and more
 * than 255 bytes break keys. Such a sign-in is refused, for every family (subject-safe-for-prefix).
 */
export function isSafeSubject(subject: unknown): subject is string {
  return (
    typeof subject === 'string' &&
    subject.length > 0 &&
    Buffer.byteLength(subject, 'utf8') <= 255 &&
    !/[\u0000-\u001f\u007f-\u009f/\\*?$]/.test(subject)
  );
}
