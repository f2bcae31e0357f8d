import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * How an S3 key is stored in s3rver's file tree. s3rver turns each `/`-separated segment of
 * a key into a directory or file name, so a key S3 accepts (up to 1,024 bytes) can make a
 * name the file system refuses (255 bytes at most), and a few keys share files with others.
 * Every key therefore gets a storage key, segment by segment:
 *
 * - a segment that fits stays as it is (so existing data keeps its place);
 * - a segment that would be too long, that contains s3rver's own `._S3rver_` marker (a file
 *   of one key could be a directory of another), or that starts with `~~` becomes `~~` and
 *   the SHA-256 of the segment. Literal segments never start with `~~`, so the mapping stays
 *   one-to-one;
 * - an empty segment before the last (`a//b`, a leading `/`) becomes `~~`: the file system
 *   would merge it into its neighbours, making `a//b` the same file as `a/b`.
 *
 * Whole segments map to whole segments, so a prefix's complete segments map to the storage
 * prefix that holds every key under it. The hashed segments are kept, by hash, in a small
 * directory of their own (content-addressed: written once before the object, never changed),
 * so listings can turn storage keys back into keys.
 */

/** s3rver's longest per-key file suffix; the last segment plus it must fit a file name. */
const LONGEST_SUFFIX = '._S3rver_metadata.json';
/** File names are at most 255 bytes on the file systems the sandbox runs on. */
const MAX_NAME_BYTES = 255;
const MARK = '~~';
const HASHED = /^~~([0-9a-f]{64})$/;

const sha256 = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

function storedSegment(segment: string, last: boolean): string {
  if (segment === '') return last ? '' : MARK;
  const limit = last ? MAX_NAME_BYTES - LONGEST_SUFFIX.length : MAX_NAME_BYTES;
  if (
    Buffer.byteLength(segment, 'utf8') > limit ||
    segment.startsWith(MARK) ||
    segment.includes('._S3rver_')
  ) {
    return MARK + sha256(segment);
  }
  return segment;
}

/** The key s3rver stores `key` under; equal to `key` for every ordinary key. */
export function storageKey(key: string): string {
  const segments = key.split('/');
  return segments.map((s, i) => storedSegment(s, i === segments.length - 1)).join('/');
}

/**
 * The storage prefix under which every key starting with `prefix` is stored: the storage
 * form of its complete segments (a partial last segment may be hashed in the keys it starts).
 */
export function storagePrefix(prefix: string): string {
  const slash = prefix.lastIndexOf('/');
  return slash === -1 ? '' : storageKey(prefix.slice(0, slash + 1));
}

/** The hashed segments, by hash: what turns storage keys back into keys. */
export class SegmentStore {
  private readonly known = new Map<string, string>();

  constructor(private readonly directory: string) {
    fs.mkdirSync(directory, { recursive: true });
  }

  /** Records the hashed segments of `key`; call before the object is written. */
  async record(key: string): Promise<void> {
    const segments = key.split('/');
    for (const [i, segment] of segments.entries()) {
      const hashed = HASHED.exec(storedSegment(segment, i === segments.length - 1))?.[1];
      if (hashed === undefined || this.known.has(hashed)) continue;
      const file = path.join(this.directory, hashed);
      // Written aside and renamed, so a concurrent reader never sees half a segment.
      const temporary = `${file}.${randomBytes(6).toString('hex')}.tmp`;
      await fs.promises.writeFile(temporary, segment, 'utf8');
      await fs.promises.rename(temporary, file);
      this.known.set(hashed, segment);
    }
  }

  /** The key stored under `stored`, or undefined when a hashed segment is unknown. */
  async keyOf(stored: string): Promise<string | undefined> {
    const segments = stored.split('/');
    const out: string[] = [];
    for (const [i, segment] of segments.entries()) {
      if (segment === MARK && i < segments.length - 1) {
        out.push('');
        continue;
      }
      const hashed = HASHED.exec(segment)?.[1];
      if (hashed === undefined) {
        out.push(segment);
        continue;
      }
      const original = await this.segment(hashed);
      if (original === undefined) return undefined;
      out.push(original);
    }
    return out.join('/');
  }

  private async segment(hash: string): Promise<string | undefined> {
    const cached = this.known.get(hash);
    if (cached !== undefined) return cached;
    let text: string;
    try {
      text = await fs.promises.readFile(path.join(this.directory, hash), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
    // A damaged record must not rename an object: it is trusted only if it hashes right.
    if (sha256(text) !== hash) return undefined;
    this.known.set(hash, text);
    return text;
  }
}
