import { accessDenied, S3Error } from './s3-errors';

/**
 * The object keys a request names, as the local S3 checks them before any IAM check: the
 * keys the sandbox refuses (and S3's key length limit), and `x-amz-copy-source` parsed into
 * bucket, key and version. How a key is stored on disk is `s3-storage-keys.ts`.
 */

/**
 * Why the sandbox refuses a key, or undefined. Real S3 accepts both, but here they would
 * break a guarantee: iam-simulate treats `*` in a request resource as a wildcard (so
 * `users/google/*` would be "allowed" to every Google user), and s3rver maps keys to file
 * paths, resolving `..` segments (so `users/google/alice/../bob/x` would land in bob's files
 * after being authorized as alice's).
 */
export function keyProblem(key: string): string | undefined {
  if (key.includes('*')) {
    return "Access Denied: the sandbox refuses object keys containing '*' (its policy engine would read '*' in a resource as a wildcard, not as a character).";
  }
  if (key.split('/').some((s) => s === '.' || s === '..')) {
    return "Access Denied: the sandbox refuses object keys with '.' or '..' path segments (its file store would resolve them outside the key's prefix).";
  }
  if (key.includes('\u0000')) {
    return 'Access Denied: the sandbox refuses object keys containing NUL (its file store cannot hold them).';
  }
  return undefined;
}

/** Refuses a key longer than S3 allows, or one the sandbox refuses (`keyProblem`). */
export function checkKey(key: string): void {
  if (Buffer.byteLength(key) > 1024) {
    throw new S3Error('KeyTooLongError', 'Your key is too long', { MaxSizeAllowed: '1024' });
  }
  const problem = keyProblem(key);
  if (problem) throw accessDenied(problem);
}

/** Parses `x-amz-copy-source` (`[/]bucket/key[?versionId=v]`, URL-encoded). */
export function parseCopySource(value: string): {
  bucket: string;
  key: string;
  versionId?: string;
} {
  const q = value.indexOf('?');
  const path = q === -1 ? value : value.slice(0, q);
  let decoded: string;
  try {
    decoded = decodeURIComponent(path).replace(/^\//, '');
  } catch {
    throw new S3Error(
      'InvalidArgument',
      'Copy Source must mention the source bucket and key: sourcebucket/sourcekey',
      {
        ArgumentName: 'x-amz-copy-source',
      },
    );
  }
  const slash = decoded.indexOf('/');
  let versionId: string | undefined;
  if (q !== -1) {
    const params = new URLSearchParams(value.slice(q + 1));
    versionId = params.get('versionId') ?? undefined;
    if ([...params.keys()].some((k) => k !== 'versionId')) {
      throw new S3Error('InvalidArgument', 'Copy Source may only carry a versionId', {
        ArgumentName: 'x-amz-copy-source',
      });
    }
  }
  if (slash <= 0 || slash === decoded.length - 1) {
    throw new S3Error(
      'InvalidArgument',
      'Copy Source must mention the source bucket and key: sourcebucket/sourcekey',
      {
        ArgumentName: 'x-amz-copy-source',
      },
    );
  }
  return { bucket: decoded.slice(0, slash), key: decoded.slice(slash + 1), versionId };
}
