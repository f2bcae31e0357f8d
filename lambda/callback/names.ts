/**
 * Object names (object-name-validated). A key is only ever built as the user's own prefix plus a
 * name that passed this check, so a name can never climb out of the prefix.
 */

const MAX_KEY_BYTES = 1024;
// Control characters (incl. NUL), path separators, and wildcard characters that IAM
// resource matching and policy tools would read as patterns.
const FORBIDDEN = /[\u0000-\u001f\u007f-\u009f/\\*?]/;

export type NameCheck = { ok: true; name: string } | { ok: false; reason: string };

export function checkObjectName(raw: unknown, prefix: string): NameCheck {
  if (typeof raw !== 'string' || raw.length === 0)
    return { ok: false, reason: 'A file name is required.' };
  const name = raw.normalize('NFC');
  if (name === '.' || name === '..') return { ok: false, reason: 'That file name is not allowed.' };
  if (FORBIDDEN.test(name)) {
    return { ok: false, reason: 'File names cannot contain /, \\, *, ? or control characters.' };
  }
  if (name.trim() !== name)
    return { ok: false, reason: 'File names cannot start or end with spaces.' };
  // A percent-escape (%2F) in a name is an encoded separator waiting for a second
  // decode somewhere downstream; refuse it rather than guess (object-name-validated).
  if (/%[0-9a-f]{2}/i.test(name))
    return { ok: false, reason: 'File names cannot contain percent-escapes such as %2F.' };
  const bytes = Buffer.byteLength(prefix + name, 'utf8');
  if (bytes > MAX_KEY_BYTES) {
    return {
      ok: false,
      reason: `That file name is too long (at most ${MAX_KEY_BYTES - Buffer.byteLength(prefix, 'utf8')} bytes).`,
    };
  }
  return { ok: true, name };
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
