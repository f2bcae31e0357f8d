import type { Budget, Clock, UserStorage } from './ports';

/**
 * The request deadline, shared out among outbound calls (sts-retry-then-503, idp-failure-502).
 * The function times out before STS's retries (3 x 6 s) or two IdP calls (10 s each) would
 * end, and a timed-out function gets API Gateway's bare error instead of our page. So every
 * call gets its own cap or less: what is left before the deadline, less a reserve for
 * rendering the error page. A call that could only get a sliver is not started at all.
 */

/** Kept back from the deadline: enough to seal cookies and render the 502/503 page. */
export const RESERVE_MS = 1_500;

/** A call with less than this would rarely succeed; answering now is better. */
export const MIN_CALL_MS = 500;

/**
 * The budget of a request that must answer by `deadline` (ms since the epoch, by `clock`).
 * Without a deadline every call just gets its own cap.
 */
export function createBudget(clock: Clock, deadline?: number): Budget {
  const abortAfter = (ms: number): AbortSignal => {
    if (ms === Infinity) return new AbortController().signal;
    const delay = Math.max(0, Math.ceil(ms));
    return clock.abortAfter ? clock.abortAfter(delay) : AbortSignal.timeout(delay);
  };
  const leftMs = () => (deadline === undefined ? Infinity : deadline - RESERVE_MS - clock.now());
  return {
    leftMs,
    callMs(capMs) {
      const left = leftMs();
      return left < MIN_CALL_MS ? 0 : Math.min(capMs, left);
    },
    abortAfter,
  };
}

/**
 * A dependency call was not started, or was abandoned, because the request's deadline
 * came too close. The app answers 503 with `Retry-After`. The message is for logs.
 */
export class OutOfTimeError extends Error {
  constructor(what: string) {
    super(`${what}: stopped, no time left before the request deadline`);
    this.name = 'OutOfTimeError';
  }
}

/**
 * `work`, unless `signal` aborts first: then an {@link OutOfTimeError} for `what`. For
 * calls that cannot be cancelled, only stopped waiting for; their late outcome is dropped.
 */
export function settleWithin<T>(work: Promise<T>, signal: AbortSignal, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const abandon = () => {
      work.catch(() => undefined);
      reject(new OutOfTimeError(what));
    };
    if (signal.aborted) return abandon();
    signal.addEventListener('abort', abandon, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', abandon);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', abandon);
        reject(err);
      },
    );
  });
}

/**
 * S3 calls bounded by the request's budget. The SDK calls in storage.ts cannot be handed
 * a signal through the port, so a call running into the deadline is stopped waiting for
 * (the page goes out) rather than cancelled. Presigning is local and needs no budget.
 * S3 calls have no cap of their own: only the deadline bounds them.
 */
export function storageWithin(storage: UserStorage, budget: () => Budget): UserStorage {
  const within = <T>(what: string, call: () => Promise<T>): Promise<T> => {
    const b = budget();
    const ms = b.callMs(Infinity);
    if (ms === 0) return Promise.reject(new OutOfTimeError(`S3 ${what}`));
    if (ms === Infinity) return call();
    // The timer starts before the call does, so the call's own time counts.
    const signal = b.abortAfter(ms);
    return settleWithin(call(), signal, `S3 ${what}`);
  };
  return {
    list: (c, prefix) => within('ListObjectsV2', () => storage.list(c, prefix)),
    exists: (c, key) => within('HeadObject', () => storage.exists(c, key)),
    presignGet: (...args) => storage.presignGet(...args),
    presignPut: (...args) => storage.presignPut(...args),
    createMultipart: (c, key, type) =>
      within('CreateMultipartUpload', () => storage.createMultipart(c, key, type)),
    presignUploadPart: (...args) => storage.presignUploadPart(...args),
    completeMultipart: (c, key, id, parts) =>
      within('CompleteMultipartUpload', () => storage.completeMultipart(c, key, id, parts)),
    abortMultipart: (c, key, id) =>
      within('AbortMultipartUpload', () => storage.abortMultipart(c, key, id)),
    delete: (c, key) => within('DeleteObject', () => storage.delete(c, key)),
  };
}
