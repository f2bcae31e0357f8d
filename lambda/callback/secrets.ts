import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { AppConfig } from '../../common/app-config';
import type { Clock, SecretStore } from './ports';

/** Secrets are cached per container for a few minutes, so a rotated value is picked up. */
const TTL_MS = 5 * 60_000;

export function createSecretsManagerStore(
  config: AppConfig,
  clock: Clock,
  client?: SecretsManagerClient,
): SecretStore {
  const sm =
    client ??
    new SecretsManagerClient({ region: config.region, endpoint: config.endpoints?.secretsManager });
  const cache = new Map<string, { value: Promise<string>; until: number }>();
  return {
    get(id: string): Promise<string> {
      const hit = cache.get(id);
      if (hit && hit.until > clock.now()) return hit.value;
      const value = sm.send(new GetSecretValueCommand({ SecretId: id })).then((r) => {
        if (typeof r.SecretString !== 'string') throw new Error(`secret ${id} has no string value`);
        return r.SecretString;
      });
      cache.set(id, { value, until: clock.now() + TTL_MS });
      value.catch(() => cache.delete(id));
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
