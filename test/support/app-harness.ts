import { createApp, type AppDeps } from '../../lambda/callback/app';
import { type AppConfig, type ProviderSettings } from '../../common/app-config';
import type { HttpRequest, HttpResponse } from '../../lambda/callback/http';
import {
  BadListTokenError,
  type ExpectedAuthorization,
  type SignedInIdentity,
  type StoredObject,
  type TemporaryCredentials,
} from '../../lambda/callback/ports';
import { testAppConfig } from './app-config';

/**
 * The callback app in-process with recording fakes of its ports (an IdP that signs anyone
 * in, STS handing out fixed credentials, an in-memory S3 listing), and the steps of signing
 * in through its routes. Shared by the app's route tests.
 */

export const COOKIE_KEY = 'k'.repeat(40);
export const OTHER_KEY = 'o'.repeat(40);
export const SECRET_ACCESS_KEY = 'SECRETsecretSECRETsecret0000000000000000';
export const SESSION_TOKEN = 'SESSIONTOKEN-'.repeat(40);
export const ID_TOKEN = 'eyJ.ID-TOKEN-VALUE.sig';

export const config = (overrides: Partial<AppConfig> = {}): AppConfig => testAppConfig(overrides);

export interface Harness {
  app: (req: Partial<HttpRequest>) => Promise<HttpResponse>;
  clock: { t: number };
  logs: Record<string, unknown>[];
  calls: {
    start: string[];
    finish: {
      provider: string;
      url: string;
      expected: ExpectedAuthorization;
      redirectUri: string;
    }[];
    sts: string[];
    storage: string[];
  };
  objects: Map<string, StoredObject>;
  setIdentity(identity: SignedInIdentity | Error): void;
  setSts(result: TemporaryCredentials | Error): void;
  storageError: { list?: Error; complete?: Error; abort?: Error; create?: Error };
}

export function harness(cfg: AppConfig = config()): Harness {
  const clock = { t: Date.UTC(2026, 10, 22, 12) };
  const logs: Record<string, unknown>[] = [];
  const calls: Harness['calls'] = { start: [], finish: [], sts: [], storage: [] };
  const objects = new Map<string, StoredObject>();
  let identity: SignedInIdentity | Error = {
    subject: '1001',
    displayName: 'Alice',
    webIdentityToken: ID_TOKEN,
  };
  let sts: TemporaryCredentials | Error | undefined;
  const storageError: Harness['storageError'] = {};
  let n = 0;
  const deps: AppDeps = {
    config: cfg,
    clock: { now: () => clock.t },
    secrets: { get: async (id) => (id === 'cookie-key' ? COOKIE_KEY : 'client-secret') },
    idp: {
      async start(provider: ProviderSettings, redirectUri: string) {
        calls.start.push(redirectUri);
        n++;
        const state = `state-${provider.name}-${n}`;
        return {
          url: `https://idp.test/${provider.name}/authorize?state=${state}&redirect_uri=${encodeURIComponent(redirectUri)}`,
          state,
          nonce: `nonce-${n}`,
          codeVerifier: `verifier-${n}`,
        };
      },
      async finish(provider, url, expected, redirectUri) {
        calls.finish.push({ provider: provider.name, url: url.toString(), expected, redirectUri });
        if (identity instanceof Error) throw identity;
        return identity;
      },
    },
    sts: {
      async assume(provider) {
        calls.sts.push(provider.name);
        if (sts instanceof Error) throw sts;
        return (
          sts ?? {
            accessKeyId: 'ASIAUSER',
            secretAccessKey: SECRET_ACCESS_KEY,
            sessionToken: SESSION_TOKEN,
            expiration: clock.t + 3600_000,
          }
        );
      },
    },
    storage: {
      // ListObjectsV2 with Delimiter '/': files and common prefixes in key order, paged by
      // a token naming the last entry; a token it did not issue is refused like S3 does.
      async list(creds, { prefix, folder, maxKeys, continuationToken }) {
        const where = prefix + folder;
        calls.storage.push(
          `list ${creds.accessKeyId} ${where}${continuationToken ? ` after ${continuationToken}` : ''}`,
        );
        if (storageError.list) throw storageError.list;
        const entries = new Map<string, StoredObject | undefined>();
        for (const [key, o] of [...objects.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
          if (!key.startsWith(where) || key === where) continue;
          const slash = key.indexOf('/', where.length);
          if (slash === -1) entries.set(key, { ...o, name: key.slice(prefix.length) });
          else entries.set(key.slice(0, slash + 1), undefined);
        }
        const all = [...entries.entries()];
        let start = 0;
        if (continuationToken !== undefined) {
          const last = Buffer.from(continuationToken.replace(/^T/, ''), 'base64url').toString();
          start = all.findIndex(([k]) => k === last) + 1;
          if (!continuationToken.startsWith('T') || start === 0) throw new BadListTokenError();
        }
        const page = all.slice(start, start + maxKeys);
        const more = start + maxKeys < all.length;
        return {
          files: page.flatMap(([, o]) => (o ? [o] : [])),
          folders: page.flatMap(([k, o]) => (o ? [] : [k.slice(prefix.length)])),
          ...(more
            ? { nextToken: 'T' + Buffer.from(page[page.length - 1][0]).toString('base64url') }
            : {}),
        };
      },
      async exists(_creds, key) {
        calls.storage.push(`exists ${key}`);
        return objects.has(key);
      },
      async presignGet(_creds, key, downloadName) {
        calls.storage.push(`presignGet ${key}`, `downloadName ${downloadName}`);
        return `https://user-data-bucket.s3.eu-west-1.amazonaws.com/${encodeURI(key)}?X-Amz-Signature=x`;
      },
      async presignPut(_creds, key, contentType) {
        calls.storage.push(`presignPut ${key} ${contentType}`);
        return {
          url: `https://user-data-bucket.s3.eu-west-1.amazonaws.com/${encodeURI(key)}?X-Amz-Signature=y`,
          headers: { 'content-type': contentType, 'if-none-match': '*' },
        };
      },
      async createMultipart(creds, key, contentType) {
        calls.storage.push(`createMultipart ${creds.accessKeyId} ${key} ${contentType}`);
        if (storageError.create) throw storageError.create;
        return 'upload-id-1';
      },
      async presignUploadPart(_creds, key, uploadId, partNumber, expiresIn) {
        calls.storage.push(`presignUploadPart ${key} ${uploadId} ${partNumber} ${expiresIn}`);
        return `https://user-data-bucket.s3.eu-west-1.amazonaws.com/${encodeURI(key)}?partNumber=${partNumber}&uploadId=${uploadId}&X-Amz-Signature=z`;
      },
      async completeMultipart(creds, key, uploadId, parts) {
        calls.storage.push(
          `completeMultipart ${creds.accessKeyId} ${key} ${uploadId} ${JSON.stringify(parts)}`,
        );
        if (storageError.complete) throw storageError.complete;
      },
      async abortMultipart(creds, key, uploadId) {
        calls.storage.push(`abortMultipart ${creds.accessKeyId} ${key} ${uploadId}`);
        if (storageError.abort) throw storageError.abort;
      },
      async delete(_creds, key) {
        calls.storage.push(`delete ${key}`);
        objects.delete(key);
      },
    },
    log: (e) => logs.push(e),
  };
  const core = createApp(deps);
  let id = 0;
  return {
    app: (req) =>
      core({
        method: 'GET',
        path: '/',
        rawQuery: '',
        headers: {},
        cookies: {},
        body: '',
        requestId: `req-${++id}`,
        ...req,
      }),
    clock,
    logs,
    calls,
    objects,
    setIdentity: (i) => (identity = i),
    setSts: (s) => (sts = s),
    storageError,
  };
}

/** Set-Cookie values by name (value and attributes). */
export function setCookies(res: HttpResponse): Record<string, { value: string; attrs: string }> {
  const out: Record<string, { value: string; attrs: string }> = {};
  for (const c of res.cookies) {
    const [pair, ...attrs] = c.split('; ');
    const i = pair.indexOf('=');
    out[pair.slice(0, i)] = { value: pair.slice(i + 1), attrs: attrs.join('; ') };
  }
  return out;
}

export async function startLogin(h: Harness, provider = 'google', query = '') {
  const res = await h.app({ path: `/login/${provider}`, rawQuery: query });
  expect(res.status).toBe(302);
  const state = new URL(res.headers.location).searchParams.get('state')!;
  const loginCookie = setCookies(res)['__Host-wif-login'].value;
  return { res, state, loginCookie };
}

export async function signIn(h: Harness, provider = 'google') {
  const { state, loginCookie } = await startLogin(h, provider);
  const res = await h.app({
    path: `/oauth2callback/${provider}`,
    rawQuery: `code=thecode&state=${state}`,
    cookies: { '__Host-wif-login': loginCookie },
  });
  expect(res.status).toBe(302);
  const session = setCookies(res)['__Host-wif-session'].value;
  const page = await h.app({ cookies: { '__Host-wif-session': session } });
  const csrf = /name="csrf" value="([^"]+)"/.exec(page.body)![1];
  return { res, session, csrf, cookies: { '__Host-wif-session': session } };
}
