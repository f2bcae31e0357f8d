import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { AccessTokenFamily } from '../common/provider-facts';

/**
 * What the dev IdP's OAuth 2.0 providers keep: pending sign-ins and single-use
 * authorization codes in memory, and access tokens by hash, in memory and optionally in a
 * file (so they survive a restart). Also the random and constant-time helpers they share.
 */

export type OAuth2Family = AccessTokenFamily;

/** A live access token (stored by hash, in memory and optionally in a file). */
export interface AccessTokenRecord {
  readonly family: OAuth2Family;
  /** The client it was issued to (STS `app_id`). */
  readonly clientId: string;
  readonly user: string;
  /** ms since the epoch */
  readonly expiresAt: number;
}

/** An authorization request waiting for its sign-in form to be posted. */
export interface PendingAuthorization {
  readonly family: OAuth2Family;
  readonly clientId: string;
  readonly redirectUri: string;
  readonly state: string;
  readonly codeChallenge: string;
  readonly scope: string;
  readonly expiresAt: number;
}

export interface AuthorizationCode {
  readonly family: OAuth2Family;
  readonly clientId: string;
  readonly redirectUri: string;
  readonly codeChallenge: string;
  readonly user: string;
  readonly expiresAt: number;
}

export const ACCESS_TOKEN_TTL_SECONDS = 3600;
const CODE_TTL_MS = 60_000;
const SIGN_IN_TTL_MS = 10 * 60_000;

const sha256 = (s: string): string => createHash('sha256').update(s).digest('base64url');
const random = (bytes: number): string => randomBytes(bytes).toString('base64url');

/** Constant-time string comparison (hashes first, so lengths do not leak either). */
export function safeEqual(a: string, b: string): boolean {
  return timingSafeEqual(
    createHash('sha256').update(a).digest(),
    createHash('sha256').update(b).digest(),
  );
}

export interface OAuth2GrantsOptions {
  /** ms since the epoch */
  readonly clock: () => number;
  /** @default - tokens in memory only */
  readonly tokenFile?: string;
}

/** Pending sign-ins, codes and access tokens of both OAuth 2.0 providers. */
export class OAuth2Grants {
  private readonly pending = new Map<string, PendingAuthorization>();
  private readonly codes = new Map<string, AuthorizationCode>();
  private readonly tokens = new Map<string, AccessTokenRecord>();

  constructor(private readonly options: OAuth2GrantsOptions) {
    this.load();
  }

  /** ms since the epoch */
  now(): number {
    return this.options.clock();
  }

  /** Records an authorization request; returns the id its sign-in form carries. */
  startSignIn(request: Omit<PendingAuthorization, 'expiresAt'>): string {
    this.prune();
    const id = random(24);
    this.pending.set(id, { ...request, expiresAt: this.now() + SIGN_IN_TTL_MS });
    return id;
  }

  /** The pending, unexpired authorization request `id` of `family`, or undefined. */
  pendingSignIn(id: string, family: OAuth2Family): PendingAuthorization | undefined {
    const pending = this.pending.get(id);
    return pending && pending.family === family && pending.expiresAt > this.now()
      ? pending
      : undefined;
  }

  /** Ends pending request `id` (single use) and issues a code for `user`. */
  issueCode(id: string, pending: PendingAuthorization, user: string): string {
    // The request id is single use: it is what ties this form post to the authorization request.
    this.pending.delete(id);
    const code = random(32);
    this.codes.set(code, {
      family: pending.family,
      clientId: pending.clientId,
      redirectUri: pending.redirectUri,
      codeChallenge: pending.codeChallenge,
      user,
      expiresAt: this.now() + CODE_TTL_MS,
    });
    return code;
  }

  /** The code `presented` (if any), gone once presented by its own client. */
  takeCode(presented: string, clientId: string): AuthorizationCode | undefined {
    const code = this.codes.get(presented);
    // Single use: a code is gone once presented by its client, whatever happens next.
    if (code && code.clientId === clientId) this.codes.delete(presented);
    return code;
  }

  /** A new access token of `family` for `user`, stored by hash. */
  issueAccessToken(family: OAuth2Family, clientId: string, user: string): string {
    const accessToken =
      family === 'amazon' ? `Atza|${random(48)}` : `EAA${random(48).replace(/[-_]/g, 'Z')}`;
    this.tokens.set(sha256(accessToken), {
      family,
      clientId,
      user,
      expiresAt: this.now() + ACCESS_TOKEN_TTL_SECONDS * 1000,
    });
    this.save();
    return accessToken;
  }

  /** The record of a live or expired access token of `family`, or undefined. */
  lookup(family: OAuth2Family, token: string): AccessTokenRecord | undefined {
    const record = this.tokens.get(sha256(token));
    return record && record.family === family ? record : undefined;
  }

  private prune(): void {
    const now = this.now();
    for (const [k, v] of this.pending) if (v.expiresAt <= now) this.pending.delete(k);
    for (const [k, v] of this.codes) if (v.expiresAt <= now) this.codes.delete(k);
  }

  private load(): void {
    const file = this.options.tokenFile;
    if (!file || !fs.existsSync(file)) return;
    try {
      const stored = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, AccessTokenRecord>;
      // Expired tokens are kept for a day, so STS can still say "expired" rather than "unknown".
      const cutoff = this.now() - 24 * 3600_000;
      for (const [hash, record] of Object.entries(stored)) {
        if (record.expiresAt > cutoff) this.tokens.set(hash, record);
      }
    } catch {
      // A damaged token file only means signing in again.
    }
  }

  private save(): void {
    const file = this.options.tokenFile;
    if (!file) return;
    const cutoff = this.now() - 24 * 3600_000;
    for (const [k, v] of this.tokens) if (v.expiresAt <= cutoff) this.tokens.delete(k);
    const tmp = `${file}.${process.pid}.tmp`;
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    fs.writeFileSync(tmp, JSON.stringify(Object.fromEntries(this.tokens)), { mode: 0o600 });
    fs.renameSync(tmp, file);
  }
}
