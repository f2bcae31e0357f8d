import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';

/**
 * Encrypted cookies: AES-256-GCM with keys derived (HKDF-SHA256) from the cookie-key
 * secret. The secret holds one key per line: the first encrypts, every one decrypts,
 * so a key can be rotated in without signing everybody out. Each cookie is bound to
 * its purpose (additional authenticated data), so a login cookie can never be
 * replayed as a session cookie. Anything that does not decrypt is simply absent.
 */

const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

interface Key {
  readonly id: string;
  readonly key: Buffer;
}

export class CookieSealer {
  /** @param secret the cookie-key secret: one or more lines of at least 32 characters */
  static fromSecret(secret: string): CookieSealer {
    const lines = secret
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter(Boolean);
    if (lines.length === 0 || lines.some((l) => l.length < 32)) {
      throw new Error('the cookie-key secret must hold one or more keys of at least 32 characters');
    }
    return new CookieSealer(
      lines.map((line) => {
        const key = Buffer.from(hkdfSync('sha256', line, 'wif-cookie-v1', 'aes-256-gcm', 32));
        return { id: createHash('sha256').update(key).digest('base64url').slice(0, 8), key };
      }),
    );
  }

  private constructor(private readonly keys: readonly Key[]) {}

  /** Encrypts `payload` for `purpose`. */
  seal(purpose: string, payload: unknown): string {
    const { id, key } = this.keys[0];
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(Buffer.from(`${VERSION}.${id}.${purpose}`));
    const body = Buffer.concat([
      cipher.update(JSON.stringify(payload), 'utf8'),
      cipher.final(),
      cipher.getAuthTag(),
    ]);
    return `${VERSION}.${id}.${iv.toString('base64url')}.${body.toString('base64url')}`;
  }

  /**
   * Decrypts a cookie sealed for `purpose`; undefined when forged, foreign, truncated or
   * garbled, so the caller treats the request as signed out, never a 500 (bad-cookie-signed-out).
   */
  open(purpose: string, value: string | undefined): unknown {
    if (!value || value.length > 8192) return undefined;
    const parts = value.split('.');
    if (parts.length !== 4 || parts[0] !== VERSION) return undefined;
    const [, id, ivText, bodyText] = parts;
    const key = this.keys.find((k) => k.id === id);
    if (!key) return undefined;
    const iv = Buffer.from(ivText, 'base64url');
    const body = Buffer.from(bodyText, 'base64url');
    if (iv.length !== IV_BYTES || body.length <= TAG_BYTES) return undefined;
    try {
      const decipher = createDecipheriv('aes-256-gcm', key.key, iv);
      decipher.setAAD(Buffer.from(`${VERSION}.${id}.${purpose}`));
      decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
      const plain = Buffer.concat([
        decipher.update(body.subarray(0, body.length - TAG_BYTES)),
        decipher.final(),
      ]);
      return JSON.parse(plain.toString('utf8'));
    } catch {
      return undefined;
    }
  }
}
