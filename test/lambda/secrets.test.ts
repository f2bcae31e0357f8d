import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  createBudget,
  MIN_CALL_MS,
  OutOfTimeError,
  RESERVE_MS,
} from '../../lambda/callback/budget';
import { createSecretsManagerStore, SECRET_TTL_MS } from '../../lambda/callback/secrets';
import { FakeClock } from '../support/fake-clock';
import { GOOGLE_SETTINGS, testAppConfig } from '../support/app-config';

const config = testAppConfig({ providers: [GOOGLE_SETTINGS] });

/** Secrets Manager taking `takesMs` per call (or until the call's signal fires). */
function secretsManager(clock: FakeClock, takesMs: number) {
  const allotted: number[] = [];
  const send = jest.fn(async (_command: unknown, options?: { abortSignal?: AbortSignal }) => {
    allotted.push((clock.abortsAt(options?.abortSignal) ?? Infinity) - clock.t);
    await clock.spend(takesMs, options?.abortSignal);
    return { SecretString: `value at ${clock.t}` };
  });
  return { client: { send } as unknown as SecretsManagerClient, send, allotted };
}

describe('Secrets Manager store', () => {
  test('caches a value for the TTL, then asks again (rotation is picked up)', async () => {
    const clock = new FakeClock();
    const sm = secretsManager(clock, 0);
    const store = createSecretsManagerStore(config, clock, sm.client);
    const first = await store.get('cookie-key');
    clock.advance(SECRET_TTL_MS - 1);
    expect(await store.get('cookie-key')).toBe(first);
    clock.advance(1);
    expect(await store.get('cookie-key')).not.toBe(first);
    expect(sm.send).toHaveBeenCalledTimes(2);
  });

  test('each call gets at most 3 s, less near the deadline', async () => {
    const clock = new FakeClock();
    const sm = secretsManager(clock, 10);
    const store = createSecretsManagerStore(config, clock, sm.client);
    await store.get('a');
    await store.get('b', createBudget(clock, clock.t + RESERVE_MS + 1_000));
    expect(sm.allotted).toEqual([3_000, 1_000]);
  });

  test('a stuck call ends at the budget with OutOfTimeError, and is not cached', async () => {
    const clock = new FakeClock();
    const sm = secretsManager(clock, 60_000);
    const store = createSecretsManagerStore(config, clock, sm.client);
    const started = clock.t;
    const deadline = started + 15_000;
    await expect(store.get('cookie-key', createBudget(clock, deadline))).rejects.toThrow(
      OutOfTimeError,
    );
    expect(clock.t).toBe(started + 3_000);
    await expect(store.get('cookie-key', createBudget(clock, deadline))).rejects.toThrow(
      /Secrets Manager cookie-key: stopped, no time left/,
    );
    expect(sm.send).toHaveBeenCalledTimes(2);
  });

  test('no call with too little time left', async () => {
    const clock = new FakeClock();
    const sm = secretsManager(clock, 0);
    const store = createSecretsManagerStore(config, clock, sm.client);
    await expect(
      store.get('cookie-key', createBudget(clock, clock.t + RESERVE_MS + MIN_CALL_MS - 1)),
    ).rejects.toThrow(OutOfTimeError);
    expect(sm.send).not.toHaveBeenCalled();
  });
});
