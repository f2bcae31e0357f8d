import type { ProviderSettings } from '../../common/app-config';

/**
 * The ports of the core: everything that talks to the outside is injected, so the
 * core runs the same in Lambda, in the sandbox and in tests.
 */

/** Milliseconds since the epoch. */
export interface Clock {
  now(): number;
  /**
   * A signal that aborts with a `TimeoutError` once `ms` of this clock's time have passed;
   * a fake clock fakes it too, so tests of timeouts need no real waiting.
   * @default - AbortSignal.timeout (real time)
   */
  abortAfter?(ms: number): AbortSignal;
}

/**
 * How long one request's outbound calls may still take: each call gets its own cap or
 * less, so that the last one gives up in time to answer with a page (see budget.ts).
 */
export interface Budget {
  /**
   * Milliseconds until the deadline less the time kept back to answer (Infinity without a
   * deadline); may be negative.
   */
  leftMs(): number;
  /**
   * Milliseconds a call whose own limit is `capMs` may take if started now: the cap, or
   * less when the deadline comes sooner. 0 when too little is left to start it.
   */
  callMs(capMs: number): number;
  /** A signal that aborts with a `TimeoutError` after `ms` (Infinity: never). */
  abortAfter(ms: number): AbortSignal;
}

/** Secrets by id (Secrets Manager in AWS). */
export interface SecretStore {
  /** @param budget the request's time budget; @default - no deadline, the store's own cap */
  get(id: string, budget?: Budget): Promise<string>;
}

/** What the core keeps (encrypted, in a short-lived cookie) between /login and the callback. */
export interface AuthorizationStart {
  /** The IdP's authorization URL to redirect the browser to. */
  readonly url: string;
  readonly state: string;
  /** OIDC providers only. */
  readonly nonce?: string;
  readonly codeVerifier: string;
}

/** What the core expects back in the callback. */
export interface ExpectedAuthorization {
  readonly state: string;
  readonly nonce?: string;
  readonly codeVerifier: string;
}

/** A signed-in user, as the IdP vouched for them. */
export interface SignedInIdentity {
  /** The immutable subject: `sub`, Amazon `user_id`, Facebook `id`. */
  readonly subject: string;
  /** For display only; never used for authorization or keys. */
  readonly displayName?: string;
  /** What goes to STS: the ID token (OIDC) or the OAuth 2.0 access token (Amazon, Facebook). */
  readonly webIdentityToken: string;
}

/** OAuth 2.0 / OpenID Connect relying-party operations for one provider. */
export interface IdentityProviders {
  /** @param budget the request's time budget (discovery); @default - no deadline, each call's own cap */
  start(
    provider: ProviderSettings,
    redirectUri: string,
    budget?: Budget,
  ): Promise<AuthorizationStart>;
  /**
   * Validates the authorization response (state, iss), redeems the code with PKCE,
   * validates the ID token (OIDC) or reads the profile (OAuth 2.0).
   * @param callbackUrl the full callback URL as received (query included)
   * @param budget the request's time budget; @default - no deadline, each call's own cap
   */
  finish(
    provider: ProviderSettings,
    callbackUrl: URL,
    expected: ExpectedAuthorization,
    redirectUri: string,
    budget?: Budget,
  ): Promise<SignedInIdentity>;
}

/** Temporary AWS credentials of one user. */
export interface TemporaryCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string;
  /** Expiry, ms since the epoch. */
  readonly expiration: number;
}

/** STS AssumeRoleWithWebIdentity for one provider's role. */
export interface TokenExchange {
  /** @param budget the request's time budget; @default - no deadline, each attempt's own cap */
  assume(
    provider: ProviderSettings,
    identity: SignedInIdentity,
    budget?: Budget,
  ): Promise<TemporaryCredentials>;
}

export interface StoredObject {
  /** The exact key below the user's prefix (folders included), never normalised. */
  readonly name: string;
  readonly size: number;
  readonly lastModified: Date;
}

/** One page of one folder of the user's files. */
export interface ListRequest {
  /** The user's own prefix; names come back relative to it. */
  readonly prefix: string;
  /** The folder below the prefix to list, one level deep: `''` or ending in `/`. */
  readonly folder: string;
  /** Entries (files and folders) per page, at most 1,000 (S3's cap). */
  readonly maxKeys: number;
  /** S3's continuation token from the previous page; absent for the first page. */
  readonly continuationToken?: string;
}

/** What {@link UserStorage.list} found. */
export interface FileListing {
  /** Files directly in the folder (a folder's own marker object is left out). */
  readonly files: readonly StoredObject[];
  /** Sub-folders (S3 common prefixes), relative to the user's prefix, each ending in `/`. */
  readonly folders: readonly string[];
  /** The token for the next page; absent on the last page. */
  readonly nextToken?: string;
}

const LIST_TOKEN = /^[\x21-\x7e]{1,4096}$/;
/**
 * A continuation token as S3 issues them: printable ASCII, bounded. S3 judges the rest.
 * The files page takes only these back, and links only to these.
 */
export const isListToken = (value: string): boolean => LIST_TOKEN.test(value);

/** S3 refused the continuation token of a listing (forged, mangled or from another listing). */
export class BadListTokenError extends Error {
  constructor() {
    super('S3 refused the continuation token');
    this.name = 'BadListTokenError';
  }
}

/** S3 operations signed with the USER's credentials, so IAM enforces isolation. */
export interface UserStorage {
  /**
   * One page of a folder (ListObjectsV2 with `Delimiter: '/'`). Throws
   * {@link BadListTokenError} when S3 refuses the continuation token.
   */
  list(credentials: TemporaryCredentials, request: ListRequest): Promise<FileListing>;
  /** HEAD; false when missing or denied (the app does not tell the two apart, other-users-object-404). */
  exists(credentials: TemporaryCredentials, key: string): Promise<boolean>;
  presignGet(
    credentials: TemporaryCredentials,
    key: string,
    downloadName: string,
    expiresInSeconds: number,
  ): Promise<string>;
  /**
   * A presigned PUT that refuses to overwrite (`If-None-Match: *`, no-silent-overwrite).
   * The browser must send exactly the returned headers.
   */
  presignPut(
    credentials: TemporaryCredentials,
    key: string,
    contentType: string,
    expiresInSeconds: number,
  ): Promise<{ url: string; headers: Record<string, string> }>;
  /**
   * Starts a multipart upload (CreateMultipartUpload) for files larger than one PUT should
   * carry (S3 caps a PUT at 5 GB). Returns the upload id.
   */
  createMultipart(
    credentials: TemporaryCredentials,
    key: string,
    contentType: string,
  ): Promise<string>;
  /** A presigned UploadPart URL for one part; the browser PUTs the bytes straight to S3. */
  presignUploadPart(
    credentials: TemporaryCredentials,
    key: string,
    uploadId: string,
    partNumber: number,
    expiresInSeconds: number,
  ): Promise<string>;
  /**
   * CompleteMultipartUpload with `If-None-Match: *` (no-silent-overwrite): never silently replaces
   * an existing object. Throws {@link UploadRefusedError} when S3 refuses (412 exists, 409 race, 404, 400).
   */
  completeMultipart(
    credentials: TemporaryCredentials,
    key: string,
    uploadId: string,
    parts: readonly { readonly partNumber: number; readonly etag: string }[],
  ): Promise<void>;
  abortMultipart(credentials: TemporaryCredentials, key: string, uploadId: string): Promise<void>;
  delete(credentials: TemporaryCredentials, key: string): Promise<void>;
}

/**
 * S3 refused a multipart step for a reason the user can act on; `message` is safe to show.
 * 412: the object already exists (`If-None-Match: *`); 409: another write to the key raced
 * this one; 404: no such upload (completed, aborted or never started); 400: bad part list.
 */
export class UploadRefusedError extends Error {
  constructor(
    public readonly status: 400 | 404 | 409 | 412,
    message: string,
  ) {
    super(message);
    this.name = 'UploadRefusedError';
  }
}

/** Failures the core turns into pages; `kind` decides the status, `message` is safe to show. */
export class SignInError extends Error {
  constructor(
    public readonly kind:
      | 'bad_request' // 400: malformed or forged authorization response, state mismatch
      | 'token_rejected' // 400: the IdP or the token failed validation
      | 'idp_unavailable' // 502: IdP down or answering garbage
      | 'not_allowed' // 403: STS refused this account/app (no retry)
      | 'restart' // 401: expired or rejected token, sign in again
      | 'sts_unavailable' // 503: STS/IdP communication trouble after retries
      | 'too_large', // 400: token or policy too large
    message: string,
    /** Internal detail for logs only; never shown. Must not contain tokens. */
    public readonly detail?: string,
  ) {
    super(message);
    this.name = 'SignInError';
  }
}
