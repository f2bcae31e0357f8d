import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CLI_REFRESH_MARGIN_MS, type CliTokenResponse } from '../common/cli-protocol';
import type { CliDeps } from './deps';
import { CliError } from './errors';
import { parseTokenResponse } from './token';

/** A cached sign-in: the app's whole token response and the app it came from. */
export interface CacheEntry extends CliTokenResponse {
  /** The app's origin. */
  readonly endpoint: string;
}

/** Which cache entry: one per app and `--provider` (none is its own entry). */
export interface CacheKey {
  readonly endpoint: string;
  readonly provider?: string;
}

type CacheDeps = Pick<CliDeps, 'env' | 'homedir' | 'cwd' | 'platform'>;

/** The cache directory: `WIF_CACHE_DIR`, else `$XDG_CACHE_HOME/wif`, else `~/.cache/wif`. */
export function cacheDir(deps: CacheDeps): string {
  const { WIF_CACHE_DIR: own, XDG_CACHE_HOME: xdg } = deps.env;
  if (own) return path.resolve(deps.cwd, own);
  // The XDG spec says to ignore a relative XDG_CACHE_HOME.
  if (xdg && path.isAbsolute(xdg)) return path.join(xdg, 'wif');
  return path.join(deps.homedir, '.cache', 'wif');
}

/** The entry's file: the SHA-256 of `<origin>\n<provider or "">`, in hex, `.json`. */
export function cacheFile(key: CacheKey, deps: CacheDeps): string {
  const name = createHash('sha256')
    .update(`${key.endpoint}\n${key.provider ?? ''}`)
    .digest('hex');
  return path.join(cacheDir(deps), `${name}.json`);
}

/** When the entry's credentials expire, in milliseconds since the epoch. */
export const expiresAt = (entry: CliTokenResponse): number =>
  Date.parse(entry.credentials.Expiration);

/** True while the credentials have more than `CLI_REFRESH_MARGIN_MS` (5 minutes) left (cli-cache-private). */
export const isFresh = (entry: CliTokenResponse, now: number): boolean =>
  expiresAt(entry) - now > CLI_REFRESH_MARGIN_MS;

/**
 * Reads the entry for `key`, or undefined when there is none usable: missing, not a plain
 * file, readable or writable by others or owned by someone else (POSIX), unparsable, or
 * for another app or provider. Never throws; expiry is the caller's decision
 * (cli-cache-private).
 */
export function readCache(key: CacheKey, deps: CacheDeps): CacheEntry | undefined {
  const file = cacheFile(key, deps);
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | (fs.constants.O_NOFOLLOW ?? 0));
  } catch {
    return undefined;
  }
  try {
    const stat = fs.fstatSync(fd);
    if (!stat.isFile()) return undefined;
    if (deps.platform !== 'win32') {
      if ((stat.mode & 0o077) !== 0) return undefined;
      const uid = process.getuid?.();
      if (uid !== undefined && stat.uid !== uid) return undefined;
    }
    const json = JSON.parse(fs.readFileSync(fd, 'utf8')) as Record<string, unknown>;
    const entry = parseTokenResponse(json);
    if (json.endpoint !== key.endpoint) return undefined;
    if (key.provider !== undefined && entry.provider !== key.provider) return undefined;
    return { ...entry, endpoint: key.endpoint };
  } catch {
    return undefined;
  } finally {
    fs.closeSync(fd);
  }
}

/** Deletes a leftover temporary file, if it is there and can be. */
export function removeQuietly(file: string): void {
  try {
    fs.rmSync(file, { force: true });
  } catch {
    // Nothing to clean up where nothing could be written.
  }
}

/**
 * Stores `response` for `key`: the directory is created 0700, the file written 0600 to a
 * temporary name in the same directory and renamed over the old entry (which also
 * replaces an entry with looser permissions; cli-cache-private). Throws a `CliError` when
 * it cannot.
 */
export function writeCache(key: CacheKey, response: CliTokenResponse, deps: CacheDeps): string {
  const file = cacheFile(key, deps);
  const dir = path.dirname(file);
  const posix = deps.platform !== 'win32';
  const entry: CacheEntry = { endpoint: key.endpoint, ...response };
  const temp = path.join(dir, `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const created = fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (created !== undefined && posix) fs.chmodSync(dir, 0o700);
    const fd = fs.openSync(temp, 'wx', 0o600);
    try {
      if (posix) fs.fchmodSync(fd, 0o600);
      fs.writeFileSync(fd, `${JSON.stringify(entry)}\n`);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(temp, file);
  } catch (error) {
    removeQuietly(temp);
    throw new CliError(
      `Cannot write the credential cache in ${dir} (${(error as NodeJS.ErrnoException).code ?? 'error'}); set WIF_CACHE_DIR to a directory you own.`,
    );
  }
  return file;
}

/** Deletes the entry for `key`; true when there was one. */
export function removeCache(key: CacheKey, deps: CacheDeps): boolean {
  const file = cacheFile(key, deps);
  try {
    fs.unlinkSync(file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw new CliError(
      `Cannot delete ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'}); delete it by hand.`,
    );
  }
}
