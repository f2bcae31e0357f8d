import {
  createBudget,
  MIN_CALL_MS,
  OutOfTimeError,
  RESERVE_MS,
  settleWithin,
  storageWithin,
} from '../../lambda/callback/budget';
import type { TemporaryCredentials, UserStorage } from '../../lambda/callback/ports';
import { FakeClock } from '../support/fake-clock';

const CREDS: TemporaryCredentials = {
  accessKeyId: 'ASIA',
  secretAccessKey: 'secret',
  sessionToken: 'token',
  expiration: 0,
};

describe('createBudget: each call gets min(its cap, time left less the reserve)', () => {
  test('without a deadline every call gets its own cap', () => {
    const budget = createBudget(new FakeClock());
    expect(budget.leftMs()).toBe(Infinity);
    expect(budget.callMs(6_000)).toBe(6_000);
    expect(budget.callMs(Infinity)).toBe(Infinity);
  });

  test('near the deadline a call gets what is left before the reserve', () => {
    const clock = new FakeClock();
    const budget = createBudget(clock, clock.t + 15_000);
    expect(budget.callMs(10_000)).toBe(10_000);
    clock.advance(10_000);
    expect(budget.leftMs()).toBe(5_000 - RESERVE_MS);
    expect(budget.callMs(10_000)).toBe(5_000 - RESERVE_MS);
    expect(budget.callMs(1_000)).toBe(1_000);
  });

  test('with less than MIN_CALL_MS left no call is started (0), even past the deadline', () => {
    const clock = new FakeClock();
    const budget = createBudget(clock, clock.t + RESERVE_MS + MIN_CALL_MS);
    expect(budget.callMs(10_000)).toBe(MIN_CALL_MS);
    clock.advance(1);
    expect(budget.callMs(10_000)).toBe(0);
    clock.advance(60_000);
    expect(budget.callMs(10_000)).toBe(0);
    expect(budget.leftMs()).toBeLessThan(0);
  });

  test('abort signals come from the clock, so a fake clock fires them', () => {
    const clock = new FakeClock();
    const signal = createBudget(clock, clock.t + 15_000).abortAfter(2_000);
    clock.advance(1_999);
    expect(signal.aborted).toBe(false);
    clock.advance(1);
    expect(signal.aborted).toBe(true);
    expect((signal.reason as DOMException).name).toBe('TimeoutError');
  });

  test('a clock without abortAfter gets real timers; Infinity never fires', async () => {
    const budget = createBudget({ now: () => Date.now() });
    const signal = budget.abortAfter(10);
    await new Promise((r) => setTimeout(r, 30));
    expect(signal.aborted).toBe(true);
    expect(budget.abortAfter(Infinity).aborted).toBe(false);
  });
});

describe('settleWithin', () => {
  test('passes the outcome through when it comes first', async () => {
    const clock = new FakeClock();
    await expect(settleWithin(Promise.resolve(7), clock.abortAfter(100), 'x')).resolves.toBe(7);
    const boom = new Error('boom');
    await expect(settleWithin(Promise.reject(boom), clock.abortAfter(100), 'x')).rejects.toBe(boom);
  });

  test('stops waiting when the signal fires: OutOfTimeError, the late failure swallowed', async () => {
    const clock = new FakeClock();
    let fail!: (e: Error) => void;
    const work = new Promise<number>((_, reject) => (fail = reject));
    const signal = clock.abortAfter(100);
    const settled = settleWithin(work, signal, 'S3 ListObjectsV2');
    clock.advance(100);
    await expect(settled).rejects.toThrow(OutOfTimeError);
    await expect(settled).rejects.toThrow(/S3 ListObjectsV2: stopped, no time left/);
    fail(new Error('late')); // no unhandled rejection
  });
});

describe('storageWithin: S3 calls bounded by the request deadline', () => {
  function storage(clock: FakeClock, takesMs: number): UserStorage & { calls: string[] } {
    const calls: string[] = [];
    const slow = async <T>(name: string, value: T): Promise<T> => {
      calls.push(name);
      clock.advance(takesMs);
      // A hung call: it never answers; only the budget ends the wait.
      return new Promise<T>(() => undefined).then(() => value);
    };
    return {
      calls,
      list: () => slow('list', { files: [], folders: [] }),
      exists: () => slow('exists', true),
      presignGet: async () => 'https://get',
      presignPut: async () => ({ url: 'https://put', headers: {} }),
      createMultipart: () => slow('createMultipart', 'id'),
      presignUploadPart: async () => 'https://part',
      completeMultipart: () => slow('completeMultipart', undefined),
      abortMultipart: () => slow('abortMultipart', undefined),
      delete: () => slow('delete', undefined),
    };
  }

  test.each(['list', 'exists', 'createMultipart', 'completeMultipart', 'abortMultipart', 'delete'])(
    'a hung %s ends with OutOfTimeError once the budget runs out',
    async (method) => {
      const clock = new FakeClock();
      const s3 = storage(clock, 20_000);
      const budget = createBudget(clock, clock.t + 15_000);
      const bounded = storageWithin(s3, () => budget) as unknown as Record<
        string,
        (...args: unknown[]) => Promise<unknown>
      >;
      await expect(bounded[method](CREDS, 'users/a/', 'id', [])).rejects.toThrow(OutOfTimeError);
      expect(s3.calls).toEqual([method]);
    },
  );

  test('no S3 call is started with too little time left', async () => {
    const clock = new FakeClock();
    const s3 = storage(clock, 0);
    const budget = createBudget(clock, clock.t + RESERVE_MS + MIN_CALL_MS - 1);
    await expect(
      storageWithin(s3, () => budget).list(CREDS, { prefix: 'users/a/', folder: '', maxKeys: 100 }),
    ).rejects.toThrow(OutOfTimeError);
    expect(s3.calls).toEqual([]);
  });

  test('presigning is local: it needs no time budget', async () => {
    const clock = new FakeClock();
    const budget = createBudget(clock, clock.t);
    const bounded = storageWithin(storage(clock, 0), () => budget);
    await expect(bounded.presignGet(CREDS, 'k', 'n', 60)).resolves.toBe('https://get');
    await expect(bounded.presignUploadPart(CREDS, 'k', 'u', 1, 60)).resolves.toBe('https://part');
  });
});
