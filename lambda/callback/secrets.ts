import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { AppConfig } from '../../common/app-config';
import { createBudget, OutOfTimeError } from './budget';
import type { Budget, Clock, SecretStore } from './ports';

/**
 * Secrets are cached per container for a few minutes, so a rotated value is picked up.
 * The one cache for every secret: the cookie key and the client secrets are re-read
 * through it, never kept longer elsewhere.
 */
export const SECRET_TTL_MS = 5 * 60_000;

/** Secrets Manager answers in tens of milliseconds; a call taking longer is stuck. */
const CALL_CAP_MS = 3_000;

export function createSecretsManagerStore(
  config: AppConfig,
  clock: Clock,
  client?: SecretsManagerClient,
): SecretStore {
  const sm =
    client ??
    new SecretsManagerClient({ region: config.region, endpoint: config.endpoints?.secretsManager });
  const cache = new Map<string, { value: Promise<string>; until: number }>();
  const noDeadline = createBudget(clock);
  return {
    get(id: string, budget: Budget = noDeadline): Promise<string> {
      const hit = cache.get(id);
      if (hit && hit.until > clock.now()) return hit.value;
      const ms = budget.callMs(CALL_CAP_MS);
      if (ms === 0) return Promise.reject(new OutOfTimeError(`Secrets Manager ${id}`));
      const signal = budget.abortAfter(ms);
      const value = sm
        .send(new GetSecretValueCommand({ SecretId: id }), { abortSignal: signal })
        .then(
          (r) => {
            if (typeof r.SecretString !== 'string')
              throw new Error(`secret ${id} has no string value`);
            return r.SecretString;
          },
          (err: unknown) => {
            throw signal.aborted ? new OutOfTimeError(`Secrets Manager ${id}`) : err;
          },
        );
      const entry = { value, until: clock.now() + SECRET_TTL_MS };
      cache.set(id, entry);
      // Forgotten on failure, so the next request asks again.
      value.catch(() => {
        if (cache.get(id) === entry) cache.delete(id);
      });
      return value;
    },
  };
}

/** Secrets from a JSON map (the sandbox passes them this way; never used in AWS). */
export function createStaticSecretStore(values: Record<string, string>): SecretStore {
  return {
    async get(id: string): Promise<string> {
      const v = values[id];
      if (v === undefined) throw new Error(`unknown secret ${id}`);
      return v;
    },
  };
}
