import * as fs from 'node:fs';
import * as path from 'node:path';
import { CliError } from './errors';

/**
 * One sign-in at a time per cache entry. Tools that run several AWS commands at once
 * (parallel scripts, `make -j`) start several `credential_process` runs; with the cache
 * stale, each would open its own browser tab. The first takes `<entry>.lock` (created
 * exclusively, 0600, holding its pid); the others wait for it to go, then read the cache
 * the first one wrote. A lock whose process is gone, or older than a whole sign-in may
 * take, is stale and taken over.
 */

export interface LockOptions {
  /** How long a sign-in may hold the lock before it counts as stale (the loopback wait + 1 min). */
  readonly staleMs: number;
  /** How often a waiting process looks again. */
  readonly pollMs?: number;
  /** Called once when this process has to wait for another. */
  readonly onWait?: () => void;
}

/** Whether a process with this pid exists (a pid we may not signal still exists). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** True when the lock file's owner is gone or it is older than `staleMs`. */
function isStale(file: string, staleMs: number): boolean {
  try {
    const age = Date.now() - fs.statSync(file).mtimeMs;
    const pid = Number(fs.readFileSync(file, 'utf8').trim());
    return age > staleMs || (Number.isInteger(pid) && pid > 0 && !alive(pid));
  } catch {
    return false; // gone already, or just being written: look again
  }
}

/**
 * Takes the lock: 'taken', 'held' by another process, or 'unavailable' when the cache
 * directory cannot be written (then nothing can be shared anyway: go on without it).
 */
function tryLock(file: string): 'taken' | 'held' | 'unavailable' {
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  } catch {
    return 'unavailable';
  }
  try {
    const fd = fs.openSync(file, 'wx', 0o600);
    fs.writeSync(fd, String(process.pid));
    fs.closeSync(fd);
    return 'taken';
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EEXIST' ? 'held' : 'unavailable';
  }
}

/**
 * Runs `fn` holding the lock `file`; waits (bounded by `staleMs`) while another process
 * holds it. `fn` should first look at the cache again: the other process may have filled it.
 */
export async function withLock<T>(
  file: string,
  options: LockOptions,
  fn: () => Promise<T>,
): Promise<T> {
  const pollMs = options.pollMs ?? 250;
  const giveUp = Date.now() + options.staleMs + pollMs;
  let told = false;
  for (;;) {
    const state = tryLock(file);
    if (state === 'unavailable') return fn();
    if (state === 'taken') break;
    if (isStale(file, options.staleMs)) {
      fs.rmSync(file, { force: true });
      continue;
    }
    if (Date.now() > giveUp) {
      throw new CliError(
        `Another wif-login is still signing in (lock ${file}). Finish or cancel it, or delete the file if no wif-login is running.`,
      );
    }
    if (!told) options.onWait?.();
    told = true;
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(file, { force: true });
  }
}
