import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as jose from 'jose';

/**
 * What the dev IdP keeps: its signing keys (and cookie key) in `dataDir`, so tokens stay
 * valid across restarts, and oidc-provider's sessions, interactions, codes and grants in
 * memory.
 */

/** The ID token signing algorithms of the sandbox issuers (and all the verifier accepts). */
export const ID_TOKEN_ALGORITHMS = ['RS256'];

export interface StoredKeys {
  google: jose.JWK;
  oidc: jose.JWK;
  cookieKey: string;
}

async function newSigningKey(): Promise<jose.JWK> {
  const { privateKey } = await jose.generateKeyPair('RS256', { extractable: true });
  const jwk = await jose.exportJWK(privateKey);
  return { ...jwk, kid: await jose.calculateJwkThumbprint(jwk), alg: 'RS256', use: 'sig' };
}

/** Signing keys (and the cookie key), from `dataDir` when there, else new (and saved there). */
export async function loadKeys(dataDir: string | undefined): Promise<StoredKeys> {
  const file = dataDir && path.join(dataDir, 'keys.json');
  if (file && fs.existsSync(file)) {
    try {
      const stored = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<StoredKeys>;
      if (stored.google?.d && stored.oidc?.d && stored.cookieKey) return stored as StoredKeys;
    } catch {
      // Damaged: new keys below; tokens signed before only need signing in again.
    }
  }
  const keys: StoredKeys = {
    google: await newSigningKey(),
    oidc: await newSigningKey(),
    cookieKey: randomBytes(32).toString('base64url'),
  };
  if (file) {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    fs.writeFileSync(file, JSON.stringify(keys), { mode: 0o600 });
  }
  return keys;
}

export const publicJwk = ({ kty, n, e, kid, alg, use }: jose.JWK): jose.JWK => ({
  kty,
  n,
  e,
  kid,
  alg,
  use,
});

type AdapterPayload = Record<string, unknown> & {
  grantId?: string;
  uid?: string;
  userCode?: string;
};

/**
 * oidc-provider's storage (sessions, interactions, codes, grants, access tokens), in
 * memory and per provider instance. Its built-in memory adapter does the same but warns
 * on every start; codes and sessions need not outlive the sandbox.
 */
export function memoryAdapter(): (model: string) => object {
  const items = new Map<string, { payload: AdapterPayload; expiresAt: number }>();
  const live = (key: string): AdapterPayload | undefined => {
    const item = items.get(key);
    if (item && item.expiresAt <= Date.now()) items.delete(key);
    return item && item.expiresAt > Date.now() ? item.payload : undefined;
  };
  const each = function* (model: string, match: (p: AdapterPayload) => boolean) {
    for (const key of items.keys()) {
      const payload = live(key);
      if (payload && key.startsWith(`${model}:`) && match(payload)) yield key;
    }
  };
  return (model) => ({
    async upsert(id: string, payload: AdapterPayload, expiresIn?: number) {
      const now = Date.now();
      for (const [key, item] of items) if (item.expiresAt <= now) items.delete(key);
      items.set(`${model}:${id}`, {
        payload,
        expiresAt: expiresIn ? now + expiresIn * 1000 : Infinity,
      });
    },
    find: async (id: string) => live(`${model}:${id}`),
    findByUid: async (uid: string) => {
      for (const key of each(model, (p) => p.uid === uid)) return live(key);
      return undefined;
    },
    findByUserCode: async (userCode: string) => {
      for (const key of each(model, (p) => p.userCode === userCode)) return live(key);
      return undefined;
    },
    async consume(id: string) {
      const payload = live(`${model}:${id}`);
      if (payload) payload.consumed = Math.floor(Date.now() / 1000);
    },
    destroy: async (id: string) => void items.delete(`${model}:${id}`),
    // oidc-provider calls this on every model; e.g. a replayed code revokes its grant's tokens.
    async revokeByGrantId(grantId: string) {
      for (const key of [...items.keys()]) {
        if (items.get(key)?.payload.grantId === grantId) items.delete(key);
      }
    },
  });
}
