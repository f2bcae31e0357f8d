/**
 * Contracts between the sandbox's parts (dev IdP, local STS, local S3, local HTTP API).
 * Each part is a module exporting `start...(options): Promise<RunningServer>`; `local/start.ts`
 * wires them together.
 */

/** A server listening on 127.0.0.1. */
export interface RunningServer {
  /** Base URL, e.g. `https://127.0.0.1:9001` (no trailing slash). */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** TLS material every sandbox server uses (see local/tls.ts). */
export interface TlsOptions {
  readonly cert: string;
  readonly key: string;
  /** The CA certificate PEM, for clients that must trust the other servers. */
  readonly ca: string;
}

/** Temporary credentials issued by the local STS and accepted by the local S3. */
export interface SandboxSession {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string;
  /** ms since the epoch */
  readonly expiration: number;
  readonly roleArn: string;
  /** The role's logical id in the synthesized template. */
  readonly roleLogicalId: string;
  readonly sessionName: string;
  /**
   * The web identity keys of the session, which bind the policy variables and
   * conditions, e.g. `{ 'accounts.google.com:sub': 'alice', 'accounts.google.com:aud': '...' }`.
   */
  readonly contextKeys: Readonly<Record<string, string>>;
  /** Inline session policy (`Policy` parameter), parsed. */
  readonly sessionPolicy?: unknown;
  /** Managed session policy ARNs (`PolicyArns`). */
  readonly sessionPolicyArns?: readonly string[];
}

/** Sessions by access key id; shared by the local STS (writes) and the local S3 (reads). */
export class SessionStore {
  private readonly sessions = new Map<string, SandboxSession>();
  constructor(private readonly now: () => number = Date.now) {}

  put(session: SandboxSession): void {
    this.prune();
    this.sessions.set(session.accessKeyId, session);
  }

  /** The session, or undefined when unknown; expired sessions are returned (S3 answers ExpiredToken). */
  get(accessKeyId: string): SandboxSession | undefined {
    return this.sessions.get(accessKeyId);
  }

  private prune(): void {
    const cutoff = this.now() - 3600_000;
    for (const [k, s] of this.sessions) if (s.expiration < cutoff) this.sessions.delete(k);
  }
}

/** Verified facts about a web identity token, as the local STS needs them. */
export interface VerifiedWebIdentity {
  /**
   * The trust principal the token belongs to: `accounts.google.com`, `www.amazon.com`,
   * `graph.facebook.com`, or an issuer URL for generic OIDC (the STS maps it to the
   * template's AWS::IAM::OIDCProvider ARN).
   */
  readonly provider: string;
  /** The subject (`sub`, Amazon `user_id`, Facebook `id`). */
  readonly subject: string;
  /** The audience STS puts in the response and checks in the trust policy. */
  readonly audience: string;
  /**
   * Condition keys as AWS STS derives them from the token, e.g. for Google
   * `{ 'accounts.google.com:sub', 'accounts.google.com:aud' (azp or aud), 'accounts.google.com:oaud' (aud) }`,
   * for Amazon `{ 'www.amazon.com:user_id', 'www.amazon.com:app_id' }`.
   */
  readonly contextKeys: Readonly<Record<string, string>>;
}

/** Why a token was refused; mapped by the local STS to STS error codes. */
export class TokenRefused extends Error {
  constructor(
    public readonly code:
      | 'InvalidIdentityToken'
      | 'ExpiredTokenException'
      | 'IDPRejectedClaim'
      | 'IDPCommunicationError',
    message: string,
  ) {
    super(message);
    this.name = 'TokenRefused';
  }
}

/** Implemented by the dev IdP; used by the local STS. */
export interface WebIdentityVerifier {
  /**
   * Verifies an OIDC ID token (signature via the issuer's JWKS, exp, iat) or, with
   * `providerId`, an OAuth 2.0 access token (by asking the provider's profile endpoint).
   * Throws `TokenRefused`.
   */
  verify(token: string, providerId?: string): Promise<VerifiedWebIdentity>;
}
